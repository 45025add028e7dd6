// libFuzzer target: arbitrary bytes as a DHCP message (decode), as an IPv4
// frame from a packet socket (unframeUdp, with and without the UDP checksum)
// and as the value of each option the client reads. Besides crashes and
// sanitizer reports it checks round trips: a decoded message encodes and
// decodes to the same header and options, an unframed payload framed again
// unframes to the same datagram, and parsed values keep their invariants.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dhcp/packet.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void values(std::string_view raw) {
    std::vector<dhcp::Route> routes;
    if (!dhcp::parseClasslessRoutes(raw, routes))
        for (const auto& r : routes) check(r.dst.ip.is4() && r.dst.prefix <= 32 && !r.dst.hasHostBits() && r.gw.is4());
    routes.clear();
    if (!dhcp::parseStaticRoutes(raw, routes)) {
        check(routes.size() == raw.size() / 8);
        for (const auto& r : routes) check(r.dst.prefix >= 8 && r.dst.prefix <= 24 && !r.dst.hasHostBits());
    }
    std::vector<util::IP> ips;
    if (!dhcp::parseIPList(raw, ips)) check(ips.size() == raw.size() / 4);
    std::vector<std::string> names;
    if (!dhcp::parseDomainSearch(raw, names))
        for (const auto& n : names) check(!n.empty() && n.size() <= 253 && n.front() != '.' && n.back() != '.');
    check(dhcp::parseDomainName(raw).find('\0') == std::string::npos);
    if (auto c = dhcp::optionCode(raw)) check(*c >= 1 && *c <= 254);
}

void message(std::span<const uint8_t> bytes) {
    dhcp::Message m;
    if (dhcp::decode(bytes, m)) return;
    (void)m.type();
    for (uint8_t code : {dhcp::kOptServerID, dhcp::kOptSubnetMask, dhcp::kOptLeaseTime}) {
        (void)m.ipOption(code);
        (void)m.u32Option(code);
    }
    for (const auto& [code, value] : m.options) {
        (void)code;
        values(value);
    }

    auto wire = dhcp::encode(m);
    check(wire.size() >= 300);
    dhcp::Message back;
    if (dhcp::decode(wire, back)) std::abort();
    check(back.options == m.options);
    check(back.op == m.op && back.htype == m.htype && back.hlen == m.hlen && back.hops == m.hops &&
          back.xid == m.xid && back.secs == m.secs && back.flags == m.flags && back.ciaddr == m.ciaddr &&
          back.yiaddr == m.yiaddr && back.siaddr == m.siaddr && back.giaddr == m.giaddr && back.chaddr == m.chaddr);
    check(dhcp::encode(back) == wire);
}

void frame(std::span<const uint8_t> bytes) {
    auto d = dhcp::unframeUdp(bytes);
    auto lax = dhcp::unframeUdp(bytes, false);
    if (d) check(lax && lax->payload.data() == d->payload.data() && lax->payload.size() == d->payload.size());
    if (!lax) return;
    check(lax->payload.data() >= bytes.data() &&
          lax->payload.data() + lax->payload.size() <= bytes.data() + bytes.size());
    message(lax->payload);

    auto again = dhcp::frameUdp(lax->src, lax->srcPort, lax->dst, lax->dstPort, lax->payload);
    auto r = dhcp::unframeUdp(again);
    check(r && r->src == lax->src && r->dst == lax->dst && r->srcPort == lax->srcPort &&
          r->dstPort == lax->dstPort &&
          std::equal(r->payload.begin(), r->payload.end(), lax->payload.begin(), lax->payload.end()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> bytes(data, size);
    message(bytes);
    frame(bytes);
    values(std::string_view(reinterpret_cast<const char*>(data), size));
    // Any payload framed unframes to itself (addresses and ports from the
    // input, so checksums of every shape are made and verified).
    if (size >= 12) {
        auto src = util::IP::v4(data[0], data[1], data[2], data[3]);
        auto dst = util::IP::v4(data[4], data[5], data[6], data[7]);
        auto sp = static_cast<uint16_t>(data[8] << 8 | data[9]);
        auto dp = static_cast<uint16_t>(data[10] << 8 | data[11]);
        auto f = dhcp::frameUdp(src, sp, dst, dp, bytes.subspan(12));
        auto r = dhcp::unframeUdp(f);
        check(r && r->src == src && r->dst == dst && r->srcPort == sp && r->dstPort == dp &&
              std::equal(r->payload.begin(), r->payload.end(), bytes.begin() + 12, bytes.end()));
    }
    // The client identifier from three parts of the input.
    std::string_view s(reinterpret_cast<const char*>(data), size);
    auto third = size / 3;
    check(dhcp::defaultClientID(s.substr(0, third), s.substr(third, third), s.substr(2 * third)).size() <=
          254);
    return 0;
}
