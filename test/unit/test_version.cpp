#include <catch2/catch.hpp>

#include "cni/version.h"

using namespace cni;

TEST_CASE("version strings round-trip", "[version]") {
    const char* names[] = {"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};
    for (int i = 0; i < kNumVersions; i++) {
        Ver v = static_cast<Ver>(i);
        CHECK(str(v) == names[i]);
        REQUIRE(parseVersion(names[i]));
        CHECK(*parseVersion(names[i]) == v);
    }
    for (const char* bad : {"", "1.0", "1", "0.3.2", "v1.0.0", "1.0.0 ", "2.0.0", "0.5.0"}) {
        INFO(bad);
        CHECK_FALSE(parseVersion(bad));
    }
    CHECK(kCurrent == Ver::v110);
}

TEST_CASE("version families", "[version]") {
    CHECK(family(Ver::v010) == Family::f020);
    CHECK(family(Ver::v020) == Family::f020);
    CHECK(family(Ver::v030) == Family::f040);
    CHECK(family(Ver::v031) == Family::f040);
    CHECK(family(Ver::v040) == Family::f040);
    CHECK(family(Ver::v100) == Family::f100);
    CHECK(family(Ver::v110) == Family::f100);
}

TEST_CASE("versionAtLeast compares like upstream", "[version]") {
    struct Case {
        const char* v;
        const char* min;
        bool want;
    } cases[] = {
        {"0.4.0", "0.4.0", true},  {"0.3.1", "0.4.0", false}, {"1.0.0", "0.4.0", true},
        {"1.1.0", "1.1.0", true},  {"1.0.0", "1.1.0", false}, {"1.1", "1.1.0", true},
        {"1", "1.0.0", true},      {"", "0.1.0", true},       {"", "0.2.0", false},
        {"0.10.0", "0.9.0", true}, {"2.0.0", "1.9.9", true},  {"0.4.1", "0.4.0", true},
        {"+1.0.0", "1.0.0", true}, {"-1.0.0", "0.0.0", false}, {"01.00.00", "1.0.0", true},
    };
    for (const auto& c : cases) {
        INFO(c.v << " >= " << c.min);
        std::string err;
        CHECK(versionAtLeast(c.v, c.min, err) == c.want);
        CHECK(err.empty());
        CHECK(versionAtLeast(c.v, c.min) == c.want);
    }
}

TEST_CASE("version parse errors carry upstream's text", "[version]") {
    struct Case {
        const char* v;
        const char* err;
    } cases[] = {
        {"x.3.1", "failed to convert major version part \"x\": strconv.Atoi: parsing \"x\": invalid syntax"},
        {"1.y", "failed to convert minor version part \"y\": strconv.Atoi: parsing \"y\": invalid syntax"},
        {"1.0.z", "failed to convert micro version part \"z\": strconv.Atoi: parsing \"z\": invalid syntax"},
        {"1.0.0.0", "invalid version \"1.0.0.0\": too many parts"},
        {"1..0", "failed to convert minor version part \"\": strconv.Atoi: parsing \"\": invalid syntax"},
        {"99999999999999999999.0.0",
         "failed to convert major version part \"99999999999999999999\": strconv.Atoi: parsing "
         "\"99999999999999999999\": value out of range"},
        {"1.0.0-rc1", "failed to convert micro version part \"0-rc1\": strconv.Atoi: parsing \"0-rc1\": invalid syntax"},
    };
    for (const auto& c : cases) {
        INFO(c.v);
        std::string err;
        CHECK_FALSE(versionAtLeast(c.v, "0.1.0", err));
        CHECK(err == c.err);
        CHECK_FALSE(versionAtLeast("9.9.9", c.v, err));
        CHECK(err == c.err);
    }
    int64_t parts[3];
    std::string err;
    REQUIRE(parseVersionParts("", parts, err));
    CHECK((parts[0] == 0 && parts[1] == 1 && parts[2] == 0));
    REQUIRE(parseVersionParts("3.2", parts, err));
    CHECK((parts[0] == 3 && parts[1] == 2 && parts[2] == 0));
}

TEST_CASE("VersionSet lists", "[version]") {
    CHECK(VersionSet::all().jsonList() == R"(["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"])");
    CHECK(VersionSet::all().spaced() == "0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0");
    CHECK(VersionSet::all().joined(", ") == "0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0");
    CHECK(VersionSet::from(Ver::v040).spaced() == "0.4.0 1.0.0 1.1.0");
    CHECK(VersionSet::from(Ver::v010).bits == VersionSet::all().bits);
    CHECK(VersionSet::from(Ver::v110).jsonList() == R"(["1.1.0"])");
    CHECK(VersionSet::from(Ver::v031).quoted() == R"(["0.3.1" "0.4.0" "1.0.0" "1.1.0"])");
    CHECK(VersionSet().jsonList() == "[]");
    VersionSet s = VersionSet::from(Ver::v030);
    CHECK_FALSE(s.has(Ver::v020));
    CHECK(s.has(Ver::v030));
    CHECK(s.has(Ver::v110));
}
