#include "util/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>

#include "util/fd.h"
#include "util/fs.h"
#include "util/text.h"

namespace util {

void SharedFileLock::Hold::reset() {
    if (lock_) lock_->release();
    lock_ = nullptr;
}

std::string SharedFileLock::path() const {
    if (spec_.pathEnv)
        if (const char* p = std::getenv(spec_.pathEnv); p && *p) return p;
    return spec_.defaultPath;
}

int SharedFileLock::waitMs() const {
    if (spec_.waitEnv)
        if (const char* s = std::getenv(spec_.waitEnv)) {
            char* end = nullptr;
            double v = std::strtod(s, &end);
            if (end != s && v >= 0 && v < 86400) return static_cast<int>(v * 1000);
        }
    return spec_.defaultWaitMs;
}

Error SharedFileLock::acquire(Hold& out) {
    out.reset();
    if (refs_ > 0) {
        refs_++;
        out.lock_ = this;
        return {};
    }
    std::string p = path();
    std::string label = spec_.label;
    if (std::string dir = dirName(p); dir != "/" && dir != ".")
        if (auto e = mkdirAll(dir, 0755)) return e.wrap("cannot create the directory of the " + label);
    // A regular file only, opened without waiting: a FIFO at the lock's path
    // must not hang the plugin (EINVAL: open(2) gives it for nothing else here).
    Fd fd(openRegularAt(AT_FDCWD, p.c_str(), O_RDWR | O_CREAT, 0600));
    if (!fd && errno == EINVAL)
        return Error::sys(kInternal, "the " + label + " " + p + " is not a regular file", EINVAL);
    if (!fd) return Error::sys(kInternal, "cannot open the " + label + " " + p, errno);
    if (int err = flockWait(fd.get(), waitMs())) {
        if (err == EWOULDBLOCK) return Error(kTryAgainLater, label + " held by another process (" + p + ")").withErrno(err);
        return Error::sys(kInternal, "cannot lock " + p, err);
    }
    fd_ = fd.release();
    refs_ = 1;
    out.lock_ = this;
    return {};
}

void SharedFileLock::release() {
    if (refs_ <= 0) return;
    if (--refs_ == 0) {
        ::close(fd_);  // drops the flock
        fd_ = -1;
    }
}

int flockWait(int fd, int waitMs) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(waitMs);
    int pause = 2;
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
        if (errno == EINTR) continue;
        if (errno != EWOULDBLOCK) return errno;
        if (std::chrono::steady_clock::now() >= deadline) return EWOULDBLOCK;
        sleepMs(pause);
        if (pause < 100) pause *= 2;
    }
}

}  // namespace util
