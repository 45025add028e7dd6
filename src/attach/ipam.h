// The IPAM step of an ADD: the config's IPAM plugin checked before anything
// is made, its ADD with the release (its DEL) registered as an undo step,
// and the config's dns over the result's.
#pragma once

#include "cni/error.h"
#include "cni/result.h"
#include "cni/skel.h"
#include "util/rollback.h"

namespace attach {

using cni::Error;

// Fails (as the delegation would, but before anything is made) when the
// config's IPAM type is not in CNI_PATH; a config without one passes.
Error requireIpamPlugin(const cni::CmdArgs& a);

// IPAM ADD through the config's plugin into `out`. Once there is an
// allocation, its release (cni::ipamDel) is deferred on `undo`; a result
// without IPs is an error (upstream's text).
Error allocate(const cni::CmdArgs& a, cni::Result& out, util::Rollback& undo);

// The config's dns, when it has one, replaces the result's.
void applyConfDns(const cni::CmdArgs& a, cni::Result& out);

}  // namespace attach
