// cnitool: runs a network's plugin chain by hand, as upstream's cnitool does
// (the work is libcni's: src/cni/libcni.h). Its command line and
// environment: applets/cnitool.h.
#include "applets/cnitool.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cni/applet.h"
#include "cni/gojson.h"
#include "cni/json.h"
#include "cni/libcni.h"
#include "netfilter/netfilter.h"
#include "util/fs.h"

namespace {

constexpr const char* kHelp =
    "Usage: cnitool [-i IFNAME] COMMAND NETWORK NETNS\n"
    "\n"
    "Commands:\n"
    "  add     attach NETNS to NETWORK: ADD through the plugin list, print the\n"
    "          result, cache it\n"
    "  check   CHECK through the list with the cached result (cniVersion >= 0.4.0;\n"
    "          nothing when the list has disableCheck)\n"
    "  del     DEL through the list in reverse order (prevResult: the cached result\n"
    "          from 0.4.0 on), then drop the cached result\n"
    "  gc      DEL every cached attachment of NETWORK, then GC to every plugin\n"
    "          (cniVersion >= 1.1.0; nothing when the list has disableGC)\n"
    "  status  STATUS to every plugin, stopping at the first error (cniVersion >= 1.1.0)\n"
    "\n"
    "NETWORK is a network name; NETNS a network namespace path (gc and status want\n"
    "it too, unused). The container id is \"cnitool-\" + the first 20 hex digits of\n"
    "the sha512 of NETNS made absolute. add prints the result as the plugins gave\n"
    "it; the others print nothing on success. Errors go to stderr as \"Error: ...\"\n"
    "with exit status 1.\n"
    "\n"
    "Options:\n"
    "  -i, --ifname NAME  interface name in the container (default: $CNI_IFNAME, else eth0)\n"
    "  -h, --help         this text\n"
    "\n"
    "Environment:\n"
    "  NETCONFPATH    config directory (default /etc/cni/net.d): the first *.conflist\n"
    "                 (sorted by name) whose \"name\" is NETWORK, else the first\n"
    "                 *.conf/*.json, as a one-plugin list. A list's plugins are its\n"
    "                 \"plugins\" followed by NETCONFPATH/NETWORK/*.conf unless it sets\n"
    "                 loadOnlyInlinedPlugins. From \"cniVersions\" the highest <= 1.1.0\n"
    "                 is used.\n"
    "  CNI_PATH       ':'-separated plugin directories\n"
    "  CNI_ARGS       K=V;K=V for every plugin\n"
    "  CAP_ARGS       JSON object of capability args: a plugin gets in runtimeConfig\n"
    "                 those it declares in its \"capabilities\"\n"
    "  CNI_IFNAME     interface name when -i is not given\n"
    "  CNI_CACHE_DIR  (cnibox extension) cache root instead of /var/lib/cni; the\n"
    "                 results are then in CNI_CACHE_DIR/results\n"
    "\n"
    "Cache: results live in /var/lib/cni/results/NETWORK-CONTAINERID-IFNAME (libcni's\n"
    "cniCacheV1 format: runtimes using libcni and cnitool read each other's files).\n";

}  // namespace

// ---- command line and environment

namespace applets::cnitool {

using cni::Error;
namespace json = cni::json;

namespace {

Error invalid(std::string msg) { return Error(cni::kInvalidEnv, std::move(msg)); }

std::string envOr(const Env& env, const char* k, std::string def) {
    std::string v = env(k);
    return v.empty() ? def : v;
}

// Go's filepath.Abs.
bool absPath(const std::string& p, std::string& out) {
    if (!p.empty() && p[0] == '/') {
        out = util::cleanPath(p);
        return true;
    }
    std::unique_ptr<char, decltype(&std::free)> cwd(getcwd(nullptr, 0), &std::free);
    if (!cwd) return false;
    out = util::cleanPath(std::string(cwd.get()) + "/" + p);
    return true;
}

// upstream cnitool's CNI_ARGS parser: K=V pairs split on ';', none empty.
Error parseCniArgs(std::string_view s, std::vector<cni::libcni::KV>& out) {
    size_t start = 0;
    for (;;) {
        size_t semi = s.find(';', start);
        std::string_view pair = s.substr(start, semi == std::string_view::npos ? std::string_view::npos : semi - start);
        size_t eq = pair.find('=');
        if (eq == std::string_view::npos || eq == 0 || eq + 1 == pair.size() ||
            pair.find('=', eq + 1) != std::string_view::npos)
            return invalid("invalid CNI_ARGS pair " + cni::gojson::quote(pair));
        out.emplace_back(std::string(pair.substr(0, eq)), std::string(pair.substr(eq + 1)));
        if (semi == std::string_view::npos) return {};
        start = semi + 1;
    }
}

}  // namespace

std::string processEnv(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

Error parseConf(const std::vector<std::string_view>& args, const Env& env, Conf& c) {
    std::vector<std::string> pos;
    std::string ifname;
    for (size_t i = 0; i < args.size(); i++) {
        std::string_view a = args[i];
        if (a == "--") {
            for (i++; i < args.size(); i++) pos.emplace_back(args[i]);
            break;
        }
        if (a == "-h" || a == "--help") {
            c.help = true;
        } else if (a == "-i" || a == "--ifname") {
            if (i + 1 >= args.size())
                return invalid(a == "-i" ? "flag needs an argument: 'i' in -i" : "flag needs an argument: --ifname");
            ifname = args[++i];
        } else if (a.substr(0, 9) == "--ifname=") {
            ifname = a.substr(9);
        } else if (a.substr(0, 2) == "-i") {
            ifname = a.substr(a.size() > 2 && a[2] == '=' ? 3 : 2);
        } else if (a.size() > 1 && a[0] == '-') {
            if (a[1] == '-') return invalid("unknown flag: " + std::string(a));
            return invalid("unknown shorthand flag: '" + std::string(1, a[1]) + "' in " + std::string(a));
        } else {
            pos.emplace_back(a);
        }
    }
    if (c.help || pos.empty() || pos[0] == "help") {
        c.help = true;
        return {};
    }
    const std::string& verb = pos[0];
    if (verb == "add") c.cmd = Cmd::Add;
    else if (verb == "check") c.cmd = Cmd::Check;
    else if (verb == "del") c.cmd = Cmd::Del;
    else if (verb == "gc") c.cmd = Cmd::GC;
    else if (verb == "status") c.cmd = Cmd::Status;
    else return invalid("unknown command " + cni::gojson::quote(verb) + " for \"cnitool\"");
    if (pos.size() < 3) return invalid("requires at least 2 arg(s), only received " + std::to_string(pos.size() - 1));
    c.network = pos[1];
    c.netns = pos[2];
    c.ifname = !ifname.empty() ? ifname : envOr(env, "CNI_IFNAME", "eth0");
    c.netconfPath = envOr(env, "NETCONFPATH", "/etc/cni/net.d");
    c.cniPath = env("CNI_PATH");
    c.cacheDir = envOr(env, "CNI_CACHE_DIR", cni::libcni::kDefaultCacheDir);
    return {};
}

Error runtimeConf(const Conf& c, const Env& env, cni::libcni::RuntimeConf& rt) {
    rt = {};
    if (std::string caps = env("CAP_ARGS"); !caps.empty()) {
        auto doc = std::make_shared<rapidjson::Document>();
        if (auto e = json::parseDocument(caps, *doc)) return e;
        if (!doc->IsObject() && !doc->IsNull())
            return Error(cni::kDecodeFailure, std::string("json: cannot unmarshal ") + json::typeName(*doc) +
                                                  " into Go value of type map[string]interface {}");
        if (doc->IsObject()) rt.capabilityArgs = doc;
    }
    if (std::string args = env("CNI_ARGS"); !args.empty())
        if (auto e = parseCniArgs(args, rt.args)) return e;
    rt.ifname = c.ifname;
    if (!absPath(c.netns, rt.netns)) {
        int err = errno;
        return Error(cni::kInternal, "getwd: " + util::errnoText(err)).withErrno(err);
    }
    rt.containerID = containerId(rt.netns);
    return {};
}

std::string containerId(std::string_view netns) { return "cnitool-" + nf::sha512Hex(netns).substr(0, 20); }

}  // namespace applets::cnitool

// ---- the run

namespace {

using cni::Error;
using namespace applets::cnitool;
namespace libcni = cni::libcni;

int failWith(const std::string& text) {
    std::fprintf(stderr, "Error: %s\n", text.c_str());
    return 1;
}

int help() {
    std::printf("cnitool - runs a network's plugin chain by hand (add, check, del, gc, status)\n\n%s", kHelp);
    return 0;
}

int cnitoolMain(int argc, char** argv) {
    Conf c;
    if (auto e = parseConf(std::vector<std::string_view>(argv + 1, argv + argc), processEnv, c))
        return failWith(e.text());
    if (c.help) return help();

    libcni::NetworkConfigList list;
    if (auto e = libcni::loadNetworkConf(c.netconfPath, c.network, list)) return failWith(e.text());
    libcni::RuntimeConf rt;
    if (auto e = runtimeConf(c, processEnv, rt)) return failWith(e.text());
    libcni::CNIConfig cfg;
    cfg.path = c.cniPath;
    cfg.cacheDir = c.cacheDir;

    Error e;
    switch (c.cmd) {
    case Cmd::Add: {
        cni::Result r;
        e = cfg.addNetworkList(list, rt, r);
        if (!e) {
            std::string text;
            e = cni::printResult(r, r.cniVersion, text);
            if (!e) (void)util::writeAll(1, text);  // no newline, as upstream
        }
        break;
    }
    case Cmd::Check: e = cfg.checkNetworkList(list, rt); break;
    case Cmd::Del: e = cfg.delNetworkList(list, rt); break;
    case Cmd::GC: e = cfg.gcNetworkList(list, nullptr); break;
    case Cmd::Status: e = cfg.getStatusNetworkList(list); break;
    }
    return e ? failWith(e.text()) : 0;
}

}  // namespace

extern const cni::Applet cnitool_applet;
const cni::Applet cnitool_applet{
    .name = "cnitool",
    .summary = "runs a network's plugin chain by hand (add, check, del, gc, status)",
    .help = kHelp,
    .finished = true,
    .main = cnitoolMain,
};
