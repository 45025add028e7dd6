// The applet registry (registry.h). Adding an applet is one source file plus
// one line in the top-level meson.build.
#include <algorithm>
#include <string_view>

#include "applets/registry.h"

#define APPLET(str, sym) extern const cni::Applet sym;
#include "applets/applet_list.inc"
#undef APPLET

namespace {

constexpr const cni::Applet* kTable[] = {
#define APPLET(str, sym) &sym,
#include "applets/applet_list.inc"
#undef APPLET
};

constexpr std::string_view kNames[] = {
#define APPLET(str, sym) str,
#include "applets/applet_list.inc"
#undef APPLET
};

constexpr bool sorted() {
    for (size_t i = 1; i < std::size(kNames); i++)
        if (!(kNames[i - 1] < kNames[i])) return false;
    return true;
}
static_assert(sorted(), "applet table must be sorted by name");

}  // namespace

namespace registry {

std::span<const cni::Applet* const> applets() { return kTable; }

const cni::Applet* find(std::string_view name) {
    auto it = std::lower_bound(std::begin(kNames), std::end(kNames), name);
    if (it == std::end(kNames) || *it != name) return nullptr;
    return kTable[it - std::begin(kNames)];
}

const cni::Plugin* inProcessPlugin(std::string_view type) {
    const cni::Applet* a = find(type);
    // An applet with a main of its own as well (dhcp: `dhcp daemon`) is
    // still this plugin when delegated to.
    if (!a || !a->plugin || !a->finished) return nullptr;
    return a->plugin;
}

}  // namespace registry
