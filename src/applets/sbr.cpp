// sbr: not finished yet (every verb fails with a clear error).
#include "cni/applet.h"

namespace {
const cni::Plugin kPlugin{.versions = cni::VersionSet::all()};
}  // namespace

extern const cni::Applet sbr_applet;
const cni::Applet sbr_applet{
    .name = "sbr",
    .summary = "source-based routing for multi-homed containers",
    .help = "",
    .finished = false,
    .plugin = &kPlugin,
};
