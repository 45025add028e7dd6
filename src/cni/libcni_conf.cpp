// libcni's network config loading (upstream's libcni/conf.go): conflists
// and their cniVersions negotiation, plugin configs, non-inlined plugins
// from the list's directory, single configs upgraded to a one-plugin list.
// Plugin configs inside a list are re-marshalled as Go does (maps: sorted
// keys, float64 numbers), so every plugin sees the bytes upstream's runtime
// would give it.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <map>

#include "cni/libcni.h"
#include "cni/libcni_internal.h"
#include "cni/version.h"
#include "util/fd.h"

namespace cni::libcni {

using namespace detail;

namespace {

// Go's %T of a value decoded into interface{}.
std::string goType(const Value* v) {
    if (!v || v->IsNull()) return "<nil>";
    if (v->IsString()) return "string";
    if (v->IsBool()) return "bool";
    if (v->IsNumber()) return "float64";
    if (v->IsArray()) return "[]interface {}";
    return "map[string]interface {}";
}

// GreaterThan(a, b) with upstream's parse errors.
bool greaterThan(std::string_view a, std::string_view b, std::string& err) {
    int64_t pa[3], pb[3];
    if (!parseVersionParts(a, pa, err) || !parseVersionParts(b, pb, err)) return false;
    for (int i = 0; i < 3; i++)
        if (pa[i] != pb[i]) return pa[i] > pb[i];
    return false;
}

}  // namespace

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
        if (auto e = gojson::marshal(p, pb))
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
    util::Dir d;
    if (auto e = util::Dir::open(dir.c_str(), d)) {
        if (e.errnum == ENOENT) return {};
        return util::pathError(e.errnum == ENOTDIR ? "readdirent" : "open", dir, e.errnum);
    }
    while (dirent* e = d.next()) {
        std::string_view name = e->d_name;
        bool isDir = e->d_type == DT_DIR;
        if (e->d_type == DT_UNKNOWN) {
            struct stat st;
            isDir = fstatat(dirfd(d.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
        }
        if (isDir) continue;
        auto dot = name.rfind('.');
        std::string_view ext = dot == std::string_view::npos ? std::string_view() : name.substr(dot);
        if (std::find(exts.begin(), exts.end(), ext) != exts.end()) out.push_back(util::joinPath(dir, name));
    }
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
    if (auto e = gojson::marshal(doc, plugin)) return e;
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

}  // namespace cni::libcni
