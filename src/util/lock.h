// Process-wide exclusive locks on lock files (flock), as `iptables -w` and
// friends take them: the first holder in the process opens the file and
// waits for the lock (a few ms between tries, backing off to 100 ms), later
// holders only count, and the last one to let go closes the file, which
// drops the lock. Waiting longer than the wait (default or the environment's
// override, in seconds) fails with code 11 (try again later).
#pragma once

#include <string>

#include "util/error.h"

namespace util {

class SharedFileLock {
public:
    struct Spec {
        const char* label;        // for messages: "xtables lock"
        const char* defaultPath;  // "/run/xtables.lock"; its directory is made when missing
        const char* pathEnv;      // environment variable that names another file, or nullptr
        const char* waitEnv;      // environment variable with the wait in seconds, or nullptr
        int defaultWaitMs;
    };

    // A reference to the held lock; releases it when it goes.
    class Hold {
    public:
        Hold() = default;
        ~Hold() { reset(); }
        Hold(Hold&& o) noexcept : lock_(o.lock_) { o.lock_ = nullptr; }
        Hold& operator=(Hold&& o) noexcept {
            if (this != &o) {
                reset();
                lock_ = o.lock_;
                o.lock_ = nullptr;
            }
            return *this;
        }
        Hold(const Hold&) = delete;
        Hold& operator=(const Hold&) = delete;
        bool held() const { return lock_ != nullptr; }
        void reset();

    private:
        friend class SharedFileLock;
        SharedFileLock* lock_ = nullptr;
    };

    explicit constexpr SharedFileLock(Spec spec) : spec_(spec) {}
    SharedFileLock(const SharedFileLock&) = delete;
    SharedFileLock& operator=(const SharedFileLock&) = delete;

    // Takes (or counts) the lock into `out`. Errors: code 11 "<label> held
    // by another process (<path>)" after the wait; code 999 when the file
    // cannot be made, opened or locked (with the errno).
    Error acquire(Hold& out);
    // The lock file's path (the environment's choice, else the default).
    std::string path() const;
    // Holders in this process (0: the file is closed).
    int holders() const { return refs_; }
    // The wait in milliseconds (the environment's override, else the default).
    int waitMs() const;

private:
    void release();
    Spec spec_;
    int fd_ = -1;
    int refs_ = 0;
};

// Waits up to `waitMs` for an exclusive flock on `fd`, trying again after a
// pause that starts at 2 ms and doubles up to 100 ms. 0 when locked,
// EWOULDBLOCK when the time ran out, another errno when flock failed.
int flockWait(int fd, int waitMs);

}  // namespace util
