// host-local: IPAM from address ranges, leases kept on local disk.
// The work is in src/ipam (hostlocal, range, store).
#include "applets/host_local.h"

#include "cni/applet.h"

namespace applets::host_local {

namespace {

using cni::Error;

constexpr const char* kHelp =
    "IPAM: one address per range set, leased in files under dataDir/<network name>.\n"
    "\n"
    "Config keys (under \"ipam\"):\n"
    "  ranges        required unless the top-level subnet is given. A list of range\n"
    "                sets; a set is a list of disjoint ranges of one family and yields\n"
    "                one address (more than one address per family needs cniVersion\n"
    "                >= 0.3.0). Range sets must not overlap. A range:\n"
    "    subnet      required; the network address (no host bits), /30 or /126 at most\n"
    "    rangeStart  first address handed out; default network+1\n"
    "    rangeEnd    last address; default broadcast-1 (IPv4), last address (IPv6)\n"
    "    gateway     default network+1; never handed out, returned as the gateway\n"
    "  subnet, rangeStart, rangeEnd, gateway\n"
    "                a single range at the top level (older form), used as the first set\n"
    "  routes        [{dst, gw, mtu, advmss, priority, table, scope}]; returned as given\n"
    "  dataDir       default /var/lib/cni/networks; \"..\" components are rejected (code 7),\n"
    "                as is a network name longer than 255 bytes\n"
    "  resolvConf    default none; a resolv.conf whose nameserver, domain, search and\n"
    "                options lines become the result's dns\n"
    "runtimeConfig.ipRanges  range sets placed before all others\n"
    "Requested addresses (each must fall in a range set, at most one per set):\n"
    "  CNI_ARGS IP=<ip>[/prefix] (one address), args.cni.ips, runtimeConfig.ips; all\n"
    "  three are combined, in that order.\n"
    "\n"
    "ADD    round-robin after the set's last reserved address, skipping the gateway;\n"
    "       an attachment (container id + ifname) gets one address per set (requested\n"
    "       addresses excepted). On failure nothing reserved by the call is kept, nor\n"
    "       a network directory it created.\n"
    "DEL    releases the attachment's leases; nothing to release is success.\n"
    "CHECK  fails unless the attachment holds a lease.\n"
    "GC     releases every lease whose attachment is not in cni.dev/valid-attachments,\n"
    "       and empty lease files (left by a crash); nothing when the key is absent.\n"
    "STATUS code 50 when the store cannot be written or a range set is full.\n"
    "\n"
    "Store: the same files as the reference plugin, which may share it: one per lease\n"
    "named by the address (mode 0600, \"<id>\\r\\n<ifname>\"), last_reserved_ip.<set>,\n"
    "and lock (flock). cnibox adds an index in .cnibox/ so DEL and CHECK read one\n"
    "small file instead of every lease; it is rebuilt by one scan whenever the\n"
    "directory was changed by someone else. CNIBOX_HOSTLOCAL_INDEX=0 turns it off:\n"
    "every call then scans the lease files, as the reference plugin does.\n"
    "\n"
    "Errors: 7 config, 4 CNI_ARGS, 5 store I/O, 100 no address could be allocated\n"
    "or (CHECK) no lease found.\n";

}  // namespace

Error parseConf(const cni::CmdArgs& a, ipam::HostLocalConfig& out) {
    ipam::HostLocalConfig c;
    if (auto e = ipam::loadHostLocalConfig(a.config(), a.conf.name, a.conf.cniVersion, a.args, c)) return e;
    c.index = ipam::LeaseIndex::fromEnvironment();
    out = std::move(c);
    return {};
}

namespace {

Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    ipam::HostLocalConfig c;
    if (auto e = parseConf(a, c)) return e;
    return ipam::hostLocalAdd(c, a.containerID, a.ifname, out);
}

Error cmdDel(const cni::CmdArgs& a) {
    ipam::HostLocalConfig c;
    if (auto e = parseConf(a, c)) return e;
    return ipam::hostLocalDel(c, a.containerID, a.ifname);
}

Error cmdCheck(const cni::CmdArgs& a) {
    ipam::HostLocalConfig c;
    if (auto e = parseConf(a, c)) return e;
    return ipam::hostLocalCheck(c, a.containerID, a.ifname);
}

Error cmdGC(const cni::CmdArgs& a) {
    ipam::HostLocalConfig c;
    if (auto e = parseConf(a, c)) return e;
    if (!a.conf.hasValidAttachments) return {};
    return ipam::hostLocalGC(c, a.conf.validAttachments);
}

Error cmdStatus(const cni::CmdArgs& a) {
    ipam::HostLocalConfig c;
    if (auto e = parseConf(a, c)) return e;
    return ipam::hostLocalStatus(c);
}

const cni::Plugin kPlugin{
    .add = cmdAdd,
    .del = cmdDel,
    .check = cmdCheck,
    .gc = cmdGC,
    .status = cmdStatus,
    .checkNetns = false,  // IPAM: never enters CNI_NETNS
};

}  // namespace

}  // namespace applets::host_local

extern const cni::Applet host_local_applet;
const cni::Applet host_local_applet{
    .name = "host-local",
    .summary = "IPAM: addresses from ranges, leases on local disk",
    .help = applets::host_local::kHelp,
    .plugin = &applets::host_local::kPlugin,
};
