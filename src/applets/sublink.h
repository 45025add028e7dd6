// What macvlan, ipvlan, vlan and dummy share: a link made directly in the
// container under a temporary name and renamed to CNI_IFNAME there, the
// parent's lookup (default-route interface when unnamed), IPAM on it, and
// DEL/CHECK of "one link named CNI_IFNAME in the container".
#pragma once

#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <string>

#include "cni/args.h"
#include "cni/delegate.h"
#include "cni/json.h"
#include "cni/skel.h"
#include "ipam/configure.h"
#include "netlink/netlink.h"

namespace sublink {

using cni::Error;

// The container MAC: config "mac" < CNI_ARGS MAC < args.cni.mac < runtimeConfig.mac.
inline Error parseMac(const cni::CmdArgs& a, std::string& out) {
    auto set = [&](std::string_view from, std::string_view v) -> Error {
        if (!ipam::normalizeMac(v, out))
            return Error(cni::kInvalidNetConf, "invalid MAC address \"" + std::string(v) + "\" in " + std::string(from));
        return {};
    };
    std::string conf;
    if (auto e = cni::json::getString(a.config(), "mac", conf)) return e;
    if (!conf.empty())
        if (auto e = set("mac", conf)) return e;
    cni::CniArgs env;
    if (auto e = cni::parseCniArgs(a.args, {"MAC"}, env)) return e;
    if (const std::string* m = env.get("MAC"); m && !m->empty())
        if (auto e = set("CNI_ARGS", *m)) return e;
    for (auto [from, v] : {std::pair{"args.cni.mac", a.argsCni("mac")}, {"runtimeConfig.mac", a.runtimeConfig("mac")}}) {
        if (!v) continue;
        if (!v->IsString()) return Error(cni::kInvalidNetConf, std::string(from) + " must be a string");
        if (v->GetStringLength())
            if (auto e = set(from, v->GetString())) return e;
    }
    return {};
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
// upstream), IPAM (optional when `ipamOptional`), addresses and routes or
// just link up. On failure the link and the allocation are undone.
inline Error finishAdd(const cni::CmdArgs& a, const nl::Netns& ns, nl::Socket& ctr, const nl::LinkInfo& link,
                       bool notify, bool ipamOptional, cni::Result& out) {
    Error e;
    bool ipamDone = false;
    {
        nl::NetnsGuard in(ns);
        if (in.error()) e = in.error();
        if (!e && notify) {
            e = nl::ifSysctlSet(AF_INET, link.name, "arp_notify", "1");
            if (!e) (void)nl::ifSysctlSet(AF_INET6, link.name, "ndisc_notify", "1");
        }
    }
    if (!e && (!ipamOptional || !a.conf.ipamType.empty())) {
        e = cni::ipamAdd(a, out);
        ipamDone = !e;
        if (!e && out.ips.empty()) e = Error(cni::kInternal, "IPAM plugin returned missing IP config");
    }
    if (!e) {
        nl::LinkInfo now;
        bool found = false;
        e = ctr.linkByIndex(link.index, now, found);
        out.interfaces = {{.name = link.name, .mac = found ? now.mac : link.mac, .sandbox = a.netns}};
        for (cni::IPConfig& c : out.ips) c.interface = 0;
    }
    if (!e) {
        nl::NetnsGuard in(ns);
        e = in.error();
        if (!e) e = out.ips.empty() ? ctr.setUp(link.index) : ipam::configureIface(ctr, a.ifname, link.index, out);
    }
    if (e) {
        if (ipamDone) (void)cni::ipamDel(a);
        (void)ctr.deleteLink(link.index);
        return e;
    }
    if (!a.conf.dns.empty()) out.dns = a.conf.dns;
    return {};
}

// IPAM DEL (when configured), then the link CNI_IFNAME in the container; an
// empty or vanished netns or a missing link is success.
inline Error del(const cni::CmdArgs& a) {
    if (!a.conf.ipamType.empty())
        if (auto e = cni::ipamDel(a)) return e;
    if (a.netns.empty()) return {};
    nl::Netns ns;
    bool gone = false;
    if (auto e = nl::Netns::open(a.netns, ns, &gone)) return gone ? Error() : e;
    nl::Socket ctr;
    if (auto e = nl::Socket::openIn(ns, ctr)) return e;
    return ctr.deleteLinkByName(a.ifname);
}

// IPAM CHECK, then the prevResult's sandbox interface: exists, is of `kind`,
// has its MAC, addresses and routes.
inline Error check(const cni::CmdArgs& a, std::string_view kind, nl::LinkInfo* linkOut = nullptr) {
    nl::Netns ns;
    if (auto e = nl::Netns::open(a.netns, ns)) return e;
    if (!a.conf.ipamType.empty())
        if (auto e = cni::ipamCheck(a)) return e;
    if (!a.conf.prevResult) return Error(cni::kInternal, std::string(kind) + ": Required prevResult missing");
    const cni::Result& r = *a.conf.prevResult;
    const cni::Interface* ci = ipam::findSandboxIface(r, a.ifname, a.netns);
    if (!ci) return Error(cni::kInternal, "Sandbox in prevResult  doesn't match configured netns: " + a.netns);
    nl::Socket ctr;
    if (auto e = nl::Socket::openIn(ns, ctr)) return e;
    nl::LinkInfo li;
    bool found = false;
    if (auto e = ctr.linkByName(ci->name, li, found)) return e;
    if (!found)
        return Error(cni::kInternal, std::string(kind) + ": Container Interface name in prevResult: " + ci->name + " not found");
    if (li.kind != kind)
        return Error(cni::kInternal, "Error: Container interface " + li.name + " not of type " + std::string(kind));
    if (!ci->mac.empty() && ci->mac != li.mac)
        return Error(cni::kInternal, "Interface " + ci->name + " Mac " + ci->mac + " doesn't match container Mac: " + li.mac);
    if (auto e = ipam::checkIfaceIPs(ctr, a.ifname, li.index, r.ips)) return e;
    if (auto e = ipam::checkRoutes(ctr, r.routes)) return e;
    if (linkOut) *linkOut = li;
    return {};
}

// DEL, CHECK, STATUS and GC of an applet whose IPAM is optional: parse the
// config with Parse(args, strict, conf) (strict for CHECK and STATUS), then
// the shared step. Kind is the link kind CHECK expects.
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
        return sublink::check(a, Kind);
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
};

}  // namespace sublink
