// host-local's index (ipam::LeaseIndex) as the lease store uses it: when it
// is trusted, what makes it rebuild, the off switch, and failed index
// writes reported by commit().
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "helpers.h"
#include "ipam/store.h"
#include "util/fs.h"

namespace fs = std::filesystem;
using ipam::LeaseIndex;
using ipam::LeaseStore;
using ipam::Owner;
using util::IP;

namespace {

IP ip(const char* s) { return *IP::parse(s); }

void put(const std::string& path, const std::string& data) {
    REQUIRE_FALSE(util::writeFileAt(AT_FDCWD, path.c_str(), data, 0600));
}

bool exists(const std::string& p) { return fs::exists(fs::symlink_status(p)); }

// A store "n" under `t` holding a@eth0 10.1.0.2, b@eth0 10.1.0.3 and
// c@eth1 10.1.0.4, committed with the index on.
void seed(const testutil::TmpDir& t) {
    LeaseStore s;
    REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Create));
    bool ok = false;
    REQUIRE_FALSE(s.reserve(Owner{"a", "eth0"}, ip("10.1.0.2"), 0, ok));
    REQUIRE_FALSE(s.reserve(Owner{"b", "eth0"}, ip("10.1.0.3"), 0, ok));
    REQUIRE_FALSE(s.reserve(Owner{"c", "eth1"}, ip("10.1.0.4"), 0, ok));
    REQUIRE_FALSE(s.commit());
}

// What an open store says about a, b, c and d: "<owner> <addresses>" each.
std::vector<std::string> answers(LeaseStore& s) {
    std::vector<std::string> out;
    for (const Owner& o : {Owner{"a", "eth0"}, Owner{"b", "eth0"}, Owner{"c", "eth1"}, Owner{"d", "eth0"}}) {
        std::vector<IP> ips;
        REQUIRE_FALSE(s.addressesOf(o, ips));
        std::string line = o.id + "@" + o.ifname;
        for (const IP& i : ips) line.append(" ").append(i.str());
        out.push_back(line);
    }
    return out;
}

const std::vector<std::string> kSeeded{"a@eth0 10.1.0.2", "b@eth0 10.1.0.3", "c@eth1 10.1.0.4", "d@eth0"};
const std::vector<std::string> kAReleased{"a@eth0", "b@eth0 10.1.0.3", "c@eth1 10.1.0.4", "d@eth0"};

// Opens the store under `t` with the index on: it rebuilds the index
// `rebuilds` times (0 or 1) and answers `want`.
void opensWith(const testutil::TmpDir& t, int rebuilds, const std::vector<std::string>& want) {
    LeaseStore s;
    REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
    CHECK(s.stats().rebuilds == rebuilds);
    CHECK(answers(s) == want);
    CHECK(s.stats().rebuilds == rebuilds);
}

}  // namespace

TEST_CASE("ipam index: trusted while nobody else changed the network dir", "[ipam][index]") {
    testutil::TmpDir t;
    seed(t);
    std::string dir = t / "n";
    std::string state;
    REQUIRE_FALSE(util::readFile(dir + "/.cnibox/state", state));
    CHECK(state.rfind("cnibox-index-state 2 ", 0) == 0);
    CHECK(state.size() == std::string("cnibox-index-state 2 ").size() + 20 + 1 + 20 + 1 + 20 + 1 + 9 + 1 + 20 + 1);

    LeaseStore s;
    REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
    CHECK(s.indexTrusted());
    CHECK(answers(s) == kSeeded);
    CHECK(s.stats().rebuilds == 0);
    // One file per owner asked about, and the id-only fallback of each.
    CHECK(s.stats().indexReads == 8);

    // What happens inside .cnibox/ and to the bookkeeping files rewritten in
    // place (last_reserved_ip.N) leaves the network dir's mtime alone.
    s.close();
    put(dir + "/last_reserved_ip.0", "10.1.0.9");
    put(dir + "/.cnibox/unrelated", "x");
    REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
    CHECK(s.indexTrusted());
    CHECK(s.stats().rebuilds == 0);
}

TEST_CASE("ipam index: another writer makes the next open rebuild it", "[ipam][index]") {
    testutil::TmpDir t;
    std::string dir = t / "n";
    struct Case {
        const char* what;
        void (*change)(const std::string& dir);
        std::vector<std::string> want;
    };
    const Case cases[] = {
        {"upstream adds a lease", [](const std::string& d) { put(d + "/10.1.0.9", "d\r\neth0"); },
         {"a@eth0 10.1.0.2", "b@eth0 10.1.0.3", "c@eth1 10.1.0.4", "d@eth0 10.1.0.9"}},
        {"upstream releases a lease", [](const std::string& d) { fs::remove(d + "/10.1.0.3"); },
         {"a@eth0 10.1.0.2", "b@eth0", "c@eth1 10.1.0.4", "d@eth0"}},
        {"someone adds a file that is no lease", [](const std::string& d) { put(d + "/notes", "d\r\neth0"); },
         kSeeded},
        {"an old id-only lease appears", [](const std::string& d) { put(d + "/10.1.0.8", "d"); },
         {"a@eth0 10.1.0.2", "b@eth0 10.1.0.3", "c@eth1 10.1.0.4", "d@eth0 10.1.0.8"}},
        {"the state file goes", [](const std::string& d) { fs::remove(d + "/.cnibox/state"); }, kSeeded},
        {"the state file is garbage", [](const std::string& d) { put(d + "/.cnibox/state", "cnibox-index-state 2 x\n"); },
         kSeeded},
        {"the whole index goes", [](const std::string& d) { fs::remove_all(d + "/.cnibox"); }, kSeeded},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        fs::remove_all(dir);
        seed(t);
        c.change(dir);
        {
            LeaseStore s;
            REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
            CHECK(s.stats().rebuilds == 1);
            CHECK(s.indexTrusted());
            CHECK(answers(s) == c.want);
            REQUIRE_FALSE(s.commit());
        }
        opensWith(t, 0, c.want);  // rebuilt and trusted again: the next open reads the index only
    }
}

TEST_CASE("ipam index: an entry that cannot be read makes the store scan", "[ipam][index]") {
    testutil::TmpDir t;
    seed(t);
    std::string dir = t / "n";
    put(dir + "/.cnibox/b@eth0", "cnibox-index 1 b eth0\n10.1.0.");  // torn
    LeaseStore s;
    REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
    CHECK(s.stats().rebuilds == 0);
    std::vector<IP> rel;
    REQUIRE_FALSE(s.release(Owner{"b", "eth0"}, &rel));
    CHECK(rel == std::vector<IP>{ip("10.1.0.3")});
    CHECK(s.stats().rebuilds == 1);
    REQUIRE_FALSE(s.commit());
    s.close();
    CHECK_FALSE(exists(dir + "/10.1.0.3"));
    CHECK_FALSE(exists(dir + "/.cnibox/b@eth0"));
    opensWith(t, 0, {"a@eth0 10.1.0.2", "b@eth0", "c@eth1 10.1.0.4", "d@eth0"});
}

TEST_CASE("ipam index: a store closed without commit() is rebuilt next time", "[ipam][index]") {
    testutil::TmpDir t;
    seed(t);
    {
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
        REQUIRE_FALSE(s.release(Owner{"a", "eth0"}));
    }
    opensWith(t, 1, kAReleased);
}

TEST_CASE("ipam index: switched off, the store scans and leaves .cnibox alone", "[ipam][index]") {
    testutil::TmpDir t;
    std::string dir = t / "n";
    auto off = LeaseIndex::Use::Off;
    {
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Create, off));
        bool ok = false;
        REQUIRE_FALSE(s.reserve(Owner{"a", "eth0"}, ip("10.1.0.2"), 0, ok));
        REQUIRE_FALSE(s.reserve(Owner{"b", "eth0"}, ip("10.1.0.3"), 0, ok));
        REQUIRE_FALSE(s.reserve(Owner{"c", "eth1"}, ip("10.1.0.4"), 0, ok));
        REQUIRE_FALSE(s.commit());
        CHECK_FALSE(s.indexTrusted());
    }
    CHECK_FALSE(exists(dir + "/.cnibox"));
    for (int i = 0; i < 2; i++) {
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing, off));
        CHECK(s.stats().rebuilds == 1);  // every open scans
        CHECK(answers(s) == kSeeded);
        CHECK(s.stats().rebuilds == 1);
        CHECK(s.stats().indexReads == 0);
    }

    // An index kept by earlier runs is neither read nor changed; when the
    // index is on again, it notices the leases changed meanwhile.
    {
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
        REQUIRE_FALSE(s.commit());
    }
    std::string before;
    REQUIRE_FALSE(util::readFile(dir + "/.cnibox/a@eth0", before));
    {
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing, off));
        std::vector<IP> rel;
        REQUIRE_FALSE(s.release(Owner{"a", "eth0"}, &rel));
        CHECK(rel == std::vector<IP>{ip("10.1.0.2")});
        REQUIRE_FALSE(s.commit());
    }
    std::string after;
    REQUIRE_FALSE(util::readFile(dir + "/.cnibox/a@eth0", after));
    CHECK(after == before);
    opensWith(t, 1, kAReleased);
}

TEST_CASE("ipam index: commit() reports what it could not write", "[ipam][index]") {
    testutil::TmpDir t;
    std::string dir = t / "n";
    // Reserves `addr` for a@eth0 in a store whose index is broken: the
    // reservation works, commit() says why the index could not follow.
    auto reserveA = [&](const char* addr, int errnum, const std::string& msg) {
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
        bool ok = false;
        REQUIRE_FALSE(s.reserve(Owner{"a", "eth0"}, ip(addr), 0, ok));
        CHECK(ok);
        auto e = s.commit();
        CHECK(e.code == cni::kIOFailure);
        CHECK(e.errnum == errnum);
        CHECK(e.msg == msg);
        CHECK_FALSE(s.indexTrusted());
        CHECK_FALSE(s.commit());  // reported once
    };

    SECTION("an entry cannot be rewritten") {
        seed(t);
        // A directory where an entry's replacement is written first.
        REQUIRE(mkdir((dir + "/.cnibox/.tmp").c_str(), 0700) == 0);
        reserveA("10.1.0.5", EISDIR, "write " + dir + "/.cnibox/a@eth0: is a directory");
        // The state file went with the failure: the next open scans, and
        // the leases are as the operations left them.
        CHECK_FALSE(exists(dir + "/.cnibox/state"));
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
        CHECK(s.stats().rebuilds == 1);
        CHECK(answers(s) ==
              std::vector<std::string>{"a@eth0 10.1.0.2 10.1.0.5", "b@eth0 10.1.0.3", "c@eth1 10.1.0.4", "d@eth0"});
        // The rebuild cannot remove the odd entry either: reported, still untrusted.
        auto e = s.commit();
        CHECK(e.code == cni::kIOFailure);
        CHECK(e.msg == "remove " + dir + "/.cnibox/.tmp: is a directory");
        CHECK_FALSE(exists(dir + "/.cnibox/state"));
    }

    SECTION("the index dir cannot be made") {
        REQUIRE(mkdir(dir.c_str(), 0755) == 0);
        put(dir + "/.cnibox", "not a directory");
        reserveA("10.1.0.2", ENOTDIR, "open " + dir + "/.cnibox: not a directory");
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
        CHECK(answers(s) == std::vector<std::string>{"a@eth0 10.1.0.2", "b@eth0", "c@eth1", "d@eth0"});
    }
}
