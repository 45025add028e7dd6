// loopback: sets the container's lo up (ADD) or down (DEL).
#include <sys/socket.h>

#include "cni/applet.h"
#include "netlink/netlink.h"

namespace {

using cni::Error;

constexpr const char* kHelp =
    "Sets lo up in CNI_NETNS. CNI_IFNAME is ignored: the interface is always lo.\n"
    "\n"
    "Config keys: none of its own (cniVersion, name, type; prevResult when chained).\n"
    "\n"
    "ADD    lo up; fails when lo holds a non-loopback address. Result: interfaces\n"
    "       [{name: lo, mac: 00:00:00:00:00:00, sandbox}] and lo's first IPv4 and\n"
    "       IPv6 address, or the prevResult unchanged when there is one.\n"
    "DEL    lo down; succeeds with an empty or vanished CNI_NETNS.\n"
    "CHECK  lo is up.\n"
    "GC, STATUS: nothing to do.\n";

constexpr const char* kLo = "lo";

// Opens the namespace and finds lo in it.
Error openLo(const std::string& path, nl::Socket& sk, nl::LinkInfo& lo, bool* nsGone = nullptr) {
    nl::Netns ns;
    if (auto e = nl::Netns::open(path, ns, nsGone)) return e;
    if (auto e = nl::Socket::openIn(ns, sk)) return e;
    bool found = false;
    if (auto e = sk.linkByName(kLo, lo, found)) return e;
    if (!found) return Error(cni::kInternal, "Link not found: lo");
    return {};
}

Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    nl::Socket sk;
    nl::LinkInfo lo;
    if (auto e = openLo(a.netns, sk, lo)) return e;
    if (!lo.up)
        if (auto e = sk.setUp(lo.index)) return e;
    std::vector<nl::AddrInfo> addrs;
    if (auto e = sk.addrs(lo.index, 0, addrs)) return e;

    std::optional<util::IPNet> v4, v6;
    for (const nl::AddrInfo& ad : addrs) {
        if (!ad.addr.ip.isLoopback())
            return Error(cni::kInternal,
                         "loopback interface found with non-loopback address \"" + ad.addr.ip.str() + "\"");
        auto& slot = ad.addr.ip.is4() ? v4 : v6;
        if (!slot) slot = ad.addr;
    }

    if (a.conf.prevResult) {
        out = *a.conf.prevResult;
        return {};
    }
    out.interfaces.push_back({.name = kLo, .mac = "00:00:00:00:00:00", .sandbox = a.netns});
    for (const auto& ip : {v4, v6})
        if (ip) out.ips.push_back({.interface = 0, .address = *ip});
    return {};
}

Error cmdDel(const cni::CmdArgs& a) {
    if (a.netns.empty()) return {};
    nl::Socket sk;
    nl::LinkInfo lo;
    bool gone = false;
    if (auto e = openLo(a.netns, sk, lo, &gone)) return gone ? Error() : e;
    if (!lo.up) return {};
    return sk.setDown(lo.index);
}

Error cmdCheck(const cni::CmdArgs& a) {
    nl::Socket sk;
    nl::LinkInfo lo;
    if (auto e = openLo(a.netns, sk, lo)) return e;
    if (!lo.up) return Error(cni::kInternal, "loopback interface is down");
    return {};
}

const cni::Plugin kPlugin{
    .add = cmdAdd,
    .del = cmdDel,
    .check = cmdCheck,
};

}  // namespace

extern const cni::Applet loopback_applet;
const cni::Applet loopback_applet{
    .name = "loopback",
    .summary = "set the container's lo up",
    .help = kHelp,
    .plugin = &kPlugin,
};
