// libcni's list runner (upstream's libcni/api.go): each plugin's stdin
// (buildOneConfig), the environment a plugin runs with, and ADD, CHECK,
// DEL, GC and STATUS over a network's plugin list, with the result cache
// (libcni_cache.cpp) kept as libcni keeps it.
#include <algorithm>
#include <optional>

#include "cni/delegate.h"
#include "cni/libcni.h"
#include "cni/libcni_internal.h"
#include "cni/version.h"

namespace cni::libcni {

using namespace detail;

namespace {

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

}  // namespace

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
    if (auto e = gojson::marshal(doc, text)) return e;
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
                if (auto me = gojson::marshal(d, conf)) {
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
