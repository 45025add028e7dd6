// Links stacked on (or standing beside) another one: macvlan, ipvlan, vlan,
// dummy, ifb and vrf, created directly in their target namespace.
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <cerrno>

#include <netlink/attr.h>

#include "netlink/internal.h"

namespace nl {

using namespace detail;

Error Socket::addSubLink(const SubLinkSpec& s, bool* nameTaken) {
    if (nameTaken) *nameTaken = false;
    if (s.name.empty() || s.name.size() >= IFNAMSIZ)
        return Error(util::kInvalidNetConf, "invalid interface name \"" + s.name + "\"");
    NlAddrPtr mac;
    if (!s.mac.empty() && !(mac = macToNl(s.mac)))
        return Error(util::kInvalidNetConf, "invalid MAC address \"" + s.mac + "\"");

    MsgPtr m(nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL));
    if (!m) return sysFail(ENOMEM, "allocate a netlink message");
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    bool ok = nlmsg_append(m.get(), &ifi, sizeof ifi, NLMSG_ALIGNTO) == 0;
    ok = ok && nla_put_string(m.get(), IFLA_IFNAME, s.name.c_str()) == 0;
    if (s.masterIndex) ok = ok && nla_put_u32(m.get(), IFLA_LINK, uint32_t(s.masterIndex)) == 0;
    if (s.ns) ok = ok && nla_put_u32(m.get(), IFLA_NET_NS_FD, uint32_t(s.ns->fd())) == 0;
    if (s.mtu > 0) ok = ok && nla_put_u32(m.get(), IFLA_MTU, uint32_t(s.mtu)) == 0;
    if (s.txqlen >= 0) ok = ok && nla_put_u32(m.get(), IFLA_TXQLEN, uint32_t(s.txqlen)) == 0;
    if (mac) ok = ok && nla_put_addr(m.get(), IFLA_ADDRESS, mac.get()) == 0;
    nlattr* info = ok ? nla_nest_start(m.get(), IFLA_LINKINFO) : nullptr;
    ok = info && nla_put_string(m.get(), IFLA_INFO_KIND, s.kind.c_str()) == 0;
    if (ok && s.kind != "dummy" && s.kind != "ifb") {
        nlattr* data = nla_nest_start(m.get(), IFLA_INFO_DATA);
        ok = data != nullptr;
        if (s.kind == "macvlan") {
            ok = ok && nla_put_u32(m.get(), IFLA_MACVLAN_MODE, uint32_t(s.macvlanMode)) == 0;
            if (s.bcQueueLen > 0)
                ok = ok && nla_put_u32(m.get(), IFLA_MACVLAN_BC_QUEUE_LEN, uint32_t(s.bcQueueLen)) == 0;
        } else if (s.kind == "ipvlan") {
            ok = ok && nla_put_u16(m.get(), IFLA_IPVLAN_MODE, uint16_t(s.ipvlanMode)) == 0;
            ok = ok && nla_put_u16(m.get(), IFLA_IPVLAN_FLAGS, uint16_t(s.ipvlanFlags)) == 0;
        } else if (s.kind == "vlan") {
            ok = ok && nla_put_u16(m.get(), IFLA_VLAN_ID, uint16_t(s.vlanId)) == 0;
        } else if (s.kind == "vrf") {
            ok = ok && nla_put_u32(m.get(), IFLA_VRF_TABLE, s.vrfTable) == 0;
        }
        if (ok) nla_nest_end(m.get(), data);
    }
    if (ok) nla_nest_end(m.get(), info);
    if (!ok) return sysFail(ENOMEM, "build the request to create " + s.kind + " " + s.name);

    int r = nl_send_sync(sk_, m.release());
    if (r >= 0) return {};
    std::string what = "create " + s.kind + " " + s.name;
    if (s.masterIndex) what += " on " + linkLabel(sk_, s.masterIndex);
    if (s.ns) what += " in netns \"" + s.ns->path() + "\"";
    int err = errnoOf(r);
    if (err == EEXIST && nameTaken) *nameTaken = true;
    if (err == EOPNOTSUPP || err == ENOENT)
        // No driver for the kind: rtnetlink answers EOPNOTSUPP ("Unknown device type").
        return fail(r, what, "Unknown device type (the kernel has no " + s.kind + " support)");
    return fail(r, what);
}

Error Socket::vrfSupported(bool& supported) {
    supported = false;
    MsgPtr m(nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL));
    if (!m) return sysFail(ENOMEM, "allocate a netlink message");
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    const uint8_t shortMac = 0;
    bool ok = nlmsg_append(m.get(), &ifi, sizeof ifi, NLMSG_ALIGNTO) == 0;
    ok = ok && nla_put(m.get(), IFLA_ADDRESS, sizeof shortMac, &shortMac) == 0;
    nlattr* info = ok ? nla_nest_start(m.get(), IFLA_LINKINFO) : nullptr;
    ok = info && nla_put_string(m.get(), IFLA_INFO_KIND, "vrf") == 0;
    if (!ok) return sysFail(ENOMEM, "build the request to probe for vrf support");
    nla_nest_end(m.get(), info);
    int r = nl_send_sync(sk_, m.release());
    int err = r < 0 ? errnoOf(r) : 0;
    if (err == EOPNOTSUPP || err == ENOENT) return {};
    // The driver's refusal (EINVAL "Invalid hardware address"; EINVAL "VRF
    // table id is missing" were it to get further) means it is there.
    if (err && err != EINVAL && err != EADDRNOTAVAIL) return fail(r, "probe the kernel for vrf support");
    supported = true;
    return {};
}

}  // namespace nl
