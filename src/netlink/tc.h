// Traffic control through rtnetlink, as `tc` makes it: qdiscs (tbf,
// ingress), u32 filters and the mirred action (bandwidth's shaping).
// Free functions over a Socket of the namespace the links are in; errors as
// in netlink.h ("failed to add qdisc tbf 1: root on veth1: File exists").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "netlink/netlink.h"

namespace nl::tc {

// ---------------------------------------------------------------- handles
// major:minor (TC_H_MAKE).
constexpr uint32_t handle(uint32_t major, uint32_t minor) { return major << 16 | (minor & 0xffff); }
inline constexpr uint32_t kRoot = 0xffffffff;           // TC_H_ROOT: parent of a root qdisc
inline constexpr uint32_t kIngressParent = 0xfffffff1;  // TC_H_INGRESS: parent of the ingress qdisc
inline constexpr uint32_t kIngressHandle = 0xffff0000;  // ffff:, the ingress qdisc
// As tc prints them: "1:", "ffff:", "1:1", "root", "ingress".
std::string handleStr(uint32_t h);

// ---------------------------------------------------------------- tbf
// A token bucket filter as the kernel keeps it: rate in bytes per second,
// limit (queue) in bytes, buffer (bucket) in psched ticks.
struct Tbf {
    uint64_t rate = 0;
    uint32_t limit = 0;
    uint32_t buffer = 0;
    bool operator==(const Tbf&) const = default;
};

// This kernel's psched tick in microseconds, from /proc/net/psched the way
// iproute2 and vishvananda/netlink read it (15.625 on high-resolution
// kernels).
Error tickInUsec(double& out);

// `tc qdisc add ... tbf rate R burst B latency L` (R bytes/s, B bytes, L ms):
// buffer = ticks(B / R), limit = R * L + B. The arithmetic is
// vishvananda/netlink's as upstream's bandwidth uses it (float64 products,
// each truncated to uint32 through int64 as Go does on amd64), so the kernel
// gets the same numbers; `tick` is tickInUsec's.
Tbf tbfParams(uint64_t rateBytes, uint32_t burstBytes, double latencyMs, double tick);

// ---------------------------------------------------------------- qdiscs
struct Qdisc {
    uint32_t handle = 0;
    uint32_t parent = 0;
    std::string kind;            // "tbf", "ingress", "noqueue", ...
    std::optional<Tbf> tbf;      // kind "tbf"
};

// The qdiscs of a link (a dump, kept to `ifindex`).
Error qdiscs(Socket& sk, int ifindex, std::vector<Qdisc>& out);
// `tc qdisc add dev L parent P handle H tbf ...` (only TCA_TBF_PARMS, plus
// TCA_TBF_RATE64 from 2^32 bytes/s on; no rate table). EEXIST when a qdisc
// with that handle is there.
Error addTbf(Socket& sk, int ifindex, uint32_t handle, uint32_t parent, const Tbf& t);
// `tc qdisc add dev L handle ffff: ingress`.
Error addIngress(Socket& sk, int ifindex);
// Deletes the qdisc `handle` under `parent`; `found` given: no such qdisc
// (or the link gone) is not an error, *found = false.
Error deleteQdisc(Socket& sk, int ifindex, uint32_t handle, uint32_t parent, bool* found = nullptr);

// ---------------------------------------------------------------- filters
// A mirred action: eaction TCA_EGRESS_REDIR etc., action TC_ACT_* (verdict).
struct Mirred {
    int eaction = 0;
    int action = 0;
    int ifindex = 0;
};

// A u32 filter matching every packet (one key, mask 0 value 0, terminal)
// with classid `classid` whose one action redirects the packet to the
// egress of `target` (mirred egress redirect, verdict stolen):
// `tc filter add dev L parent P protocol PROTO prio N u32 match u32 0 0
// classid C action mirred egress redirect dev T`.
struct Redirect {
    uint32_t parent = kIngressHandle;
    uint16_t prio = 1;
    uint16_t protocol = 0;       // ETH_P_*, host order
    uint32_t classid = 0;
    int target = 0;
};
Error addRedirect(Socket& sk, int ifindex, const Redirect& r);

// One u32 filter (its hash table entries are left out).
struct Filter {
    uint32_t handle = 0;
    uint16_t prio = 0;
    uint16_t protocol = 0;       // host order
    std::string kind;
    uint32_t classid = 0;
    bool matchAll = false;       // one key 0/0, terminal
    std::vector<Mirred> actions; // mirred actions in order

    // One of the actions redirects packets to the egress of `ifindex`.
    bool redirectsTo(int ifindex) const;
};
// The filters under qdisc `parent` of a link (a dump).
Error filters(Socket& sk, int ifindex, uint32_t parent, std::vector<Filter>& out);

}  // namespace nl::tc
