// Applying an IPAM result to a container interface, and the other plumbing
// the interface-making applets (bridge, ptp, ...) share: the host/container
// veth pair, IP forwarding, and the CHECK comparisons of addresses and routes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cni/error.h"
#include "cni/result.h"
#include "cni/skel.h"
#include "netlink/netlink.h"

namespace ipam {

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

// /proc/sys/net/ipv4/ip_forward and /proc/sys/net/ipv6/conf/all/forwarding
// in the current namespace, written only when not already 1.
Error enableIPv4Forward();
Error enableIPv6Forward();
// Both, for the families present in `ips`.
Error enableForward(const std::vector<cni::IPConfig>& ips);

// A veth pair with the host end (random "vethXXXXXXXX", retried on a name
// clash) in `host`'s namespace and the container end `ifname` created
// directly in `ctrNs`. The host end is set up with accept_ra=0; the
// container end is left down. `mac` ("" = kernel's choice) is the container
// end's. Fails with upstream's text when `ifname` already exists in the
// container.
struct Veth {
    nl::LinkInfo host;
    nl::LinkInfo container;
};
Error setupVeth(nl::Socket& host, nl::Socket& ctr, const nl::Netns& ctrNs, std::string_view ifname, int mtu,
                const std::string& mac, Veth& out);

// CHECK helpers, on the container's socket. Every IP must be on the link and
// have a route to its prefix; every result route must exist (with its
// gateway when it has one).
Error checkIfaceIPs(nl::Socket& sk, std::string_view ifname, int ifindex, const std::vector<cni::IPConfig>& ips);
Error checkRoutes(nl::Socket& sk, const std::vector<cni::Route>& routes);

// Fails (as the delegation would, but before anything is made) when the
// config's IPAM type is not in CNI_PATH.
Error requireIpamPlugin(const cni::CmdArgs& a);

// The interface named `ifname` that has `sandbox` in a result, or nullptr.
const cni::Interface* findSandboxIface(const cni::Result& r, std::string_view ifname, std::string_view sandbox);

// Normalises a MAC given in config/args to lowercase "aa:bb:cc:dd:ee:ff";
// false when it is not a 6-byte MAC (':' or '-' separated).
bool normalizeMac(std::string_view in, std::string& out);

}  // namespace ipam
