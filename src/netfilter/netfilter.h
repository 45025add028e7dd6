// The netfilter layer: one interface, two in-process backends.
//
//   iptables  legacy xtables through libiptc (libip4tc / libip6tc). Holds
//             /run/xtables.lock (flock, as `iptables -w`; $XTABLES_LOCKFILE
//             overrides the path, $CNIBOX_XTABLES_WAIT the 30 s wait) from
//             the first open Table until the last one is gone, so it
//             coexists with iptables itself and kube-proxy. One iptc_commit
//             per table per Table object.
//   nftables  libnftnl messages sent as one atomic batch per Table commit.
//             Holds /run/cnibox/nftables.lock (flock; $CNIBOX_NFTABLES_LOCKFILE,
//             $CNIBOX_NFTABLES_WAIT) while a Table is open so that concurrent
//             plugins' read-modify-write cycles serialise.
//
// Applets describe rules with the small IR below (Match + Action + comment);
// each backend renders it (ipt_entry blobs / nftnl expressions). Applets
// never build backend-specific structures themselves.
//
// Usage pattern (both backends): open -> query (hasChain/list/contains) ->
// modify -> commit. Queries on the iptables backend see this transaction's
// own pending changes; on nftables they see the kernel as of the query, so
// query before modifying. Tables for several families may be open at once;
// the locks are process-wide and reference counted.
//
// Queries can fail: each returns an Error (code 999 naming the table and
// chain, the errno in errnum) and its answer in an out-parameter. A table
// or chain the kernel says is not there (ENOENT) is an answer, not a
// failure. A plugin run ends with finishRun().
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/error.h"
#include "util/ipaddr.h"

namespace nf {

using cni::Error;

enum class Backend : uint8_t { kIptables, kNftables };
std::string_view backendName(Backend b);  // "iptables" | "nftables"

// Config value ("iptables" | "nftables" | "" = auto) -> backend. Anything
// else: code 7 naming `key` and the accepted values.
Error parseBackend(std::string_view key, std::string_view value, std::optional<Backend>& out);

// Whether the backend can be used in the current network namespace (the
// iptables probe opens the filter table; the nftables probe lists tables).
// The kernel refusing the probe (no such backend, no permission) is the
// answer false, with its errno in *err (if given); a probe that could not
// ask (no /proc/self/ns/net, a netlink transport failure) is an Error.
Error usable(Backend b, bool& out, int* err = nullptr);

// Whether the backend may hold rules here, for teardown: it is usable, or
// the kernel refused to let us look (EPERM, EACCES), or the probe could not
// ask. False only when the kernel has no such backend: nothing of ours can
// be there.
bool mayHoldRules(Backend b);

// The automatic choice, deterministic and documented in the README:
// iptables if the legacy xtables of this network namespace are in use
// (/proc/net/ip_tables_names or ip6_tables_names lists a table) or nftables
// is not usable; otherwise nftables.
Backend autoBackend();

// Explicit choice or autoBackend(); code 50 when the result is not usable
// (with the probe's errno text), the probe's Error when it could not ask.
Error chooseBackend(std::optional<Backend> wanted, Backend& out);

// Ends this process's use of netfilter; main calls it once the applet has
// returned. Closes the nftables socket, handing it to a short-lived child
// when its close would wait for the kernel's destruction of deleted objects
// (nft::DeferredClose; off with CNIBOX_NFT_DEFERRED_CLOSE=0).
void finishRun();

enum class Family : uint8_t {
    kIPv4,    // iptables: iptc (ip_tables);  nftables: "ip"
    kIPv6,    // iptables: ip6tc (ip6_tables); nftables: "ip6"
    kInet,    // nftables only
    kBridge,  // nftables only
};
Family familyOf(const util::IP& ip);  // kIPv4 / kIPv6

// Whether the legacy xtables table `name` ("nat", "filter", ...) of the
// family (kIPv4/kIPv6) exists in this network namespace. Opening a missing
// one would create it (and turn autoBackend() to iptables): teardown and GC
// look here first, since nothing of ours can be in a table that is not there.
// No /proc/net/ip(6)_tables_names (no ip_tables module): false; another
// failure to read it: an Error.
Error legacyTableExists(Family f, std::string_view name, bool& out);

// A base chain (nftables). iptables' built-in chains ignore it.
struct Hook {
    std::string type;   // "nat" | "filter"
    std::string hook;   // "prerouting" | "input" | "forward" | "output" | "postrouting"
    int priority = 0;   // e.g. -100 dstnat, 100 srcnat, -300 (bridge spoofcheck)
};

// Every field is optional; an empty Match matches everything. In the inet
// and bridge families the nftables backend adds the protocol dependency
// (meta nfproto / ether type) in front of address matches itself.
struct Match {
    std::optional<util::IPNet> src, dst;   // -s / -d, ip saddr / ip daddr
    bool notSrc = false, notDst = false;   // "! -s", "saddr !="
    std::string iif, oif;                  // -i / -o, iifname / oifname
    bool notIif = false, notOif = false;
    uint8_t proto = 0;                     // IPPROTO_TCP / UDP / SCTP; 0 = any
    std::vector<uint16_t> dports;          // 1: --dport (tcp/udp/sctp match), >1: -m multiport --dports (<= 15)
    bool multiport = false;                // iptables: -m multiport --dports also for one port (as upstream
                                           // portmap's CNI-HOSTPORT-DNAT rules); nftables: no difference
    bool dstLocal = false;                 // -m addrtype --dst-type LOCAL, fib daddr type local
    std::optional<uint32_t> mark;          // -m mark --mark mark/markMask, meta mark & mask == mark
    uint32_t markMask = 0xffffffff;
    bool ctRelatedEstablished = false;     // -m conntrack --ctstate RELATED,ESTABLISHED, ct state
    std::optional<std::array<uint8_t, 6>> etherSrc;  // nftables bridge family: ether saddr
};

enum class Verdict : uint8_t {
    kAccept, kDrop, kReturn,
    kJump,        // to Action::chain
    kGoto,        // nftables goto (iptables: -g)
    kMasquerade,  // nat
    kDnat,        // to Action::toAddr[:toPort] (toPort 0 = keep)
    kSetMark,     // MARK --set-xmark mark/mask; meta mark set mark & ~mask | mark
};

struct Action {
    Verdict verdict = Verdict::kAccept;
    std::string chain;           // kJump / kGoto
    util::IP toAddr;             // kDnat
    uint16_t toPort = 0;         // kDnat
    uint32_t mark = 0, mask = 0; // kSetMark
};

struct Rule {
    Match match;
    Action action;
    std::string comment;  // -m comment --comment / rule userdata comment; "" = none
};

// What list() reports about an existing rule.
struct RuleInfo {
    size_t index = 0;         // 0-based position in the chain
    uint64_t handle = 0;      // nftables rule handle (0 on iptables)
    std::string comment;      // "" if none
    std::string target;       // jump/goto chain name, or "ACCEPT", "DROP", "RETURN",
                              // "MASQUERADE", "DNAT", "MARK", ... ("" if unknown)
};

class Table {
public:
    // Opens `name` in `family` for one transaction (takes the backend lock).
    // iptables: name is "nat" | "filter" | "mangle" | "raw", family kIPv4/kIPv6,
    // the table always exists. nftables: any family and name.
    static Error open(Backend b, Family f, std::string_view name, std::unique_ptr<Table>& out);
    virtual ~Table() = default;

    virtual Backend backend() const = 0;
    virtual Family family() const = 0;

    // nftables: whether the table exists / create it (no-op if it exists;
    // `comment` set on creation, kernels without table comments ignore it).
    // iptables: always true / no-op.
    virtual Error exists(bool& out) = 0;
    virtual Error ensure(std::string_view comment = {}) = 0;
    // nftables: delete the whole table with everything in it (absent: ok).
    // iptables: code 999 (tables cannot be deleted).
    virtual Error destroy() = 0;

    virtual Error hasChain(std::string_view chain, bool& out) = 0;
    virtual Error chains(std::vector<std::string>& out) = 0;
    // Creates the chain if missing (no-op if present). With `hook`, an nftables
    // base chain (policy accept); built-in iptables chains are left as they are.
    virtual Error ensureChain(std::string_view chain, const Hook* hook = nullptr) = 0;
    virtual Error flushChain(std::string_view chain) = 0;   // missing chain: ok
    // Deletes a chain. Missing: ok. iptables: the chain is flushed first and
    // every rule in the table that jumps to it is deleted too.
    virtual Error deleteChain(std::string_view chain) = 0;

    virtual Error append(std::string_view chain, const Rule& r) = 0;
    virtual Error insert(std::string_view chain, const Rule& r) = 0;  // at the head
    // Whether an identical rule (same match, action and comment) is in the
    // chain (a missing chain holds none, and no chain holds a rule that
    // cannot be rendered).
    virtual Error contains(std::string_view chain, const Rule& r, bool& out) = 0;
    // Appends (or inserts at the head) only if not contains().
    Error ensureRule(std::string_view chain, const Rule& r, bool atHead = false);
    // Makes `chain` hold exactly `rules` in this order. When it already holds
    // them nothing is queued (a steady-state ADD then carries no deletion,
    // which on nftables would cost an RCU grace period); otherwise the chain
    // is flushed and refilled in the same transaction.
    virtual Error replaceRules(std::string_view chain, const std::vector<Rule>& rules);
    // Deletes every identical rule. None there: ok.
    virtual Error deleteRule(std::string_view chain, const Rule& r) = 0;

    // The chain's rules in order (a missing chain: none).
    virtual Error list(std::string_view chain, std::vector<RuleInfo>& out) = 0;
    // Deletes the rules of `chain` for which pred is true; returns how many in *n.
    virtual Error deleteWhere(std::string_view chain, const std::function<bool(const RuleInfo&)>& pred,
                              size_t* n = nullptr) = 0;

    // Applies the transaction (iptc_commit / the nftables batch). After a
    // failed commit nothing of this transaction is applied.
    virtual Error commit() = 0;
};

// CNI chain names as upstream: prefix + hex(sha512(name + id)), the whole
// name truncated to 28 characters. prefix "CNI-" (ipMasq), "CNI-DN-" (portmap).
std::string chainName(std::string_view prefix, std::string_view name, std::string_view id);
// Lower-case hex of sha512(s) (nettle).
std::string sha512Hex(std::string_view s);
// `name: "<net>" id: "<cid>"`
std::string attachmentComment(std::string_view name, std::string_view id);

// Deletes conntrack entries of `proto` whose original destination port is
// `port` in the family (netlink, NFNL_SUBSYS_CTNETLINK). Errors are returned
// for the caller to log; none is fatal to a plugin.
Error conntrackDeleteByDport(int family, uint8_t proto, uint16_t port);

}  // namespace nf
