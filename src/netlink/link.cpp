// Link lookups, attribute changes and deletion (kind-independent).
#include <linux/if.h>
#include <unistd.h>

#include <cerrno>

#include <netlink/route/link/vrf.h>

#include "netlink/internal.h"

namespace nl {

using namespace detail;

namespace {

void toInfo(rtnl_link* l, LinkInfo& o) {
    o = LinkInfo();
    o.index = rtnl_link_get_ifindex(l);
    if (const char* s = rtnl_link_get_name(l)) o.name = s;
    if (const char* s = rtnl_link_get_type(l)) o.kind = s;
    o.mac = macStr(rtnl_link_get_addr(l));
    o.mtu = int(rtnl_link_get_mtu(l));
    unsigned flags = rtnl_link_get_flags(l);
    o.up = flags & IFF_UP;
    o.promisc = flags & IFF_PROMISC;
    o.allmulti = flags & IFF_ALLMULTI;
    o.txqlen = int(rtnl_link_get_txqlen(l));
    o.operUp = rtnl_link_get_operstate(l) == IF_OPER_UP;
    o.master = rtnl_link_get_master(l);
    o.peerIndex = rtnl_link_get_link(l);
    int32_t nsid;
    if (rtnl_link_get_link_netnsid(l, &nsid) == 0) o.linkNetnsId = nsid;
    if (const char* s = rtnl_link_get_ifalias(l)) o.alias = s;
    uint32_t table;
    if (o.kind == "vrf" && rtnl_link_vrf_get_tableid(l, &table) == 0) o.vrfTable = table;
}

bool validName(std::string_view n) { return !n.empty() && n.size() < IFNAMSIZ; }

Error get(nl_sock* sk, int index, std::string_view name, LinkInfo& out, bool& found) {
    found = false;
    std::string n(name);
    rtnl_link* l = nullptr;
    int r = rtnl_link_get_kernel(sk, index, index ? nullptr : n.c_str(), &l);
    if (r < 0) {
        if (errnoOf(r) == ENODEV) return {};
        return fail(r, index ? "look up link " + std::to_string(index) : "look up link \"" + n + "\"");
    }
    if (!l) return {};  // a reply with no link in it (an ack alone): none found
    LinkPtr hold(l);
    toInfo(l, out);
    found = true;
    return {};
}

// One RTM_NEWLINK changing the link `index`; `fill` sets the changes,
// `what(label)` names the operation for the error message.
template <class Fill, class What>
Error change(nl_sock* sk, int index, Fill fill, What what) {
    LinkPtr orig(rtnl_link_alloc()), ch(rtnl_link_alloc());
    if (!orig || !ch) return sysFail(ENOMEM, "allocate a link");
    rtnl_link_set_ifindex(orig.get(), index);
    fill(ch.get());
    if (int r = rtnl_link_change(sk, orig.get(), ch.get(), 0); r < 0)
        return fail(r, what(linkLabel(sk, index)));
    return {};
}

}  // namespace

Error Socket::linkByName(std::string_view name, LinkInfo& out, bool& found) {
    found = false;
    if (!validName(name)) return {};
    return get(sk_, 0, name, out, found);
}

Error Socket::linkByIndex(int index, LinkInfo& out, bool& found) {
    found = false;
    if (index <= 0) return {};
    return get(sk_, index, {}, out, found);
}

Error Socket::linkExists(std::string_view name, bool& exists) {
    LinkInfo li;
    return linkByName(name, li, exists);
}

Error Socket::links(std::vector<LinkInfo>& out) {
    MsgPtr m(nlmsg_alloc_simple(RTM_GETLINK, NLM_F_DUMP));
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    if (!m || nlmsg_append(m.get(), &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0)
        return sysFail(ENOMEM, "list links");
    int r = dump(sk_, m.get(), out, [](nl_object* o, std::vector<LinkInfo>& v) {
        toInfo(reinterpret_cast<rtnl_link*>(o), v.emplace_back());
    });
    if (r < 0) return fail(r, "list links");
    return {};
}

Error Socket::deleteLink(int index) {
    LinkPtr l(rtnl_link_alloc());
    if (!l) return sysFail(ENOMEM, "allocate a link");
    rtnl_link_set_ifindex(l.get(), index);
    if (int r = rtnl_link_delete(sk_, l.get()); r < 0)
        return fail(r, "delete link " + linkLabel(sk_, index));
    return {};
}

Error Socket::deleteLinkByName(std::string_view name, bool* found) {
    if (found) *found = false;
    if (!validName(name)) return {};
    LinkPtr l(rtnl_link_alloc());
    if (!l) return sysFail(ENOMEM, "allocate a link");
    std::string n(name);
    rtnl_link_set_name(l.get(), n.c_str());
    if (int r = rtnl_link_delete(sk_, l.get()); r < 0) {
        if (errnoOf(r) == ENODEV) return {};
        return fail(r, "delete link \"" + n + "\"");
    }
    if (found) *found = true;
    return {};
}

Error Socket::setUp(int index) {
    return change(sk_, index, [](rtnl_link* c) { rtnl_link_set_flags(c, IFF_UP); },
                  [](const std::string& l) { return "set " + l + " up"; });
}

Error Socket::setDown(int index) {
    return change(sk_, index, [](rtnl_link* c) { rtnl_link_unset_flags(c, IFF_UP); },
                  [](const std::string& l) { return "set " + l + " down"; });
}

Error Socket::setMtu(int index, int mtu) {
    return change(sk_, index, [&](rtnl_link* c) { rtnl_link_set_mtu(c, unsigned(mtu)); },
                  [&](const std::string& l) { return "set MTU of " + l + " to " + std::to_string(mtu); });
}

Error Socket::setMac(int index, std::string_view mac) {
    NlAddrPtr a = macToNl(mac);
    if (!a) return Error(util::kInvalidNetConf, "invalid MAC address \"" + std::string(mac) + "\"");
    return change(sk_, index, [&](rtnl_link* c) { rtnl_link_set_addr(c, a.get()); },
                  [&](const std::string& l) { return "set MAC of " + l + " to " + std::string(mac); });
}

Error Socket::setName(int index, std::string_view name) {
    std::string n(name);
    if (!validName(name)) return Error(util::kInvalidNetConf, "invalid interface name \"" + n + "\"");
    return change(sk_, index, [&](rtnl_link* c) { rtnl_link_set_name(c, n.c_str()); },
                  [&](const std::string& l) { return "rename " + l + " to " + n; });
}

Error Socket::setAlias(int index, std::string_view alias) {
    std::string a(alias);
    return change(sk_, index, [&](rtnl_link* c) { rtnl_link_set_ifalias(c, a.c_str()); },
                  [&](const std::string& l) { return "set alias of " + l; });
}

Error Socket::setPromisc(int index, bool on) {
    return change(
        sk_, index,
        [&](rtnl_link* c) { on ? rtnl_link_set_flags(c, IFF_PROMISC) : rtnl_link_unset_flags(c, IFF_PROMISC); },
        [&](const std::string& l) { return std::string(on ? "set promisc on " : "clear promisc on ") + l; });
}

Error Socket::setAllmulti(int index, bool on) {
    return change(
        sk_, index,
        [&](rtnl_link* c) { on ? rtnl_link_set_flags(c, IFF_ALLMULTI) : rtnl_link_unset_flags(c, IFF_ALLMULTI); },
        [&](const std::string& l) { return std::string(on ? "set allmulticast on " : "clear allmulticast on ") + l; });
}

Error Socket::setTxQLen(int index, int qlen) {
    return change(sk_, index, [&](rtnl_link* c) { rtnl_link_set_txqlen(c, unsigned(qlen)); },
                  [&](const std::string& l) {
                      return "set transmit queue length of " + l + " to " + std::to_string(qlen);
                  });
}

Error Socket::setMaster(int index, int masterIndex) {
    return change(sk_, index, [&](rtnl_link* c) { rtnl_link_set_master(c, masterIndex); },
                  [&](const std::string& l) {
                      return masterIndex ? "attach " + l + " to " + linkLabel(sk_, masterIndex)
                                         : "detach " + l + " from its master";
                  });
}

Error Socket::setNetns(int index, const Netns& ns) {
    return change(sk_, index, [&](rtnl_link* c) { rtnl_link_set_ns_fd(c, ns.fd()); },
                  [&](const std::string& l) { return "move " + l + " to netns \"" + ns.path() + "\""; });
}

Error Socket::waitOperUp(int index, const std::vector<int>& sleepsMs, bool& up) {
    up = false;
    for (size_t i = 0;; i++) {
        LinkInfo li;
        bool found;
        if (auto e = linkByIndex(index, li, found)) return e;
        if (!found) return Error(util::kInternal, "link " + std::to_string(index) + " disappeared").withErrno(ENODEV);
        if (li.operUp) {
            up = true;
            return {};
        }
        if (i >= sleepsMs.size()) return {};
        if (sleepsMs[i] > 0) usleep(useconds_t(sleepsMs[i]) * 1000);
    }
}

}  // namespace nl
