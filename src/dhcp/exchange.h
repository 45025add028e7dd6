// One DHCP exchange of one lease as a state machine: acquiring a lease
// (DISCOVER, OFFER, REQUEST, ACK), renewing it (unicast REQUEST), rebinding
// it (broadcast REQUEST) or releasing it (RELEASE).
//
// It does no I/O and reads no clock: it owns neither the packet socket nor a
// timer, so the daemon can run every lease in one event loop and the tests
// can drive it with hand-made replies and a fake clock. The owner
//
//   1. calls start(), then sends every frame takeSends() hands out, on the
//      exchange's RawSocket, to the MAC given with it;
//   2. feeds it each UDP payload the socket receives (onPacket, with the
//      sender's MAC) and calls onTimer() once deadline() has passed, each
//      time sending what takeSends() hands out again;
//   3. stops when done() and reads outcome().
//
// Retransmission (RFC 2131 §4.1, faster at first): the first retransmission
// comes 1 s after the first transmission, then 2, 4, 8 s ... at most
// `resendMax` apart, each randomized by up to ±1/4 of itself and at most
// ±1 s (±1 s from 4 s on, as the RFC asks). The daemon starts an ADD's
// exchange at once, often on a link that was just brought up and still
// drops frames, where the quick first retries matter. The whole exchange
// fails after `timeout` (code 11, "no DHCP reply on eth0 within 10s").
//
// Replies are accepted only with our xid (one random xid per exchange),
// op 2 (BOOTREPLY), our MAC in chaddr and an option 53; anything else is
// ignored, and so is a reply of the wrong type for the state (an OFFER while
// requesting, an ACK while selecting), an OFFER whose yiaddr or server
// identifier (54) is missing or not an address a host may have (0.0.0.0/8,
// 127.0.0.0/8, multicast, 255.255.255.255), and an ACK or NAK of Acquire or
// Renew whose 54 is missing or names another server than the one asked.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dhcp/packet.h"
#include "util/error.h"
#include "util/ipaddr.h"
#include "util/mac.h"

namespace dhcp {

using util::Error;

using Clock = std::chrono::steady_clock;
using Time = Clock::time_point;

// The lease an ACK describes.
struct Lease {
    util::IPNet address;              // yiaddr with the prefix of option 1
    util::IP server;                  // option 54; unset when absent
    std::chrono::seconds leaseTime{}; // option 51; 60 min without one (upstream's default)
    std::chrono::seconds t1{};        // renewal: option 58, or leaseTime/2
    std::chrono::seconds t2{};        // rebinding: option 59, or 85% of leaseTime

    // Reads an ACK. Errors (code 100): no option 1 ("DHCP option Subnet Mask
    // not found in DHCPACK", upstream's text), a mask that is not a prefix,
    // yiaddr 0.0.0.0 or another address no interface may have (0.0.0.0/8,
    // 127.0.0.0/8, multicast, 255.255.255.255). The times follow RFC 2131
    // §4.4.5 with upstream's consistency rules: T2 beyond the lease time
    // becomes 85% of it, then T1 beyond T2 becomes 50% of the lease time.
    static Error from(const Message& ack, Lease& out);
};

// What an exchange needs to know about the interface and the client.
struct ExchangeParams {
    std::string ifname;               // for messages only
    util::Mac mac;                    // the interface's: chaddr
    // Option 61 as sent. The caller builds it: type byte 0, then
    // defaultClientID() (or the configured identifier).
    std::string clientID;
    // Options sent in every DISCOVER and REQUEST (host name 12, vendor class
    // 60, user class 77, ...), code -> value. They are set after 57, 61 and
    // 55 and so replace them; 53, 50 and 54 are always the exchange's own.
    std::map<uint8_t, std::string> provide;
    // Option 55, the codes asked for; empty: not sent.
    std::vector<uint8_t> requestList;
    // flags 0x8000 in DISCOVER and REQUEST: ask the server to broadcast its
    // replies (for clients that cannot take unicast before configuring).
    bool broadcast = false;
    // Upstream's -timeout: the whole exchange fails after it.
    std::chrono::milliseconds timeout{std::chrono::seconds(10)};
    // Upstream's -resendmax: the longest gap between retransmissions.
    std::chrono::milliseconds resendMax{std::chrono::seconds(62)};
    // Uniform 32-bit random numbers: the xid, then the jitter of each
    // retransmission. Empty: the kernel's (util::randomBytes).
    std::function<uint32_t()> random;
};

class Exchange {
public:
    enum class Kind {
        Acquire,  // DISCOVER (broadcast), the first acceptable OFFER, REQUEST with 50 and 54 (broadcast), ACK
        Renew,    // REQUEST with ciaddr, no 50/54, unicast to the server (RFC 2131 §4.3.6 RENEWING)
        Rebind,   // REQUEST with ciaddr, no 50/54, broadcast (REBINDING)
        Release,  // RELEASE with ciaddr and 54, unicast to the server; nothing comes back
    };

    // The lease held, for Renew, Rebind and Release.
    struct Held {
        util::IP address;             // ciaddr and the IP source address
        util::IP server;              // option 54 and the IP destination (Renew, Release)
        util::Mac serverMac;          // the server's MAC as its replies came; zero: broadcast MAC
    };

    // A frame to send: IPv4 + UDP + BOOTP, for RawSocket::send.
    struct Send {
        std::vector<uint8_t> frame;
        util::Mac dest;               // ff:ff:ff:ff:ff:ff or the server's MAC
    };

    struct Outcome {
        enum class Kind {
            Bound,      // `reply` is the ACK: Lease::from(reply) succeeds
            Nak,        // `reply` is the NAK (option 56 may say why)
            Failed,     // `error`: the timeout (code 11) or an unusable ACK (code 100)
            Released,   // the RELEASE went out
        };
        Kind kind = Kind::Failed;
        Message reply;
        util::Mac serverMac;          // source MAC of the reply
        // When the REQUEST that was answered first went out: the lease times
        // count from there (RFC 2131 §4.4.1).
        Time acquired{};
        Error error;
    };

    explicit Exchange(ExchangeParams params);

    // Begins the exchange at `now` and queues its first message. `held` is
    // needed by Renew, Rebind and Release (its address set, and for Renew and
    // Release its server); without it the exchange fails at once (code 999).
    void start(Kind kind, Time now, const Held& held = {});
    // A UDP payload that came to port 68 from `srcMac`.
    void onPacket(std::span<const uint8_t> payload, const util::Mac& srcMac, Time now);
    // Retransmits or gives up, whatever is due at `now`; early calls do nothing.
    void onTimer(Time now);

    // The frames to send now, oldest first; the queue is empty afterwards.
    std::vector<Send> takeSends();
    // When onTimer is due next; nullopt once done (or before start).
    std::optional<Time> deadline() const;
    bool done() const { return state_ == State::Done; }
    // Valid once done().
    const Outcome& outcome() const { return outcome_; }

    // Acquire: the address a REQUEST asked for that no ACK confirmed, with
    // its server and the MAC the OFFER came from, while the exchange waits
    // for the answer or once it failed (timed out, or an unusable ACK);
    // nullopt before the REQUEST, after a Bound or Nak outcome and for the
    // other kinds. The server may have granted it all the same (its ACK
    // late, lost or unusable): an owner that drops the exchange releases it.
    std::optional<Held> unconfirmed() const;

    Kind kind() const { return kind_; }
    uint32_t xid() const { return xid_; }
    const ExchangeParams& params() const { return p_; }

private:
    enum class State { Idle, Selecting, Requesting, Done };

    uint32_t random();
    // A BOOTREQUEST of `type` with xid, chaddr, flags, secs and client ID.
    Message base(uint8_t type, Time now) const;
    // Adds 57, 55 and the provided options (DISCOVER and REQUEST).
    void addRequestOptions(Message& m) const;
    // Encodes and frames `m`, queues it for `dest`.
    void queue(const Message& m, const util::IP& src, const util::IP& dst, const util::Mac& dest);
    // (Re)sends the message of the current state.
    void transmit(Time now);
    // `d` randomized by up to ±1/4 of itself and at most ±1 s.
    std::chrono::milliseconds jittered(std::chrono::milliseconds d);
    // Schedules the first retransmission after a new message.
    void resetBackoff(Time now);
    void finish(Outcome::Kind kind);
    void fail(Error e);

    ExchangeParams p_;
    Kind kind_ = Kind::Acquire;
    State state_ = State::Idle;
    Held held_;
    uint32_t xid_ = 0;
    Time start_{};
    Time end_{};
    Time nextSend_{};
    std::chrono::milliseconds backoff_{};
    // Acquire: the OFFER taken, its server and source MAC, and the secs of
    // the DISCOVER it answered (the REQUEST repeats them, RFC 2131 §4.4.1).
    util::IP offered_;
    util::IP offerServer_;
    util::Mac offerMac_;
    uint16_t discoverSecs_ = 0;
    Time firstRequest_{};
    std::vector<Send> sends_;
    Outcome outcome_;
};

// Go's time.Duration text of a whole number of milliseconds ("10s", "1.5s",
// "1m30s", "500ms"), as upstream's messages print their timeouts.
std::string goDuration(std::chrono::milliseconds d);

}  // namespace dhcp
