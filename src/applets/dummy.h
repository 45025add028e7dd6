// dummy: its config, parsed without touching the kernel.
#pragma once

#include "cni/error.h"
#include "cni/skel.h"

namespace applets::dummy {

// No keys of its own: ipam and dns are the spec's.
struct Conf {};

// An IPAM type is required.
cni::Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c);

}  // namespace applets::dummy
