// ipvlan: an ipvlan link on a host interface, made directly in the container.
#include "applets/ipvlan.h"

#include <linux/if_link.h>

#include "attach/sublink.h"
#include "cni/applet.h"
#include "cni/json.h"

namespace applets::ipvlan {
namespace {

using cni::Error;

constexpr const char* kHelp =
    "Config keys (default):\n"
    "  master          (default route's)  parent interface; without it the interface of\n"
    "                                     the first IPv4 default route (in the container\n"
    "                                     with linkInContainer)\n"
    "  mode            l2          l2, l3 or l3s\n"
    "  flags           bridge      bridge, private or vepa\n"
    "  mtu             (master's)  0..master's MTU\n"
    "  linkInContainer false       the master lives in the container namespace\n"
    "  ipam            (required unless prevResult has IPs, which are then used)\n"
    "  dns             (none)      replaces the IPAM result's dns when set\n"
    "\n"
    "ADD    ipvlan created in CNI_NETNS under a temporary name (tmp<12 hex digits of a\n"
    "       hash of CNI_CONTAINERID/CNI_IFNAME>), renamed to CNI_IFNAME,\n"
    "       IPAM ADD (or prevResult's IPs), addresses and routes, link up. Needs a kernel\n"
    "       with ipvlan.\n"
    "DEL    IPAM DEL, then the link, or one under its temporary name (an ADD killed\n"
    "       before the rename); an empty or vanished CNI_NETNS or no link is success.\n"
    "CHECK  IPAM CHECK; link kind, MAC, addresses and routes of prevResult.\n"
    "STATUS, GC: passed to the IPAM plugin.\n";

}  // namespace

Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c) {
    const auto& d = a.config();
    std::string mode, flags;
    if (auto e = cni::json::getString(d, "master", c.master)) return e;
    if (auto e = cni::json::getString(d, "mode", mode)) return e;
    if (auto e = cni::json::getString(d, "flags", flags)) return e;
    if (auto e = cni::json::getInt(d, "mtu", c.mtu)) return e;
    if (auto e = cni::json::getBool(d, "linkInContainer", c.linkInContainer)) return e;
    if (!strict) return {};
    if (mode.empty() || mode == "l2") c.mode = IPVLAN_MODE_L2;
    else if (mode == "l3") c.mode = IPVLAN_MODE_L3;
    else if (mode == "l3s") c.mode = IPVLAN_MODE_L3S;
    else return Error(cni::kInvalidNetConf, "unknown ipvlan mode: \"" + mode + "\"");
    if (flags.empty() || flags == "bridge") c.flags = 0;
    else if (flags == "private") c.flags = IPVLAN_F_PRIVATE;
    else if (flags == "vepa") c.flags = IPVLAN_F_VEPA;
    else return Error(cni::kInvalidNetConf, "unknown ipvlan flags: \"" + flags + "\"");
    if (c.mtu < 0) return Error(cni::kInvalidNetConf, "invalid MTU " + std::to_string(c.mtu));
    bool prevIPs = a.conf.prevResult && !a.conf.prevResult->ips.empty();
    if (a.conf.ipamType.empty() && !prevIPs && a.command == cni::Command::Add)
        return Error(cni::kInvalidNetConf, "ipvlan: IPAM config missing \"type\" and prevResult has no IPs");
    return {};
}

namespace {

Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    Conf c;
    if (auto e = parseConf(a, true, c)) return e;
    if (a.conf.ipamType.empty()) {
        // prevResult's IPs (a chained IPAM ran before): configure those.
        out = *a.conf.prevResult;
        out.interfaces.clear();
    }
    return attach::sublink::add(a, {.master = c.master, .inContainer = c.linkInContainer},
                                {.kind = "ipvlan", .mtu = c.mtu, .ipvlanMode = c.mode, .ipvlanFlags = c.flags}, false, out);
}

constexpr char kKind[] = "ipvlan";
constexpr cni::Plugin kPlugin = attach::sublink::Verbs<Conf, parseConf, kKind>::plugin(cmdAdd);

}  // namespace
}  // namespace applets::ipvlan

extern const cni::Applet ipvlan_applet;
const cni::Applet ipvlan_applet{
    .name = "ipvlan",
    .summary = "ipvlan link on a host interface",
    .help = applets::ipvlan::kHelp,
    .plugin = &applets::ipvlan::kPlugin,
};
