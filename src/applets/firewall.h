// firewall's configuration and its parser (no kernel needed: unit-tested);
// the verbs are in firewall.cpp.
#pragma once

#include <optional>

#include "cni/skel.h"
#include "netfilter/fwrules.h"

namespace applets::firewall {

struct Conf {
    bool firewalld = false;              // backend "firewalld": refused by ADD, CHECK and STATUS
    std::optional<nf::Backend> backend;  // none: automatic
    std::string dataDir = "/run/cni/firewall";  // the iptables rules' records (cnibox's own key)
    nf::fw::Spec spec;                   // adminChain, ingress, network, containerID, ifname, and
                                         // prevResult's addresses (duplicates removed); bridge and
                                         // backend are filled by ADD and CHECK
};

// backend, iptablesAdminChainName, firewalldZone (accepted, ignored),
// ingressPolicy, dataDir; code 7 for a bad value.
cni::Error parseConf(const cni::CmdArgs& a, Conf& c);

// ADD and CHECK with an ingress policy (same-bridge, isolated): the bridge
// is prevResult's first interface (spec.bridge); code 7 when there is none,
// its name is empty or longer than 15 bytes. Needs prevResult.
cni::Error ingressBridge(const cni::CmdArgs& a, Conf& c);

}  // namespace applets::firewall
