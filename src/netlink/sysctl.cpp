// sysctl through /proc/sys (of the calling thread's network namespace).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "netlink/internal.h"
#include "util/fd.h"
#include "util/fs.h"

namespace nl {

namespace {

// "net.ipv4.ip_forward" -> "/proc/sys/net/ipv4/ip_forward". A key that
// already holds slashes is a path below /proc/sys, its dots kept (sysctl(8)).
std::string sysctlPath(std::string_view key) {
    std::string p = "/proc/sys/";
    bool slashes = key.find('/') != std::string_view::npos;
    for (char c : key) p += (c == '.' && !slashes) ? '/' : c;
    return p;
}

std::string_view trimmed(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

Error sysctlGet(std::string_view key, std::string& out) {
    if (auto e = util::readFile(sysctlPath(key), out))
        return detail::sysFail(e.errnum, "read sysctl " + std::string(key));
    out.resize(trimmed(out).size());
    return {};
}

// One open for both: read the value, write only when it differs (a
// read-only /proc/sys is fine when the value is already right).
Error sysctlSet(std::string_view key, std::string_view value) {
    std::string path = sysctlPath(key);
    util::Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    int openErr = fd ? 0 : errno;
    if (!fd && (openErr == EACCES || openErr == EROFS || openErr == EPERM))
        fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return detail::sysFail(errno, "set sysctl " + std::string(key) + " to " + std::string(value));
    char buf[256];
    ssize_t n;
    do n = ::read(fd.get(), buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    if (n >= 0 && size_t(n) < sizeof buf && trimmed(std::string_view(buf, size_t(n))) == trimmed(value)) return {};
    int err = openErr;
    if (!err) {
        do n = ::pwrite(fd.get(), value.data(), value.size(), 0);
        while (n < 0 && errno == EINTR);
        err = n < 0 ? errno : 0;
    }
    if (!err) return {};
    return detail::sysFail(err, "set sysctl " + std::string(key) + " to " + std::string(value));
}

Error ifSysctlSet(int family, std::string_view ifname, std::string_view name, std::string_view value) {
    if (ifname.empty() || ifname == "." || ifname == ".." || ifname.find('/') != std::string_view::npos)
        return Error(util::kInvalidNetConf, "invalid interface name \"" + std::string(ifname) + "\"");
    std::string key = family == AF_INET6 ? "net/ipv6/conf/" : "net/ipv4/conf/";
    key += ifname;
    key += '/';
    key += name;
    return sysctlSet(key, value);
}

}  // namespace nl
