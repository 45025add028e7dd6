// Conntrack entries through ctnetlink (NETLINK_NETFILTER, libmnl): a dump
// of the family's entries, filtered by the kernel on protocol and original
// destination port (CTA_FILTER, Linux 5.8+; also checked here, for kernels
// that ignore the filter), then one IPCTNL_MSG_CT_DELETE per entry found,
// named by its original tuple and zone.
#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "netfilter/netfilter.h"
#include "util/fs.h"

namespace nf {

namespace {

// The kernel's tuple filter flags (net/netfilter/nf_internals.h, not in the uapi).
constexpr uint32_t kFilterProtoNum = 1u << 3;
constexpr uint32_t kFilterProtoDstPort = 1u << 5;

struct SocketCloser {
    void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using MnlSocket = std::unique_ptr<mnl_socket, SocketCloser>;

// One entry to delete: its CTA_TUPLE_ORIG attribute as received, and the zone.
struct Entry {
    std::vector<char> tupleOrig;
    std::optional<uint16_t> zone;   // network byte order, as received
};

struct DumpCtx {
    uint8_t proto;
    uint16_t port;   // host byte order
    std::vector<Entry>* out;
};

// Collects the attributes of one nesting level by type.
int collect(const nlattr* a, void* data) {
    auto* tb = static_cast<const nlattr**>(data);
    uint16_t t = mnl_attr_get_type(a);
    if (t <= CTA_MAX) tb[t] = a;   // CTA_MAX is the largest of the levels read here
    return MNL_CB_OK;
}

bool matches(const nlattr* tupleOrig, uint8_t proto, uint16_t port) {
    const nlattr* tuple[CTA_MAX + 1] = {};
    if (mnl_attr_parse_nested(tupleOrig, collect, tuple) < 0 || !tuple[CTA_TUPLE_PROTO]) return false;
    const nlattr* p[CTA_MAX + 1] = {};
    if (mnl_attr_parse_nested(tuple[CTA_TUPLE_PROTO], collect, p) < 0) return false;
    if (!p[CTA_PROTO_NUM] || !p[CTA_PROTO_DST_PORT]) return false;
    if (mnl_attr_get_payload_len(p[CTA_PROTO_NUM]) < 1 || mnl_attr_get_payload_len(p[CTA_PROTO_DST_PORT]) < 2)
        return false;
    return mnl_attr_get_u8(p[CTA_PROTO_NUM]) == proto && ntohs(mnl_attr_get_u16(p[CTA_PROTO_DST_PORT])) == port;
}

int onEntry(const nlmsghdr* nlh, void* data) {
    auto* ctx = static_cast<DumpCtx*>(data);
    const nlattr* tb[CTA_MAX + 1] = {};
    if (mnl_attr_parse(nlh, sizeof(nfgenmsg), collect, tb) < 0) return MNL_CB_OK;
    const nlattr* orig = tb[CTA_TUPLE_ORIG];
    if (!orig || !matches(orig, ctx->proto, ctx->port)) return MNL_CB_OK;
    Entry e;
    const char* raw = reinterpret_cast<const char*>(orig);
    e.tupleOrig.assign(raw, raw + orig->nla_len);
    if (tb[CTA_ZONE] && mnl_attr_get_payload_len(tb[CTA_ZONE]) >= 2) e.zone = mnl_attr_get_u16(tb[CTA_ZONE]);
    ctx->out->push_back(std::move(e));
    return MNL_CB_OK;
}

nlmsghdr* header(char* buf, uint16_t msgType, uint16_t flags, int family, uint32_t seq) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = uint16_t((NFNL_SUBSYS_CTNETLINK << 8) | msgType);
    nlh->nlmsg_flags = flags;
    nlh->nlmsg_seq = seq;
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfg->nfgen_family = uint8_t(family);
    nfg->version = NFNETLINK_V0;
    nfg->res_id = 0;
    return nlh;
}

Error sysErr(int err, const std::string& what) {
    return Error(cni::kInternal, "conntrack: " + what + ": " + util::errnoDesc(err));
}

// Sends a dump request and runs onEntry over the replies. Returns an errno (0 = ok).
int dump(mnl_socket* sk, int family, DumpCtx& ctx, bool kernelFilter, uint32_t seq) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = header(buf.data(), IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, family, seq);
    if (kernelFilter) {
        nlattr* filter = mnl_attr_nest_start(nlh, CTA_FILTER);
        mnl_attr_put_u32(nlh, CTA_FILTER_ORIG_FLAGS, kFilterProtoNum | kFilterProtoDstPort);
        mnl_attr_put_u32(nlh, CTA_FILTER_REPLY_FLAGS, 0);
        mnl_attr_nest_end(nlh, filter);
        nlattr* tuple = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
        nlattr* proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
        mnl_attr_put_u8(nlh, CTA_PROTO_NUM, ctx.proto);
        mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(ctx.port));
        mnl_attr_nest_end(nlh, proto);
        mnl_attr_nest_end(nlh, tuple);
    }
    if (mnl_socket_sendto(sk, nlh, nlh->nlmsg_len) < 0) return errno;
    uint32_t portid = mnl_socket_get_portid(sk);
    std::vector<char> rx(1 << 16);
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(sk, rx.data(), rx.size());
        if (n < 0) return errno;
        int r = mnl_cb_run(rx.data(), size_t(n), seq, portid, onEntry, &ctx);
        if (r == MNL_CB_STOP) return 0;
        if (r < 0) return errno ? errno : EIO;
    }
}

}  // namespace

Error conntrackDeleteByDport(int family, uint8_t proto, uint16_t port) {
    if (family != AF_INET && family != AF_INET6) return Error(cni::kInternal, "conntrack: unknown address family");
    MnlSocket sk(mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC));
    if (!sk) return sysErr(errno, "open netlink socket");
    if (mnl_socket_bind(sk.get(), 0, MNL_SOCKET_AUTOPID) < 0) return sysErr(errno, "bind netlink socket");

    std::vector<Entry> found;
    DumpCtx ctx{proto, port, &found};
    uint32_t seq = uint32_t(time(nullptr));
    int err = dump(sk.get(), family, ctx, true, seq);
    if (err == EINVAL || err == EOPNOTSUPP) {   // a kernel without dump filters
        found.clear();
        err = dump(sk.get(), family, ctx, false, ++seq);
    }
    if (err == ENOENT) return {};   // no conntrack in this namespace
    if (err) return sysErr(err, "list entries");

    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    uint32_t portid = mnl_socket_get_portid(sk.get());
    for (const Entry& e : found) {
        nlmsghdr* nlh = header(buf.data(), IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, family, ++seq);
        auto* attr = static_cast<char*>(mnl_nlmsg_get_payload_tail(nlh));
        std::memcpy(attr, e.tupleOrig.data(), e.tupleOrig.size());
        nlh->nlmsg_len += uint32_t(MNL_ALIGN(e.tupleOrig.size()));
        if (e.zone) mnl_attr_put_u16(nlh, CTA_ZONE, *e.zone);
        if (mnl_socket_sendto(sk.get(), nlh, nlh->nlmsg_len) < 0) return sysErr(errno, "delete entry");
        ssize_t n = mnl_socket_recvfrom(sk.get(), buf.data(), buf.size());
        if (n < 0) return sysErr(errno, "delete entry");
        if (mnl_cb_run(buf.data(), size_t(n), seq, portid, nullptr, nullptr) < 0 && errno != ENOENT)
            return sysErr(errno, "delete entry");
    }
    return {};
}

}  // namespace nf
