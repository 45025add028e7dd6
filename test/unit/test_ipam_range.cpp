// ipam ranges: parsing, defaults, validation texts, the round-robin walk.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "helpers.h"
#include "ipam/range.h"

using ipam::Range;
using ipam::RangeIter;
using ipam::RangeSet;
using util::IP;

namespace {

IP ip(const char* s) { return *IP::parse(s); }

Range mk(const char* subnet, const char* start = nullptr, const char* end = nullptr, const char* gw = nullptr) {
    Range r;
    r.subnet = *util::IPNet::parse(subnet);
    if (start) r.rangeStart = ip(start);
    if (end) r.rangeEnd = ip(end);
    if (gw) r.gateway = ip(gw);
    return r;
}

std::string canon(Range r) {
    std::string err;
    return r.canonicalize(err) ? "ok " + r.str() + " gw " + r.gateway.str() : err;
}

std::vector<std::string> walk(const RangeSet& s, const char* last = nullptr, size_t max = 100) {
    std::optional<IP> l;
    if (last) l = ip(last);
    RangeIter it(s, l);
    std::vector<std::string> out;
    while (auto a = it.next()) {
        out.push_back(a->str());
        if (out.size() >= max) break;
    }
    return out;
}

}  // namespace

TEST_CASE("ipam range: defaults and validation", "[ipam]") {
    struct Row {
        Range r;
        const char* want;
    };
    const Row rows[] = {
        {mk("10.1.2.0/24"), "ok 10.1.2.1-10.1.2.254 gw 10.1.2.1"},
        {mk("10.1.2.0/30"), "ok 10.1.2.1-10.1.2.2 gw 10.1.2.1"},
        {mk("fd00::/120"), "ok fd00::1-fd00::ff gw fd00::1"},
        {mk("fd00::/126"), "ok fd00::1-fd00::3 gw fd00::1"},
        {mk("10.1.2.0/24", "10.1.2.10", "10.1.2.20", "10.1.2.254"), "ok 10.1.2.10-10.1.2.20 gw 10.1.2.254"},
        {mk("10.1.2.0/31"), "Network 10.1.2.0/31 too small to allocate from"},
        {mk("10.1.2.1/32"), "Network 10.1.2.1/32 too small to allocate from"},
        {mk("fd00::/127"), "Network fd00::/127 too small to allocate from"},
        {mk("10.1.2.5/24"),
         "Network has host bits set. For a subnet mask of length 24 the network address is 10.1.2.0"},
        {mk("10.1.2.0/24", "10.1.3.1"), "RangeStart 10.1.3.1 not in network 10.1.2.0/24"},
        {mk("10.1.2.0/24", nullptr, "10.1.3.1"), "RangeEnd 10.1.3.1 not in network 10.1.2.0/24"},
        {mk("10.1.2.0/24", "10.1.2.50", "10.1.2.40"), "RangeStart 10.1.2.50 not in network 10.1.2.0/24"},
        {mk("10.1.2.0/24", "fd00::1"), "RangeStart fd00::1 not in network 10.1.2.0/24"},
        // The gateway is not checked against the subnet (as upstream).
        {mk("10.1.2.0/24", nullptr, nullptr, "192.168.0.1"), "ok 10.1.2.1-10.1.2.254 gw 192.168.0.1"},
        {Range{}, "missing subnet"},
    };
    for (const auto& row : rows) {
        INFO(row.r.subnet.str());
        CHECK(canon(row.r) == row.want);
    }
}

TEST_CASE("ipam range: contains, overlaps, capacity", "[ipam]") {
    std::string err;
    Range a = mk("10.1.2.0/24", "10.1.2.10", "10.1.2.20");
    REQUIRE(a.canonicalize(err));
    CHECK(a.contains(ip("10.1.2.10")));
    CHECK(a.contains(ip("10.1.2.20")));
    CHECK_FALSE(a.contains(ip("10.1.2.9")));
    CHECK_FALSE(a.contains(ip("10.1.2.21")));
    CHECK_FALSE(a.contains(ip("fd00::10")));
    CHECK(a.capacity() == 11);  // gateway .1 is outside the window

    Range b = mk("10.1.2.0/24");
    REQUIRE(b.canonicalize(err));
    CHECK(b.capacity() == 253);  // .1-.254 minus the gateway
    CHECK(a.overlaps(b));
    CHECK(b.overlaps(a));
    Range c = mk("10.1.3.0/24");
    REQUIRE(c.canonicalize(err));
    CHECK_FALSE(b.overlaps(c));
    Range v6 = mk("fd00::/64");
    REQUIRE(v6.canonicalize(err));
    CHECK(v6.capacity() == UINT64_MAX - 1);  // ::1 to the last address, minus the gateway
    Range big = mk("fd00::/48");
    REQUIRE(big.canonicalize(err));
    CHECK(big.capacity() == UINT64_MAX);  // saturates
    CHECK_FALSE(v6.overlaps(b));
    Range tiny = mk("10.9.0.0/30", "10.9.0.1", "10.9.0.1");
    REQUIRE(tiny.canonicalize(err));
    CHECK(tiny.capacity() == 0);  // only the gateway
}

TEST_CASE("ipam range set: validation", "[ipam]") {
    std::string err;
    RangeSet empty;
    CHECK_FALSE(ipam::canonicalizeSet(empty, err));
    CHECK(err == "empty range set");

    RangeSet mixed{mk("10.1.2.0/24"), mk("fd00::/64")};
    CHECK_FALSE(ipam::canonicalizeSet(mixed, err));
    CHECK(err == "mixed address families");

    RangeSet ov{mk("10.1.2.0/24"), mk("10.1.2.0/24", "10.1.2.10", "10.1.2.20")};
    CHECK_FALSE(ipam::canonicalizeSet(ov, err));
    CHECK(err == "subnets 10.1.2.1-10.1.2.254 and 10.1.2.10-10.1.2.20 overlap");

    RangeSet ok{mk("10.1.2.0/24", "10.1.2.10", "10.1.2.20"), mk("10.1.2.0/24", "10.1.2.30", "10.1.2.40")};
    REQUIRE(ipam::canonicalizeSet(ok, err));
    CHECK(ipam::str(ok) == "10.1.2.10-10.1.2.20,10.1.2.30-10.1.2.40");
    CHECK(ipam::capacity(ok) == 22);
    CHECK(ipam::rangeFor(ok, ip("10.1.2.35")) == &ok[1]);
    CHECK(ipam::rangeFor(ok, ip("10.1.2.25")) == nullptr);
    RangeSet other{mk("10.1.2.0/24", "10.1.2.40", "10.1.2.50")};
    REQUIRE(ipam::canonicalizeSet(other, err));
    CHECK(ipam::setsOverlap(ok, other));
}

TEST_CASE("ipam range set: JSON parsing", "[ipam]") {
    auto d = testutil::parse(R"([[{"subnet":"10.1.2.0/24","rangeStart":"10.1.2.9","gateway":"10.1.2.254"}],
                                  [{"subnet":"fd00::/64"},{"subnet":"fd01::/64"}]])");
    std::vector<RangeSet> sets;
    REQUIRE_FALSE(ipam::parseRangeSets(d, "ranges", sets));
    REQUIRE(sets.size() == 2);
    CHECK(sets[0][0].rangeStart == ip("10.1.2.9"));
    CHECK(sets[0][0].gateway == ip("10.1.2.254"));
    CHECK_FALSE(sets[0][0].rangeEnd.valid());
    CHECK(sets[1].size() == 2);

    auto bad = testutil::parse(R"([{"subnet":"10.1.2.0/24"}])");
    sets.clear();
    auto e = ipam::parseRangeSets(bad, "ranges", sets);
    CHECK(e.code == cni::kInvalidNetConf);
    CHECK(e.msg == "ranges[0] must be a list of ranges");

    auto badCidr = testutil::parse(R"([[{"subnet":"10.1.2.0"}]])");
    e = ipam::parseRangeSets(badCidr, "ranges", sets);
    CHECK(e.code == cni::kInvalidNetConf);
    CHECK(e.msg.find("10.1.2.0") != std::string::npos);
}

TEST_CASE("ipam range iteration: round-robin, gateway skipped, wraps", "[ipam]") {
    std::string err;
    RangeSet s{mk("10.1.2.0/29")};  // .1-.6, gateway .1
    REQUIRE(ipam::canonicalizeSet(s, err));
    CHECK(walk(s) == std::vector<std::string>{"10.1.2.2", "10.1.2.3", "10.1.2.4", "10.1.2.5", "10.1.2.6"});
    // After the last reserved address, wrapping round to it last.
    CHECK(walk(s, "10.1.2.4") == std::vector<std::string>{"10.1.2.5", "10.1.2.6", "10.1.2.2", "10.1.2.3", "10.1.2.4"});
    CHECK(walk(s, "10.1.2.6") == std::vector<std::string>{"10.1.2.2", "10.1.2.3", "10.1.2.4", "10.1.2.5", "10.1.2.6"});
    // A last reserved address outside the set is ignored.
    CHECK(walk(s, "10.9.9.9").front() == "10.1.2.2");

    RangeSet two{mk("10.1.2.0/24", "10.1.2.10", "10.1.2.11"), mk("10.1.3.0/24", "10.1.3.1", "10.1.3.2")};
    REQUIRE(ipam::canonicalizeSet(two, err));
    // 10.1.3.1 is the second range's gateway.
    CHECK(walk(two) == std::vector<std::string>{"10.1.2.10", "10.1.2.11", "10.1.3.2"});
    CHECK(walk(two, "10.1.2.11") == std::vector<std::string>{"10.1.3.2", "10.1.2.10", "10.1.2.11"});

    RangeSet gwOnly{mk("10.9.0.0/30", "10.9.0.1", "10.9.0.1")};
    REQUIRE(ipam::canonicalizeSet(gwOnly, err));
    CHECK(walk(gwOnly).empty());

    RangeSet v6{mk("fd00::/64", "fd00::fffe", "fd00::1:1")};
    REQUIRE(ipam::canonicalizeSet(v6, err));
    CHECK(walk(v6) == std::vector<std::string>{"fd00::fffe", "fd00::ffff", "fd00::1:0", "fd00::1:1"});

    const Range* r = nullptr;
    RangeIter it(two, std::nullopt);
    it.next(&r);
    CHECK(r == &two[0]);
}
