#include "ipam/leases.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "util/fd.h"
#include "util/fs.h"
#include "util/text.h"

namespace ipam {

using util::IP;

namespace {

bool isRegular(int dirfd, const struct dirent* d) {
    if (d->d_type == DT_REG) return true;
    if (d->d_type != DT_UNKNOWN) return false;
    struct stat st;
    return fstatat(dirfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

// Calls f(ip, name) for each lease file of the network dir `dirfd`.
template <typename F>
cni::Error forEachLease(int dirfd, const std::string& dir, F&& f) {
    util::Dir d;
    if (auto e = util::Dir::openAt(dirfd, d)) return ioError("read", dir, e.errnum);
    while (const struct dirent* de = d.next())
        if (auto ip = leaseName(de->d_name); ip && isRegular(dirfd, de)) f(*ip, de->d_name);
    return {};
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

cni::Error ioError(std::string_view op, std::string_view path, int err) {
    cni::Error e = util::pathError(op, path, err);
    e.code = cni::kIOFailure;
    return e;
}

std::optional<IP> leaseName(const char* name) {
    char c = name[0];
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':';
    if (!hex) return std::nullopt;
    auto ip = IP::parse(name);
    if (!ip || ip->str() != name) return std::nullopt;
    return ip;
}

cni::Error scanLeases(int dirfd, const std::string& dir, LeaseScan& out) {
    LeaseScan scan;
    auto e = forEachLease(dirfd, dir, [&](const IP& ip, const char* name) {
        std::string text;
        if (util::readFileAt(dirfd, name, text, kMaxStoreFile)) return;
        if (auto o = Owner::fromContent(text)) scan.held[*o].push_back(ip);
        else scan.empty.push_back(ip);
    });
    if (e) return e;
    for (auto& [o, ips] : scan.held) std::sort(ips.begin(), ips.end());
    out = std::move(scan);
    return {};
}

bool leaseHeldBy(int dirfd, const IP& ip, const Owner& o) {
    std::string text;
    if (util::readFileAt(dirfd, ip.str().c_str(), text, kMaxStoreFile)) return false;
    return util::trimSpace(text) == o.content();
}

cni::Error listLeases(const std::string& dir, std::vector<Lease>& out, bool readOwners) {
    util::Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return {};
        return ioError("open", dir, errno);
    }
    return forEachLease(fd.get(), dir, [&](const IP& ip, const char* name) {
        Lease l{ip, {}};
        std::string text;
        if (readOwners && !util::readFileAt(fd.get(), name, text, kMaxStoreFile))
            if (auto o = Owner::fromContent(text)) l.owner = *o;
        out.push_back(std::move(l));
    });
}

}  // namespace ipam
