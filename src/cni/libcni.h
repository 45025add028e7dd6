// The runtime side of CNI, as upstream's libcni, in three parts: network
// config loading (libcni_conf.cpp: conflists, single configs upgraded to
// lists, cniVersions negotiation, non-inlined plugin configs), the result
// cache in libcni's cniCacheV1 format (libcni_cache.cpp), and running a
// list's plugins for ADD, CHECK, DEL, GC and STATUS (libcni_runner.cpp).
// cnitool is its user; the plugins are exec'd (never run in-process). The
// JSON a plugin or the cache gets is Go's (cni/gojson.h).
#pragma once

#include <rapidjson/document.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cni/error.h"
#include "cni/result.h"
#include "cni/skel.h"

namespace cni::libcni {

inline constexpr const char* kDefaultCacheDir = "/var/lib/cni";  // results in <dir>/results
inline constexpr const char* kCacheKind = "cniCacheV1";
inline constexpr const char* kImplementedVersion = "1.1.0";  // the highest cniVersions entry picked

// ---- config loading (libcni_conf.cpp)

struct PluginConfig {
    std::string bytes;       // the plugin's config as given to the runtime
    std::string cniVersion;  // its own keys (for messages; the list's win)
    std::string name;
    std::string type;
    std::vector<std::pair<std::string, bool>> capabilities;
};

struct NetworkConfigList {
    std::string name;
    std::string cniVersion;
    bool disableCheck = false;
    bool disableGC = false;
    bool loadOnlyInlinedPlugins = false;
    std::vector<PluginConfig> plugins;
    std::string bytes;  // the list as loaded (the cache's "config")
};

// Loading, with libcni's error texts.
Error pluginConfFromBytes(std::string bytes, PluginConfig& out);
Error networkConfFromBytes(std::string bytes, NetworkConfigList& out);
// The list, plus <dir of file>/<name>/*.conf unless loadOnlyInlinedPlugins.
Error networkConfFromFile(const std::string& file, NetworkConfigList& out);
// A single plugin config as a one-plugin list (upstream's ConfListFromConf).
Error confListFromConf(const PluginConfig& conf, NetworkConfigList& out);
// Files of `dir` (not directories) with one of `exts` (".conf"), sorted;
// none when `dir` does not exist.
Error confFiles(const std::string& dir, const std::vector<std::string_view>& exts, std::vector<std::string>& out);
// The first *.conflist (sorted) named `name`, else the first *.conf/*.json.
Error loadNetworkConf(const std::string& dir, const std::string& name, NetworkConfigList& out);

// ---- what a runtime gives for one attachment

using KV = std::pair<std::string, std::string>;
using JsonDoc = std::shared_ptr<const rapidjson::Document>;

struct RuntimeConf {
    std::string containerID;
    std::string netns;
    std::string ifname;
    std::vector<KV> args;   // CNI_ARGS pairs
    JsonDoc capabilityArgs;  // an object, or null/nullptr for none
};

struct NetworkAttachment {
    std::string containerID;
    std::string network;
    std::string ifname;
    std::string config;
    std::string netns;
    std::vector<KV> args;
    JsonDoc capabilityArgs;
};

// ---- running a list (libcni_runner.cpp) and its result cache (libcni_cache.cpp)

// Runs a plugin file: environment ("K=V"), stdin, stdout. The default is
// cni::execFile; tests substitute their own.
using ExecFn = std::function<Error(const std::string& file, const std::vector<std::string>& env,
                                   std::string_view stdinData, std::string& out)>;

// The JSON a plugin gets on stdin (upstream's buildOneConfig): the list's
// name and cniVersion injected, prevResult when given, and runtimeConfig
// holding the capability args the plugin declares in "capabilities".
Error buildOneConfig(const std::string& name, const std::string& cniVersion, const PluginConfig& plugin,
                     const Result* prevResult, const RuntimeConf* rt, std::string& out);

// One cache file (cniCacheV1) as JSON text.
Error cacheText(const Result& result, std::string_view config, const std::string& netName, const RuntimeConf& rt,
                std::string& out);

class CNIConfig {
public:
    std::string path;                      // CNI_PATH (':'-separated)
    std::string cacheDir = kDefaultCacheDir;
    ExecFn exec;                           // empty: cni::execFile

    Error addNetworkList(const NetworkConfigList& list, const RuntimeConf& rt, Result& out) const;
    Error checkNetworkList(const NetworkConfigList& list, const RuntimeConf& rt) const;
    Error delNetworkList(const NetworkConfigList& list, const RuntimeConf& rt) const;
    // valid == nullptr (what cnitool passes): every cached attachment of the
    // network is stale, and plugins get GC without cni.dev/valid-attachments.
    Error gcNetworkList(const NetworkConfigList& list, const std::vector<Attachment>* valid) const;
    Error getStatusNetworkList(const NetworkConfigList& list) const;

    // The result cache.
    // <cacheDir>/results/<net>-<containerID>-<ifname>
    Error cacheFilePath(const std::string& netName, const RuntimeConf& rt, std::string& out) const;
    Error cacheAdd(const Result& result, std::string_view config, const std::string& netName,
                   const RuntimeConf& rt) const;
    void cacheDel(const std::string& netName, const RuntimeConf& rt) const;
    // The cached result converted to `cniVersion`; nullopt when there is no
    // cache file. Reads libcni's cniCacheV1 and its older bare-result files.
    Error getCachedResult(const std::string& netName, const std::string& cniVersion, const RuntimeConf& rt,
                          std::optional<Result>& out) const;
    // Every readable cniCacheV1 attachment (of `containerID` when non-empty), by file name.
    std::vector<NetworkAttachment> getCachedAttachments(std::string_view containerID) const;

private:
    Error run(const std::string& file, std::string_view command, const RuntimeConf& rt, std::string_view stdinData,
              std::string& out) const;
    Error addNetwork(const NetworkConfigList& list, const PluginConfig& plugin, const Result* prev,
                     const RuntimeConf& rt, Result& out) const;
};

}  // namespace cni::libcni
