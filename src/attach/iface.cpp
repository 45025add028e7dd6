#include "attach/iface.h"

#include "util/text.h"

#include <linux/if_addr.h>
#include <sys/socket.h>
#include <time.h>

#include <cstdio>
#include <optional>
#include <string>

namespace attach {
namespace {

constexpr int kDadTimeoutMs = 5000;
constexpr int kDadPollMs = 10;

int64_t nowMs() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string gwText(const std::optional<util::IP>& gw) { return gw ? gw->str() : "<nil>"; }

// Upstream prints an IPConfig as {Interface:N Address:{...} Gateway:...};
// a plainer rendering names the same things.
std::string ipcText(const cni::IPConfig& c) {
    std::string s = "{Interface:" + (c.interface ? std::to_string(*c.interface) : std::string("<nil>"));
    s += " Address:" + c.address.str() + " Gateway:" + gwText(c.gateway) + "}";
    return s;
}

bool sameDst(const cni::Route& a, const cni::Route& b) {
    return a.dst.masked() == b.dst.masked() && a.table == b.table && a.priority == b.priority;
}

}  // namespace

Error configureIface(nl::Socket& sk, std::string_view ifname, int ifindex, const cni::Result& res) {
    if (res.interfaces.empty()) return Error(cni::kInternal, "no interfaces to configure");

    std::optional<util::IP> v4gw, v6gw;
    bool v6enabled = false;
    for (const cni::IPConfig& ipc : res.ips) {
        if (!ipc.interface) continue;
        int idx = *ipc.interface;
        if (idx < 0 || size_t(idx) >= res.interfaces.size() || res.interfaces[size_t(idx)].name != ifname)
            return Error(cni::kInternal, "failed to add IP addr " + ipcText(ipc) + " to " + util::quoted(ifname) +
                                             ": invalid interface index");
        if (!v6enabled && ipc.address.ip.is6()) {
            for (std::string_view dev : {std::string_view("lo"), ifname}) {
                if (auto e = nl::ifSysctlSet(AF_INET6, dev, "disable_ipv6", "0"))
                    return Error(cni::kInternal, "failed to enable IPv6 for interface " + util::quoted(dev) + ": " + e.text());
            }
            if (auto e = nl::ifSysctlSet(AF_INET6, ifname, "keep_addr_on_down", "1"))
                return Error(cni::kInternal,
                             "failed to enable keep_addr_on_down for interface " + util::quoted(ifname) + ": " + e.text());
            v6enabled = true;
        }
        if (auto e = sk.addAddr(ifindex, ipc.address))
            return Error(cni::kInternal, "failed to add IP addr " + ipcText(ipc) + " to " + util::quoted(ifname) + ": " + e.text());
        if (ipc.gateway) {
            if (ipc.gateway->is4() && !v4gw) v4gw = ipc.gateway;
            if (ipc.gateway->is6() && !v6gw) v6gw = ipc.gateway;
        }
    }

    if (auto e = sk.setUp(ifindex)) return Error(cni::kInternal, "failed to set " + util::quoted(ifname) + " UP: " + e.text());

    if (v6gw) {
        std::string dad;
        bool dadOff = !nl::sysctlGet("net/ipv6/conf/" + std::string(ifname) + "/accept_dad", dad) && dad == "0";
        if (!dadOff) {
            if (auto e = settleAddresses(sk, ifname, ifindex, kDadTimeoutMs))
                return Error(cni::kInternal, "failed to settle addresses for " + util::quoted(ifname) + ": " + e.text());
        }
    }

    // Routes sharing dst/table/priority are one ECMP route; the rest one each.
    // A route another link of the namespace already has (a second
    // attachment to the same LAN, each with a default route) goes in beside
    // it, as upstream.
    std::vector<bool> done(res.routes.size());
    for (size_t i = 0; i < res.routes.size(); i++) {
        if (done[i]) continue;
        const cni::Route& r = res.routes[i];
        auto gwFor = [&](const cni::Route& x) {
            if (x.gw) return x.gw;
            return x.dst.ip.is4() ? v4gw : v6gw;
        };
        nl::RouteSpec spec;
        spec.dst = r.dst.masked();
        spec.gw = gwFor(r);
        spec.ifindex = ifindex;
        spec.table = r.table.value_or(0);
        spec.scope = r.scope;
        spec.priority = r.priority;
        spec.mtu = r.mtu;
        spec.advmss = r.advmss;
        for (size_t j = i + 1; j < res.routes.size(); j++) {
            if (done[j] || !sameDst(r, res.routes[j])) continue;
            done[j] = true;
            spec.multipath.push_back({gwFor(res.routes[j]), ifindex});
        }
        if (auto e = sk.addRouteBeside(spec)) {
            char tail[96];
            std::snprintf(tail, sizeof tail, " metric %d (Scope: %d, Table: %d)': ", r.priority,
                          r.scope.value_or(0), spec.table);
            return Error(cni::kInternal, "failed to add route '" + r.dst.str() + " via " + gwText(spec.gw) +
                                             " dev " + std::string(ifname) + tail + e.text());
        }
    }
    return {};
}

Error settleAddresses(nl::Socket& sk, std::string_view ifname, int ifindex, int timeoutMs) {
    int64_t deadline = nowMs() + timeoutMs;
    for (;;) {
        std::vector<nl::AddrInfo> addrs;
        if (auto e = sk.addrs(ifindex, AF_INET6, addrs))
            return Error(cni::kInternal, "could not list addresses: " + e.text());
        bool tentative = false;
        for (const nl::AddrInfo& a : addrs) {
            if (a.flags & IFA_F_DADFAILED)
                return Error(cni::kInternal, "link " + std::string(ifname) + " has address " + a.addr.ip.str() +
                                                 " in DADFAILED state");
            if (a.flags & IFA_F_TENTATIVE) tentative = true;
        }
        if (!tentative) return {};
        if (nowMs() >= deadline) {
            nl::LinkInfo li;
            bool found = false;
            if (auto e = sk.linkByIndex(ifindex, li, found))
                return Error(cni::kInternal, "failed to retrieve link: " + e.text());
            if (found && li.operUp)
                return Error(cni::kInternal, "link " + std::string(ifname) + " still has tentative addresses after " +
                                                 std::to_string(timeoutMs / 1000) + " seconds");
            return {};
        }
        util::sleepMs(kDadPollMs);
    }
}

Error checkIfaceIPs(nl::Socket& sk, std::string_view ifname, int ifindex, const std::vector<cni::IPConfig>& ips) {
    if (ips.empty()) return {};
    std::vector<nl::AddrInfo> addrs;
    if (auto e = sk.addrs(ifindex, 0, addrs)) return Error(cni::kInternal, "Cannot obtain List of IP Addresses");
    std::vector<nl::Socket::RouteInfo> routes[2];
    bool listed[2] = {false, false};
    for (const cni::IPConfig& c : ips) {
        bool match = false;
        for (const nl::AddrInfo& a : addrs)
            if (a.addr == c.address) match = true;
        if (!match)
            return Error(cni::kInternal, "Failed to match addr " + c.address.str() + " on interface " +
                                             std::string(ifname));
        int fi = c.address.ip.is4() ? 0 : 1;
        if (!listed[fi]) {
            if (auto e = sk.routes(fi ? AF_INET6 : AF_INET, 0, 0, routes[fi]))
                return Error(cni::kInternal, "Error " + e.text() + " trying to find Gateway " + gwText(c.gateway) +
                                                 " for interface " + std::string(ifname));
            listed[fi] = true;
        }
        bool found = false;
        util::IPNet prefix = c.address.masked();
        for (const auto& r : routes[fi])
            if (r.dst.masked() == prefix) found = true;
        if (!found)
            return Error(cni::kInternal, "Failed to find Gateway " + gwText(c.gateway) + " for interface " +
                                             std::string(ifname));
    }
    return {};
}

Error checkRoutes(nl::Socket& sk, const std::vector<cni::Route>& want) {
    // One dump per (family, table) in use; upstream looks in the main table
    // only, a route the result puts in another table is looked up there.
    struct Listed { int family; int table; std::vector<nl::Socket::RouteInfo> routes; };
    std::vector<Listed> cache;
    for (const cni::Route& w : want) {
        int family = w.dst.ip.is4() ? AF_INET : AF_INET6;
        int table = w.table.value_or(0);
        Listed* l = nullptr;
        for (Listed& c : cache)
            if (c.family == family && c.table == table) l = &c;
        if (!l) {
            cache.push_back({family, table, {}});
            l = &cache.back();
            if (auto e = sk.routes(family, 0, table, l->routes))
                return Error(cni::kInternal, "Expected Route " + w.dst.str() + " not route table lookup error " +
                                                 e.text());
        }
        util::IPNet dst = w.dst.masked();
        bool found = false;
        for (const auto& r : l->routes) {
            if (r.dst.masked() != dst) continue;
            // Upstream matches a default route whatever its gateway.
            if (w.gw && dst.prefix != 0 && r.gw != w.gw) {
                bool hop = false;
                for (const auto& h : r.multipath) hop = hop || h.gw == w.gw;
                if (!hop) continue;
            }
            found = true;
            break;
        }
        if (!found)
            return Error(cni::kInternal, "Expected Route {Dst:" + w.dst.str() + " GW:" + gwText(w.gw) +
                                             "} not found in routing table");
    }
    return {};
}

Error checkIface(nl::Socket& sk, std::string_view ifname, int ifindex, const cni::Result& prev) {
    if (auto e = checkIfaceIPs(sk, ifname, ifindex, prev.ips)) return e;
    return checkRoutes(sk, prev.routes);
}

}  // namespace attach
