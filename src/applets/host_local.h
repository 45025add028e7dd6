// host-local: the applet's side of its config (the config itself and the
// verbs are ipam::HostLocalConfig and friends in src/ipam/hostlocal.h).
#pragma once

#include "cni/error.h"
#include "cni/skel.h"
#include "ipam/hostlocal.h"

namespace applets::host_local {

// The plugin config, its name and cniVersion and CNI_ARGS as the skel read
// them (ipam::loadHostLocalConfig), and the index switch from the
// environment (ipam::LeaseIndex::fromEnvironment). Errors: 7 config,
// 4 CNI_ARGS.
cni::Error parseConf(const cni::CmdArgs& a, ipam::HostLocalConfig& out);

}  // namespace applets::host_local
