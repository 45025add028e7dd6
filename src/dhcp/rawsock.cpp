// The packet socket of one DHCP exchange (see rawsock.h).
#include "dhcp/rawsock.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "netlink/netlink.h"

namespace dhcp {

const util::Mac RawSocket::kBroadcastMac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

namespace {

// Passes unfragmented IPv4 UDP datagrams to port 68, drops everything else.
// A SOCK_DGRAM packet socket's filter sees the frame from the IP header on.
constexpr sock_filter kFilter[] = {
    // IPv4 header: version 4
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
    BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x40, 0, 8),
    // protocol UDP
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 6),
    // no fragment: more-fragments flag and fragment offset both 0
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x3fff, 4, 0),
    // X = IP header length; UDP destination port at X + 2
    BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
    BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 68, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
    BPF_STMT(BPF_RET | BPF_K, 0),
};

// Upstream's wording for a failed link lookup, with the namespace.
std::string lookup(const std::string& ifname, const std::string& netnsPath) {
    return "error looking up \"" + ifname + "\" in netns \"" + netnsPath + "\"";
}

// The index, in `here`, of the device that `link` (in another namespace,
// looked up through `inside`, a socket there) is the upper end of: a
// macvlan's lower device, a veth's peer. 0 when that is not in `here`.
int lowerIndexIn(const nl::LinkInfo& link, nl::Socket& inside, const nl::Netns& here) {
    int id = -1;
    if (link.linkNetnsId < 0 || link.peerIndex <= 0 || inside.netnsIdOf(here, id) || id != link.linkNetnsId)
        return 0;
    return link.peerIndex;
}

// The device, in the caller's namespace, that frames from the upper end of
// `lowerIndex` leave by: the lower device itself, or for a veth (`veth`:
// the container's end is one) the bridge its peer is a port of, since the
// peer goes with the container. "" for none.
std::string hostDeviceOf(int lowerIndex, bool veth) {
    nl::Socket nls;
    nl::LinkInfo lower;
    bool found = false;
    if (!lowerIndex || nl::Socket::open(nls) || nls.linkByIndex(lowerIndex, lower, found) || !found) return "";
    if (!veth) return lower.name;
    if (!lower.master || nls.linkByIndex(lower.master, lower, found) || !found) return "";
    return lower.name;
}

}  // namespace

std::string RawSocket::where() const {
    if (netnsPath_.empty()) return "on " + ifname_ + " in the daemon's own netns";
    return "on " + ifname_ + " in netns \"" + netnsPath_ + "\"";
}

Error RawSocket::open(const std::string& netnsPath, const std::string& ifname, RawSocket& out) {
    RawSocket s;
    s.netnsPath_ = netnsPath;
    s.ifname_ = ifname;

    nl::Netns ns;
    if (auto e = nl::Netns::open(netnsPath, ns)) return std::move(e).wrap("DHCP on " + ifname);
    struct stat st;
    if (fstat(ns.fd(), &st) < 0)
        return Error::sys(util::kInvalidNetNS, "DHCP on " + ifname + ": stat netns \"" + netnsPath + "\"", errno);
    s.nsDev_ = st.st_dev;
    s.nsIno_ = st.st_ino;

    nl::Netns here;
    (void)nl::Netns::current(here);   // without it, no host device: nothing else needs it
    nl::Socket nls;
    nl::LinkInfo link;
    bool found = false;
    int lowerIndex = 0;
    {
        nl::NetnsGuard guard(ns);
        if (guard.error()) return guard.error().wrap("DHCP on " + ifname);
        // Protocol 0 receives nothing: the filter is in place before bind()
        // names ETH_P_IP, so no unfiltered frame is ever queued.
        int fd = ::socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) return Error::sys(util::kInternal, "open DHCP packet socket " + s.where(), errno);
        s.fd_.reset(fd);
        if (auto e = nl::Socket::open(nls)) return std::move(e).wrap("open netlink socket " + s.where());
        if (auto e = nls.linkByName(ifname, link, found)) return std::move(e).wrap(lookup(ifname, netnsPath));
        // Not a vlan's: its lower device sends untagged, onto another LAN.
        bool frames = link.kind == "macvlan" || link.kind == "ipvlan" || link.kind == "veth";
        if (found && frames && here.valid()) lowerIndex = lowerIndexIn(link, nls, here);
    }
    if (!found) return Error(util::kInternal, lookup(ifname, netnsPath) + ": Link not found");
    s.hostDevice_ = hostDeviceOf(lowerIndex, link.kind == "veth");
    s.ifindex_ = link.index;
    auto mac = util::Mac::parse(link.mac);
    if (!mac || *mac == util::Mac{})
        return Error(util::kInternal,
                     "interface " + ifname + " in netns \"" + netnsPath + "\" has no Ethernet address");
    s.mac_ = *mac;
    if (!link.up) {
        if (auto e = nls.setUp(link.index)) return std::move(e).wrap("DHCP in netns \"" + netnsPath + "\"");
        s.broughtUp_ = true;
    }

    int one = 1;
    sock_fprog prog{};
    prog.len = sizeof kFilter / sizeof kFilter[0];
    prog.filter = const_cast<sock_filter*>(kFilter);
    if (setsockopt(s.fd(), SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0)
        return Error::sys(util::kInternal, "attach DHCP socket filter " + s.where(), errno);
    // The frame's checksum state comes with each frame (see recv).
    if (setsockopt(s.fd(), SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) < 0)
        return Error::sys(util::kInternal, "set PACKET_AUXDATA on DHCP socket " + s.where(), errno);
#ifdef PACKET_IGNORE_OUTGOING
    // Our own frames are of no interest (the filter drops them anyway: they
    // go to port 67). Kernels before 4.20 do not know the option.
    (void)setsockopt(s.fd(), SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
#endif
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_IP);
    sll.sll_ifindex = link.index;
    if (bind(s.fd(), reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0)
        return Error::sys(util::kInternal, "bind DHCP packet socket " + s.where(), errno);
    out = std::move(s);
    return {};
}

Error RawSocket::openOnHost(const std::string& ifname, RawSocket& out) {
    RawSocket s;
    s.ifname_ = ifname;
    nl::Socket nls;
    nl::LinkInfo link;
    bool found = false;
    if (auto e = nl::Socket::open(nls)) return std::move(e).wrap("open netlink socket " + s.where());
    if (auto e = nls.linkByName(ifname, link, found)) return std::move(e).wrap("look up link " + s.where());
    if (!found) return Error(util::kInternal, "look up link " + s.where() + ": Link not found");
    // Protocol 0: the socket receives nothing; it only sends.
    int fd = ::socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error::sys(util::kInternal, "open DHCP packet socket " + s.where(), errno);
    s.fd_.reset(fd);
    s.ifindex_ = link.index;
    if (auto mac = util::Mac::parse(link.mac)) s.mac_ = *mac;
    out = std::move(s);
    return {};
}

Error RawSocket::send(std::span<const uint8_t> frame, const util::Mac& dest) const {
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_IP);
    sll.sll_ifindex = ifindex_;
    sll.sll_halen = 6;
    std::memcpy(sll.sll_addr, dest.b.data(), 6);
    ssize_t n;
    do {
        n = ::sendto(fd(), frame.data(), frame.size(), 0, reinterpret_cast<const sockaddr*>(&sll), sizeof sll);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return Error::sys(util::kInternal, "send DHCP packet " + where(), errno);
    if (size_t(n) != frame.size())
        return Error(util::kInternal, "send DHCP packet " + where() + ": short write (" + std::to_string(n) + " of " +
                                          std::to_string(frame.size()) + " bytes)");
    return {};
}

Error RawSocket::recv(std::span<uint8_t> buf, std::optional<Received>& got) const {
    got.reset();
    for (;;) {
        sockaddr_ll sll{};
        iovec iov{buf.data(), buf.size()};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(tpacket_auxdata))];
        msghdr msg{};
        msg.msg_name = &sll;
        msg.msg_namelen = sizeof sll;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        // MSG_TRUNC: the frame's real size, to drop one that did not fit.
        ssize_t n = ::recvmsg(fd(), &msg, MSG_TRUNC);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
            return Error::sys(util::kInternal, "receive DHCP packet " + where(), errno);
        }
        if (size_t(n) > buf.size()) continue;
        Received r;
        r.len = size_t(n);
        if (sll.sll_halen == 6) std::memcpy(r.src.b.data(), sll.sll_addr, 6);
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA ||
                c->cmsg_len < CMSG_LEN(sizeof(tpacket_auxdata)))
                continue;
            tpacket_auxdata aux;
            std::memcpy(&aux, CMSG_DATA(c), sizeof aux);
            if (aux.tp_status & TP_STATUS_CSUMNOTREADY) r.verifyUdpChecksum = false;
        }
        got = r;
        return {};
    }
}

}  // namespace dhcp
