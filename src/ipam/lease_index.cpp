#include "ipam/lease_index.h"

#include <dirent.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "util/fs.h"
#include "util/text.h"

namespace ipam {

using util::IP;

namespace {

constexpr const char* kIndexDir = ".cnibox";
constexpr const char* kStateFile = "state";
constexpr const char* kTmpFile = ".tmp";
constexpr const char* kProbeDir = ".cnibox-tick";  // in the network dir, under the lock, never left behind
constexpr std::string_view kEntryMagic = "cnibox-index 1 ";
constexpr std::string_view kStateMagic = "cnibox-index-state 2 ";

// No white space, control characters or '/': safe inside an index line and a file name.
bool plain(std::string_view s) {
    for (unsigned char c : s)
        if (c <= ' ' || c == '/' || c == 0x7f) return false;
    return true;
}

// Owners the index can represent. Container ids never contain '@' (the skel
// enforces [A-Za-z0-9_.-]); anything odder found on disk is left to scans.
bool indexable(const Owner& o) {
    return !o.id.empty() && plain(o.id) && o.id.find('@') == std::string::npos && o.id[0] != '.' &&
           o.id[0] != '~' && plain(o.ifname);
}

std::string indexName(const Owner& o) {
    std::string n = o.id + "@" + o.ifname;
    if (n.size() <= 200) return n;
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : o.id + '\n' + o.ifname) {
        h ^= c;
        h *= 1099511628211ull;
    }
    char buf[20];
    std::snprintf(buf, sizeof buf, "~%016llx", static_cast<unsigned long long>(h));
    return buf;
}

std::string entryText(const Owner& o, const std::vector<IP>& ips) {
    std::string s(kEntryMagic);
    s += o.id;
    if (!o.legacy()) s += " " + o.ifname;
    s += '\n';
    for (const IP& ip : ips) s += ip.str() + "\n";
    return s;
}

bool parseEntry(std::string_view text, Owner& o, std::vector<IP>& ips) {
    if (text.substr(0, kEntryMagic.size()) != kEntryMagic) return false;
    text.remove_prefix(kEntryMagic.size());
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return false;
    std::string_view head = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    size_t sp = head.find(' ');
    o.id = std::string(head.substr(0, sp));
    o.ifname = sp == std::string_view::npos ? std::string() : std::string(head.substr(sp + 1));
    if (o.id.empty()) return false;
    ips.clear();
    while (!text.empty()) {
        nl = text.find('\n');
        if (nl == std::string_view::npos) return false;  // torn write
        auto ip = IP::parse(text.substr(0, nl));
        if (!ip) return false;
        ips.push_back(*ip);
        text.remove_prefix(nl + 1);
    }
    return true;
}

bool sameTime(const struct timespec& a, const struct timespec& b) {
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

bool later(const struct timespec& a, const struct timespec& b) {
    return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

}  // namespace

// Fixed width, so that rewriting it in place never needs a truncate. The
// directory's size is recorded besides its mtime: where the size follows the
// entries (tmpfs, btrfs), an entry added or removed within the same time
// stamp still shows.
std::string LeaseIndex::stateText(const struct stat& st) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%.*s%020llu %020llu %020lld %09ld %020lld\n",
                  static_cast<int>(kStateMagic.size()), kStateMagic.data(),
                  static_cast<unsigned long long>(st.st_dev), static_cast<unsigned long long>(st.st_ino),
                  static_cast<long long>(st.st_mtim.tv_sec), static_cast<long>(st.st_mtim.tv_nsec),
                  static_cast<long long>(st.st_size));
    return buf;
}

bool LeaseIndex::stateMatches(std::string_view s, const struct stat& st) {
    if (s.substr(0, kStateMagic.size()) != kStateMagic) return false;
    s.remove_prefix(kStateMagic.size());
    unsigned long long v[5];
    for (auto& x : v) {
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
        if (ec != std::errc()) return false;
        s.remove_prefix(static_cast<size_t>(p - s.data()));
        if (s.empty() || (s[0] != ' ' && s[0] != '\n')) return false;
        s.remove_prefix(1);
    }
    return v[0] == static_cast<unsigned long long>(st.st_dev) && v[1] == static_cast<unsigned long long>(st.st_ino) &&
           v[2] == static_cast<unsigned long long>(st.st_mtim.tv_sec) &&
           v[3] == static_cast<unsigned long long>(st.st_mtim.tv_nsec) &&
           v[4] == static_cast<unsigned long long>(st.st_size);
}

LeaseIndex::Use LeaseIndex::fromEnvironment() {
    if (const char* v = std::getenv(kEnv))
        for (const char* off : {"0", "off", "false", "no"})
            if (strcasecmp(v, off) == 0) return Use::Off;
    return Use::On;
}

void LeaseIndex::open(int dirfd, const std::string& dir, const struct stat& st) {
    close();
    dirfd_ = dirfd;
    path_ = dir + "/" + kIndexDir;
    fd_.reset(openat(dirfd, kIndexDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    std::string state;
    trusted_ = fd_ && !util::readFileAt(fd_.get(), kStateFile, state, kMaxStoreFile) && stateMatches(state, st);
}

void LeaseIndex::close() {
    fd_.reset();
    dirfd_ = -1;
    trusted_ = rewriteState_ = false;
    dirty_.clear();
    onDisk_.clear();
    failed_ = {};
}

void LeaseIndex::fail(cni::Error e) {
    if (!failed_) failed_ = std::move(e);
    trusted_ = false;
}

bool LeaseIndex::read(const Owner& o, std::vector<IP>& out) {
    out.clear();
    if (!trusted_ || !indexable(o)) return false;
    std::string name = indexName(o);
    std::string text;
    reads_++;
    if (auto e = util::readFileAt(fd_.get(), name.c_str(), text, kMaxStoreFile)) return e.errnum == ENOENT;
    Owner got;
    if (!parseEntry(text, got, out) || got != o) {
        out.clear();
        return false;
    }
    onDisk_.insert(o);
    return true;
}

void LeaseIndex::removeState() {
    if (fd_ && unlinkat(fd_.get(), kStateFile, 0) != 0 && errno != ENOENT)
        fail(ioError("remove", path_ + "/" + kStateFile, errno));
}

void LeaseIndex::distrust() {
    removeState();
    trusted_ = false;
    rewriteState_ = true;
}

void LeaseIndex::reconcile(const Holdings& held) {
    dirty_.clear();
    onDisk_.clear();
    if (!fd_) {
        if (mkdirat(dirfd_, kIndexDir, 0700) != 0 && errno != EEXIST) return fail(ioError("mkdir", path_, errno));
        fd_.reset(openat(dirfd_, kIndexDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!fd_) return fail(ioError("open", path_, errno));
    }
    // Bring the index files in line: drop stale ones, mark differing ones dirty.
    std::set<Owner> seen;
    std::vector<std::string> stale;
    util::Dir d;
    if (auto e = util::Dir::openAt(fd_.get(), d)) return fail(ioError("read", path_, e.errnum));
    while (const struct dirent* de = d.next()) {
        std::string_view name = de->d_name;
        if (name == kStateFile) continue;
        std::string text;
        Owner o;
        std::vector<IP> ips;
        reads_++;
        if (util::readFileAt(fd_.get(), de->d_name, text, kMaxStoreFile) || !parseEntry(text, o, ips) ||
            indexName(o) != name) {
            stale.emplace_back(name);
            continue;
        }
        auto it = held.find(o);
        if (it == held.end()) {
            stale.emplace_back(name);
            continue;
        }
        seen.insert(o);
        onDisk_.insert(o);
        std::sort(ips.begin(), ips.end());
        if (ips != it->second) dirty_.insert(o);
    }
    trusted_ = true;
    for (const auto& n : stale)
        if (unlinkat(fd_.get(), n.c_str(), 0) != 0 && errno != ENOENT) fail(ioError("remove", path_ + "/" + n, errno));
    for (const auto& [o, ips] : held)
        if (indexable(o) && !seen.count(o)) dirty_.insert(o);
}

void LeaseIndex::changed(const Owner& o) {
    if (indexable(o)) dirty_.insert(o);
}

void LeaseIndex::writeEntry(const Owner& o, const Holdings& held) {
    auto it = held.find(o);
    std::string name = indexName(o);
    std::string path = path_ + "/" + name;
    if (it == held.end() || it->second.empty()) {
        if (unlinkat(fd_.get(), name.c_str(), 0) != 0 && errno != ENOENT) fail(ioError("remove", path, errno));
        onDisk_.erase(o);
        return;
    }
    std::string text = entryText(o, it->second);
    // A new attachment's file is created in place (a crash part-way leaves
    // the state marker stale, so the index is rebuilt); an existing one is
    // replaced atomically.
    cni::Error e;
    bool exists = onDisk_.count(o) > 0;
    if (!exists) {
        e = util::writeFileAt(fd_.get(), name.c_str(), text, 0600, O_EXCL);
        exists = e.errnum == EEXIST;
    }
    if (exists) e = util::writeFileAtomicAt(fd_.get(), name.c_str(), kTmpFile, text, 0600);
    if (e) return fail(ioError("write", path, e.errnum));
    onDisk_.insert(o);
}

void LeaseIndex::writeState() {
    struct stat st;
    if (fstat(dirfd_, &st) != 0) return fail(ioError("stat", util::dirName(path_), errno));
    // A later change within the same tick of a coarse file system clock
    // would leave the mtime as it is now. When the last change was in this
    // tick: probe with one more change right after the stat. A kernel with
    // multigrain time stamps (Linux 6.13+ on ext4, xfs, btrfs, tmpfs) stamps
    // it finer than the coarse clock, and does so for any change that
    // follows our stat below: no waiting needed. Elsewhere (or where the
    // kernel's version says multigrain but the probe shows coarse stamps, as
    // seen under an emulator) wait for the tick. (The probe is repeated when
    // the clock ticked in between and stamped it coarsely again.)
    struct timespec now;
    clock_gettime(CLOCK_REALTIME_COARSE, &now);
    for (int i = 0; i < 3 && sameTime(st.st_mtim, now) && mkdirat(dirfd_, kProbeDir, 0700) == 0; i++) {
        unlinkat(dirfd_, kProbeDir, AT_REMOVEDIR);
        if (fstat(dirfd_, &st) != 0) return fail(ioError("stat", util::dirName(path_), errno));
        clock_gettime(CLOCK_REALTIME_COARSE, &now);
    }
    if (sameTime(st.st_mtim, now) || (st.st_mtim.tv_nsec == 0 && st.st_mtim.tv_sec == now.tv_sec)) {
        // Whole-second time stamps: do not wait that long; the index
        // stays untrusted (nothing failed: the next open rebuilds it).
        if (st.st_mtim.tv_nsec == 0) return removeState();
        for (int i = 0; i < 20 && !later(now, st.st_mtim); i++) {
            util::sleepMs(1);
            clock_gettime(CLOCK_REALTIME_COARSE, &now);
        }
        if (!later(now, st.st_mtim)) return removeState();
    }
    // Rewritten in place: no truncate, no rename (both make ext4 flush data).
    if (auto e = util::overwriteFileAt(fd_.get(), kStateFile, stateText(st), 0600))
        fail(ioError("write", path_ + "/" + kStateFile, e.errnum));
}

cni::Error LeaseIndex::commit(const Holdings& held, bool leasesChanged) {
    if (fd_) {
        if (trusted_)
            for (const Owner& o : dirty_) writeEntry(o, held);
        if (!trusted_) removeState();
        else if (leasesChanged || rewriteState_ || !dirty_.empty()) writeState();
        if (failed_) removeState();
    }
    dirty_.clear();
    rewriteState_ = false;
    return std::exchange(failed_, {});
}

void LeaseIndex::remove() {
    if (fd_) {
        std::vector<std::string> names;
        util::Dir d;
        if (!util::Dir::openAt(fd_.get(), d))
            while (const struct dirent* de = d.next()) names.emplace_back(de->d_name);
        for (const auto& n : names) unlinkat(fd_.get(), n.c_str(), 0);
    }
    if (dirfd_ >= 0) unlinkat(dirfd_, kIndexDir, AT_REMOVEDIR);
    close();
}

}  // namespace ipam
