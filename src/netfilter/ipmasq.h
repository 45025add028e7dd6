// ipMasq of bridge and ptp: masquerade what an attachment's addresses send
// outside their own prefix (multicast excepted), on either backend.
//
//   iptables  nat chain CNI-<hash(network + containerID)> holding
//             `-d <prefix> -j ACCEPT` and `! -d 224.0.0.0/4 (ff00::/8) -j MASQUERADE`,
//             entered from POSTROUTING by `-s <address> -j CNI-...`; every rule
//             commented `name: "<network>" id: "<containerID>"` (as upstream; the
//             chain ignores ifname, as upstream's does).
//   nftables  table inet cni_plugins_masquerade: base chain postrouting (nat,
//             srcnat) returning multicast and going to masq_checks, which holds
//             `ip saddr <address> ip daddr != <prefix> masquerade` per address,
//             commented "<hash16(network)>-<hash16(ifname:containerID)>, net: .., if: .., id: .."
//             (as upstream; the hashes identify the attachment).
//
// Teardown and GC need no addresses: the chain name and the comments follow
// from the attachment. Both look at both backends but never create a table
// there (a backend whose tables do not exist has nothing of ours).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/skel.h"
#include "netfilter/netfilter.h"

namespace nf::ipmasq {

// Sets up masquerading for `ips` (addresses with their prefix length, as in
// a result). `backend` empty: nf::chooseBackend. On failure nothing of this
// call is left; an unusable backend is code 50.
Error setup(std::optional<Backend> backend, std::string_view network, std::string_view containerID,
            std::string_view ifname, const std::vector<util::IPNet>& ips);

// Removes the attachment's masquerading from both backends (none there: ok).
// Errors are reported only for a backend whose tables exist.
Error teardown(std::string_view network, std::string_view containerID, std::string_view ifname);

// Removes the masquerading of every attachment of `network` not in `valid`:
// nftables rules by their comment's network hash; iptables chains CNI-<24 hex>
// whose rules' comment names `network` and a container ID that has no valid
// attachment (the chain name is checked against that ID too).
Error gc(std::string_view network, const std::vector<cni::Attachment>& valid);

// The nftables comment of an attachment's rules (upstream's format, at most 128 bytes).
std::string nftComment(std::string_view network, std::string_view ifname, std::string_view containerID);

}  // namespace nf::ipmasq
