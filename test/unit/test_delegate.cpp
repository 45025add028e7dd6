#include <catch2/catch.hpp>

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "applets/registry.h"
#include "cni/applet.h"
#include "cni/delegate.h"
#include "helpers.h"

using namespace cni;
using Env = std::vector<std::pair<std::string, std::string>>;

namespace {

using testutil::TmpDir;

void writeFile(const std::string& path, const std::string& content, mode_t mode = 0755) {
    {
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        f << content;
    }
    REQUIRE(chmod(path.c_str(), mode) == 0);
}

std::string readFile(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// CmdArgs as the skel would build them for an ADD with `config`.
CmdArgs argsFor(const std::string& path, const std::string& config) {
    Plugin p;
    Env env = {{"CNI_COMMAND", "ADD"}, {"CNI_CONTAINERID", "c1"},  {"CNI_NETNS", "/proc/self/ns/net"},
               {"CNI_IFNAME", "eth0"}, {"CNI_ARGS", "IgnoreUnknown=1"}, {"CNI_PATH", path},
               {"CNI_NETNS_OVERRIDE", "1"}};
    CmdArgs a;
    Error e = parseCmdArgs(p, Command::Add, env, config, a);
    INFO(e.text());
    REQUIRE_FALSE(e);
    return a;
}

const char* kConf = R"({"cniVersion":"0.4.0","name":"net1","type":"fakemain","ipam":{"type":"ok"}})";

}  // namespace

TEST_CASE("findInPath", "[delegate]") {
    TmpDir a, b;
    writeFile(a / "plug", "#!/bin/sh\n");
    writeFile(b / "plug", "#!/bin/sh\n");
    writeFile(b / "noexec", "data", 0644);
    REQUIRE(mkdir((a / "dir").c_str(), 0755) == 0);
    writeFile(b / "dir", "#!/bin/sh\n");
    REQUIRE(symlink((b / "plug").c_str(), (a / "link").c_str()) == 0);
    REQUIRE(symlink("/nonexistent", (a / "dangling").c_str()) == 0);
    std::string path = "/nonexistent:" + a.path + ":" + b.path;
    CHECK(findInPath("plug", path) == a / "plug");
    CHECK(findInPath("plug", b.path + ":" + a.path) == b / "plug");
    CHECK(findInPath("dir", path) == b / "dir");  // directories are skipped
    CHECK(findInPath("link", path) == a / "link");  // symlinks to files are fine
    CHECK(findInPath("noexec", path) == b / "noexec");  // as upstream: only a regular file is needed
    CHECK(findInPath("dangling", path).empty());
    CHECK(findInPath("missing", path).empty());
    CHECK(findInPath("plug", "").empty());
    CHECK(findInPath("", path).empty());
    CHECK(findInPath("../" + a.path.substr(a.path.rfind('/') + 1) + "/plug", "/tmp/x").empty());
    CHECK(findInPath("plug", a.path + "/") == a / "plug");
}

TEST_CASE("delegation errors before exec", "[delegate]") {
    TmpDir d;
    CmdArgs a = argsFor(d.path + ":/nonexistent", kConf);
    Result r;
    Error e = delegateAdd(a, "nope", r);
    CHECK(e.code == kInternal);
    CHECK(e.msg == "failed to find plugin \"nope\" in path [" + d.path + " /nonexistent]");
    e = delegate(a, Command::Del, "../bin/nope");
    CHECK(e.msg == "invalid plugin name: ../bin/nope");
    e = delegate(a, Command::Del, "");
    CHECK(e.msg == "no plugin name provided");
    a.path.clear();
    e = delegate(a, Command::Del, "nope");
    CHECK(e.msg == "no paths provided");
    CHECK(ipamAdd(a, r).msg == "no paths provided");  // ipam.type "ok"
}

TEST_CASE("delegation by exec", "[delegate]") {
    TmpDir d;
    // Records its stdin and CNI environment, then answers per verb.
    writeFile(d / "ok", R"SH(#!/bin/sh
cat > "$0.stdin.$CNI_COMMAND"
env | grep -E '^(CNI_|CNIBOX_TEST_)' | sort > "$0.env.$CNI_COMMAND"
if [ "$CNI_COMMAND" = ADD ]; then
  printf '%s' '{"cniVersion":"0.4.0","interfaces":[{"name":"x"}],"ips":[{"version":"4","interface":0,"address":"10.0.0.5/24","gateway":"10.0.0.1"}],"dns":{}}'
fi
)SH");
    setenv("CNIBOX_TEST_MARK", "kept", 1);
    setenv("CNI_COMMAND", "STALE", 1);
    CmdArgs a = argsFor(d.path, kConf);
    Result r;
    Error e = ipamAdd(a, r);
    INFO(e.text());
    REQUIRE_FALSE(e);
    CHECK(r.cniVersion == "0.4.0");
    REQUIRE(r.ips.size() == 1);
    CHECK(r.ips[0].address.str() == "10.0.0.5/24");
    CHECK(r.ips[0].interface == 0);
    CHECK(r.interfaces.size() == 1);
    CHECK(readFile(d / "ok.stdin.ADD") == kConf);
    CHECK(readFile(d / "ok.env.ADD") ==
          "CNIBOX_TEST_MARK=kept\nCNI_ARGS=IgnoreUnknown=1\nCNI_COMMAND=ADD\nCNI_CONTAINERID=c1\nCNI_IFNAME=eth0\n"
          "CNI_NETNS=/proc/self/ns/net\nCNI_NETNS_OVERRIDE=1\nCNI_PATH=" + d.path + "\n");
    for (auto [cmd, fn] : std::initializer_list<std::pair<Command, Error (*)(const CmdArgs&)>>{
             {Command::Del, ipamDel}, {Command::Check, ipamCheck}, {Command::GC, ipamGC}, {Command::Status, ipamStatus}}) {
        INFO(str(cmd));
        CHECK_FALSE(fn(a));
        std::string env = readFile(d / ("ok.env." + std::string(str(cmd))));
        CHECK(env.find("CNI_COMMAND=" + std::string(str(cmd)) + "\n") != std::string::npos);
        CHECK(readFile(d / ("ok.stdin." + std::string(str(cmd)))) == kConf);
    }
    unsetenv("CNIBOX_TEST_MARK");
    unsetenv("CNI_COMMAND");
}

TEST_CASE("delegate results and failures", "[delegate]") {
    TmpDir d;
    struct Case {
        const char* name;
        std::string script;
        int code;
        std::string msg;
        std::string details;
    } cases[] = {
        {"errjson", "echo '{\"code\":7,\"msg\":\"bad conf\",\"details\":\"key x\"}'; exit 1", 7, "bad conf", "key x"},
        {"errindent", "printf '{\\n    \"code\": 11,\\n    \"msg\": \"later\"\\n}'; exit 1", 11, "later", ""},
        {"errzero", "echo '{\"msg\":\"zero\"}'; exit 1", kInternal, "zero", ""},
        {"errstderr", "echo oops >&2; exit 3", kInternal, "netplugin failed: \"oops\\n\": exit status 3", ""},
        {"errnone", "exit 1", kInternal, "netplugin failed with no error message: exit status 1", ""},
        {"errkilled", "kill -9 $$", kInternal, "netplugin failed with no error message: signal: killed", ""},
        {"errnotjson", "echo nope; exit 2", kInternal,
         "netplugin failed but error parsing its diagnostic message \"nope\\n\": invalid character 'o' in literal null "
         "(expecting 'u')",
         ""},
        {"garbage", "echo garbage", kDecodeFailure, "", ""},
    };
    for (auto& c : cases) writeFile(d / c.name, "#!/bin/sh\ncat >/dev/null\n" + c.script + "\n");
    CmdArgs a = argsFor(d.path, kConf);
    for (const auto& c : cases) {
        INFO(c.name);
        Result r;
        Error e = delegateAdd(a, c.name, r);
        CHECK(e.code == c.code);
        if (c.name == std::string("errnotjson")) {
            CHECK(e.msg.rfind("netplugin failed but error parsing its diagnostic message \"nope\\n\": ", 0) == 0);
        } else if (!c.msg.empty()) {
            CHECK(e.msg == c.msg);
        }
        CHECK(e.details == c.details);
    }

    // Not executable: the exec error, as upstream reports it.
    writeFile(d / "noexec", "#!/bin/sh\n", 0644);
    Error e = delegate(a, Command::Del, "noexec");
    CHECK(e.code == kInternal);
    CHECK(e.msg == "netplugin failed with no error message: fork/exec " + (d / "noexec") + ": permission denied");

    // A result without cniVersion is read in the config's version.
    writeFile(d / "nover", "#!/bin/sh\ncat >/dev/null\necho '{\"ips\":[{\"version\":\"6\",\"address\":\"fd00::5/64\"}]}'\n");
    Result r;
    REQUIRE_FALSE(delegateAdd(a, "nover", r));
    CHECK(r.cniVersion == "0.4.0");
    REQUIRE(r.ips.size() == 1);
    CHECK(r.ips[0].address.str() == "fd00::5/64");
    // Other verbs ignore stdout.
    CHECK_FALSE(delegate(a, Command::Del, "nover"));
}

TEST_CASE("a successful delegate's stderr passes through", "[delegate]") {
    TmpDir d;
    writeFile(d / "chatty", "#!/bin/sh\ncat >/dev/null\necho 'note from the delegate' >&2\n");
    CmdArgs a = argsFor(d.path, kConf);
    std::string captured = d / "stderr";
    int saved = dup(2);
    int fd = open(captured.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(saved >= 0);
    REQUIRE(fd >= 0);
    dup2(fd, 2);
    close(fd);
    Error e = delegate(a, Command::Del, "chatty");
    dup2(saved, 2);
    close(saved);
    CHECK_FALSE(e);
    CHECK(readFile(captured) == "note from the delegate\n");
}

TEST_CASE("large stdin, stdout and stderr do not stall", "[delegate]") {
    TmpDir d;
    writeFile(d / "big", R"SH(#!/bin/sh
n=$(wc -c)
if [ "$CNI_COMMAND" = ADD ]; then
  printf '{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.7/24"}],"dns":{"domain":"%s","search":["'"$n"'"]}}' "$(head -c 300000 /dev/zero | tr '\0' a)"
else
  head -c 300000 /dev/zero | tr '\0' e >&2
  exit 1
fi
)SH");
    std::string conf = R"({"cniVersion":"1.0.0","name":"net1","pad":")" + std::string(1 << 20, 'p') + "\"}";
    CmdArgs a = argsFor(d.path, conf);
    Result r;
    Error e = delegateAdd(a, "big", r);
    INFO(e.text().substr(0, 200));
    REQUIRE_FALSE(e);
    CHECK(r.dns.domain.size() == 300000);
    CHECK(r.dns.search == std::vector<std::string>{std::to_string(conf.size())});
    e = delegate(a, Command::Del, "big");
    CHECK(e.code == kInternal);
    CHECK(e.msg.size() > 300000);
}

TEST_CASE("a delegate that is this executable runs in-process", "[delegate]") {
    const Applet* st = registry::find("static");
    if (!st || !st->plugin || !st->finished) {
        WARN("no finished static applet in this build; in-process delegation not exercised");
        return;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    REQUIRE(n > 0);
    self[n] = 0;
    TmpDir d;
    REQUIRE(symlink(self, (d / "static").c_str()) == 0);
    std::string conf = R"({"cniVersion":"0.3.1","name":"net1","type":"fakemain",
        "ipam":{"type":"static","addresses":[{"address":"10.5.0.9/24","gateway":"10.5.0.1"}]}})";
    cni::setInProcessLookup(registry::inProcessPlugin);
    CmdArgs a = argsFor(d.path, conf);
    Result r;
    // Running the test binary by exec would not answer as a plugin, so a
    // result proves the in-process path.
    Error e = ipamAdd(a, r);
    INFO(e.text());
    REQUIRE_FALSE(e);
    CHECK(r.cniVersion == "0.3.1");  // printed in the config's version and read back
    REQUIRE(r.ips.size() == 1);
    CHECK(r.ips[0].address.str() == "10.5.0.9/24");
    CHECK(r.ips[0].gateway->str() == "10.5.0.1");
    // In 0.2.0 the in-process result goes through the same conversion.
    std::string conf020 = R"({"cniVersion":"0.2.0","name":"net1","type":"fakemain",
        "ipam":{"type":"static","addresses":[{"address":"10.5.0.9/24"}]}})";
    a = argsFor(d.path, conf020);
    REQUIRE_FALSE(ipamAdd(a, r));
    CHECK(r.cniVersion == "0.2.0");
    CHECK(r.ips.size() == 1);
    CHECK_FALSE(r.ips[0].interface);
    // Errors come back as values.
    std::string bad = R"({"cniVersion":"1.0.0","name":"net1","type":"fakemain",
        "ipam":{"type":"static","addresses":[{"address":"bad"}]}})";
    a = argsFor(d.path, bad);
    CHECK(ipamAdd(a, r));

    // Without the lookup main installs, this executable is exec'd like any
    // other plugin (and answers as a failing one: test/unit/main.cpp).
    cni::setInProcessLookup(nullptr);
    a = argsFor(d.path, conf);
    e = ipamAdd(a, r);
    cni::setInProcessLookup(registry::inProcessPlugin);
    CHECK(e.code == kInternal);
    CHECK(e.msg == "unit_tests was exec'd as a plugin");

    // The same name backed by another file is exec'd.
    TmpDir other;
    writeFile(other / "static", "#!/bin/sh\ncat >/dev/null\necho '{\"cniVersion\":\"0.3.1\",\"ips\":[{\"version\":\"4\",\"address\":\"10.6.0.1/8\"}]}'\n");
    a = argsFor(other.path + ":" + d.path, conf);
    REQUIRE_FALSE(ipamAdd(a, r));
    CHECK(r.ips[0].address.str() == "10.6.0.1/8");
}
