// Backend choice, names and the parts of Table that do not depend on a backend.
#include <cerrno>

#include <nettle/sha2.h>

#include "netfilter/internal.h"
#include "util/fs.h"
#include "util/text.h"

namespace nf {

std::string_view backendName(Backend b) {
    return b == Backend::kIptables ? "iptables" : "nftables";
}

Error parseBackend(std::string_view key, std::string_view value, std::optional<Backend>& out) {
    if (value.empty()) {
        out.reset();
    } else if (value == "iptables") {
        out = Backend::kIptables;
    } else if (value == "nftables") {
        out = Backend::kNftables;
    } else {
        return {cni::kInvalidNetConf,
                std::string(key) + " must be \"iptables\" or \"nftables\", not " + util::quoted(value)};
    }
    return {};
}

Error usable(Backend b, bool& out, int* err) {
    out = false;
    return b == Backend::kIptables ? detail::iptablesUsable(out, err) : detail::nftablesUsable(out, err);
}

bool mayHoldRules(Backend b) {
    bool ok = false;
    int err = 0;
    if (usable(b, ok, &err) || ok) return true;
    return err == EPERM || err == EACCES;
}

void finishRun() { detail::finishNftables(); }

namespace {

const char* namesFile(Family f) {
    return f == Family::kIPv6 ? "/proc/net/ip6_tables_names" : "/proc/net/ip_tables_names";
}

// The table names the family's /proc/net/*_tables_names lists (one per
// line); none when the file is not there (no ip_tables module).
Error tableNames(Family f, std::vector<std::string>& out) {
    out.clear();
    std::string text;
    if (auto e = util::readFile(namesFile(f), text, 4096)) {
        if (e.errnum == ENOENT) return {};
        return e.wrap("cannot read the legacy xtables tables");
    }
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        if (end > start) out.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return {};
}

}  // namespace

Error legacyTableExists(Family f, std::string_view name, bool& out) {
    out = false;
    std::vector<std::string> names;
    if (auto e = tableNames(f, names)) return e;
    for (const std::string& t : names) out = out || t == name;
    return {};
}

Error detail::openLegacyIfExists(Family f, std::string_view name, std::unique_ptr<Table>& out) {
    out.reset();
    bool there = false;
    if (auto e = legacyTableExists(f, name, there)) return e;
    return there ? Table::open(Backend::kIptables, f, name, out) : Error();
}

Backend autoBackend() {
    // (A list that cannot be read lists nothing here: the nftables probe decides.)
    for (Family f : {Family::kIPv4, Family::kIPv6}) {
        std::vector<std::string> names;
        if (!tableNames(f, names) && !names.empty()) return Backend::kIptables;
    }
    bool ok = false;
    if (detail::nftablesUsable(ok)) return Backend::kIptables;
    return ok ? Backend::kNftables : Backend::kIptables;
}

Error chooseBackend(std::optional<Backend> wanted, Backend& out) {
    out = wanted ? *wanted : autoBackend();
    bool ok = false;
    int err = 0;
    if (auto e = usable(out, ok, &err)) return e;
    if (!ok) {
        std::string why = err ? std::string(": ") + util::errnoDesc(err) : std::string();
        // The kernel loads nf_tables on demand, but not ip_tables: the
        // iptables program loads it itself, and cnibox loads no module.
        if (out == Backend::kIptables && err == ENOPROTOOPT) why += " (is the ip_tables module loaded?)";
        return {cni::kNotAvailable, std::string("the ") + std::string(backendName(out)) +
                                        " backend is not usable in this network namespace" + why};
    }
    return {};
}

Family familyOf(const util::IP& ip) { return ip.is4() ? Family::kIPv4 : Family::kIPv6; }

Error Table::open(Backend b, Family f, std::string_view name, std::unique_ptr<Table>& out) {
    out.reset();
    if (b == Backend::kIptables) {
        if (f != Family::kIPv4 && f != Family::kIPv6)
            return {cni::kInternal, "the iptables backend has only the ip and ip6 families"};
        return detail::openIptables(f, name, out);
    }
    return detail::openNftables(f, name, out);
}

Error Table::ensureRule(std::string_view chain, const Rule& r, bool atHead) {
    bool there = false;
    if (auto e = contains(chain, r, there)) return e;
    if (there) return {};
    return atHead ? insert(chain, r) : append(chain, r);
}

Error Table::replaceRules(std::string_view chain, const std::vector<Rule>& rules) {
    std::vector<RuleInfo> have;
    if (auto e = list(chain, have)) return e;
    bool same = have.size() == rules.size();
    for (size_t i = 0; same && i < rules.size(); i++)
        if (auto e = contains(chain, rules[i], same)) return e;
    if (same) return {};
    if (auto e = flushChain(chain)) return e;
    for (const Rule& r : rules)
        if (auto e = append(chain, r)) return e;
    return {};
}

std::string sha512Hex(std::string_view s) {
    sha512_ctx ctx;
    sha512_init(&ctx);
    sha512_update(&ctx, s.size(), reinterpret_cast<const uint8_t*>(s.data()));
    uint8_t digest[SHA512_DIGEST_SIZE];
    sha512_digest(&ctx, sizeof digest, digest);
    return detail::hex(digest, sizeof digest);
}

std::string detail::hex(const void* p, size_t n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * n);
    for (size_t i = 0; i < n; ++i) {
        uint8_t c = static_cast<const uint8_t*>(p)[i];
        out += kDigits[c >> 4];
        out += kDigits[c & 15];
    }
    return out;
}

std::string chainName(std::string_view prefix, std::string_view name, std::string_view id) {
    std::string s(prefix);
    s += sha512Hex(std::string(name) + std::string(id));
    s.resize(28);
    return s;
}

std::string attachmentComment(std::string_view name, std::string_view id) {
    return "name: \"" + std::string(name) + "\" id: \"" + std::string(id) + "\"";
}

}  // namespace nf
