// bandwidth: not finished yet (every verb fails with a clear error).
#include "cni/applet.h"

namespace {
const cni::Plugin kPlugin{.versions = cni::VersionSet::from(cni::Ver::v030)};
}  // namespace

extern const cni::Applet bandwidth_applet;
const cni::Applet bandwidth_applet{
    .name = "bandwidth",
    .summary = "traffic shaping of the host-side veth (tbf, ifb)",
    .help = "",
    .finished = false,
    .plugin = &kPlugin,
};
