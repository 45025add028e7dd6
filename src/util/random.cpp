#include "util/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

namespace util {

void randomBytes(void* buf, size_t n) {
    auto* p = static_cast<uint8_t*>(buf);
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            std::abort();  // no entropy source at all: nothing sane to fall back to
        }
        p += r;
        n -= static_cast<size_t>(r);
    }
}

}  // namespace util
