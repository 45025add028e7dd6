// The veth pair of the veth applets (bridge, ptp): the host end in the
// current namespace, the container end made directly in the container.
#pragma once

#include <string>
#include <string_view>

#include "cni/error.h"
#include "cni/skel.h"
#include "netlink/netlink.h"
#include "util/rollback.h"

namespace attach {

using cni::Error;

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

// What a veth ADD works between: CNI_NETNS with a socket in it, and a
// socket in the current (host) namespace.
struct VethSandbox {
    nl::Netns ns;
    nl::Socket host, ctr;
    Error open(const cni::CmdArgs& a);
};

// The ADD's pair: setupVeth with the container end CNI_IFNAME, and the
// deletion of the pair (through its host end) deferred on `undo`.
Error addVeth(VethSandbox& s, const cni::CmdArgs& a, int mtu, const std::string& mac, Veth& out,
              util::Rollback& undo);

}  // namespace attach
