#include "ipam/fsutil.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "util/fs.h"

namespace ipam {

namespace {
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
}  // namespace

std::string_view trimSpace(std::string_view s) {
    while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
    while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
    return s;
}

int readFile(int dirfd, const char* name, std::string& out, size_t limit) {
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return errno;
    out.clear();
    char buf[4096];
    int err = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            err = errno;
            break;
        }
        if (n == 0) break;
        if (out.size() + static_cast<size_t>(n) > limit) {
            err = EFBIG;
            break;
        }
        out.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    return err;
}

int writeFile(int dirfd, const char* name, std::string_view data, unsigned mode, int extraFlags) {
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY | extraFlags, mode);
    if (fd < 0) return errno;
    int e = util::writeAll(fd, data);
    if (close(fd) != 0 && !e) e = errno;
    return e;
}

int overwriteFile(int dirfd, const char* name, std::string_view data, unsigned mode) {
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, mode);
    if (fd < 0) return errno;
    int e = 0;
    ssize_t n = pwrite(fd, data.data(), data.size(), 0);
    if (n != static_cast<ssize_t>(data.size())) e = n < 0 ? errno : EIO;
    struct stat st;
    if (!e && fstat(fd, &st) != 0) e = errno;
    if (!e && st.st_size != static_cast<off_t>(data.size()) && ftruncate(fd, static_cast<off_t>(data.size())) != 0)
        e = errno;
    if (close(fd) != 0 && !e) e = errno;
    return e;
}

int writeFileAtomic(int dirfd, const char* name, const char* tmp, std::string_view data, unsigned mode) {
    if (int e = writeFile(dirfd, tmp, data, mode)) {
        unlinkat(dirfd, tmp, 0);
        return e;
    }
    if (renameat(dirfd, tmp, dirfd, name) != 0) {
        int e = errno;
        unlinkat(dirfd, tmp, 0);
        return e;
    }
    return 0;
}

}  // namespace ipam
