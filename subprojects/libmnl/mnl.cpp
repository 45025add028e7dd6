// A small implementation of the libmnl API (libmnl/libmnl.h) for static
// builds: the functions libnftnl.a calls (netlink message and attribute
// helpers, message batches, the callback runner, the socket wrapper) and a
// few companions. Written for the documented semantics of that API; used
// instead of libmnl when meson falls back to the libmnl subproject.
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace {

constexpr size_t kAlignTo = 4;
constexpr size_t align(size_t n) { return (n + kAlignTo - 1) & ~(kAlignTo - 1); }
constexpr size_t kMsgHdrLen = align(sizeof(nlmsghdr));
constexpr size_t kAttrHdrLen = align(sizeof(nlattr));

// Callback results and attribute types as libmnl.h defines them.
constexpr int kCbError = -1, kCbStop = 0, kCbOk = 1;
enum AttrType {
    kUnspec, kU8, kU16, kU32, kU64, kString, kFlag, kMsecs, kNested, kNestedCompat, kNulString, kBinary, kTypeMax
};

char* bytes(const void* p) { return static_cast<char*>(const_cast<void*>(p)); }

}  // namespace

extern "C" {

struct mnl_socket {
    int fd;
    sockaddr_nl addr;
};

struct mnl_nlmsg_batch {
    char* buf;       // start of the caller's buffer
    size_t limit;    // its size
    size_t used;     // bytes of complete messages in the batch
    bool overflow;   // the current message did not fit
};

using mnl_attr_cb_t = int (*)(const nlattr*, void*);
using mnl_cb_t = int (*)(const nlmsghdr*, void*);

// --- netlink messages ---------------------------------------------------------

size_t mnl_nlmsg_size(size_t len) { return len + kMsgHdrLen; }

size_t mnl_nlmsg_get_payload_len(const nlmsghdr* nlh) { return nlh->nlmsg_len - kMsgHdrLen; }

nlmsghdr* mnl_nlmsg_put_header(void* buf) {
    std::memset(buf, 0, kMsgHdrLen);
    auto* nlh = static_cast<nlmsghdr*>(buf);
    nlh->nlmsg_len = kMsgHdrLen;
    return nlh;
}

void* mnl_nlmsg_put_extra_header(nlmsghdr* nlh, size_t size) {
    char* p = bytes(nlh) + nlh->nlmsg_len;
    size_t n = align(size);
    std::memset(p, 0, n);
    nlh->nlmsg_len += n;
    return p;
}

void* mnl_nlmsg_get_payload(const nlmsghdr* nlh) { return bytes(nlh) + kMsgHdrLen; }

void* mnl_nlmsg_get_payload_offset(const nlmsghdr* nlh, size_t offset) {
    return bytes(nlh) + kMsgHdrLen + align(offset);
}

void* mnl_nlmsg_get_payload_tail(const nlmsghdr* nlh) { return bytes(nlh) + align(nlh->nlmsg_len); }

bool mnl_nlmsg_ok(const nlmsghdr* nlh, int len) {
    return len >= static_cast<int>(sizeof(nlmsghdr)) && nlh->nlmsg_len >= sizeof(nlmsghdr) &&
           static_cast<int>(nlh->nlmsg_len) <= len;
}

nlmsghdr* mnl_nlmsg_next(const nlmsghdr* nlh, int* len) {
    *len -= static_cast<int>(align(nlh->nlmsg_len));
    return reinterpret_cast<nlmsghdr*>(bytes(nlh) + align(nlh->nlmsg_len));
}

bool mnl_nlmsg_seq_ok(const nlmsghdr* nlh, unsigned int seq) {
    return nlh->nlmsg_seq == 0 || seq == 0 || nlh->nlmsg_seq == seq;
}

bool mnl_nlmsg_portid_ok(const nlmsghdr* nlh, unsigned int portid) {
    return nlh->nlmsg_pid == 0 || portid == 0 || nlh->nlmsg_pid == portid;
}

// --- batches of messages in one buffer -------------------------------------------

mnl_nlmsg_batch* mnl_nlmsg_batch_start(void* buf, size_t bufsiz) {
    auto* b = static_cast<mnl_nlmsg_batch*>(std::malloc(sizeof(mnl_nlmsg_batch)));
    if (!b) return nullptr;
    b->buf = static_cast<char*>(buf);
    b->limit = bufsiz;
    b->used = 0;
    b->overflow = false;
    return b;
}

void mnl_nlmsg_batch_stop(mnl_nlmsg_batch* b) { std::free(b); }

void* mnl_nlmsg_batch_current(mnl_nlmsg_batch* b) { return b->buf + b->used; }

void* mnl_nlmsg_batch_head(mnl_nlmsg_batch* b) { return b->buf; }

size_t mnl_nlmsg_batch_size(mnl_nlmsg_batch* b) { return b->used; }

bool mnl_nlmsg_batch_is_empty(mnl_nlmsg_batch* b) { return b->used == 0; }

// Adds the message at the current position; false if it does not fit (it
// stays where it is and reset() moves it to the head).
bool mnl_nlmsg_batch_next(mnl_nlmsg_batch* b) {
    auto* nlh = reinterpret_cast<nlmsghdr*>(b->buf + b->used);
    if (b->used + nlh->nlmsg_len > b->limit) {
        b->overflow = true;
        return false;
    }
    b->used += nlh->nlmsg_len;
    return true;
}

void mnl_nlmsg_batch_reset(mnl_nlmsg_batch* b) {
    if (b->overflow) {
        auto* nlh = reinterpret_cast<nlmsghdr*>(b->buf + b->used);
        size_t len = nlh->nlmsg_len;
        std::memmove(b->buf, nlh, len);
        b->used = len;
        b->overflow = false;
    } else {
        b->used = 0;
    }
}

// --- attributes ---------------------------------------------------------------

uint16_t mnl_attr_get_type(const nlattr* a) { return a->nla_type & NLA_TYPE_MASK; }
uint16_t mnl_attr_get_len(const nlattr* a) { return a->nla_len; }
uint16_t mnl_attr_get_payload_len(const nlattr* a) { return static_cast<uint16_t>(a->nla_len - kAttrHdrLen); }
void* mnl_attr_get_payload(const nlattr* a) { return bytes(a) + kAttrHdrLen; }

uint8_t mnl_attr_get_u8(const nlattr* a) { return *static_cast<const uint8_t*>(mnl_attr_get_payload(a)); }
uint16_t mnl_attr_get_u16(const nlattr* a) {
    uint16_t v;
    std::memcpy(&v, mnl_attr_get_payload(a), sizeof v);
    return v;
}
uint32_t mnl_attr_get_u32(const nlattr* a) {
    uint32_t v;
    std::memcpy(&v, mnl_attr_get_payload(a), sizeof v);
    return v;
}
uint64_t mnl_attr_get_u64(const nlattr* a) {
    uint64_t v;  // 64-bit payloads are only 4-byte aligned in messages
    std::memcpy(&v, mnl_attr_get_payload(a), sizeof v);
    return v;
}
const char* mnl_attr_get_str(const nlattr* a) { return static_cast<const char*>(mnl_attr_get_payload(a)); }

bool mnl_attr_ok(const nlattr* a, int len) {
    return len >= static_cast<int>(sizeof(nlattr)) && a->nla_len >= sizeof(nlattr) &&
           static_cast<int>(a->nla_len) <= len;
}

nlattr* mnl_attr_next(const nlattr* a) { return reinterpret_cast<nlattr*>(bytes(a) + align(a->nla_len)); }

int mnl_attr_type_valid(const nlattr* a, uint16_t maxtype) {
    if (mnl_attr_get_type(a) > maxtype) {
        errno = EOPNOTSUPP;
        return -1;
    }
    return 1;
}

static int validate(const nlattr* a, int type, size_t expected) {
    size_t len = mnl_attr_get_payload_len(a);
    if (type < kUnspec || type >= kTypeMax) {
        errno = EINVAL;
        return -1;
    }
    switch (type) {
        case kFlag:
            if (len > 0) {
                errno = ERANGE;
                return -1;
            }
            break;
        case kNulString:
            if (len == 0) {
                errno = ERANGE;
                return -1;
            }
            if (static_cast<const char*>(mnl_attr_get_payload(a))[len - 1] != '\0') {
                errno = EINVAL;
                return -1;
            }
            break;
        case kString:
            if (len == 0) {
                errno = ERANGE;
                return -1;
            }
            break;
        case kNested:
            if (len != 0 && len < kAttrHdrLen) {
                errno = ERANGE;
                return -1;
            }
            break;
        default:
            break;
    }
    if (expected && len < expected) {
        errno = ERANGE;
        return -1;
    }
    return 0;
}

int mnl_attr_validate(const nlattr* a, int type) {
    static constexpr size_t kLen[kTypeMax] = {0, 1, 2, 4, 8, 0, 0, 8, 0, 0, 0, 0};
    if (type < kUnspec || type >= kTypeMax) {
        errno = EINVAL;
        return -1;
    }
    return validate(a, type, kLen[type]);
}

int mnl_attr_validate2(const nlattr* a, int type, size_t len) { return validate(a, type, len); }

static int parseRange(const char* p, size_t len, mnl_attr_cb_t cb, void* data) {
    int left = static_cast<int>(len);
    for (auto* a = reinterpret_cast<const nlattr*>(p); mnl_attr_ok(a, left);) {
        int ret = cb(a, data);
        if (ret <= kCbStop) return ret;
        const nlattr* next = mnl_attr_next(a);
        left -= static_cast<int>(reinterpret_cast<const char*>(next) - reinterpret_cast<const char*>(a));
        a = next;
    }
    return kCbOk;
}

int mnl_attr_parse(const nlmsghdr* nlh, unsigned int offset, mnl_attr_cb_t cb, void* data) {
    const char* start = static_cast<const char*>(mnl_nlmsg_get_payload_offset(nlh, offset));
    const char* end = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
    if (end <= start) return kCbOk;
    return parseRange(start, static_cast<size_t>(end - start), cb, data);
}

int mnl_attr_parse_nested(const nlattr* nest, mnl_attr_cb_t cb, void* data) {
    return parseRange(static_cast<const char*>(mnl_attr_get_payload(nest)), mnl_attr_get_payload_len(nest), cb, data);
}

int mnl_attr_parse_payload(const void* payload, size_t len, mnl_attr_cb_t cb, void* data) {
    return parseRange(static_cast<const char*>(payload), len, cb, data);
}

void mnl_attr_put(nlmsghdr* nlh, uint16_t type, size_t len, const void* data) {
    auto* a = static_cast<nlattr*>(mnl_nlmsg_get_payload_tail(nlh));
    size_t total = kAttrHdrLen + len;
    a->nla_type = type;
    a->nla_len = static_cast<uint16_t>(total);
    if (len) std::memcpy(bytes(a) + kAttrHdrLen, data, len);
    size_t pad = align(total) - total;
    if (pad) std::memset(bytes(a) + total, 0, pad);
    nlh->nlmsg_len = static_cast<uint32_t>(align(nlh->nlmsg_len) + align(total));
}

void mnl_attr_put_u8(nlmsghdr* nlh, uint16_t type, uint8_t v) { mnl_attr_put(nlh, type, sizeof v, &v); }
void mnl_attr_put_u16(nlmsghdr* nlh, uint16_t type, uint16_t v) { mnl_attr_put(nlh, type, sizeof v, &v); }
void mnl_attr_put_u32(nlmsghdr* nlh, uint16_t type, uint32_t v) { mnl_attr_put(nlh, type, sizeof v, &v); }
void mnl_attr_put_u64(nlmsghdr* nlh, uint16_t type, uint64_t v) { mnl_attr_put(nlh, type, sizeof v, &v); }
void mnl_attr_put_str(nlmsghdr* nlh, uint16_t type, const char* s) { mnl_attr_put(nlh, type, std::strlen(s), s); }
void mnl_attr_put_strz(nlmsghdr* nlh, uint16_t type, const char* s) {
    mnl_attr_put(nlh, type, std::strlen(s) + 1, s);
}

bool mnl_attr_put_check(nlmsghdr* nlh, size_t buflen, uint16_t type, size_t len, const void* data) {
    if (align(nlh->nlmsg_len) + align(kAttrHdrLen + len) > buflen) return false;
    mnl_attr_put(nlh, type, len, data);
    return true;
}

nlattr* mnl_attr_nest_start(nlmsghdr* nlh, uint16_t type) {
    auto* a = static_cast<nlattr*>(mnl_nlmsg_get_payload_tail(nlh));
    a->nla_type = static_cast<uint16_t>(NLA_F_NESTED | type);
    a->nla_len = 0;
    nlh->nlmsg_len = static_cast<uint32_t>(align(nlh->nlmsg_len) + kAttrHdrLen);
    return a;
}

nlattr* mnl_attr_nest_start_check(nlmsghdr* nlh, size_t buflen, uint16_t type) {
    if (align(nlh->nlmsg_len) + kAttrHdrLen > buflen) return nullptr;
    return mnl_attr_nest_start(nlh, type);
}

void mnl_attr_nest_end(nlmsghdr* nlh, nlattr* start) {
    start->nla_len = static_cast<uint16_t>(static_cast<char*>(mnl_nlmsg_get_payload_tail(nlh)) - bytes(start));
}

void mnl_attr_nest_cancel(nlmsghdr* nlh, nlattr* start) {
    nlh->nlmsg_len -= static_cast<uint32_t>(static_cast<char*>(mnl_nlmsg_get_payload_tail(nlh)) - bytes(start));
}

// --- running callbacks over a buffer of replies ----------------------------------

static int runCallbacks(const void* buf, size_t numbytes, unsigned int seq, unsigned int portid, mnl_cb_t cbData,
                        void* data, const mnl_cb_t* ctl, unsigned int nctl) {
    int len = static_cast<int>(numbytes);
    int ret = kCbOk;
    for (auto* nlh = static_cast<const nlmsghdr*>(buf); mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
        if (!mnl_nlmsg_portid_ok(nlh, portid)) {
            errno = ESRCH;
            return -1;
        }
        if (!mnl_nlmsg_seq_ok(nlh, seq)) {
            errno = EPROTO;
            return -1;
        }
        if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {  // the dump is inconsistent
            errno = EINTR;
            return -1;
        }
        if (nlh->nlmsg_type >= NLMSG_MIN_TYPE) {
            if (cbData) {
                ret = cbData(nlh, data);
                if (ret <= kCbStop) return ret;
            }
            continue;
        }
        if (ctl && nlh->nlmsg_type < nctl && ctl[nlh->nlmsg_type]) {
            ret = ctl[nlh->nlmsg_type](nlh, data);
            if (ret <= kCbStop) return ret;
            continue;
        }
        switch (nlh->nlmsg_type) {
            case NLMSG_ERROR: {
                if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nlmsgerr)) {
                    errno = EBADMSG;
                    return kCbError;
                }
                auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
                errno = err->error < 0 ? -err->error : err->error;
                return err->error == 0 ? kCbStop : kCbError;
            }
            case NLMSG_DONE:
                return kCbStop;
            default:  // NLMSG_NOOP, NLMSG_OVERRUN
                break;
        }
    }
    return ret;
}

int mnl_cb_run(const void* buf, size_t numbytes, unsigned int seq, unsigned int portid, mnl_cb_t cb, void* data) {
    return runCallbacks(buf, numbytes, seq, portid, cb, data, nullptr, 0);
}

int mnl_cb_run2(const void* buf, size_t numbytes, unsigned int seq, unsigned int portid, mnl_cb_t cb, void* data,
                const mnl_cb_t* ctl, unsigned int nctl) {
    return runCallbacks(buf, numbytes, seq, portid, cb, data, ctl, nctl);
}

// --- the socket -----------------------------------------------------------------

mnl_socket* mnl_socket_fdopen(int fd) {
    sockaddr_nl addr{};
    socklen_t len = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) return nullptr;
    auto* nl = static_cast<mnl_socket*>(std::calloc(1, sizeof(mnl_socket)));
    if (!nl) return nullptr;
    nl->fd = fd;
    if (addr.nl_family == AF_NETLINK) nl->addr = addr;
    return nl;
}

mnl_socket* mnl_socket_open2(int bus, int flags) {
    auto* nl = static_cast<mnl_socket*>(std::calloc(1, sizeof(mnl_socket)));
    if (!nl) return nullptr;
    nl->fd = socket(AF_NETLINK, SOCK_RAW | flags, bus);
    if (nl->fd < 0) {
        std::free(nl);
        return nullptr;
    }
    return nl;
}

mnl_socket* mnl_socket_open(int bus) { return mnl_socket_open2(bus, 0); }

int mnl_socket_bind(mnl_socket* nl, unsigned int groups, pid_t pid) {
    nl->addr = {};
    nl->addr.nl_family = AF_NETLINK;
    nl->addr.nl_groups = groups;
    nl->addr.nl_pid = static_cast<uint32_t>(pid);
    if (bind(nl->fd, reinterpret_cast<sockaddr*>(&nl->addr), sizeof nl->addr) < 0) return -1;
    socklen_t len = sizeof nl->addr;
    if (getsockname(nl->fd, reinterpret_cast<sockaddr*>(&nl->addr), &len) < 0) return -1;
    if (len != sizeof nl->addr || nl->addr.nl_family != AF_NETLINK) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int mnl_socket_close(mnl_socket* nl) {
    int ret = close(nl->fd);
    std::free(nl);
    return ret;
}

int mnl_socket_get_fd(const mnl_socket* nl) { return nl->fd; }

unsigned int mnl_socket_get_portid(const mnl_socket* nl) { return nl->addr.nl_pid; }

ssize_t mnl_socket_sendto(const mnl_socket* nl, const void* buf, size_t len) {
    sockaddr_nl to{};
    to.nl_family = AF_NETLINK;
    return sendto(nl->fd, buf, len, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
}

ssize_t mnl_socket_recvfrom(const mnl_socket* nl, void* buf, size_t bufsiz) {
    sockaddr_nl from{};
    iovec iov{buf, bufsiz};
    msghdr mh{};
    mh.msg_name = &from;
    mh.msg_namelen = sizeof from;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    ssize_t n = recvmsg(nl->fd, &mh, 0);
    if (n < 0) return n;
    if (mh.msg_flags & MSG_TRUNC) {
        errno = ENOSPC;
        return -1;
    }
    if (mh.msg_namelen != sizeof(sockaddr_nl)) {
        errno = EINVAL;
        return -1;
    }
    return n;
}

int mnl_socket_setsockopt(const mnl_socket* nl, int type, void* buf, socklen_t len) {
    return setsockopt(nl->fd, SOL_NETLINK, type, buf, len);
}

int mnl_socket_getsockopt(const mnl_socket* nl, int type, void* buf, socklen_t* len) {
    return getsockopt(nl->fd, SOL_NETLINK, type, buf, len);
}

}  // extern "C"
