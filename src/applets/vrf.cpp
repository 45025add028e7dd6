// vrf: not finished yet (every verb fails with a clear error).
#include "cni/applet.h"

namespace {
const cni::Plugin kPlugin{.versions = cni::VersionSet::from(cni::Ver::v031)};
}  // namespace

extern const cni::Applet vrf_applet;
const cni::Applet vrf_applet{
    .name = "vrf",
    .summary = "puts the container interface in a VRF",
    .help = "",
    .finished = false,
    .plugin = &kPlugin,
};
