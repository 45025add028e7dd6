// cnitool's command line and environment (nothing is run, no root).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "applets/cnitool.h"
#include "helpers.h"
#include "util/fs.h"

using namespace applets::cnitool;
using cni::Error;

namespace {

using Vars = std::map<std::string, std::string>;

Env envOf(Vars vars) {
    auto v = std::make_shared<Vars>(std::move(vars));
    return [v](const char* name) {
        auto it = v->find(name);
        return it == v->end() ? std::string() : it->second;
    };
}

Error parse(std::vector<std::string_view> args, Conf& c, Vars vars = {}) {
    c = Conf{};
    return parseConf(args, envOf(std::move(vars)), c);
}

Conf ok(std::vector<std::string_view> args, Vars vars = {}) {
    Conf c;
    Error e = parse(std::move(args), c, std::move(vars));
    INFO(e.text());
    REQUIRE_FALSE(e);
    return c;
}

Error bad(std::vector<std::string_view> args) {
    Conf c;
    Error e = parse(std::move(args), c);
    REQUIRE(e);
    return e;
}

cni::libcni::RuntimeConf rtOf(const Conf& c, Vars vars = {}) {
    cni::libcni::RuntimeConf rt;
    Error e = runtimeConf(c, envOf(std::move(vars)), rt);
    INFO(e.text());
    REQUIRE_FALSE(e);
    return rt;
}

}  // namespace

TEST_CASE("cnitool: the verbs, NETWORK and NETNS", "[cnitool]") {
    struct {
        const char* verb;
        Cmd cmd;
    } verbs[] = {{"add", Cmd::Add}, {"check", Cmd::Check}, {"del", Cmd::Del}, {"gc", Cmd::GC}, {"status", Cmd::Status}};
    for (const auto& v : verbs) {
        Conf c = ok({v.verb, "net", "/run/netns/x"});
        CHECK_FALSE(c.help);
        CHECK(c.cmd == v.cmd);
        CHECK(c.network == "net");
        CHECK(c.netns == "/run/netns/x");
    }
    CHECK(ok({"add", "net", "/run/netns/x", "extra"}).netns == "/run/netns/x");  // more is ignored

    Error e = bad({"frob", "a", "b"});
    CHECK(e.code == 4);
    CHECK(e.msg == R"(unknown command "frob" for "cnitool")");
    CHECK(bad({"ADD", "a", "b"}).msg == R"(unknown command "ADD" for "cnitool")");
    e = bad({"add", "a"});
    CHECK(e.code == 4);
    CHECK(e.msg == "requires at least 2 arg(s), only received 1");
    CHECK(bad({"del"}).msg == "requires at least 2 arg(s), only received 0");
}

TEST_CASE("cnitool: help", "[cnitool]") {
    CHECK(ok({}).help);
    CHECK(ok({"help"}).help);
    CHECK(ok({"help", "add"}).help);
    CHECK(ok({"-h"}).help);
    CHECK(ok({"add", "a", "b", "--help"}).help);
    CHECK(ok({"frob", "-h"}).help);  // help wins over a bad command
    // a bad flag is reported even with -h
    CHECK(bad({"-h", "-x"}).msg == "unknown shorthand flag: 'x' in -x");
}

TEST_CASE("cnitool: -i/--ifname in every form, else CNI_IFNAME, else eth0", "[cnitool]") {
    CHECK(ok({"add", "a", "b"}).ifname == "eth0");
    CHECK(ok({"add", "a", "b"}, {{"CNI_IFNAME", "net0"}}).ifname == "net0");
    CHECK(ok({"add", "a", "b"}, {{"CNI_IFNAME", ""}}).ifname == "eth0");  // empty = unset
    CHECK(ok({"-i", "net1", "add", "a", "b"}, {{"CNI_IFNAME", "net0"}}).ifname == "net1");
    CHECK(ok({"add", "-inet2", "a", "b"}).ifname == "net2");
    CHECK(ok({"add", "a", "-i=net3", "b"}).ifname == "net3");
    CHECK(ok({"add", "a", "b", "--ifname", "net4"}).ifname == "net4");
    CHECK(ok({"--ifname=net5", "add", "a", "b"}).ifname == "net5");
    CHECK(ok({"-i", "x", "-i", "net6", "add", "a", "b"}).ifname == "net6");  // the last wins
    CHECK(ok({"-i", "", "add", "a", "b"}, {{"CNI_IFNAME", "net0"}}).ifname == "net0");
    // "--" ends the flags
    Conf c = ok({"--", "add", "-i", "b"});
    CHECK(c.network == "-i");
    CHECK(c.netns == "b");
    CHECK(c.ifname == "eth0");

    Error e = bad({"add", "a", "b", "-i"});
    CHECK(e.code == 4);
    CHECK(e.msg == "flag needs an argument: 'i' in -i");
    CHECK(bad({"add", "a", "b", "--ifname"}).msg == "flag needs an argument: --ifname");
    e = bad({"--bogus", "add", "a", "b"});
    CHECK(e.code == 4);
    CHECK(e.msg == "unknown flag: --bogus");
    CHECK(bad({"add", "-x1", "a", "b"}).msg == "unknown shorthand flag: 'x' in -x1");
}

TEST_CASE("cnitool: NETCONFPATH, CNI_PATH and CNI_CACHE_DIR", "[cnitool]") {
    Conf d = ok({"add", "a", "b"});
    CHECK(d.netconfPath == "/etc/cni/net.d");
    CHECK(d.cniPath.empty());
    CHECK(d.cacheDir == "/var/lib/cni");
    Conf c = ok({"add", "a", "b"},
                {{"NETCONFPATH", "/tmp/netconf"}, {"CNI_PATH", "/opt/cni/bin:/usr/lib/cni"}, {"CNI_CACHE_DIR", "/tmp/cache"}});
    CHECK(c.netconfPath == "/tmp/netconf");
    CHECK(c.cniPath == "/opt/cni/bin:/usr/lib/cni");
    CHECK(c.cacheDir == "/tmp/cache");
    Conf e = ok({"add", "a", "b"}, {{"NETCONFPATH", ""}, {"CNI_CACHE_DIR", ""}});
    CHECK(e.netconfPath == "/etc/cni/net.d");
    CHECK(e.cacheDir == "/var/lib/cni");
}

TEST_CASE("cnitool: the container id is derived from the absolute NETNS", "[cnitool]") {
    CHECK(containerId("/run/netns/x") == "cnitool-55e2cecc95014b0f7fc4");
    CHECK(containerId("/var/run/netns/ctr1") == "cnitool-bfe5c9aab632743426ce");

    auto rt = rtOf(ok({"add", "a", "/run/netns/../netns//x/"}));
    CHECK(rt.netns == "/run/netns/x");  // cleaned
    CHECK(rt.containerID == "cnitool-55e2cecc95014b0f7fc4");
    CHECK(rt.ifname == "eth0");
    CHECK(rt.args.empty());
    CHECK_FALSE(rt.capabilityArgs);

    std::unique_ptr<char, decltype(&std::free)> cwd(getcwd(nullptr, 0), &std::free);
    REQUIRE(cwd);
    auto rel = rtOf(ok({"add", "a", "ns/../x"}));
    CHECK(rel.netns == util::cleanPath(std::string(cwd.get()) + "/x"));
    CHECK(rel.containerID == containerId(rel.netns));
    CHECK(rtOf(ok({"-i", "net1", "add", "a", "/x"})).ifname == "net1");
}

TEST_CASE("cnitool: CNI_ARGS and CAP_ARGS", "[cnitool]") {
    Conf c = ok({"add", "a", "/run/netns/x"});
    auto rt = rtOf(c, {{"CNI_ARGS", "A=1;B=2;IgnoreUnknown=true"}, {"CAP_ARGS", R"({"mac":"c2:00:00:00:00:01","ips":[]})"}});
    REQUIRE(rt.args.size() == 3);
    CHECK(rt.args[0] == cni::libcni::KV{"A", "1"});
    CHECK(rt.args[1] == cni::libcni::KV{"B", "2"});
    CHECK(rt.args[2] == cni::libcni::KV{"IgnoreUnknown", "true"});
    REQUIRE(rt.capabilityArgs);
    CHECK((*rt.capabilityArgs)["mac"] == "c2:00:00:00:00:01");
    CHECK(rtOf(c, {{"CAP_ARGS", "null"}}).capabilityArgs == nullptr);

    cni::libcni::RuntimeConf out;
    for (const char* pair : {"A=1;", "=1", "A=", "A", "A=1=2", ";A=1"}) {
        INFO(pair);
        Error e = runtimeConf(c, envOf({{"CNI_ARGS", pair}}), out);
        CHECK(e.code == 4);
        CHECK(e.msg.rfind("invalid CNI_ARGS pair \"", 0) == 0);
    }
    CHECK(runtimeConf(c, envOf({{"CNI_ARGS", "A=1;;B=2"}}), out).msg == R"(invalid CNI_ARGS pair "")");
    CHECK(runtimeConf(c, envOf({{"CNI_ARGS", "A=1;B=2=3"}}), out).msg == R"(invalid CNI_ARGS pair "B=2=3")");

    Error e = runtimeConf(c, envOf({{"CAP_ARGS", "[1]"}}), out);
    CHECK(e.code == 6);
    CHECK(e.msg == "json: cannot unmarshal array into Go value of type map[string]interface {}");
    e = runtimeConf(c, envOf({{"CAP_ARGS", "{"}}), out);
    CHECK(e.code == 6);
    CHECK(e.msg == "unexpected end of JSON input");
    CHECK(runtimeConf(c, envOf({{"CAP_ARGS", "\"x\""}}), out).msg ==
          "json: cannot unmarshal string into Go value of type map[string]interface {}");
}
