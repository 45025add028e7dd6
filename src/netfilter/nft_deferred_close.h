// The deferred close of the nftables backend's netlink socket.
//
// Closing a netfilter netlink socket makes the kernel first finish
// destroying earlier transactions' objects: nf_tables' NETLINK_URELEASE
// handler flushes its destroy work, which waits an RCU grace period (~15 ms
// on some kernels), inside the commit mutex, so the closing process and
// every other process's commit in the network namespace wait for it. When a
// batch of this process deleted anything, or any process's did within the
// last 250 ms (such batches stamp the lock file's mtime), close() hands the
// last reference to a short-lived child that waits a grace period of its own
// and this process's exit, then closes it: by then the kernel's work is done
// and the close holds the mutex for nothing. Otherwise, and when switched
// off, the socket is closed at once. The rules are committed either way.
//
// Off switch: CNIBOX_NFT_DEFERRED_CLOSE=0 in the environment, or
// setEnabled(false) (tests).
#pragma once

#include <optional>
#include <string>

#include "util/fd.h"

namespace nf::nft {

class DeferredClose {
public:
    // A deletion stamp younger than this counts (several grace periods even
    // on a loaded machine).
    static constexpr long long kRecentNs = 250LL * 1000 * 1000;

    // What the decision looks at.
    struct Facts {
        bool enabled = true;                  // the switch
        bool ownSocket = true;                // opened by this process, not inherited across fork
        bool deletedHere = false;             // a batch of this process deleted anything
        std::optional<long long> stampAgeNs;  // now minus the stamp's mtime; none: no stamp file
    };
    // Defer when switched on, the socket is this process's, and a deletion
    // is in flight: this process's, or a stamp younger than kRecentNs (not
    // one from the future: a clock set back).
    static bool decide(const Facts& f);

    // The switch: the programmatic setting when there is one, else off only
    // when $CNIBOX_NFT_DEFERRED_CLOSE is "0".
    static bool enabled();
    // nullopt: back to the environment's choice.
    static void setEnabled(std::optional<bool> on);

    // `stampPath` is the file whose mtime marks recent deletions (the
    // nftables lock file).
    explicit DeferredClose(std::string stampPath) : stampPath_(std::move(stampPath)) {}

    // A batch of this process deleted: remembers it and stamps the file.
    void noteDeletion();
    bool deletedHere() const { return deletedHere_; }
    // Now minus the stamp file's mtime, none when it cannot be read.
    std::optional<long long> stampAge() const;

    // Closes `fd` (owned by this process when ownSocket): deferred when
    // decide() says so, else at once. Returns whether it was deferred.
    // Forgets this process's deletions either way.
    bool close(util::Fd& fd, bool ownSocket);

private:
    std::string stampPath_;
    bool deletedHere_ = false;
};

}  // namespace nf::nft
