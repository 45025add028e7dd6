// bridge macspoofchk: frames entering the bridge from a container's host
// veth must carry the container interface's MAC. nftables only (whatever
// ipMasqBackend says), with upstream's objects:
//
//   table bridge nat
//     chain PREROUTING  (filter, hook prerouting, priority -300, policy accept)
//       iifname "<host veth>" jump cni-br-iface-<cid>-<ifname>
//     chain cni-br-iface-<cid>-<ifname>
//       jump cni-br-iface-<cid>-<ifname>-mac
//     chain cni-br-iface-<cid>-<ifname>-mac
//       ether saddr <container MAC> return
//       drop
//   every rule commented "macspoofchk-<cid>-<ifname>".
#pragma once

#include <string_view>

#include "netfilter/netfilter.h"

namespace nf::spoofcheck {

// Code 50 when nftables cannot be used here (before anything is made).
Error requireUsable();

// Installs (or replaces) the attachment's rules. On failure nothing of the
// attachment is left.
Error setup(std::string_view hostIface, std::string_view containerMac, std::string_view containerID,
            std::string_view ifname);

// Removes the attachment's rules and chains; missing ones are fine. The
// table and PREROUTING stay (shared by all attachments).
Error teardown(std::string_view containerID, std::string_view ifname);

// Whether the attachment's rules are all in place (CHECK).
Error check(std::string_view hostIface, std::string_view containerMac, std::string_view containerID,
            std::string_view ifname);

}  // namespace nf::spoofcheck
