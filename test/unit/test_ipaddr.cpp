#include <catch2/catch.hpp>

#include <sys/socket.h>

#include "util/ipaddr.h"

using util::IP;
using util::IPNet;

static IP ip(const char* s) {
    auto r = IP::parse(s);
    if (!r) FAIL("cannot parse " << s);
    return *r;
}

static IPNet net(const char* s) {
    auto r = IPNet::parse(s);
    if (!r) FAIL("cannot parse " << s);
    return *r;
}

TEST_CASE("IP parsing and Go-style formatting", "[ipaddr]") {
    struct Case {
        const char* in;
        int family;
        const char* out;
    } cases[] = {
        {"10.1.2.3", AF_INET, "10.1.2.3"},
        {"0.0.0.0", AF_INET, "0.0.0.0"},
        {"255.255.255.255", AF_INET, "255.255.255.255"},
        {"::", AF_INET6, "::"},
        {"::1", AF_INET6, "::1"},
        {"2001:DB8::1", AF_INET6, "2001:db8::1"},
        {"2001:0db8:0000:0000:0000:0000:0000:0001", AF_INET6, "2001:db8::1"},
        {"fe80::", AF_INET6, "fe80::"},
        {"1:0:0:2:0:0:0:3", AF_INET6, "1:0:0:2::3"},
        {"1:0:0:2:0:0:3:4", AF_INET6, "1::2:0:0:3:4"},  // first of equal runs
        {"1:0:2:3:4:5:6:7", AF_INET6, "1:0:2:3:4:5:6:7"},  // one zero group is not shortened
        {"0:1:2:3:4:5:6:0", AF_INET6, "0:1:2:3:4:5:6:0"},
        {"::1:2", AF_INET6, "::1:2"},  // glibc would print ::0.1.0.2
        {"::1.2.3.4", AF_INET6, "::102:304"},
        {"::ffff:1.2.3.4", AF_INET, "1.2.3.4"},  // IPv4-mapped is IPv4, as in Go
        {"::ffff:0:1", AF_INET, "0.0.0.1"},
        {"::ffff:1:2:3", AF_INET6, "::ffff:1:2:3"},
        {"2001:db8::1:0:0:5", AF_INET6, "2001:db8::1:0:0:5"},
        {"ff02::1:ff00:1", AF_INET6, "ff02::1:ff00:1"},
        {"fd00:0:0:0:a:0:0:0", AF_INET6, "fd00::a:0:0:0"},
    };
    for (const auto& c : cases) {
        INFO(c.in);
        auto r = IP::parse(c.in);
        REQUIRE(r);
        CHECK(r->family == c.family);
        CHECK(r->str() == c.out);
        CHECK(IP::parse(r->str()) == r);
    }
    for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4", "1.2.3.-4",
                            "::1%eth0", "1::2::3", "12345::", "g::", "10.0.0.1/24", "localhost", ":::"}) {
        INFO(bad);
        CHECK_FALSE(IP::parse(bad));
    }
    CHECK_FALSE(IP::parse(std::string_view("1.2.3.4\0", 8)));
    CHECK(IP().str() == "<nil>");
    CHECK_FALSE(IP().valid());
    CHECK(IP::v4(192, 168, 1, 2).str() == "192.168.1.2");
    CHECK(ip("10.0.0.1").bits() == 32);
    CHECK(ip("::1").bits() == 128);
    CHECK(ip("::1").len() == 16);
}

TEST_CASE("IP classification matches Go", "[ipaddr]") {
    struct Case {
        const char* in;
        bool global, loopback, linkLocal, unspecified;
    } cases[] = {
        {"10.0.0.1", true, false, false, false},
        {"8.8.8.8", true, false, false, false},
        {"127.0.0.1", false, true, false, false},
        {"127.1.2.3", false, true, false, false},
        {"169.254.1.1", false, false, true, false},
        {"224.0.0.1", false, false, false, false},
        {"239.255.255.255", false, false, false, false},
        {"240.0.0.1", true, false, false, false},
        {"255.255.255.254", true, false, false, false},
        {"255.255.255.255", false, false, false, false},
        {"0.0.0.0", false, false, false, true},
        {"::", false, false, false, true},
        {"::1", false, true, false, false},
        {"fe80::1", false, false, true, false},
        {"febf::1", false, false, true, false},
        {"fec0::1", true, false, false, false},
        {"ff02::1", false, false, false, false},
        {"2001:db8::1", true, false, false, false},
        {"fd00::1", true, false, false, false},
    };
    for (const auto& c : cases) {
        INFO(c.in);
        IP a = ip(c.in);
        CHECK(a.isGlobalUnicast() == c.global);
        CHECK(a.isLoopback() == c.loopback);
        CHECK(a.isLinkLocalUnicast() == c.linkLocal);
        CHECK(a.isUnspecified() == c.unspecified);
    }
}

TEST_CASE("IP arithmetic", "[ipaddr]") {
    CHECK(ip("10.0.0.1").next().str() == "10.0.0.2");
    CHECK(ip("10.0.0.255").next().str() == "10.0.1.0");
    CHECK(ip("10.0.1.0").prev().str() == "10.0.0.255");
    CHECK(ip("255.255.255.255").next().str() == "0.0.0.0");
    CHECK(ip("0.0.0.0").prev().str() == "255.255.255.255");
    CHECK(ip("10.0.0.0").plus(256).str() == "10.0.1.0");
    CHECK(ip("10.0.0.0").plus(65536 + 3).str() == "10.1.0.3");
    CHECK(ip("10.1.0.3").plus(-(65536 + 3)).str() == "10.0.0.0");
    CHECK(ip("10.0.0.0").plus(int64_t(1) << 32).str() == "10.0.0.0");  // wraps within 32 bits
    CHECK(ip("::ffff:ffff").next().str() == "::1:0:0");
    CHECK(ip("fd00::").prev().str() == "fcff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    CHECK(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").next().str() == "::");
    CHECK(ip("::").prev().str() == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    CHECK(ip("fd00::").plus(int64_t(1) << 40).str() == "fd00::100:0:0");
    CHECK(ip("fd00::1:0:0:0:0").plus(-1).str() == "fd00::ffff:ffff:ffff:ffff");
    CHECK(ip("2001:db8::").plus(INT64_MAX).str() == "2001:db8::7fff:ffff:ffff:ffff");
    CHECK(ip("10.0.0.1").next().family == AF_INET);
}

TEST_CASE("IP ordering", "[ipaddr]") {
    CHECK(ip("10.0.0.1") < ip("10.0.0.2"));
    CHECK(ip("10.0.0.9") < ip("10.0.1.0"));
    CHECK(ip("9.255.255.255") < ip("10.0.0.0"));
    CHECK(ip("10.0.0.1") == ip("10.0.0.1"));
    CHECK(ip("10.0.0.1") != ip("::ffff:10.0.0.2"));
    CHECK(ip("::1") < ip("::2"));
}

TEST_CASE("IPNet parsing keeps the host bits", "[ipaddr]") {
    struct Case {
        const char* in;
        const char* str;
        const char* network;
        const char* broadcast;
        const char* mask;
        bool hostBits;
    } cases[] = {
        {"10.1.2.3/24", "10.1.2.3/24", "10.1.2.0", "10.1.2.255", "255.255.255.0", true},
        {"10.1.2.0/24", "10.1.2.0/24", "10.1.2.0", "10.1.2.255", "255.255.255.0", false},
        {"10.1.2.3/32", "10.1.2.3/32", "10.1.2.3", "10.1.2.3", "255.255.255.255", false},
        {"10.1.2.3/0", "10.1.2.3/0", "0.0.0.0", "255.255.255.255", "0.0.0.0", true},
        {"0.0.0.0/0", "0.0.0.0/0", "0.0.0.0", "255.255.255.255", "0.0.0.0", false},
        {"10.1.2.3/31", "10.1.2.3/31", "10.1.2.2", "10.1.2.3", "255.255.255.254", true},
        {"172.16.5.4/12", "172.16.5.4/12", "172.16.0.0", "172.31.255.255", "255.240.0.0", true},
        {"10.0.0.0/024", "10.0.0.0/24", "10.0.0.0", "10.0.0.255", "255.255.255.0", false},  // Go accepts leading zeros
        {"fd00::5/64", "fd00::5/64", "fd00::", "fd00::ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff::", true},
        {"::/0", "::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::", false},
        {"2001:db8::1/128", "2001:db8::1/128", "2001:db8::1", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"2001:db8:1:2::/63", "2001:db8:1:2::/63", "2001:db8:1:2::", "2001:db8:1:3:ffff:ffff:ffff:ffff",
         "ffff:ffff:ffff:fffe::", false},
    };
    for (const auto& c : cases) {
        INFO(c.in);
        auto n = IPNet::parse(c.in);
        REQUIRE(n);
        CHECK(n->str() == c.str);
        CHECK(n->network().str() == c.network);
        CHECK(n->broadcast().str() == c.broadcast);
        CHECK(n->mask().str() == c.mask);
        CHECK(n->hasHostBits() == c.hostBits);
        CHECK(n->masked().ip == n->network());
        CHECK(n->masked().prefix == n->prefix);
    }
    for (const char* bad : {"10.0.0.0", "10.0.0.0/", "/24", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8",
                            "10.0.0.0/8/8", "fd00::/129", "10.0.0.0/ 8", "10.0.0.0/8 ", "x/8", "10.0.0/8",
                            "10.0.0.0/99999999999"}) {
        INFO(bad);
        CHECK_FALSE(IPNet::parse(bad));
    }
    auto host = IPNet::parseAddrOrCidr("10.0.0.7");
    REQUIRE(host);
    CHECK(host->str() == "10.0.0.7/32");
    auto host6 = IPNet::parseAddrOrCidr("fd00::7");
    REQUIRE(host6);
    CHECK(host6->str() == "fd00::7/128");
    CHECK(IPNet::parseAddrOrCidr("10.0.0.7/8")->str() == "10.0.0.7/8");
    CHECK_FALSE(IPNet::parseAddrOrCidr("10.0.0.7/33"));
    CHECK_FALSE(IPNet::parseAddrOrCidr("nope"));
}

TEST_CASE("IPNet containment and overlap", "[ipaddr]") {
    IPNet n = net("10.1.0.0/16");
    CHECK(n.contains(ip("10.1.0.0")));
    CHECK(n.contains(ip("10.1.255.255")));
    CHECK_FALSE(n.contains(ip("10.2.0.0")));
    CHECK_FALSE(n.contains(ip("10.0.255.255")));
    CHECK_FALSE(n.contains(ip("fd00::1")));
    CHECK(net("10.1.2.3/16").contains(ip("10.1.200.1")));  // host bits ignored
    CHECK(net("0.0.0.0/0").contains(ip("1.2.3.4")));
    CHECK_FALSE(net("0.0.0.0/0").contains(ip("::1")));
    CHECK(net("::/0").contains(ip("2001:db8::1")));
    CHECK(net("fd00::/8").contains(ip("fdff::1")));
    CHECK_FALSE(net("fd00::/8").contains(ip("fe00::1")));

    CHECK(n.overlaps(net("10.1.2.0/24")));
    CHECK(net("10.1.2.0/24").overlaps(n));
    CHECK(n.overlaps(net("10.0.0.0/8")));
    CHECK_FALSE(n.overlaps(net("10.2.0.0/16")));
    CHECK_FALSE(n.overlaps(net("fd00::/8")));
    CHECK(net("fd00::/64").overlaps(net("fd00::1/128")));
    CHECK_FALSE(net("fd00::/64").overlaps(net("fd00:0:0:1::/64")));
    CHECK(net("10.1.2.3/24") == net("10.1.2.3/24"));
    CHECK_FALSE(net("10.1.2.3/24") == net("10.1.2.4/24"));
    CHECK_FALSE(net("10.1.2.3/24") == net("10.1.2.3/25"));
}
