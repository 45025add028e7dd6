// libFuzzer target: the kernel replies cnibox reads by hand rather than
// through libnl's / libnftnl's accessors. The first byte picks what the
// rest is:
//   0  an rtnetlink reply, delivered through a libnl socket whose send and
//      receive are replaced (nothing reaches a kernel; sequence checks off):
//      nl::tc::qdiscs (tcmsg + TCA_KIND, tbf's TCA_TBF_PARMS/RATE64),
//      nl::tc::filters (the u32 selector read in place, the TCA_U32_ACT
//      list of mirred actions), deleteQdisc's EINVAL re-check, the error
//      callback's extended-ack walk (common.cpp onError) on an ack, and the
//      libnl-parsed dumps of Socket (links, addrs, routes, rules, routeGet),
//      and netnsIdOf's RTM_NEWNSID (netns.cpp onNsid)
//   1  a TCA_OPTIONS attribute: tc.cpp's parseTbf and parseActions directly
//   2  an ipt_entry, 3 an ip6t_entry, as libiptc hands them over from the
//      kernel (checked as the kernel's xt_check_entry_offsets does first):
//      iptc.cpp's commentOf and the match-by-match comparison sameMatches
//   4  an nftables rule (expressions and their values, then the userdata),
//      built through libnftnl's setters: nft_parse.cpp's ruleComment (the
//      userdata TLVs), ruleTarget, shapeOf
//   5  a set's elements (keys, flags), likewise: setKeys
//   6  a conntrack dump reply: conntrack.cpp's onEntry / matches (mnl_cb_run)
//   7  a NETLINK_NETFILTER reply: nft_netlink.cpp's forEachMsg and extackMsg
// The functions in anonymous namespaces are reached by compiling their
// source file into this one (test/fuzz/meson.build leaves those files out
// of the target's other sources). Checks: an entry compares equal to
// itself and to itself with garbage after each match name's NUL (the kernel
// leaves those bytes as they were), and differs with a match revision
// changed; comments and texts hold no NUL; messages stay in their buffer.
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>

#include <libmnl/libmnl.h>
#include <netlink/handlers.h>
#include <netlink/socket.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "netlink/common.cpp"
#include "netlink/tc.cpp"
#include "netfilter/conntrack.cpp"
#include "netfilter/iptc.cpp"
#include "netfilter/nft_netlink.cpp"
#include "netfilter/nft_rule.h"

#include "fuzz_util.h"

namespace {

using fuzz::check;

// ---- private members, through explicit instantiation (which ignores access)
template <class Tag, typename Tag::type M>
struct Rob {
    friend typename Tag::type get(Tag) { return M; }
};
struct SockTag {
    using type = nl_sock* nl::Socket::*;
    friend type get(SockTag);
};
template struct Rob<SockTag, &nl::Socket::sk_>;
using SameFn = bool (*)(const uint8_t*, const uint8_t*, size_t, size_t);
struct Same4 {
    using type = SameFn;
    friend type get(Same4);
};
struct Same6 {
    using type = SameFn;
    friend type get(Same6);
};
template struct Rob<Same4, &nf::detail::IptcTable<nf::detail::V4>::sameMatches>;
template struct Rob<Same6, &nf::detail::IptcTable<nf::detail::V6>::sameMatches>;

// 8-byte aligned copy of the input with zeroed slack after it.
struct Buf {
    std::vector<uint64_t> words;
    size_t size = 0;
    Buf(const uint8_t* p, size_t n, size_t head = 0) : words((head + n + 64 + 7) / 8, 0), size(head + n) {
        if (n) std::memcpy(bytes() + head, p, n);
    }
    uint8_t* bytes() { return reinterpret_cast<uint8_t*>(words.data()); }
};

// ---- 0: a libnl socket answering with the input
struct Reply {
    std::string bytes;
    bool armed = false;
    uint16_t reqType = 0, reqFlags = 0;
} g_reply;

// What the kernel would answer the last request with, out of the input:
// a dump (RTM_GET* with NLM_F_DUMP) gets the messages of its type
// (RTM_GETX - 2 = RTM_NEWX) and the control messages; a single GET its
// first object or error; anything else (RTM_NEW*, RTM_DEL*) only control
// messages (its ack or error); a GET the input has no answer for gets
// ENODEV. Only whole messages are kept. (libnl's
// callers rely on this: Socket's dump callbacks cast whatever object
// nl_msg_parse made from a message to the type they asked for, so an
// RTM_NEWTFILTER in a link dump is an rtnl_cls read as an rtnl_link; and
// libnl's rtnl_link_get_kernel keeps the last of several objects, leaking
// the others, and succeeds with no object when the reply has none, which
// linkLabel and Socket::linkByIndex do not expect. See the report.)
// Whether the route attributes at `a` (`n` bytes) are as the kernel always
// sends them: every RTA_VIA holds at least its family (libnl's
// rtnl_route_parse copies nla_len - 2 bytes of it: a shorter one is a
// negative size), and every RTA_MULTIPATH next hop's length covers its
// header and, rounded up to 4 bytes, stays within the attribute (the
// kernel's lengths are whole 4-byte units: libnl's loop subtracts the
// rounded length from a size_t, so one that passes the end wraps it and the
// loop walks on past the attribute; one of length 0 never advances it; both
// allocate next hops until memory runs out); the next hops' own attributes
// likewise, but for RTA_MULTIPATH.
bool routeAttrsOk(const char* a, size_t n, bool inNextHop) {
    while (n >= sizeof(nlattr)) {
        nlattr h;
        std::memcpy(&h, a, sizeof h);
        if (h.nla_len < sizeof h || h.nla_len > n) return true;  // libnl stops here too
        size_t body = h.nla_len - NLA_HDRLEN;
        uint16_t t = h.nla_type & NLA_TYPE_MASK;
        if (t == RTA_VIA && body < 2) return false;
        if (t == RTA_MULTIPATH && !inNextHop) {
            const char* nh = a + NLA_HDRLEN;
            for (size_t left = body; left >= sizeof(rtnexthop);) {
                rtnexthop r;
                std::memcpy(&r, nh, sizeof r);
                size_t step = RTNH_ALIGN(r.rtnh_len);
                if (r.rtnh_len < sizeof r || step > left) return false;
                if (!routeAttrsOk(nh + RTNH_LENGTH(0), r.rtnh_len - RTNH_LENGTH(0), true)) return false;
                nh += step;
                left -= step;
            }
        }
        size_t step = std::min<size_t>(NLA_ALIGN(h.nla_len), n);
        a += step;
        n -= step;
    }
    return true;
}

// The route message at `p` (`len` bytes): its attributes as above.
bool routeAsKernelSends(const char* p, size_t len) {
    size_t head = NLMSG_SPACE(sizeof(rtmsg));
    return len <= head || routeAttrsOk(p + head, len - head, false);
}

std::string replyFor(const std::string& in, uint16_t type, uint16_t flags) {
    bool get = type >= RTM_BASE && type % 4 == 2, dump = flags & NLM_F_DUMP;
    std::string out;
    size_t off = 0, n = in.size();
    while (n - off >= sizeof(nlmsghdr)) {
        nlmsghdr h;
        std::memcpy(&h, in.data() + off, sizeof h);
        if (h.nlmsg_len < sizeof h || h.nlmsg_len > n - off) break;
        size_t step = std::min<size_t>(NLMSG_ALIGN(h.nlmsg_len), n - off);
        bool control = h.nlmsg_type < NLMSG_MIN_TYPE, mine = get && h.nlmsg_type == type - 2;
        int32_t err = 0;
        if (h.nlmsg_type == NLMSG_ERROR && h.nlmsg_len >= NLMSG_HDRLEN + sizeof err)
            std::memcpy(&err, in.data() + off + NLMSG_HDRLEN, sizeof err);
        if (err > 0 || err < -4095 ||  // the kernel's errors are -errno (MAX_ERRNO 4095)
            (h.nlmsg_type == RTM_NEWROUTE && !routeAsKernelSends(in.data() + off, h.nlmsg_len))) {
            off += step;
            continue;
        }
        if (get && !dump) {
            if (mine || err < 0) {
                // One message, not part of an interrupted dump (libnl's
                // nl_pickup leaks the object it got when the read then
                // fails, as NLM_F_DUMP_INTR makes it).
                out.append(in, off, step);
                auto* m = reinterpret_cast<nlmsghdr*>(out.data());
                m->nlmsg_flags = static_cast<uint16_t>(m->nlmsg_flags & ~(NLM_F_DUMP_INTR | NLM_F_MULTI));
                break;
            }
        } else if (control || mine) {
            out.append(in, off, step);
        }
        off += step;
    }
    if (get && !dump && out.empty()) {  // no such object: the kernel's error
        nlmsghdr h{};
        nlmsgerr e{};
        h.nlmsg_len = NLMSG_HDRLEN + sizeof e;
        h.nlmsg_type = NLMSG_ERROR;
        e.error = -ENODEV;
        out.append(reinterpret_cast<const char*>(&h), sizeof h);
        out.append(reinterpret_cast<const char*>(&e), sizeof e);
    }
    return out;
}

int fakeSend(nl_sock*, nl_msg* m) {
    const nlmsghdr* h = nlmsg_hdr(m);
    g_reply.reqType = h->nlmsg_type;
    g_reply.reqFlags = h->nlmsg_flags;
    g_reply.armed = true;  // each request gets its reply once
    return 0;
}

int fakeRecv(nl_sock*, sockaddr_nl* nla, unsigned char** buf, ucred** creds) {
    if (!g_reply.armed) return 0;
    g_reply.armed = false;
    std::string r = replyFor(g_reply.bytes, g_reply.reqType, g_reply.reqFlags);
    if (r.empty()) return 0;
    *buf = static_cast<unsigned char*>(std::malloc(r.size()));
    if (!*buf) return -NLE_NOMEM;
    std::memcpy(*buf, r.data(), r.size());
    if (nla) {
        std::memset(nla, 0, sizeof *nla);
        nla->nl_family = AF_NETLINK;
    }
    if (creds) *creds = nullptr;
    return static_cast<int>(r.size());
}

nl::Socket& fakeSocket() {
    static nl::Socket s = [] {
        nl::Socket s;
        nl_sock* sk = nl_socket_alloc();  // never connected: no file descriptor
        if (!sk) std::abort();
        nl::detail::setupSocket(sk);      // its setsockopt calls fail on fd -1
        nl_socket_disable_seq_check(sk);  // libnl's sequence numbers start at time(NULL)
        nl_cb* cb = nl_socket_get_cb(sk);
        nl_cb_overwrite_send(cb, fakeSend);
        nl_cb_overwrite_recv(cb, fakeRecv);
        nl_cb_put(cb);
        s.*get(SockTag{}) = sk;
        return s;
    }();
    return s;
}

void rtnetlink(const uint8_t* p, size_t n) {
    g_reply.bytes.assign(reinterpret_cast<const char*>(p), n);
    g_reply.armed = false;
    nl::t_kerr = {};
    nl::Socket& sk = fakeSocket();
    std::vector<nl::tc::Qdisc> qs;
    if (!nl::tc::qdiscs(sk, 1, qs))
        for (const auto& q : qs) check(q.kind.size() < IFNAMSIZ * 2 && (q.kind == "tbf" || !q.tbf));
    std::vector<nl::tc::Filter> fs;
    if (!nl::tc::filters(sk, 1, nl::tc::kIngressHandle, fs))
        for (const auto& f : fs) {
            check(f.kind == "u32");
            (void)f.redirectsTo(2);
        }
    bool found = false;
    (void)nl::tc::deleteQdisc(sk, 1, nl::tc::handle(1, 0), nl::tc::kRoot, &found);
    (void)nl::tc::addIngress(sk, 1);
    // libnl-parsed dumps and GETs.
    std::vector<nl::LinkInfo> links;
    (void)sk.links(links);
    nl::LinkInfo link;
    (void)sk.linkByIndex(1, link, found);
    std::vector<nl::AddrInfo> addrs;
    (void)sk.addrs(1, 0, addrs);
    std::vector<nl::Socket::RouteInfo> routes;
    (void)sk.routes(0, 0, 0, routes);
    int oif = 0;
    (void)sk.routeGet(*util::IP::parse("10.0.0.1"), oif);
    std::vector<nl::Socket::RuleInfo> rules;
    (void)sk.rules(0, rules);
    static const nl::Netns here = [] {
        nl::Netns ns;
        if (nl::Netns::current(ns)) std::abort();
        return ns;
    }();
    int nsid = 0;
    if (!sk.netnsIdOf(here, nsid)) check(nsid >= -1);
    g_reply.bytes.clear();
}

// ---- 1: tc options
void tcOptions(const uint8_t* p, size_t n) {
    if (n > 0xffff - NLA_HDRLEN) n = 0xffff - NLA_HDRLEN;
    Buf b(p, n, NLA_HDRLEN);
    auto* a = reinterpret_cast<nlattr*>(b.bytes());
    a->nla_len = static_cast<uint16_t>(NLA_HDRLEN + n);
    a->nla_type = TCA_OPTIONS | NLA_F_NESTED;
    (void)nl::tc::parseTbf(a);
    for (const auto& m : nl::tc::parseActions(a)) (void)m;
    check(nl::tc::kindOf(a).size() < IFNAMSIZ * 2);
}

// ---- 2, 3: iptables entries
// What the kernel's xt_check_entry_offsets / xt_check_entry_match accept,
// plus what xt_check_match/xt_check_target make of it: sizes of whole
// XT_ALIGN units (so the target is aligned too) and match names
// NUL-terminated (the kernel copies them back with their NUL).
template <class Entry>
bool kernelValid(const uint8_t* p, size_t size) {
    const auto* e = reinterpret_cast<const Entry*>(p);
    if (e->target_offset < sizeof(Entry) || e->target_offset + sizeof(xt_entry_target) > e->next_offset ||
        e->next_offset > size || e->target_offset % alignof(xt_entry_target))
        return false;
    const auto* t = reinterpret_cast<const xt_entry_target*>(p + e->target_offset);
    if (t->u.target_size < sizeof(xt_entry_target) || e->target_offset + t->u.target_size > e->next_offset)
        return false;
    for (size_t off = sizeof(Entry); off < e->target_offset;) {
        if (off % alignof(xt_entry_match) || e->target_offset - off < sizeof(xt_entry_match)) return false;
        const auto* m = reinterpret_cast<const xt_entry_match*>(p + off);
        if (m->u.match_size < sizeof(xt_entry_match) || m->u.match_size > e->target_offset - off) return false;
        if (!std::memchr(m->u.user.name, 0, sizeof m->u.user.name)) return false;
        off += m->u.match_size;
    }
    return true;
}

template <class Entry>
void iptEntry(const uint8_t* p, size_t n, SameFn same) {
    if (n < sizeof(Entry) || n > 0xffff) return;
    Buf b(p, n);
    auto* e = reinterpret_cast<Entry*>(b.bytes());
    e->next_offset = static_cast<uint16_t>(n);  // libiptc's entries are whole
    if (!kernelValid<Entry>(b.bytes(), n)) return;
    std::string c = nf::detail::commentOf(e);
    check(c.size() <= XT_MAX_COMMENT_LEN && c.find('\0') == std::string::npos);

    check(same(b.bytes(), b.bytes(), sizeof(Entry), e->target_offset));
    Buf garbage = b;
    bool anyMatch = false;
    for (size_t off = sizeof(Entry); off < e->target_offset;) {
        auto* m = reinterpret_cast<xt_entry_match*>(garbage.bytes() + off);
        size_t len = strnlen(m->u.user.name, sizeof m->u.user.name);
        std::memset(m->u.user.name + len + 1, 0xa5, sizeof m->u.user.name - len - 1);
        anyMatch = true;
        off += m->u.match_size;
    }
    check(same(b.bytes(), garbage.bytes(), sizeof(Entry), e->target_offset));
    if (anyMatch) {
        auto* m = reinterpret_cast<xt_entry_match*>(garbage.bytes() + sizeof(Entry));
        m->u.user.revision ^= 1;
        check(!same(b.bytes(), garbage.bytes(), sizeof(Entry), e->target_offset));
    }
}

// ---- 4, 5: nftables objects
// libnftnl 1.2.4's message parsers dereference missing attributes (an
// expression without NFTA_EXPR_NAME, a lookup without its set name, ...),
// which the kernel always sends, so they are not fuzzed here: the objects
// are built from the bytes through libnftnl's setters instead, with values
// of the types the kernel reports (any numbers, short strings, <= 16 bytes
// of data), and the userdata (which the kernel stores unchecked, as any
// process with CAP_NET_ADMIN gave it) taken whole from the input.
struct Reader {
    const uint8_t* p;
    size_t n;
    uint8_t u8() { return n ? (n--, *p++) : 0; }
    uint32_t u32() {
        uint32_t v = 0;
        for (int i = 0; i < 4; i++) v = v << 8 | u8();
        return v;
    }
    std::string bytes(size_t max) {
        size_t len = std::min<size_t>(u8() % (max + 1), n);
        std::string s(reinterpret_cast<const char*>(p), len);
        p += len;
        n -= len;
        return s;
    }
};

struct Attr {
    uint16_t id;
    char kind;  // 'u' u32, '8' u8, 's' string, 'd' data
};
struct ExprSpec {
    const char* name;
    std::vector<Attr> attrs;
};

const std::vector<ExprSpec>& exprSpecs() {
    static const std::vector<ExprSpec> specs = {
        // (no NFTNL_EXPR_IMM_DATA: libnftnl keeps it in a union with the
        // chain's pointer, and setting both leaks the chain's copy; a chain
        // comes with a jump or goto verdict, as from the kernel: libnftnl
        // frees the chain only then)
        {"immediate", {{NFTNL_EXPR_IMM_DREG, 'u'}, {NFTNL_EXPR_IMM_VERDICT, 'u'}, {NFTNL_EXPR_IMM_CHAIN, 's'}}},
        {"masq", {{NFTNL_EXPR_MASQ_FLAGS, 'u'}, {NFTNL_EXPR_MASQ_REG_PROTO_MIN, 'u'}, {NFTNL_EXPR_MASQ_REG_PROTO_MAX, 'u'}}},
        {"nat", {{NFTNL_EXPR_NAT_TYPE, 'u'}, {NFTNL_EXPR_NAT_FAMILY, 'u'}, {NFTNL_EXPR_NAT_REG_ADDR_MIN, 'u'},
                 {NFTNL_EXPR_NAT_REG_ADDR_MAX, 'u'}, {NFTNL_EXPR_NAT_REG_PROTO_MIN, 'u'},
                 {NFTNL_EXPR_NAT_REG_PROTO_MAX, 'u'}, {NFTNL_EXPR_NAT_FLAGS, 'u'}}},
        {"redir", {{NFTNL_EXPR_REDIR_REG_PROTO_MIN, 'u'}, {NFTNL_EXPR_REDIR_REG_PROTO_MAX, 'u'},
                   {NFTNL_EXPR_REDIR_FLAGS, 'u'}}},
        {"reject", {{NFTNL_EXPR_REJECT_TYPE, 'u'}, {NFTNL_EXPR_REJECT_CODE, '8'}}},
        {"meta", {{NFTNL_EXPR_META_KEY, 'u'}, {NFTNL_EXPR_META_DREG, 'u'}, {NFTNL_EXPR_META_SREG, 'u'}}},
        {"lookup", {{NFTNL_EXPR_LOOKUP_SREG, 'u'}, {NFTNL_EXPR_LOOKUP_DREG, 'u'}, {NFTNL_EXPR_LOOKUP_SET, 's'},
                    {NFTNL_EXPR_LOOKUP_SET_ID, 'u'}, {NFTNL_EXPR_LOOKUP_FLAGS, 'u'}}},
        {"payload", {{NFTNL_EXPR_PAYLOAD_DREG, 'u'}, {NFTNL_EXPR_PAYLOAD_BASE, 'u'}, {NFTNL_EXPR_PAYLOAD_OFFSET, 'u'},
                     {NFTNL_EXPR_PAYLOAD_LEN, 'u'}}},
        {"cmp", {{NFTNL_EXPR_CMP_SREG, 'u'}, {NFTNL_EXPR_CMP_OP, 'u'}, {NFTNL_EXPR_CMP_DATA, 'd'}}},
        {"counter", {}},
    };
    return specs;
}

void nftRule(const uint8_t* p, size_t n) {
    Reader rd{p, n};
    nf::nft::RulePtr r(nftnl_rule_alloc());
    if (!r) return;
    nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, "cni");
    nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, "CNI-HOSTPORT-DNAT");
    int count = rd.u8() % 8;
    for (int i = 0; i < count; i++) {
        const ExprSpec& spec = exprSpecs()[rd.u8() % exprSpecs().size()];
        nftnl_expr* e = nftnl_expr_alloc(spec.name);
        if (!e) return;
        uint8_t mask = rd.u8();
        bool chain = std::string_view(spec.name) == "immediate" && (mask & 4);
        if (chain) mask |= 2;
        for (size_t a = 0; a < spec.attrs.size(); a++) {
            if (!(mask >> a & 1)) continue;
            const Attr& at = spec.attrs[a];
            if (at.kind == 'u') {
                uint32_t v = rd.u32();
                if (chain && at.id == NFTNL_EXPR_IMM_VERDICT) v = static_cast<uint32_t>(v & 1 ? NFT_GOTO : NFT_JUMP);
                nftnl_expr_set_u32(e, at.id, v);
            } else if (at.kind == '8') {
                nftnl_expr_set_u8(e, at.id, rd.u8());
            } else if (at.kind == 's') {
                nftnl_expr_set_str(e, at.id, rd.bytes(32).c_str());
            } else {
                std::string d = rd.bytes(16);
                nftnl_expr_set(e, at.id, d.data(), static_cast<uint32_t>(d.size()));
            }
        }
        nftnl_rule_add_expr(r.get(), e);
    }
    std::string ud(reinterpret_cast<const char*>(rd.p), std::min<size_t>(rd.n, 256));  // NFT_USERDATA_MAXLEN
    if (!ud.empty()) nftnl_rule_set_data(r.get(), NFTNL_RULE_USERDATA, ud.data(), static_cast<uint32_t>(ud.size()));

    std::string comment = nf::nft::ruleComment(r.get());
    check(comment.find('\0') == std::string::npos && comment.size() <= ud.size());
    std::string chain = "CNI-HOSTPORT-DNAT";
    bool jumps = false;
    (void)nf::nft::ruleTarget(r.get(), &chain, &jumps);
    (void)nf::nft::ruleTarget(r.get());
    nf::nft::RuleShape s = nf::nft::shapeOf(r.get());
    check(s.comment == comment && s.exprs.size() == static_cast<size_t>(count));
    for (const auto& [i, name] : s.sets) check(i < s.exprs.size());
}

void nftSetElems(const uint8_t* p, size_t n) {
    Reader rd{p, n};
    nf::nft::SetPtr s(nftnl_set_alloc());
    if (!s) return;
    int count = rd.u8() % 16;
    for (int i = 0; i < count; i++) {
        nftnl_set_elem* e = nftnl_set_elem_alloc();
        if (!e) return;
        uint8_t what = rd.u8();
        if (what & 1) {
            std::string k = rd.bytes(64);  // NFT_DATA_VALUE_MAXLEN
            nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k.data(), static_cast<uint32_t>(k.size()));
        }
        if (what & 2) nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, rd.u32());
        nftnl_set_elem_add(s.get(), e);
    }
    auto keys = nf::nft::setKeys(s.get());
    check(keys.size() == static_cast<size_t>(count));
    for (size_t i = 1; i < keys.size(); i++) check(keys[i - 1] <= keys[i]);
}

// ---- 6: conntrack
// The whole messages at the start of buf[0, n): what a kernel datagram
// holds. (libmnl 1.0.4's mnl_nlmsg_ok compares an nlmsg_len over INT_MAX as
// a negative int and walks off the buffer: not a reply the kernel sends.)
size_t wholeMessages(const uint8_t* buf, size_t n) {
    size_t off = 0;
    while (n - off >= sizeof(nlmsghdr)) {
        nlmsghdr h;
        std::memcpy(&h, buf + off, sizeof h);
        if (h.nlmsg_len < sizeof h || h.nlmsg_len > n - off) break;
        off += std::min<size_t>(NLMSG_ALIGN(h.nlmsg_len), n - off);
    }
    return off;
}

void conntrack(const uint8_t* p, size_t n) {
    Buf b(p, n);
    n = wholeMessages(b.bytes(), n);
    for (auto [proto, port] : {std::pair<uint8_t, uint16_t>{6, 8080}, {17, 53}}) {
        std::vector<nf::Entry> out;
        nf::DumpCtx ctx{proto, port, &out};
        (void)mnl_cb_run(b.bytes(), n, 0, 0, nf::onEntry, &ctx);
        for (const auto& e : out) check(e.tupleOrig.size() >= NLA_HDRLEN && e.tupleOrig.size() <= n);
    }
}

// ---- 7: NETLINK_NETFILTER replies
void nfReplies(const uint8_t* p, size_t n) {
    Buf b(p, n);
    const char* base = reinterpret_cast<const char*>(b.bytes());
    nf::nft::forEachMsg(base, n, [&](const nlmsghdr* h) {
        const char* at = reinterpret_cast<const char*>(h);
        check(at >= base && at + h->nlmsg_len <= base + n && h->nlmsg_len >= sizeof(nlmsghdr));
        // The kernel's errors always hold a whole nlmsgerr.
        if (h->nlmsg_type == NLMSG_ERROR && h->nlmsg_len >= NLMSG_HDRLEN + sizeof(nlmsgerr)) {
            std::string m = nf::nft::extackMsg(h);
            check(m.size() < h->nlmsg_len && m.find('\0') == std::string::npos);
        }
        return true;
    });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const uint8_t* p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 8) {
        case 0: rtnetlink(p, n); break;
        case 1: tcOptions(p, n); break;
        case 2: iptEntry<ipt_entry>(p, n, get(Same4{})); break;
        case 3: iptEntry<ip6t_entry>(p, n, get(Same6{})); break;
        case 4: nftRule(p, n); break;
        case 5: nftSetElems(p, n); break;
        case 6: conntrack(p, n); break;
        case 7: nfReplies(p, n); break;
    }
    return 0;
}
