// Network namespace handles and the scoped "enter namespace" guard.
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "netlink/internal.h"
#include "util/fs.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

namespace nl {

namespace {
constexpr const char* kSelfNet = "/proc/thread-self/ns/net";

// Whether `ns` (nsfs or procfs) is a network namespace. NS_GET_NSTYPE
// (Linux 4.11) says so; where it is missing (older kernels answer ENOTTY,
// qemu-user ENOSYS), entering it as one does (the kernel refuses another
// kind, or any other file, with EINVAL), and the guard goes straight back.
bool isNetNamespace(const Netns& ns) {
    int t = ioctl(ns.fd(), NS_GET_NSTYPE);
    if (t >= 0) return t == CLONE_NEWNET;
    if (errno != ENOTTY && errno != ENOSYS && errno != EINVAL) return false;
    NetnsGuard g(ns);
    return !g.error();
}
}  // namespace

Netns::~Netns() {
    if (fd_ >= 0) ::close(fd_);
}

Netns::Netns(Netns&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }

Netns& Netns::operator=(Netns&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.fd_;
        path_ = std::move(o.path_);
        o.fd_ = -1;
    }
    return *this;
}

Error Netns::open(const std::string& path, Netns& out, bool* notExist) {
    if (notExist) *notExist = false;
    std::string q = "\"" + path + "\"";
    // O_NONBLOCK: a FIFO planted as CNI_NETNS must not hang the plugin (it
    // is refused below, as any file that is not a namespace).
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        if (notExist && e == ENOENT) *notExist = true;
        return detail::sysFail(e, "open netns " + q, util::kInvalidNetNS);
    }
    Netns ns;
    ns.fd_ = fd;
    ns.path_ = path;
    struct statfs fs;
    if (fstatfs(fd, &fs) < 0) return detail::sysFail(errno, "open netns " + q, util::kInvalidNetNS);
    // nsfs (or procfs, where kernels before 3.19 kept namespace files): and
    // a network namespace, not another kind, nor any other file under /proc.
    if ((fs.f_type != NSFS_MAGIC && fs.f_type != PROC_SUPER_MAGIC) || !isNetNamespace(ns))
        return Error(util::kInvalidNetNS, q + " is not a valid network namespace");
    out = std::move(ns);
    return {};
}

Error Netns::current(Netns& out) {
    int fd = ::open(kSelfNet, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return detail::sysFail(errno, std::string("open ") + kSelfNet, util::kInvalidNetNS);
    out = Netns();
    out.fd_ = fd;
    out.path_ = kSelfNet;
    return {};
}

bool Netns::sameAs(const Netns& o) const {
    struct stat a, b;
    if (fd_ < 0 || o.fd_ < 0 || fstat(fd_, &a) < 0 || fstat(o.fd_, &b) < 0) return false;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

NetnsGuard::NetnsGuard(const Netns& ns) {
    if (!ns.valid()) {
        err_ = Error(util::kInvalidNetNS, "cannot enter netns: not open");
        return;
    }
    orig_ = ::open(kSelfNet, O_RDONLY | O_CLOEXEC);
    if (orig_ < 0) {
        err_ = detail::sysFail(errno, std::string("open ") + kSelfNet);
        return;
    }
    if (setns(ns.fd(), CLONE_NEWNET) < 0) {
        err_ = detail::sysFail(errno, "enter netns \"" + ns.path() + "\"");
        ::close(orig_);
        orig_ = -1;
    }
}

NetnsGuard::~NetnsGuard() {
    if (orig_ < 0) return;
    if (setns(orig_, CLONE_NEWNET) < 0) {
        // Carrying on in the wrong namespace would configure the wrong
        // network: stop here.
        std::fprintf(stderr, "cnibox: cannot return to the original netns: %s\n", util::errnoDesc(errno));
        std::abort();
    }
    ::close(orig_);
}

}  // namespace nl
