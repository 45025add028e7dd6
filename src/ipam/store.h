// host-local's on-disk lease store, in upstream's format, plus an index.
//
// Layout of <dataDir>/<network>/ (dir 0755), shared with upstream's plugin:
//   <ip>                  one file per lease (leases.h), mode 0600, created O_EXCL
//   last_reserved_ip.<n>  the address last handed out from range set n
//   lock                  flock(2)ed around every operation
//   .cnibox/              our index (lease_index.h), unless switched off
//
// Use: open() (locks), the operations, commit() (writes the index), and
// close() or the destructor (unlocks). Closed without commit(), the store
// writes no index change; when the leases changed meanwhile, the next
// open() finds the index untrusted and rebuilds it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cni/error.h"
#include "cni/skel.h"
#include "ipam/lease_index.h"
#include "ipam/leases.h"
#include "util/fd.h"
#include "util/ipaddr.h"

namespace ipam {

inline constexpr const char* kDefaultDataDir = "/var/lib/cni/networks";

// "<dataDir>/<network>" with upstream's default data dir. Does not validate.
std::string networkDir(const std::string& dataDir, const std::string& network);
// A data dir must not have ".." components; the network name must be one
// path component (not empty, no '/', not "." or ".."). Code 7.
cni::Error validateStorePath(const std::string& dataDir, const std::string& network);

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
    // not trustworthy), or with the index off scans the lease files.
    // Errors: 7 for a bad path, 5 for I/O.
    cni::Error open(const std::string& dataDir, const std::string& network, Mode mode,
                    LeaseIndex::Use index = LeaseIndex::Use::On);
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
    // (a reservation cut short by a crash). Scans unless this open() did.
    cni::Error releaseAllExcept(const std::vector<cni::Attachment>& keep, std::vector<Lease>* released = nullptr);

    // Writes the index files that changed and the state file (see
    // LeaseIndex::commit). An error leaves the leases as the operations
    // left them and the index untrusted: the next open() rescans.
    cni::Error commit();
    // A failed ADD, after releasing what it reserved: if open() made the
    // network dir, removes it, its bookkeeping and the parents open() made,
    // so nothing is left behind; closes. Best effort: the ADD's own error
    // is what counts.
    void abandon();
    // Unlocks without writing the index. Idempotent.
    void close();
    // Whether open() made the network dir (abandon() removes it).
    bool madeDir() const { return !created_.empty(); }

    Stats stats() const { return {rebuilds_, index_.reads()}; }
    bool indexTrusted() const { return index_.trusted(); }

private:
    cni::Error openOnce(Mode mode, bool& retry);
    void removeCreated();
    cni::Error rescan();
    // `o`'s addresses as recorded: all owners' after a scan, else those
    // `o`'s index file lists (read once); an index that cannot answer makes
    // it scan.
    cni::Error recorded(const Owner& o, std::vector<util::IP>*& out);
    // Removes the lease files of `o`'s recorded addresses that name `o`,
    // appending them to `released`; what cannot be removed stays recorded
    // (`unlinkErr`: the first errno). `stale` is set when a recorded
    // address's file named someone else or was gone.
    cni::Error releaseRecorded(const Owner& o, std::vector<util::IP>& released, int& unlinkErr, bool& stale);

    std::string dir_, parent_, network_;  // dir_ is parent_/network_
    std::vector<std::string> created_;  // dirs made by open(), outermost first
    util::Fd dirfd_;
    util::Fd lockfd_;
    bool useIndex_ = true;
    LeaseIndex index_;
    bool missing_ = false;
    bool full_ = false;           // held_ holds every owner (after a scan)
    bool leasesChanged_ = false;  // lease files were made or removed
    Holdings held_;
    std::vector<util::IP> orphans_;  // empty lease files seen by the last scan
    int rebuilds_ = 0;
};

}  // namespace ipam
