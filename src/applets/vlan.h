// vlan: its config, parsed without touching the kernel.
#pragma once

#include <string>

#include "cni/error.h"
#include "cni/skel.h"

namespace applets::vlan {

struct Conf {
    std::string master;
    int vlanId = -1;
    int mtu = 0;
    bool linkInContainer = false;
};

// Always: master, vlanId, mtu, linkInContainer as JSON types and an IPAM
// type. `strict` (ADD, CHECK, STATUS): also master and vlanId given, vlanId
// 0..4094, mtu not negative.
cni::Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c);

}  // namespace applets::vlan
