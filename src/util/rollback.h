// The undo steps of an operation that makes several things (a link, a
// lease, a rule): each step registers how to undo itself right after it
// succeeded, and the steps run in reverse order when the operation leaves
// early. On success the operation calls dismiss() and everything stays.
//
//     util::Rollback undo;
//     if (auto e = makeLink(...)) return e;
//     undo.defer([&] { (void)deleteLink(...); });
//     if (auto e = allocate(...)) return e;       // the link goes again
//     undo.defer([&] { (void)release(...); });
//     if (auto e = configure(...)) return e;      // lease, then link
//     undo.dismiss();
//     return {};
#pragma once

#include <functional>
#include <utility>
#include <vector>

namespace util {

class Rollback {
public:
    Rollback() = default;
    ~Rollback() { run(); }
    Rollback(const Rollback&) = delete;
    Rollback& operator=(const Rollback&) = delete;

    // Adds an undo step; steps run last-in first-out.
    template <class F>
    void defer(F&& f) {
        steps_.emplace_back(std::forward<F>(f));
    }
    // Keeps everything: no step runs.
    void dismiss() { steps_.clear(); }
    // Runs the steps now (last first) and forgets them.
    void run() {
        while (!steps_.empty()) {
            auto f = std::move(steps_.back());
            steps_.pop_back();
            f();
        }
    }
    size_t size() const { return steps_.size(); }

private:
    std::vector<std::function<void()>> steps_;
};

}  // namespace util
