// bridge: its config, parsed without touching the kernel.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cni/error.h"
#include "cni/skel.h"
#include "netfilter/netfilter.h"

namespace applets::bridge {

struct Conf {
    std::string bridge = "cni0";
    bool isGateway = false;
    bool isDefaultGateway = false;
    bool forceAddress = false;
    int mtu = 0;
    bool promiscMode = false;
    bool hairpinMode = false;
    bool enableDad = false;
    bool portIsolation = false;
    bool disableContainerInterface = false;
    int vlan = 0;
    std::vector<int> trunk;   // tagged vids, sorted, unique
    bool preserveDefaultVlan = false;
    std::string mac;   // container end, normalised
    bool layer3 = false;
    bool ipMasq = false;       // only with layer3
    std::optional<nf::Backend> masqBackend;
    bool macspoofchk = false;

    bool vlanFiltering() const { return vlan != 0 || !trunk.empty(); }
    std::string vlanGateway() const { return bridge + "." + std::to_string(vlan); }
};

// Always: bridge (a valid interface name), ipMasq (only with an IPAM type),
// macspoofchk. `strict` (ADD, CHECK, STATUS): also the rest, refusing what
// ADD could not do.
cni::Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c);

}  // namespace applets::bridge
