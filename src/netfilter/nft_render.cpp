// The nftables backend's rendering: the IR's Rule as the nftnl expressions
// nft(8) makes for the equivalent syntax, so that `nft list ruleset` prints
// them as written in the comments below and rules added by nft compare as
// identical.
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <net/if.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "netfilter/nft_rule.h"
#include "util/text.h"

namespace nf::nft {

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

namespace {

constexpr uint32_t kReg1 = NFT_REG_1, kReg2 = NFT_REG_2;
constexpr uint32_t kInetService = 13;    // nft's datatype id of ports (TYPE_INET_SERVICE)
constexpr uint32_t kBigEndian = 2;       // nft's BYTEORDER_BIG_ENDIAN (set key udata)
constexpr const char* kAnonSet = "__set%d";

std::atomic<uint32_t> gSetId{0};

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

// tcp dport 80 / tcp dport { 80, 443 } (offset 2 in tcp, udp and sctp); more
// than one port is a lookup in an anonymous constant set, made in `set`.
void portsMatch(Builder& b, const std::vector<uint16_t>& dports, Family fam, const std::string& table, SetPtr& set) {
    b.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
    std::vector<uint16_t> ports(dports);
    std::sort(ports.begin(), ports.end());
    ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
    if (ports.size() == 1) {
        uint16_t p = htons(ports[0]);
        b.cmp(false, &p, 2);
        return;
    }
    uint32_t id = ++gSetId;
    set.reset(nftnl_set_alloc());
    nftnl_set* s = set.get();
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

// The match part of a rule, in nft's order of expressions.
Error renderMatch(Builder& b, const Match& m, Family fam, const std::string& table, SetPtr& set) {
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
    if (!m.dports.empty()) portsMatch(b, m.dports, fam, table, set);
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
    return {};
}

// The rule's verdict or statement.
Error renderAction(Builder& b, const Action& a, Family fam) {
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
    return {};
}

}  // namespace

std::string verdictText(const Action& a) {
    switch (a.verdict) {
        case Verdict::kAccept: return "accept";
        case Verdict::kDrop: return "drop";
        case Verdict::kReturn: return "return";
        case Verdict::kJump: return std::string("jump ").append(a.chain);
        case Verdict::kGoto: return std::string("goto ").append(a.chain);
        case Verdict::kMasquerade: return "masquerade";
        case Verdict::kDnat: {
            // (appended piece by piece: GCC 12 warns falsely on "literal" + string here)
            std::string t = "dnat to ";
            if (a.toAddr.is6() && a.toPort) t += '[';
            t += a.toAddr.str();
            if (a.toAddr.is6() && a.toPort) t += ']';
            if (a.toPort) t.append(":").append(std::to_string(a.toPort));
            return t;
        }
        case Verdict::kSetMark: return "meta mark set";
    }
    return "?";
}

Error checkChainName(std::string_view chain) {
    if (chain.empty() || chain.size() >= NFT_CHAIN_MAXNAMELEN || chain.find('\0') != std::string_view::npos)
        return {cni::kInternal, "nftables: invalid chain name " + util::quoted(chain.substr(0, 64)) +
                                    (chain.size() > 64 ? "... (" + std::to_string(chain.size()) + " bytes)" : "")};
    return {};
}

Error render(const Rule& r, Family fam, const std::string& table, const std::string& chain, Rendered& out) {
    if (auto e = checkChainName(chain)) return e;
    if ((r.action.verdict == Verdict::kJump || r.action.verdict == Verdict::kGoto) && !r.action.chain.empty())
        if (auto e = checkChainName(r.action.chain)) return e;
    if (r.match.dports.size() > kMaxRulePorts)
        return {cni::kInternal, "nftables: more than " + std::to_string(kMaxRulePorts) + " ports in one rule"};
    out.rule.reset(nftnl_rule_alloc());
    nftnl_rule* rule = out.rule.get();
    nftnl_rule_set_u32(rule, NFTNL_RULE_FAMILY, nfproto(fam));
    nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, table.c_str());
    nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, chain.c_str());
    Builder b(rule);
    if (auto e = renderMatch(b, r.match, fam, table, out.set)) return e;
    if (auto e = renderAction(b, r.action, fam)) return e;
    if (!r.comment.empty()) {
        UdataPtr ud(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
        if (r.comment.size() + 1 > 255 || !nftnl_udata_put_strz(ud.get(), NFTNL_UDATA_RULE_COMMENT, r.comment.c_str()))
            return {cni::kInternal, "nftables: rule comment too long"};
        nftnl_rule_set_data(rule, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud.get()), nftnl_udata_buf_len(ud.get()));
    }
    return {};
}

}  // namespace nf::nft
