// The plugin side of the spec: environment + stdin parsing, validation,
// verb dispatch and output. An applet supplies a Plugin (handlers per verb);
// runPlugin() does the rest, exactly like upstream's skel.
#pragma once

#include <rapidjson/document.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cni/error.h"
#include "cni/result.h"
#include "cni/version.h"

namespace cni {

// The most a plugin reads from stdin: configs with thousands of port
// mappings or a large prevResult are well under it. A larger one fails with
// code 6 after reading this much, so a runaway writer costs bounded memory.
inline constexpr size_t kMaxStdinBytes = 8u << 20;

enum class Command { Add, Del, Check, GC, Status, Version };
std::string_view str(Command c);
std::optional<Command> parseCommand(std::string_view s);

// An attachment named in cni.dev/valid-attachments (GC).
struct Attachment {
    std::string containerID;
    std::string ifname;
    bool operator==(const Attachment&) const = default;
};

// The keys every config has, parsed once by the skel. Applets read their
// own keys from `doc`.
struct NetConf {
    std::string cniVersion;            // "0.1.0" when absent
    std::string name;
    std::string type;
    std::string ipamType;              // ipam.type, "" when no ipam / no type
    DNS dns;
    std::optional<Result> prevResult;  // converted to the internal model
    std::vector<Attachment> validAttachments;  // GC only
    bool hasValidAttachments = false;
};

struct CmdArgs {
    Command command = Command::Version;
    std::string containerID;   // CNI_CONTAINERID
    std::string netns;         // CNI_NETNS
    std::string ifname;        // CNI_IFNAME
    std::string args;          // CNI_ARGS
    std::string path;          // CNI_PATH
    std::string netnsOverride; // CNI_NETNS_OVERRIDE ("1"/"true": skip the own-netns check)
    std::string stdinData;     // the config exactly as received
    std::shared_ptr<rapidjson::Document> doc;  // parsed stdinData (an object)
    NetConf conf;

    const rapidjson::Value& config() const { return *doc; }
    // Returns the named top-level member or nullptr.
    const rapidjson::Value* member(std::string_view key) const;
    const rapidjson::Value* ipam() const { return member("ipam"); }
    // runtimeConfig.<key> / args.cni.<key>, nullptr when absent.
    const rapidjson::Value* runtimeConfig(std::string_view key) const;
    const rapidjson::Value* argsCni(std::string_view key) const;
};

struct Plugin {
    VersionSet versions = VersionSet::all();
    // ADD fills `out` (internal model); the skel prints it in conf.cniVersion.
    Error (*add)(const CmdArgs&, Result& out) = nullptr;
    Error (*del)(const CmdArgs&) = nullptr;
    Error (*check)(const CmdArgs&) = nullptr;
    Error (*gc)(const CmdArgs&) = nullptr;      // nullptr: success no-op (as upstream)
    Error (*status)(const CmdArgs&) = nullptr;  // nullptr: success no-op
    // ADD/CHECK: CNI_NETNS must name a network namespace (nsfs, or procfs
    // /proc/PID/ns/net), else code 8. IPAM plugins that never open it set
    // false (upstream host-local/static accept any CNI_NETNS).
    bool checkNetns = true;
};

// Builds CmdArgs from the environment and stdin text, validating as
// upstream's skel does (required env per verb, container id / network
// name / ifname rules, CNI_NETNS must be a namespace, version rules for
// CHECK/GC/STATUS, supported versions of `p`). Checks in upstream's order:
// env (4; 3 for an empty container id), stdin JSON (6) and network name (7),
// config version (6 unparsable, 1 unsupported), the common config keys (7;
// 6 for a bad prevResult), CNI_NETNS (8). For ADD and DEL, CNI_NETNS naming
// the plugin's own netns is code 8 (upstream checks after the handler; here
// nothing is touched). VERSION needs only CNI_COMMAND and ignores stdin.
Error parseCmdArgs(const Plugin& p, Command cmd, const std::vector<std::pair<std::string, std::string>>& env,
                   std::string stdinData, CmdArgs& out);

// Runs one verb on already-parsed args. On success `stdoutText` holds what
// the plugin prints (the result for ADD, the version reply for VERSION,
// empty otherwise).
Error dispatch(const Plugin& p, const CmdArgs& args, std::string& stdoutText);

// Whole-process entry used by main for plugin applets: reads the real env
// and stdin, prints result or error JSON on stdout; returns the exit code.
int runPlugin(std::string_view appletName, const Plugin& p);

// Validation helpers (also used by ipam/netfilter code that turns input into paths).
Error validateContainerID(std::string_view id);       // code 4 (3 when empty, as upstream)
Error validateNetworkName(std::string_view name);     // code 7
Error validateIfname(std::string_view ifname);        // code 4

}  // namespace cni
