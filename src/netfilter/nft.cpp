// The nftables backend: nf::Table on libnftnl. Every change is a netlink
// message queued into one NFNL batch that commit() sends (atomic); queries
// are single GETs or dumps of this table only.
//
// Rules are rendered the way nft(8) renders the equivalent syntax, so that
// `nft list ruleset` prints them as written in the comments below and rules
// added by nft compare as identical.
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <net/if.h>
#include <sys/stat.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "netfilter/internal.h"
#include "netfilter/nft_netlink.h"
#include "util/fs.h"

namespace nf::detail {

namespace {

using nft::Msg;
using nft::Socket;

struct RuleFree { void operator()(nftnl_rule* r) const { nftnl_rule_free(r); } };
struct SetFree { void operator()(nftnl_set* s) const { nftnl_set_free(s); } };
struct ChainFree { void operator()(nftnl_chain* c) const { nftnl_chain_free(c); } };
struct TableFree { void operator()(nftnl_table* t) const { nftnl_table_free(t); } };
struct UdataFree { void operator()(nftnl_udata_buf* b) const { nftnl_udata_buf_free(b); } };
using RulePtr = std::unique_ptr<nftnl_rule, RuleFree>;
using SetPtr = std::unique_ptr<nftnl_set, SetFree>;
using ChainPtr = std::unique_ptr<nftnl_chain, ChainFree>;
using TablePtr = std::unique_ptr<nftnl_table, TableFree>;
using UdataPtr = std::unique_ptr<nftnl_udata_buf, UdataFree>;

constexpr uint32_t kReg1 = NFT_REG_1, kReg2 = NFT_REG_2;
constexpr uint32_t kInetService = 13;    // nft's datatype id of ports (TYPE_INET_SERVICE)
constexpr uint32_t kBigEndian = 2;       // nft's BYTEORDER_BIG_ENDIAN (set key udata)
constexpr const char* kAnonSet = "__set%d";

uint8_t nfproto(Family f) {
    switch (f) {
        case Family::kIPv4: return NFPROTO_IPV4;
        case Family::kIPv6: return NFPROTO_IPV6;
        case Family::kInet: return NFPROTO_INET;
        case Family::kBridge: return NFPROTO_BRIDGE;
    }
    return NFPROTO_UNSPEC;
}

const char* familyName(Family f) {
    switch (f) {
        case Family::kIPv4: return "ip";
        case Family::kIPv6: return "ip6";
        case Family::kInet: return "inet";
        case Family::kBridge: return "bridge";
    }
    return "?";
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::atomic<uint32_t> gSetId{0};

// ---------------------------------------------------------------------------
// Rendering the IR into nftnl expressions
// ---------------------------------------------------------------------------

class Builder {
public:
    explicit Builder(nftnl_rule* r) : r_(r) {}

    void payload(uint32_t base, uint32_t off, uint32_t len) {
        auto* e = nftnl_expr_alloc("payload");
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, kReg1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
        nftnl_rule_add_expr(r_, e);
    }
    void cmp(bool neq, const void* data, uint32_t len) {
        auto* e = nftnl_expr_alloc("cmp");
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, kReg1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, neq ? NFT_CMP_NEQ : NFT_CMP_EQ);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
        nftnl_rule_add_expr(r_, e);
    }
    void cmp32(bool neq, uint32_t v) { cmp(neq, &v, sizeof v); }
    void meta(uint32_t key) {
        auto* e = nftnl_expr_alloc("meta");
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, kReg1);
        nftnl_rule_add_expr(r_, e);
    }
    void metaSet(uint32_t key) {
        auto* e = nftnl_expr_alloc("meta");
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, kReg1);
        nftnl_rule_add_expr(r_, e);
    }
    void bitwise(const void* mask, const void* xorv, uint32_t len) {
        auto* e = nftnl_expr_alloc("bitwise");
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, kReg1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, kReg1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xorv, len);
        nftnl_rule_add_expr(r_, e);
    }
    void bitwise32(uint32_t mask, uint32_t xorv) { bitwise(&mask, &xorv, 4); }
    void ct(uint32_t key) {
        auto* e = nftnl_expr_alloc("ct");
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, kReg1);
        nftnl_rule_add_expr(r_, e);
    }
    void fib(uint32_t flags, uint32_t result) {
        auto* e = nftnl_expr_alloc("fib");
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, flags);
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, result);
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, kReg1);
        nftnl_rule_add_expr(r_, e);
    }
    void lookup(uint32_t setId) {
        auto* e = nftnl_expr_alloc("lookup");
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, kReg1);
        nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, kAnonSet);
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, setId);
        nftnl_rule_add_expr(r_, e);
    }
    void immData(uint32_t reg, const void* data, uint32_t len) {
        auto* e = nftnl_expr_alloc("immediate");
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, reg);
        nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
        nftnl_rule_add_expr(r_, e);
    }
    void verdict(int v, const std::string& chain = {}) {
        auto* e = nftnl_expr_alloc("immediate");
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(v));
        if (!chain.empty()) nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain.c_str());
        nftnl_rule_add_expr(r_, e);
    }
    void masq() { nftnl_rule_add_expr(r_, nftnl_expr_alloc("masq")); }
    void dnat(uint32_t family, bool port) {
        auto* e = nftnl_expr_alloc("nat");
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, family);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, kReg1);
        if (port) {
            nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, kReg2);
            nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
        }
        nftnl_rule_add_expr(r_, e);
    }

private:
    nftnl_rule* r_;
};

// ip saddr / ip daddr (ip6 ...): byte-aligned prefixes load only the prefix
// bytes; other prefixes are masked with bitwise, as nft does.
void addrMatch(Builder& b, const util::IPNet& n, bool dst, bool neg) {
    bool v6 = n.ip.is6();
    uint32_t off = v6 ? (dst ? 24 : 8) : (dst ? 16 : 12);
    uint32_t len = v6 ? 16 : 4;
    int prefix = std::clamp(n.prefix, 0, static_cast<int>(len * 8));
    util::IP net = n.network();
    if (prefix == 0) {
        // x.x.x.x/0 matches every packet of the family; nothing to compare.
        return;
    }
    if (prefix % 8 == 0) {
        b.payload(NFT_PAYLOAD_NETWORK_HEADER, off, prefix / 8);
        b.cmp(neg, net.b.data(), prefix / 8);
        return;
    }
    std::array<uint8_t, 16> mask{}, zero{};
    for (int i = 0; i < prefix; ++i) mask[i / 8] |= static_cast<uint8_t>(0x80 >> (i % 8));
    b.payload(NFT_PAYLOAD_NETWORK_HEADER, off, len);
    b.bitwise(mask.data(), zero.data(), len);
    b.cmp(neg, net.b.data(), len);
}

// iifname / oifname: the name padded to IFNAMSIZ; a trailing '*' or '+' is a
// prefix match (nft prints "br*").
void ifnameMatch(Builder& b, uint32_t key, const std::string& name, bool neg) {
    b.meta(key);
    char buf[IFNAMSIZ] = {};
    bool wildcard = !name.empty() && (name.back() == '*' || name.back() == '+');
    size_t n = std::min(name.size() - (wildcard ? 1 : 0), sizeof buf - 1);
    std::memcpy(buf, name.data(), n);
    b.cmp(neg, buf, wildcard ? static_cast<uint32_t>(n) : IFNAMSIZ);
}

std::string verdictText(const Action& a) {
    switch (a.verdict) {
        case Verdict::kAccept: return "accept";
        case Verdict::kDrop: return "drop";
        case Verdict::kReturn: return "return";
        case Verdict::kJump: return "jump " + a.chain;
        case Verdict::kGoto: return "goto " + a.chain;
        case Verdict::kMasquerade: return "masquerade";
        case Verdict::kDnat: {
            std::string addr = a.toAddr.is6() && a.toPort ? "[" + a.toAddr.str() + "]" : a.toAddr.str();
            return "dnat to " + addr + (a.toPort ? ":" + std::to_string(a.toPort) : "");
        }
        case Verdict::kSetMark: return "meta mark set";
    }
    return "?";
}

struct Rendered {
    RulePtr rule;
    SetPtr set;  // the anonymous set of a dports lookup, if any
};

Error render(const Rule& r, Family fam, const std::string& table, const std::string& chain, Rendered& out) {
    const Match& m = r.match;
    const Action& a = r.action;
    out.rule.reset(nftnl_rule_alloc());
    nftnl_rule* rule = out.rule.get();
    nftnl_rule_set_u32(rule, NFTNL_RULE_FAMILY, nfproto(fam));
    nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, table.c_str());
    nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, chain.c_str());
    Builder b(rule);

    // The address family of the rule's address matches.
    int af = 0;
    for (const auto* n : {m.src ? &*m.src : nullptr, m.dst ? &*m.dst : nullptr}) {
        if (!n) continue;
        int f = n->ip.is6() ? AF_INET6 : AF_INET;
        if (af && af != f) return {cni::kInternal, "nftables: a rule cannot match IPv4 and IPv6 addresses at once"};
        af = f;
    }
    if ((fam == Family::kIPv4 && af == AF_INET6) || (fam == Family::kIPv6 && af == AF_INET))
        return {cni::kInternal, std::string("nftables: address of the wrong family for table family ") + familyName(fam)};

    if (m.etherSrc) {
        if (fam != Family::kBridge) return {cni::kInternal, "nftables: ether saddr is only supported in the bridge family"};
        // ether saddr aa:bb:cc:dd:ee:ff
        b.payload(NFT_PAYLOAD_LL_HEADER, 6, 6);
        b.cmp(false, m.etherSrc->data(), 6);
    }
    if (af) {
        if (fam == Family::kInet) {  // meta nfproto ipv4|ipv6
            b.meta(NFT_META_NFPROTO);
            uint8_t p = af == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
            b.cmp(false, &p, 1);
        } else if (fam == Family::kBridge) {  // meta protocol ip|ip6
            b.meta(NFT_META_PROTOCOL);
            uint16_t p = htons(af == AF_INET ? 0x0800 : 0x86dd);
            b.cmp(false, &p, 2);
        }
    }
    if (m.src) addrMatch(b, *m.src, false, m.notSrc);
    if (m.dst) addrMatch(b, *m.dst, true, m.notDst);
    if (!m.iif.empty()) ifnameMatch(b, NFT_META_IIFNAME, m.iif, m.notIif);
    if (!m.oif.empty()) ifnameMatch(b, NFT_META_OIFNAME, m.oif, m.notOif);
    if (!m.dports.empty() && m.proto == 0)
        return {cni::kInternal, "nftables: destination ports need a protocol"};
    if (m.proto) {  // meta l4proto tcp
        b.meta(NFT_META_L4PROTO);
        b.cmp(false, &m.proto, 1);
    }
    if (!m.dports.empty()) {
        // tcp dport 80 / tcp dport { 80, 443 } (offset 2 in tcp, udp and sctp)
        b.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
        std::vector<uint16_t> ports(m.dports);
        std::sort(ports.begin(), ports.end());
        ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
        if (ports.size() == 1) {
            uint16_t p = htons(ports[0]);
            b.cmp(false, &p, 2);
        } else {
            uint32_t id = ++gSetId;
            out.set.reset(nftnl_set_alloc());
            nftnl_set* s = out.set.get();
            nftnl_set_set_u32(s, NFTNL_SET_FAMILY, nfproto(fam));
            nftnl_set_set_str(s, NFTNL_SET_TABLE, table.c_str());
            nftnl_set_set_str(s, NFTNL_SET_NAME, kAnonSet);
            nftnl_set_set_u32(s, NFTNL_SET_ID, id);
            nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT);
            nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, kInetService);
            nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 2);
            nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, static_cast<uint32_t>(ports.size()));
            UdataPtr ud(nftnl_udata_buf_alloc(64));
            nftnl_udata_put_u32(ud.get(), NFTNL_UDATA_SET_KEYBYTEORDER, kBigEndian);
            nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud.get()), nftnl_udata_buf_len(ud.get()));
            for (uint16_t port : ports) {
                nftnl_set_elem* el = nftnl_set_elem_alloc();
                uint16_t p = htons(port);
                nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, &p, 2);
                nftnl_set_elem_add(s, el);
            }
            b.lookup(id);
        }
    }
    if (m.dstLocal) {  // fib daddr type local
        b.fib(NFTA_FIB_F_DADDR, NFT_FIB_RESULT_ADDRTYPE);
        b.cmp32(false, 2 /* RTN_LOCAL */);
    }
    if (m.mark) {  // meta mark 0x1 / meta mark & 0x2000 == 0x2000
        b.meta(NFT_META_MARK);
        if (m.markMask != 0xffffffff) b.bitwise32(m.markMask, 0);
        b.cmp32(false, *m.mark);
    }
    if (m.ctRelatedEstablished) {  // ct state related,established
        b.ct(NFT_CT_STATE);
        b.bitwise32(NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED), 0);
        b.cmp32(true, 0);
    }

    switch (a.verdict) {
        case Verdict::kAccept: b.verdict(NF_ACCEPT); break;
        case Verdict::kDrop: b.verdict(NF_DROP); break;
        case Verdict::kReturn: b.verdict(NFT_RETURN); break;
        case Verdict::kJump:
        case Verdict::kGoto:
            if (a.chain.empty()) return {cni::kInternal, "nftables: jump/goto without a chain"};
            b.verdict(a.verdict == Verdict::kJump ? NFT_JUMP : NFT_GOTO, a.chain);
            break;
        case Verdict::kMasquerade: b.masq(); break;
        case Verdict::kDnat: {
            // dnat ip to 10.0.0.2:80 (ip family: dnat to ...)
            if (!a.toAddr.valid()) return {cni::kInternal, "nftables: dnat without an address"};
            bool v6 = a.toAddr.is6();
            if ((fam == Family::kIPv4 && v6) || (fam == Family::kIPv6 && !v6))
                return {cni::kInternal, std::string("nftables: dnat address of the wrong family for table family ") +
                                            familyName(fam)};
            b.immData(kReg1, a.toAddr.b.data(), v6 ? 16 : 4);
            if (a.toPort) {
                uint16_t p = htons(a.toPort);
                b.immData(kReg2, &p, 2);
            }
            b.dnat(v6 ? NFPROTO_IPV6 : NFPROTO_IPV4, a.toPort != 0);
            break;
        }
        case Verdict::kSetMark:
            // meta mark set 0x1 / meta mark set meta mark & ~mask | mark
            if (a.mask == 0xffffffff) {
                b.immData(kReg1, &a.mark, 4);
            } else {
                b.meta(NFT_META_MARK);
                b.bitwise32(~a.mask, a.mark);
            }
            b.metaSet(NFT_META_MARK);
            break;
    }

    if (!r.comment.empty()) {
        UdataPtr ud(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
        if (r.comment.size() + 1 > 255 || !nftnl_udata_put_strz(ud.get(), NFTNL_UDATA_RULE_COMMENT, r.comment.c_str()))
            return {cni::kInternal, "nftables: rule comment too long"};
        nftnl_rule_set_data(rule, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud.get()), nftnl_udata_buf_len(ud.get()));
    }
    return {};
}

// ---------------------------------------------------------------------------
// Reading rules back
// ---------------------------------------------------------------------------

std::string ruleComment(const nftnl_rule* r) {
    if (!nftnl_rule_is_set(r, NFTNL_RULE_USERDATA)) return {};
    uint32_t len = 0;
    const void* data = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
    std::string out;
    nftnl_udata_parse(
        data, len,
        [](const nftnl_udata* a, void* p) -> int {
            if (nftnl_udata_type(a) == NFTNL_UDATA_RULE_COMMENT) {
                const char* s = static_cast<const char*>(nftnl_udata_get(a));
                *static_cast<std::string*>(p) = std::string(s, strnlen(s, nftnl_udata_len(a)));
            }
            return 0;
        },
        &out);
    return out;
}

std::string verdictTarget(const nftnl_expr* e) {
    int v = static_cast<int>(nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT));
    switch (v) {
        case NF_ACCEPT: return "ACCEPT";
        case NF_DROP: return "DROP";
        case NFT_RETURN: return "RETURN";
        case NFT_JUMP:
        case NFT_GOTO:
            return nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN) ? nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN) : "";
        default: return "";
    }
}

// The rule's target as list() reports it, and whether it jumps/goes to `chain`.
std::string ruleTarget(nftnl_rule* r, const std::string* jumpsTo = nullptr, bool* jumps = nullptr) {
    std::string target;
    nftnl_expr_iter* it = nftnl_expr_iter_create(r);
    while (nftnl_expr* e = nftnl_expr_iter_next(it)) {
        std::string_view name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
        if (name == "immediate") {
            if (nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG) != NFT_REG_VERDICT) continue;
            target = verdictTarget(e);
            int v = static_cast<int>(nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT));
            if (jumps && (v == NFT_JUMP || v == NFT_GOTO) && target == *jumpsTo) *jumps = true;
        } else if (name == "masq") {
            target = "MASQUERADE";
        } else if (name == "nat") {
            target = nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_TYPE) == NFT_NAT_DNAT ? "DNAT" : "SNAT";
        } else if (name == "redir") {
            target = "REDIRECT";
        } else if (name == "reject") {
            target = "REJECT";
        } else if (name == "meta" && nftnl_expr_is_set(e, NFTNL_EXPR_META_SREG) &&
                   nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY) == NFT_META_MARK) {
            target = "MARK";
        }
    }
    nftnl_expr_iter_destroy(it);
    return target;
}

// The rule's expressions as comparable texts. A lookup's set is named by the
// kernel ("__set3") and compared by its elements: its text is a placeholder
// and its set name is returned in `sets` (index into the texts).
struct RuleShape {
    std::vector<std::string> exprs;
    std::vector<std::pair<size_t, std::string>> sets;
    std::string comment;
};

// The kernel completes a nat expression (max registers = min registers,
// flags for the registers given): compare that completed form.
std::string natText(const nftnl_expr* e) {
    auto reg = [&](uint16_t a) { return nftnl_expr_is_set(e, a) ? nftnl_expr_get_u32(e, a) : 0u; };
    uint32_t amin = reg(NFTNL_EXPR_NAT_REG_ADDR_MIN), amax = reg(NFTNL_EXPR_NAT_REG_ADDR_MAX);
    uint32_t pmin = reg(NFTNL_EXPR_NAT_REG_PROTO_MIN), pmax = reg(NFTNL_EXPR_NAT_REG_PROTO_MAX);
    uint32_t flags = reg(NFTNL_EXPR_NAT_FLAGS);
    if (amin) {
        flags |= NF_NAT_RANGE_MAP_IPS;
        if (!amax) amax = amin;
    }
    if (pmin) {
        flags |= NF_NAT_RANGE_PROTO_SPECIFIED;
        if (!pmax) pmax = pmin;
    }
    return "nat type " + std::to_string(reg(NFTNL_EXPR_NAT_TYPE)) + " family " + std::to_string(reg(NFTNL_EXPR_NAT_FAMILY)) +
           " addr " + std::to_string(amin) + "-" + std::to_string(amax) + " proto " + std::to_string(pmin) + "-" +
           std::to_string(pmax) + " flags " + std::to_string(flags);
}

RuleShape shapeOf(nftnl_rule* r) {
    RuleShape s;
    s.comment = ruleComment(r);
    nftnl_expr_iter* it = nftnl_expr_iter_create(r);
    char buf[1024];
    while (nftnl_expr* e = nftnl_expr_iter_next(it)) {
        std::string_view name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
        if (name == "lookup") {
            std::string t = "lookup sreg " + std::to_string(nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_SREG));
            if (nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG))
                t += " dreg " + std::to_string(nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_DREG));
            // The kernel always reports the flags; absent means 0.
            uint32_t flags = nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_FLAGS) ? nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS) : 0;
            t += " flags " + std::to_string(flags);
            s.sets.emplace_back(s.exprs.size(),
                                nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_SET) ? nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET) : "");
            s.exprs.push_back(std::move(t));
            continue;
        }
        if (name == "nat") {
            s.exprs.push_back(natText(e));
            continue;
        }
        int n = nftnl_expr_snprintf(buf, sizeof buf, e, NFTNL_OUTPUT_DEFAULT, 0);
        s.exprs.emplace_back(std::string(name) + " " + std::string(buf, n > 0 ? std::min<size_t>(n, sizeof buf - 1) : 0));
    }
    nftnl_expr_iter_destroy(it);
    return s;
}

std::string hex(const void* p, size_t n) {
    static constexpr char d[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < n; ++i) {
        uint8_t c = static_cast<const uint8_t*>(p)[i];
        out += d[c >> 4];
        out += d[c & 15];
    }
    return out;
}

// Sorted element keys (hex) of a set.
std::vector<std::string> setKeys(nftnl_set* s) {
    std::vector<std::string> keys;
    nftnl_set_elem_foreach(
        s,
        [](nftnl_set_elem* e, void* p) -> int {
            uint32_t len = 0;
            const void* k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
            std::string key = k ? hex(k, len) : "";
            if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS))
                key += "/" + std::to_string(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS));
            static_cast<std::vector<std::string>*>(p)->push_back(std::move(key));
            return 0;
        },
        &keys);
    std::sort(keys.begin(), keys.end());
    return keys;
}

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

struct KernelRule {
    RulePtr rule;
    uint64_t handle = 0;
};

class NftTable final : public Table {
public:
    NftTable(Family f, std::string_view name) : fam_(f), name_(name) {
        context_ = std::string("nftables table ") + familyName(f) + " " + name_;
    }

    Error init() {
        if (auto e = lock_.acquire()) return e;
        return Socket::get(sock_);
    }

    Backend backend() const override { return Backend::kNftables; }
    Family family() const override { return fam_; }

    bool exists() override {
        if (!chainsLoaded_) loadChains();
        if (!kernelChains_.empty()) return true;
        TablePtr t(nftnl_table_alloc());
        nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, name_.c_str());
        Msg req = nft::makeMsg("get table", [&](char* buf) {
            auto* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, nfproto(fam_), 0, 0);
            nftnl_table_nlmsg_build_payload(nlh, t.get());
            return nlh;
        });
        bool found = false;
        int err = 0;
        if (sock_->query(req, [&](const nlmsghdr*) { found = true; }, &err)) return false;
        return found && err == 0;
    }

    Error ensure(std::string_view comment) override {
        // An existing table is left alone: re-sending it would be a no-op
        // update, and queries are cheaper than transactions.
        if (tableQueued_ || (!destroyQueued_ && exists())) return {};
        TablePtr t(nftnl_table_alloc());
        nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, nfproto(fam_));
        nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, name_.c_str());
        if (!comment.empty()) {
            UdataPtr ud(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
            std::string c(comment);
            if (c.size() + 1 > 255 || !nftnl_udata_put_strz(ud.get(), NFTNL_UDATA_TABLE_COMMENT, c.c_str()))
                return {cni::kInternal, context_ + ": table comment too long"};
            nftnl_table_set_data(t.get(), NFTNL_TABLE_USERDATA, nftnl_udata_buf_data(ud.get()),
                                 nftnl_udata_buf_len(ud.get()));
        }
        queue("create table", NFT_MSG_NEWTABLE, NLM_F_CREATE, [&](nlmsghdr* nlh) {
            nftnl_table_nlmsg_build_payload(nlh, t.get());
        });
        tableQueued_ = true;
        return {};
    }

    Error destroy() override {
        if (destroyQueued_ && !tableQueued_) return {};
        if (!tableQueued_ && !exists()) return {};
        TablePtr t(nftnl_table_alloc());
        nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, name_.c_str());
        queue("delete table", NFT_MSG_DELTABLE, 0, [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, t.get()); });
        tableQueued_ = false;
        destroyQueued_ = true;
        chainsQueued_.clear();
        return {};
    }

    bool hasChain(std::string_view chain) override {
        if (chainsQueued_.count(std::string(chain))) return true;
        if (destroyQueued_ || chainsDeleted_.count(std::string(chain))) return false;
        uint32_t use = 0;
        return getChain(chain, use);
    }

    std::vector<std::string> chains() override {
        if (!chainsLoaded_) loadChains();
        std::vector<std::string> out;
        for (const auto& [name, use] : kernelChains_) out.push_back(name);
        return out;
    }

    Error ensureChain(std::string_view chain, const Hook* hook) override {
        // An existing chain is left as it is: a NEWCHAIN for it would be an
        // update transaction (freed only after an RCU grace period).
        if (hasChain(chain)) return {};
        std::string name(chain);
        ChainPtr c(nftnl_chain_alloc());
        nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, name_.c_str());
        nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, name.c_str());
        if (hook) {
            int num = hookNum(hook->hook);
            if (num < 0) return {cni::kInternal, context_ + ": unknown hook \"" + hook->hook + "\""};
            if (hook->type != "nat" && hook->type != "filter" && hook->type != "route")
                return {cni::kInternal, context_ + ": unknown chain type \"" + hook->type + "\""};
            nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, static_cast<uint32_t>(num));
            nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, hook->priority);
            nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, hook->type.c_str());
            // No policy attribute: a new base chain gets accept, and an existing
            // one keeps the policy its administrator gave it.
        }
        queue("create chain " + quoted(name), NFT_MSG_NEWCHAIN, NLM_F_CREATE,
              [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, c.get()); });
        chainsQueued_.insert(name);
        chainsDeleted_.erase(name);
        return {};
    }

    Error flushChain(std::string_view chain) override {
        if (!hasChain(chain)) return {};
        queueFlush(std::string(chain));
        return {};
    }

    Error deleteChain(std::string_view chain) override {
        std::string name(chain);
        uint32_t use = 0;
        bool inKernel = getChain(chain, use);
        if (!inKernel && !chainsQueued_.count(name)) return {};
        if (use > 0) {
            // Rules elsewhere in the table jump to it: delete them first.
            std::vector<KernelRule> rules;
            if (auto e = dumpRules(nullptr, rules)) return e;
            for (auto& kr : rules) {
                if (name == nftnl_rule_get_str(kr.rule.get(), NFTNL_RULE_CHAIN)) continue;
                bool jumps = false;
                ruleTarget(kr.rule.get(), &name, &jumps);
                if (jumps) queueDeleteRule(nftnl_rule_get_str(kr.rule.get(), NFTNL_RULE_CHAIN), kr.handle);
            }
        }
        queueFlush(name);
        ChainPtr c(nftnl_chain_alloc());
        nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, name_.c_str());
        nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, name.c_str());
        queue("delete chain " + quoted(name), NFT_MSG_DELCHAIN, 0,
              [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, c.get()); });
        chainsQueued_.erase(name);
        chainsDeleted_.insert(name);
        return {};
    }

    Error append(std::string_view chain, const Rule& r) override { return addRule(chain, r, true); }
    Error insert(std::string_view chain, const Rule& r) override { return addRule(chain, r, false); }

    bool contains(std::string_view chain, const Rule& r) override {
        std::vector<uint64_t> handles;
        if (findIdentical(chain, r, handles, true)) return false;
        return !handles.empty();
    }

    Error deleteRule(std::string_view chain, const Rule& r) override {
        std::vector<uint64_t> handles;
        if (auto e = findIdentical(chain, r, handles, false)) return e;
        for (uint64_t h : handles) queueDeleteRule(std::string(chain), h);
        return {};
    }

    // One dump of the chain, compared rule by rule in order.
    Error replaceRules(std::string_view chain, const std::vector<Rule>& rules) override {
        std::string name(chain);
        std::vector<KernelRule> have;
        bool same = false;
        if (!chainsQueued_.count(name) && !chainsDeleted_.count(name) && !destroyQueued_) {
            if (auto e = dumpRules(&name, have)) return e;
            same = have.size() == rules.size();
            for (size_t i = 0; same && i < rules.size(); ++i) {
                Wanted w;
                if (auto e = wanted(name, rules[i], w)) return e;
                same = identical(have[i], w);
            }
        }
        if (same) return {};
        if (auto e = flushChain(chain)) return e;
        for (const Rule& r : rules)
            if (auto e = append(chain, r)) return e;
        return {};
    }

    std::vector<RuleInfo> list(std::string_view chain) override {
        std::vector<RuleInfo> out;
        std::vector<KernelRule> rules;
        std::string name(chain);
        if (dumpRules(&name, rules)) return out;
        for (auto& kr : rules) {
            RuleInfo ri;
            ri.index = out.size();
            ri.handle = kr.handle;
            ri.comment = ruleComment(kr.rule.get());
            ri.target = ruleTarget(kr.rule.get());
            out.push_back(std::move(ri));
        }
        return out;
    }

    Error deleteWhere(std::string_view chain, const std::function<bool(const RuleInfo&)>& pred, size_t* n) override {
        if (n) *n = 0;
        std::string name(chain);
        std::vector<KernelRule> rules;
        if (auto e = dumpRules(&name, rules)) return e;
        size_t index = 0, count = 0;
        for (auto& kr : rules) {
            RuleInfo ri;
            ri.index = index++;
            ri.handle = kr.handle;
            ri.comment = ruleComment(kr.rule.get());
            ri.target = ruleTarget(kr.rule.get());
            if (!pred(ri)) continue;
            queueDeleteRule(name, kr.handle);
            ++count;
        }
        if (n) *n = count;
        return {};
    }

    Error commit() override {
        std::vector<Msg> msgs;
        msgs.swap(pending_);
        tableQueued_ = false;
        destroyQueued_ = false;
        chainsQueued_.clear();
        chainsDeleted_.clear();
        chainsLoaded_ = false;
        kernelChains_.clear();
        return sock_->batch(msgs, context_);
    }

private:
    static int hookNum(std::string_view h) {
        if (h == "prerouting") return NF_INET_PRE_ROUTING;
        if (h == "input") return NF_INET_LOCAL_IN;
        if (h == "forward") return NF_INET_FORWARD;
        if (h == "output") return NF_INET_LOCAL_OUT;
        if (h == "postrouting") return NF_INET_POST_ROUTING;
        return -1;
    }

    void queue(std::string what, uint16_t type, uint16_t flags, const std::function<void(nlmsghdr*)>& payload) {
        pending_.push_back(nft::makeMsg(std::move(what), [&](char* buf) {
            auto* nlh = nftnl_nlmsg_build_hdr(buf, type, nfproto(fam_), flags, 0);
            payload(nlh);
            return nlh;
        }));
    }

    void queueFlush(const std::string& chain) {
        RulePtr r(nftnl_rule_alloc());
        nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, name_.c_str());
        nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain.c_str());
        queue("flush chain " + quoted(chain), NFT_MSG_DELRULE, 0,
              [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, r.get()); });
    }

    void queueDeleteRule(const std::string& chain, uint64_t handle) {
        RulePtr r(nftnl_rule_alloc());
        nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, name_.c_str());
        nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain.c_str());
        nftnl_rule_set_u64(r.get(), NFTNL_RULE_HANDLE, handle);
        queue("delete rule (handle " + std::to_string(handle) + ") in chain " + quoted(chain), NFT_MSG_DELRULE, 0,
              [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, r.get()); });
    }

    Error addRule(std::string_view chain, const Rule& r, bool append) {
        std::string name(chain);
        Rendered rd;
        if (auto e = render(r, fam_, name_, name, rd)) {
            e.msg = context_ + ", chain " + quoted(name) + ": " + e.msg;
            return e;
        }
        if (rd.set) {
            nftnl_set* s = rd.set.get();
            queue("create the port set of a rule in chain " + quoted(name), NFT_MSG_NEWSET, NLM_F_CREATE,
                  [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, s); });
            queue("add the ports of a rule in chain " + quoted(name), NFT_MSG_NEWSETELEM, NLM_F_CREATE,
                  [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, s); });
        }
        std::string what = std::string(append ? "append" : "insert") + " rule" +
                           (r.comment.empty() ? "" : " " + quoted(r.comment)) + " (" + verdictText(r.action) +
                           ") to chain " + quoted(name);
        queue(what, NFT_MSG_NEWRULE, NLM_F_CREATE | (append ? NLM_F_APPEND : 0),
              [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, rd.rule.get()); });
        return {};
    }

    // Whether the chain is in the kernel, and its reference count in `use`.
    // The first call lists the table's chains in one dump and keeps them
    // until commit(): with the backend lock held nothing else of ours
    // changes them meanwhile, and a steady-state ADD asks about several.
    bool getChain(std::string_view chain, uint32_t& use) {
        if (!chainsLoaded_) loadChains();
        auto it = kernelChains_.find(std::string(chain));
        if (it == kernelChains_.end()) return false;
        use = it->second;
        return true;
    }

    void loadChains() {
        kernelChains_.clear();
        ChainPtr c(nftnl_chain_alloc());
        nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, name_.c_str());
        Msg req = nft::makeMsg("list chains", [&](char* buf) {
            auto* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, nfproto(fam_), NLM_F_DUMP, 0);
            nftnl_chain_nlmsg_build_payload(nlh, c.get());
            return nlh;
        });
        int err = 0;
        if (sock_->query(
                req,
                [&](const nlmsghdr* nlh) {
                    ChainPtr ch(nftnl_chain_alloc());
                    if (nftnl_chain_nlmsg_parse(nlh, ch.get()) < 0) return;
                    // older kernels filter chain dumps by family only
                    if (name_ != nftnl_chain_get_str(ch.get(), NFTNL_CHAIN_TABLE)) return;
                    uint32_t use = nftnl_chain_is_set(ch.get(), NFTNL_CHAIN_USE)
                                       ? nftnl_chain_get_u32(ch.get(), NFTNL_CHAIN_USE) : 0;
                    kernelChains_[nftnl_chain_get_str(ch.get(), NFTNL_CHAIN_NAME)] = use;
                },
                &err) || (err && err != ENOENT)) {
            kernelChains_.clear();  // not cached: the next question asks again
            return;
        }
        chainsLoaded_ = true;  // ENOENT: no such table, so no chains (as dumpRules)
    }

    // The rules of one chain (or of the whole table with chain == nullptr),
    // in order. A missing table or chain is no rules.
    Error dumpRules(const std::string* chain, std::vector<KernelRule>& out) {
        RulePtr r(nftnl_rule_alloc());
        nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, name_.c_str());
        if (chain) nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain->c_str());
        Msg req = nft::makeMsg("list rules", [&](char* buf) {
            auto* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, nfproto(fam_), NLM_F_DUMP, 0);
            nftnl_rule_nlmsg_build_payload(nlh, r.get());
            return nlh;
        });
        int err = 0;
        if (auto e = sock_->query(
                req,
                [&](const nlmsghdr* nlh) {
                    RulePtr kr(nftnl_rule_alloc());
                    if (nftnl_rule_nlmsg_parse(nlh, kr.get()) < 0) return;
                    // Older kernels ignore the filter: check it here too.
                    if (name_ != nftnl_rule_get_str(kr.get(), NFTNL_RULE_TABLE)) return;
                    if (chain && *chain != nftnl_rule_get_str(kr.get(), NFTNL_RULE_CHAIN)) return;
                    uint64_t h = nftnl_rule_get_u64(kr.get(), NFTNL_RULE_HANDLE);
                    out.push_back({std::move(kr), h});
                },
                &err))
            return e;
        if (err && err != ENOENT)
            return {cni::kInternal, context_ + ": listing rules failed: " + util::errnoDesc(err)};
        return {};
    }

    // The elements of set `set` of this table, sorted.
    bool kernelSetKeys(const std::string& set, std::vector<std::string>& keys) {
        SetPtr s(nftnl_set_alloc());
        nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, name_.c_str());
        nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set.c_str());
        nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, nfproto(fam_));
        Msg req = nft::makeMsg("list set elements", [&](char* buf) {
            auto* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, nfproto(fam_), NLM_F_DUMP, 0);
            nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
            return nlh;
        });
        SetPtr got(nftnl_set_alloc());
        int err = 0;
        if (sock_->query(req, [&](const nlmsghdr* nlh) { nftnl_set_elems_nlmsg_parse(nlh, got.get()); }, &err) || err)
            return false;
        keys = setKeys(got.get());
        return true;
    }

    // A rule as the kernel would list it, for comparing with kernel rules.
    struct Wanted {
        RuleShape shape;
        std::vector<std::vector<std::string>> sets;
    };

    Error wanted(const std::string& chain, const Rule& r, Wanted& w) {
        Rendered rd;
        if (auto e = render(r, fam_, name_, chain, rd)) return e;
        w.shape = shapeOf(rd.rule.get());
        if (rd.set) w.sets.push_back(setKeys(rd.set.get()));
        return {};
    }

    // Same expressions, same comment, same anonymous set elements.
    bool identical(KernelRule& kr, const Wanted& w) {
        RuleShape got = shapeOf(kr.rule.get());
        if (got.comment != w.shape.comment || got.exprs != w.shape.exprs || got.sets.size() != w.shape.sets.size())
            return false;
        for (size_t i = 0; i < got.sets.size(); ++i) {
            std::vector<std::string> keys;
            if (got.sets[i].first != w.shape.sets[i].first || !kernelSetKeys(got.sets[i].second, keys) ||
                i >= w.sets.size() || keys != w.sets[i])
                return false;
        }
        return true;
    }

    // Handles of the rules of `chain` identical to r. With `first`, stops at
    // the first one.
    Error findIdentical(std::string_view chain, const Rule& r, std::vector<uint64_t>& handles, bool first) {
        std::string name(chain);
        Wanted w;
        if (auto e = wanted(name, r, w)) return e;
        std::vector<KernelRule> rules;
        if (auto e = dumpRules(&name, rules)) return e;
        for (auto& kr : rules) {
            if (!identical(kr, w)) continue;
            handles.push_back(kr.handle);
            if (first) break;
        }
        return {};
    }

    Family fam_;
    std::string name_, context_;
    nft::Lock lock_;
    Socket* sock_ = nullptr;
    std::vector<Msg> pending_;
    bool tableQueued_ = false;
    bool destroyQueued_ = false;                 // destroy() queued: the kernel's table is going
    std::set<std::string> chainsQueued_;
    std::set<std::string> chainsDeleted_;        // deleteChain() queued in this transaction
    std::map<std::string, uint32_t> kernelChains_;  // the kernel's chains of this table: use count
    bool chainsLoaded_ = false;
};

}  // namespace

Error openNftables(Family f, std::string_view name, std::unique_ptr<Table>& out) {
    if (name.empty() || name.size() >= NFT_TABLE_MAXNAMELEN)
        return {cni::kInternal, "nftables: invalid table name \"" + std::string(name) + "\""};
    auto t = std::make_unique<NftTable>(f, name);
    if (auto e = t->init()) return e;
    out = std::move(t);
    return {};
}

bool nftablesUsable(int* errOut) {
    // asked by the backend choice and again by the applet: once per netns
    // (the kernel's answer and its errno are kept; a transport failure is not)
    static int known = -1, knownErr = 0;
    static dev_t knownDev;
    static ino_t knownIno;
    struct stat st {};
    if (stat("/proc/self/ns/net", &st) != 0) return false;
    if (known < 0 || st.st_dev != knownDev || st.st_ino != knownIno) {
        Socket* s = nullptr;
        if (Socket::get(s)) return false;
        Msg req = nft::makeMsg("list tables", [](char* buf) {
            return nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_UNSPEC, NLM_F_DUMP, 0);
        });
        int err = 0;
        if (s->query(req, [](const nlmsghdr*) {}, &err)) return false;
        known = err == 0 ? 1 : 0;
        knownErr = err;
        knownDev = st.st_dev;
        knownIno = st.st_ino;
    }
    if (knownErr && errOut) *errOut = knownErr;
    return known == 1;
}

}  // namespace nf::detail
