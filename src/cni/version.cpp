#include "cni/version.h"

#include <array>
#include <climits>
#include <string>

#include "cni/gojson.h"

namespace cni {

namespace {

constexpr std::array<std::string_view, kNumVersions> kNames = {
    "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0",
};

// Go's strconv.Atoi (base 10, optional sign, int64 range).
bool atoi(std::string_view s, int64_t& out, std::string& err) {
    std::string_view d = s;
    bool neg = false;
    if (!d.empty() && (d[0] == '+' || d[0] == '-')) {
        neg = d[0] == '-';
        d.remove_prefix(1);
    }
    if (d.empty()) {
        err = "strconv.Atoi: parsing " + gojson::quote(s) + ": invalid syntax";
        return false;
    }
    uint64_t v = 0;
    bool range = false;
    for (char c : d) {
        if (c < '0' || c > '9') {
            err = "strconv.Atoi: parsing " + gojson::quote(s) + ": invalid syntax";
            return false;
        }
        if (v > (UINT64_MAX - 9) / 10) range = true;
        else v = v * 10 + static_cast<unsigned>(c - '0');
    }
    uint64_t limit = neg ? static_cast<uint64_t>(INT64_MAX) + 1 : static_cast<uint64_t>(INT64_MAX);
    if (range || v > limit) {
        err = "strconv.Atoi: parsing " + gojson::quote(s) + ": value out of range";
        return false;
    }
    out = neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
    return true;
}

}  // namespace

std::string_view str(Ver v) { return kNames[static_cast<size_t>(v)]; }

std::optional<Ver> parseVersion(std::string_view s) {
    for (size_t i = 0; i < kNames.size(); i++)
        if (kNames[i] == s) return static_cast<Ver>(i);
    return std::nullopt;
}

bool parseVersionParts(std::string_view v, int64_t (&parts)[3], std::string& err) {
    err.clear();
    parts[0] = 0;
    parts[1] = 0;
    parts[2] = 0;
    if (v.empty()) {
        parts[1] = 1;
        return true;
    }
    std::string_view fields[4];
    size_t n = 0;
    size_t start = 0;
    for (;;) {
        size_t dot = v.find('.', start);
        if (n == 4) break;
        fields[n++] = v.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    if (n >= 4) {
        err = "invalid version " + gojson::quote(v) + ": too many parts";
        return false;
    }
    static constexpr const char* kWhich[] = {"major", "minor", "micro"};
    for (size_t i = 0; i < n; i++) {
        std::string aerr;
        if (!atoi(fields[i], parts[i], aerr)) {
            err = std::string("failed to convert ") + kWhich[i] + " version part " + gojson::quote(fields[i]) +
                  ": " + aerr;
            return false;
        }
    }
    return true;
}

bool versionAtLeast(std::string_view v, std::string_view min, std::string& err) {
    int64_t a[3], b[3];
    if (!parseVersionParts(v, a, err) || !parseVersionParts(min, b, err)) return false;
    if (a[0] != b[0]) return a[0] > b[0];
    if (a[1] != b[1]) return a[1] > b[1];
    return a[2] >= b[2];
}

bool versionAtLeast(std::string_view v, std::string_view min) {
    std::string err;
    return versionAtLeast(v, min, err);
}

Family family(Ver v) {
    switch (v) {
    case Ver::v010:
    case Ver::v020: return Family::f020;
    case Ver::v030:
    case Ver::v031:
    case Ver::v040: return Family::f040;
    case Ver::v100:
    case Ver::v110: break;
    }
    return Family::f100;
}

std::string VersionSet::jsonList() const {
    std::string out = "[";
    for (int i = 0; i < kNumVersions; i++) {
        if (!has(static_cast<Ver>(i))) continue;
        if (out.size() > 1) out += ',';
        out += '"';
        out += kNames[static_cast<size_t>(i)];
        out += '"';
    }
    return out + "]";
}

std::string VersionSet::joined(std::string_view sep) const {
    std::string out;
    for (int i = 0; i < kNumVersions; i++) {
        if (!has(static_cast<Ver>(i))) continue;
        if (!out.empty()) out += sep;
        out += kNames[static_cast<size_t>(i)];
    }
    return out;
}

std::string VersionSet::spaced() const { return joined(" "); }

std::string VersionSet::quoted() const {
    std::string out = "[";
    for (int i = 0; i < kNumVersions; i++) {
        if (!has(static_cast<Ver>(i))) continue;
        if (out.size() > 1) out += ' ';
        out += '"';
        out += kNames[static_cast<size_t>(i)];
        out += '"';
    }
    return out + "]";
}

}  // namespace cni
