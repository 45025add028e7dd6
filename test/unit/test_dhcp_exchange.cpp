// src/dhcp/exchange: the DHCP client's state machine driven by hand-built
// server replies and a fake clock; the Lease view of an ACK.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "dhcp/exchange.h"
#include "dhcp/packet.h"
#include "util/ipaddr.h"
#include "util/mac.h"

using namespace std::chrono_literals;
using dhcp::Exchange;
using dhcp::Message;
using Outcome = Exchange::Outcome;

namespace {

const util::Mac kOurMac{{0x02, 0, 0, 0, 0, 0x01}};
const util::Mac kServerMac{{0x02, 0, 0, 0, 0, 0xfe}};
const util::Mac kBroadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
const util::IP kServer = util::IP::v4(10, 0, 0, 1);
const util::IP kOffered = util::IP::v4(10, 0, 0, 5);
const dhcp::Time T0 = dhcp::Time{} + 1h;
constexpr uint32_t kXid = 0x12345678;
// The middle of the range: no jitter.
constexpr uint32_t kNoJitter = 0x80000000u;

// Type byte 0, then the text (appended: GCC 12 warns falsely about
// operator+ on a one-byte string at -O3).
std::string clientID() {
    std::string id(1, '\0');
    id += dhcp::defaultClientID("cid", "net", "eth0");
    return id;
}

// Random numbers: the xid first, then `jitter` for ever.
dhcp::ExchangeParams params(uint32_t jitter = kNoJitter) {
    dhcp::ExchangeParams p;
    p.ifname = "eth0";
    p.mac = kOurMac;
    p.clientID = clientID();
    p.requestList = {1, 3};
    auto first = std::make_shared<bool>(true);
    p.random = [first, jitter]() -> uint32_t {
        if (*first) {
            *first = false;
            return kXid;
        }
        return jitter;
    };
    return p;
}

// What a sent frame carries.
struct Sent {
    util::IP src, dst;
    uint16_t srcPort = 0, dstPort = 0;
    util::Mac dest;
    Message m;
};

Sent parse(const Exchange::Send& s) {
    auto d = dhcp::unframeUdp(s.frame);
    REQUIRE(d);
    Sent out;
    out.src = d->src;
    out.dst = d->dst;
    out.srcPort = d->srcPort;
    out.dstPort = d->dstPort;
    out.dest = s.dest;
    REQUIRE_FALSE(dhcp::decode(d->payload, out.m));
    return out;
}

// The one frame the exchange queued.
Sent one(Exchange& x) {
    auto sends = x.takeSends();
    REQUIRE(sends.size() == 1);
    return parse(sends[0]);
}

Message reply(uint8_t type, const util::IP& yiaddr = kOffered, uint32_t xid = kXid) {
    Message m;
    m.op = 2;
    m.xid = xid;
    m.yiaddr = yiaddr;
    std::copy(kOurMac.b.begin(), kOurMac.b.end(), m.chaddr.begin());
    m.options[dhcp::kOptMessageType] = std::string(1, char(type));
    m.setIP(dhcp::kOptServerID, kServer);
    if (type == dhcp::kOffer || type == dhcp::kAck) {
        m.setIP(dhcp::kOptSubnetMask, util::IP::v4(255, 255, 255, 0));
        m.setU32(dhcp::kOptLeaseTime, 600);
    }
    return m;
}

void feed(Exchange& x, const Message& m, dhcp::Time now, const util::Mac& from = kServerMac) {
    x.onPacket(dhcp::encode(m), from, now);
}

bool has(const Message& m, uint8_t code) { return m.option(code) != nullptr; }

// Acquire up to the REQUEST: the OFFER comes at `at`.
Sent toRequesting(Exchange& x, dhcp::Time at = T0 + 200ms) {
    x.start(Exchange::Kind::Acquire, T0);
    (void)x.takeSends();
    feed(x, reply(dhcp::kOffer), at);
    REQUIRE_FALSE(x.done());
    return one(x);
}

Exchange::Held held() { return {kOffered, kServer, kServerMac}; }

// A message of the held lease, sent straight to its server (renew, release).
void checkToServer(const Sent& s) {
    CHECK(s.dest == kServerMac);
    CHECK(s.src == kOffered);
    CHECK(s.dst == kServer);
    CHECK(s.m.ciaddr == kOffered);
}

}  // namespace

TEST_CASE("exchange: a full acquire, DISCOVER to ACK", "[dhcp]") {
    Exchange x(params());
    x.start(Exchange::Kind::Acquire, T0);
    CHECK(x.xid() == kXid);
    Sent d = one(x);
    CHECK(d.dest == kBroadcast);
    CHECK(d.src == util::IP::v4(0, 0, 0, 0));
    CHECK(d.dst == util::IP::v4(255, 255, 255, 255));
    CHECK(d.srcPort == 68);
    CHECK(d.dstPort == 67);
    CHECK(d.m.op == 1);
    CHECK(d.m.xid == kXid);
    CHECK(d.m.type() == dhcp::kDiscover);
    CHECK(d.m.flags == 0);
    CHECK(d.m.secs == 0);
    CHECK(std::equal(kOurMac.b.begin(), kOurMac.b.end(), d.m.chaddr.begin()));
    CHECK((!d.m.ciaddr.valid() || d.m.ciaddr.isUnspecified()));
    REQUIRE(has(d.m, dhcp::kOptClientID));
    CHECK(*d.m.option(dhcp::kOptClientID) == clientID());
    REQUIRE(has(d.m, dhcp::kOptMaxMessageSize));
    CHECK(*d.m.option(dhcp::kOptMaxMessageSize) == std::string("\x05\xdc", 2));
    REQUIRE(has(d.m, dhcp::kOptParamRequest));
    CHECK(*d.m.option(dhcp::kOptParamRequest) == std::string("\x01\x03", 2));
    CHECK_FALSE(has(d.m, dhcp::kOptRequestedIP));
    CHECK_FALSE(has(d.m, dhcp::kOptServerID));
    REQUIRE(x.deadline());
    CHECK(*x.deadline() == T0 + 1s);

    feed(x, reply(dhcp::kOffer), T0 + 300ms);
    Sent r = one(x);
    CHECK(r.dest == kBroadcast);
    CHECK(r.src == util::IP::v4(0, 0, 0, 0));
    CHECK(r.dst == util::IP::v4(255, 255, 255, 255));
    CHECK(r.m.type() == dhcp::kRequest);
    CHECK(r.m.xid == kXid);
    CHECK(r.m.ipOption(dhcp::kOptRequestedIP) == kOffered);
    CHECK(r.m.ipOption(dhcp::kOptServerID) == kServer);
    CHECK(*r.m.option(dhcp::kOptClientID) == clientID());
    CHECK(has(r.m, dhcp::kOptMaxMessageSize));
    CHECK(has(r.m, dhcp::kOptParamRequest));
    CHECK((!r.m.ciaddr.valid() || r.m.ciaddr.isUnspecified()));
    // A new message: retransmission starts over at 1 s.
    CHECK(*x.deadline() == T0 + 1300ms);

    feed(x, reply(dhcp::kAck), T0 + 400ms);
    REQUIRE(x.done());
    CHECK_FALSE(x.deadline());
    CHECK(x.takeSends().empty());
    const Outcome& o = x.outcome();
    REQUIRE(o.kind == Outcome::Kind::Bound);
    CHECK(o.reply.type() == dhcp::kAck);
    CHECK(o.reply.yiaddr == kOffered);
    CHECK(o.serverMac == kServerMac);
    CHECK(o.acquired == T0 + 300ms);
    CHECK(o.error.ok());
    dhcp::Lease l;
    REQUIRE_FALSE(dhcp::Lease::from(o.reply, l));
    CHECK(l.address.str() == "10.0.0.5/24");
    CHECK(l.server == kServer);
    CHECK(l.leaseTime == 600s);
    CHECK(l.t1 == 300s);
    CHECK(l.t2 == 510s);
}

TEST_CASE("exchange: replies not meant for us are ignored", "[dhcp]") {
    Exchange x(params());
    x.start(Exchange::Kind::Acquire, T0);
    (void)x.takeSends();
    auto ignored = [&](const Message& m) {
        feed(x, m, T0 + 100ms);
        CHECK_FALSE(x.done());
        CHECK(x.takeSends().empty());
    };
    ignored(reply(dhcp::kOffer, kOffered, kXid + 1));  // another xid
    Message m = reply(dhcp::kOffer);
    m.chaddr[5] = 0x02;  // another client
    ignored(m);
    m = reply(dhcp::kOffer);
    m.op = 1;  // a BOOTREQUEST (another client's, or our own)
    ignored(m);
    m = reply(dhcp::kOffer);
    m.options.erase(dhcp::kOptMessageType);  // BOOTP, not DHCP
    ignored(m);
    m = reply(dhcp::kOffer);
    m.options.erase(dhcp::kOptServerID);  // nothing to put in the REQUEST's 54
    ignored(m);
    ignored(reply(dhcp::kOffer, util::IP::v4(0, 0, 0, 0)));  // no address offered
    ignored(reply(dhcp::kAck));   // not asked for yet
    ignored(reply(dhcp::kNak));
    x.onPacket(std::vector<uint8_t>(100, 0), kServerMac, T0 + 100ms);  // not a DHCP message
    CHECK_FALSE(x.done());

    // Requesting: further OFFERs and another server's replies are ignored.
    feed(x, reply(dhcp::kOffer), T0 + 200ms);
    CHECK(x.takeSends().size() == 1);
    ignored(reply(dhcp::kOffer));
    Message other = reply(dhcp::kAck);
    other.setIP(dhcp::kOptServerID, util::IP::v4(10, 0, 0, 2));
    ignored(other);
    other.options[dhcp::kOptMessageType] = std::string(1, char(dhcp::kNak));
    ignored(other);
    feed(x, reply(dhcp::kAck), T0 + 300ms);
    CHECK(x.done());
    CHECK(x.outcome().kind == Outcome::Kind::Bound);
}

TEST_CASE("exchange: an OFFER of an address no host may have, or from such a server, is ignored", "[dhcp]") {
    Exchange x(params());
    x.start(Exchange::Kind::Acquire, T0);
    (void)x.takeSends();
    auto ignored = [&](const Message& m) {
        feed(x, m, T0 + 100ms);
        CHECK_FALSE(x.done());
        CHECK(x.takeSends().empty());
    };
    for (const util::IP& y : {util::IP::v4(0, 1, 2, 3), util::IP::v4(127, 0, 0, 9), util::IP::v4(224, 0, 0, 9),
                              util::IP::v4(239, 255, 255, 250), util::IP::v4(255, 255, 255, 255)}) {
        INFO("yiaddr " << y.str());
        ignored(reply(dhcp::kOffer, y));
    }
    for (const util::IP& sid : {util::IP::v4(0, 0, 0, 0), util::IP::v4(127, 0, 0, 1), util::IP::v4(224, 0, 0, 1),
                                util::IP::v4(255, 255, 255, 255)}) {
        INFO("server identifier " << sid.str());
        Message m = reply(dhcp::kOffer);
        m.setIP(dhcp::kOptServerID, sid);
        ignored(m);
    }
    // A well-formed one is still taken.
    feed(x, reply(dhcp::kOffer), T0 + 200ms);
    Sent r = one(x);
    CHECK(r.m.type() == dhcp::kRequest);
    CHECK(r.m.ipOption(dhcp::kOptRequestedIP) == kOffered);
}

TEST_CASE("exchange: an ACK or NAK that does not name the server asked is ignored", "[dhcp]") {
    auto ignoredBy = [](Exchange& x, Message m) {
        feed(x, m, T0 + 1100ms);
        CHECK_FALSE(x.done());
        CHECK(x.takeSends().empty());
    };
    SECTION("acquire") {
        Exchange x(params());
        toRequesting(x);
        Message ack = reply(dhcp::kAck);
        ack.options.erase(dhcp::kOptServerID);
        ignoredBy(x, ack);
        Message nak = reply(dhcp::kNak, util::IP::v4(0, 0, 0, 0));
        nak.options.erase(dhcp::kOptServerID);
        ignoredBy(x, nak);
        feed(x, reply(dhcp::kAck), T0 + 1200ms);
        REQUIRE(x.done());
        CHECK(x.outcome().kind == Outcome::Kind::Bound);
    }
    SECTION("renew") {
        Exchange x(params());
        x.start(Exchange::Kind::Renew, T0, held());
        (void)x.takeSends();
        Message ack = reply(dhcp::kAck);
        ack.options.erase(dhcp::kOptServerID);
        ignoredBy(x, ack);
        ack.setIP(dhcp::kOptServerID, util::IP::v4(10, 0, 0, 2));
        ignoredBy(x, ack);
        Message nak = reply(dhcp::kNak, util::IP::v4(0, 0, 0, 0));
        nak.options.erase(dhcp::kOptServerID);
        ignoredBy(x, nak);
        feed(x, reply(dhcp::kAck), T0 + 1200ms);
        REQUIRE(x.done());
        CHECK(x.outcome().kind == Outcome::Kind::Bound);
    }
    SECTION("rebind: any server, or none named, may answer") {
        Exchange x(params());
        x.start(Exchange::Kind::Rebind, T0, {kOffered, {}, {}});
        (void)x.takeSends();
        Message ack = reply(dhcp::kAck);
        ack.options.erase(dhcp::kOptServerID);
        feed(x, ack, T0 + 100ms);
        REQUIRE(x.done());
        CHECK(x.outcome().kind == Outcome::Kind::Bound);
    }
}

TEST_CASE("exchange: the address a REQUEST asked for and no ACK confirmed", "[dhcp]") {
    auto check = [](const std::optional<Exchange::Held>& h) {
        REQUIRE(h);
        CHECK(h->address == kOffered);
        CHECK(h->server == kServer);
        CHECK(h->serverMac == kServerMac);
    };
    // Times out after 3 s, so that it does while requesting.
    auto p = [] {
        auto q = params();
        q.timeout = 3s;
        return q;
    };
    SECTION("none before the REQUEST, nor after a timeout while selecting") {
        Exchange x(p());
        x.start(Exchange::Kind::Acquire, T0);
        CHECK_FALSE(x.unconfirmed());
        x.onTimer(T0 + 3s);
        REQUIRE(x.done());
        CHECK_FALSE(x.unconfirmed());
    }
    SECTION("while the REQUEST waits, and once it timed out") {
        Exchange x(p());
        toRequesting(x);
        check(x.unconfirmed());
        x.onTimer(T0 + 3s);
        REQUIRE(x.done());
        REQUIRE(x.outcome().kind == Outcome::Kind::Failed);
        check(x.unconfirmed());
    }
    SECTION("after an unusable ACK") {
        Exchange x(p());
        toRequesting(x);
        Message ack = reply(dhcp::kAck);
        ack.options.erase(dhcp::kOptSubnetMask);
        feed(x, ack, T0 + 500ms);
        REQUIRE(x.outcome().kind == Outcome::Kind::Failed);
        check(x.unconfirmed());
    }
    SECTION("none once bound or refused") {
        Exchange x(p());
        toRequesting(x);
        feed(x, reply(dhcp::kAck), T0 + 500ms);
        REQUIRE(x.outcome().kind == Outcome::Kind::Bound);
        CHECK_FALSE(x.unconfirmed());
        Exchange y(p());
        toRequesting(y);
        feed(y, reply(dhcp::kNak, util::IP::v4(0, 0, 0, 0)), T0 + 500ms);
        REQUIRE(y.outcome().kind == Outcome::Kind::Nak);
        CHECK_FALSE(y.unconfirmed());
    }
    SECTION("none for a renewal") {
        Exchange x(p());
        x.start(Exchange::Kind::Renew, T0, held());
        CHECK_FALSE(x.unconfirmed());
    }
    SECTION("its RELEASE goes to the server that offered it") {
        Exchange x(p());
        toRequesting(x);
        auto h = x.unconfirmed();
        REQUIRE(h);
        Exchange rel(p());
        rel.start(Exchange::Kind::Release, T0 + 1s, *h);
        REQUIRE(rel.outcome().kind == Outcome::Kind::Released);
        Sent r = one(rel);
        checkToServer(r);
        CHECK(r.m.type() == dhcp::kRelease);
        CHECK(r.m.ipOption(dhcp::kOptServerID) == kServer);
    }
}

TEST_CASE("exchange: NAK while requesting ends with Nak", "[dhcp]") {
    Exchange x(params());
    toRequesting(x);
    Message nak = reply(dhcp::kNak, util::IP::v4(0, 0, 0, 0));
    nak.options[dhcp::kOptMessage] = "address in use";
    feed(x, nak, T0 + 500ms);
    REQUIRE(x.done());
    CHECK(x.outcome().kind == Outcome::Kind::Nak);
    CHECK(*x.outcome().reply.option(dhcp::kOptMessage) == "address in use");
    CHECK(x.outcome().serverMac == kServerMac);
}

TEST_CASE("exchange: an ACK without subnet mask or usable address fails", "[dhcp]") {
    SECTION("no option 1") {
        Exchange x(params());
        toRequesting(x);
        Message ack = reply(dhcp::kAck);
        ack.options.erase(dhcp::kOptSubnetMask);
        feed(x, ack, T0 + 500ms);
        REQUIRE(x.done());
        CHECK(x.outcome().kind == Outcome::Kind::Failed);
        CHECK(x.outcome().error.code == 100);
        CHECK(x.outcome().error.msg == "DHCP option Subnet Mask not found in DHCPACK");
    }
    SECTION("yiaddr 0.0.0.0") {
        Exchange x(params());
        toRequesting(x);
        feed(x, reply(dhcp::kAck, util::IP::v4(0, 0, 0, 0)), T0 + 500ms);
        REQUIRE(x.done());
        CHECK(x.outcome().kind == Outcome::Kind::Failed);
        CHECK(x.outcome().error.code == 100);
    }
    SECTION("yiaddr no interface may have") {
        Exchange x(params());
        toRequesting(x);
        feed(x, reply(dhcp::kAck, util::IP::v4(127, 0, 0, 9)), T0 + 500ms);
        REQUIRE(x.done());
        CHECK(x.outcome().kind == Outcome::Kind::Failed);
        CHECK(x.outcome().error.code == 100);
        CHECK(x.outcome().error.msg == "DHCPACK carries an address no interface may have: 127.0.0.9");
        for (const util::IP& y : {util::IP::v4(0, 1, 2, 3), util::IP::v4(224, 0, 0, 9),
                                  util::IP::v4(255, 255, 255, 255)}) {
            INFO("yiaddr " << y.str());
            dhcp::Lease l;
            CHECK(dhcp::Lease::from(reply(dhcp::kAck, y), l).code == 100);
        }
        dhcp::Lease l;
        CHECK_FALSE(dhcp::Lease::from(reply(dhcp::kAck, util::IP::v4(240, 0, 0, 1)), l));
    }
}

TEST_CASE("exchange: retransmission schedule and timeout", "[dhcp]") {
    Exchange x(params());
    x.start(Exchange::Kind::Acquire, T0);
    std::vector<dhcp::Time> at{T0};
    std::vector<uint16_t> secs{one(x).m.secs};
    // Early calls do nothing.
    x.onTimer(T0 + 999ms);
    CHECK(x.takeSends().empty());
    while (!x.done()) {
        REQUIRE(x.deadline());
        dhcp::Time t = *x.deadline();
        x.onTimer(t);
        for (auto& s : x.takeSends()) {
            at.push_back(t);
            Sent p = parse(s);
            CHECK(p.m.xid == kXid);
            CHECK(p.m.type() == dhcp::kDiscover);
            secs.push_back(p.m.secs);
        }
    }
    CHECK(at == std::vector<dhcp::Time>{T0, T0 + 1s, T0 + 3s, T0 + 7s});
    CHECK(secs == std::vector<uint16_t>{0, 1, 3, 7});
    const Outcome& o = x.outcome();
    CHECK(o.kind == Outcome::Kind::Failed);
    CHECK(o.error.code == 11);
    CHECK(o.error.msg == "no DHCP reply on eth0 within 10s");
    CHECK_FALSE(x.deadline());
}

TEST_CASE("exchange: retransmissions are capped by resendMax and jittered", "[dhcp]") {
    SECTION("cap") {
        auto p = params();
        p.timeout = 30s;
        p.resendMax = 4s;
        Exchange x(p);
        x.start(Exchange::Kind::Acquire, T0);
        (void)x.takeSends();
        std::vector<dhcp::Time> at;
        while (!x.done()) {
            dhcp::Time t = *x.deadline();
            x.onTimer(t);
            if (!x.takeSends().empty()) at.push_back(t);
        }
        CHECK(at == std::vector<dhcp::Time>{T0 + 1s, T0 + 3s, T0 + 7s, T0 + 11s, T0 + 15s, T0 + 19s, T0 + 23s,
                                            T0 + 27s});
        CHECK(x.outcome().error.msg == "no DHCP reply on eth0 within 30s");
    }
    SECTION("jitter: a quarter of the delay, at most a second") {
        for (uint32_t r : {0u, 0xffffffffu}) {
            auto p = params(r);
            p.timeout = 60s;
            Exchange x(p);
            x.start(Exchange::Kind::Acquire, T0);
            std::vector<dhcp::Time::duration> gaps;
            dhcp::Time last = T0;
            for (int i = 0; i < 5; ++i) {
                dhcp::Time t = *x.deadline();
                gaps.push_back(t - last);
                last = t;
                x.onTimer(t);
            }
            if (r == 0)
                CHECK(gaps == std::vector<dhcp::Time::duration>{750ms, 1500ms, 3s, 7s, 15s});
            else
                CHECK(gaps == std::vector<dhcp::Time::duration>{1249ms, 2499ms, 4999ms, 8999ms, 16999ms});
        }
    }
}

TEST_CASE("exchange: the REQUEST repeats the secs of the DISCOVER", "[dhcp]") {
    Exchange x(params());
    x.start(Exchange::Kind::Acquire, T0);
    x.onTimer(T0 + 1s);
    x.onTimer(T0 + 3s);
    CHECK(x.takeSends().size() == 3);
    feed(x, reply(dhcp::kOffer), T0 + 4500ms);
    CHECK(one(x).m.secs == 3);
    x.onTimer(T0 + 5500ms);
    CHECK(one(x).m.secs == 3);
}

TEST_CASE("exchange: renew is a unicast REQUEST with ciaddr and without 50/54", "[dhcp]") {
    Exchange x(params());
    x.start(Exchange::Kind::Renew, T0, held());
    Sent r = one(x);
    checkToServer(r);
    CHECK(r.m.type() == dhcp::kRequest);
    CHECK_FALSE(has(r.m, dhcp::kOptRequestedIP));
    CHECK_FALSE(has(r.m, dhcp::kOptServerID));
    CHECK(*r.m.option(dhcp::kOptClientID) == clientID());
    CHECK(has(r.m, dhcp::kOptParamRequest));
    // Retransmissions go the same way.
    x.onTimer(T0 + 1s);
    Sent again = one(x);
    CHECK(again.dest == kServerMac);
    CHECK(again.m.secs == 1);
    // An OFFER means nothing here.
    feed(x, reply(dhcp::kOffer), T0 + 1200ms);
    CHECK_FALSE(x.done());
    feed(x, reply(dhcp::kAck), T0 + 1500ms);
    REQUIRE(x.done());
    CHECK(x.outcome().kind == Outcome::Kind::Bound);
    CHECK(x.outcome().acquired == T0);

    SECTION("a zero server MAC falls back to broadcast") {
        Exchange y(params());
        y.start(Exchange::Kind::Renew, T0, {kOffered, kServer, {}});
        Sent s = one(y);
        CHECK(s.dest == kBroadcast);
        CHECK(s.dst == kServer);
    }
    SECTION("without a lease there is nothing to renew") {
        Exchange y(params());
        y.start(Exchange::Kind::Renew, T0);
        REQUIRE(y.done());
        CHECK(y.outcome().kind == Outcome::Kind::Failed);
        CHECK(y.outcome().error.code == 999);
        CHECK(y.takeSends().empty());
    }
    SECTION("a NAK ends it") {
        Exchange y(params());
        y.start(Exchange::Kind::Renew, T0, held());
        feed(y, reply(dhcp::kNak, util::IP::v4(0, 0, 0, 0)), T0 + 10ms);
        CHECK(y.outcome().kind == Outcome::Kind::Nak);
    }
}

TEST_CASE("exchange: rebind broadcasts the REQUEST", "[dhcp]") {
    Exchange x(params());
    x.start(Exchange::Kind::Rebind, T0, {kOffered, {}, {}});
    Sent r = one(x);
    CHECK(r.dest == kBroadcast);
    CHECK(r.src == kOffered);
    CHECK(r.dst == util::IP::v4(255, 255, 255, 255));
    CHECK(r.m.ciaddr == kOffered);
    CHECK_FALSE(has(r.m, dhcp::kOptRequestedIP));
    CHECK_FALSE(has(r.m, dhcp::kOptServerID));
    // Any server may answer.
    Message ack = reply(dhcp::kAck);
    ack.setIP(dhcp::kOptServerID, util::IP::v4(10, 0, 0, 2));
    feed(x, ack, T0 + 100ms);
    REQUIRE(x.done());
    CHECK(x.outcome().kind == Outcome::Kind::Bound);
}

TEST_CASE("exchange: release is a unicast RELEASE with 54, done once sent", "[dhcp]") {
    auto p = params();
    p.broadcast = true;
    Exchange x(p);
    x.start(Exchange::Kind::Release, T0, held());
    REQUIRE(x.done());
    CHECK(x.outcome().kind == Outcome::Kind::Released);
    CHECK_FALSE(x.deadline());
    Sent r = one(x);
    checkToServer(r);
    CHECK(r.m.type() == dhcp::kRelease);
    CHECK(r.m.flags == 0);
    CHECK(r.m.ipOption(dhcp::kOptServerID) == kServer);
    CHECK(*r.m.option(dhcp::kOptClientID) == clientID());
    CHECK_FALSE(has(r.m, dhcp::kOptRequestedIP));
    CHECK_FALSE(has(r.m, dhcp::kOptParamRequest));
}

TEST_CASE("exchange: broadcast flag, provided options and request list", "[dhcp]") {
    auto p = params();
    p.broadcast = true;
    p.provide = {{dhcp::kOptHostName, "pod-1"}, {dhcp::kOptVendorClass, "cnibox"},
                 {dhcp::kOptMessageType, std::string(1, char(dhcp::kInform))}};
    p.requestList = {1, 3, 121};
    Exchange x(p);
    x.start(Exchange::Kind::Acquire, T0);
    Sent d = one(x);
    feed(x, reply(dhcp::kOffer), T0 + 10ms);
    Sent r = one(x);
    for (const Sent* s : {&d, &r}) {
        CHECK(s->m.flags == 0x8000);
        CHECK(*s->m.option(dhcp::kOptHostName) == "pod-1");
        CHECK(*s->m.option(dhcp::kOptVendorClass) == "cnibox");
        CHECK(*s->m.option(dhcp::kOptParamRequest) == std::string("\x01\x03\x79", 3));
    }
    // The message type stays the exchange's own.
    CHECK(d.m.type() == dhcp::kDiscover);
    CHECK(r.m.type() == dhcp::kRequest);

    Exchange y(params());
    y.start(Exchange::Kind::Acquire, T0);
    CHECK(one(y).m.flags == 0);
    auto q = params();
    q.requestList.clear();
    Exchange z(q);
    z.start(Exchange::Kind::Acquire, T0);
    CHECK_FALSE(has(one(z).m, dhcp::kOptParamRequest));
}

TEST_CASE("Lease: lease time, T1 and T2 from an ACK", "[dhcp]") {
    auto lease = [](std::optional<uint32_t> t, std::optional<uint32_t> t1, std::optional<uint32_t> t2) {
        Message m = reply(dhcp::kAck);
        m.options.erase(dhcp::kOptLeaseTime);
        if (t) m.setU32(dhcp::kOptLeaseTime, *t);
        if (t1) m.setU32(dhcp::kOptRenewalTime, *t1);
        if (t2) m.setU32(dhcp::kOptRebindingTime, *t2);
        dhcp::Lease l;
        REQUIRE_FALSE(dhcp::Lease::from(m, l));
        return std::vector<long long>{l.leaseTime.count(), l.t1.count(), l.t2.count()};
    };
    using V = std::vector<long long>;
    CHECK(lease(std::nullopt, std::nullopt, std::nullopt) == V{3600, 1800, 3060});  // upstream's 60 min
    CHECK(lease(1000, std::nullopt, std::nullopt) == V{1000, 500, 850});
    CHECK(lease(1000, 100, 200) == V{1000, 100, 200});
    CHECK(lease(1000, 100, 2000) == V{1000, 100, 850});  // T2 beyond the lease: 85%
    CHECK(lease(1000, 900, std::nullopt) == V{1000, 500, 850});  // T1 beyond T2: 50%
    CHECK(lease(1000, 700, 600) == V{1000, 500, 600});
    CHECK(lease(1000, 600, 600) == V{1000, 600, 600});
    CHECK(lease(0xffffffffu, std::nullopt, std::nullopt) ==
          V{0xffffffffLL, 0xffffffffLL / 2, 0xffffffffLL * 85 / 100});

    Message m = reply(dhcp::kAck);
    m.setIP(dhcp::kOptSubnetMask, util::IP::v4(255, 0, 255, 0));
    dhcp::Lease l;
    util::Error e = dhcp::Lease::from(m, l);
    CHECK(e.code == 100);
    m.setIP(dhcp::kOptSubnetMask, util::IP::v4(255, 255, 255, 255));
    REQUIRE_FALSE(dhcp::Lease::from(m, l));
    CHECK(l.address.str() == "10.0.0.5/32");
    m.setIP(dhcp::kOptSubnetMask, util::IP::v4(0, 0, 0, 0));
    REQUIRE_FALSE(dhcp::Lease::from(m, l));
    CHECK(l.address.prefix == 0);
    m.options.erase(dhcp::kOptServerID);
    REQUIRE_FALSE(dhcp::Lease::from(m, l));
    CHECK_FALSE(l.server.valid());
}

TEST_CASE("goDuration prints as Go's time.Duration", "[dhcp]") {
    CHECK(dhcp::goDuration(10s) == "10s");
    CHECK(dhcp::goDuration(1500ms) == "1.5s");
    CHECK(dhcp::goDuration(1005ms) == "1.005s");
    CHECK(dhcp::goDuration(500ms) == "500ms");
    CHECK(dhcp::goDuration(90s) == "1m30s");
    CHECK(dhcp::goDuration(120s) == "2m0s");
    CHECK(dhcp::goDuration(3600s) == "1h0m0s");
    CHECK(dhcp::goDuration(0ms) == "0s");
}
