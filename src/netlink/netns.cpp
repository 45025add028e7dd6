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

#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>

#include <netlink/attr.h>
#include <netlink/msg.h>

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

namespace {
int onNsid(nl_msg* msg, void* p) {
    nlattr* tb[NETNSA_MAX + 1];
    nla_policy policy[NETNSA_MAX + 1] = {};
    policy[NETNSA_NSID].type = NLA_S32;
    if (nlmsg_hdr(msg)->nlmsg_type == RTM_NEWNSID &&
        nlmsg_parse(nlmsg_hdr(msg), sizeof(rtgenmsg), tb, NETNSA_MAX, policy) == 0 && tb[NETNSA_NSID])
        *static_cast<int*>(p) = nla_get_s32(tb[NETNSA_NSID]);
    return NL_OK;
}
}  // namespace

Error Socket::netnsIdOf(const Netns& other, int& id) {
    id = -1;
    detail::MsgPtr m(nlmsg_alloc_simple(RTM_GETNSID, 0));
    rtgenmsg g{};
    g.rtgen_family = AF_UNSPEC;
    if (!m || nlmsg_append(m.get(), &g, sizeof g, NLMSG_ALIGNTO) < 0 ||
        nla_put_u32(m.get(), NETNSA_FD, uint32_t(other.fd())) < 0)
        return detail::sysFail(ENOMEM, "build a netlink message");
    int got = -1;
    int r = detail::requestOnce(sk_, m.get(), onNsid, &got);
    if (r >= 0) r = nl_wait_for_ack(sk_);   // the reply is followed by the ACK
    if (r < 0) return detail::fail(r, "look up the id of netns \"" + other.path() + "\"");
    id = got < 0 ? -1 : got;
    return {};
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
