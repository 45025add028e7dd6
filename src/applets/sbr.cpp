// sbr: source-based routing for a container with several interfaces. Packets
// from an address of CNI_IFNAME look up a routing table of their own, whose
// default route leaves through that interface, so replies go out where the
// request came in. Chained after the plugin that made the interface; its
// configuration: applets/sbr.h.
#include "applets/sbr.h"

#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "cni/applet.h"
#include "cni/gojson.h"
#include "cni/json.h"
#include "util/lock.h"
#include "util/rollback.h"

namespace {

constexpr const char* kHelp =
    "Config keys (default):\n"
    "  table           (none)    a routing table of the user's (1..2147483647): ADD only adds\n"
    "                            the rules `from <ip> lookup <table>`; the table's routes are\n"
    "                            the user's to make, and are never touched\n"
    "  gateways        []        at most one IPv4 and one IPv6 address: the default route of\n"
    "                            each table of that family goes via it, instead of the\n"
    "                            address's gateway in prevResult or a default route copied\n"
    "                            from main (upstream lets the copy replace it)\n"
    "  addSourceHints  false     true: the main table keeps each address's subnet route, with\n"
    "                            the address as preferred source (only routes not of scope link\n"
    "                            leave it; IPv6 has no scope, so all of its routes do)\n"
    "\n"
    "Needs prevResult (ADD, CHECK). Acts on prevResult's addresses whose interface is\n"
    "CNI_IFNAME, or that name no interface; IPv4 and IPv6. Bad input (also a prevResult\n"
    "without an address of CNI_IFNAME) is code 7 with nothing changed; CNI_IFNAME\n"
    "missing in the container is code 999. The container's namespace is locked (flock\n"
    "on CNI_NETNS, as upstream) while ADD or DEL run; code 11 after 30 s.\n"
    "ADD    without `table`, for each address: the first table id from 100 on that no rule\n"
    "       looks up and no route is in, the rule `from <ip>/32 (/128) lookup <id>`, a\n"
    "       default route via the gateway (when there is one) through CNI_IFNAME, and a\n"
    "       copy of the interface's main-table routes whose source or gateway is in the\n"
    "       address's subnet or that have neither; then the interface's routes leave the\n"
    "       main table (see addSourceHints). With `table`: only the rules. Prints\n"
    "       prevResult. A failed ADD removes what it made and puts back what it moved.\n"
    "DEL    removes the rules from an address of CNI_IFNAME (prevResult's and those on the\n"
    "       interface; with `table`, only rules looking that table up) and, without\n"
    "       `table`, empties the tables those rules looked up when no other rule does:\n"
    "       their routes but the default ones go back to the main table (upstream leaves\n"
    "       them in the tables), the rest is removed. An empty or vanished CNI_NETNS, a\n"
    "       missing interface and a repeated DEL are success.\n"
    "CHECK  (upstream's CHECK checks nothing) each address has its rule (to `table` when\n"
    "       given); without `table`, the rule's table has the default route via the\n"
    "       expected gateway and the address's subnet route, and with addSourceHints the\n"
    "       main table has the subnet route with the address as source.\n"
    "GC     nothing to collect: everything sbr makes lives in the container's namespace.\n"
    "STATUS always ready.\n";

constexpr int kLockWaitMs = 30000;

}  // namespace

// ---- configuration and choices

namespace applets::sbr {

using cni::Error;
using cni::gojson::quote;
namespace json = cni::json;

namespace {

Error invalid(std::string msg) { return Error(cni::kInvalidNetConf, std::move(msg)); }

Error readGateways(const json::Value& d, Conf& c) {
    std::vector<std::string> gws;
    if (auto e = json::getStringList(d, "gateways", gws)) return e;
    if (gws.size() > 2) return invalid("gateways list cannot contain more than 2 entries (one IPv4, one IPv6)");
    for (const std::string& g : gws) {
        auto ip = util::IP::parse(g);
        if (!ip) return invalid("invalid static gateway IP address: " + quote(g));
        std::optional<util::IP>& slot = ip->is4() ? c.gateway4 : c.gateway6;
        if (slot)
            return invalid(std::string("gateways list contains multiple IPv") + (ip->is4() ? "4" : "6") +
                           " addresses: " + slot->str() + " and " + g);
        slot = *ip;
    }
    return {};
}

}  // namespace

Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c) {
    const json::Value& d = a.config();
    if (json::get(d, "table")) {
        int64_t t = 0;
        if (auto e = json::getInt(d, "table", t)) return e;
        if (t < 1 || t > kMaxTable)
            return invalid("invalid table " + std::to_string(t) + ": must be 1.." + std::to_string(kMaxTable));
        c.table = int(t);
    }
    if (a.conf.prevResult) c.ips = addressesOf(*a.conf.prevResult, a.ifname);
    if (!strict) return {};
    if (auto e = json::getBool(d, "addSourceHints", c.addSourceHints)) return e;
    if (auto e = readGateways(d, c)) return e;
    if (!a.conf.prevResult) return invalid("Required prevResult missing: sbr must be chained after the plugin making " + a.ifname);
    if (c.ips.empty())
        return invalid("No IP addresses supplied on interface: " + a.ifname +
                       (a.conf.prevResult->ips.empty() ? "" : " (prevResult's addresses are of other interfaces)"));
    return {};
}

std::vector<cni::IPConfig> addressesOf(const cni::Result& r, std::string_view ifname) {
    std::vector<cni::IPConfig> out;
    for (const cni::IPConfig& ip : r.ips) {
        if (ip.interface && *ip.interface >= 0 && size_t(*ip.interface) < r.interfaces.size() &&
            r.interfaces[size_t(*ip.interface)].name != ifname)
            continue;
        out.push_back(ip);
    }
    return out;
}

std::optional<util::IP> gatewayFor(const Conf& c, const cni::IPConfig& ip) {
    const std::optional<util::IP>& configured = ip.address.ip.is4() ? c.gateway4 : c.gateway6;
    return configured ? configured : ip.gateway;
}

util::IPNet hostPrefix(const util::IP& ip) { return {ip, ip.bits()}; }

std::set<int> usedTables(const std::vector<nl::Socket::RuleInfo>& rules,
                         const std::vector<nl::Socket::RouteInfo>& routes) {
    std::set<int> used;
    for (const auto& r : rules) used.insert(r.table);
    for (const auto& r : routes) used.insert(r.table);
    return used;
}

int freeTable(const std::set<int>& used, int from) {
    for (auto it = used.lower_bound(from); it != used.end() && *it == from; ++it) from++;
    return from;
}

std::vector<nl::Socket::RouteInfo> mainRoutesOf(const std::vector<nl::Socket::RouteInfo>& routes, int ifindex) {
    std::vector<nl::Socket::RouteInfo> out;
    for (const auto& r : routes)
        if (r.table == RT_TABLE_MAIN && r.ifindex == ifindex && r.multipath.empty()) out.push_back(r);
    return out;
}

bool copiedFor(const Conf& c, const nl::Socket::RouteInfo& r, const util::IPNet& addr) {
    bool v4 = addr.ip.is4();
    if (r.dst.prefix == 0 && r.dst.ip.family == addr.ip.family && (v4 ? c.gateway4 : c.gateway6)) return false;
    auto in = [&](const std::optional<util::IP>& ip) { return ip && ip->family == addr.ip.family && addr.contains(*ip); };
    return in(r.src) || in(r.gw) || (!r.src && !r.gw);
}

std::vector<nl::Socket::RouteInfo> routesBack(const std::vector<nl::Socket::RouteInfo>& routes,
                                              const std::set<int>& tables) {
    std::vector<nl::Socket::RouteInfo> out;
    auto same = [](const nl::Socket::RouteInfo& a, const nl::Socket::RouteInfo& b) {
        return a.dst == b.dst && a.gw == b.gw && a.ifindex == b.ifindex && a.priority == b.priority && a.src == b.src;
    };
    for (bool viaGateway : {false, true})
        for (const auto& r : routes) {
            if (!tables.count(r.table) || r.dst.prefix == 0 || bool(r.gw) != viaGateway || !r.multipath.empty()) continue;
            if (std::none_of(out.begin(), out.end(), [&](const auto& o) { return same(o, r); })) out.push_back(r);
        }
    return out;
}

}  // namespace applets::sbr

// ---- ADD, DEL, CHECK

namespace {

using cni::Error;
using namespace applets::sbr;
using Rules = std::vector<nl::Socket::RuleInfo>;
using Routes = std::vector<nl::Socket::RouteInfo>;

// Takes the namespace's lock as upstream does (flock on the namespace file:
// sbr runs on one container, upstream's included, take turns). Released
// when `ns` closes.
Error lockNetns(const nl::Netns& ns) {
    int err = util::flockWait(ns.fd(), kLockWaitMs);
    if (err == EWOULDBLOCK)
        return Error(cni::kTryAgainLater, "network namespace " + ns.path() + " is locked by another process").withErrno(err);
    if (err) return Error::sys(cni::kInternal, "cannot lock network namespace " + ns.path(), err);
    return {};
}

// CNI_IFNAME in the container, which ADD and CHECK need.
Error needLink(nl::Socket& sk, const std::string& ifname, nl::LinkInfo& link) {
    bool found = false;
    if (auto e = sk.linkByName(ifname, link, found)) return e;
    if (!found) return Error(cni::kInternal, "Cannot find network interface " + ifname + ": Link not found");
    return {};
}

nl::RuleSpec ruleFrom(const util::IP& ip, int table) {
    nl::RuleSpec r;
    r.src = hostPrefix(ip);
    r.table = table;
    return r;
}

// A rule of sbr's shape: from a host prefix to a table.
bool isSourceRule(const nl::Socket::RuleInfo& r) {
    return r.action == FR_ACT_TO_TBL && r.src && r.src->prefix == r.src->ip.bits();
}

Error addRule(nl::Socket& sk, const nl::RuleSpec& r, util::Rollback& undo) {
    if (auto e = sk.addRule(r)) return e;
    undo.defer([&sk, r] { (void)sk.delRule(r); });
    return {};
}

// A route into a table sbr made: undone by deleting it.
Error putRoute(nl::Socket& sk, const nl::RouteSpec& r, bool replace, util::Rollback& undo) {
    if (auto e = replace ? sk.replaceRoute(r) : sk.addRoute(r)) return e;
    undo.defer([&sk, r] { (void)sk.delRoute(r); });
    return {};
}

// The routes of the interface leave the main table, as upstream moves them:
// all of them, or with addSourceHints each address's subnet route stays with
// the address as its source and only the routes not of scope link go. The
// hints are best effort (upstream's warnings, on stderr).
Error leaveMain(nl::Socket& sk, const Conf& c, int ifindex, const Routes& own, util::Rollback& undo) {
    if (c.addSourceHints) {
        for (const cni::IPConfig& ip : c.ips) {
            nl::RouteSpec hint;
            hint.dst = ip.address.masked();
            hint.ifindex = ifindex;
            hint.scope = RT_SCOPE_LINK;
            hint.src = ip.address.ip;
            if (auto e = sk.replaceRoute(hint)) std::fprintf(stderr, "sbr: %s\n", e.text().c_str());
        }
    }
    for (const auto& r : own) {
        if (c.addSourceHints && r.scope == RT_SCOPE_LINK) continue;
        nl::RouteSpec s = r.spec(RT_TABLE_MAIN);
        bool found = false;
        if (auto e = sk.delRoute(s, &found)) {
            if (!c.addSourceHints) return e;
            std::fprintf(stderr, "sbr: %s\n", e.text().c_str());
            continue;
        }
        if (found) undo.defer([&sk, s] { (void)sk.addRoute(s); });
    }
    return {};
}

// ADD without `table`: a table per address (see kHelp).
Error addTables(nl::Socket& sk, const Conf& c, int ifindex, util::Rollback& undo) {
    Rules rules;
    Routes routes;
    if (auto e = sk.rules(0, rules)) return e;
    if (auto e = sk.routes(0, 0, nl::kAllTables, routes)) return e;
    std::set<int> used = usedTables(rules, routes);
    Routes own = mainRoutesOf(routes, ifindex);
    int table = kFirstTable;
    for (const cni::IPConfig& ip : c.ips) {
        table = freeTable(used, table);
        if (auto e = addRule(sk, ruleFrom(ip.address.ip, table), undo)) return e;
        if (auto gw = gatewayFor(c, ip)) {
            nl::RouteSpec def;
            def.dst = {util::IP{ip.address.ip.family, {}}, 0};
            def.gw = gw;
            def.ifindex = ifindex;
            def.table = table;
            if (auto e = putRoute(sk, def, false, undo)) return e;
        }
        // The interface's routes are in main and stay there until every
        // address has its copies (a gateway is checked against them).
        for (const auto& r : own)
            if (copiedFor(c, r, ip.address))
                if (auto e = putRoute(sk, r.spec(table), true, undo)) return e;
        table++;
    }
    return leaveMain(sk, c, ifindex, own, undo);
}

// Opens and locks the container's namespace and a socket in it.
Error enter(const cni::CmdArgs& a, nl::Netns& ns, nl::Socket& sk) {
    if (auto e = nl::Netns::open(a.netns, ns)) return e;
    if (auto e = lockNetns(ns)) return e;
    return nl::Socket::openIn(ns, sk);
}

Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    Conf c;
    if (auto e = parseConf(a, true, c)) return e;
    nl::Netns ns;
    nl::Socket sk;
    nl::LinkInfo link;
    if (auto e = enter(a, ns, sk)) return e;
    if (auto e = needLink(sk, a.ifname, link)) return e;
    util::Rollback undo;
    if (c.table) {
        for (const cni::IPConfig& ip : c.ips)
            if (auto e = addRule(sk, ruleFrom(ip.address.ip, *c.table), undo)) return e;
    } else if (auto e = addTables(sk, c, link.index, undo)) {
        return e;
    }
    undo.dismiss();
    out = *a.conf.prevResult;
    return {};
}

// A table sbr may have made: not one of the kernel's own.
bool ownTable(int t) { return t >= kFirstTable && t != RT_TABLE_DEFAULT && t != RT_TABLE_MAIN && t != RT_TABLE_LOCAL; }

// The addresses whose rules DEL removes: prevResult's (known also when the
// interface is gone, while its rules stay) and those on the interface.
Error delAddresses(nl::Socket& sk, const Conf& c, const nl::LinkInfo* link, std::vector<util::IP>& ips) {
    for (const cni::IPConfig& ip : c.ips) ips.push_back(ip.address.ip);
    if (!link) return {};
    std::vector<nl::AddrInfo> addrs;
    if (auto e = sk.addrs(link->index, 0, addrs)) return e;
    for (const auto& ad : addrs) ips.push_back(ad.addr.ip);
    return {};
}

// Removes the rules from `ips` (to `table` when configured); `tables` gets
// the tables sbr made that they looked up and no other rule does. Goes on
// past a failure and returns the first.
Error delRules(nl::Socket& sk, const Conf& c, const std::vector<util::IP>& ips, std::set<int>& tables) {
    Rules rules;
    if (auto e = sk.rules(0, rules)) return e;
    Error first;
    std::set<int> stillUsed;
    for (const auto& r : rules) {
        bool ours = isSourceRule(r) && std::find(ips.begin(), ips.end(), r.src->ip) != ips.end() &&
                    (!c.table || r.table == *c.table);
        if (ours) {
            bool found = false;
            Error e = sk.delRule({r.family, r.src, r.table, r.priority}, &found);
            if (!e) {
                if (!c.table && ownTable(r.table)) tables.insert(r.table);
                continue;
            }
            if (!first) first = e;
        }
        stillUsed.insert(r.table);
    }
    for (int t : stillUsed) tables.erase(t);
    return first;
}

// Empties `tables` of the interface's routes, after giving the main table
// back the routes ADD moved out of it (routesBack; best effort: one that no
// longer fits is left out, one already there is kept).
Error clearTables(nl::Socket& sk, int ifindex, const std::set<int>& tables) {
    Routes routes;
    if (auto e = sk.routes(0, ifindex, nl::kAllTables, routes)) return e;
    for (const auto& r : routesBack(routes, tables)) {
        bool existed = false;
        (void)sk.addRoute(r.spec(RT_TABLE_MAIN), &existed);
    }
    Error first;
    for (const auto& r : routes) {
        if (!tables.count(r.table) || r.ifindex != ifindex) continue;
        bool found = false;
        if (auto e = sk.delRoute(r.spec(r.table), &found); e && !first) first = e;
    }
    return first;
}

// Removes the rules, then (without `table`) empties the tables they looked
// up that no rule looks up any more, putting the moved routes back.
Error cmdDel(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, false, c)) return e;
    if (a.netns.empty()) return {};
    nl::Netns ns;
    if (nl::Netns::open(a.netns, ns)) return {};   // gone, and all in it
    nl::Socket sk;
    if (auto e = lockNetns(ns)) return e;
    if (auto e = nl::Socket::openIn(ns, sk)) return e;
    nl::LinkInfo link;
    bool haveLink = false;
    if (auto e = sk.linkByName(a.ifname, link, haveLink)) return e;
    std::vector<util::IP> ips;
    if (auto e = delAddresses(sk, c, haveLink ? &link : nullptr, ips)) return e;
    if (ips.empty()) return {};
    std::set<int> tables;
    Error err = delRules(sk, c, ips, tables);
    // Without the link its routes are gone with it.
    if (!haveLink || tables.empty()) return err;
    Error routesErr = clearTables(sk, link.index, tables);
    return err ? err : routesErr;
}

// CHECK of one address's table `t` (without `table`).
Error checkTable(const Conf& c, const cni::IPConfig& ip, int t, const Routes& routes) {
    auto has = [&](int table, const util::IPNet& dst, auto&& also) {
        return std::any_of(routes.begin(), routes.end(),
                           [&](const auto& r) { return r.table == table && r.dst == dst && also(r); });
    };
    auto any = [](const auto&) { return true; };
    std::string where = " in table " + std::to_string(t) + " of " + ip.address.ip.str();
    if (auto gw = gatewayFor(c, ip)) {
        util::IPNet def{util::IP{ip.address.ip.family, {}}, 0};
        if (!has(t, def, [&](const auto& r) { return r.gw == gw; }))
            return Error(cni::kInternal, "sbr: no default route via " + gw->str() + where);
    }
    util::IPNet subnet = ip.address.masked();
    if (!has(t, subnet, any)) return Error(cni::kInternal, "sbr: no route to " + subnet.str() + where);
    if (c.addSourceHints && !has(RT_TABLE_MAIN, subnet, [&](const auto& r) { return r.src == ip.address.ip; }))
        return Error(cni::kInternal, "sbr: no route to " + subnet.str() + " with source " + ip.address.ip.str() +
                                         " in the main table");
    return {};
}

Error cmdCheck(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, true, c)) return e;
    nl::Netns ns;
    nl::Socket sk;
    nl::LinkInfo link;
    if (auto e = nl::Netns::open(a.netns, ns)) return e;
    if (auto e = nl::Socket::openIn(ns, sk)) return e;
    if (auto e = needLink(sk, a.ifname, link)) return e;
    Rules rules;
    Routes routes;
    if (auto e = sk.rules(0, rules)) return e;
    if (!c.table)
        if (auto e = sk.routes(0, link.index, nl::kAllTables, routes)) return e;
    for (const cni::IPConfig& ip : c.ips) {
        util::IPNet src = hostPrefix(ip.address.ip);
        Error err(cni::kInternal, "sbr: no rule from " + ip.address.ip.str() +
                                      (c.table ? " lookup " + std::to_string(*c.table) : std::string()));
        for (const auto& r : rules) {
            if (!isSourceRule(r) || *r.src != src || (c.table && r.table != *c.table)) continue;
            err = c.table ? Error() : checkTable(c, ip, r.table, routes);
            if (!err) break;
        }
        if (err) return err;
    }
    return {};
}

const cni::Plugin kPlugin{
    .add = cmdAdd,
    .del = cmdDel,
    .check = cmdCheck,
};

}  // namespace

extern const cni::Applet sbr_applet;
const cni::Applet sbr_applet{
    .name = "sbr",
    .summary = "source-based routing for multi-homed containers",
    .help = kHelp,
    .plugin = &kPlugin,
};
