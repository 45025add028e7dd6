// The config parsers of the sublink applets (macvlan, ipvlan, vlan, dummy,
// tap): every key, its default, its valid and invalid values; strict (ADD,
// CHECK, STATUS) against non-strict (DEL, GC).
#include <catch2/catch.hpp>

#include "applets/dummy.h"
#include "applets/ipvlan.h"
#include "applets/macvlan.h"
#include "applets/tap.h"
#include "applets/vlan.h"
#include "test_applet.h"

namespace {

const std::string kIpam = R"(,"ipam":{"type":"host-local"})";

const testutil::ConfParser<applets::macvlan::Conf> macvlan{applets::macvlan::parseConf, "macvlan"};
const testutil::ConfParser<applets::ipvlan::Conf> ipvlan{applets::ipvlan::parseConf, "ipvlan"};
const testutil::ConfParser<applets::vlan::Conf> vlan{applets::vlan::parseConf, "vlan"};
const testutil::ConfParser<applets::dummy::Conf> dummy{applets::dummy::parseConf, "dummy"};
const testutil::ConfParser<applets::tap::Conf> tap{applets::tap::parseConf, "tap"};

}  // namespace

// ---------------------------------------------------------------- macvlan

TEST_CASE("macvlan config: defaults and each key", "[applet][macvlan]") {
    using applets::macvlan::Conf;
    Conf d;
    REQUIRE_FALSE(macvlan("", d));
    CHECK(d.master.empty());
    CHECK(d.mode == MACVLAN_MODE_BRIDGE);
    CHECK(d.mtu == 0);
    CHECK(d.bcqueuelen == 0);
    CHECK(d.mac.empty());
    CHECK_FALSE(d.linkInContainer);

    Conf c;
    REQUIRE_FALSE(macvlan(R"(,"master":"eth0","mode":"vepa","mtu":1400,"bcqueuelen":100,"linkInContainer":true,)"
                          R"("mac":"AA:BB:CC:DD:EE:01")",
                          c));
    CHECK(c.master == "eth0");
    CHECK(c.mode == MACVLAN_MODE_VEPA);
    CHECK(c.mtu == 1400);
    CHECK(c.bcqueuelen == 100);
    CHECK(c.linkInContainer);
    CHECK(c.mac == "aa:bb:cc:dd:ee:01");
}

TEST_CASE("macvlan config: modes", "[applet][macvlan]") {
    using applets::macvlan::Conf;
    std::pair<const char*, int> modes[] = {{"", MACVLAN_MODE_BRIDGE},           {"bridge", MACVLAN_MODE_BRIDGE},
                                           {"private", MACVLAN_MODE_PRIVATE},   {"vepa", MACVLAN_MODE_VEPA},
                                           {"passthru", MACVLAN_MODE_PASSTHRU}, {"source", MACVLAN_MODE_SOURCE}};
    for (auto [name, mode] : modes) {
        Conf c;
        REQUIRE_FALSE(macvlan(",\"mode\":\"" + std::string(name) + "\"", c));
        CHECK(c.mode == mode);
    }
    macvlan.refuses(R"(,"mode":"Bridge")", "unknown macvlan mode: \"Bridge\"");
    macvlan.refuses(R"(,"mode":"l2")", "unknown macvlan mode: \"l2\"");
    macvlan.refuses(R"(,"mode":1)", "invalid value for \"mode\": expected a string, got number", false);
    Conf lax;
    REQUIRE_FALSE(macvlan(R"(,"mode":"l2")", lax, false));
    CHECK(lax.mode == MACVLAN_MODE_BRIDGE);
}

TEST_CASE("macvlan config: numbers and types", "[applet][macvlan]") {
    using applets::macvlan::Conf;
    macvlan.refuses(R"(,"mtu":-1)", "invalid MTU -1");
    macvlan.refuses(R"(,"bcqueuelen":-5)", "invalid bcqueuelen -5");
    macvlan.refuses(R"(,"mtu":"9000")", "invalid value for \"mtu\": expected an integer, got string", false);
    macvlan.refuses(R"(,"bcqueuelen":true)", "invalid value for \"bcqueuelen\": expected an integer, got bool", false);
    macvlan.refuses(R"(,"master":["eth0"])", "invalid value for \"master\": expected a string, got array", false);
    macvlan.refuses(R"(,"linkInContainer":"no")",
                    "invalid value for \"linkInContainer\": expected a boolean, got string", false);
    Conf lax;
    REQUIRE_FALSE(macvlan(R"(,"mtu":-1,"bcqueuelen":-5)", lax, false));
    CHECK(lax.mtu == -1);
    CHECK(lax.bcqueuelen == -5);
    // The master's MTU bounds it at ADD, not here.
    Conf big;
    REQUIRE_FALSE(macvlan(R"(,"mtu":100000)", big));
    CHECK(big.mtu == 100000);
}

TEST_CASE("macvlan config: the container MAC, config < CNI_ARGS < args < runtimeConfig", "[applet][macvlan]") {
    using applets::macvlan::Conf;
    const std::string key = R"(,"mac":"aa:bb:cc:dd:ee:01")";
    Conf env;
    REQUIRE_FALSE(macvlan(key, env, true, {{"CNI_ARGS", "MAC=aa:bb:cc:dd:ee:02"}}));
    CHECK(env.mac == "aa:bb:cc:dd:ee:02");
    Conf args;
    REQUIRE_FALSE(macvlan(key + R"(,"args":{"cni":{"mac":"aa:bb:cc:dd:ee:03"}})", args, true,
                          {{"CNI_ARGS", "MAC=aa:bb:cc:dd:ee:02"}}));
    CHECK(args.mac == "aa:bb:cc:dd:ee:03");
    Conf rc;
    REQUIRE_FALSE(macvlan(
        key + R"(,"args":{"cni":{"mac":"aa:bb:cc:dd:ee:03"}},"runtimeConfig":{"mac":"aa:bb:cc:dd:ee:04"})", rc));
    CHECK(rc.mac == "aa:bb:cc:dd:ee:04");
    macvlan.refuses(R"(,"mac":"aa:bb")", "invalid MAC address \"aa:bb\" in mac");
    macvlan.refuses(R"(,"mac":5)", "invalid value for \"mac\": expected a string, got number");
    macvlan.refuses(R"(,"runtimeConfig":{"mac":"x"})", "invalid MAC address \"x\" in runtimeConfig.mac");
    Conf lax;
    REQUIRE_FALSE(macvlan(R"(,"mac":"aa:bb")", lax, false));
    CHECK(lax.mac.empty());
}

// ---------------------------------------------------------------- ipvlan

TEST_CASE("ipvlan config: defaults and each key", "[applet][ipvlan]") {
    using applets::ipvlan::Conf;
    Conf d;
    REQUIRE_FALSE(ipvlan(kIpam, d));
    CHECK(d.master.empty());
    CHECK(d.mode == IPVLAN_MODE_L2);
    CHECK(d.flags == 0);
    CHECK(d.mtu == 0);
    CHECK_FALSE(d.linkInContainer);

    Conf c;
    REQUIRE_FALSE(ipvlan(kIpam + R"(,"master":"eth0","mode":"l3s","flags":"private","mtu":1300,)"
                                 R"("linkInContainer":true)",
                         c));
    CHECK(c.master == "eth0");
    CHECK(c.mode == IPVLAN_MODE_L3S);
    CHECK(c.flags == IPVLAN_F_PRIVATE);
    CHECK(c.mtu == 1300);
    CHECK(c.linkInContainer);
}

TEST_CASE("ipvlan config: modes and flags", "[applet][ipvlan]") {
    using applets::ipvlan::Conf;
    std::pair<const char*, int> modes[] = {
        {"", IPVLAN_MODE_L2}, {"l2", IPVLAN_MODE_L2}, {"l3", IPVLAN_MODE_L3}, {"l3s", IPVLAN_MODE_L3S}};
    for (auto [name, mode] : modes) {
        Conf c;
        REQUIRE_FALSE(ipvlan(kIpam + ",\"mode\":\"" + name + "\"", c));
        CHECK(c.mode == mode);
    }
    std::pair<const char*, int> flags[] = {
        {"", 0}, {"bridge", 0}, {"private", IPVLAN_F_PRIVATE}, {"vepa", IPVLAN_F_VEPA}};
    for (auto [name, flag] : flags) {
        Conf c;
        REQUIRE_FALSE(ipvlan(kIpam + ",\"flags\":\"" + name + "\"", c));
        CHECK(c.flags == flag);
    }
    ipvlan.refuses(kIpam + R"(,"mode":"L2")", "unknown ipvlan mode: \"L2\"");
    ipvlan.refuses(kIpam + R"(,"flags":"passthru")", "unknown ipvlan flags: \"passthru\"");
    ipvlan.refuses(kIpam + R"(,"mtu":-1)", "invalid MTU -1");
    ipvlan.refuses(kIpam + R"(,"flags":0)", "invalid value for \"flags\": expected a string, got number", false);
    Conf lax;
    REQUIRE_FALSE(ipvlan(kIpam + R"(,"mode":"L2","flags":"x","mtu":-1)", lax, false));
    CHECK(lax.mode == IPVLAN_MODE_L2);
    CHECK(lax.flags == 0);
}

TEST_CASE("ipvlan config: ADD needs an IPAM type or a prevResult with IPs", "[applet][ipvlan]") {
    using applets::ipvlan::Conf;
    ipvlan.refuses("", "ipvlan: IPAM config missing \"type\" and prevResult has no IPs");
    ipvlan.refuses(R"(,"prevResult":{"cniVersion":"1.0.0","ips":[]})",
                   "ipvlan: IPAM config missing \"type\" and prevResult has no IPs");
    Conf chained;
    CHECK_FALSE(ipvlan(R"(,"prevResult":{"cniVersion":"1.0.0","ips":[{"address":"10.1.2.3/24"}]})", chained));
    // Only ADD: CHECK, STATUS, DEL and GC go on without.
    Conf other;
    CHECK_FALSE(ipvlan("", other, true, {}, cni::Command::Check));
    CHECK_FALSE(ipvlan("", other, false, {}, cni::Command::Del));
}

// ---------------------------------------------------------------- vlan

TEST_CASE("vlan config: defaults and each key", "[applet][vlan]") {
    using applets::vlan::Conf;
    Conf d;
    REQUIRE_FALSE(vlan(kIpam, d, false));
    CHECK(d.master.empty());
    CHECK(d.vlanId == -1);
    CHECK(d.mtu == 0);
    CHECK_FALSE(d.linkInContainer);

    Conf c;
    REQUIRE_FALSE(vlan(kIpam + R"(,"master":"eth0","vlanId":0,"mtu":1496,"linkInContainer":true)", c));
    CHECK(c.master == "eth0");
    CHECK(c.vlanId == 0);
    CHECK(c.mtu == 1496);
    CHECK(c.linkInContainer);
    Conf top;
    REQUIRE_FALSE(vlan(kIpam + R"(,"master":"eth0","vlanId":4094)", top));
    CHECK(top.vlanId == 4094);
}

TEST_CASE("vlan config: what is required and checked", "[applet][vlan]") {
    using applets::vlan::Conf;
    for (bool strict : {true, false})
        vlan.refuses(R"(,"master":"eth0","vlanId":5)", "vlan: the \"ipam\" key with a \"type\" is required", strict);
    vlan.refuses(kIpam + R"(,"vlanId":5)",
                 "\"master\" field is required. It specifies the host interface name to create the VLAN for");
    vlan.refuses(kIpam + R"(,"master":"eth0")", "VLAN ID is required");
    vlan.refuses(kIpam + R"(,"master":"eth0","vlanId":null)", "VLAN ID is required");
    vlan.refuses(kIpam + R"(,"master":"eth0","vlanId":4095)",
                 "invalid VLAN ID 4095 (must be between 0 and 4094 inclusive)");
    vlan.refuses(kIpam + R"(,"master":"eth0","vlanId":-2)",
                 "invalid VLAN ID -2 (must be between 0 and 4094 inclusive)");
    vlan.refuses(kIpam + R"(,"master":"eth0","vlanId":5,"mtu":-1)", "invalid MTU -1");
    vlan.refuses(kIpam + R"(,"vlanId":"5")", "invalid value for \"vlanId\": expected an integer, got string", false);
    Conf lax;
    REQUIRE_FALSE(vlan(kIpam + R"(,"vlanId":4095,"mtu":-1)", lax, false));
    CHECK(lax.vlanId == 4095);
}

// ---------------------------------------------------------------- dummy

TEST_CASE("dummy config: an IPAM type is required", "[applet][dummy]") {
    using applets::dummy::Conf;
    for (bool strict : {true, false}) {
        Conf c;
        CHECK_FALSE(dummy(kIpam, c, strict));
        dummy.refuses("", "dummy: the \"ipam\" key with a \"type\" is required", strict);
        dummy.refuses(R"(,"ipam":{"subnet":"10.0.0.0/24"})", "dummy: the \"ipam\" key with a \"type\" is required",
                      strict);
    }
}

// ---------------------------------------------------------------- tap

TEST_CASE("tap config: defaults and each key", "[applet][tap]") {
    using applets::tap::Conf;
    Conf d;
    REQUIRE_FALSE(tap("", d));
    CHECK(d.mac.empty());
    CHECK(d.mtu == 0);
    CHECK_FALSE(d.multiQueue);
    CHECK(d.owner == -1);
    CHECK(d.group == -1);
    CHECK(d.bridge.empty());
    CHECK(d.selinuxContext.empty());

    Conf c;
    REQUIRE_FALSE(tap(R"(,"mac":"AA-BB-CC-DD-EE-01","mtu":9000,"multiQueue":true,"owner":1000,"group":0,)"
                      R"("bridge":"br0")",
                      c));
    CHECK(c.mac == "aa:bb:cc:dd:ee:01");
    CHECK(c.mtu == 9000);
    CHECK(c.multiQueue);
    CHECK(c.owner == 1000);
    CHECK(c.group == 0);
    CHECK(c.bridge == "br0");
    Conf maxId;
    REQUIRE_FALSE(tap(R"(,"owner":4294967295)", maxId));
    CHECK(maxId.owner == 4294967295LL);
}

TEST_CASE("tap config: what is refused", "[applet][tap]") {
    using applets::tap::Conf;
    tap.refuses(R"(,"mtu":67)", "invalid mtu 67 (must be 68..65535)");
    tap.refuses(R"(,"mtu":65536)", "invalid mtu 65536 (must be 68..65535)");
    tap.refuses(R"(,"owner":-1)", "invalid value for \"owner\": -1 is out of range 0..4294967295", false);
    tap.refuses(R"(,"group":4294967296)", "invalid value for \"group\": 4294967296 is out of range 0..4294967295",
                false);
    tap.refuses(R"(,"group":"wheel")", "invalid value for \"group\": expected an integer, got string", false);
    tap.refuses(R"(,"multiQueue":1)", "invalid value for \"multiQueue\": expected a boolean, got number", false);
    tap.refuses(R"(,"bridge":1)", "invalid value for \"bridge\": expected a string, got number", false);
    tap.refuses(R"(,"selinuxContext":1)", "invalid value for \"selinuxContext\": expected a string, got number", false);
    tap.refuses(R"(,"mac":"nope")", "invalid MAC address \"nope\" in mac");

    Conf se;
    cni::Error e = tap(R"(,"selinuxContext":"system_u:object_r:container_t:s0")", se);
    CHECK(e.code == cni::kUnsupportedField);
    CHECK(e.msg == "selinuxContext is not supported by cnibox's tap");
    CHECK(e.details == "remove \"selinuxContext\" (the tap is created without an SELinux label)");

    // DEL and GC take them as they are.
    Conf lax;
    REQUIRE_FALSE(tap(R"(,"mtu":67,"selinuxContext":"x","mac":"nope")", lax, false));
    CHECK(lax.mtu == 67);
    CHECK(lax.selinuxContext == "x");
    CHECK(lax.mac.empty());
}

TEST_CASE("tap config: the container MAC from CNI_ARGS, args and runtimeConfig", "[applet][tap]") {
    using applets::tap::Conf;
    Conf env;
    REQUIRE_FALSE(tap(R"(,"mac":"aa:bb:cc:dd:ee:01")", env, true,
                      {{"CNI_ARGS", "IgnoreUnknown=1;MAC=aa:bb:cc:dd:ee:02;K8S_POD_NAME=p"}}));
    CHECK(env.mac == "aa:bb:cc:dd:ee:02");
    Conf rc;
    REQUIRE_FALSE(tap(R"(,"args":{"cni":{"mac":"aa:bb:cc:dd:ee:03"}},"runtimeConfig":{"mac":""})", rc));
    CHECK(rc.mac == "aa:bb:cc:dd:ee:03");
    Conf bad;
    cni::Error e = tap("", bad, true, {{"CNI_ARGS", "MAC=aa:bb:cc:dd:ee"}});
    CHECK(e.code == cni::kInvalidNetConf);
    CHECK(e.msg == "invalid MAC address \"aa:bb:cc:dd:ee\" in CNI_ARGS");
}
