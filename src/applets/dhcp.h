// dhcp: its config, the requests it sends to `dhcp daemon` and the result
// it makes of the daemon's reply (the verbs are in dhcp.cpp), apart so that
// unit tests drive them without root and without a daemon.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cni/error.h"
#include "cni/result.h"
#include "cni/skel.h"
#include "dhcp/protocol.h"

namespace applets::dhcp_ {

constexpr const char* kDefaultSocketPath = "/run/cni/dhcp.sock";
// The longest unix socket path (sun_path less its NUL).
constexpr size_t kMaxSocketPath = 107;

struct Conf {
    std::string socketPath = kDefaultSocketPath;  // ipam.daemonSocketPath
    // Options sent to the server (ipam.provide), by code in the order of
    // their first mention, each with its last value; option 61 is not here
    // but in clientID.
    std::vector<std::pair<uint8_t, std::string>> provide;
    std::vector<uint8_t> request;                 // option 55: the parameter request list
    std::string clientID;                         // option 61's bytes
    int priority = 0;                             // route metric; 0 = none
};

// The `ipam` object: daemonSocketPath, provide (fromArg read from CNI_ARGS
// as the reference plugin reads it: "K=V" pairs split at ';', other text
// ignored), request, priority; unknown keys are ignored. The parameter
// request list is the requested codes, then 3, 1 (unless a request has
// skipDefault) and 6, 15, 119 (the same), without repeats. The client ID is
// byte 0 + dhcp::defaultClientID(CNI_CONTAINERID, network name, CNI_IFNAME)
// unless `provide` gives option 61. Errors: 7 config, 4 a CNI_ARGS value
// longer than 255 bytes.
cni::Error parseConf(const cni::CmdArgs& a, Conf& out);

// The daemon request of an ADD, CHECK or DEL (`verb`): network,
// container-id, ifname, netns (CNI_NETNS, made absolute), client-id,
// request and provide, as src/dhcp/daemon.h lists them.
::dhcp::Block attachmentRequest(const cni::CmdArgs& a, const Conf& c, std::string_view verb);
// The daemon request of a GC: network, and one keep "<container-id>/<ifname>"
// per valid attachment.
::dhcp::Block gcRequest(const cni::CmdArgs& a);

// The result of the daemon's reply to ADD (fields address and option
// "<code> <hex>"): one IPv4 address with the reply's prefix, gateway the
// first router of option 3; routes from option 121 when the reply has it
// (an on-link route, router 0.0.0.0, has no gw and scope link, 253), else
// option 33's and a default route via the first router; every route's
// metric `priority` when it is not 0; dns from options 6, 15 and 119.
// Errors: 100 no subnet mask (option 1) in the reply, or an option that
// cannot be read; 6 a reply without a valid address or with a malformed
// option field.
cni::Error resultFromReply(const ::dhcp::Block& reply, int priority, cni::Result& out);

}  // namespace applets::dhcp_
