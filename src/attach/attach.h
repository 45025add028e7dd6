// attach: attach a container interface: make the link, run IPAM, configure,
// undo on failure, DEL/CHECK it. What the link-making applets (bridge, ptp,
// macvlan, ipvlan, vlan, dummy, tap, host-device) share; it calls ipam/
// (through cni's delegation), netlink/ and netfilter/. An ADD reads top to
// bottom: make the link (its deletion deferred on a util::Rollback),
// allocate (its release deferred), configure, masquerade (its teardown
// deferred), dismiss. One header per concern:
//
//   veth.h     the veth pair of bridge and ptp, and the sockets of both ends
//   bridge.h   the Linux bridge a veth joins: the bridge, its ports, their vlans
//   sublink.h  links made in the container from a parent: macvlan, ipvlan,
//              vlan, dummy, tap (attach::sublink)
//   ipam.h     the IPAM plugin checked, its ADD with the release deferred
//   iface.h    addresses and routes on the container link; their CHECK
//   sandbox.h  the container link as a result's interface: ADD after the
//              link exists, DEL, CHECK
//   forward.h  IP forwarding
//   masq.h     masquerading: ADD with its teardown deferred, STATUS, GC
#pragma once

#include "attach/bridge.h"
#include "attach/forward.h"
#include "attach/iface.h"
#include "attach/ipam.h"
#include "attach/masq.h"
#include "attach/sandbox.h"
#include "attach/sublink.h"
#include "attach/veth.h"
