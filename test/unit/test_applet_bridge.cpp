// bridge's config parser: every key, its default, its valid and invalid
// values; strict (ADD, CHECK, STATUS) against non-strict (DEL, GC).
#include <catch2/catch.hpp>

#include "applets/bridge.h"
#include "test_applet.h"

using applets::bridge::Conf;
using applets::bridge::parseConf;

namespace {

const testutil::ConfParser<Conf> parse{parseConf, "bridge"};
const std::string kIpam = R"(,"ipam":{"type":"host-local"})";

}  // namespace

TEST_CASE("bridge config: defaults", "[applet][bridge]") {
    Conf c;
    REQUIRE_FALSE(parse("", c));
    CHECK(c.bridge == "cni0");
    CHECK_FALSE(c.isGateway);
    CHECK_FALSE(c.isDefaultGateway);
    CHECK_FALSE(c.forceAddress);
    CHECK(c.mtu == 0);
    CHECK_FALSE(c.promiscMode);
    CHECK_FALSE(c.hairpinMode);
    CHECK_FALSE(c.enableDad);
    CHECK_FALSE(c.portIsolation);
    CHECK_FALSE(c.disableContainerInterface);
    CHECK(c.vlan == 0);
    CHECK(c.trunk.empty());
    CHECK_FALSE(c.preserveDefaultVlan);
    CHECK(c.mac.empty());
    CHECK_FALSE(c.layer3);
    CHECK_FALSE(c.ipMasq);
    CHECK_FALSE(c.masqBackend);
    CHECK_FALSE(c.macspoofchk);
    CHECK_FALSE(c.vlanFiltering());
}

TEST_CASE("bridge config: bridge name", "[applet][bridge]") {
    Conf c;
    REQUIRE_FALSE(parse(R"(,"bridge":"br-test")", c));
    CHECK(c.bridge == "br-test");
    Conf empty;
    REQUIRE_FALSE(parse(R"(,"bridge":"")", empty));
    CHECK(empty.bridge == "cni0");
    // Go's JSON matches keys case-insensitively.
    Conf folded;
    REQUIRE_FALSE(parse(R"(,"Bridge":"br1")", folded));
    CHECK(folded.bridge == "br1");

    for (bool strict : {true, false}) {
        Conf bad;
        cni::Error e = parse(R"(,"bridge":"a/b")", bad, strict);
        CHECK(e.code == cni::kInvalidNetConf);
        CHECK(e.msg == "invalid bridge name \"a/b\"");
        CHECK(e.details == "interface name contains / or : or whitespace characters");
        e = parse(R"(,"bridge":"abcdefghijklmnop")", bad, strict);
        CHECK(e.msg == "invalid bridge name \"abcdefghijklmnop\"");
        CHECK(e.details == "interface name is too long");
        e = parse(R"(,"bridge":5)", bad, strict);
        CHECK(e.code == cni::kInvalidNetConf);
        CHECK(e.msg == "invalid value for \"bridge\": expected a string, got number");
    }
}

TEST_CASE("bridge config: an IPAM type makes it layer 3; ipMasq only then", "[applet][bridge]") {
    Conf l2;
    REQUIRE_FALSE(parse(R"(,"ipMasq":true)", l2));
    CHECK_FALSE(l2.layer3);
    CHECK_FALSE(l2.ipMasq);
    Conf l3;
    REQUIRE_FALSE(parse(R"(,"ipMasq":true)" + kIpam, l3));
    CHECK(l3.layer3);
    CHECK(l3.ipMasq);
    Conf del;
    REQUIRE_FALSE(parse(R"(,"ipMasq":true)" + kIpam, del, false));
    CHECK(del.ipMasq);
    parse.refuses(R"(,"ipMasq":"yes")", "invalid value for \"ipMasq\": expected a boolean, got string", false);
}

TEST_CASE("bridge config: macspoofchk, in both modes", "[applet][bridge]") {
    for (bool strict : {true, false}) {
        Conf c;
        REQUIRE_FALSE(parse(R"(,"macspoofchk":true)", c, strict));
        CHECK(c.macspoofchk);
    }
    parse.refuses(R"(,"macspoofchk":1)", "invalid value for \"macspoofchk\": expected a boolean, got number", false);
}

TEST_CASE("bridge config: the boolean keys", "[applet][bridge]") {
    Conf c;
    REQUIRE_FALSE(parse(R"(,"isGateway":true,"forceAddress":true,"hairpinMode":true,"enabledad":true,)"
                        R"("portIsolation":true,"preserveDefaultVlan":true)",
                        c));
    CHECK(c.isGateway);
    CHECK_FALSE(c.isDefaultGateway);
    CHECK(c.forceAddress);
    CHECK(c.hairpinMode);
    CHECK_FALSE(c.promiscMode);
    CHECK(c.enableDad);
    CHECK(c.portIsolation);
    CHECK(c.preserveDefaultVlan);

    Conf dflt;
    REQUIRE_FALSE(parse(R"(,"isDefaultGateway":true,"promiscMode":true,"disableContainerInterface":true)", dflt));
    CHECK(dflt.isDefaultGateway);
    CHECK(dflt.isGateway);  // implied
    CHECK(dflt.promiscMode);
    CHECK(dflt.disableContainerInterface);

    for (const char* key : {"isGateway", "isDefaultGateway", "forceAddress", "promiscMode", "hairpinMode", "enabledad",
                            "portIsolation", "disableContainerInterface", "preserveDefaultVlan"}) {
        std::string k(key);
        parse.refuses(",\"" + k + "\":\"true\"", "invalid value for \"" + k + "\": expected a boolean, got string");
        // DEL and GC do not read them.
        Conf lax;
        CHECK_FALSE(parse(",\"" + k + "\":\"true\"", lax, false));
        CHECK_FALSE(lax.isGateway);
    }
}

TEST_CASE("bridge config: conflicting keys", "[applet][bridge]") {
    parse.refuses(R"(,"hairpinMode":true,"promiscMode":true)",
                  "cannot set hairpin mode and promiscuous mode at the same time");
    parse.refuses(R"(,"disableContainerInterface":true)" + kIpam,
                  "cannot use IPAM when DisableContainerInterface flag is set");
    Conf lax;
    CHECK_FALSE(parse(R"(,"hairpinMode":true,"promiscMode":true)", lax, false));
}

TEST_CASE("bridge config: mtu", "[applet][bridge]") {
    for (int mtu : {68, 1500, 9000, 65535}) {
        Conf c;
        REQUIRE_FALSE(parse(",\"mtu\":" + std::to_string(mtu), c));
        CHECK(c.mtu == mtu);
    }
    Conf zero;
    REQUIRE_FALSE(parse(R"(,"mtu":0)", zero));
    CHECK(zero.mtu == 0);
    parse.refuses(R"(,"mtu":67)", "invalid mtu 67 (must be 68..65535)");
    parse.refuses(R"(,"mtu":65536)", "invalid mtu 65536 (must be 68..65535)");
    parse.refuses(R"(,"mtu":-1)", "invalid mtu -1 (must be 68..65535)");
    parse.refuses(R"(,"mtu":"1500")", "invalid value for \"mtu\": expected an integer, got string");
    parse.refuses(R"(,"mtu":1500.5)",
                  "invalid value for \"mtu\": expected an integer in range -2147483648..2147483647");
    Conf lax;
    CHECK_FALSE(parse(R"(,"mtu":67)", lax, false));
    CHECK(lax.mtu == 0);
}

TEST_CASE("bridge config: vlan", "[applet][bridge]") {
    for (int vlan : {0, 1, 100, 4094}) {
        Conf c;
        REQUIRE_FALSE(parse(",\"vlan\":" + std::to_string(vlan), c));
        CHECK(c.vlan == vlan);
        CHECK(c.vlanFiltering() == (vlan != 0));
    }
    parse.refuses(R"(,"vlan":-1)", "invalid VLAN ID -1 (must be between 0 and 4094)");
    parse.refuses(R"(,"vlan":4095)", "invalid VLAN ID 4095 (must be between 0 and 4094)");
    parse.refuses(R"(,"vlan":"5")", "invalid value for \"vlan\": expected an integer, got string");
    Conf lax;
    CHECK_FALSE(parse(R"(,"vlan":4095)", lax, false));
    CHECK(lax.vlan == 0);

    Conf gw;
    REQUIRE_FALSE(parse(R"(,"bridge":"br0123456789a","vlan":1,"isGateway":true)" + kIpam, gw));
    CHECK(gw.vlanGateway() == "br0123456789a.1");
    parse.refuses(R"(,"bridge":"br0123456789ab","vlan":1,"isGateway":true)" + kIpam,
                  "bridge name \"br0123456789ab\" too long for its vlan gateway \"br0123456789ab.1\" (at most 15 "
                  "characters)");
    // No gateway, or no IPAM: no vlan gateway to name.
    Conf noGw;
    CHECK_FALSE(parse(R"(,"bridge":"br0123456789ab","vlan":1)" + kIpam, noGw));
    CHECK_FALSE(parse(R"(,"bridge":"br0123456789ab","vlan":1,"isGateway":true)", noGw));
}

TEST_CASE("bridge config: vlanTrunk", "[applet][bridge]") {
    Conf c;
    REQUIRE_FALSE(parse(R"(,"vlanTrunk":[{"id":5},{"minID":10,"maxID":12},{"id":11},{"minID":3,"maxID":3}])", c));
    CHECK(c.trunk == std::vector<int>{3, 5, 10, 11, 12});
    CHECK(c.vlanFiltering());
    Conf both;
    REQUIRE_FALSE(parse(R"(,"vlanTrunk":[{"minID":1,"maxID":2,"id":4094}])", both));
    CHECK(both.trunk == std::vector<int>{1, 2, 4094});
    Conf none;
    REQUIRE_FALSE(parse(R"(,"vlanTrunk":null)", none));
    CHECK(none.trunk.empty());
    Conf emptyEntry;
    REQUIRE_FALSE(parse(R"(,"vlanTrunk":[{}])", emptyEntry));
    CHECK(emptyEntry.trunk.empty());

    parse.refuses(R"(,"vlanTrunk":{"id":5})", "vlanTrunk must be a list");
    parse.refuses(R"(,"vlanTrunk":[5])", "vlanTrunk entries must be objects");
    parse.refuses(R"(,"vlanTrunk":[{"minID":0,"maxID":5}])", "incorrect trunk minID parameter");
    parse.refuses(R"(,"vlanTrunk":[{"minID":4095,"maxID":5}])", "incorrect trunk minID parameter");
    parse.refuses(R"(,"vlanTrunk":[{"minID":5,"maxID":4095}])", "incorrect trunk maxID parameter");
    parse.refuses(R"(,"vlanTrunk":[{"minID":5,"maxID":0}])", "incorrect trunk maxID parameter");
    parse.refuses(R"(,"vlanTrunk":[{"minID":6,"maxID":5}])", "minID is greater than maxID in trunk parameter");
    parse.refuses(R"(,"vlanTrunk":[{"maxID":5}])",
                  "minID and maxID should be configured simultaneously, minID is missing");
    parse.refuses(R"(,"vlanTrunk":[{"minID":5}])",
                  "minID and maxID should be configured simultaneously, maxID is missing");
    parse.refuses(R"(,"vlanTrunk":[{"id":0}])", "incorrect trunk id parameter");
    parse.refuses(R"(,"vlanTrunk":[{"id":4095}])", "incorrect trunk id parameter");
    parse.refuses(R"(,"vlanTrunk":[{"id":"5"}])", "invalid value for \"id\": expected an integer, got string");
    Conf lax;
    CHECK_FALSE(parse(R"(,"vlanTrunk":[{"id":0}])", lax, false));
}

TEST_CASE("bridge config: ipMasqBackend", "[applet][bridge]") {
    testutil::checkMasqBackend(parse);
    // DEL and GC do not read it.
    Conf lax;
    CHECK_FALSE(parse(R"(,"ipMasqBackend":true)", lax, false));
}

TEST_CASE("bridge config: the container MAC from CNI_ARGS, args and runtimeConfig", "[applet][bridge]") {
    Conf env;
    REQUIRE_FALSE(parse("", env, true, {{"CNI_ARGS", "MAC=AA-BB-CC-DD-EE-01"}}));
    CHECK(env.mac == "aa:bb:cc:dd:ee:01");
    Conf args;
    REQUIRE_FALSE(
        parse(R"(,"args":{"cni":{"mac":"aa:bb:cc:dd:ee:02"}})", args, true, {{"CNI_ARGS", "MAC=aa:bb:cc:dd:ee:01"}}));
    CHECK(args.mac == "aa:bb:cc:dd:ee:02");
    Conf rc;
    REQUIRE_FALSE(
        parse(R"(,"args":{"cni":{"mac":"aa:bb:cc:dd:ee:02"}},"runtimeConfig":{"mac":"AA:BB:CC:DD:EE:03"})", rc));
    CHECK(rc.mac == "aa:bb:cc:dd:ee:03");
    // bridge has no "mac" key of its own.
    Conf key;
    REQUIRE_FALSE(parse(R"(,"mac":"aa:bb:cc:dd:ee:04")", key));
    CHECK(key.mac.empty());

    parse.refuses(R"(,"runtimeConfig":{"mac":"zz"})", "invalid MAC address \"zz\" in runtimeConfig.mac");
    parse.refuses(R"(,"args":{"cni":{"mac":5}})", "args.cni.mac must be a string");
    Conf bad;
    cni::Error e = parse("", bad, true, {{"CNI_ARGS", "MAC=1"}});
    CHECK(e.code == cni::kInvalidNetConf);
    CHECK(e.msg == "invalid MAC address \"1\" in CNI_ARGS");
    e = parse("", bad, true, {{"CNI_ARGS", "X=1"}});
    CHECK(e.msg == "ARGS: unknown args [\"X=1\"]");
    CHECK_FALSE(parse("", bad, true, {{"CNI_ARGS", "IgnoreUnknown=1;X=1"}}));
    // DEL does not look.
    Conf lax;
    CHECK_FALSE(parse(R"(,"runtimeConfig":{"mac":"zz"})", lax, false));
    CHECK(lax.mac.empty());
}
