// The container link CNI_IFNAME in CNI_NETNS as one interface of a result:
// opening the sandbox, the ADD after the link exists (IPAM, addresses,
// routes), its DEL and its CHECK against a prevResult.
#pragma once

#include <string>
#include <string_view>

#include "cni/error.h"
#include "cni/result.h"
#include "cni/skel.h"
#include "netlink/netlink.h"
#include "util/rollback.h"

namespace attach {

using cni::Error;

// The start of most ADDs: requireIpamPlugin, then CNI_NETNS and a socket in it.
Error openSandbox(const cni::CmdArgs& a, nl::Netns& ns, nl::Socket& ctr);

// ADD of the applets whose result has one interface, `link` (named CNI_IFNAME)
// in the container: IPAM ADD when the config has an IPAM type (its release
// deferred on `undo`); interfaces = [link in the sandbox] with the IPs on it
// (index 0); in `ns` its addresses and routes (configureIface), or, with no
// IPs, just the link up; the config's dns replaces the result's. The link is
// the caller's to undo.
Error addSandboxLink(const cni::CmdArgs& a, const nl::Netns& ns, nl::Socket& ctr, const nl::LinkInfo& link,
                     cni::Result& out, util::Rollback& undo);

// DEL of the container link CNI_IFNAME: an empty or vanished CNI_NETNS or a
// missing link is success. With `movingToo`, a link under the attachment's
// movingName() too (an ADD killed before its rename left it).
Error deleteSandboxLink(const cni::CmdArgs& a, bool movingToo = false);

// The name a link of this attachment has while it is made or moved (the
// sublinks are created in the container under it, then renamed; host-device
// moves under it both ways): "tmp" + 12 hex digits of FNV-1a 64 of
// "<containerID>/<ifname>". It is the attachment's own, so a DEL after a
// plugin killed between the creation or move and the rename finds it.
std::string movingName(const cni::CmdArgs& a);

// The start of a CHECK: CNI_NETNS opened into `ns`, IPAM CHECK (when the
// config has a type), then the prevResult, which must be there ("<label>:
// Required prevResult missing"; an empty `label` drops "<label>: ").
Error beginCheck(const cni::CmdArgs& a, std::string_view label, nl::Netns& ns);

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

// The interface named `ifname` that has `sandbox` in a result, or nullptr.
const cni::Interface* findSandboxIface(const cni::Result& r, std::string_view ifname, std::string_view sandbox);

}  // namespace attach
