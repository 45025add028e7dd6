// IP forwarding in the current namespace, for the applets that route or
// bridge a container's traffic (bridge's gateway, ptp).
#pragma once

#include <vector>

#include "cni/error.h"
#include "cni/result.h"

namespace attach {

using cni::Error;

// /proc/sys/net/ipv4/ip_forward and /proc/sys/net/ipv6/conf/all/forwarding,
// written only when not already 1.
Error enableIPv4Forward();
Error enableIPv6Forward();
// Both, for the families present in `ips`.
Error enableForward(const std::vector<cni::IPConfig>& ips);

}  // namespace attach
