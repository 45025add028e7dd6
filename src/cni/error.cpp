#include "cni/error.h"

#include "cni/gojson.h"

namespace cni {

std::string Error::json() const {
    gojson::Writer w;
    w.beginObject().member("code", static_cast<int64_t>(code)).member("msg", msg);
    if (!details.empty()) w.member("details", details);
    return w.endObject().take();
}

}  // namespace cni
