// Applying an IPAM result to a container interface, and the other plumbing
// the interface-making applets (bridge, ptp, ...) share: the IPAM ADD and its
// undoing, the host/container veth pair, IP forwarding, the container link's
// DEL and CHECK, and the STATUS/GC of the applets that masquerade.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/error.h"
#include "cni/result.h"
#include "cni/skel.h"
#include "netfilter/netfilter.h"
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
// config's IPAM type is not in CNI_PATH; a config without one passes.
Error requireIpamPlugin(const cni::CmdArgs& a);

// The start of most ADDs: requireIpamPlugin, then CNI_NETNS and a socket in it.
Error openSandbox(const cni::CmdArgs& a, nl::Netns& ns, nl::Socket& ctr);

// IPAM ADD through the config's plugin into `out`. `allocated` is set once
// there is an allocation for the caller to give back (cni::ipamDel) should a
// later step fail; a result without IPs is an error (upstream's text).
Error allocate(const cni::CmdArgs& a, cni::Result& out, bool& allocated);

// ADD of the applets whose result has one interface, `link` (named CNI_IFNAME)
// in the container: IPAM ADD when the config has an IPAM type; interfaces =
// [link in the sandbox] with the IPs on it (index 0); in `ns` its addresses
// and routes (configureIface), or, with no IPs, just the link up; the
// config's dns replaces the result's. A failure after the allocation gives it
// back; the link is the caller's to undo.
Error addSandboxLink(const cni::CmdArgs& a, const nl::Netns& ns, nl::Socket& ctr, const nl::LinkInfo& link,
                     cni::Result& out);

// DEL of the container link CNI_IFNAME: an empty or vanished CNI_NETNS or a
// missing link is success.
Error deleteSandboxLink(const cni::CmdArgs& a);

// CHECK of the container link: IPAM CHECK (when the config has a type), then
// the prevResult's interface CNI_IFNAME in CNI_NETNS: it exists, is of `kind`,
// has its MAC, addresses and routes. Messages name `label` (as upstream's
// plugins do: "ptp: Required prevResult missing").
struct SandboxLinkCheck {
    std::string_view label;     // "ptp", "vlan", ...
    std::string_view kind;      // link kind; "" = any
    std::string_view kindText;  // the kind as the mismatch names it ("veth/p2p"); "" = kind
    bool labelMac = false;      // the MAC mismatch message names the label too
};
Error checkSandboxLink(const cni::CmdArgs& a, const SandboxLinkCheck& s);

// STATUS and GC of the applets that masquerade (bridge, ptp). STATUS: IPAM
// STATUS (when the config has a type), then with `ipMasq` a usable backend
// (code 50). GC (only with an IPAM type): passed to the IPAM plugin, then the
// masquerading of the network's attachments not in cni.dev/valid-attachments
// goes from both backends, whatever ipMasq says now (an earlier config of the
// network may have had it).
Error masqStatus(const cni::CmdArgs& a, bool ipMasq, std::optional<nf::Backend> backend);
Error masqGC(const cni::CmdArgs& a);

// Those two as verbs: the config parsed by Parse(args, strict, conf) (strict
// for STATUS) into a Conf with ipMasq and masqBackend.
template <class Conf, Error (*Parse)(const cni::CmdArgs&, bool, Conf&)>
struct MasqVerbs {
    static Error status(const cni::CmdArgs& a) {
        Conf c;
        if (auto e = Parse(a, true, c)) return e;
        return masqStatus(a, c.ipMasq, c.masqBackend);
    }
    static Error gc(const cni::CmdArgs& a) {
        Conf c;
        if (auto e = Parse(a, false, c)) return e;
        return masqGC(a);
    }
    // The applet's verbs with its own ADD, DEL, CHECK (and STATUS).
    using Verb = Error (*)(const cni::CmdArgs&);
    static constexpr cni::Plugin plugin(Error (*add)(const cni::CmdArgs&, cni::Result&), Verb del, Verb check,
                                        Verb st = status) {
        return {.add = add, .del = del, .check = check, .gc = gc, .status = st};
    }
};

// The interface named `ifname` that has `sandbox` in a result, or nullptr.
const cni::Interface* findSandboxIface(const cni::Result& r, std::string_view ifname, std::string_view sandbox);

}  // namespace attach
