// dummy: a dummy link in the container carrying the IPAM addresses.
#include "applets/sublink.h"
#include "cni/applet.h"

namespace {

using cni::Error;

constexpr const char* kHelp =
    "Config keys (default):\n"
    "  ipam            (required)\n"
    "  dns             (none)      replaces the IPAM result's dns when set\n"
    "\n"
    "ADD    dummy link created in CNI_NETNS under a temporary name, renamed to CNI_IFNAME,\n"
    "       IPAM ADD, addresses and routes, link up. Needs a kernel with dummy.\n"
    "DEL    IPAM DEL, then the link (an empty or vanished CNI_NETNS or a missing link is\n"
    "       success).\n"
    "CHECK  IPAM CHECK; link kind, MAC, addresses and routes of prevResult.\n"
    "STATUS, GC: passed to the IPAM plugin.\n";

Error parseConf(const cni::CmdArgs& a) {
    if (a.conf.ipamType.empty()) return Error(cni::kInvalidNetConf, "dummy: the \"ipam\" key with a \"type\" is required");
    return {};
}

Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    if (auto e = parseConf(a)) return e;
    if (auto e = ipam::requireIpamPlugin(a)) return e;
    nl::Netns ns;
    if (auto e = nl::Netns::open(a.netns, ns)) return e;
    nl::Socket ctr;
    if (auto e = nl::Socket::openIn(ns, ctr)) return e;
    nl::LinkInfo link;
    if (auto e = sublink::create(ctr, ctr, ns, true, a.ifname, {.kind = "dummy"}, link)) return e;
    return sublink::finishAdd(a, ns, ctr, link, false, false, out);
}

Error cmdDel(const cni::CmdArgs& a) {
    if (auto e = parseConf(a)) return e;
    return sublink::del(a);
}

Error cmdCheck(const cni::CmdArgs& a) {
    if (auto e = parseConf(a)) return e;
    return sublink::check(a, "dummy");
}

Error cmdStatus(const cni::CmdArgs& a) {
    if (auto e = parseConf(a)) return e;
    return cni::ipamStatus(a);
}

Error cmdGC(const cni::CmdArgs& a) {
    if (auto e = parseConf(a)) return e;
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

extern const cni::Applet dummy_applet;
const cni::Applet dummy_applet{
    .name = "dummy",
    .summary = "dummy link in the container",
    .help = kHelp,
    .plugin = &kPlugin,
};
