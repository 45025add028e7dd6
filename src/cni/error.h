// Errors are values. A function that can fail returns cni::Error; a
// default-constructed Error (code 0) means success:
//     if (auto e = doThing()) return e;
// main turns a failed Error into the spec's JSON on stdout and exit 1.
#pragma once

#include <string>
#include <utility>

namespace cni {

enum Code : int {
    kOK = 0,
    kIncompatibleVersion = 1,
    kUnsupportedField = 2,
    kUnknownContainer = 3,
    kInvalidEnv = 4,
    kIOFailure = 5,
    kDecodeFailure = 6,
    kInvalidNetConf = 7,
    kInvalidNetNS = 8,      // library extension, not in the spec table
    kTryAgainLater = 11,
    kNotAvailable = 50,     // STATUS: cannot service ADD
    kLimitedConnectivity = 51,
    kPluginSpecific = 100,  // 100+ are ours
    kInternal = 999,
};

struct [[nodiscard]] Error {
    int code = kOK;
    std::string msg;
    std::string details;

    Error() = default;
    Error(int c, std::string m, std::string d = {}) : code(c), msg(std::move(m)), details(std::move(d)) {}

    explicit operator bool() const { return code != kOK; }
    bool ok() const { return code == kOK; }
    // "msg; details" like upstream's Error() string.
    std::string text() const { return details.empty() ? msg : msg + "; " + details; }
    // The spec's error JSON: {"code":N,"msg":"...","details":"..."} (details omitted when empty),
    // indented like upstream's output.
    std::string json() const;
};

}  // namespace cni
