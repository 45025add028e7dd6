// Interface addresses.
#include <linux/if_addr.h>

#include <cerrno>

#include "netlink/internal.h"

namespace nl {

using namespace detail;

namespace {

AddrPtr build(int index, const util::IPNet& net, unsigned flags, bool withBroadcast) {
    AddrPtr a(rtnl_addr_alloc());
    NlAddrPtr local = toNl(net);
    if (!a || !local) return nullptr;
    rtnl_addr_set_ifindex(a.get(), index);
    rtnl_addr_set_family(a.get(), net.ip.family);
    if (rtnl_addr_set_local(a.get(), local.get()) < 0) return nullptr;
    if (flags) rtnl_addr_set_flags(a.get(), flags);
    // As `ip addr add ... brd +`: IPv4 prefixes with room for one get a
    // broadcast address.
    if (withBroadcast && net.ip.is4() && net.prefix < 31) {
        NlAddrPtr brd = toNl(net.broadcast());
        if (!brd || rtnl_addr_set_broadcast(a.get(), brd.get()) < 0) return nullptr;
    }
    return a;
}

Error add(nl_sock* sk, int index, const util::IPNet& net, unsigned flags, int nlFlags, const char* verb) {
    AddrPtr a = build(index, net, flags, true);
    if (!a) return Error(util::kInternal, "invalid address " + net.str());
    if (int r = rtnl_addr_add(sk, a.get(), nlFlags); r < 0)
        return fail(r, std::string(verb) + " address " + net.str() + " to " + linkLabel(sk, index));
    return {};
}

}  // namespace

Error Socket::addAddr(int index, const util::IPNet& addr) { return addAddr(index, addr, 0); }

Error Socket::addAddr(int index, const util::IPNet& addr, unsigned flags) {
    return add(sk_, index, addr, flags, NLM_F_EXCL, "add");
}

Error Socket::replaceAddr(int index, const util::IPNet& addr) {
    return add(sk_, index, addr, 0, NLM_F_REPLACE, "add");
}

Error Socket::delAddr(int index, const util::IPNet& addr) {
    AddrPtr a = build(index, addr, 0, false);
    if (!a) return Error(util::kInternal, "invalid address " + addr.str());
    if (int r = rtnl_addr_delete(sk_, a.get(), 0); r < 0)
        return fail(r, "delete address " + addr.str() + " from " + linkLabel(sk_, index));
    return {};
}

Error Socket::addrs(int index, int family, std::vector<AddrInfo>& out) {
    MsgPtr m(nlmsg_alloc_simple(RTM_GETADDR, NLM_F_DUMP));
    ifaddrmsg ifa{};
    ifa.ifa_family = uint8_t(family);
    ifa.ifa_index = unsigned(index);   // kernel-side filter (strict checking)
    if (!m || nlmsg_append(m.get(), &ifa, sizeof ifa, NLMSG_ALIGNTO) < 0)
        return sysFail(ENOMEM, "list addresses");
    int r = dump(sk_, m.get(), out, [&](nl_object* o, std::vector<AddrInfo>& v) {
        auto* a = reinterpret_cast<rtnl_addr*>(o);
        if (index && rtnl_addr_get_ifindex(a) != index) return;
        auto ip = fromNl(rtnl_addr_get_local(a));
        if (!ip || (family && ip->family != family)) return;
        AddrInfo& ai = v.emplace_back();
        ai.addr = {*ip, rtnl_addr_get_prefixlen(a)};
        ai.ifindex = rtnl_addr_get_ifindex(a);
        ai.scope = rtnl_addr_get_scope(a);
        ai.flags = unsigned(rtnl_addr_get_flags(a));
    });
    if (r < 0) return fail(r, "list addresses of " + (index ? linkLabel(sk_, index) : std::string("all links")));
    return {};
}

}  // namespace nl
