#include "attach/veth.h"

#include "util/text.h"

#include <sys/socket.h>

#include <cerrno>

namespace attach {

Error setupVeth(nl::Socket& host, nl::Socket& ctr, const nl::Netns& ctrNs, std::string_view ifname, int mtu,
                const std::string& mac, Veth& out) {
    std::string hostName;
    for (int attempt = 0;; attempt++) {
        if (attempt == 10) return Error(cni::kInternal, "failed to find a unique veth name");
        hostName = nl::randomVethName();
        nl::VethSpec spec;
        spec.name = hostName;
        spec.peerName = std::string(ifname);
        spec.peerNs = &ctrNs;
        spec.mtu = mtu;
        spec.peerMac = mac;
        bool taken = false;   // the random host name was in use: try another
        Error e = host.addVeth(spec, &taken);
        if (!e) break;
        if (taken) continue;
        if (e.errnum == EEXIST)
            return Error(cni::kInternal, "container veth name (" + util::quoted(ifname) + ") peer provided (" + util::quoted(hostName) +
                                             ") already exists");
        return Error(e.code, "failed to make veth pair: " + e.text());
    }

    bool found = false;
    if (auto e = host.linkByName(hostName, out.host, found)) return e;
    if (!found) return Error(cni::kInternal, "failed to lookup " + util::quoted(hostName) + ": link not found");
    if (auto e = ctr.linkByName(ifname, out.container, found)) return e;
    if (!found) return Error(cni::kInternal, "failed to lookup " + util::quoted(ifname) + ": link not found");
    if (auto e = host.setUp(out.host.index))
        return Error(e.code, "failed to set " + util::quoted(hostName) + " up: " + e.text());
    out.host.up = true;
    // We own the routes of this link (best effort, as upstream).
    (void)nl::ifSysctlSet(AF_INET6, hostName, "accept_ra", "0");
    return {};
}

Error VethSandbox::open(const cni::CmdArgs& a) {
    if (auto e = nl::Netns::open(a.netns, ns)) return e;
    if (auto e = nl::Socket::open(host)) return e;
    return nl::Socket::openIn(ns, ctr);
}

Error addVeth(VethSandbox& s, const cni::CmdArgs& a, int mtu, const std::string& mac, Veth& out,
              util::Rollback& undo) {
    if (auto e = setupVeth(s.host, s.ctr, s.ns, a.ifname, mtu, mac, out)) return e;
    undo.defer([&s, index = out.host.index] { (void)s.host.deleteLink(index); });
    return {};
}

}  // namespace attach
