// vrf's configuration parser and the choices it makes from what the kernel
// lists: the table of a new VRF, the routes that move, the addresses to put
// back (no kernel, no root).
#include <catch2/catch.hpp>

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include <string>
#include <vector>

#include "applets/vrf.h"
#include "test_applet.h"

using namespace applets::vrf;

namespace {

const testutil::ConfParser<Conf> parse{parseConf, "vrf", ""};

Conf ok(const std::string& extra, bool strict = true) {
    Conf c;
    cni::Error e = parse(extra, c, strict);
    INFO(e.text());
    REQUIRE_FALSE(e);
    return c;
}

nl::LinkInfo vrfLink(uint32_t table) {
    nl::LinkInfo l;
    l.kind = "vrf";
    l.vrfTable = table;
    return l;
}

util::IPNet net(const char* s) { return *util::IPNet::parse(s); }

nl::Socket::RouteInfo route(const char* dst, int ifindex, int protocol = RTPROT_BOOT) {
    nl::Socket::RouteInfo r;
    r.dst = net(dst);
    r.ifindex = ifindex;
    r.table = RT_TABLE_MAIN;
    r.scope = RT_SCOPE_UNIVERSE;
    r.protocol = protocol;
    return r;
}

nl::AddrInfo addr(const char* a, int scope = RT_SCOPE_UNIVERSE, unsigned flags = IFA_F_PERMANENT) {
    nl::AddrInfo i;
    i.addr = net(a);
    i.scope = scope;
    i.flags = flags;
    return i;
}

// The outcome of checkPrevResult for `prev` (a prevResult JSON, "" = none) and CNI_IFNAME eth0.
std::string prevVerdict(const std::string& prev) {
    std::string conf = R"({"cniVersion":"1.0.0","name":"n","type":"vrf","vrfname":"blue")";
    if (!prev.empty()) conf += R"(,"prevResult":)" + prev;
    conf += "}";
    cni::Error e = checkPrevResult(testutil::cmdArgs(conf));
    return e ? std::to_string(e.code) + " " + e.msg : "ok";
}

}  // namespace

TEST_CASE("vrf config: vrfname and table", "[vrf]") {
    Conf c = ok(R"(,"vrfname":"blue")");
    CHECK(c.vrfName == "blue");
    CHECK(c.table == 0);
    c = ok(R"(,"vrfname":"red","table":1001)");
    CHECK(c.vrfName == "red");
    CHECK(c.table == 1001);
    CHECK(ok(R"(,"vrfname":"v","table":4294967295)").table == 4294967295u);
    // Go's field matching: any case
    CHECK(ok(R"(,"VRFName":"green","Table":7)").table == 7);
}

TEST_CASE("vrf config: bad values are code 7", "[vrf]") {
    parse.refuses("", "configuration is expected to have a valid vrf name");
    parse.refuses(R"(,"vrfname":"")", "configuration is expected to have a valid vrf name");
    parse.refuses(R"(,"vrfname":7)", "invalid value for \"vrfname\": expected a string, got number");
    parse.refuses(R"(,"vrfname":"a-name-of-16-chr")", "invalid vrfname \"a-name-of-16-chr\": interface name is too long");
    parse.refuses(R"(,"vrfname":"a/b")", "invalid vrfname \"a/b\": interface name contains / or : or whitespace characters");
    parse.refuses(R"(,"vrfname":"blue","table":"10")", "invalid value for \"table\": expected an integer, got string");
    parse.refuses(R"(,"vrfname":"blue","table":-1)", "invalid value for \"table\": -1 is out of range 0..4294967295");
    parse.refuses(R"(,"vrfname":"blue","table":4294967296)",
                  "invalid value for \"table\": 4294967296 is out of range 0..4294967295");
    parse.refuses(R"(,"vrfname":"blue","table":1.5)",
                  "invalid value for \"table\": expected an integer in range 0..4294967295");
}

TEST_CASE("vrf config: DEL reads what it can and refuses nothing", "[vrf]") {
    CHECK(ok("", false).vrfName.empty());
    CHECK(ok(R"(,"vrfname":7)", false).vrfName.empty());
    Conf c = ok(R"(,"vrfname":"blue","table":-1)", false);
    CHECK(c.vrfName == "blue");
    CHECK(c.table == 0);
}

TEST_CASE("vrf prevResult: required, naming CNI_IFNAME when it lists interfaces", "[vrf]") {
    CHECK(prevVerdict("") == "7 missing prevResult from earlier plugin");
    CHECK(prevVerdict(R"({"cniVersion":"1.0.0"})") == "ok");
    CHECK(prevVerdict(R"({"cniVersion":"1.0.0","interfaces":[{"name":"br0"},{"name":"eth0","sandbox":"/x"}]})") ==
          "ok");
    CHECK(prevVerdict(R"({"cniVersion":"1.0.0","interfaces":[{"name":"br0"},{"name":"eth1","sandbox":"/x"}]})") ==
          "7 interface \"eth0\" is not in prevResult");
}

TEST_CASE("vrf table: the lowest id no other VRF uses", "[vrf]") {
    CHECK(lowestFreeTable({}) == 1);
    CHECK(lowestFreeTable({vrfLink(1), vrfLink(2), vrfLink(3), vrfLink(5)}) == 4);
    CHECK(lowestFreeTable({vrfLink(5), vrfLink(2), vrfLink(1)}) == 3);
    CHECK(lowestFreeTable({vrfLink(2)}) == 1);
    // other kinds of link do not take tables
    nl::LinkInfo bridge;
    bridge.kind = "bridge";
    CHECK(lowestFreeTable({bridge, vrfLink(1)}) == 2);
    // the kernel's default, main and local tables are skipped
    std::vector<nl::LinkInfo> many;
    for (uint32_t t = 1; t <= 252; t++) many.push_back(vrfLink(t));
    CHECK(lowestFreeTable(many) == 256);
    many.push_back(vrfLink(256));
    CHECK(lowestFreeTable(many) == 257);
}

TEST_CASE("vrf routes: what moves into the VRF's table", "[vrf]") {
    const int eth0 = 3, eth1 = 4;
    std::vector<nl::Socket::RouteInfo> rs;
    auto def = route("0.0.0.0/0", eth0);
    def.gw = util::IP::parse("10.0.0.1");
    def.priority = 100;
    rs.push_back(def);                                       // IPAM default route: moves
    auto ipam = route("10.10.10.0/24", eth0);
    ipam.gw = util::IP::parse("10.0.0.1");
    ipam.mtu = 1400;
    ipam.advmss = 1360;
    ipam.src = util::IP::parse("10.0.0.2");
    rs.push_back(ipam);                                      // moves, with its attributes
    rs.push_back(route("1111:dddd::/80", eth0, RTPROT_RA));  // IPv6 route: moves
    rs.push_back(route("fd00::/64", eth0, RTPROT_KERNEL));   // the kernel's prefix route: stays
    rs.push_back(route("fe80::/64", eth0, RTPROT_KERNEL));
    auto link = route("10.0.0.0/24", eth0, RTPROT_KERNEL);   // connected: scope link
    link.scope = RT_SCOPE_LINK;
    rs.push_back(link);
    auto other = route("10.20.0.0/24", eth1);                // another link's route
    rs.push_back(other);
    auto t100 = route("10.30.0.0/24", eth0);                 // another table
    t100.table = 100;
    rs.push_back(t100);
    auto ecmp = route("10.40.0.0/24", eth0);                 // several next hops
    ecmp.multipath = {{util::IP::parse("10.0.0.1"), eth0}, {util::IP::parse("10.1.0.1"), eth1}};
    rs.push_back(ecmp);
    auto unreachable = route("10.50.0.0/24", eth0);
    unreachable.type = RTN_UNREACHABLE;
    rs.push_back(unreachable);

    std::vector<nl::RouteSpec> moved = routesToMove(rs, eth0, 1001);
    REQUIRE(moved.size() == 3);
    for (const auto& m : moved) {
        CHECK(m.table == 1001);
        CHECK(m.ifindex == eth0);
        CHECK(m.scope == RT_SCOPE_UNIVERSE);
        CHECK(m.multipath.empty());
    }
    CHECK(moved[0].dst.str() == "0.0.0.0/0");
    CHECK(moved[0].gw->str() == "10.0.0.1");
    CHECK(moved[0].priority == 100);
    CHECK(moved[1].dst.str() == "10.10.10.0/24");
    CHECK(moved[1].mtu == 1400);
    CHECK(moved[1].advmss == 1360);
    CHECK(moved[1].src->str() == "10.0.0.2");
    CHECK(moved[2].dst.str() == "1111:dddd::/80");
    CHECK_FALSE(moved[2].gw);
    // the protocol stays
    CHECK(moved[0].protocol == RTPROT_BOOT);
    CHECK(moved[2].protocol == RTPROT_RA);
    CHECK(routesToMove(rs, eth1, 7).size() == 1);
}

TEST_CASE("vrf addresses: the global ones lost on enslave", "[vrf]") {
    std::vector<nl::AddrInfo> before = {addr("fd00::2/64", RT_SCOPE_UNIVERSE, IFA_F_PERMANENT | IFA_F_NODAD),
                                        addr("fd01::2/64"), addr("fe80::1/64", RT_SCOPE_LINK)};
    // all dropped (keep_addr_on_down=0): the global ones come back, with the flags an address can be given
    std::vector<nl::AddrInfo> lost = lostAddrs(before, {});
    REQUIRE(lost.size() == 2);
    CHECK(lost[0].addr.str() == "fd00::2/64");
    CHECK(lost[0].flags == IFA_F_NODAD);
    CHECK(lost[1].addr.str() == "fd01::2/64");
    CHECK(lost[1].flags == 0);
    // kept (keep_addr_on_down=1): nothing to do
    CHECK(lostAddrs(before, before).empty());
    CHECK(lostAddrs(before, {addr("fd00::2/64")}).size() == 1);
    // the same address with another prefix length is another address
    CHECK(lostAddrs({addr("fd00::2/64")}, {addr("fd00::2/128")}).size() == 1);
}
