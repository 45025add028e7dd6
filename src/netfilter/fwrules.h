// The firewall plugin's rule sets on both backends. The applet parses its
// config and calls these; everything about chains and rules is here.
//
// iptables (filter table of each IP family the addresses have), as upstream:
//   FORWARD      [-m comment --comment "CNI firewall plugin rules (ingressPolicy: same-bridge|isolated)"
//                 -j CNI-ISOLATION-STAGE-1]   (ingressPolicy only, position 1)
//                -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
//   CNI-FORWARD  -m comment --comment "CNI firewall plugin admin overrides" -j <admin>   (position 1)
//                -d IP/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT   (per address,
//                -s IP/32 -j ACCEPT                                               /128 for IPv6)
//   <admin>      (CNI-ADMIN; left to the administrator)
//   CNI-ISOLATION-STAGE-1  [isolated] -i BR -o BR -j DROP, -i BR ! -o BR -j CNI-ISOLATION-STAGE-2, -j RETURN
//   CNI-ISOLATION-STAGE-2  -o BR -j DROP, -j RETURN
// The per-address rules carry no comment (as upstream), so only the
// addresses of prevResult identify them.
//
// nftables: table inet cni_firewall
//   chain forward     (type filter hook forward priority 0; policy accept)
//                     [jump isolation-stage-1]  (ingressPolicy only, first)
//                     jump cni-forward          comment "CNI firewall plugin rules"
//   chain cni-forward jump <admin>              comment "CNI firewall plugin admin overrides" (first)
//                     ip daddr IP ct state established,related accept   comment ATTACHMENT
//                     ip saddr IP accept                                comment ATTACHMENT
//   chain <admin>     (CNI-ADMIN; left to the administrator)
//   chain isolation-stage-1  iifname BR oifname != BR jump isolation-stage-2
//                            [isolated] iifname BR oifname BR drop
//   chain isolation-stage-2  oifname BR drop
// ATTACHMENT = `name=<net> id=<cid> ifname=<ifname>` (no quotes, so that
// `nft list ruleset` stays loadable; past 40 bytes the network name becomes
// `sha512:<32 hex>`, and past 127 bytes in all, or with a quote in ifname,
// `id=.. ifname=..` becomes `attachment=<40 hex>`), so DEL and GC find an
// attachment's rules without prevResult.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cni/skel.h"
#include "netfilter/netfilter.h"

namespace nf::fw {

inline constexpr std::string_view kForwardChain = "CNI-FORWARD";     // iptables
inline constexpr std::string_view kStage1 = "CNI-ISOLATION-STAGE-1";  // iptables
inline constexpr std::string_view kStage2 = "CNI-ISOLATION-STAGE-2";  // iptables
inline constexpr std::string_view kDefaultAdminChain = "CNI-ADMIN";
inline constexpr std::string_view kNftTable = "cni_firewall";          // family inet
inline constexpr std::string_view kNftBase = "forward";
inline constexpr std::string_view kNftForward = "cni-forward";
inline constexpr std::string_view kNftStage1 = "isolation-stage-1";
inline constexpr std::string_view kNftStage2 = "isolation-stage-2";

enum class Ingress : uint8_t { kOpen, kSameBridge, kIsolated };

// One attachment's rules: what the config and prevResult say.
struct Spec {
    Backend backend = Backend::kIptables;
    std::string adminChain{kDefaultAdminChain};
    Ingress ingress = Ingress::kOpen;
    std::string bridge;              // ingress != open: prevResult interfaces[0].name
    std::string network, containerID, ifname;
    std::vector<util::IP> ips;       // prevResult's addresses, duplicates removed
};

// Code 7 unless `name` can be a chain on both backends (1..28 bytes, no
// blanks or quotes, not a built-in target or chain of the filter table).
Error validateAdminChain(std::string_view name);

// The nftables comment naming an attachment.
std::string attachmentComment(std::string_view network, std::string_view containerID, std::string_view ifname);

// ADD: ensures the shared chains and rules and appends the per-address
// rules (each exactly once, also under concurrent ADDs). Nothing is added
// when `ips` is empty (as upstream). A failure leaves no per-address rule.
Error add(const Spec& s);

// CHECK: every rule ADD makes is in place (nothing is created).
Error check(const Spec& s);

// DEL: removes the attachment's per-address rules wherever they are, on
// both backends: nftables by comment; iptables by the addresses in `ips`
// (none known: nothing to remove). A backend whose tables are not in use in
// this network namespace is not touched. Shared chains and rules stay.
Error del(const Spec& s, bool havePrevResult);

// GC: removes the nftables per-address rules of `network` whose attachment
// is not in `valid`. The iptables rules carry no attachment and stay.
Error gc(std::string_view network, const std::vector<cni::Attachment>& valid);

}  // namespace nf::fw
