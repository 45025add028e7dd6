// nf::nft::DeferredClose: when the nftables socket's close is handed to a
// child, and that the switch turns it off.
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "helpers.h"
#include "netfilter/nft_deferred_close.h"

using nf::nft::DeferredClose;

namespace {

constexpr long long kMs = 1000 * 1000;

// Restores the environment's choice of the switch when the test ends.
struct SwitchReset {
    ~SwitchReset() {
        DeferredClose::setEnabled(std::nullopt);
        unsetenv("CNIBOX_NFT_DEFERRED_CLOSE");
    }
};

// Sets the file's mtime `agoMs` milliseconds into the past.
void setAge(const std::string& path, long long agoMs) {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    long long ns = now.tv_sec * 1000000000LL + now.tv_nsec - agoMs * kMs;
    timespec t{};
    t.tv_sec = static_cast<time_t>(ns / 1000000000LL);
    t.tv_nsec = static_cast<long>(ns % 1000000000LL);   // (a 32-bit long on armhf)
    timespec times[2] = {t, t};
    REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

// A stamp file in `dir` last stamped 10 s ago (no deletion in flight).
std::string oldStamp(const testutil::TmpDir& dir) {
    std::string path = dir / "nftables.lock";
    int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    close(fd);
    setAge(path, 10 * 1000);
    return path;
}

// A pipe whose write end stands in for the socket: the read end tells
// whether it is closed everywhere.
struct Pipe {
    util::Fd rd, wr;
    Pipe() {
        int p[2];
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        rd.reset(p[0]);
        wr.reset(p[1]);
    }
    bool writeEndClosed() const {
        pollfd p{rd.get(), POLLIN, 0};
        REQUIRE(poll(&p, 1, 0) >= 0);
        return p.revents & POLLHUP;
    }
};

}  // namespace

TEST_CASE("DeferredClose defers only for a deletion in flight") {
    using F = DeferredClose::Facts;
    CHECK(DeferredClose::decide(F{.deletedHere = true}));
    CHECK(DeferredClose::decide(F{.stampAgeNs = 0}));
    CHECK(DeferredClose::decide(F{.stampAgeNs = 249 * kMs}));
    CHECK_FALSE(DeferredClose::decide(F{.stampAgeNs = 250 * kMs}));
    CHECK_FALSE(DeferredClose::decide(F{.stampAgeNs = 5000 * kMs}));
    CHECK_FALSE(DeferredClose::decide(F{.stampAgeNs = -1 * kMs}));  // a stamp from the future: clock set back
    CHECK_FALSE(DeferredClose::decide(F{}));                          // no stamp file, nothing deleted here
    // Off, or a socket inherited across fork: at once, whatever was deleted.
    CHECK_FALSE(DeferredClose::decide(F{.enabled = false, .deletedHere = true, .stampAgeNs = 0}));
    CHECK_FALSE(DeferredClose::decide(F{.ownSocket = false, .deletedHere = true, .stampAgeNs = 0}));
}

TEST_CASE("DeferredClose's switch: CNIBOX_NFT_DEFERRED_CLOSE=0 and setEnabled") {
    SwitchReset reset;
    unsetenv("CNIBOX_NFT_DEFERRED_CLOSE");
    CHECK(DeferredClose::enabled());
    setenv("CNIBOX_NFT_DEFERRED_CLOSE", "0", 1);
    CHECK_FALSE(DeferredClose::enabled());
    setenv("CNIBOX_NFT_DEFERRED_CLOSE", "1", 1);
    CHECK(DeferredClose::enabled());
    DeferredClose::setEnabled(false);
    CHECK_FALSE(DeferredClose::enabled());
    setenv("CNIBOX_NFT_DEFERRED_CLOSE", "0", 1);
    DeferredClose::setEnabled(true);
    CHECK(DeferredClose::enabled());
    DeferredClose::setEnabled(std::nullopt);
    CHECK_FALSE(DeferredClose::enabled());
}

TEST_CASE("DeferredClose reads and writes the deletion stamp") {
    testutil::TmpDir dir;
    DeferredClose missing(dir / "none");
    CHECK_FALSE(missing.stampAge().has_value());

    std::string stamp = oldStamp(dir);
    DeferredClose c(stamp);
    REQUIRE(c.stampAge().has_value());
    CHECK(*c.stampAge() >= 10 * 1000 * kMs);
    CHECK_FALSE(c.deletedHere());
    c.noteDeletion();
    CHECK(c.deletedHere());
    REQUIRE(c.stampAge().has_value());
    CHECK(*c.stampAge() < DeferredClose::kRecentNs);
}

TEST_CASE("DeferredClose closes at once without a deletion in flight or when off") {
    SwitchReset reset;
    testutil::TmpDir dir;
    std::string stamp = oldStamp(dir);

    SECTION("nothing deleted, an old stamp") {
        DeferredClose c(stamp);
        Pipe p;
        CHECK_FALSE(c.close(p.wr, true));
        CHECK_FALSE(p.wr);
        CHECK(p.writeEndClosed());
    }
    SECTION("switched off after a deletion") {
        DeferredClose::setEnabled(false);
        DeferredClose c(stamp);
        c.noteDeletion();
        Pipe p;
        CHECK_FALSE(c.close(p.wr, true));
        CHECK(p.writeEndClosed());
        CHECK_FALSE(c.deletedHere());
    }
}

TEST_CASE("DeferredClose hands the last reference to a child while a deletion is in flight") {
    SwitchReset reset;
    DeferredClose::setEnabled(true);
    testutil::TmpDir dir;
    std::string stamp = oldStamp(dir);
    DeferredClose c(stamp);
    Pipe p;
    SECTION("this process deleted") {
        c.noteDeletion();
        CHECK(c.close(p.wr, true));
    }
    SECTION("another process deleted just now (a fresh stamp)") {
        setAge(stamp, 20);
        CHECK(c.close(p.wr, true));
    }
    CHECK_FALSE(p.wr);  // closed here ...
    CHECK_FALSE(c.deletedHere());
    // ... but the child holds it until this process exits.
    usleep(100 * 1000);
    CHECK_FALSE(p.writeEndClosed());
}

TEST_CASE("DeferredClose never hands on a socket this process did not open") {
    SwitchReset reset;
    DeferredClose::setEnabled(true);
    testutil::TmpDir dir;
    DeferredClose c(oldStamp(dir));
    c.noteDeletion();
    Pipe p;
    CHECK_FALSE(c.close(p.wr, false));
    CHECK(p.writeEndClosed());
}
