// NETLINK_NETFILTER socket, batches and the lock of the nftables backend.
#include "netfilter/nft_netlink.h"
#include "util/fs.h"

#include <fcntl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <thread>

#include <libnftnl/common.h>

namespace nf::nft {

namespace {

constexpr size_t kMsgBufSize = 16384;
constexpr size_t kRxBufSize = 128 * 1024;

std::string errnoText(int err) { return util::errnoDesc(err); }

// The human-readable message of an extended ack (NLMSGERR_ATTR_MSG), if any.
std::string extackMsg(const nlmsghdr* nlh) {
    if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return {};
    const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(nlh));
    size_t off = NLMSG_HDRLEN + sizeof(nlmsgerr);
    // Without NETLINK_CAP_ACK (or for an ack) the request's payload follows.
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && e->error != 0)
        off += NLMSG_ALIGN(e->msg.nlmsg_len) - NLMSG_HDRLEN;
    const char* base = reinterpret_cast<const char*>(nlh);
    while (off + NLA_HDRLEN <= nlh->nlmsg_len) {
        const auto* a = reinterpret_cast<const nlattr*>(base + off);
        if (a->nla_len < NLA_HDRLEN || off + a->nla_len > nlh->nlmsg_len) break;
        if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG && a->nla_len > NLA_HDRLEN)
            return std::string(base + off + NLA_HDRLEN, strnlen(base + off + NLA_HDRLEN, a->nla_len - NLA_HDRLEN));
        off += NLA_ALIGN(a->nla_len);
    }
    return {};
}

// Calls f for each complete netlink message in buf[0, len).
template <class F>
void forEachMsg(const char* buf, size_t len, F&& f) {
    size_t off = 0;
    while (off + sizeof(nlmsghdr) <= len) {
        auto* nlh = reinterpret_cast<const nlmsghdr*>(buf + off);
        if (nlh->nlmsg_len < sizeof(nlmsghdr) || off + nlh->nlmsg_len > len) break;
        if (!f(nlh)) break;
        off += NLMSG_ALIGN(nlh->nlmsg_len);
    }
}

}  // namespace

Msg makeMsg(std::string what, const std::function<nlmsghdr*(char* buf)>& build) {
    Msg m;
    m.what = std::move(what);
    m.buf.assign(kMsgBufSize, 0);
    nlmsghdr* nlh = build(m.buf.data());
    m.buf.resize(nlh->nlmsg_len);
    return m;
}

Error Socket::get(Socket*& out) {
    static Socket s;
    struct stat st {};
    if (stat("/proc/self/ns/net", &st) != 0)
        return {cni::kInternal, "nftables: cannot stat /proc/self/ns/net: " + errnoText(errno)};
    int pid = getpid();
    if (s.fd_ >= 0 && s.pid_ != pid) {  // inherited across fork: not ours to hand on
        close(s.fd_);
        s.fd_ = -1;
        s.deferRelease_ = false;
    }
    if (s.fd_ >= 0 && (s.nsDev_ != st.st_dev || s.nsIno_ != st.st_ino)) s.release();
    if (s.fd_ < 0) {
        if (auto e = s.open()) return e;
        s.pid_ = pid;
        s.nsDev_ = st.st_dev;
        s.nsIno_ = st.st_ino;
    }
    out = &s;
    return {};
}

namespace {
constexpr const char* kLockDir = "/run/cnibox";
constexpr const char* kLockPath = "/run/cnibox/nftables.lock";

// close_range(2) by its syscall: not every C library declares it.
void closeRange(unsigned lo, unsigned hi) { syscall(SYS_close_range, lo, hi, 0U); }

// A batch that deleted anything stamps the lock file's mtime. The kernel's
// destroy work for it runs for about a grace period; a socket closed in that
// window waits for it (see release()), whichever process deleted. 250 ms is
// several grace periods even on a loaded machine.
void stampDeletion() { utimensat(AT_FDCWD, kLockPath, nullptr, 0); }

bool deletionRecent() {
    struct stat st {};
    if (stat(kLockPath, &st) != 0) return false;
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    long long ageNs = (static_cast<long long>(now.tv_sec) - st.st_mtim.tv_sec) * 1000000000LL +
                      (now.tv_nsec - st.st_mtim.tv_nsec);
    return ageNs >= 0 && ageNs < 250LL * 1000 * 1000;
}
}  // namespace

void Socket::release() {
    if (fd_ < 0) return;
    if ((deferRelease_ || deletionRecent()) && pid_ == getpid()) {
        int cue[2];
        if (pipe2(cue, O_CLOEXEC) == 0) {
            pid_t child = fork();
            if (child == 0) {
                // Only the socket and the cue's read end stay open (stdout and
                // stderr must not: the caller reads them to EOF).
                unsigned lo = static_cast<unsigned>(std::min(fd_, cue[0]));
                unsigned hi = static_cast<unsigned>(std::max(fd_, cue[0]));
                if (lo > 0) closeRange(0, lo - 1);
                if (hi > lo + 1) closeRange(lo + 1, hi - 1);
                closeRange(hi + 1, ~0U);
                // Close only once the kernel has destroyed what this
                // process's batch deleted: otherwise the close would wait
                // for that inside nf_tables' commit mutex, and every other
                // process's commit in this netns with it. The destroy work
                // waits one RCU grace period, queued before this child
                // existed; membarrier(MEMBARRIER_CMD_GLOBAL) waits one too.
                if (syscall(SYS_membarrier, 1 /* MEMBARRIER_CMD_GLOBAL */, 0U, 0) != 0) {
                    timespec gp{0, 30 * 1000 * 1000};
                    while (nanosleep(&gp, &gp) != 0 && errno == EINTR) {
                    }
                }
                char c;
                while (read(cue[0], &c, 1) < 0 && errno == EINTR) {
                }
                _exit(0);  // this process's exit closes the socket
            }
            close(cue[0]);
            // cue[1] stays open until this process exits: EOF is the child's cue.
        }
    }
    close(fd_);
    fd_ = -1;
    deferRelease_ = false;
}

Error Socket::open() {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) return {cni::kInternal, "nftables: cannot open a netfilter netlink socket: " + errnoText(errno)};
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    socklen_t len = sizeof sa;
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
        int err = errno;
        close(fd);
        return {cni::kInternal, "nftables: cannot bind the netlink socket: " + errnoText(err)};
    }
    int one = 1;
    // Short acks (no copy of the request) and the kernel's error strings.
    setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
    setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    socklen_t ol = sizeof rcvbuf_;
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf_, &ol);
    ol = sizeof sndbuf_;
    getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf_, &ol);
    fd_ = fd;
    portid_ = sa.nl_pid;
    seq_ = static_cast<uint32_t>(time(nullptr));
    rx_.resize(kRxBufSize);
    return {};
}

Error Socket::recvInto(std::vector<char>& buf, ssize_t& n, bool wait) {
    for (;;) {
        sockaddr_nl from{};
        iovec iov{buf.data(), buf.size()};
        msghdr mh{};
        mh.msg_name = &from;
        mh.msg_namelen = sizeof from;
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        n = recvmsg(fd_, &mh, wait ? 0 : MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (!wait && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                n = 0;
                return {};
            }
            return {cni::kInternal, "nftables: netlink receive failed: " + errnoText(errno)};
        }
        if (mh.msg_flags & MSG_TRUNC) return {cni::kInternal, "nftables: netlink reply truncated"};
        if (from.nl_pid != 0) continue;  // only the kernel talks to us
        return {};
    }
}

static Error sendAll(int fd, const void* data, size_t len) {
    sockaddr_nl to{};
    to.nl_family = AF_NETLINK;
    for (;;) {
        ssize_t n = sendto(fd, data, len, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return {cni::kInternal, std::string("nftables: netlink send failed: ") + util::errnoDesc(errno)};
        return {};
    }
}

Error Socket::query(Msg& req, const std::function<void(const nlmsghdr*)>& each, int* kernelErr) {
    *kernelErr = 0;
    auto* hdr = reinterpret_cast<nlmsghdr*>(req.buf.data());
    bool dump = hdr->nlmsg_flags & NLM_F_DUMP;
    if (!dump) hdr->nlmsg_flags |= NLM_F_ACK;
    std::vector<char> got;  // the objects of the reply, delivered once complete
    for (int attempt = 0;; ++attempt) {
        uint32_t seq = nextSeq();
        hdr->nlmsg_seq = seq;
        hdr->nlmsg_pid = 0;
        if (auto e = sendAll(fd_, req.buf.data(), req.buf.size())) return e;
        got.clear();
        bool done = false, intr = false;
        int err = 0;
        while (!done) {
            ssize_t n;
            if (auto e = recvInto(rx_, n, true)) return e;
            forEachMsg(rx_.data(), static_cast<size_t>(n), [&](const nlmsghdr* nlh) {
                if (nlh->nlmsg_seq != seq || (nlh->nlmsg_pid != 0 && nlh->nlmsg_pid != portid_)) return true;
                if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) intr = true;
                if (nlh->nlmsg_type == NLMSG_DONE) {
                    done = true;
                } else if (nlh->nlmsg_type == NLMSG_ERROR) {
                    auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(nlh));
                    err = -e->error;
                    done = true;
                } else if (nlh->nlmsg_type != NLMSG_NOOP) {
                    const char* p = reinterpret_cast<const char*>(nlh);
                    got.insert(got.end(), p, p + nlh->nlmsg_len);
                    got.resize(NLMSG_ALIGN(got.size()), 0);
                }
                return !done;
            });
        }
        if (intr && attempt < 5) continue;
        if (err) {
            *kernelErr = err;
            return {};
        }
        forEachMsg(got.data(), got.size(), [&](const nlmsghdr* nlh) {
            each(nlh);
            return true;
        });
        return {};
    }
}

Error Socket::batch(std::vector<Msg>& msgs, const std::string& context) {
    if (msgs.empty()) return {};
    char hb[256], he[256];
    uint32_t seq0 = nextSeq();
    nlmsghdr* begin = nftnl_batch_begin(hb, seq0);
    uint32_t firstSeq = seq_ + 1;
    size_t total = begin->nlmsg_len;
    bool deletes = false;
    for (auto& m : msgs) {
        auto* h = reinterpret_cast<nlmsghdr*>(m.buf.data());
        switch (NFNL_MSG_TYPE(h->nlmsg_type)) {
            case NFT_MSG_DELTABLE: case NFT_MSG_DELCHAIN: case NFT_MSG_DELRULE:
            case NFT_MSG_DELSET: case NFT_MSG_DELSETELEM:
                deferRelease_ = true;
                deletes = true;
                break;
            default:
                break;
        }
        h->nlmsg_seq = nextSeq();
        h->nlmsg_pid = 0;
        h->nlmsg_flags |= NLM_F_ACK;
        total += NLMSG_ALIGN(m.buf.size());
    }
    nlmsghdr* end = nftnl_batch_end(he, nextSeq());
    total += end->nlmsg_len;
    std::vector<char> out;
    out.reserve(total);
    auto put = [&](const void* p, size_t n) {
        out.insert(out.end(), static_cast<const char*>(p), static_cast<const char*>(p) + n);
        out.resize(NLMSG_ALIGN(out.size()), 0);
    };
    put(begin, begin->nlmsg_len);
    for (auto& m : msgs) put(m.buf.data(), m.buf.size());
    put(end, end->nlmsg_len);

    // Room for the whole batch and for one ack per message.
    int want = static_cast<int>(out.size()) + 65536;
    if (want > sndbuf_) {
        if (setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) != 0)
            setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
        sndbuf_ = want;
    }
    want = static_cast<int>(msgs.size()) * 1024 + 65536;
    if (want > rcvbuf_) {
        if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0)
            setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
        rcvbuf_ = want;
    }
    if (auto e = sendAll(fd_, out.data(), out.size())) return e;

    // The kernel handles the batch inside sendmsg, so every answer is queued
    // now: wait for the acks, and after an error drain what is left.
    size_t acked = 0;
    int firstErr = 0;
    uint32_t errSeq = 0;
    std::string errExt;
    for (;;) {
        bool wait = firstErr == 0 && acked < msgs.size();
        ssize_t n;
        if (auto e = recvInto(rx_, n, wait)) {
            if (firstErr == 0)
                return {cni::kInternal, context + ": " + e.msg + " (the outcome of the transaction is unknown)"};
            break;
        }
        if (n == 0) break;
        forEachMsg(rx_.data(), static_cast<size_t>(n), [&](const nlmsghdr* nlh) {
            if (nlh->nlmsg_type != NLMSG_ERROR) return true;
            if (nlh->nlmsg_seq < seq0 || nlh->nlmsg_seq > seq_) return true;
            auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(nlh));
            if (e->error == 0) {
                ++acked;
            } else if (firstErr == 0 || nlh->nlmsg_seq < errSeq) {
                firstErr = -e->error;
                errSeq = nlh->nlmsg_seq;
                errExt = extackMsg(nlh);
            }
            return true;
        });
    }
    if (firstErr == 0) {
        if (deletes) stampDeletion();
        return {};
    }
    std::string what;
    if (errSeq >= firstSeq && errSeq < firstSeq + msgs.size())
        what = msgs[errSeq - firstSeq].what;
    else
        what = "the batch";
    std::string msg = context + ": " + what + ": " + errnoText(firstErr);
    if (!errExt.empty()) msg += " (" + errExt + ")";
    return {cni::kInternal, msg};
}

namespace {
int gLockFd = -1;
int gLockRefs = 0;
}  // namespace

Error Lock::acquire() {
    if (held_) return {};
    if (gLockRefs == 0) {
        if (mkdir(kLockDir, 0755) != 0 && errno != EEXIST)
            return {cni::kInternal, std::string("cannot create ") + kLockDir + ": " + errnoText(errno)};
        int fd = ::open(kLockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) return {cni::kInternal, std::string("cannot open ") + kLockPath + ": " + errnoText(errno)};
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        auto pause = std::chrono::milliseconds(2);
        for (;;) {
            if (flock(fd, LOCK_EX | LOCK_NB) == 0) break;
            if (errno != EWOULDBLOCK && errno != EINTR) {
                int err = errno;
                close(fd);
                return {cni::kInternal, std::string("cannot lock ") + kLockPath + ": " + errnoText(err)};
            }
            if (std::chrono::steady_clock::now() >= deadline) {
                close(fd);
                return {cni::kTryAgainLater, std::string("timed out after 30 s waiting for the lock ") + kLockPath};
            }
            std::this_thread::sleep_for(pause);
            if (pause < std::chrono::milliseconds(50)) pause *= 2;
        }
        gLockFd = fd;
    }
    ++gLockRefs;
    held_ = true;
    return {};
}

void Lock::release() {
    if (!held_) return;
    held_ = false;
    if (--gLockRefs == 0) {
        close(gLockFd);  // closing drops the flock
        gLockFd = -1;
    }
}

}  // namespace nf::nft
