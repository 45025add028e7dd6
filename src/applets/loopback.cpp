// loopback: sets the container's lo up (ADD) or down (DEL). Its input and
// result: applets/loopback.h.
#include "applets/loopback.h"

#include <sys/socket.h>

#include "cni/applet.h"
#include "netlink/netlink.h"

namespace {

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

}  // namespace

// ---- input and result

namespace applets::loopback {

cni::Error parseConf(const cni::CmdArgs& a, Conf& c) {
    c.netns = a.netns;
    c.prevResult = a.conf.prevResult;
    return {};
}

cni::Error addResult(const Conf& c, const std::vector<util::IPNet>& addrs, cni::Result& out) {
    std::optional<util::IPNet> v4, v6;
    for (const util::IPNet& addr : addrs) {
        if (!addr.ip.isLoopback())
            return cni::Error(cni::kInternal,
                              "loopback interface found with non-loopback address \"" + addr.ip.str() + "\"");
        auto& slot = addr.ip.is4() ? v4 : v6;
        if (!slot) slot = addr;
    }
    if (c.prevResult) {
        out = *c.prevResult;
        return {};
    }
    out.interfaces.push_back({.name = kLo, .mac = "00:00:00:00:00:00", .sandbox = c.netns});
    for (const auto& ip : {v4, v6})
        if (ip) out.ips.push_back({.interface = 0, .address = *ip});
    return {};
}

}  // namespace applets::loopback

// ---- ADD, DEL, CHECK

namespace {

using cni::Error;
using namespace applets::loopback;

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
    Conf c;
    if (auto e = parseConf(a, c)) return e;
    nl::Socket sk;
    nl::LinkInfo lo;
    if (auto e = openLo(c.netns, sk, lo)) return e;
    if (!lo.up)
        if (auto e = sk.setUp(lo.index)) return e;
    std::vector<nl::AddrInfo> addrs;
    if (auto e = sk.addrs(lo.index, 0, addrs)) return e;
    std::vector<util::IPNet> nets;
    for (const nl::AddrInfo& ad : addrs) nets.push_back(ad.addr);
    return addResult(c, nets, out);
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
