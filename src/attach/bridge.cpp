#include "attach/bridge.h"

#include <sys/socket.h>

#include <cerrno>

#include "util/rollback.h"

namespace attach {
namespace {

Error setPortVlans(nl::Socket& host, const nl::LinkInfo& port, const PortSpec& spec) {
    if (!spec.vlanFiltering()) return {};
    auto fail = [&](int vid, const Error& e) {
        return Error(e.code, "failed to setup vlan tag " + std::to_string(vid) + " on " + port.name + ": " + e.text());
    };
    // A port joins with the bridge's default pvid (1 unless changed); a
    // missing vid 1 is not an error.
    if (!spec.preserveDefaultVlan) (void)host.bridgeVlanDel(port.index, 1);
    int native = spec.vlan ? spec.vlan : 1;
    if (auto e = host.bridgeVlanAdd(port.index, native, true, true)) return fail(native, e);
    const std::vector<int>& trunk = spec.trunk;
    for (size_t i = 0; i < trunk.size();) {
        size_t j = i;
        while (j + 1 < trunk.size() && trunk[j + 1] == trunk[j] + 1) ++j;
        int lo = trunk[i], hi = trunk[j];
        // The native vid stays untagged: skip it inside the range.
        if (native >= lo && native <= hi) {
            if (lo < native)
                if (auto e = host.bridgeVlanAdd(port.index, lo, false, false, native - 1 > lo ? native - 1 : 0))
                    return fail(lo, e);
            lo = native + 1;
        }
        if (lo <= hi)
            if (auto e = host.bridgeVlanAdd(port.index, lo, false, false, hi > lo ? hi : 0)) return fail(lo, e);
        i = j + 1;
    }
    return {};
}

}  // namespace

Error ensureBridge(nl::Socket& host, const BridgeSpec& spec, bool exists, nl::LinkInfo& br) {
    const std::string& name = spec.name;
    auto fail = [&](const Error& e) { return Error(e.code, "failed to create bridge \"" + name + "\": " + e.text()); };
    util::Rollback undo;
    if (!exists) {
        bool created = false, found = false;
        if (auto e = host.addBridge(name, spec.mtu, created))
            return fail(Error(e.code, "could not add \"" + name + "\": " + e.text()));
        if (auto e = host.linkByName(name, br, found)) return fail(e);
        if (!found) return fail(Error(cni::kInternal, "could not lookup \"" + name + "\": Link not found"));
        if (created) undo.defer([&host, index = br.index] { (void)host.deleteLink(index); });
    }
    if (br.kind != "bridge") return fail(Error(cni::kInternal, "\"" + name + "\" already exists but is not a bridge"));
    if (spec.vlanFiltering)
        if (auto e = host.setBridgeVlanFiltering(br.index, true))
            return fail(Error(e.code, "could not enable VLAN filtering on \"" + name + "\": " + e.text()));
    undo.dismiss();   // from here on the bridge stays, as DEL leaves it
    if (spec.promisc && !br.promisc)
        if (auto e = host.setPromisc(br.index, true))
            return fail(Error(e.code, "could not set promiscuous mode on \"" + name + "\": " + e.text()));
    (void)nl::ifSysctlSet(AF_INET6, name, "accept_ra", "0");
    if (!br.up)
        if (auto e = host.setUp(br.index)) return fail(e);
    return {};
}

Error joinBridge(nl::Socket& host, const nl::LinkInfo& br, const nl::LinkInfo& port, const PortSpec& spec) {
    if (auto e = host.setMaster(port.index, br.index))
        return Error(e.code, "failed to connect \"" + port.name + "\" to bridge " + br.name + ": " + e.text());
    if (spec.hairpin)
        if (auto e = host.setHairpin(port.index, true))
            return Error(e.code, "failed to setup hairpin mode for " + port.name + ": " + e.text());
    if (spec.isolated)
        if (auto e = host.setPortIsolated(port.index, true))
            return Error(e.code, "failed to set isolated on " + port.name + ": " + e.text());
    return setPortVlans(host, port, spec);
}

Error waitPortUp(nl::Socket& host, int index, nl::LinkInfo& out) {
    static const std::vector<int> kSleepsMs = {1, 1, 2, 4, 8, 16, 32, 64, 128, 256, 500, 1000};
    const Error vanished(cni::kInternal, "bridge port vanished while waiting for it to come up");
    bool up = false, found = false;
    if (auto e = host.waitOperUp(index, kSleepsMs, up)) return e.errnum == ENODEV ? vanished : e;
    if (auto e = host.linkByIndex(index, out, found)) return e;
    if (!found) return vanished;
    if (!up && !out.operUp)
        return Error(cni::kInternal, "bridge port in error state: " + std::string(out.up ? "lowerlayerdown" : "down"));
    return {};
}

}  // namespace attach
