// The one internal result model (spec 1.1.0), parsed from and printed in
// any of the seven versions with upstream's conversion rules.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/error.h"
#include "cni/version.h"
#include "util/ipaddr.h"

namespace cni {

struct Interface {
    std::string name;
    std::string mac;
    int mtu = 0;               // 1.x only, omitted when 0
    std::string sandbox;       // omitted when empty
    std::string socketPath;    // 1.x only
    std::string pciID;         // 1.x only
    bool operator==(const Interface&) const = default;
};

struct IPConfig {
    std::optional<int> interface;  // index into Result::interfaces
    util::IPNet address;           // address with its prefix, host bits kept
    std::optional<util::IP> gateway;
    bool operator==(const IPConfig&) const = default;
};

struct Route {
    util::IPNet dst;
    std::optional<util::IP> gw;
    int mtu = 0;                   // omitted when 0
    int advmss = 0;                // omitted when 0
    int priority = 0;              // omitted when 0
    std::optional<int> table;
    std::optional<int> scope;
    bool operator==(const Route&) const = default;
};

struct DNS {
    std::vector<std::string> nameservers;
    std::string domain;
    std::vector<std::string> search;
    std::vector<std::string> options;
    bool empty() const { return nameservers.empty() && domain.empty() && search.empty() && options.empty(); }
    bool operator==(const DNS&) const = default;
};

struct Result {
    std::string cniVersion;        // the version it was parsed from / will be printed in
    std::vector<Interface> interfaces;
    std::vector<IPConfig> ips;
    std::vector<Route> routes;
    DNS dns;
    bool operator==(const Result&) const = default;
};

// Parses a result of any version. When the JSON has no cniVersion,
// `fallbackVersion` is used (upstream sets the conf's version). Errors:
// code 6 on malformed JSON/addresses, code 1 on an unknown version.
Error parseResult(std::string_view json, std::string_view fallbackVersion, Result& out);

// Prints `r` in `version` (converting as upstream does), 4-space indented
// like Go's json.MarshalIndent. May fail, e.g. converting to 0.2.0 with no
// IP address ("cannot convert: no valid IP addresses"), or on an unknown
// version (code 1, "no converter for CNI result version ...").
Error printResult(const Result& r, std::string_view version, std::string& out);

// Converts in the model: what `r` would look like after printing in
// `version` and parsing back (fields the version lacks are dropped).
Error convertResult(const Result& r, std::string_view version, Result& out);

// One route as Go's json.Marshal writes a types.Route (compact: dst, gw,
// then the 1.1.0 fields that are set).
std::string routeJson(const Route& r);

// DNS object shared by configs and results: {nameservers, domain, search, options}.
// Its reader over a rapidjson value is json::getDNS (json.h).

}  // namespace cni
