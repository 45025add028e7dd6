#include "attach/forward.h"

#include "netlink/netlink.h"

namespace attach {

Error enableIPv4Forward() { return nl::sysctlSet("net.ipv4.ip_forward", "1"); }
Error enableIPv6Forward() { return nl::sysctlSet("net.ipv6.conf.all.forwarding", "1"); }

Error enableForward(const std::vector<cni::IPConfig>& ips) {
    bool v4 = false, v6 = false;
    for (const cni::IPConfig& c : ips) {
        if (c.address.ip.is4() && !v4) {
            if (auto e = enableIPv4Forward()) return e;
            v4 = true;
        } else if (c.address.ip.is6() && !v6) {
            if (auto e = enableIPv6Forward()) return e;
            v6 = true;
        }
    }
    return {};
}

}  // namespace attach
