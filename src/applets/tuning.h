// tuning's configuration and its backup file: what the applet reads from
// its input, with no kernel involved (the verbs are in tuning.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/error.h"
#include "cni/skel.h"

namespace applets::tuning {

inline constexpr const char* kDefaultDataDir = "/run/cni/tuning";
inline constexpr const char* kAllowlist = "/etc/cni/tuning/allowlist.conf";

struct Sysctl {
    std::string key;    // as configured
    std::string path;   // below /proc/sys, e.g. "net/ipv4/conf/eth0/rp_filter"
    std::string value;
};

struct Conf {
    std::vector<Sysctl> sysctls;
    std::string dataDir = kDefaultDataDir;
    std::string mac;    // normalised in strict mode; "" = unchanged
    bool promisc = false;
    int mtu = 0;
    std::optional<bool> allmulti;
    std::optional<int> txqlen;

    bool linkAttrs() const { return !mac.empty() || mtu != 0 || promisc || allmulti || txqlen; }
};

// Upstream's parseConf: the config's keys (sysctl, mac, mtu, promisc,
// allmulti, txQLen, dataDir), then CNI_ARGS MAC, runtimeConfig.mac, then
// args.cni.{sysctl,mac,mtu,promisc,allmulti,txQLen} over all of them
// (args.cni.sysctl adds to and overrides sysctl; an empty args.cni.mac
// clears the MAC). A wrongly typed key is code 7. `strict` (ADD, CHECK) also
// rejects duplicate sysctl keys in the config, validates the MAC (made
// lowercase with colons), MTU and txQLen, and resolves the sysctl paths for
// CNI_IFNAME; DEL and GC read without it, so a bad value never blocks them.
cni::Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c);

// Upstream's getSysctlFilename: every '.' becomes '/', then the first
// IFNAME becomes `ifname`; the cleaned path must be below /proc/sys/net/.
// `rel` is that path below /proc/sys.
cni::Error sysctlPath(std::string_view key, std::string_view ifname, std::string& rel);

// The allowlist file (kAllowlist in the applet): when it exists, every
// sysctl key must match (search, not anchored) one of its non-empty lines,
// each a POSIX extended regexp. No sysctls: the file is not read.
cni::Error checkAllowlist(const std::vector<Sysctl>& sysctls, const std::string& file = kAllowlist);

// The attributes a backup file holds (upstream's configToRestore), and the
// network whose ADD wrote it ("network", cnibox's own key, last; upstream's
// reader ignores it), so that one network's GC leaves another's backups in a
// shared dataDir alone. Upstream's backups have none.
struct Backup {
    std::string mac;
    std::optional<bool> promisc;
    int mtu = 0;
    std::optional<bool> allmulti;
    std::optional<int> txqlen;
    std::string network;
};

// <containerID>_<ifname>.json in dataDir.
std::string backupName(std::string_view containerID, std::string_view ifname);
// Upstream's file: json.MarshalIndent(configToRestore, "", " "), with
// "network" after its members when set.
std::string backupJson(const Backup& b);
// False when `text` is not a backup (not an object of the known keys with
// their types).
bool parseBackup(std::string_view text, Backup& b);

}  // namespace applets::tuning
