// What macvlan, ipvlan, vlan, dummy and tap share: a link made directly in
// the container under a temporary name and renamed to CNI_IFNAME there, the
// parent's lookup (default-route interface when unnamed), IPAM on it, and
// DEL/CHECK/STATUS/GC of "one link named CNI_IFNAME in the container".
#pragma once

#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <string>

#include "cni/args.h"
#include "cni/delegate.h"
#include "cni/json.h"
#include "cni/mac.h"
#include "cni/skel.h"
#include "attach/configure.h"
#include "netlink/netlink.h"

namespace sublink {

using cni::Error;

// The container MAC: config "mac" < CNI_ARGS MAC < args.cni.mac < runtimeConfig.mac.
inline Error parseMac(const cni::CmdArgs& a, std::string& out) {
    std::string conf;
    if (auto e = cni::json::getString(a.config(), "mac", conf)) return e;
    return cni::containerMac(a, conf, out);
}

// The parent link, looked up through `sk`; `name` "" = the interface of the
// first IPv4 default route there.
inline Error findMaster(nl::Socket& sk, std::string name, bool required, nl::LinkInfo& out) {
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

// Creates `spec` (kind, master, mode ... filled; name and ns set here) in the
// container as a temporary name, then renames it to `ifname` there. With
// `inContainer` the master is the container's and `parent` is the
// container's socket. `out` is the final link.
inline Error create(nl::Socket& parent, nl::Socket& ctr, const nl::Netns& ns, bool inContainer, std::string_view ifname,
                    nl::SubLinkSpec spec, nl::LinkInfo& out) {
    bool exists = false;
    if (auto e = ctr.linkExists(ifname, exists)) return e;
    if (exists)
        return Error(cni::kInternal, "container veth name provided (" + std::string(ifname) + ") already exists");
    spec.ns = inContainer ? nullptr : &ns;
    Error e;
    for (int i = 0; i < 4; i++) {
        spec.name = "tmp" + nl::randomVethName().substr(4);
        bool taken = false;
        e = parent.addSubLink(spec, &taken);
        if (!e || !taken) break;
    }
    if (e) return e;
    bool found = false;
    if (auto e2 = ctr.linkByName(spec.name, out, found)) return e2;
    if (!found) return Error(cni::kInternal, "new " + spec.kind + " link " + spec.name + " disappeared");
    if (auto e2 = ctr.setName(out.index, ifname)) {
        (void)ctr.deleteLink(out.index);
        return Error(e2.code, "failed to rename " + spec.kind + " to \"" + std::string(ifname) + "\": " + e2.text());
    }
    out.name = std::string(ifname);
    return {};
}

// After create(): arp_notify/ndisc_notify (macvlan, ipvlan, vlan as
// upstream), then attach::addSandboxLink. On failure the link is deleted.
inline Error finishAdd(const cni::CmdArgs& a, const nl::Netns& ns, nl::Socket& ctr, const nl::LinkInfo& link,
                       bool notify, cni::Result& out) {
    Error e;
    {
        nl::NetnsGuard in(ns);
        if (in.error()) e = in.error();
        if (!e && notify) {
            e = nl::ifSysctlSet(AF_INET, link.name, "arp_notify", "1");
            if (!e) (void)nl::ifSysctlSet(AF_INET6, link.name, "ndisc_notify", "1");
        }
    }
    // The MAC as it is now (tap sets it after the lookup).
    nl::LinkInfo now = link;
    if (!e) {
        nl::LinkInfo li;
        bool found = false;
        e = ctr.linkByIndex(link.index, li, found);
        if (found) now.mac = li.mac;
    }
    if (!e) e = attach::addSandboxLink(a, ns, ctr, now, out);
    if (e) (void)ctr.deleteLink(link.index);
    return e;
}

// Where the link of add() comes from.
struct Parent {
    bool none = false;          // no parent (dummy)
    std::string master;         // "" = the first IPv4 default route's interface
    bool required = false;      // no default: a master must be named
    bool inContainer = false;   // the master lives in the container
};

// ADD of a link made from `spec` (kind and kind's fields; its mtu checked
// against the master's): the IPAM plugin checked, the master looked up, the
// link made (create) and finished (finishAdd, `notify`).
inline Error add(const cni::CmdArgs& a, const Parent& p, nl::SubLinkSpec spec, bool notify, cni::Result& out) {
    nl::Netns ns;
    nl::Socket ctr, host;
    if (auto e = attach::openSandbox(a, ns, ctr)) return e;
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
    nl::LinkInfo link;
    if (auto e = create(parent, ctr, ns, inContainer, a.ifname, spec, link)) return e;
    return finishAdd(a, ns, ctr, link, notify, out);
}

// IPAM DEL (when configured), then the link CNI_IFNAME in the container; an
// empty or vanished netns or a missing link is success.
inline Error del(const cni::CmdArgs& a) {
    if (!a.conf.ipamType.empty())
        if (auto e = cni::ipamDel(a)) return e;
    return attach::deleteSandboxLink(a);
}

// DEL, CHECK, STATUS and GC of a sublink applet: parse the config with
// Parse(args, strict, conf) (strict for CHECK and STATUS), then the shared
// step. Kind is the link kind CHECK expects (and names in its messages).
template <class Conf, Error (*Parse)(const cni::CmdArgs&, bool, Conf&), const char* Kind>
struct Verbs {
    static Error del(const cni::CmdArgs& a) {
        Conf c;
        if (auto e = Parse(a, false, c)) return e;
        return sublink::del(a);
    }
    static Error check(const cni::CmdArgs& a) {
        Conf c;
        if (auto e = Parse(a, true, c)) return e;
        return attach::checkSandboxLink(a, {.label = Kind, .kind = Kind});
    }
    static Error status(const cni::CmdArgs& a) {
        Conf c;
        if (auto e = Parse(a, true, c)) return e;
        return a.conf.ipamType.empty() ? Error() : cni::ipamStatus(a);
    }
    static Error gc(const cni::CmdArgs& a) {
        Conf c;
        if (auto e = Parse(a, false, c)) return e;
        return a.conf.ipamType.empty() ? Error() : cni::ipamGC(a);
    }
    // The applet's verbs with its own ADD (and DEL and CHECK).
    using Verb = Error (*)(const cni::CmdArgs&);
    static constexpr cni::Plugin plugin(Error (*add)(const cni::CmdArgs&, cni::Result&), Verb d = del,
                                        Verb c = check) {
        return {.add = add, .del = d, .check = c, .gc = gc, .status = status};
    }
};

}  // namespace sublink
