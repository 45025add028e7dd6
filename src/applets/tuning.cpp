// tuning: link attributes and sysctls of the container interface. Not finished yet: every verb fails with a clear error.
#include "cni/applet.h"

namespace {
const cni::Plugin kPlugin{};
}  // namespace

extern const cni::Applet tuning_applet;
const cni::Applet tuning_applet{
    .name = "tuning",
    .summary = "link attributes and sysctls of the container interface",
    .help = "Not finished in this version of cnibox.\n",
    .finished = false,
    .plugin = &kPlugin,
};
