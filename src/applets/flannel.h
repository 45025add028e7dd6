// flannel's configuration, flanneld's subnet.env and the delegate config
// built from them: what the applet reads and writes, with no kernel and no
// delegate involved (the verbs are in flannel.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/error.h"
#include "cni/skel.h"
#include "util/ipaddr.h"

namespace applets::flannel {

inline constexpr const char* kDefaultSubnetFile = "/run/flannel/subnet.env";
inline constexpr const char* kDefaultDataDir = "/var/lib/cni/flannel";
inline constexpr const char* kDefaultDelegate = "bridge";

// What flanneld writes to subnet.env. Networks and subnets are masked
// ("10.1.17.1/24" is 10.1.17.0/24), as flannel's plugin reads them.
struct SubnetEnv {
    std::vector<util::IPNet> networks;     // FLANNEL_NETWORK, comma-separated, duplicates dropped
    std::optional<util::IPNet> subnet;     // FLANNEL_SUBNET
    std::vector<util::IPNet> ip6Networks;  // FLANNEL_IPV6_NETWORK
    std::optional<util::IPNet> ip6Subnet;  // FLANNEL_IPV6_SUBNET
    std::optional<uint32_t> mtu;           // FLANNEL_MTU
    std::optional<bool> ipMasq;            // FLANNEL_IPMASQ: "true" is true, anything else false
};

// Reads subnet.env text as flannel's plugin does: one KEY=VALUE per line
// (a CR before the LF is dropped), unknown keys ignored, a repeated key
// replaces the earlier one. Each value must parse (CIDRs, MTU a decimal
// unsigned 32-bit number); then a network and a subnet of at least one
// family, FLANNEL_MTU and FLANNEL_IPMASQ must be there ("<file> is missing
// FLANNEL_MTU, ..."). Every failure is code 7; `file` names the file in
// messages.
cni::Error parseSubnetEnv(std::string_view text, std::string_view file, SubnetEnv& out);

// The file read and parsed: a missing file is code 11 (flanneld has not
// written it yet: try again), an unreadable one 999, a malformed one 7.
cni::Error loadSubnetEnv(const std::string& file, SubnetEnv& out);

struct Conf {
    std::string subnetFile = kDefaultSubnetFile;
    std::string dataDir = kDefaultDataDir;
    std::string delegateType = kDefaultDelegate;
};

// subnetFile and dataDir (strings; "" means the default). `strict` (every
// verb but DEL) also checks what the delegate config is built from:
// `delegate` an object whose `type`, when given, is a string naming a plugin
// (not empty, no '/', not flannel itself) and that has no `name` or `ipam`;
// `ipam` and `runtimeConfig` objects. Code 7 for each.
cni::Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c);

// A JSON object as Go's json.Marshal writes a map[string]interface{}:
// member name -> its value's JSON text, in byte order of the names.
using Members = std::map<std::string, std::string>;
std::string render(const Members& m);

// The delegate config flannel's plugin builds (Linux): the `delegate` object
// with `name`, `type` (default bridge), `ipMasq` (not FLANNEL_IPMASQ) and
// `mtu` (FLANNEL_MTU) unless it has them, `isGateway` true for bridge unless
// it has it, `cniVersion` and `runtimeConfig` of the config when given, and
// `ipam`: the config's `ipam` object with `type` host-local unless it has
// one, `ranges` one range set per subnet (IPv4 first) and `routes` its own
// routes followed by one route per flannel network. Needs a config that
// passed parseConf(strict). A malformed `ipam.routes` is code 7.
cni::Error delegateMembers(const cni::CmdArgs& a, const SubnetEnv& env, Members& out);
// render(delegateMembers): the bytes flannel's plugin saves and delegates.
cni::Error delegateConfig(const cni::CmdArgs& a, const SubnetEnv& env, std::string& out);

// <dataDir>/<containerID>, the saved delegate config of an attachment
// (container IDs are validated by the skel: no '/', never "." or "..").
std::string savedPath(const Conf& c, std::string_view containerID);

// A saved delegate config's `type` and `name` (as Go's types.NetConf reads
// them). False when the text is not a JSON object, a known key has the
// wrong type, or `type` is missing or empty.
bool parseSaved(std::string_view text, std::string& type, std::string& name);

}  // namespace applets::flannel
