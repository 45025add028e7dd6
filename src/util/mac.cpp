#include "util/mac.h"

#include <cstdio>

#include "util/random.h"

namespace util {

namespace {
int hexVal(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
}  // namespace

std::optional<Mac> Mac::parse(std::string_view s) {
    if (s.size() != 17) return std::nullopt;
    char sep = s[2];
    if (sep != ':' && sep != '-') return std::nullopt;
    Mac m;
    for (size_t i = 0; i < 6; i++) {
        size_t at = i * 3;
        if (i && s[at - 1] != sep) return std::nullopt;
        int hi = hexVal(s[at]), lo = hexVal(s[at + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        m.b[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return m;
}

Mac Mac::random() {
    Mac m;
    randomBytes(m.b.data(), m.b.size());
    m.b[0] = static_cast<uint8_t>((m.b[0] & 0xfe) | 0x02);  // unicast, locally administered
    return m;
}

std::string Mac::str() const {
    char s[18];
    std::snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
    return s;
}

std::optional<std::string> normalizeMac(std::string_view s) {
    auto m = Mac::parse(s);
    if (!m) return std::nullopt;
    return m->str();
}

}  // namespace util
