// host-local's index: for each attachment, the addresses it holds, so that
// DEL, CHECK and ADD's duplicate check read one small file instead of every
// lease. It lives in <network dir>/.cnibox/ (dir 0700, files 0600):
//   <id>@<ifname>   "cnibox-index 1 <id> <ifname>\n" then that attachment's
//                   addresses, one a line ("<id>@" and no ifname field for
//                   old id-only leases; "~<hash>" when the name would be too long)
//   state           "cnibox-index-state 2 <dev> <ino> <mtime s> <mtime ns> <size>\n"
//                   (fixed-width, zero-padded numbers): the network dir as it
//                   was after our last change
//
// The index is trusted only while the network dir is exactly as `state`
// recorded: anyone else creating or removing a lease (upstream's plugin, an
// administrator) changes the dir's mtime, and the store rebuilds the index
// with one full scan. The state file is written only when a later change
// of the dir is sure to get another mtime (multigrain time stamps, else
// once the coarse clock has ticked past it; a probe dir .cnibox-tick tells
// them apart), else removed. Whatever the index says is checked against
// the lease file before it is acted on. Index files never hold "<id>\r\n<ifname>" or a
// bare id, so upstream's scans (which read every file below the network dir)
// never mistake them for leases.
//
// Off switch: CNIBOX_HOSTLOCAL_INDEX=0 (or "off", "false", "no"): the store
// neither reads nor writes the index and scans the lease files on every
// operation, as upstream's plugin does.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cni/error.h"
#include "ipam/leases.h"
#include "util/fd.h"

struct stat;

namespace ipam {

class LeaseIndex {
public:
    enum class Use {
        On,   // read and keep the index (rebuilt by a scan when untrusted)
        Off,  // the store scans the lease files on every open, as upstream; .cnibox/ is left alone
    };
    static constexpr const char* kEnv = "CNIBOX_HOSTLOCAL_INDEX";
    // Off when kEnv is "0", "off", "false" or "no" (any case), else On.
    static Use fromEnvironment();
    // The state file's text for the network dir as `st` shows it, and
    // whether a state file's `text` records the dir as `st` shows it.
    static std::string stateText(const struct stat& st);
    static bool stateMatches(std::string_view text, const struct stat& st);

    // Opens the index of the network dir `dirfd` (locked; `dir` names it in
    // errors) without creating it, and trusts it when its state file
    // records the dir exactly as `st` (its fstat under the lock) shows it.
    void open(int dirfd, const std::string& dir, const struct stat& st);
    bool trusted() const { return trusted_; }

    // The addresses the index lists for `o` (none when it has no file).
    // False when it cannot answer: the file is unreadable or torn, or `o`
    // is an owner the index does not record (the caller scans).
    bool read(const Owner& o, std::vector<util::IP>& out);

    // Before a full scan: the state file goes first, so that a scan cut
    // short leaves the index untrusted.
    void distrust();
    // After a full scan found `held`: makes .cnibox/ when missing, removes
    // the files of owners `held` does not have, marks those that differ for
    // rewriting, and trusts the index again.
    void reconcile(const Holdings& held);
    // `o`'s addresses changed: commit() rewrites its file.
    void changed(const Owner& o);

    // Writes the changed owners' files (their addresses from `held`) and,
    // when anything changed (`leasesChanged`: lease files were made or
    // removed), the state file recording the network dir as it is now.
    // Returns the first thing that could not be written since open(),
    // reconcile() included ("write <path>: <errno text>", code 5); the state
    // file is removed then, so the next open() rebuilds the index.
    cni::Error commit(const Holdings& held, bool leasesChanged);

    // Removes .cnibox/ and everything in it (best effort: for a failed ADD
    // that made the network dir).
    void remove();
    // Forgets everything, writing nothing.
    void close();

    int reads() const { return reads_; }  // index files read by this object

private:
    void writeEntry(const Owner& o, const Holdings& held);
    void writeState();
    void removeState();
    void fail(cni::Error e);

    int dirfd_ = -1;      // the network dir (the store's)
    std::string path_;    // <network dir>/.cnibox, for messages
    util::Fd fd_;         // .cnibox
    bool trusted_ = false;
    bool rewriteState_ = false;  // the state file was removed for a scan
    std::set<Owner> dirty_;      // owners whose file commit() rewrites
    std::set<Owner> onDisk_;     // owners whose file exists
    cni::Error failed_;          // the first failure since open()
    int reads_ = 0;
};

}  // namespace ipam
