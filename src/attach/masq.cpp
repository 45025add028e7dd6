#include "attach/masq.h"

#include <vector>

#include "cni/delegate.h"
#include "netfilter/ipmasq.h"

namespace attach {

Error masquerade(const cni::CmdArgs& a, std::optional<nf::Backend> backend, const cni::Result& res,
                 util::Rollback& undo) {
    std::vector<util::IPNet> ips;
    for (const cni::IPConfig& c : res.ips) ips.push_back(c.address);
    undo.defer([&a] { (void)nf::ipmasq::teardown(a.conf.name, a.containerID, a.ifname); });
    return nf::ipmasq::setup(backend, a.conf.name, a.containerID, a.ifname, ips);
}

Error masqStatus(const cni::CmdArgs& a, bool ipMasq, std::optional<nf::Backend> backend) {
    if (!a.conf.ipamType.empty())
        if (auto e = cni::ipamStatus(a)) return e;
    nf::Backend b;
    return ipMasq ? nf::chooseBackend(backend, b) : Error();
}

Error masqGC(const cni::CmdArgs& a) {
    if (a.conf.ipamType.empty()) return {};
    if (auto e = cni::ipamGC(a)) return e;
    if (!a.conf.hasValidAttachments) return {};
    return nf::ipmasq::gc(a.conf.name, a.conf.validAttachments);
}

}  // namespace attach
