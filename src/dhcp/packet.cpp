#include "dhcp/packet.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace dhcp {

namespace {

// BOOTP header layout (RFC 2131 section 2): fixed fields, then sname and
// file, then the magic cookie that starts the options.
constexpr size_t kOffChaddr = 28;
constexpr size_t kOffSname = 44;
constexpr size_t kSnameLen = 64;
constexpr size_t kOffFile = 108;
constexpr size_t kFileLen = 128;
constexpr size_t kOffCookie = 236;
constexpr size_t kOffOptions = 240;
constexpr size_t kMinMessage = 300;  // RFC 1542: old relays drop shorter messages
constexpr uint8_t kCookie[4] = {99, 130, 83, 99};

constexpr size_t kIPHeader = 20;
constexpr size_t kUDPHeader = 8;
constexpr uint8_t kProtoUDP = 17;

Error malformed(std::string msg) { return Error(util::kPluginSpecific, std::move(msg)); }

uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t get32(const uint8_t* p) {
    return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
           (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
void put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}

util::IP ipAt(const uint8_t* p) { return util::IP::v4(p[0], p[1], p[2], p[3]); }
// An address that is not IPv4 (unset included) goes on the wire as 0.0.0.0.
void putIP(uint8_t* p, const util::IP& ip) {
    if (ip.is4())
        std::memcpy(p, ip.b.data(), 4);
    else
        std::memset(p, 0, 4);
}

// The Internet checksum's running sum (RFC 1071): 16-bit big-endian words,
// an odd last byte padded with zero. Folded and complemented by finish().
uint32_t sumBytes(uint32_t sum, const uint8_t* p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += get16(p + i);
    if (n & 1) sum += static_cast<uint32_t>(p[n - 1]) << 8;
    return sum;
}
uint16_t finish(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

// The UDP pseudo header (RFC 768): source, destination, zero, protocol,
// UDP length.
uint32_t pseudoSum(const uint8_t* src, const uint8_t* dst, uint16_t udpLen) {
    uint32_t sum = sumBytes(0, src, 4);
    sum = sumBytes(sum, dst, 4);
    return sum + kProtoUDP + udpLen;
}

// Reads the options of one field (options, file or sname) into `out`,
// appending to what earlier instances left (RFC 3396). Stops at End or at
// the end of the field; an option whose length byte or value would run past
// the field is an error.
Error readOptions(const uint8_t* p, size_t n, std::string_view field, std::map<uint8_t, std::string>& out) {
    size_t i = 0;
    while (i < n) {
        uint8_t code = p[i];
        if (code == kOptEnd) return {};
        if (code == kOptPad) {
            ++i;
            continue;
        }
        if (i + 1 >= n)
            return malformed("DHCP option " + std::to_string(code) + " in " + std::string(field) +
                             " has no length byte");
        size_t len = p[i + 1];
        if (i + 2 + len > n)
            return malformed("DHCP option " + std::to_string(code) + " in " + std::string(field) +
                             " runs past its end: " + std::to_string(len) + " bytes at offset " +
                             std::to_string(i + 2) + " of " + std::to_string(n));
        out[code].append(reinterpret_cast<const char*>(p + i + 2), len);
        i += 2 + len;
    }
    return {};
}

// Appends one option as as many instances as its value needs (at most 255
// bytes each); an empty value is one instance of length 0.
void writeOption(std::vector<uint8_t>& out, uint8_t code, const std::string& v) {
    size_t off = 0;
    do {
        size_t n = std::min<size_t>(v.size() - off, 255);
        out.push_back(code);
        out.push_back(static_cast<uint8_t>(n));
        out.insert(out.end(), v.begin() + static_cast<std::ptrdiff_t>(off),
                   v.begin() + static_cast<std::ptrdiff_t>(off + n));
        off += n;
    } while (off < v.size());
}

Error routeError(std::string_view what, std::string msg) {
    return malformed(std::string(what) + ": " + std::move(msg));
}

}  // namespace

// ---- Message ----

uint8_t Message::type() const {
    const std::string* v = option(kOptMessageType);
    return v && v->size() == 1 ? static_cast<uint8_t>((*v)[0]) : 0;
}

const std::string* Message::option(uint8_t code) const {
    auto it = options.find(code);
    return it == options.end() ? nullptr : &it->second;
}

std::optional<util::IP> Message::ipOption(uint8_t code) const {
    const std::string* v = option(code);
    if (!v || v->size() != 4) return std::nullopt;
    return ipAt(reinterpret_cast<const uint8_t*>(v->data()));
}

std::optional<uint32_t> Message::u32Option(uint8_t code) const {
    const std::string* v = option(code);
    if (!v || v->size() != 4) return std::nullopt;
    return get32(reinterpret_cast<const uint8_t*>(v->data()));
}

void Message::setIP(uint8_t code, const util::IP& ip) {
    uint8_t b[4];
    putIP(b, ip);
    options[code].assign(reinterpret_cast<const char*>(b), 4);
}

void Message::setU32(uint8_t code, uint32_t v) {
    uint8_t b[4];
    put32(b, v);
    options[code].assign(reinterpret_cast<const char*>(b), 4);
}

// ---- encode / decode ----

std::vector<uint8_t> encode(const Message& m) {
    std::vector<uint8_t> out(kOffOptions, 0);
    uint8_t* p = out.data();
    p[0] = m.op;
    p[1] = m.htype;
    p[2] = m.hlen;
    p[3] = m.hops;
    put32(p + 4, m.xid);
    put16(p + 8, m.secs);
    put16(p + 10, m.flags);
    putIP(p + 12, m.ciaddr);
    putIP(p + 16, m.yiaddr);
    putIP(p + 20, m.siaddr);
    putIP(p + 24, m.giaddr);
    std::memcpy(p + kOffChaddr, m.chaddr.data(), m.chaddr.size());
    std::memcpy(p + kOffCookie, kCookie, sizeof kCookie);
    // The message type first, where simple servers and capture tools look
    // for it; the rest in code order. Pad and End are framing, not values.
    if (const std::string* t = m.option(kOptMessageType)) writeOption(out, kOptMessageType, *t);
    for (const auto& [code, value] : m.options) {
        if (code == kOptPad || code == kOptEnd || code == kOptMessageType) continue;
        writeOption(out, code, value);
    }
    out.push_back(kOptEnd);
    if (out.size() < kMinMessage) out.resize(kMinMessage, 0);
    return out;
}

Error decode(std::span<const uint8_t> bytes, Message& out) {
    out = Message{};
    if (bytes.size() < kOffOptions)
        return malformed("DHCP message truncated: " + std::to_string(bytes.size()) + " bytes, the header needs " +
                         std::to_string(kOffOptions));
    const uint8_t* p = bytes.data();
    if (std::memcmp(p + kOffCookie, kCookie, sizeof kCookie) != 0)
        return malformed("not a DHCP message: no magic cookie 99.130.83.99 at offset 236");
    if (p[2] > 16) return malformed("DHCP message has hlen " + std::to_string(p[2]) + ", at most 16 fit in chaddr");
    out.op = p[0];
    out.htype = p[1];
    out.hlen = p[2];
    out.hops = p[3];
    out.xid = get32(p + 4);
    out.secs = get16(p + 8);
    out.flags = get16(p + 10);
    out.ciaddr = ipAt(p + 12);
    out.yiaddr = ipAt(p + 16);
    out.siaddr = ipAt(p + 20);
    out.giaddr = ipAt(p + 24);
    std::memcpy(out.chaddr.data(), p + kOffChaddr, out.chaddr.size());

    if (auto e = readOptions(p + kOffOptions, bytes.size() - kOffOptions, "options", out.options)) return e;
    // Option 52 says file and/or sname carry options too; they continue the
    // options field in the order options, file, sname (RFC 3396 section 5).
    // An overload option inside file or sname is data, not honoured again.
    const std::string* ov = out.option(kOptOverload);
    if (!ov) return {};
    if (ov->size() != 1 || (*ov)[0] < 1 || (*ov)[0] > 3)
        return malformed("DHCP option 52 (overload) must be one byte 1, 2 or 3, got " + std::to_string(ov->size()) +
                         " bytes");
    uint8_t which = static_cast<uint8_t>((*ov)[0]);
    std::string keep = *ov;
    if (which & 1)
        if (auto e = readOptions(p + kOffFile, kFileLen, "file", out.options)) return e;
    if (which & 2)
        if (auto e = readOptions(p + kOffSname, kSnameLen, "sname", out.options)) return e;
    out.options[kOptOverload] = keep;
    return {};
}

// ---- IPv4 + UDP framing ----

std::vector<uint8_t> frameUdp(const util::IP& src, uint16_t srcPort, const util::IP& dst, uint16_t dstPort,
                              std::span<const uint8_t> payload) {
    // Callers send DHCP messages (a few hundred bytes); anything longer than
    // an IPv4 datagram can hold is cut to fit rather than wrapping lengths.
    size_t n = std::min<size_t>(payload.size(), 0xffff - kIPHeader - kUDPHeader);
    std::vector<uint8_t> out(kIPHeader + kUDPHeader + n, 0);
    uint8_t* ip = out.data();
    ip[0] = 0x45;  // version 4, 5 words of header
    put16(ip + 2, static_cast<uint16_t>(out.size()));
    ip[8] = 64;    // TTL; id, flags and fragment offset stay 0
    ip[9] = kProtoUDP;
    putIP(ip + 12, src);
    putIP(ip + 16, dst);
    put16(ip + 10, finish(sumBytes(0, ip, kIPHeader)));

    uint8_t* udp = ip + kIPHeader;
    uint16_t udpLen = static_cast<uint16_t>(kUDPHeader + n);
    put16(udp, srcPort);
    put16(udp + 2, dstPort);
    put16(udp + 4, udpLen);
    if (n) std::memcpy(udp + kUDPHeader, payload.data(), n);
    uint16_t sum = finish(sumBytes(pseudoSum(ip + 12, ip + 16, udpLen), udp, udpLen));
    put16(udp + 6, sum == 0 ? 0xffff : sum);  // 0 would mean "no checksum"
    return out;
}

std::optional<UdpDatagram> unframeUdp(std::span<const uint8_t> frame, bool verifyUdpChecksum) {
    if (frame.size() < kIPHeader) return std::nullopt;
    const uint8_t* ip = frame.data();
    if ((ip[0] >> 4) != 4) return std::nullopt;
    size_t ihl = static_cast<size_t>(ip[0] & 0x0f) * 4;
    size_t total = get16(ip + 2);
    // The frame may be longer than the datagram (Ethernet padding); the IP
    // total length says where it ends.
    if (ihl < kIPHeader || total < ihl || total > frame.size()) return std::nullopt;
    if (get16(ip + 6) & 0x3fff) return std::nullopt;  // more fragments, or an offset
    if (ip[9] != kProtoUDP) return std::nullopt;
    if (finish(sumBytes(0, ip, ihl)) != 0) return std::nullopt;

    const uint8_t* udp = ip + ihl;
    size_t room = total - ihl;
    if (room < kUDPHeader) return std::nullopt;
    uint16_t udpLen = get16(udp + 4);
    if (udpLen < kUDPHeader || udpLen > room) return std::nullopt;
    if (verifyUdpChecksum && get16(udp + 6) != 0 &&
        finish(sumBytes(pseudoSum(ip + 12, ip + 16, udpLen), udp, udpLen)) != 0)
        return std::nullopt;

    UdpDatagram d;
    d.src = ipAt(ip + 12);
    d.dst = ipAt(ip + 16);
    d.srcPort = get16(udp);
    d.dstPort = get16(udp + 2);
    d.payload = std::span<const uint8_t>(udp + kUDPHeader, udpLen - kUDPHeader);
    return d;
}

// ---- option values ----

Error parseClasslessRoutes(std::string_view raw, std::vector<Route>& out) {
    constexpr std::string_view what = "DHCP option 121 (classless static routes)";
    auto p = reinterpret_cast<const uint8_t*>(raw.data());
    size_t n = raw.size(), i = 0;
    while (i < n) {
        int width = p[i];
        if (width > 32)
            return routeError(what, "prefix length " + std::to_string(width) + " at offset " + std::to_string(i));
        size_t sig = static_cast<size_t>(width + 7) / 8;
        if (i + 1 + sig + 4 > n)
            return routeError(what, "route at offset " + std::to_string(i) + " needs " + std::to_string(1 + sig + 4) +
                                        " bytes, " + std::to_string(n - i) + " left");
        uint8_t d[4] = {0, 0, 0, 0};
        std::memcpy(d, p + i + 1, sig);
        Route r;
        r.dst = util::IPNet{ipAt(d), width}.masked();
        r.gw = ipAt(p + i + 1 + sig);
        out.push_back(r);
        i += 1 + sig + 4;
    }
    return {};
}

Error parseStaticRoutes(std::string_view raw, std::vector<Route>& out) {
    constexpr std::string_view what = "DHCP option 33 (static routes)";
    if (raw.size() % 8)
        return routeError(what, std::to_string(raw.size()) + " bytes, not a multiple of 8");
    auto p = reinterpret_cast<const uint8_t*>(raw.data());
    for (size_t i = 0; i < raw.size(); i += 8) {
        // The destination's class gives the mask (Go's net.IP.DefaultMask).
        int prefix;
        if (p[i] < 0x80)
            prefix = 8;
        else if (p[i] < 0xc0)
            prefix = 16;
        else if (p[i] < 0xe0)
            prefix = 24;
        else
            return routeError(what, "destination " + ipAt(p + i).str() + " is not a class A, B or C network");
        Route r;
        r.dst = util::IPNet{ipAt(p + i), prefix}.masked();
        r.gw = ipAt(p + i + 4);
        out.push_back(r);
    }
    return {};
}

Error parseIPList(std::string_view raw, std::vector<util::IP>& out) {
    if (raw.size() % 4)
        return malformed("DHCP address list of " + std::to_string(raw.size()) + " bytes, not a multiple of 4");
    auto p = reinterpret_cast<const uint8_t*>(raw.data());
    for (size_t i = 0; i < raw.size(); i += 4) out.push_back(ipAt(p + i));
    return {};
}

Error parseDomainSearch(std::string_view raw, std::vector<std::string>& out) {
    auto bad = [](std::string msg) { return malformed("DHCP option 119 (domain search): " + std::move(msg)); };
    auto p = reinterpret_cast<const uint8_t*>(raw.data());
    const size_t n = raw.size();
    size_t next = 0;  // where the next name starts in the uncompressed sequence
    while (next < n) {
        std::string name;
        size_t wire = 0;         // the name's length in wire form, at most 255 (RFC 1035)
        size_t i = next;
        size_t segment = next;   // where the labels being read began: pointers must go before it
        bool jumped = false;
        for (;;) {
            if (i >= n) return bad("name at offset " + std::to_string(next) + " runs past the end");
            uint8_t len = p[i];
            if (len == 0) {
                if (!jumped) next = i + 1;
                break;
            }
            if ((len & 0xc0) == 0xc0) {
                if (i + 1 >= n) return bad("compression pointer at offset " + std::to_string(i) + " is cut short");
                size_t target = static_cast<size_t>(((len & 0x3f) << 8) | p[i + 1]);
                // Each jump must land before the labels it came from: that is
                // how a compressor writes them, and it makes every chain end.
                if (target == i) return bad("compression pointer at offset " + std::to_string(i) + " points to itself");
                if (target > i)
                    return bad("compression pointer at offset " + std::to_string(i) + " points forward to " +
                               std::to_string(target));
                if (target >= segment)
                    return bad("compression pointer at offset " + std::to_string(i) + " to " + std::to_string(target) +
                               " makes a loop");
                if (!jumped) next = i + 2;
                jumped = true;
                segment = i = target;
                continue;
            }
            if (len & 0xc0)
                return bad(std::string("reserved label type ") + ((len & 0xc0) == 0x40 ? "0x40" : "0x80") +
                           " at offset " + std::to_string(i));
            if (i + 1 + len > n) return bad("label at offset " + std::to_string(i) + " runs past the end");
            wire += 1 + len;
            if (wire + 1 > 255) return bad("name at offset " + std::to_string(next) + " is longer than 255 bytes");
            if (!name.empty()) name += '.';
            for (size_t k = i + 1; k <= i + len; ++k) {
                // These names end up in resolv.conf and CNI results: no
                // spaces, control bytes, or dots inside a label.
                if (p[k] <= ' ' || p[k] >= 0x7f || p[k] == '.')
                    return bad("label at offset " + std::to_string(i) + " has byte " + std::to_string(p[k]));
                name += static_cast<char>(p[k]);
            }
            i += 1 + len;
        }
        // The root name alone searches nothing; it is not listed.
        if (!name.empty()) out.push_back(std::move(name));
    }
    return {};
}

std::string parseDomainName(std::string_view raw) {
    // Some servers NUL-terminate the text; nothing after a NUL is a name.
    return std::string(raw.substr(0, raw.find('\0')));
}

// ---- option names ----

std::optional<uint8_t> optionCode(std::string_view s) {
    static constexpr std::pair<std::string_view, uint8_t> kNames[] = {
        {"dhcp-client-identifier", kOptClientID},  {"host-name", kOptHostName},
        {"routers", kOptRouter},                   {"subnet-mask", kOptSubnetMask},
        {"user-class", kOptUserClass},             {"vendor-class-identifier", kOptVendorClass},
    };
    for (const auto& [name, code] : kNames)
        if (s == name) return code;
    // Decimal digits only, as Go's strconv.ParseUint (leading zeros allowed);
    // Pad and End are not options one can ask for.
    if (s.empty() || s.size() > 8) return std::nullopt;
    unsigned v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v < 1 || v > 254) return std::nullopt;
    return static_cast<uint8_t>(v);
}

std::string defaultClientID(std::string_view containerID, std::string_view network, std::string_view ifname) {
    std::string id;
    id.reserve(containerID.size() + network.size() + ifname.size() + 2);
    id.append(containerID).append(1, '/').append(network).append(1, '/').append(ifname);
    // An option value holds at most 255 bytes, one of which is the type byte.
    if (id.size() > 254) id.resize(254);
    return id;
}

}  // namespace dhcp
