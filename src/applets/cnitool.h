// cnitool's command line and environment, read with nothing run (the run is
// in cnitool.cpp, the work libcni's: cni/libcni.h).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/error.h"
#include "cni/libcni.h"

namespace applets::cnitool {

enum class Cmd { Add, Check, Del, GC, Status };

// A variable of the environment; "" when unset (an empty value counts as
// unset everywhere in cnitool).
using Env = std::function<std::string(const char* name)>;
// The process's own environment (getenv).
std::string processEnv(const char* name);

struct Conf {
    bool help = false;      // -h/--help, "help" or no arguments: print the usage, nothing else
    Cmd cmd = Cmd::Add;
    std::string network;    // NETWORK
    std::string netns;      // NETNS as given
    std::string ifname;     // -i/--ifname, else CNI_IFNAME, else eth0
    std::string netconfPath = "/etc/cni/net.d";             // NETCONFPATH
    std::string cniPath;                                    // CNI_PATH
    std::string cacheDir = cni::libcni::kDefaultCacheDir;   // CNI_CACHE_DIR
};

// `args` are argv[1..]: flags (-i NAME, -iNAME, -i=NAME, --ifname NAME,
// --ifname=NAME, -h, --help; "--" ends them) anywhere, then COMMAND NETWORK
// NETNS. Errors (code 4) have the texts of upstream's cnitool (cobra's):
// "unknown flag: --x", "unknown shorthand flag: 'x' in -x", "flag needs an
// argument: 'i' in -i", "unknown command \"x\" for \"cnitool\"",
// "requires at least 2 arg(s), only received 1".
cni::Error parseConf(const std::vector<std::string_view>& args, const Env& env, Conf& c);

// The attachment to run, read after the network's config loaded (upstream's
// order): CAP_ARGS (a JSON object; code 6 otherwise), CNI_ARGS (K=V pairs
// split on ';', none empty: code 4 "invalid CNI_ARGS pair \"X\""), the
// ifname, NETNS made absolute (Go's filepath.Abs) and the container id.
cni::Error runtimeConf(const Conf& c, const Env& env, cni::libcni::RuntimeConf& rt);

// "cnitool-" + the first 20 hex digits of the sha512 of `netns`, as
// upstream's cnitool names the container.
std::string containerId(std::string_view netns);

}  // namespace applets::cnitool
