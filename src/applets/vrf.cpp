// vrf: puts the container interface into a VRF device in the container
// namespace (chained after an interface plugin), made by the first attachment
// that names it and removed with the last. Its configuration: applets/vrf.h.
#include "applets/vrf.h"

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "cni/applet.h"
#include "cni/json.h"
#include "util/rollback.h"
#include "util/text.h"

namespace applets::vrf {

using cni::Error;
using util::quoted;

Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c) {
    const cni::json::Value& d = a.config();
    Error e = cni::json::getString(d, "vrfname", c.vrfName);
    if (!e) e = cni::json::getUint32(d, "table", c.table);
    if (!strict) return {};
    if (e) return e;
    if (c.vrfName.empty()) return Error(cni::kInvalidNetConf, "configuration is expected to have a valid vrf name");
    if (auto bad = cni::validateIfname(c.vrfName))
        return Error(cni::kInvalidNetConf, "invalid vrfname " + quoted(c.vrfName) + ": " + bad.msg, bad.details);
    return {};
}

Error checkPrevResult(const cni::CmdArgs& a) {
    if (!a.conf.prevResult) return Error(cni::kInvalidNetConf, "missing prevResult from earlier plugin");
    const auto& ifs = a.conf.prevResult->interfaces;
    if (ifs.empty() || std::any_of(ifs.begin(), ifs.end(), [&](const cni::Interface& i) { return i.name == a.ifname; }))
        return {};
    return Error(cni::kInvalidNetConf, "interface " + quoted(a.ifname) + " is not in prevResult");
}

uint32_t lowestFreeTable(const std::vector<nl::LinkInfo>& links) {
    std::set<uint32_t> taken{RT_TABLE_DEFAULT, RT_TABLE_MAIN, RT_TABLE_LOCAL};
    for (const nl::LinkInfo& l : links)
        if (l.kind == "vrf") taken.insert(l.vrfTable);
    uint32_t id = 1;
    for (auto it = taken.lower_bound(1); it != taken.end() && *it == id; ++it) {
        if (id == UINT32_MAX) return 0;
        id++;
    }
    return id;
}

std::vector<nl::RouteSpec> routesToMove(const std::vector<nl::Socket::RouteInfo>& routes, int ifindex,
                                        uint32_t table) {
    std::vector<nl::RouteSpec> out;
    for (const auto& r : routes) {
        if (r.table != RT_TABLE_MAIN || r.scope != RT_SCOPE_UNIVERSE || r.type != RTN_UNICAST ||
            r.protocol == RTPROT_KERNEL || r.ifindex != ifindex || !r.multipath.empty())
            continue;
        out.push_back(r.spec(int(table)));
    }
    return out;
}

std::vector<nl::AddrInfo> lostAddrs(const std::vector<nl::AddrInfo>& before, const std::vector<nl::AddrInfo>& after) {
    // The flags an address can be given (the kernel keeps only these on RTM_NEWADDR).
    constexpr unsigned kSettable =
        IFA_F_NODAD | IFA_F_OPTIMISTIC | IFA_F_NOPREFIXROUTE | IFA_F_MANAGETEMPADDR | IFA_F_MCAUTOJOIN;
    std::vector<nl::AddrInfo> out;
    for (nl::AddrInfo a : before) {
        if (a.scope != RT_SCOPE_UNIVERSE) continue;
        if (std::any_of(after.begin(), after.end(), [&](const nl::AddrInfo& b) { return b.addr == a.addr; })) continue;
        a.flags &= kSettable;
        out.push_back(a);
    }
    return out;
}

}  // namespace applets::vrf

// ---- ADD, DEL, CHECK, STATUS

namespace {

using cni::Error;
using util::quoted;
using namespace applets::vrf;

constexpr const char* kHelp =
    "Config keys (default):\n"
    "  vrfname   (required)  the VRF device in the container namespace: made (and set\n"
    "                        up) when absent, shared by every attachment naming it\n"
    "  table     0           its routing table; 0: an existing VRF's, or for a new one\n"
    "                        the lowest id >= 1 no other VRF of the namespace uses\n"
    "                        (253..255 skipped); an existing VRF with another table is\n"
    "                        an error, so is a new VRF on a table another VRF has (code 7)\n"
    "Needs prevResult (ADD, CHECK), naming CNI_IFNAME when it lists interfaces;\n"
    "versions 0.3.1 and later. Bad input is code 7 with nothing changed.\n"
    "\n"
    "ADD    CNI_IFNAME must have no master. Makes the VRF when absent, enslaves the\n"
    "       interface, puts back the global IPv6 addresses the kernel dropped on the\n"
    "       way (keep_addr_on_down=0) and waits for their local routes, which come\n"
    "       after DAD (checks 10 ms to 1.28 s apart, up to 5 s), then puts the routes\n"
    "       of the interface in the main table (scope global, one next hop; not the\n"
    "       kernel's own, which it makes there itself) into the VRF's table; prints\n"
    "       prevResult. A failed ADD releases the interface, puts back its addresses\n"
    "       and routes and removes a VRF it made.\n"
    "DEL    releases CNI_IFNAME from the VRF, then deletes the VRF when no interface\n"
    "       is left in it. No VRF, no interface, an empty or vanished CNI_NETNS is\n"
    "       success, and so is a config without vrfname (no ADD could use it).\n"
    "CHECK  the VRF exists (with the configured table, when one is) and CNI_IFNAME is\n"
    "       in it.\n"
    "GC     nothing to collect (all of it lives in the container namespace): success.\n"
    "STATUS code 50 when the kernel has no vrf support (asked with a request the vrf\n"
    "       driver refuses, so nothing is made; it may load the vrf module, as ADD).\n";

// Waits for the local route of the re-added `addr` in `table`, which the
// kernel adds once the address has passed DAD (up to 2 s with the kernel's
// defaults): checks, then sleeps 10, 20, ... 1280 ms between checks, as
// upstream, and then 1280 ms until 5 s have passed (upstream gives up after
// 2.55 s), the DAD time the interface plugins allow.
Error waitLocalRoute(nl::Socket& sk, const nl::LinkInfo& li, uint32_t table, const util::IPNet& addr) {
    constexpr int kMaxSleepMs = 1280, kTimeoutMs = 5000;
    for (int sleepMs = 10, slept = 0;; slept += sleepMs, sleepMs = std::min(2 * sleepMs, kMaxSleepMs)) {
        std::vector<nl::Socket::RouteInfo> routes;
        if (auto e = sk.routes(AF_INET6, li.index, int(table), routes)) return e;
        for (const auto& r : routes)
            if (r.dst.prefix == 128 && r.dst.ip == addr.ip) return {};
        if (slept >= kTimeoutMs)
            return Error(cni::kInternal, "the local route of " + addr.str() + " on " + quoted(li.name) +
                                             " did not appear in table " + std::to_string(table) + " within " +
                                             std::to_string(slept / 1000) + " s");
        util::sleepMs(sleepMs);
    }
}

// Puts back the addresses of `before` that the link lost; `readded` gets them.
Error restoreAddrs(nl::Socket& sk, const nl::LinkInfo& li, const std::vector<nl::AddrInfo>& before,
                   std::vector<nl::AddrInfo>& readded) {
    std::vector<nl::AddrInfo> now;
    if (auto e = sk.addrs(li.index, AF_INET6, now)) return e;
    readded = lostAddrs(before, now);
    for (const nl::AddrInfo& a : readded)
        if (auto e = sk.addAddr(li.index, a.addr, a.flags))
            return e.wrap("could not restore address " + a.addr.str() + " to " + quoted(li.name));
    return {};
}

// ADD and CHECK: the config, prevResult, and a socket in CNI_NETNS.
Error prepare(const cni::CmdArgs& a, Conf& c, nl::Socket& sk) {
    if (auto e = parseConf(a, true, c)) return e;
    if (auto e = checkPrevResult(a)) return e;
    nl::Netns ns;
    if (auto e = nl::Netns::open(a.netns, ns)) return e;
    return nl::Socket::openIn(ns, sk);
}

// The VRF named `name` (found false when there is no link of that name);
// code 999 when the link is not a VRF.
Error findVrf(nl::Socket& sk, const std::string& name, nl::LinkInfo& vrf, bool& found) {
    if (auto e = sk.linkByName(name, vrf, found)) return e;
    if (found && vrf.kind != "vrf") return Error(cni::kInternal, "link " + quoted(name) + " is not a VRF");
    return {};
}

// The VRF has the configured table (any with table 0).
Error checkTable(const Conf& c, const nl::LinkInfo& vrf) {
    if (!c.table || vrf.vrfTable == c.table) return {};
    return Error(cni::kInternal, "VRF " + quoted(c.vrfName) + " has routing table " + std::to_string(vrf.vrfTable) +
                                     ", not " + std::to_string(c.table));
}

// The VRF `c` names, made (and set up) when absent; `created` says so.
Error ensureVrf(nl::Socket& sk, const Conf& c, nl::LinkInfo& vrf, bool& created) {
    created = false;
    bool found = false;
    if (auto e = findVrf(sk, c.vrfName, vrf, found)) return e;
    if (!found) {
        nl::SubLinkSpec s;
        s.kind = "vrf";
        s.name = c.vrfName;
        s.vrfTable = c.table;
        std::vector<nl::LinkInfo> links;
        if (auto e = sk.links(links)) return e;
        if (!s.vrfTable && !(s.vrfTable = lowestFreeTable(links)))
            return Error(cni::kInternal, "no free routing table for VRF " + quoted(c.vrfName));
        // Two VRFs on one table would see each other's routes.
        for (const nl::LinkInfo& l : links)
            if (l.kind == "vrf" && l.vrfTable == s.vrfTable)
                return Error(cni::kInvalidNetConf, "routing table " + std::to_string(s.vrfTable) + " is VRF " +
                                                       quoted(l.name) + "'s already: VRF " + quoted(c.vrfName) +
                                                       " needs a table of its own");
        bool taken = false;
        if (auto e = sk.addSubLink(s, &taken); e && !taken) return e;
        // Taken: another attachment made it meanwhile, take that one.
        created = !taken;
        if (auto e = findVrf(sk, c.vrfName, vrf, found)) return e;
        if (!found) return Error(cni::kInternal, "VRF " + quoted(c.vrfName) + " disappeared");
        if (created)
            if (auto e = sk.setUp(vrf.index)) return e;
    }
    return checkTable(c, vrf);
}

// The interface, which must have no master yet.
Error findFreeIface(nl::Socket& sk, const std::string& ifname, nl::LinkInfo& li) {
    bool found = false;
    if (auto e = sk.linkByName(ifname, li, found)) return e;
    if (!found) return Error(cni::kInternal, "failed to find " + quoted(ifname) + ": Link not found");
    if (!li.master) return {};
    nl::LinkInfo m;
    bool mfound = false;
    std::string master = !sk.linkByIndex(li.master, m, mfound) && mfound ? m.name : std::to_string(li.master);
    return Error(cni::kInternal, "interface " + quoted(ifname) + " already has a master: " + master);
}

// The interface is checked before anything is made; a failure after that
// undoes all of it, last first: routes and addresses back on the released
// interface, then the VRF removed when this ADD made it.
Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    Conf c;
    nl::Socket sk;
    if (auto e = prepare(a, c, sk)) return e;
    nl::LinkInfo li;
    if (auto e = findFreeIface(sk, a.ifname, li)) return e;
    std::vector<nl::AddrInfo> before;
    std::vector<nl::Socket::RouteInfo> routes;
    if (auto e = sk.addrs(li.index, AF_INET6, before)) return e;
    if (auto e = sk.routes(0, li.index, RT_TABLE_MAIN, routes)) return e;

    nl::LinkInfo vrf;
    bool created = false;
    std::vector<nl::RouteSpec> moved;
    util::Rollback undo;   // after what its steps use: it runs before they go
    if (auto e = ensureVrf(sk, c, vrf, created)) return e;
    if (created) undo.defer([&] { (void)sk.deleteLink(vrf.index); });
    moved = routesToMove(routes, li.index, vrf.vrfTable);
    if (auto e = sk.setMaster(li.index, vrf.index)) return e;
    undo.defer([&] {
        if (sk.setMaster(li.index, 0)) return;
        std::vector<nl::AddrInfo> readded;
        (void)restoreAddrs(sk, li, before, readded);
        for (nl::RouteSpec r : moved) {
            r.table = 0;
            bool existed = false;
            (void)sk.addRoute(r, &existed);
        }
    });
    std::vector<nl::AddrInfo> readded;
    if (auto e = restoreAddrs(sk, li, before, readded)) return e;
    for (const nl::AddrInfo& addr : readded)
        if (auto e = waitLocalRoute(sk, li, vrf.vrfTable, addr.addr)) return e;
    for (const nl::RouteSpec& r : moved)
        if (auto e = sk.replaceRoute(r)) return e;
    undo.dismiss();
    out = *a.conf.prevResult;
    return {};
}

// Releases the interface when the VRF is its master, then deletes the VRF
// when nothing is left in it.
Error cmdDel(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, false, c)) return e;
    if (c.vrfName.empty() || a.netns.empty()) return {};
    nl::Netns ns;
    bool gone = false;
    if (auto e = nl::Netns::open(a.netns, ns, &gone)) return gone ? Error() : e;
    nl::Socket sk;
    if (auto e = nl::Socket::openIn(ns, sk)) return e;
    nl::LinkInfo vrf, li;
    bool found = false;
    if (auto e = sk.linkByName(c.vrfName, vrf, found); e || !found || vrf.kind != "vrf") return e;
    if (auto e = sk.linkByName(a.ifname, li, found)) return e;
    if (found && li.master == vrf.index)
        if (auto e = sk.setMaster(li.index, 0)) return e;
    std::vector<nl::LinkInfo> links;
    if (auto e = sk.links(links)) return e;
    if (std::any_of(links.begin(), links.end(), [&](const nl::LinkInfo& l) { return l.master == vrf.index; }))
        return {};
    if (auto e = sk.deleteLink(vrf.index); e && e.errnum != ENODEV) return e;
    return {};
}

Error cmdCheck(const cni::CmdArgs& a) {
    Conf c;
    nl::Socket sk;
    if (auto e = prepare(a, c, sk)) return e;
    nl::LinkInfo vrf, li;
    bool found = false;
    if (auto e = findVrf(sk, c.vrfName, vrf, found)) return e;
    if (!found) return Error(cni::kInternal, "VRF " + quoted(c.vrfName) + " not found");
    if (auto e = checkTable(c, vrf)) return e;
    if (auto e = sk.linkByName(a.ifname, li, found)) return e;
    if (!found || li.master != vrf.index)
        return Error(cni::kInternal, "failed to find " + quoted(a.ifname) + " associated to VRF " + quoted(c.vrfName));
    return {};
}

Error cmdStatus(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, true, c)) return e;
    nl::Socket sk;
    bool supported = false;
    if (auto e = nl::Socket::open(sk)) return e;
    if (auto e = sk.vrfSupported(supported)) return Error(cni::kNotAvailable, e.msg);
    if (!supported)
        return Error(cni::kNotAvailable,
                     "the kernel has no vrf support: the vrf driver is neither built in nor a module it can load");
    return {};
}

const cni::Plugin kPlugin{
    .versions = cni::VersionSet::from(cni::Ver::v031),
    .add = cmdAdd,
    .del = cmdDel,
    .check = cmdCheck,
    .status = cmdStatus,
};

}  // namespace

extern const cni::Applet vrf_applet;
const cni::Applet vrf_applet{
    .name = "vrf",
    .summary = "puts the container interface in a VRF",
    .help = kHelp,
    .plugin = &kPlugin,
};
