// host-local's on-disk lease store, in upstream's format, plus an index.
//
// Layout of <dataDir>/<network>/ (dir 0755), shared with upstream's plugin:
//   <ip>                  one file per lease, named by the address ("10.1.2.3",
//                         "fd00::5"), mode 0600, created O_EXCL, content
//                         "<containerID>\r\n<ifname>" (very old leases: "<containerID>")
//   last_reserved_ip.<n>  the address last handed out from range set n
//   lock                  flock(2)ed around every operation
//   .cnibox/              our index (dir 0700, files 0600):
//     <id>@<ifname>       "cnibox-index 1 <id> <ifname>\n" then that attachment's
//                         addresses, one a line ("<id>@" and no ifname field for
//                         old id-only leases; "~<hash>" when the name would be too long)
//     state               "cnibox-index-state 1 <dev> <ino> <mtime s> <mtime ns>\n"
//                         (fixed-width, zero-padded numbers):
//                         the network dir as it was after our last change
//
// The index lets DEL, CHECK and ADD's duplicate check look at one small file
// instead of reading every lease. It is trusted only while the network dir
// is exactly as `state` recorded: anyone else creating or removing a lease
// (upstream's plugin, an administrator) changes the dir's mtime, and the next
// operation rebuilds the index with one full scan. Index files never hold
// "<id>\r\n<ifname>" or a bare id, so upstream's scans (which read every
// file below the network dir) never mistake them for leases.
#pragma once

#include <compare>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cni/error.h"
#include "cni/skel.h"
#include "util/ipaddr.h"

struct stat;

namespace ipam {

inline constexpr const char* kDefaultDataDir = "/var/lib/cni/networks";

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

// "<dataDir>/<network>" with upstream's default data dir. Does not validate.
std::string networkDir(const std::string& dataDir, const std::string& network);
// A data dir must not have ".." components; the network name must be one
// path component (not empty, no '/', not "." or ".."). Code 7.
cni::Error validateStorePath(const std::string& dataDir, const std::string& network);

// Every lease file in the network dir (names that are addresses), unlocked
// and without the index: for STATUS and tests. A missing dir is empty.
cni::Error listLeases(const std::string& dir, std::vector<Lease>& out, bool readOwners = true);

class LeaseStore {
public:
    enum class Mode {
        Create,    // make the network dir (like mkdir -p, 0755) when missing
        Existing,  // a missing dir is not an error: missing() is true
    };

    struct Stats {
        int rebuilds = 0;      // full scans of the lease files
        int indexReads = 0;    // index files read
    };

    LeaseStore() = default;
    LeaseStore(const LeaseStore&) = delete;
    LeaseStore& operator=(const LeaseStore&) = delete;
    ~LeaseStore() { close(); }

    // Opens and locks the store; checks the index (rebuilding it if it is
    // not trustworthy). Errors: 7 for a bad path, 5 for I/O.
    cni::Error open(const std::string& dataDir, const std::string& network, Mode mode);
    bool missing() const { return missing_; }
    const std::string& dir() const { return dir_; }

    // Creates the lease file for `ip` (O_EXCL) and records it as the last
    // reserved address of range set `rangeSet`. `reserved` is false when the
    // address is taken.
    cni::Error reserve(const Owner& o, const util::IP& ip, int rangeSet, bool& reserved);
    std::optional<util::IP> lastReserved(int rangeSet) const;
    // Addresses held by `o`, and by the old id-only owner `o.id` (as
    // upstream's GetByID).
    cni::Error addressesOf(const Owner& o, std::vector<util::IP>& out);
    // Whether `o` (or the old id-only owner `o.id`) holds a lease.
    cni::Error holds(const Owner& o, bool& found);
    // Releases every lease of `o`; if it has none, those of the old id-only
    // owner `o.id` (as upstream's ReleaseByID). Releasing nothing is fine.
    cni::Error release(const Owner& o, std::vector<util::IP>* released = nullptr);
    // Releases `ip` if `o` holds it (rolling back a reservation).
    cni::Error releaseOne(const Owner& o, const util::IP& ip);
    // Releases every lease whose owner is not in `keep` (an old id-only
    // lease is kept when some attachment has its id), and empty lease files
    // (a reservation cut short by a crash). Always rescans.
    cni::Error releaseAllExcept(const std::vector<cni::Attachment>& keep, std::vector<Lease>* released = nullptr);

    // A failed ADD: if open() created the network dir, removes it and its
    // bookkeeping (and the parents it created) so nothing is left behind.
    void abandon();
    // Writes the index changes and the state marker, unlocks. Idempotent.
    void close();

    const Stats& stats() const { return stats_; }
    bool indexTrusted() const { return trusted_; }

private:
    cni::Error openOnce(Mode mode, bool& retry);
    cni::Error mkdirs();
    bool checkState(const struct stat& st);
    void rebuild();
    std::vector<util::IP>& entry(const Owner& o);
    bool loadEntry(const Owner& o, std::vector<util::IP>& out);
    // Releases the listed leases of `o` after checking each file's owner;
    // returns false when the index disagreed with a lease file.
    bool releaseEntry(const Owner& o, std::vector<util::IP>* released, int* unlinkErr = nullptr);
    int leaseOwnedBy(const util::IP& ip, const Owner& o) const;  // 1 yes, 0 no, -1 missing
    void writeEntry(const Owner& o);
    void writeState();
    void unlinkState();

    std::string dir_;
    std::vector<std::string> created_;  // dirs made by open(), outermost first
    int dirfd_ = -1;
    int lockfd_ = -1;
    int idxfd_ = -1;
    bool missing_ = false;
    bool trusted_ = false;   // the index matches the lease files
    bool full_ = false;      // entries_ holds every owner (after a rebuild)
    bool changed_ = false;   // the state marker must be rewritten
    std::map<Owner, std::vector<util::IP>> entries_;
    std::set<Owner> dirty_;
    std::set<Owner> onDisk_;  // owners whose index file exists
    std::vector<util::IP> orphans_;  // empty lease files seen by the last rebuild
    Stats stats_;
};

}  // namespace ipam
