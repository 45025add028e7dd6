// vlan: an 802.1q link on a host interface, made directly in the container.
#include "applets/sublink.h"
#include "cni/applet.h"

namespace {

using cni::Error;

constexpr const char* kHelp =
    "Config keys (default):\n"
    "  master          (required)  parent interface\n"
    "  vlanId          (required)  0..4094\n"
    "  mtu             (master's)  0..master's MTU\n"
    "  linkInContainer false       the master lives in the container namespace\n"
    "  ipam            (required)\n"
    "  dns             (none)      replaces the IPAM result's dns when set\n"
    "\n"
    "ADD    vlan link created in CNI_NETNS under a temporary name, renamed to CNI_IFNAME,\n"
    "       IPAM ADD, addresses and routes, link up. Needs a kernel with 802.1q.\n"
    "DEL    IPAM DEL, then the link (an empty or vanished CNI_NETNS, a missing link or a\n"
    "       missing master is success).\n"
    "CHECK  IPAM CHECK; link kind, MAC, addresses and routes of prevResult.\n"
    "STATUS, GC: passed to the IPAM plugin.\n";

struct Conf {
    std::string master;
    int vlanId = -1;
    int mtu = 0;
    bool linkInContainer = false;
};

Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c) {
    const auto& d = a.config();
    if (auto e = cni::json::getString(d, "master", c.master)) return e;
    if (auto e = cni::json::getInt(d, "vlanId", c.vlanId)) return e;
    if (auto e = cni::json::getInt(d, "mtu", c.mtu)) return e;
    if (auto e = cni::json::getBool(d, "linkInContainer", c.linkInContainer)) return e;
    if (a.conf.ipamType.empty()) return Error(cni::kInvalidNetConf, "vlan: the \"ipam\" key with a \"type\" is required");
    if (!strict) return {};
    if (c.master.empty()) return Error(cni::kInvalidNetConf, "\"master\" field is required. It specifies the host interface name to create the VLAN for");
    if (!cni::json::get(d, "vlanId")) return Error(cni::kInvalidNetConf, "VLAN ID is required");
    if (c.vlanId < 0 || c.vlanId > 4094)
        return Error(cni::kInvalidNetConf, "invalid VLAN ID " + std::to_string(c.vlanId) + " (must be between 0 and 4094 inclusive)");
    if (c.mtu < 0) return Error(cni::kInvalidNetConf, "invalid MTU " + std::to_string(c.mtu));
    return {};
}

Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    Conf c;
    if (auto e = parseConf(a, true, c)) return e;
    if (auto e = ipam::requireIpamPlugin(a)) return e;
    nl::Netns ns;
    if (auto e = nl::Netns::open(a.netns, ns)) return e;
    nl::Socket ctr, host;
    if (auto e = nl::Socket::openIn(ns, ctr)) return e;
    if (!c.linkInContainer)
        if (auto e = nl::Socket::open(host)) return e;
    nl::Socket& parent = c.linkInContainer ? ctr : host;
    nl::LinkInfo master;
    if (auto e = sublink::findMaster(parent, c.master, true, master)) return e;
    if (c.mtu > master.mtu)
        return Error(cni::kInvalidNetConf, "invalid MTU " + std::to_string(c.mtu) + ", must be [0, master MTU(" +
                                               std::to_string(master.mtu) + ")]");
    nl::SubLinkSpec spec{.kind = "vlan", .masterIndex = master.index, .mtu = c.mtu, .vlanId = c.vlanId};
    nl::LinkInfo link;
    if (auto e = sublink::create(parent, ctr, ns, c.linkInContainer, a.ifname, spec, link)) return e;
    return sublink::finishAdd(a, ns, ctr, link, true, false, out);
}

// The master is not needed: the link is found by name in the container.
Error cmdDel(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, false, c)) return e;
    return sublink::del(a);
}

Error cmdCheck(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, true, c)) return e;
    return sublink::check(a, "vlan");
}

Error cmdStatus(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, true, c)) return e;
    return cni::ipamStatus(a);
}

Error cmdGC(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, false, c)) return e;
    return cni::ipamGC(a);
}

const cni::Plugin kPlugin{
    .add = cmdAdd,
    .del = cmdDel,
    .check = cmdCheck,
    .gc = cmdGC,
    .status = cmdStatus,
};

}  // namespace

extern const cni::Applet vlan_applet;
const cni::Applet vlan_applet{
    .name = "vlan",
    .summary = "802.1q vlan link on a host interface",
    .help = kHelp,
    .plugin = &kPlugin,
};
