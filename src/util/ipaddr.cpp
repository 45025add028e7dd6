#include "util/ipaddr.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>

namespace util {

std::optional<IP> IP::parse(std::string_view s) {
    if (s.empty() || s.size() > INET6_ADDRSTRLEN || s.find('\0') != std::string_view::npos) return std::nullopt;
    char buf[INET6_ADDRSTRLEN + 1];
    std::memcpy(buf, s.data(), s.size());
    buf[s.size()] = 0;
    IP ip;
    if (s.find(':') == std::string_view::npos) {
        if (inet_pton(AF_INET, buf, ip.b.data()) != 1) return std::nullopt;
        ip.family = AF_INET;
        return ip;
    }
    if (inet_pton(AF_INET6, buf, ip.b.data()) != 1) return std::nullopt;
    ip.family = AF_INET6;
    // Go treats IPv4-mapped IPv6 addresses as IPv4.
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(ip.b.data(), mapped, 12) == 0) {
        IP v;
        v.family = AF_INET;
        std::memcpy(v.b.data(), ip.b.data() + 12, 4);
        return v;
    }
    return ip;
}

IP IP::v4(uint8_t a, uint8_t b_, uint8_t c, uint8_t d) {
    IP ip;
    ip.family = AF_INET;
    ip.b[0] = a; ip.b[1] = b_; ip.b[2] = c; ip.b[3] = d;
    return ip;
}

bool IP::is4() const { return family == AF_INET; }
bool IP::is6() const { return family == AF_INET6; }

std::string IP::str() const {
    if (!valid()) return "<nil>";
    if (is4()) {
        char buf[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, b.data(), buf, sizeof buf);
        return buf;
    }
    // Go's formatting (RFC 5952): the first longest run of two or more zero
    // groups becomes "::"; never the dotted tail glibc uses for ::a.b.c.d.
    int e0 = -1, e1 = -1;
    for (int i = 0; i < 16; i += 2) {
        int j = i;
        while (j < 16 && b[j] == 0 && b[j + 1] == 0) j += 2;
        if (j > i && j - i > e1 - e0) {
            e0 = i;
            e1 = j;
            i = j;
        }
    }
    if (e1 - e0 <= 2) e0 = e1 = -1;
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(39);
    for (int i = 0; i < 16; i += 2) {
        if (i == e0) {
            out += "::";
            i = e1;
            if (i >= 16) break;
        } else if (i > 0) {
            out += ':';
        }
        unsigned v = (static_cast<unsigned>(b[i]) << 8) | b[i + 1];
        bool started = false;
        for (int sh = 12; sh >= 0; sh -= 4) {
            unsigned d = (v >> sh) & 0xf;
            if (d || started || sh == 0) {
                out += hex[d];
                started = true;
            }
        }
    }
    return out;
}

bool IP::isUnspecified() const {
    for (int i = 0; i < len(); i++)
        if (b[i]) return false;
    return valid();
}

bool IP::isLoopback() const {
    if (is4()) return b[0] == 127;
    if (!is6()) return false;
    for (int i = 0; i < 15; i++)
        if (b[i]) return false;
    return b[15] == 1;
}

bool IP::isLinkLocalUnicast() const {
    if (is4()) return b[0] == 169 && b[1] == 254;
    return is6() && b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
}

bool IP::isGlobalUnicast() const {
    if (!valid() || isUnspecified() || isLoopback() || isLinkLocalUnicast()) return false;
    if (is4()) {
        if ((b[0] & 0xf0) == 0xe0) return false;                                // multicast
        return !(b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255);  // broadcast
    }
    return b[0] != 0xff;                 // not multicast
}

IP IP::plus(int64_t n) const {
    IP r = *this;
    int l = len();
    // Two's complement add of a signed 64-bit value across the byte array.
    uint64_t add = static_cast<uint64_t>(n);
    uint8_t fill = n < 0 ? 0xff : 0x00;
    unsigned carry = 0;
    for (int i = l - 1, k = 0; i >= 0; i--, k++) {
        unsigned byte = k < 8 ? static_cast<unsigned>((add >> (8 * k)) & 0xff) : fill;
        unsigned s = r.b[i] + byte + carry;
        r.b[i] = static_cast<uint8_t>(s & 0xff);
        carry = s >> 8;
    }
    return r;
}

IP IP::next() const { return plus(1); }
IP IP::prev() const { return plus(-1); }

// Go's ParseCIDR prefix: decimal digits (leading zeros allowed), <= max.
static bool parsePrefix(std::string_view s, int max, int& out) {
    if (s.empty()) return false;
    int n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + (c - '0');
        if (n > max) return false;
    }
    out = n;
    return true;
}

std::optional<IPNet> IPNet::parse(std::string_view s) {
    auto slash = s.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto ip = IP::parse(s.substr(0, slash));
    if (!ip) return std::nullopt;
    int p;
    // An IPv4-mapped address with a /96+ prefix is IPv4 in Go; keep it simple:
    // the prefix must fit the parsed family.
    if (!parsePrefix(s.substr(slash + 1), ip->bits(), p)) return std::nullopt;
    return IPNet{*ip, p};
}

std::optional<IPNet> IPNet::parseAddrOrCidr(std::string_view s) {
    if (s.find('/') != std::string_view::npos) return parse(s);
    auto ip = IP::parse(s);
    if (!ip) return std::nullopt;
    return IPNet{*ip, ip->bits()};
}

std::string IPNet::str() const { return ip.str() + "/" + std::to_string(prefix); }

IP IPNet::network() const {
    IP r = ip;
    for (int i = 0; i < ip.len(); i++) {
        int bitsHere = prefix - 8 * i;
        if (bitsHere >= 8) continue;
        uint8_t m = bitsHere <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bitsHere));
        r.b[i] &= m;
    }
    return r;
}

IP IPNet::broadcast() const {
    IP r = ip;
    for (int i = 0; i < ip.len(); i++) {
        int bitsHere = prefix - 8 * i;
        if (bitsHere >= 8) continue;
        uint8_t m = bitsHere <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bitsHere));
        r.b[i] |= static_cast<uint8_t>(~m);
    }
    return r;
}

IP IPNet::mask() const {
    IP r;
    r.family = ip.family;
    for (int i = 0; i < ip.len(); i++) {
        int bitsHere = prefix - 8 * i;
        r.b[i] = bitsHere >= 8 ? 0xff : bitsHere <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bitsHere));
    }
    return r;
}

bool IPNet::contains(const IP& a) const {
    if (a.family != ip.family) return false;
    return IPNet{a, prefix}.network() == network();
}

bool IPNet::overlaps(const IPNet& o) const {
    return contains(o.network()) || o.contains(network());
}

}  // namespace util
