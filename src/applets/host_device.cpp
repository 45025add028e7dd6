// host-device: moves an existing host interface into the container (and back
// on DEL).
#include "applets/host_device.h"

#include <dirent.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cctype>

#include "attach/ipam.h"
#include "attach/sandbox.h"
#include "attach/sublink.h"
#include "cni/applet.h"
#include "cni/json.h"
#include "netlink/netlink.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/mac.h"
#include "util/rollback.h"

namespace applets::host_device {
namespace {

using cni::Error;

constexpr const char* kHelp =
    "Config keys (one of device, hwaddr, kernelpath, pciBusID is required):\n"
    "  device          the host interface's name\n"
    "  hwaddr          its MAC address\n"
    "  kernelpath      its sysfs device path (/sys/devices/...)\n"
    "  pciBusID        its PCI address (also runtimeConfig.deviceID)\n"
    "  ipam            (none)      without it the link is only set up (no IPs)\n"
    "  dns             (none)      replaces the IPAM result's dns when set\n"
    "\n"
    "ADD    the interface moves into CNI_NETNS, renamed to CNI_IFNAME with its original\n"
    "       name as alias; IPAM ADD, addresses and routes, link up. It moves as\n"
    "       tmp<12 hex digits of a hash of CNI_CONTAINERID/CNI_IFNAME>, the alias set\n"
    "       before it goes.\n"
    "DEL    IPAM DEL (also when CNI_NETNS is gone), then the interface goes back to the\n"
    "       host under its original name (an empty or vanished CNI_NETNS or a missing\n"
    "       link is success). A device left under its moving name by an ADD or DEL\n"
    "       killed half-way, in the host or in CNI_NETNS, is taken back too.\n"
    "CHECK  IPAM CHECK; MAC, addresses and routes of prevResult.\n"
    "STATUS, GC: passed to the IPAM plugin.\n";


// A device's name on a sysfs bus (a PCI address: 0000:04:00.5): letters,
// digits, ':', '.', '_', '-', not starting with '.'.
bool isDeviceName(const std::string& id) {
    if (id.empty() || id.size() > 64 || id[0] == '.') return false;
    for (char ch : id)
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != ':' && ch != '.' && ch != '_' && ch != '-')
            return false;
    return true;
}

}  // namespace

Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c) {
    const auto& d = a.config();
    if (auto e = cni::json::getString(d, "device", c.device)) return e;
    if (auto e = cni::json::getString(d, "hwaddr", c.hwaddr)) return e;
    if (auto e = cni::json::getString(d, "kernelpath", c.kernelpath)) return e;
    if (auto e = cni::json::getString(d, "pciBusID", c.pciBusID)) return e;
    if (const auto* v = a.runtimeConfig("deviceID"); v && v->IsString() && v->GetStringLength())
        c.pciBusID = v->GetString();
    if (!strict) return {};
    if (c.device.empty() && c.hwaddr.empty() && c.kernelpath.empty() && c.pciBusID.empty())
        return Error(cni::kInvalidNetConf, "specify either \"device\", \"hwaddr\", \"kernelpath\" or \"pciBusID\"");
    // An interface name as the kernel takes them (validateIfname's rules, code 7 here).
    if (!c.device.empty())
        if (Error e = cni::validateIfname(c.device))
            return Error(cni::kInvalidNetConf, "invalid device name in \"device\": " + e.msg);
    if (!c.kernelpath.empty() && c.kernelpath.rfind("/sys/devices/", 0) != 0)
        return Error(cni::kInvalidNetConf, "kernel device path \"" + c.kernelpath +
                                               "\" must be absolute and begin with /sys/devices/");
    if (util::hasDotDot(c.kernelpath))
        return Error(cni::kInvalidNetConf, "kernel device path \"" + c.kernelpath + "\" must not contain \"..\"");
    // pciBusID (or the runtime's deviceID) is joined onto /sys/bus/pci/devices/:
    // one name there, never a path.
    if (!c.pciBusID.empty() && !isDeviceName(c.pciBusID))
        return Error(cni::kInvalidNetConf, "invalid device ID \"" + c.pciBusID +
                                               "\" in pciBusID or runtimeConfig.deviceID: a PCI address such as "
                                               "0000:04:00.5");
    if (!c.hwaddr.empty()) {
        auto m = util::normalizeMac(c.hwaddr);
        if (!m) return Error(cni::kInvalidNetConf, "invalid MAC address \"" + c.hwaddr + "\" in hwaddr");
        c.hwaddr = *m;
    }
    return {};
}

namespace {

// The only interface name under <dir>/net (sysfs); several are an error.
Error netdevIn(const std::string& dir, std::string& out) {
    util::Dir d;
    if (util::Dir::open((dir + "/net").c_str(), d)) return Error(cni::kInternal, "failed to find a net device under " + dir);
    int n = 0;
    while (dirent* de = d.next())
        if (de->d_name[0] != '.' && n++ == 0) out = de->d_name;
    if (n == 0) return Error(cni::kInternal, "no net device under " + dir);
    if (n > 1) return Error(cni::kInternal, "more than one net device under " + dir);
    return {};
}

Error findDevice(nl::Socket& host, const Conf& c, nl::LinkInfo& out) {
    std::string name = c.device;
    if (name.empty() && c.hwaddr.empty()) {
        const std::string& dir = !c.kernelpath.empty() ? c.kernelpath : "/sys/bus/pci/devices/" + c.pciBusID;
        if (auto e = netdevIn(dir, name))
            return c.kernelpath.empty() ? Error(e.code, "failed to find device name for pci address " + c.pciBusID +
                                                            ": " + e.text())
                                        : e;
    }
    if (!name.empty()) {
        bool found = false;
        if (auto e = host.linkByName(name, out, found)) return e;
        if (!found) return Error(cni::kInternal, "failed to find host device: Link not found (\"" + name + "\")");
        return {};
    }
    std::vector<nl::LinkInfo> all;
    if (auto e = host.links(all)) return e;
    for (const auto& l : all)
        if (l.mac == c.hwaddr) {
            out = l;
            return {};
        }
    return Error(cni::kInternal, "failed to find host device: no device with hwaddr " + c.hwaddr);
}

// Container link `index` back to `host` under `name`, moving as `tmp`.
Error moveOut(nl::Socket& ctr, nl::Socket& host, const nl::Netns& hostNs, int index, const std::string& name,
              const std::string& tmp) {
    if (auto e = ctr.setDown(index)) return e;
    if (auto e = ctr.setName(index, tmp)) return e;
    if (auto e = ctr.setNetns(index, hostNs)) return e;
    nl::LinkInfo li;
    bool found = false;
    if (auto e = host.linkByName(tmp, li, found)) return e;
    if (!found) return Error(cni::kInternal, "device " + tmp + " did not arrive in the host namespace");
    if (auto e = host.setName(li.index, name))
        return Error(e.code, "failed to restore the device name \"" + name + "\": " + e.text());
    return {};
}

// The device is marked with its name (the alias, which moves with it, as
// upstream's in the container), moves under movingName() and is renamed in
// the container. It is not ours to delete: a failure moves it back (after
// the allocation's release).
Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    Conf c;
    if (auto e = parseConf(a, true, c)) return e;
    nl::Netns ns, hostNs;
    nl::Socket host, ctr;
    if (auto e = attach::openSandbox(a, ns, ctr)) return e;
    if (auto e = nl::Netns::current(hostNs)) return e;
    if (auto e = nl::Socket::open(host)) return e;
    nl::LinkInfo dev;
    if (auto e = findDevice(host, c, dev)) return e;
    bool exists = false;
    if (auto e = ctr.linkExists(a.ifname, exists)) return e;
    if (exists) return Error(cni::kInternal, "container interface name provided (" + a.ifname + ") already exists");

    std::string tmp = attach::movingName(a);
    if (auto e = host.setDown(dev.index)) return e;
    if (dev.alias != dev.name)
        if (auto e = host.setAlias(dev.index, dev.name)) return e;
    if (auto e = host.setName(dev.index, tmp)) return e;
    if (auto e = host.setNetns(dev.index, ns)) {
        (void)host.setName(dev.index, dev.name);
        return Error(e.code, "failed to move " + dev.name + " to the container: " + e.text());
    }
    util::Rollback undo;
    nl::LinkInfo link;
    bool found = false;
    if (auto e = ctr.linkByName(tmp, link, found)) return e;
    if (!found) return Error(cni::kInternal, "device " + dev.name + " did not arrive in the container");
    undo.defer([&ctr, &host, &hostNs, index = link.index, name = dev.name, tmp] {
        (void)moveOut(ctr, host, hostNs, index, name, tmp);
    });
    if (auto e = ctr.setName(link.index, a.ifname)) return e;
    link.name = a.ifname;
    if (auto e = attach::addSandboxLink(a, ns, ctr, link, out, undo)) return e;
    undo.dismiss();
    return {};
}

// The original name of a device of ours: its alias, else the configured
// device's name.
Error originalName(const nl::LinkInfo& link, const Conf& c, std::string& name) {
    name = !link.alias.empty() ? link.alias : c.device;
    if (name.empty()) return Error(cni::kInternal, "no original name known for " + link.name + " (no alias)");
    return {};
}

// The link CNI_IFNAME back to the host under its original name, without the
// addresses set in the container; an empty or vanished netns or a missing
// link is success. A device an ADD or a DEL killed half-way left under its
// moving name, in the host or in the container, is taken back too.
Error moveBack(const cni::CmdArgs& a, const Conf& c) {
    std::string tmp = attach::movingName(a), name;
    nl::Socket host;
    if (auto e = nl::Socket::open(host)) return e;
    nl::LinkInfo link;
    bool found = false;
    if (auto e = host.linkByName(tmp, link, found)) return e;
    if (found) {
        if (auto e = originalName(link, c, name)) return e;
        return host.setName(link.index, name);
    }
    if (a.netns.empty()) return {};
    nl::Netns ns, hostNs;
    bool gone = false;
    if (auto e = nl::Netns::open(a.netns, ns, &gone)) return gone ? Error() : e;
    if (auto e = nl::Netns::current(hostNs)) return e;
    nl::Socket ctr;
    if (auto e = nl::Socket::openIn(ns, ctr)) return e;
    if (auto e = ctr.linkByName(a.ifname, link, found)) return e;
    if (!found)
        if (auto e = ctr.linkByName(tmp, link, found)) return e;
    if (!found) return {};
    if (auto e = originalName(link, c, name)) return e;
    {
        // Addresses set in the container go with it.
        nl::NetnsGuard in(ns);
        std::vector<nl::AddrInfo> addrs;
        if (!in.error() && !ctr.addrs(link.index, 0, addrs))
            for (const auto& ad : addrs)
                if (!(ad.addr.ip.family == AF_INET6 && ad.scope == RT_SCOPE_LINK)) (void)ctr.delAddr(link.index, ad.addr);
    }
    if (auto e = moveOut(ctr, host, hostNs, link.index, name, tmp))
        return Error(e.code, "failed to move " + a.ifname + " back to the host: " + e.text());
    return {};
}

Error cmdDel(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, false, c)) return e;
    return attach::deleteLinkAndIpam(a, !a.conf.ipamType.empty(), attach::DelOrder::kIpamFirst,
                                     [&] { return moveBack(a, c); });
}

Error cmdCheck(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, true, c)) return e;
    return attach::checkSandboxLink(a, {.label = "host-device"});
}

// STATUS and GC as a sublink's.
constexpr char kName[] = "host-device";
constexpr cni::Plugin kPlugin = attach::sublink::Verbs<Conf, parseConf, kName>::plugin(cmdAdd, cmdDel, cmdCheck);

}  // namespace
}  // namespace applets::host_device

extern const cni::Applet host_device_applet;
const cni::Applet host_device_applet{
    .name = "host-device",
    .summary = "moves a host interface into the container",
    .help = applets::host_device::kHelp,
    .plugin = &applets::host_device::kPlugin,
};
