// Routes: single and multipath (ECMP), table, scope, metric, MTU/ADVMSS
// metrics, preferred source.
#include <linux/rtnetlink.h>

#include <cerrno>

#include "netlink/internal.h"

namespace nl {

using namespace detail;

namespace {

bool addHop(rtnl_route* rt, const std::optional<util::IP>& gw, int ifindex) {
    if (!gw && !ifindex) return true;
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    if (!nh) return false;
    if (gw) {
        NlAddrPtr a = toNl(*gw);
        if (!a) {
            rtnl_route_nh_free(nh);
            return false;
        }
        rtnl_route_nh_set_gateway(nh, a.get());   // takes its own reference
    }
    if (ifindex) rtnl_route_nh_set_ifindex(nh, ifindex);
    rtnl_route_add_nexthop(rt, nh);                // the route owns nh now
    return true;
}

bool hasGateway(const RouteSpec& r) {
    if (r.gw) return true;
    for (auto& h : r.multipath)
        if (h.gw) return true;
    return false;
}

// For a delete, unset fields match any route (protocol 0, scope NOWHERE).
RoutePtr build(const RouteSpec& r, bool forDelete) {
    RoutePtr rt(rtnl_route_alloc());
    NlAddrPtr dst = toNl(r.dst.masked());
    if (!rt || !dst) return nullptr;
    rtnl_route_set_family(rt.get(), uint8_t(r.dst.ip.family));
    if (rtnl_route_set_dst(rt.get(), dst.get()) < 0) return nullptr;
    rtnl_route_set_table(rt.get(), r.table ? uint32_t(r.table) : RT_TABLE_MAIN);
    rtnl_route_set_type(rt.get(), RTN_UNICAST);
    if (forDelete) {
        rtnl_route_set_protocol(rt.get(), uint8_t(r.protocol));
        rtnl_route_set_scope(rt.get(), uint8_t(r.scope ? *r.scope : int(RT_SCOPE_NOWHERE)));
    } else {
        rtnl_route_set_protocol(rt.get(), uint8_t(r.protocol ? r.protocol : RTPROT_BOOT));   // as `ip route add`
        int scope = r.scope ? *r.scope : hasGateway(r) ? int(RT_SCOPE_UNIVERSE) : int(RT_SCOPE_LINK);
        rtnl_route_set_scope(rt.get(), uint8_t(scope));
    }
    if (r.priority) rtnl_route_set_priority(rt.get(), uint32_t(r.priority));
    if (r.mtu) rtnl_route_set_metric(rt.get(), RTAX_MTU, unsigned(r.mtu));
    if (r.advmss) rtnl_route_set_metric(rt.get(), RTAX_ADVMSS, unsigned(r.advmss));
    if (r.src) {
        NlAddrPtr s = toNl(*r.src);
        if (!s || rtnl_route_set_pref_src(rt.get(), s.get()) < 0) return nullptr;
    }
    if (!addHop(rt.get(), r.gw, r.ifindex)) return nullptr;
    for (auto& h : r.multipath)
        if (!addHop(rt.get(), h.gw, h.ifindex)) return nullptr;
    return rt;
}

// "10.0.0.0/24 via 10.0.0.1", "10.0.0.0/24 dev eth0", "... table 100".
std::string describe(nl_sock* sk, const RouteSpec& r) {
    std::string s = r.dst.masked().str();
    if (r.gw) s += " via " + r.gw->str();
    else if (r.ifindex) s += " dev " + linkLabel(sk, r.ifindex);
    for (auto& h : r.multipath) s += h.gw ? " via " + h.gw->str() : " dev " + linkLabel(sk, h.ifindex);
    if (r.table && r.table != RT_TABLE_MAIN) s += " table " + std::to_string(r.table);
    return s;
}

Error invalid(const RouteSpec& r) {
    return Error(util::kInvalidNetConf, "invalid route " + r.dst.str() + ": mixed address families");
}

bool sameFamily(const RouteSpec& r) {
    int f = r.dst.ip.family;
    if (!f || (r.gw && r.gw->family != f) || (r.src && r.src->family != f)) return false;
    for (auto& h : r.multipath)
        if (h.gw && h.gw->family != f) return false;
    return true;
}

// RTM_NEWROUTE with `flags` (NLM_F_CREATE is libnl's); `existed` as for
// Socket::addRoute.
Error addWith(nl_sock* sk, const RouteSpec& r, int flags, bool* existed) {
    if (existed) *existed = false;
    if (!sameFamily(r)) return invalid(r);
    RoutePtr rt = build(r, false);
    if (!rt) return sysFail(ENOMEM, "build route " + r.dst.str());
    int rc = rtnl_route_add(sk, rt.get(), flags);
    if (rc >= 0) return {};
    if (existed && errnoOf(rc) == EEXIST) {
        *existed = true;
        return {};
    }
    return fail(rc, "add route " + describe(sk, r));
}

}  // namespace

Error Socket::addRoute(const RouteSpec& r, bool* existed) { return addWith(sk_, r, NLM_F_EXCL, existed); }

Error Socket::addRouteBeside(const RouteSpec& r) { return addWith(sk_, r, 0, nullptr); }

Error Socket::replaceRoute(const RouteSpec& r) {
    if (!sameFamily(r)) return invalid(r);
    RoutePtr rt = build(r, false);
    if (!rt) return sysFail(ENOMEM, "build route " + r.dst.str());
    if (int rc = rtnl_route_add(sk_, rt.get(), NLM_F_REPLACE); rc < 0)
        return fail(rc, "replace route " + describe(sk_, r));
    return {};
}

Error Socket::delRoute(const RouteSpec& r, bool* found) {
    if (found) *found = true;
    if (!sameFamily(r)) return invalid(r);
    RoutePtr rt = build(r, true);
    if (!rt) return sysFail(ENOMEM, "build route " + r.dst.str());
    int rc = rtnl_route_delete(sk_, rt.get(), 0);
    if (rc >= 0) return {};
    if (found) {
        int e = errnoOf(rc);
        if (e == ESRCH || e == ENOENT) {
            *found = false;
            return {};
        }
    }
    return fail(rc, "delete route " + describe(sk_, r));
}

Error Socket::routes(int family, int ifindex, int table, std::vector<RouteInfo>& out) {
    bool all = table == kAllTables;
    uint32_t tbl = all ? RT_TABLE_UNSPEC : table ? uint32_t(table) : RT_TABLE_MAIN;
    MsgPtr m(nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_DUMP));
    rtmsg rtm{};
    rtm.rtm_family = uint8_t(family);
    // With strict checking the kernel filters by table and output device.
    if (!m || nlmsg_append(m.get(), &rtm, sizeof rtm, NLMSG_ALIGNTO) < 0 ||
        (!all && nla_put_u32(m.get(), RTA_TABLE, tbl) < 0) ||
        (ifindex && nla_put_u32(m.get(), RTA_OIF, uint32_t(ifindex)) < 0))
        return sysFail(ENOMEM, "list routes");
    int r = dump(sk_, m.get(), out, [&](nl_object* o, std::vector<RouteInfo>& v) {
        auto* rt = reinterpret_cast<rtnl_route*>(o);
        int fam = rtnl_route_get_family(rt);
        if ((fam != AF_INET && fam != AF_INET6) || (family && fam != family)) return;
        if ((!all && rtnl_route_get_table(rt) != tbl) || (rtnl_route_get_flags(rt) & RTM_F_CLONED)) return;
        RouteInfo ri;
        nl_addr* dst = rtnl_route_get_dst(rt);
        if (auto ip = fromNl(dst)) {
            ri.dst = {*ip, int(nl_addr_get_prefixlen(dst))};
        } else {
            ri.dst.ip.family = fam;   // default route: no RTA_DST
            ri.dst.prefix = 0;
        }
        bool match = !ifindex;
        int n = rtnl_route_get_nnexthops(rt);
        for (int i = 0; i < n; i++) {
            rtnl_nexthop* nh = rtnl_route_nexthop_n(rt, i);
            RouteSpec::Hop h{fromNl(rtnl_route_nh_get_gateway(nh)), rtnl_route_nh_get_ifindex(nh)};
            if (ifindex && h.ifindex == ifindex && !match) {
                match = true;
                ri.gw = h.gw;
                ri.ifindex = h.ifindex;
            }
            if (i == 0 && !ifindex) {
                ri.gw = h.gw;
                ri.ifindex = h.ifindex;
            }
            if (n > 1) ri.multipath.push_back(h);
        }
        if (!match) return;
        ri.table = int(rtnl_route_get_table(rt));
        ri.scope = rtnl_route_get_scope(rt);
        ri.priority = int(rtnl_route_get_priority(rt));
        ri.protocol = rtnl_route_get_protocol(rt);
        ri.type = rtnl_route_get_type(rt);
        ri.src = fromNl(rtnl_route_get_pref_src(rt));
        uint32_t val;
        if (rtnl_route_get_metric(rt, RTAX_MTU, &val) == 0) ri.mtu = int(val);
        if (rtnl_route_get_metric(rt, RTAX_ADVMSS, &val) == 0) ri.advmss = int(val);
        v.push_back(std::move(ri));
    });
    if (r < 0) return fail(r, "list routes");
    return {};
}

RouteSpec Socket::RouteInfo::spec(int table) const {
    RouteSpec s;
    s.dst = dst;
    s.gw = gw;
    s.ifindex = ifindex;
    s.table = table;
    s.scope = scope;
    s.priority = priority;
    s.mtu = mtu;
    s.advmss = advmss;
    s.src = src;
    s.protocol = protocol;
    return s;
}

Error Socket::routeGet(const util::IP& dst, int& ifindex) {
    ifindex = 0;
    MsgPtr m(nlmsg_alloc_simple(RTM_GETROUTE, 0));
    rtmsg rtm{};
    rtm.rtm_family = uint8_t(dst.family);
    rtm.rtm_dst_len = uint8_t(dst.bits());
    if (!m || nlmsg_append(m.get(), &rtm, sizeof rtm, NLMSG_ALIGNTO) < 0 ||
        nla_put(m.get(), RTA_DST, dst.len(), dst.b.data()) < 0)
        return sysFail(ENOMEM, "look up route to " + dst.str());
    std::vector<int> oif;
    int r = dumpOnce(sk_, m.get(), [](nl_object* o, void* p) {
        auto* rt = reinterpret_cast<rtnl_route*>(o);
        if (rtnl_route_get_nnexthops(rt) > 0)
            static_cast<std::vector<int>*>(p)->push_back(rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(rt, 0)));
    }, &oif);
    if (r >= 0) r = nl_wait_for_ack(sk_);   // a single reply is followed by the ACK
    if (r < 0) {
        int e = errnoOf(r);
        if (e == ENETUNREACH || e == EHOSTUNREACH) return {};
        return fail(r, "look up route to " + dst.str());
    }
    if (!oif.empty()) ifindex = oif.front();
    return {};
}

}  // namespace nl
