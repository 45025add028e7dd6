#include "cni/error.h"

#include "cni/gojson.h"

namespace cni {

std::string errorJson(const Error& e) {
    gojson::Writer w;
    w.beginObject().member("code", static_cast<int64_t>(e.code)).member("msg", e.msg);
    if (!e.details.empty()) w.member("details", e.details);
    return w.endObject().take();
}

}  // namespace cni
