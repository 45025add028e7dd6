// The host-local lease store and its index, in a temporary directory.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "util/fs.h"
#include "util/text.h"
#include "ipam/store.h"

namespace fs = std::filesystem;
using ipam::LeaseStore;
using ipam::Owner;
using util::IP;

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/cnibox-ipam-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path); }
};

IP ip(const char* s) { return *IP::parse(s); }

std::string slurp(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void spit(const std::string& p, const std::string& data) {
    std::ofstream f(p, std::ios::binary);
    f << data;
}

// prefix + number (spelled out: g++ 12 warns falsely on "lit" + std::to_string()).
std::string numbered(const char* prefix, int n) {
    std::string s(prefix);
    s.append(std::to_string(n));
    return s;
}

bool exists(const std::string& p) { return fs::exists(fs::symlink_status(p)); }

// Writes a lease the way the reference plugin does (no index update).
void upstreamLease(const std::string& dir, const char* addr, const std::string& content) {
    spit(dir + "/" + addr, content);
}

std::vector<std::string> names(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

bool reserve(LeaseStore& s, const Owner& o, const char* a, int set = 0) {
    bool ok = false;
    REQUIRE_FALSE(s.reserve(o, ip(a), set, ok));
    return ok;
}

}  // namespace

TEST_CASE("ipam store: owner content", "[ipam]") {
    CHECK(Owner{"c1", "eth0"}.content() == "c1\r\neth0");
    CHECK(Owner{"c1", ""}.content() == "c1");
    CHECK(Owner::fromContent("c1\r\neth0") == Owner{"c1", "eth0"});
    CHECK(Owner::fromContent("  c1\r\neth0\n") == Owner{"c1", "eth0"});
    CHECK(Owner::fromContent("c1") == Owner{"c1", ""});
    CHECK_FALSE(Owner::fromContent(" \n"));
}

TEST_CASE("ipam store: paths are validated", "[ipam]") {
    CHECK(ipam::validateStorePath("/var/lib/cni/networks", "net1").ok());
    CHECK(ipam::validateStorePath("relative/dir", "net1").ok());
    CHECK(ipam::validateStorePath("/a/../b", "net1").code == cni::kInvalidNetConf);
    CHECK(ipam::validateStorePath("/a/..", "net1").code == cni::kInvalidNetConf);
    CHECK(ipam::validateStorePath("..", "net1").code == cni::kInvalidNetConf);
    CHECK(ipam::validateStorePath("/a/..b/c", "net1").ok());
    CHECK(ipam::validateStorePath("/a", "..").code == cni::kInvalidNetConf);
    CHECK(ipam::validateStorePath("/a", "x/y").code == cni::kInvalidNetConf);
    CHECK(ipam::validateStorePath("/a", "").code == cni::kInvalidNetConf);
    CHECK(ipam::networkDir("", "n") == "/var/lib/cni/networks/n");
    CHECK(ipam::networkDir("/d/", "n") == "/d/n");
}

TEST_CASE("ipam store: reserve writes upstream's files", "[ipam]") {
    TempDir t;
    std::string dir = t.path + "/data/net1";
    Owner o{"ctr1", "eth0"};
    {
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path + "/data", "net1", LeaseStore::Mode::Create));
        CHECK(reserve(s, o, "10.1.2.2", 0));
        CHECK_FALSE(reserve(s, Owner{"ctr2", "eth0"}, "10.1.2.2", 0));  // taken
        CHECK(reserve(s, o, "fd00::2", 1));
        CHECK(s.lastReserved(0) == ip("10.1.2.2"));
        CHECK(s.lastReserved(1) == ip("fd00::2"));
        CHECK_FALSE(s.lastReserved(2));
        REQUIRE_FALSE(s.commit());
    }
    CHECK(slurp(dir + "/10.1.2.2") == "ctr1\r\neth0");
    CHECK(slurp(dir + "/fd00::2") == "ctr1\r\neth0");
    CHECK(slurp(dir + "/last_reserved_ip.0") == "10.1.2.2");
    CHECK(slurp(dir + "/last_reserved_ip.1") == "fd00::2");
    struct stat st;
    REQUIRE(stat((dir + "/10.1.2.2").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(stat(dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == (0755 & ~0022u));
    CHECK(exists(dir + "/lock"));
    CHECK(slurp(dir + "/.cnibox/ctr1@eth0") == "cnibox-index 1 ctr1 eth0\n10.1.2.2\nfd00::2\n");
    CHECK(exists(dir + "/.cnibox/state"));

    // No index file may ever read like a lease to upstream's scans, which
    // compare every file's trimmed content with "<id>\r\n<ifname>" or "<id>".
    for (const auto& e : fs::recursive_directory_iterator(dir + "/.cnibox")) {
        std::string c(util::trimSpace(slurp(e.path())));
        CHECK(c.find("\r\n") == std::string::npos);
        CHECK(c.find(' ') != std::string::npos);
    }
}

TEST_CASE("ipam store: DEL through a trusted index reads one file", "[ipam]") {
    TempDir t;
    {
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Create));
        for (int i = 2; i < 202; i++) {
            std::string a = numbered("10.1.0.", i);
            CHECK(reserve(s, Owner{numbered("c", i), "eth0"}, a.c_str()));
        }
        REQUIRE_FALSE(s.commit());
    }
    LeaseStore s;
    REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
    CHECK(s.indexTrusted());
    CHECK(s.stats().rebuilds == 0);
    std::vector<IP> rel;
    REQUIRE_FALSE(s.release(Owner{"c7", "eth0"}, &rel));
    CHECK(rel == std::vector<IP>{ip("10.1.0.7")});
    CHECK(s.stats().rebuilds == 0);
    CHECK(s.stats().indexReads == 1);
    // Unknown attachment: the exact entry and the id-only fallback, nothing else.
    REQUIRE_FALSE(s.release(Owner{"nobody", "eth0"}, &rel));
    CHECK(s.stats().indexReads == 3);
    CHECK(s.stats().rebuilds == 0);
    REQUIRE_FALSE(s.commit());
    s.close();
    CHECK_FALSE(exists(t.path + "/n/10.1.0.7"));
    CHECK_FALSE(exists(t.path + "/n/.cnibox/c7@eth0"));
    CHECK(exists(t.path + "/n/10.1.0.8"));

    // Repeat DEL: nothing to do, still no scan.
    LeaseStore s2;
    REQUIRE_FALSE(s2.open(t.path, "n", LeaseStore::Mode::Existing));
    REQUIRE_FALSE(s2.release(Owner{"c7", "eth0"}));
    CHECK(s2.stats().rebuilds == 0);
}

TEST_CASE("ipam store: an upstream write makes the next open rebuild", "[ipam]") {
    TempDir t;
    std::string dir = t.path + "/n";
    {
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Create));
        CHECK(reserve(s, Owner{"a", "eth0"}, "10.1.0.2"));
        REQUIRE_FALSE(s.commit());
    }
    upstreamLease(dir, "10.1.0.3", "b\r\neth0");
    upstreamLease(dir, "10.1.0.4", "old");  // id-only lease of a very old version
    upstreamLease(dir, "10.1.0.5", "b\r\neth1");
    {
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
        CHECK(s.stats().rebuilds == 1);
        bool found = false;
        REQUIRE_FALSE(s.holds(Owner{"b", "eth0"}, found));
        CHECK(found);
        std::vector<IP> have;
        REQUIRE_FALSE(s.addressesOf(Owner{"b", "eth1"}, have));
        CHECK(have == std::vector<IP>{ip("10.1.0.5")});
        // The old id-only lease is found for any ifname of that id.
        REQUIRE_FALSE(s.holds(Owner{"old", "eth0"}, found));
        CHECK(found);
        REQUIRE_FALSE(s.commit());
    }
    CHECK(exists(dir + "/.cnibox/b@eth0"));
    CHECK(exists(dir + "/.cnibox/old@"));
    {
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
        CHECK(s.stats().rebuilds == 0);
        std::vector<IP> rel;
        REQUIRE_FALSE(s.release(Owner{"old", "eth9"}, &rel));  // falls back to the id-only lease
        CHECK(rel == std::vector<IP>{ip("10.1.0.4")});
        REQUIRE_FALSE(s.release(Owner{"b", "eth0"}, &rel));
        CHECK(s.stats().rebuilds == 0);
        REQUIRE_FALSE(s.commit());
    }
    CHECK(names(dir) == std::vector<std::string>{".cnibox", "10.1.0.2", "10.1.0.5", "last_reserved_ip.0", "lock"});

    // An upstream release (file removed) is noticed as well.
    fs::remove(dir + "/10.1.0.5");
    LeaseStore s;
    REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
    CHECK(s.stats().rebuilds == 1);
    bool found = true;
    REQUIRE_FALSE(s.holds(Owner{"b", "eth1"}, found));
    CHECK_FALSE(found);
    REQUIRE_FALSE(s.commit());
    s.close();
    CHECK_FALSE(exists(dir + "/.cnibox/b@eth1"));
}

TEST_CASE("ipam store: a store with no index at all is indexed on first use", "[ipam]") {
    TempDir t;
    std::string dir = t.path + "/n";
    fs::create_directories(dir);
    for (int i = 2; i < 50; i++) upstreamLease(dir, numbered("10.2.0.", i).c_str(), numbered("c", i) + "\r\neth0");
    {
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
        CHECK(s.stats().rebuilds == 1);
        std::vector<IP> rel;
        REQUIRE_FALSE(s.release(Owner{"c9", "eth0"}, &rel));
        CHECK(rel == std::vector<IP>{ip("10.2.0.9")});
        REQUIRE_FALSE(s.commit());
    }
    CHECK(names(dir + "/.cnibox").size() == 47 + 1);  // 47 attachments + state
    LeaseStore s;
    REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
    CHECK(s.stats().rebuilds == 0);
}

TEST_CASE("ipam store: a stale index entry is caught by the lease content", "[ipam]") {
    TempDir t;
    std::string dir = t.path + "/n";
    {
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Create));
        CHECK(reserve(s, Owner{"a", "eth0"}, "10.1.0.2"));
        REQUIRE_FALSE(s.commit());
    }
    // Someone rewrites the lease in place (dir mtime unchanged): the index
    // still says "a", the file says "z".
    spit(dir + "/10.1.0.2", "z\r\neth0");
    LeaseStore s;
    REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
    CHECK(s.stats().rebuilds == 0);
    std::vector<IP> rel;
    REQUIRE_FALSE(s.release(Owner{"a", "eth0"}, &rel));
    CHECK(rel.empty());
    CHECK(s.stats().rebuilds == 1);  // the disagreement forced a rescan
    CHECK(exists(dir + "/10.1.0.2"));
    bool found = false;
    REQUIRE_FALSE(s.holds(Owner{"z", "eth0"}, found));
    CHECK(found);
}

TEST_CASE("ipam store: releaseOne and GC", "[ipam]") {
    TempDir t;
    std::string dir = t.path + "/n";
    {
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Create));
        CHECK(reserve(s, Owner{"a", "eth0"}, "10.1.0.2"));
        CHECK(reserve(s, Owner{"a", "eth1"}, "10.1.0.3"));
        CHECK(reserve(s, Owner{"b", "eth0"}, "10.1.0.4"));
        CHECK(reserve(s, Owner{"c", "eth0"}, "10.1.0.5"));
        REQUIRE_FALSE(s.releaseOne(Owner{"c", "eth0"}, ip("10.1.0.5")));
        REQUIRE_FALSE(s.releaseOne(Owner{"c", "eth0"}, ip("10.1.0.4")));  // not c's: kept
        REQUIRE_FALSE(s.commit());
    }
    CHECK_FALSE(exists(dir + "/10.1.0.5"));
    CHECK(exists(dir + "/10.1.0.4"));
    upstreamLease(dir, "10.1.0.9", "legacy");
    upstreamLease(dir, "10.1.0.10", "gone");
    upstreamLease(dir, "10.1.0.11", "");  // a crash between create and write
    {
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
        std::vector<ipam::Lease> rel;
        std::vector<cni::Attachment> keep{{"a", "eth0"}, {"legacy", "eth0"}};
        REQUIRE_FALSE(s.releaseAllExcept(keep, &rel));
        std::sort(rel.begin(), rel.end(), [](const auto& x, const auto& y) { return x.ip < y.ip; });
        REQUIRE(rel.size() == 4);
        CHECK(rel[0] == ipam::Lease{ip("10.1.0.3"), Owner{"a", "eth1"}});
        CHECK(rel[1] == ipam::Lease{ip("10.1.0.4"), Owner{"b", "eth0"}});
        CHECK(rel[2] == ipam::Lease{ip("10.1.0.10"), Owner{"gone", ""}});
        CHECK(rel[3] == ipam::Lease{ip("10.1.0.11"), Owner{}});
        REQUIRE_FALSE(s.commit());
    }
    CHECK(names(dir + "/.cnibox") == std::vector<std::string>{"a@eth0", "legacy@", "state"});
    LeaseStore s;
    REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
    CHECK(s.stats().rebuilds == 0);
    std::vector<ipam::Lease> all;
    REQUIRE_FALSE(ipam::listLeases(dir, all));
    CHECK(all.size() == 2);
}

TEST_CASE("ipam store: Existing mode does not create, abandon removes what open made", "[ipam]") {
    TempDir t;
    {
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path + "/x", "n", LeaseStore::Mode::Existing));
        CHECK(s.missing());
        REQUIRE_FALSE(s.release(Owner{"a", "eth0"}));
    }
    CHECK_FALSE(exists(t.path + "/x"));
    {
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path + "/x/y", "n", LeaseStore::Mode::Create));
        CHECK(reserve(s, Owner{"a", "eth0"}, "10.1.0.2"));
        REQUIRE_FALSE(s.releaseOne(Owner{"a", "eth0"}, ip("10.1.0.2")));
        s.abandon();
    }
    CHECK_FALSE(exists(t.path + "/x"));
    // A dir that existed is left alone by abandon().
    fs::create_directories(t.path + "/z/n");
    {
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path + "/z", "n", LeaseStore::Mode::Create));
        s.abandon();
    }
    CHECK(exists(t.path + "/z/n"));
}

TEST_CASE("ipam store: long ids use a hashed index name", "[ipam]") {
    TempDir t;
    std::string id(230, 'a');
    {
        LeaseStore s;
        REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Create));
        CHECK(reserve(s, Owner{id, "eth0"}, "10.1.0.2"));
        REQUIRE_FALSE(s.commit());
    }
    auto idx = names(t.path + "/n/.cnibox");
    REQUIRE(idx.size() == 2);
    CHECK(idx[0] == "state");
    CHECK(idx[1][0] == '~');
    LeaseStore s;
    REQUIRE_FALSE(s.open(t.path, "n", LeaseStore::Mode::Existing));
    std::vector<IP> rel;
    REQUIRE_FALSE(s.release(Owner{id, "eth0"}, &rel));
    CHECK(rel.size() == 1);
    CHECK(s.stats().rebuilds == 0);
}
