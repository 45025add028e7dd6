// firewall: per-container forwarding rules. Not finished yet: every verb fails with a clear error.
#include "cni/applet.h"

namespace {
const cni::Plugin kPlugin{};
}  // namespace

extern const cni::Applet firewall_applet;
const cni::Applet firewall_applet{
    .name = "firewall",
    .summary = "per-container forwarding rules",
    .help = "Not finished in this version of cnibox.\n",
    .finished = false,
    .plugin = &kPlugin,
};
