#include "ipam/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>

#include "util/fs.h"
#include "util/text.h"
#include "util/fs.h"

namespace ipam {

using util::IP;

namespace {

constexpr size_t kMaxFile = 1 << 16;  // lease, index and state files are small
constexpr const char* kLockFile = "lock";
constexpr const char* kLastReservedPrefix = "last_reserved_ip.";
constexpr const char* kIndexDir = ".cnibox";
constexpr const char* kStateFile = "state";
constexpr const char* kTmpFile = ".tmp";
constexpr const char* kProbeDir = ".cnibox-tick";  // in the network dir, under the lock, never left behind
constexpr std::string_view kEntryMagic = "cnibox-index 1 ";
constexpr std::string_view kStateMagic = "cnibox-index-state 1 ";

cni::Error ioError(const char* op, const std::string& path, int err) {
    return {cni::kIOFailure, std::string(op) + " " + path + ": " + util::errnoText(err)};
}

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

// A lease file name: an address in its canonical spelling.
std::optional<IP> leaseName(const char* name) {
    char c = name[0];
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':';
    if (!hex) return std::nullopt;
    auto ip = IP::parse(name);
    if (!ip || ip->str() != name) return std::nullopt;
    return ip;
}

bool isRegular(int dirfd, const struct dirent* d) {
    if (d->d_type == DT_REG) return true;
    if (d->d_type != DT_UNKNOWN) return false;
    struct stat st;
    return fstatat(dirfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

// Calls f(name) for each entry of the directory `dirfd` (not . and ..).
template <typename F>
int forEachEntry(int dirfd, F&& f) {
    int fd = dup(dirfd);
    if (fd < 0) return errno;
    DIR* d = fdopendir(fd);
    if (!d) {
        int e = errno;
        ::close(fd);
        return e;
    }
    rewinddir(d);
    while (struct dirent* de = readdir(d)) {
        if (de->d_name[0] == '.' && (de->d_name[1] == 0 || (de->d_name[1] == '.' && de->d_name[2] == 0)))
            continue;
        f(de);
    }
    closedir(d);
    return 0;
}

// Fixed width, so that rewriting it in place never needs a truncate.
std::string stateText(const struct stat& st) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%.*s%020llu %020llu %020lld %09ld\n", static_cast<int>(kStateMagic.size()),
                  kStateMagic.data(), static_cast<unsigned long long>(st.st_dev),
                  static_cast<unsigned long long>(st.st_ino), static_cast<long long>(st.st_mtim.tv_sec),
                  static_cast<long>(st.st_mtim.tv_nsec));
    return buf;
}

// Linux 6.13+ stamps ext4, xfs, btrfs and tmpfs changes that follow a stat
// with fine-grained times (multigrain time stamps).
bool multigrainTimestamps(int dirfd) {
    static int cached = -1;
    if (cached < 0) {
        struct utsname u;
        unsigned major = 0, minor = 0;
        cached = uname(&u) == 0 && std::sscanf(u.release, "%u.%u", &major, &minor) == 2 &&
                 (major > 6 || (major == 6 && minor >= 13));
    }
    if (!cached) return false;
    struct statfs fs;
    if (fstatfs(dirfd, &fs) != 0) return false;
    switch (static_cast<unsigned long>(fs.f_type)) {
        case 0xEF53UL:      // ext2/3/4
        case 0x58465342UL:  // xfs
        case 0x9123683EUL:  // btrfs
        case 0x01021994UL:  // tmpfs
            return true;
        default:
            return false;
    }
}

bool sameTime(const struct timespec& a, const struct timespec& b) {
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

bool later(const struct timespec& a, const struct timespec& b) {
    return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

}  // namespace

std::string Owner::content() const { return legacy() ? id : id + "\r\n" + ifname; }

std::optional<Owner> Owner::fromContent(std::string_view data) {
    data = util::trimSpace(data);
    if (data.empty()) return std::nullopt;
    size_t p = data.find("\r\n");
    if (p == std::string_view::npos) return Owner{std::string(data), {}};
    if (p == 0) return std::nullopt;
    return Owner{std::string(data.substr(0, p)), std::string(data.substr(p + 2))};
}

std::string networkDir(const std::string& dataDir, const std::string& network) {
    std::string d = dataDir.empty() ? kDefaultDataDir : dataDir;
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    return d == "/" ? d + network : d + "/" + network;
}

cni::Error validateStorePath(const std::string& dataDir, const std::string& network) {
    if (network.empty() || network == "." || network == ".." || network.find('/') != std::string::npos ||
        network.find('\0') != std::string::npos)
        return {cni::kInvalidNetConf, "invalid network name \"" + network + "\" for a data directory"};
    if (network.size() > 255)
        return {cni::kInvalidNetConf, "network name too long for a data directory (" +
                                          std::to_string(network.size()) + " bytes, at most 255)"};
    if (dataDir.find('\0') != std::string::npos)
        return {cni::kInvalidNetConf, "invalid dataDir: contains a NUL byte"};
    size_t i = 0;
    while (i <= dataDir.size()) {
        size_t j = dataDir.find('/', i);
        if (j == std::string::npos) j = dataDir.size();
        if (dataDir.compare(i, j - i, "..") == 0 && j - i == 2)
            return {cni::kInvalidNetConf, "invalid dataDir \"" + dataDir + "\": \"..\" components are not allowed"};
        i = j + 1;
    }
    return {};
}

cni::Error listLeases(const std::string& dir, std::vector<Lease>& out, bool readOwners) {
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        if (errno == ENOENT) return {};
        return ioError("open", dir, errno);
    }
    int e = forEachEntry(dfd, [&](const struct dirent* de) {
        auto ip = leaseName(de->d_name);
        if (!ip || !isRegular(dfd, de)) return;
        Lease l{*ip, {}};
        if (readOwners) {
            std::string text;
            if (util::readFileAt(dfd, de->d_name, text, kMaxFile).errnum == 0)
                if (auto o = Owner::fromContent(text)) l.owner = *o;
        }
        out.push_back(std::move(l));
    });
    ::close(dfd);
    if (e) return ioError("read", dir, e);
    return {};
}

// ---------------------------------------------------------------------------

cni::Error LeaseStore::open(const std::string& dataDir, const std::string& network, Mode mode) {
    close();
    if (auto e = validateStorePath(dataDir, network)) return e;
    dir_ = networkDir(dataDir, network);
    missing_ = false;
    created_.clear();
    for (int attempt = 0;; attempt++) {
        bool retry = false;
        cni::Error e = openOnce(mode, retry);
        if (e && (!retry || attempt == 4)) {
            // Leave nothing behind: remove the directories made on the way.
            for (auto it = created_.rbegin(); it != created_.rend(); ++it) rmdir(it->c_str());
            created_.clear();
        }
        if (!retry || attempt == 4) return e;
    }
}

cni::Error LeaseStore::mkdirs() {
    std::string p;
    size_t i = 0;
    if (!dir_.empty() && dir_[0] == '/') {
        p = "/";
        i = 1;
    }
    while (i < dir_.size()) {
        size_t j = dir_.find('/', i);
        if (j == std::string::npos) j = dir_.size();
        if (j > i) {
            if (!p.empty() && p.back() != '/') p += '/';
            p.append(dir_, i, j - i);
            if (mkdir(p.c_str(), 0755) == 0) created_.push_back(p);
            else if (errno != EEXIST) return ioError("mkdir", p, errno);
        }
        i = j + 1;
    }
    return {};
}

cni::Error LeaseStore::openOnce(Mode mode, bool& retry) {
    dirfd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd_ < 0 && errno == ENOENT && mode == Mode::Create) {
        if (auto e = mkdirs()) return e;
        dirfd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (dirfd_ < 0) {
        int err = errno;
        if (err == ENOENT && mode == Mode::Existing) {
            missing_ = true;
            return {};
        }
        if (err == ENOENT) retry = true;  // removed by a failing ADD in between
        return ioError("open", dir_, err);
    }
    lockfd_ = openat(dirfd_, kLockFile, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0750);
    if (lockfd_ < 0) {
        int err = errno;
        close();
        return ioError("open", dir_ + "/" + kLockFile, err);
    }
    while (flock(lockfd_, LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        int err = errno;
        close();
        return ioError("lock", dir_ + "/" + kLockFile, err);
    }
    struct stat st;
    if (fstat(dirfd_, &st) != 0) {
        int err = errno;
        close();
        return ioError("stat", dir_, err);
    }
    if (st.st_nlink == 0) {  // the dir went away while we waited for the lock
        close();
        retry = true;
        return ioError("open", dir_, ENOENT);
    }
    idxfd_ = openat(dirfd_, kIndexDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    trusted_ = idxfd_ >= 0 && checkState(st);
    full_ = false;
    changed_ = false;
    entries_.clear();
    dirty_.clear();
    onDisk_.clear();
    if (!trusted_) rebuild();
    return {};
}

bool LeaseStore::checkState(const struct stat& st) {
    std::string text;
    if (util::readFileAt(idxfd_, kStateFile, text, kMaxFile).errnum != 0) return false;
    std::string_view s = text;
    if (s.substr(0, kStateMagic.size()) != kStateMagic) return false;
    s.remove_prefix(kStateMagic.size());
    unsigned long long v[4];
    for (auto& x : v) {
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
        if (ec != std::errc()) return false;
        s.remove_prefix(static_cast<size_t>(p - s.data()));
        if (s.empty() || (s[0] != ' ' && s[0] != '\n')) return false;
        s.remove_prefix(1);
    }
    return v[0] == static_cast<unsigned long long>(st.st_dev) && v[1] == static_cast<unsigned long long>(st.st_ino) &&
           v[2] == static_cast<unsigned long long>(st.st_mtim.tv_sec) &&
           v[3] == static_cast<unsigned long long>(st.st_mtim.tv_nsec);
}

void LeaseStore::unlinkState() {
    if (idxfd_ >= 0) unlinkat(idxfd_, kStateFile, 0);
}

void LeaseStore::rebuild() {
    stats_.rebuilds++;
    unlinkState();  // a rebuild cut short leaves the index untrusted
    entries_.clear();
    dirty_.clear();
    onDisk_.clear();
    orphans_.clear();
    full_ = true;
    trusted_ = false;
    changed_ = true;
    forEachEntry(dirfd_, [&](const struct dirent* de) {
        auto ip = leaseName(de->d_name);
        if (!ip || !isRegular(dirfd_, de)) return;
        std::string text;
        if (util::readFileAt(dirfd_, de->d_name, text, kMaxFile).errnum != 0) return;
        auto o = Owner::fromContent(text);
        if (!o) orphans_.push_back(*ip);  // empty: a reservation cut short by a crash
        else if (indexable(*o)) entries_[*o].push_back(*ip);
    });
    for (auto& [o, ips] : entries_) std::sort(ips.begin(), ips.end());

    if (idxfd_ < 0) {
        if (mkdirat(dirfd_, kIndexDir, 0700) != 0 && errno != EEXIST) return;
        idxfd_ = openat(dirfd_, kIndexDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (idxfd_ < 0) return;
    }
    // Bring the index files in line: drop stale ones, mark differing ones dirty.
    std::set<Owner> seen;
    std::vector<std::string> stale;
    forEachEntry(idxfd_, [&](const struct dirent* de) {
        std::string_view name = de->d_name;
        if (name == kStateFile) return;
        std::string text;
        Owner o;
        std::vector<IP> ips;
        stats_.indexReads++;
        if (util::readFileAt(idxfd_, de->d_name, text, kMaxFile).errnum != 0 || !parseEntry(text, o, ips) || indexName(o) != name) {
            stale.emplace_back(name);
            return;
        }
        auto it = entries_.find(o);
        if (it == entries_.end()) {
            stale.emplace_back(name);
            return;
        }
        seen.insert(o);
        onDisk_.insert(o);
        std::sort(ips.begin(), ips.end());
        if (ips != it->second) dirty_.insert(o);
    });
    for (const auto& n : stale) unlinkat(idxfd_, n.c_str(), 0);
    for (const auto& [o, ips] : entries_)
        if (!seen.count(o)) dirty_.insert(o);
    trusted_ = true;
}

bool LeaseStore::loadEntry(const Owner& o, std::vector<IP>& out) {
    out.clear();
    if (!indexable(o)) return true;
    std::string name = indexName(o);
    std::string text;
    stats_.indexReads++;
    int err = util::readFileAt(idxfd_, name.c_str(), text, kMaxFile).errnum;
    if (err == ENOENT) return true;
    if (err) return false;
    Owner got;
    if (!parseEntry(text, got, out) || got != o) {
        out.clear();
        return false;
    }
    onDisk_.insert(o);
    return true;
}

std::vector<IP>& LeaseStore::entry(const Owner& o) {
    auto it = entries_.find(o);
    if (it != entries_.end()) return it->second;
    std::vector<IP> v;
    if (!full_ && !loadEntry(o, v)) {
        rebuild();
        return entries_[o];
    }
    return entries_[o] = std::move(v);
}

int LeaseStore::leaseOwnedBy(const IP& ip, const Owner& o) const {
    std::string text;
    int err = util::readFileAt(dirfd_, ip.str().c_str(), text, kMaxFile).errnum;
    if (err) return -1;
    return util::trimSpace(text) == o.content() ? 1 : 0;
}

cni::Error LeaseStore::reserve(const Owner& o, const IP& ip, int rangeSet, bool& reserved) {
    reserved = false;
    if (dirfd_ < 0) return {cni::kIOFailure, "lease store is not open"};
    std::string name = ip.str();
    int fd = openat(dirfd_, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        if (errno == EEXIST) return {};
        return ioError("open", dir_ + "/" + name, errno);
    }
    changed_ = true;
    int err = util::writeAll(fd, o.content());
    if (::close(fd) != 0 && !err) err = errno;
    if (!err) {
        std::string last = kLastReservedPrefix + std::to_string(rangeSet);
        err = util::overwriteFileAt(dirfd_, last.c_str(), name, 0600).errnum;
        if (err) {
            unlinkat(dirfd_, name.c_str(), 0);
            return ioError("write", dir_ + "/" + last, err);
        }
    }
    if (err) {
        unlinkat(dirfd_, name.c_str(), 0);
        return ioError("write", dir_ + "/" + name, err);
    }
    if (indexable(o)) {
        entry(o).push_back(ip);
        dirty_.insert(o);
    }
    reserved = true;
    return {};
}

std::optional<IP> LeaseStore::lastReserved(int rangeSet) const {
    if (dirfd_ < 0) return std::nullopt;
    std::string text;
    std::string name = kLastReservedPrefix + std::to_string(rangeSet);
    if (util::readFileAt(dirfd_, name.c_str(), text, kMaxFile).errnum != 0) return std::nullopt;
    return IP::parse(text);  // no trimming, like upstream
}

cni::Error LeaseStore::addressesOf(const Owner& o, std::vector<IP>& out) {
    out.clear();
    if (dirfd_ < 0) return {};
    std::vector<Owner> owners{o};
    if (!o.legacy()) owners.push_back(Owner{o.id, {}});
    for (int pass = 0; pass < 2; pass++) {
        out.clear();
        bool consistent = true;
        for (const Owner& w : owners)
            for (const IP& ip : entry(w)) {
                if (leaseOwnedBy(ip, w) == 1) out.push_back(ip);
                else consistent = false;
            }
        if (consistent || full_) break;
        rebuild();
    }
    return {};
}

cni::Error LeaseStore::holds(const Owner& o, bool& found) {
    std::vector<IP> ips;
    if (auto e = addressesOf(o, ips)) return e;
    found = !ips.empty();
    return {};
}

bool LeaseStore::releaseEntry(const Owner& o, std::vector<IP>* released, int* unlinkErr) {
    auto& v = entry(o);
    if (v.empty()) return true;
    bool consistent = true;
    std::vector<IP> kept;
    for (const IP& ip : v) {
        int r = leaseOwnedBy(ip, o);
        if (r != 1) {
            consistent = false;
            continue;
        }
        if (unlinkat(dirfd_, ip.str().c_str(), 0) == 0 || errno == ENOENT) {
            changed_ = true;
            if (released) released->push_back(ip);
        } else {
            if (unlinkErr && !*unlinkErr) *unlinkErr = errno;
            kept.push_back(ip);
        }
    }
    v = std::move(kept);
    dirty_.insert(o);
    return consistent;
}

cni::Error LeaseStore::release(const Owner& o, std::vector<IP>* released) {
    if (dirfd_ < 0) return {};
    std::vector<IP> got;
    int err = 0;
    auto run = [&](const Owner& w) {
        if (!releaseEntry(w, &got, &err) && !full_) {
            rebuild();
            releaseEntry(w, &got, &err);
        }
        return !entry(w).empty();  // something could not be removed
    };
    bool stuck = run(o);
    if (got.empty() && !stuck && !o.legacy()) stuck = run(Owner{o.id, {}});
    if (released) released->insert(released->end(), got.begin(), got.end());
    if (stuck) return ioError("remove lease in", dir_, err ? err : EIO);
    return {};
}

cni::Error LeaseStore::releaseOne(const Owner& o, const IP& ip) {
    if (dirfd_ < 0) return {};
    if (leaseOwnedBy(ip, o) == 1) {
        if (unlinkat(dirfd_, ip.str().c_str(), 0) != 0 && errno != ENOENT)
            return ioError("remove", dir_ + "/" + ip.str(), errno);
        changed_ = true;
    }
    if (indexable(o)) {
        auto& v = entry(o);
        v.erase(std::remove(v.begin(), v.end(), ip), v.end());
        dirty_.insert(o);
    }
    return {};
}

cni::Error LeaseStore::releaseAllExcept(const std::vector<cni::Attachment>& keep, std::vector<Lease>* released) {
    if (dirfd_ < 0) return {};
    rebuild();  // GC is rare: reconcile the index with the lease files first
    std::set<Owner> keepOwners;
    std::set<std::string> keepIDs;
    for (const auto& a : keep) {
        keepOwners.insert(Owner{a.containerID, a.ifname});
        keepIDs.insert(a.containerID);
    }
    std::vector<Owner> drop;
    for (const auto& [o, ips] : entries_) {
        if (ips.empty()) continue;
        bool kept = o.legacy() ? keepIDs.count(o.id) > 0 : keepOwners.count(o) > 0;
        if (!kept) drop.push_back(o);
    }
    cni::Error firstErr;
    // Lease files left empty by a crash belong to no attachment.
    for (const IP& ip : orphans_) {
        std::string text;
        if (util::readFileAt(dirfd_, ip.str().c_str(), text, kMaxFile).errnum != 0 || !util::trimSpace(text).empty()) continue;
        if (unlinkat(dirfd_, ip.str().c_str(), 0) == 0) {
            changed_ = true;
            if (released) released->push_back(Lease{ip, {}});
        }
    }
    orphans_.clear();
    for (const Owner& o : drop) {
        std::vector<IP> got;
        int err = 0;
        releaseEntry(o, &got, &err);
        if (released)
            for (const IP& ip : got) released->push_back(Lease{ip, o});
        if (!entry(o).empty() && !firstErr)
            firstErr = ioError("remove", dir_ + "/" + entry(o).front().str(), err ? err : EIO);
    }
    return firstErr;
}

void LeaseStore::writeEntry(const Owner& o) {
    auto it = entries_.find(o);
    std::string name = indexName(o);
    if (it == entries_.end() || it->second.empty()) {
        if (unlinkat(idxfd_, name.c_str(), 0) != 0 && errno != ENOENT) trusted_ = false;
        onDisk_.erase(o);
        return;
    }
    std::string text = entryText(o, it->second);
    // A new attachment's file is created in place (a crash part-way leaves
    // the state marker stale, so the index is rebuilt); an existing one is
    // replaced atomically.
    int err = EEXIST;
    if (!onDisk_.count(o)) err = util::writeFileAt(idxfd_, name.c_str(), text, 0600, O_EXCL).errnum;
    if (err == EEXIST) err = util::writeFileAtomicAt(idxfd_, name.c_str(), kTmpFile, text, 0600).errnum;
    if (err) trusted_ = false;
    else onDisk_.insert(o);
}

void LeaseStore::writeState() {
    struct stat st;
    if (fstat(dirfd_, &st) != 0) {
        unlinkState();
        return;
    }
    // A later change within the same tick of a coarse file system clock
    // would leave the mtime as it is now. Kernels with fine-grained
    // timestamps give a fresh one after a stat; elsewhere wait for the tick.
    // Multigrain time stamps: the fstat above marks the time as seen, so the
    // next change of the directory is stamped finer and cannot look the same.
    if (multigrainTimestamps(dirfd_)) {
        if (util::overwriteFileAt(idxfd_, kStateFile, stateText(st), 0600).errnum != 0) unlinkState();
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME_COARSE, &now);
    if (sameTime(st.st_mtim, now)) {
        // Probe: one more change right after the stat above. A kernel with
        // multigrain time stamps (Linux 6.13+ on ext4, xfs, btrfs, tmpfs)
        // stamps it finer than the coarse clock, and will do so for any
        // change that follows our stat below: no waiting needed.
        // (Repeated when the clock ticked in between and stamped it coarsely again.)
        for (int i = 0; i < 3 && sameTime(st.st_mtim, now) && mkdirat(dirfd_, kProbeDir, 0700) == 0; i++) {
            unlinkat(dirfd_, kProbeDir, AT_REMOVEDIR);
            if (fstat(dirfd_, &st) != 0) {
                unlinkState();
                return;
            }
            clock_gettime(CLOCK_REALTIME_COARSE, &now);
        }
    }
    if (sameTime(st.st_mtim, now) || (st.st_mtim.tv_nsec == 0 && st.st_mtim.tv_sec == now.tv_sec)) {
        if (st.st_mtim.tv_nsec == 0) {  // whole-second time stamps: do not wait that long
            unlinkState();
            return;
        }
        for (int i = 0; i < 100 && !later(now, st.st_mtim); i++) {
            struct timespec d{0, 200 * 1000};
            nanosleep(&d, nullptr);
            clock_gettime(CLOCK_REALTIME_COARSE, &now);
        }
        if (!later(now, st.st_mtim)) {
            unlinkState();
            return;
        }
    }
    // Rewritten in place: no truncate, no rename (both make ext4 flush data).
    if (util::overwriteFileAt(idxfd_, kStateFile, stateText(st), 0600).errnum != 0) unlinkState();
}

void LeaseStore::close() {
    if (dirfd_ >= 0 && idxfd_ >= 0) {
        if (trusted_) {
            for (const Owner& o : dirty_) writeEntry(o);
            if (changed_ || !dirty_.empty()) {
                if (trusted_) writeState();
                else unlinkState();
            }
        } else if (changed_) {
            unlinkState();
        }
    }
    dirty_.clear();
    entries_.clear();
    onDisk_.clear();
    changed_ = false;
    full_ = false;
    if (idxfd_ >= 0) ::close(idxfd_);
    if (dirfd_ >= 0) ::close(dirfd_);
    if (lockfd_ >= 0) ::close(lockfd_);  // releases the flock
    idxfd_ = dirfd_ = lockfd_ = -1;
}

void LeaseStore::abandon() {
    if (dirfd_ < 0 || created_.empty()) return;
    if (idxfd_ >= 0) {
        std::vector<std::string> names;
        forEachEntry(idxfd_, [&](const struct dirent* de) { names.emplace_back(de->d_name); });
        for (const auto& n : names) unlinkat(idxfd_, n.c_str(), 0);
        ::close(idxfd_);
        idxfd_ = -1;
    }
    unlinkat(dirfd_, kIndexDir, AT_REMOVEDIR);
    std::vector<std::string> names;
    forEachEntry(dirfd_, [&](const struct dirent* de) {
        std::string_view n = de->d_name;
        if (n == kLockFile || n.substr(0, std::string_view(kLastReservedPrefix).size()) == kLastReservedPrefix)
            names.emplace_back(n);
    });
    for (const auto& n : names) unlinkat(dirfd_, n.c_str(), 0);
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) rmdir(it->c_str());
    created_.clear();
    trusted_ = false;
    dirty_.clear();
    changed_ = false;
    close();
}

}  // namespace ipam
