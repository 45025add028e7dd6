// bandwidth's configuration, the IFB's name and mark and the shaping
// numbers: what the applet works out from its input with no kernel
// involved (the verbs are in bandwidth.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cni/error.h"
#include "cni/skel.h"
#include "netlink/tc.h"

namespace applets::bandwidth {

// tbf's latency, as upstream: the queue holds what the rate sends in 25 ms
// on top of the burst.
inline constexpr double kLatencyMs = 25;

// Upstream's BandwidthEntry: rates in bits per second, bursts in bits; 0 =
// no limit in that direction.
struct Entry {
    uint64_t ingressRate = 0;
    uint64_t ingressBurst = 0;
    uint64_t egressRate = 0;
    uint64_t egressBurst = 0;

    bool zero() const { return !ingressRate && !ingressBurst && !egressRate && !egressBurst; }
    bool ingress() const { return ingressRate > 0 && ingressBurst > 0; }
    bool egress() const { return egressRate > 0 && egressBurst > 0; }
};

// Upstream's parseConfig and getBandwidth: the four keys at the top level
// when any of them is there (even as null), else runtimeConfig.bandwidth
// (capability "bandwidth"), else none (all zero). Both places are read and
// a value that is not an unsigned integer is code 7 wherever it is. Then,
// for each direction of the entry in use: a rate needs a burst and a burst
// a rate, and burst/8 must stay below 2^32-1 bytes ("burst cannot be more
// than 4GB"); code 7 too.
cni::Error parseConf(const cni::CmdArgs& a, Entry& out);

// Upstream's IFB name: "bwp" + the first 12 hex digits of
// sha512(network + containerID).
std::string ifbName(std::string_view network, std::string_view containerID);

// The alias that marks an IFB as made for interface `ifname` of the
// network: "cni-bandwidth net=<network> ifname=<ifname>", the network as
// "sha512:<32 hex digits>" when longer than 200 bytes (an alias holds 255).
std::string ifbAlias(std::string_view network, std::string_view ifname);
// What every IFB alias of the network starts with ("... ifname=").
std::string ifbAliasPrefix(std::string_view network);

// The tbf for `rateBits` per second and `burstBits` with kLatencyMs, as
// upstream sends it (rate and burst in bytes, see nl::tc::tbfParams);
// `tick` is the kernel's psched tick in microseconds.
nl::tc::Tbf tbfFor(uint64_t rateBits, uint64_t burstBits, double tick);

}  // namespace applets::bandwidth
