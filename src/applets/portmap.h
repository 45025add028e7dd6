// portmap's configuration and its parser (no kernel needed: unit-tested);
// the verbs are in portmap.cpp.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cni/skel.h"
#include "netfilter/hostport.h"

namespace applets::portmap {

struct Conf {
    nf::hostport::Config hp;               // network, containerID, mappings, snat, masqAll, markBit,
                                           // externalSetMarkChain (conditions: see below)
    std::optional<nf::Backend> backend;    // the configured or implied one; none: automatic
    std::vector<std::string> condV4, condV6;   // conditionsV4/V6 as given; ADD and CHECK parse them
                                               // into hp.conditionsV4/V6 for the backend
    std::optional<util::IPNet> ctr4, ctr6;     // the container addresses prevResult names
    std::string dataDir = "/run/cni/portmap";  // nftables mappings' records (cnibox's own key)
    std::string ifname;                        // CNI_IFNAME: the record's attachment
};

// Every key of the config and runtimeConfig.portMappings. Code 7 for a bad
// value (messages as upstream's where upstream has the check), for options
// of both backends without a backend, and for options of the other backend
// than the configured one. Without `backend`, the backend the options are
// written for (externalSetMarkChain or conditions starting with '-'/'!':
// iptables; other conditions: nftables), else none (automatic).
cni::Error parseConf(const cni::CmdArgs& a, Conf& c);

}  // namespace applets::portmap
