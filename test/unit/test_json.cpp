#include <catch2/catch.hpp>

#include "cni/json.h"
#include "helpers.h"

using namespace cni;
using testutil::parse;

TEST_CASE("json::get matches keys as Go structs do", "[json]") {
    auto d = parse(R"({"mtu":1,"MTU":2,"name":"a","Name":null,"other":3,"x":null})");
    REQUIRE(json::get(d, "mtu"));
    CHECK(json::get(d, "mtu")->GetInt() == 2);  // last case-insensitive match
    CHECK(json::get(d, "Mtu")->GetInt() == 2);
    CHECK(json::getExact(d, "mtu")->GetInt() == 1);
    CHECK(json::getExact(d, "MTU")->GetInt() == 2);
    CHECK(json::getExact(d, "Mtu") == nullptr);
    REQUIRE(json::get(d, "name"));
    CHECK(std::string(json::get(d, "name")->GetString()) == "a");  // null counts as absent
    CHECK(json::get(d, "x") == nullptr);
    CHECK(json::get(d, "missing") == nullptr);
    auto arr = parse("[1,2]");
    CHECK(json::get(arr, "mtu") == nullptr);
    auto dup = parse(R"({"a":1,"a":5})");
    CHECK(json::get(dup, "a")->GetInt() == 5);
}

TEST_CASE("typed readers", "[json]") {
    auto d = parse(R"({
        "s":"str","b":true,"i":-5,"big":9007199254740993,"u":4294967295,"neg":-1,"f":1.5,"e":1e3,
        "list":["a","b"],"nlist":["a",null],"badlist":["a",1],
        "ip":"10.0.0.1","ip6":"fd00::1","empty":"","badip":"10.0.0.300",
        "net":"10.0.0.5/24","badnet":"10.0.0.5"
    })");
    std::string s = "keep";
    CHECK_FALSE(json::getString(d, "s", s));
    CHECK(s == "str");
    CHECK_FALSE(json::getString(d, "missing", s));
    CHECK(s == "str");  // untouched
    Error e = json::getString(d, "i", s);
    CHECK(e.code == kInvalidNetConf);
    CHECK(e.msg == "invalid value for \"i\": expected a string, got number");

    bool b = false;
    CHECK_FALSE(json::getBool(d, "b", b));
    CHECK(b);
    CHECK(json::getBool(d, "s", b).msg == "invalid value for \"s\": expected a boolean, got string");

    int64_t i64 = 0;
    CHECK_FALSE(json::getInt(d, "i", i64));
    CHECK(i64 == -5);
    CHECK_FALSE(json::getInt(d, "big", i64));
    CHECK(i64 == 9007199254740993LL);
    CHECK(json::getInt(d, "f", i64).code == kInvalidNetConf);
    CHECK(json::getInt(d, "e", i64).code == kInvalidNetConf);
    CHECK(json::getInt(d, "s", i64).code == kInvalidNetConf);

    int n = 7;
    CHECK(json::getInt(d, "big", n).code == kInvalidNetConf);
    CHECK(n == 7);
    CHECK_FALSE(json::getInt(d, "neg", n));
    CHECK(n == -1);

    uint32_t u = 0;
    CHECK_FALSE(json::getUint32(d, "u", u));
    CHECK(u == 4294967295u);
    CHECK(json::getUint32(d, "neg", u).code == kInvalidNetConf);
    CHECK(json::getUint32(d, "big", u).code == kInvalidNetConf);

    std::vector<std::string> l;
    CHECK_FALSE(json::getStringList(d, "list", l));
    CHECK(l == std::vector<std::string>{"a", "b"});
    CHECK_FALSE(json::getStringList(d, "nlist", l));
    CHECK(l == std::vector<std::string>{"a", ""});
    CHECK(json::getStringList(d, "badlist", l).code == kInvalidNetConf);
    CHECK(json::getStringList(d, "s", l).code == kInvalidNetConf);
    CHECK(l == std::vector<std::string>{"a", ""});

    std::optional<util::IP> ip;
    CHECK_FALSE(json::getIP(d, "ip", ip));
    REQUIRE(ip);
    CHECK(ip->str() == "10.0.0.1");
    CHECK_FALSE(json::getIP(d, "ip6", ip));
    CHECK(ip->str() == "fd00::1");
    CHECK_FALSE(json::getIP(d, "empty", ip));  // "" is no address, as Go's net.IP
    CHECK_FALSE(ip);
    Error ipe = json::getIP(d, "badip", ip);
    CHECK(ipe.code == kInvalidNetConf);
    CHECK(ipe.msg.find("10.0.0.300") != std::string::npos);
    CHECK(ipe.msg.find("badip") != std::string::npos);

    std::optional<util::IPNet> nt;
    CHECK_FALSE(json::getIPNet(d, "net", nt));
    REQUIRE(nt);
    CHECK(nt->str() == "10.0.0.5/24");
    CHECK(json::getIPNet(d, "badnet", nt).code == kInvalidNetConf);
    CHECK(json::getIPNet(d, "empty", nt).code == kInvalidNetConf);
    CHECK(json::getIPNet(d, "i", nt).code == kInvalidNetConf);
}

TEST_CASE("DNS and routes readers", "[json]") {
    auto d = parse(R"({
        "dns":{"nameservers":["10.0.0.53","fd00::53"],"domain":"example.com","search":["a","b"],"options":["ndots:2"]},
        "badDns":[1],
        "routes":[{"dst":"0.0.0.0/0","gw":"10.0.0.1","mtu":1400,"advmss":1360,"priority":5,"table":100,"scope":0},
                  {"dst":"fd00::/8"}],
        "noDst":[{"gw":"10.0.0.1"}],
        "badGw":[{"dst":"0.0.0.0/0","gw":"x"}],
        "notList":{"dst":"0.0.0.0/0"}
    })");
    DNS dns;
    REQUIRE_FALSE(json::getDNS(d, "dns", dns));
    CHECK(dns.nameservers == std::vector<std::string>{"10.0.0.53", "fd00::53"});
    CHECK(dns.domain == "example.com");
    CHECK(dns.search == std::vector<std::string>{"a", "b"});
    CHECK(dns.options == std::vector<std::string>{"ndots:2"});
    CHECK_FALSE(dns.empty());
    CHECK(json::getDNS(d, "badDns", dns).code == kInvalidNetConf);
    DNS none;
    CHECK_FALSE(json::getDNS(d, "absent", none));
    CHECK(none.empty());

    std::vector<Route> rs;
    REQUIRE_FALSE(json::getRoutes(d, "routes", rs));
    REQUIRE(rs.size() == 2);
    CHECK(rs[0].dst.str() == "0.0.0.0/0");
    REQUIRE(rs[0].gw);
    CHECK(rs[0].gw->str() == "10.0.0.1");
    CHECK(rs[0].mtu == 1400);
    CHECK(rs[0].advmss == 1360);
    CHECK(rs[0].priority == 5);
    CHECK(rs[0].table == 100);
    CHECK(rs[0].scope == 0);
    CHECK(rs[1].dst.str() == "fd00::/8");
    CHECK_FALSE(rs[1].gw);
    CHECK_FALSE(rs[1].table);
    CHECK_FALSE(rs[1].scope);
    CHECK(json::getRoutes(d, "noDst", rs).code == kInvalidNetConf);
    CHECK(json::getRoutes(d, "badGw", rs).code == kInvalidNetConf);
    CHECK(json::getRoutes(d, "notList", rs).code == kInvalidNetConf);
    CHECK(rs.size() == 2);  // failures leave `out` alone
}

TEST_CASE("parseDocument reports errors like Go", "[json]") {
    struct Case {
        std::string in;
        const char* msg;
    } cases[] = {
        {"", "unexpected end of JSON input"},
        {"   ", "unexpected end of JSON input"},
        {"{\"a\":", "unexpected end of JSON input"},
        {"x", "invalid character 'x' looking for beginning of value"},
        {"{} x", "invalid character 'x' after top-level value"},
        {"{}{}", "invalid character '{' after top-level value"},
    };
    for (const auto& c : cases) {
        INFO(c.in);
        rapidjson::Document doc;
        Error e = json::parseDocument(c.in, doc);
        CHECK(e.code == kDecodeFailure);
        CHECK(e.msg == c.msg);
    }
    rapidjson::Document doc;
    CHECK(json::parseDocument("{\"a\" 1}", doc, kInvalidNetConf).code == kInvalidNetConf);
    CHECK_FALSE(json::parseDocument(" {\"a\":[1,{}]} \n", doc));
    CHECK(doc["a"].Size() == 2);
    // Deep nesting must not exhaust the stack.
    std::string deep(200000, '[');
    CHECK(json::parseDocument(deep, doc));
    deep += std::string(200000, ']');
    CHECK_FALSE(json::parseDocument(deep, doc));
}

TEST_CASE("stringify and typeName", "[json]") {
    auto d = parse(R"({"a":[1,"x",true,null],"b":{"c":1.5}})");
    CHECK(json::stringify(d) == R"({"a":[1,"x",true,null],"b":{"c":1.5}})");
    CHECK(std::string(json::typeName(d["a"])) == "array");
    CHECK(std::string(json::typeName(d["b"])) == "object");
    CHECK(std::string(json::typeName(d["a"][0])) == "number");
    CHECK(std::string(json::typeName(d["a"][1])) == "string");
    CHECK(std::string(json::typeName(d["a"][2])) == "bool");
    CHECK(std::string(json::typeName(d["a"][3])) == "null");
}

TEST_CASE("getPath takes absolute paths without '..' only", "[json]") {
    auto d = parse(R"({"ok":"/var/lib/cni","root":"/","empty":"","rel":"var/lib","dot":"./x",
        "up":"/var/../etc","upend":"/var/..","dots":"/a/...b/..c","n":5,"nul":"/a\u0000b"})");
    std::string out = "default";
    CHECK_FALSE(json::getPath(d, "missing", out));
    CHECK(out == "default");
    CHECK_FALSE(json::getPath(d, "empty", out));
    CHECK(out == "default");  // "" keeps the default, as upstream
    CHECK_FALSE(json::getPath(d, "ok", out));
    CHECK(out == "/var/lib/cni");
    CHECK_FALSE(json::getPath(d, "root", out));
    CHECK_FALSE(json::getPath(d, "dots", out));  // names that only start with dots are names
    CHECK(out == "/a/...b/..c");
    for (const char* bad : {"rel", "dot", "up", "upend", "nul"}) {
        INFO(bad);
        std::string o = "kept";
        Error e = json::getPath(d, bad, o);
        CHECK(e.code == kInvalidNetConf);
        CHECK(e.msg.find(std::string(bad) + " must be an absolute path") == 0);
        CHECK(o == "kept");
    }
    CHECK(json::getPath(d, "n", out).code == kInvalidNetConf);
    auto longPath = parse("{\"p\":\"/" + std::string(5000, 'x') + "\"}");
    Error e = json::getPath(longPath, "p", out);
    CHECK(e.code == kInvalidNetConf);
    CHECK(e.msg.size() < 400);  // the path is shortened in the message
}
