// macvlan: its config, parsed without touching the kernel.
#pragma once

#include <linux/if_link.h>

#include <string>

#include "cni/error.h"
#include "cni/skel.h"

namespace applets::macvlan {

struct Conf {
    std::string master;
    int mode = MACVLAN_MODE_BRIDGE;
    int mtu = 0;
    int bcqueuelen = 0;
    std::string mac;   // the container MAC, normalised
    bool linkInContainer = false;
};

// Always: master, mode, mtu, bcqueuelen, linkInContainer as JSON types.
// `strict` (ADD, CHECK, STATUS): also the mode's name, mtu and bcqueuelen
// not negative, and the container MAC (attach::sublink::parseMac).
cni::Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c);

}  // namespace applets::macvlan
