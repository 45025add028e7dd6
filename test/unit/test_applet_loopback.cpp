// loopback's input and ADD's result (no kernel, no root).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "applets/loopback.h"
#include "helpers.h"

using namespace applets::loopback;
using cni::Error;

namespace {

util::IPNet net(const char* s) {
    auto n = util::IPNet::parse(s);
    REQUIRE(n);
    return *n;
}

Conf parsed(const std::string& config, const std::vector<std::pair<std::string, std::string>>& env = {}) {
    cni::CmdArgs a = testutil::cmdArgs(config, cni::Command::Add, env);
    Conf c;
    REQUIRE_FALSE(parseConf(a, c));
    return c;
}

}  // namespace

TEST_CASE("loopback: no keys of its own, CNI_IFNAME ignored, prevResult kept", "[loopback]") {
    Conf c = parsed(R"({"cniVersion":"1.0.0","name":"lo","type":"loopback","unknown":{"x":1}})",
                    {{"CNI_IFNAME", "eth7"}, {"CNI_NETNS", "/proc/self/ns/net"}});
    CHECK(c.netns == "/proc/self/ns/net");
    CHECK_FALSE(c.prevResult);

    c = parsed(R"({"cniVersion":"1.0.0","name":"lo","type":"loopback",)"
               R"("prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0"}],"ips":[{"address":"10.1.0.2/24","interface":0}]}})");
    REQUIRE(c.prevResult);
    REQUIRE(c.prevResult->interfaces.size() == 1);
    CHECK(c.prevResult->interfaces[0].name == "eth0");
    REQUIRE(c.prevResult->ips.size() == 1);
    CHECK(c.prevResult->ips[0].address.str() == "10.1.0.2/24");
}

TEST_CASE("loopback: ADD's result holds lo and its first IPv4 and IPv6 address", "[loopback]") {
    Conf c;
    c.netns = "/run/netns/x";
    cni::Result r;
    REQUIRE_FALSE(addResult(c, {net("::1/128"), net("127.0.0.1/8"), net("127.0.0.2/8"), net("::1/64")}, r));
    REQUIRE(r.interfaces.size() == 1);
    CHECK(r.interfaces[0].name == "lo");
    CHECK(r.interfaces[0].mac == "00:00:00:00:00:00");
    CHECK(r.interfaces[0].sandbox == "/run/netns/x");
    REQUIRE(r.ips.size() == 2);  // IPv4 first
    CHECK(r.ips[0].address.str() == "127.0.0.1/8");
    CHECK(r.ips[0].interface == 0);
    CHECK_FALSE(r.ips[0].gateway);
    CHECK(r.ips[1].address.str() == "::1/128");
    CHECK(r.ips[1].interface == 0);
    CHECK(r.routes.empty());

    cni::Result none;
    REQUIRE_FALSE(addResult(c, {}, none));
    CHECK(none.interfaces.size() == 1);
    CHECK(none.ips.empty());

    cni::Result v6only;
    REQUIRE_FALSE(addResult(c, {net("::1/128")}, v6only));
    REQUIRE(v6only.ips.size() == 1);
    CHECK(v6only.ips[0].address.str() == "::1/128");
}

TEST_CASE("loopback: a prevResult passes unchanged; a non-loopback address on lo fails", "[loopback]") {
    Conf c;
    c.netns = "/run/netns/x";
    c.prevResult = cni::Result{};
    c.prevResult->interfaces.push_back({.name = "eth0", .mac = "c2:00:00:00:00:01"});
    cni::Result r;
    REQUIRE_FALSE(addResult(c, {net("127.0.0.1/8")}, r));
    CHECK(r == *c.prevResult);

    Error e = addResult(c, {net("127.0.0.1/8"), net("10.0.0.1/8")}, r);
    CHECK(e.code == 999);
    CHECK(e.msg == R"(loopback interface found with non-loopback address "10.0.0.1")");
    c.prevResult.reset();
    e = addResult(c, {net("fd00::1/64")}, r);
    CHECK(e.code == 999);
    CHECK(e.msg == R"(loopback interface found with non-loopback address "fd00::1")");
}
