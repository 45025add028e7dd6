// bridge macspoofchk on nftables (see spoofcheck.h).
#include "netfilter/spoofcheck.h"

#include <string>

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

int hexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool parseMac(std::string_view s, std::array<uint8_t, 6>& out) {
    if (s.size() != 17) return false;
    for (size_t i = 0; i < 6; ++i) {
        int hi = hexDigit(s[3 * i]), lo = hexDigit(s[3 * i + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':')) return false;
        out[i] = uint8_t(hi << 4 | lo);
    }
    return true;
}

// The four rules of an attachment, in the order they are made.
struct Rules {
    Rule enter, toMac, allow, drop;
};

Error rules(const Names& n, std::string_view hostIface, std::string_view containerMac, Rules& out) {
    std::array<uint8_t, 6> mac;
    if (!parseMac(containerMac, mac))
        return Error(cni::kInternal, "macspoofchk: invalid MAC address \"" + std::string(containerMac) + "\"");
    out.enter = {.match = {.iif = std::string(hostIface)},
                 .action = {.verdict = Verdict::kJump, .chain = n.iface}, .comment = n.comment};
    out.toMac = {.action = {.verdict = Verdict::kJump, .chain = n.mac}, .comment = n.comment};
    out.allow = {.match = {.etherSrc = mac}, .action = {.verdict = Verdict::kReturn}, .comment = n.comment};
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

Error fail(const Error& e) { return Error(e.code, "failed to setup spoof-check: " + e.text()); }

}  // namespace

Error requireUsable() {
    if (usable(Backend::kNftables)) return {};
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
    bool stale = t->exists();
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
    if (!t->exists()) return {};
    const Names n = names(containerID, ifname);
    if (auto e = remove(*t, n)) return e;
    if (auto e = t->commit()) return Error(e.code, "failed to teardown spoof-check: " + e.text());
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
    if (!t->exists()) return missing("table bridge nat");
    if (!t->contains(kBase, r.enter)) return missing("the PREROUTING rule");
    if (!t->contains(n.iface, r.toMac)) return missing("the jump in chain " + n.iface);
    if (!t->contains(n.mac, r.allow)) return missing("the MAC rule (ether saddr " + std::string(containerMac) + ")");
    if (!t->contains(n.mac, r.drop)) return missing("the drop rule in chain " + n.mac);
    return {};
}

}  // namespace nf::spoofcheck
