// Address ranges and range sets, as host-local's `ranges` describes them,
// and the round-robin walk over a set.
//
// A Range is a subnet with an inclusive [rangeStart, rangeEnd] window and a
// gateway that is never handed out. A RangeSet is a list of disjoint ranges
// of one family; host-local allocates one address per set.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cni/error.h"
#include "util/ipaddr.h"

namespace ipam {

struct Range {
    util::IPNet subnet;        // must be the network address (no host bits)
    util::IP rangeStart;       // unset (family 0) until canonicalize() fills the default
    util::IP rangeEnd;
    util::IP gateway;

    // Fills the defaults (start = network+1, end = broadcast-1 for IPv4 or
    // the last address for IPv6, gateway = network+1) and validates. On
    // failure returns false with upstream's text in `err`.
    bool canonicalize(std::string& err);
    // In the subnet and inside [rangeStart, rangeEnd] (an unset bound does not limit).
    bool contains(const util::IP& ip) const;
    bool overlaps(const Range& o) const;
    // "rangeStart-rangeEnd"
    std::string str() const;
    int family() const { return subnet.ip.family; }
    // Addresses that can be handed out: the window minus the gateway
    // (saturates at UINT64_MAX).
    uint64_t capacity() const;

    bool operator==(const Range&) const = default;
};

using RangeSet = std::vector<Range>;

// Canonicalizes every range of the set; the set must be non-empty, of one
// family and free of overlaps. Upstream's texts ("empty range set",
// "mixed address families", "subnets A and B overlap", ...).
bool canonicalizeSet(RangeSet& s, std::string& err);
// The range holding `ip`, or nullptr.
const Range* rangeFor(const RangeSet& s, const util::IP& ip);
inline bool setContains(const RangeSet& s, const util::IP& ip) { return rangeFor(s, ip) != nullptr; }
bool setsOverlap(const RangeSet& a, const RangeSet& b);
// "start-end,start-end"
std::string str(const RangeSet& s);
uint64_t capacity(const RangeSet& s);

// Parses one range object {subnet, rangeStart, rangeEnd, gateway} (no
// defaults applied). `where` prefixes key names in errors ("ranges[0][1]").
cni::Error parseRange(const rapidjson::Value& v, const std::string& where, Range& out);
// Parses a list of range sets ([[{...}], ...]).
cni::Error parseRangeSets(const rapidjson::Value& v, const std::string& where, std::vector<RangeSet>& out);

// Upstream's allocation walk over a set: starts after `lastReserved` when
// the set holds it (else at the first range's rangeStart), steps through
// each range and on to the next, wrapping around, skips gateways, and ends
// after one full lap.
class RangeIter {
public:
    RangeIter(const RangeSet& s, const std::optional<util::IP>& lastReserved);
    // The next candidate and its range; nullopt after a full lap.
    std::optional<util::IP> next(const Range** range = nullptr);

private:
    const RangeSet& set_;
    size_t idx_ = 0;
    std::optional<util::IP> cur_;
    std::optional<util::IP> start_;
};

}  // namespace ipam
