// The dhcp daemon's lease records on disk: one file per attachment
// (network, container ID, ifname) in a state directory (the daemon's default
// is /var/lib/cni/dhcp), so a restarted daemon picks its leases up again.
//
// A file is a protocol Block (protocol.h) with head "LEASE": the same
// escaped key/value lines as on the socket, byte strings as lower-case hex.
// Its name is the attachment key "<network>/<containerID>/<ifname>" (with
// '%' and '/' inside each part written %25 and %2F first, so that "a/b" +
// "c" and "a" + "b/c" differ) with '/', '%', a leading '.' and every byte
// outside '!'..'~' written as %XX: "net1%2Fc1%2Feth0". A name longer than
// kMaxName is cut to its first 200 bytes followed by '-' and the 16 hex
// digits of the whole key's FNV-1a hash. Names never start with '.': those
// are the temporary files of util::writeFileAtomic.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dhcp/protocol.h"
#include "util/error.h"

namespace dhcp {

struct LeaseRecord {
    // The attachment.
    std::string network;
    std::string containerID;
    std::string ifname;
    std::string clientID;                      // option 61's bytes
    std::string clientMac;                     // the interface's MAC (chaddr); empty in older records
    std::string netns;                         // the netns path the plugin gave
    uint64_t netnsDev = 0, netnsIno = 0;       // which namespace that was
    std::string hostDevice;                    // RawSocket::hostDevice() at acquire; "" none
    // The lease.
    std::string serverID;                      // IPv4 text
    std::string serverMac;                     // "aa:bb:cc:dd:ee:ff"
    std::string address;                       // with prefix: "10.0.0.5/24"
    uint32_t leaseSeconds = 0, t1Seconds = 0, t2Seconds = 0;
    int64_t acquiredAt = 0;                    // unix seconds (realtime)
    std::map<uint8_t, std::string> replyOptions;  // the reply's options the applet needs
    // What the client asks for.
    std::vector<uint8_t> requestedOptions;     // option 55, in order
    std::map<uint8_t, std::string> providedOptions;
    bool broadcast = false;

    bool operator==(const LeaseRecord&) const = default;
};

// The forms byte strings and option lists take in records and in the
// daemon's requests: lower-case hex; "<code> <hex>"; decimal codes separated
// by single spaces ("1 3 121"). The parsers return false on anything else.
std::string toHex(std::string_view bytes);
bool fromHex(std::string_view hex, std::string& out);
bool parseCodeHex(std::string_view s, uint8_t& code, std::string& bytes);
bool parseCodeList(std::string_view s, std::vector<uint8_t>& out);

// The record as a "LEASE" block, and back. parseRecord fails (code 6, what
// is wrong) on a missing network, container-id, ifname or address, and on
// bad hex or numbers; unknown keys are skipped, so later versions may add
// some.
Block recordBlock(const LeaseRecord& r);
Error parseRecord(const Block& b, LeaseRecord& out);

class LeaseStore {
public:
    // The longest file name: NAME_MAX less the 5 bytes util::writeFileAtomic
    // adds for its temporary file (".<name>.tmp").
    static constexpr size_t kMaxName = 250;

    explicit LeaseStore(std::string dir) : dir_(std::move(dir)) {}
    const std::string& dir() const { return dir_; }

    // The record's file name in the directory (see above).
    static std::string fileName(std::string_view network, std::string_view containerID, std::string_view ifname);

    // Writes the record atomically (mode 0600), making the directory (0700)
    // when missing.
    Error save(const LeaseRecord& r);
    // Removes the record; one that is not there is fine.
    Error remove(std::string_view network, std::string_view containerID, std::string_view ifname);
    // Appends every record to `out`, ordered by file name. A file that cannot be read or
    // parsed, or whose name is not its record's, is reported in `problems`
    // ("<path>: <what>") and skipped; temporary files of an interrupted
    // save are removed. A missing directory holds no records. Fails only
    // when the directory cannot be read.
    Error loadAll(std::vector<LeaseRecord>& out, std::vector<std::string>& problems);

private:
    std::string dir_;
};

}  // namespace dhcp
