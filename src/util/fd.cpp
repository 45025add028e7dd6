#include "util/fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace util {

void Fd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

Error Fd::close() {
    int fd = release();
    if (fd >= 0 && ::close(fd) != 0 && errno != EINTR) return Error::sys(kInternal, "close", errno);
    return {};
}

Error Dir::openAt(int dirfd, Dir& out) {
    int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return Error::sys(kInternal, "dup", errno);
    DIR* d = fdopendir(fd);
    if (!d) {
        int err = errno;
        ::close(fd);
        return Error::sys(kInternal, "fdopendir", err);
    }
    rewinddir(d);  // the duplicate shares the original's offset
    out = Dir(d);
    return {};
}

Error Dir::open(const char* path, Dir& out) {
    DIR* d = opendir(path);
    if (!d) return Error::sys(kInternal, std::string("opendir ") + path, errno);
    out = Dir(d);
    return {};
}

struct dirent* Dir::next() {
    if (!d_) return nullptr;
    while (struct dirent* de = readdir(d_)) {
        if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0) continue;
        return de;
    }
    return nullptr;
}

void Dir::reset() {
    if (d_) closedir(d_);
    d_ = nullptr;
}

}  // namespace util
