// vrf's configuration and the choices it makes from what the kernel lists
// (no kernel needed: unit-tested); the verbs are in vrf.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cni/error.h"
#include "cni/skel.h"
#include "netlink/netlink.h"

namespace applets::vrf {

struct Conf {
    std::string vrfName;
    uint32_t table = 0;   // 0: the lowest free one (lowestFreeTable)
};

// vrfname (required: an interface name) and table (0..4294967295); code 7
// for a missing or bad value. Without `strict` (DEL) nothing is refused: a
// key that cannot be read is left as it was (vrfName "" then means that no
// ADD could have used this config).
cni::Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c);

// ADD and CHECK: prevResult is there and, when it lists interfaces, names
// CNI_IFNAME among them (code 7 otherwise).
cni::Error checkPrevResult(const cni::CmdArgs& a);

// The lowest table id >= 1 that no VRF among `links` uses, skipping 253..255
// (the kernel's default, main and local tables); 0 when every id is taken.
uint32_t lowestFreeTable(const std::vector<nl::LinkInfo>& links);

// Of the routes of link `ifindex`, read before it joins a VRF, those that
// move into the VRF's `table` (what upstream moves): main table, scope
// global, unicast through that link alone (one next hop), each with its
// attributes and protocol. Routes the kernel made (proto kernel: IPv6 prefix
// routes) are left out: the kernel makes them again in the VRF's table as the
// link comes back up.
std::vector<nl::RouteSpec> routesToMove(const std::vector<nl::Socket::RouteInfo>& routes, int ifindex,
                                        uint32_t table);

// The global (scope universe) addresses of `before` that `after` lacks: the
// IPv6 addresses the kernel dropped when the link went down to join the VRF.
std::vector<nl::AddrInfo> lostAddrs(const std::vector<nl::AddrInfo>& before, const std::vector<nl::AddrInfo>& after);

}  // namespace applets::vrf
