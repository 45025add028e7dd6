#include "cni/records.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "util/fs.h"
#include "util/text.h"

namespace cni {

namespace {

constexpr size_t kMaxRecord = 64 * 1024;

std::string nameOf(const Attachment& a) { return a.containerID + "-" + a.ifname; }

bool parse(const std::string& text, Attachment& a, AttachmentRecords::Fields& out) {
    for (std::string_view line : util::splitOn(text, '\n')) {
        auto sp = line.find(' ');
        if (sp == std::string_view::npos) continue;
        std::string_view k = line.substr(0, sp), v = line.substr(sp + 1);
        if (k == "containerID") a.containerID = v;
        else if (k == "ifname") a.ifname = v;
        else out.emplace_back(k, v);
    }
    return !a.containerID.empty() && !a.ifname.empty();
}

// The record `name` in `dfd` (at most kMaxRecord bytes) parsed into `a` and
// `out`; false when it cannot be read or is no record.
bool readRecord(int dfd, const char* name, Attachment& a, AttachmentRecords::Fields& out) {
    std::string text;
    return !util::readFileAt(dfd, name, text, kMaxRecord) && parse(text, a, out);
}

}  // namespace

AttachmentRecords::AttachmentRecords(std::string dataDir, std::string network)
    : dataDir_(std::move(dataDir)), network_(std::move(network)) {}

// The network's directory is opened under dataDir's descriptor without
// following a symlink (util::openSubdir): no link planted in its place
// leads a write or a removal elsewhere.
util::Fd AttachmentRecords::openDir() const {
    util::Fd d;
    (void)util::openSubdir(dataDir_, network_, false, 0700, 0700, d);
    return d;
}

Error AttachmentRecords::write(const Attachment& a, const Fields& fields) const {
    std::string text = "containerID " + a.containerID + "\nifname " + a.ifname + "\n";
    for (const auto& [k, v] : fields) text += k + " " + v + "\n";
    std::string name = nameOf(a), tmp = name + ".tmp";
    // remove() takes the network's directory away with its last record; one
    // removed between our open and our write (the write then fails, since a
    // removed directory takes no new file) is made again.
    for (int attempt = 0;; attempt++) {
        util::Fd dfd;
        if (auto e = util::openSubdir(dataDir_, network_, true, 0700, 0700, dfd)) return e;
        Error e = util::writeFileAtomicAt(dfd.get(), name.c_str(), tmp.c_str(), text, 0600);
        struct stat st;
        if (!e || attempt == 3 || ::fstat(dfd.get(), &st) != 0 || st.st_nlink != 0) return e;
    }
}

bool AttachmentRecords::read(const Attachment& a, Fields& out) const {
    util::Fd dfd = openDir();
    Attachment got;
    out.clear();
    return dfd && readRecord(dfd.get(), nameOf(a).c_str(), got, out) && got == a;
}

void AttachmentRecords::remove(const Attachment& a) const {
    util::Fd dfd = openDir();
    if (!dfd) return;
    std::string name = nameOf(a);
    (void)::unlinkat(dfd.get(), name.c_str(), 0);
    (void)::unlinkat(dfd.get(), (name + ".tmp").c_str(), 0);
    // The network's directory goes with its last record (rmdir removes only an
    // empty directory, and never follows a symlink in its place).
    (void)::rmdir(util::joinPath(dataDir_, network_).c_str());
}

std::vector<std::pair<Attachment, AttachmentRecords::Fields>> AttachmentRecords::notIn(
    const std::vector<Attachment>& valid) const {
    std::vector<std::pair<Attachment, Fields>> out;
    util::Fd dfd = openDir();
    util::Dir d;
    if (!dfd || util::Dir::openAt(dfd.get(), d)) return out;
    auto isValid = [&](const std::string& name) {
        return std::any_of(valid.begin(), valid.end(), [&](const Attachment& v) { return nameOf(v) == name; });
    };
    while (const struct dirent* de = d.next()) {
        std::string name = de->d_name;
        if (name.ends_with(".tmp")) {  // a write killed half-way: no state came after it
            if (!isValid(name.substr(0, name.size() - 4))) (void)::unlinkat(dfd.get(), name.c_str(), 0);
            continue;
        }
        Attachment a;
        Fields f;
        if (!readRecord(dfd.get(), name.c_str(), a, f)) continue;
        if (std::find(valid.begin(), valid.end(), a) == valid.end()) out.emplace_back(std::move(a), std::move(f));
    }
    return out;
}

bool AttachmentRecords::elsewhere(const std::string& containerID) const {
    util::Dir nets;
    if (util::Dir::open(dataDir_.c_str(), nets)) return false;
    std::string prefix = containerID + "-";
    while (const struct dirent* de = nets.next()) {
        if (de->d_name == network_) continue;
        // Each network's directory under dataDir's own descriptor, never
        // through a symlink (as openDir).
        util::Fd dfd(::openat(::dirfd(nets.get()), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        util::Dir d;
        if (!dfd || util::Dir::openAt(dfd.get(), d)) continue;
        while (const struct dirent* r = d.next()) {
            // The name only narrows the search: an ID may hold '-' ("ctr" is
            // not "ctr-2"), and a write killed half-way (.tmp) came before
            // any state of its attachment.
            std::string_view name = r->d_name;
            if (!name.starts_with(prefix) || name.ends_with(".tmp")) continue;
            Attachment a;
            Fields f;
            if (readRecord(dfd.get(), r->d_name, a, f) && a.containerID == containerID) return true;
        }
    }
    return false;
}

}  // namespace cni
