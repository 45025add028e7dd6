// The container MAC address a runtime asks for: through the config, CNI_ARGS
// MAC=, args.cni.mac or runtimeConfig.mac (the "mac" capability).
#pragma once

#include <string>
#include <string_view>

#include "cni/error.h"
#include "cni/skel.h"

namespace cni {

// The container MAC as the link-making plugins take it (upstream's bridge,
// macvlan, ipvlan, ...): `configMac` (the plugin's "mac" key, "" = none) <
// CNI_ARGS MAC < args.cni.mac < runtimeConfig.mac, each non-empty one
// overriding the one before. Each one given must be a MAC ("aa:bb:..." or
// "aa-bb-..."): code 7 "invalid MAC address \"X\" in <where>"; a non-string
// args.cni.mac or runtimeConfig.mac is code 7 too. `out` is the result in
// lowercase with colons, "" when none was given.
Error containerMac(const CmdArgs& a, std::string_view configMac, std::string& out);

}  // namespace cni
