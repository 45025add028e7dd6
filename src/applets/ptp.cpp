// ptp: a veth pair per container, routed (not bridged) through the host end.
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "cni/applet.h"
#include "cni/delegate.h"
#include "cni/json.h"
#include "attach/configure.h"
#include "netfilter/ipmasq.h"
#include "netlink/netlink.h"

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

struct Conf {
    bool ipMasq = false;
    std::optional<nf::Backend> masqBackend;
    int mtu = 0;
};

// `strict`: refuse what cannot be done (ADD, CHECK, STATUS); DEL and GC
// only need what they clean up.
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

// With the veth made and the IPAM result in `r`: forwarding, both ends,
// masquerading (`masq` set once it is tried).
Error configure(const cni::CmdArgs& a, const Conf& conf, const nl::Netns& ns, nl::Socket& host, nl::Socket& ctr,
                const attach::Veth& v, cni::Result& r, bool& masq) {
    for (const cni::IPConfig& c : r.ips)
        if (!c.gateway || c.gateway->family != c.address.ip.family)
            return Error(cni::kInternal, "IPAM result has no gateway for " + c.address.str() +
                                             ": ptp routes through it");
    if (auto e = attach::enableForward(r.ips)) return Error(e.code, "Could not enable IP forwarding: " + e.text());

    r.interfaces = {{.name = v.host.name, .mac = v.host.mac},
                    {.name = v.container.name, .mac = v.container.mac, .sandbox = a.netns}};
    for (cni::IPConfig& c : r.ips) c.interface = 1;
    {
        nl::NetnsGuard in(ns);
        if (in.error()) return in.error();
        if (auto e = configureContainer(ctr, a, v.container.index, r)) return e;
    }
    if (auto e = configureHost(host, v.host, r)) return e;
    if (!conf.ipMasq) return {};
    std::vector<util::IPNet> ips;
    for (const cni::IPConfig& c : r.ips) ips.push_back(c.address);
    masq = true;
    return nf::ipmasq::setup(conf.masqBackend, a.conf.name, a.containerID, a.ifname, ips);
}

// The veth comes before IPAM: a taken interface name is refused before an
// address is allocated. Whatever fails later undoes both.
Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    Conf conf;
    if (auto e = parseConf(a, true, conf)) return e;
    nl::Netns ns;
    nl::Socket host, ctr;
    if (auto e = attach::openSandbox(a, ns, ctr)) return e;
    if (auto e = nl::Socket::open(host)) return e;
    attach::Veth v;
    if (auto e = attach::setupVeth(host, ctr, ns, a.ifname, conf.mtu, "", v)) return e;
    bool allocated = false, masq = false;
    Error e = attach::allocate(a, out, allocated);
    if (!e) e = configure(a, conf, ns, host, ctr, v, out, masq);
    if (e) {
        if (masq) (void)nf::ipmasq::teardown(a.conf.name, a.containerID, a.ifname);
        if (allocated) (void)cni::ipamDel(a);
        (void)host.deleteLink(v.host.index);
        return e;
    }
    if (!a.conf.dns.empty()) out.dns = a.conf.dns;
    return {};
}

// Unlike upstream, the masquerading goes also when the link or the
// namespace is gone: it is found without the link's addresses.
Error cmdDel(const cni::CmdArgs& a) {
    Conf conf;
    if (auto e = parseConf(a, false, conf)) return e;
    if (auto e = cni::ipamDel(a)) return e;
    if (auto e = attach::deleteSandboxLink(a)) return e;
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

extern const cni::Applet ptp_applet;
const cni::Applet ptp_applet{
    .name = "ptp",
    .summary = "point-to-point veth pair routed through the host",
    .help = kHelp,
    .plugin = &kPlugin,
};
