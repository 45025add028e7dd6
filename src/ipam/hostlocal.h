// host-local: configuration and the verbs, independent of the skel so they
// can be driven directly (tests) or by the applet.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>
#include <vector>

#include "cni/error.h"
#include "cni/result.h"
#include "cni/skel.h"
#include "ipam/range.h"
#include "ipam/store.h"

namespace ipam {

struct HostLocalConfig {
    std::string name;                 // network name: the store is <dataDir>/<name>
    std::string cniVersion;
    std::vector<RangeSet> ranges;     // canonicalized; runtimeConfig.ipRanges, legacy range, `ranges`
    std::vector<cni::Route> routes;
    std::string dataDir = kDefaultDataDir;
    std::string resolvConf;
    // Requested addresses: CNI_ARGS IP, then args.cni.ips, then
    // runtimeConfig.ips (duplicates dropped). Each must land in a range set.
    std::vector<util::IP> requested;
    // Whether the store keeps its index (lease_index.h); the applet sets it
    // from CNIBOX_HOSTLOCAL_INDEX.
    LeaseIndex::Use index = LeaseIndex::Use::On;

    std::string dir() const { return networkDir(dataDir, name); }
};

// Parses and validates the whole plugin config `root` (the `ipam` object,
// runtimeConfig and args) and CNI_ARGS, with upstream's rules and texts.
// Errors: 7 for the config, 4 for CNI_ARGS.
cni::Error loadHostLocalConfig(const rapidjson::Value& root, std::string_view name, std::string_view cniVersion,
                               std::string_view cniArgs, HostLocalConfig& out);

// The verbs. `id` and `ifname` must be validated already (the skel does).
// The leases are what counts: when the store's index cannot be written
// (LeaseStore::commit) the verb's answer stands, the index is left
// untrusted (the next call rescans the leases) and the failure is said on
// stderr.
cni::Error hostLocalAdd(const HostLocalConfig& c, const std::string& id, const std::string& ifname,
                        cni::Result& out);
cni::Error hostLocalDel(const HostLocalConfig& c, const std::string& id, const std::string& ifname);
cni::Error hostLocalCheck(const HostLocalConfig& c, const std::string& id, const std::string& ifname);
// Releases the leases of attachments not in `valid`.
cni::Error hostLocalGC(const HostLocalConfig& c, const std::vector<cni::Attachment>& valid);
// Code 50 when the store cannot be written or some range set has no free address.
cni::Error hostLocalStatus(const HostLocalConfig& c);

// One address from `set` for `owner` (upstream's IPAllocator.Get): the
// requested one if given, else round-robin after the set's last reserved
// address. Call with the store open and locked.
cni::Error allocate(LeaseStore& store, const RangeSet& set, int setIndex, const Owner& owner,
                    const std::optional<util::IP>& requested, cni::IPConfig& out);

}  // namespace ipam
