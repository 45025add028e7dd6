// The packet socket of one DHCP exchange on one container interface.
//
// Before the client has an address it can neither send from one nor receive
// on a UDP socket, so DHCP goes through an AF_PACKET socket of type
// SOCK_DGRAM for ETH_P_IP: the kernel adds and strips the Ethernet header,
// the frames are IPv4 + UDP + BOOTP (packet.h's frameUdp/unframeUdp). A
// classic BPF filter keeps everything but unfragmented IPv4 UDP to port 68
// out of the socket's queue.
//
// The socket is created inside the container's network namespace and stays
// bound to it after the thread has gone back to its own. It also pins that
// namespace: as long as it is open the namespace cannot go away, even after
// the container runtime deleted it. The daemon therefore opens one socket per
// exchange and closes it when the exchange ends, and recognises the
// namespace by its st_dev/st_ino (recorded here), never by a /proc/<pid>
// path, which a new process may reuse.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "util/error.h"
#include "util/fd.h"
#include "util/mac.h"

namespace dhcp {

using util::Error;

class RawSocket {
public:
    // ff:ff:ff:ff:ff:ff
    static const util::Mac kBroadcastMac;

    RawSocket() = default;
    RawSocket(RawSocket&&) noexcept = default;
    RawSocket& operator=(RawSocket&&) noexcept = default;
    RawSocket(const RawSocket&) = delete;
    RawSocket& operator=(const RawSocket&) = delete;

    // Opens the namespace at `netnsPath`, enters it only to create the
    // socket and to look `ifname` up, brings the link up when it is down (as
    // upstream does before its first DISCOVER), binds the socket to the
    // link and attaches the filter. Non-blocking and close-on-exec. Errors
    // name the namespace path and the interface; a namespace that cannot be
    // opened is code 8, a missing interface code 999 with upstream's
    // wording ("error looking up \"eth0\" in netns \"/x\": Link not found").
    static Error open(const std::string& netnsPath, const std::string& ifname, RawSocket& out);
    // A socket that only sends, on `ifname` in the caller's own namespace:
    // the device a killed container's frames left by (hostDevice()). The
    // link is used as it is (never brought up); no filter, nothing queued.
    static Error openOnHost(const std::string& ifname, RawSocket& out);

    int fd() const { return fd_.get(); }
    bool valid() const { return fd_.valid(); }
    int ifindex() const { return ifindex_; }
    const std::string& ifname() const { return ifname_; }
    const std::string& netnsPath() const { return netnsPath_; }
    // The interface's own address: the chaddr of every message.
    const util::Mac& mac() const { return mac_; }
    // The link was down and open() set it up.
    bool broughtUp() const { return broughtUp_; }
    // The device in the caller's namespace that the interface's frames
    // leave by: a macvlan's or ipvlan's lower device, a veth peer's bridge;
    // "" when there is none here (the other end in a third namespace, a
    // veth peer on no bridge, which goes with the container; a vlan link,
    // whose lower device would send the frame untagged). A RELEASE
    // sent there reaches the server after the container's namespace is gone.
    const std::string& hostDevice() const { return hostDevice_; }
    // The namespace's identity (stat of its nsfs inode).
    dev_t netnsDev() const { return nsDev_; }
    ino_t netnsIno() const { return nsIno_; }

    // Sends one IPv4 frame (frameUdp's output) to `dest` (kBroadcastMac or
    // the server's MAC). Errors carry the errno; a full queue (EAGAIN) is
    // one too: the exchange's retransmission covers it.
    Error send(std::span<const uint8_t> frame, const util::Mac& dest) const;
    // One frame read by recv().
    struct Received {
        size_t len = 0;               // its size in the buffer given
        util::Mac src;                // the sender's MAC
        // false when the kernel marks the frame's checksum as not yet
        // computed (TP_STATUS_CSUMNOTREADY: a sender on this host behind a
        // veth leaves it to offload): pass it on to unframeUdp.
        bool verifyUdpChecksum = true;
    };
    // Reads one frame into `buf`, or leaves `got` empty when nothing is
    // queued (EAGAIN). Frames larger than `buf` are dropped and the next one
    // is read. Errors (an interface that went down: ENETDOWN) carry the errno.
    Error recv(std::span<uint8_t> buf, std::optional<Received>& got) const;

private:
    // "on <ifname> in netns \"<path>\"", the tail of every message.
    std::string where() const;

    util::Fd fd_;
    int ifindex_ = 0;
    std::string ifname_;
    std::string netnsPath_;
    std::string hostDevice_;
    util::Mac mac_;
    bool broughtUp_ = false;
    dev_t nsDev_ = 0;
    ino_t nsIno_ = 0;
};

}  // namespace dhcp
