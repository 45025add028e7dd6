// The nftables backend's reading of kernel rules: what list() reports (the
// comment and the target) and the comparable shape of a rule, for telling
// whether a kernel rule is identical to a rendered one.
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cstring>

#include "netfilter/internal.h"
#include "netfilter/nft_rule.h"

namespace nf::nft {

namespace {

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

}  // namespace

std::string ruleComment(const nftnl_rule* r) {
    if (!nftnl_rule_is_set(r, NFTNL_RULE_USERDATA)) return {};
    uint32_t len = 0;
    const auto* data = static_cast<const uint8_t*>(nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len));
    // The TLVs (type byte, length byte, value) walked here, bounds checked:
    // the kernel keeps whatever userdata a client gave, and libnftnl's
    // nftnl_udata_parse trusts each length (a value running past the end
    // was read beyond the buffer).
    std::string out;
    for (uint32_t off = 0; data && len - off >= 2;) {
        uint8_t type = data[off], n = data[off + 1];
        if (n > len - off - 2) break;
        if (type == NFTNL_UDATA_RULE_COMMENT) {
            const char* s = reinterpret_cast<const char*>(data + off + 2);
            out.assign(s, strnlen(s, n));
        }
        off += 2 + n;
    }
    return out;
}

std::string ruleTarget(nftnl_rule* r, const std::string* jumpsTo, bool* jumps) {
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

std::vector<std::string> setKeys(nftnl_set* s) {
    std::vector<std::string> keys;
    nftnl_set_elem_foreach(
        s,
        [](nftnl_set_elem* e, void* p) -> int {
            uint32_t len = 0;
            const void* k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
            std::string key = k ? detail::hex(k, len) : "";
            if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS))
                key.append("/").append(std::to_string(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS)));
            static_cast<std::vector<std::string>*>(p)->push_back(std::move(key));
            return 0;
        },
        &keys);
    std::sort(keys.begin(), keys.end());
    return keys;
}

}  // namespace nf::nft
