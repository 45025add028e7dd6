// The portmap rule sets (see hostport.h for the layout of each backend).
#include "netfilter/hostport.h"
#include "netfilter/internal.h"

#include <netinet/in.h>

#include <memory>

#include "util/text.h"

namespace nf::hostport {

namespace {

constexpr std::string_view kOldSnatPrefix = "CNI-SN-";
constexpr std::string_view kDnPrefix = "CNI-DN-";
constexpr const char* kNftChains[] = {"hostports", "hostip_hostports", "masquerading"};

std::string str(std::string_view s) { return std::string(s); }

const char* familyWord(Family f) { return f == Family::kIPv6 ? "ip6" : "ip"; }

util::IPNet hostNet(const util::IP& ip) { return {ip, ip.bits()}; }

// iptables' limit on comments is 255 bytes (upstream trims to 253 + "...",
// one too many for iptables to accept).
std::string trimComment(std::string s) {
    if (s.size() > 255) {
        s.resize(252);
        s += "...";
    }
    return s;
}

std::string dnatComment(std::string_view network, std::string_view id) {
    return trimComment("dnat " + attachmentComment(network, id));
}

// Whether a mapping applies to the family of `ctr` and, if so, the -d /
// daddr match it gets (none for an unspecified hostIP).
bool forFamily(const Mapping& m, const util::IPNet& ctr, std::optional<util::IPNet>& dst) {
    dst.reset();
    if (!m.hostIP) return true;
    if (m.hostIP->family != ctr.ip.family) return false;
    if (!m.hostIP->isUnspecified()) dst = hostNet(*m.hostIP);
    return true;
}

const Match& conditionsFor(const Config& c, Family f) {
    return f == Family::kIPv6 ? c.conditionsV6 : c.conditionsV4;
}

// Copies the address/interface matches of `cond` into `m`.
void addConditions(Match& m, const Match& cond) {
    if (cond.src) {
        m.src = cond.src;
        m.notSrc = cond.notSrc;
    }
    if (cond.dst) {
        m.dst = cond.dst;
        m.notDst = cond.notDst;
    }
    if (!cond.iif.empty()) {
        m.iif = cond.iif;
        m.notIif = cond.notIif;
    }
    if (!cond.oif.empty()) {
        m.oif = cond.oif;
        m.notOif = cond.notOif;
    }
}

Error withContext(Error e, std::string_view what) {
    if (!e) return e;
    e.msg = str(what) + ": " + e.msg;
    return e;
}

// ------------------------------------------------------------- iptables

Rule localDstRule() {
    Rule r;
    r.match.dstLocal = true;
    r.action = {.verdict = Verdict::kJump, .chain = str(kDnatChain)};
    return r;
}

Rule setMarkRule(uint32_t mark) {
    Rule r;
    r.action = {.verdict = Verdict::kSetMark, .mark = mark, .mask = mark};
    r.comment = "CNI portfwd masquerade mark";
    return r;
}

Rule markMasqRule(uint32_t mark) {
    Rule r;
    r.match.mark = mark;
    r.match.markMask = mark;
    r.action.verdict = Verdict::kMasquerade;
    return r;
}

Rule postroutingRule() {
    Rule r;
    r.action = {.verdict = Verdict::kJump, .chain = str(kMasqChain)};
    r.comment = "CNI portfwd requiring masquerade";
    return r;
}

// The entry rules in CNI-HOSTPORT-DNAT: per protocol (sorted by name, as
// upstream), the host ports of every mapping in order, 15 per rule.
std::vector<Rule> entryRules(const Config& c, Family f, const std::string& dn) {
    std::vector<Rule> out;
    const uint8_t protos[] = {IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP};  // "sctp" < "tcp" < "udp"
    for (uint8_t p : protos) {
        std::vector<uint16_t> ports;
        for (const Mapping& m : c.mappings)
            if (m.proto == p) ports.push_back(m.hostPort);
        for (size_t i = 0; i < ports.size(); i += 15) {
            Rule r;
            r.match.proto = p;
            r.match.dports.assign(ports.begin() + long(i), ports.begin() + long(std::min(ports.size(), i + 15)));
            r.match.multiport = true;   // also for a single port, as upstream
            addConditions(r.match, conditionsFor(c, f));
            r.action = {.verdict = Verdict::kJump, .chain = dn};
            r.comment = dnatComment(c.network, c.containerID);
            out.push_back(std::move(r));
        }
    }
    return out;
}

// The rules of the container's CNI-DN- chain: per mapping the hairpin and
// localhost marks (with snat) and the DNAT.
std::vector<Rule> dnRules(const Config& c, const util::IPNet& ctr) {
    std::vector<Rule> out;
    bool v6 = ctr.ip.is6();
    std::string setMark = c.externalSetMarkChain.empty() ? str(kSetMarkChain) : c.externalSetMarkChain;
    for (const Mapping& m : c.mappings) {
        Match base;
        if (!forFamily(m, ctr, base.dst)) continue;
        base.proto = m.proto;
        base.dports = {m.hostPort};
        if (c.snat) {
            Rule hairpin{.match = base, .action = {.verdict = Verdict::kJump, .chain = setMark}};
            if (!c.masqAll) hairpin.match.src = ctr.masked();   // masqAll: from anywhere (0/0)
            out.push_back(hairpin);
            if (!v6 && !c.masqAll) {
                Rule local = hairpin;
                local.match.src = hostNet(util::IP::v4(127, 0, 0, 1));
                out.push_back(local);
            }
        }
        out.push_back({.match = base,
                       .action = {.verdict = Verdict::kDnat, .toAddr = ctr.ip, .toPort = m.containerPort}});
    }
    return out;
}

// The index of the first rule of `want` that `chain` lacks (want.size():
// none).
Error firstMissing(Table& t, std::string_view chain, const std::vector<Rule>& want, size_t& out) {
    for (out = 0; out < want.size(); out++) {
        bool there = false;
        if (auto e = t.contains(chain, want[out], there)) return e;
        if (!there) return {};
    }
    return {};
}

// Whether the rules of `chain` that `mine` selects are exactly `want`.
Error sameRules(Table& t, std::string_view chain, const std::vector<Rule>& want,
                const std::function<bool(const RuleInfo&)>& mine, bool& out) {
    out = false;
    std::vector<RuleInfo> have;
    if (auto e = t.list(chain, have)) return e;
    size_t n = 0;
    for (const RuleInfo& ri : have) n += mine(ri);
    if (n != want.size()) return {};
    size_t missing = 0;
    if (auto e = firstMissing(t, chain, want, missing)) return e;
    out = missing == want.size();
    return {};
}

Error openNat(Family f, std::unique_ptr<Table>& t) {
    return Table::open(Backend::kIptables, f, "nat", t);
}

Error addIptables(const Config& c, const util::IPNet& ctr) {
    Family f = familyOf(ctr.ip);
    std::unique_ptr<Table> t;
    if (auto e = openNat(f, t)) return e;
    uint32_t mark = 1u << c.markBit;
    if (c.snat && c.externalSetMarkChain.empty()) {
        if (auto e = t->ensureChain(kSetMarkChain)) return e;
        if (auto e = t->ensureRule(kSetMarkChain, setMarkRule(mark))) return e;
        if (auto e = t->ensureChain(kMasqChain)) return e;
        if (auto e = t->ensureRule(kMasqChain, markMasqRule(mark))) return e;
        // At the head: the masquerade rules of bridge/ptp's ipMasq would take the packets first.
        if (auto e = t->ensureRule("POSTROUTING", postroutingRule(), true)) return e;
    }
    if (auto e = t->ensureChain(kDnatChain)) return e;
    for (const char* entry : {"PREROUTING", "OUTPUT"})
        if (auto e = t->ensureRule(entry, localDstRule())) return e;

    // The container's chain and the rules that jump to it. An earlier ADD's
    // chain stays where it is when it is just what this ADD makes, else it
    // is replaced.
    std::string dn = chainName(kDnPrefix, c.network, c.containerID);
    std::vector<Rule> rules = dnRules(c, ctr), entries = entryRules(c, f, dn);
    bool earlier = false, same = false;
    if (auto e = t->hasChain(dn, earlier)) return e;
    if (earlier) {
        if (auto e = sameRules(*t, dn, rules, [](const RuleInfo&) { return true; }, same)) return e;
        if (same)
            if (auto e = sameRules(*t, kDnatChain, entries, [&](const RuleInfo& ri) { return ri.target == dn; }, same))
                return e;
        if (same) return t->commit();
        if (auto e = t->deleteChain(dn)) return e;
    }
    if (auto e = t->ensureChain(dn)) return e;
    for (const Rule& r : rules)
        if (auto e = t->append(dn, r)) return e;
    for (const Rule& r : entries)
        if (auto e = t->append(kDnatChain, r)) return e;
    return t->commit();
}

Error checkIptables(const Config& c, const util::IPNet& ctr) {
    Family f = familyOf(ctr.ip);
    std::string dn = chainName(kDnPrefix, c.network, c.containerID);
    std::string table = f == Family::kIPv6 ? "ip6tables" : "iptables";
    auto missingChain = [&](std::string_view chain) {
        return Error(cni::kInternal, "chain " + str(chain) + " not found in " + table + " table nat");
    };
    std::unique_ptr<Table> t;
    if (auto e = detail::openLegacyIfExists(f, "nat", t)) return e;
    if (!t) return missingChain(dn);
    bool there = false;
    if (auto e = t->hasChain(dn, there)) return e;
    if (!there) return missingChain(dn);
    std::vector<std::pair<std::string_view, std::vector<Rule>>> wanted = {
        {dn, dnRules(c, ctr)}, {kDnatChain, entryRules(c, f, dn)},
        {"PREROUTING", {localDstRule()}}, {"OUTPUT", {localDstRule()}}};
    if (c.snat && c.externalSetMarkChain.empty()) wanted.push_back({"POSTROUTING", {postroutingRule()}});
    for (const auto& [chain, rules] : wanted) {
        size_t i = 0;
        if (auto e = firstMissing(*t, chain, rules, i)) return e;
        if (i < rules.size())
            return Error(cni::kInternal, "rule " + std::to_string(i + 1) + " of the port mappings in chain " +
                                             str(chain) + " not found in " + table + " table nat");
    }
    return {};
}

Error delIptables(std::string_view network, std::string_view id) {
    std::string dn = chainName(kDnPrefix, network, id), sn = chainName(kOldSnatPrefix, network, id);
    for (Family f : {Family::kIPv4, Family::kIPv6}) {
        std::unique_ptr<Table> t;
        if (auto e = detail::openLegacyIfExists(f, "nat", t)) return e;
        if (!t) continue;
        bool changed = false;
        for (const std::string& chain : {dn, sn}) {
            bool there = false;
            if (auto e = t->hasChain(chain, there)) return e;
            if (!there) continue;
            if (auto e = t->deleteChain(chain)) return e;   // and the rules jumping to it
            changed = true;
        }
        if (changed)
            if (auto e = t->commit()) return e;
    }
    return {};
}

Error gcIptables(std::string_view network, const std::set<std::string>& valid, size_t* removed) {
    std::set<std::string> keep;
    for (const std::string& id : valid) keep.insert(chainName(kDnPrefix, network, id));
    std::string prefix = "dnat " + attachmentComment(network, "");
    prefix.resize(prefix.size() - 1);   // 'dnat name: "<net>" id: "'
    for (Family f : {Family::kIPv4, Family::kIPv6}) {
        std::unique_ptr<Table> t;
        if (auto e = detail::openLegacyIfExists(f, "nat", t)) return e;
        if (!t) continue;
        std::vector<RuleInfo> entries;
        if (auto e = t->list(kDnatChain, entries)) return e;
        std::set<std::string> stale;
        for (const RuleInfo& ri : entries)
            if (ri.comment.starts_with(prefix) && ri.target.starts_with(kDnPrefix) && !keep.count(ri.target))
                stale.insert(ri.target);
        for (const std::string& chain : stale)
            if (auto e = t->deleteChain(chain)) return e;
        if (!stale.empty())
            if (auto e = t->commit()) return e;
        if (removed) *removed += stale.size();
    }
    return {};
}

// ------------------------------------------------------------- nftables

Rule jumpRule(std::string_view chain) {
    return {.action = {.verdict = Verdict::kJump, .chain = str(chain)}};
}

std::vector<Rule> nftDnatRules(const Config& c, const util::IPNet& ctr) {
    std::vector<Rule> out;
    for (const Mapping& m : c.mappings) {
        Rule r;
        if (!forFamily(m, ctr, r.match.dst)) continue;
        r.match.proto = m.proto;
        r.match.dports = {m.hostPort};
        r.action = {.verdict = Verdict::kDnat, .toAddr = ctr.ip, .toPort = m.containerPort};
        r.comment = c.containerID;
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<Rule> nftMasqRules(const Config& c, const util::IPNet& ctr) {
    std::vector<Rule> out;
    if (!c.snat) return out;
    Rule hairpin;
    if (!c.masqAll) hairpin.match.src = hostNet(ctr.ip);   // masqAll: any source
    hairpin.match.dst = hostNet(ctr.ip);
    hairpin.action.verdict = Verdict::kMasquerade;
    hairpin.comment = c.containerID;
    out.push_back(hairpin);
    if (ctr.ip.is4() && !c.masqAll) {
        Rule local = hairpin;
        local.match.src = hostNet(util::IP::v4(127, 0, 0, 1));
        out.push_back(local);
    }
    return out;
}

Rule nftEntryRule(const Config& c, Family f) {
    Rule r = jumpRule("hostports_all");
    addConditions(r.match, conditionsFor(c, f));
    r.match.dstLocal = true;
    return r;
}

Error openNft(Family f, std::unique_ptr<Table>& t) {
    return Table::open(Backend::kNftables, f, kNftTable, t);
}

const Hook kPrerouting{"nat", "prerouting", -100};
const Hook kOutput{"nat", "output", -100};
const Hook kPostrouting{"nat", "postrouting", 100};

Error addNft(const Config& c, const util::IPNet& ctr) {
    Family f = familyOf(ctr.ip);
    std::unique_ptr<Table> t;
    if (auto e = openNft(f, t)) return e;
    // Rules of an earlier ADD of this container are replaced. (Queries see
    // the kernel, so they come before the changes.) With snat, every ADD left
    // rules in the small masquerading chain: only when it shows this
    // container are the mapping chains (one rule per mapping of every
    // container on the host) read, so an ADD does not cost more as the
    // host's mappings grow.
    auto mine = [&](const RuleInfo& ri) { return ri.comment == c.containerID; };
    bool earlier = !c.snat;
    if (c.snat) {
        std::vector<RuleInfo> masq;
        if (auto e = t->list("masquerading", masq)) return e;
        for (const RuleInfo& ri : masq) earlier = earlier || mine(ri);
    }
    if (earlier)
        for (const char* chain : kNftChains)
            if (auto e = t->deleteWhere(chain, mine)) return e;
    if (auto e = t->ensure("CNI portmap plugin")) return e;
    for (const char* chain : {"hostports", "hostip_hostports", "hostports_all"})
        if (auto e = t->ensureChain(chain)) return e;
    // The shared chains are rewritten (as upstream does) only when they differ.
    if (auto e = t->replaceRules("hostports_all", {jumpRule("hostip_hostports"), jumpRule("hostports")})) return e;
    for (auto [chain, hook] : {std::pair{"prerouting", &kPrerouting}, std::pair{"output", &kOutput}}) {
        if (auto e = t->ensureChain(chain, hook)) return e;
        if (auto e = t->replaceRules(chain, {nftEntryRule(c, f)})) return e;
    }
    if (c.snat)
        if (auto e = t->ensureChain("masquerading", &kPostrouting)) return e;
    for (const Rule& r : nftDnatRules(c, ctr))
        if (auto e = t->append("hostports", r)) return e;
    for (const Rule& r : nftMasqRules(c, ctr))
        if (auto e = t->append("masquerading", r)) return e;
    return t->commit();
}

Error checkNft(const Config& c, const util::IPNet& ctr) {
    Family f = familyOf(ctr.ip);
    std::string table = str(familyWord(f)) + " " + str(kNftTable);
    std::unique_ptr<Table> t;
    if (auto e = openNft(f, t)) return e;
    bool there = false;
    if (auto e = t->exists(there)) return e;
    if (!there) return Error(cni::kInternal, "nftables table " + table + " not found");
    auto missing = [&](std::string_view chain) {
        return Error(cni::kInternal, "missing hostport rules in " + util::quoted(chain) + " chain of table " + table);
    };
    for (const auto& [chain, rules] : {std::pair{"hostports", nftDnatRules(c, ctr)},
                                       std::pair{"masquerading", nftMasqRules(c, ctr)}}) {
        size_t i = 0;
        if (auto e = firstMissing(*t, chain, rules, i)) return e;
        if (i < rules.size()) return missing(chain);
    }
    for (const char* chain : {"prerouting", "output"}) {
        std::vector<RuleInfo> entry;
        if (auto e = t->list(chain, entry)) return e;
        if (entry.empty()) return missing(chain);
    }
    return {};
}

Error deleteNftWhere(const std::function<bool(const RuleInfo&)>& pred, size_t* removed) {
    // No nf_tables here (a kernel without it, an emulator): no rule to delete.
    if (!mayHoldRules(Backend::kNftables)) return {};
    for (Family f : {Family::kIPv4, Family::kIPv6}) {
        std::unique_ptr<Table> t;
        if (auto e = openNft(f, t)) return e;
        bool there = false;
        if (auto e = t->exists(there)) return e;
        if (!there) continue;
        size_t total = 0;
        for (const char* chain : kNftChains) {
            size_t n = 0;
            if (auto e = t->deleteWhere(chain, pred, &n)) return e;
            total += n;
        }
        if (total)
            if (auto e = t->commit()) return e;
        if (removed) *removed += total;
    }
    return {};
}

// ------------------------------------------------------------- conditions

std::vector<std::string> splitTokens(const std::vector<std::string>& in) {
    std::vector<std::string> out;
    for (const std::string& s : in) {
        size_t i = 0;
        while (i < s.size()) {
            while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) i++;
            size_t j = i;
            while (j < s.size() && s[j] != ' ' && s[j] != '\t' && s[j] != '\n') j++;
            if (j > i) out.push_back(s.substr(i, j - i));
            i = j;
        }
    }
    return out;
}

std::string unquote(std::string s) {
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
    return s;
}

}  // namespace

std::string_view protoName(uint8_t proto) {
    switch (proto) {
        case IPPROTO_TCP: return "tcp";
        case IPPROTO_UDP: return "udp";
        case IPPROTO_SCTP: return "sctp";
        default: return "?";
    }
}

std::optional<Backend> conditionsBackend(const std::vector<std::string>& tokens) {
    if (tokens.empty() || tokens[0].empty()) return std::nullopt;
    char c = tokens[0][0];
    return c == '-' || c == '!' ? Backend::kIptables : Backend::kNftables;
}

Error parseConditions(Backend b, Family f, const std::vector<std::string>& in, std::string_view key, Match& out) {
    out = {};
    std::vector<std::string> tok = splitTokens(in);
    auto unsupported = [&](size_t i, std::string_view why) {
        std::string rest;
        for (size_t j = i; j < tok.size(); j++) rest += (j > i ? " " : "") + tok[j];
        return Error(cni::kInvalidNetConf, "unsupported condition \"" + rest + "\" in " + str(key) + ": " +
                                               str(why));
    };
    const char* supported = b == Backend::kIptables
                                ? "supported are [!] -s/-d ADDR[/LEN] and [!] -i/-o IFNAME"
                                : "supported are ip/ip6 saddr/daddr [!=] ADDR[/LEN] and iifname/oifname [!=] IFNAME";
    auto setAddr = [&](size_t i, bool isSrc, bool neg, const std::string& v) -> Error {
        auto net = util::IPNet::parseAddrOrCidr(v);
        if (!net) return unsupported(i, "\"" + v + "\" is not an address or prefix");
        if (net->ip.family != (f == Family::kIPv6 ? AF_INET6 : AF_INET))
            return unsupported(i, "\"" + v + "\" is not of the family of " + str(key));
        std::optional<util::IPNet>& slot = isSrc ? out.src : out.dst;
        if (slot) return unsupported(i, "a second source/destination match");
        slot = net->masked();
        (isSrc ? out.notSrc : out.notDst) = neg;
        return {};
    };
    auto setIface = [&](size_t i, bool isIn, bool neg, const std::string& v) -> Error {
        if (v.empty() || v.size() > 15 || v.find('/') != std::string::npos)
            return unsupported(i, "\"" + v + "\" is not an interface name");
        std::string& slot = isIn ? out.iif : out.oif;
        if (!slot.empty()) return unsupported(i, "a second interface match");
        slot = v;
        (isIn ? out.notIif : out.notOif) = neg;
        return {};
    };
    size_t i = 0;
    while (i < tok.size()) {
        size_t start = i;
        if (b == Backend::kIptables) {
            bool neg = false;
            if (tok[i] == "!") {
                neg = true;
                i++;
            }
            if (i + 1 >= tok.size()) return unsupported(start, supported);
            const std::string& opt = tok[i];
            const std::string& val = tok[i + 1];
            Error e;
            if (opt == "-s" || opt == "--source" || opt == "--src")
                e = setAddr(start, true, neg, val);
            else if (opt == "-d" || opt == "--destination" || opt == "--dst")
                e = setAddr(start, false, neg, val);
            else if (opt == "-i" || opt == "--in-interface")
                e = setIface(start, true, neg, val);
            else if (opt == "-o" || opt == "--out-interface")
                e = setIface(start, false, neg, val);
            else
                return unsupported(start, supported);
            if (e) return e;
            i += 2;
            continue;
        }
        const std::string& w = tok[i];
        bool addr = w == "ip" || w == "ip6";
        size_t opIdx = addr ? i + 2 : i + 1;
        if (opIdx >= tok.size()) return unsupported(start, supported);
        bool neg = tok[opIdx] == "!=";
        size_t valIdx = (neg || tok[opIdx] == "==") ? opIdx + 1 : opIdx;
        if (valIdx >= tok.size()) return unsupported(start, supported);
        std::string val = unquote(tok[valIdx]);
        Error e;
        if (addr) {
            if ((w == "ip6") != (f == Family::kIPv6))
                return unsupported(start, "\"" + w + "\" does not match the family of " + str(key));
            const std::string& dir = tok[i + 1];
            if (dir != "saddr" && dir != "daddr") return unsupported(start, supported);
            e = setAddr(start, dir == "saddr", neg, val);
        } else if (w == "iifname" || w == "oifname") {
            e = setIface(start, w == "iifname", neg, val);
        } else {
            return unsupported(start, supported);
        }
        if (e) return e;
        i = valIdx + 1;
    }
    return {};
}

Error add(Backend b, const Config& c, const util::IPNet& ctr) {
    return b == Backend::kIptables ? addIptables(c, ctr) : addNft(c, ctr);
}

Error check(Backend b, const Config& c, const util::IPNet& ctr) {
    return b == Backend::kIptables ? withContext(checkIptables(c, ctr), "could not check port mappings")
                                   : checkNft(c, ctr);
}

Error del(Backend b, std::string_view network, std::string_view id) {
    if (b == Backend::kIptables) return withContext(delIptables(network, id), "could not tear down port mappings");
    return withContext(deleteNftWhere([&](const RuleInfo& ri) { return ri.comment == id; }, nullptr),
                       "error deleting nftables rules");
}

Error gc(Backend b, std::string_view network, const std::set<std::string>& valid, size_t* removed) {
    if (b == Backend::kIptables) return gcIptables(network, valid, removed);
    if (removed) *removed = 0;
    return {};
}

}  // namespace nf::hostport
