// The nftables backend's rules between the IR and libnftnl: rendering a
// Rule into nftnl expressions (nft_render.cpp) and reading kernel rules
// back into what list() reports and what comparisons need (nft_parse.cpp).
// The Table on top of them is nft.cpp.
#pragma once

#include <cstdio>  // libnftnl's headers use FILE
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "netfilter/netfilter.h"

namespace nf::nft {

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

uint8_t nfproto(Family f);         // NFPROTO_IPV4 / IPV6 / INET / BRIDGE
const char* familyName(Family f);  // "ip" | "ip6" | "inet" | "bridge"

// A chain name the kernel can hold (1..255 bytes, no NUL): what goes into a
// message is bounded, so every message fits its buffer (nft_netlink.h).
Error checkChainName(std::string_view chain);

// At most this many ports in one rule's match (iptables' multiport limit;
// nftables' anonymous set holds them, one message for all).
constexpr size_t kMaxRulePorts = 15;

// ---------------------------------------------------------------- rendering

struct Rendered {
    RulePtr rule;
    SetPtr set;  // the anonymous set of a dports lookup, if any
};

// The rule as nft(8) renders the equivalent syntax, for `chain` of `table`
// in family `fam`. Code 999 for what the IR cannot express there.
Error render(const Rule& r, Family fam, const std::string& table, const std::string& chain, Rendered& out);

// The action as nft prints it ("jump X", "dnat to 10.0.0.2:80"), for messages.
std::string verdictText(const Action& a);

// ------------------------------------------------------------------ reading

// The rule's comment ("" without one).
std::string ruleComment(const nftnl_rule* r);

// The rule's target as list() reports it ("ACCEPT", "MASQUERADE", a chain
// name, ...); with `jumpsTo`, *jumps tells whether it jumps or goes to that chain.
std::string ruleTarget(nftnl_rule* r, const std::string* jumpsTo = nullptr, bool* jumps = nullptr);

// The rule's expressions as comparable texts. A lookup's set is named by the
// kernel ("__set3") and compared by its elements: its text is a placeholder
// and its set name is in `sets` (with the index into the texts).
struct RuleShape {
    std::vector<std::string> exprs;
    std::vector<std::pair<size_t, std::string>> sets;
    std::string comment;
};
RuleShape shapeOf(nftnl_rule* r);

// Sorted element keys (hex, "/flags" when set) of a set.
std::vector<std::string> setKeys(nftnl_set* s);

}  // namespace nf::nft
