// src/dhcp/store: the daemon's lease records on disk (round trip, file names
// for any IDs, corrupt and leftover files); util::fnv1a64 that names long
// ones.
#include <sys/stat.h>

#include <set>
#include <string>
#include <vector>

#include "dhcp/store.h"
#include "helpers.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/text.h"

using dhcp::LeaseRecord;
using dhcp::LeaseStore;
using testutil::TmpDir;

namespace {

LeaseRecord sample(std::string network = "net1", std::string id = "c1", std::string ifname = "eth0") {
    LeaseRecord r;
    r.network = std::move(network);
    r.containerID = std::move(id);
    r.ifname = std::move(ifname);
    r.clientID = std::string("\0c1/net1/eth0", 13);
    r.netns = "/var/run/netns/a b";
    r.netnsDev = 4;
    r.netnsIno = 4026532281ull;
    r.serverID = "10.0.0.1";
    r.serverMac = "aa:bb:cc:dd:ee:ff";
    r.clientMac = "02:00:00:00:00:05";
    r.hostDevice = "lan0";
    r.address = "10.0.0.5/24";
    r.leaseSeconds = 3600;
    r.t1Seconds = 1800;
    r.t2Seconds = 3150;
    r.acquiredAt = 1700000000;
    r.replyOptions[3] = std::string("\x0a\x00\x00\x01", 4);
    r.replyOptions[121] = std::string("\x18\x0a\x01\x02\x0a\x00\x00\x01", 8);
    r.requestedOptions = {1, 3, 6, 15, 121};
    r.providedOptions[12] = "host\nname";
    r.broadcast = true;
    return r;
}

std::set<std::string> listDir(const std::string& dir) {
    std::set<std::string> names;
    util::Dir d;
    REQUIRE_FALSE(util::Dir::open(dir.c_str(), d));
    while (auto* de = d.next()) names.insert(de->d_name);
    return names;
}

}  // namespace

TEST_CASE("fnv1a64 matches the reference values", "[dhcp]") {
    CHECK(util::fnv1a64("") == 0xcbf29ce484222325ull);
    CHECK(util::fnv1a64("a") == 0xaf63dc4c8601ec8cull);
    CHECK(util::fnv1a64("foobar") == 0x85944171f73967e8ull);
}

TEST_CASE("store: a record survives save and loadAll", "[dhcp]") {
    TmpDir d;
    LeaseStore store(d / "state/dhcp");
    LeaseRecord r = sample();
    for (int c = 0; c < 256; c++) r.clientID += static_cast<char>(c);
    REQUIRE_FALSE(store.save(r));
    LeaseRecord minimal;
    minimal.network = "net1";
    minimal.containerID = "c2";
    minimal.ifname = "eth0";
    minimal.address = "10.0.0.6/24";
    REQUIRE_FALSE(store.save(minimal));

    std::vector<LeaseRecord> got;
    std::vector<std::string> problems;
    REQUIRE_FALSE(store.loadAll(got, problems));
    CHECK(problems.empty());
    REQUIRE(got.size() == 2);
    CHECK(got[0] == r);
    CHECK(got[1] == minimal);

    // Saving again replaces the record.
    r.address = "10.0.0.9/24";
    REQUIRE_FALSE(store.save(r));
    got.clear();
    REQUIRE_FALSE(store.loadAll(got, problems));
    REQUIRE(got.size() == 2);
    CHECK(got[0].address == "10.0.0.9/24");

    // The text on disk: the protocol's block, bytes as lower-case hex.
    std::string text;
    REQUIRE_FALSE(util::readFile(d / "state/dhcp/net1%2Fc1%2Feth0", text));
    CHECK(text.starts_with("CNIBOX-DHCP/1 LEASE\nnetwork net1\ncontainer-id c1\nifname eth0\nclient-id 0063312f"));
    CHECK(text.find("\nreply-option 3 0a000001\n") != std::string::npos);
    CHECK(text.find("\nrequested 1 3 6 15 121\n") != std::string::npos);
    CHECK(text.find("\nprovide 12 686f73740a6e616d65\n") != std::string::npos);
    CHECK(text.find("\nnetns /var/run/netns/a b\n") != std::string::npos);
    CHECK(text.ends_with("\nbroadcast true\n\n"));
}

TEST_CASE("store: files are 0600 in a 0700 directory", "[dhcp]") {
    TmpDir d;
    LeaseStore store(d / "dhcp");
    REQUIRE_FALSE(store.save(sample()));
    struct stat st;
    REQUIRE(stat((d / "dhcp").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0700);
    REQUIRE(stat((d / "dhcp/net1%2Fc1%2Feth0").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
}

TEST_CASE("store: hostile IDs stay inside the directory, one file each", "[dhcp]") {
    TmpDir d;
    LeaseStore store(d / "dhcp");
    std::vector<LeaseRecord> records = {
        sample("..", "..", ".."),
        sample("../../etc", "a/b\n../c", "x y"),
        sample(".hidden", "c1", "eth0.tmp"),  // must not look like a temporary file
        sample("n%2Fc", "d", "e"),            // already looks escaped
        sample("n", "c/d", "e"),              // the same key text split differently
        sample("n/c", "d", "e"),
        sample(std::string("\0\x7f\xff", 3), "\t", "%"),
    };
    for (const auto& r : records) REQUIRE_FALSE(store.save(r));
    auto names = listDir(d / "dhcp");
    CHECK(names.size() == records.size());
    for (const auto& n : names) {
        INFO(n);
        CHECK(n.find('/') == std::string::npos);
        CHECK(n[0] != '.');
        for (unsigned char c : n) CHECK((c >= '!' && c <= '~'));
    }
    CHECK(names.count("%2E.%2F..%2F..") == 1);
    CHECK(names.count("n%2Fc%252Fd%2Fe") == 1);
    CHECK(names.count("n%252Fc%2Fd%2Fe") == 1);
    CHECK(listDir(d.path) == std::set<std::string>{"dhcp"});

    std::vector<LeaseRecord> got;
    std::vector<std::string> problems;
    REQUIRE_FALSE(store.loadAll(got, problems));
    CHECK(problems.empty());
    CHECK(got.size() == records.size());
    for (const auto& r : records) {
        bool found = false;
        for (const auto& g : got) found = found || g == r;
        CHECK(found);
    }
    for (const auto& r : records) REQUIRE_FALSE(store.remove(r.network, r.containerID, r.ifname));
    CHECK(listDir(d / "dhcp").empty());
}

TEST_CASE("store: long IDs get a cut name with the key's hash", "[dhcp]") {
    std::string a(300, 'a');
    std::string name = LeaseStore::fileName("net", a, "eth0");
    CHECK(name.size() == 217);
    CHECK(name.substr(0, 200) == "net%2F" + std::string(194, 'a'));
    CHECK(name[200] == '-');
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx",
                  static_cast<unsigned long long>(util::fnv1a64("net/" + a + "/eth0")));
    CHECK(name.substr(201) == hash);
    // Up to kMaxName bytes the name is the escaped key itself.
    std::string fits(LeaseStore::kMaxName - 8, 'b');  // "n%2F" + id + "%2Fe"
    CHECK(LeaseStore::fileName("n", fits, "e") == "n%2F" + fits + "%2Fe");
    CHECK(LeaseStore::fileName("n", fits + "b", "e").size() == 217);

    TmpDir d;
    LeaseStore store(d / "dhcp");
    LeaseRecord r1 = sample("net", a + "1", "eth0"), r2 = sample("net", a + "2", "eth0");
    LeaseRecord r3 = sample("net", fits, std::string(300, 'i'));
    for (const auto* r : {&r1, &r2, &r3}) REQUIRE_FALSE(store.save(*r));
    CHECK(listDir(d / "dhcp").size() == 3);
    std::vector<LeaseRecord> got;
    std::vector<std::string> problems;
    REQUIRE_FALSE(store.loadAll(got, problems));
    CHECK(problems.empty());
    CHECK(got.size() == 3);
    REQUIRE_FALSE(store.remove("net", a + "1", "eth0"));
    CHECK(listDir(d / "dhcp").size() == 2);
}

TEST_CASE("store: corrupt files are reported and skipped, leftovers removed", "[dhcp]") {
    TmpDir d;
    LeaseStore store(d / "dhcp");
    REQUIRE_FALSE(store.save(sample()));
    REQUIRE_FALSE(util::writeFileAtomic(d / "dhcp/garbage", "not a record\n", 0600));
    REQUIRE_FALSE(util::writeFileAtomic(d / "dhcp/empty", "", 0600));
    REQUIRE_FALSE(util::writeFileAtomic(d / "dhcp/badhex", "CNIBOX-DHCP/1 LEASE\nnetwork n\ncontainer-id c\n"
                                                            "ifname i\naddress 10.0.0.2/24\nclient-id 0G\n\n",
                                        0600));
    REQUIRE_FALSE(util::writeFileAtomic(d / "dhcp/noaddress",
                                        "CNIBOX-DHCP/1 LEASE\nnetwork n\ncontainer-id c\nifname i\n\n", 0600));
    // A good record under a name that is not its own (a copy).
    std::string good;
    REQUIRE_FALSE(util::readFile(d / "dhcp/net1%2Fc1%2Feth0", good));
    REQUIRE_FALSE(util::writeFileAtomic(d / "dhcp/copy", good, 0600));
    // What an interrupted save leaves behind.
    REQUIRE_FALSE(util::writeFileAtomic(d / "dhcp/.net1%2Fc9%2Feth0.tmp", "CNIBOX-DHCP/1 LEA", 0600));
    REQUIRE_FALSE(util::mkdirAll(d / "dhcp/subdir", 0700));

    std::vector<LeaseRecord> got;
    std::vector<std::string> problems;
    REQUIRE_FALSE(store.loadAll(got, problems));
    REQUIRE(got.size() == 1);
    CHECK(got[0] == sample());
    REQUIRE(problems.size() == 6);
    auto has = [&](const std::string& name, const std::string& what) {
        for (const auto& p : problems)
            if (p.starts_with(d / "dhcp/" + name + ": ") && p.find(what) != std::string::npos) return true;
        return false;
    };
    CHECK(has("badhex", "client-id: not lower-case hex"));
    CHECK(has("copy", "another attachment"));
    CHECK(has("empty", "malformed"));
    CHECK(has("garbage", "malformed"));
    CHECK(has("noaddress", "address: missing"));
    CHECK(has("subdir", "not a regular file"));
    CHECK(listDir(d / "dhcp").count(".net1%2Fc9%2Feth0.tmp") == 0);
}

TEST_CASE("store: remove of a missing record and loadAll of a missing directory are fine", "[dhcp]") {
    TmpDir d;
    LeaseStore store(d / "nothing/here");
    CHECK_FALSE(store.remove("n", "c", "i"));
    std::vector<LeaseRecord> got;
    std::vector<std::string> problems;
    CHECK_FALSE(store.loadAll(got, problems));
    CHECK(got.empty());
    CHECK(problems.empty());
    REQUIRE_FALSE(store.save(sample()));
    REQUIRE_FALSE(store.remove("net1", "c1", "eth0"));
    CHECK_FALSE(store.remove("net1", "c1", "eth0"));
    CHECK(listDir(d / "nothing/here").empty());
}
