#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>

#include "cni/skel.h"
#include "config.h"
#include "helpers.h"
#include "util/fs.h"

using namespace cni;
using Env = std::vector<std::pair<std::string, std::string>>;

namespace {

struct Calls {
    int add = 0, del = 0, check = 0, gc = 0, status = 0;
    std::string lastIfname;
    Error fail;
} calls;

Error fakeAdd(const CmdArgs& a, Result& out) {
    calls.add++;
    calls.lastIfname = a.ifname;
    if (calls.fail) return calls.fail;
    out.interfaces.push_back({.name = a.ifname, .sandbox = a.netns});
    out.ips.push_back({.interface = 0, .address = *util::IPNet::parse("10.0.0.2/24"),
                       .gateway = util::IP::parse("10.0.0.1")});
    return {};
}
Error fakeDel(const CmdArgs&) { return calls.del++, calls.fail; }
Error fakeCheck(const CmdArgs&) { return calls.check++, calls.fail; }
Error fakeGC(const CmdArgs&) { return calls.gc++, calls.fail; }
Error fakeStatus(const CmdArgs&) { return calls.status++, calls.fail; }

Plugin fullPlugin() {
    Plugin p;
    p.add = fakeAdd;
    p.del = fakeDel;
    p.check = fakeCheck;
    p.gc = fakeGC;
    p.status = fakeStatus;
    return p;
}

const char* kNetns = "/proc/self/ns/net";  // a namespace; the own-netns check is overridden below

Env baseEnv(std::string_view cmd) {
    return {{"CNI_COMMAND", std::string(cmd)}, {"CNI_CONTAINERID", "ctr1"}, {"CNI_NETNS", kNetns},
            {"CNI_IFNAME", "eth0"},            {"CNI_ARGS", "IgnoreUnknown=1"}, {"CNI_PATH", "/opt/cni/bin"},
            {"CNI_NETNS_OVERRIDE", "1"}};
}

Env without(Env env, std::string_view key) {
    for (auto& [k, v] : env)
        if (k == key) v.clear();
    return env;
}

Env with(Env env, std::string_view key, std::string value) {
    for (auto& [k, v] : env)
        if (k == key) {
            v = std::move(value);
            return env;
        }
    env.emplace_back(std::string(key), std::move(value));
    return env;
}

std::string conf(std::string_view version, std::string_view extra = "") {
    std::string s = "{\"cniVersion\":\"" + std::string(version) + "\",\"name\":\"net1\",\"type\":\"fake\"";
    if (!extra.empty()) s += "," + std::string(extra);
    return s + "}";
}

Error parse(const Plugin& p, Command cmd, const Env& env, std::string stdinData, CmdArgs* out = nullptr) {
    CmdArgs a;
    Error e = parseCmdArgs(p, cmd, env, std::move(stdinData), a);
    if (out) *out = a;
    return e;
}

}  // namespace

TEST_CASE("commands", "[skel]") {
    for (auto c : {Command::Add, Command::Del, Command::Check, Command::GC, Command::Status, Command::Version}) {
        REQUIRE(parseCommand(str(c)));
        CHECK(*parseCommand(str(c)) == c);
    }
    CHECK(str(Command::Status) == "STATUS");
    CHECK_FALSE(parseCommand("add"));
    CHECK_FALSE(parseCommand(""));
    CHECK_FALSE(parseCommand("ADD "));
}

TEST_CASE("required environment per verb", "[skel]") {
    struct Verb {
        Command cmd;
        std::vector<std::string> required;
    } verbs[] = {
        {Command::Add, {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"}},
        {Command::Check, {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"}},
        {Command::Del, {"CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"}},
        {Command::GC, {"CNI_PATH"}},
        {Command::Status, {"CNI_PATH"}},
        {Command::Version, {}},
    };
    Plugin p = fullPlugin();
    for (const auto& v : verbs) {
        std::string version = v.cmd == Command::GC || v.cmd == Command::Status ? "1.1.0" : "1.0.0";
        Env full = baseEnv(str(v.cmd));
        INFO("verb " << str(v.cmd));
        REQUIRE_FALSE(parse(p, v.cmd, full, conf(version)));
        for (const char* var : {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH", "CNI_NETNS_OVERRIDE"}) {
            INFO("without " << var);
            bool required = std::find(v.required.begin(), v.required.end(), var) != v.required.end();
            Error e = parse(p, v.cmd, without(full, var), conf(version));
            if (required) {
                CHECK(e.code == kInvalidEnv);
                CHECK(e.msg == std::string("required env variables [") + var + "] missing");
            } else if (std::string(var) != "CNI_NETNS_OVERRIDE") {
                CHECK_FALSE(e);
            }
        }
        // All of them at once, named in upstream's order.
        Env bare = {{"CNI_COMMAND", std::string(str(v.cmd))}};
        Error e = parse(p, v.cmd, bare, conf(version));
        if (v.required.empty()) {
            CHECK_FALSE(e);
        } else {
            std::string joined;
            for (const auto& r : v.required) joined += (joined.empty() ? "" : ",") + r;
            CHECK(e.code == kInvalidEnv);
            CHECK(e.msg == "required env variables [" + joined + "] missing");
        }
    }
}

TEST_CASE("env values are validated only where required, in order", "[skel]") {
    Plugin p = fullPlugin();
    // GC and STATUS do not look at the container id or ifname.
    CHECK_FALSE(parse(p, Command::GC, with(baseEnv("GC"), "CNI_CONTAINERID", "bad id!"), conf("1.1.0")));
    CHECK_FALSE(parse(p, Command::Status, with(baseEnv("STATUS"), "CNI_IFNAME", "way-too-long-ifname"), conf("1.1.0")));
    CHECK_FALSE(parse(p, Command::Version, with(baseEnv("VERSION"), "CNI_CONTAINERID", "-x"), "garbage"));
    // DEL checks the ifname.
    Error e = parse(p, Command::Del, with(baseEnv("DEL"), "CNI_IFNAME", "a b"), conf("1.0.0"));
    CHECK(e.code == kInvalidEnv);
    CHECK(e.msg == "interface name contains / or : or whitespace characters");
    // A bad value is reported before variables missing later in the list...
    e = parse(p, Command::Add, without(with(baseEnv("ADD"), "CNI_IFNAME", "a:b"), "CNI_CONTAINERID"), conf("1.0.0"));
    CHECK(e.msg == "interface name contains / or : or whitespace characters");
    e = parse(p, Command::Add, without(with(baseEnv("ADD"), "CNI_CONTAINERID", "-x"), "CNI_PATH"), conf("1.0.0"));
    CHECK(e.code == kInvalidEnv);
    CHECK(e.msg == "invalid characters in containerID");
    CHECK(e.details == "-x");
    // ...and env problems before stdin problems.
    e = parse(p, Command::Add, without(baseEnv("ADD"), "CNI_PATH"), "not json");
    CHECK(e.msg == "required env variables [CNI_PATH] missing");
}

TEST_CASE("container id rules", "[skel]") {
    for (const char* ok : {"a", "A", "0", "abc-._x", "0123456789abcdef", "a..b", "a--"}) {
        INFO(ok);
        CHECK_FALSE(validateContainerID(ok));
    }
    for (const char* bad : {"-a", ".a", "_a", "a b", "a/b", "a:b", "a;b", "\xc3\xbc", "a\n", " a", "a$"}) {
        INFO(bad);
        Error e = validateContainerID(bad);
        CHECK(e.code == kInvalidEnv);
        CHECK(e.msg == "invalid characters in containerID");
        CHECK(e.details == bad);
    }
    Error e = validateContainerID("");
    CHECK(e.code == kUnknownContainer);
    CHECK(e.msg == "missing containerID");
}

TEST_CASE("network name rules", "[skel]") {
    Plugin p = fullPlugin();
    for (const char* ok : {"net1", "N", "my-net_1.2"}) {
        INFO(ok);
        CHECK_FALSE(validateNetworkName(ok));
        CHECK_FALSE(parse(p, Command::Add, baseEnv("ADD"), std::string("{\"name\":\"") + ok + "\"}"));
    }
    for (const char* bad : {"-net", "a b", "net/1", "net:1", ".net", "n\xc3\xa9t"}) {
        INFO(bad);
        Error e = parse(p, Command::Add, baseEnv("ADD"), std::string("{\"name\":\"") + bad + "\"}");
        CHECK(e.code == kInvalidNetConf);
        CHECK(e.msg == "invalid characters found in network name");
        CHECK(e.details == bad);
    }
    CHECK(validateNetworkName("").code == kInvalidNetConf);
}

TEST_CASE("interface name rules", "[skel]") {
    struct Case {
        std::string name;
        const char* err;
    } cases[] = {
        {"eth0", nullptr},
        {"a", nullptr},
        {"123456789012345", nullptr},
        {"...", nullptr},
        {"\xc3\xbc", nullptr},
        {"", "interface name is empty"},
        {"1234567890123456", "interface name is too long"},
        {".", "interface name is . or .."},
        {"..", "interface name is . or .."},
        {"a/b", "interface name contains / or : or whitespace characters"},
        {"a:b", "interface name contains / or : or whitespace characters"},
        {"a b", "interface name contains / or : or whitespace characters"},
        {"a\tb", "interface name contains / or : or whitespace characters"},
        {"a\nb", "interface name contains / or : or whitespace characters"},
        {"a\vb", "interface name contains / or : or whitespace characters"},
        {"a\xc2\xa0", "interface name contains / or : or whitespace characters"},   // U+00A0
        {"a\xc2\x85", "interface name contains / or : or whitespace characters"},   // U+0085
        {"\xe3\x80\x80", "interface name contains / or : or whitespace characters"},  // U+3000
        {"\xe2\x80\x83x", "interface name contains / or : or whitespace characters"},  // U+2003
    };
    for (const auto& c : cases) {
        INFO(c.name);
        Error e = validateIfname(c.name);
        if (!c.err) {
            CHECK_FALSE(e);
        } else {
            CHECK(e.code == kInvalidEnv);
            CHECK(e.msg == c.err);
        }
    }
    CHECK(validateIfname("1234567890123456").details == "interface name should be less than 16 characters");
}

TEST_CASE("stdin config checks", "[skel]") {
    calls = {};
    Plugin p = fullPlugin();
    struct Case {
        std::string in;
        int code;
        const char* msg;
    } cases[] = {
        {"", kDecodeFailure, "error unmarshall network config: unexpected end of JSON input"},
        {"{", kDecodeFailure, "error unmarshall network config: unexpected end of JSON input"},
        {"xx", kDecodeFailure, "error unmarshall network config: invalid character 'x' looking for beginning of value"},
        {"[]", kDecodeFailure,
         "error unmarshall network config: json: cannot unmarshal array into Go value of type struct { Name string "
         "\"json:\\\"name\\\"\" }"},
        {"\"s\"", kDecodeFailure,
         "error unmarshall network config: json: cannot unmarshal string into Go value of type struct { Name string "
         "\"json:\\\"name\\\"\" }"},
        {"null", kInvalidNetConf, "missing network name"},
        {"{}", kInvalidNetConf, "missing network name"},
        {R"({"name":""})", kInvalidNetConf, "missing network name"},
        {R"({"name":null})", kInvalidNetConf, "missing network name"},
        {R"({"name":5})", kDecodeFailure,
         "error unmarshall network config: json: cannot unmarshal number into Go struct field .name of type string"},
        {R"({"name":"n","cniVersion":5})", kDecodeFailure,
         "decoding version from network config: json: cannot unmarshal number into Go struct field .cniVersion of type "
         "string"},
        {R"({"name":"n","cniVersion":"9.9.9"})", kIncompatibleVersion, "incompatible CNI versions"},
        {R"({"name":"n","cniVersion":"1.0"})", kIncompatibleVersion, "incompatible CNI versions"},
        {R"({"name":"n","cniVersion":"1.0.0","ipam":"host-local"})", kInvalidNetConf,
         "invalid value for \"ipam\": expected an object, got string"},
        {R"({"name":"n","cniVersion":"1.0.0","type":1})", kInvalidNetConf,
         "invalid value for \"type\": expected a string, got number"},
        {R"({"name":"n","cniVersion":"1.0.0","ipam":{"type":[]}})", kInvalidNetConf,
         "invalid value for \"type\": expected a string, got array"},
        {R"({"name":"n","cniVersion":"1.0.0","dns":[]})", kInvalidNetConf,
         "invalid value for \"dns\": expected an object, got array"},
        {R"({"name":"n","cniVersion":"1.0.0","prevResult":[]})", kDecodeFailure,
         "could not parse prevResult: expected an object, got array"},
        {R"({"name":"n","cniVersion":"1.0.0","prevResult":{"cniVersion":"0.4.0"}})", kDecodeFailure,
         "could not parse prevResult: result type supports [1.0.0 1.1.0] but unmarshalled CNIVersion is \"0.4.0\""},
        {R"({"name":"n","cniVersion":"0.2.0","prevResult":{"cniVersion":"0.4.0"}})", kDecodeFailure,
         "could not parse prevResult: result type supports [ 0.1.0 0.2.0] but unmarshalled CNIVersion is \"0.4.0\""},
        {R"({"name":"n","cniVersion":"0.3.1","prevResult":{"cniVersion":"0.9.9"}})", kDecodeFailure,
         "could not parse prevResult: result type supports [0.3.0 0.3.1 0.4.0] but unmarshalled CNIVersion is \"0.9.9\""},
        {R"({"name":"n","cniVersion":"1.0.0","prevResult":{"ips":[{"address":"bad"}]}})", kDecodeFailure, nullptr},
        {R"({"name":"n","cniVersion":"1.0.0","cni.dev/valid-attachments":{}})", kInvalidNetConf, nullptr},
    };
    for (const auto& c : cases) {
        INFO(c.in);
        Error e = parse(p, Command::Add, baseEnv("ADD"), c.in);
        CHECK(e.code == c.code);
        if (c.msg) CHECK(e.msg == c.msg);
        CHECK(calls.add == 0);
    }
    Error e = parse(p, Command::Add, baseEnv("ADD"), R"({"name":"n","cniVersion":"9.9.9"})");
    CHECK(e.details == R"(config is "9.9.9", plugin supports ["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"])");
    Plugin newer = fullPlugin();
    newer.versions = VersionSet::from(Ver::v030);
    e = parse(newer, Command::Add, baseEnv("ADD"), R"({"name":"n","cniVersion":"0.2.0"})");
    CHECK(e.code == kIncompatibleVersion);
    CHECK(e.details == R"(config is "0.2.0", plugin supports ["0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"])");
    // No cniVersion is 0.1.0.
    e = parse(newer, Command::Add, baseEnv("ADD"), R"({"name":"n"})");
    CHECK(e.details == R"(config is "0.1.0", plugin supports ["0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"])");
}

TEST_CASE("version rules per verb", "[skel]") {
    struct Case {
        Command cmd;
        const char* version;  // nullptr: no cniVersion key
        int code;
        const char* msg;
    } cases[] = {
        {Command::Add, nullptr, 0, nullptr},
        {Command::Add, "0.1.0", 0, nullptr},
        {Command::Add, "1.1.0", 0, nullptr},
        {Command::Del, "0.2.0", 0, nullptr},
        {Command::Del, "2.0.0", kIncompatibleVersion, "incompatible CNI versions"},
        {Command::Check, nullptr, kIncompatibleVersion, "config version does not allow CHECK"},
        {Command::Check, "0.3.1", kIncompatibleVersion, "config version does not allow CHECK"},
        {Command::Check, "0.4.0", 0, nullptr},
        {Command::Check, "1.0.0", 0, nullptr},
        {Command::Check, "1.1.0", 0, nullptr},
        {Command::Check, "0.5.0", kIncompatibleVersion, "incompatible CNI versions"},
        {Command::Check, "1.2.0", kIncompatibleVersion, "plugin version does not allow CHECK"},
        {Command::Check, "x.4.0", kDecodeFailure,
         "failed to convert major version part \"x\": strconv.Atoi: parsing \"x\": invalid syntax"},
        {Command::GC, "1.0.0", kIncompatibleVersion, "config version does not allow GC"},
        {Command::GC, "0.4.0", kIncompatibleVersion, "config version does not allow GC"},
        {Command::GC, nullptr, kIncompatibleVersion, "config version does not allow GC"},
        {Command::GC, "1.1.0", 0, nullptr},
        {Command::GC, "1.2.0", kIncompatibleVersion, "plugin version does not allow GC"},
        {Command::GC, "1.1.0.0", kDecodeFailure, "invalid version \"1.1.0.0\": too many parts"},
        {Command::Status, "1.0.0", kIncompatibleVersion, "config version does not allow STATUS"},
        {Command::Status, "1.1.0", 0, nullptr},
        {Command::Status, "1.1.1", kIncompatibleVersion, "plugin version does not allow STATUS"},
        {Command::Version, "9.9.9", 0, nullptr},
    };
    Plugin p = fullPlugin();
    for (const auto& c : cases) {
        INFO(str(c.cmd) << " " << (c.version ? c.version : "(none)"));
        std::string in = c.version ? conf(c.version) : R"({"name":"net1"})";
        Error e = parse(p, c.cmd, baseEnv(str(c.cmd)), in);
        CHECK(e.code == c.code);
        if (c.msg) CHECK(e.msg == c.msg);
    }
    // A plugin limited to 0.4.0+ refuses CHECK from an older-only set.
    Plugin old = fullPlugin();
    old.versions = VersionSet(0b11);  // 0.1.0, 0.2.0
    Error e = parse(old, Command::Check, baseEnv("CHECK"), conf("0.4.0"));
    CHECK(e.msg == "plugin version does not allow CHECK");
}

TEST_CASE("the common config keys are parsed", "[skel]") {
    Plugin p = fullPlugin();
    CmdArgs a;
    std::string in = R"({"cniVersion":"0.4.0","name":"net1","type":"bridge","bridge":"br0",
        "ipam":{"type":"host-local","subnet":"10.0.0.0/24"},
        "dns":{"nameservers":["10.0.0.53"]},
        "runtimeConfig":{"mac":"02:00:00:00:00:09"},
        "args":{"cni":{"ips":["10.0.0.9"]}},
        "prevResult":{"interfaces":[{"name":"eth0"}],"ips":[{"version":"4","address":"10.0.0.9/24"}]},
        "cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"},{"containerID":"c2","ifname":"net1"}]})";
    REQUIRE_FALSE(parse(p, Command::Add, baseEnv("ADD"), in, &a));
    CHECK(a.command == Command::Add);
    CHECK(a.containerID == "ctr1");
    CHECK(a.netns == kNetns);
    CHECK(a.ifname == "eth0");
    CHECK(a.args == "IgnoreUnknown=1");
    CHECK(a.path == "/opt/cni/bin");
    CHECK(a.netnsOverride == "1");
    CHECK(a.stdinData == in);
    CHECK(a.conf.cniVersion == "0.4.0");
    CHECK(a.conf.name == "net1");
    CHECK(a.conf.type == "bridge");
    CHECK(a.conf.ipamType == "host-local");
    CHECK(a.conf.dns.nameservers == std::vector<std::string>{"10.0.0.53"});
    REQUIRE(a.conf.prevResult);
    CHECK(a.conf.prevResult->cniVersion == "0.4.0");  // taken from the config
    CHECK(a.conf.prevResult->interfaces.size() == 1);
    REQUIRE(a.conf.prevResult->ips.size() == 1);
    CHECK(a.conf.prevResult->ips[0].address.str() == "10.0.0.9/24");
    CHECK(a.conf.hasValidAttachments);
    CHECK(a.conf.validAttachments == std::vector<Attachment>{{"c1", "eth0"}, {"c2", "net1"}});
    REQUIRE(a.member("bridge"));
    CHECK(std::string(a.member("bridge")->GetString()) == "br0");
    CHECK(a.member("nope") == nullptr);
    REQUIRE(a.ipam());
    CHECK(std::string((*a.ipam())["subnet"].GetString()) == "10.0.0.0/24");
    REQUIRE(a.runtimeConfig("mac"));
    CHECK(std::string(a.runtimeConfig("mac")->GetString()) == "02:00:00:00:00:09");
    CHECK(a.runtimeConfig("ips") == nullptr);
    REQUIRE(a.argsCni("ips"));
    CHECK(a.argsCni("ips")->Size() == 1);
    CHECK(a.argsCni("labels") == nullptr);
    CHECK(a.config().IsObject());

    // Defaults.
    REQUIRE_FALSE(parse(p, Command::Add, baseEnv("ADD"), R"({"name":"n"})", &a));
    CHECK(a.conf.cniVersion == "0.1.0");
    CHECK(a.conf.type.empty());
    CHECK(a.conf.ipamType.empty());
    CHECK_FALSE(a.conf.prevResult);
    CHECK_FALSE(a.conf.hasValidAttachments);
    CHECK(a.conf.dns.empty());
    // A prevResult without cniVersion is read in the config's version.
    REQUIRE_FALSE(parse(p, Command::Add, baseEnv("ADD"),
                        R"({"name":"n","cniVersion":"0.2.0","prevResult":{"ip4":{"ip":"10.1.0.2/16"}}})", &a));
    REQUIRE(a.conf.prevResult);
    CHECK(a.conf.prevResult->cniVersion == "0.2.0");
    CHECK(a.conf.prevResult->ips.size() == 1);
    // ...and one of the same family keeps its own version.
    REQUIRE_FALSE(parse(p, Command::Add, baseEnv("ADD"),
                        R"({"name":"n","cniVersion":"1.1.0","prevResult":{"cniVersion":"1.0.0"}})", &a));
    CHECK(a.conf.prevResult->cniVersion == "1.0.0");
    // VERSION ignores stdin.
    REQUIRE_FALSE(parse(p, Command::Version, {{"CNI_COMMAND", "VERSION"}}, "{{{", &a));
    CHECK(a.config().IsObject());
    CHECK(a.member("name") == nullptr);
}

TEST_CASE("CNI_NETNS checks", "[skel]") {
    Plugin p = fullPlugin();
    Env env = without(baseEnv("ADD"), "CNI_NETNS_OVERRIDE");
    Error e = parse(p, Command::Add, with(env, "CNI_NETNS", "/nonexistent/ns"), conf("1.0.0"));
    CHECK(e.code == kInvalidNetNS);
    CHECK(e.msg == "failed to Statfs \"/nonexistent/ns\": no such file or directory");
    e = parse(p, Command::Check, with(env, "CNI_NETNS", "/"), conf("1.0.0"));
    CHECK(e.code == kInvalidNetNS);
    CHECK(e.msg.rfind("unknown FS magic on \"/\": ", 0) == 0);
    // The plugin's own namespace is refused for ADD and DEL unless overridden.
    e = parse(p, Command::Add, env, conf("1.0.0"));
    CHECK(e.code == kInvalidNetNS);
    CHECK(e.msg == "plugin's netns and netns from CNI_NETNS should not be the same");
    e = parse(p, Command::Del, with(baseEnv("DEL"), "CNI_NETNS_OVERRIDE", "0"), conf("1.0.0"));
    CHECK(e.code == kInvalidNetNS);
    for (const char* o : {"1", "true", "TRUE", "True"}) {
        INFO(o);
        CHECK_FALSE(parse(p, Command::Add, with(env, "CNI_NETNS_OVERRIDE", o), conf("1.0.0")));
    }
    CHECK(parse(p, Command::Add, with(env, "CNI_NETNS_OVERRIDE", "yes"), conf("1.0.0")).code == kInvalidNetNS);
    CHECK_FALSE(parse(p, Command::Check, env, conf("1.0.0")));  // CHECK has no own-netns rule
    // DEL tolerates a missing or gone namespace.
    CHECK_FALSE(parse(p, Command::Del, without(env, "CNI_NETNS"), conf("1.0.0")));
    CHECK_FALSE(parse(p, Command::Del, with(env, "CNI_NETNS", "/nonexistent/ns"), conf("1.0.0")));
    // Plugins that never enter the namespace skip the check.
    Plugin ipam = fullPlugin();
    ipam.checkNetns = false;
    CHECK_FALSE(parse(ipam, Command::Add, with(env, "CNI_NETNS", "/nonexistent/ns"), conf("1.0.0")));
    CHECK_FALSE(parse(ipam, Command::Check, with(env, "CNI_NETNS", "/tmp"), conf("1.0.0")));
}

TEST_CASE("dispatch runs the handler and prints", "[skel]") {
    calls = {};
    Plugin p = fullPlugin();
    CmdArgs a;
    std::string out = "junk";

    REQUIRE_FALSE(parse(p, Command::Version, {{"CNI_COMMAND", "VERSION"}}, "", &a));
    REQUIRE_FALSE(dispatch(p, a, out));
    CHECK(out == "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.1.0\",\"0.2.0\",\"0.3.0\",\"0.3.1\",\"0.4.0\","
                 "\"1.0.0\",\"1.1.0\"]}\n");
    Plugin some = p;
    some.versions = VersionSet::from(Ver::v040);
    REQUIRE_FALSE(dispatch(some, a, out));
    CHECK(out == "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n");

    REQUIRE_FALSE(parse(p, Command::Add, baseEnv("ADD"), conf("0.3.1"), &a));
    REQUIRE_FALSE(dispatch(p, a, out));
    CHECK(calls.add == 1);
    CHECK(out == R"({
    "cniVersion": "0.3.1",
    "interfaces": [
        {
            "name": "eth0",
            "sandbox": "/proc/self/ns/net"
        }
    ],
    "ips": [
        {
            "version": "4",
            "interface": 0,
            "address": "10.0.0.2/24",
            "gateway": "10.0.0.1"
        }
    ],
    "dns": {}
})");
    REQUIRE_FALSE(parse(p, Command::Add, baseEnv("ADD"), conf("0.2.0"), &a));
    REQUIRE_FALSE(dispatch(p, a, out));
    CHECK(testutil::sameJson(out, R"({"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.2/24","gateway":"10.0.0.1"},"dns":{}})"));

    using Pair = std::pair<Command, int*>;
    for (auto [cmd, counter] : std::initializer_list<Pair>{{Command::Del, &calls.del}, {Command::Check, &calls.check},
                                                           {Command::GC, &calls.gc}, {Command::Status, &calls.status}}) {
        INFO(str(cmd));
        REQUIRE_FALSE(parse(p, cmd, baseEnv(str(cmd)), conf("1.1.0"), &a));
        out = "junk";
        REQUIRE_FALSE(dispatch(p, a, out));
        CHECK(out.empty());
        CHECK(*counter == 1);
        calls.fail = Error(kTryAgainLater, "busy", "later");
        Error e = dispatch(p, a, out);
        CHECK(e.code == kTryAgainLater);
        CHECK(e.details == "later");
        CHECK(*counter == 2);
        calls.fail = {};
    }
    // Missing handlers are successful no-ops.
    Plugin none;
    for (Command cmd : {Command::Add, Command::Del, Command::Check, Command::GC, Command::Status}) {
        INFO(str(cmd));
        REQUIRE_FALSE(parse(none, cmd, baseEnv(str(cmd)), conf("1.1.0"), &a));
        out = "junk";
        CHECK_FALSE(dispatch(none, a, out));
        CHECK(out.empty());
    }
    // A failing ADD prints nothing; a result that cannot be converted is an error.
    calls.fail = Error(kPluginSpecific + 1, "nope");
    REQUIRE_FALSE(parse(p, Command::Add, baseEnv("ADD"), conf("1.0.0"), &a));
    CHECK(dispatch(p, a, out).code == kPluginSpecific + 1);
    calls.fail = {};
}

namespace {

Error addNoIP(const CmdArgs&, Result& out) {
    out.interfaces.push_back({.name = "eth0"});
    return {};
}

struct Run {
    int rc;
    std::string out, err;
};

// Runs runPlugin in a child with exactly `env` and `in` on stdin.
Run runChild(const Plugin& p, const Env& env, const std::string& in) {
    int ip[2], op[2], ep[2];
    REQUIRE(pipe(ip) == 0);
    REQUIRE(pipe(op) == 0);
    REQUIRE(pipe(ep) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(ip[0], 0);
        dup2(op[1], 1);
        dup2(ep[1], 2);
        for (int fd : {ip[0], ip[1], op[0], op[1], ep[0], ep[1]}) close(fd);
        clearenv();
        for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
        _exit(runPlugin("fake", p));
    }
    close(ip[0]);
    close(op[1]);
    close(ep[1]);
    (void)util::writeAll(ip[1], in);
    close(ip[1]);
    Run r;
    util::readAll(op[0], r.out);
    util::readAll(ep[0], r.err);
    close(op[0]);
    close(ep[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

}  // namespace

TEST_CASE("runPlugin as a process", "[skel]") {
    Plugin p = fullPlugin();

    Run r = runChild(p, {}, "");
    CHECK(r.rc == 0);
    CHECK(r.out.empty());
    CHECK(r.err == std::string("CNI fake plugin v") + CNIBOX_VERSION +
                       "\nCNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0\n");

    r = runChild(p, {{"CNI_COMMAND", "VERSION"}}, "ignored");
    CHECK(r.rc == 0);
    CHECK(r.out == "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.1.0\",\"0.2.0\",\"0.3.0\",\"0.3.1\","
                   "\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n");

    r = runChild(p, {{"CNI_COMMAND", "FOO"}}, conf("1.0.0"));
    CHECK(r.rc == 1);
    CHECK(r.out == "{\n    \"code\": 4,\n    \"msg\": \"unknown CNI_COMMAND: FOO\"\n}");
    r = runChild(p, {{"CNI_COMMAND", "add"}}, "xx");  // the config is checked first
    CHECK(r.rc == 1);
    CHECK(r.out.find("\"code\": 6") != std::string::npos);

    r = runChild(p, {{"CNI_COMMAND", "ADD"}}, conf("1.0.0"));
    CHECK(r.rc == 1);
    CHECK(r.out == "{\n    \"code\": 4,\n    \"msg\": \"required env variables "
                   "[CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing\"\n}");

    Env env = baseEnv("ADD");
    r = runChild(p, env, conf("1.0.0"));
    CHECK(r.rc == 0);
    CHECK(testutil::sameJson(r.out, R"({"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/proc/self/ns/net"}],
        "ips":[{"interface":0,"address":"10.0.0.2/24","gateway":"10.0.0.1"}],"dns":{}})"));
    CHECK(r.out.back() == '}');  // no trailing newline, as upstream

    r = runChild(p, with(env, "CNI_COMMAND", "DEL"), conf("1.0.0"));
    CHECK(r.rc == 0);
    CHECK(r.out.empty());

    Plugin noip = p;
    noip.add = addNoIP;
    r = runChild(noip, env, conf("0.2.0"));
    CHECK(r.rc == 1);
    CHECK(r.out == "{\n    \"code\": 999,\n    \"msg\": \"cannot convert: no valid IP addresses\"\n}");

    r = runChild(p, with(env, "CNI_COMMAND", "CHECK"), conf("0.3.1"));
    CHECK(r.rc == 1);
    CHECK(r.out == "{\n    \"code\": 1,\n    \"msg\": \"config version does not allow CHECK\"\n}");
}
