// Bridges and bridge ports: creation, port flags (AF_BRIDGE IFLA_PROTINFO),
// VLAN filtering.
// (<netinet/in.h> before the uapi headers: linux/if_bridge.h brings
// linux/in6.h, whose in6_addr only yields to a C library's that came first.)
#include <netinet/in.h>

#include <linux/if.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>

#include <cerrno>

#include <netlink/attr.h>

#include "netlink/internal.h"

namespace nl {

using namespace detail;

namespace {

MsgPtr linkMsg(int type, int flags, int family, int index) {
    MsgPtr m(nlmsg_alloc_simple(type, flags));
    ifinfomsg ifi{};
    ifi.ifi_family = uint8_t(family);
    ifi.ifi_index = index;
    if (m && nlmsg_append(m.get(), &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0) m.reset();
    return m;
}

// Sends `m` (built by the caller; null = out of memory) and waits for the ack.
template <class What>
Error sendSync(nl_sock* sk, MsgPtr m, int index, What what) {
    if (!m) return sysFail(ENOMEM, "build a netlink message");
    if (int r = nl_send_sync(sk, m.release()); r < 0) return fail(r, what(linkLabel(sk, index)));
    return {};
}

// One IFLA_BRPORT_* u8 flag of a bridge port.
Error portFlag(nl_sock* sk, int index, int attr, bool on, const char* name) {
    MsgPtr m = linkMsg(RTM_SETLINK, 0, AF_BRIDGE, index);
    nlattr* p = m ? nla_nest_start(m.get(), IFLA_PROTINFO) : nullptr;
    if (!p || nla_put_u8(m.get(), attr, on) < 0) return sysFail(ENOMEM, "build a netlink message");
    nla_nest_end(m.get(), p);
    return sendSync(sk, std::move(m), index, [&](const std::string& l) {
        return std::string(on ? "set " : "clear ") + name + " on " + l;
    });
}

Error vlanMsg(nl_sock* sk, int type, int index, int vid, int vidEnd, uint16_t flags, const char* what) {
    MsgPtr m = linkMsg(type, 0, AF_BRIDGE, index);
    nlattr* spec = m ? nla_nest_start(m.get(), IFLA_AF_SPEC) : nullptr;
    if (!spec) return sysFail(ENOMEM, "build a netlink message");
    bridge_vlan_info vi{};
    vi.vid = uint16_t(vid);
    vi.flags = flags;
    if (vidEnd > vid) vi.flags |= BRIDGE_VLAN_INFO_RANGE_BEGIN;
    int r = nla_put(m.get(), IFLA_BRIDGE_VLAN_INFO, sizeof vi, &vi);
    if (vidEnd > vid) {
        vi.vid = uint16_t(vidEnd);
        vi.flags = uint16_t((flags & ~BRIDGE_VLAN_INFO_RANGE_BEGIN) | BRIDGE_VLAN_INFO_RANGE_END);
        r |= nla_put(m.get(), IFLA_BRIDGE_VLAN_INFO, sizeof vi, &vi);
    }
    if (r < 0) return sysFail(ENOMEM, "build a netlink message");
    nla_nest_end(m.get(), spec);
    std::string vids = std::to_string(vid);
    if (vidEnd > vid) vids += '-' + std::to_string(vidEnd);
    return sendSync(sk, std::move(m), index,
                    [&](const std::string& l) { return std::string(what) + " VLAN " + vids + " on " + l; });
}

}  // namespace

Error Socket::addBridge(std::string_view name, int mtu, bool& created) {
    created = false;
    std::string n(name);
    if (n.empty() || n.size() >= IFNAMSIZ) return Error(util::kInvalidNetConf, "invalid bridge name \"" + n + "\"");
    LinkPtr l(rtnl_link_alloc());
    if (!l) return sysFail(ENOMEM, "allocate a link");
    rtnl_link_set_type(l.get(), "bridge");
    rtnl_link_set_name(l.get(), n.c_str());
    if (mtu > 0) rtnl_link_set_mtu(l.get(), unsigned(mtu));
    int r = rtnl_link_add(sk_, l.get(), NLM_F_CREATE | NLM_F_EXCL);
    if (r >= 0) {
        created = true;
        return {};
    }
    if (errnoOf(r) != EEXIST) return fail(r, "create bridge \"" + n + "\"");
    LinkInfo li;
    bool found;
    if (auto e = linkByName(n, li, found)) return e;
    if (!found) return fail(r, "create bridge \"" + n + "\"");
    if (li.kind != "bridge") return Error(util::kInternal, "\"" + n + "\" already exists but is not a bridge");
    return {};
}

Error Socket::setHairpin(int index, bool on) {
    return portFlag(sk_, index, IFLA_BRPORT_MODE, on, "hairpin mode");
}

Error Socket::setPortIsolated(int index, bool on) {
    return portFlag(sk_, index, IFLA_BRPORT_ISOLATED, on, "port isolation");
}

Error Socket::setBridgeVlanFiltering(int bridgeIndex, bool on) {
    MsgPtr m = linkMsg(RTM_NEWLINK, 0, AF_UNSPEC, bridgeIndex);
    nlattr* info = m ? nla_nest_start(m.get(), IFLA_LINKINFO) : nullptr;
    if (!info || nla_put_string(m.get(), IFLA_INFO_KIND, "bridge") < 0)
        return sysFail(ENOMEM, "build a netlink message");
    nlattr* data = nla_nest_start(m.get(), IFLA_INFO_DATA);
    if (!data || nla_put_u8(m.get(), IFLA_BR_VLAN_FILTERING, on) < 0)
        return sysFail(ENOMEM, "build a netlink message");
    nla_nest_end(m.get(), data);
    nla_nest_end(m.get(), info);
    return sendSync(sk_, std::move(m), bridgeIndex, [&](const std::string& l) {
        return std::string(on ? "enable" : "disable") + " VLAN filtering on " + l;
    });
}

Error Socket::bridgeVlanAdd(int index, int vid, bool pvid, bool untagged, int vidEnd) {
    uint16_t f = uint16_t((pvid ? BRIDGE_VLAN_INFO_PVID : 0) | (untagged ? BRIDGE_VLAN_INFO_UNTAGGED : 0));
    return vlanMsg(sk_, RTM_SETLINK, index, vid, vidEnd, f, "add");
}

Error Socket::bridgeVlanDel(int index, int vid, int vidEnd) {
    return vlanMsg(sk_, RTM_DELLINK, index, vid, vidEnd, 0, "delete");
}

}  // namespace nl
