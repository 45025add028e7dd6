// libcni's behaviour (config loading, list execution, result cache), written
// from upstream's libcni/api.go and libcni/conf.go. Config bytes are
// re-marshalled as Go does (maps: sorted keys, float64 numbers), so every
// plugin sees the stdin upstream's runtime would give it.
#include "cni/libcni.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "cni/delegate.h"
#include "cni/gojson.h"
#include "cni/json.h"
#include "cni/version.h"
#include "util/fs.h"

extern char** environ;

namespace cni::libcni {

namespace {

using json::Value;

constexpr int kMaxDepth = 10000;  // Go's encoding/json nesting limit

std::string_view sv(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

Error fail(std::string msg) { return Error(kInternal, std::move(msg)); }

// `prefix` + the error's text, keeping its code.
Error wrap(const std::string& prefix, Error e) {
    e.msg = prefix + e.text();
    e.details.clear();
    return e;
}

// Go's strconv.FormatFloat(f, 'f' or 'e', -1, 64) as encoding/json picks
// it: the shortest digits that round-trip, 'e' only for tiny or huge values.
void appendFloat(std::string& out, double f) {
    char buf[64];
    int len = 0;
    for (int prec = 0; prec < 17; prec++) {  // the fewest digits that read back as f
        len = std::snprintf(buf, sizeof buf, "%.*e", prec, f);
        if (std::strtod(buf, nullptr) == f) break;
    }
    std::string_view sci(buf, static_cast<size_t>(len));  // [-]d[.ddd]e(+|-)dd
    double a = std::fabs(f);
    if (a != 0 && (a < 1e-6 || a >= 1e21)) {
        std::string s(sci);
        size_t n = s.size();
        // Go writes e-07 as e-7.
        if (n >= 4 && s[n - 4] == 'e' && s[n - 3] == '-' && s[n - 2] == '0') s.erase(n - 2, 1);
        out += s;
        return;
    }
    if (sci[0] == '-') {
        out += '-';
        sci.remove_prefix(1);
    }
    size_t e = sci.find('e');
    std::string digits;
    for (char c : sci.substr(0, e))
        if (c != '.') digits += c;
    int exp = static_cast<int>(std::strtol(std::string(sci.substr(e + 1)).c_str(), nullptr, 10));
    if (digits == "0") {
        out += '0';
    } else if (exp < 0) {
        out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    } else {
        size_t ip = static_cast<size_t>(exp) + 1;
        if (digits.size() <= ip) {
            out += digits + std::string(ip - digits.size(), '0');
        } else {
            out += digits.substr(0, ip) + "." + digits.substr(ip);
        }
    }
}

bool marshalTo(std::string& out, const Value& v, bool sortKeys, int depth) {
    if (depth > kMaxDepth) return false;
    switch (v.GetType()) {
    case rapidjson::kNullType: out += "null"; return true;
    case rapidjson::kFalseType: out += "false"; return true;
    case rapidjson::kTrueType: out += "true"; return true;
    case rapidjson::kStringType: gojson::appendString(out, sv(v)); return true;
    case rapidjson::kNumberType: appendFloat(out, v.GetDouble()); return true;
    case rapidjson::kArrayType: {
        out += '[';
        bool first = true;
        for (const auto& e : v.GetArray()) {
            if (!first) out += ',';
            first = false;
            if (!marshalTo(out, e, sortKeys, depth + 1)) return false;
        }
        out += ']';
        return true;
    }
    case rapidjson::kObjectType: {
        out += '{';
        bool first = true;
        auto member = [&](std::string_view k, const Value& val) {
            if (!first) out += ',';
            first = false;
            gojson::appendString(out, k);
            out += ':';
            return marshalTo(out, val, sortKeys, depth + 1);
        };
        if (sortKeys) {
            std::map<std::string_view, const Value*> m;
            for (const auto& kv : v.GetObject()) m[sv(kv.name)] = &kv.value;
            for (const auto& [k, val] : m)
                if (!member(k, *val)) return false;
        } else {
            for (const auto& kv : v.GetObject())
                if (!member(sv(kv.name), kv.value)) return false;
        }
        out += '}';
        return true;
    }
    }
    return true;
}

// Go's %T of a value decoded into interface{}.
std::string goType(const Value* v) {
    if (!v || v->IsNull()) return "<nil>";
    if (v->IsString()) return "string";
    if (v->IsBool()) return "bool";
    if (v->IsNumber()) return "float64";
    if (v->IsArray()) return "[]interface {}";
    return "map[string]interface {}";
}

// Exact-key lookup in an object decoded as a Go map: the last duplicate
// wins and a null value is present (unlike json::get).
const Value* mapGet(const Value& obj, std::string_view key, bool& present) {
    present = false;
    const Value* found = nullptr;
    if (!obj.IsObject()) return nullptr;
    for (const auto& m : obj.GetObject())
        if (sv(m.name) == key) {
            found = &m.value;
            present = true;
        }
    return found;
}

// Go's json.Unmarshal into map[string]interface{}: an object or null.
Error parseMap(std::string_view text, rapidjson::Document& doc) {
    if (auto e = json::parseDocument(text, doc)) return e;
    if (!doc.IsObject() && !doc.IsNull())
        return Error(kDecodeFailure, std::string("json: cannot unmarshal ") + json::typeName(doc) +
                                         " into Go value of type map[string]interface {}");
    return {};
}

// GreaterThan(a, b) with upstream's parse errors.
bool greaterThan(std::string_view a, std::string_view b, std::string& err) {
    int64_t pa[3], pb[3];
    if (!parseVersionParts(a, pa, err) || !parseVersionParts(b, pb, err)) return false;
    for (int i = 0; i < 3; i++)
        if (pa[i] != pb[i]) return pa[i] > pb[i];
    return false;
}

Error readFile(const std::string& path, std::string& out) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error(kIOFailure, "open " + path + ": " + util::errnoText(errno));
    int err = util::readAll(fd, out);
    close(fd);
    if (err) return Error(kIOFailure, "read " + path + ": " + util::errnoText(err));
    return {};
}

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

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(std::string_view in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(in[k])); };
    for (; i + 3 <= in.size(); i += 3) {
        uint32_t v = b(i) << 16 | b(i + 1) << 8 | b(i + 2);
        for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 63];
    }
    if (size_t rest = in.size() - i) {
        uint32_t v = b(i) << 16 | (rest == 2 ? b(i + 1) << 8 : 0);
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += rest == 2 ? kB64[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

// Go's base64.StdEncoding.DecodeString (padding required; \r and \n skipped).
bool unbase64(std::string_view in, std::string& out, size_t& badAt) {
    out.clear();
    uint32_t acc = 0;
    int n = 0, pad = 0;
    for (size_t i = 0; i < in.size(); i++) {
        char c = in[i];
        if (c == '\r' || c == '\n') continue;
        if (c == '=') {
            if (n < 2) return badAt = i, false;
            pad++;
            n++;
            acc <<= 6;
            if (n == 4) {
                out += static_cast<char>(acc >> 16);
                if (pad == 1) out += static_cast<char>((acc >> 8) & 0xff);
                // only \r\n may follow
                for (size_t j = i + 1; j < in.size(); j++)
                    if (in[j] != '\r' && in[j] != '\n') return badAt = j, false;
                return true;
            }
            continue;
        }
        if (pad) return badAt = i, false;
        const char* p = std::strchr(kB64, c);
        if (!c || !p) return badAt = i, false;
        acc = acc << 6 | static_cast<uint32_t>(p - kB64);
        if (++n == 4) {
            out += static_cast<char>(acc >> 16);
            out += static_cast<char>((acc >> 8) & 0xff);
            out += static_cast<char>(acc & 0xff);
            acc = 0;
            n = 0;
        }
    }
    if (n != 0) return badAt = in.size(), false;
    return true;
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
        if (!unbase64(sv(*v), ci.config, bad))
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

std::string pluginDescription(const PluginConfig& p) {
    std::string out = "type=" + gojson::quote(p.type);
    if (!p.name.empty()) out += " name=" + gojson::quote(p.name);
    return out;
}

std::string stringifyArgs(const std::vector<KV>& args) {
    std::string s;
    for (size_t i = 0; i < args.size(); i++) s += (i ? ";" : "") + args[i].first + "=" + args[i].second;
    return s;
}

// The result as Go marshals the Result struct (field order kept), or as a map (sorted).
Error resultJson(const Result& r, bool sorted, std::string& out) {
    std::string text;
    if (auto e = printResult(r, r.cniVersion, text)) return e;
    rapidjson::Document d;
    if (auto e = json::parseDocument(text, d)) return e;
    return goMarshal(d, out, sorted);
}

}  // namespace

Error goMarshal(const Value& v, std::string& out, bool sortKeys) {
    out.clear();
    if (!marshalTo(out, v, sortKeys, 0)) return Error(kDecodeFailure, "exceeded max depth");
    return {};
}

// ---- config loading ----

Error pluginConfFromBytes(std::string bytes, PluginConfig& out) {
    const std::string pre = "error parsing configuration: ";
    rapidjson::Document doc;
    if (auto e = json::parseDocument(bytes, doc)) return wrap(pre, e);
    PluginConfig p;
    if (!doc.IsNull()) {
        if (!doc.IsObject())
            return fail(pre + "json: cannot unmarshal " + json::typeName(doc) +
                        " into Go value of type types.PluginConf");
        auto str = [&](const char* key, std::string& dst) -> Error {
            if (const Value* v = json::get(doc, key)) {
                if (!v->IsString())
                    return fail(pre + "json: cannot unmarshal " + json::typeName(*v) +
                                " into Go struct field PluginConf." + key + " of type string");
                dst.assign(sv(*v));
            }
            return {};
        };
        if (auto e = str("cniVersion", p.cniVersion)) return e;
        if (auto e = str("name", p.name)) return e;
        if (auto e = str("type", p.type)) return e;
        if (const Value* c = json::get(doc, "capabilities")) {
            if (!c->IsObject())
                return fail(pre + "json: cannot unmarshal " + json::typeName(*c) +
                            " into Go struct field PluginConf.capabilities of type map[string]bool");
            std::map<std::string, bool> caps;
            for (const auto& m : c->GetObject()) {
                if (m.value.IsNull()) continue;
                if (!m.value.IsBool())
                    return fail(pre + "json: cannot unmarshal " + json::typeName(m.value) +
                                " into Go struct field PluginConf.capabilities of type bool");
                caps[std::string(sv(m.name))] = m.value.GetBool();
            }
            p.capabilities.assign(caps.begin(), caps.end());
        }
        static constexpr std::pair<const char*, const char*> kObjects[] = {
            {"ipam", "types.IPAM"}, {"dns", "types.DNS"}, {"prevResult", "map[string]interface {}"}};
        for (const auto& [key, goT] : kObjects)
            if (const Value* v = json::get(doc, key); v && !v->IsObject())
                return fail(pre + "json: cannot unmarshal " + json::typeName(*v) + " into Go struct field PluginConf." +
                            key + " of type " + goT);
    }
    if (p.type.empty()) return fail(pre + "missing 'type'");
    p.bytes = std::move(bytes);
    out = std::move(p);
    return {};
}

Error networkConfFromBytes(std::string bytes, NetworkConfigList& out) {
    const std::string pre = "error parsing configuration list: ";
    rapidjson::Document doc;
    if (auto e = parseMap(bytes, doc)) return wrap(pre, e);
    bool present = false;
    const Value* rawName = mapGet(doc, "name", present);
    if (!present) return fail(pre + "no name");
    if (!rawName->IsString()) return fail(pre + "invalid name type " + goType(rawName));
    NetworkConfigList list;
    list.name.assign(sv(*rawName));

    if (const Value* v = mapGet(doc, "cniVersion", present); present) {
        if (!v->IsString()) return fail(pre + "invalid cniVersion type " + goType(v));
        list.cniVersion.assign(sv(*v));
    }
    if (const Value* rvs = mapGet(doc, "cniVersions", present); present) {
        // upstream formats the (nil) converted value here, not the raw one
        if (!rvs->IsArray()) return fail(pre + "invalid type for cniVersions: []interface {}");
        std::vector<std::string> vs;
        size_t i = 0;
        for (const auto& rv : rvs->GetArray()) {
            if (!rv.IsString())
                return fail(pre + "invalid type for cniVersions index " + std::to_string(i) + ": " + goType(&rv));
            std::string err;
            bool gt = greaterThan(sv(rv), kImplementedVersion, err);
            if (!err.empty())
                return fail(pre + "invalid cniVersions entry " + std::string(sv(rv)) + " at index " +
                            std::to_string(i) + ": " + err);
            if (!gt) vs.emplace_back(sv(rv));
            i++;
        }
        if (!list.cniVersion.empty()) {
            std::string err;
            bool gt = greaterThan(list.cniVersion, kImplementedVersion, err);
            if (!err.empty()) return fail(pre + "invalid cniVersion " + list.cniVersion + ": " + err);
            if (!gt) vs.push_back(list.cniVersion);
        }
        if (!vs.empty()) {
            std::string best = vs[0], err;
            for (const auto& v : vs)
                if (greaterThan(v, best, err)) best = v;
            list.cniVersion = best;
        }
    }
    auto readBool = [&](const char* key, bool& dst) -> Error {
        const Value* v = mapGet(doc, key, present);
        if (!present) return {};
        if (v->IsBool()) {
            dst = v->GetBool();
            return {};
        }
        if (!v->IsString()) return fail(pre + "invalid type " + goType(v) + " for " + key);
        std::string s(sv(*v));
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (s == "true" || s == "false") {
            dst = s == "true";
            return {};
        }
        return fail(pre + "invalid value " + gojson::quote(s) + " for " + key);
    };
    if (auto e = readBool("disableCheck", list.disableCheck)) return e;
    if (auto e = readBool("disableGC", list.disableGC)) return e;
    if (auto e = readBool("loadOnlyInlinedPlugins", list.loadOnlyInlinedPlugins)) return e;

    const Value* plugins = mapGet(doc, "plugins", present);
    if (!present) {
        if (list.loadOnlyInlinedPlugins)
            return fail(pre + "`loadOnlyInlinedPlugins` is true, and no 'plugins' key");
        list.bytes = std::move(bytes);
        out = std::move(list);
        return {};
    }
    if (!plugins->IsArray()) return fail(pre + "invalid 'plugins' type " + goType(plugins));
    if (plugins->Empty()) return fail(pre + "no plugins in list");
    size_t i = 0;
    for (const auto& p : plugins->GetArray()) {
        std::string pb;
        if (auto e = goMarshal(p, pb))
            return wrap("failed to marshal plugin config " + std::to_string(i) + ": ", e);
        PluginConfig pc;
        if (auto e = pluginConfFromBytes(std::move(pb), pc))
            return wrap("failed to parse plugin config " + std::to_string(i) + ": ", e);
        list.plugins.push_back(std::move(pc));
        i++;
    }
    list.bytes = std::move(bytes);
    out = std::move(list);
    return {};
}

Error confFiles(const std::string& dir, const std::vector<std::string_view>& exts, std::vector<std::string>& out) {
    out.clear();
    DIR* d = opendir(dir.c_str());
    if (!d) {
        if (errno == ENOENT) return {};
        if (errno == ENOTDIR) return fail("readdirent " + dir + ": not a directory");
        return fail("open " + dir + ": " + util::errnoText(errno));
    }
    while (dirent* e = readdir(d)) {
        std::string_view name = e->d_name;
        if (name == "." || name == "..") continue;
        bool isDir = e->d_type == DT_DIR;
        if (e->d_type == DT_UNKNOWN) {
            struct stat st;
            isDir = fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
        }
        if (isDir) continue;
        auto dot = name.rfind('.');
        std::string_view ext = dot == std::string_view::npos ? std::string_view() : name.substr(dot);
        if (std::find(exts.begin(), exts.end(), ext) != exts.end()) out.push_back(util::joinPath(dir, name));
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return {};
}

Error networkConfFromFile(const std::string& file, NetworkConfigList& out) {
    std::string bytes;
    if (auto e = readFile(file, bytes)) return wrap("error reading " + file + ": ", e);
    NetworkConfigList list;
    if (auto e = networkConfFromBytes(std::move(bytes), list)) return e;
    if (!list.loadOnlyInlinedPlugins) {
        std::string dir = util::joinPath(util::dirName(file), list.name);
        std::vector<std::string> files;
        if (auto e = confFiles(dir, {".conf"}, files))
            return wrap("failed to read plugin config files in " + dir + ": ", e);
        for (const auto& f : files) {
            std::string pb;
            if (auto e = readFile(f, pb)) return wrap("error reading " + f + ": ", e);
            PluginConfig pc;
            if (auto e = pluginConfFromBytes(std::move(pb), pc)) return e;
            list.plugins.push_back(std::move(pc));
        }
    }
    if (list.plugins.empty()) return fail("no plugin configs found");
    out = std::move(list);
    return {};
}

Error confListFromConf(const PluginConfig& conf, NetworkConfigList& out) {
    rapidjson::Document doc;
    if (auto e = parseMap(conf.bytes, doc)) return e;
    std::string plugin;
    if (auto e = goMarshal(doc, plugin)) return e;
    std::string b = "{\"cniVersion\":";
    gojson::appendString(b, conf.cniVersion);
    b += ",\"name\":";
    gojson::appendString(b, conf.name);
    b += ",\"plugins\":[" + plugin + "]}";
    return networkConfFromBytes(std::move(b), out);
}

Error loadNetworkConf(const std::string& dir, const std::string& name, NetworkConfigList& out) {
    std::vector<std::string> lists;
    if (auto e = confFiles(dir, {".conflist"}, lists)) return e;
    for (const auto& f : lists) {
        NetworkConfigList l;
        if (auto e = networkConfFromFile(f, l)) return e;
        if (l.name == name) {
            out = std::move(l);
            return {};
        }
    }
    // Single-plugin configs, upgraded to a list.
    std::vector<std::string> confs;
    if (auto e = confFiles(dir, {".conf", ".json"}, confs)) return e;
    if (confs.empty()) {
        if (!lists.empty()) return fail("no net configuration with name \"" + name + "\" in " + dir);
        return fail("no net configurations found in " + dir);
    }
    for (const auto& f : confs) {
        std::string bytes;
        if (auto e = readFile(f, bytes)) return wrap("error reading " + f + ": ", e);
        PluginConfig pc;
        if (auto e = pluginConfFromBytes(std::move(bytes), pc)) return e;
        if (pc.name == name) return confListFromConf(pc, out);
    }
    return fail("no net configuration with name \"" + name + "\" in " + dir);
}

// ---- plugin stdin ----

Error buildOneConfig(const std::string& name, const std::string& cniVersion, const PluginConfig& plugin,
                     const Result* prevResult, const RuntimeConf* rt, std::string& out) {
    rapidjson::Document doc;
    if (auto e = parseMap(plugin.bytes, doc)) return wrap("unmarshal existing network bytes: ", e);
    if (doc.IsNull()) doc.SetObject();
    auto& al = doc.GetAllocator();
    auto set = [&](std::string_view key, Value v) {
        Value k(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size())));
        while (doc.RemoveMember(k)) {
        }
        doc.AddMember(Value(key.data(), static_cast<rapidjson::SizeType>(key.size()), al), v, al);
    };
    set("name", Value(name.c_str(), static_cast<rapidjson::SizeType>(name.size()), al));
    set("cniVersion", Value(cniVersion.c_str(), static_cast<rapidjson::SizeType>(cniVersion.size()), al));
    // Without runtimeConfig upstream marshals the Result struct (field order);
    // with it the whole config passes through a map once more (sorted).
    Value rc(rapidjson::kObjectType);
    if (rt && rt->capabilityArgs && rt->capabilityArgs->IsObject())
        for (const auto& [cap, supported] : plugin.capabilities) {
            if (!supported) continue;
            bool present = false;
            if (const Value* data = mapGet(*rt->capabilityArgs, cap, present); present)
                rc.AddMember(Value(cap.c_str(), static_cast<rapidjson::SizeType>(cap.size()), al),
                             Value(*data, al), al);
        }
    bool sortedPrev = rc.MemberCount() > 0;
    std::string prevText;
    if (prevResult) {
        if (auto e = resultJson(*prevResult, sortedPrev, prevText)) return e;
        set("prevResult", Value(rapidjson::kNullType));  // placeholder, spliced below
    }
    if (sortedPrev) set("runtimeConfig", std::move(rc));
    std::string text;
    if (auto e = goMarshal(doc, text)) return e;
    if (prevResult) {
        static constexpr std::string_view kPlace = "\"prevResult\":null";
        // Keys are sorted and unique, so the first top-level match is ours:
        // find it at depth 1.
        int depth = 0;
        bool inStr = false;
        for (size_t i = 0; i < text.size(); i++) {
            char c = text[i];
            if (inStr) {
                if (c == '\\') i++;
                else if (c == '"') inStr = false;
                continue;
            }
            if (c == '"') {
                if (depth == 1 && text.compare(i, kPlace.size(), kPlace) == 0) {
                    text.replace(i + kPlace.size() - 4, 4, prevText);
                    break;
                }
                inStr = true;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                depth--;
            }
        }
    }
    out = std::move(text);
    return {};
}

// ---- cache ----

Error cacheText(const Result& result, std::string_view config, const std::string& netName, const RuntimeConf& rt,
                std::string& out) {
    std::string res;
    if (auto e = resultJson(result, true, res)) return e;
    std::string s = "{\"kind\":\"cniCacheV1\",\"containerId\":";
    gojson::appendString(s, rt.containerID);
    s += ",\"config\":\"" + base64(config) + "\",\"ifName\":";
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
        if (auto e = goMarshal(*rt.capabilityArgs, caps)) return e;
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
    // MkdirAll(dir, 0700)
    std::string dir = util::dirName(file);
    for (size_t i = 1; i <= dir.size(); i++) {
        if (i != dir.size() && dir[i] != '/') continue;
        std::string part = dir.substr(0, i);
        if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
            return fail("mkdir " + part + ": " + util::errnoText(errno));
    }
    std::string tmp = dir + "/." + file.substr(dir.size() + 1) + ".tmp";
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return fail("open " + tmp + ": " + util::errnoText(errno));
    int err = util::writeAll(fd, text);
    if (close(fd) != 0 && !err) err = errno;
    if (!err && rename(tmp.c_str(), file.c_str()) != 0) err = errno;
    if (err) {
        unlink(tmp.c_str());
        return fail("write " + file + ": " + util::errnoText(err));
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
    DIR* d = opendir(dir.c_str());
    if (!d) return out;
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
        if (!containerID.empty()) {
            std::string part = "-" + std::string(containerID) + "-";
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

// ---- running the list ----

Error CNIConfig::run(const std::string& file, std::string_view command, const RuntimeConf& rt,
                     std::string_view stdinData, std::string& out) const {
    // The caller's environment with the CNI variables set (upstream's Args.AsEnv).
    std::vector<std::string> env = environWithoutCni(/*keepNetnsOverride=*/true);
    env.push_back("CNI_COMMAND=" + std::string(command));
    env.push_back("CNI_CONTAINERID=" + rt.containerID);
    env.push_back("CNI_NETNS=" + rt.netns);
    env.push_back("CNI_ARGS=" + stringifyArgs(rt.args));
    env.push_back("CNI_IFNAME=" + rt.ifname);
    env.push_back("CNI_PATH=" + path);
    out.clear();
    return exec ? exec(file, env, stdinData, out) : execFile(file, env, stdinData, out);
}

Error CNIConfig::addNetwork(const NetworkConfigList& list, const PluginConfig& plugin, const Result* prev,
                            const RuntimeConf& rt, Result& out) const {
    std::string file;
    if (auto e = findPlugin(plugin.type, path, file)) return e;
    if (auto e = validateContainerID(rt.containerID)) return e;
    if (auto e = validateNetworkName(list.name)) return e;
    if (auto e = validateIfname(rt.ifname)) return e;
    std::string conf, text;
    if (auto e = buildOneConfig(list.name, list.cniVersion, plugin, prev, &rt, conf)) return e;
    if (auto e = run(file, "ADD", rt, conf, text)) return e;
    // A result without cniVersion is in the config's version.
    return parseResult(text, list.cniVersion.empty() ? "0.1.0" : list.cniVersion, out);
}

Error CNIConfig::addNetworkList(const NetworkConfigList& list, const RuntimeConf& rt, Result& out) const {
    std::optional<Result> result;
    for (const auto& p : list.plugins) {
        Result r;
        if (auto e = addNetwork(list, p, result ? &*result : nullptr, rt, r))
            return wrap("plugin " + pluginDescription(p) + " failed (add): ", e);
        result = std::move(r);
    }
    if (!result) return fail("no plugin configs found");
    if (auto e = cacheAdd(*result, list.bytes, list.name, rt))
        return wrap("failed to set network " + gojson::quote(list.name) + " cached result: ", e);
    out = std::move(*result);
    return {};
}

Error CNIConfig::checkNetworkList(const NetworkConfigList& list, const RuntimeConf& rt) const {
    std::string err;
    if (!versionAtLeast(list.cniVersion, "0.4.0", err)) {
        if (!err.empty()) return fail(err);
        return Error(kIncompatibleVersion, "configuration version " + gojson::quote(list.cniVersion) +
                                               " does not support the CHECK command");
    }
    if (list.disableCheck) return {};
    std::optional<Result> cached;
    if (auto e = getCachedResult(list.name, list.cniVersion, rt, cached))
        return wrap("failed to get network " + gojson::quote(list.name) + " cached result: ", e);
    for (const auto& p : list.plugins) {
        std::string file, conf, text;
        if (auto e = findPlugin(p.type, path, file)) return e;
        if (auto e = buildOneConfig(list.name, list.cniVersion, p, cached ? &*cached : nullptr, &rt, conf)) return e;
        if (auto e = run(file, "CHECK", rt, conf, text)) return e;
    }
    return {};
}

Error CNIConfig::delNetworkList(const NetworkConfigList& list, const RuntimeConf& rt) const {
    std::optional<Result> cached;
    std::string err;
    if (versionAtLeast(list.cniVersion, "0.4.0", err)) {
        if (getCachedResult(list.name, list.cniVersion, rt, cached)) {
            cacheDel(list.name, rt);
            cached.reset();
        }
    } else if (!err.empty()) {
        return fail(err);
    }
    for (auto it = list.plugins.rbegin(); it != list.plugins.rend(); ++it) {
        std::string file, conf, text;
        Error e = findPlugin(it->type, path, file);
        if (!e) e = buildOneConfig(list.name, list.cniVersion, *it, cached ? &*cached : nullptr, &rt, conf);
        if (!e) e = run(file, "DEL", rt, conf, text);
        if (e) return wrap("plugin " + pluginDescription(*it) + " failed (delete): ", e);
    }
    cacheDel(list.name, rt);
    return {};
}

Error CNIConfig::gcNetworkList(const NetworkConfigList& list, const std::vector<Attachment>* valid) const {
    if (list.disableGC) return {};
    std::vector<std::string> errs;
    int code = kOK;
    auto note = [&](const std::string& prefix, const Error& e) {
        if (code == kOK) code = e.code;
        errs.push_back(prefix + e.text());
    };
    for (const auto& a : getCachedAttachments("")) {
        if (a.network != list.name) continue;
        if (valid && std::find(valid->begin(), valid->end(), Attachment{a.containerID, a.ifname}) != valid->end())
            continue;
        RuntimeConf rt{a.containerID, a.netns, a.ifname, a.args, a.capabilityArgs};
        if (auto e = delNetworkList(list, rt))
            note("failed to delete stale attachment " + a.containerID + " " + a.ifname + ": ", e);
    }
    std::string verr;
    if (versionAtLeast(list.cniVersion, "1.1.0", verr)) {
        std::string attachments;
        if (valid) {
            attachments = "[";
            for (size_t i = 0; i < valid->size(); i++) {
                if (i) attachments += ',';
                attachments += "{\"containerID\":";
                gojson::appendString(attachments, (*valid)[i].containerID);
                attachments += ",\"ifname\":";
                gojson::appendString(attachments, (*valid)[i].ifname);
                attachments += '}';
            }
            attachments += ']';
        }
        for (const auto& p : list.plugins) {
            std::string conf, text;
            Error e = buildOneConfig(list.name, list.cniVersion, p, nullptr, nullptr, conf);
            if (e) {
                note("failed to generate configuration to GC plugin " + p.type + ": ", e);
                continue;
            }
            if (valid) {
                // Both keys, as upstream (the spec once named it cni.dev/attachments).
                rapidjson::Document d, list2;
                (void)json::parseDocument(conf, d);
                (void)json::parseDocument(attachments, list2);
                auto& al = d.GetAllocator();
                d.AddMember("cni.dev/valid-attachments", Value(list2, al), al);
                d.AddMember("cni.dev/attachments", Value(list2, al), al);
                if (auto me = goMarshal(d, conf)) {
                    note("failed to generate configuration to GC plugin " + p.type + ": ", me);
                    continue;
                }
            }
            std::string file;
            Error re = findPlugin(p.type, path, file);
            if (!re) re = run(file, "GC", RuntimeConf{}, conf, text);
            if (re) note("failed to GC plugin " + p.type + ": ", re);
        }
    }
    if (errs.empty()) return {};
    std::string joined;
    for (size_t i = 0; i < errs.size(); i++) joined += (i ? "\n" : "") + errs[i];
    return Error(code, joined);
}

Error CNIConfig::getStatusNetworkList(const NetworkConfigList& list) const {
    std::string err;
    if (!versionAtLeast(list.cniVersion, "1.1.0", err)) return {};
    for (const auto& p : list.plugins) {
        std::string conf, text;
        if (auto e = buildOneConfig(list.name, list.cniVersion, p, nullptr, nullptr, conf))
            return wrap("failed to generate configuration to get plugin STATUS " + p.type + ": ", e);
        std::string file;
        if (auto e = findPlugin(p.type, path, file)) return e;
        if (auto e = run(file, "STATUS", RuntimeConf{}, conf, text)) return e;  // the first error, as is
    }
    return {};
}

}  // namespace cni::libcni
