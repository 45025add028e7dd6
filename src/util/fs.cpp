#include "util/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/fd.h"
#include "util/text.h"

namespace util {

int readAll(int fd, std::string& out, size_t limit) {
    char buf[16384];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            if (static_cast<size_t>(n) > limit - std::min(limit, out.size())) return EFBIG;
            out.append(buf, static_cast<size_t>(n));
            continue;
        }
        if (n == 0) return 0;
        if (errno == EINTR) continue;
        return errno;
    }
}

int writeAll(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return 0;
}

std::string errnoText(int err) {
    std::string s = errnoDesc(err);
    if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] + 32);
    return s;
}

Error pathError(std::string_view op, std::string_view path, int err) {
    std::string m(op);
    m += ' ';
    m += path;
    m += ": ";
    m += errnoText(err);
    return Error(kInternal, std::move(m)).withErrno(err);
}

namespace {

// Reads `fd` to EOF into `out` (replacing it), at most `limit` bytes.
int readLimited(int fd, std::string& out, size_t limit) {
    out.clear();
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        if (n == 0) return 0;
        if (out.size() + static_cast<size_t>(n) > limit) return EFBIG;
        out.append(buf, static_cast<size_t>(n));
    }
}

}  // namespace

Error readFile(const std::string& path, std::string& out, size_t limit) {
    Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) return pathError("open", path, errno);
    if (int err = readLimited(fd.get(), out, limit)) return pathError("read", path, err);
    return {};
}

int openDataAt(int dirfd, const char* name, int flags, unsigned mode) {
    return openRegularAt(dirfd, name, flags | O_NOFOLLOW, mode);
}

int openRegularAt(int dirfd, const char* name, int flags, unsigned mode) {
    int fd = openat(dirfd, name, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, mode);
    if (fd < 0) return -1;
    struct stat st;
    int err = fstat(fd, &st) != 0 ? errno : S_ISREG(st.st_mode) ? 0 : EINVAL;
    if (err) {
        ::close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

namespace {

// readFileAt, its errors naming `shown`.
Error readDataAt(int dirfd, const char* name, std::string_view shown, std::string& out, size_t limit) {
    Fd fd(openDataAt(dirfd, name, O_RDONLY));
    if (!fd) return pathError("open", shown, errno);
    if (int err = readLimited(fd.get(), out, limit)) return pathError("read", shown, err);
    return {};
}

}  // namespace

Error readFileAt(int dirfd, const char* name, std::string& out, size_t limit) {
    return readDataAt(dirfd, name, name, out, limit);
}

Error readDataFile(const std::string& dir, const std::string& name, std::string& out, size_t limit) {
    std::string path = dir + "/" + name;
    Fd dfd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd) return pathError("open", path, errno);
    return readDataAt(dfd.get(), name.c_str(), path, out, limit);
}

Error writeFileAt(int dirfd, const char* name, std::string_view data, unsigned mode, int extraFlags) {
    Fd fd(openDataAt(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | extraFlags, mode));
    if (!fd) return pathError("open", name, errno);
    if (int err = writeAll(fd.get(), data)) return pathError("write", name, err);
    if (auto e = fd.close()) return pathError("close", name, e.errnum);
    return {};
}

Error overwriteFileAt(int dirfd, const char* name, std::string_view data, unsigned mode) {
    Fd fd(openDataAt(dirfd, name, O_WRONLY | O_CREAT, mode));
    if (!fd) return pathError("open", name, errno);
    ssize_t n = pwrite(fd.get(), data.data(), data.size(), 0);
    if (n != static_cast<ssize_t>(data.size())) return pathError("write", name, n < 0 ? errno : EIO);
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return pathError("stat", name, errno);
    if (st.st_size != static_cast<off_t>(data.size()) && ftruncate(fd.get(), static_cast<off_t>(data.size())) != 0)
        return pathError("truncate", name, errno);
    if (auto e = fd.close()) return pathError("close", name, e.errnum);
    return {};
}

Error writeFileAtomicAt(int dirfd, const char* name, const char* tmp, std::string_view data, unsigned mode) {
    if (auto e = writeFileAt(dirfd, tmp, data, mode)) {
        unlinkat(dirfd, tmp, 0);
        return e;
    }
    if (renameat(dirfd, tmp, dirfd, name) != 0) {
        int err = errno;
        unlinkat(dirfd, tmp, 0);
        return pathError("rename", name, err);
    }
    return {};
}

Error writeFileAtomic(const std::string& path, std::string_view data, unsigned mode) {
    std::string name = ".";
    name += baseName(path);
    name += ".tmp";
    std::string tmp = joinPath(dirName(path), name);
    if (auto e = writeFileAt(AT_FDCWD, tmp.c_str(), data, mode)) {
        unlink(tmp.c_str());
        return e;
    }
    if (rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        unlink(tmp.c_str());
        return pathError("rename", path, err);
    }
    return {};
}

Error mkdirAll(const std::string& dir, unsigned mode, std::vector<std::string>* created) {
    // The common cases in one call: the directory is there, or only it is missing.
    if (mkdir(dir.c_str(), mode) == 0) {
        if (created) created->push_back(dir);
        return {};
    }
    if (errno == EEXIST) return {};
    // Otherwise the walk below names the component that fails.
    for (size_t i = 1; i <= dir.size(); i++) {
        if (i < dir.size() && dir[i] != '/') continue;
        if (i < dir.size() && dir[i - 1] == '/') continue;  // "a//b"
        std::string p = dir.substr(0, i);
        if (mkdir(p.c_str(), mode) == 0) {
            if (created) created->push_back(p);
        } else if (errno != EEXIST) {
            return pathError("mkdir", p, errno);
        }
    }
    return {};
}

Error openSubdir(const std::string& parent, const std::string& name, bool create, unsigned parentMode,
                 unsigned mode, Fd& out, std::vector<std::string>* created) {
    out.reset();
    constexpr int kDir = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    Fd p(::open(parent.c_str(), kDir));
    if (!p && errno == ENOENT && create) {
        if (auto e = mkdirAll(parent, parentMode, created)) return e;
        p.reset(::open(parent.c_str(), kDir));
    }
    if (!p) return pathError("open", parent, errno);
    std::string path = joinPath(parent, name);
    Fd d(::openat(p.get(), name.c_str(), kDir | O_NOFOLLOW));
    if (!d && errno == ENOENT && create) {
        if (mkdirat(p.get(), name.c_str(), mode) == 0) {
            if (created) created->push_back(path);
        } else if (errno != EEXIST) {
            return pathError("mkdir", path, errno);
        }
        d.reset(::openat(p.get(), name.c_str(), kDir | O_NOFOLLOW));
    }
    if (!d) return pathError("open", path, errno);
    out = std::move(d);
    return {};
}

bool hasDotDot(std::string_view path) {
    for (size_t start = 0; start <= path.size();) {
        size_t end = std::min(path.find('/', start), path.size());
        if (path.substr(start, end - start) == "..") return true;
        start = end + 1;
    }
    return false;
}

std::string cleanPath(std::string_view p) {
    if (p.empty()) return ".";
    bool rooted = p[0] == '/';
    std::vector<std::string_view> parts;
    for (std::string_view part : splitOn(p, '/')) {
        if (part.empty() || part == ".") continue;
        if (part == "..") {
            if (!parts.empty() && parts.back() != "..") parts.pop_back();
            else if (!rooted) parts.push_back(part);
            continue;
        }
        parts.push_back(part);
    }
    std::string out = rooted ? "/" : "";
    for (size_t k = 0; k < parts.size(); k++) {
        if (k) out += '/';
        out += parts[k];
    }
    return out.empty() ? "." : out;
}

std::string dirName(std::string_view p) {
    auto s = p.rfind('/');
    if (s == std::string_view::npos) return ".";
    return cleanPath(p.substr(0, s + 1));
}

std::string baseName(std::string_view p) {
    if (p.empty()) return ".";
    while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
    if (p == "/") return "/";
    auto s = p.rfind('/');
    return std::string(s == std::string_view::npos ? p : p.substr(s + 1));
}

std::string joinPath(std::string_view a, std::string_view b) {
    if (a.empty() && b.empty()) return "";
    if (a.empty()) return cleanPath(b);
    if (b.empty()) return cleanPath(a);
    std::string s(a);
    s += '/';
    s += b;
    return cleanPath(s);
}

}  // namespace util
