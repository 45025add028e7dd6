// The nftables socket's deferred close (see nft_deferred_close.h).
#include "netfilter/nft_deferred_close.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "util/text.h"

namespace nf::nft {

namespace {

std::optional<bool> gEnabled;

// close_range(2) by its syscall: not every C library declares it.
void closeRange(unsigned lo, unsigned hi) { syscall(SYS_close_range, lo, hi, 0U); }

// The child: keeps only the socket and the cue's read end (stdout and
// stderr must not stay open: the caller reads them to EOF), waits until the
// kernel has destroyed what this process's batches deleted (its destroy
// work waits one RCU grace period, queued before this child existed;
// membarrier(MEMBARRIER_CMD_GLOBAL) waits one too), then for the parent's
// exit (EOF on the cue), and exits, which closes the socket.
[[noreturn]] void childWaitThenExit(int sock, int cue) {
    unsigned lo = static_cast<unsigned>(std::min(sock, cue));
    unsigned hi = static_cast<unsigned>(std::max(sock, cue));
    if (lo > 0) closeRange(0, lo - 1);
    if (hi > lo + 1) closeRange(lo + 1, hi - 1);
    closeRange(hi + 1, ~0U);
    if (syscall(SYS_membarrier, 1 /* MEMBARRIER_CMD_GLOBAL */, 0U, 0) != 0) util::sleepMs(30);
    char c;
    while (read(cue, &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
}

}  // namespace

bool DeferredClose::decide(const Facts& f) {
    if (!f.enabled || !f.ownSocket) return false;
    if (f.deletedHere) return true;
    return f.stampAgeNs && *f.stampAgeNs >= 0 && *f.stampAgeNs < kRecentNs;
}

bool DeferredClose::enabled() {
    if (gEnabled) return *gEnabled;
    const char* v = std::getenv("CNIBOX_NFT_DEFERRED_CLOSE");
    return !(v && std::strcmp(v, "0") == 0);
}

void DeferredClose::setEnabled(std::optional<bool> on) { gEnabled = on; }

void DeferredClose::noteDeletion() {
    deletedHere_ = true;
    utimensat(AT_FDCWD, stampPath_.c_str(), nullptr, 0);
}

std::optional<long long> DeferredClose::stampAge() const {
    struct stat st {};
    if (stat(stampPath_.c_str(), &st) != 0) return std::nullopt;
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    return (static_cast<long long>(now.tv_sec) - st.st_mtim.tv_sec) * 1000000000LL + (now.tv_nsec - st.st_mtim.tv_nsec);
}

bool DeferredClose::close(util::Fd& fd, bool ownSocket) {
    bool defer = fd && decide({.enabled = enabled(), .ownSocket = ownSocket, .deletedHere = deletedHere_,
                               .stampAgeNs = stampAge()});
    deletedHere_ = false;
    if (defer) {
        int cue[2];
        if (pipe2(cue, O_CLOEXEC) != 0) {
            defer = false;
        } else if (pid_t child = fork(); child == 0) {
            childWaitThenExit(fd.get(), cue[0]);
        } else {
            ::close(cue[0]);
            // cue[1] stays open until this process exits: EOF is the child's cue.
            if (child < 0) {
                ::close(cue[1]);
                defer = false;
            }
        }
    }
    fd.reset();
    return defer;
}

}  // namespace nf::nft
