// tap: a persistent tap device made inside the container.
#include "applets/tap.h"

#include "attach/sandbox.h"
#include "attach/sublink.h"
#include "cni/applet.h"
#include "cni/json.h"
#include "netlink/netlink.h"
#include "util/rollback.h"

namespace applets::tap {
namespace {

using cni::Error;

constexpr const char* kHelp =
    "Config keys (default):\n"
    "  mac             (random)    also runtimeConfig.mac, args.cni.mac, CNI_ARGS MAC=\n"
    "  mtu             (kernel)    MTU of the tap\n"
    "  multiQueue      false       IFF_MULTI_QUEUE\n"
    "  owner, group    (none)      uid/gid allowed to attach to the tap\n"
    "  bridge          (none)      a bridge in the container to enslave the tap to\n"
    "  selinuxContext  (none)      not supported (code 2 error)\n"
    "  ipam            (none)      without it the link is only set up (no IPs)\n"
    "  dns             (none)      replaces the IPAM result's dns when set\n"
    "\n"
    "ADD    tap CNI_IFNAME made through /dev/net/tun inside CNI_NETNS (persistent, with\n"
    "       owner/group), MAC, MTU, bridge; IPAM ADD, addresses and routes, link up.\n"
    "DEL    IPAM DEL, then the link (an empty or vanished CNI_NETNS or a missing link is\n"
    "       success).\n"
    "CHECK  IPAM CHECK; link kind, MAC, addresses and routes of prevResult.\n"
    "STATUS, GC: passed to the IPAM plugin.\n";

Error parseId(const cni::CmdArgs& a, const char* key, int64_t& out) {
    if (!cni::json::get(a.config(), key)) return {};
    uint32_t v = 0;
    if (auto e = cni::json::getUint32(a.config(), key, v)) return e;
    out = v;
    return {};
}

}  // namespace

Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c) {
    const auto& d = a.config();
    if (auto e = cni::json::getInt(d, "mtu", c.mtu)) return e;
    if (auto e = cni::json::getBool(d, "multiQueue", c.multiQueue)) return e;
    if (auto e = cni::json::getString(d, "bridge", c.bridge)) return e;
    if (auto e = cni::json::getString(d, "selinuxContext", c.selinuxContext)) return e;
    if (auto e = parseId(a, "owner", c.owner)) return e;
    if (auto e = parseId(a, "group", c.group)) return e;
    if (!strict) return {};
    if (c.mtu != 0 && (c.mtu < 68 || c.mtu > 65535))
        return Error(cni::kInvalidNetConf, "invalid mtu " + std::to_string(c.mtu) + " (must be 68..65535)");
    if (!c.selinuxContext.empty())
        return Error(cni::kUnsupportedField, "selinuxContext is not supported by cnibox's tap",
                     "remove \"selinuxContext\" (the tap is created without an SELinux label)");
    return attach::sublink::parseMac(a, c.mac);
}

namespace {

Error setup(nl::Socket& ctr, const Conf& c, const nl::LinkInfo& link) {
    if (!c.mac.empty())
        if (auto e = ctr.setMac(link.index, c.mac)) return Error(e.code, "failed to set tap mac: " + e.text());
    if (c.mtu)
        if (auto e = ctr.setMtu(link.index, c.mtu)) return Error(e.code, "failed to set tap mtu: " + e.text());
    if (c.bridge.empty()) return {};
    nl::LinkInfo br;
    bool found = false;
    if (auto e = ctr.linkByName(c.bridge, br, found)) return e;
    if (!found) return Error(cni::kInternal, "failed to lookup bridge \"" + c.bridge + "\": Link not found");
    if (br.kind != "bridge") return Error(cni::kInternal, "\"" + c.bridge + "\" is not a bridge");
    if (auto e = ctr.setMaster(link.index, br.index))
        return Error(e.code, "failed to attach tap to bridge " + c.bridge + ": " + e.text());
    return {};
}

// TUNSETIFF on an existing tap's name would attach to it: refused first.
Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    Conf c;
    if (auto e = parseConf(a, true, c)) return e;
    nl::Netns ns;
    nl::Socket ctr;
    if (auto e = attach::openSandbox(a, ns, ctr)) return e;
    bool exists = false;
    if (auto e = ctr.linkExists(a.ifname, exists)) return e;
    if (exists) return Error(cni::kInternal, "container tap name provided (" + a.ifname + ") already exists");
    {
        nl::NetnsGuard in(ns);
        if (in.error()) return in.error();
        if (auto e = nl::addTap({.name = a.ifname, .multiQueue = c.multiQueue, .owner = c.owner, .group = c.group}))
            return e;
    }
    util::Rollback undo;
    nl::LinkInfo link;
    bool found = false;
    if (auto e = ctr.linkByName(a.ifname, link, found)) return e;
    if (!found) return Error(cni::kInternal, "new tap " + a.ifname + " disappeared");
    undo.defer([&ctr, index = link.index] { (void)ctr.deleteLink(index); });
    if (auto e = setup(ctr, c, link)) return e;
    if (auto e = attach::sublink::finishAdd(a, ns, ctr, link, false, out, undo)) return e;
    undo.dismiss();
    return {};
}

constexpr char kKind[] = "tun";
constexpr cni::Plugin kPlugin = attach::sublink::Verbs<Conf, parseConf, kKind>::plugin(cmdAdd);

}  // namespace
}  // namespace applets::tap

extern const cni::Applet tap_applet;
const cni::Applet tap_applet{
    .name = "tap",
    .summary = "persistent tap device in the container",
    .help = applets::tap::kHelp,
    .plugin = &applets::tap::kPlugin,
};
