// portmap: host ports published to the container (DNAT). Not finished yet: every verb fails with a clear error.
#include "cni/applet.h"

namespace {
const cni::Plugin kPlugin{};
}  // namespace

extern const cni::Applet portmap_applet;
const cni::Applet portmap_applet{
    .name = "portmap",
    .summary = "host ports published to the container (DNAT)",
    .help = "Not finished in this version of cnibox.\n",
    .finished = false,
    .plugin = &kPlugin,
};
