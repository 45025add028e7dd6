// ptp's config parser: every key, its default, its valid and invalid values;
// strict (ADD, CHECK, STATUS) against non-strict (DEL, GC).
#include <catch2/catch.hpp>

#include "applets/ptp.h"
#include "test_applet.h"

using applets::ptp::Conf;
using applets::ptp::parseConf;

namespace {

const testutil::ConfParser<Conf> parse{parseConf, "ptp", R"(,"ipam":{"type":"host-local"})"};
const testutil::ConfParser<Conf> parseNoIpam{parseConf, "ptp"};

}  // namespace

TEST_CASE("ptp config: defaults", "[applet][ptp]") {
    Conf c;
    REQUIRE_FALSE(parse("", c));
    CHECK_FALSE(c.ipMasq);
    CHECK_FALSE(c.masqBackend);
    CHECK(c.mtu == 0);
}

TEST_CASE("ptp config: an IPAM type is required, in both modes", "[applet][ptp]") {
    for (bool strict : {true, false}) {
        parseNoIpam.refuses("", "ptp: the \"ipam\" key with a \"type\" is required", strict);
        parseNoIpam.refuses(R"(,"ipam":{})", "ptp: the \"ipam\" key with a \"type\" is required", strict);
    }
}

TEST_CASE("ptp config: ipMasqBackend", "[applet][ptp]") { testutil::checkMasqBackend(parse); }

TEST_CASE("ptp config: ipMasq", "[applet][ptp]") {
    Conf c;
    REQUIRE_FALSE(parse(R"(,"ipMasq":true)", c));
    CHECK(c.ipMasq);
    // DEL and GC take what they clean up: the backend's name need not be
    // known, but the JSON types must be right.
    Conf lax;
    REQUIRE_FALSE(parse(R"(,"ipMasq":true,"ipMasqBackend":"ipfw")", lax, false));
    CHECK(lax.ipMasq);
    parse.refuses(R"(,"ipMasqBackend":1)", "invalid value for \"ipMasqBackend\": expected a string, got number", false);
    parse.refuses(R"(,"ipMasq":"true")", "invalid value for \"ipMasq\": expected a boolean, got string", false);
}

TEST_CASE("ptp config: mtu", "[applet][ptp]") {
    for (int mtu : {0, 68, 1400, 65535}) {
        Conf c;
        REQUIRE_FALSE(parse(",\"mtu\":" + std::to_string(mtu), c));
        CHECK(c.mtu == mtu);
    }
    parse.refuses(R"(,"mtu":67)", "invalid mtu 67 (must be 68..65535)");
    parse.refuses(R"(,"mtu":65536)", "invalid mtu 65536 (must be 68..65535)");
    parse.refuses(R"(,"mtu":"1400")", "invalid value for \"mtu\": expected an integer, got string", false);
    Conf lax;
    REQUIRE_FALSE(parse(R"(,"mtu":10)", lax, false));
    CHECK(lax.mtu == 10);
}
