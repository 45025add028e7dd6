// DHCPv4 messages (RFC 2131/2132): the BOOTP header and its options, encoded
// and decoded; the IPv4+UDP framing a packet socket sends and receives before
// the client has an address; and the option values a lease is made of
// (routes from options 121 and 33, DNS from 6/15/119, option names).
//
// Everything here is pure computation over bytes: no sockets, no clock.
// Decoding never trusts a length it did not check.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"
#include "util/ipaddr.h"

namespace dhcp {

using util::Error;

// Option codes used by name in this code (RFC 2132, 3442, 3397).
enum Option : uint8_t {
    kOptPad = 0,
    kOptSubnetMask = 1,
    kOptRouter = 3,
    kOptDnsServers = 6,
    kOptHostName = 12,
    kOptDomainName = 15,
    kOptStaticRoutes = 33,
    kOptRequestedIP = 50,
    kOptLeaseTime = 51,
    kOptOverload = 52,
    kOptMessageType = 53,
    kOptServerID = 54,
    kOptParamRequest = 55,
    kOptMessage = 56,
    kOptMaxMessageSize = 57,
    kOptRenewalTime = 58,
    kOptRebindingTime = 59,
    kOptVendorClass = 60,
    kOptClientID = 61,
    kOptUserClass = 77,
    kOptDomainSearch = 119,
    kOptClasslessRoutes = 121,
    kOptEnd = 255,
};

enum MessageType : uint8_t {
    kDiscover = 1,
    kOffer = 2,
    kRequest = 3,
    kDecline = 4,
    kAck = 5,
    kNak = 6,
    kRelease = 7,
    kInform = 8,
};

constexpr uint16_t kServerPort = 67;
constexpr uint16_t kClientPort = 68;
constexpr uint16_t kFlagBroadcast = 0x8000;

// IPv4 addresses in this layer are util::IP (family AF_INET).
struct Message {
    uint8_t op = 1;                   // 1 BOOTREQUEST, 2 BOOTREPLY
    uint8_t htype = 1;                // 1 Ethernet
    uint8_t hlen = 6;
    uint8_t hops = 0;
    uint32_t xid = 0;
    uint16_t secs = 0;
    uint16_t flags = 0;
    util::IP ciaddr, yiaddr, siaddr, giaddr;   // unset = 0.0.0.0 on the wire
    std::array<uint8_t, 16> chaddr{};
    // Options by code, each the concatenation of every instance of that code
    // in options, file and sname (RFC 3396), in that order. Pad and End are
    // not kept. encode() splits values longer than 255 bytes into several
    // instances.
    std::map<uint8_t, std::string> options;

    // Option 53, 0 when absent or not one byte.
    uint8_t type() const;
    const std::string* option(uint8_t code) const;
    // An option that is one IPv4 address (1, 50, 54, ...).
    std::optional<util::IP> ipOption(uint8_t code) const;
    // An option that is one 32-bit big-endian number (51, 58, 59).
    std::optional<uint32_t> u32Option(uint8_t code) const;
    void setIP(uint8_t code, const util::IP& ip);
    void setU32(uint8_t code, uint32_t v);
};

// The BOOTP message with the magic cookie and the options (End-terminated;
// the message type first, the rest by code), at least 300 bytes (padded) as
// RFC 1542 asks for old relays.
std::vector<uint8_t> encode(const Message& m);
// A BOOTP message with the magic cookie. Errors (code 100, a text that says
// what is wrong, e.g. "DHCP message truncated: 200 bytes, the header needs
// 240") for: short header, no cookie, an option running past the end,
// hlen > 16. Option overload (52) is honoured; sname/file are otherwise
// ignored.
Error decode(std::span<const uint8_t> bytes, Message& out);

// ---- the IPv4 + UDP framing of a packet socket (SOCK_DGRAM, ETH_P_IP) ----

// An IPv4 header (TTL 64, DF unset, checksum) and a UDP header (checksum
// over the pseudo header) around `payload`.
std::vector<uint8_t> frameUdp(const util::IP& src, uint16_t srcPort, const util::IP& dst, uint16_t dstPort,
                              std::span<const uint8_t> payload);
struct UdpDatagram {
    util::IP src, dst;
    uint16_t srcPort = 0, dstPort = 0;
    std::span<const uint8_t> payload;  // points into the frame given
};
// The UDP payload of an IPv4 frame, or nullopt for anything else: not IPv4,
// a fragment, not UDP, a bad IP header checksum, lengths that do not fit,
// a bad UDP checksum (zero = none is accepted). verifyUdpChecksum = false
// skips the UDP checksum only, for a frame the kernel marks as not yet
// checksummed (TP_STATUS_CSUMNOTREADY in PACKET_AUXDATA: a sender on this
// host behind a veth leaves the sum to offload, so the field holds only the
// pseudo header's part).
std::optional<UdpDatagram> unframeUdp(std::span<const uint8_t> frame, bool verifyUdpChecksum = true);

// ---- option values ----

struct Route {
    util::IPNet dst;      // masked
    util::IP gw;          // 0.0.0.0 = on-link (scope link)
};

// Option 121 (RFC 3442): descriptors of width, significant octets, router.
// A descriptor with width > 32 or running past the end is an error.
Error parseClasslessRoutes(std::string_view raw, std::vector<Route>& out);
// Option 33: pairs (destination, router); the destination's mask from its
// class (A /8, B /16, C /24), as upstream does; a length not a multiple of 8
// or a class D/E destination (no class mask) is an error.
Error parseStaticRoutes(std::string_view raw, std::vector<Route>& out);
// A list of IPv4 addresses (options 3, 6): length a multiple of 4.
Error parseIPList(std::string_view raw, std::vector<util::IP>& out);
// Option 119 (RFC 3397): DNS names in RFC 1035 wire form with compression
// pointers (only backwards, within the option), as dotted names without the
// final dot; the root name alone is skipped. Loops, overruns, names over 255
// bytes and label bytes that are not printable ASCII (or are spaces or dots)
// are errors: the names go into resolv.conf.
Error parseDomainSearch(std::string_view raw, std::vector<std::string>& out);
// Option 15 as text, cut at the first NUL (some servers NUL-terminate it).
std::string parseDomainName(std::string_view raw);

// ---- option names as upstream's ipam config spells them ----

// "subnet-mask" -> 1, "routers" -> 3, "host-name" -> 12,
// "dhcp-client-identifier" -> 61, "user-class" -> 77,
// "vendor-class-identifier" -> 60, or a decimal code 1..254 ("121").
// Anything else: nullopt.
std::optional<uint8_t> optionCode(std::string_view nameOrCode);

// The default client identifier: "<containerID>/<network>/<ifname>",
// truncated to 254 bytes, as upstream. The option value sent is this text
// preceded by type byte 0 (not a hardware address).
std::string defaultClientID(std::string_view containerID, std::string_view network, std::string_view ifname);

}  // namespace dhcp
