// Small string helpers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace util {

// Go's strings.TrimSpace for ASCII text.
std::string_view trimSpace(std::string_view s);
// s in plain double quotes, nothing escaped: "s" (for messages; Go's %q is
// cni::gojson::quote).
std::string quoted(std::string_view s);
// The 64-bit FNV-1a hash of `s`: a stable short name for a long key (not
// for anything an adversary must not collide).
uint64_t fnv1a64(std::string_view s);
// Sleeps `ms` milliseconds (resumed after signals).
void sleepMs(int ms);

}  // namespace util
