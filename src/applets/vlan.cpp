// vlan: an 802.1q link on a host interface, made directly in the container.
#include "applets/vlan.h"

#include "attach/sublink.h"
#include "cni/applet.h"
#include "cni/json.h"

namespace applets::vlan {
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
    "ADD    vlan link created in CNI_NETNS under a temporary name (tmp<12 hex digits of a\n"
    "       hash of CNI_CONTAINERID/CNI_IFNAME>), renamed to CNI_IFNAME,\n"
    "       IPAM ADD, addresses and routes, link up. Needs a kernel with 802.1q.\n"
    "DEL    IPAM DEL, then the link, or one under its temporary name (an ADD killed\n"
    "       before the rename); an empty or vanished CNI_NETNS, no link or a missing\n"
    "       master is success.\n"
    "CHECK  IPAM CHECK; link kind, MAC, addresses and routes of prevResult.\n"
    "STATUS, GC: passed to the IPAM plugin.\n";

}  // namespace

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

namespace {

Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    Conf c;
    if (auto e = parseConf(a, true, c)) return e;
    return attach::sublink::add(a, {.master = c.master, .required = true, .inContainer = c.linkInContainer},
                                {.kind = "vlan", .mtu = c.mtu, .vlanId = c.vlanId}, true, out);
}

// DEL needs no master: the link is found by name in the container.
constexpr char kKind[] = "vlan";
constexpr cni::Plugin kPlugin = attach::sublink::Verbs<Conf, parseConf, kKind>::plugin(cmdAdd);

}  // namespace
}  // namespace applets::vlan

extern const cni::Applet vlan_applet;
const cni::Applet vlan_applet{
    .name = "vlan",
    .summary = "802.1q vlan link on a host interface",
    .help = applets::vlan::kHelp,
    .plugin = &applets::vlan::kPlugin,
};
