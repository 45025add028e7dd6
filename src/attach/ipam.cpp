#include "attach/ipam.h"

#include "cni/delegate.h"
#include "util/text.h"

namespace attach {

Error requireIpamPlugin(const cni::CmdArgs& a) {
    if (a.conf.ipamType.empty() || !cni::findInPath(a.conf.ipamType, a.path).empty()) return {};
    std::string dirs = a.path;
    for (char& ch : dirs)
        if (ch == ':') ch = ' ';
    return Error(cni::kInternal, "failed to find plugin " + util::quoted(a.conf.ipamType) + " in path [" + dirs + "]");
}

Error allocate(const cni::CmdArgs& a, cni::Result& out, util::Rollback& undo) {
    if (auto e = cni::ipamAdd(a, out)) return e;
    undo.defer([&a] { (void)cni::ipamDel(a); });
    if (out.ips.empty()) return Error(cni::kInternal, "IPAM plugin returned missing IP config");
    return {};
}

void applyConfDns(const cni::CmdArgs& a, cni::Result& out) {
    if (!a.conf.dns.empty()) out.dns = a.conf.dns;
}

bool ipamUsesLink(std::string_view ipamType) { return ipamType == "dhcp"; }

Error deleteLinkAndIpam(const cni::CmdArgs& a, bool withIpam, DelOrder order,
                        const std::function<Error()>& deleteLink) {
    bool ipamFirst = withIpam && (order == DelOrder::kIpamFirst || ipamUsesLink(a.conf.ipamType));
    if (ipamFirst)
        if (auto e = cni::ipamDel(a)) return e;
    if (auto e = deleteLink()) return e;
    if (withIpam && !ipamFirst) return cni::ipamDel(a);
    return {};
}

}  // namespace attach
