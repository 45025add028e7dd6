#include "attach/sublink.h"

#include <sys/socket.h>

#include <vector>

#include "attach/ipam.h"
#include "cni/delegate.h"
#include "cni/json.h"
#include "cni/mac.h"

namespace attach::sublink {

Error parseMac(const cni::CmdArgs& a, std::string& out) {
    std::string conf;
    if (auto e = cni::json::getString(a.config(), "mac", conf)) return e;
    return cni::containerMac(a, conf, out);
}

Error findMaster(nl::Socket& sk, const std::string& name, bool required, nl::LinkInfo& out) {
    if (name.empty()) {
        if (required) return Error(cni::kInvalidNetConf, "\"master\" field is required. It specifies the host interface name to virtualize");
        std::vector<nl::Socket::RouteInfo> rs;
        if (auto e = sk.routes(AF_INET, 0, 0, rs)) return e;
        for (const auto& r : rs)
            if (r.dst.prefix == 0 && r.ifindex) {
                bool found = false;
                if (auto e = sk.linkByIndex(r.ifindex, out, found)) return e;
                if (found) return {};
            }
        return Error(cni::kInvalidNetConf, "failed to find the master: no \"master\" given and no default route interface");
    }
    bool found = false;
    if (auto e = sk.linkByName(name, out, found)) return e;
    if (!found) return Error(cni::kInternal, "failed to lookup master \"" + name + "\": Link not found");
    return {};
}

Error create(nl::Socket& parent, nl::Socket& ctr, const nl::Netns& ns, bool inContainer, std::string_view ifname,
             std::string_view moving, nl::SubLinkSpec spec, nl::LinkInfo& out, util::Rollback& undo) {
    bool exists = false;
    if (auto e = ctr.linkExists(ifname, exists)) return e;
    if (exists)
        return Error(cni::kInternal, "container veth name provided (" + std::string(ifname) + ") already exists");
    spec.ns = inContainer ? nullptr : &ns;
    Error e;
    for (int i = 0; i < 5; i++) {
        // The attachment's moving name first; taken, it is a leftover of
        // this attachment's killed ADD in the container (removed, then
        // again), or a name the kernel checked in the host namespace
        // (upstream's reason for a temporary name): then random ones.
        spec.name = i < 2 ? std::string(moving) : "tmp" + nl::randomVethName().substr(4);
        bool taken = false;
        e = parent.addSubLink(spec, &taken);
        if (!e || !taken) break;
        if (i == 0) {
            bool ours = false;
            if (auto e2 = ctr.deleteLinkByName(moving, &ours)) return e2;
            if (!ours) i++;
        }
    }
    if (e) return e;
    bool found = false;
    if (auto e2 = ctr.linkByName(spec.name, out, found)) return e2;
    if (!found) return Error(cni::kInternal, "new " + spec.kind + " link " + spec.name + " disappeared");
    undo.defer([&ctr, index = out.index] { (void)ctr.deleteLink(index); });
    if (auto e2 = ctr.setName(out.index, ifname))
        return Error(e2.code, "failed to rename " + spec.kind + " to \"" + std::string(ifname) + "\": " + e2.text());
    out.name = std::string(ifname);
    return {};
}

Error finishAdd(const cni::CmdArgs& a, const nl::Netns& ns, nl::Socket& ctr, const nl::LinkInfo& link, bool notify,
                cni::Result& out, util::Rollback& undo) {
    {
        nl::NetnsGuard in(ns);
        if (in.error()) return in.error();
        if (notify) {
            if (auto e = nl::ifSysctlSet(AF_INET, link.name, "arp_notify", "1")) return e;
            (void)nl::ifSysctlSet(AF_INET6, link.name, "ndisc_notify", "1");
        }
    }
    // The MAC as it is now (tap sets it after the lookup).
    nl::LinkInfo now = link;
    nl::LinkInfo li;
    bool found = false;
    if (auto e = ctr.linkByIndex(link.index, li, found)) return e;
    if (found) now.mac = li.mac;
    return addSandboxLink(a, ns, ctr, now, out, undo);
}

Error add(const cni::CmdArgs& a, const Parent& p, nl::SubLinkSpec spec, bool notify, cni::Result& out) {
    nl::Netns ns;
    nl::Socket ctr, host;
    if (auto e = openSandbox(a, ns, ctr)) return e;
    bool inContainer = p.none || p.inContainer;
    if (!inContainer)
        if (auto e = nl::Socket::open(host)) return e;
    nl::Socket& parent = inContainer ? ctr : host;
    if (!p.none) {
        nl::LinkInfo master;
        if (auto e = findMaster(parent, p.master, p.required, master)) return e;
        if (spec.mtu > master.mtu)
            return Error(cni::kInvalidNetConf, "invalid MTU " + std::to_string(spec.mtu) + ", must be [0, master MTU(" +
                                                   std::to_string(master.mtu) + ")]");
        spec.masterIndex = master.index;
    }
    util::Rollback undo;
    nl::LinkInfo link;
    if (auto e = create(parent, ctr, ns, inContainer, a.ifname, movingName(a), spec, link, undo)) return e;
    if (auto e = finishAdd(a, ns, ctr, link, notify, out, undo)) return e;
    undo.dismiss();
    return {};
}

Error del(const cni::CmdArgs& a) {
    return deleteLinkAndIpam(a, !a.conf.ipamType.empty(), DelOrder::kIpamFirst,
                             [&a] { return deleteSandboxLink(a, true); });
}

Error check(const cni::CmdArgs& a, std::string_view kind) {
    return checkSandboxLink(a, {.label = kind, .kind = kind});
}

Error status(const cni::CmdArgs& a) { return a.conf.ipamType.empty() ? Error() : cni::ipamStatus(a); }

Error gc(const cni::CmdArgs& a) { return a.conf.ipamType.empty() ? Error() : cni::ipamGC(a); }

}  // namespace attach::sublink
