// The DHCP exchange state machine (see exchange.h).
#include "dhcp/exchange.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "util/random.h"

namespace dhcp {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint16_t kMaxMessageSize = 1500;
constexpr uint32_t kDefaultLeaseSeconds = 60 * 60;
const util::Mac kBroadcastMac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

util::IP any4() { return util::IP::v4(0, 0, 0, 0); }
util::IP broadcast4() { return util::IP::v4(255, 255, 255, 255); }
bool unset4(const util::IP& ip) { return !ip.valid() || ip.isUnspecified(); }

// An address one host may have and be reached at: IPv4, not in 0.0.0.0/8
// ("this network"), 127.0.0.0/8 (loopback) or 224.0.0.0/4 (multicast), not
// the limited broadcast 255.255.255.255. An OFFER's yiaddr and server
// identifier must be one, and so must an ACK's yiaddr: the address goes on
// the container's interface, the server is where renewals and the release go.
bool hostAddress(const util::IP& ip) {
    if (!ip.valid() || !ip.is4()) return false;
    uint8_t a = ip.b[0];
    if (a == 0 || a == 127 || (a >= 224 && a < 240)) return false;
    return !(a == 255 && ip.b[1] == 255 && ip.b[2] == 255 && ip.b[3] == 255);
}

// The prefix length of a contiguous IPv4 netmask, or -1.
int maskPrefix(const util::IP& mask) {
    uint32_t m = uint32_t(mask.b[0]) << 24 | uint32_t(mask.b[1]) << 16 | uint32_t(mask.b[2]) << 8 | mask.b[3];
    int n = 0;
    while (n < 32 && (m & (0x80000000u >> n))) ++n;
    uint32_t expect = n == 0 ? 0 : ~uint32_t(0) << (32 - n);
    return m == expect ? n : -1;
}

}  // namespace

std::string goDuration(milliseconds d) {
    long long ms = d.count();
    if (ms == 0) return "0s";
    std::string sign;
    if (ms < 0) {
        sign = "-";
        ms = -ms;
    }
    if (ms < 1000) return sign + std::to_string(ms) + "ms";
    long long h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
    std::string out = sign;
    if (h) out += std::to_string(h) + "h";
    if (h || m) out += std::to_string(m) + "m";
    out += std::to_string(s);
    if (frac) {
        std::string f = std::to_string(frac);
        f.insert(0, 3 - f.size(), '0');
        while (f.back() == '0') f.pop_back();
        out += "." + f;
    }
    return out + "s";
}

Error Lease::from(const Message& ack, Lease& out) {
    auto mask = ack.ipOption(kOptSubnetMask);
    if (!mask) return Error(util::kPluginSpecific, "DHCP option Subnet Mask not found in DHCPACK");
    int prefix = maskPrefix(*mask);
    if (prefix < 0)
        return Error(util::kPluginSpecific, "DHCP option Subnet Mask in DHCPACK is not a prefix mask: " + mask->str());
    if (unset4(ack.yiaddr) || !ack.yiaddr.is4())
        return Error(util::kPluginSpecific, "DHCPACK carries no address (yiaddr 0.0.0.0)");
    if (!hostAddress(ack.yiaddr))
        return Error(util::kPluginSpecific, "DHCPACK carries an address no interface may have: " + ack.yiaddr.str());
    Lease l;
    l.address = util::IPNet{ack.yiaddr, prefix};
    if (auto s = ack.ipOption(kOptServerID)) l.server = *s;
    uint64_t lease = ack.u32Option(kOptLeaseTime).value_or(kDefaultLeaseSeconds);
    auto t2 = ack.u32Option(kOptRebindingTime);
    uint64_t rebind = t2 && *t2 <= lease ? *t2 : lease * 85 / 100;
    auto t1 = ack.u32Option(kOptRenewalTime);
    uint64_t renew = t1 && *t1 <= rebind ? *t1 : lease / 2;
    l.leaseTime = seconds(lease);
    l.t1 = seconds(renew);
    l.t2 = seconds(rebind);
    out = std::move(l);
    return {};
}

Exchange::Exchange(ExchangeParams params) : p_(std::move(params)) {}

uint32_t Exchange::random() {
    if (p_.random) return p_.random();
    uint32_t r;
    util::randomBytes(&r, sizeof r);
    return r;
}

void Exchange::start(Kind kind, Time now, const Held& held) {
    kind_ = kind;
    held_ = held;
    sends_.clear();
    outcome_ = Outcome{};
    xid_ = random();
    start_ = now;
    end_ = now + p_.timeout;
    state_ = kind == Kind::Acquire ? State::Selecting : State::Requesting;
    firstRequest_ = now;
    offered_ = offerServer_ = util::IP{};
    offerMac_ = util::Mac{};
    if (kind != Kind::Acquire) {
        if (unset4(held.address) || !held.address.is4())
            return fail(Error(util::kInternal, "DHCP on " + p_.ifname + ": no leased address to renew or release"));
        if (kind != Kind::Rebind && (unset4(held.server) || !held.server.is4()))
            return fail(Error(util::kInternal, "DHCP on " + p_.ifname + ": no server to renew or release with"));
    }
    transmit(now);
    if (kind == Kind::Release) return finish(Outcome::Kind::Released);
    resetBackoff(now);
}

Message Exchange::base(uint8_t type, Time now) const {
    Message m;
    m.op = 1;
    m.xid = xid_;
    auto elapsed = std::chrono::duration_cast<seconds>(now - start_).count();
    m.secs = uint16_t(std::clamp<long long>(elapsed, 0, 0xffff));
    if (p_.broadcast) m.flags = kFlagBroadcast;
    std::memcpy(m.chaddr.data(), p_.mac.b.data(), 6);
    m.options[kOptMessageType] = std::string(1, char(type));
    if (!p_.clientID.empty()) m.options[kOptClientID] = p_.clientID;
    return m;
}

void Exchange::addRequestOptions(Message& m) const {
    m.options[kOptMaxMessageSize] = std::string{char(kMaxMessageSize >> 8), char(kMaxMessageSize & 0xff)};
    if (!p_.requestList.empty())
        m.options[kOptParamRequest] = std::string(p_.requestList.begin(), p_.requestList.end());
    for (const auto& [code, value] : p_.provide) {
        if (code == kOptMessageType || code == kOptRequestedIP || code == kOptServerID || code == kOptPad ||
            code == kOptEnd)
            continue;
        m.options[code] = value;
    }
}

void Exchange::queue(const Message& m, const util::IP& src, const util::IP& dst, const util::Mac& dest) {
    std::vector<uint8_t> payload = encode(m);
    sends_.push_back(Send{frameUdp(src, kClientPort, dst, kServerPort, payload), dest});
}

void Exchange::transmit(Time now) {
    const util::Mac& serverMac = held_.serverMac == util::Mac{} ? kBroadcastMac : held_.serverMac;
    switch (kind_) {
    case Kind::Acquire:
        if (state_ == State::Selecting) {
            Message m = base(kDiscover, now);
            discoverSecs_ = m.secs;
            addRequestOptions(m);
            queue(m, any4(), broadcast4(), kBroadcastMac);
        } else {
            Message m = base(kRequest, now);
            m.secs = discoverSecs_;
            addRequestOptions(m);
            m.setIP(kOptRequestedIP, offered_);
            m.setIP(kOptServerID, offerServer_);
            queue(m, any4(), broadcast4(), kBroadcastMac);
        }
        break;
    case Kind::Renew:
    case Kind::Rebind: {
        Message m = base(kRequest, now);
        m.ciaddr = held_.address;
        addRequestOptions(m);
        if (kind_ == Kind::Renew)
            queue(m, held_.address, held_.server, serverMac);
        else
            queue(m, held_.address, broadcast4(), kBroadcastMac);
        break;
    }
    case Kind::Release: {
        Message m = base(kRelease, now);
        m.secs = 0;
        m.flags = 0;
        m.ciaddr = held_.address;
        m.setIP(kOptServerID, held_.server);
        queue(m, held_.address, held_.server, serverMac);
        break;
    }
    }
}

milliseconds Exchange::jittered(milliseconds d) {
    long long span = std::min<long long>(d.count() / 4, 1000);
    if (span <= 0) return d;
    long long r = random();
    return d + milliseconds((r - 0x80000000LL) * 2 * span / 0x100000000LL);
}

void Exchange::resetBackoff(Time now) {
    backoff_ = std::min<milliseconds>(seconds(1), p_.resendMax);
    nextSend_ = now + jittered(backoff_);
}

void Exchange::finish(Outcome::Kind kind) {
    outcome_.kind = kind;
    state_ = State::Done;
}

void Exchange::fail(Error e) {
    outcome_.error = std::move(e);
    finish(Outcome::Kind::Failed);
}

void Exchange::onPacket(std::span<const uint8_t> payload, const util::Mac& srcMac, Time now) {
    if (state_ != State::Selecting && state_ != State::Requesting) return;
    Message m;
    if (decode(payload, m)) return;
    if (m.op != 2 || m.xid != xid_ || std::memcmp(m.chaddr.data(), p_.mac.b.data(), 6) != 0) return;
    uint8_t type = m.type();
    if (type == 0) return;

    if (state_ == State::Selecting) {
        if (type != kOffer || !hostAddress(m.yiaddr)) return;
        auto server = m.ipOption(kOptServerID);
        // A REQUEST must name the server (54), renewals go to it.
        if (!server || !hostAddress(*server)) return;
        offered_ = m.yiaddr;
        offerServer_ = *server;
        offerMac_ = srcMac;
        state_ = State::Requesting;
        firstRequest_ = now;
        transmit(now);
        resetBackoff(now);
        return;
    }

    if (type != kAck && type != kNak) return;
    // A reply from another server than the one asked (in Acquire and Renew)
    // is not ours to take, nor one that does not say which server it is
    // from (RFC 2131 table 3: an ACK and a NAK carry 54); in Rebind any
    // server may answer.
    std::optional<util::IP> expected;
    if (kind_ == Kind::Acquire) expected = offerServer_;
    if (kind_ == Kind::Renew) expected = held_.server;
    auto server = m.ipOption(kOptServerID);
    if (expected && (!server || *server != *expected)) return;

    outcome_.serverMac = srcMac;
    outcome_.acquired = firstRequest_;
    if (type == kNak) {
        outcome_.reply = std::move(m);
        return finish(Outcome::Kind::Nak);
    }
    Lease lease;
    if (auto e = Lease::from(m, lease)) return fail(std::move(e));
    outcome_.reply = std::move(m);
    finish(Outcome::Kind::Bound);
}

void Exchange::onTimer(Time now) {
    if (state_ != State::Selecting && state_ != State::Requesting) return;
    if (now >= end_)
        return fail(Error(util::kTryAgainLater, "no DHCP reply on " + p_.ifname + " within " + goDuration(p_.timeout)));
    if (now < nextSend_) return;
    transmit(now);
    backoff_ = std::min<milliseconds>(backoff_ * 2, p_.resendMax);
    nextSend_ = now + jittered(backoff_);
}

std::optional<Exchange::Held> Exchange::unconfirmed() const {
    if (kind_ != Kind::Acquire || !offered_.valid()) return std::nullopt;
    if (state_ != State::Requesting && !(state_ == State::Done && outcome_.kind == Outcome::Kind::Failed))
        return std::nullopt;
    return Held{offered_, offerServer_, offerMac_};
}

std::vector<Exchange::Send> Exchange::takeSends() { return std::exchange(sends_, {}); }

std::optional<Time> Exchange::deadline() const {
    if (state_ != State::Selecting && state_ != State::Requesting) return std::nullopt;
    return std::min(nextSend_, end_);
}

}  // namespace dhcp
