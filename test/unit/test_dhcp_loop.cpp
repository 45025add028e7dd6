// src/dhcp/loop: timers (order, cancel, added from callbacks), descriptors,
// signals through the signalfd, stop; raiseFdLimit.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "dhcp/loop.h"
#include "helpers.h"
#include "util/fd.h"

using dhcp::Loop;
using namespace std::chrono_literals;

namespace {

// A loop whose clock moves only when the test says so.
struct FakeClockLoop : Loop {
    TimePoint t{};
    TimePoint now() const override { return t; }
};

struct Pipe {
    util::Fd r, w;
    Pipe() {
        int fds[2];
        REQUIRE(pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
        r.reset(fds[0]);
        w.reset(fds[1]);
    }
};

}  // namespace

TEST_CASE("loop: timers fire in deadline order, not before their time", "[dhcp]") {
    Loop loop;
    REQUIRE_FALSE(loop.init());
    std::vector<int> order;
    auto start = std::chrono::steady_clock::now();
    std::chrono::steady_clock::duration firstAt{};
    loop.after(60ms, [&] {
        order.push_back(3);
        loop.stop();
    });
    loop.after(20ms, [&] {
        order.push_back(1);
        firstAt = std::chrono::steady_clock::now() - start;
    });
    loop.after(40ms, [&] { order.push_back(2); });
    REQUIRE_FALSE(loop.run());
    CHECK(order == std::vector<int>{1, 2, 3});
    CHECK(firstAt >= 20ms);
    CHECK(std::chrono::steady_clock::now() - start >= 60ms);
    CHECK(loop.pendingTimers() == 0);
}

TEST_CASE("loop: equal deadlines fire in the order they were set", "[dhcp]") {
    FakeClockLoop loop;
    REQUIRE_FALSE(loop.init());
    std::vector<int> order;
    for (int i = 0; i < 5; i++) loop.after(10ms, [&, i] { order.push_back(i); });
    loop.t += 10ms;
    REQUIRE_FALSE(loop.runOnce(0));
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("loop: cancel", "[dhcp]") {
    FakeClockLoop loop;
    REQUIRE_FALSE(loop.init());
    std::vector<std::string> fired;
    auto a = loop.after(10ms, [&] { fired.push_back("a"); });
    Loop::TimerId b = 0;
    loop.after(5ms, [&] {
        fired.push_back("c");
        CHECK(loop.cancel(b));  // due in this same round: it must not fire
    });
    b = loop.after(10ms, [&] { fired.push_back("b"); });
    CHECK(loop.cancel(a));
    CHECK_FALSE(loop.cancel(a));
    CHECK_FALSE(loop.cancel(0));
    CHECK(loop.pendingTimers() == 2);
    loop.t += 1h;
    REQUIRE_FALSE(loop.runOnce(0));
    CHECK(fired == std::vector<std::string>{"c"});
    CHECK(loop.pendingTimers() == 0);

    // Many cancelled timers do not pile up behind a pending one.
    loop.after(1h, [] {});
    for (int i = 0; i < 1000; i++) CHECK(loop.cancel(loop.after(1h, [] {})));
    CHECK(loop.pendingTimers() == 1);
}

TEST_CASE("loop: timers added from callbacks, their own included", "[dhcp]") {
    SECTION("real clock") {
        Loop loop;
        REQUIRE_FALSE(loop.init());
        int ticks = 0;
        std::function<void()> tick = [&] {
            if (++ticks < 3) loop.after(5ms, tick);
            else loop.stop();
        };
        auto start = std::chrono::steady_clock::now();
        loop.after(5ms, tick);
        REQUIRE_FALSE(loop.run());
        CHECK(ticks == 3);
        CHECK(std::chrono::steady_clock::now() - start >= 15ms);
    }
    SECTION("a zero delay from a callback waits for the next round") {
        FakeClockLoop loop;
        REQUIRE_FALSE(loop.init());
        int n = 0;
        std::function<void()> again = [&] {
            n++;
            loop.after(0ms, again);
        };
        loop.after(0ms, again);
        REQUIRE_FALSE(loop.runOnce(0));
        CHECK(n == 1);
        REQUIRE_FALSE(loop.runOnce(0));
        CHECK(n == 2);
        CHECK(loop.pendingTimers() == 1);
    }
    SECTION("a fake clock's future timer waits for the clock") {
        FakeClockLoop loop;
        REQUIRE_FALSE(loop.init());
        bool fired = false;
        loop.after(1h, [&] { fired = true; });
        REQUIRE_FALSE(loop.runOnce(0));
        CHECK_FALSE(fired);
        loop.t += 59min;
        REQUIRE_FALSE(loop.runOnce(0));
        CHECK_FALSE(fired);
        loop.t += 1min;
        REQUIRE_FALSE(loop.runOnce(0));
        CHECK(fired);
    }
}

TEST_CASE("loop: descriptors", "[dhcp]") {
    Loop loop;
    REQUIRE_FALSE(loop.init());
    SECTION("a pipe becomes readable") {
        Pipe p;
        std::string got;
        REQUIRE_FALSE(loop.add(p.r.get(), EPOLLIN, [&](uint32_t events) {
            CHECK((events & EPOLLIN));
            char buf[16];
            ssize_t n = read(p.r.get(), buf, sizeof buf);
            if (n > 0) got.append(buf, static_cast<size_t>(n));
            loop.remove(p.r.get());  // its own
            loop.stop();
        }));
        CHECK(loop.add(p.r.get(), EPOLLIN, [](uint32_t) {}).errnum == EEXIST);
        loop.after(10ms, [&] { REQUIRE(write(p.w.get(), "x", 1) == 1); });
        REQUIRE_FALSE(loop.run());
        CHECK(got == "x");
    }
    SECTION("modify switches the events watched") {
        Pipe p;
        int writable = 0;
        REQUIRE_FALSE(loop.add(p.w.get(), 0, [&](uint32_t events) {
            if (events & EPOLLOUT) writable++;
            loop.stop();
        }));
        loop.after(20ms, [&] { loop.stop(); });
        REQUIRE_FALSE(loop.run());
        CHECK(writable == 0);
        REQUIRE_FALSE(loop.modify(p.w.get(), EPOLLOUT));
        REQUIRE_FALSE(loop.run());
        CHECK(writable == 1);
        CHECK(loop.modify(12345, EPOLLIN).errnum == ENOENT);
    }
    SECTION("a descriptor removed in a round gets no more events from it") {
        Pipe a, b;
        REQUIRE(write(a.w.get(), "x", 1) == 1);
        REQUIRE(write(b.w.get(), "x", 1) == 1);
        int calls = 0;
        REQUIRE_FALSE(loop.add(a.r.get(), EPOLLIN, [&](uint32_t) {
            calls++;
            loop.remove(a.r.get());
            loop.remove(b.r.get());
        }));
        REQUIRE_FALSE(loop.add(b.r.get(), EPOLLIN, [&](uint32_t) {
            calls++;
            loop.remove(a.r.get());
            loop.remove(b.r.get());
        }));
        REQUIRE_FALSE(loop.runOnce(1000));
        CHECK(calls == 1);
        loop.remove(a.r.get());  // unknown by now: fine
    }
}

TEST_CASE("loop: signals arrive through the signalfd", "[dhcp]") {
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    REQUIRE(pthread_sigmask(SIG_BLOCK, &usr1, &old) == 0);
    REQUIRE(raise(SIGUSR1) == 0);  // pending until the loop reads it
    {
        Loop loop;
        REQUIRE_FALSE(loop.init());
        int got = 0;
        REQUIRE_FALSE(loop.onSignal(SIGUSR1, [&](int sig) {
            got = sig;
            loop.stop();
        }));
        loop.after(10s, [&] { loop.stop(); });  // the test's own limit
        REQUIRE_FALSE(loop.run());
        CHECK(got == SIGUSR1);
        sigset_t pending;
        sigpending(&pending);
        CHECK_FALSE(sigismember(&pending, SIGUSR1));
    }
    REQUIRE(pthread_sigmask(SIG_SETMASK, &old, nullptr) == 0);
}

TEST_CASE("loop: stop ends run with timers still pending, and run can go on", "[dhcp]") {
    Loop loop;
    REQUIRE_FALSE(loop.init());
    bool late = false;
    loop.after(1ms, [&] { loop.stop(); });
    loop.after(30ms, [&] {
        late = true;
        loop.stop();
    });
    REQUIRE_FALSE(loop.run());
    CHECK_FALSE(late);
    CHECK(loop.pendingTimers() == 1);
    REQUIRE_FALSE(loop.run());
    CHECK(late);
}

TEST_CASE("raiseFdLimit lifts the soft limit to the hard one", "[dhcp]") {
    rlimit before;
    REQUIRE(getrlimit(RLIMIT_NOFILE, &before) == 0);
    REQUIRE_FALSE(dhcp::raiseFdLimit());
    rlimit after;
    REQUIRE(getrlimit(RLIMIT_NOFILE, &after) == 0);
    CHECK(after.rlim_cur == after.rlim_max);
    REQUIRE(setrlimit(RLIMIT_NOFILE, &before) == 0);
}
