// The kernel, through libnl-3 / libnl-route-3. Applets never build netlink
// messages: they call these. Everything returns util::Error (code 0 = ok);
// kernel errors are code 999 unless said otherwise, with the operation and
// the object in the message ("failed to add address 10.1.2.3/24 to eth0: File exists").
// The kernel's extended ack text follows in parentheses when it has one,
// except for EEXIST/ENOENT/ESRCH/ENODEV ("...: Invalid argument (mtu less
// than device minimum)"). The Error's errnum is the errno itself.
//
// Speed rules (see README "What the kernel costs"): create links in their
// final namespace (veth peer straight into the container, via
// IFLA_NET_NS_FD); one socket per namespace, kept for the whole verb; no
// full dumps where a single GET does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"
#include "util/ipaddr.h"

struct nl_sock;

namespace nl {

using util::Error;

// ---------------------------------------------------------------- netns
// An open network namespace (an fd on /proc/self/ns/net or a bind mount).
class Netns {
public:
    Netns() = default;
    ~Netns();
    Netns(Netns&&) noexcept;
    Netns& operator=(Netns&&) noexcept;
    Netns(const Netns&) = delete;
    Netns& operator=(const Netns&) = delete;

    // Opens a path; fails with code 8 (kInvalidNetNS) and a message
    // "failed to open netns \"P\": ..." when it does not exist, or
    // "\"P\" is not a valid network namespace" when it is not nsfs/procfs.
    // `notExist` is set when the path does not exist (DEL treats that as success).
    static Error open(const std::string& path, Netns& out, bool* notExist = nullptr);
    // The caller's current namespace.
    static Error current(Netns& out);
    int fd() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    const std::string& path() const { return path_; }
    // Same namespace as `o` (compares st_dev/st_ino).
    bool sameAs(const Netns& o) const;

private:
    int fd_ = -1;
    std::string path_;
};

// Enters `ns` for the lifetime of the guard and always returns the thread
// to the namespace it was in (setns back in the destructor).
class NetnsGuard {
public:
    explicit NetnsGuard(const Netns& ns);
    ~NetnsGuard();
    NetnsGuard(const NetnsGuard&) = delete;
    NetnsGuard& operator=(const NetnsGuard&) = delete;
    const Error& error() const { return err_; }
private:
    int orig_ = -1;
    Error err_;
};

// ---------------------------------------------------------------- links
struct LinkInfo {
    int index = 0;
    std::string name;
    std::string kind;           // "veth", "bridge", "" for none, ...
    std::string mac;            // "aa:bb:cc:dd:ee:ff" (lowercase)
    int mtu = 0;
    bool up = false;            // IFF_UP administratively
    bool operUp = false;        // IF_OPER_UP
    bool promisc = false;       // IFF_PROMISC as set by users (not by bridge ports etc.)
    bool allmulti = false;      // IFF_ALLMULTI as set by users
    int txqlen = 0;             // IFLA_TXQLEN
    int master = 0;             // ifindex of master, 0 = none
    int peerIndex = 0;          // veth: IFLA_LINK (peer ifindex, in peer's netns)
    int linkNetnsId = -1;       // IFLA_LINK_NETNSID, -1 = same netns
    std::string alias;
    uint32_t vrfTable = 0;      // kind "vrf": its routing table (IFLA_VRF_TABLE)
};

struct VethSpec {
    std::string name;           // created in the socket's own namespace
    std::string peerName;       // created directly in `peerNs`
    const Netns* peerNs = nullptr;  // nullptr: same namespace
    int mtu = 0;                // 0 = kernel default; applied to both ends
    std::string mac;            // "" = random; for `name`
    std::string peerMac;        // "" = random; for `peerName`
    int txqlen = -1;            // both ends; -1 = kernel default (as upstream since 1.6.0)
};

// A link of kind macvlan, ipvlan, vlan, dummy, ifb or vrf (Socket::addSubLink).
struct SubLinkSpec {
    std::string kind;           // "macvlan", "ipvlan", "vlan", "dummy", "ifb", "vrf"
    std::string name;
    int masterIndex = 0;        // IFLA_LINK: parent in the socket's namespace (0 = none)
    const Netns* ns = nullptr;  // created directly there (nullptr: socket's namespace)
    int mtu = 0;                // 0 = kernel default (the parent's)
    std::string mac;            // "" = random
    int txqlen = -1;            // -1 = kernel default
    int macvlanMode = 4;        // MACVLAN_MODE_* (4 = bridge)
    int bcQueueLen = 0;         // macvlan broadcast queue length, 0 = kernel default
    int ipvlanMode = 0;         // IPVLAN_MODE_L2/L3/L3S
    int ipvlanFlags = 0;        // IPVLAN_F_PRIVATE / IPVLAN_F_VEPA
    int vlanId = 0;
    uint32_t vrfTable = 0;      // vrf: its routing table (required, >= 1)
};

// A persistent tap device made through /dev/net/tun in the caller's current
// namespace (enter one with NetnsGuard first). -1 = leave owner/group unset.
struct TapSpec {
    std::string name;
    bool multiQueue = false;
    int64_t owner = -1;   // a uint32 uid/gid, 64 bits wide on 32-bit CPUs too
    int64_t group = -1;
};
Error addTap(const TapSpec& spec);

// Socket::routes' table for every table.
inline constexpr int kAllTables = -1;

struct RouteSpec {
    util::IPNet dst;
    std::optional<util::IP> gw;
    int ifindex = 0;            // output interface; 0 = let the kernel decide from gw
    int table = 0;              // 0 = main
    std::optional<int> scope;   // RT_SCOPE_*; default: link when no gw, universe with gw
    int priority = 0;           // metric
    int mtu = 0;
    int advmss = 0;
    std::optional<util::IP> src;  // preferred source
    int protocol = 0;           // RTPROT_*; 0: boot when adding (as `ip route add`), any when deleting
    // ECMP: additional next hops (gw/ifindex). When non-empty, `gw`/`ifindex`
    // are the first hop.
    struct Hop { std::optional<util::IP> gw; int ifindex = 0; };
    std::vector<Hop> multipath;
};

// A policy routing rule (`ip rule`): packets from `src` (any source when
// unset) look up `table`.
struct RuleSpec {
    int family = 0;                    // 0: src's family, else AF_INET
    std::optional<util::IPNet> src;
    int table = 0;                     // required to add; 0 matches any on delete
    int priority = -1;                 // -1: the kernel picks (add), any (delete)
};

struct AddrInfo {
    util::IPNet addr;
    int ifindex = 0;
    int scope = 0;
    unsigned flags = 0;         // IFA_F_*
};

// A netlink route socket bound to one namespace. Open one per namespace per
// verb and do everything through it.
class Socket {
public:
    Socket() = default;
    ~Socket();
    Socket(Socket&&) noexcept;
    Socket& operator=(Socket&&) noexcept;
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    // Socket in the caller's current namespace.
    static Error open(Socket& out);
    // Socket in `ns` (enters it just to create the socket).
    static Error openIn(const Netns& ns, Socket& out);

    // Links. Lookups by name/index are single GETs. `found` is false and no
    // error when the link does not exist.
    Error linkByName(std::string_view name, LinkInfo& out, bool& found);
    Error linkByIndex(int index, LinkInfo& out, bool& found);
    Error linkExists(std::string_view name, bool& exists);
    // All links (a dump). Use sparingly.
    Error links(std::vector<LinkInfo>& out);

    // Creates a veth pair; fails with EEXIST-style error when a name is taken:
    // `nameTaken` tells the caller to retry with another random name. It
    // refers to `name`; an EEXIST failure with nameTaken false means
    // `peerName` is taken in the peer namespace.
    Error addVeth(const VethSpec& spec, bool* nameTaken = nullptr);
    // Creates a macvlan/ipvlan/vlan/dummy/ifb/vrf link. A kernel without the
    // driver fails with code 999 "... Unknown device type ...". `nameTaken`: EEXIST.
    Error addSubLink(const SubLinkSpec& spec, bool* nameTaken = nullptr);
    // Whether the kernel can make vrf links, asked without making one: an
    // RTM_NEWLINK of kind vrf that the vrf driver refuses while validating
    // it (a 1-byte hardware address, no table), before any device exists.
    // A kernel without the driver answers "Unknown device type" instead
    // (after trying to load the module, as a real creation would).
    Error vrfSupported(bool& supported);
    // The id this socket's namespace knows `other` by (what IFLA_LINK_NETNSID
    // says of a link whose other end lives there); -1 when it has none.
    Error netnsIdOf(const Netns& other, int& id);
    // Creates a bridge (EEXIST is not an error when it is a bridge already).
    Error addBridge(std::string_view name, int mtu, bool& created);
    Error deleteLink(int index);
    // Deletes by name; `found` false when already gone (not an error).
    Error deleteLinkByName(std::string_view name, bool* found = nullptr);

    Error setUp(int index);
    Error setDown(int index);
    Error setMtu(int index, int mtu);
    Error setMac(int index, std::string_view mac);
    Error setName(int index, std::string_view name);
    Error setAlias(int index, std::string_view alias);
    Error setPromisc(int index, bool on);
    Error setAllmulti(int index, bool on);
    Error setTxQLen(int index, int qlen);          // 0 allowed (no queue)
    Error setMaster(int index, int masterIndex);   // 0 = no master
    Error setNetns(int index, const Netns& ns);    // expensive (~20 ms): avoid
    // Bridge port flags (AF_BRIDGE IFLA_PROTINFO).
    Error setHairpin(int index, bool on);
    Error setPortIsolated(int index, bool on);
    // VLAN filtering on a bridge, and VLANs of one of its ports (`vidEnd`
    // > `vid`: the range vid..vidEnd in one message). Kernels built without
    // CONFIG_BRIDGE_VLAN_FILTERING (this project's test machines) fail with
    // EOPNOTSUPP.
    Error setBridgeVlanFiltering(int bridgeIndex, bool on);
    Error bridgeVlanAdd(int index, int vid, bool pvid, bool untagged, int vidEnd = 0);
    Error bridgeVlanDel(int index, int vid, int vidEnd = 0);
    // Waits until the link's operstate is UP (bridge ports): checks, then
    // sleeps sleepsMs[i] and checks again, for each i. `up` false at the end
    // is not an error here: the caller words it ("bridge port in error
    // state: ..."). Errors only for kernel failures or a vanished link (its
    // errnum ENODEV).
    Error waitOperUp(int index, const std::vector<int>& sleepsMs, bool& up);

    // Addresses.
    // IPv4 prefixes shorter than /31 get the broadcast address (as
    // upstream's netlink does).
    Error addAddr(int index, const util::IPNet& addr);         // EEXIST = error
    Error addAddr(int index, const util::IPNet& addr, unsigned flags);  // IFA_F_* (e.g. NODAD)
    Error replaceAddr(int index, const util::IPNet& addr);
    Error delAddr(int index, const util::IPNet& addr);          // missing: EADDRNOTAVAIL
    // Addresses on a link (family 0 = both).
    Error addrs(int index, int family, std::vector<AddrInfo>& out);

    // Routes.
    // `existed` given: EEXIST is not an error, *existed says it happened.
    Error addRoute(const RouteSpec& r, bool* existed = nullptr);
    // As `ip route add` without NLM_F_EXCL (upstream's RouteAddEcmp): a
    // route to the same destination with the same metric from another link
    // goes in beside the one there (IPv6: as another next hop of it) instead
    // of failing; only an identical route is EEXIST.
    Error addRouteBeside(const RouteSpec& r);
    Error replaceRoute(const RouteSpec& r);
    // Unset fields match any route (gateway, ifindex, scope, protocol).
    // `found` given: a missing route is not an error, *found = false.
    Error delRoute(const RouteSpec& r, bool* found = nullptr);
    // Routes in `table` (0 = main, kAllTables = every table, as `ip route
    // show table all`) whose output interface is `ifindex` (0 = any), of
    // `family` (0 = both).
    // `gw`/`ifindex`: the first next hop (with `ifindex` given: the hop
    // through it); `multipath`: every hop when there are several.
    struct RouteInfo { util::IPNet dst; std::optional<util::IP> gw; int ifindex = 0; int table = 0;
                       int scope = 0; int priority = 0; int protocol = 0; std::optional<util::IP> src;
                       int type = 1 /* RTN_UNICAST */; int mtu = 0; int advmss = 0;
                       std::vector<RouteSpec::Hop> multipath;
                       // The same route (first next hop, protocol kept) in
                       // `table`: to copy or move it there, or to delete it.
                       RouteSpec spec(int table) const; };
    Error routes(int family, int ifindex, int table, std::vector<RouteInfo>& out);
    // The output interface the kernel chooses for `dst` (one RTM_GETROUTE,
    // as `ip route get`); 0 when it has no route.
    Error routeGet(const util::IP& dst, int& ifindex);

    // Policy routing rules. `existed`/`found` as for routes.
    Error addRule(const RuleSpec& r, bool* existed = nullptr);
    Error delRule(const RuleSpec& r, bool* found = nullptr);
    struct RuleInfo { int family = 0; std::optional<util::IPNet> src; int table = 0; int priority = 0;
                      int action = 0; };
    // Every rule of `family` (0 = both).
    Error rules(int family, std::vector<RuleInfo>& out);

    // Neighbours.
    Error addNeigh(int index, const util::IP& ip, std::string_view mac, bool permanent);

    struct nl_sock* raw() { return sk_; }

private:
    struct nl_sock* sk_ = nullptr;
};

// ---------------------------------------------------------------- sysctl
// /proc/sys/<key with dots as slashes>, in the caller's current namespace
// (enter one with NetnsGuard first). Writes skip when the value is already
// there. Interface names in keys are substituted by the caller.
Error sysctlGet(std::string_view key, std::string& out);
Error sysctlSet(std::string_view key, std::string_view value);
// net.ipv4.conf.<ifname>.<name> / net.ipv6.conf.<ifname>.<name>
Error ifSysctlSet(int family, std::string_view ifname, std::string_view name, std::string_view value);

// Random "vethXXXXXXXX" (4 random bytes in hex), as upstream names host ends.
std::string randomVethName();

}  // namespace nl
