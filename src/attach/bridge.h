// A Linux bridge and its ports, as the bridge applet attaches to it (the
// container veth's host end, and the host end of a vlan's gateway veth):
// the bridge made when missing and up, a port joined with its mode and
// vlans, the wait for a port to be up.
#pragma once

#include <string>
#include <vector>

#include "cni/error.h"
#include "netlink/netlink.h"

namespace attach {

using cni::Error;

struct BridgeSpec {
    std::string name;
    int mtu = 0;                  // of a bridge made here; 0 = the kernel's
    bool vlanFiltering = false;
    bool promisc = false;
};

// `br` holds what a lookup of `spec.name` found (`exists`); a missing bridge
// is made (and deleted again when vlan filtering cannot be turned on on it).
// Then vlan filtering and promiscuous mode as `spec` asks, accept_ra=0, up.
// Errors read "failed to create bridge \"<name>\": ...".
Error ensureBridge(nl::Socket& host, const BridgeSpec& spec, bool exists, nl::LinkInfo& br);

struct PortSpec {
    bool hairpin = false;
    bool isolated = false;
    int vlan = 0;                   // the port's pvid, untagged; 0 = none
    std::vector<int> trunk;         // tagged vids, sorted, unique
    bool preserveDefaultVlan = false;

    bool vlanFiltering() const { return vlan != 0 || !trunk.empty(); }
};

// `port` joins `br`: its master, hairpin mode, isolation and vlans. With
// vlan filtering: without preserveDefaultVlan the bridge's default vid 1
// goes; `vlan` becomes pvid and untagged; trunk vids are tagged, and a trunk
// without `vlan` keeps vid 1 as its native (pvid, untagged) vlan.
Error joinBridge(nl::Socket& host, const nl::LinkInfo& br, const nl::LinkInfo& port, const PortSpec& spec);

// Waits for the port to be operationally up: polled as upstream does
// (about 2.5 s in all) but often at first; `out` is its fresh state.
Error waitPortUp(nl::Socket& host, int index, nl::LinkInfo& out);

}  // namespace attach
