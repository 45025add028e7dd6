// A 48-bit MAC address as a value: parsed from the forms CNI configs use
// ("aa:bb:cc:dd:ee:ff" or "AA-BB-CC-DD-EE-FF"), printed lowercase with colons
// (as Go's net.HardwareAddr).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace util {

struct Mac {
    std::array<uint8_t, 6> b{};

    // Exactly six hex byte pairs, all separated by ':' or all by '-'.
    static std::optional<Mac> parse(std::string_view s);
    // A random unicast, locally administered address.
    static Mac random();
    std::string str() const;
    bool operator==(const Mac&) const = default;
};

// parse() then str(): the canonical text of a MAC, or nullopt.
std::optional<std::string> normalizeMac(std::string_view s);

}  // namespace util
