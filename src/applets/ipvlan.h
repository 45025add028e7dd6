// ipvlan: its config, parsed without touching the kernel.
#pragma once

#include <linux/if_link.h>

#include <string>

#include "cni/error.h"
#include "cni/skel.h"

namespace applets::ipvlan {

struct Conf {
    std::string master;
    int mode = IPVLAN_MODE_L2;
    int flags = 0;   // IPVLAN_F_*; 0 = bridge
    int mtu = 0;
    bool linkInContainer = false;
};

// Always: master, mode, flags, mtu, linkInContainer as JSON types.
// `strict` (ADD, CHECK, STATUS): also the mode's and the flags' names, mtu
// not negative, and for ADD an IPAM type or a prevResult with IPs.
cni::Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c);

}  // namespace applets::ipvlan
