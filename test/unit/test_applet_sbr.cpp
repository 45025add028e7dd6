// sbr's configuration parser and its choices over listed rules and routes
// (no kernel, no root).
#include <catch2/catch.hpp>

#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include <string>

#include "applets/sbr.h"
#include "test_applet.h"

using namespace applets::sbr;
using cni::Error;

namespace {

util::IP ip(const char* s) { return *util::IP::parse(s); }
util::IPNet net(const char* s) { return *util::IPNet::parse(s); }

// A prevResult (1.0.0) with eth0 (10.1.0.5/24, fd01::5/64) and net1
// (10.2.0.5/24): interface 1 is eth0, the one CNI_IFNAME names.
constexpr const char* kPrev =
    R"(,"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"br0"},{"name":"eth0","sandbox":"/x"},)"
    R"({"name":"net1","sandbox":"/x"}],"ips":[{"interface":1,"address":"10.1.0.5/24","gateway":"10.1.0.1"},)"
    R"({"interface":2,"address":"10.2.0.5/24","gateway":"10.2.0.1"},)"
    R"({"interface":1,"address":"fd01::5/64","gateway":"fd01::1"}]})";

const testutil::ConfParser<Conf> parse{parseConf, "sbr", kPrev};
const testutil::ConfParser<Conf> noPrev{parseConf, "sbr", ""};

Conf ok(const std::string& extra, bool strict = true, const testutil::ConfParser<Conf>& p = parse,
        const testutil::ConfParser<Conf>::Env& env = {}) {
    Conf c;
    Error e = p(extra, c, strict, env);
    INFO(e.text());
    REQUIRE_FALSE(e);
    return c;
}

std::vector<std::string> addrs(const Conf& c) {
    std::vector<std::string> out;
    for (const auto& i : c.ips) out.push_back(i.address.str());
    return out;
}

nl::Socket::RouteInfo route(const char* dst, int table, int ifindex, const char* gw = nullptr, const char* src = nullptr) {
    nl::Socket::RouteInfo r;
    r.dst = net(dst);
    r.table = table;
    r.ifindex = ifindex;
    if (gw) r.gw = ip(gw);
    if (src) r.src = ip(src);
    return r;
}

}  // namespace

TEST_CASE("sbr: defaults and the addresses of CNI_IFNAME", "[sbr]") {
    Conf c = ok("");
    CHECK_FALSE(c.table);
    CHECK_FALSE(c.gateway4);
    CHECK_FALSE(c.gateway6);
    CHECK_FALSE(c.addSourceHints);
    CHECK(addrs(c) == std::vector<std::string>{"10.1.0.5/24", "fd01::5/64"});
    CHECK(c.ips[0].gateway == ip("10.1.0.1"));
    // net1's address for CNI_IFNAME=net1
    Conf n = ok("", true, parse, {{"CNI_IFNAME", "net1"}});
    CHECK(addrs(n) == std::vector<std::string>{"10.2.0.5/24"});
}

TEST_CASE("sbr: every key", "[sbr]") {
    Conf c = ok(R"(,"table":5000,"gateways":["fd01::99","10.1.0.99"],"addSourceHints":true)");
    REQUIRE(c.table);
    CHECK(*c.table == 5000);
    CHECK(c.gateway4 == ip("10.1.0.99"));
    CHECK(c.gateway6 == ip("fd01::99"));
    CHECK(c.addSourceHints);
    CHECK(ok(R"(,"table":1)").table == 1);
    CHECK(ok(R"(,"table":2147483647)").table == 2147483647);
    CHECK(ok(R"(,"gateways":[])").gateway4 == std::nullopt);
    CHECK(ok(R"(,"gateways":["10.1.0.99"])").gateway4 == ip("10.1.0.99"));
    CHECK_FALSE(ok(R"(,"table":null)").table);
}

TEST_CASE("sbr: bad keys are code 7", "[sbr]") {
    parse.refuses(R"(,"table":0)", "invalid table 0: must be 1..2147483647");
    parse.refuses(R"(,"table":-1)", "invalid table -1: must be 1..2147483647");
    parse.refuses(R"(,"table":2147483648)", "invalid table 2147483648: must be 1..2147483647");
    parse.refuses(R"(,"table":"100")", "invalid value for \"table\": expected an integer, got string");
    parse.refuses(R"(,"table":true)", "invalid value for \"table\": expected an integer, got bool");
    parse.refuses(R"(,"table":1.5)",
                  "invalid value for \"table\": expected an integer in range -9223372036854775808..9223372036854775807");
    parse.refuses(R"(,"table":1e30)",
                  "invalid value for \"table\": expected an integer in range -9223372036854775808..9223372036854775807");
    parse.refuses(R"(,"gateways":["10.0.0.1","10.0.0.2"])",
                  "gateways list contains multiple IPv4 addresses: 10.0.0.1 and 10.0.0.2");
    parse.refuses(R"(,"gateways":["fd00::1","fd00::2"])",
                  "gateways list contains multiple IPv6 addresses: fd00::1 and fd00::2");
    parse.refuses(R"(,"gateways":["10.0.0.1","fd00::1","10.0.0.2"])",
                  "gateways list cannot contain more than 2 entries (one IPv4, one IPv6)");
    parse.refuses(R"(,"gateways":["gw"])", "invalid static gateway IP address: \"gw\"");
    parse.refuses(R"(,"gateways":["10.0.0.0/24"])", "invalid static gateway IP address: \"10.0.0.0/24\"");
    parse.refuses(R"(,"gateways":[null])", "invalid static gateway IP address: \"\"");
    parse.refuses(R"(,"gateways":"10.0.0.1")", "invalid value for \"gateways\": expected a list of strings, got string");
    parse.refuses(R"(,"gateways":[1])", "invalid value for \"gateways\": expected a list of strings, got array");
    parse.refuses(R"(,"addSourceHints":"yes")", "invalid value for \"addSourceHints\": expected a boolean, got string");
}

TEST_CASE("sbr: prevResult and its addresses", "[sbr]") {
    noPrev.refuses("", "Required prevResult missing: sbr must be chained after the plugin making eth0");
    // No address of the interface: upstream acts on none (and still moves
    // the routes); cnibox refuses.
    Conf c;
    Error e = parse("", c, true, {{"CNI_IFNAME", "net9"}});
    CHECK(e.code == cni::kInvalidNetConf);
    CHECK(e.msg == "No IP addresses supplied on interface: net9 (prevResult's addresses are of other interfaces)");
    const testutil::ConfParser<Conf> empty{parseConf, "sbr", R"(,"prevResult":{"cniVersion":"1.0.0"})"};
    empty.refuses("", "No IP addresses supplied on interface: eth0");
    // Addresses without an interface (0.2.0 results have none), or with an
    // index out of range, count as the interface's.
    const testutil::ConfParser<Conf> bare{
        parseConf, "sbr",
        R"(,"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"x"}],"ips":[{"address":"10.3.0.2/16"},)"
        R"({"interface":7,"address":"fd03::2/64"},{"interface":0,"address":"10.4.0.2/16"}]})"};
    CHECK(addrs(ok("", true, bare)) == std::vector<std::string>{"10.3.0.2/16", "fd03::2/64"});
}

TEST_CASE("sbr: DEL reads only the table and prevResult", "[sbr]") {
    // Values DEL does not need never block it...
    Conf c = ok(R"(,"gateways":["x","y","z"],"addSourceHints":"yes","table":7)", false);
    CHECK(c.table == 7);
    CHECK(addrs(c) == std::vector<std::string>{"10.1.0.5/24", "fd01::5/64"});
    // ...nor does a missing prevResult; the table must still be one.
    CHECK(ok("", false, noPrev).ips.empty());
    parse.refuses(R"(,"table":"7")", "invalid value for \"table\": expected an integer, got string", false);
}

TEST_CASE("sbr: table choice", "[sbr]") {
    CHECK(freeTable({}, 100) == 100);
    CHECK(freeTable({100, 101, 103, 254, 255}, 100) == 102);
    CHECK(freeTable({100, 101, 103, 254, 255}, 103) == 104);
    CHECK(freeTable({99, 253}, 100) == 100);
    CHECK(freeTable({100, 101, 102}, 101) == 103);

    nl::Socket::RuleInfo local, custom;
    local.table = RT_TABLE_LOCAL;
    custom.table = 100;
    std::vector<nl::Socket::RouteInfo> routes{route("10.0.0.0/8", 101, 2), route("10.0.0.0/8", RT_TABLE_MAIN, 2)};
    std::set<int> used = usedTables({local, custom}, routes);
    CHECK(used == std::set<int>{100, 101, RT_TABLE_MAIN, RT_TABLE_LOCAL});
    CHECK(freeTable(used, kFirstTable) == 102);
}

TEST_CASE("sbr: routes copied and moved", "[sbr]") {
    std::vector<nl::Socket::RouteInfo> all{
        route("10.1.0.0/24", RT_TABLE_MAIN, 2, nullptr, "10.1.0.5"),   // the kernel's prefix route
        route("0.0.0.0/0", RT_TABLE_MAIN, 2, "10.1.0.1"),               // default via the gateway
        route("10.9.0.0/16", RT_TABLE_MAIN, 2, "10.1.0.7"),             // via another router
        route("192.0.2.0/24", RT_TABLE_MAIN, 2, "198.51.100.1"),        // gateway elsewhere
        route("fd01::/64", RT_TABLE_MAIN, 2),                           // no source, no gateway
        route("0.0.0.0/0", RT_TABLE_MAIN, 3, "10.5.0.1"),               // another link
        route("10.1.0.0/24", 100, 2, nullptr, "10.1.0.5"),              // another table
        route("10.1.0.5/32", RT_TABLE_LOCAL, 2, nullptr, "10.1.0.5"),
    };
    nl::Socket::RouteInfo ecmp = route("10.8.0.0/16", RT_TABLE_MAIN, 2, "10.1.0.1");
    ecmp.multipath = {{ip("10.1.0.1"), 2}, {ip("10.5.0.1"), 3}};
    all.push_back(ecmp);
    auto own = mainRoutesOf(all, 2);
    REQUIRE(own.size() == 5);
    CHECK(own[0].dst == net("10.1.0.0/24"));
    CHECK(own[4].dst == net("fd01::/64"));

    Conf c;
    util::IPNet v4 = net("10.1.0.5/24"), v6 = net("fd01::5/64");
    std::vector<bool> for4, for6;
    for (const auto& r : own) {
        for4.push_back(copiedFor(c, r, v4));
        for6.push_back(copiedFor(c, r, v6));
    }
    CHECK(for4 == std::vector<bool>{true, true, true, false, true});
    CHECK(for6 == std::vector<bool>{false, false, false, false, true});
    // A configured gateway keeps its own default route.
    c.gateway4 = ip("10.1.0.254");
    CHECK_FALSE(copiedFor(c, own[1], v4));
    CHECK(copiedFor(c, own[0], v4));
    c.gateway4.reset();
    c.gateway6 = ip("fd01::254");
    CHECK(copiedFor(c, own[1], v4));
}

TEST_CASE("sbr: gateways and host prefixes", "[sbr]") {
    Conf c;
    cni::IPConfig a4{std::nullopt, net("10.1.0.5/24"), ip("10.1.0.1")};
    cni::IPConfig a6{std::nullopt, net("fd01::5/64"), std::nullopt};
    CHECK(gatewayFor(c, a4) == ip("10.1.0.1"));
    CHECK_FALSE(gatewayFor(c, a6));
    c.gateway4 = ip("10.1.0.254");
    c.gateway6 = ip("fd01::254");
    CHECK(gatewayFor(c, a4) == ip("10.1.0.254"));
    CHECK(gatewayFor(c, a6) == ip("fd01::254"));

    CHECK(hostPrefix(ip("10.1.0.5")).str() == "10.1.0.5/32");
    CHECK(hostPrefix(ip("fd01::5")).str() == "fd01::5/128");
}

TEST_CASE("sbr: routes DEL gives back to main", "[sbr]") {
    std::vector<nl::Socket::RouteInfo> routes{
        route("0.0.0.0/0", 100, 2, "10.1.0.1"),
        route("10.9.0.0/16", 100, 2, "10.1.0.7"),
        route("10.1.0.0/24", 100, 2, nullptr, "10.1.0.5"),
        route("fd01::/64", 100, 2),
        route("fd01::/64", 101, 2),                 // the same in the IPv6 address's table
        route("::/0", 101, 2, "fd01::1"),
        route("172.16.0.0/12", 300, 2, "10.1.0.1"),  // not one of sbr's tables
    };
    auto back = routesBack(routes, {100, 101});
    std::vector<std::string> dsts;
    for (const auto& r : back) dsts.push_back(r.dst.str());
    CHECK(dsts == std::vector<std::string>{"10.1.0.0/24", "fd01::/64", "10.9.0.0/16"});
    CHECK(routesBack(routes, {}).empty());
}
