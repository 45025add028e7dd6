// host-local's lease files, in upstream's format: one file per lease in the
// network dir, named by the address in its canonical spelling ("10.1.2.3",
// "fd00::5"), holding "<containerID>\r\n<ifname>" (very old leases:
// "<containerID>"). What reads and writes them whole is the LeaseStore
// (store.h); this is the format and the scans.
#pragma once

#include <compare>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/error.h"
#include "util/ipaddr.h"

namespace ipam {

// Lease, index and state files are small; a longer one is not ours.
inline constexpr size_t kMaxStoreFile = 1 << 16;

// Who holds a lease. `ifname` is empty for an old lease holding only the id.
struct Owner {
    std::string id;
    std::string ifname;
    auto operator<=>(const Owner&) const = default;
    bool legacy() const { return ifname.empty(); }
    // What the lease file holds: "<id>\r\n<ifname>" ("<id>" when legacy).
    std::string content() const;
    // Parses lease file content (surrounding white space ignored); nullopt if empty.
    static std::optional<Owner> fromContent(std::string_view data);
};

struct Lease {
    util::IP ip;
    Owner owner;
    bool operator==(const Lease&) const = default;
};

// Who holds which addresses (each list sorted).
using Holdings = std::map<Owner, std::vector<util::IP>>;

// What a full scan of the lease files finds.
struct LeaseScan {
    Holdings held;
    std::vector<util::IP> empty;  // lease files with no owner: a reservation cut short by a crash
};

// The store's I/O errors: code 5, "<op> <path>: <errno text>", with the errno.
cni::Error ioError(std::string_view op, std::string_view path, int err);

// The address a lease file name stands for (nullopt when `name` is not an
// address in its canonical spelling).
std::optional<util::IP> leaseName(const char* name);

// Reads every lease file of the network dir `dirfd` (`dir` names it in
// errors). Files that cannot be read are passed over, as upstream's scans
// do; a dir that cannot be listed is an error (5).
cni::Error scanLeases(int dirfd, const std::string& dir, LeaseScan& out);

// Whether the lease file of `ip` in `dirfd` names `o` (false when it is
// gone or names someone else).
bool leaseHeldBy(int dirfd, const util::IP& ip, const Owner& o);

// Every lease file in the network dir `dir` (owners read unless
// `readOwners` is false), unlocked and without the index: for STATUS and
// tests. A missing dir is empty.
cni::Error listLeases(const std::string& dir, std::vector<Lease>& out, bool readOwners = true);

}  // namespace ipam
