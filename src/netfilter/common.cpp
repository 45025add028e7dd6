// Backend choice, names and the parts of Table that do not depend on a backend.
#include <fcntl.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "netfilter/internal.h"
#include "util/fs.h"

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
                std::string(key) + " must be \"iptables\" or \"nftables\", not \"" + std::string(value) + "\""};
    }
    return {};
}

bool usable(Backend b, int* err) {
    return b == Backend::kIptables ? detail::iptablesUsable(err) : detail::nftablesUsable(err);
}

// The table names a /proc/net/*_tables_names file lists (one per line).
static std::vector<std::string> tableNames(const char* path) {
    std::vector<std::string> out;
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    char buf[256];
    ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    std::string cur;
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else {
            cur += buf[i];
        }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}

static const char* namesFile(Family f) {
    return f == Family::kIPv6 ? "/proc/net/ip6_tables_names" : "/proc/net/ip_tables_names";
}

static bool listsATable(const char* path) { return !tableNames(path).empty(); }

bool legacyTableExists(Family f, std::string_view name) {
    for (const std::string& t : tableNames(namesFile(f)))
        if (t == name) return true;
    return false;
}

Backend autoBackend() {
    if (listsATable(namesFile(Family::kIPv4)) || listsATable(namesFile(Family::kIPv6)))
        return Backend::kIptables;
    return detail::nftablesUsable() ? Backend::kNftables : Backend::kIptables;
}

Error chooseBackend(std::optional<Backend> wanted, Backend& out) {
    out = wanted ? *wanted : autoBackend();
    int err = 0;
    if (!usable(out, &err))
        return {cni::kNotAvailable, std::string("the ") + std::string(backendName(out)) +
                                        " backend is not usable in this network namespace" +
                                        (err ? std::string(": ") + util::errnoDesc(err) : std::string())};
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
    if (contains(chain, r)) return {};
    return atHead ? insert(chain, r) : append(chain, r);
}

Error Table::replaceRules(std::string_view chain, const std::vector<Rule>& rules) {
    bool same = list(chain).size() == rules.size();
    for (size_t i = 0; same && i < rules.size(); i++) same = contains(chain, rules[i]);
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
    std::string hex;
    hex.reserve(2 * sizeof digest);
    static constexpr char kDigits[] = "0123456789abcdef";
    for (uint8_t c : digest) {
        hex += kDigits[c >> 4];
        hex += kDigits[c & 15];
    }
    return hex;
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
