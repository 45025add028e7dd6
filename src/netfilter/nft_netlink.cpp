// NETLINK_NETFILTER socket, batches and the lock of the nftables backend.
#include "netfilter/nft_netlink.h"
#include "util/fs.h"

#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <libnftnl/common.h>

namespace nf::nft {

namespace {

constexpr size_t kMsgBufSize = 16384;
constexpr size_t kRxBufSize = 128 * 1024;

// The errno of an NLMSG_ERROR message (0 for an ack); one too short to hold
// its nlmsgerr is EIO.
int ackOf(const nlmsghdr* nlh) {
    if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return EIO;
    return util::ackErrno(static_cast<const nlmsgerr*>(NLMSG_DATA(nlh))->error);
}

// The human-readable message of an extended ack (NLMSGERR_ATTR_MSG), if any.
std::string extackMsg(const nlmsghdr* nlh) {
    if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return {};
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
    // libnftnl writes without a bound. What goes in is bounded before
    // (names under 256 bytes, comments under 255, at most kMaxRulePorts
    // ports: a few KiB at most, test_netfilter_nft_rule.cpp); past the
    // buffer, memory is already overwritten and nothing may go on.
    if (nlh->nlmsg_len > kMsgBufSize) {
        static const char msg[] = "cnibox: an nftables message overran its buffer\n";
        (void)!write(2, msg, sizeof msg - 1);
        abort();
    }
    m.buf.resize(nlh->nlmsg_len);
    return m;
}

size_t msgBufSize() { return kMsgBufSize; }

util::SharedFileLock& lock() {
    static util::SharedFileLock l({.label = "nftables lock",
                                   .defaultPath = "/run/cnibox/nftables.lock",
                                   .pathEnv = "CNIBOX_NFTABLES_LOCKFILE",
                                   .waitEnv = "CNIBOX_NFTABLES_WAIT",
                                   .defaultWaitMs = 30 * 1000});
    return l;
}

Socket& Socket::instance() {
    static Socket s(lock().path());
    return s;
}

Error Socket::get(Socket*& out) {
    Socket& s = instance();
    struct stat st {};
    if (stat("/proc/self/ns/net", &st) != 0)
        return Error::sys(cni::kInternal, "nftables: cannot stat /proc/self/ns/net", errno);
    int pid = getpid();
    if (s.fd_ && s.pid_ != pid) s.closer_.close(s.fd_, false);  // inherited across fork: closed at once
    if (s.fd_ && (s.nsDev_ != st.st_dev || s.nsIno_ != st.st_ino)) s.close();
    if (!s.fd_) {
        if (auto e = s.open()) return e;
        s.pid_ = pid;
        s.nsDev_ = st.st_dev;
        s.nsIno_ = st.st_ino;
    }
    out = &s;
    return {};
}

void Socket::finish() { instance().close(); }

void Socket::close() { closer_.close(fd_, pid_ == getpid()); }

Error Socket::open() {
    util::Fd sock(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
    if (!sock) return Error::sys(cni::kInternal, "nftables: cannot open a netfilter netlink socket", errno);
    int fd = sock.get();
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    socklen_t len = sizeof sa;
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0)
        return Error::sys(cni::kInternal, "nftables: cannot bind the netlink socket", errno);
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
    fd_ = std::move(sock);
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
        n = recvmsg(fd_.get(), &mh, wait ? 0 : MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (!wait && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                n = 0;
                return {};
            }
            return Error::sys(cni::kInternal, "nftables: netlink receive failed", errno);
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
        if (n < 0) return Error::sys(cni::kInternal, "nftables: netlink send failed", errno);
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
        if (auto e = sendAll(fd_.get(), req.buf.data(), req.buf.size())) return e;
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
                    err = ackOf(nlh);
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
        if (setsockopt(fd_.get(), SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) != 0)
            setsockopt(fd_.get(), SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
        sndbuf_ = want;
    }
    want = static_cast<int>(msgs.size()) * 1024 + 65536;
    if (want > rcvbuf_) {
        if (setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0)
            setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
        rcvbuf_ = want;
    }
    if (auto e = sendAll(fd_.get(), out.data(), out.size())) return e;

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
                return Error(cni::kInternal, context + ": " + e.msg + " (the outcome of the transaction is unknown)")
                    .withErrno(e.errnum);
            break;
        }
        if (n == 0) break;
        forEachMsg(rx_.data(), static_cast<size_t>(n), [&](const nlmsghdr* nlh) {
            if (nlh->nlmsg_type != NLMSG_ERROR) return true;
            if (nlh->nlmsg_seq < seq0 || nlh->nlmsg_seq > seq_) return true;
            int er = ackOf(nlh);
            if (er == 0) {
                ++acked;
            } else if (firstErr == 0 || nlh->nlmsg_seq < errSeq) {
                firstErr = er;
                errSeq = nlh->nlmsg_seq;
                errExt = extackMsg(nlh);
            }
            return true;
        });
    }
    if (firstErr == 0) {
        if (deletes) closer_.noteDeletion();
        return {};
    }
    std::string what;
    if (errSeq >= firstSeq && errSeq < firstSeq + msgs.size())
        what = msgs[errSeq - firstSeq].what;
    else
        what = "the batch";
    std::string msg = context + ": " + what + ": " + util::errnoDesc(firstErr);
    if (!errExt.empty()) msg += " (" + errExt + ")";
    return Error(cni::kInternal, msg).withErrno(firstErr);
}

}  // namespace nf::nft
