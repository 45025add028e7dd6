// bridge macspoofchk on nftables (see spoofcheck.h).
#include "netfilter/spoofcheck.h"

#include <string>

#include "util/mac.h"
#include "util/text.h"

namespace nf::spoofcheck {

namespace {

constexpr std::string_view kTable = "nat";
constexpr std::string_view kBase = "PREROUTING";

struct Names {
    std::string iface, mac, comment;
};

Names names(std::string_view containerID, std::string_view ifname) {
    std::string ref = std::string(containerID) + "-" + std::string(ifname);
    Names n;
    n.iface = "cni-br-iface-" + ref;
    n.mac = n.iface + "-mac";
    n.comment = "macspoofchk-" + ref;
    return n;
}

// The four rules of an attachment, in the order they are made.
struct Rules {
    Rule enter, toMac, allow, drop;
};

Error rules(const Names& n, std::string_view hostIface, std::string_view containerMac, Rules& out) {
    std::optional<util::Mac> mac = util::Mac::parse(containerMac);
    if (!mac) return Error(cni::kInternal, "macspoofchk: invalid MAC address " + util::quoted(containerMac));
    out.enter = {.match = {.iif = std::string(hostIface)},
                 .action = {.verdict = Verdict::kJump, .chain = n.iface}, .comment = n.comment};
    out.toMac = {.action = {.verdict = Verdict::kJump, .chain = n.mac}, .comment = n.comment};
    out.allow = {.match = {.etherSrc = mac->b}, .action = {.verdict = Verdict::kReturn}, .comment = n.comment};
    out.drop = {.action = {.verdict = Verdict::kDrop}, .comment = n.comment};
    return {};
}

Error open(std::unique_ptr<Table>& t) { return Table::open(Backend::kNftables, Family::kBridge, kTable, t); }

// Queues the removal of the attachment's chains. Deleting a chain deletes
// the rules jumping to it: the mac chain takes the iface chain's rule with
// it, the iface chain the PREROUTING rule.
Error remove(Table& t, const Names& n) {
    for (const std::string* chain : {&n.mac, &n.iface})
        if (auto e = t.deleteChain(*chain)) return e;
    return {};
}

Error fail(const Error& e) { return Error(e.code, "failed to setup spoof-check: " + e.text()).withErrno(e.errnum); }

}  // namespace

Error requireUsable() {
    bool ok = false;
    if (auto e = usable(Backend::kNftables, ok)) return e;
    if (ok) return {};
    return Error(cni::kNotAvailable, "macspoofchk needs nftables, which is not usable in this network namespace",
                 "set \"macspoofchk\": false or load nf_tables");
}

// One batch: table and PREROUTING ensured, a stale set of the attachment
// (an earlier ADD of the same container and ifname) replaced.
Error setup(std::string_view hostIface, std::string_view containerMac, std::string_view containerID,
            std::string_view ifname) {
    const Names n = names(containerID, ifname);
    Rules r;
    if (auto e = rules(n, hostIface, containerMac, r)) return fail(e);
    std::unique_ptr<Table> t;
    if (auto e = open(t)) return fail(e);
    bool stale = false;
    if (auto e = t->exists(stale)) return fail(e);
    if (stale)
        if (auto e = remove(*t, n)) return fail(e);
    if (auto e = t->ensure()) return fail(e);
    const Hook hook{.type = "filter", .hook = "prerouting", .priority = -300};
    if (auto e = t->ensureChain(kBase, &hook)) return fail(e);
    for (const std::string* chain : {&n.iface, &n.mac})
        if (auto e = t->ensureChain(*chain)) return fail(e);
    if (auto e = t->append(kBase, r.enter)) return fail(e);
    if (auto e = t->append(n.iface, r.toMac)) return fail(e);
    if (auto e = t->append(n.mac, r.allow)) return fail(e);
    if (auto e = t->append(n.mac, r.drop)) return fail(e);
    if (auto e = t->commit()) return fail(e);
    return {};
}

Error teardown(std::string_view containerID, std::string_view ifname) {
    std::unique_ptr<Table> t;
    if (auto e = open(t)) return e;
    bool there = false;
    if (auto e = t->exists(there)) return e;
    if (!there) return {};
    const Names n = names(containerID, ifname);
    if (auto e = remove(*t, n)) return e;
    if (auto e = t->commit()) return e.wrap("failed to teardown spoof-check");
    return {};
}

Error check(std::string_view hostIface, std::string_view containerMac, std::string_view containerID,
            std::string_view ifname) {
    const Names n = names(containerID, ifname);
    Rules r;
    if (auto e = rules(n, hostIface, containerMac, r)) return e;
    std::unique_ptr<Table> t;
    if (auto e = open(t)) return e;
    auto missing = [&](const std::string& what) {
        return Error(cni::kInternal, "macspoofchk: " + what + " of " + std::string(hostIface) + " missing");
    };
    bool there = false;
    if (auto e = t->exists(there)) return e;
    if (!there) return missing("table bridge nat");
    struct Wanted {
        std::string_view chain;
        const Rule& rule;
        std::string what;
    };
    for (const Wanted& w : {Wanted{kBase, r.enter, "the PREROUTING rule"},
                            Wanted{n.iface, r.toMac, "the jump in chain " + n.iface},
                            Wanted{n.mac, r.allow, "the MAC rule (ether saddr " + std::string(containerMac) + ")"},
                            Wanted{n.mac, r.drop, "the drop rule in chain " + n.mac}}) {
        if (auto e = t->contains(w.chain, w.rule, there)) return e;
        if (!there) return missing(w.what);
    }
    return {};
}

}  // namespace nf::spoofcheck
