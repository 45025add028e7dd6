// Error capture and formatting, dumps, address conversion, random names.
#include <linux/netlink.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/socket.h>

#include "netlink/internal.h"
#include "util/fs.h"
#include "util/random.h"

namespace nl {
namespace {

// What the kernel said about the last failed request of this thread.
// libnl only passes on its own coarse error codes, so the error callback
// keeps the real errno and the extended ack text here.
struct KernelError {
    int err = 0;
    char msg[160] = {};
};
thread_local KernelError t_kerr;

int onError(sockaddr_nl*, nlmsgerr* e, void*) {
    t_kerr.err = util::ackErrno(e->error);
    t_kerr.msg[0] = 0;
    // The reply header precedes `e`. With NETLINK_CAP_ACK the request's
    // payload is left out, so any TLVs start right after the nlmsgerr.
    auto* h = reinterpret_cast<nlmsghdr*>(reinterpret_cast<char*>(e) - NLMSG_HDRLEN);
    int len = int(h->nlmsg_len) - int(NLMSG_HDRLEN + sizeof(*e));
    if ((h->nlmsg_flags & NLM_F_ACK_TLVS) && (h->nlmsg_flags & NLM_F_CAPPED) && len > 0) {
        nlattr* a;
        int rem;
        nla_for_each_attr(a, reinterpret_cast<nlattr*>(e + 1), len, rem) {
            if (nla_type(a) == NLMSGERR_ATTR_MSG)
                nla_strlcpy(t_kerr.msg, a, sizeof t_kerr.msg);
        }
    }
    return NL_STOP;
}

// Best errno for a libnl code that did not come from the kernel.
int approxErrno(int nlerr) {
    switch (-nlerr) {
    case NLE_EXIST: return EEXIST;
    case NLE_OBJ_NOTFOUND: return ENOENT;
    case NLE_NODEV: return ENODEV;
    case NLE_NOADDR: return EADDRNOTAVAIL;
    case NLE_INVAL: return EINVAL;
    case NLE_NOMEM: return ENOMEM;
    case NLE_PERM: return EPERM;
    case NLE_NOACCESS: return EACCES;
    case NLE_BUSY: return EBUSY;
    case NLE_RANGE: return ERANGE;
    case NLE_OPNOTSUPP: return EOPNOTSUPP;
    case NLE_AGAIN: return EAGAIN;
    case NLE_INTR: return EINTR;
    default: return EIO;
    }
}

}  // namespace

namespace detail {

void setupSocket(nl_sock* sk) {
    nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, onError, nullptr);
    // A receive buffer larger than any dump skb (<= 32 KiB) lets libnl read
    // each message with one recvmsg instead of peeking first.
    nl_socket_set_msg_buf_size(sk, 64 * 1024);
    nl_socket_set_buffer_size(sk, 256 * 1024, 64 * 1024);
    int fd = nl_socket_get_fd(sk), one = 1;
    // Kernel error strings; no echo of our request in error replies;
    // kernel-side filtering of dumps (by ifindex, table).
    setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
    setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
}

int errnoOf(int nlerr) {
    int e = 0;
    if (t_kerr.err && -nl_syserr2nlerr(t_kerr.err) == nlerr)
        e = t_kerr.err;
    else
        t_kerr = {};
    if (!e) e = approxErrno(nlerr);
    return e;
}

Error fail(int nlerr, std::string_view what, std::string_view reason) {
    int e = errnoOf(nlerr);
    std::string m = "failed to ";
    m += what;
    m += ": ";
    const char* desc = t_kerr.err == e ? util::errnoDesc(e) : nullptr;
    if (!reason.empty())
        m += reason;
    else
        m += desc ? desc : nl_geterror(nlerr);
    // The kernel's own words help with EINVAL & co; "exists"/"not found"
    // say it all and stay exactly the errno text callers may match on.
    bool plain = e == EEXIST || e == ENOENT || e == ESRCH || e == ENODEV;
    if (reason.empty() && desc && t_kerr.msg[0] && !plain) {
        m += " (";
        m += t_kerr.msg;
        m += ")";
    }
    t_kerr = {};
    return Error(util::kInternal, std::move(m)).withErrno(e);
}

Error sysFail(int err, std::string_view what, int code) {
    std::string m = "failed to ";
    m += what;
    return Error::sys(code, m, err);
}

std::string linkLabel(nl_sock* sk, int index) {
    rtnl_link* l = nullptr;
    KernelError savedK = t_kerr;
    std::string s;
    if (rtnl_link_get_kernel(sk, index, nullptr, &l) >= 0 && l && rtnl_link_get_name(l))
        s = rtnl_link_get_name(l);
    else
        s = "ifindex " + std::to_string(index);
    if (l) rtnl_link_put(l);
    t_kerr = savedK;
    return s;
}

namespace {
struct DumpCtx {
    void (*fn)(nl_object*, void*);
    void* arg;
};
int onDumpMsg(nl_msg* msg, void* p) {
    auto* c = static_cast<DumpCtx*>(p);
    nl_msg_parse(msg, c->fn, c->arg);
    return NL_OK;
}
}  // namespace

int requestOnce(nl_sock* sk, nl_msg* req, int (*onMsg)(nl_msg*, void*), void* arg) {
    nl_cb* own = nl_socket_get_cb(sk);   // takes a reference
    nl_cb* cb = nl_cb_clone(own);
    nl_cb_put(own);
    if (!cb) return -NLE_NOMEM;
    nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, onMsg, arg);
    nlmsg_hdr(req)->nlmsg_seq = NL_AUTO_SEQ;
    int r = nl_send_auto(sk, req);
    if (r >= 0) r = nl_recvmsgs(sk, cb);
    nl_cb_put(cb);
    return r < 0 ? r : 0;
}

int dumpOnce(nl_sock* sk, nl_msg* req, void (*fn)(nl_object*, void*), void* arg) {
    DumpCtx ctx{fn, arg};
    return requestOnce(sk, req, onDumpMsg, &ctx);
}

// ---- addresses
NlAddrPtr toNl(const util::IP& ip) {
    return NlAddrPtr(nl_addr_build(ip.family, ip.b.data(), size_t(ip.len())));
}

NlAddrPtr toNl(const util::IPNet& net) {
    NlAddrPtr a = toNl(net.ip);
    if (a) nl_addr_set_prefixlen(a.get(), net.prefix);
    return a;
}

std::optional<util::IP> fromNl(nl_addr* a) {
    if (!a) return std::nullopt;
    int fam = nl_addr_get_family(a);
    unsigned len = nl_addr_get_len(a);
    if (!((fam == AF_INET && len == 4) || (fam == AF_INET6 && len == 16))) return std::nullopt;
    util::IP ip;
    ip.family = fam;
    std::memcpy(ip.b.data(), nl_addr_get_binary_addr(a), len);
    return ip;
}

NlAddrPtr macToNl(std::string_view mac) {
    uint8_t b[6];
    if (mac.size() != 17) return nullptr;
    for (int i = 0; i < 6; i++) {
        auto hex = [](char c) {
            return c >= '0' && c <= '9' ? c - '0'
                 : c >= 'a' && c <= 'f' ? c - 'a' + 10
                 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        };
        int hi = hex(mac[i * 3]), lo = hex(mac[i * 3 + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && mac[i * 3 + 2] != ':')) return nullptr;
        b[i] = uint8_t(hi << 4 | lo);
    }
    return NlAddrPtr(nl_addr_build(AF_LLC, b, sizeof b));
}

std::string macStr(nl_addr* a) {
    if (!a) return {};
    auto* b = static_cast<const uint8_t*>(nl_addr_get_binary_addr(a));
    unsigned n = nl_addr_get_len(a);
    std::string s;
    char buf[4];
    for (unsigned i = 0; i < n; i++) {
        std::snprintf(buf, sizeof buf, i ? ":%02x" : "%02x", b[i]);
        s += buf;
    }
    return s;
}

}  // namespace detail

// ---- random names
std::string randomVethName() {
    uint8_t b[4];
    util::randomBytes(b, sizeof b);
    char s[16];
    std::snprintf(s, sizeof s, "veth%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
    return s;
}

}  // namespace nl
