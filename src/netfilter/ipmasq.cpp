// ipMasq rule sets on both backends (see ipmasq.h).
#include "netfilter/ipmasq.h"
#include "netfilter/internal.h"

#include <set>

namespace nf::ipmasq {

namespace {

constexpr std::string_view kNftTable = "cni_plugins_masquerade";
constexpr std::string_view kNftMasqChain = "masq_checks";
constexpr std::string_view kNftPostrouting = "postrouting";
constexpr size_t kNftCommentMax = 128;

util::IPNet multicast(Family f) {
    if (f == Family::kIPv4) return {util::IP::v4(224, 0, 0, 0), 4};
    return *util::IPNet::parse("ff00::/8");
}

std::string hash16(std::string_view s) { return sha512Hex(s).substr(0, 16); }

std::string networkHash(std::string_view network) { return hash16(network) + "-"; }

std::string instanceHash(std::string_view network, std::string_view ifname, std::string_view containerID) {
    return networkHash(network) + hash16(std::string(ifname) + ":" + std::string(containerID));
}

std::string withoutQuotes(std::string_view s) {
    std::string out;
    for (char c : s)
        if (c != '"') out += c;
    return out;
}

Error wrap(const char* what, const Error& e) {
    return Error(e.code, std::string(what) + ": " + e.text()).withErrno(e.errnum);
}

// ---------------------------------------------------------------- iptables

Error setupIptables(std::string_view network, std::string_view containerID, const std::vector<util::IPNet>& ips) {
    const std::string chain = chainName("CNI-", network, containerID);
    const std::string comment = attachmentComment(network, containerID);
    for (Family f : {Family::kIPv4, Family::kIPv6}) {
        std::unique_ptr<Table> t;
        for (const util::IPNet& ip : ips) {
            if (familyOf(ip.ip) != f) continue;
            if (!t) {
                if (auto e = Table::open(Backend::kIptables, f, "nat", t)) return e;
                if (auto e = t->ensureChain(chain)) return e;
            }
            // In upstream's order: to the own prefix untouched, the rest
            // (multicast excepted) masqueraded, entered from POSTROUTING.
            Rule accept{.match = {.dst = ip.masked()}, .action = {.verdict = Verdict::kAccept}, .comment = comment};
            Rule masq{.match = {.dst = multicast(f), .notDst = true},
                      .action = {.verdict = Verdict::kMasquerade}, .comment = comment};
            Rule enter{.match = {.src = util::IPNet{ip.ip, ip.ip.bits()}},
                       .action = {.verdict = Verdict::kJump, .chain = chain}, .comment = comment};
            if (auto e = t->ensureRule(chain, accept)) return e;
            if (auto e = t->ensureRule(chain, masq)) return e;
            if (auto e = t->ensureRule("POSTROUTING", enter)) return e;
        }
        if (t)
            if (auto e = t->commit()) return e;
    }
    return {};
}

// Deleting the chain also deletes every rule jumping to it (POSTROUTING's,
// whatever their -s form), so no address list is needed.
Error teardownIptables(std::string_view network, std::string_view containerID) {
    const std::string chain = chainName("CNI-", network, containerID);
    Error first;
    for (Family f : {Family::kIPv4, Family::kIPv6}) {
        bool there = false;
        std::unique_ptr<Table> t;
        Error e = detail::openLegacyIfExists(f, "nat", t);
        if (!e && t) e = t->hasChain(chain, there);
        if (!e && there) {
            e = t->deleteChain(chain);
            if (!e) e = t->commit();
        }
        if (e && !first) first = e;
    }
    return first;
}

// The attachment's container ID named by an ipMasq chain's comment
// `name: "<network>" id: "<cid>"`, or "" when it is not of `network`.
std::string commentContainerID(const std::string& comment, std::string_view network) {
    const std::string head = "name: \"" + std::string(network) + "\" id: \"";
    if (comment.size() <= head.size() + 1 || comment.compare(0, head.size(), head) != 0 || comment.back() != '"')
        return {};
    return comment.substr(head.size(), comment.size() - head.size() - 1);
}

bool isMasqChainName(const std::string& chain) {
    if (chain.size() != 28 || chain.compare(0, 4, "CNI-") != 0) return false;
    for (size_t i = 4; i < chain.size(); ++i) {
        char c = chain[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

// The container ID that the comments of ipMasq chain `chain` name, "" when
// the chain is not one of `network`'s: its name must follow from the
// comment (portmap's and other plugins' chains never match).
Error masqChainOwner(Table& t, const std::string& chain, std::string_view network, std::string& id) {
    id.clear();
    if (!isMasqChainName(chain)) return {};
    std::vector<RuleInfo> rules;
    if (auto e = t.list(chain, rules)) return e;
    for (const RuleInfo& r : rules)
        if (!(id = commentContainerID(r.comment, network)).empty()) break;
    if (!id.empty() && chainName("CNI-", network, id) != chain) id.clear();
    return {};
}

Error gcIptablesFamily(Family f, std::string_view network, const std::set<std::string>& validIDs) {
    std::unique_ptr<Table> t;
    if (auto e = detail::openLegacyIfExists(f, "nat", t)) return e;
    if (!t) return {};
    std::vector<std::string> chains;
    if (auto e = t->chains(chains)) return e;
    size_t deleted = 0;
    for (const std::string& chain : chains) {
        std::string id;
        if (auto e = masqChainOwner(*t, chain, network, id)) return e;
        if (id.empty() || validIDs.count(id)) continue;
        if (auto e = t->deleteChain(chain)) return e;
        ++deleted;
    }
    return deleted ? t->commit() : Error();
}

Error gcIptables(std::string_view network, const std::set<std::string>& validIDs) {
    Error first;
    for (Family f : {Family::kIPv4, Family::kIPv6})
        if (Error e = gcIptablesFamily(f, network, validIDs); e && !first) first = e;
    return first;
}

// ---------------------------------------------------------------- nftables

Error openNft(std::unique_ptr<Table>& t) { return Table::open(Backend::kNftables, Family::kInet, kNftTable, t); }

bool hasPrefix(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// The base chain is rebuilt on every ADD (flushed and filled in the same
// batch, under the backend lock): its three rules exist exactly once. Rules
// of an earlier ADD of the same attachment are replaced.
Error setupNft(std::string_view network, std::string_view containerID, std::string_view ifname,
               const std::vector<util::IPNet>& ips) {
    std::unique_ptr<Table> t;
    if (auto e = openNft(t)) return e;
    const std::string comment = nftComment(network, ifname, containerID);
    const std::string instance = instanceHash(network, ifname, containerID);
    if (auto e = t->deleteWhere(kNftMasqChain,
                                [&](const RuleInfo& r) { return hasPrefix(r.comment, instance); }))
        return e;
    if (auto e = t->ensure("Masquerading for the bridge and ptp plugins (ipMasq)")) return e;
    if (auto e = t->ensureChain(kNftMasqChain)) return e;
    const Hook hook{.type = "nat", .hook = "postrouting", .priority = 100};
    if (auto e = t->ensureChain(kNftPostrouting, &hook)) return e;
    // Rewritten (as upstream does on every ADD) only when it differs.
    std::vector<Rule> entry;
    for (Family f : {Family::kIPv4, Family::kIPv6})
        entry.push_back({.match = {.dst = multicast(f)}, .action = {.verdict = Verdict::kReturn}});
    entry.push_back({.action = {.verdict = Verdict::kGoto, .chain = std::string(kNftMasqChain)}});
    if (auto e = t->replaceRules(kNftPostrouting, entry)) return e;
    for (const util::IPNet& ip : ips) {
        Rule r{.match = {.src = util::IPNet{ip.ip, ip.ip.bits()}, .dst = ip.masked(), .notDst = true},
               .action = {.verdict = Verdict::kMasquerade},
               .comment = comment};
        if (auto e = t->append(kNftMasqChain, r)) return e;
    }
    return t->commit();
}

// Deletes the rules of masq_checks whose comment `doomed` picks; a missing
// table is nothing to do (and is not created).
Error deleteNft(const std::function<bool(const RuleInfo&)>& doomed) {
    std::unique_ptr<Table> t;
    if (auto e = openNft(t)) return e;
    bool there = false;
    if (auto e = t->exists(there)) return e;
    if (!there) return {};
    size_t n = 0;
    if (auto e = t->deleteWhere(kNftMasqChain, doomed, &n)) return e;
    return n ? t->commit() : Error();
}

Error teardownNft(std::string_view network, std::string_view containerID, std::string_view ifname) {
    const std::string instance = instanceHash(network, ifname, containerID);
    return deleteNft([&](const RuleInfo& r) { return hasPrefix(r.comment, instance); });
}

Error gcNft(std::string_view network, const std::vector<cni::Attachment>& valid) {
    const std::string net = networkHash(network);
    std::set<std::string> keep;
    for (const cni::Attachment& a : valid) keep.insert(instanceHash(network, a.ifname, a.containerID));
    const size_t len = instanceHash("", "", "").size();
    return deleteNft([&](const RuleInfo& r) {
        return hasPrefix(r.comment, net) && !keep.count(r.comment.substr(0, len));
    });
}

// Both backends' errors joined, each only when the backend may hold rules
// here (a kernel without it has nothing of ours), with the errno of the
// first.
Error joinErrors(Error ipt, Error nft) {
    std::string msg;
    int errnum = 0;
    if (ipt && mayHoldRules(Backend::kIptables)) {
        msg = "iptables: " + ipt.text();
        errnum = ipt.errnum;
    }
    if (nft && mayHoldRules(Backend::kNftables)) {
        if (!msg.empty()) msg += '\n';
        msg += "nftables: ";
        msg += nft.text();
        if (!errnum) errnum = nft.errnum;
    }
    if (msg.empty()) return {};
    return Error(ipt ? ipt.code : nft.code, std::move(msg)).withErrno(errnum);
}

}  // namespace

std::string nftComment(std::string_view network, std::string_view ifname, std::string_view containerID) {
    std::string c = instanceHash(network, ifname, containerID) + ", net: " + withoutQuotes(network) +
                    ", if: " + withoutQuotes(ifname) + ", id: " + withoutQuotes(containerID);
    if (c.size() > kNftCommentMax) c.resize(kNftCommentMax);
    return c;
}

Error setup(std::optional<Backend> backend, std::string_view network, std::string_view containerID,
            std::string_view ifname, const std::vector<util::IPNet>& ips) {
    Backend b;
    if (backend) {
        b = *backend;   // probed only when it fails (below)
    } else if (auto e = chooseBackend(std::nullopt, b)) {
        return wrap("failed to set up IP masquerading", e);
    }
    Error e = b == Backend::kIptables ? setupIptables(network, containerID, ips)
                                      : setupNft(network, containerID, ifname, ips);
    if (!e) return {};
    // Undo what part of it may have been committed (one table per family).
    (void)(b == Backend::kIptables ? teardownIptables(network, containerID)
                                   : teardownNft(network, containerID, ifname));
    bool ok = false;
    if (backend && !usable(b, ok) && !ok)
        return Error(cni::kNotAvailable, "failed to set up IP masquerading: the " + std::string(backendName(b)) +
                                             " backend is not usable in this network namespace",
                     e.text());
    return wrap("failed to set up IP masquerading", e);
}

Error teardown(std::string_view network, std::string_view containerID, std::string_view ifname) {
    Error e = joinErrors(teardownIptables(network, containerID), teardownNft(network, containerID, ifname));
    return e ? wrap("failed to tear down IP masquerading", e) : e;
}

Error gc(std::string_view network, const std::vector<cni::Attachment>& valid) {
    std::set<std::string> ids;
    for (const cni::Attachment& a : valid) ids.insert(a.containerID);
    Error e = joinErrors(gcIptables(network, ids), gcNft(network, valid));
    return e ? wrap("failed to garbage-collect IP masquerading", e) : e;
}

}  // namespace nf::ipmasq
