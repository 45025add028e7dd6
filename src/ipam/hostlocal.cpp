#include "ipam/hostlocal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "cni/args.h"
#include "cni/json.h"
#include "ipam/config.h"
#include "ipam/resolvconf.h"
#include "util/fs.h"
#include "util/rollback.h"

namespace ipam {

using util::IP;

namespace {

constexpr int kAllocFailed = cni::kPluginSpecific;  // 100: no address could be handed out

cni::Error addRequested(const std::vector<std::string>& list, std::vector<IP>& out) {
    for (const auto& s : list) {
        auto n = util::IPNet::parseAddrOrCidr(s);
        if (!n) return {cni::kInvalidNetConf, "invalid IP address " + s};
        out.push_back(n->ip);
    }
    return {};
}

const rapidjson::Value* object(const rapidjson::Value& v, std::string_view key) {
    const rapidjson::Value* m = cni::json::get(v, key);
    return m && m->IsObject() ? m : nullptr;
}

// Writes the store's index. An index that cannot be written is left
// untrusted and the verb's answer stands (see hostlocal.h).
void saveIndex(LeaseStore& store) {
    if (auto e = store.commit()) std::fprintf(stderr, "host-local: index not saved: %s\n", e.msg.c_str());
}

}  // namespace

cni::Error loadHostLocalConfig(const rapidjson::Value& root, std::string_view name, std::string_view cniVersion,
                               std::string_view cniArgs, HostLocalConfig& out) {
    const rapidjson::Value* ipam = nullptr;
    if (auto e = ipamObject(root, ipam)) return e;
    HostLocalConfig c;
    c.name = std::string(name);
    c.cniVersion = std::string(cniVersion);
    const rapidjson::Value* rc = object(root, "runtimeConfig");

    // Requested addresses, in upstream's order: CNI_ARGS, args.cni.ips, runtimeConfig.ips.
    std::vector<IP> req;
    if (!cniArgs.empty()) {
        cni::CniArgs a;
        if (auto e = cni::parseCniArgs(cniArgs, {"IP"}, a)) return e;
        if (const std::string* v = a.get("IP"); v && !v->empty()) {
            auto n = util::IPNet::parseAddrOrCidr(*v);
            if (!n)
                return {cni::kInvalidEnv,
                        "ARGS: error parsing value of pair \"IP=" + *v + "\": invalid IP address " + *v};
            req.push_back(n->ip);
        }
    }
    if (const rapidjson::Value* args = object(root, "args"))
        if (const rapidjson::Value* a = object(*args, "cni")) {
            std::vector<std::string> ips;
            if (auto e = cni::json::getStringList(*a, "ips", ips)) return e;
            if (auto e = addRequested(ips, req)) return e;
        }
    if (rc) {
        std::vector<std::string> ips;
        if (auto e = cni::json::getStringList(*rc, "ips", ips)) return e;
        if (auto e = addRequested(ips, req)) return e;
    }
    for (const IP& ip : req)
        if (std::find(c.requested.begin(), c.requested.end(), ip) == c.requested.end()) c.requested.push_back(ip);

    // Range sets: runtimeConfig.ipRanges, the legacy top-level range, `ranges`.
    if (rc)
        if (const rapidjson::Value* r = cni::json::get(*rc, "ipRanges"))
            if (auto e = parseRangeSets(*r, "runtimeConfig.ipRanges", c.ranges)) return e;
    std::optional<util::IPNet> legacySubnet;
    if (auto e = cni::json::getIPNet(*ipam, "subnet", legacySubnet)) return e;
    if (legacySubnet) {
        Range r;
        if (auto e = parseRange(*ipam, "ipam", r)) return e;
        c.ranges.push_back({r});
    }
    if (const rapidjson::Value* r = cni::json::get(*ipam, "ranges"))
        if (auto e = parseRangeSets(*r, "ranges", c.ranges)) return e;
    if (c.ranges.empty()) return {cni::kInvalidNetConf, "no IP ranges specified"};

    int v4 = 0, v6 = 0;
    for (size_t i = 0; i < c.ranges.size(); i++) {
        std::string err;
        if (!canonicalizeSet(c.ranges[i], err))
            return {cni::kInvalidNetConf, "invalid range set " + std::to_string(i) + ": " + err};
        (c.ranges[i][0].rangeStart.is4() ? v4 : v6)++;
    }
    if (auto e = checkAddressesPerFamily(c.cniVersion, v4, v6)) return e;
    for (size_t i = 0; i + 1 < c.ranges.size(); i++)
        for (size_t j = i + 1; j < c.ranges.size(); j++)
            if (setsOverlap(c.ranges[i], c.ranges[j]))
                return {cni::kInvalidNetConf,
                        "range set " + std::to_string(i) + " overlaps with " + std::to_string(j)};

    if (auto e = cni::json::getRoutes(*ipam, "routes", c.routes)) return e;
    if (auto e = cni::json::getPath(*ipam, "dataDir", c.dataDir)) return e;
    if (c.dataDir.empty()) c.dataDir = kDefaultDataDir;
    if (auto e = cni::json::getString(*ipam, "resolvConf", c.resolvConf)) return e;
    if (auto e = validateStorePath(c.dataDir, c.name)) return e;
    out = std::move(c);
    return {};
}

cni::Error allocate(LeaseStore& store, const RangeSet& set, int setIndex, const Owner& owner,
                    const std::optional<IP>& requested, cni::IPConfig& out) {
    if (requested) {
        const Range* r = rangeFor(set, *requested);
        if (!r) return {kAllocFailed, requested->str() + " not in range set " + str(set)};
        if (*requested == r->gateway)
            return {kAllocFailed, "requested ip " + requested->str() + " is subnet's gateway"};
        bool ok = false;
        if (auto e = store.reserve(owner, *requested, setIndex, ok)) return e;
        if (!ok)
            return {kAllocFailed, "requested IP address " + requested->str() + " is not available in range set " +
                                      str(set)};
        out = cni::IPConfig{std::nullopt, util::IPNet{*requested, r->subnet.prefix}, r->gateway};
        return {};
    }
    std::vector<IP> held;
    if (auto e = store.addressesOf(owner, held)) return e;
    for (const IP& ip : held)
        if (setContains(set, ip))
            return {kAllocFailed,
                    ip.str() + " has been allocated to " + owner.id + ", duplicate allocation is not allowed"};
    RangeIter it(set, store.lastReserved(setIndex));
    const Range* r = nullptr;
    while (auto ip = it.next(&r)) {
        bool ok = false;
        if (auto e = store.reserve(owner, *ip, setIndex, ok)) return e;
        if (ok) {
            out = cni::IPConfig{std::nullopt, util::IPNet{*ip, r->subnet.prefix}, r->gateway};
            return {};
        }
    }
    return {kAllocFailed, "no IP addresses available in range set: " + str(set)};
}

cni::Error hostLocalAdd(const HostLocalConfig& c, const std::string& id, const std::string& ifname,
                        cni::Result& out) {
    cni::Result res;
    res.cniVersion = std::string(cni::str(cni::kCurrent));
    if (!c.resolvConf.empty())
        if (auto e = parseResolvConf(c.resolvConf, res.dns)) return e;

    // Everything that can be decided without the store, before touching the disk.
    std::vector<std::optional<IP>> want(c.ranges.size());
    std::vector<IP> left = c.requested;
    for (size_t i = 0; i < c.ranges.size(); i++)
        for (auto it = left.begin(); it != left.end(); ++it)
            if (setContains(c.ranges[i], *it)) {
                want[i] = *it;
                left.erase(it);
                break;
            }
    if (!left.empty()) {
        std::string msg = "failed to allocate all requested IPs:";
        for (const IP& ip : left) {
            msg += ' ';
            msg += ip.str();
        }
        return {kAllocFailed, msg};
    }
    auto wrap = [](size_t i, const cni::Error& e) {
        return cni::Error(e.code, "failed to allocate for range " + std::to_string(i) + ": " + e.msg, e.details);
    };
    for (size_t i = 0; i < c.ranges.size(); i++) {
        if (want[i]) {
            if (*want[i] == rangeFor(c.ranges[i], *want[i])->gateway)
                return wrap(i, {kAllocFailed, "requested ip " + want[i]->str() + " is subnet's gateway"});
        } else if (capacity(c.ranges[i]) == 0) {
            return wrap(i, {kAllocFailed, "no IP addresses available in range set: " + str(c.ranges[i])});
        }
    }

    LeaseStore store;
    if (auto e = store.open(c.dataDir, c.name, LeaseStore::Mode::Create, c.index)) return e;
    Owner owner{id, ifname};
    util::Rollback undo;
    undo.defer([&] {  // last: the network dir goes again if this ADD made it
        if (store.madeDir()) store.abandon();
        else saveIndex(store);
    });
    for (size_t i = 0; i < c.ranges.size(); i++) {
        cni::IPConfig ipc;
        if (auto e = allocate(store, c.ranges[i], static_cast<int>(i), owner, want[i], ipc)) return wrap(i, e);
        undo.defer([&store, &owner, ip = ipc.address.ip] { (void)store.releaseOne(owner, ip); });
        res.ips.push_back(ipc);
    }
    undo.dismiss();
    saveIndex(store);
    res.routes = c.routes;
    out = std::move(res);
    return {};
}

cni::Error hostLocalDel(const HostLocalConfig& c, const std::string& id, const std::string& ifname) {
    LeaseStore store;
    if (auto e = store.open(c.dataDir, c.name, LeaseStore::Mode::Existing, c.index)) return e;
    if (store.missing()) return {};
    cni::Error e = store.release(Owner{id, ifname});
    saveIndex(store);
    return e;
}

cni::Error hostLocalCheck(const HostLocalConfig& c, const std::string& id, const std::string& ifname) {
    LeaseStore store;
    if (auto e = store.open(c.dataDir, c.name, LeaseStore::Mode::Existing, c.index)) return e;
    bool found = false;
    if (!store.missing()) {
        cni::Error e = store.holds(Owner{id, ifname}, found);
        saveIndex(store);
        if (e) return e;
    }
    if (!found) return {kAllocFailed, "host-local: Failed to find address added by container " + id};
    return {};
}

cni::Error hostLocalGC(const HostLocalConfig& c, const std::vector<cni::Attachment>& valid) {
    LeaseStore store;
    if (auto e = store.open(c.dataDir, c.name, LeaseStore::Mode::Existing, c.index)) return e;
    if (store.missing()) return {};
    cni::Error e = store.releaseAllExcept(valid);
    saveIndex(store);
    return e;
}

cni::Error hostLocalStatus(const HostLocalConfig& c) {
    std::string dir = c.dir();
    // The store (or, before the first ADD, the nearest existing parent) must be writable.
    std::string p = dir;
    for (;;) {
        struct stat st;
        if (stat(p.c_str(), &st) == 0) {
            if (!S_ISDIR(st.st_mode))
                return {cni::kNotAvailable, "data directory " + p + " is not a directory"};
            if (faccessat(AT_FDCWD, p.c_str(), W_OK | X_OK, AT_EACCESS) != 0)
                return {cni::kNotAvailable, "data directory " + p + " is not writable: " + util::errnoText(errno)};
            break;
        }
        if (errno != ENOENT)
            return {cni::kNotAvailable, "data directory " + p + " is not usable: " + util::errnoText(errno)};
        size_t s = p.find_last_of('/');
        if (s == std::string::npos) break;  // relative path: the current directory
        p = s == 0 ? "/" : p.substr(0, s);
    }
    std::vector<Lease> leases;
    if (auto e = listLeases(dir, leases, false)) return {cni::kNotAvailable, e.msg};
    for (const RangeSet& set : c.ranges) {
        uint64_t used = 0;
        for (const Lease& l : leases)
            if (setContains(set, l.ip)) used++;
        if (used >= capacity(set))
            return {cni::kNotAvailable, "no IP addresses available in range set: " + str(set)};
    }
    return {};
}

}  // namespace ipam
