// The firewall plugin's rule sets (see fwrules.h for the layout).
#include "netfilter/fwrules.h"
#include "netfilter/internal.h"

#include <algorithm>
#include <set>

namespace nf::fw {

namespace {

constexpr std::string_view kRulesComment = "CNI firewall plugin rules";
constexpr std::string_view kAdminComment = "CNI firewall plugin admin overrides";
constexpr std::string_view kIngressComment = "CNI firewall plugin rules (ingressPolicy: same-bridge|isolated)";
constexpr size_t kMaxComment = 127;  // nftables comments: 128 bytes with the NUL

std::string policyComment(Ingress i) {
    return std::string("CNI firewall plugin rules (ingressPolicy: ") +
           (i == Ingress::kIsolated ? "isolated" : "same-bridge") + ")";
}

Rule jump(std::string_view chain, std::string_view comment) {
    Rule r;
    r.action.verdict = Verdict::kJump;
    r.action.chain = std::string(chain);
    r.comment = std::string(comment);
    return r;
}

util::IPNet host(const util::IP& ip) { return {ip, ip.bits()}; }

// -d IP -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT; -s IP -j ACCEPT
std::array<Rule, 2> perAddress(const util::IP& ip, const std::string& comment) {
    Rule in, out;
    in.match.dst = host(ip);
    in.match.ctRelatedEstablished = true;
    out.match.src = host(ip);
    in.comment = out.comment = comment;
    return {in, out};
}

struct Isolation {
    Rule forwardJump;   // FORWARD -> stage 1
    Rule stage1Bridge;  // -i BR ! -o BR -> stage 2
    Rule stage1Drop;    // -i BR -o BR DROP (isolated)
    Rule stage2Drop;    // -o BR DROP
    Rule ret;           // -j RETURN (iptables tails)
};

Isolation isolation(const Spec& s, std::string_view stage1, std::string_view stage2) {
    Isolation i;
    i.forwardJump = jump(stage1, kIngressComment);
    i.stage1Bridge = jump(stage2, policyComment(s.ingress));
    i.stage1Bridge.match.iif = i.stage1Bridge.match.oif = s.bridge;
    i.stage1Bridge.match.notOif = true;
    i.stage1Drop.match.iif = i.stage1Drop.match.oif = s.bridge;
    i.stage1Drop.action.verdict = Verdict::kDrop;
    i.stage1Drop.comment = policyComment(s.ingress);
    i.stage2Drop.match.oif = s.bridge;
    i.stage2Drop.action.verdict = Verdict::kDrop;
    i.stage2Drop.comment = std::string(kIngressComment);
    i.ret.action.verdict = Verdict::kReturn;
    i.ret.comment = std::string(kIngressComment);
    return i;
}

std::vector<Family> familiesOf(const std::vector<util::IP>& ips) {
    std::vector<Family> out;
    for (Family f : {Family::kIPv4, Family::kIPv6})
        if (std::any_of(ips.begin(), ips.end(), [f](const util::IP& ip) { return familyOf(ip) == f; }))
            out.push_back(f);
    return out;
}

Error notFound(std::string_view chain, std::string_view what) {
    return {cni::kInternal, "expected " + std::string(chain) + " rule " + std::string(what) + " not found"};
}

std::string describe(const Rule& r) {
    std::string d;
    auto add = [&d](std::string_view s) {
        if (!d.empty()) d += ' ';
        d += s;
    };
    if (r.match.src) add("-s " + r.match.src->str());
    if (r.match.dst) add("-d " + r.match.dst->str());
    if (!r.match.iif.empty()) add("-i " + r.match.iif);
    if (!r.match.oif.empty()) add(std::string(r.match.notOif ? "! " : "") + "-o " + r.match.oif);
    if (r.match.ctRelatedEstablished) add("-m conntrack --ctstate RELATED,ESTABLISHED");
    if (!r.comment.empty()) add("-m comment --comment \"" + r.comment + "\"");
    switch (r.action.verdict) {
        case Verdict::kAccept: add("-j ACCEPT"); break;
        case Verdict::kDrop: add("-j DROP"); break;
        case Verdict::kReturn: add("-j RETURN"); break;
        default: add("-j " + r.action.chain); break;
    }
    return "[" + d + "]";
}

Error requireRule(Table& t, std::string_view chain, const Rule& r) {
    bool there = false;
    if (auto e = t.contains(chain, r, there)) return e;
    return there ? Error() : notFound(chain, describe(r));
}

Error requireChain(Table& t, std::string_view chain) {
    bool there = false;
    if (auto e = t.hasChain(chain, there)) return e;
    return there ? Error() : Error(cni::kInternal, "expected chain " + std::string(chain) + " not found");
}

// ------------------------------------------------------------------ iptables

Error iptablesAddFamily(const Spec& s, Family f) {
    std::unique_ptr<Table> t;
    if (auto e = Table::open(Backend::kIptables, f, "filter", t)) return e;
    if (auto e = t->ensureChain(kForwardChain)) return e;
    if (auto e = t->ensureChain(s.adminChain)) return e;
    if (auto e = t->ensureRule("FORWARD", jump(kForwardChain, kRulesComment), true)) return e;
    if (auto e = t->ensureRule(kForwardChain, jump(s.adminChain, kAdminComment), true)) return e;
    for (const util::IP& ip : s.ips) {
        if (familyOf(ip) != f) continue;
        for (const Rule& r : perAddress(ip, ""))
            if (auto e = t->ensureRule(kForwardChain, r)) return e;
    }
    if (s.ingress != Ingress::kOpen) {
        Isolation i = isolation(s, kStage1, kStage2);
        for (std::string_view c : {kStage1, kStage2})
            if (auto e = t->ensureChain(c)) return e;
        // Before CNI-FORWARD's jump; the bridge rules before the RETURN tails.
        if (auto e = t->ensureRule("FORWARD", i.forwardJump, true)) return e;
        if (auto e = t->ensureRule(kStage1, i.stage1Bridge, true)) return e;
        if (s.ingress == Ingress::kIsolated)
            if (auto e = t->ensureRule(kStage1, i.stage1Drop, true)) return e;
        if (auto e = t->ensureRule(kStage1, i.ret)) return e;
        if (auto e = t->ensureRule(kStage2, i.stage2Drop, true)) return e;
        if (auto e = t->ensureRule(kStage2, i.ret)) return e;
    }
    return t->commit();
}

// Removes the per-address rules of `ips` in family f (committing only when
// there were any).
Error iptablesDelFamily(const std::vector<util::IP>& ips, Family f) {
    std::unique_ptr<Table> t;
    if (auto e = detail::openLegacyIfExists(f, "filter", t)) return e;
    if (!t) return {};
    bool there = false;
    if (auto e = t->hasChain(kForwardChain, there)) return e;
    if (!there) return {};
    bool changed = false;
    for (const util::IP& ip : ips) {
        if (familyOf(ip) != f) continue;
        for (const Rule& r : perAddress(ip, "")) {
            if (auto e = t->contains(kForwardChain, r, there)) return e;
            if (!there) continue;
            if (auto e = t->deleteRule(kForwardChain, r)) return e;
            changed = true;
        }
    }
    return changed ? t->commit() : Error();
}

Error iptablesAdd(const Spec& s) {
    std::vector<Family> done;
    for (Family f : familiesOf(s.ips)) {
        if (auto e = iptablesAddFamily(s, f)) {
            for (Family g : done) (void)iptablesDelFamily(s.ips, g);
            return e;
        }
        done.push_back(f);
    }
    return {};
}

Error iptablesCheck(const Spec& s) {
    for (Family f : familiesOf(s.ips)) {
        std::unique_ptr<Table> t;
        if (auto e = Table::open(Backend::kIptables, f, "filter", t)) return e;
        if (auto e = requireChain(*t, kForwardChain)) return e;
        if (auto e = requireChain(*t, s.adminChain)) return e;
        if (auto e = requireRule(*t, "FORWARD", jump(kForwardChain, kRulesComment))) return e;
        if (auto e = requireRule(*t, kForwardChain, jump(s.adminChain, kAdminComment))) return e;
        for (const util::IP& ip : s.ips) {
            if (familyOf(ip) != f) continue;
            for (const Rule& r : perAddress(ip, ""))
                if (auto e = requireRule(*t, kForwardChain, r)) return e;
        }
        if (s.ingress != Ingress::kOpen) {
            Isolation i = isolation(s, kStage1, kStage2);
            if (auto e = requireRule(*t, "FORWARD", i.forwardJump)) return e;
            if (auto e = requireRule(*t, kStage1, i.stage1Bridge)) return e;
            if (s.ingress == Ingress::kIsolated)
                if (auto e = requireRule(*t, kStage1, i.stage1Drop)) return e;
            if (auto e = requireRule(*t, kStage2, i.stage2Drop)) return e;
        }
    }
    return {};
}

// ------------------------------------------------------------------ nftables

Error nftOpen(std::unique_ptr<Table>& t) { return Table::open(Backend::kNftables, Family::kInet, kNftTable, t); }

Error nftAdd(const Spec& s) {
    if (s.ips.empty()) return {};
    std::unique_ptr<Table> t;
    if (auto e = nftOpen(t)) return e;
    if (auto e = t->ensure("CNI firewall plugin")) return e;
    const Hook hook{.type = "filter", .hook = "forward", .priority = 0};
    // Only when missing (ensureChain leaves an existing chain as it is): an
    // administrator may have set its policy to drop.
    if (auto e = t->ensureChain(kNftBase, &hook)) return e;
    if (auto e = t->ensureChain(kNftForward)) return e;
    if (auto e = t->ensureChain(s.adminChain)) return e;
    if (s.ingress != Ingress::kOpen)
        for (std::string_view c : {kNftStage2, kNftStage1})
            if (auto e = t->ensureChain(c)) return e;
    if (auto e = t->ensureRule(kNftBase, jump(kNftForward, kRulesComment))) return e;
    if (auto e = t->ensureRule(kNftForward, jump(s.adminChain, kAdminComment), true)) return e;
    std::string comment = attachmentComment(s.network, s.containerID, s.ifname);
    for (const util::IP& ip : s.ips)
        for (const Rule& r : perAddress(ip, comment))
            if (auto e = t->ensureRule(kNftForward, r)) return e;
    if (s.ingress != Ingress::kOpen) {
        Isolation i = isolation(s, kNftStage1, kNftStage2);
        if (auto e = t->ensureRule(kNftBase, i.forwardJump, true)) return e;
        if (auto e = t->ensureRule(kNftStage1, i.stage1Bridge)) return e;
        if (s.ingress == Ingress::kIsolated)
            if (auto e = t->ensureRule(kNftStage1, i.stage1Drop)) return e;
        if (auto e = t->ensureRule(kNftStage2, i.stage2Drop)) return e;
    }
    return t->commit();
}

Error nftCheck(const Spec& s) {
    if (s.ips.empty()) return {};
    std::unique_ptr<Table> t;
    if (auto e = nftOpen(t)) return e;
    bool there = false;
    if (auto e = t->exists(there)) return e;
    if (!there) return {cni::kInternal, "expected nftables table inet " + std::string(kNftTable) + " not found"};
    for (std::string_view c : {kNftBase, kNftForward, std::string_view(s.adminChain)})
        if (auto e = requireChain(*t, c)) return e;
    if (auto e = requireRule(*t, kNftBase, jump(kNftForward, kRulesComment))) return e;
    if (auto e = requireRule(*t, kNftForward, jump(s.adminChain, kAdminComment))) return e;
    std::string comment = attachmentComment(s.network, s.containerID, s.ifname);
    for (const util::IP& ip : s.ips)
        for (const Rule& r : perAddress(ip, comment))
            if (auto e = requireRule(*t, kNftForward, r)) return e;
    if (s.ingress != Ingress::kOpen) {
        Isolation i = isolation(s, kNftStage1, kNftStage2);
        if (auto e = requireRule(*t, kNftBase, i.forwardJump)) return e;
        if (auto e = requireRule(*t, kNftStage1, i.stage1Bridge)) return e;
        if (s.ingress == Ingress::kIsolated)
            if (auto e = requireRule(*t, kNftStage1, i.stage1Drop)) return e;
        if (auto e = requireRule(*t, kNftStage2, i.stage2Drop)) return e;
    }
    return {};
}

// Deletes the rules of cni-forward whose comment satisfies `pred`.
Error nftDeleteWhere(const std::function<bool(const std::string&)>& pred) {
    if (!mayHoldRules(Backend::kNftables)) return {};
    bool there = false;
    std::unique_ptr<Table> t;
    if (auto e = nftOpen(t)) return e;
    if (auto e = t->exists(there)) return e;
    if (!there) return {};
    size_t n = 0;
    if (auto e = t->deleteWhere(kNftForward, [&](const RuleInfo& r) { return !r.comment.empty() && pred(r.comment); },
                                &n))
        return e;
    return n ? t->commit() : Error();
}

// `name=<net> ` (the network part of every comment), hashed when long.
std::string networkPart(std::string_view network) {
    std::string n(network);
    if (n.size() > 40) n = "sha512:" + sha512Hex(n).substr(0, 32);
    return "name=" + n + " ";
}

}  // namespace

std::string attachmentComment(std::string_view network, std::string_view containerID, std::string_view ifname) {
    std::string att = "id=" + std::string(containerID) + " ifname=" + std::string(ifname);
    std::string c = networkPart(network) + att;
    if (c.size() <= kMaxComment && att.find_first_of("\"\\") == std::string::npos) return c;
    std::string hash = sha512Hex(std::string(containerID) + '\n' + std::string(ifname)).substr(0, 40);
    return networkPart(network) + "attachment=" + hash;
}

Error validateAdminChain(std::string_view name) {
    static const std::set<std::string_view> kReserved = {
        "ACCEPT", "DROP", "RETURN", "QUEUE", "INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING",
        kForwardChain, kStage1, kStage2, kNftBase, kNftForward, kNftStage1, kNftStage2};
    auto bad = [name](std::string_view why) {
        return Error(cni::kInvalidNetConf, "invalid iptablesAdminChainName \"" + std::string(name) + "\": " +
                                               std::string(why));
    };
    if (name.empty()) return bad("empty");
    if (name.size() > 28) return bad("longer than 28 characters");
    for (unsigned char c : name)
        if (c <= ' ' || c >= 0x7f || c == '"' || c == '\'' || c == '\\')
            return bad("only printable characters without blanks or quotes");
    if (name[0] == '-' || name[0] == '!') return bad("must not start with '-' or '!'");
    if (kReserved.count(name)) return bad("a built-in or firewall chain name");
    return {};
}

Error add(const Spec& s) { return s.backend == Backend::kIptables ? iptablesAdd(s) : nftAdd(s); }

Error check(const Spec& s) { return s.backend == Backend::kIptables ? iptablesCheck(s) : nftCheck(s); }

Error del(const Spec& s, bool havePrevResult) {
    // The configured backend first; the other one's leftovers too (a
    // changed backend or automatic choice between ADD and DEL).
    auto viaNft = [&] {
        std::string c = attachmentComment(s.network, s.containerID, s.ifname);
        return nftDeleteWhere([&c](const std::string& comment) { return comment == c; });
    };
    auto viaIpt = [&]() -> Error {
        if (!havePrevResult) return {};
        for (Family f : familiesOf(s.ips))
            if (auto e = iptablesDelFamily(s.ips, f)) return e;
        return {};
    };
    if (s.backend == Backend::kIptables) {
        if (auto e = viaIpt()) return e;
        return viaNft();
    }
    if (auto e = viaNft()) return e;
    return viaIpt();
}

Error gc(std::string_view network, const std::vector<cni::Attachment>& valid) {
    std::set<std::string> keep;
    for (const cni::Attachment& a : valid) keep.insert(attachmentComment(network, a.containerID, a.ifname));
    std::string prefix = networkPart(network);
    return nftDeleteWhere([&](const std::string& c) { return c.starts_with(prefix) && !keep.count(c); });
}

}  // namespace nf::fw
