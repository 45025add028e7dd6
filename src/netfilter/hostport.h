// Host ports published to containers (the portmap plugin's rule sets), on
// both backends, with upstream's names so that either implementation can
// clean up after the other.
//
// iptables (nat table of the container address's family):
//   PREROUTING, OUTPUT   -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
//   POSTROUTING (head)   -m comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
//   CNI-HOSTPORT-MASQ    -m mark --mark M/M -j MASQUERADE
//   CNI-HOSTPORT-SETMARK -m comment "CNI portfwd masquerade mark" -j MARK --set-xmark M/M
//   CNI-HOSTPORT-DNAT    per protocol, 15 ports a rule:
//                        -p P -m comment 'dnat name: "<net>" id: "<cid>"' -m multiport --dports ..
//                        [conditions] -j CNI-DN-<hash(net+cid)>
//   CNI-DN-<hash>        per mapping: [-s <ctr net> -j SETMARK] [-s 127.0.0.1 -j SETMARK]
//                        -j DNAT --to-destination ip:port (all with -p P --dport H [-d hostIP])
// The shared chains and rules are made once and never deleted.
//
// nftables (tables "ip cni_hostport" / "ip6 cni_hostport"):
//   prerouting, output   nat hooks at dstnat: [conditions] fib daddr type local jump hostports_all
//   hostports_all        jump hostip_hostports; jump hostports
//   hostports            [ip daddr H] P dport H dnat to ip:port        (comment <cid>)
//   masquerading         nat postrouting srcnat: ip saddr <ctr> ip daddr <ctr> masquerade,
//                        v4 also ip saddr 127.0.0.1 ip daddr <ctr> masquerade   (comment <cid>)
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "netfilter/netfilter.h"

namespace nf::hostport {

// Upstream's chain names (never to be changed: other implementations find them).
inline constexpr std::string_view kDnatChain = "CNI-HOSTPORT-DNAT";
inline constexpr std::string_view kSetMarkChain = "CNI-HOSTPORT-SETMARK";
inline constexpr std::string_view kMasqChain = "CNI-HOSTPORT-MASQ";
inline constexpr std::string_view kNftTable = "cni_hostport";

struct Mapping {
    uint16_t hostPort = 0;
    uint16_t containerPort = 0;
    uint8_t proto = 0;               // IPPROTO_TCP / UDP / SCTP
    std::optional<util::IP> hostIP;  // none: every local address
};
std::string_view protoName(uint8_t proto);  // "tcp" | "udp" | "sctp"

struct Config {
    std::string network;             // the network's name
    std::string containerID;
    std::vector<Mapping> mappings;
    bool snat = true;                // masquerade hairpin and localhost traffic
    bool masqAll = false;            // ... from any source
    uint32_t markBit = 13;           // iptables: the masquerade mark bit
    std::string externalSetMarkChain;  // iptables: mark chain of someone else ("" = ours)
    Match conditionsV4, conditionsV6;  // added to the entry rules
};

// Parses conditionsV4/V6 tokens into a Match. iptables: [!] -s/-d/-i/-o X
// (and the long forms); nftables: ip|ip6 saddr|daddr [!=|==] X,
// iifname|oifname [!=|==] X. Each list element may hold several
// whitespace-separated tokens. Anything else: code 7 "unsupported condition ...".
Error parseConditions(Backend b, Family f, const std::vector<std::string>& tokens, std::string_view key, Match& out);

// Which backend the conditions are written for (upstream's test: the first
// token starts with '-' or '!' for iptables); nullopt when empty.
std::optional<Backend> conditionsBackend(const std::vector<std::string>& tokens);

// Publishes the mappings to `container` (an address with its prefix) in the
// container's family. One transaction per call: nothing of it is applied on failure.
Error add(Backend b, const Config& c, const util::IPNet& container);

// Whether every rule add() makes for `container` is there (code 999 naming
// the first missing one).
Error check(Backend b, const Config& c, const util::IPNet& container);

// Removes this container's rules and chains in both families (legacy
// CNI-SN- chains too). Tables or chains that are not there are success;
// tables that are not in use are not created to look into them.
Error del(Backend b, std::string_view network, std::string_view containerID);

// Removes the per-container state of the attachments of `network` whose
// container is not in `valid`:
//   iptables: the CNI-DN- chains that rules in CNI-HOSTPORT-DNAT commented
//             'dnat name: "<network>" id: "<cid>"' jump to, when that chain
//             is not the chain of a valid container (rules and chain go).
//   nftables: nothing (success). The rules' comment is the container ID
//             alone (upstream's layout), so rules of this network cannot be
//             told from another network's: GC must not remove those.
Error gc(Backend b, std::string_view network, const std::set<std::string>& valid, size_t* removed = nullptr);

}  // namespace nf::hostport
