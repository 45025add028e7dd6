// loopback's input and ADD's result, with no kernel involved (the verbs are
// in loopback.cpp).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cni/error.h"
#include "cni/result.h"
#include "cni/skel.h"
#include "util/ipaddr.h"

namespace applets::loopback {

inline constexpr const char* kLo = "lo";

// loopback has no config keys of its own (cniVersion, name, type and
// prevResult are the skel's) and ignores CNI_IFNAME: the interface is
// always lo.
struct Conf {
    std::string netns;                       // CNI_NETNS: the result's sandbox
    std::optional<cni::Result> prevResult;  // chained: ADD's result, unchanged
};

cni::Error parseConf(const cni::CmdArgs& a, Conf& c);

// ADD's result from lo's addresses as the kernel lists them: interfaces
// [{lo, 00:00:00:00:00:00, sandbox}] and the first IPv4 and the first IPv6
// address, or the prevResult unchanged. An address on lo that is not a
// loopback one fails (code 999), with a prevResult too.
cni::Error addResult(const Conf& c, const std::vector<util::IPNet>& addrs, cni::Result& out);

}  // namespace applets::loopback
