// portmap: host ports published to the container (DNAT), a chained plugin.
// The config parser is here and in portmap.h; the rule sets of both
// backends live in src/netfilter/hostport.cpp.
#include "applets/portmap.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <set>

#include "cni/applet.h"
#include "cni/json.h"
#include "cni/records.h"
#include "netlink/netlink.h"
#include "util/text.h"

namespace applets::portmap {

namespace {

using cni::Error;
namespace hp = nf::hostport;

Error invalid(std::string msg) { return Error(cni::kInvalidNetConf, std::move(msg)); }

Error parsePort(const cni::json::Value& m, std::string_view key, const char* what, uint16_t& out) {
    int64_t n = 0;
    if (auto e = cni::json::getInt(m, key, n)) return e;
    if (n <= 0 || n > 65535) return invalid("Invalid " + std::string(what) + " port number: " + std::to_string(n));
    out = uint16_t(n);
    return {};
}

Error parseMappings(const cni::CmdArgs& a, std::vector<hp::Mapping>& out) {
    const cni::json::Value* v = a.runtimeConfig("portMappings");
    if (!v) return {};
    if (!v->IsArray()) return invalid("runtimeConfig.portMappings must be a list, not " +
                                      std::string(cni::json::typeName(*v)));
    for (const auto& m : v->GetArray()) {
        if (!m.IsObject()) return invalid("runtimeConfig.portMappings: an entry is a " +
                                          std::string(cni::json::typeName(m)) + ", not an object");
        hp::Mapping pm;
        if (auto e = parsePort(m, "hostPort", "host", pm.hostPort)) return e;
        if (auto e = parsePort(m, "containerPort", "container", pm.containerPort)) return e;
        std::string proto;
        if (auto e = cni::json::getString(m, "protocol", proto)) return e;
        std::string lower;
        for (char c : proto) lower += char(c >= 'A' && c <= 'Z' ? c + 32 : c);
        if (lower.empty() || lower == "tcp") pm.proto = IPPROTO_TCP;
        else if (lower == "udp") pm.proto = IPPROTO_UDP;
        else if (lower == "sctp") pm.proto = IPPROTO_SCTP;
        else return invalid("unsupported protocol " + util::quoted(proto) + " in portMappings (tcp, udp or sctp)");
        std::string hostIP;
        if (auto e = cni::json::getString(m, "hostIP", hostIP)) return e;
        if (!hostIP.empty()) {
            pm.hostIP = util::IP::parse(hostIP);
            if (!pm.hostIP) return invalid("invalid hostIP " + util::quoted(hostIP) + " in portMappings");
        }
        out.push_back(pm);
    }
    return {};
}

std::string joinKeys(const std::vector<std::string>& keys) {
    std::string s = "[";
    for (size_t i = 0; i < keys.size(); i++) s += (i ? " " : "") + keys[i];
    return s + "]";
}

// The backend options and the conflict checks, as upstream's ensureBackend;
// without an explicit backend, the one the options are written for.
Error resolveBackend(const cni::CmdArgs& a, Conf& c) {
    std::string value;
    if (auto e = cni::json::getString(a.config(), "backend", value)) return e;
    if (auto e = nf::parseBackend("backend", value, c.backend)) return e;
    std::vector<std::string> keys[2];   // [iptables, nftables]
    auto note = [&](std::optional<nf::Backend> b, const char* key) {
        if (b) keys[*b == nf::Backend::kIptables ? 0 : 1].push_back(key);
    };
    if (!c.hp.externalSetMarkChain.empty()) note(nf::Backend::kIptables, "externalSetMarkChain");
    note(hp::conditionsBackend(c.condV4), "conditionsV4");
    note(hp::conditionsBackend(c.condV6), "conditionsV6");
    if (!c.backend) {
        if (!keys[0].empty() && !keys[1].empty())
            return invalid("configuration contains iptables-specific options " + joinKeys(keys[0]) +
                           " and nftables-specific options " + joinKeys(keys[1]));
        if (!keys[0].empty()) c.backend = nf::Backend::kIptables;
        if (!keys[1].empty()) c.backend = nf::Backend::kNftables;
    }
    if (c.backend) {
        bool ipt = *c.backend == nf::Backend::kIptables;
        const auto& wrong = keys[ipt ? 1 : 0];
        if (!wrong.empty())
            return invalid(std::string(nf::backendName(*c.backend)) + " backend was requested but configuration "
                           "contains " + (ipt ? "nftables" : "iptables") + "-specific options " + joinKeys(wrong));
    }
    return {};
}

// The container addresses as upstream picks them: per family the first
// address on CNI_IFNAME in a sandbox, or on no (known) interface.
void containerAddrs(const cni::CmdArgs& a, Conf& c) {
    if (!a.conf.prevResult) return;
    const cni::Result& r = *a.conf.prevResult;
    for (const cni::IPConfig& ip : r.ips) {
        auto& slot = ip.address.ip.is4() ? c.ctr4 : c.ctr6;
        if (slot) continue;
        if (ip.interface && *ip.interface >= 0 && size_t(*ip.interface) < r.interfaces.size()) {
            const cni::Interface& i = r.interfaces[size_t(*ip.interface)];
            if (i.name != a.ifname || i.sandbox.empty()) continue;
        }
        slot = ip.address;
    }
}

}  // namespace

Error parseConf(const cni::CmdArgs& a, Conf& c) {
    const auto& d = a.config();
    c.hp.network = a.conf.name;
    c.hp.containerID = a.containerID;
    c.ifname = a.ifname;
    if (auto e = cni::json::getPath(d, "dataDir", c.dataDir)) return e;
    if (auto e = cni::json::getBool(d, "snat", c.hp.snat)) return e;
    if (auto e = cni::json::getBool(d, "masqAll", c.hp.masqAll)) return e;
    if (auto e = cni::json::getString(d, "externalSetMarkChain", c.hp.externalSetMarkChain)) return e;
    bool markBitSet = cni::json::get(d, "markMasqBit") != nullptr;
    if (markBitSet && cni::json::get(d, "externalSetMarkChain"))
        return invalid("Cannot specify externalSetMarkChain and markMasqBit");
    int64_t bit = 13;
    if (auto e = cni::json::getInt(d, "markMasqBit", bit)) return e;
    if (bit < 0 || bit > 31) return invalid("MasqMarkBit must be between 0 and 31");
    c.hp.markBit = uint32_t(bit);
    if (auto e = cni::json::getStringList(d, "conditionsV4", c.condV4)) return e;
    if (auto e = cni::json::getStringList(d, "conditionsV6", c.condV6)) return e;
    if (auto e = resolveBackend(a, c)) return e;
    if (auto e = parseMappings(a, c.hp.mappings)) return e;
    containerAddrs(a, c);
    return {};
}

}  // namespace applets::portmap

namespace {

using cni::Error;
using applets::portmap::Conf;
using applets::portmap::parseConf;
namespace hp = nf::hostport;

constexpr const char* kHelp =
    "Config keys (default):\n"
    "  runtimeConfig.portMappings (none)  [{\"hostPort\":1..65535, \"containerPort\":1..65535,\n"
    "                           \"protocol\":\"tcp\"|\"udp\"|\"sctp\" (tcp), \"hostIP\":addr (all)}];\n"
    "                           none: ADD passes prevResult through, DEL does nothing\n"
    "  backend        (auto)    \"iptables\" (legacy xtables) or \"nftables\"; auto: the backend\n"
    "                           the options below are written for, else iptables if legacy\n"
    "                           xtables are in use or nftables is not usable, else nftables\n"
    "  snat           true      masquerade hairpin (container to its own host port) and\n"
    "                           127.0.0.1 traffic; sets route_localnet=1 on the host\n"
    "                           interface that routes to the container (IPv4)\n"
    "  masqAll        false     with snat: masquerade traffic to the mappings from any source\n"
    "  markMasqBit    13        iptables: the mark bit (0..31) of traffic to masquerade;\n"
    "                           excludes externalSetMarkChain\n"
    "  externalSetMarkChain (none)  iptables: jump to this chain (someone else's) to mark\n"
    "                           instead of CNI-HOSTPORT-SETMARK\n"
    "  conditionsV4, conditionsV6 (none)  extra matches of the entry rules. iptables:\n"
    "                           [!] -s|-d ADDR[/LEN], [!] -i|-o IFNAME; nftables:\n"
    "                           ip|ip6 saddr|daddr [!=] ADDR[/LEN], iifname|oifname [!=] NAME;\n"
    "                           anything else is a code 7 error\n"
    "  dataDir        /run/cni/portmap  (cnibox's own) nftables: each attachment's record,\n"
    "                           <dataDir>/<network>/<containerID>-<ifname>, for GC\n"
    "  Options of one backend with the other backend configured: code 7.\n"
    "\n"
    "Needs prevResult: the container addresses are its first IPv4 and first IPv6 address\n"
    "on CNI_IFNAME in the sandbox (or on no interface).\n"
    "iptables: nat chains CNI-HOSTPORT-DNAT (from PREROUTING and OUTPUT for local\n"
    "       destinations), CNI-HOSTPORT-SETMARK, CNI-HOSTPORT-MASQ (from POSTROUTING) shared;\n"
    "       CNI-DN-<hash of network and container> per container, entered from\n"
    "       CNI-HOSTPORT-DNAT by rules commented 'dnat name: \"<net>\" id: \"<cid>\"'.\n"
    "nftables: tables ip/ip6 cni_hostport, chains prerouting, output, hostports_all,\n"
    "       hostports, hostip_hostports, masquerading; the container's rules carry its ID\n"
    "       as comment.\n"
    "\n"
    "ADD    rules for each container address (a failed ADD removes what it made), then\n"
    "       conntrack entries of the UDP host ports are deleted (failures only logged)\n"
    "       and route_localnet set (snat); prints prevResult.\n"
    "DEL    removes the container's chain/rules in both families and of both backends\n"
    "       (a change of backend leaks nothing), also when the DEL carries no portMappings;\n"
    "       missing tables or chains are success.\n"
    "CHECK  the container's rules are there, in the families it has addresses in.\n"
    "GC     iptables: CNI-DN- chains entered by rules commented with this network and a\n"
    "       container not in cni.dev/valid-attachments go, with those rules. nftables: its\n"
    "       rules carry only the container ID (upstream's layout), so ADD records the\n"
    "       attachment in dataDir first; the rules of a recorded attachment that is not\n"
    "       valid go, unless another network holds a record of the same container.\n"
    "STATUS code 50 when the backend (explicit or automatic) is not usable.\n";

// ADD and CHECK: the conditions in the language of their backend (there
// are none without a configured or implied one), then the backend to
// program (code 50 when it is not usable).
Error prepare(Conf& c, nf::Backend& b) {
    if (c.backend) {
        if (auto e = hp::parseConditions(*c.backend, nf::Family::kIPv4, c.condV4, "conditionsV4",
                                         c.hp.conditionsV4))
            return e;
        if (auto e = hp::parseConditions(*c.backend, nf::Family::kIPv6, c.condV6, "conditionsV6",
                                         c.hp.conditionsV6))
            return e;
    }
    return nf::chooseBackend(c.backend, b);
}

// route_localnet=1 on the interface the host routes the container through,
// so that 127.0.0.1-sourced (DNATed) packets may leave through it.
Error enableLocalnet(const util::IP& ctr) {
    nl::Socket sk;
    if (auto e = nl::Socket::open(sk)) return e;
    int ifindex = 0;
    if (auto e = sk.routeGet(ctr, ifindex)) return e;
    if (!ifindex) return {};
    nl::LinkInfo li;
    bool found = false;
    if (auto e = sk.linkByIndex(ifindex, li, found)) return e;
    if (!found) return {};
    return nl::ifSysctlSet(AF_INET, li.name, "route_localnet", "1");
}

void deleteStaleUdp(const Conf& c, int family, const util::IP& ctr) {
    for (const hp::Mapping& m : c.hp.mappings) {
        if (m.proto != IPPROTO_UDP) continue;
        if (Error e = nf::conntrackDeleteByDport(family, IPPROTO_UDP, m.hostPort))
            std::fprintf(stderr, "portmap: failed to delete stale UDP conntrack entries for %s: %s\n",
                         ctr.str().c_str(), e.text().c_str());
    }
}

Error addAll(const Conf& c, nf::Backend b) {
    for (const auto* net : {&c.ctr4, &c.ctr6})
        if (*net)
            if (auto e = hp::add(b, c.hp, **net)) return e;
    for (const auto* net : {&c.ctr4, &c.ctr6})
        if (*net) deleteStaleUdp(c, (*net)->ip.is4() ? AF_INET : AF_INET6, (*net)->ip);
    if (c.hp.snat && c.ctr4)
        if (auto e = enableLocalnet(c.ctr4->ip))
            return Error(e.code, "unable to enable route_localnet: " + e.text());
    return {};
}

cni::AttachmentRecords records(const Conf& c) { return {c.dataDir, c.hp.network}; }
cni::Attachment attachment(const Conf& c) { return {c.hp.containerID, c.ifname}; }

Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    Conf c;
    if (auto e = parseConf(a, c)) return e;
    if (!a.conf.prevResult) return Error(cni::kInvalidNetConf, "must be called as chained plugin");
    out = *a.conf.prevResult;
    if (c.hp.mappings.empty()) return {};
    nf::Backend b;
    if (auto e = prepare(c, b)) return e;
    // nftables' rules carry only the container ID: the record names their
    // network, for GC (iptables' carry the network in their comments).
    bool record = b == nf::Backend::kNftables;
    if (record)
        if (auto e = records(c).write(attachment(c), {}))
            return e.wrap("portmap: recording the attachment");
    if (Error e = addAll(c, b)) {
        (void)hp::del(b, c.hp.network, c.hp.containerID);
        if (record) records(c).remove(attachment(c));
        return e;
    }
    return {};
}

// The backend whose errors count when both are cleaned.
nf::Backend primary(const Conf& c) { return c.backend ? *c.backend : nf::autoBackend(); }

Error cmdDel(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, c)) return e;
    // Also without portMappings (upstream returns early then): a runtime that
    // does not repeat the capability args on DEL must not leak the rules.
    nf::Backend mine = primary(c);
    Error ipt = hp::del(nf::Backend::kIptables, c.hp.network, c.hp.containerID);
    Error nft = hp::del(nf::Backend::kNftables, c.hp.network, c.hp.containerID);
    if (!nft) records(c).remove(attachment(c));
    return mine == nf::Backend::kIptables ? ipt : nft;
}

Error cmdCheck(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, c)) return e;
    if (!a.conf.prevResult) return Error(cni::kInvalidNetConf, "Required prevResult missing");
    if (c.hp.mappings.empty()) return {};
    nf::Backend b;
    if (auto e = prepare(c, b)) return e;
    for (const auto* net : {&c.ctr4, &c.ctr6})
        if (*net)
            if (auto e = hp::check(b, c.hp, **net)) return e;
    return {};
}

Error cmdGC(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, c)) return e;
    std::set<std::string> valid;
    for (const cni::Attachment& at : a.conf.validAttachments) valid.insert(at.containerID);
    if (auto e = hp::gc(nf::Backend::kIptables, c.hp.network, valid)) return e;
    // nftables: the recorded attachments of this network that are not valid,
    // unless the container still has a record in another network (its rules
    // there carry the same container ID).
    for (const auto& [att, fields] : records(c).notIn(a.conf.validAttachments)) {
        if (!valid.count(att.containerID) && !records(c).elsewhere(att.containerID))
            if (auto e = hp::del(nf::Backend::kNftables, c.hp.network, att.containerID)) return e;
        records(c).remove(att);
    }
    return {};
}

Error cmdStatus(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, c)) return e;
    nf::Backend b;
    return nf::chooseBackend(c.backend, b);
}

const cni::Plugin kPlugin{
    .add = cmdAdd,
    .del = cmdDel,
    .check = cmdCheck,
    .gc = cmdGC,
    .status = cmdStatus,
};

}  // namespace

extern const cni::Applet portmap_applet;
const cni::Applet portmap_applet{
    .name = "portmap",
    .summary = "host ports published to the container (DNAT)",
    .help = kHelp,
    .plugin = &kPlugin,
};
