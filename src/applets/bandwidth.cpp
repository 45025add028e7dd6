// bandwidth: rate limits on the host end of the container's veth pair, tc's
// way (tbf for traffic to the container; an ifb device fed by a redirect
// filter for traffic from it). Its configuration: applets/bandwidth.h; the
// tc messages: src/netlink/tc.
#include "applets/bandwidth.h"

#include <linux/if_ether.h>

#include <cerrno>
#include <set>

#include "cni/applet.h"
#include "cni/gojson.h"
#include "cni/json.h"
#include "netfilter/netfilter.h"
#include "netlink/netlink.h"
#include "util/rollback.h"

namespace {

constexpr const char* kHelp =
    "Config keys (default), at the top level or in runtimeConfig.bandwidth (capability\n"
    "\"bandwidth\"); any of them at the top level leaves runtimeConfig.bandwidth unused:\n"
    "  ingressRate   0 (no limit)   traffic to the container, bits per second\n"
    "  ingressBurst  0              bits; set together with ingressRate\n"
    "  egressRate    0 (no limit)   traffic from the container, bits per second\n"
    "  egressBurst   0              bits; set together with egressRate\n"
    "A burst must stay below 4 GB (burst/8 < 2^32-1). Versions 0.3.0 and later.\n"
    "Chained after bridge or ptp: CNI_IFNAME must be one end of a veth pair whose\n"
    "other end is in this (the host) namespace and in prevResult's interfaces (no\n"
    "sandbox); any other link (macvlan, ipvlan, host-device, ...) is refused.\n"
    "\n"
    "Shaping, with upstream's numbers (latency 25 ms):\n"
    "  ingress  qdisc tbf 1: root on the host veth: rate R/8 bytes/s, burst B/8 bytes,\n"
    "           limit rate*25ms + burst\n"
    "  egress   ifb bwp<first 12 hex digits of sha512(network + containerID)>, up, the\n"
    "           host veth's MTU, alias \"cni-bandwidth net=<network> ifname=<CNI_IFNAME>\";\n"
    "           qdisc ingress ffff: on the host veth with a u32 filter (prio 1, protocol\n"
    "           all, match all, classid 1:1, action mirred egress redirect to the ifb);\n"
    "           qdisc tbf 1: root on the ifb\n"
    "\n"
    "Bad input is code 7 with nothing changed.\n"
    "ADD    all four zero or absent: prints prevResult unchanged (none needed). Else\n"
    "       needs prevResult; shapes as above and appends the ifb (name, mac) to the\n"
    "       result's interfaces. A repeated ADD of the attachment replaces what the\n"
    "       earlier one made (a down, unmarked ifb of its name too); egress shaping of\n"
    "       a second interface of a container on the same network is refused (code 7:\n"
    "       the ifb's name has room for one). A failed ADD removes what it made.\n"
    "DEL    removes the tbf and ingress qdiscs from the host veth (when prevResult and\n"
    "       CNI_NETNS still lead to it), then the ifb unless it is marked as another\n"
    "       interface's or network's; anything already gone is success. The keys are\n"
    "       not read.\n"
    "CHECK  the tbf (rate, limit, buffer) on the host veth and on the ifb, the ingress\n"
    "       qdisc and the filter redirecting to the ifb, as configured.\n"
    "GC     (cnibox extension; upstream's bandwidth has no GC) removes the ifbs marked as\n"
    "       this network's whose container is not in cni.dev/valid-attachments, and\n"
    "       unmarked ifbs named bwp<12 hex digits> that are down (what an ADD killed\n"
    "       between creating and marking its ifb leaves; ADD sets it up after marking\n"
    "       it); other unmarked ifbs and other networks' stay.\n"
    "STATUS always ready.\n";

}  // namespace

// ---- configuration

namespace applets::bandwidth {

using cni::Error;
using cni::gojson::quote;
namespace json = cni::json;

namespace {

constexpr std::string_view kKeys[] = {"ingressRate", "ingressBurst", "egressRate", "egressBurst"};

Error invalid(std::string msg) { return Error(cni::kInvalidNetConf, std::move(msg)); }

bool sameKey(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); i++) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// The four keys of `obj`; `where` prefixes key names in errors.
Error readEntry(const json::Value& obj, std::string_view where, Entry& e) {
    uint64_t* fields[] = {&e.ingressRate, &e.ingressBurst, &e.egressRate, &e.egressBurst};
    for (size_t i = 0; i < 4; i++) {
        const json::Value* v = json::get(obj, kKeys[i]);
        if (!v) continue;
        if (!v->IsUint64()) {
            std::string got = v->IsNumber() ? json::stringify(*v) : json::typeName(*v);
            return invalid("invalid value for " + quote(std::string(where) + std::string(kKeys[i])) +
                           ": expected an unsigned integer, got " + got);
        }
        *fields[i] = v->GetUint64();
    }
    return {};
}

Error validate(uint64_t rate, uint64_t burst, std::string_view dir) {
    std::string which = " (" + std::string(dir) + "Rate " + std::to_string(rate) + ", " + std::string(dir) +
                        "Burst " + std::to_string(burst) + ")";
    if (burst == 0 && rate != 0) return invalid("if rate is set, burst must also be set" + which);
    if (rate == 0 && burst != 0) return invalid("if burst is set, rate must also be set" + which);
    if (burst / 8 >= 0xffffffffULL) return invalid("burst cannot be more than 4GB" + which);
    return {};
}

std::string netMark(std::string_view network) {
    if (network.size() <= 200) return std::string(network);
    return "sha512:" + nf::sha512Hex(network).substr(0, 32);
}

}  // namespace

Error parseConf(const cni::CmdArgs& a, Entry& out) {
    const json::Value& d = a.config();
    Entry top, runtime;
    bool atTop = false;
    for (const auto& m : d.GetObject())
        for (std::string_view k : kKeys)
            if (sameKey(std::string_view(m.name.GetString(), m.name.GetStringLength()), k)) atTop = true;
    if (auto e = readEntry(d, "", top)) return e;
    bool inRuntime = false;
    if (const json::Value* rc = a.member("runtimeConfig")) {
        if (!rc->IsObject()) return invalid("runtimeConfig must be an object");
        if (const json::Value* bw = json::get(*rc, "bandwidth")) {
            if (!bw->IsObject()) return invalid("runtimeConfig.bandwidth must be an object");
            if (auto e = readEntry(*bw, "runtimeConfig.bandwidth.", runtime)) return e;
            inRuntime = true;
        }
    }
    out = atTop ? top : inRuntime ? runtime : Entry{};
    if (auto e = validate(out.ingressRate, out.ingressBurst, "ingress")) return e;
    return validate(out.egressRate, out.egressBurst, "egress");
}

std::string ifbName(std::string_view network, std::string_view containerID) {
    return "bwp" + nf::sha512Hex(std::string(network) + std::string(containerID)).substr(0, 12);
}

std::string ifbAliasPrefix(std::string_view network) { return "cni-bandwidth net=" + netMark(network) + " ifname="; }

std::string ifbAlias(std::string_view network, std::string_view ifname) {
    return ifbAliasPrefix(network) + std::string(ifname);
}

// An ifb an ADD was killed with between creating it and marking it (the
// kernel takes no alias in the request that creates a link, and ADD sets
// the link up only after marking it): of kind ifb, named as bandwidth names
// them, without an alias, and down.
bool unmarkedLeftover(const nl::LinkInfo& l) {
    if (l.kind != "ifb" || !l.alias.empty() || l.up || l.name.size() != 15 || !l.name.starts_with("bwp")) return false;
    return l.name.find_first_not_of("0123456789abcdef", 3) == std::string::npos;
}

nl::tc::Tbf tbfFor(uint64_t rateBits, uint64_t burstBits, double tick) {
    return nl::tc::tbfParams(rateBits / 8, uint32_t(burstBits / 8), kLatencyMs, tick);
}

}  // namespace applets::bandwidth

// ---- ADD, DEL, CHECK, GC

namespace {

using cni::Error;
using cni::gojson::quote;
using namespace applets::bandwidth;
namespace tc = nl::tc;

constexpr uint32_t kTbfHandle = tc::handle(1, 0);

// The host end of CNI_IFNAME's veth pair, as upstream finds it: the peer of
// the container's link (in CNI_NETNS), here, and named in prevResult's
// interfaces without a sandbox. `host` is a socket of this namespace.
Error hostVeth(const cni::CmdArgs& a, nl::Socket& host, nl::LinkInfo& out) {
    if (!a.conf.prevResult) return invalid("must be called as chained plugin (no prevResult)");
    const cni::Result& prev = *a.conf.prevResult;
    if (prev.interfaces.empty()) return invalid("no interfaces provided in prevResult");
    std::string noPeer = "container interface " + a.ifname + " has no veth peer";
    nl::Netns ns;
    nl::Socket in;
    if (auto e = nl::Netns::open(a.netns, ns)) return e;
    if (auto e = nl::Socket::openIn(ns, in)) return e;
    nl::LinkInfo c;
    bool found = false;
    if (auto e = in.linkByName(a.ifname, c, found)) return e;
    if (!found) return Error(cni::kInternal, noPeer + ": no link " + a.ifname + " in " + quote(a.netns));
    if (c.kind != "veth")
        return invalid(noPeer + ": it is " + (c.kind.empty() ? "a device of no link kind" : "a " + c.kind + " link") +
                       "; bandwidth shapes the host end of a veth pair (chain it after bridge or ptp)");
    if (c.linkNetnsId < 0 || !c.peerIndex) return invalid(noPeer + " in another namespace");
    std::string notHere = "veth peer with index " + std::to_string(c.peerIndex) + " is not in host ns";
    if (auto e = host.linkByIndex(c.peerIndex, out, found)) return e;
    if (!found || out.kind != "veth" || out.peerIndex != c.index || out.linkNetnsId < 0) return invalid(notHere);
    for (const cni::Interface& i : prev.interfaces)
        if (i.sandbox.empty() && i.name == out.name) return {};
    return invalid("no veth peer of container interface found in host ns (prevResult has no host interface " +
                   quote(out.name) + ")");
}

// Removes the tbf root and the ingress qdisc from the host veth (what an
// ADD made there); none there is fine.
Error clearVeth(nl::Socket& host, int index) {
    std::vector<tc::Qdisc> qs;
    if (auto e = tc::qdiscs(host, index, qs)) return e.errnum == ENODEV ? Error() : e;
    bool found = false;
    for (const tc::Qdisc& q : qs) {
        if (q.parent == tc::kRoot && q.kind == "tbf" && q.handle == kTbfHandle)
            if (auto e = tc::deleteQdisc(host, index, q.handle, q.parent, &found)) return e;
        if (q.parent == tc::kIngressParent && q.kind == "ingress")
            if (auto e = tc::deleteQdisc(host, index, q.handle, q.parent, &found)) return e;
    }
    return {};
}

// ADD's look at an IFB of this name that is there already: `reuse` when
// an earlier ADD of this attachment made it, else an error when egress
// shaping needs the name.
Error existingIfb(const cni::CmdArgs& a, const nl::LinkInfo& li, bool egress, bool& reuse) {
    reuse = (li.kind == "ifb" && li.alias == ifbAlias(a.conf.name, a.ifname)) || unmarkedLeftover(li);
    if (reuse || !egress) return {};
    std::string prefix = ifbAliasPrefix(a.conf.name);
    if (li.kind == "ifb" && li.alias.starts_with(prefix))
        return invalid("interface " + a.ifname + " cannot be shaped: " + li.alias.substr(prefix.size()) +
                       " of container " + a.containerID + " on network " + quote(a.conf.name) +
                       " is shaped already through " + li.name +
                       " (the ifb is named after network and container, as upstream's, so one interface "
                       "per container and network can have egress limits)");
    return Error(cni::kInternal, "failed to create ifb " + li.name + ": a link of that name exists and is not this "
                                 "attachment's (" + (li.alias.empty() ? "kind " + quote(li.kind) + ", no alias"
                                                                      : "alias " + quote(li.alias)) + ")")
        .withErrno(EEXIST);
}

Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    Entry bw;
    if (auto e = parseConf(a, bw)) return e;
    if (bw.zero()) {
        if (a.conf.prevResult) out = *a.conf.prevResult;
        return {};
    }
    nl::Socket host;
    nl::LinkInfo veth;
    double tick = 0;
    if (auto e = nl::Socket::open(host)) return e;
    if (auto e = hostVeth(a, host, veth)) return e;
    if (auto e = tc::tickInUsec(tick)) return e;
    out = *a.conf.prevResult;

    // What an earlier ADD of this attachment made goes first.
    std::string ifb = ifbName(a.conf.name, a.containerID);
    nl::LinkInfo old;
    bool found = false, reuse = false;
    if (auto e = host.linkByName(ifb, old, found)) return e;
    if (found)
        if (auto e = existingIfb(a, old, bw.egress(), reuse)) return e;
    if (auto e = clearVeth(host, veth.index)) return e;
    if (reuse)
        if (auto e = host.deleteLinkByName(ifb)) return e;

    util::Rollback undo;
    if (bw.ingress()) {
        if (auto e = tc::addTbf(host, veth.index, kTbfHandle, tc::kRoot, tbfFor(bw.ingressRate, bw.ingressBurst, tick)))
            return e;
        undo.defer([&] { (void)tc::deleteQdisc(host, veth.index, kTbfHandle, tc::kRoot); });
    }
    if (bw.egress()) {
        nl::SubLinkSpec s;
        s.kind = "ifb";
        s.name = ifb;
        s.mtu = veth.mtu;
        s.txqlen = 0;   // as upstream
        if (auto e = host.addSubLink(s)) return e;
        undo.defer([&] { (void)host.deleteLinkByName(ifb); });
        nl::LinkInfo li;
        if (auto e = host.linkByName(ifb, li, found)) return e;
        if (!found) return Error(cni::kInternal, "ifb " + ifb + " vanished after its creation");
        // The kernel takes no alias when it creates a link.
        if (auto e = host.setAlias(li.index, ifbAlias(a.conf.name, a.ifname))) return e;
        if (auto e = host.setUp(li.index)) return e;
        out.interfaces.push_back({.name = ifb, .mac = li.mac});
        if (auto e = tc::addIngress(host, veth.index)) return e;
        undo.defer([&] { (void)tc::deleteQdisc(host, veth.index, tc::kIngressHandle, tc::kIngressParent); });
        tc::Redirect rd;
        rd.protocol = ETH_P_ALL;
        rd.classid = tc::handle(1, 1);
        rd.target = li.index;
        if (auto e = tc::addRedirect(host, veth.index, rd)) return e;
        if (auto e = tc::addTbf(host, li.index, kTbfHandle, tc::kRoot, tbfFor(bw.egressRate, bw.egressBurst, tick)))
            return e;
    }
    undo.dismiss();
    return {};
}

// The qdiscs on the host veth when prevResult and the netns lead to it,
// then the IFB unless another attachment's mark is on it.
Error cmdDel(const cni::CmdArgs& a) {
    nl::Socket host;
    if (auto e = nl::Socket::open(host)) return e;
    nl::LinkInfo veth;
    if (!a.netns.empty() && !hostVeth(a, host, veth))
        if (auto e = clearVeth(host, veth.index)) return e;
    nl::LinkInfo li;
    bool found = false;
    if (auto e = host.linkByName(ifbName(a.conf.name, a.containerID), li, found)) return e;
    if (!found || li.kind != "ifb" || (!li.alias.empty() && li.alias != ifbAlias(a.conf.name, a.ifname))) return {};
    return host.deleteLinkByName(li.name);
}

// `want` is the root qdisc among `qs` (of link `dev`).
Error checkTbf(const std::vector<tc::Qdisc>& qs, const std::string& dev, const tc::Tbf& want) {
    for (const tc::Qdisc& q : qs) {
        if (q.parent != tc::kRoot) continue;
        if (q.kind != "tbf" || q.handle != kTbfHandle || !q.tbf)
            return Error(cni::kInternal, "the root qdisc of " + dev + " is " + q.kind + " " + tc::handleStr(q.handle) +
                                             ", not tbf 1:");
        auto mismatch = [&](const char* what, uint64_t have, uint64_t w) {
            return Error(cni::kInternal, std::string(what) + " doesn't match: tbf on " + dev + " has " +
                                             std::to_string(have) + ", configured " + std::to_string(w));
        };
        if (q.tbf->rate != want.rate) return mismatch("Rate", q.tbf->rate, want.rate);
        if (q.tbf->limit != want.limit) return mismatch("Limit", q.tbf->limit, want.limit);
        if (q.tbf->buffer != want.buffer) return mismatch("Buffer", q.tbf->buffer, want.buffer);
        return {};
    }
    return Error(cni::kInternal, "Failed to find qdisc: no root qdisc on " + dev);
}

Error cmdCheck(const cni::CmdArgs& a) {
    Entry bw;
    if (auto e = parseConf(a, bw)) return e;
    nl::Socket host;
    nl::LinkInfo veth;
    if (auto e = nl::Socket::open(host)) return e;
    if (auto e = hostVeth(a, host, veth)) return e;
    if (bw.zero()) return {};
    double tick = 0;
    if (auto e = tc::tickInUsec(tick)) return e;
    std::vector<tc::Qdisc> qs;
    if (auto e = tc::qdiscs(host, veth.index, qs)) return e;
    if (bw.ingress())
        if (auto e = checkTbf(qs, veth.name, tbfFor(bw.ingressRate, bw.ingressBurst, tick))) return e;
    if (!bw.egress()) return {};

    std::string ifb = ifbName(a.conf.name, a.containerID);
    nl::LinkInfo li;
    bool found = false;
    if (auto e = host.linkByName(ifb, li, found)) return e;
    if (!found || li.kind != "ifb") return Error(cni::kInternal, "get ifb device: no ifb " + ifb);
    std::vector<tc::Qdisc> ifbQs;
    if (auto e = tc::qdiscs(host, li.index, ifbQs)) return e;
    if (auto e = checkTbf(ifbQs, ifb, tbfFor(bw.egressRate, bw.egressBurst, tick))) return e;
    bool ingress = false;
    for (const tc::Qdisc& q : qs) ingress = ingress || (q.kind == "ingress" && q.handle == tc::kIngressHandle);
    if (!ingress) return Error(cni::kInternal, "no ingress qdisc on " + veth.name);
    std::vector<tc::Filter> fs;
    if (auto e = tc::filters(host, veth.index, tc::kIngressHandle, fs)) return e;
    for (const tc::Filter& f : fs)
        if (f.matchAll && f.redirectsTo(li.index)) return {};
    return Error(cni::kInternal, "no filter on " + veth.name + " redirecting its ingress to " + ifb);
}

Error cmdGC(const cni::CmdArgs& a) {
    if (!a.conf.hasValidAttachments) return {};
    std::set<std::string> keep;
    for (const cni::Attachment& at : a.conf.validAttachments) keep.insert(ifbName(a.conf.name, at.containerID));
    nl::Socket host;
    if (auto e = nl::Socket::open(host)) return e;
    std::vector<nl::LinkInfo> links;
    if (auto e = host.links(links)) return e;
    std::string prefix = ifbAliasPrefix(a.conf.name);
    Error err;  // the first failure; the others are still removed
    for (const nl::LinkInfo& l : links)
        if (((l.kind == "ifb" && l.alias.starts_with(prefix)) || unmarkedLeftover(l)) && !keep.count(l.name))
            if (auto e = host.deleteLinkByName(l.name); e && !err) err = e;
    return err;
}

const cni::Plugin kPlugin{
    .versions = cni::VersionSet::from(cni::Ver::v030),
    .add = cmdAdd,
    .del = cmdDel,
    .check = cmdCheck,
    .gc = cmdGC,
};

}  // namespace

extern const cni::Applet bandwidth_applet;
const cni::Applet bandwidth_applet{
    .name = "bandwidth",
    .summary = "traffic shaping of the host-side veth (tbf, ifb)",
    .help = kHelp,
    .plugin = &kPlugin,
};
