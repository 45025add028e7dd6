// macvlan: a macvlan link on a host interface, made directly in the container.
#include "applets/macvlan.h"

#include <linux/if_link.h>

#include "attach/sublink.h"
#include "cni/applet.h"
#include "cni/json.h"

namespace applets::macvlan {
namespace {

using cni::Error;

constexpr const char* kHelp =
    "Config keys (default):\n"
    "  master          (default route's)  parent interface; without it the interface of\n"
    "                                     the first IPv4 default route (in the container\n"
    "                                     with linkInContainer)\n"
    "  mode            bridge      bridge, private, vepa, passthru or source\n"
    "  mtu             (master's)  0..master's MTU\n"
    "  mac             (random)    also runtimeConfig.mac, args.cni.mac, CNI_ARGS MAC=\n"
    "                              (each overriding the one before)\n"
    "  bcqueuelen      (kernel)    broadcast queue length\n"
    "  linkInContainer false       the master lives in the container namespace\n"
    "  ipam            (none)      without it the link is only set up (no IPs)\n"
    "  dns             (none)      replaces the IPAM result's dns when set\n"
    "\n"
    "ADD    macvlan created in CNI_NETNS under a temporary name (tmp<12 hex digits of a\n"
    "       hash of CNI_CONTAINERID/CNI_IFNAME>), renamed to CNI_IFNAME,\n"
    "       arp_notify/ndisc_notify on, IPAM ADD, addresses and routes, link up.\n"
    "DEL    IPAM DEL, then the link, or one under its temporary name (an ADD killed\n"
    "       before the rename); an empty or vanished CNI_NETNS or no link is success.\n"
    "CHECK  IPAM CHECK; link kind, MAC, addresses and routes of prevResult.\n"
    "STATUS, GC: passed to the IPAM plugin.\n";

Error parseMode(const std::string& s, int& out) {
    if (s.empty() || s == "bridge") out = MACVLAN_MODE_BRIDGE;
    else if (s == "private") out = MACVLAN_MODE_PRIVATE;
    else if (s == "vepa") out = MACVLAN_MODE_VEPA;
    else if (s == "passthru") out = MACVLAN_MODE_PASSTHRU;
    else if (s == "source") out = MACVLAN_MODE_SOURCE;
    else return Error(cni::kInvalidNetConf, "unknown macvlan mode: \"" + s + "\"");
    return {};
}

}  // namespace

Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c) {
    const auto& d = a.config();
    std::string mode;
    if (auto e = cni::json::getString(d, "master", c.master)) return e;
    if (auto e = cni::json::getString(d, "mode", mode)) return e;
    if (auto e = cni::json::getInt(d, "mtu", c.mtu)) return e;
    if (auto e = cni::json::getInt(d, "bcqueuelen", c.bcqueuelen)) return e;
    if (auto e = cni::json::getBool(d, "linkInContainer", c.linkInContainer)) return e;
    if (!strict) return {};
    if (auto e = parseMode(mode, c.mode)) return e;
    if (c.mtu < 0) return Error(cni::kInvalidNetConf, "invalid MTU " + std::to_string(c.mtu));
    if (c.bcqueuelen < 0) return Error(cni::kInvalidNetConf, "invalid bcqueuelen " + std::to_string(c.bcqueuelen));
    return attach::sublink::parseMac(a, c.mac);
}

namespace {

Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    Conf c;
    if (auto e = parseConf(a, true, c)) return e;
    return attach::sublink::add(a, {.master = c.master, .inContainer = c.linkInContainer},
                                {.kind = "macvlan", .mtu = c.mtu, .mac = c.mac, .macvlanMode = c.mode, .bcQueueLen = c.bcqueuelen},
                                true, out);
}

constexpr char kKind[] = "macvlan";
constexpr cni::Plugin kPlugin = attach::sublink::Verbs<Conf, parseConf, kKind>::plugin(cmdAdd);

}  // namespace
}  // namespace applets::macvlan

extern const cni::Applet macvlan_applet;
const cni::Applet macvlan_applet{
    .name = "macvlan",
    .summary = "macvlan link on a host interface",
    .help = applets::macvlan::kHelp,
    .plugin = &applets::macvlan::kPlugin,
};
