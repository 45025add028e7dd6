// IP addresses and prefixes as CNI uses them: "10.1.2.3", "10.1.2.3/24",
// "fd00::5/64". Formatting matches Go's net package (RFC 5952 for IPv6).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace util {

struct IP {
    int family = 0;                  // 0 = unset, AF_INET or AF_INET6
    std::array<uint8_t, 16> b{};     // IPv4 uses b[0..3]

    static std::optional<IP> parse(std::string_view s);
    static IP v4(uint8_t a, uint8_t b_, uint8_t c, uint8_t d);
    std::string str() const;
    bool valid() const { return family != 0; }
    bool is4() const;
    bool is6() const;
    int bits() const { return is4() ? 32 : 128; }
    int len() const { return is4() ? 4 : 16; }
    bool isUnspecified() const;
    bool isLoopback() const;
    bool isLinkLocalUnicast() const;
    bool isGlobalUnicast() const;    // as Go's net.IP.IsGlobalUnicast
    // Numerical neighbours; wrap around within the family's address space.
    IP next() const;
    IP prev() const;
    // Adds n (may be negative) to the address, wrapping.
    IP plus(int64_t n) const;
    auto operator<=>(const IP&) const = default;
};

struct IPNet {
    IP ip;          // the address as written (host bits kept: "10.1.2.3/24")
    int prefix = 0;

    // "a.b.c.d/n" or "v6/n". Without a '/', fails.
    static std::optional<IPNet> parse(std::string_view s);
    // Like parse, but a bare address is accepted as a host prefix (/32, /128).
    static std::optional<IPNet> parseAddrOrCidr(std::string_view s);
    std::string str() const;
    IP network() const;              // host bits cleared
    IP broadcast() const;            // host bits set (last address)
    IPNet masked() const { return {network(), prefix}; }
    bool contains(const IP& a) const;
    bool overlaps(const IPNet& o) const;
    bool hasHostBits() const { return ip != network(); }
    // Dotted mask for IPv4 ("255.255.255.0"), used by the 0.1.0/0.2.0 result.
    IP mask() const;
    bool operator==(const IPNet&) const = default;
};

}  // namespace util
