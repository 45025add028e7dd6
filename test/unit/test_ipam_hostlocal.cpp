// host-local config parsing and the verbs against a temporary data dir.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "helpers.h"
#include "ipam/config.h"
#include "ipam/hostlocal.h"
#include "ipam/resolvconf.h"
#include "util/fs.h"

namespace fs = std::filesystem;
using ipam::HostLocalConfig;

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/cnibox-hl-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path); }
};

cni::Error load(const std::string& json, HostLocalConfig& c, const char* version = "1.0.0",
                const char* cniArgs = "") {
    auto d = testutil::parse(json);
    return ipam::loadHostLocalConfig(d, "net1", version, cniArgs, c);
}

std::string loadErr(const std::string& ipamJson, const char* version = "1.0.0", const char* cniArgs = "",
                    const std::string& extra = "") {
    HostLocalConfig c;
    auto e = load(R"({"name":"net1","ipam":)" + ipamJson + extra + "}", c, version, cniArgs);
    return e ? std::to_string(e.code) + " " + e.msg : "ok";
}

std::vector<std::string> addrs(const cni::Result& r) {
    std::vector<std::string> out;
    for (const auto& i : r.ips) out.push_back(i.address.str() + (i.gateway ? " gw " + i.gateway->str() : ""));
    return out;
}

HostLocalConfig conf(const std::string& dir, const std::string& ranges, const char* extra = "") {
    HostLocalConfig c;
    auto e = load(R"({"name":"net1","ipam":{"type":"host-local","dataDir":")" + dir + R"(","ranges":)" + ranges +
                      "}" + extra + "}",
                  c);
    REQUIRE_FALSE(e);
    return c;
}

// Sends this process's stderr to `path` for one scope.
struct StderrTo {
    int saved;
    std::string path;
    explicit StderrTo(std::string p) : saved(dup(2)), path(std::move(p)) {
        std::fflush(stderr);
        int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        REQUIRE(fd >= 0);
        dup2(fd, 2);
        close(fd);
    }
    ~StderrTo() {
        std::fflush(stderr);
        dup2(saved, 2);
        close(saved);
    }
    std::string text() {
        std::fflush(stderr);
        std::string s;
        REQUIRE_FALSE(util::readFile(path, s));
        return s;
    }
};

std::string add(const HostLocalConfig& c, const char* id, const char* ifname = "eth0") {
    cni::Result r;
    auto e = ipam::hostLocalAdd(c, id, ifname, r);
    if (e) return "error " + std::to_string(e.code) + " " + e.msg;
    std::string s;
    for (const auto& a : addrs(r)) s += (s.empty() ? "" : ",") + a;
    return s;
}

}  // namespace

TEST_CASE("host-local config: validation texts", "[ipam]") {
    struct Row {
        const char* ipam;
        const char* want;
        const char* version = "1.0.0";
        const char* args = "";
    };
    const Row rows[] = {
        {R"({"ranges":[[{"subnet":"10.1.2.0/24"}]]})", "ok"},
        {R"({"subnet":"10.1.2.0/24"})", "ok"},
        {R"({})", "7 no IP ranges specified"},
        {R"({"ranges":[]})", "7 no IP ranges specified"},
        {R"({"ranges":[[]]})", "7 invalid range set 0: empty range set"},
        {R"({"ranges":[[{"subnet":"10.1.2.0/31"}]]})",
         "7 invalid range set 0: Network 10.1.2.0/31 too small to allocate from"},
        {R"({"ranges":[[{"subnet":"10.1.2.3/24"}]]})",
         "7 invalid range set 0: Network has host bits set. For a subnet mask of length 24 the network address is "
         "10.1.2.0"},
        {R"({"ranges":[[{"subnet":"10.1.2.0/24"}],[{"subnet":"10.1.2.0/25"}]]})", "7 range set 0 overlaps with 1"},
        {R"({"ranges":[[{"subnet":"10.1.2.0/24"}],[{"subnet":"10.1.3.0/24"}]]})",
         "7 CNI version 0.2.0 does not support more than 1 address per family", "0.2.0"},
        {R"({"ranges":[[{"subnet":"10.1.2.0/24"}],[{"subnet":"10.1.3.0/24"}]]})", "ok", "0.3.0"},
        {R"({"ranges":[[{"subnet":"10.1.2.0/24"}],[{"subnet":"fd00::/64"}]]})", "ok", "0.2.0"},
        {R"({"subnet":"10.1.2.0/24","ranges":[[{"subnet":"10.1.2.0/24"}]]})", "7 range set 0 overlaps with 1"},
        {R"({"ranges":[[{"subnet":"10.1.2.0/24"}]],"dataDir":"/x/../etc"})",
         "7 dataDir must be an absolute path without \"..\" components (at most 4095 bytes), got \"/x/../etc\""},
        {R"({"ranges":[[{"subnet":"10.1.2.0/24"}]]})", "ok", "1.0.0", "IgnoreUnknown=1;K8S_POD_NAME=x;IP=10.1.2.9"},
        {R"({"ranges":[[{"subnet":"10.1.2.0/24"}]]})",
         "4 ARGS: error parsing value of pair \"IP=10.1.2.9,10.1.2.10\": invalid IP address 10.1.2.9,10.1.2.10",
         "1.0.0", "IP=10.1.2.9,10.1.2.10"},
        {R"("x")", "7 ipam must be an object"},
    };
    for (const auto& r : rows) {
        INFO(r.ipam << " " << r.version << " " << r.args);
        CHECK(loadErr(r.ipam, r.version, r.args) == r.want);
    }
    HostLocalConfig c;
    CHECK(load(R"({"name":"net1"})", c).msg == "IPAM config missing 'ipam' key");
    CHECK(load(R"({"ipam":{"subnet":"10.1.2.0/24"}})", c, "1.0.0", "K8S_POD_NAME=x").code == cni::kInvalidEnv);
}

TEST_CASE("ipam config: the ipam object, addresses per family", "[ipam]") {
    const rapidjson::Value* ipam = nullptr;
    auto d = testutil::parse(R"({"ipam":{"type":"x"}})");
    REQUIRE_FALSE(ipam::ipamObject(d, ipam));
    CHECK(ipam == &d["ipam"]);
    auto e = ipam::ipamObject(testutil::parse(R"({"IPAM":7})"), ipam);
    CHECK(e.code == cni::kInvalidNetConf);
    CHECK(e.msg == "ipam must be an object");
    e = ipam::ipamObject(testutil::parse(R"({"ipam":null})"), ipam);
    CHECK(e.code == cni::kInvalidNetConf);
    CHECK(e.msg == "IPAM config missing 'ipam' key");

    CHECK(ipam::checkAddressesPerFamily("0.2.0", 1, 1).ok());
    CHECK(ipam::checkAddressesPerFamily("0.3.0", 2, 3).ok());
    CHECK(ipam::checkAddressesPerFamily("1.1.0", 2, 0).ok());
    e = ipam::checkAddressesPerFamily("0.1.0", 0, 2);
    CHECK(e.code == cni::kInvalidNetConf);
    CHECK(e.msg == "CNI version 0.1.0 does not support more than 1 address per family");
}

TEST_CASE("host-local config: defaults, precedence of range sources and requested addresses", "[ipam]") {
    HostLocalConfig c;
    REQUIRE_FALSE(load(R"({"name":"net1",
        "ipam":{"type":"host-local","subnet":"10.1.1.0/24","rangeStart":"10.1.1.50",
                "ranges":[[{"subnet":"10.1.2.0/24"}]],"routes":[{"dst":"0.0.0.0/0"}]},
        "runtimeConfig":{"ipRanges":[[{"subnet":"10.1.9.0/24"}]],"ips":["10.1.2.7/24","10.1.1.60"]},
        "args":{"cni":{"ips":["10.1.9.5"]}}})",
                       c, "1.0.0", "IP=10.1.2.7"));
    REQUIRE(c.ranges.size() == 3);
    CHECK(c.ranges[0][0].subnet.str() == "10.1.9.0/24");  // runtimeConfig.ipRanges first
    CHECK(c.ranges[1][0].str() == "10.1.1.50-10.1.1.254");  // then the top-level range
    CHECK(c.ranges[2][0].str() == "10.1.2.1-10.1.2.254");
    CHECK(c.dataDir == "/var/lib/cni/networks");
    CHECK(c.dir() == "/var/lib/cni/networks/net1");
    REQUIRE(c.routes.size() == 1);
    std::vector<std::string> req;
    for (const auto& ip : c.requested) req.push_back(ip.str());
    CHECK(req == std::vector<std::string>{"10.1.2.7", "10.1.9.5", "10.1.1.60"});  // CNI_ARGS, args, runtimeConfig
}

TEST_CASE("host-local ADD/DEL/CHECK: round robin, duplicates, exhaustion", "[ipam]") {
    TempDir t;
    auto c = conf(t.path, R"([[{"subnet":"10.1.2.0/29"}],[{"subnet":"fd00::/125"}]])");
    CHECK(add(c, "a") == "10.1.2.2/29 gw 10.1.2.1,fd00::2/125 gw fd00::1");
    CHECK(add(c, "b") == "10.1.2.3/29 gw 10.1.2.1,fd00::3/125 gw fd00::1");
    CHECK(add(c, "a") == "error 100 failed to allocate for range 0: 10.1.2.2 has been allocated to a, duplicate "
                         "allocation is not allowed");
    CHECK(add(c, "a", "eth1") == "10.1.2.4/29 gw 10.1.2.1,fd00::4/125 gw fd00::1");
    REQUIRE_FALSE(ipam::hostLocalCheck(c, "b", "eth0"));
    REQUIRE_FALSE(ipam::hostLocalDel(c, "b", "eth0"));
    REQUIRE_FALSE(ipam::hostLocalDel(c, "b", "eth0"));  // repeat DEL
    auto e = ipam::hostLocalCheck(c, "b", "eth0");
    CHECK(e.msg == "host-local: Failed to find address added by container b");
    // Round robin: after .4 comes .5, not the freed .3.
    CHECK(add(c, "c") == "10.1.2.5/29 gw 10.1.2.1,fd00::5/125 gw fd00::1");
    CHECK(add(c, "d") == "10.1.2.6/29 gw 10.1.2.1,fd00::6/125 gw fd00::1");
    REQUIRE_FALSE(ipam::hostLocalStatus(c));
    CHECK(add(c, "e") == "10.1.2.3/29 gw 10.1.2.1,fd00::7/125 gw fd00::1");  // IPv6 keeps its last address
    CHECK(ipam::hostLocalStatus(c).msg == "no IP addresses available in range set: 10.1.2.1-10.1.2.6");
    CHECK(add(c, "f") ==
          "error 100 failed to allocate for range 0: no IP addresses available in range set: 10.1.2.1-10.1.2.6");
    CHECK(ipam::hostLocalStatus(c).code == cni::kNotAvailable);
    // The failed ADD left nothing: the v6 set still has room and no lease of "f".
    REQUIRE(ipam::hostLocalCheck(c, "f", "eth0").code == 100);
    REQUIRE_FALSE(ipam::hostLocalDel(c, "e", "eth0"));
    REQUIRE_FALSE(ipam::hostLocalStatus(c));
}

TEST_CASE("host-local ADD: requested addresses and rollback", "[ipam]") {
    TempDir t;
    auto c = conf(t.path, R"([[{"subnet":"10.1.2.0/24"}],[{"subnet":"10.1.3.0/24"}]])");
    c.requested = {*util::IP::parse("10.1.3.9")};
    CHECK(add(c, "a") == "10.1.2.2/24 gw 10.1.2.1,10.1.3.9/24 gw 10.1.3.1");
    // The same address again: taken. The first set's fresh lease is rolled back.
    CHECK(add(c, "b") == "error 100 failed to allocate for range 1: requested IP address 10.1.3.9 is not available "
                         "in range set 10.1.3.1-10.1.3.254");
    CHECK(ipam::hostLocalCheck(c, "b", "eth0").code == 100);
    c.requested = {*util::IP::parse("10.1.3.1")};
    CHECK(add(c, "b") == "error 100 failed to allocate for range 1: requested ip 10.1.3.1 is subnet's gateway");
    c.requested = {*util::IP::parse("10.1.4.1")};
    CHECK(add(c, "b") == "error 100 failed to allocate all requested IPs: 10.1.4.1");
    c.requested = {*util::IP::parse("10.1.3.20"), *util::IP::parse("10.1.3.21")};
    CHECK(add(c, "b") == "error 100 failed to allocate all requested IPs: 10.1.3.21");
    // A requested address skips the duplicate check (as upstream).
    c.requested = {*util::IP::parse("10.1.2.77")};
    CHECK(add(c, "a", "eth0").find("error 100 failed to allocate for range 1: 10.1.3.9 has been allocated") == 0);
    c.requested.clear();
    std::vector<ipam::Lease> leases;
    REQUIRE_FALSE(ipam::listLeases(c.dir(), leases));
    CHECK(leases.size() == 2);  // only a's two
}

TEST_CASE("host-local ADD: a failed first ADD leaves no directory behind", "[ipam]") {
    TempDir t;
    auto c = conf(t.path + "/sub", R"([[{"subnet":"10.1.2.0/24"}]])");
    c.requested = {*util::IP::parse("10.1.2.1")};
    CHECK(add(c, "a").find("error") == 0);
    CHECK_FALSE(fs::exists(t.path + "/sub"));
    c.resolvConf = t.path + "/nope";
    c.requested.clear();
    auto r = add(c, "a");
    CHECK(r == "error 5 open " + t.path + "/nope: no such file or directory");
    CHECK_FALSE(fs::exists(t.path + "/sub"));
    c.resolvConf.clear();
    CHECK(add(c, "a") == "10.1.2.2/24 gw 10.1.2.1");
    CHECK(fs::exists(t.path + "/sub/net1/10.1.2.2"));
}

TEST_CASE("host-local GC", "[ipam]") {
    TempDir t;
    auto c = conf(t.path, R"([[{"subnet":"10.1.2.0/24"}]])");
    CHECK(add(c, "a") == "10.1.2.2/24 gw 10.1.2.1");
    CHECK(add(c, "b") == "10.1.2.3/24 gw 10.1.2.1");
    CHECK(add(c, "b", "eth1") == "10.1.2.4/24 gw 10.1.2.1");
    REQUIRE_FALSE(ipam::hostLocalGC(c, {{"b", "eth1"}}));
    CHECK(ipam::hostLocalCheck(c, "a", "eth0").code == 100);
    CHECK(ipam::hostLocalCheck(c, "b", "eth0").code == 100);
    REQUIRE_FALSE(ipam::hostLocalCheck(c, "b", "eth1"));
    REQUIRE_FALSE(ipam::hostLocalGC(c, {}));
    CHECK(ipam::hostLocalCheck(c, "b", "eth1").code == 100);
    std::vector<ipam::Lease> leases;
    REQUIRE_FALSE(ipam::listLeases(c.dir(), leases));
    CHECK(leases.empty());
}

TEST_CASE("resolv.conf parsing", "[ipam]") {
    cni::DNS d;
    ipam::parseResolvConfText("# comment\n"
                              "; other comment\n"
                              "nameserver 10.0.0.1\n"
                              "  nameserver   fd00::53  \r\n"
                              "nameserver\n"
                              "domain example.com\n"
                              "domain example.org\n"
                              "search a.example b.example\n"
                              "search c.example\n"
                              "options ndots:5 rotate\n"
                              "sortlist 10.0.0.0\n"
                              "options timeout:1",
                              d);
    CHECK(d.nameservers == std::vector<std::string>{"10.0.0.1", "fd00::53"});
    CHECK(d.domain == "example.org");
    CHECK(d.search == std::vector<std::string>{"a.example", "b.example", "c.example"});
    CHECK(d.options == std::vector<std::string>{"ndots:5", "rotate", "timeout:1"});

    TempDir t;
    std::ofstream(t.path + "/resolv.conf") << "nameserver 1.1.1.1\nsearch x\n";
    cni::DNS f;
    REQUIRE_FALSE(ipam::parseResolvConf(t.path + "/resolv.conf", f));
    CHECK(f.nameservers == std::vector<std::string>{"1.1.1.1"});
    CHECK(f.search == std::vector<std::string>{"x"});
    auto e = ipam::parseResolvConf(t.path + "/missing", f);
    CHECK(e.code == cni::kIOFailure);
}

TEST_CASE("host-local verbs: the same answers with the index off (every call scans)", "[ipam][index]") {
    // One sequence of ADD/CHECK/DEL/GC, with upstream's plugin writing and
    // releasing leases in between; every answer is recorded.
    auto run = [](ipam::LeaseIndex::Use use) {
        TempDir t;
        auto c = conf(t.path, R"([[{"subnet":"10.1.2.0/29"}],[{"subnet":"fd00::/125"}]])");
        c.index = use;
        std::vector<std::string> log;
        auto note = [&](const cni::Error& e) { log.push_back(e ? std::to_string(e.code) + " " + e.msg : "ok"); };
        log.push_back(add(c, "a"));
        log.push_back(add(c, "b"));
        log.push_back(add(c, "a"));  // duplicate
        log.push_back(add(c, "b", "eth1"));
        std::ofstream(c.dir() + "/10.1.2.6") << "up\r\neth0";  // upstream's plugin, same store
        std::ofstream(c.dir() + "/10.1.2.5") << "old";          // an id-only lease of a very old version
        note(ipam::hostLocalCheck(c, "up", "eth0"));
        note(ipam::hostLocalCheck(c, "old", "eth7"));
        note(ipam::hostLocalDel(c, "b", "eth0"));
        note(ipam::hostLocalCheck(c, "b", "eth0"));
        note(ipam::hostLocalDel(c, "b", "eth0"));
        note(ipam::hostLocalDel(c, "old", "eth7"));
        fs::remove(c.dir() + "/10.1.2.4");  // b@eth1's v4 lease, released by hand
        note(ipam::hostLocalCheck(c, "b", "eth1"));  // the v6 lease still counts
        log.push_back(add(c, "c"));
        note(ipam::hostLocalGC(c, {{"a", "eth0"}, {"c", "eth0"}}));
        note(ipam::hostLocalCheck(c, "up", "eth0"));
        note(ipam::hostLocalCheck(c, "b", "eth1"));
        note(ipam::hostLocalCheck(c, "a", "eth0"));
        std::vector<ipam::Lease> leases;
        REQUIRE_FALSE(ipam::listLeases(c.dir(), leases));
        for (const auto& l : leases) log.push_back(l.ip.str() + " " + l.owner.id + "@" + l.owner.ifname);
        std::sort(log.end() - static_cast<long>(leases.size()), log.end());
        log.push_back(fs::exists(c.dir() + "/.cnibox") ? "indexed" : "no index");
        return log;
    };
    auto on = run(ipam::LeaseIndex::Use::On);
    auto off = run(ipam::LeaseIndex::Use::Off);
    const std::vector<std::string> want{
        "10.1.2.2/29 gw 10.1.2.1,fd00::2/125 gw fd00::1",
        "10.1.2.3/29 gw 10.1.2.1,fd00::3/125 gw fd00::1",
        "error 100 failed to allocate for range 0: 10.1.2.2 has been allocated to a, duplicate allocation is not "
        "allowed",
        "10.1.2.4/29 gw 10.1.2.1,fd00::4/125 gw fd00::1",
        "ok",
        "ok",
        "ok",
        "100 host-local: Failed to find address added by container b",
        "ok",
        "ok",
        "ok",
        "10.1.2.5/29 gw 10.1.2.1,fd00::5/125 gw fd00::1",
        "ok",
        "100 host-local: Failed to find address added by container up",
        "100 host-local: Failed to find address added by container b",
        "ok",
        "10.1.2.2 a@eth0",
        "10.1.2.5 c@eth0",
        "fd00::2 a@eth0",
        "fd00::5 c@eth0",
    };
    std::vector<std::string> wantOn = want, wantOff = want;
    wantOn.push_back("indexed");
    wantOff.push_back("no index");
    CHECK(on == wantOn);
    CHECK(off == wantOff);
}

TEST_CASE("host-local verbs: an index that cannot be written does not change the answer", "[ipam][index]") {
    TempDir t;
    auto c = conf(t.path, R"([[{"subnet":"10.1.2.0/24"}]])");
    CHECK(add(c, "a") == "10.1.2.2/24 gw 10.1.2.1");
    fs::remove_all(c.dir() + "/.cnibox");
    std::ofstream(c.dir() + "/.cnibox") << "not a directory";
    // Each verb says on stderr that the index was not saved.
    std::string said;
    {
        StderrTo f(t.path + "/stderr");
        CHECK(add(c, "b") == "10.1.2.3/24 gw 10.1.2.1");
        REQUIRE_FALSE(ipam::hostLocalCheck(c, "a", "eth0"));
        REQUIRE_FALSE(ipam::hostLocalDel(c, "a", "eth0"));
        CHECK(ipam::hostLocalCheck(c, "a", "eth0").code == 100);
        REQUIRE_FALSE(ipam::hostLocalGC(c, {}));
        said = f.text();
    }
    std::string line = "host-local: index not saved: open " + c.dir() + "/.cnibox: not a directory\n";
    std::string want;
    for (int i = 0; i < 5; i++) want += line;
    CHECK(said == want);
    std::vector<ipam::Lease> leases;
    REQUIRE_FALSE(ipam::listLeases(c.dir(), leases));
    CHECK(leases.empty());
}
