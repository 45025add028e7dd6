// host-local's config parser as the applet runs it (applets::host_local::
// parseConf over the skel's CmdArgs): every key's default, valid values,
// and each invalid value's code and text.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <string>
#include <vector>

#include "applets/host_local.h"
#include "helpers.h"
#include "test_applet.h"

using ipam::HostLocalConfig;

namespace {

const char* kRange = R"("ranges":[[{"subnet":"10.1.2.0/24"}]])";

// The config {"cniVersion","name":"net1","type":"host-local","ipam":{<ipam>}<top>}.
std::string config(const std::string& ipam, const std::string& top = "", const char* version = "1.0.0") {
    return std::string(R"({"cniVersion":")") + version + R"(","name":"net1","type":"host-local","ipam":{)" + ipam +
           "}" + top + "}";
}

constexpr testutil::IpamConfParser<HostLocalConfig, applets::host_local::parseConf> parse;

std::vector<std::string> ranges(const HostLocalConfig& c) {
    std::vector<std::string> out;
    for (const auto& set : c.ranges) {
        std::string s;
        for (const auto& r : set) {
            if (!s.empty()) s += ',';
            s.append(r.subnet.str()).append(" ").append(r.str()).append(" gw ").append(r.gateway.str());
        }
        out.push_back(s);
    }
    return out;
}

// Sets an environment variable for one scope.
struct ScopedEnv {
    std::string name;
    ScopedEnv(const char* n, const char* v) : name(n) { v ? setenv(n, v, 1) : unsetenv(n); }
    ~ScopedEnv() { unsetenv(name.c_str()); }
};

}  // namespace

TEST_CASE("host-local applet config: defaults", "[applet][host-local]") {
    ScopedEnv env(ipam::LeaseIndex::kEnv, nullptr);
    HostLocalConfig c = parse.ok(config(kRange));
    CHECK(c.name == "net1");
    CHECK(c.cniVersion == "1.0.0");
    CHECK(ranges(c) == std::vector<std::string>{"10.1.2.0/24 10.1.2.1-10.1.2.254 gw 10.1.2.1"});
    CHECK(c.routes.empty());
    CHECK(c.dataDir == "/var/lib/cni/networks");
    CHECK(c.dir() == "/var/lib/cni/networks/net1");
    CHECK(c.resolvConf.empty());
    CHECK(c.requested.empty());
    CHECK(c.index == ipam::LeaseIndex::Use::On);
    // IPv6: the last address of the subnet is handed out too.
    c = parse.ok(config(R"("ranges":[[{"subnet":"fd00::/120"}]])"));
    CHECK(ranges(c) == std::vector<std::string>{"fd00::/120 fd00::1-fd00::ff gw fd00::1"});
}

TEST_CASE("host-local applet config: ranges", "[applet][host-local]") {
    HostLocalConfig c = parse.ok(config(R"("ranges":[
        [{"subnet":"10.1.2.0/24","rangeStart":"10.1.2.10","rangeEnd":"10.1.2.20","gateway":"10.1.2.254"},
         {"subnet":"10.1.3.0/29"}],
        [{"subnet":"fd00::/64","rangeStart":"fd00::100"}]])"));
    CHECK(ranges(c) == std::vector<std::string>{
                           "10.1.2.0/24 10.1.2.10-10.1.2.20 gw 10.1.2.254,10.1.3.0/29 10.1.3.1-10.1.3.6 gw 10.1.3.1",
                           "fd00::/64 fd00::100-fd00::ffff:ffff:ffff:ffff gw fd00::1"});

    struct Row {
        const char* ipam;
        const char* want;
    };
    const Row rows[] = {
        {R"("ranges":[])", "7 no IP ranges specified"},
        {R"("ranges":{"subnet":"10.1.2.0/24"})", "7 ranges must be a list of range sets"},
        {R"("ranges":[{"subnet":"10.1.2.0/24"}])", "7 ranges[0] must be a list of ranges"},
        {R"("ranges":[["10.1.2.0/24"]])", "7 ranges[0][0] must be an object"},
        {R"("ranges":[[]])", "7 invalid range set 0: empty range set"},
        {R"("ranges":[[{"rangeStart":"10.1.2.5"}]])", "7 invalid range set 0: missing subnet"},
        {R"("ranges":[[{"subnet":7}]])", "7 invalid value for \"subnet\": expected a string, got number"},
        {R"("ranges":[[{"subnet":"10.1.2.300/24"}]])", "7 invalid CIDR address \"10.1.2.300/24\" in \"subnet\""},
        {R"("ranges":[[{"subnet":"10.1.2.0"}]])", "7 invalid CIDR address \"10.1.2.0\" in \"subnet\""},
        {R"("ranges":[[{"subnet":"10.1.2.5/24"}]])",
         "7 invalid range set 0: Network has host bits set. For a subnet mask of length 24 the network address is "
         "10.1.2.0"},
        {R"("ranges":[[{"subnet":"10.1.2.0/31"}]])",
         "7 invalid range set 0: Network 10.1.2.0/31 too small to allocate from"},
        {R"("ranges":[[{"subnet":"fd00::/127"}]])", "7 invalid range set 0: Network fd00::/127 too small to allocate from"},
        {R"("ranges":[[{"subnet":"10.1.2.0/24","rangeStart":"10.1.3.5"}]])", "7 invalid range set 0: RangeStart 10.1.3.5 not in network 10.1.2.0/24"},
        {R"("ranges":[[{"subnet":"10.1.2.0/24","rangeEnd":"10.1.3.5"}]])", "7 invalid range set 0: RangeEnd 10.1.3.5 not in network 10.1.2.0/24"},
        {R"("ranges":[[{"subnet":"10.1.2.0/24","rangeStart":"nope"}]])", "7 invalid IP address \"nope\" in \"rangeStart\""},
        {R"("ranges":[[{"subnet":"10.1.2.0/24","rangeEnd":7}]])", "7 invalid value for \"rangeEnd\": expected a string, got number"},
        {R"("ranges":[[{"subnet":"10.1.2.0/24","gateway":"nope"}]])", "7 invalid IP address \"nope\" in \"gateway\""},
        {R"("ranges":[[{"subnet":"10.1.2.0/24","rangeStart":"10.1.2.50","rangeEnd":"10.1.2.10"}]])", "7 invalid range set 0: RangeStart 10.1.2.50 not in network 10.1.2.0/24"},
        {R"("ranges":[[{"subnet":"10.1.2.0/24"},{"subnet":"fd00::/64"}]])", "7 invalid range set 0: mixed address families"},
        {R"("ranges":[[{"subnet":"10.1.2.0/24"},{"subnet":"10.1.2.0/25"}]])", "7 invalid range set 0: subnets 10.1.2.1-10.1.2.254 and 10.1.2.1-10.1.2.126 overlap"},
        {R"("ranges":[[{"subnet":"10.1.2.0/24"}],[{"subnet":"10.1.2.128/25"}]])", "7 range set 0 overlaps with 1"},
    };
    for (const auto& r : rows) {
        INFO(r.ipam);
        CHECK(parse.outcome(config(r.ipam)) == r.want);
    }
}

TEST_CASE("host-local applet config: more than one address per family needs 0.3.0", "[applet][host-local]") {
    const char* two = R"("ranges":[[{"subnet":"10.1.2.0/24"}],[{"subnet":"10.1.3.0/24"}]])";
    CHECK(parse.outcome(config(two, "", "0.2.0")) == "7 CNI version 0.2.0 does not support more than 1 address per family");
    CHECK(parse.outcome(config(two, "", "0.3.0")) == "ok");
    CHECK(parse.outcome(config(R"("ranges":[[{"subnet":"10.1.2.0/24"}],[{"subnet":"fd00::/64"}]])", "", "0.2.0")) == "ok");
}

TEST_CASE("host-local applet config: the top-level range (subnet, rangeStart, rangeEnd, gateway)",
          "[applet][host-local]") {
    HostLocalConfig c =
        parse.ok(config(R"("subnet":"10.1.1.0/24","rangeStart":"10.1.1.50","rangeEnd":"10.1.1.60","gateway":"10.1.1.1")"));
    CHECK(ranges(c) == std::vector<std::string>{"10.1.1.0/24 10.1.1.50-10.1.1.60 gw 10.1.1.1"});
    // It comes after runtimeConfig.ipRanges and before `ranges`.
    c = parse.ok(config(R"("subnet":"10.1.1.0/24",)" + std::string(kRange),
                  R"(,"runtimeConfig":{"ipRanges":[[{"subnet":"10.1.9.0/24"}]]})"));
    CHECK(ranges(c) == std::vector<std::string>{"10.1.9.0/24 10.1.9.1-10.1.9.254 gw 10.1.9.1",
                                                "10.1.1.0/24 10.1.1.1-10.1.1.254 gw 10.1.1.1",
                                                "10.1.2.0/24 10.1.2.1-10.1.2.254 gw 10.1.2.1"});
    // Without a subnet the other three are ignored.
    CHECK(parse.outcome(config(R"("rangeStart":"10.1.1.50")")) == "7 no IP ranges specified");
    CHECK(parse.outcome(config(R"("subnet":"nope")")) == "7 invalid CIDR address \"nope\" in \"subnet\"");
    CHECK(parse.outcome(config(R"("subnet":"10.1.1.0/24","rangeStart":"10.1.2.5")")) == "7 invalid range set 0: RangeStart 10.1.2.5 not in network 10.1.1.0/24");
    CHECK(parse.outcome(config(R"("subnet":"10.1.1.0/24","gateway":"x")")) == "7 invalid IP address \"x\" in \"gateway\"");
    CHECK(parse.outcome(config(R"("subnet":"10.1.1.0/24","ranges":[[{"subnet":"10.1.1.0/25"}]])")) ==
          "7 range set 0 overlaps with 1");
}

TEST_CASE("host-local applet config: routes", "[applet][host-local]") {
    HostLocalConfig c = parse.ok(config(std::string(kRange) +
                                  R"(,"routes":[{"dst":"0.0.0.0/0"},{"dst":"192.168.0.0/16","gw":"10.1.2.9"},)"
                                  R"({"dst":"fd99::/64","gw":"fd00::9","mtu":1400,"priority":5}])"));
    REQUIRE(c.routes.size() == 3);
    CHECK(c.routes[0].dst.str() == "0.0.0.0/0");
    CHECK_FALSE(c.routes[0].gw);
    CHECK(c.routes[1].gw->str() == "10.1.2.9");
    CHECK(c.routes[2].dst.str() == "fd99::/64");
    CHECK(c.routes[2].mtu == 1400);
    CHECK(c.routes[2].priority == 5);
    CHECK(parse.outcome(config(std::string(kRange) + R"(,"routes":[{"dst":"notanet"}])")) == "7 invalid CIDR address \"notanet\" in \"dst\"");
    CHECK(parse.outcome(config(std::string(kRange) + R"(,"routes":[{"dst":"0.0.0.0/0","gw":"xx"}])")) == "7 invalid IP address \"xx\" in \"gw\"");
    CHECK(parse.outcome(config(std::string(kRange) + R"(,"routes":["0.0.0.0/0"])")) == "7 invalid value for \"routes\": expected a list of route objects, got array");
    CHECK(parse.outcome(config(std::string(kRange) + R"(,"routes":{"dst":"0.0.0.0/0"})")) == "7 invalid value for \"routes\": expected a list of routes, got object");
}

TEST_CASE("host-local applet config: dataDir", "[applet][host-local]") {
    HostLocalConfig c = parse.ok(config(std::string(kRange) + R"(,"dataDir":"/run/x/")"));
    CHECK(c.dataDir == "/run/x/");
    CHECK(c.dir() == "/run/x/net1");
    c = parse.ok(config(std::string(kRange) + R"(,"dataDir":"")"));
    CHECK(c.dataDir == "/var/lib/cni/networks");
    CHECK(parse.outcome(config(std::string(kRange) + R"(,"dataDir":7)")) == "7 invalid value for \"dataDir\": expected a string, got number");
    // upstream resolves a relative one against the runtime's working directory
    const std::string refused = "7 dataDir must be an absolute path without \"..\" components (at most 4095 bytes), got ";
    CHECK(parse.outcome(config(std::string(kRange) + R"(,"dataDir":"rel/dir")")) == refused + "\"rel/dir\"");
    CHECK(parse.outcome(config(std::string(kRange) + R"(,"dataDir":"/x/../etc")")) == refused + "\"/x/../etc\"");
    CHECK(parse.outcome(config(std::string(kRange) + R"(,"dataDir":"..")")) == refused + "\"..\"");
}

TEST_CASE("host-local applet config: resolvConf", "[applet][host-local]") {
    HostLocalConfig c = parse.ok(config(std::string(kRange) + R"(,"resolvConf":"/etc/resolv.conf")"));
    CHECK(c.resolvConf == "/etc/resolv.conf");
    CHECK(parse.outcome(config(std::string(kRange) + R"(,"resolvConf":["x"])")) == "7 invalid value for \"resolvConf\": expected a string, got array");
}

TEST_CASE("host-local applet config: requested addresses", "[applet][host-local]") {
    HostLocalConfig c = parse.ok(config(kRange, R"(,"args":{"cni":{"ips":["10.1.2.8/24","10.1.2.9"]}},)"
                                          R"("runtimeConfig":{"ips":["10.1.2.10","10.1.2.8"]})"),
                           "IgnoreUnknown=1;K8S_POD_NAME=x;IP=10.1.2.7/24");
    std::vector<std::string> req;
    for (const auto& ip : c.requested) req.push_back(ip.str());
    // CNI_ARGS, args.cni.ips, runtimeConfig.ips; duplicates once.
    CHECK(req == std::vector<std::string>{"10.1.2.7", "10.1.2.8", "10.1.2.9", "10.1.2.10"});
    CHECK(parse.ok(config(kRange), "IP=").requested.empty());

    CHECK(parse.outcome(config(kRange), "IP=10.1.2.300") == "4 ARGS: error parsing value of pair \"IP=10.1.2.300\": invalid IP address 10.1.2.300");
    CHECK(parse.outcome(config(kRange), "IP=10.1.2.9,10.1.2.10") ==
          "4 ARGS: error parsing value of pair \"IP=10.1.2.9,10.1.2.10\": invalid IP address 10.1.2.9,10.1.2.10");
    CHECK(parse.outcome(config(kRange), "K8S_POD_NAME=x") == "4 ARGS: unknown args [\"K8S_POD_NAME=x\"]");
    CHECK(parse.outcome(config(kRange), "IP") == "4 ARGS: invalid pair \"IP\"");
    CHECK(parse.outcome(config(kRange, R"(,"args":{"cni":{"ips":["notip"]}})")) == "7 invalid IP address notip");
    CHECK(parse.outcome(config(kRange, R"(,"args":{"cni":{"ips":"10.1.2.9"}})")) == "7 invalid value for \"ips\": expected a list of strings, got string");
    CHECK(parse.outcome(config(kRange, R"(,"runtimeConfig":{"ips":["10.1.2.9/33"]})")) == "7 invalid IP address 10.1.2.9/33");
    CHECK(parse.outcome(config(kRange, R"(,"runtimeConfig":{"ips":[7]})")) == "7 invalid value for \"ips\": expected a list of strings, got array");
    CHECK(parse.outcome(config(kRange, R"(,"runtimeConfig":{"ipRanges":[[{"subnet":"10.1.2.0/25"}]]})")) ==
          "7 range set 0 overlaps with 1");
    CHECK(parse.outcome(config(kRange, R"(,"runtimeConfig":{"ipRanges":"x"})")) == "7 runtimeConfig.ipRanges must be a list of range sets");
}

TEST_CASE("host-local applet config: the ipam object", "[applet][host-local]") {
    CHECK(parse.outcome(R"({"cniVersion":"1.0.0","name":"net1","type":"host-local"})") ==
          "7 IPAM config missing 'ipam' key");
    // A non-object `ipam` is refused by the skel already (ipam::ipamObject's
    // own text is tested with the loader).
    CHECK(parse.outcome(config("")) == "7 no IP ranges specified");
}

TEST_CASE("host-local applet config: the index switch comes from CNIBOX_HOSTLOCAL_INDEX", "[applet][host-local]") {
    struct Row {
        const char* value;
        ipam::LeaseIndex::Use want;
    };
    using ipam::LeaseIndex;
    const Row rows[] = {{nullptr, LeaseIndex::Use::On}, {"1", LeaseIndex::Use::On},   {"", LeaseIndex::Use::On},
                        {"0", LeaseIndex::Use::Off},    {"off", LeaseIndex::Use::Off}, {"FALSE", LeaseIndex::Use::Off},
                        {"no", LeaseIndex::Use::Off},   {"on", LeaseIndex::Use::On}};
    for (const auto& r : rows) {
        INFO((r.value ? r.value : "(unset)"));
        ScopedEnv env(LeaseIndex::kEnv, r.value);
        CHECK(parse.ok(config(kRange)).index == r.want);
    }
}
