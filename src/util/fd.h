// Move-only owners of a file descriptor and of a directory stream: closed
// when the owner goes, so no path through a function leaks one.
#pragma once

#include <dirent.h>

#include <utility>

#include "util/error.h"

namespace util {

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() { reset(); }
    Fd(Fd&& o) noexcept : fd_(o.release()) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) reset(o.release());
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    explicit operator bool() const { return fd_ >= 0; }
    // Gives up ownership.
    int release() { return std::exchange(fd_, -1); }
    // Closes the current fd (errors ignored) and owns `fd`.
    void reset(int fd = -1);
    // Closes now and reports close(2)'s error (a write's late failure on
    // some file systems): "close: <errno text>" with its errno.
    Error close();

private:
    int fd_ = -1;
};

class Dir {
public:
    Dir() = default;
    explicit Dir(DIR* d) : d_(d) {}
    ~Dir() { reset(); }
    Dir(Dir&& o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
    Dir& operator=(Dir&& o) noexcept {
        if (this != &o) {
            reset();
            d_ = std::exchange(o.d_, nullptr);
        }
        return *this;
    }
    Dir(const Dir&) = delete;
    Dir& operator=(const Dir&) = delete;

    // A stream over a duplicate of `dirfd` rewound to its start (the
    // caller keeps `dirfd`); errno as Error on failure.
    static Error openAt(int dirfd, Dir& out);
    // A stream over `path`.
    static Error open(const char* path, Dir& out);

    DIR* get() const { return d_; }
    explicit operator bool() const { return d_ != nullptr; }
    // The next entry other than "." and ".."; nullptr at the end.
    struct dirent* next();
    void reset();

private:
    DIR* d_ = nullptr;
};

}  // namespace util
