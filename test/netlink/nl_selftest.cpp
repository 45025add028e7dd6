// Root-only check of src/netlink against the real kernel.
//
//   ip netns exec <A> nl_selftest /run/netns/<B>
//
// Runs in namespace A (made by the caller) and uses B as the "other"
// namespace; configures nothing else. Prints one line per failed check and
// a summary; exit 0 when everything passed. test/netns/test_netlink_layer.py
// makes the namespaces and runs it.
#include <fcntl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "netlink/netlink.h"
#include "netlink/tc.h"
#include "util/mac.h"

namespace {

int g_checks = 0, g_failed = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        g_checks++;                                                                  \
        if (!(cond)) {                                                               \
            g_failed++;                                                              \
            std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);              \
        }                                                                            \
    } while (0)

// An Error must be success; prints it otherwise.
#define OK(expr)                                                                     \
    do {                                                                             \
        g_checks++;                                                                  \
        util::Error e_ = (expr);                                                      \
        if (e_) {                                                                    \
            g_failed++;                                                              \
            std::printf("FAIL %s:%d: %s -> %s\n", __FILE__, __LINE__, #expr,         \
                        e_.text().c_str());                                          \
        }                                                                            \
    } while (0)

// Stops the run: later checks depend on this one.
#define REQUIRE(cond)                                                                \
    do {                                                                             \
        if (!(cond)) {                                                               \
            std::printf("FATAL %s:%d: %s\n", __FILE__, __LINE__, #cond);             \
            std::exit(2);                                                            \
        }                                                                            \
    } while (0)

util::IPNet net(const char* s) { return *util::IPNet::parse(s); }
util::IP ip(const char* s) { return *util::IP::parse(s); }

std::string readFile(const std::string& p) {
    std::string s;
    int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "<missing>";
    char buf[512];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, size_t(n));
    close(fd);
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
}

// Output of a shell command run in the current namespace (tests may use ip/bridge).
std::string run(const std::string& cmd) {
    std::string out;
    FILE* f = popen(cmd.c_str(), "r");
    if (!f) return out;
    char buf[512];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    pclose(f);
    return out;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

nl::LinkInfo link(nl::Socket& s, const std::string& name) {
    nl::LinkInfo li;
    bool found = false;
    util::Error e = s.linkByName(name, li, found);
    if (e || !found) li.index = 0;
    return li;
}

bool hasAddr(const std::vector<nl::AddrInfo>& v, const char* cidr) {
    return std::any_of(v.begin(), v.end(), [&](const nl::AddrInfo& a) { return a.addr.str() == cidr; });
}

const nl::Socket::RouteInfo* findRoute(const std::vector<nl::Socket::RouteInfo>& v, const char* dst) {
    for (auto& r : v)
        if (r.dst.str() == dst) return &r;
    return nullptr;
}

double msSince(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

// ------------------------------------------------------------------ tests

void testNetnsOpen() {
    nl::Netns ns;
    bool notExist = false;
    char tmpl[] = "/tmp/nl_selftest.XXXXXX";
    int fd = mkstemp(tmpl);
    REQUIRE(fd >= 0);
    close(fd);
    util::Error e = nl::Netns::open(tmpl, ns, &notExist);
    CHECK(e.code == util::kInvalidNetNS);
    CHECK(!notExist);
    CHECK(contains(e.msg, "is not a valid network namespace"));
    CHECK(!ns.valid());
    unlink(tmpl);

    e = nl::Netns::open("/run/netns/does-not-exist-nl-selftest", ns, &notExist);
    CHECK(e.code == util::kInvalidNetNS);
    CHECK(notExist);
    CHECK(contains(e.msg, "failed to open netns \"/run/netns/does-not-exist-nl-selftest\""));
    CHECK(contains(e.msg, "No such file or directory"));
    CHECK(e.errnum == ENOENT);

    // nsfs, but a mount namespace.
    e = nl::Netns::open("/proc/self/ns/mnt", ns, &notExist);
    CHECK(e.code == util::kInvalidNetNS);
    CHECK(!notExist);
}

void testGuard(const nl::Netns& other) {
    nl::Netns here, now;
    OK(nl::Netns::current(here));
    CHECK(!here.sameAs(other));
    {
        nl::NetnsGuard g(other);
        OK(g.error());
        OK(nl::Netns::current(now));
        CHECK(now.sameAs(other));
        // Nested guard returns to `other`, not to the outer namespace.
        {
            nl::NetnsGuard g2(here);
            OK(g2.error());
            nl::Netns inner;
            OK(nl::Netns::current(inner));
            CHECK(inner.sameAs(here));
        }
        OK(nl::Netns::current(now));
        CHECK(now.sameAs(other));
    }
    OK(nl::Netns::current(now));
    CHECK(now.sameAs(here));

    nl::Netns closed;
    nl::NetnsGuard bad(closed);
    CHECK(bad.error().code != 0);
    OK(nl::Netns::current(now));
    CHECK(now.sameAs(here));

    // Moves keep the fd.
    nl::Netns moved = std::move(now);
    CHECK(moved.valid() && !now.valid());
    CHECK(moved.sameAs(here));
}

void testRandom() {
    std::string a = nl::randomVethName(), b = nl::randomVethName();
    CHECK(a.size() == 12 && a.rfind("veth", 0) == 0);
    CHECK(a.find_first_not_of("0123456789abcdef", 4) == std::string::npos);
    CHECK(a != b);
    std::string m = util::Mac::random().str();
    CHECK(m.size() == 17);
    unsigned first = unsigned(std::stoul(m.substr(0, 2), nullptr, 16));
    CHECK((first & 1) == 0);   // unicast
    CHECK((first & 2) == 2);   // locally administered
}

void testVeth(nl::Socket& sa, nl::Socket& sb, const nl::Netns& nsB) {
    std::string host = nl::randomVethName();
    nl::VethSpec v;
    v.name = host;
    v.peerName = "eth0";
    v.peerNs = &nsB;
    v.mtu = 1400;
    v.mac = "02:11:22:33:44:55";
    v.peerMac = "02:66:77:88:99:aa";
    bool taken = true;
    OK(sa.addVeth(v, &taken));
    CHECK(!taken);

    nl::LinkInfo h = link(sa, host), c = link(sb, "eth0");
    REQUIRE(h.index && c.index);
    CHECK(h.kind == "veth" && c.kind == "veth");
    CHECK(h.mtu == 1400 && c.mtu == 1400);
    CHECK(h.mac == "02:11:22:33:44:55");
    CHECK(c.mac == "02:66:77:88:99:aa");
    CHECK(h.peerIndex == c.index);
    CHECK(c.peerIndex == h.index);
    CHECK(h.linkNetnsId >= 0);   // the peer lives in another namespace
    CHECK(link(sa, "eth0").index == 0);   // not created here
    CHECK(link(sb, host).index == 0);

    // Same host name again: nameTaken.
    nl::VethSpec dup = v;
    dup.peerName = "eth1";
    util::Error e = sa.addVeth(dup, &taken);
    CHECK(e.code == util::kInternal);
    CHECK(taken);
    CHECK(e.errnum == EEXIST);
    std::printf("info: duplicate veth name -> %s\n", e.msg.c_str());
    CHECK(link(sb, "eth1").index == 0);

    // New host name, taken peer name: not nameTaken, still EEXIST.
    dup.name = nl::randomVethName();
    dup.peerName = "eth0";
    e = sa.addVeth(dup, &taken);
    CHECK(e && !taken && e.errnum == EEXIST);
    std::printf("info: duplicate peer name -> %s\n", e.msg.c_str());
    CHECK(link(sa, dup.name).index == 0);

    // Random MACs when none given; same-namespace pair.
    nl::VethSpec local;
    local.name = "vl0";
    local.peerName = "vl1";
    OK(sa.addVeth(local));
    nl::LinkInfo l0 = link(sa, "vl0"), l1 = link(sa, "vl1");
    CHECK(l0.index && l1.index && l0.peerIndex == l1.index && l0.linkNetnsId == -1);
    CHECK(l0.mac.size() == 17 && l0.mac != l1.mac);
    bool found = false;
    OK(sa.deleteLinkByName("vl0", &found));
    CHECK(found);
    CHECK(link(sa, "vl1").index == 0);   // the pair goes together
    OK(sa.deleteLinkByName("vl0", &found));
    CHECK(!found);

    // Invalid names are refused before the kernel sees them.
    nl::VethSpec bad;
    bad.name = "a-name-much-too-long";
    bad.peerName = "x";
    CHECK(sa.addVeth(bad).code != 0);
}

void testLinkAttrs(nl::Socket& sa) {
    nl::VethSpec v;
    v.name = "la0";
    v.peerName = "la1";
    OK(sa.addVeth(v));
    int idx = link(sa, "la0").index;
    REQUIRE(idx);

    OK(sa.setUp(idx));
    CHECK(link(sa, "la0").up);
    OK(sa.setDown(idx));
    CHECK(!link(sa, "la0").up);

    OK(sa.setMtu(idx, 1280));
    CHECK(link(sa, "la0").mtu == 1280);
    util::Error e = sa.setMtu(idx, 10);
    CHECK(e && contains(e.msg, "failed to set MTU of la0 to 10"));
    std::printf("info: bad mtu -> %s\n", e.msg.c_str());

    std::string mac = util::Mac::random().str();
    OK(sa.setMac(idx, mac));
    CHECK(link(sa, "la0").mac == mac);
    CHECK(sa.setMac(idx, "zz:11").code == util::kInvalidNetConf);

    OK(sa.setPromisc(idx, true));
    CHECK(link(sa, "la0").promisc);
    OK(sa.setPromisc(idx, false));
    CHECK(!link(sa, "la0").promisc);

    OK(sa.setAlias(idx, "selftest alias"));
    CHECK(link(sa, "la0").alias == "selftest alias");

    OK(sa.setName(idx, "renamed0"));
    CHECK(link(sa, "la0").index == 0);
    nl::LinkInfo r = link(sa, "renamed0");
    CHECK(r.index == idx);

    nl::LinkInfo byIdx;
    bool found = false;
    OK(sa.linkByIndex(idx, byIdx, found));
    CHECK(found && byIdx.name == "renamed0");
    bool exists = true;
    OK(sa.linkExists("nope0", exists));
    CHECK(!exists);
    OK(sa.linkByIndex(999999, byIdx, found));
    CHECK(!found);

    std::vector<nl::LinkInfo> all;
    OK(sa.links(all));
    CHECK(std::any_of(all.begin(), all.end(), [](auto& l) { return l.name == "renamed0"; }));
    CHECK(std::any_of(all.begin(), all.end(), [](auto& l) { return l.name == "lo"; }));

    OK(sa.deleteLink(idx));
    CHECK(link(sa, "renamed0").index == 0);
    e = sa.deleteLink(idx);
    CHECK(e && e.errnum == ENODEV);
    std::printf("info: delete missing link -> %s\n", e.msg.c_str());
}

// vrf: the probe creates nothing and agrees with a real creation; where the
// kernel has vrf, the link's table reads back and a port joins it.
void testVrf(nl::Socket& sa) {
    std::vector<nl::LinkInfo> before, after;
    OK(sa.links(before));
    bool supported = false;
    OK(sa.vrfSupported(supported));
    OK(sa.links(after));
    CHECK(after.size() == before.size());
    nl::SubLinkSpec s;
    s.kind = "vrf";
    s.name = "vrft0";
    s.vrfTable = 1234;
    util::Error e = sa.addSubLink(s);
    if (!supported) {
        CHECK(e && contains(e.msg, "Unknown device type (the kernel has no vrf support)"));
        std::printf("skip: no vrf in this kernel (%s)\n", e.msg.c_str());
        return;
    }
    OK(e);
    nl::LinkInfo l = link(sa, "vrft0");
    CHECK(l.kind == "vrf" && l.vrfTable == 1234);
    nl::VethSpec v;
    v.name = "vrfp0";
    v.peerName = "vrfp1";
    OK(sa.addVeth(v));
    OK(sa.setMaster(link(sa, "vrfp0").index, l.index));
    CHECK(link(sa, "vrfp0").master == l.index);
    OK(sa.deleteLinkByName("vrfp0"));
    OK(sa.deleteLinkByName("vrft0"));
}

void testIfb(nl::Socket& sa) {
    nl::SubLinkSpec s;
    s.kind = "ifb";
    s.name = "bwpt0";
    s.mtu = 1400;
    OK(sa.addSubLink(s));
    // The kernel takes no alias at creation (IFLA_IFALIAS is a change only).
    const std::string alias = "cnibox-bandwidth net1 ctr1";
    OK(sa.setAlias(link(sa, "bwpt0").index, alias));
    nl::LinkInfo l = link(sa, "bwpt0");
    CHECK(l.kind == "ifb" && l.mtu == 1400 && l.alias == alias);
    bool taken = false;
    CHECK(sa.addSubLink(s, &taken));
    CHECK(taken);
    bool found = false;
    OK(sa.deleteLinkByName("bwpt0", &found));
    CHECK(found);
}

// Traffic control: tbf and ingress qdiscs, a u32 redirect filter, read
// back and compared with what `tc` shows, then deleted.
void testTc(nl::Socket& sa) {
    namespace tc = nl::tc;
    nl::VethSpec v;
    v.name = "tcv0";
    v.peerName = "tcv1";
    OK(sa.addVeth(v));
    nl::SubLinkSpec s;
    s.kind = "ifb";
    s.name = "tcifb0";
    OK(sa.addSubLink(s));
    int veth = link(sa, "tcv0").index, ifb = link(sa, "tcifb0").index;
    REQUIRE(veth && ifb);

    double tick = 0;
    OK(tc::tickInUsec(tick));
    CHECK(tick > 0);
    const tc::Tbf t = tc::tbfParams(1000000, 10000, 25, tick);
    OK(tc::addTbf(sa, veth, tc::handle(1, 0), tc::kRoot, t));
    CHECK(tc::addTbf(sa, veth, tc::handle(1, 0), tc::kRoot, t).errnum == EEXIST);
    // past 2^32 bytes/s: TCA_TBF_RATE64
    const tc::Tbf big{uint64_t(1) << 33, 123456, 654321};
    OK(tc::addTbf(sa, ifb, tc::handle(1, 0), tc::kRoot, big));
    OK(tc::addIngress(sa, veth));
    tc::Redirect rd;
    rd.protocol = 3;   // ETH_P_ALL
    rd.classid = tc::handle(1, 1);
    rd.target = ifb;
    OK(tc::addRedirect(sa, veth, rd));

    std::vector<tc::Qdisc> qs;
    OK(tc::qdiscs(sa, veth, qs));
    const tc::Qdisc* root = nullptr;
    const tc::Qdisc* ingress = nullptr;
    for (const auto& q : qs) {
        if (q.parent == tc::kRoot) root = &q;
        if (q.parent == tc::kIngressParent) ingress = &q;
    }
    CHECK(root && root->kind == "tbf" && root->handle == tc::handle(1, 0) && root->tbf && *root->tbf == t);
    CHECK(ingress && ingress->kind == "ingress" && ingress->handle == tc::kIngressHandle && !ingress->tbf);
    qs.clear();
    OK(tc::qdiscs(sa, ifb, qs));
    CHECK(qs.size() == 1 && qs[0].tbf && *qs[0].tbf == big);
    std::vector<tc::Filter> fs;
    OK(tc::filters(sa, veth, tc::kIngressHandle, fs));
    CHECK(fs.size() == 1);
    if (fs.size() == 1) {
        const tc::Filter& f = fs[0];
        CHECK(f.kind == "u32" && f.prio == 1 && f.protocol == 3 && f.classid == tc::handle(1, 1) && f.matchAll);
        CHECK(f.actions.size() == 1 && f.redirectsTo(ifb) && !f.redirectsTo(veth));
    }
    std::string shown = run("tc -raw qdisc show dev tcv0; tc qdisc show dev tcifb0; tc filter show dev tcv0 parent ffff:");
    char want[160];
    std::snprintf(want, sizeof want, "qdisc tbf 1:[00010000] root refcnt 3 rate 8Mbit burst 10000b [%08x] lat 25ms",
                  t.buffer);
    CHECK(contains(shown, want));
    CHECK(contains(shown, "qdisc ingress ffff:[ffff0000] parent ffff:fff1"));
    CHECK(contains(shown, "qdisc tbf 1: root refcnt 2 rate 68719Mbit"));
    CHECK(contains(shown, "filter protocol all pref 1 u32 chain 0 fh 800::800"));
    CHECK(contains(shown, "*flowid 1:1"));
    CHECK(contains(shown, "match 00000000/00000000 at 0"));
    CHECK(contains(shown, "action order 1: mirred (Egress Redirect to device tcifb0) stolen"));
    CHECK(!contains(shown, "action order 2"));
    if (!contains(shown, want)) std::printf("tc shows:\n%s\n", shown.c_str());

    bool found = false;
    OK(tc::deleteQdisc(sa, veth, tc::kIngressHandle, tc::kIngressParent, &found));
    CHECK(found);
    fs.clear();
    OK(tc::filters(sa, veth, tc::kIngressHandle, fs));
    CHECK(fs.empty());
    OK(tc::deleteQdisc(sa, veth, tc::handle(1, 0), tc::kRoot, &found));
    CHECK(found);
    qs.clear();
    OK(tc::qdiscs(sa, veth, qs));
    CHECK(std::none_of(qs.begin(), qs.end(), [](const tc::Qdisc& q) { return q.kind == "tbf" || q.kind == "ingress"; }));
    OK(tc::deleteQdisc(sa, veth, tc::kIngressHandle, tc::kIngressParent, &found));
    CHECK(!found);
    CHECK(tc::deleteQdisc(sa, veth, tc::kIngressHandle, tc::kIngressParent));
    // the link gone
    OK(sa.deleteLinkByName("tcifb0"));
    OK(tc::deleteQdisc(sa, ifb, tc::handle(1, 0), tc::kRoot, &found));
    CHECK(!found);
    qs.clear();
    OK(tc::qdiscs(sa, ifb, qs));
    CHECK(qs.empty());
    OK(sa.deleteLinkByName("tcv0"));
}

void testBridge(nl::Socket& sa) {
    bool created = false;
    OK(sa.addBridge("brt0", 1400, created));
    CHECK(created);
    OK(sa.addBridge("brt0", 1400, created));
    CHECK(!created);
    nl::LinkInfo br = link(sa, "brt0");
    REQUIRE(br.index);
    CHECK(br.kind == "bridge" && br.mtu == 1400);

    nl::VethSpec v;
    v.name = "bp0";
    v.peerName = "bp1";
    OK(sa.addVeth(v));
    int port = link(sa, "bp0").index;
    REQUIRE(port);
    util::Error e = sa.addBridge("bp0", 0, created);
    CHECK(e && contains(e.msg, "not a bridge"));

    OK(sa.setMaster(port, br.index));
    CHECK(link(sa, "bp0").master == br.index);

    OK(sa.setHairpin(port, true));
    CHECK(readFile("/sys/class/net/bp0/brport/hairpin_mode") == "1");
    OK(sa.setPortIsolated(port, true));
    CHECK(readFile("/sys/class/net/bp0/brport/isolated") == "1");
    OK(sa.setHairpin(port, false));
    CHECK(readFile("/sys/class/net/bp0/brport/hairpin_mode") == "0");
    CHECK(readFile("/sys/class/net/bp0/brport/isolated") == "1");
    OK(sa.setPortIsolated(port, false));
    CHECK(readFile("/sys/class/net/bp0/brport/isolated") == "0");

    // Not a bridge port: the kernel refuses.
    e = sa.setHairpin(br.index, true);
    CHECK(e);
    std::printf("info: hairpin on a non-port -> %s\n", e.msg.c_str());

    // Kernels built without CONFIG_BRIDGE_VLAN_FILTERING refuse the first step.
    e = sa.setBridgeVlanFiltering(br.index, true);
    if (e && e.errnum == EOPNOTSUPP) {
        std::printf("skip: no bridge VLAN filtering in this kernel (%s)\n", e.msg.c_str());
    } else {
        OK(e);
        CHECK(readFile("/sys/class/net/brt0/bridge/vlan_filtering") == "1");
        OK(sa.bridgeVlanAdd(port, 10, true, true));
        OK(sa.bridgeVlanAdd(port, 100, false, false, 105));
        OK(sa.bridgeVlanDel(port, 1));
        std::string vl = run("bridge vlan show dev bp0");
        CHECK(contains(vl, "10 PVID Egress Untagged"));
        CHECK(contains(vl, "100") && contains(vl, "105"));
        CHECK(!contains(vl, " 1 PVID"));
    }

    OK(sa.setUp(br.index));
    OK(sa.setUp(port));
    OK(sa.setUp(link(sa, "bp1").index));
    bool up = false;
    OK(sa.waitOperUp(port, {0, 50, 500, 1000, 1000}, up));
    CHECK(up);

    OK(sa.setMaster(port, 0));
    CHECK(link(sa, "bp0").master == 0);
    OK(sa.deleteLink(port));
    bool found = false;
    OK(sa.deleteLinkByName("brt0", &found));
    CHECK(found);
}

void testWaitDown(nl::Socket& sa) {
    nl::VethSpec v;
    v.name = "wd0";
    v.peerName = "wd1";
    OK(sa.addVeth(v));
    int idx = link(sa, "wd0").index;
    OK(sa.setUp(idx));   // peer stays down: never oper up
    bool up = true;
    auto t = std::chrono::steady_clock::now();
    OK(sa.waitOperUp(idx, {10, 10}, up));
    CHECK(!up);
    CHECK(msSince(t) >= 20);
    OK(sa.deleteLink(idx));
}

void testAddrs(nl::Socket& sa) {
    nl::VethSpec v;
    v.name = "ad0";
    v.peerName = "ad1";
    OK(sa.addVeth(v));
    int idx = link(sa, "ad0").index;
    REQUIRE(idx);
    OK(sa.addAddr(idx, net("10.1.2.3/24")));
    OK(sa.addAddr(idx, net("fd00::5/64"), IFA_F_NODAD));
    OK(sa.addAddr(idx, net("10.7.0.1/31")));
    std::vector<nl::AddrInfo> all, v4, v6;
    OK(sa.addrs(idx, 0, all));
    OK(sa.addrs(idx, AF_INET, v4));
    OK(sa.addrs(idx, AF_INET6, v6));
    CHECK(hasAddr(all, "10.1.2.3/24") && hasAddr(all, "fd00::5/64"));
    CHECK(hasAddr(v4, "10.1.2.3/24") && !hasAddr(v4, "fd00::5/64"));
    CHECK(hasAddr(v6, "fd00::5/64") && !hasAddr(v6, "10.1.2.3/24"));
    for (auto& a : all) CHECK(a.ifindex == idx);
    for (auto& a : v6)
        if (a.addr.str() == "fd00::5/64") CHECK(a.flags & IFA_F_NODAD);
    std::string ipout = run("ip -4 addr show dev ad0");
    CHECK(contains(ipout, "inet 10.1.2.3/24 brd 10.1.2.255"));
    CHECK(contains(ipout, "inet 10.7.0.1/31 scope"));   // no broadcast on /31

    // The loopback's addresses must not show up in a filtered listing.
    std::vector<nl::AddrInfo> lo;
    OK(sa.addrs(link(sa, "lo").index, AF_INET, lo));
    CHECK(hasAddr(lo, "127.0.0.1/8") && !hasAddr(lo, "10.1.2.3/24"));

    util::Error e = sa.addAddr(idx, net("10.1.2.3/24"));
    CHECK(e.code == util::kInternal);
    CHECK(e.msg == "failed to add address 10.1.2.3/24 to ad0: File exists");
    std::printf("info: duplicate address -> %s\n", e.msg.c_str());
    CHECK(e.errnum == EEXIST);
    OK(sa.replaceAddr(idx, net("10.1.2.3/24")));

    OK(sa.delAddr(idx, net("10.1.2.3/24")));
    OK(sa.delAddr(idx, net("fd00::5/64")));
    all.clear();
    OK(sa.addrs(idx, 0, all));
    CHECK(!hasAddr(all, "10.1.2.3/24") && !hasAddr(all, "fd00::5/64"));
    e = sa.delAddr(idx, net("10.1.2.3/24"));
    CHECK(e && e.errnum == EADDRNOTAVAIL);
    std::printf("info: delete missing address -> %s\n", e.msg.c_str());
    OK(sa.deleteLink(idx));
}

// Routes inside B, on its eth0 (the container end made in testVeth).
void testRoutes(nl::Socket& sb, const nl::Netns& nsB) {
    int eth0 = link(sb, "eth0").index;
    REQUIRE(eth0);
    OK(sb.setUp(eth0));
    OK(sb.addAddr(eth0, net("10.9.0.2/24")));
    OK(sb.addAddr(eth0, net("fd09::2/64"), IFA_F_NODAD));

    // Via a gateway.
    nl::RouteSpec gw;
    gw.dst = net("10.20.0.0/16");
    gw.gw = ip("10.9.0.1");
    OK(sb.addRoute(gw));
    util::Error e = sb.addRoute(gw);
    CHECK(e.msg == "failed to add route 10.20.0.0/16 via 10.9.0.1: File exists");
    CHECK(e.errnum == EEXIST);
    bool existed = false;
    OK(sb.addRoute(gw, &existed));
    CHECK(existed);

    // Scope link, output device only; host bits in dst are masked.
    nl::RouteSpec lk;
    lk.dst = net("10.30.0.7/24");
    lk.ifindex = eth0;
    OK(sb.addRoute(lk));

    // Other table, default route.
    nl::RouteSpec def;
    def.dst = net("0.0.0.0/0");
    def.gw = ip("10.9.0.1");
    def.table = 100;
    OK(sb.addRoute(def));

    // Metric, MTU, ADVMSS, preferred source.
    nl::RouteSpec met;
    met.dst = net("10.40.0.0/24");
    met.gw = ip("10.9.0.1");
    met.ifindex = eth0;
    met.priority = 50;
    met.mtu = 1300;
    met.advmss = 1200;
    met.src = ip("10.9.0.2");
    OK(sb.addRoute(met));

    // ECMP.
    nl::RouteSpec ecmp;
    ecmp.dst = net("10.50.0.0/24");
    ecmp.gw = ip("10.9.0.1");
    ecmp.ifindex = eth0;
    ecmp.multipath.push_back({ip("10.9.0.4"), eth0});
    OK(sb.addRoute(ecmp));

    // IPv6 via gateway, and IPv6 ECMP.
    nl::RouteSpec g6;
    g6.dst = net("fd20::/64");
    g6.gw = ip("fd09::1");
    g6.ifindex = eth0;
    g6.priority = 20;
    OK(sb.addRoute(g6));
    nl::RouteSpec e6;
    e6.dst = net("fd30::/64");
    e6.gw = ip("fd09::1");
    e6.ifindex = eth0;
    e6.multipath.push_back({ip("fd09::4"), eth0});
    OK(sb.addRoute(e6));

    // A bad gateway: the kernel's extended ack text is kept.
    nl::RouteSpec bad;
    bad.dst = net("10.60.0.0/24");
    bad.gw = ip("192.0.2.1");
    e = sb.addRoute(bad);
    CHECK(e && contains(e.msg, "failed to add route 10.60.0.0/24 via 192.0.2.1: "));
    std::printf("info: unreachable gateway -> %s\n", e.msg.c_str());
    nl::RouteSpec mixed;
    mixed.dst = net("10.61.0.0/24");
    mixed.gw = ip("fd09::1");
    CHECK(sb.addRoute(mixed).code == util::kInvalidNetConf);

    std::vector<nl::Socket::RouteInfo> v4, v6, t100, both, onLo;
    OK(sb.routes(AF_INET, eth0, 0, v4));
    OK(sb.routes(AF_INET6, eth0, 0, v6));
    OK(sb.routes(AF_INET, 0, 100, t100));
    OK(sb.routes(0, 0, 0, both));
    OK(sb.routes(AF_INET, link(sb, "lo").index, 0, onLo));

    auto* r = findRoute(v4, "10.20.0.0/16");
    CHECK(r && r->gw && r->gw->str() == "10.9.0.1" && r->scope == RT_SCOPE_UNIVERSE && r->ifindex == eth0);
    CHECK(r && r->protocol == RTPROT_BOOT && r->table == RT_TABLE_MAIN && r->type == RTN_UNICAST);
    r = findRoute(v4, "10.30.0.0/24");
    CHECK(r && !r->gw && r->scope == RT_SCOPE_LINK && r->ifindex == eth0);
    CHECK(findRoute(v4, "10.9.0.0/24") != nullptr);      // the kernel's prefix route
    CHECK(findRoute(v4, "0.0.0.0/0") == nullptr);        // lives in table 100
    r = findRoute(t100, "0.0.0.0/0");
    CHECK(r && r->gw && r->gw->str() == "10.9.0.1" && r->table == 100);
    CHECK(findRoute(t100, "10.20.0.0/16") == nullptr);
    r = findRoute(v4, "10.40.0.0/24");
    CHECK(r && r->priority == 50 && r->mtu == 1300 && r->advmss == 1200);
    CHECK(r && r->src && r->src->str() == "10.9.0.2");
    r = findRoute(v4, "10.50.0.0/24");
    CHECK(r && r->multipath.size() == 2);
    if (r && r->multipath.size() == 2)
        CHECK(r->multipath[0].gw->str() == "10.9.0.1" && r->multipath[1].gw->str() == "10.9.0.4");
    r = findRoute(v6, "fd20::/64");
    CHECK(r && r->gw && r->gw->str() == "fd09::1" && r->priority == 20);
    r = findRoute(v6, "fd30::/64");
    CHECK(r && r->multipath.size() == 2);
    CHECK(findRoute(v6, "10.20.0.0/16") == nullptr);
    CHECK(findRoute(both, "10.20.0.0/16") && findRoute(both, "fd20::/64"));
    CHECK(findRoute(onLo, "10.20.0.0/16") == nullptr);
    std::string iproute;
    {
        nl::NetnsGuard g(nsB);
        iproute = run("ip route show");
    }
    CHECK(contains(iproute, "10.50.0.0/24"));
    CHECK(contains(iproute, "nexthop via 10.9.0.4 dev eth0"));

    // Replace: change the metric's gateway in place.
    nl::RouteSpec rep = gw;
    rep.gw = ip("10.9.0.3");
    OK(sb.replaceRoute(rep));
    v4.clear();
    OK(sb.routes(AF_INET, eth0, 0, v4));
    r = findRoute(v4, "10.20.0.0/16");
    CHECK(r && r->gw && r->gw->str() == "10.9.0.3");

    // Delete; unset fields match (gateway, scope, protocol).
    nl::RouteSpec del;
    del.dst = net("10.20.0.0/16");
    OK(sb.delRoute(del));
    bool found = true;
    OK(sb.delRoute(del, &found));
    CHECK(!found);
    e = sb.delRoute(del);
    CHECK(e && contains(e.msg, "failed to delete route 10.20.0.0/16: "));
    std::printf("info: delete missing route -> %s\n", e.msg.c_str());
    OK(sb.delRoute(def, &found));
    CHECK(found);
    OK(sb.delRoute(e6, &found));
    CHECK(found);

    // A listed route copied into another table keeps its protocol, scope
    // and source (sbr copies the kernel's prefix route); the protocol is
    // matched when deleting.
    r = findRoute(v4, "10.9.0.0/24");
    REQUIRE(r && r->protocol == RTPROT_KERNEL);
    nl::RouteSpec kern = r->spec(101);
    CHECK(kern.table == 101 && kern.ifindex == eth0 && kern.protocol == RTPROT_KERNEL);
    OK(sb.addRoute(kern));
    std::vector<nl::Socket::RouteInfo> t101;
    OK(sb.routes(AF_INET, 0, 101, t101));
    r = findRoute(t101, "10.9.0.0/24");
    CHECK(r && r->protocol == RTPROT_KERNEL && r->scope == RT_SCOPE_LINK && r->src && r->src->str() == "10.9.0.2");
    nl::RouteSpec boot = kern;
    boot.protocol = RTPROT_BOOT;
    OK(sb.delRoute(boot, &found));
    CHECK(!found);
    OK(sb.delRoute(kern, &found));
    CHECK(found);
    v4.clear();
    t100.clear();
    OK(sb.routes(AF_INET, eth0, 0, v4));
    OK(sb.routes(AF_INET, 0, 100, t100));
    CHECK(!findRoute(v4, "10.20.0.0/16") && t100.empty());
}

void testNeigh(nl::Socket& sb, const nl::Netns& nsB) {
    int eth0 = link(sb, "eth0").index;
    OK(sb.addNeigh(eth0, ip("10.9.0.7"), "02:aa:bb:cc:dd:ee", true));
    OK(sb.addNeigh(eth0, ip("fd09::7"), "02:aa:bb:cc:dd:ef", false));
    std::string n;
    {
        nl::NetnsGuard g(nsB);
        n = run("ip neigh show dev eth0");
    }
    CHECK(contains(n, "10.9.0.7 lladdr 02:aa:bb:cc:dd:ee PERMANENT"));
    CHECK(contains(n, "fd09::7 lladdr 02:aa:bb:cc:dd:ef"));
    CHECK(sb.addNeigh(eth0, ip("10.9.0.8"), "nope", true).code == util::kInvalidNetConf);
}

void testRules(nl::Socket& sb, const nl::Netns& nsB) {
    auto net = [](const char* t) { return *util::IPNet::parse(t); };
    auto find = [&](int family, const nl::RuleSpec& want) {
        std::vector<nl::Socket::RuleInfo> rules;
        OK(sb.rules(family, rules));
        for (const auto& r : rules)
            if (r.src && want.src && r.src->str() == want.src->str() && r.table == want.table &&
                (want.priority < 0 || r.priority == want.priority) && r.action == FR_ACT_TO_TBL)
                return r.priority;
        return -1;
    };
    // IPv4 with the kernel's priority, a table above 255 in IPv6 with ours.
    nl::RuleSpec v4{0, net("10.9.0.2/32"), 100, -1};
    nl::RuleSpec v6{0, net("fd09::2/128"), 1000, 1234};
    OK(sb.addRule(v4));
    OK(sb.addRule(v6));
    int prio = find(AF_INET, v4);
    CHECK(prio > 0 && prio < 32766);
    CHECK(find(AF_INET6, v6) == 1234);
    CHECK(find(AF_INET, v6) == -1);   // filtered by family
    {
        nl::NetnsGuard g(nsB);
        CHECK(contains(run("ip -6 rule show"), "1234:\tfrom fd09::2 lookup 1000"));
    }
    bool existed = false;
    OK(sb.addRule(nl::RuleSpec{0, v4.src, 100, prio}, &existed));
    CHECK(existed);
    CHECK(sb.addRule(nl::RuleSpec{0, v4.src, 100, prio}).errnum == EEXIST);
    CHECK(sb.addRule(nl::RuleSpec{0, v4.src, 0, -1}));   // no table
    CHECK(sb.addRule(nl::RuleSpec{AF_INET, v6.src, 7, -1}));   // family mismatch
    bool found = false;
    OK(sb.delRule(v4, &found));
    CHECK(found);
    OK(sb.delRule(v6));
    CHECK(find(AF_INET, v4) == -1 && find(AF_INET6, v6) == -1);
    OK(sb.delRule(v4, &found));
    CHECK(!found);
    CHECK(sb.delRule(v6));

    // Routes of every table (what a free table id is chosen against).
    int eth0 = link(sb, "eth0").index;
    nl::RouteSpec t100, t4000;
    t100.dst = net("10.50.0.0/24");
    t100.ifindex = t4000.ifindex = eth0;
    t100.table = 100;
    t4000.dst = net("10.51.0.0/24");
    t4000.table = 4000;
    OK(sb.addRoute(t100));
    OK(sb.addRoute(t4000));
    std::vector<nl::Socket::RouteInfo> all, one;
    OK(sb.routes(AF_INET, 0, nl::kAllTables, all));
    auto has = [&](int table, const char* dst) {
        for (const auto& r : all)
            if (r.table == table && (!dst || r.dst.str() == dst)) return true;
        return false;
    };
    CHECK(has(100, "10.50.0.0/24") && has(4000, "10.51.0.0/24"));
    CHECK(has(RT_TABLE_MAIN, "10.9.0.0/24") && has(RT_TABLE_LOCAL, nullptr));
    OK(sb.routes(AF_INET, 0, 100, one));
    CHECK(one.size() == 1 && one[0].table == 100 && one[0].dst.str() == "10.50.0.0/24");
    OK(sb.delRoute(t100));
    OK(sb.delRoute(t4000));
}

void testSysctl(const nl::Netns& other) {
    std::string here;
    OK(nl::sysctlGet("net.ipv4.ip_forward", here));
    CHECK(here == "0");
    {
        nl::NetnsGuard g(other);
        OK(g.error());
        OK(nl::sysctlSet("net.ipv4.ip_forward", "1"));
        std::string v;
        OK(nl::sysctlGet("net.ipv4.ip_forward", v));
        CHECK(v == "1");
        OK(nl::sysctlSet("net.ipv4.ip_forward", "1"));   // already there: no write
        OK(nl::ifSysctlSet(AF_INET, "eth0", "arp_notify", "1"));
        OK(nl::sysctlGet("net/ipv4/conf/eth0/arp_notify", v));
        CHECK(v == "1");
        OK(nl::ifSysctlSet(AF_INET6, "eth0", "accept_dad", "0"));
        OK(nl::sysctlGet("net.ipv6.conf.eth0.accept_dad", v));
        CHECK(v == "0");
        util::Error e = nl::sysctlGet("net.ipv4.conf.nosuchif.arp_notify", v);
        CHECK(e && contains(e.msg, "No such file or directory"));
        CHECK(nl::ifSysctlSet(AF_INET, "../x", "a", "1").code == util::kInvalidNetConf);
    }
    OK(nl::sysctlGet("net.ipv4.ip_forward", here));
    CHECK(here == "0");   // only the other namespace changed
}

// Veth creation cost with the peer created straight in `other`.
void measure(nl::Socket& sa, const nl::Netns& other) {
    const int n = 40;
    std::vector<std::string> names;
    auto t = std::chrono::steady_clock::now();
    for (int i = 0; i < n; i++) {
        nl::VethSpec v;
        v.name = nl::randomVethName();
        v.peerName = std::to_string(i);
        v.peerName.insert(0, 1, 'm');
        v.peerNs = &other;
        OK(sa.addVeth(v));
        names.push_back(v.name);
    }
    double create = msSince(t) / n;
    t = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; i++) {
        nl::Socket s;
        OK(nl::Socket::openIn(other, s));
    }
    double open = msSince(t) / 20;
    t = std::chrono::steady_clock::now();
    for (auto& name : names) {
        nl::LinkInfo li;
        bool found;
        OK(sa.linkByName(name, li, found));
    }
    double get = msSince(t) / n;
    t = std::chrono::steady_clock::now();
    for (auto& name : names) OK(sa.deleteLinkByName(name));
    double del = msSince(t) / n;
    std::printf("timing: veth create (peer in other netns) %.3f ms, socket openIn %.3f ms, "
                "link GET %.3f ms, veth delete %.3f ms (mean of %d)\n",
                create, open, get, del, n);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: nl_selftest <path of another netns>\n");
        return 2;
    }
    nl::Netns other;
    bool notExist = false;
    util::Error e = nl::Netns::open(argv[1], other, &notExist);
    if (e) {
        std::fprintf(stderr, "%s\n", e.text().c_str());
        return 2;
    }
    nl::Netns here;
    OK(nl::Netns::current(here));
    REQUIRE(!here.sameAs(other));
    CHECK(other.path() == argv[1]);

    nl::Socket sa, sb;
    OK(nl::Socket::open(sa));
    OK(nl::Socket::openIn(other, sb));
    REQUIRE(sa.raw() && sb.raw());
    nl::Netns after;
    OK(nl::Netns::current(after));
    CHECK(after.sameAs(here));   // openIn came back

    testNetnsOpen();
    testGuard(other);
    testRandom();
    testVeth(sa, sb, other);
    testLinkAttrs(sa);
    testVrf(sa);
    testIfb(sa);
    testTc(sa);
    testBridge(sa);
    testWaitDown(sa);
    testAddrs(sa);
    testRoutes(sb, other);
    testNeigh(sb, other);
    testRules(sb, other);
    testSysctl(other);
    measure(sa, other);

    // A moved socket keeps working.
    nl::Socket moved = std::move(sb);
    CHECK(!sb.raw());
    CHECK(link(moved, "eth0").index != 0);

    std::printf("%d checks, %d failed\n", g_checks, g_failed);
    return g_failed ? 1 : 0;
}
