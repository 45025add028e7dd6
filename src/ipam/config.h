// What the IPAM plugins' config parsers share (host-local, static), with
// upstream's texts.
#pragma once

#include <rapidjson/document.h>

#include <string_view>

#include "cni/error.h"

namespace ipam {

// The plugin config's `ipam` object. Code 7: "IPAM config missing 'ipam'
// key" when absent, "ipam must be an object" when it is something else.
cni::Error ipamObject(const rapidjson::Value& root, const rapidjson::Value*& out);

// Results before CNI 0.3.0 hold one address per family. Code 7: "CNI
// version <v> does not support more than 1 address per family" when
// `v4` or `v6` addresses exceed that.
cni::Error checkAddressesPerFamily(std::string_view cniVersion, int v4, int v6);

}  // namespace ipam
