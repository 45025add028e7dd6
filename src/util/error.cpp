#include "util/error.h"

#include "util/fs.h"

namespace util {

Error Error::sys(int code, std::string_view what, int err) {
    std::string m(what);
    m += ": ";
    m += errnoDesc(err);
    return Error(code, std::move(m)).withErrno(err);
}

Error Error::wrap(std::string_view prefix) const& {
    Error e = *this;
    return std::move(e).wrap(prefix);
}

Error Error::wrap(std::string_view prefix) && {
    std::string m(prefix);
    m += ": ";
    m += msg;
    msg = std::move(m);
    return std::move(*this);
}

}  // namespace util
