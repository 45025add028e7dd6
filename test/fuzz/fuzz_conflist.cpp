// libFuzzer target: what libcni reads from files, as cnitool loads it.
// The bytes are, in turn: a network configuration list
// (networkConfFromBytes, then buildOneConfig for each plugin, with and
// without a prevResult and capability args), a single plugin config
// (pluginConfFromBytes, confListFromConf), a .conflist and a .conf in a
// private config dir (loadNetworkConf, networkConfFromFile), and a result
// cache file (getCachedResult, getCachedAttachments: libcni's cniCacheV1
// and the older bare result). Files live in a private directory under
// /tmp/fuzzwork-*, emptied for every input. Checks: each plugin's config
// is a JSON object naming the list and its version, whose prevResult reads
// back as the one given; a plugin config becomes a one-plugin list; a
// cached result written back (cacheAdd) reads back the same, with its
// attachment.
#include <rapidjson/document.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/json.h"
#include "cni/libcni.h"
#include "cni/result.h"
#include "fuzz_util.h"

namespace {

using fuzz::check;
namespace lc = cni::libcni;

const fuzz::TempDir& dir() {
    static const fuzz::TempDir d("conflist");
    return d;
}

const cni::Result& prevResult() {
    static const cni::Result r = [] {
        cni::Result r;
        const char* text = R"({"cniVersion":"1.0.0","interfaces":[{"name":"cni0","mac":"0a:58:0a:f4:00:01"},)"
                           R"({"name":"eth0","mac":"0a:58:0a:f4:00:05","sandbox":"/var/run/netns/x"}],)"
                           R"("ips":[{"interface":1,"address":"10.244.0.5/24","gateway":"10.244.0.1"}],)"
                           R"("routes":[{"dst":"0.0.0.0/0","gw":"10.244.0.1"}],"dns":{"nameservers":["10.96.0.10"]}})";
        if (cni::parseResult(text, "1.0.0", r)) std::abort();
        return r;
    }();
    return r;
}

const lc::RuntimeConf& runtime() {
    static const lc::RuntimeConf rt = [] {
        lc::RuntimeConf rt;
        rt.containerID = "cid";
        rt.netns = "/var/run/netns/fuzz";
        rt.ifname = "eth0";
        rt.args = {{"K8S_POD_NAME", "web"}, {"IgnoreUnknown", "1"}};
        auto caps = std::make_shared<rapidjson::Document>();
        const char* text = R"({"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}],)"
                           R"("mac":"02:00:00:00:00:01","ips":["10.244.0.9/24"],"bandwidth":{"ingressRate":1000}})";
        if (cni::json::parseDocument(text, *caps)) std::abort();
        rt.capabilityArgs = caps;
        return rt;
    }();
    return rt;
}

void oneConfig(const lc::NetworkConfigList& list, const lc::PluginConfig& p, bool withPrev, bool withRt) {
    std::string version = list.cniVersion.empty() ? "1.1.0" : list.cniVersion;
    std::string out;
    if (lc::buildOneConfig(list.name, version, p, withPrev ? &prevResult() : nullptr, withRt ? &runtime() : nullptr,
                           out))
        return;
    rapidjson::Document d;
    check(!cni::json::parseDocument(out, d) && d.IsObject());
    const rapidjson::Value* name = cni::json::getExact(d, "name");
    const rapidjson::Value* ver = cni::json::getExact(d, "cniVersion");
    check(name && name->IsString() && ver && ver->IsString());
    // Names and versions that are valid UTF-8 come through unchanged.
    bool ascii = true;
    for (unsigned char c : list.name + version) ascii = ascii && c < 0x80;
    if (ascii) check(name->GetString() == list.name && ver->GetString() == version);
    const rapidjson::Value* prev = cni::json::getExact(d, "prevResult");
    if (!withPrev) return;
    check(prev && prev->IsObject());
    cni::Result back;
    check(!cni::json::parseResult(*prev, "0.1.0", back) && back == prevResult());
}

void lists(const std::string& in) {
    lc::NetworkConfigList list;
    if (!lc::networkConfFromBytes(in, list)) {
        for (const auto& p : list.plugins)
            for (bool prev : {false, true})
                for (bool rt : {false, true}) oneConfig(list, p, prev, rt);
    }
    lc::PluginConfig pc;
    if (!lc::pluginConfFromBytes(in, pc)) {
        check(!pc.type.empty());
        lc::NetworkConfigList one;
        check(!lc::confListFromConf(pc, one) && one.plugins.size() == 1 && !one.plugins[0].type.empty());
        oneConfig(one, one.plugins[0], true, true);
    }
}

bool plainName(const std::string& n) {
    return !n.empty() && n != "." && n != ".." && n.find('/') == std::string::npos && n.find('\0') == std::string::npos;
}

void files(const std::string& in) {
    const fuzz::TempDir& d = dir();
    d.clear();
    check(d.mkdir("net.d"));
    check(d.write("net.d/10-fuzz.conflist", in) && d.write("net.d/20-fuzz.conf", in));
    lc::NetworkConfigList list;
    std::string name = "fuzz";
    lc::NetworkConfigList parsed;
    // The list's own name, when it stays inside the config dir (libcni joins
    // it to the dir to look for non-inlined plugin configs).
    if (!lc::networkConfFromBytes(in, parsed) && plainName(parsed.name)) {
        name = parsed.name;
        (void)lc::networkConfFromFile(d.sub("net.d/10-fuzz.conflist"), list);
        if (!parsed.loadOnlyInlinedPlugins && d.mkdir("net.d/" + name))
            (void)d.write("net.d/" + name + "/30-extra.conf", in);
    }
    if (!lc::loadNetworkConf(d.sub("net.d"), name, list)) check(list.name == name || list.plugins.size() == 1);
}

void cache(const std::string& in) {
    const fuzz::TempDir& d = dir();
    d.clear();
    check(d.mkdir("results") && d.write("results/net-cid-eth0", in) && d.write("results/other-cid2-eth1", in));
    lc::CNIConfig cfg;
    cfg.cacheDir = d.path();
    const lc::RuntimeConf& rt = runtime();
    for (const char* v : {"0.3.1", "0.4.0", "1.0.0"}) {
        std::optional<cni::Result> r;
        (void)cfg.getCachedResult("net", v, rt, r);
    }
    for (const auto& a : cfg.getCachedAttachments("")) check(!a.ifname.empty() && !a.network.empty());
    for (const auto& a : cfg.getCachedAttachments("cid")) check(a.containerID == "cid");

    std::optional<cni::Result> r;
    if (cfg.getCachedResult("net", "1.1.0", rt, r) || !r) return;
    if (cfg.cacheAdd(*r, "{\"fuzz\":1}", "net", rt)) return;
    std::optional<cni::Result> again;
    check(!cfg.getCachedResult("net", "1.1.0", rt, again) && again && *again == *r);
    bool found = false;
    for (const auto& a : cfg.getCachedAttachments("cid"))
        if (a.network == "net") {
            found = true;
            check(a.ifname == "eth0" && a.config == "{\"fuzz\":1}" && a.netns == rt.netns && a.args == rt.args &&
                  a.capabilityArgs && *a.capabilityArgs == *rt.capabilityArgs);
        }
    check(found);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    lists(in);
    files(in);
    cache(in);
    return 0;
}
