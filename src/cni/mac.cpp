#include "cni/mac.h"

#include <utility>

#include "cni/args.h"
#include "util/mac.h"

namespace cni {

Error containerMac(const CmdArgs& a, std::string_view configMac, std::string& out) {
    out.clear();
    auto set = [&](std::string_view from, std::string_view v) -> Error {
        auto m = util::normalizeMac(v);
        if (!m) return Error(kInvalidNetConf, "invalid MAC address \"" + std::string(v) + "\" in " + std::string(from));
        out = std::move(*m);
        return {};
    };
    if (!configMac.empty())
        if (auto e = set("mac", configMac)) return e;
    CniArgs env;
    if (auto e = parseCniArgs(a.args, {"MAC"}, env)) return e;
    if (const std::string* m = env.get("MAC"); m && !m->empty())
        if (auto e = set("CNI_ARGS", *m)) return e;
    for (auto [from, v] : {std::pair{"args.cni.mac", a.argsCni("mac")}, {"runtimeConfig.mac", a.runtimeConfig("mac")}}) {
        if (!v) continue;
        if (!v->IsString()) return Error(kInvalidNetConf, std::string(from) + " must be a string");
        if (v->GetStringLength())
            if (auto e = set(from, v->GetString())) return e;
    }
    return {};
}

}  // namespace cni
