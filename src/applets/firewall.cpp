// firewall: accepts forwarded traffic of the container's addresses (chained
// after an interface plugin), optionally isolating bridges from each other.
// The config parser is here and in firewall.h; the rule sets live in
// src/netfilter/fwrules.
#include "applets/firewall.h"

#include <algorithm>

#include "cni/applet.h"
#include "cni/json.h"
#include "cni/records.h"
#include "util/text.h"

namespace applets::firewall {

using cni::Error;
namespace fw = nf::fw;

Error parseConf(const cni::CmdArgs& a, Conf& c) {
    const auto& d = a.config();
    std::string backend, zone, ingress;
    if (auto e = cni::json::getString(d, "backend", backend)) return e;
    if (auto e = cni::json::getString(d, "iptablesAdminChainName", c.spec.adminChain)) return e;
    if (auto e = cni::json::getString(d, "firewalldZone", zone)) return e;
    if (auto e = cni::json::getString(d, "ingressPolicy", ingress)) return e;
    if (auto e = cni::json::getPath(d, "dataDir", c.dataDir)) return e;
    if (backend == "firewalld") {
        c.firewalld = true;
    } else if (auto e = nf::parseBackend("backend", backend, c.backend)) {
        return e;
    }
    if (c.spec.adminChain.empty()) c.spec.adminChain = fw::kDefaultAdminChain;
    if (auto e = fw::validateAdminChain(c.spec.adminChain)) return e;
    if (ingress.empty() || ingress == "open")
        c.spec.ingress = fw::Ingress::kOpen;
    else if (ingress == "same-bridge")
        c.spec.ingress = fw::Ingress::kSameBridge;
    else if (ingress == "isolated")
        c.spec.ingress = fw::Ingress::kIsolated;
    else
        return Error(cni::kInvalidNetConf, "unknown ingress policy: " + util::quoted(ingress),
                     "ingressPolicy must be \"open\", \"same-bridge\" or \"isolated\"");

    c.spec.network = a.conf.name;
    c.spec.containerID = a.containerID;
    c.spec.ifname = a.ifname;
    if (a.conf.prevResult)
        for (const cni::IPConfig& ip : a.conf.prevResult->ips)
            if (std::find(c.spec.ips.begin(), c.spec.ips.end(), ip.address.ip) == c.spec.ips.end())
                c.spec.ips.push_back(ip.address.ip);
    return {};
}

Error ingressBridge(const cni::CmdArgs& a, Conf& c) {
    if (c.spec.ingress == fw::Ingress::kOpen) return {};
    const auto& ifs = a.conf.prevResult->interfaces;
    std::string policy = c.spec.ingress == fw::Ingress::kIsolated ? "isolated" : "same-bridge";
    if (ifs.empty())
        return Error(cni::kInvalidNetConf, "interface needs to be set for ingress policy " + util::quoted(policy) +
                                               ", make sure to chain \"firewall\" plugin with \"bridge\"");
    c.spec.bridge = ifs[0].name;
    if (c.spec.bridge.empty()) return Error(cni::kInvalidNetConf, "got empty bridge name");
    if (c.spec.bridge.size() > 15)
        return Error(cni::kInvalidNetConf, "bridge name " + util::quoted(c.spec.bridge) + " is longer than 15 characters");
    return {};
}

}  // namespace applets::firewall

namespace {

using cni::Error;
using applets::firewall::Conf;
using applets::firewall::parseConf;
namespace fw = nf::fw;

constexpr const char* kHelp =
    "Config keys (default):\n"
    "  backend                 (auto)       \"iptables\" or \"nftables\"; auto: iptables when legacy\n"
    "                                       xtables are in use in the namespace or nftables is not\n"
    "                                       usable, else nftables (never firewalld). \"firewalld\" is\n"
    "                                       refused (code 2)\n"
    "  iptablesAdminChainName  CNI-ADMIN    admin override chain, jumped to first from the\n"
    "                                       plugin's chain; also its name on nftables\n"
    "  firewalldZone           trusted      accepted and ignored (firewalld only)\n"
    "  ingressPolicy           open         \"open\"; \"same-bridge\": traffic from the bridge\n"
    "                                       (prevResult interfaces[0]) to another bridge with this\n"
    "                                       policy is dropped; \"isolated\": also traffic between\n"
    "                                       ports of the same bridge (seen by the forward hook\n"
    "                                       only with br_netfilter's bridge-nf-call-iptables)\n"
    "  dataDir                 /run/cni/firewall  (cnibox's own) where ADD records each\n"
    "                                       attachment's addresses before committing its iptables\n"
    "                                       rules: <dataDir>/<network>/<containerID>-<ifname>\n"
    "Needs prevResult (ADD, CHECK); versions 0.4.0 and later.\n"
    "\n"
    "iptables (filter table of each IP family of prevResult's addresses), as upstream:\n"
    "  FORWARD      -m comment --comment \"CNI firewall plugin rules\" -j CNI-FORWARD (first)\n"
    "  CNI-FORWARD  -m comment --comment \"CNI firewall plugin admin overrides\" -j CNI-ADMIN (first)\n"
    "               -d IP/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
    "               -s IP/32 -j ACCEPT                  (per address; /128 for IPv6; no comment)\n"
    "  same-bridge/isolated: FORWARD -j CNI-ISOLATION-STAGE-1 (first);\n"
    "  CNI-ISOLATION-STAGE-1  [isolated: -i BR -o BR -j DROP] -i BR ! -o BR -j CNI-ISOLATION-STAGE-2\n"
    "                         -j RETURN\n"
    "  CNI-ISOLATION-STAGE-2  -o BR -j DROP, -j RETURN\n"
    "  (isolation rules carry \"CNI firewall plugin rules (ingressPolicy: ...)\" comments)\n"
    "\n"
    "nftables (cnibox's own layout; upstream has no nftables firewall):\n"
    "  table inet cni_firewall\n"
    "    chain forward      type filter hook forward priority 0; policy accept\n"
    "                       [jump isolation-stage-1]   (same-bridge/isolated, first)\n"
    "                       jump cni-forward           comment \"CNI firewall plugin rules\"\n"
    "    chain cni-forward  jump CNI-ADMIN             comment \"CNI firewall plugin admin overrides\"\n"
    "                       ip daddr IP ct state established,related accept   comment C\n"
    "                       ip saddr IP accept                                comment C\n"
    "    chain CNI-ADMIN    (the admin chain, empty)\n"
    "    chain isolation-stage-1  iifname BR oifname != BR jump isolation-stage-2\n"
    "                             [isolated: iifname BR oifname BR drop]\n"
    "    chain isolation-stage-2  oifname BR drop\n"
    "  C = name=<network> id=<container id> ifname=<ifname> (parts hashed past 127 bytes).\n"
    "  An nftables accept ends only this table's evaluation: a drop in another\n"
    "  table (e.g. a forward chain with policy drop) still drops. To forward only the\n"
    "  containers' traffic, set this table's forward chain to policy drop (the plugin never\n"
    "  changes the policy of an existing chain) or make the other table accept it.\n"
    "\n"
    "ADD    the shared chains and rules once, then the per-address rules (nothing when\n"
    "       prevResult has no address); prints prevResult.\n"
    "DEL    removes the attachment's per-address rules from both backends: nftables by\n"
    "       comment (prevResult not needed), iptables by prevResult's addresses, or without\n"
    "       prevResult (a chain whose ADD failed has no cached result) by the addresses ADD\n"
    "       recorded in dataDir before committing its iptables rules. Tables\n"
    "       not in use in the namespace are not touched; shared chains, the isolation rules\n"
    "       and the admin chain stay. Missing rules or chains are success.\n"
    "CHECK  every rule ADD makes for prevResult is there.\n"
    "GC     removes the per-address rules of this network whose attachment is not in\n"
    "       cni.dev/valid-attachments: nftables' by comment, iptables' by dataDir's records.\n"
    "STATUS code 50 when the backend is not usable in this network namespace.\n";

Error refuseFirewalld() {
    return Error(cni::kUnsupportedField, "the firewalld backend is not supported by cnibox; use iptables or nftables");
}

// ADD and CHECK: prevResult, the bridge of an ingress policy, the backend.
Error prepare(const cni::CmdArgs& a, Conf& c) {
    if (auto e = parseConf(a, c)) return e;
    if (c.firewalld) return refuseFirewalld();
    if (!a.conf.prevResult) return Error(cni::kInvalidNetConf, "missing prevResult from earlier plugin");
    if (auto e = applets::firewall::ingressBridge(a, c)) return e;
    // Without an address there is nothing to add or check (as upstream):
    // no backend is probed (the iptables probe would create the filter table).
    if (c.spec.ips.empty()) return {};
    return nf::chooseBackend(c.backend, c.spec.backend);
}

// The iptables per-address rules name no attachment (upstream's shape):
// their addresses are recorded (cni::AttachmentRecords) before they are
// committed, for a DEL without prevResult and for GC.
cni::AttachmentRecords records(const Conf& c) { return {c.dataDir, c.spec.network}; }
cni::Attachment attachment(const fw::Spec& s) { return {s.containerID, s.ifname}; }

std::vector<util::IP> recordedIPs(const cni::AttachmentRecords::Fields& f) {
    std::vector<util::IP> out;
    for (const auto& [k, v] : f)
        if (auto ip = util::IP::parse(v); k == "ip" && ip) out.push_back(*ip);
    return out;
}

Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    Conf c;
    if (auto e = prepare(a, c)) return e;
    bool record = c.spec.backend == nf::Backend::kIptables && !c.spec.ips.empty();
    if (record) {
        cni::AttachmentRecords::Fields f;
        for (const util::IP& ip : c.spec.ips) f.emplace_back("ip", ip.str());
        if (auto e = records(c).write(attachment(c.spec), f)) return e.wrap("firewall: recording the addresses");
    }
    if (auto e = fw::add(c.spec)) {
        if (record) records(c).remove(attachment(c.spec));
        return e;
    }
    out = *a.conf.prevResult;
    return {};
}

Error cmdCheck(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = prepare(a, c)) return e;
    return fw::check(c.spec);
}

// Nothing a firewalld config could have added exists (its ADD fails), so
// DEL cleans what the two backends may hold and succeeds.
Error cmdDel(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, c)) return e;
    c.spec.backend = c.backend ? *c.backend : nf::autoBackend();
    bool known = a.conf.prevResult.has_value();
    cni::AttachmentRecords::Fields f;
    if (!known && records(c).read(attachment(c.spec), f)) {
        c.spec.ips = recordedIPs(f);
        known = true;
    }
    if (auto e = fw::del(c.spec, known)) return e;
    records(c).remove(attachment(c.spec));
    return {};
}

// nftables' rules by their comments; iptables' by the records of the
// attachments that are not valid.
Error cmdGC(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, c)) return e;
    if (auto e = fw::gc(a.conf.name, a.conf.validAttachments)) return e;
    for (const auto& [att, f] : records(c).notIn(a.conf.validAttachments)) {
        fw::Spec s = c.spec;
        s.containerID = att.containerID;
        s.ifname = att.ifname;
        s.ips = recordedIPs(f);
        s.backend = nf::Backend::kIptables;
        if (auto e = fw::del(s, true)) return e;
        records(c).remove(att);
    }
    return {};
}

Error cmdStatus(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, c)) return e;
    if (c.firewalld) return refuseFirewalld();
    nf::Backend b;
    return nf::chooseBackend(c.backend, b);
}

const cni::Plugin kPlugin{
    .versions = cni::VersionSet::from(cni::Ver::v040),
    .add = cmdAdd,
    .del = cmdDel,
    .check = cmdCheck,
    .gc = cmdGC,
    .status = cmdStatus,
    .checkNetns = false,
};

}  // namespace

extern const cni::Applet firewall_applet;
const cni::Applet firewall_applet{
    .name = "firewall",
    .summary = "forwarding rules accepting the container's traffic (iptables, nftables)",
    .help = kHelp,
    .plugin = &kPlugin,
};
