#include "dhcp/loop.h"

#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

namespace dhcp {

namespace {

constexpr int kMaxEvents = 64;

uint64_t eventData(int fd, uint32_t serial) { return (uint64_t{serial} << 32) | static_cast<uint32_t>(fd); }

}  // namespace

Error Loop::init() {
    epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) return Error::sys(util::kInternal, "epoll_create1", errno);
    sigemptyset(&signalMask_);
    return {};
}

Error Loop::add(int fd, uint32_t events, FdCallback cb) {
    uint32_t serial = ++nextSerial_;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = eventData(fd, serial);
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
        return Error::sys(util::kInternal, "epoll_ctl add fd " + std::to_string(fd), errno);
    fds_[fd] = Watch{serial, std::make_shared<FdCallback>(std::move(cb))};
    return {};
}

Error Loop::modify(int fd, uint32_t events) {
    auto it = fds_.find(fd);
    if (it == fds_.end()) return Error::sys(util::kInternal, "epoll_ctl modify fd " + std::to_string(fd), ENOENT);
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = eventData(fd, it->second.serial);
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0)
        return Error::sys(util::kInternal, "epoll_ctl modify fd " + std::to_string(fd), errno);
    return {};
}

void Loop::remove(int fd) {
    if (fds_.erase(fd)) (void)epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);  // EBADF: closed already
}

Loop::TimerId Loop::after(std::chrono::milliseconds delay, std::function<void()> cb) {
    TimerId id = nextTimer_++;
    TimePoint when = now() + delay;
    timers_[id] = Timer{when, std::move(cb)};
    heap_.emplace(when, id);
    return id;
}

bool Loop::cancel(TimerId id) {
    if (!timers_.erase(id)) return false;
    if (heap_.size() > 64 && heap_.size() > 2 * timers_.size()) {
        decltype(heap_) live;
        for (const auto& [tid, t] : timers_) live.emplace(t.when, tid);
        heap_ = std::move(live);
    }
    return true;
}

Error Loop::onSignal(int sig, std::function<void(int)> cb) {
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    if (int err = pthread_sigmask(SIG_BLOCK, &one, nullptr))
        return Error::sys(util::kInternal, "block signal " + std::to_string(sig), err);
    sigaddset(&signalMask_, sig);
    if (signalFd_) {
        if (signalfd(signalFd_.get(), &signalMask_, 0) < 0) return Error::sys(util::kInternal, "signalfd", errno);
    } else {
        util::Fd fd(signalfd(-1, &signalMask_, SFD_NONBLOCK | SFD_CLOEXEC));
        if (!fd) return Error::sys(util::kInternal, "signalfd", errno);
        if (auto e = add(fd.get(), EPOLLIN, [this](uint32_t events) { readSignals(events); })) return e;
        signalFd_ = std::move(fd);
    }
    signals_[sig] = std::move(cb);
    return {};
}

void Loop::readSignals(uint32_t) {
    signalfd_siginfo si;
    while (read(signalFd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        auto it = signals_.find(static_cast<int>(si.ssi_signo));
        if (it == signals_.end()) continue;
        auto cb = it->second;  // the callback may replace itself
        cb(static_cast<int>(si.ssi_signo));
    }
}

Error Loop::run() {
    while (!stopped_) {
        if (auto e = runOnce(-1)) {
            stopped_ = false;
            return e;
        }
    }
    stopped_ = false;
    return {};
}

Error Loop::runOnce(int maxWaitMs) {
    int wait = maxWaitMs;
    while (!heap_.empty() && !timers_.count(heap_.top().second)) heap_.pop();
    if (!heap_.empty()) {
        auto left = heap_.top().first - now();
        // Rounded up: waking before the deadline would only spin.
        auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
        int due = ms <= 0 ? 0 : ms >= INT_MAX ? INT_MAX : static_cast<int>(ms);
        if (wait < 0 || due < wait) wait = due;
    }
    epoll_event events[kMaxEvents];
    int n = epoll_wait(epoll_.get(), events, kMaxEvents, wait);
    if (n < 0) {
        if (errno != EINTR) return Error::sys(util::kInternal, "epoll_wait", errno);
        n = 0;
    }
    for (int i = 0; i < n; i++) {
        int fd = static_cast<int>(static_cast<uint32_t>(events[i].data.u64));
        auto it = fds_.find(fd);
        if (it == fds_.end() || it->second.serial != static_cast<uint32_t>(events[i].data.u64 >> 32)) continue;
        auto cb = it->second.cb;
        (*cb)(events[i].events);
    }
    fireTimers();
    return {};
}

void Loop::fireTimers() {
    const TimePoint t = now();
    const TimerId limit = nextTimer_;  // timers added from here on wait for the next round
    while (!heap_.empty()) {
        auto [when, id] = heap_.top();
        auto it = timers_.find(id);
        if (it == timers_.end()) {
            heap_.pop();
            continue;
        }
        if (when > t || id >= limit) break;
        heap_.pop();
        auto cb = std::move(it->second.cb);
        timers_.erase(it);
        cb();
    }
}

Error raiseFdLimit() {
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return Error::sys(util::kInternal, "getrlimit RLIMIT_NOFILE", errno);
    if (rl.rlim_cur >= rl.rlim_max) return {};
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return Error::sys(util::kInternal, "setrlimit RLIMIT_NOFILE", errno);
    return {};
}

}  // namespace dhcp
