#include <catch2/catch.hpp>

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "cni/libcni.h"
#include "util/fs.h"
#include "helpers.h"

using namespace cni;
using namespace cni::libcni;

namespace {

// A scratch directory that can also hold files.
struct TmpDir : testutil::TmpDir {
    TmpDir() : testutil::TmpDir("cnibox-libcni") {}
    void write(std::string_view name, const std::string& content) const {
        std::string p = *this / name;
        auto slash = p.rfind('/');
        mkdir(p.substr(0, slash).c_str(), 0755);
        std::ofstream f(p, std::ios::binary | std::ios::trunc);
        f << content;
    }
};

std::string readFile(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

NetworkConfigList list(const std::string& text) {
    NetworkConfigList l;
    Error e = networkConfFromBytes(text, l);
    INFO(e.text());
    REQUIRE_FALSE(e);
    return l;
}

std::string listErr(const std::string& text) {
    NetworkConfigList l;
    Error e = networkConfFromBytes(text, l);
    REQUIRE(e);
    return e.text();
}

Result result(std::string_view text) {
    Result r;
    REQUIRE_FALSE(parseResult(text, "", r));
    return r;
}

JsonDoc doc(std::string_view text) { return std::make_shared<rapidjson::Document>(testutil::parse(text)); }

// A fake exec recording each call; ADD answers with the config's prevResult
// or a fixed result, and `failOn` makes one verb fail.
struct Call {
    std::string file, command, stdinData;
    std::vector<std::string> env;
    std::string envOf(std::string_view k) const {
        for (const auto& kv : env)
            if (kv.substr(0, k.size() + 1) == std::string(k) + "=") return kv.substr(k.size() + 1);
        return "<unset>";
    }
    rapidjson::Document conf() const { return testutil::parse(stdinData); }
};

struct Fake {
    TmpDir bin;
    std::vector<Call> calls;
    std::string failOn;
    CNIConfig cni;
    TmpDir cache;
    Fake() {
        for (const char* p : {"a", "b", "c"}) bin.write(p, "");
        cni.path = "/nonexistent:" + bin.path;
        cni.cacheDir = cache.path;
        cni.exec = [this](const std::string& file, const std::vector<std::string>& env, std::string_view in,
                          std::string& out) -> Error {
            Call c{file, "", std::string(in), env};
            c.command = c.envOf("CNI_COMMAND");
            calls.push_back(c);
            if (c.command == failOn) return Error(50, "failed " + file.substr(file.rfind('/') + 1));
            if (c.command == "ADD") {
                auto d = c.conf();
                if (d.HasMember("prevResult")) out = json::stringify(d["prevResult"]);
                else out = R"({"cniVersion":"1.0.0","ips":[{"address":"10.1.0.2/24"}]})";
            }
            return {};
        };
    }
};

RuntimeConf rtConf() {
    RuntimeConf rt;
    rt.containerID = "cnitool-0123456789abcdef0123";
    rt.netns = "/run/netns/x";
    rt.ifname = "eth0";
    rt.args = {{"IgnoreUnknown", "1"}};
    return rt;
}

}  // namespace

TEST_CASE("cleanPath is Go's filepath.Clean", "[libcni]") {
    CHECK(util::cleanPath("") == ".");
    CHECK(util::cleanPath("/a//b/./c/..") == "/a/b");
    CHECK(util::cleanPath("/../x") == "/x");
    CHECK(util::cleanPath("a/../../b") == "../b");
    CHECK(util::cleanPath("/") == "/");
}

TEST_CASE("conflist parsing and cniVersions negotiation", "[libcni]") {
    auto l = list(R"({"cniVersion":"0.4.0","cniVersions":["0.3.1","1.1.0","1.0.0","2.0.0"],"name":"n",
                      "disableCheck":"TRUE","disableGC":true,"plugins":[{"type":"a","capabilities":{"mac":true,"ips":false}}]})");
    CHECK(l.name == "n");
    CHECK(l.cniVersion == "1.1.0");
    CHECK(l.disableCheck);
    CHECK(l.disableGC);
    CHECK_FALSE(l.loadOnlyInlinedPlugins);
    REQUIRE(l.plugins.size() == 1);
    CHECK(l.plugins[0].type == "a");
    CHECK(l.plugins[0].bytes == R"({"capabilities":{"ips":false,"mac":true},"type":"a"})");
    CHECK(l.plugins[0].capabilities == std::vector<std::pair<std::string, bool>>{{"ips", false}, {"mac", true}});

    // the list's cniVersion counts; only entries above 1.1.0 are dropped
    CHECK(list(R"({"cniVersion":"1.0.0","cniVersions":["0.3.1"],"name":"n","plugins":[{"type":"a"}]})").cniVersion ==
          "1.0.0");
    CHECK(list(R"({"cniVersions":["0.3.1","0.4.0"],"name":"n","plugins":[{"type":"a"}]})").cniVersion == "0.4.0");
    CHECK(list(R"({"cniVersions":["3.0.0"],"name":"n","plugins":[{"type":"a"}]})").cniVersion == "");
    CHECK(list(R"({"name":"n","plugins":[{"type":"a"}]})").cniVersion == "");
    CHECK(list(R"({"name":"n"})").plugins.empty());

    CHECK(listErr(R"({"cniVersions":["1.0.0","x.1"],"name":"n","plugins":[{"type":"a"}]})").find(
              "error parsing configuration list: invalid cniVersions entry x.1 at index 1: ") == 0);
    CHECK(listErr(R"({"cniVersions":"1.0.0","name":"n"})") ==
          "error parsing configuration list: invalid type for cniVersions: []interface {}");
    CHECK(listErr(R"({"cniVersions":[1],"name":"n"})") ==
          "error parsing configuration list: invalid type for cniVersions index 0: float64");
    CHECK(listErr(R"({"plugins":[]})") == "error parsing configuration list: no name");
    CHECK(listErr(R"({"name":null})") == "error parsing configuration list: invalid name type <nil>");
    CHECK(listErr(R"({"name":"n","plugins":[]})") == "error parsing configuration list: no plugins in list");
    CHECK(listErr(R"({"name":"n","plugins":{}})") ==
          "error parsing configuration list: invalid 'plugins' type map[string]interface {}");
    CHECK(listErr(R"({"name":"n","disableGC":"yes"})") ==
          "error parsing configuration list: invalid value \"yes\" for disableGC");
    CHECK(listErr(R"({"name":"n","disableCheck":1})") ==
          "error parsing configuration list: invalid type float64 for disableCheck");
    CHECK(listErr(R"({"name":"n","loadOnlyInlinedPlugins":true})") ==
          "error parsing configuration list: `loadOnlyInlinedPlugins` is true, and no 'plugins' key");
    CHECK(listErr(R"({"name":"n","plugins":[{"name":"x"}]})") ==
          "failed to parse plugin config 0: error parsing configuration: missing 'type'");
    CHECK(listErr(R"({"name":"n","plugins":[{"type":5}]})") ==
          "failed to parse plugin config 0: error parsing configuration: json: cannot unmarshal number into Go "
          "struct field PluginConf.type of type string");
    CHECK(listErr("[1]") == "error parsing configuration list: json: cannot unmarshal array into Go value of "
                            "type map[string]interface {}");
}

TEST_CASE("loadNetworkConf: conflists, single configs, non-inlined plugins", "[libcni]") {
    TmpDir d;
    NetworkConfigList l;
    Error e = loadNetworkConf(d.path, "n", l);
    CHECK(e.text() == "no net configurations found in " + d.path);
    CHECK(loadNetworkConf(d / "nope", "n", l).text() == "no net configurations found in " + d.path + "/nope");

    d.write("20.conflist", R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":"second"}]})");
    d.write("10.conflist", R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":"first"}]})");
    d.write("n/20-y.conf", R"({"type":"y"})");
    d.write("n/10-x.conf", R"({"type":"x"})");
    d.write("n/30-z.json", R"({"type":"z"})");
    REQUIRE_FALSE(loadNetworkConf(d.path, "n", l));
    REQUIRE(l.plugins.size() == 3);
    CHECK(l.plugins[0].type == "first");
    CHECK(l.plugins[1].type == "x");
    CHECK(l.plugins[1].bytes == R"({"type":"x"})");  // as read
    CHECK(l.plugins[2].type == "y");
    CHECK(l.bytes == readFile(d / "10.conflist"));

    CHECK(loadNetworkConf(d.path, "m", l).text() == "no net configuration with name \"m\" in " + d.path);

    // a single config, upgraded (Go-marshalled: sorted keys)
    d.write("05.conf", R"({"type":"s","name":"m","cniVersion":"0.4.0","mtu":1500,"ipam":{"type":"host-local"}})");
    REQUIRE_FALSE(loadNetworkConf(d.path, "m", l));
    CHECK(l.name == "m");
    CHECK(l.cniVersion == "0.4.0");
    CHECK(l.bytes == R"({"cniVersion":"0.4.0","name":"m","plugins":[{"cniVersion":"0.4.0","ipam":{"type":"host-local"},"mtu":1500,"name":"m","type":"s"}]})");
    REQUIRE(l.plugins.size() == 1);
    CHECK(l.plugins[0].type == "s");

    // loadOnlyInlinedPlugins leaves the directory alone
    d.write("10.conflist", R"({"cniVersion":"1.0.0","name":"n","loadOnlyInlinedPlugins":true,"plugins":[{"type":"first"}]})");
    REQUIRE_FALSE(loadNetworkConf(d.path, "n", l));
    CHECK(l.plugins.size() == 1);
    // a list with no plugins anywhere is an error (even when another file would match)
    d.write("10.conflist", R"({"cniVersion":"1.0.0","name":"q"})");
    CHECK(loadNetworkConf(d.path, "n", l).text() == "no plugin configs found");
}

TEST_CASE("file and directory errors keep libcni's texts, with the errno", "[libcni]") {
    TmpDir d;
    NetworkConfigList l;
    Error e = networkConfFromFile(d / "none.conflist", l);
    CHECK(e.code == kIOFailure);
    CHECK(e.errnum == ENOENT);
    CHECK(e.text() == "error reading " + d / "none.conflist" + ": open " + d / "none.conflist" +
                          ": no such file or directory");
    e = networkConfFromFile(d.path, l);  // a directory: open works, read fails
    CHECK(e.code == kIOFailure);
    CHECK(e.errnum == EISDIR);
    CHECK(e.text() == "error reading " + d.path + ": read " + d.path + ": is a directory");

    d.write("file", "x");
    std::vector<std::string> files = {"stale"};
    e = confFiles(d / "file", {".conf"}, files);
    CHECK(e.code == kInternal);
    CHECK(e.errnum == ENOTDIR);
    CHECK(e.text() == "readdirent " + d / "file" + ": not a directory");
    CHECK(files.empty());
    CHECK(loadNetworkConf(d / "file", "n", l).text() == "readdirent " + d / "file" + ": not a directory");

    // the cache directory cannot be made
    CNIConfig c;
    c.cacheDir = d / "file/sub";
    Result r = result(R"({"cniVersion":"1.0.0"})");
    e = c.cacheAdd(r, "{}", "n", rtConf());
    CHECK(e.code == kInternal);
    CHECK(e.errnum == ENOTDIR);
    CHECK(e.text() == "mkdir " + d / "file/sub" + ": not a directory");
    // nor its file
    mkdir((d / "c").c_str(), 0700);
    mkdir((d / "c/results").c_str(), 0700);
    mkdir((d / "c/results/n-cnitool-0123456789abcdef0123-eth0").c_str(), 0700);
    c.cacheDir = d / "c";
    e = c.cacheAdd(r, "{}", "n", rtConf());
    CHECK(e.errnum == EISDIR);
    CHECK(e.text() == "write " + d / "c/results/n-cnitool-0123456789abcdef0123-eth0" + ": is a directory");
    struct stat st;
    CHECK(stat((d / "c/results/.n-cnitool-0123456789abcdef0123-eth0.tmp").c_str(), &st) != 0);  // removed
}

TEST_CASE("buildOneConfig: name, cniVersion, prevResult, runtimeConfig by capability", "[libcni]") {
    PluginConfig p;
    REQUIRE_FALSE(pluginConfFromBytes(
        R"({"type":"a","name":"own","cniVersion":"0.1.0","capabilities":{"mac":true,"ips":false,"bandwidth":true},"runtimeConfig":{"old":1}})",
        p));
    RuntimeConf rt = rtConf();
    std::string out;
    REQUIRE_FALSE(buildOneConfig("net", "1.0.0", p, nullptr, &rt, out));
    CHECK(out == R"({"capabilities":{"bandwidth":true,"ips":false,"mac":true},"cniVersion":"1.0.0","name":"net","runtimeConfig":{"old":1},"type":"a"})");

    rt.capabilityArgs = doc(R"({"mac":"c2:00:00:00:00:01","ips":["10.0.0.1/24"],"portMappings":[]})");
    REQUIRE_FALSE(buildOneConfig("net", "1.0.0", p, nullptr, &rt, out));
    CHECK(out == R"({"capabilities":{"bandwidth":true,"ips":false,"mac":true},"cniVersion":"1.0.0","name":"net","runtimeConfig":{"mac":"c2:00:00:00:00:01"},"type":"a"})");

    // prevResult: the Result struct's field order, unless runtimeConfig made
    // upstream pass the config through a map once more
    Result prev = result(R"({"cniVersion":"1.0.0","ips":[{"interface":0,"address":"10.0.0.2/24"}],"interfaces":[{"name":"eth0"}]})");
    REQUIRE_FALSE(buildOneConfig("net", "1.0.0", p, &prev, &rt, out));
    CHECK(out.find(R"("prevResult":{"cniVersion":"1.0.0","dns":{},"interfaces":[{"name":"eth0"}],"ips":[{"address":"10.0.0.2/24","interface":0}]})") != std::string::npos);
    rt.capabilityArgs = nullptr;
    REQUIRE_FALSE(buildOneConfig("net", "1.0.0", p, &prev, &rt, out));
    CHECK(out.find(R"("prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0"}],"ips":[{"interface":0,"address":"10.0.0.2/24"}],"dns":{}})") != std::string::npos);
    CHECK(testutil::parse(out).IsObject());
}

TEST_CASE("the cache file is libcni's cniCacheV1", "[libcni]") {
    Fake f;
    RuntimeConf rt = rtConf();
    rt.capabilityArgs = doc(R"({"z":1,"a":"<x>"})");
    Result r = result(R"({"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.0.0.2/24"}]})");
    REQUIRE_FALSE(f.cni.cacheAdd(r, "{\"name\":\"n\"}", "n", rt));
    std::string file = f.cache / ("results/n-" + rt.containerID + "-eth0");
    CHECK(readFile(file) ==
          R"({"kind":"cniCacheV1","containerId":"cnitool-0123456789abcdef0123","config":"eyJuYW1lIjoibiJ9","ifName":"eth0","networkName":"n","netns":"/run/netns/x","cniArgs":[["IgnoreUnknown","1"]],"capabilityArgs":{"a":"\u003cx\u003e","z":1},"result":{"cniVersion":"0.4.0","dns":{},"ips":[{"address":"10.0.0.2/24","version":"4"}]}})");
    struct stat st;
    REQUIRE(stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(stat((f.cache / "results").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);

    std::optional<Result> got;
    REQUIRE_FALSE(f.cni.getCachedResult("n", "1.0.0", rt, got));
    REQUIRE(got);
    CHECK(got->cniVersion == "1.0.0");
    REQUIRE(got->ips.size() == 1);
    CHECK(got->ips[0].address.str() == "10.0.0.2/24");

    auto att = f.cni.getCachedAttachments("");
    REQUIRE(att.size() == 1);
    CHECK(att[0].network == "n");
    CHECK(att[0].containerID == rt.containerID);
    CHECK(att[0].config == "{\"name\":\"n\"}");
    CHECK(att[0].args == rt.args);
    CHECK(att[0].netns == "/run/netns/x");
    REQUIRE(att[0].capabilityArgs);
    CHECK(att[0].capabilityArgs->HasMember("z"));
    CHECK(f.cni.getCachedAttachments("cnitool-0123456789abcdef0123").size() == 1);
    CHECK(f.cni.getCachedAttachments("other").empty());

    f.cni.cacheDel("n", rt);
    REQUIRE_FALSE(f.cni.getCachedResult("n", "1.0.0", rt, got));
    CHECK_FALSE(got);
}

TEST_CASE("reading what libcni wrote, and its older bare-result files", "[libcni]") {
    Fake f;
    RuntimeConf rt = rtConf();
    mkdir((f.cache / "results").c_str(), 0700);
    // json.Marshal(cachedInfo) from libcni, by hand: struct order, result as a sorted map
    f.cache.write("results/n-" + rt.containerID + "-eth0",
                  R"({"kind":"cniCacheV1","containerId":"cnitool-0123456789abcdef0123","config":"eyJuYW1lIjoibiJ9",)"
                  R"("ifName":"eth0","networkName":"n","netns":"/run/netns/x","result":{"cniVersion":"1.1.0",)"
                  R"("interfaces":[{"mac":"aa:bb:cc:dd:ee:ff","name":"eth0","sandbox":"/run/netns/x"}],)"
                  R"("ips":[{"address":"10.0.0.2/24","gateway":"10.0.0.1","interface":0}]}})");
    std::optional<Result> got;
    REQUIRE_FALSE(f.cni.getCachedResult("n", "0.3.1", rt, got));
    REQUIRE(got);
    CHECK(got->cniVersion == "0.3.1");
    REQUIRE(got->interfaces.size() == 1);
    CHECK(got->interfaces[0].mac == "aa:bb:cc:dd:ee:ff");
    auto att = f.cni.getCachedAttachments("");
    REQUIRE(att.size() == 1);
    CHECK(att[0].config == "{\"name\":\"n\"}");
    CHECK(att[0].args.empty());

    // older libcni: the file is the result
    f.cache.write("results/n-" + rt.containerID + "-eth0", R"({"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.0.0.3/24"}]})");
    REQUIRE_FALSE(f.cni.getCachedResult("n", "1.0.0", rt, got));
    REQUIRE(got);
    CHECK(got->ips[0].address.str() == "10.0.0.3/24");
    CHECK(f.cni.getCachedAttachments("").empty());  // not a cniCacheV1 attachment

    // a result that cannot be converted
    f.cache.write("results/n-" + rt.containerID + "-eth0", R"({"kind":"cniCacheV1","result":{"cniVersion":"1.0.0"}})");
    Error e = f.cni.getCachedResult("n", "0.2.0", rt, got);
    CHECK(e.text().find("failed to convert cached result to config version \"0.2.0\": ") == 0);
    CHECK(f.cni.getCachedAttachments("").empty());  // no ifName/networkName
}

TEST_CASE("the list runs as libcni runs it", "[libcni]") {
    Fake f;
    auto l = list(R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":"a"},{"type":"b","name":"bee"}]})");
    RuntimeConf rt = rtConf();
    Result r;
    REQUIRE_FALSE(f.cni.addNetworkList(l, rt, r));
    REQUIRE(f.calls.size() == 2);
    CHECK(f.calls[0].file == f.bin / "a");
    CHECK(f.calls[0].envOf("CNI_CONTAINERID") == rt.containerID);
    CHECK(f.calls[0].envOf("CNI_NETNS") == "/run/netns/x");
    CHECK(f.calls[0].envOf("CNI_IFNAME") == "eth0");
    CHECK(f.calls[0].envOf("CNI_ARGS") == "IgnoreUnknown=1");
    CHECK(f.calls[0].envOf("CNI_PATH") == f.cni.path);
    CHECK(f.calls[0].stdinData == R"({"cniVersion":"1.0.0","name":"n","type":"a"})");
    CHECK_FALSE(f.calls[0].conf().HasMember("prevResult"));
    CHECK(f.calls[1].conf()["prevResult"]["ips"][0]["address"] == "10.1.0.2/24");
    CHECK(r.ips.size() == 1);

    f.calls.clear();
    REQUIRE_FALSE(f.cni.checkNetworkList(l, rt));
    REQUIRE(f.calls.size() == 2);
    CHECK(f.calls[0].command == "CHECK");
    CHECK(f.calls[0].conf().HasMember("prevResult"));

    f.calls.clear();
    REQUIRE_FALSE(f.cni.delNetworkList(l, rt));
    REQUIRE(f.calls.size() == 2);
    CHECK(f.calls[0].file == f.bin / "b");  // reverse order
    CHECK(f.calls[0].conf().HasMember("prevResult"));
    std::optional<Result> cached;
    REQUIRE_FALSE(f.cni.getCachedResult("n", "1.0.0", rt, cached));
    CHECK_FALSE(cached);

    // errors name the plugin
    f.failOn = "ADD";
    Error e = f.cni.addNetworkList(l, rt, r);
    CHECK(e.code == 50);
    CHECK(e.text() == "plugin type=\"a\" failed (add): failed a");
    f.failOn = "DEL";
    CHECK(f.cni.delNetworkList(l, rt).text() == "plugin type=\"b\" name=\"bee\" failed (delete): failed b");
    f.failOn.clear();

    auto bad = list(R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":"../a"}]})");
    CHECK(f.cni.addNetworkList(bad, rt, r).text() == "plugin type=\"../a\" failed (add): invalid plugin name: ../a");
    auto missing = list(R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":"zz"}]})");
    CHECK(f.cni.addNetworkList(missing, rt, r).text() ==
          "plugin type=\"zz\" failed (add): failed to find plugin \"zz\" in path [/nonexistent " + f.bin.path + "]");
    RuntimeConf badIf = rt;
    badIf.ifname = "a/b";
    CHECK(f.cni.addNetworkList(l, badIf, r).text().find("plugin type=\"a\" failed (add): ") == 0);
}

TEST_CASE("CHECK, DEL, GC and STATUS version rules", "[libcni]") {
    Fake f;
    RuntimeConf rt = rtConf();
    Result r;
    auto old = list(R"({"cniVersion":"0.3.1","name":"n","plugins":[{"type":"a"}]})");
    CHECK(f.cni.checkNetworkList(old, rt).text() == "configuration version \"0.3.1\" does not support the CHECK command");
    REQUIRE_FALSE(f.cni.addNetworkList(old, rt, r));
    f.calls.clear();
    REQUIRE_FALSE(f.cni.delNetworkList(old, rt));
    CHECK_FALSE(f.calls[0].conf().HasMember("prevResult"));  // DEL prevResult from 0.4.0 on
    CHECK(f.cni.getCachedAttachments("").empty());

    auto noCheck = list(R"({"cniVersion":"1.0.0","name":"n","disableCheck":true,"plugins":[{"type":"a"}]})");
    f.calls.clear();
    REQUIRE_FALSE(f.cni.checkNetworkList(noCheck, rt));
    CHECK(f.calls.empty());

    // GC: every cached attachment of this network is DEL'd, then GC (1.1.0)
    auto l = list(R"({"cniVersion":"1.1.0","name":"n","plugins":[{"type":"a"},{"type":"b"}]})");
    auto other = list(R"({"cniVersion":"1.1.0","name":"o","plugins":[{"type":"c"}]})");
    RuntimeConf rt2 = rt;
    rt2.containerID = "c2";
    REQUIRE_FALSE(f.cni.addNetworkList(l, rt, r));
    REQUIRE_FALSE(f.cni.addNetworkList(l, rt2, r));
    REQUIRE_FALSE(f.cni.addNetworkList(other, rt, r));
    f.calls.clear();
    REQUIRE_FALSE(f.cni.gcNetworkList(l, nullptr));
    std::vector<std::string> seq;
    for (const auto& c : f.calls) seq.push_back(c.command + " " + c.file.substr(c.file.rfind('/') + 1) + " " + c.envOf("CNI_CONTAINERID"));
    CHECK(seq == std::vector<std::string>{"DEL b c2", "DEL a c2", "DEL b " + rt.containerID, "DEL a " + rt.containerID,
                                          "GC a ", "GC b "});
    CHECK_FALSE(f.calls[4].conf().HasMember("cni.dev/valid-attachments"));
    CHECK(f.cni.getCachedAttachments("").size() == 1);

    // with a valid list (libcni API; cnitool passes none): both keys, valid ones kept
    REQUIRE_FALSE(f.cni.addNetworkList(l, rt, r));
    f.calls.clear();
    std::vector<Attachment> valid = {{rt.containerID, "eth0"}};
    REQUIRE_FALSE(f.cni.gcNetworkList(l, &valid));
    REQUIRE(f.calls.size() == 2);
    auto gc = f.calls[0].conf();
    CHECK(json::stringify(gc["cni.dev/valid-attachments"]) ==
          R"([{"containerID":"cnitool-0123456789abcdef0123","ifname":"eth0"}])");
    CHECK(gc.HasMember("cni.dev/attachments"));

    // GC errors are joined, every plugin still runs
    f.failOn = "GC";
    f.calls.clear();
    CHECK(f.cni.gcNetworkList(l, &valid).text() == "failed to GC plugin a: failed a\nfailed to GC plugin b: failed b");
    CHECK(f.calls.size() == 2);
    auto noGC = list(R"({"cniVersion":"1.1.0","name":"n","disableGC":true,"plugins":[{"type":"a"}]})");
    f.calls.clear();
    REQUIRE_FALSE(f.cni.gcNetworkList(noGC, nullptr));
    CHECK(f.calls.empty());

    // STATUS: 1.1.0 only, first error returned as is
    f.failOn = "STATUS";
    f.calls.clear();
    Error e = f.cni.getStatusNetworkList(l);
    CHECK(e.code == 50);
    CHECK(e.text() == "failed a");
    CHECK(f.calls.size() == 1);
    CHECK(f.calls[0].envOf("CNI_CONTAINERID").empty());
    f.calls.clear();
    auto v100 = list(R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":"a"}]})");
    REQUIRE_FALSE(f.cni.getStatusNetworkList(v100));
    CHECK(f.calls.empty());
}
