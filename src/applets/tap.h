// tap: its config, parsed without touching the kernel.
#pragma once

#include <cstdint>
#include <string>

#include "cni/error.h"
#include "cni/skel.h"

namespace applets::tap {

struct Conf {
    std::string mac;   // the container MAC, normalised
    int mtu = 0;
    bool multiQueue = false;
    int64_t owner = -1, group = -1;   // -1 = not set (a uid/gid is a uint32: 64 bits on every CPU)
    std::string bridge;
    std::string selinuxContext;
};

// Always: mtu, multiQueue, bridge, selinuxContext as JSON types, owner and
// group as uint32. `strict` (ADD, CHECK, STATUS): also mtu 68..65535 (or
// 0), no selinuxContext (unsupported) and the container MAC
// (attach::sublink::parseMac).
cni::Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c);

}  // namespace applets::tap
