#include <catch2/catch.hpp>

#include "cni/result.h"
#include "helpers.h"

using namespace cni;
using testutil::parse;
using testutil::sameJson;

namespace {

struct Golden {
    const char* prevResult;
    const char* version;
    const char* printed;
};

const Golden kGolden[] = {
#include "golden_results.inc"
};

const char* kVersions[] = {"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};

// One rich result per family, written without cniVersion (the version under
// test is injected).
const char* kSource020 = R"({
  "ip4":{"ip":"10.1.2.3/24","gateway":"10.1.2.1",
         "routes":[{"dst":"0.0.0.0/0","gw":"10.1.2.1"},{"dst":"192.168.0.0/16","mtu":1400}]},
  "ip6":{"ip":"fd00::3/64","gateway":"fd00::1","routes":[{"dst":"::/0"}]},
  "dns":{"nameservers":["1.1.1.1"],"domain":"ex.com","search":["ex.com"],"options":["ndots:5"]}})";

const char* kSource040 = R"({
  "interfaces":[{"name":"eth0","mac":"aa:bb:cc:dd:ee:ff","sandbox":"/var/run/netns/x","mtu":1500},{"name":"veth1"}],
  "ips":[{"version":"4","interface":0,"address":"10.1.2.3/24","gateway":"10.1.2.1"},
         {"version":"4","interface":1,"address":"10.9.9.9/8"},
         {"version":"6","address":"fd00::3/64"}],
  "routes":[{"dst":"0.0.0.0/0","gw":"10.1.2.1","mtu":1400,"table":7},{"dst":"fd01::/64"},{"dst":"10.10.0.0/16","scope":253}],
  "dns":{"nameservers":["1.1.1.1","8.8.8.8"],"domain":"ex.com"}})";

const char* kSource100 = R"({
  "interfaces":[{"name":"eth0","mac":"aa:bb:cc:dd:ee:ff","mtu":9000,"sandbox":"/var/run/netns/x",
                 "socketPath":"/run/vhost.sock","pciID":"0000:04:00.5"}],
  "ips":[{"interface":0,"address":"fd00::3/64","gateway":"fd00::1"},
         {"interface":0,"address":"10.1.2.3/24","gateway":"10.1.2.1"}],
  "routes":[{"dst":"0.0.0.0/0","gw":"10.1.2.1","mtu":1400,"advmss":1360,"priority":10,"table":100,"scope":0},
            {"dst":"::/0","gw":"fd00::1"}],
  "dns":{"options":["ndots:1"]}})";

// Expected output per (source family, target family); cniVersion is added.
const char* kExpected[3][3] = {
    // from 0.1.0/0.2.0
    {
        kSource020,
        R"({
  "ips":[{"version":"4","address":"10.1.2.3/24","gateway":"10.1.2.1"},
         {"version":"6","address":"fd00::3/64","gateway":"fd00::1"}],
  "routes":[{"dst":"0.0.0.0/0","gw":"10.1.2.1"},{"dst":"192.168.0.0/16","mtu":1400},{"dst":"::/0"}],
  "dns":{"nameservers":["1.1.1.1"],"domain":"ex.com","search":["ex.com"],"options":["ndots:5"]}})",
        R"({
  "ips":[{"address":"10.1.2.3/24","gateway":"10.1.2.1"},{"address":"fd00::3/64","gateway":"fd00::1"}],
  "routes":[{"dst":"0.0.0.0/0","gw":"10.1.2.1"},{"dst":"192.168.0.0/16","mtu":1400},{"dst":"::/0"}],
  "dns":{"nameservers":["1.1.1.1"],"domain":"ex.com","search":["ex.com"],"options":["ndots:5"]}})",
    },
    // from 0.3.x/0.4.0
    {
        R"({
  "ip4":{"ip":"10.1.2.3/24","gateway":"10.1.2.1","routes":[{"dst":"0.0.0.0/0","gw":"10.1.2.1"},{"dst":"10.10.0.0/16"}]},
  "ip6":{"ip":"fd00::3/64","routes":[{"dst":"fd01::/64"}]},
  "dns":{"nameservers":["1.1.1.1","8.8.8.8"],"domain":"ex.com"}})",
        R"({
  "interfaces":[{"name":"eth0","mac":"aa:bb:cc:dd:ee:ff","sandbox":"/var/run/netns/x"},{"name":"veth1"}],
  "ips":[{"version":"4","interface":0,"address":"10.1.2.3/24","gateway":"10.1.2.1"},
         {"version":"4","interface":1,"address":"10.9.9.9/8"},
         {"version":"6","address":"fd00::3/64"}],
  "routes":[{"dst":"0.0.0.0/0","gw":"10.1.2.1","mtu":1400,"table":7},{"dst":"fd01::/64"},{"dst":"10.10.0.0/16","scope":253}],
  "dns":{"nameservers":["1.1.1.1","8.8.8.8"],"domain":"ex.com"}})",
        R"({
  "interfaces":[{"name":"eth0","mac":"aa:bb:cc:dd:ee:ff","sandbox":"/var/run/netns/x"},{"name":"veth1"}],
  "ips":[{"interface":0,"address":"10.1.2.3/24","gateway":"10.1.2.1"},
         {"interface":1,"address":"10.9.9.9/8"},
         {"address":"fd00::3/64"}],
  "routes":[{"dst":"0.0.0.0/0","gw":"10.1.2.1","mtu":1400,"table":7},{"dst":"fd01::/64"},{"dst":"10.10.0.0/16","scope":253}],
  "dns":{"nameservers":["1.1.1.1","8.8.8.8"],"domain":"ex.com"}})",
    },
    // from 1.0.0/1.1.0
    {
        R"({
  "ip4":{"ip":"10.1.2.3/24","gateway":"10.1.2.1","routes":[{"dst":"0.0.0.0/0","gw":"10.1.2.1"}]},
  "ip6":{"ip":"fd00::3/64","gateway":"fd00::1","routes":[{"dst":"::/0","gw":"fd00::1"}]},
  "dns":{"options":["ndots:1"]}})",
        R"({
  "interfaces":[{"name":"eth0","mac":"aa:bb:cc:dd:ee:ff","sandbox":"/var/run/netns/x"}],
  "ips":[{"version":"6","interface":0,"address":"fd00::3/64","gateway":"fd00::1"},
         {"version":"4","interface":0,"address":"10.1.2.3/24","gateway":"10.1.2.1"}],
  "routes":[{"dst":"0.0.0.0/0","gw":"10.1.2.1","mtu":1400,"advmss":1360,"priority":10,"table":100,"scope":0},
            {"dst":"::/0","gw":"fd00::1"}],
  "dns":{"options":["ndots:1"]}})",
        kSource100,
    },
};

std::string withVersion(const char* json, const char* version) {
    auto d = parse(json);
    d.RemoveMember("cniVersion");
    rapidjson::Value v(version, d.GetAllocator());
    d.AddMember("cniVersion", v, d.GetAllocator());
    return json::stringify(d);
}

int familyIndex(const char* v) { return static_cast<int>(family(*parseVersion(v))); }

}  // namespace

TEST_CASE("printed results match the reference plugins byte for byte", "[result]") {
    REQUIRE(std::size(kGolden) >= 20);
    for (const auto& g : kGolden) {
        INFO("prevResult " << g.prevResult << " printed as " << g.version);
        Result r;
        // The config's version is the fallback for a result without cniVersion.
        REQUIRE_FALSE(parseResult(g.prevResult, g.version, r));
        std::string out;
        REQUIRE_FALSE(printResult(r, g.version, out));
        CHECK(out == g.printed);
    }
}

TEST_CASE("conversion between every ordered pair of versions", "[result]") {
    const char* sources[3] = {kSource020, kSource040, kSource100};
    int pairs = 0;
    for (const char* from : kVersions) {
        for (const char* to : kVersions) {
            INFO("from " << from << " to " << to);
            Result r;
            REQUIRE_FALSE(parseResult(withVersion(sources[familyIndex(from)], from), "", r));
            CHECK(r.cniVersion == from);
            std::string out;
            REQUIRE_FALSE(printResult(r, to, out));
            std::string want = withVersion(kExpected[familyIndex(from)][familyIndex(to)], to);
            INFO("got " << out << "\nwant " << want);
            CHECK(sameJson(out, want));
            // convertResult is print + parse.
            Result conv, reparsed;
            REQUIRE_FALSE(convertResult(r, to, conv));
            REQUIRE_FALSE(parseResult(out, "", reparsed));
            CHECK(conv == reparsed);
            CHECK(conv.cniVersion == to);
            pairs++;
        }
    }
    CHECK(pairs == 49);
}

TEST_CASE("a result without cniVersion takes the fallback", "[result]") {
    Result r;
    REQUIRE_FALSE(parseResult(R"({"ips":[{"address":"10.0.0.2/24"}]})", "1.0.0", r));
    CHECK(r.cniVersion == "1.0.0");
    REQUIRE(r.ips.size() == 1);
    REQUIRE_FALSE(parseResult(R"({"cniVersion":"","ip4":{"ip":"10.0.0.2/24"}})", "0.2.0", r));
    CHECK(r.cniVersion == "0.2.0");
    REQUIRE(r.ips.size() == 1);
    // No fallback either: 0.1.0, as upstream treats an empty version.
    REQUIRE_FALSE(parseResult(R"({"ip4":{"ip":"10.0.0.2/24"}})", "", r));
    CHECK(r.cniVersion == "0.1.0");
    // An own version beats the fallback.
    REQUIRE_FALSE(parseResult(R"({"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.0.0.2/24"}]})", "1.0.0", r));
    CHECK(r.cniVersion == "0.3.1");
    // null is an empty result.
    REQUIRE_FALSE(parseResult("null", "1.1.0", r));
    CHECK(r.ips.empty());
    CHECK(r.cniVersion == "1.1.0");
}

TEST_CASE("parsing fills the 1.1.0 model", "[result]") {
    Result r;
    REQUIRE_FALSE(parseResult(withVersion(kSource100, "1.1.0"), "", r));
    REQUIRE(r.interfaces.size() == 1);
    CHECK(r.interfaces[0].name == "eth0");
    CHECK(r.interfaces[0].mac == "aa:bb:cc:dd:ee:ff");
    CHECK(r.interfaces[0].mtu == 9000);
    CHECK(r.interfaces[0].sandbox == "/var/run/netns/x");
    CHECK(r.interfaces[0].socketPath == "/run/vhost.sock");
    CHECK(r.interfaces[0].pciID == "0000:04:00.5");
    REQUIRE(r.ips.size() == 2);
    CHECK(r.ips[0].interface == 0);
    CHECK(r.ips[0].address.str() == "fd00::3/64");
    CHECK(r.ips[0].gateway->str() == "fd00::1");
    REQUIRE(r.routes.size() == 2);
    CHECK(r.routes[0].advmss == 1360);
    CHECK(r.routes[0].priority == 10);
    CHECK(r.routes[0].table == 100);
    CHECK(r.routes[0].scope == 0);
    CHECK(r.dns.options == std::vector<std::string>{"ndots:1"});

    // 0.4.0 has no interface mtu: it is not read.
    REQUIRE_FALSE(parseResult(withVersion(kSource040, "0.4.0"), "", r));
    CHECK(r.interfaces[0].mtu == 0);
    // 0.2.0: ip4 then ip6, their routes concatenated, no interface index.
    REQUIRE_FALSE(parseResult(withVersion(kSource020, "0.2.0"), "", r));
    REQUIRE(r.ips.size() == 2);
    CHECK(r.ips[0].address.str() == "10.1.2.3/24");
    CHECK_FALSE(r.ips[0].interface);
    CHECK(r.ips[1].address.str() == "fd00::3/64");
    REQUIRE(r.routes.size() == 3);
    CHECK(r.routes[2].dst.str() == "::/0");
    // Keys match case-insensitively, as Go's decoder does.
    REQUIRE_FALSE(parseResult(R"({"CNIVersion":"1.0.0","IPs":[{"Address":"10.0.0.2/24","GATEWAY":"10.0.0.1"}]})", "", r));
    CHECK(r.cniVersion == "1.0.0");
    REQUIRE(r.ips.size() == 1);
    CHECK(r.ips[0].gateway->str() == "10.0.0.1");
    // An empty gateway is no gateway.
    REQUIRE_FALSE(parseResult(R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24","gateway":""}]})", "", r));
    CHECK_FALSE(r.ips[0].gateway);
}

TEST_CASE("converting to 0.1.0/0.2.0 needs an address", "[result]") {
    Result r;
    r.interfaces.push_back({.name = "eth0"});
    for (const char* to : {"0.1.0", "0.2.0"}) {
        for (const char* from : {"", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}) {
            INFO(from << " -> " << to);
            r.cniVersion = from;
            std::string out = "untouched";
            Error e = printResult(r, to, out);
            CHECK(e.code == kInternal);
            CHECK(e.msg == "cannot convert: no valid IP addresses");
            CHECK(out == "untouched");
            Result c;
            CHECK(convertResult(r, to, c).msg == "cannot convert: no valid IP addresses");
        }
    }
    // Within 0.1.0/0.2.0 it is a copy: no address is fine.
    Result empty;
    empty.cniVersion = "0.1.0";
    std::string out;
    REQUIRE_FALSE(printResult(empty, "0.2.0", out));
    CHECK(out == "{\n    \"cniVersion\": \"0.2.0\",\n    \"dns\": {}\n}");
    // Routes of a family without an address are dropped.
    Result v6;
    REQUIRE_FALSE(parseResult(R"({"cniVersion":"1.0.0","ips":[{"address":"fd00::2/64"}],
        "routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0","gw":"fd00::1","mtu":1280}]})", "", v6));
    REQUIRE_FALSE(printResult(v6, "0.2.0", out));
    CHECK(sameJson(out, R"({"cniVersion":"0.2.0","ip6":{"ip":"fd00::2/64","routes":[{"dst":"::/0","gw":"fd00::1"}]},"dns":{}})"));
}

TEST_CASE("empty dns per version", "[result]") {
    Result r;
    r.ips.push_back({.address = *util::IPNet::parse("10.0.0.2/24")});
    struct Case {
        const char* version;
        bool hasDns;
    } cases[] = {{"0.1.0", true}, {"0.2.0", true}, {"0.3.0", true}, {"0.3.1", true},
                 {"0.4.0", true}, {"1.0.0", true}, {"1.1.0", false}};
    for (const auto& c : cases) {
        INFO(c.version);
        std::string out;
        REQUIRE_FALSE(printResult(r, c.version, out));
        CHECK((out.find("\"dns\": {}") != std::string::npos) == c.hasDns);
    }
    std::string out;
    REQUIRE_FALSE(printResult(r, "1.1.0", out));
    CHECK(out == R"({
    "cniVersion": "1.1.0",
    "ips": [
        {
            "address": "10.0.0.2/24"
        }
    ]
})");
}

TEST_CASE("print order and omitted fields", "[result]") {
    Result r;
    r.cniVersion = "";  // built by a plugin: treated as the current version
    r.interfaces.push_back({.name = "eth0", .mac = "02:00:00:00:00:01", .mtu = 1500, .sandbox = "/run/netns/a",
                            .socketPath = "/s", .pciID = "0000:00:01.0"});
    r.interfaces.push_back({});
    r.ips.push_back({.interface = 0, .address = *util::IPNet::parse("10.0.0.2/24"),
                     .gateway = util::IP::parse("10.0.0.1")});
    Route rt;
    rt.dst = *util::IPNet::parse("0.0.0.0/0");
    rt.gw = util::IP::parse("10.0.0.1");
    rt.mtu = 1400;
    rt.advmss = 1300;
    rt.priority = 3;
    rt.table = 0;
    rt.scope = 200;
    r.routes.push_back(rt);
    r.dns.nameservers = {"10.0.0.53"};
    r.dns.search = {"svc"};
    std::string out;
    REQUIRE_FALSE(printResult(r, "1.1.0", out));
    CHECK(out == R"({
    "cniVersion": "1.1.0",
    "interfaces": [
        {
            "name": "eth0",
            "mac": "02:00:00:00:00:01",
            "mtu": 1500,
            "sandbox": "/run/netns/a",
            "socketPath": "/s",
            "pciID": "0000:00:01.0"
        },
        {
            "name": ""
        }
    ],
    "ips": [
        {
            "interface": 0,
            "address": "10.0.0.2/24",
            "gateway": "10.0.0.1"
        }
    ],
    "routes": [
        {
            "dst": "0.0.0.0/0",
            "gw": "10.0.0.1",
            "mtu": 1400,
            "advmss": 1300,
            "priority": 3,
            "table": 0,
            "scope": 200
        }
    ],
    "dns": {
        "nameservers": [
            "10.0.0.53"
        ],
        "search": [
            "svc"
        ]
    }
})");
    REQUIRE_FALSE(printResult(r, "0.4.0", out));
    CHECK(out == R"({
    "cniVersion": "0.4.0",
    "interfaces": [
        {
            "name": "eth0",
            "mac": "02:00:00:00:00:01",
            "sandbox": "/run/netns/a"
        },
        {
            "name": ""
        }
    ],
    "ips": [
        {
            "version": "4",
            "interface": 0,
            "address": "10.0.0.2/24",
            "gateway": "10.0.0.1"
        }
    ],
    "routes": [
        {
            "dst": "0.0.0.0/0",
            "gw": "10.0.0.1",
            "mtu": 1400,
            "advmss": 1300,
            "priority": 3,
            "table": 0,
            "scope": 200
        }
    ],
    "dns": {
        "nameservers": [
            "10.0.0.53"
        ],
        "search": [
            "svc"
        ]
    }
})");
    REQUIRE_FALSE(printResult(r, "0.2.0", out));
    CHECK(out == R"({
    "cniVersion": "0.2.0",
    "ip4": {
        "ip": "10.0.0.2/24",
        "gateway": "10.0.0.1",
        "routes": [
            {
                "dst": "0.0.0.0/0",
                "gw": "10.0.0.1"
            }
        ]
    },
    "dns": {
        "nameservers": [
            "10.0.0.53"
        ],
        "search": [
            "svc"
        ]
    }
})");
}

TEST_CASE("result parse errors", "[result]") {
    struct Case {
        const char* in;
        int code;
    } cases[] = {
        {"", kDecodeFailure},
        {"{", kDecodeFailure},
        {"[]", kDecodeFailure},
        {"\"x\"", kDecodeFailure},
        {R"({"cniVersion":1})", kDecodeFailure},
        {R"({"cniVersion":"0.5.0"})", kIncompatibleVersion},
        {R"({"cniVersion":"2.0.0","ips":[]})", kIncompatibleVersion},
        {R"({"cniVersion":"1.0.0","ips":{}})", kDecodeFailure},
        {R"({"cniVersion":"1.0.0","ips":[1]})", kDecodeFailure},
        {R"({"cniVersion":"1.0.0","ips":[{}]})", kDecodeFailure},
        {R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.1"}]})", kDecodeFailure},
        {R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.1/24","gateway":"x"}]})", kDecodeFailure},
        {R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.1/24","interface":"0"}]})", kDecodeFailure},
        {R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.1/24","interface":1.5}]})", kDecodeFailure},
        {R"({"cniVersion":"0.4.0","ips":[{"version":4,"address":"10.0.0.1/24"}]})", kDecodeFailure},
        {R"({"cniVersion":"1.0.0","interfaces":[{"name":1}]})", kDecodeFailure},
        {R"({"cniVersion":"1.0.0","interfaces":[{"name":"a","mtu":"1500"}]})", kDecodeFailure},
        {R"({"cniVersion":"1.0.0","interfaces":"eth0"})", kDecodeFailure},
        {R"({"cniVersion":"1.0.0","routes":[{"gw":"10.0.0.1"}]})", kDecodeFailure},
        {R"({"cniVersion":"1.0.0","routes":[{"dst":"0.0.0.0/0","table":"main"}]})", kDecodeFailure},
        {R"({"cniVersion":"1.0.0","dns":{"nameservers":"1.1.1.1"}})", kDecodeFailure},
        {R"({"cniVersion":"0.2.0","ip4":"10.0.0.1/24"})", kDecodeFailure},
        {R"({"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.1"}})", kDecodeFailure},
        {R"({"cniVersion":"0.2.0","ip4":{"gateway":"10.0.0.1"}})", kDecodeFailure},
        {R"({"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.1/24","routes":[{"dst":"x"}]}})", kDecodeFailure},
    };
    for (const auto& c : cases) {
        INFO(c.in);
        Result r;
        r.cniVersion = "untouched";
        Error e = parseResult(c.in, "1.0.0", r);
        CHECK(e.code == c.code);
        CHECK_FALSE(e.msg.empty());
        CHECK(r.cniVersion == "untouched");
    }
    Result r;
    CHECK(parseResult(R"({"cniVersion":"0.5.0"})", "", r).msg == "unsupported CNI result version \"0.5.0\"");
    // Keys of other versions are ignored, as upstream's decoder does.
    REQUIRE_FALSE(parseResult(R"({"cniVersion":"1.0.0","ip4":{"ip":"10.0.0.1/24"}})", "", r));
    CHECK(r.ips.empty());
    REQUIRE_FALSE(parseResult(R"({"cniVersion":"0.2.0","ips":[{"address":"10.0.0.1/24"}]})", "", r));
    CHECK(r.ips.empty());
}

TEST_CASE("printing to an unknown version fails", "[result]") {
    Result r;
    std::string out;
    Error e = printResult(r, "0.5.0", out);
    CHECK(e.code == kIncompatibleVersion);
    CHECK(e.msg == "no converter for CNI result version 1.1.0 to 0.5.0");
    r.cniVersion = "9.9.9";
    CHECK(printResult(r, "1.0.0", out).msg == "no converter for CNI result version 9.9.9 to 1.0.0");
    // An empty target is 0.1.0, as upstream's Convert.
    Result ok;
    ok.cniVersion = "0.2.0";
    ok.ips.push_back({.address = *util::IPNet::parse("10.0.0.2/24")});
    REQUIRE_FALSE(printResult(ok, "", out));
    CHECK(out.find("\"cniVersion\": \"0.1.0\"") != std::string::npos);
}

TEST_CASE("strings in results are escaped as Go does", "[result]") {
    Result r;
    r.interfaces.push_back({.name = "a<b>", .sandbox = "/x&y"});
    r.dns.domain = "d\"q";
    std::string out;
    REQUIRE_FALSE(printResult(r, "1.0.0", out));
    CHECK(out.find(R"("name": "a\u003cb\u003e")") != std::string::npos);
    CHECK(out.find(R"("sandbox": "/x\u0026y")") != std::string::npos);
    CHECK(out.find(R"("domain": "d\"q")") != std::string::npos);
}
