// dummy: a dummy link in the container carrying the IPAM addresses.
#include "applets/dummy.h"

#include "attach/sublink.h"
#include "cni/applet.h"

namespace applets::dummy {
namespace {

using cni::Error;

constexpr const char* kHelp =
    "Config keys (default):\n"
    "  ipam            (required)\n"
    "  dns             (none)      replaces the IPAM result's dns when set\n"
    "\n"
    "ADD    dummy link created in CNI_NETNS under a temporary name (tmp<12 hex digits of a\n"
    "       hash of CNI_CONTAINERID/CNI_IFNAME>), renamed to CNI_IFNAME,\n"
    "       IPAM ADD, addresses and routes, link up. Needs a kernel with dummy.\n"
    "DEL    IPAM DEL, then the link, or one under its temporary name (an ADD killed\n"
    "       before the rename); an empty or vanished CNI_NETNS or no link is success.\n"
    "CHECK  IPAM CHECK; link kind, MAC, addresses and routes of prevResult.\n"
    "STATUS, GC: passed to the IPAM plugin.\n";

}  // namespace

Error parseConf(const cni::CmdArgs& a, bool, Conf&) {
    if (a.conf.ipamType.empty()) return Error(cni::kInvalidNetConf, "dummy: the \"ipam\" key with a \"type\" is required");
    return {};
}

namespace {

Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    Conf c;
    if (auto e = parseConf(a, true, c)) return e;
    return attach::sublink::add(a, {.none = true}, {.kind = "dummy"}, false, out);
}

constexpr char kKind[] = "dummy";
constexpr cni::Plugin kPlugin = attach::sublink::Verbs<Conf, parseConf, kKind>::plugin(cmdAdd);

}  // namespace
}  // namespace applets::dummy

extern const cni::Applet dummy_applet;
const cni::Applet dummy_applet{
    .name = "dummy",
    .summary = "dummy link in the container",
    .help = applets::dummy::kHelp,
    .plugin = &applets::dummy::kPlugin,
};
