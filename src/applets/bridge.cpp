// bridge: a veth pair per container, its host end a port of a Linux bridge.
#include "applets/bridge.h"

#include <net/if.h>
#include <sys/socket.h>

#include <set>

#include "attach/bridge.h"
#include "attach/forward.h"
#include "attach/iface.h"
#include "attach/ipam.h"
#include "attach/masq.h"
#include "attach/sandbox.h"
#include "attach/veth.h"
#include "cni/applet.h"
#include "cni/json.h"
#include "cni/mac.h"
#include "netfilter/ipmasq.h"
#include "netfilter/spoofcheck.h"
#include "netlink/netlink.h"
#include "util/fs.h"
#include "util/rollback.h"

namespace applets::bridge {
namespace {

using cni::Error;

constexpr const char* kHelp =
    "Config keys (default):\n"
    "  bridge            \"cni0\"    bridge to attach to; made when missing (never deleted)\n"
    "  isGateway         false     put the gateway address on the bridge, forwarding on\n"
    "  isDefaultGateway  false     implies isGateway; adds a default route via the gateway\n"
    "  forceAddress      false     replace a conflicting bridge address instead of failing\n"
    "  mtu               (kernel)  MTU of a new bridge and of the veth pair, 68..65535\n"
    "  promiscMode       false     bridge in promiscuous mode (excludes hairpinMode)\n"
    "  hairpinMode       false     hairpin on the host port (excludes promiscMode)\n"
    "  enabledad         false     IPv6 DAD in the container (else accept_dad=0)\n"
    "  ipam              (none)    IPAM plugin config; without a type the port is L2 only\n"
    "  dns               (none)    replaces the IPAM result's dns when set\n"
    "  runtimeConfig.mac, args.cni.mac, CNI_ARGS MAC=   container MAC, in that precedence\n"
    "  portIsolation     false     the host port is isolated (no traffic to other\n"
    "                              isolated ports)\n"
    "  disableContainerInterface false  leave the container veth down (no IPAM type)\n"
    "  vlan              0         1..4094: VLAN filtering on the bridge; the host port\n"
    "                              gets this vid as pvid, untagged. With isGateway the\n"
    "                              gateway address goes on <bridge>.<vlan>, one end of\n"
    "                              a veth pair whose other end is a port of the bridge\n"
    "                              in that vlan (made when missing, shared by the\n"
    "                              vlan's containers, never deleted)\n"
    "  vlanTrunk         (none)    [{\"id\":N} or {\"minID\":N,\"maxID\":M}]: tagged vids\n"
    "                              1..4094 on the host port; with vlan 0 also vid 1\n"
    "                              as pvid, untagged\n"
    "  preserveDefaultVlan false   keep the bridge's default vid 1 on the port\n"
    "                              (else removed when vlan or vlanTrunk is set)\n"
    "  The vlan keys need a kernel with bridge VLAN filtering; else ADD fails and\n"
    "  leaves nothing behind.\n"
    "  ipMasq            false     masquerade what the container's addresses send outside\n"
    "                              their subnet (not multicast); only with an IPAM type\n"
    "  ipMasqBackend     (auto)    \"iptables\" or \"nftables\" (auto: iptables if legacy\n"
    "                              xtables are in use or nftables is not usable)\n"
    "  macspoofchk       false     drop frames from the container whose source MAC is not\n"
    "                              its interface's (nftables, table bridge nat)\n"
    "\n"
    "ADD    veth pair with CNI_IFNAME made directly in CNI_NETNS and host end\n"
    "       vethXXXXXXXX; IPAM ADD; bridge made if missing and up (accept_ra=0), the host\n"
    "       end its port; container addresses and routes; gateway on the bridge; waits\n"
    "       for the port to be up. Result interfaces: [bridge, host veth, container\n"
    "       veth] (+ <bridge>.<vlan> with isGateway and vlan); ips on interface 2. A\n"
    "       failed ADD undoes the veth and the IPAM allocation (a bridge or vlan\n"
    "       gateway it made stays, as on DEL).\n"
    "DEL    container link, then IPAM DEL, then the macspoofchk rules (errors only\n"
    "       logged) and the masquerading (also when the link or CNI_NETNS is gone: the\n"
    "       rules are found by network name, container ID and ifname); an empty or\n"
    "       vanished CNI_NETNS or a missing link is success.\n"
    "CHECK  IPAM CHECK; bridge, both veth ends, addresses and routes of prevResult;\n"
    "       the macspoofchk rules when set.\n"
    "STATUS IPAM STATUS, a usable bridge name, a usable backend for ipMasq and\n"
    "       macspoofchk (code 50). GC: passed to the IPAM plugin; with IPAM, the\n"
    "       masquerading of this network's attachments not in\n"
    "       cni.dev/valid-attachments is removed from both backends.\n";

// vlanTrunk: a list of {"id"} and/or {"minID","maxID"} entries, vids 1..4094.
Error parseTrunk(const cni::json::Value& d, std::vector<int>& out) {
    namespace json = cni::json;
    const json::Value* t = json::get(d, "vlanTrunk");
    if (!t || t->IsNull()) return {};
    auto bad = [](const std::string& msg) { return Error(cni::kInvalidNetConf, msg); };
    if (!t->IsArray()) return bad("vlanTrunk must be a list");
    std::set<int> vids;
    for (const json::Value& item : t->GetArray()) {
        if (!item.IsObject()) return bad("vlanTrunk entries must be objects");
        int v[3] = {0, 0, 0};
        bool has[3];
        const char* keys[3] = {"minID", "maxID", "id"};
        for (int i = 0; i < 3; ++i) {
            const json::Value* f = json::get(item, keys[i]);
            has[i] = f && !f->IsNull();
            if (has[i])
                if (auto e = json::getInt(item, keys[i], v[i])) return e;
        }
        if (has[0] && has[1]) {
            if (v[0] <= 0 || v[0] > 4094) return bad("incorrect trunk minID parameter");
            if (v[1] <= 0 || v[1] > 4094) return bad("incorrect trunk maxID parameter");
            if (v[1] < v[0]) return bad("minID is greater than maxID in trunk parameter");
            for (int x = v[0]; x <= v[1]; ++x) vids.insert(x);
        } else if (has[1]) {
            return bad("minID and maxID should be configured simultaneously, minID is missing");
        } else if (has[0]) {
            return bad("minID and maxID should be configured simultaneously, maxID is missing");
        }
        if (has[2]) {
            if (v[2] <= 0 || v[2] > 4094) return bad("incorrect trunk id parameter");
            vids.insert(v[2]);
        }
    }
    out.assign(vids.begin(), vids.end());
    return {};
}


}  // namespace

Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c) {
    namespace json = cni::json;
    const auto& d = a.config();
    if (auto e = json::getString(d, "bridge", c.bridge)) return e;
    if (c.bridge.empty()) c.bridge = "cni0";
    if (auto e = cni::validateIfname(c.bridge))
        return Error(cni::kInvalidNetConf, "invalid bridge name \"" + c.bridge + "\"", e.msg);
    c.layer3 = !a.conf.ipamType.empty();
    if (auto e = json::getBool(d, "ipMasq", c.ipMasq)) return e;
    c.ipMasq = c.ipMasq && c.layer3;
    if (auto e = json::getBool(d, "macspoofchk", c.macspoofchk)) return e;
    if (!strict) return {};

    for (auto [key, field] : {std::pair{"isGateway", &c.isGateway}, {"isDefaultGateway", &c.isDefaultGateway},
                              {"forceAddress", &c.forceAddress}, {"promiscMode", &c.promiscMode},
                              {"hairpinMode", &c.hairpinMode}, {"enabledad", &c.enableDad}})
        if (auto e = json::getBool(d, key, *field)) return e;
    if (auto e = json::getInt(d, "mtu", c.mtu)) return e;
    if (c.mtu != 0 && (c.mtu < 68 || c.mtu > 65535))
        return Error(cni::kInvalidNetConf, "invalid mtu " + std::to_string(c.mtu) + " (must be 68..65535)");
    if (c.isDefaultGateway) c.isGateway = true;
    if (c.hairpinMode && c.promiscMode)
        return Error(cni::kInvalidNetConf, "cannot set hairpin mode and promiscuous mode at the same time");

    for (auto [key, field] : {std::pair{"portIsolation", &c.portIsolation},
                              {"disableContainerInterface", &c.disableContainerInterface},
                              {"preserveDefaultVlan", &c.preserveDefaultVlan}})
        if (auto e = json::getBool(d, key, *field)) return e;
    if (c.disableContainerInterface && c.layer3)
        return Error(cni::kInvalidNetConf, "cannot use IPAM when DisableContainerInterface flag is set");
    if (auto e = json::getInt(d, "vlan", c.vlan)) return e;
    if (c.vlan < 0 || c.vlan > 4094)
        return Error(cni::kInvalidNetConf,
                     "invalid VLAN ID " + std::to_string(c.vlan) + " (must be between 0 and 4094)");
    if (auto e = parseTrunk(d, c.trunk)) return e;
    if (c.vlan && c.isGateway && c.layer3 && c.vlanGateway().size() >= IFNAMSIZ)
        return Error(cni::kInvalidNetConf, "bridge name \"" + c.bridge + "\" too long for its vlan gateway \"" +
                                               c.vlanGateway() + "\" (at most 15 characters)");
    std::string backend;
    if (auto e = json::getString(d, "ipMasqBackend", backend)) return e;
    if (auto e = nf::parseBackend("ipMasqBackend", backend, c.masqBackend)) return e;

    return cni::containerMac(a, {}, c.mac);
}

namespace {

// ---------------------------------------------------------------- ADD

attach::BridgeSpec bridgeSpec(const Conf& c) {
    return {.name = c.bridge, .mtu = c.mtu, .vlanFiltering = c.vlanFiltering(), .promisc = c.promiscMode};
}

attach::PortSpec portSpec(const Conf& c) {
    return {.hairpin = c.hairpinMode, .isolated = c.portIsolation, .vlan = c.vlan, .trunk = c.trunk,
            .preserveDefaultVlan = c.preserveDefaultVlan};
}

// The gateways to put on the bridge, per family; fills in ips' interface
// index and (isGateway) missing gateways, and the isDefaultGateway routes.
struct Gateways {
    std::vector<util::IPNet> v4, v6;
};

Gateways calcGateways(const Conf& c, cni::Result& r) {
    Gateways g;
    bool defaultFound[2] = {false, false};
    for (cni::IPConfig& ipc : r.ips) {
        int fi = ipc.address.ip.is4() ? 0 : 1;
        ipc.interface = 2;
        if (!ipc.gateway && c.isGateway) ipc.gateway = ipc.address.network().next();
        if (c.isDefaultGateway && !defaultFound[fi]) {
            for (const cni::Route& rt : r.routes)
                if (rt.gw && rt.dst.prefix == 0 && rt.dst.ip.family == ipc.address.ip.family) defaultFound[fi] = true;
            if (!defaultFound[fi]) {
                util::IP zero;
                zero.family = ipc.address.ip.family;
                r.routes.push_back({.dst = {zero, 0}, .gw = ipc.gateway});
                defaultFound[fi] = true;
            }
        }
        if (c.isGateway) (fi ? g.v6 : g.v4).push_back({*ipc.gateway, ipc.address.prefix});
    }
    return g;
}

// The gateway address on the bridge (or the vlan gateway `br`); a different
// IPv4 address (or an overlapping IPv6 one) is an error unless forceAddress
// replaces it.
Error ensureAddr(nl::Socket& host, const Conf& c, const nl::LinkInfo& br, int family, const util::IPNet& gw) {
    std::vector<nl::AddrInfo> addrs;
    if (auto e = host.addrs(br.index, family, addrs))
        return Error(e.code, "could not get list of IP addresses: " + e.text());
    for (const nl::AddrInfo& a : addrs) {
        if (a.addr == gw) return {};
        if (family == AF_INET || a.addr.contains(gw.ip) || gw.contains(a.addr.ip)) {
            if (!c.forceAddress)
                return Error(cni::kInternal, "\"" + br.name + "\" already has an IP address different from " + gw.str());
            if (auto e = host.delAddr(br.index, a.addr))
                return Error(e.code, "could not remove IP address from \"" + br.name + "\": " + e.text());
        }
    }
    if (auto e = host.replaceAddr(br.index, gw))
        return Error(e.code, "could not add IP address " + gw.str() + " to \"" + br.name + "\": " + e.text());
    // Pin the bridge MAC: unset, it follows the lowest port MAC as ports churn.
    // Its MAC from before our port joined, as upstream; a bridge whose ports
    // all left has 00:00:00:00:00:00 (which cannot be set): then the current one.
    std::string mac = br.mac;
    if (mac.empty() || mac == "00:00:00:00:00:00") {
        nl::LinkInfo now;
        bool found = false;
        if (auto e = host.linkByIndex(br.index, now, found)) return e;
        mac = now.mac;
    }
    if (auto e = host.setMac(br.index, mac)) return Error(e.code, "could not set bridge's mac: " + e.text());
    return {};
}

// The vlan's gateway interface <bridge>.<vlan>: one end of a veth pair in
// the host namespace whose other end (vethXXXXXXXX) is a port of the bridge
// with the vlan as pvid, untagged. Made when missing, then shared by the
// vlan's containers: DEL leaves it, as it leaves the bridge.
Error ensureVlanGateway(nl::Socket& host, const Conf& c, const nl::LinkInfo& br, nl::LinkInfo& out) {
    std::string name = c.vlanGateway();
    bool found = false;
    if (auto e = host.linkByName(name, out, found))
        return Error(e.code, "failed to find interface \"" + name + "\": " + e.text());
    if (found) return {};
    auto fail = [&](const Error& e) { return Error(e.code, "failed to create vlan gateway \"" + name + "\": " + e.text()); };
    nl::Netns self;
    if (auto e = nl::Netns::current(self)) return fail(e);
    attach::Veth v;
    if (auto e = attach::setupVeth(host, host, self, name, br.mtu, "", v)) {
        // Made meanwhile by an ADD of another container of the vlan.
        if (!host.linkByName(name, out, found) && found) return {};
        return fail(e);
    }
    util::Rollback undo;
    undo.defer([&host, index = v.host.index] { (void)host.deleteLink(index); });
    attach::PortSpec port{.vlan = c.vlan, .preserveDefaultVlan = c.preserveDefaultVlan};
    if (auto e = attach::joinBridge(host, br, v.host, port)) return fail(e);
    if (auto e = host.setUp(v.container.index)) return fail(e);
    undo.dismiss();
    out = v.container;
    return {};
}

// The container end's addresses and routes, DAD as configured.
Error configureContainer(const cni::CmdArgs& a, const Conf& c, attach::VethSandbox& s, int index,
                         const cni::Result& r) {
    nl::NetnsGuard in(s.ns);
    if (in.error()) return in.error();
    if (c.enableDad) {
        (void)nl::ifSysctlSet(AF_INET6, a.ifname, "enhanced_dad", "1");
        (void)nl::ifSysctlSet(AF_INET6, a.ifname, "accept_dad", "1");
    } else {
        (void)nl::ifSysctlSet(AF_INET6, a.ifname, "accept_dad", "0");
    }
    (void)nl::ifSysctlSet(AF_INET, a.ifname, "arp_notify", "1");
    return attach::configureIface(s.ctr, a.ifname, index, r);
}

// The gateway addresses on the bridge, or on the vlan's gateway (then one
// more result interface), and forwarding for their families.
Error setGateways(nl::Socket& host, const Conf& c, const nl::LinkInfo& br, const Gateways& gws, cni::Result& out) {
    nl::LinkInfo gwLink = br;
    if (c.vlan && (!gws.v4.empty() || !gws.v6.empty())) {
        if (auto e = ensureVlanGateway(host, c, br, gwLink))
            return Error(e.code, "failed to create vlan interface: " + e.text());
        out.interfaces.push_back({.name = gwLink.name, .mac = gwLink.mac});
    }
    std::string what = c.vlan ? "failed to set vlan interface for bridge with addr: " : "failed to set bridge addr: ";
    for (int family : {AF_INET, AF_INET6}) {
        const auto& list = family == AF_INET ? gws.v4 : gws.v6;
        for (const util::IPNet& gw : list)
            if (auto e = ensureAddr(host, c, gwLink, family, gw)) return Error(e.code, what + e.text());
        if (list.empty()) continue;
        Error e = family == AF_INET ? attach::enableIPv4Forward() : attach::enableIPv6Forward();
        if (e) return Error(e.code, "failed to enable forwarding: " + e.text());
    }
    return {};
}

// The port up (unless the container end stays down, and so the port) and
// the MACs the bridge and the port have now: the bridge's may change with
// its first port or its address.
Error settle(nl::Socket& host, const Conf& c, const nl::LinkInfo& br, const nl::LinkInfo& port, cni::Result& out) {
    nl::LinkInfo now = port;
    if (!c.disableContainerInterface)
        if (auto e = attach::waitPortUp(host, port.index, now)) return e;
    nl::LinkInfo brNow;
    bool found = false;
    if (auto e = host.linkByIndex(br.index, brNow, found)) return e;
    if (found) out.interfaces[0].mac = brNow.mac;
    out.interfaces[1].mac = now.mac;
    return {};
}

// What can be refused before anything is made is refused first: the
// bridge name taken by another kind of link, an IPAM plugin that is not
// there, the interface name taken in the container (the veth comes first).
// IPAM runs before a missing bridge is made, so a failing IPAM leaves no
// bridge behind (dhcp excepted: its exchange needs the port on the bridge). A failure undoes what was made, last first (a bridge or a
// vlan gateway stays, as on DEL).
Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    Conf c;
    if (auto e = parseConf(a, true, c)) return e;
    attach::VethSandbox s;
    if (auto e = s.open(a)) return e;
    nl::LinkInfo br;
    bool brExists = false;
    if (auto e = s.host.linkByName(c.bridge, br, brExists)) return e;
    if (brExists && br.kind != "bridge")
        return Error(cni::kInternal, "failed to create bridge \"" + c.bridge + "\": \"" + c.bridge +
                                         "\" already exists but is not a bridge");
    if (c.layer3)
        if (auto e = attach::requireIpamPlugin(a)) return e;
    if (c.macspoofchk)
        if (auto e = nf::spoofcheck::requireUsable()) return e;

    util::Rollback undo;
    attach::Veth v;
    if (auto e = attach::addVeth(s, a, c.mtu, c.mac, v, undo)) return e;
    // An IPAM that talks on the link (dhcp) runs once the port is on the bridge.
    bool ipamOnLink = c.layer3 && attach::ipamUsesLink(a.conf.ipamType);
    if (c.layer3 && !ipamOnLink)
        if (auto e = attach::allocate(a, out, undo)) return e;
    if (auto e = attach::ensureBridge(s.host, bridgeSpec(c), brExists, br)) return e;
    if (auto e = attach::joinBridge(s.host, br, v.host, portSpec(c))) return e;
    if (ipamOnLink)
        if (auto e = attach::allocate(a, out, undo)) return e;
    if (c.macspoofchk) {
        undo.defer([&a] { (void)nf::spoofcheck::teardown(a.containerID, a.ifname); });
        if (auto e = nf::spoofcheck::setup(v.host.name, v.container.mac, a.containerID, a.ifname)) return e;
    }
    out.interfaces = {{.name = br.name, .mac = br.mac},
                      {.name = v.host.name, .mac = v.host.mac},
                      {.name = v.container.name, .mac = v.container.mac, .sandbox = a.netns}};
    if (c.layer3) {
        Gateways gws = calcGateways(c, out);
        if (auto e = configureContainer(a, c, s, v.container.index, out)) return e;
        if (auto e = setGateways(s.host, c, br, gws, out)) return e;
        if (c.ipMasq)
            if (auto e = attach::masquerade(a, c.masqBackend, out, undo)) return e;
    } else if (!c.disableContainerInterface) {
        if (auto e = s.ctr.setUp(v.container.index))
            return Error(e.code, "failed to set \"" + a.ifname + "\" up: " + e.text());
    }
    if (auto e = settle(s.host, c, br, v.host, out)) return e;
    attach::applyConfDns(a, out);
    undo.dismiss();
    return {};
}

// ---------------------------------------------------------------- DEL

// The container link (when CNI_NETNS still names a namespace), IPAM DEL
// (before the link for dhcp, whose release goes out on it), the macspoofchk
// rules (errors only logged, as upstream), the masquerading.
// Unlike upstream, the netfilter objects go also when the link or the
// namespace is gone: they are found without the link's addresses.
Error cmdDel(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, false, c)) return e;
    if (auto e = attach::deleteLinkAndIpam(a, c.layer3, attach::DelOrder::kLinkFirst,
                                           [&a] { return attach::deleteSandboxLink(a); }))
        return e;
    if (c.macspoofchk)
        if (auto e = nf::spoofcheck::teardown(a.containerID, a.ifname))
            (void)util::writeAll(2, e.text() + "\n");
    if (c.ipMasq) return nf::ipmasq::teardown(a.conf.name, a.containerID, a.ifname);
    return {};
}

// ---------------------------------------------------------------- CHECK

Error lookup(nl::Socket& sk, const cni::Interface& i, bool inSandbox, nl::LinkInfo& li) {
    if (i.name.empty()) return Error(cni::kInternal, "Interface name missing ");
    bool found = false;
    if (auto e = sk.linkByName(i.name, li, found)) return e;
    if (!found) return Error(cni::kInternal, "Interface name " + i.name + " not found");
    if (inSandbox && i.sandbox.empty())
        return Error(cni::kInternal, "Interface " + i.name + " is expected to be in a sandbox");
    if (!inSandbox && !i.sandbox.empty())
        return Error(cni::kInternal, "Interface " + i.name + " should not be in sandbox");
    return {};
}

Error cmdCheck(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, true, c)) return e;
    nl::Netns ns;
    if (auto e = attach::beginCheck(a, "", ns)) return e;
    const cni::Result& r = *a.conf.prevResult;

    cni::Interface brMap, ctrMap;
    for (const cni::Interface& i : r.interfaces) {
        if (i.name == c.bridge) brMap = i;
        else if (i.name == a.ifname && i.sandbox == a.netns) ctrMap = i;
    }

    nl::Socket host, ctr;
    if (auto e = nl::Socket::open(host)) return e;
    nl::LinkInfo br;
    if (auto e = lookup(host, brMap, false, br)) return e;
    if (br.kind != "bridge") return Error(cni::kInternal, "Interface " + br.name + " does not have link type of bridge");
    if (!brMap.mac.empty() && brMap.mac != br.mac)
        return Error(cni::kInternal, "Bridge interface " + br.name + " Mac doesn't match: " + brMap.mac);
    if (br.promisc != c.promiscMode)
        return Error(cni::kInternal, "Bridge interface " + br.name + " configured Promisc Mode " +
                                         (c.promiscMode ? "true" : "false") + " doesn't match current state: " +
                                         (br.promisc ? "true " : "false "));
    if (ctrMap.sandbox != a.netns)
        return Error(cni::kInternal, "Sandbox in prevResult " + ctrMap.sandbox +
                                         " doesn't match configured netns: " + a.netns);

    if (auto e = nl::Socket::openIn(ns, ctr)) return e;
    nl::LinkInfo cl;
    if (auto e = lookup(ctr, ctrMap, true, cl)) return e;
    if (cl.kind != "veth") return Error(cni::kInternal, "Error: Container interface " + cl.name + " not of type veth");
    if (!ctrMap.mac.empty() && ctrMap.mac != cl.mac)
        return Error(cni::kInternal, "Interface " + ctrMap.name + " Mac " + ctrMap.mac +
                                         " doesn't match container Mac: " + cl.mac);

    // The host end: a veth of the result whose peer is the container link
    // and whose master is the bridge.
    bool portFound = false;
    std::string port;
    for (const cni::Interface& i : r.interfaces) {
        if (i.name == brMap.name || i.name == ctrMap.name) continue;
        nl::LinkInfo hl;
        if (auto e = lookup(host, i, false, hl)) return e;
        if (hl.kind != "veth") continue;
        if (hl.index != cl.peerIndex || hl.peerIndex != cl.index || hl.master != br.index) continue;
        if (!i.mac.empty() && i.mac != hl.mac)
            return Error(cni::kInternal, "Interface " + i.name + " Mac doesn't match: " + i.mac + " not found");
        portFound = true;
        port = hl.name;
        break;
    }
    if (!portFound) return Error(cni::kInternal, "CNI veth created for bridge " + c.bridge + " was not found");

    if (auto e = attach::checkIface(ctr, a.ifname, cl.index, r)) return e;
    if (c.macspoofchk) return nf::spoofcheck::check(port, cl.mac, a.containerID, a.ifname);
    return {};
}

// ---------------------------------------------------------------- STATUS, GC

Error cmdStatus(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, true, c)) return e;
    if (auto e = attach::masqStatus(a, c.ipMasq, c.masqBackend)) return e;
    return c.macspoofchk ? nf::spoofcheck::requireUsable() : Error();
}

constexpr cni::Plugin kPlugin = attach::MasqVerbs<Conf, parseConf>::plugin(cmdAdd, cmdDel, cmdCheck, cmdStatus);

}  // namespace
}  // namespace applets::bridge

extern const cni::Applet bridge_applet;
const cni::Applet bridge_applet{
    .name = "bridge",
    .summary = "veth pair per container on a Linux bridge",
    .help = applets::bridge::kHelp,
    .plugin = &applets::bridge::kPlugin,
};

