// The iptables backend: legacy xtables through libiptc (libip4tc, libip6tc).
//
// Rules are rendered from the IR into ipt_entry / ip6t_entry blobs: the
// family's ip header here, the matches and the target in iptc_render.cpp.
//
// One iptc_init per Table, one iptc_commit per commit() with changes. The
// xtables lock (/run/xtables.lock, $XTABLES_LOCKFILE) is taken by the first
// open Table of the process and released with the last one. Queries read
// the handle of this transaction; failing to get one (iptc_init) is an Error.
#include <arpa/inet.h>
#include <netinet/in.h>

// libip6tc.h has no extern "C" of its own.
extern "C" {
#include <libiptc/libip6tc.h>
}
#include <libiptc/libiptc.h>
#include <linux/netfilter/xt_comment.h>

#include <cerrno>
#include <cstring>

#include "netfilter/internal.h"
#include "netfilter/iptc_render.h"
#include "util/lock.h"
#include "util/text.h"

namespace nf::detail {

namespace {

// iptc_init / ip6tc_init, retried while the failure is a race with another
// process (neither holds the xtables lock here): EAGAIN, the table changed
// between its size and its contents being read (libiptc retries that once
// itself); EEXIST, another process's first use of the table in this netns
// was instantiating it at the same moment.
xtc_handle* initRetrying(xtc_handle* (*init)(const char*), const char* table) {
    xtc_handle* h = nullptr;
    for (int tries = 0; !h && tries < 10; tries++)
        if (!(h = init(table)) && errno != EAGAIN && errno != EEXIST) break;
    return h;
}

// ---------------------------------------------------------------- the lock

util::SharedFileLock gLock({.label = "xtables lock",
                            .defaultPath = "/run/xtables.lock",
                            .pathEnv = "XTABLES_LOCKFILE",
                            .waitEnv = "CNIBOX_XTABLES_WAIT",
                            .defaultWaitMs = 30 * 1000});

// ------------------------------------------------------- per-family glue

struct V4 {
    using Entry = ipt_entry;
    static constexpr Family kFamily = Family::kIPv4;
    static xtc_handle* init(const char* t) { return initRetrying(iptc_init, t); }
    static void free(xtc_handle* h) { iptc_free(h); }
    static int isChain(const char* c, xtc_handle* h) { return iptc_is_chain(c, h); }
    static int builtin(const char* c, xtc_handle* h) { return iptc_builtin(c, h); }
    static const char* firstChain(xtc_handle* h) { return iptc_first_chain(h); }
    static const char* nextChain(xtc_handle* h) { return iptc_next_chain(h); }
    static const Entry* firstRule(const char* c, xtc_handle* h) { return iptc_first_rule(c, h); }
    static const Entry* nextRule(const Entry* e, xtc_handle* h) { return iptc_next_rule(e, h); }
    static const char* target(const Entry* e, xtc_handle* h) { return iptc_get_target(e, h); }
    static int createChain(const char* c, xtc_handle* h) { return iptc_create_chain(c, h); }
    static int flush(const char* c, xtc_handle* h) { return iptc_flush_entries(c, h); }
    static int deleteChain(const char* c, xtc_handle* h) { return iptc_delete_chain(c, h); }
    static int append(const char* c, const Entry* e, xtc_handle* h) { return iptc_append_entry(c, e, h); }
    static int insert(const char* c, const Entry* e, xtc_handle* h) { return iptc_insert_entry(c, e, 0, h); }
    static int deleteNum(const char* c, unsigned n, xtc_handle* h) { return iptc_delete_num_entry(c, n, h); }
    static int commit(xtc_handle* h) { return iptc_commit(h); }
    static const char* strerror(int e) { return iptc_strerror(e); }
    static size_t headerSize(const Entry&) { return sizeof(ipt_ip); }

    static Error fillIP(Entry& e, const Match& m) {
        ipt_ip& ip = e.ip;
        auto addr = [](const util::IPNet& n, in_addr& a, in_addr& mask) -> Error {
            if (!n.ip.is4()) return {cni::kInternal, "an IPv6 address in an IPv4 rule: " + n.str()};
            util::IPNet masked = n.masked();
            std::memcpy(&a, masked.ip.b.data(), 4);
            uint32_t bits = n.prefix == 0 ? 0 : ~uint32_t(0) << (32 - n.prefix);
            mask.s_addr = htonl(bits);
            return {};
        };
        if (m.src) {
            if (auto err = addr(*m.src, ip.src, ip.smsk)) return err;
            if (m.notSrc) ip.invflags |= IPT_INV_SRCIP;
        }
        if (m.dst) {
            if (auto err = addr(*m.dst, ip.dst, ip.dmsk)) return err;
            if (m.notDst) ip.invflags |= IPT_INV_DSTIP;
        }
        if (auto err = iface(m.iif, ip.iniface, ip.iniface_mask)) return err;
        if (auto err = iface(m.oif, ip.outiface, ip.outiface_mask)) return err;
        if (!m.iif.empty() && m.notIif) ip.invflags |= IPT_INV_VIA_IN;
        if (!m.oif.empty() && m.notOif) ip.invflags |= IPT_INV_VIA_OUT;
        ip.proto = m.proto;
        return {};
    }
    static void setGoto(Entry& e) { e.ip.flags |= IPT_F_GOTO; }

    // As iptables' xtables_parse_interface: the mask covers the name and its
    // NUL, or only the part before a trailing '+'.
    static Error iface(const std::string& name, char* out, unsigned char* mask) {
        if (name.empty()) return {};
        if (name.size() >= IFNAMSIZ) return {cni::kInternal, "interface name too long: " + name};
        std::memcpy(out, name.data(), name.size());
        size_t n = name.back() == '+' ? name.size() - 1 : name.size() + 1;
        std::memset(mask, 0xff, n);
        return {};
    }
};

struct V6 {
    using Entry = ip6t_entry;
    static constexpr Family kFamily = Family::kIPv6;
    static xtc_handle* init(const char* t) { return initRetrying(ip6tc_init, t); }
    static void free(xtc_handle* h) { ip6tc_free(h); }
    static int isChain(const char* c, xtc_handle* h) { return ip6tc_is_chain(c, h); }
    static int builtin(const char* c, xtc_handle* h) { return ip6tc_builtin(c, h); }
    static const char* firstChain(xtc_handle* h) { return ip6tc_first_chain(h); }
    static const char* nextChain(xtc_handle* h) { return ip6tc_next_chain(h); }
    static const Entry* firstRule(const char* c, xtc_handle* h) { return ip6tc_first_rule(c, h); }
    static const Entry* nextRule(const Entry* e, xtc_handle* h) { return ip6tc_next_rule(e, h); }
    static const char* target(const Entry* e, xtc_handle* h) { return ip6tc_get_target(e, h); }
    static int createChain(const char* c, xtc_handle* h) { return ip6tc_create_chain(c, h); }
    static int flush(const char* c, xtc_handle* h) { return ip6tc_flush_entries(c, h); }
    static int deleteChain(const char* c, xtc_handle* h) { return ip6tc_delete_chain(c, h); }
    static int append(const char* c, const Entry* e, xtc_handle* h) { return ip6tc_append_entry(c, e, h); }
    static int insert(const char* c, const Entry* e, xtc_handle* h) { return ip6tc_insert_entry(c, e, 0, h); }
    static int deleteNum(const char* c, unsigned n, xtc_handle* h) { return ip6tc_delete_num_entry(c, n, h); }
    static int commit(xtc_handle* h) { return ip6tc_commit(h); }
    static const char* strerror(int e) { return ip6tc_strerror(e); }
    static size_t headerSize(const Entry&) { return sizeof(ip6t_ip6); }

    static Error fillIP(Entry& e, const Match& m) {
        ip6t_ip6& ip = e.ipv6;
        auto addr = [](const util::IPNet& n, in6_addr& a, in6_addr& mask) -> Error {
            if (!n.ip.is6()) return {cni::kInternal, "an IPv4 address in an IPv6 rule: " + n.str()};
            util::IPNet masked = n.masked();
            std::memcpy(&a, masked.ip.b.data(), 16);
            for (int i = 0; i < 16; i++) {
                int bits = std::min(8, std::max(0, n.prefix - 8 * i));
                mask.s6_addr[i] = static_cast<uint8_t>(bits == 0 ? 0 : 0xff << (8 - bits));
            }
            return {};
        };
        if (m.src) {
            if (auto err = addr(*m.src, ip.src, ip.smsk)) return err;
            if (m.notSrc) ip.invflags |= IP6T_INV_SRCIP;
        }
        if (m.dst) {
            if (auto err = addr(*m.dst, ip.dst, ip.dmsk)) return err;
            if (m.notDst) ip.invflags |= IP6T_INV_DSTIP;
        }
        if (auto err = V4::iface(m.iif, ip.iniface, ip.iniface_mask)) return err;
        if (auto err = V4::iface(m.oif, ip.outiface, ip.outiface_mask)) return err;
        if (!m.iif.empty() && m.notIif) ip.invflags |= IP6T_INV_VIA_IN;
        if (!m.oif.empty() && m.notOif) ip.invflags |= IP6T_INV_VIA_OUT;
        if (m.proto) {
            ip.proto = m.proto;
            ip.flags |= IP6T_F_PROTO;
        }
        return {};
    }
    static void setGoto(Entry& e) { e.ipv6.flags |= IP6T_F_GOTO; }
};

// ------------------------------------------------------------- rendering

// The entry: the family's ip header, then matches and target.
template <class F>
Error render(const Rule& r, Blob& b) {
    using Entry = typename F::Entry;
    b = {};
    b.bytes.resize(sizeof(Entry), 0);
    {
        Entry e;
        std::memset(&e, 0, sizeof e);   // padding too (ip6t_ip6 has some): entries are compared bytewise
        if (auto err = F::fillIP(e, r.match)) return err;
        std::memcpy(b.bytes.data(), &e, sizeof e);
    }
    if (auto err = renderMatches(b, r)) return err;
    size_t targetOffset = b.bytes.size();
    bool gotoFlag = false;
    if (auto err = renderTarget(b, r.action, F::kFamily, gotoFlag)) return err;
    auto* e = b.at<Entry>(0);
    if (gotoFlag) F::setGoto(*e);
    e->target_offset = static_cast<uint16_t>(targetOffset);
    e->next_offset = static_cast<uint16_t>(b.bytes.size());
    return {};
}

// The comment of an existing entry ("" without a comment match).
template <class Entry>
std::string commentOf(const Entry* e) {
    const auto* p = reinterpret_cast<const uint8_t*>(e);
    for (size_t off = sizeof(Entry); off + sizeof(xt_entry_match) <= e->target_offset;) {
        const auto* m = reinterpret_cast<const xt_entry_match*>(p + off);
        if (m->u.match_size < sizeof(xt_entry_match)) break;
        if (std::strcmp(m->u.user.name, "comment") == 0) {
            const auto* c = reinterpret_cast<const char*>(m->data);
            size_t max = std::min<size_t>(m->u.match_size - sizeof(xt_entry_match), XT_MAX_COMMENT_LEN);
            return std::string(c, strnlen(c, max));
        }
        off += m->u.match_size;
    }
    return {};
}

// ------------------------------------------------------------- the table

template <class F>
class IptcTable final : public Table {
public:
    using Entry = typename F::Entry;

    IptcTable(std::string name, util::SharedFileLock::Hold lock)
        : name_(std::move(name)), lock_(std::move(lock)) {}
    ~IptcTable() override {
        if (h_) F::free(h_);
    }

    Backend backend() const override { return Backend::kIptables; }
    Family family() const override { return F::kFamily; }

    Error exists(bool& out) override {
        out = true;
        return {};
    }
    Error ensure(std::string_view) override { return {}; }
    Error destroy() override { return {cni::kInternal, "iptables tables cannot be deleted"}; }

    Error hasChain(std::string_view chain, bool& out) override {
        out = false;
        if (auto e = ready()) return e;
        std::string c(chain);
        out = F::isChain(c.c_str(), h_);
        return {};
    }

    Error chains(std::vector<std::string>& out) override {
        out.clear();
        if (auto e = ready()) return e;
        for (const char* c = F::firstChain(h_); c; c = F::nextChain(h_)) out.emplace_back(c);
        return {};
    }

    Error ensureChain(std::string_view chain, const Hook*) override {
        if (auto e = ready()) return e;
        std::string c(chain);
        if (F::isChain(c.c_str(), h_)) return {};
        if (c.empty() || c.size() >= XT_EXTENSION_MAXNAMELEN)
            return {cni::kInternal, "invalid iptables chain name " + util::quoted(c)};
        if (!F::createChain(c.c_str(), h_)) return fail("create chain " + c);
        dirty_ = true;
        return {};
    }

    Error flushChain(std::string_view chain) override {
        if (auto e = ready()) return e;
        std::string c(chain);
        if (!F::isChain(c.c_str(), h_)) return {};
        if (!F::firstRule(c.c_str(), h_)) return {};
        if (!F::flush(c.c_str(), h_)) return fail("flush chain " + c);
        dirty_ = true;
        return {};
    }

    Error deleteChain(std::string_view chain) override {
        if (auto e = ready()) return e;
        std::string c(chain);
        if (!F::isChain(c.c_str(), h_)) return {};
        if (F::builtin(c.c_str(), h_)) return {cni::kInternal, "cannot delete built-in chain " + c};
        // Rules jumping to it, in every chain.
        std::vector<std::string> all;
        if (auto e = chains(all)) return e;
        for (const auto& from : all) {
            std::vector<unsigned> doomed;
            unsigned i = 0;
            for (const Entry* e = F::firstRule(from.c_str(), h_); e; e = F::nextRule(e, h_), i++)
                if (c == F::target(e, h_)) doomed.push_back(i);
            for (auto it = doomed.rbegin(); it != doomed.rend(); ++it)
                if (!F::deleteNum(from.c_str(), *it, h_)) return fail("delete rule " + std::to_string(*it) + " of " + from);
            if (!doomed.empty()) dirty_ = true;
        }
        if (F::firstRule(c.c_str(), h_) && !F::flush(c.c_str(), h_)) return fail("flush chain " + c);
        if (!F::deleteChain(c.c_str(), h_)) return fail("delete chain " + c);
        dirty_ = true;
        return {};
    }

    Error append(std::string_view chain, const Rule& r) override { return add(chain, r, false); }
    Error insert(std::string_view chain, const Rule& r) override { return add(chain, r, true); }

    Error contains(std::string_view chain, const Rule& r, bool& out) override {
        out = false;
        if (auto e = ready()) return e;
        Blob b;
        if (render<F>(r, b)) return {};  // a rule that cannot be rendered is in no chain
        std::string c(chain);
        if (!F::isChain(c.c_str(), h_)) return {};
        for (const Entry* e = F::firstRule(c.c_str(), h_); e && !out; e = F::nextRule(e, h_)) out = same(e, b);
        return {};
    }

    Error deleteRule(std::string_view chain, const Rule& r) override {
        if (auto e = ready()) return e;
        Blob b;
        if (auto e = render<F>(r, b)) return e;
        std::string c(chain);
        if (!F::isChain(c.c_str(), h_)) return {};
        std::vector<unsigned> doomed;
        unsigned i = 0;
        for (const Entry* e = F::firstRule(c.c_str(), h_); e; e = F::nextRule(e, h_), i++)
            if (same(e, b)) doomed.push_back(i);
        return deleteNums(c, doomed);
    }

    Error list(std::string_view chain, std::vector<RuleInfo>& out) override {
        out.clear();
        if (auto e = ready()) return e;
        std::string c(chain);
        if (!F::isChain(c.c_str(), h_)) return {};
        size_t i = 0;
        for (const Entry* e = F::firstRule(c.c_str(), h_); e; e = F::nextRule(e, h_), i++) {
            const char* t = F::target(e, h_);
            out.push_back({.index = i, .comment = commentOf(e), .target = t ? t : ""});
        }
        return {};
    }

    Error deleteWhere(std::string_view chain, const std::function<bool(const RuleInfo&)>& pred,
                      size_t* n) override {
        if (n) *n = 0;
        std::vector<RuleInfo> rules;
        if (auto e = list(chain, rules)) return e;
        std::vector<unsigned> doomed;
        for (const auto& ri : rules)
            if (pred(ri)) doomed.push_back(static_cast<unsigned>(ri.index));
        if (auto e = deleteNums(std::string(chain), doomed)) return e;
        if (n) *n = doomed.size();
        return {};
    }

    Error commit() override {
        if (!h_ || !dirty_) return {};
        int ok = F::commit(h_);
        int err = errno;
        // The handle is spent either way; a later query re-reads the kernel.
        F::free(h_);
        h_ = nullptr;
        dirty_ = false;
        if (!ok) {
            errno = err;
            return fail("commit");
        }
        return {};
    }

    // The handle of this transaction, read again after a commit.
    Error ready() {
        if (!h_) h_ = F::init(name_.c_str());
        if (h_) return {};
        return fail("open");
    }

private:
    // libiptc's text for errno (its own for its errors), with the errno.
    Error fail(const std::string& what) const {
        int err = errno;
        return Error(cni::kInternal, std::string(F::kFamily == Family::kIPv4 ? "iptables" : "ip6tables") +
                                         " table " + name_ + ": " + what + ": " + F::strerror(err))
            .withErrno(err);
    }

    Error add(std::string_view chain, const Rule& r, bool head) {
        if (auto e = ready()) return e;
        Blob b;
        if (auto e = render<F>(r, b)) return e;
        std::string c(chain);
        const auto* e = reinterpret_cast<const Entry*>(b.bytes.data());
        if (!(head ? F::insert(c.c_str(), e, h_) : F::append(c.c_str(), e, h_)))
            return fail(std::string(head ? "insert" : "append") + " rule in chain " + c);
        dirty_ = true;
        return {};
    }

    Error deleteNums(const std::string& c, const std::vector<unsigned>& nums) {
        for (auto it = nums.rbegin(); it != nums.rend(); ++it) {
            if (!F::deleteNum(c.c_str(), *it, h_)) return fail("delete rule " + std::to_string(*it) + " of " + c);
            dirty_ = true;
        }
        return {};
    }

    // Same rule: same ip header (minus the cache field), same matches, same
    // target (standard ones by name, as libiptc resolves jumps).
    // Match by match: size, name (up to its NUL: the kernel leaves the rest
    // of the name field as it was, so entries read back carry garbage
    // there), revision and data.
    static bool sameMatches(const uint8_t* a, const uint8_t* b, size_t off, size_t end) {
        while (off + sizeof(xt_entry_match) <= end) {
            const auto* ma = reinterpret_cast<const xt_entry_match*>(a + off);
            const auto* mb = reinterpret_cast<const xt_entry_match*>(b + off);
            size_t size = ma->u.user.match_size;
            if (size != mb->u.user.match_size || size < sizeof(xt_entry_match) || off + size > end) return false;
            if (std::strncmp(ma->u.user.name, mb->u.user.name, sizeof ma->u.user.name) != 0) return false;
            if (ma->u.user.revision != mb->u.user.revision) return false;
            if (std::memcmp(ma->data, mb->data, size - sizeof(xt_entry_match)) != 0) return false;
            off += size;
        }
        return off == end;
    }

    bool same(const Entry* e, const Blob& b) {
        const auto* want = reinterpret_cast<const Entry*>(b.bytes.data());
        if (std::memcmp(e, want, F::headerSize(*want)) != 0) return false;
        if (e->target_offset != want->target_offset || e->next_offset != want->next_offset) return false;
        const auto* p = reinterpret_cast<const uint8_t*>(e);
        if (!sameMatches(p, b.bytes.data(), sizeof(Entry), e->target_offset)) return false;
        const char* t = F::target(e, h_);
        if (!t || b.targetName != t) return false;
        if (b.standardTarget) return true;
        const auto* et = reinterpret_cast<const xt_entry_target*>(p + e->target_offset);
        const auto* wt = reinterpret_cast<const xt_entry_target*>(b.bytes.data() + want->target_offset);
        if (et->u.user.revision != wt->u.user.revision) return false;
        size_t n = wt->u.user.target_size - sizeof(xt_entry_target);
        return std::memcmp(et->data, wt->data, n) == 0;
    }

    std::string name_;
    util::SharedFileLock::Hold lock_;
    xtc_handle* h_ = nullptr;
    bool dirty_ = false;
};

bool validTableName(std::string_view n) {
    return n == "filter" || n == "nat" || n == "mangle" || n == "raw" || n == "security";
}

template <class F>
Error openTable(std::string_view name, std::unique_ptr<Table>& out) {
    if (!validTableName(name))
        return {cni::kInternal, "unknown iptables table " + util::quoted(name)};
    util::SharedFileLock::Hold lock;
    if (auto e = gLock.acquire(lock)) return e;
    auto t = std::make_unique<IptcTable<F>>(std::string(name), std::move(lock));  // releases it if init fails
    if (auto e = t->ready()) return e;
    out = std::move(t);
    return {};
}

}  // namespace

Error openIptables(Family f, std::string_view name, std::unique_ptr<Table>& out) {
    if (f == Family::kIPv4) return openTable<V4>(name, out);
    if (f == Family::kIPv6) return openTable<V6>(name, out);
    return {cni::kInternal, "the iptables backend has only the ip and ip6 families"};
}

Error iptablesUsable(bool& out, int* err) {
    out = false;
    xtc_handle* h = initRetrying(iptc_init, "filter");
    if (!h) {
        // Every failure but memory is the kernel's answer (no ip_tables, no
        // permission).
        if (errno == ENOMEM) return Error::sys(cni::kInternal, "iptables: cannot read the filter table", errno);
        if (err) *err = errno;
        return {};
    }
    iptc_free(h);
    out = true;
    return {};
}

}  // namespace nf::detail
