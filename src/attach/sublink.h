// The links made from a parent (or from nothing) directly in the container:
// macvlan, ipvlan, vlan, dummy and tap. A link is made under a temporary
// name and renamed to CNI_IFNAME there; the parent is looked up (the
// default-route interface when unnamed); IPAM goes on the link; DEL, CHECK,
// STATUS and GC are those of "one link named CNI_IFNAME in the container".
#pragma once

#include <string>
#include <string_view>

#include "attach/sandbox.h"
#include "cni/error.h"
#include "cni/result.h"
#include "cni/skel.h"
#include "netlink/netlink.h"
#include "util/rollback.h"

namespace attach::sublink {

using cni::Error;

// The container MAC: config "mac" < CNI_ARGS MAC < args.cni.mac < runtimeConfig.mac.
Error parseMac(const cni::CmdArgs& a, std::string& out);

// The parent link, looked up through `sk`; `name` "" = the interface of the
// first IPv4 default route there (an error when `required`).
Error findMaster(nl::Socket& sk, const std::string& name, bool required, nl::LinkInfo& out);

// Creates `spec` (kind, master, mode ... filled; name and ns set here) in the
// container as `moving` (movingName()), then renames it to `ifname` there. With
// `inContainer` the master is the container's and `parent` is the
// container's socket. `out` is the final link; once it is found in the
// container its deletion is deferred on `undo`.
Error create(nl::Socket& parent, nl::Socket& ctr, const nl::Netns& ns, bool inContainer, std::string_view ifname,
             std::string_view moving, nl::SubLinkSpec spec, nl::LinkInfo& out, util::Rollback& undo);

// After create(): arp_notify/ndisc_notify (macvlan, ipvlan, vlan as
// upstream), then attach::addSandboxLink with the link's MAC as it is now.
Error finishAdd(const cni::CmdArgs& a, const nl::Netns& ns, nl::Socket& ctr, const nl::LinkInfo& link, bool notify,
                cni::Result& out, util::Rollback& undo);

// Where the link of add() comes from.
struct Parent {
    bool none = false;          // no parent (dummy)
    std::string master;         // "" = the first IPv4 default route's interface
    bool required = false;      // no default: a master must be named
    bool inContainer = false;   // the master lives in the container
};

// ADD of a link made from `spec` (kind and kind's fields; its mtu checked
// against the master's): the IPAM plugin checked, the master looked up, the
// link made (create) and finished (finishAdd, `notify`). A failure undoes
// the allocation, then the link.
Error add(const cni::CmdArgs& a, const Parent& p, nl::SubLinkSpec spec, bool notify, cni::Result& out);

// IPAM DEL (when configured), then the link CNI_IFNAME in the container; an
// empty or vanished netns or a missing link is success.
Error del(const cni::CmdArgs& a);

// CHECK of the link CNI_IFNAME, of link kind `kind` (named in the messages).
Error check(const cni::CmdArgs& a, std::string_view kind);
// STATUS and GC: passed to the IPAM plugin when the config has a type.
Error status(const cni::CmdArgs& a);
Error gc(const cni::CmdArgs& a);

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
        return sublink::check(a, Kind);
    }
    static Error status(const cni::CmdArgs& a) {
        Conf c;
        if (auto e = Parse(a, true, c)) return e;
        return sublink::status(a);
    }
    static Error gc(const cni::CmdArgs& a) {
        Conf c;
        if (auto e = Parse(a, false, c)) return e;
        return sublink::gc(a);
    }
    // The applet's verbs with its own ADD (and DEL and CHECK).
    using Verb = Error (*)(const cni::CmdArgs&);
    static constexpr cni::Plugin plugin(Error (*add)(const cni::CmdArgs&, cni::Result&), Verb d = del,
                                        Verb c = check) {
        return {.add = add, .del = d, .check = c, .gc = gc, .status = status};
    }
};

}  // namespace attach::sublink
