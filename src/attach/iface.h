// A container interface's addresses and routes: putting an IPAM result on
// the link (upstream's ConfigureIface), waiting for IPv6 DAD, and the CHECK
// that they are still there.
#pragma once

#include <string_view>
#include <vector>

#include "cni/error.h"
#include "cni/result.h"
#include "netlink/netlink.h"

namespace attach {

using cni::Error;

// Upstream's ConfigureIface. For every result IP whose interface index names
// `ifname` (IPs without an index are skipped; an index naming another
// interface is an error): IPv6 turns disable_ipv6 off on lo and the link and
// keep_addr_on_down on; adds the address. Then sets the link up, waits for
// IPv6 DAD when there is an IPv6 gateway (unless the link has accept_dad=0),
// and adds the result's routes through the link: the gateway defaults to the
// first same-family IP gateway; priority/table/scope/mtu/advmss are kept;
// routes sharing dst, table and priority become one multipath (ECMP) route.
// `sk` is the link's namespace socket and the thread must be in that
// namespace (the sysctls are per namespace).
Error configureIface(nl::Socket& sk, std::string_view ifname, int ifindex, const cni::Result& res);

// Waits up to `timeoutMs` for the link's IPv6 addresses to leave the
// tentative state; fails when one is dadfailed, or still tentative at the
// deadline while the link is operationally up (as upstream's SettleAddresses).
Error settleAddresses(nl::Socket& sk, std::string_view ifname, int ifindex, int timeoutMs);

// CHECK, on the container's socket. Every IP must be on the link and have a
// route to its prefix; every result route must exist (with its gateway when
// it has one).
Error checkIfaceIPs(nl::Socket& sk, std::string_view ifname, int ifindex, const std::vector<cni::IPConfig>& ips);
Error checkRoutes(nl::Socket& sk, const std::vector<cni::Route>& routes);
// Both, for a prevResult's IPs and routes.
Error checkIface(nl::Socket& sk, std::string_view ifname, int ifindex, const cni::Result& prev);

}  // namespace attach
