// The IPAM step of an ADD: the config's IPAM plugin checked before anything
// is made, its ADD with the release (its DEL) registered as an undo step,
// and the config's dns over the result's; and where the IPAM DEL goes in a
// DEL of the container link.
#pragma once

#include <functional>
#include <string_view>

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

// Whether the IPAM type talks on the container link: dhcp's exchange goes
// out on it, so its ADD needs the link connected (a bridge port, up) and its
// DEL needs the link still there (the DHCPRELEASE).
bool ipamUsesLink(std::string_view ipamType);

// The order of a DEL's two steps for every IPAM but those that need the link.
enum class DelOrder { kIpamFirst, kLinkFirst };

// DEL of the container link (`deleteLink`) and, when `withIpam`, of the
// IPAM allocation (cni::ipamDel), in `order`; an IPAM that needs the link
// (ipamUsesLink) goes first whatever `order` says. The first error
// ends it.
Error deleteLinkAndIpam(const cni::CmdArgs& a, bool withIpam, DelOrder order,
                        const std::function<Error()>& deleteLink);

}  // namespace attach
