#include "ipam/config.h"

#include <string>

#include "cni/json.h"
#include "cni/version.h"

namespace ipam {

cni::Error ipamObject(const rapidjson::Value& root, const rapidjson::Value*& out) {
    out = cni::json::get(root, "ipam");
    if (!out) return {cni::kInvalidNetConf, "IPAM config missing 'ipam' key"};
    if (!out->IsObject()) return {cni::kInvalidNetConf, "ipam must be an object"};
    return {};
}

cni::Error checkAddressesPerFamily(std::string_view cniVersion, int v4, int v6) {
    if ((v4 > 1 || v6 > 1) && !cni::versionAtLeast(cniVersion, "0.3.0"))
        return {cni::kInvalidNetConf,
                "CNI version " + std::string(cniVersion) + " does not support more than 1 address per family"};
    return {};
}

}  // namespace ipam
