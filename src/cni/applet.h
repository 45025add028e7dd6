// An applet is one name the cnibox binary answers to. Most are CNI
// plugins (driven by the skel); a few (cnitool) have their own main. The
// registry of them is src/applets/registry.h.
#pragma once

#include "cni/skel.h"

namespace cni {

struct Applet {
    const char* name;
    const char* summary;       // one line, for --list and the bare banner
    const char* help;          // config keys with defaults, for APPLET --help
    bool finished = true;      // false: --help says so and every verb fails with a clear error
    const Plugin* plugin = nullptr;
    int (*main)(int argc, char** argv) = nullptr;  // for non-plugin applets
};

}  // namespace cni
