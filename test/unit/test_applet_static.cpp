// static's config parser (applets::static_::parseConf over the skel's
// CmdArgs): every key's default, valid values, the order of the address
// sources, and each invalid value's code and text.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "applets/static.h"
#include "helpers.h"
#include "test_applet.h"

using applets::static_::Conf;

namespace {

std::string config(const std::string& ipam, const std::string& top = "", const char* version = "1.0.0") {
    return std::string(R"({"cniVersion":")") + version + R"(","name":"net1","type":"static","ipam":{)" + ipam + "}" +
           top + "}";
}

constexpr testutil::IpamConfParser<Conf, applets::static_::parseConf> parse;

// "address[ gw gateway]" for each address.
std::vector<std::string> addrs(const Conf& c) {
    std::vector<std::string> out;
    for (const auto& a : c.addresses) out.push_back(a.address.str() + (a.gateway ? " gw " + a.gateway->str() : ""));
    return out;
}

}  // namespace

TEST_CASE("static applet config: defaults", "[applet][static]") {
    Conf c = parse.ok(config(""));
    CHECK(c.addresses.empty());
    CHECK(c.routes.empty());
    CHECK(c.dns.empty());
}

TEST_CASE("static applet config: addresses", "[applet][static]") {
    Conf c = parse.ok(config(R"("addresses":[{"address":"10.1.2.3/24","gateway":"10.1.2.1"},{"address":"fd00::3/64"}])"));
    CHECK(addrs(c) == std::vector<std::string>{"10.1.2.3/24 gw 10.1.2.1", "fd00::3/64"});
    // Host bits stay: the address is the interface's, not a network.
    CHECK(parse.ok(config(R"("addresses":[{"address":"10.1.2.3/8"}])")).addresses[0].address.str() == "10.1.2.3/8");

    struct Row {
        const char* ipam;
        const char* want;
    };
    const Row rows[] = {
        {R"("addresses":{"address":"10.1.2.3/24"})", "7 invalid value for \"addresses\": expected a list"},
        {R"("addresses":["10.1.2.3/24"])", "7 invalid value for \"addresses\": expected objects"},
        {R"("addresses":[{"address":"10.1.2.3"}])",
         "7 the 'address' field is expected to be in CIDR notation, got: '10.1.2.3'"},
        {R"("addresses":[{}])", "7 the 'address' field is expected to be in CIDR notation, got: ''"},
        {R"("addresses":[{"address":7}])", "7 invalid value for \"address\": expected a string, got number"},
        {R"("addresses":[{"address":"10.1.2.3/24","gateway":"nope"}])", "7 invalid IP address \"nope\" in \"gateway\""},
        {R"("addresses":[{"address":"10.1.2.3/24","gateway":7}])", "7 invalid value for \"gateway\": expected a string, got number"},
    };
    for (const auto& r : rows) {
        INFO(r.ipam);
        CHECK(parse.outcome(config(r.ipam)) == r.want);
    }
}

TEST_CASE("static applet config: more than one address per family needs 0.3.0", "[applet][static]") {
    const char* two = R"("addresses":[{"address":"10.1.2.3/24"},{"address":"10.1.3.3/24"}])";
    CHECK(parse.outcome(config(two, "", "0.2.0")) == "7 CNI version 0.2.0 does not support more than 1 address per family");
    CHECK(parse.outcome(config(two, "", "0.3.0")) == "ok");
    CHECK(parse.outcome(config(R"("addresses":[{"address":"10.1.2.3/24"},{"address":"fd00::3/64"}])", "", "0.2.0")) ==
          "ok");
    // Counted after every source is in: CNI_ARGS adds the second.
    CHECK(parse.outcome(config(R"("addresses":[{"address":"10.1.2.3/24"}])", "", "0.2.0"), "IP=10.1.3.3/24") ==
          "7 CNI version 0.2.0 does not support more than 1 address per family");
}

TEST_CASE("static applet config: routes and dns", "[applet][static]") {
    Conf c = parse.ok(config(R"("routes":[{"dst":"0.0.0.0/0","gw":"10.1.2.1"},{"dst":"fd99::/64"}],)"
                       R"("dns":{"nameservers":["10.1.2.53","fd00::53"],"domain":"example.test",)"
                       R"("search":["a.example.test"],"options":["ndots:2"]})"));
    REQUIRE(c.routes.size() == 2);
    CHECK(c.routes[0].dst.str() == "0.0.0.0/0");
    CHECK(c.routes[0].gw->str() == "10.1.2.1");
    CHECK(c.routes[1].dst.str() == "fd99::/64");
    CHECK_FALSE(c.routes[1].gw);
    CHECK(c.dns.nameservers == std::vector<std::string>{"10.1.2.53", "fd00::53"});
    CHECK(c.dns.domain == "example.test");
    CHECK(c.dns.search == std::vector<std::string>{"a.example.test"});
    CHECK(c.dns.options == std::vector<std::string>{"ndots:2"});

    CHECK(parse.outcome(config(R"("routes":[{"dst":"x"}])")) == "7 invalid CIDR address \"x\" in \"dst\"");
    CHECK(parse.outcome(config(R"("routes":[{"dst":"0.0.0.0/0","gw":"x"}])")) == "7 invalid IP address \"x\" in \"gw\"");
    CHECK(parse.outcome(config(R"("routes":"0.0.0.0/0")")) == "7 invalid value for \"routes\": expected a list of routes, got string");
    CHECK(parse.outcome(config(R"("dns":[])")) == "7 invalid value for \"dns\": expected an object, got array");
    CHECK(parse.outcome(config(R"("dns":{"nameservers":"10.1.2.53"})")) == "7 invalid value for \"nameservers\": expected a list of strings, got string");
    CHECK(parse.outcome(config(R"("dns":{"domain":7})")) == "7 invalid value for \"domain\": expected a string, got number");
}

TEST_CASE("static applet config: CNI_ARGS IP and GATEWAY", "[applet][static]") {
    const char* one = R"("addresses":[{"address":"10.1.2.3/24","gateway":"10.1.2.1"}])";
    Conf c = parse.ok(config(one), "IP=10.1.3.3/24, fd00::3/64;GATEWAY=10.1.3.1,fd00::1,10.1.2.254");
    // Appended; each gateway goes to the CNI_ARGS addresses that contain it.
    CHECK(addrs(c) == std::vector<std::string>{"10.1.2.3/24 gw 10.1.2.1", "10.1.3.3/24 gw 10.1.3.1",
                                               "fd00::3/64 gw fd00::1"});
    CHECK(addrs(parse.ok(config(""), "IgnoreUnknown=1;K8S_POD_NAME=x;IP=")) == std::vector<std::string>{});

    CHECK(parse.outcome(config(""), "IP=10.1.3.3") ==
          "4 the 'ip' field is expected to be in CIDR notation, got: '10.1.3.3'");
    CHECK(parse.outcome(config(""), "IP=10.1.3.3/24,") == "4 the 'ip' field is expected to be in CIDR notation, got: ''");
    CHECK(parse.outcome(config(""), "IP=10.1.3.3/24;GATEWAY=nope") == "4 invalid gateway address: nope");
    CHECK(parse.outcome(config(""), "FOO=bar") == "4 ARGS: unknown args [\"FOO=bar\"]");
}

TEST_CASE("static applet config: args.cni.ips and runtimeConfig.ips replace the addresses", "[applet][static]") {
    const char* one = R"("addresses":[{"address":"10.1.2.3/24","gateway":"10.1.2.1"}])";
    Conf c = parse.ok(config(one, R"(,"args":{"cni":{"ips":["10.1.4.4/24"]}})"), "IP=10.1.3.3/24");
    CHECK(addrs(c) == std::vector<std::string>{"10.1.4.4/24"});
    c = parse.ok(config(one, R"(,"args":{"cni":{"ips":["10.1.4.4/24"]}},"runtimeConfig":{"ips":["10.1.5.5/24"]})"));
    CHECK(addrs(c) == std::vector<std::string>{"10.1.5.5/24"});
    // Empty lists replace nothing.
    c = parse.ok(config(one, R"(,"args":{"cni":{"ips":[]}},"runtimeConfig":{"ips":[]})"));
    CHECK(addrs(c) == std::vector<std::string>{"10.1.2.3/24 gw 10.1.2.1"});
    // A bad configured address replaced before it is parsed is no error (as upstream).
    c = parse.ok(config(R"("addresses":[{"address":"bad"}])", R"(,"runtimeConfig":{"ips":["10.1.5.5/24"]})"));
    CHECK(addrs(c) == std::vector<std::string>{"10.1.5.5/24"});

    CHECK(parse.outcome(config(one, R"(,"args":{"cni":{"ips":["10.1.4.4"]}})")) ==
          "7 an entry in the 'ips' field is NOT in CIDR notation, got: '10.1.4.4'");
    CHECK(parse.outcome(config(one, R"(,"runtimeConfig":{"ips":["x/24"]})")) ==
          "7 an entry in the 'ips' field is NOT in CIDR notation, got: 'x/24'");
    CHECK(parse.outcome(config(one, R"(,"runtimeConfig":{"ips":"10.1.4.4/24"})")) == "7 invalid value for \"ips\": expected a list of strings, got string");
}

TEST_CASE("static applet config: the ipam object", "[applet][static]") {
    CHECK(parse.outcome(R"({"cniVersion":"1.0.0","name":"net1","type":"static"})") == "7 IPAM config missing 'ipam' key");
}
