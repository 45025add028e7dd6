// libcni's result cache (upstream's libcni/api.go): one file per
// attachment, <cacheDir>/results/<network>-<containerID>-<ifname>, in
// libcni's cniCacheV1 format, so runtimes using libcni and cnitool read
// each other's files; older caches that hold only the result are read too.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "cni/libcni.h"
#include "cni/libcni_internal.h"
#include "util/fd.h"

namespace cni::libcni {

using namespace detail;

namespace {

// Go's [2]string-array-of-pairs marshal.
void appendArgs(std::string& out, const std::vector<KV>& args) {
    out += '[';
    for (size_t i = 0; i < args.size(); i++) {
        if (i) out += ',';
        out += '[';
        gojson::appendString(out, args[i].first);
        out += ',';
        gojson::appendString(out, args[i].second);
        out += ']';
    }
    out += ']';
}

// A cache file decoded as Go decodes it into libcni's cachedInfo struct
// (field names case-insensitive, null = absent).
struct CachedInfo {
    std::string kind, containerID, config, ifname, networkName, netns;
    std::vector<KV> args;
    const Value* capabilityArgs = nullptr;
    const Value* result = nullptr;
};

Error fieldType(const char* field, const Value& v, const char* goT) {
    return Error(kDecodeFailure, std::string("json: cannot unmarshal ") + json::typeName(v) +
                                     " into Go struct field cachedInfo." + field + " of type " + goT);
}

Error parseCachedInfo(std::string_view text, rapidjson::Document& doc, CachedInfo& ci) {
    if (auto e = json::parseDocument(text, doc)) return e;
    if (doc.IsNull()) return {};
    if (!doc.IsObject())
        return Error(kDecodeFailure, std::string("json: cannot unmarshal ") + json::typeName(doc) +
                                         " into Go value of type libcni.cachedInfo");
    struct S {
        const char* key;
        std::string* dst;
    } strs[] = {{"kind", &ci.kind},       {"containerId", &ci.containerID}, {"ifName", &ci.ifname},
                {"networkName", &ci.networkName}, {"netns", &ci.netns}};
    for (auto& s : strs)
        if (const Value* v = json::get(doc, s.key)) {
            if (!v->IsString()) return fieldType(s.key, *v, "string");
            s.dst->assign(sv(*v));
        }
    if (const Value* v = json::get(doc, "config")) {
        if (!v->IsString()) return fieldType("config", *v, "[]uint8");
        size_t bad = 0;
        if (!gojson::base64Decode(sv(*v), ci.config, bad))
            return Error(kDecodeFailure, "illegal base64 data at input byte " + std::to_string(bad));
    }
    if (const Value* v = json::get(doc, "cniArgs")) {
        if (!v->IsArray()) return fieldType("cniArgs", *v, "[][2]string");
        for (const auto& p : v->GetArray()) {
            if (p.IsNull()) {
                ci.args.emplace_back();
                continue;
            }
            if (!p.IsArray()) return fieldType("cniArgs", p, "[2]string");
            KV kv;
            size_t i = 0;
            for (const auto& s : p.GetArray()) {
                if (!s.IsString() && !s.IsNull()) return fieldType("cniArgs", s, "string");
                if (i == 0 && s.IsString()) kv.first.assign(sv(s));
                if (i == 1 && s.IsString()) kv.second.assign(sv(s));
                i++;
            }
            ci.args.push_back(std::move(kv));
        }
    }
    if (const Value* v = json::get(doc, "capabilityArgs")) {
        if (!v->IsObject()) return fieldType("capabilityArgs", *v, "map[string]interface {}");
        ci.capabilityArgs = v;
    }
    if (const Value* v = json::get(doc, "result")) {
        if (!v->IsObject()) return fieldType("result", *v, "map[string]interface {}");
        ci.result = v;
    }
    return {};
}

JsonDoc copyDoc(const Value* v) {
    if (!v || !v->IsObject()) return nullptr;
    auto d = std::make_shared<rapidjson::Document>();
    d->CopyFrom(*v, d->GetAllocator());
    return d;
}

}  // namespace

Error cacheText(const Result& result, std::string_view config, const std::string& netName, const RuntimeConf& rt,
                std::string& out) {
    std::string res;
    if (auto e = resultJson(result, true, res)) return e;
    std::string s = "{\"kind\":\"cniCacheV1\",\"containerId\":";
    gojson::appendString(s, rt.containerID);
    s += ",\"config\":\"" + gojson::base64Encode(config) + "\",\"ifName\":";
    gojson::appendString(s, rt.ifname);
    s += ",\"networkName\":";
    gojson::appendString(s, netName);
    if (!rt.netns.empty()) {
        s += ",\"netns\":";
        gojson::appendString(s, rt.netns);
    }
    if (!rt.args.empty()) {
        s += ",\"cniArgs\":";
        appendArgs(s, rt.args);
    }
    if (rt.capabilityArgs && rt.capabilityArgs->IsObject() && rt.capabilityArgs->MemberCount() > 0) {
        std::string caps;
        if (auto e = gojson::marshal(*rt.capabilityArgs, caps)) return e;
        s += ",\"capabilityArgs\":" + caps;
    }
    if (res != "{}") s += ",\"result\":" + res;
    s += '}';
    out = std::move(s);
    return {};
}

Error CNIConfig::cacheFilePath(const std::string& netName, const RuntimeConf& rt, std::string& out) const {
    if (netName.empty() || rt.containerID.empty() || rt.ifname.empty())
        return fail("cache file path requires network name (" + gojson::quote(netName) + "), container ID (" +
                    gojson::quote(rt.containerID) + "), and interface name (" + gojson::quote(rt.ifname) + ")");
    std::string file = netName + "-" + rt.containerID + "-" + rt.ifname;
    // Never a path outside the results directory.
    if (file.find('/') != std::string::npos) return fail("invalid cache file name " + gojson::quote(file));
    out = util::joinPath(cacheDir, "results/" + file);
    return {};
}

Error CNIConfig::cacheAdd(const Result& result, std::string_view config, const std::string& netName,
                          const RuntimeConf& rt) const {
    std::string text, file;
    if (auto e = cacheText(result, config, netName, rt, text)) return e;
    if (auto e = cacheFilePath(netName, rt, file)) return e;
    std::string dir = util::dirName(file);
    if (auto e = util::mkdirAll(dir, 0700)) return e;
    // Written whole under a temporary name, then renamed over the cache file.
    std::string tmp = dir + "/." + file.substr(dir.size() + 1) + ".tmp";
    util::Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return util::pathError("open", tmp, errno);
    int err = util::writeAll(fd.get(), text);
    if (auto e = fd.close(); e && !err) err = e.errnum;
    if (!err && rename(tmp.c_str(), file.c_str()) != 0) err = errno;
    if (err) {
        unlink(tmp.c_str());
        return util::pathError("write", file, err);
    }
    return {};
}

void CNIConfig::cacheDel(const std::string& netName, const RuntimeConf& rt) const {
    std::string file;
    if (cacheFilePath(netName, rt, file)) return;
    unlink(file.c_str());
}

Error CNIConfig::getCachedResult(const std::string& netName, const std::string& cniVersion, const RuntimeConf& rt,
                                 std::optional<Result>& out) const {
    out.reset();
    std::string file, data;
    if (auto e = cacheFilePath(netName, rt, file)) return e;
    if (readFile(file, data)) return {};  // no cache: no result
    rapidjson::Document doc;
    CachedInfo ci;
    Result r;
    if (parseCachedInfo(data, doc, ci) || ci.kind != kCacheKind) {
        // An older cache: the file is the result itself.
        rapidjson::Document legacy;
        if (auto e = json::parseDocument(data, legacy))
            return wrap("decoding version from network config: ", e);
        if (auto e = json::parseResult(legacy, "0.1.0", r)) return e;
    } else {
        Value null;
        if (auto e = json::parseResult(ci.result ? *ci.result : null, "0.1.0", r)) return e;
    }
    Result conv;
    if (auto e = convertResult(r, cniVersion, conv))
        return wrap("failed to convert cached result to config version " + gojson::quote(cniVersion) + ": ", e);
    out = std::move(conv);
    return {};
}

std::vector<NetworkAttachment> CNIConfig::getCachedAttachments(std::string_view containerID) const {
    std::vector<NetworkAttachment> out;
    std::string dir = util::joinPath(cacheDir, "results");
    util::Dir d;
    if (util::Dir::open(dir.c_str(), d)) return out;
    std::vector<std::string> names;
    while (dirent* e = d.next()) names.emplace_back(e->d_name);
    d.reset();
    std::sort(names.begin(), names.end());
    std::string part = "-";  // "-<containerID>-" inside a file name
    part.append(containerID).append("-");
    for (const auto& n : names) {
        if (!containerID.empty()) {
            auto pos = n.find(part);
            if (pos == std::string::npos || pos == 0 || pos + part.size() >= n.size()) continue;
        }
        std::string data;
        if (readFile(dir + "/" + n, data)) continue;
        rapidjson::Document doc;
        CachedInfo ci;
        if (parseCachedInfo(data, doc, ci) || ci.kind != kCacheKind) continue;
        if (!containerID.empty() && ci.containerID != containerID) continue;
        if (ci.ifname.empty() || ci.networkName.empty()) continue;
        out.push_back({ci.containerID, ci.networkName, ci.ifname, ci.config, ci.netns, ci.args,
                       copyDoc(ci.capabilityArgs)});
    }
    return out;
}

}  // namespace cni::libcni
