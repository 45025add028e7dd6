// ptp: its config, parsed without touching the kernel.
#pragma once

#include <optional>

#include "cni/error.h"
#include "cni/skel.h"
#include "netfilter/netfilter.h"

namespace applets::ptp {

struct Conf {
    bool ipMasq = false;
    std::optional<nf::Backend> masqBackend;
    int mtu = 0;
};

// Always: ipMasq, ipMasqBackend and mtu as JSON types, an IPAM type.
// `strict` (ADD, CHECK, STATUS): also the mtu's range and the backend's
// name; DEL and GC only need what they clean up.
cni::Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c);

}  // namespace applets::ptp
