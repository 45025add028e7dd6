// An applet is one name the cnibox binary answers to. Most are CNI
// plugins (driven by the skel); a few (cnitool) have their own main.
#pragma once

#include <span>
#include <string_view>

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

// The registry (src/applets/registry.cpp): sorted by name.
std::span<const Applet* const> applets();
const Applet* findApplet(std::string_view name);

}  // namespace cni
