// Small string helpers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace util {

// Go's strings.TrimSpace for ASCII text.
std::string_view trimSpace(std::string_view s);
// The pieces of `s` between `sep`s, in order: none for an empty string and
// none after a trailing separator ("a\n" is {"a"}); empty pieces between
// two separators are kept.
std::vector<std::string_view> splitOn(std::string_view s, char sep);
// s in plain double quotes, nothing escaped: "s" (for messages; Go's %q is
// cni::gojson::quote).
std::string quoted(std::string_view s);
// The 64-bit FNV-1a hash of `s`: a stable short name for a long key (not
// for anything an adversary must not collide).
uint64_t fnv1a64(std::string_view s);
// Sleeps `ms` milliseconds (resumed after signals).
void sleepMs(int ms);

}  // namespace util
