// static: its config and parser (the verbs are in static.cpp), apart so
// that unit tests drive the parser without root.
#pragma once

#include <optional>
#include <vector>

#include "cni/error.h"
#include "cni/result.h"
#include "cni/skel.h"
#include "util/ipaddr.h"

namespace applets::static_ {

struct Address {
    util::IPNet address;
    std::optional<util::IP> gateway;
    bool operator==(const Address&) const = default;
};

struct Conf {
    std::vector<Address> addresses;
    std::vector<cni::Route> routes;
    cni::DNS dns;
};

// The `ipam` object (addresses, routes, dns), CNI_ARGS IP= and GATEWAY=
// (appended to the addresses), then args.cni.ips and runtimeConfig.ips
// (each replacing all addresses when not empty; runtimeConfig last), with
// upstream's order and texts. Errors: 7 config, 4 CNI_ARGS.
cni::Error parseConf(const cni::CmdArgs& a, Conf& out);

}  // namespace applets::static_
