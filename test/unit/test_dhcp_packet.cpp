#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "dhcp/packet.h"

using dhcp::Message;
using dhcp::Route;
using util::IP;

namespace {

IP ip(const char* s) {
    auto r = IP::parse(s);
    if (!r) FAIL("cannot parse " << s);
    return *r;
}

std::string str(std::initializer_list<int> bytes) {
    std::string s;
    for (int b : bytes) s += static_cast<char>(b);
    return s;
}

void append(std::vector<uint8_t>& v, std::string_view s) { v.insert(v.end(), s.begin(), s.end()); }
void append(std::vector<uint8_t>& v, std::initializer_list<int> bytes) {
    for (int b : bytes) v.push_back(static_cast<uint8_t>(b));
}

// A BOOTREPLY header as a server would send it, through the cookie: xid
// 0x3903f326, yiaddr 192.168.1.100, siaddr 192.168.1.1, chaddr
// 00:0b:82:01:fc:42.
std::vector<uint8_t> replyHeader() {
    std::vector<uint8_t> v(236, 0);
    v[0] = 2;
    v[1] = 1;
    v[2] = 6;
    v[4] = 0x39; v[5] = 0x03; v[6] = 0xf3; v[7] = 0x26;
    v[10] = 0x80;  // broadcast flag
    v[16] = 192; v[17] = 168; v[18] = 1; v[19] = 100;
    v[20] = 192; v[21] = 168; v[22] = 1; v[23] = 1;
    const uint8_t mac[] = {0x00, 0x0b, 0x82, 0x01, 0xfc, 0x42};
    for (int i = 0; i < 6; i++) v[28 + i] = mac[i];
    append(v, {99, 130, 83, 99});
    return v;
}

std::string errText(const util::Error& e) { return e.msg; }

// The Internet checksum over `n` bytes, computed here independently of the
// code under test.
uint16_t inetSum(const uint8_t* p, size_t n, uint32_t sum = 0) {
    for (size_t i = 0; i < n; i++) sum += (i % 2 == 0) ? uint32_t(p[i]) << 8 : p[i];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

void refreshIPChecksum(std::vector<uint8_t>& f) {
    f[10] = f[11] = 0;
    uint16_t s = inetSum(f.data(), std::min<size_t>(f.size(), (f[0] & 0x0fu) * 4u));
    f[10] = static_cast<uint8_t>(s >> 8);
    f[11] = static_cast<uint8_t>(s);
}

std::vector<std::string> searchList(std::string_view raw, util::Error* err = nullptr) {
    std::vector<std::string> out;
    util::Error e = dhcp::parseDomainSearch(raw, out);
    if (err) *err = e;
    return out;
}

}  // namespace

TEST_CASE("DHCP message encodes and decodes back", "[dhcp]") {
    Message m;
    m.op = 1;
    m.xid = 0xdeadbeef;
    m.secs = 7;
    m.flags = dhcp::kFlagBroadcast;
    m.ciaddr = ip("10.0.0.5");
    m.giaddr = ip("10.0.0.254");
    m.chaddr = {0x0a, 0x58, 0x0a, 0x00, 0x00, 0x05};
    m.options[dhcp::kOptMessageType] = str({dhcp::kRequest});
    m.setIP(dhcp::kOptRequestedIP, ip("10.0.0.5"));
    m.setU32(dhcp::kOptLeaseTime, 3600);
    m.options[dhcp::kOptParamRequest] = str({1, 3, 6, 15, 119, 121});
    m.options[dhcp::kOptClientID] = std::string(1, '\0') + dhcp::defaultClientID("c1", "net", "eth0");
    m.options[dhcp::kOptHostName] = "";  // present and empty

    auto wire = dhcp::encode(m);
    CHECK(wire.size() == 300);  // padded for RFC 1542 relays
    CHECK(wire[236] == 99);
    CHECK(wire[240] == dhcp::kOptMessageType);  // the type leads the options

    Message d;
    REQUIRE_FALSE(dhcp::decode(wire, d));
    CHECK(d.op == 1);
    CHECK(d.htype == 1);
    CHECK(d.hlen == 6);
    CHECK(d.xid == 0xdeadbeef);
    CHECK(d.secs == 7);
    CHECK(d.flags == 0x8000);
    CHECK(d.ciaddr == ip("10.0.0.5"));
    CHECK(d.yiaddr == ip("0.0.0.0"));  // unset goes out as 0.0.0.0
    CHECK(d.giaddr == ip("10.0.0.254"));
    CHECK(d.chaddr == m.chaddr);
    CHECK(d.options == m.options);
    CHECK(d.type() == dhcp::kRequest);
    CHECK(d.ipOption(dhcp::kOptRequestedIP) == ip("10.0.0.5"));
    CHECK(d.u32Option(dhcp::kOptLeaseTime) == 3600u);
    CHECK_FALSE(d.ipOption(dhcp::kOptServerID));
    CHECK_FALSE(d.u32Option(dhcp::kOptParamRequest));  // six bytes, not four
    CHECK(d.option(dhcp::kOptHostName) != nullptr);
    CHECK(d.option(dhcp::kOptHostName)->empty());
    CHECK(d.option(dhcp::kOptDomainName) == nullptr);

    // Options that do not fit in 300 bytes make the message longer.
    m.options[dhcp::kOptVendorClass] = std::string(200, 'v');
    wire = dhcp::encode(m);
    CHECK(wire.size() > 300);
    REQUIRE_FALSE(dhcp::decode(wire, d));
    CHECK(d.options == m.options);

    // A type that is not one byte reads as none.
    d.options[dhcp::kOptMessageType] = str({5, 5});
    CHECK(d.type() == 0);
    d.options.erase(dhcp::kOptMessageType);
    CHECK(d.type() == 0);
}

TEST_CASE("DHCP OFFER and ACK as a server sends them", "[dhcp]") {
    auto v = replyHeader();
    append(v, {53, 1, 2});                            // OFFER
    append(v, {54, 4, 192, 168, 1, 1});               // server id
    append(v, {51, 4, 0x00, 0x01, 0x51, 0x80});       // lease 86400
    append(v, {1, 4, 255, 255, 255, 0});              // subnet mask
    append(v, {3, 4, 192, 168, 1, 1});                // router
    append(v, {6, 8, 8, 8, 8, 8, 8, 8, 4, 4});        // DNS
    append(v, {15, 12});
    append(v, std::string_view("example.com\0", 12)); // NUL-terminated, as some servers do
    append(v, {0, 0});                                // pads between options
    append(v, {58, 4, 0, 0, 0xa8, 0xc0});             // T1 43200
    append(v, {255});
    v.resize(v.size() + 30, 0);                       // padding after End
    v.back() = 0x42;                                  // ignored after End

    Message m;
    REQUIRE_FALSE(dhcp::decode(v, m));
    CHECK(m.op == 2);
    CHECK(m.xid == 0x3903f326);
    CHECK(m.flags == dhcp::kFlagBroadcast);
    CHECK(m.yiaddr == ip("192.168.1.100"));
    CHECK(m.siaddr == ip("192.168.1.1"));
    CHECK(m.chaddr[0] == 0x00);
    CHECK(m.chaddr[5] == 0x42);
    CHECK(m.type() == dhcp::kOffer);
    CHECK(m.ipOption(dhcp::kOptServerID) == ip("192.168.1.1"));
    CHECK(m.u32Option(dhcp::kOptLeaseTime) == 86400u);
    CHECK(m.u32Option(dhcp::kOptRenewalTime) == 43200u);
    CHECK(m.ipOption(dhcp::kOptSubnetMask) == ip("255.255.255.0"));
    std::vector<IP> routers, dns;
    REQUIRE_FALSE(dhcp::parseIPList(*m.option(dhcp::kOptRouter), routers));
    REQUIRE_FALSE(dhcp::parseIPList(*m.option(dhcp::kOptDnsServers), dns));
    CHECK(routers == std::vector<IP>{ip("192.168.1.1")});
    CHECK(dns == std::vector<IP>{ip("8.8.8.8"), ip("8.8.4.4")});
    CHECK(dhcp::parseDomainName(*m.option(dhcp::kOptDomainName)) == "example.com");
    CHECK(m.options.size() == 8);  // no Pad, no End, nothing after End
    CHECK(m.options.count(0x42) == 0);

    // The ACK: the same message with type 5; no End at all is tolerated.
    v = replyHeader();
    append(v, {53, 1, 5, 51, 4, 0, 0, 0x0e, 0x10});
    REQUIRE_FALSE(dhcp::decode(v, m));
    CHECK(m.type() == dhcp::kAck);
    CHECK(m.u32Option(dhcp::kOptLeaseTime) == 3600u);
}

TEST_CASE("DHCP options repeated are concatenated", "[dhcp]") {
    auto v = replyHeader();
    append(v, {6, 4, 1, 1, 1, 1});
    append(v, {53, 1, 5});
    append(v, {6, 4, 9, 9, 9, 9});
    append(v, {6, 0});
    append(v, {255});
    Message m;
    REQUIRE_FALSE(dhcp::decode(v, m));
    std::vector<IP> dns;
    REQUIRE_FALSE(dhcp::parseIPList(*m.option(dhcp::kOptDnsServers), dns));
    CHECK(dns == std::vector<IP>{ip("1.1.1.1"), ip("9.9.9.9")});
}

TEST_CASE("DHCP option overload reads file and sname", "[dhcp]") {
    auto v = replyHeader();
    // sname (offset 44): more of option 12, then End.
    v[44] = 12; v[45] = 1; v[46] = 'z'; v[47] = 255;
    // file (offset 108): more of option 12, option 15, an End, and bytes after it.
    const int file[] = {12, 4, 'h', 'o', 's', 't', 0, 15, 3, 'l', 'a', 'n', 255, 12, 1, 'X'};
    for (size_t i = 0; i < std::size(file); i++) v[108 + i] = static_cast<uint8_t>(file[i]);
    append(v, {53, 1, 5, 52, 1, 3, 12, 2, 'm', 'y', 255});

    Message m;
    REQUIRE_FALSE(dhcp::decode(v, m));
    // options first, then file, then sname (RFC 3396).
    CHECK(*m.option(dhcp::kOptHostName) == "myhostz");
    CHECK(*m.option(dhcp::kOptDomainName) == "lan");
    CHECK(*m.option(dhcp::kOptOverload) == str({3}));

    // Only file: sname is not read.
    v[245] = 1;
    REQUIRE_FALSE(dhcp::decode(v, m));
    CHECK(*m.option(dhcp::kOptHostName) == "myhost");
    // Only sname.
    v[245] = 2;
    REQUIRE_FALSE(dhcp::decode(v, m));
    CHECK(*m.option(dhcp::kOptHostName) == "myz");
    CHECK(m.option(dhcp::kOptDomainName) == nullptr);
    // Without option 52 the fields are a server name and a boot file.
    std::vector<uint8_t> plain(v.begin(), v.begin() + 240);
    append(plain, {53, 1, 5, 255});
    REQUIRE_FALSE(dhcp::decode(plain, m));
    CHECK(m.option(dhcp::kOptHostName) == nullptr);

    // A bad overload value, and an option running past the end of file.
    v[245] = 4;
    auto e = dhcp::decode(v, m);
    CHECK(e.code == util::kPluginSpecific);
    CHECK_THAT(errText(e), Catch::Contains("overload"));
    v[245] = 1;
    v[108 + 1] = 200;  // option 12 in file claims 200 bytes of 128
    e = dhcp::decode(v, m);
    CHECK(e.code == util::kPluginSpecific);
    CHECK_THAT(errText(e), Catch::Contains("in file runs past"));
}

TEST_CASE("DHCP malformed messages are errors", "[dhcp]") {
    Message m;
    auto v = replyHeader();
    append(v, {53, 1, 2, 255});

    auto e = dhcp::decode(std::span(v.data(), 239), m);
    CHECK(e.code == util::kPluginSpecific);
    CHECK(errText(e) == "DHCP message truncated: 239 bytes, the header needs 240");
    e = dhcp::decode({}, m);
    CHECK(errText(e) == "DHCP message truncated: 0 bytes, the header needs 240");
    // The bare header with cookie and no options is a (useless) message.
    CHECK_FALSE(dhcp::decode(std::span(v.data(), 240), m));

    auto nocookie = v;
    nocookie[239] = 0x62;
    e = dhcp::decode(nocookie, m);
    CHECK(e.code == util::kPluginSpecific);
    CHECK_THAT(errText(e), Catch::Contains("magic cookie"));

    auto longhw = v;
    longhw[2] = 17;
    e = dhcp::decode(longhw, m);
    CHECK(e.code == util::kPluginSpecific);
    CHECK_THAT(errText(e), Catch::Contains("hlen 17"));
    longhw[2] = 16;
    CHECK_FALSE(dhcp::decode(longhw, m));

    auto past = replyHeader();
    append(past, {53, 1, 2, 12, 10, 'a', 'b'});
    e = dhcp::decode(past, m);
    CHECK(e.code == util::kPluginSpecific);
    CHECK(errText(e) == "DHCP option 12 in options runs past its end: 10 bytes at offset 5 of 7");

    auto nolen = replyHeader();
    append(nolen, {53, 1, 2, 12});
    e = dhcp::decode(nolen, m);
    CHECK(e.code == util::kPluginSpecific);
    CHECK_THAT(errText(e), Catch::Contains("no length byte"));
}

TEST_CASE("DHCP values longer than 255 bytes are split on encode", "[dhcp]") {
    Message m;
    std::string big;
    for (int i = 0; i < 600; i++) big += static_cast<char>('a' + i % 26);
    m.options[dhcp::kOptUserClass] = big;
    m.options[dhcp::kOptMessageType] = str({dhcp::kDiscover});
    auto wire = dhcp::encode(m);

    // 53 first, then 77 as 255 + 255 + 90, then End.
    size_t i = 240;
    CHECK(wire[i] == 53);
    i += 3;
    for (size_t want : {255u, 255u, 90u}) {
        REQUIRE(i + 2 < wire.size());
        CHECK(wire[i] == 77);
        CHECK(wire[i + 1] == want);
        i += 2 + want;
    }
    CHECK(wire[i] == 255);

    Message d;
    REQUIRE_FALSE(dhcp::decode(wire, d));
    CHECK(*d.option(dhcp::kOptUserClass) == big);

    // Exactly 255 is one instance.
    m.options[dhcp::kOptUserClass] = big.substr(0, 255);
    wire = dhcp::encode(m);
    CHECK(wire[243] == 77);
    CHECK(wire[244] == 255);
    CHECK(wire[243 + 2 + 255] == 255);
}

TEST_CASE("DHCP frames round trip through IPv4 and UDP", "[dhcp]") {
    std::string text = "a DHCP message, or anything else";
    std::vector<uint8_t> payload(text.begin(), text.end());
    for (size_t len : {payload.size(), payload.size() - 1, size_t(0)}) {  // even, odd, empty
        INFO(len);
        auto f = dhcp::frameUdp(ip("0.0.0.0"), dhcp::kClientPort, ip("255.255.255.255"), dhcp::kServerPort,
                                std::span(payload.data(), len));
        REQUIRE(f.size() == 28 + len);
        CHECK(f[0] == 0x45);
        CHECK(f[2] * 256 + f[3] == int(28 + len));
        CHECK(f[6] == 0);  // DF unset, no fragment
        CHECK(f[8] == 64);
        CHECK(f[9] == 17);
        CHECK(inetSum(f.data(), 20) == 0);  // the header checksum verifies
        // The UDP checksum verifies over the pseudo header.
        uint32_t pseudo = (0u) + (0u) + 0xffffu + 0xffffu + 17u + uint32_t(8 + len);
        CHECK(inetSum(f.data() + 20, 8 + len, pseudo) == 0);

        auto d = dhcp::unframeUdp(f);
        REQUIRE(d);
        CHECK(d->src == ip("0.0.0.0"));
        CHECK(d->dst == ip("255.255.255.255"));
        CHECK(d->srcPort == 68);
        CHECK(d->dstPort == 67);
        CHECK(std::vector<uint8_t>(d->payload.begin(), d->payload.end()) ==
              std::vector<uint8_t>(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(len)));
        CHECK(d->payload.data() == f.data() + 28);  // points into the frame
    }

    auto f = dhcp::frameUdp(ip("192.168.1.1"), 67, ip("192.168.1.100"), 68, payload);
    REQUIRE(dhcp::unframeUdp(f));
    // Every single changed byte is caught by one of the checks.
    for (size_t i = 0; i < f.size(); i++) {
        INFO(i);
        auto g = f;
        g[i] ^= 0x01;
        CHECK_FALSE(dhcp::unframeUdp(g));
    }
    // Ethernet padding after the datagram is not payload.
    auto padded = f;
    padded.resize(f.size() + 18, 0);
    auto d = dhcp::unframeUdp(padded);
    REQUIRE(d);
    CHECK(d->payload.size() == payload.size());
    // A frame shorter than its IP total length is not.
    CHECK_FALSE(dhcp::unframeUdp(std::span(f.data(), f.size() - 1)));
    CHECK_FALSE(dhcp::unframeUdp(std::span(f.data(), 19)));
    CHECK_FALSE(dhcp::unframeUdp({}));
}

TEST_CASE("DHCP unframe rejects what is not one whole UDP datagram", "[dhcp]") {
    std::vector<uint8_t> payload(300, 0x5a);
    auto f = dhcp::frameUdp(ip("10.0.0.1"), 67, ip("10.0.0.2"), 68, payload);

    SECTION("zero UDP checksum means none") {
        f[26] = f[27] = 0;
        REQUIRE(dhcp::unframeUdp(f));
        f[100] ^= 0xff;  // nothing checks the payload now
        CHECK(dhcp::unframeUdp(f));
    }
    SECTION("a bad UDP checksum passes when told not to verify it") {
        f[100] ^= 0xff;
        CHECK_FALSE(dhcp::unframeUdp(f));
        CHECK(dhcp::unframeUdp(f, false));
        f[12] ^= 0xff;  // the IP header checksum is still checked
        CHECK_FALSE(dhcp::unframeUdp(f, false));
    }
    SECTION("fragments") {
        auto g = f;
        g[6] = 0x20;  // more fragments
        refreshIPChecksum(g);
        CHECK_FALSE(dhcp::unframeUdp(g));
        g = f;
        g[7] = 0x10;  // fragment offset
        refreshIPChecksum(g);
        CHECK_FALSE(dhcp::unframeUdp(g));
        g = f;
        g[6] = 0x40;  // DF alone is fine
        refreshIPChecksum(g);
        CHECK(dhcp::unframeUdp(g));
    }
    SECTION("not UDP") {
        f[9] = 6;
        refreshIPChecksum(f);
        CHECK_FALSE(dhcp::unframeUdp(f));
    }
    SECTION("not IPv4") {
        f[0] = 0x65;
        refreshIPChecksum(f);
        CHECK_FALSE(dhcp::unframeUdp(f));
    }
    SECTION("IP options are skipped") {
        std::vector<uint8_t> g(f.begin(), f.begin() + 20);
        append(g, {1, 1, 1, 0});  // NOP NOP NOP EOL
        g.insert(g.end(), f.begin() + 20, f.end());
        g[0] = 0x46;
        g[3] = static_cast<uint8_t>(g[3] + 4);
        refreshIPChecksum(g);
        auto d = dhcp::unframeUdp(g);
        REQUIRE(d);
        CHECK(d->payload.size() == 300);
        CHECK(d->dstPort == 68);
    }
    SECTION("lengths that do not fit") {
        auto g = f;
        g[0] = 0x44;  // header shorter than 20
        refreshIPChecksum(g);
        CHECK_FALSE(dhcp::unframeUdp(g));
        g = f;
        g[0] = 0x4f;  // 60-byte header: its checksum covers bytes that are UDP
        CHECK_FALSE(dhcp::unframeUdp(g));
        g = f;
        g[24] = 0xff;  // UDP length past the IP datagram
        CHECK_FALSE(dhcp::unframeUdp(g));
        g = f;
        g[24] = 0;
        g[25] = 7;  // shorter than its own header
        CHECK_FALSE(dhcp::unframeUdp(g));
        std::vector<uint8_t> h(f.begin(), f.begin() + 24);  // IP datagram with half a UDP header
        h[2] = 0;
        h[3] = 24;
        refreshIPChecksum(h);
        CHECK_FALSE(dhcp::unframeUdp(h));
    }
}

TEST_CASE("DHCP option 121 classless routes (RFC 3442)", "[dhcp]") {
    std::string raw = str({0, 10, 0, 0, 1,                   // 0.0.0.0/0 via 10.0.0.1
                           8, 10, 10, 0, 0, 1,               // 10.0.0.0/8 via 10.0.0.1
                           16, 10, 17, 10, 0, 0, 1,          // 10.17.0.0/16
                           24, 192, 168, 1, 0, 0, 0, 0,      // 192.168.1.0/24 on-link
                           25, 10, 229, 0, 128, 10, 0, 0, 2, // 10.229.0.128/25
                           18, 10, 27, 129, 10, 0, 0, 3,     // 10.27.129.0/18 -> 10.27.128.0/18
                           32, 1, 2, 3, 4, 10, 0, 0, 4});    // host route
    std::vector<Route> routes;
    REQUIRE_FALSE(dhcp::parseClasslessRoutes(raw, routes));
    REQUIRE(routes.size() == 7);
    const char* want[][2] = {
        {"0.0.0.0/0", "10.0.0.1"},     {"10.0.0.0/8", "10.0.0.1"},     {"10.17.0.0/16", "10.0.0.1"},
        {"192.168.1.0/24", "0.0.0.0"}, {"10.229.0.128/25", "10.0.0.2"}, {"10.27.128.0/18", "10.0.0.3"},
        {"1.2.3.4/32", "10.0.0.4"},
    };
    for (size_t i = 0; i < routes.size(); i++) {
        INFO(i);
        CHECK(routes[i].dst.str() == want[i][0]);
        CHECK(routes[i].gw.str() == want[i][1]);
    }
    CHECK(routes[3].gw.isUnspecified());

    routes.clear();
    CHECK_FALSE(dhcp::parseClasslessRoutes("", routes));
    CHECK(routes.empty());

    auto e = dhcp::parseClasslessRoutes(str({33, 1, 2, 3, 4, 5, 10, 0, 0, 1}), routes);
    CHECK(e.code == util::kPluginSpecific);
    CHECK_THAT(errText(e), Catch::Contains("prefix length 33"));
    for (std::string cut : {str({24, 192, 168, 1, 10, 0, 0}), str({24, 192}), str({8, 10, 10, 0, 0, 1, 0})}) {
        INFO(cut.size());
        e = dhcp::parseClasslessRoutes(cut, routes);
        CHECK(e.code == util::kPluginSpecific);
        CHECK_THAT(errText(e), Catch::Contains("left"));
    }
}

TEST_CASE("DHCP option 33 routes take their class's mask", "[dhcp]") {
    std::string raw = str({10, 1, 2, 3, 192, 168, 0, 1,        // class A
                           172, 16, 5, 0, 192, 168, 0, 2,      // class B
                           192, 168, 7, 9, 192, 168, 0, 3,     // class C
                           127, 255, 255, 255, 0, 0, 0, 0});
    std::vector<Route> routes;
    REQUIRE_FALSE(dhcp::parseStaticRoutes(raw, routes));
    REQUIRE(routes.size() == 4);
    CHECK(routes[0].dst.str() == "10.0.0.0/8");
    CHECK(routes[0].gw == ip("192.168.0.1"));
    CHECK(routes[1].dst.str() == "172.16.0.0/16");
    CHECK(routes[2].dst.str() == "192.168.7.0/24");
    CHECK(routes[2].gw == ip("192.168.0.3"));
    CHECK(routes[3].dst.str() == "127.0.0.0/8");

    routes.clear();
    CHECK_FALSE(dhcp::parseStaticRoutes("", routes));
    auto e = dhcp::parseStaticRoutes(raw.substr(0, 7), routes);
    CHECK(e.code == util::kPluginSpecific);
    CHECK_THAT(errText(e), Catch::Contains("not a multiple of 8"));
    e = dhcp::parseStaticRoutes(str({224, 0, 0, 0, 10, 0, 0, 1}), routes);
    CHECK(e.code == util::kPluginSpecific);
    CHECK_THAT(errText(e), Catch::Contains("224.0.0.0"));

    std::vector<IP> list;
    e = dhcp::parseIPList(str({1, 2, 3, 4, 5}), list);
    CHECK(e.code == util::kPluginSpecific);
    CHECK_THAT(errText(e), Catch::Contains("not a multiple of 4"));
}

TEST_CASE("DHCP option 119 domain search (RFC 3397)", "[dhcp]") {
    // RFC 3397 section 2's example, sent as two instances of the option:
    // eng.apple.com and marketing.apple.com, the second pointing into the first.
    auto v = replyHeader();
    append(v, {119, 9, 3, 'e', 'n', 'g', 5, 'a', 'p', 'p', 'l'});
    append(v, {119, 9, 'e', 3, 'c', 'o', 'm', 0, 9, 'm', 'a'});
    append(v, {119, 9, 'r', 'k', 'e', 't', 'i', 'n', 'g', 0xc0, 0x04});
    // A third name, a label then a pointer to "marketing...", which itself
    // points further back.
    append(v, {119, 4, 1, 'x', 0xc0, 15, 255});
    Message m;
    REQUIRE_FALSE(dhcp::decode(v, m));
    util::Error e;
    auto names = searchList(*m.option(dhcp::kOptDomainSearch), &e);
    REQUIRE_FALSE(e);
    CHECK(names == std::vector<std::string>{"eng.apple.com", "marketing.apple.com", "x.marketing.apple.com"});

    // A bare pointer as a whole name, and a root name (skipped).
    names = searchList(str({3, 'c', 'o', 'm', 0, 0, 0xc0, 0}), &e);
    REQUIRE_FALSE(e);
    CHECK(names == std::vector<std::string>{"com", "com"});
    CHECK(searchList("", &e).empty());
    CHECK_FALSE(e);

    struct Bad {
        std::string raw;
        const char* says;
    } bad[] = {
        {str({1, 'a', 0xc0, 0}), "makes a loop"},                   // back to its own first label
        {str({1, 'a', 0, 1, 'b', 0xc0, 3}), "makes a loop"},        // back to this name's start
        {str({0xc0, 0}), "points to itself"},
        {str({0xc0, 2, 1, 'a', 0}), "points forward"},
        {str({3, 'a', 'b'}), "runs past the end"},                  // label longer than the rest
        {str({1, 'a'}), "runs past the end"},                        // no terminating zero
        {str({1, 'a', 0xc0}), "cut short"},
        {str({0x40, 'a', 0}), "reserved label type 0x40"},
        {str({0x80, 'a', 0}), "reserved label type 0x80"},
        {str({3, 'a', '.', 'b', 0}), "byte 46"},
        {str({3, 'a', ' ', 'b', 0}), "byte 32"},
        {str({2, 'a', '\n', 0}), "byte 10"},
    };
    for (const auto& b : bad) {
        INFO(b.says);
        searchList(b.raw, &e);
        CHECK(e.code == util::kPluginSpecific);
        CHECK_THAT(errText(e), Catch::Contains(b.says));
    }

    // A name of 255 bytes in wire form is the longest there is.
    std::string longest;
    for (int i = 0; i < 4; i++) longest += static_cast<char>(i < 3 ? 63 : 61) + std::string(i < 3 ? 63 : 61, 'a');
    longest += '\0';
    REQUIRE(longest.size() == 255);
    names = searchList(longest, &e);
    REQUIRE_FALSE(e);
    CHECK(names.size() == 1);
    std::string tooLong = str({1, 'b'}) + longest;
    searchList(tooLong, &e);
    CHECK_THAT(errText(e), Catch::Contains("longer than 255"));
    // Also when the length comes from following pointers.
    searchList(longest + str({1, 'b', 0xc0, 0}), &e);
    CHECK_THAT(errText(e), Catch::Contains("longer than 255"));
}

TEST_CASE("DHCP option 15 domain name", "[dhcp]") {
    CHECK(dhcp::parseDomainName("example.com") == "example.com");
    CHECK(dhcp::parseDomainName(std::string_view("example.com\0", 12)) == "example.com");
    CHECK(dhcp::parseDomainName(std::string_view("a\0b", 3)) == "a");
    CHECK(dhcp::parseDomainName("") == "");
}

TEST_CASE("DHCP option names as upstream's config spells them", "[dhcp]") {
    CHECK(dhcp::optionCode("subnet-mask") == 1);
    CHECK(dhcp::optionCode("routers") == 3);
    CHECK(dhcp::optionCode("host-name") == 12);
    CHECK(dhcp::optionCode("vendor-class-identifier") == 60);
    CHECK(dhcp::optionCode("dhcp-client-identifier") == 61);
    CHECK(dhcp::optionCode("user-class") == 77);
    CHECK(dhcp::optionCode("1") == 1);
    CHECK(dhcp::optionCode("121") == 121);
    CHECK(dhcp::optionCode("254") == 254);
    CHECK(dhcp::optionCode("012") == 12);  // Go's ParseUint takes leading zeros
    for (const char* bad : {"0", "255", "300", "abc", "", "-1", "+1", " 1", "1 ", "0x10", "Routers", "99999999999"}) {
        INFO(bad);
        CHECK_FALSE(dhcp::optionCode(bad));
    }
}

TEST_CASE("DHCP default client identifier", "[dhcp]") {
    CHECK(dhcp::defaultClientID("abc", "mynet", "eth0") == "abc/mynet/eth0");
    std::string id(300, 'c');
    auto got = dhcp::defaultClientID(id, "mynet", "eth0");
    CHECK(got.size() == 254);
    CHECK(got == id.substr(0, 254));
    got = dhcp::defaultClientID(std::string(250, 'c'), "net", "eth0");
    CHECK(got == std::string(250, 'c') + "/net");
}
