// Per-attachment records a plugin keeps where the kernel state it makes
// names no attachment (upstream's rule shapes), so that a DEL without
// prevResult (a chain whose ADD failed has no cached result) and a GC still
// find that state: <dataDir>/<network>/<containerID>-<ifname>, "key value"
// lines, written atomically (0600 in 0700 directories) BEFORE the state is
// made, removed after it is gone. A record whose state never came is
// harmless: removing what is missing is success.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "cni/skel.h"
#include "util/fd.h"

namespace cni {

class AttachmentRecords {
public:
    using Fields = std::vector<std::pair<std::string, std::string>>;

    AttachmentRecords(std::string dataDir, std::string network);

    Error write(const Attachment& a, const Fields& fields) const;
    // false when there is none (or it is not a record).
    bool read(const Attachment& a, Fields& out) const;
    // The record and a leftover of its atomic write; the network's directory
    // too when that was its last record (write makes it again).
    void remove(const Attachment& a) const;
    // Every record of the network that names an attachment not in `valid`,
    // with its fields; a leftover of an atomic write killed half-way of such
    // an attachment is removed on the way.
    std::vector<std::pair<Attachment, Fields>> notIn(const std::vector<Attachment>& valid) const;
    // Whether a network other than this one holds a record of `containerID`
    // (read, not guessed from its file name; a half-written one is none).
    bool elsewhere(const std::string& containerID) const;

private:
    util::Fd openDir() const;

    std::string dataDir_, network_;
};

}  // namespace cni
