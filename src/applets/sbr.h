// sbr's configuration and the choices it makes from what the kernel lists:
// no kernel involved here (the verbs are in sbr.cpp).
#pragma once

#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include "cni/error.h"
#include "cni/skel.h"
#include "netlink/netlink.h"

namespace applets::sbr {

// The first table id a rule of its own may look up (as upstream).
inline constexpr int kFirstTable = 100;
inline constexpr int kMaxTable = 2147483647;

struct Conf {
    std::optional<int> table;          // the user's table: only the rules
    std::optional<util::IP> gateway4;  // `gateways`: instead of the IPs' gateways
    std::optional<util::IP> gateway6;
    bool addSourceHints = false;
    std::vector<cni::IPConfig> ips;    // prevResult's addresses of CNI_IFNAME
};

// The config's keys (table, gateways, addSourceHints) and prevResult's
// addresses of CNI_IFNAME. `strict` (ADD, CHECK): prevResult is required
// and must name at least one address of the interface, and gateways are
// validated; DEL reads only `table` and whatever prevResult holds. Errors
// are code 7.
cni::Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c);

// Upstream's choice of addresses: those whose interface names `ifname`, or
// has no (or an out of range) index.
std::vector<cni::IPConfig> addressesOf(const cni::Result& r, std::string_view ifname);

// The gateway of `ip`'s default route: the configured one of its family,
// else its own.
std::optional<util::IP> gatewayFor(const Conf& c, const cni::IPConfig& ip);

// The address as a host prefix (/32, /128): a rule's source.
util::IPNet hostPrefix(const util::IP& ip);

// The table ids in use: looked up by a rule or holding a route.
std::set<int> usedTables(const std::vector<nl::Socket::RuleInfo>& rules,
                         const std::vector<nl::Socket::RouteInfo>& routes);
// The first id from `from` on that is not in `used`.
int freeTable(const std::set<int>& used, int from);

// The main table's routes through the link `ifindex` (single next hop), as
// upstream lists them to copy and move.
std::vector<nl::Socket::RouteInfo> mainRoutesOf(const std::vector<nl::Socket::RouteInfo>& routes, int ifindex);
// Whether a route of the link goes into the table of `addr`: its source or
// gateway is in addr's subnet, or it has neither (upstream's rule; a route
// of the other family without either is copied too). A default route of
// addr's family is not when `gateways` names one for it: the configured
// gateway stays (upstream lets the copy replace it).
bool copiedFor(const Conf& c, const nl::Socket::RouteInfo& r, const util::IPNet& addr);

// The routes DEL gives back to the main table from sbr's `tables`: all but
// the default routes (ADD's own, or main's copied one, which would now take
// over the container's default route), each once (the routes of one family
// without source or gateway are in every table), those without a gateway
// first (they make the gateways reachable).
std::vector<nl::Socket::RouteInfo> routesBack(const std::vector<nl::Socket::RouteInfo>& routes,
                                              const std::set<int>& tables);

}  // namespace applets::sbr
