// Neighbour (ARP / NDP) entries.
#include <linux/neighbour.h>

#include <cerrno>

#include "netlink/internal.h"

namespace nl {

using namespace detail;

Error Socket::addNeigh(int index, const util::IP& ip, std::string_view mac, bool permanent) {
    NlAddrPtr dst = toNl(ip), ll = macToNl(mac);
    if (!ll) return Error(util::kInvalidNetConf, "invalid MAC address \"" + std::string(mac) + "\"");
    NeighPtr n(rtnl_neigh_alloc());
    if (!n || !dst) return sysFail(ENOMEM, "allocate a neighbour");
    rtnl_neigh_set_ifindex(n.get(), index);
    rtnl_neigh_set_family(n.get(), ip.family);
    rtnl_neigh_set_dst(n.get(), dst.get());
    rtnl_neigh_set_lladdr(n.get(), ll.get());
    rtnl_neigh_set_state(n.get(), permanent ? NUD_PERMANENT : NUD_REACHABLE);
    if (int r = rtnl_neigh_add(sk_, n.get(), NLM_F_CREATE | NLM_F_REPLACE); r < 0)
        return fail(r, "add neighbour " + ip.str() + " lladdr " + std::string(mac) + " on " + linkLabel(sk_, index));
    return {};
}

}  // namespace nl
