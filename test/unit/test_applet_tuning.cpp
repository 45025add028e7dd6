// tuning's configuration parser, sysctl paths, allowlist and backup file
// (no kernel, no root).
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>
#include <string>

#include "applets/tuning.h"
#include "helpers.h"

using namespace applets::tuning;
using cni::Error;

namespace {

// The parse of `body` (the keys after cniVersion/name/type) for ADD (strict)
// or DEL (not), with extra environment.
Error parse(const std::string& body, Conf& c, bool strict = true,
            const std::vector<std::pair<std::string, std::string>>& env = {}) {
    std::string conf = R"({"cniVersion":"1.0.0","name":"n","type":"tuning")";
    if (!body.empty()) conf += "," + body;
    conf += "}";
    cni::CmdArgs a = testutil::cmdArgs(conf, strict ? cni::Command::Add : cni::Command::Del, env);
    c = Conf{};
    return parseConf(a, strict, c);
}

Conf ok(const std::string& body, bool strict = true, const std::vector<std::pair<std::string, std::string>>& env = {}) {
    Conf c;
    Error e = parse(body, c, strict, env);
    INFO(e.text());
    REQUIRE_FALSE(e);
    return c;
}

// The error of parsing `body` (strict unless told).
Error bad(const std::string& body, bool strict = true, const std::vector<std::pair<std::string, std::string>>& env = {}) {
    Conf c;
    Error e = parse(body, c, strict, env);
    REQUIRE(e);
    return e;
}

std::vector<Sysctl> sysctls(std::initializer_list<const char*> keys) {
    std::vector<Sysctl> v;
    for (const char* k : keys) v.push_back({k, {}, "1"});
    return v;
}

// `s` is key = value at `path` below /proc/sys.
void checkSysctl(const Sysctl& s, const char* key, const char* value, const char* path) {
    INFO(key);
    CHECK(s.key == key);
    CHECK(s.value == value);
    CHECK(s.path == path);
}

void writeFile(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
}

}  // namespace

TEST_CASE("tuning: defaults change nothing", "[tuning]") {
    Conf c = ok("");
    CHECK(c.sysctls.empty());
    CHECK(c.dataDir == "/run/cni/tuning");
    CHECK(c.mac.empty());
    CHECK_FALSE(c.promisc);
    CHECK(c.mtu == 0);
    CHECK_FALSE(c.allmulti);
    CHECK_FALSE(c.txqlen);
    CHECK_FALSE(c.linkAttrs());
    CHECK(ok(R"("dataDir":"")").dataDir == "/run/cni/tuning");
}

TEST_CASE("tuning: every config key", "[tuning]") {
    Conf c = ok(R"("sysctl":{"net.ipv4.conf.IFNAME.rp_filter":"2","net/ipv6/conf/eth0/hop_limit":"10"},)"
                R"("mac":"C2-11-22-33-44-55","mtu":1400,"promisc":true,"allmulti":false,"txQLen":0,)"
                R"("dataDir":"/tmp/tuning-backups")");
    REQUIRE(c.sysctls.size() == 2);
    checkSysctl(c.sysctls[0], "net.ipv4.conf.IFNAME.rp_filter", "2", "net/ipv4/conf/eth0/rp_filter");
    checkSysctl(c.sysctls[1], "net/ipv6/conf/eth0/hop_limit", "10", "net/ipv6/conf/eth0/hop_limit");
    CHECK(c.mac == "c2:11:22:33:44:55");  // normalised
    CHECK(c.mtu == 1400);
    CHECK(c.promisc);
    CHECK(c.allmulti == false);
    CHECK(c.txqlen == 0);
    CHECK(c.dataDir == "/tmp/tuning-backups");
    CHECK(c.linkAttrs());
    // each attribute alone makes the link change
    CHECK(ok(R"("mtu":9000)").linkAttrs());
    CHECK(ok(R"("promisc":true)").linkAttrs());
    CHECK_FALSE(ok(R"("promisc":false)").linkAttrs());
    CHECK(ok(R"("allmulti":false)").linkAttrs());
    CHECK(ok(R"("txQLen":0)").linkAttrs());
    CHECK(ok(R"("mac":"c2:00:00:00:00:01")").linkAttrs());
    CHECK_FALSE(ok(R"("sysctl":{"net.ipv4.ip_forward":"1"})").linkAttrs());
    // keys match as Go's struct fields: case-insensitively, null = absent
    Conf g = ok(R"("MTU":1280,"TxQLen":7,"Promisc":true,"allmulti":null)");
    CHECK(g.mtu == 1280);
    CHECK(g.txqlen == 7);
    CHECK(g.promisc);
    CHECK_FALSE(g.allmulti);
    // IFNAME is CNI_IFNAME
    Conf i = ok(R"("sysctl":{"net.ipv4.conf.IFNAME.arp_ignore":"1"})", true, {{"CNI_IFNAME", "net1"}});
    CHECK(i.sysctls[0].path == "net/ipv4/conf/net1/arp_ignore");
}

TEST_CASE("tuning: the MAC from CNI_ARGS, runtimeConfig and args.cni, in upstream tuning's order", "[tuning]") {
    const std::pair<std::string, std::string> envMac{"CNI_ARGS", "IgnoreUnknown=1;MAC=c2:00:00:00:00:02"};
    CHECK(ok(R"("mac":"c2:00:00:00:00:01")").mac == "c2:00:00:00:00:01");
    CHECK(ok(R"("mac":"c2:00:00:00:00:01")", true, {envMac}).mac == "c2:00:00:00:00:02");
    CHECK(ok(R"("mac":"c2:00:00:00:00:01","runtimeConfig":{"mac":"c2:00:00:00:00:03"})", true, {envMac}).mac ==
          "c2:00:00:00:00:03");
    CHECK(ok(R"("runtimeConfig":{"mac":"c2:00:00:00:00:03"},"args":{"cni":{"mac":"C2:00:00:00:00:04"}})", true,
             {envMac})
              .mac == "c2:00:00:00:00:04");
    // empty values: CNI_ARGS MAC= and runtimeConfig.mac "" change nothing, args.cni.mac "" clears
    CHECK(ok(R"("mac":"c2:00:00:00:00:01","runtimeConfig":{"mac":""})", true, {{"CNI_ARGS", "MAC="}}).mac ==
          "c2:00:00:00:00:01");
    CHECK(ok(R"("mac":"c2:00:00:00:00:01","args":{"cni":{"mac":""}})").mac.empty());
    // only the final value is validated, and only in strict mode
    CHECK(ok(R"("mac":"bad","runtimeConfig":{"mac":"c2:00:00:00:00:03"})").mac == "c2:00:00:00:00:03");
    CHECK(ok(R"("mac":"bad")", false).mac == "bad");
    Error e = bad(R"("mac":"c2:00:00:00:00:01","args":{"cni":{"mac":"c2:00:00:00:00"}})");
    CHECK(e.code == 7);
    CHECK(e.msg == R"(invalid MAC address "c2:00:00:00:00")");
    e = bad("", true, {{"CNI_ARGS", "MAC=zz"}});
    CHECK(e.msg == R"(invalid MAC address "zz")");
    // CNI_ARGS is checked as the skel's: MAC is known, others need IgnoreUnknown
    e = bad("", true, {{"CNI_ARGS", "FOO=1"}});
    CHECK(e.code == 4);
    CHECK(e.msg == R"(ARGS: unknown args ["FOO=1"])");
    e = bad("", false, {{"CNI_ARGS", "MAC"}});
    CHECK(e.code == 4);
    CHECK(e.msg == R"(ARGS: invalid pair "MAC")");
}

TEST_CASE("tuning: args.cni overrides the config's keys", "[tuning]") {
    Conf c = ok(R"("sysctl":{"net.ipv4.ip_forward":"1","net.ipv4.conf.IFNAME.rp_filter":"2"},)"
                R"("mtu":1400,"promisc":false,"allmulti":true,"txQLen":100,)"
                R"("args":{"cni":{"sysctl":{"net.ipv4.conf.IFNAME.rp_filter":"0","net.core.somaxconn":"512"},)"
                R"("mtu":1300,"promisc":true,"allmulti":false,"txQLen":200}})");
    REQUIRE(c.sysctls.size() == 3);  // added to, in order, overridden in place
    checkSysctl(c.sysctls[0], "net.ipv4.ip_forward", "1", "net/ipv4/ip_forward");
    checkSysctl(c.sysctls[1], "net.ipv4.conf.IFNAME.rp_filter", "0", "net/ipv4/conf/eth0/rp_filter");
    checkSysctl(c.sysctls[2], "net.core.somaxconn", "512", "net/core/somaxconn");
    CHECK(c.mtu == 1300);
    CHECK(c.promisc);
    CHECK(c.allmulti == false);
    CHECK(c.txqlen == 200);
    // args.cni.sysctl may repeat a config key (not a duplicate), and args without cni is fine
    CHECK(ok(R"("sysctl":{"net.ipv4.ip_forward":"1"},"args":{"cni":{"sysctl":{"net.ipv4.ip_forward":"0"}}})")
              .sysctls.size() == 1);
    CHECK(ok(R"("args":{"other":1})").mtu == 0);
}

TEST_CASE("tuning: each invalid value's code and message", "[tuning]") {
    struct Case {
        const char* body;
        int code;
        const char* msg;
    } cases[] = {
        {R"("sysctl":["net.ipv4.ip_forward"])", 7, "sysctl must be an object of strings"},
        {R"("sysctl":{"net.ipv4.ip_forward":1})", 7, R"(sysctl value of "net.ipv4.ip_forward" must be a string)"},
        {R"("sysctl":{"net.ipv4.ip_forward":"1","net.ipv4.ip_forward":"0"})", 7,
         R"(duplicated sysctl keys are not allowed: "net.ipv4.ip_forward")"},
        {R"("sysctl":{"kernel.hostname":"x"})", 7,
         R"(invalid net sysctl key: "kernel/hostname" (only keys below net. are allowed))"},
        {R"("sysctl":{"netfilter.x":"x"})", 7,
         R"(invalid net sysctl key: "netfilter/x" (only keys below net. are allowed))"},
        {R"("sysctl":{"net":"x"})", 7, R"(invalid net sysctl key: "net" (only keys below net. are allowed))"},
        {R"("args":{"cni":{"sysctl":"x"}})", 7, "args.cni.sysctl must be an object of strings"},
        {R"("args":{"cni":{"sysctl":{"net.core.somaxconn":true}}})", 7,
         R"(args.cni.sysctl value of "net.core.somaxconn" must be a string)"},
        {R"("mac":1)", 7, R"(invalid value for "mac": expected a string, got number)"},
        {R"("mac":"c2:11:22:33:44")", 7, R"(invalid MAC address "c2:11:22:33:44")"},
        {R"("mtu":"1400")", 7, R"(invalid value for "mtu": expected an integer, got string)"},
        {R"("mtu":1.5)", 7, R"(invalid value for "mtu": expected an integer in range -2147483648..2147483647)"},
        {R"("mtu":-1)", 7, "invalid MTU -1: must be 0 (unchanged) or positive"},
        {R"("promisc":"true")", 7, R"(invalid value for "promisc": expected a boolean, got string)"},
        {R"("allmulti":1)", 7, R"(invalid value for "allmulti": expected a boolean, got number)"},
        {R"("txQLen":true)", 7, R"(invalid value for "txQLen": expected an integer, got bool)"},
        {R"("txQLen":-5)", 7, "invalid txQLen -5: must not be negative"},
        {R"("dataDir":["/x"])", 7, R"(invalid value for "dataDir": expected a string, got array)"},
        {R"("runtimeConfig":[])", 7, "runtimeConfig must be an object"},
        {R"("runtimeConfig":{"mac":5})", 7, "runtimeConfig.mac must be a string"},
        {R"("args":"x")", 7, "args must be an object"},
        {R"("args":{"cni":[]})", 7, "args.cni must be an object"},
        {R"("args":{"cni":{"mac":false}})", 7, R"(invalid value for "mac": expected a string, got bool)"},
        {R"("args":{"cni":{"mtu":-2}})", 7, "invalid MTU -2: must be 0 (unchanged) or positive"},
        {R"("args":{"cni":{"txQLen":"1"}})", 7, R"(invalid value for "txQLen": expected an integer, got string)"},
    };
    for (const auto& c : cases) {
        INFO(c.body);
        Error e = bad(c.body);
        CHECK(e.code == c.code);
        CHECK(e.msg == c.msg);
    }
}

TEST_CASE("tuning: DEL and GC read without validating values", "[tuning]") {
    Conf c = ok(R"("sysctl":{"kernel.x":"1","kernel.x":"2"},"mtu":-1,"txQLen":-1,"mac":"nope")", false);
    REQUIRE(c.sysctls.size() == 1);
    checkSysctl(c.sysctls[0], "kernel.x", "2", "");  // merged, not refused; not resolved
    CHECK(c.mtu == -1);
    CHECK(c.txqlen == -1);
    CHECK(c.mac == "nope");
    // types are still checked
    CHECK(bad(R"("mtu":"x")", false).msg == R"(invalid value for "mtu": expected an integer, got string)");
    CHECK(bad(R"("dataDir":1)", false).code == 7);
}

TEST_CASE("tuning: sysctlPath is upstream's getSysctlFilename below /proc/sys/net", "[tuning]") {
    std::string rel;
    REQUIRE_FALSE(sysctlPath("net.ipv4.ip_forward", "eth0", rel));
    CHECK(rel == "net/ipv4/ip_forward");
    REQUIRE_FALSE(sysctlPath("net.ipv4.conf.IFNAME.IFNAME", "eth1", rel));  // the first IFNAME only
    CHECK(rel == "net/ipv4/conf/eth1/IFNAME");
    REQUIRE_FALSE(sysctlPath("net..ipv4//conf/eth0/rp_filter/", "x", rel));  // cleaned
    CHECK(rel == "net/ipv4/conf/eth0/rp_filter");
    REQUIRE_FALSE(sysctlPath("net.ipv4.conf.IFNAME.rp_filter", "../ipv6", rel));  // the ifname's ".." resolves
    CHECK(rel == "net/ipv4/ipv6/rp_filter");
    REQUIRE_FALSE(sysctlPath("net.ipv4.conf.IFNAME.rp_filter", "eth0.100", rel));  // the ifname's dots stay
    CHECK(rel == "net/ipv4/conf/eth0.100/rp_filter");
    Error e = sysctlPath("net.IFNAME", "..", rel);
    CHECK(e.code == 7);
    CHECK(e.msg == R"(invalid net sysctl key: "net/.." (only keys below net. are allowed))");
    CHECK(sysctlPath("", "eth0", rel).code == 7);
    CHECK(sysctlPath("net.", "eth0", rel).code == 7);
    CHECK(sysctlPath("network.x", "eth0", rel).code == 7);
}

TEST_CASE("tuning: the allowlist file", "[tuning]") {
    testutil::TmpDir d("cnibox-tuning");
    std::string file = d / "allowlist.conf";
    // no file: everything allowed
    CHECK_FALSE(checkAllowlist(sysctls({"net.ipv4.ip_forward"}), file));

    writeFile(file, "  ^net\\.ipv4\\.conf\\.IFNAME\\.arp_(ignore|announce)$  \n\n\t\nsomaxconn\n");
    CHECK_FALSE(checkAllowlist(sysctls({"net.ipv4.conf.IFNAME.arp_ignore", "net.core.somaxconn"}), file));
    CHECK_FALSE(checkAllowlist({}, file));
    Error e = checkAllowlist(sysctls({"net.ipv4.conf.IFNAME.arp_announce", "net.ipv4.conf.eth0.arp_ignore"}), file);
    CHECK(e.code == 7);
    CHECK(e.msg == "Sysctl net.ipv4.conf.eth0.arp_ignore is not allowed. Only the following sysctls are allowed: "
                   "[^net\\.ipv4\\.conf\\.IFNAME\\.arp_(ignore|announce)$ somaxconn]");
    // the key as configured is matched, not its path
    CHECK(checkAllowlist(sysctls({"net/core/somaxconn"}), file).code == 0);
    writeFile(file, "^net\\.core\\.somaxconn$\n");
    CHECK(checkAllowlist(sysctls({"net/core/somaxconn"}), file).code == 7);

    writeFile(file, "^net\\.(ipv4\n");
    e = checkAllowlist(sysctls({"net.ipv4.ip_forward"}), file);
    CHECK(e.code == 7);
    CHECK(e.msg.rfind("invalid regexp \"^net\\\\.(ipv4\" in " + file + ": ", 0) == 0);
    CHECK(e.msg.size() > ("invalid regexp \"^net\\\\.(ipv4\" in " + file + ": ").size());  // regerror's text
    CHECK_FALSE(checkAllowlist({}, file));  // no sysctls: not read

    // unreadable: code 999 with the errno's text
    e = checkAllowlist(sysctls({"net.ipv4.ip_forward"}), d.path);
    CHECK(e.code == 999);
    CHECK(e.msg == "failed to read " + d.path + ": is a directory");
    CHECK_FALSE(checkAllowlist({}, d.path));
}

TEST_CASE("tuning: the backup file is upstream's configToRestore", "[tuning]") {
    CHECK(backupName("c1", "eth0") == "c1_eth0.json");
    CHECK(backupJson(Backup{}) == "{}");
    Backup b;
    b.mac = "c2:11:22:33:44:55";
    b.promisc = false;
    b.mtu = 1500;
    b.allmulti = true;
    b.txqlen = 1000;
    std::string text = backupJson(b);
    CHECK(text ==
          "{\n"
          " \"mac\": \"c2:11:22:33:44:55\",\n"
          " \"promisc\": false,\n"
          " \"mtu\": 1500,\n"
          " \"allmulti\": true,\n"
          " \"txQLen\": 1000\n"
          "}");
    Backup got;
    REQUIRE(parseBackup(text, got));
    CHECK(got.mac == b.mac);
    CHECK(got.promisc == false);
    CHECK(got.mtu == 1500);
    CHECK(got.allmulti == true);
    CHECK(got.txqlen == 1000);

    Backup partial;
    REQUIRE(parseBackup(R"({"mtu": 9000})", partial));
    CHECK(partial.mtu == 9000);
    CHECK(partial.mac.empty());
    CHECK_FALSE(partial.promisc);
    CHECK_FALSE(partial.allmulti);
    CHECK_FALSE(partial.txqlen);
    CHECK(backupJson(partial) == "{\n \"mtu\": 9000\n}");
    CHECK(partial.network.empty());   // upstream's backups name no network

    // the network, cnibox's own key, after upstream's members
    Backup mine;
    mine.mtu = 1500;
    mine.network = "net\"1";
    CHECK(backupJson(mine) == "{\n \"mtu\": 1500,\n \"network\": \"net\\\"1\"\n}");
    Backup back;
    REQUIRE(parseBackup(backupJson(mine), back));
    CHECK(back.network == "net\"1");
    CHECK(back.mtu == 1500);

    Backup x;
    CHECK(parseBackup("{}", x));
    CHECK_FALSE(parseBackup("[]", x));
    CHECK_FALSE(parseBackup("not json", x));
    CHECK_FALSE(parseBackup(R"({"mtu": 1500, "other": 1})", x));
    CHECK_FALSE(parseBackup(R"({"mtu": 1500, "network": 1})", x));
    CHECK_FALSE(parseBackup(R"({"mtu": "1500"})", x));
    CHECK_FALSE(parseBackup(R"({"promisc": 1})", x));
    CHECK_FALSE(parseBackup(R"({"allmulti": "yes"})", x));
    CHECK_FALSE(parseBackup(R"({"txQLen": 1.5})", x));
    CHECK_FALSE(parseBackup(R"({"mac": 5})", x));
}
