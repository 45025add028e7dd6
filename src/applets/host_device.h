// host-device: its config, parsed without touching the kernel.
#pragma once

#include <string>

#include "cni/error.h"
#include "cni/skel.h"

namespace applets::host_device {

struct Conf {
    std::string device, hwaddr, kernelpath, pciBusID;   // hwaddr normalised
};

// Always: the four keys as strings; runtimeConfig.deviceID (a non-empty
// string) replaces pciBusID. `strict` (ADD, CHECK, STATUS): also one of
// them given, kernelpath under /sys/devices/, hwaddr a MAC.
cni::Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c);

}  // namespace applets::host_device
