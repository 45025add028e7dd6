// CNI spec versions 0.1.0 .. 1.1.0.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cni {

enum class Ver : uint8_t { v010, v020, v030, v031, v040, v100, v110 };
inline constexpr int kNumVersions = 7;
inline constexpr Ver kCurrent = Ver::v110;

std::string_view str(Ver v);
// Exact match against the seven known strings.
std::optional<Ver> parseVersion(std::string_view s);
// Semver-style comparison of arbitrary "x.y.z" strings (upstream's
// version.GreaterThanOrEqualTo). Returns false on unparsable input.
bool versionAtLeast(std::string_view v, std::string_view min);
// The same, reporting upstream's parse error text in `err` (cleared on success).
bool versionAtLeast(std::string_view v, std::string_view min, std::string& err);
// Upstream's version.ParseVersion: "x[.y[.z]]" (each part strconv.Atoi),
// "" = 0.1.0. False with upstream's message in `err` on bad input.
bool parseVersionParts(std::string_view v, int64_t (&parts)[3], std::string& err);

// Result families: 0.1.0/0.2.0 = 020, 0.3.x/0.4.0 = 040, 1.x = 100.
enum class Family : uint8_t { f020, f040, f100 };
Family family(Ver v);

// A set of versions (bitmask over Ver).
struct VersionSet {
    uint32_t bits = 0;
    constexpr VersionSet() = default;
    constexpr explicit VersionSet(uint32_t b) : bits(b) {}
    static constexpr VersionSet all() { return VersionSet((1u << kNumVersions) - 1); }
    // Every version >= v.
    static constexpr VersionSet from(Ver v) { return VersionSet(all().bits & ~((1u << static_cast<int>(v)) - 1)); }
    constexpr bool has(Ver v) const { return bits & (1u << static_cast<int>(v)); }
    // `["0.1.0","0.2.0",...]` as JSON array text.
    std::string jsonList() const;
    // "0.1.0 0.2.0 ..." for --version and help.
    std::string spaced() const;
    // The versions joined by `sep` ("0.1.0, 0.2.0" for the plugin banner).
    std::string joined(std::string_view sep) const;
    // Upstream's "%q" of the list: ["0.1.0" "0.2.0"].
    std::string quoted() const;
};

}  // namespace cni
