// ptp: a veth pair per container, routed (not bridged) through the host end.
#include "applets/ptp.h"

#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "attach/forward.h"
#include "attach/iface.h"
#include "attach/ipam.h"
#include "attach/masq.h"
#include "attach/sandbox.h"
#include "attach/veth.h"
#include "cni/applet.h"
#include "cni/json.h"
#include "netfilter/ipmasq.h"
#include "netlink/netlink.h"
#include "util/rollback.h"

namespace applets::ptp {
namespace {

using cni::Error;

constexpr const char* kHelp =
    "Config keys (default):\n"
    "  ipam            (required)  IPAM plugin config; its type runs in-process when it is\n"
    "                              a cnibox applet\n"
    "  mtu             (kernel)    MTU of both veth ends, 68..65535\n"
    "  dns             (none)      replaces the IPAM result's dns when set\n"
    "  ipMasq          false       masquerade what the container's addresses send outside\n"
    "                              their subnet (not multicast)\n"
    "  ipMasqBackend   (auto)      \"iptables\" or \"nftables\" (auto: iptables if legacy\n"
    "                              xtables are in use or nftables is not usable)\n"
    "\n"
    "ADD    veth pair with the container end CNI_IFNAME made directly in CNI_NETNS and\n"
    "       the host end vethXXXXXXXX; IPAM ADD; IP forwarding on for the result's\n"
    "       families; container: addresses, result routes, the subnet routed via the\n"
    "       gateway (gateway/32 on-link); host end: gateway/32 address and a /32 route to\n"
    "       the container; ipMasq. A failed ADD undoes the veth, the masquerading and\n"
    "       the IPAM allocation.\n"
    "DEL    IPAM DEL, then the container link (an empty or vanished CNI_NETNS or a missing\n"
    "       link is success), then the masquerading (also when the link or CNI_NETNS is\n"
    "       gone: the rules are found by network name, container ID and ifname).\n"
    "CHECK  IPAM CHECK; container veth, MAC, addresses and routes of prevResult.\n"
    "STATUS IPAM STATUS; with ipMasq a usable backend (code 50).\n"
    "GC     passed to the IPAM plugin; the masquerading of this network's attachments\n"
    "       not in cni.dev/valid-attachments is removed from both backends.\n";

}  // namespace

Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c) {
    const auto& d = a.config();
    std::string backend;
    if (auto e = cni::json::getBool(d, "ipMasq", c.ipMasq)) return e;
    if (auto e = cni::json::getString(d, "ipMasqBackend", backend)) return e;
    if (auto e = cni::json::getInt(d, "mtu", c.mtu)) return e;
    if (a.conf.ipamType.empty()) return Error(cni::kInvalidNetConf, "ptp: the \"ipam\" key with a \"type\" is required");
    if (!strict) return {};
    if (c.mtu != 0 && (c.mtu < 68 || c.mtu > 65535))
        return Error(cni::kInvalidNetConf, "invalid mtu " + std::to_string(c.mtu) + " (must be 68..65535)");
    return nf::parseBackend("ipMasqBackend", backend, c.masqBackend);
}

namespace {

util::IPNet hostPrefix(const util::IP& ip) { return {ip, ip.bits()}; }

// Container side: addresses and routes, then the point-to-point routing:
// the kernel's subnet route is replaced by "gw/32 dev scope link" plus
// "subnet via gw", so everything goes through the host end.
Error configureContainer(nl::Socket& ctr, const cni::CmdArgs& a, int ifindex, const cni::Result& r) {
    if (auto e = attach::configureIface(ctr, a.ifname, ifindex, r)) return e;
    for (const cni::IPConfig& c : r.ips) {
        util::IPNet subnet = c.address.masked();
        nl::RouteSpec kernel{.dst = subnet, .ifindex = ifindex};
        if (auto e = ctr.delRoute(kernel))
            return Error(e.code, "failed to delete route " + subnet.str() + ": " + e.text());
        nl::RouteSpec onlink{.dst = hostPrefix(*c.gateway), .ifindex = ifindex, .scope = RT_SCOPE_LINK,
                             .src = c.address.ip};
        nl::RouteSpec via{.dst = subnet, .gw = c.gateway, .ifindex = ifindex, .scope = RT_SCOPE_UNIVERSE,
                          .src = c.address.ip};
        for (const nl::RouteSpec* rs : {&onlink, &via})
            if (auto e = ctr.addRoute(*rs))
                return Error(e.code, "failed to add route " + rs->dst.str() + ": " + e.text());
    }
    return {};
}

Error configureHost(nl::Socket& host, const nl::LinkInfo& veth, const cni::Result& r) {
    for (const cni::IPConfig& c : r.ips) {
        util::IPNet gw = hostPrefix(*c.gateway);
        if (auto e = host.addAddr(veth.index, gw))
            return Error(e.code, "failed to add IP addr " + gw.str() + " to veth: " + e.text());
        nl::RouteSpec rs{.dst = hostPrefix(c.address.ip), .ifindex = veth.index, .scope = RT_SCOPE_HOST};
        bool existed = false;
        if (auto e = host.addRoute(rs, &existed); e && !existed)
            return Error(e.code, "failed to add route on host: " + e.text());
    }
    return {};
}

// With the IPAM result in `r`: forwarding, then both ends.
Error configure(const cni::CmdArgs& a, attach::VethSandbox& s, const attach::Veth& v, cni::Result& r) {
    for (const cni::IPConfig& c : r.ips)
        if (!c.gateway || c.gateway->family != c.address.ip.family)
            return Error(cni::kInternal, "IPAM result has no gateway for " + c.address.str() +
                                             ": ptp routes through it");
    if (auto e = attach::enableForward(r.ips)) return Error(e.code, "Could not enable IP forwarding: " + e.text());

    r.interfaces = {{.name = v.host.name, .mac = v.host.mac},
                    {.name = v.container.name, .mac = v.container.mac, .sandbox = a.netns}};
    for (cni::IPConfig& c : r.ips) c.interface = 1;
    {
        nl::NetnsGuard in(s.ns);
        if (in.error()) return in.error();
        if (auto e = configureContainer(s.ctr, a, v.container.index, r)) return e;
    }
    return configureHost(s.host, v.host, r);
}

// The veth comes before IPAM: a taken interface name is refused before an
// address is allocated. A failure undoes what was made, last first.
Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    Conf conf;
    if (auto e = parseConf(a, true, conf)) return e;
    if (auto e = attach::requireIpamPlugin(a)) return e;
    attach::VethSandbox s;
    if (auto e = s.open(a)) return e;
    util::Rollback undo;
    attach::Veth v;
    if (auto e = attach::addVeth(s, a, conf.mtu, "", v, undo)) return e;
    if (auto e = attach::allocate(a, out, undo)) return e;
    if (auto e = configure(a, s, v, out)) return e;
    if (conf.ipMasq)
        if (auto e = attach::masquerade(a, conf.masqBackend, out, undo)) return e;
    attach::applyConfDns(a, out);
    undo.dismiss();
    return {};
}

// Unlike upstream, the masquerading goes also when the link or the
// namespace is gone: it is found without the link's addresses.
Error cmdDel(const cni::CmdArgs& a) {
    Conf conf;
    if (auto e = parseConf(a, false, conf)) return e;
    if (auto e = attach::deleteLinkAndIpam(a, true, attach::DelOrder::kIpamFirst,
                                           [&a] { return attach::deleteSandboxLink(a); }))
        return e;
    if (conf.ipMasq) return nf::ipmasq::teardown(a.conf.name, a.containerID, a.ifname);
    return {};
}

Error cmdCheck(const cni::CmdArgs& a) {
    Conf conf;
    if (auto e = parseConf(a, true, conf)) return e;
    return attach::checkSandboxLink(a, {.label = "ptp", .kind = "veth", .kindText = "veth/p2p", .labelMac = true});
}

constexpr cni::Plugin kPlugin = attach::MasqVerbs<Conf, parseConf>::plugin(cmdAdd, cmdDel, cmdCheck);

}  // namespace
}  // namespace applets::ptp

extern const cni::Applet ptp_applet;
const cni::Applet ptp_applet{
    .name = "ptp",
    .summary = "point-to-point veth pair routed through the host",
    .help = applets::ptp::kHelp,
    .plugin = &applets::ptp::kPlugin,
};
