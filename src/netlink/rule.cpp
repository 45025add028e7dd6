// Policy routing rules (`ip rule`): from <prefix> lookup <table>, with a
// priority (sbr, vrf).
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <netlink/route/rule.h>

#include <cerrno>

#include "netlink/internal.h"

namespace nl {

using namespace detail;

namespace {

using RulePtr = std::unique_ptr<rtnl_rule, Free_<rtnl_rule, rtnl_rule_put>>;

std::string describe(const RuleSpec& r) {
    std::string s = r.src ? "from " + r.src->str() : "from all";
    s += " lookup " + std::to_string(r.table);
    if (r.priority >= 0) s += " priority " + std::to_string(r.priority);
    return s;
}

int familyOf(const RuleSpec& r) { return r.family ? r.family : r.src ? r.src->ip.family : AF_INET; }

// For a delete, unset fields (no source, priority -1, table 0) match any rule.
RulePtr build(const RuleSpec& r) {
    RulePtr rule(rtnl_rule_alloc());
    if (!rule) return rule;
    rtnl_rule_set_family(rule.get(), familyOf(r));
    rtnl_rule_set_action(rule.get(), FR_ACT_TO_TBL);
    if (r.table) rtnl_rule_set_table(rule.get(), uint32_t(r.table));
    if (r.priority >= 0) rtnl_rule_set_prio(rule.get(), uint32_t(r.priority));
    if (r.src) {
        NlAddrPtr a = toNl(r.src->masked());
        if (!a || rtnl_rule_set_src(rule.get(), a.get()) < 0) return nullptr;
    }
    return rule;
}

bool valid(const RuleSpec& r) {
    int f = familyOf(r);
    return (f == AF_INET || f == AF_INET6) && (!r.src || r.src->ip.family == f) && r.table >= 0;
}

}  // namespace

Error Socket::addRule(const RuleSpec& r, bool* existed) {
    if (existed) *existed = false;
    if (!valid(r) || !r.table) return Error(util::kInternal, "invalid rule: " + describe(r));
    RulePtr rule = build(r);
    if (!rule) return sysFail(ENOMEM, "build rule " + describe(r));
    int rc = rtnl_rule_add(sk_, rule.get(), NLM_F_EXCL);
    if (rc >= 0) return {};
    if (existed && errnoOf(rc) == EEXIST) {
        *existed = true;
        return {};
    }
    return fail(rc, "add rule " + describe(r));
}

Error Socket::delRule(const RuleSpec& r, bool* found) {
    if (found) *found = true;
    if (!valid(r)) return Error(util::kInternal, "invalid rule: " + describe(r));
    RulePtr rule = build(r);
    if (!rule) return sysFail(ENOMEM, "build rule " + describe(r));
    int rc = rtnl_rule_delete(sk_, rule.get(), 0);
    if (rc >= 0) return {};
    if (found) {
        int e = errnoOf(rc);
        if (e == ENOENT || e == ESRCH) {
            *found = false;
            return {};
        }
    }
    return fail(rc, "delete rule " + describe(r));
}

Error Socket::rules(int family, std::vector<RuleInfo>& out) {
    MsgPtr m(nlmsg_alloc_simple(RTM_GETRULE, NLM_F_DUMP));
    fib_rule_hdr frh{};
    frh.family = uint8_t(family);
    if (!m || nlmsg_append(m.get(), &frh, sizeof frh, NLMSG_ALIGNTO) < 0) return sysFail(ENOMEM, "list rules");
    int r = dump(sk_, m.get(), out, [&](nl_object* o, std::vector<RuleInfo>& v) {
        auto* rule = reinterpret_cast<rtnl_rule*>(o);
        int fam = rtnl_rule_get_family(rule);
        if ((fam != AF_INET && fam != AF_INET6) || (family && fam != family)) return;
        RuleInfo ri;
        ri.family = fam;
        nl_addr* src = rtnl_rule_get_src(rule);
        if (auto ip = fromNl(src)) ri.src = util::IPNet{*ip, int(nl_addr_get_prefixlen(src))};
        ri.table = int(rtnl_rule_get_table(rule));
        ri.priority = int(rtnl_rule_get_prio(rule));
        ri.action = rtnl_rule_get_action(rule);
        v.push_back(std::move(ri));
    });
    if (r < 0) return fail(r, "list rules");
    return {};
}

}  // namespace nl
