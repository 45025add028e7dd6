#include "ipam/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <string_view>

#include "util/fs.h"
#include "util/text.h"

namespace ipam {

using util::IP;

namespace {

constexpr const char* kLockFile = "lock";
constexpr std::string_view kLastReservedPrefix = "last_reserved_ip.";

std::string lastReservedName(int rangeSet) { return std::string(kLastReservedPrefix) + std::to_string(rangeSet); }

}  // namespace

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
    if (util::hasDotDot(dataDir))
        return {cni::kInvalidNetConf, "invalid dataDir \"" + dataDir + "\": \"..\" components are not allowed"};
    return {};
}

// ---- opening and closing

cni::Error LeaseStore::open(const std::string& dataDir, const std::string& network, Mode mode,
                            LeaseIndex::Use index) {
    close();
    if (auto e = validateStorePath(dataDir, network)) return e;
    dir_ = networkDir(dataDir, network);
    parent_ = dir_.substr(0, std::max<size_t>(dir_.rfind('/'), 1));
    network_ = network;
    useIndex_ = index == LeaseIndex::Use::On;
    missing_ = false;
    created_.clear();
    for (int attempt = 0;; attempt++) {
        bool retry = false;
        cni::Error e = openOnce(mode, retry);
        if (!retry || attempt == 4) {
            if (e) removeCreated();  // leave nothing behind
            return e;
        }
    }
}

cni::Error LeaseStore::openOnce(Mode mode, bool& retry) {
    // The data directory is the administrator's path, followed as it is;
    // the network's directory in it (a name from the config) is made and
    // opened under its descriptor and may not be a symlink, so no rename or
    // planted link between the mkdir and the open leads the store elsewhere.
    util::Fd dir;
    if (auto e = util::openSubdir(parent_, network_, mode == Mode::Create, 0755, 0755, dir, &created_)) {
        // A symlink or a file in the directory's place holds no lease of
        // ours: DEL, GC and CHECK find nothing there; ADD refuses it.
        if ((e.errnum == ENOENT || e.errnum == ELOOP || e.errnum == ENOTDIR) && mode == Mode::Existing) {
            missing_ = true;
            return {};
        }
        if (e.errnum == ENOENT) retry = true;  // removed by a failing ADD in between
        e.code = cni::kIOFailure;  // "open <dir>: <errno text>"
        return e;
    }
    std::string lockPath = dir_ + "/" + kLockFile;
    util::Fd lock(util::openDataAt(dir.get(), kLockFile, O_RDONLY | O_CREAT, 0750));
    if (!lock) return ioError("open", lockPath, errno);
    while (flock(lock.get(), LOCK_EX) != 0)
        if (errno != EINTR) return ioError("lock", lockPath, errno);
    struct stat st;
    if (fstat(dir.get(), &st) != 0) return ioError("stat", dir_, errno);
    if (st.st_nlink == 0) {  // the dir went away while we waited for the lock
        retry = true;
        return ioError("open", dir_, ENOENT);
    }
    dirfd_ = std::move(dir);
    lockfd_ = std::move(lock);
    if (useIndex_) index_.open(dirfd_.get(), dir_, st);
    if (!index_.trusted()) return rescan();
    return {};
}

void LeaseStore::removeCreated() {
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) rmdir(it->c_str());
    created_.clear();
}

cni::Error LeaseStore::commit() {
    if (!dirfd_ || !useIndex_) return {};
    cni::Error e = index_.commit(held_, leasesChanged_);
    leasesChanged_ = false;
    return e;
}

void LeaseStore::close() {
    index_.close();
    held_.clear();
    orphans_.clear();
    full_ = false;
    leasesChanged_ = false;
    dirfd_.reset();
    lockfd_.reset();  // releases the flock
}

void LeaseStore::abandon() {
    if (!dirfd_ || created_.empty()) return close();
    index_.remove();
    std::vector<std::string> names;
    util::Dir d;
    if (!util::Dir::openAt(dirfd_.get(), d))
        while (const struct dirent* de = d.next()) {
            std::string_view n = de->d_name;
            if (n == kLockFile || n.substr(0, kLastReservedPrefix.size()) == kLastReservedPrefix)
                names.emplace_back(n);
        }
    for (const auto& n : names) unlinkat(dirfd_.get(), n.c_str(), 0);
    removeCreated();
    close();
}

// ---- what the store knows

cni::Error LeaseStore::rescan() {
    rebuilds_++;
    full_ = false;
    held_.clear();
    orphans_.clear();
    if (useIndex_) index_.distrust();
    LeaseScan scan;
    if (auto e = scanLeases(dirfd_.get(), dir_, scan)) return e;
    held_ = std::move(scan.held);
    orphans_ = std::move(scan.empty);
    full_ = true;
    if (useIndex_) index_.reconcile(held_);
    return {};
}

cni::Error LeaseStore::recorded(const Owner& o, std::vector<IP>*& out) {
    if (!full_ && !held_.count(o)) {
        std::vector<IP> ips;
        if (index_.read(o, ips)) held_.emplace(o, std::move(ips));
        else if (auto e = rescan()) return e;
    }
    out = &held_[o];
    return {};
}

// ---- operations

cni::Error LeaseStore::reserve(const Owner& o, const IP& ip, int rangeSet, bool& reserved) {
    reserved = false;
    if (!dirfd_) return {cni::kIOFailure, "lease store is not open"};
    std::vector<IP>* held = nullptr;
    if (auto e = recorded(o, held)) return e;
    std::string name = ip.str();
    util::Fd fd(openat(dirfd_.get(), name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600));
    if (!fd) {
        if (errno == EEXIST) return {};
        return ioError("open", dir_ + "/" + name, errno);
    }
    leasesChanged_ = true;
    int err = util::writeAll(fd.get(), o.content());
    if (auto e = fd.close(); e && !err) err = e.errnum;
    if (err) {
        unlinkat(dirfd_.get(), name.c_str(), 0);
        return ioError("write", dir_ + "/" + name, err);
    }
    std::string last = lastReservedName(rangeSet);
    if (auto e = util::overwriteFileAt(dirfd_.get(), last.c_str(), name, 0600)) {
        unlinkat(dirfd_.get(), name.c_str(), 0);
        return ioError("write", dir_ + "/" + last, e.errnum);
    }
    held->push_back(ip);
    index_.changed(o);
    reserved = true;
    return {};
}

std::optional<IP> LeaseStore::lastReserved(int rangeSet) const {
    if (!dirfd_) return std::nullopt;
    std::string text;
    if (util::readFileAt(dirfd_.get(), lastReservedName(rangeSet).c_str(), text, kMaxStoreFile)) return std::nullopt;
    return IP::parse(text);  // no trimming, like upstream
}

cni::Error LeaseStore::addressesOf(const Owner& o, std::vector<IP>& out) {
    out.clear();
    if (!dirfd_) return {};
    std::vector<Owner> owners{o};
    if (!o.legacy()) owners.push_back(Owner{o.id, {}});
    for (;;) {
        out.clear();
        bool stale = false;
        for (const Owner& w : owners) {
            std::vector<IP>* held = nullptr;
            if (auto e = recorded(w, held)) return e;
            for (const IP& ip : *held) {
                if (leaseHeldBy(dirfd_.get(), ip, w)) out.push_back(ip);
                else stale = true;
            }
        }
        if (!stale || full_) return {};
        if (auto e = rescan()) return e;
    }
}

cni::Error LeaseStore::holds(const Owner& o, bool& found) {
    std::vector<IP> ips;
    if (auto e = addressesOf(o, ips)) return e;
    found = !ips.empty();
    return {};
}

cni::Error LeaseStore::releaseRecorded(const Owner& o, std::vector<IP>& released, int& unlinkErr, bool& stale) {
    std::vector<IP>* held = nullptr;
    if (auto e = recorded(o, held)) return e;
    if (held->empty()) return {};
    std::vector<IP> kept;
    for (const IP& ip : *held) {
        if (!leaseHeldBy(dirfd_.get(), ip, o)) {
            stale = true;
            continue;
        }
        if (unlinkat(dirfd_.get(), ip.str().c_str(), 0) == 0 || errno == ENOENT) {
            leasesChanged_ = true;
            released.push_back(ip);
        } else {
            if (!unlinkErr) unlinkErr = errno;
            kept.push_back(ip);
        }
    }
    *held = std::move(kept);
    index_.changed(o);
    return {};
}

cni::Error LeaseStore::release(const Owner& o, std::vector<IP>* released) {
    if (!dirfd_) return {};
    std::vector<IP> got;
    int err = 0;
    // Releases `w`'s leases (once more after a scan when the record was
    // stale); `stuck` when some could not be removed.
    auto releaseAll = [&](const Owner& w, bool& stuck) -> cni::Error {
        bool stale = false;
        if (auto e = releaseRecorded(w, got, err, stale)) return e;
        if (stale && !full_) {
            if (auto e = rescan()) return e;
            if (auto e = releaseRecorded(w, got, err, stale)) return e;
        }
        std::vector<IP>* left = nullptr;
        if (auto e = recorded(w, left)) return e;
        stuck = !left->empty();
        return {};
    };
    bool stuck = false;
    if (auto e = releaseAll(o, stuck)) return e;
    if (got.empty() && !stuck && !o.legacy())
        if (auto e = releaseAll(Owner{o.id, {}}, stuck)) return e;
    if (released) released->insert(released->end(), got.begin(), got.end());
    if (stuck) return ioError("remove lease in", dir_, err ? err : EIO);
    return {};
}

cni::Error LeaseStore::releaseOne(const Owner& o, const IP& ip) {
    if (!dirfd_) return {};
    if (leaseHeldBy(dirfd_.get(), ip, o)) {
        if (unlinkat(dirfd_.get(), ip.str().c_str(), 0) != 0 && errno != ENOENT)
            return ioError("remove", dir_ + "/" + ip.str(), errno);
        leasesChanged_ = true;
    }
    std::vector<IP>* held = nullptr;
    if (auto e = recorded(o, held)) return e;
    held->erase(std::remove(held->begin(), held->end(), ip), held->end());
    index_.changed(o);
    return {};
}

cni::Error LeaseStore::releaseAllExcept(const std::vector<cni::Attachment>& keep, std::vector<Lease>* released) {
    if (!dirfd_) return {};
    // GC is rare: reconcile the index with the lease files first.
    if (!full_)
        if (auto e = rescan()) return e;
    std::set<Owner> keepOwners;
    std::set<std::string> keepIDs;
    for (const auto& a : keep) {
        keepOwners.insert(Owner{a.containerID, a.ifname});
        keepIDs.insert(a.containerID);
    }
    std::vector<Owner> drop;
    for (const auto& [o, ips] : held_) {
        if (ips.empty()) continue;
        bool kept = o.legacy() ? keepIDs.count(o.id) > 0 : keepOwners.count(o) > 0;
        if (!kept) drop.push_back(o);
    }
    // Lease files left empty by a crash belong to no attachment.
    for (const IP& ip : orphans_) {
        std::string text;
        if (util::readFileAt(dirfd_.get(), ip.str().c_str(), text, kMaxStoreFile) || !util::trimSpace(text).empty())
            continue;
        if (unlinkat(dirfd_.get(), ip.str().c_str(), 0) == 0) {
            leasesChanged_ = true;
            if (released) released->push_back(Lease{ip, {}});
        }
    }
    orphans_.clear();
    cni::Error firstErr;
    for (const Owner& o : drop) {
        std::vector<IP> got;
        int err = 0;
        bool stale = false;
        if (auto e = releaseRecorded(o, got, err, stale)) return e;
        if (released)
            for (const IP& ip : got) released->push_back(Lease{ip, o});
        const std::vector<IP>& left = held_[o];
        if (!left.empty() && !firstErr) firstErr = ioError("remove", dir_ + "/" + left.front().str(), err ? err : EIO);
    }
    return firstErr;
}

}  // namespace ipam
