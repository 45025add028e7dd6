// The dhcp daemon's event loop: one thread, epoll for descriptors, one-shot
// timers on the monotonic clock, signals through a signalfd.
//
// Callbacks run on the loop's thread, one at a time, and may add, change or
// remove descriptors, timers and signals, their own included: a descriptor
// removed during a round gets no further events from that round, and a timer
// added during a round fires in a later one at the earliest.
#pragma once

#include <signal.h>
#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <utility>
#include <vector>

#include "util/error.h"
#include "util/fd.h"

namespace dhcp {

using util::Error;

class Loop {
public:
    using Clock = std::chrono::steady_clock;
    using TimePoint = Clock::time_point;
    using TimerId = uint64_t;  // never 0
    using FdCallback = std::function<void(uint32_t events)>;

    Loop() = default;
    virtual ~Loop() = default;
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    // Makes the epoll instance; call once before anything else.
    Error init();

    // Calls `cb` with the ready events (EPOLLIN, EPOLLOUT, EPOLLERR, ...)
    // whenever `fd` is ready for `events` (level-triggered). The loop does
    // not own `fd`: remove it before closing it.
    Error add(int fd, uint32_t events, FdCallback cb);
    Error modify(int fd, uint32_t events);
    // Forgets `fd` (not an error when it is unknown).
    void remove(int fd);

    // Calls `cb` once, `delay` from now().
    TimerId after(std::chrono::milliseconds delay, std::function<void()> cb);
    // Drops a pending timer; false when it already fired or never was.
    bool cancel(TimerId id);

    // Calls `cb` on every delivery of `sig`, which this blocks in the
    // calling thread (and leaves blocked). A second call for the same
    // signal replaces the callback.
    Error onSignal(int sig, std::function<void(int sig)> cb);

    // Runs rounds until stop(); fails only when epoll_wait does.
    Error run();
    // One round: waits for descriptors up to `maxWaitMs` (-1: no limit) or
    // the next timer, whichever is sooner, then calls the ready
    // descriptors' callbacks and the due timers'.
    Error runOnce(int maxWaitMs);
    // Makes run() return after the current round.
    void stop() { stopped_ = true; }

    // The monotonic clock timers go by; tests override it.
    virtual TimePoint now() const { return Clock::now(); }

    size_t pendingTimers() const { return timers_.size(); }

private:
    struct Watch {
        uint32_t serial;                   // tells a reused fd number from the one an event was for
        std::shared_ptr<FdCallback> cb;    // shared: a callback may remove itself while it runs
    };
    struct Timer {
        TimePoint when;
        std::function<void()> cb;
    };
    using Due = std::pair<TimePoint, TimerId>;

    void fireTimers();
    void readSignals(uint32_t events);

    util::Fd epoll_;
    std::map<int, Watch> fds_;
    uint32_t nextSerial_ = 0;
    // Pending timers by id; the heap may also hold cancelled ids, skipped
    // when they come up (and dropped when they outnumber the pending ones).
    std::map<TimerId, Timer> timers_;
    std::priority_queue<Due, std::vector<Due>, std::greater<Due>> heap_;
    TimerId nextTimer_ = 1;
    util::Fd signalFd_;
    sigset_t signalMask_{};
    std::map<int, std::function<void(int)>> signals_;
    bool stopped_ = false;
};

// Raises the soft limit of open files (RLIMIT_NOFILE) to the hard limit.
Error raiseFdLimit();

}  // namespace dhcp
