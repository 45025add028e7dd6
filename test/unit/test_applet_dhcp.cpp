// dhcp's plugin side without a daemon: the config parser
// (applets::dhcp_::parseConf over the skel's CmdArgs), the requests it
// sends, the result it makes of a reply, its in-process delegation, and
// where the link-making applets put a dhcp IPAM DEL.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "applets/dhcp.h"
#include "applets/registry.h"
#include "attach/ipam.h"
#include "dhcp/store.h"
#include "helpers.h"
#include "test_applet.h"

using applets::dhcp_::Conf;

namespace {

std::string config(const std::string& ipam, const char* version = "1.0.0") {
    return std::string(R"({"cniVersion":")") + version + R"(","name":"net1","type":"dhcp","ipam":{"type":"dhcp")" +
           ipam + "}}";
}

constexpr testutil::IpamConfParser<Conf, applets::dhcp_::parseConf> parse;

using Provided = std::vector<std::pair<uint8_t, std::string>>;
const std::vector<uint8_t> kDefaultRequest = {3, 1, 6, 15, 119};

std::string hex(std::string_view bytes) { return dhcp::toHex(bytes); }

std::string bytes(std::initializer_list<int> b) {
    std::string out;
    for (int x : b) out += static_cast<char>(x);
    return out;
}

// A reply to ADD with `address` and the options.
dhcp::Block reply(const std::string& address, const std::vector<std::pair<int, std::string>>& options) {
    dhcp::Block b;
    b.head = "OK";
    b.add("address", address);
    for (const auto& [code, value] : options) b.add("option", std::to_string(code) + " " + hex(value));
    return b;
}

const std::string kMask24 = bytes({255, 255, 255, 0});

std::vector<std::string> routes(const cni::Result& r) {
    std::vector<std::string> out;
    for (const auto& rt : r.routes) {
        std::string s = rt.dst.str();
        if (rt.gw) s += " via " + rt.gw->str();
        if (rt.scope) s += " scope " + std::to_string(*rt.scope);
        if (rt.priority) s += " metric " + std::to_string(rt.priority);
        out.push_back(s);
    }
    return out;
}

}  // namespace

TEST_CASE("dhcp applet config: defaults", "[applet][dhcp]") {
    Conf c = parse.ok(config(""));
    CHECK(c.socketPath == "/run/cni/dhcp.sock");
    CHECK(c.provide.empty());
    CHECK(c.request == kDefaultRequest);
    CHECK(c.priority == 0);
    // Type byte 0, then "<container id>/<network>/<ifname>".
    CHECK(c.clientID == std::string(1, '\0') + "c1/net1/eth0");
    // Keys it does not know are ignored, as the other IPAM applets do.
    CHECK(parse.outcome(config(R"(,"subnet":"10.0.0.0/24","whatever":[1,2])")) == "ok");
}

TEST_CASE("dhcp applet config: every key", "[applet][dhcp]") {
    Conf c = parse.ok(config(R"(,"daemonSocketPath":"/run/other/dhcp.sock",
        "provide":[{"option":"host-name","value":"box"},{"option":"60","value":"vendor"},
                   {"option":"user-class","value":"uc"},{"option":"vendor-class-identifier","value":"v2"}],
        "request":[{"option":"121"},{"option":"subnet-mask"}],
        "priority":200)"));
    CHECK(c.socketPath == "/run/other/dhcp.sock");
    // Codes by name or number; a later value of the same code replaces the
    // earlier one in its place.
    CHECK(c.provide == Provided{{12, "box"}, {60, "v2"}, {77, "uc"}});
    CHECK(c.request == std::vector<uint8_t>{121, 1, 3, 6, 15, 119});
    CHECK(c.priority == 200);

    // "" is the default socket, as upstream; an empty value provides nothing.
    Conf d = parse.ok(config(R"(,"daemonSocketPath":"","provide":[{"option":"host-name","value":""}])"));
    CHECK(d.socketPath == "/run/cni/dhcp.sock");
    CHECK(d.provide.empty());

    // Exactly 255 bytes is allowed; 107 bytes of socket path too.
    std::string v255(255, 'x'), p107 = "/" + std::string(106, 's');
    CHECK(parse.ok(config(R"(,"provide":[{"option":"12","value":")" + v255 + "\"}]")).provide == Provided{{12, v255}});
    CHECK(parse.ok(config(R"(,"daemonSocketPath":")" + p107 + "\"")).socketPath == p107);
}

TEST_CASE("dhcp applet config: fromArg", "[applet][dhcp]") {
    std::string json = config(R"(,"provide":[{"option":"host-name","value":"fallback","fromArg":"K8S_POD_NAME"}])");
    // The CNI_ARGS value wins over value, as upstream.
    CHECK(parse.ok(json, "IgnoreUnknown=1;K8S_POD_NAME=web-0;K8S_POD_NAMESPACE=x").provide == Provided{{12, "web-0"}});
    // No such key: value. CNI_ARGS is read as upstream reads it: no
    // IgnoreUnknown needed, text without '=' skipped, the last pair wins.
    CHECK(parse.ok(json, "OTHER=1").provide == Provided{{12, "fallback"}});
    CHECK(parse.ok(json, "junk;K8S_POD_NAME=a=b;K8S_POD_NAME=c").provide == Provided{{12, "c"}});
    CHECK(parse.ok(json, "K8S_POD_NAME=a=b").provide == Provided{{12, "a=b"}});
    // An empty CNI_ARGS value is provided as such (the key is there).
    CHECK(parse.ok(json, "K8S_POD_NAME=").provide == Provided{{12, ""}});
    // fromArg alone.
    CHECK(parse.ok(config(R"(,"provide":[{"option":"77","fromArg":"UC"}])"), "UC=gold").provide == Provided{{77, "gold"}});
    CHECK(parse.ok(config(R"(,"provide":[{"option":"77","fromArg":"UC"}])")).provide.empty());
    // Too long from CNI_ARGS: code 4, the environment's fault.
    CHECK(parse.outcome(json, "K8S_POD_NAME=" + std::string(256, 'y')) ==
          "4 value too long for option \"host-name\" from CNI_ARGS \"K8S_POD_NAME\": \"" + std::string(256, 'y') +
              "\"");
}

TEST_CASE("dhcp applet config: request and skipDefault", "[applet][dhcp]") {
    // skipDefault on any entry drops the defaults (3, 1 and cnibox's 6, 15, 119).
    CHECK(parse.ok(config(R"(,"request":[{"option":"121"},{"skipDefault":true}])")).request == std::vector<uint8_t>{121});
    CHECK(parse.ok(config(R"(,"request":[{"option":"routers","skipDefault":true}])")).request == std::vector<uint8_t>{3});
    CHECK(parse.ok(config(R"(,"request":[{"skipDefault":true}])")).request.empty());
    CHECK(parse.ok(config(R"(,"request":[{"option":"6","skipDefault":false}])")).request == std::vector<uint8_t>{6, 3, 1, 15, 119});
}

TEST_CASE("dhcp applet config: client ID", "[applet][dhcp]") {
    // Upstream's truncation to 254 bytes, after the type byte.
    std::string longNet(300, 'n');
    Conf c;
    REQUIRE_FALSE(applets::dhcp_::parseConf(
        testutil::cmdArgs(R"({"cniVersion":"1.0.0","name":")" + longNet + R"(","type":"dhcp","ipam":{}})"), c));
    CHECK(c.clientID.size() == 255);
    CHECK(c.clientID.substr(0, 4) == std::string(1, '\0') + "c1/");

    // Provided option 61 is sent as given, instead of the default.
    Conf p = parse.ok(config(R"(,"provide":[{"option":"dhcp-client-identifier","value":"my-id"}])"));
    CHECK(p.clientID == "my-id");
    CHECK(p.provide.empty());
    CHECK(parse.ok(config(R"(,"provide":[{"option":"61","fromArg":"CID"}])"), "CID=x1").clientID == "x1");
}

TEST_CASE("dhcp applet config: invalid values", "[applet][dhcp]") {
    struct Row {
        std::string ipam;
        std::string want;
    };
    const std::string long256(256, 'z');
    const Row rows[] = {
        {R"(,"provide":[{"option":"no-such-option","value":"x"}])",
         "7 Can not parse option \"no-such-option\": not an option name or a code 1..254"},
        {R"(,"provide":[{"value":"x"}])", "7 Can not parse option \"\": not an option name or a code 1..254"},
        {R"(,"provide":[{"option":"256","value":"x"}])",
         "7 Can not parse option \"256\": not an option name or a code 1..254"},
        {R"(,"request":[{"option":"routerz"}])",
         "7 Can not parse option \"routerz\": not an option name or a code 1..254"},
        {R"(,"provide":[{"option":"host-name","value":")" + long256 + "\"}]",
         "7 value too long for option \"host-name\": \"" + long256 + "\""},
        {R"(,"daemonSocketPath":"run/dhcp.sock")",
         "7 daemonSocketPath must be an absolute path of at most 107 bytes, got \"run/dhcp.sock\""},
        {R"(,"daemonSocketPath":"/run/a\u0000b")",
         "7 daemonSocketPath must be an absolute path of at most 107 bytes, got \"/run/a\\x00b\""},
        {R"(,"daemonSocketPath":"/)" + std::string(107, 's') + "\"",
         "7 daemonSocketPath must be an absolute path of at most 107 bytes, got \"/" + std::string(107, 's') + "\""},
        {R"(,"daemonSocketPath":7)", "7 invalid value for \"daemonSocketPath\": expected a string, got number"},
        {R"(,"provide":{"option":"12"})", "7 invalid value for \"provide\": expected a list, got object"},
        {R"(,"provide":["12"])", "7 invalid value for \"provide\": expected objects, got string"},
        {R"(,"request":[{"option":"3","skipDefault":"yes"}])",
         "7 invalid value for \"skipDefault\": expected a boolean, got string"},
        {R"(,"priority":"high")", "7 invalid value for \"priority\": expected an integer, got string"},
        {R"(,"priority":-1)", "7 priority must not be negative, got -1"},
    };
    for (const auto& r : rows) {
        INFO(r.ipam);
        CHECK(parse.outcome(config(r.ipam)) == r.want);
    }
    CHECK(parse.outcome(R"({"cniVersion":"1.0.0","name":"net1","type":"dhcp"})") == "7 IPAM config missing 'ipam' key");
}

TEST_CASE("dhcp applet: the daemon requests", "[applet][dhcp]") {
    std::string json = config(R"(,"provide":[{"option":"host-name","value":"a b%"}],"request":[{"option":"121"}])");
    cni::CmdArgs a = testutil::cmdArgs(json);
    Conf c;
    REQUIRE_FALSE(applets::dhcp_::parseConf(a, c));
    dhcp::Block b = applets::dhcp_::attachmentRequest(a, c, "ADD");
    CHECK(b.head == "ADD");
    using Fields = std::vector<std::pair<std::string, std::string>>;
    CHECK(b.fields == Fields{{"network", "net1"},
                             {"container-id", "c1"},
                             {"ifname", "eth0"},
                             {"netns", "/proc/self/ns/net"},
                             {"client-id", "00" + hex("c1/net1/eth0")},
                             {"request", "121 3 1 6 15 119"},
                             {"provide", "12 " + hex("a b%")}});
    CHECK(applets::dhcp_::attachmentRequest(a, c, "DEL").head == "DEL");

    std::string gcConf = R"({"cniVersion":"1.1.0","name":"net1","type":"dhcp","ipam":{},
        "cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"},{"containerID":"c2","ifname":"net1"}]})";
    dhcp::Block gc = applets::dhcp_::gcRequest(testutil::cmdArgs(gcConf, cni::Command::GC));
    CHECK(gc.head == "GC");
    CHECK(gc.fields == Fields{{"network", "net1"}, {"keep", "c1/eth0"}, {"keep", "c2/net1"}});
}

TEST_CASE("dhcp applet: the result of a reply", "[applet][dhcp]") {
    const std::string router = bytes({10, 1, 2, 1, 10, 1, 2, 2});

    SECTION("option 121 wins, on-link routes have no gw and scope link") {
        // 10.1.2.0/24 on-link, 192.168.0.0/16 via 10.1.2.254, default via 10.1.2.1.
        std::string r121 = bytes({24, 10, 1, 2, 0, 0, 0, 0, 16, 192, 168, 10, 1, 2, 254, 0, 10, 1, 2, 1});
        cni::Result r;
        REQUIRE_FALSE(applets::dhcp_::resultFromReply(
            reply("10.1.2.5/24", {{1, kMask24}, {3, router}, {121, r121}, {33, bytes({10, 0, 0, 0, 10, 1, 2, 9})}}), 0,
            r));
        REQUIRE(r.ips.size() == 1);
        CHECK(r.ips[0].address.str() == "10.1.2.5/24");
        CHECK(r.ips[0].gateway->str() == "10.1.2.1");
        CHECK_FALSE(r.ips[0].interface);
        CHECK(routes(r) == std::vector<std::string>{"10.1.2.0/24 scope 253", "192.168.0.0/16 via 10.1.2.254",
                                                    "0.0.0.0/0 via 10.1.2.1"});
        CHECK(r.dns.empty());
        // Converted to 0.2.0 the scope is dropped: a route without gw.
        cni::Result old;
        REQUIRE_FALSE(cni::convertResult(r, "0.2.0", old));
        CHECK(routes(old)[0] == "10.1.2.0/24");
    }

    SECTION("without 121: option 33's routes and a default route via the first router") {
        cni::Result r;
        REQUIRE_FALSE(applets::dhcp_::resultFromReply(
            reply("10.1.2.5/24", {{1, kMask24}, {3, router}, {33, bytes({10, 0, 0, 0, 10, 1, 2, 9, 172, 16, 0, 0, 10, 1, 2, 8})}}),
            0, r));
        CHECK(routes(r) == std::vector<std::string>{"10.0.0.0/8 via 10.1.2.9", "172.16.0.0/16 via 10.1.2.8",
                                                    "0.0.0.0/0 via 10.1.2.1"});
        // No router: no gateway, no default route.
        cni::Result bare;
        REQUIRE_FALSE(applets::dhcp_::resultFromReply(reply("10.1.2.5/24", {{1, kMask24}}), 0, bare));
        CHECK_FALSE(bare.ips[0].gateway);
        CHECK(bare.routes.empty());
    }

    SECTION("priority is every route's metric") {
        cni::Result r;
        REQUIRE_FALSE(applets::dhcp_::resultFromReply(
            reply("10.1.2.5/24", {{1, kMask24}, {3, router}, {121, bytes({24, 10, 1, 3, 0, 0, 0, 0, 0, 10, 1, 2, 1})}}),
            300, r));
        CHECK(routes(r) == std::vector<std::string>{"10.1.3.0/24 scope 253 metric 300", "0.0.0.0/0 via 10.1.2.1 metric 300"});
    }

    SECTION("dns from options 6, 15 and 119") {
        std::string search = bytes({3}) + "svc" + bytes({7}) + "example" + bytes({3}) + "com" + bytes({0}) +
                             bytes({4}) + "corp" + bytes({0xc0, 4});  // corp.example.com
        cni::Result r;
        REQUIRE_FALSE(applets::dhcp_::resultFromReply(
            reply("10.1.2.5/24",
                  {{1, kMask24}, {6, bytes({10, 1, 2, 53, 9, 9, 9, 9})}, {15, std::string("example.com") + '\0'}, {119, search}}),
            0, r));
        CHECK(r.dns.nameservers == std::vector<std::string>{"10.1.2.53", "9.9.9.9"});
        CHECK(r.dns.domain == "example.com");
        CHECK(r.dns.search == std::vector<std::string>{"svc.example.com", "corp.example.com"});
    }

    SECTION("errors") {
        cni::Result r;
        auto e = applets::dhcp_::resultFromReply(reply("10.1.2.5/24", {{3, router}}), 0, r);
        CHECK(e.code == cni::kPluginSpecific);
        CHECK(e.msg == "DHCP option Subnet Mask not found in DHCPACK");
        e = applets::dhcp_::resultFromReply(reply("10.1.2.5/24", {{1, kMask24}, {6, bytes({1, 2, 3})}}), 0, r);
        CHECK(e.code == cni::kPluginSpecific);
        CHECK(e.msg.starts_with("DHCP option 6 (DNS servers) in the server's reply: "));
        e = applets::dhcp_::resultFromReply(reply("10.1.2.5/24", {{1, kMask24}, {121, bytes({33, 1, 2, 3, 4, 5, 6, 7, 8})}}), 0, r);
        CHECK(e.code == cni::kPluginSpecific);
        e = applets::dhcp_::resultFromReply(reply("fd00::5/64", {{1, kMask24}}), 0, r);
        CHECK(e.code == cni::kDecodeFailure);
        dhcp::Block noAddress;
        noAddress.head = "OK";
        CHECK(applets::dhcp_::resultFromReply(noAddress, 0, r).code == cni::kDecodeFailure);
        dhcp::Block badOption = reply("10.1.2.5/24", {});
        badOption.add("option", "1 zz");
        CHECK(applets::dhcp_::resultFromReply(badOption, 0, r).code == cni::kDecodeFailure);
    }
}

TEST_CASE("dhcp applet: delegated to in-process", "[applet][dhcp]") {
    // It has a main of its own (dhcp daemon) and is still a plugin.
    const cni::Applet* a = registry::find("dhcp");
    REQUIRE(a);
    CHECK(a->main);
    CHECK(registry::inProcessPlugin("dhcp") == a->plugin);
    CHECK(registry::inProcessPlugin("cnitool") == nullptr);
}

TEST_CASE("a dhcp IPAM DEL comes before the link's", "[applet][dhcp][attach]") {
    // CNI_PATH names no plugin, so the IPAM DEL fails: whether the link's
    // DEL ran before it shows the order.
    auto order = [](const char* ipamType, attach::DelOrder o) {
        std::string json = std::string(R"({"cniVersion":"1.0.0","name":"net1","type":"bridge","ipam":{"type":")") +
                           ipamType + "\"}}";
        cni::CmdArgs a = testutil::cmdArgs(json, cni::Command::Del);
        bool linkFirst = false;
        cni::Error e = attach::deleteLinkAndIpam(a, true, o, [&] {
            linkFirst = true;
            return cni::Error();
        });
        CHECK(e);
        return linkFirst;
    };
    CHECK_FALSE(order("dhcp", attach::DelOrder::kLinkFirst));
    CHECK_FALSE(order("dhcp", attach::DelOrder::kIpamFirst));
    CHECK(order("host-local", attach::DelOrder::kLinkFirst));
    CHECK_FALSE(order("host-local", attach::DelOrder::kIpamFirst));
    CHECK(attach::ipamUsesLink("dhcp"));
    CHECK_FALSE(attach::ipamUsesLink("static"));
}
