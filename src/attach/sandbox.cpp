#include "attach/sandbox.h"

#include <cstdio>

#include "attach/iface.h"
#include "attach/ipam.h"
#include "cni/delegate.h"
#include "util/text.h"

namespace attach {

Error openSandbox(const cni::CmdArgs& a, nl::Netns& ns, nl::Socket& ctr) {
    if (auto e = requireIpamPlugin(a)) return e;
    if (auto e = nl::Netns::open(a.netns, ns)) return e;
    return nl::Socket::openIn(ns, ctr);
}

Error addSandboxLink(const cni::CmdArgs& a, const nl::Netns& ns, nl::Socket& ctr, const nl::LinkInfo& link,
                     cni::Result& out, util::Rollback& undo) {
    if (!a.conf.ipamType.empty())
        if (auto e = allocate(a, out, undo)) return e;
    out.interfaces = {{.name = link.name, .mac = link.mac, .sandbox = a.netns}};
    for (cni::IPConfig& c : out.ips) c.interface = 0;
    {
        nl::NetnsGuard in(ns);
        if (in.error()) return in.error();
        if (auto e = out.ips.empty() ? ctr.setUp(link.index) : configureIface(ctr, a.ifname, link.index, out))
            return e;
    }
    applyConfDns(a, out);
    return {};
}

Error deleteSandboxLink(const cni::CmdArgs& a, bool movingToo) {
    if (a.netns.empty()) return {};
    nl::Netns ns;
    bool gone = false;
    if (auto e = nl::Netns::open(a.netns, ns, &gone)) return gone ? Error() : e;
    nl::Socket ctr;
    if (auto e = nl::Socket::openIn(ns, ctr)) return e;
    bool found = false;
    if (auto e = ctr.deleteLinkByName(a.ifname, &found)) return e;
    if (found || !movingToo) return {};
    return ctr.deleteLinkByName(movingName(a));
}

std::string movingName(const cni::CmdArgs& a) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(util::fnv1a64(a.containerID + "/" + a.ifname)));
    return "tmp" + std::string(hex, 12);
}

Error beginCheck(const cni::CmdArgs& a, std::string_view label, nl::Netns& ns) {
    if (auto e = nl::Netns::open(a.netns, ns)) return e;
    if (!a.conf.ipamType.empty())
        if (auto e = cni::ipamCheck(a)) return e;
    if (a.conf.prevResult) return {};
    return Error(cni::kInternal, (label.empty() ? "" : std::string(label) + ": ") + "Required prevResult missing");
}

Error checkSandboxLink(const cni::CmdArgs& a, const SandboxLinkCheck& s) {
    std::string label(s.label);
    nl::Netns ns;
    if (auto e = beginCheck(a, label, ns)) return e;
    const cni::Result& r = *a.conf.prevResult;
    const cni::Interface* ci = findSandboxIface(r, a.ifname, a.netns);
    if (!ci) return Error(cni::kInternal, "Sandbox in prevResult  doesn't match configured netns: " + a.netns);
    nl::Socket ctr;
    if (auto e = nl::Socket::openIn(ns, ctr)) return e;
    nl::LinkInfo li;
    bool found = false;
    if (auto e = ctr.linkByName(ci->name, li, found)) return e;
    if (!found)
        return Error(cni::kInternal, label + ": Container Interface name in prevResult: " + ci->name + " not found");
    if (!s.kind.empty() && li.kind != s.kind)
        return Error(cni::kInternal, "Error: Container interface " + li.name + " not of type " +
                                         std::string(s.kindText.empty() ? s.kind : s.kindText));
    if (!ci->mac.empty() && ci->mac != li.mac)
        return Error(cni::kInternal, (s.labelMac ? label + ": " : std::string()) + "Interface " + ci->name + " Mac " +
                                         ci->mac + " doesn't match container Mac: " + li.mac);
    return checkIface(ctr, a.ifname, li.index, r);
}

const cni::Interface* findSandboxIface(const cni::Result& r, std::string_view ifname, std::string_view sandbox) {
    for (const cni::Interface& i : r.interfaces)
        if (i.name == ifname && i.sandbox == sandbox) return &i;
    return nullptr;
}

}  // namespace attach
