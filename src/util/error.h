// Errors are values. A function that can fail returns util::Error (spelled
// cni::Error above this layer); a default-constructed Error (code 0) means
// success:
//     if (auto e = doThing()) return e;
// `code` is the CNI spec's error code, `errnum` the errno behind a failed
// system call or kernel request (0 when there was none), so callers test
// the cause (`e.errnum == EEXIST`) instead of matching message text. main
// turns a failed Error into the spec's JSON on stdout and exit 1
// (cni::errorJson).
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace util {

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
    int errnum = 0;

    Error() = default;
    Error(int c, std::string m, std::string d = {}) : code(c), msg(std::move(m)), details(std::move(d)) {}

    // `code` with the message "<what>: <errno text>" (glibc's and Go's
    // wording, "File exists"), carrying `err`.
    static Error sys(int code, std::string_view what, int err);
    // The same error carrying `err` as its errno.
    Error&& withErrno(int err) && {
        errnum = err;
        return std::move(*this);
    }

    explicit operator bool() const { return code != kOK; }
    bool ok() const { return code == kOK; }
    // "msg; details" like upstream's Error() string.
    std::string text() const { return details.empty() ? msg : msg + "; " + details; }
    // This error with "<prefix>: " in front of its message (same code,
    // details and errno).
    Error wrap(std::string_view prefix) const&;
    Error wrap(std::string_view prefix) &&;
};

// The errno of a netlink ack's error field (0, or an errno negated); a value
// no kernel sends (positive, or below -4095, such as INT_MIN, whose negation
// overflows) is EIO.
constexpr int ackErrno(int error) { return error == 0 ? 0 : error < 0 && error >= -4095 ? -error : 5 /* EIO */; }

}  // namespace util
