// cnitool: runs a network's plugin chain by hand, as upstream's cnitool does
// (the work is libcni's: src/cni/libcni.h).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cni/applet.h"
#include "cni/gojson.h"
#include "cni/json.h"
#include "cni/libcni.h"
#include "netfilter/netfilter.h"
#include "util/fs.h"

namespace {

using namespace cni;

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

enum class Cmd { Add, Check, Del, GC, Status };

int failWith(const std::string& text) {
    std::fprintf(stderr, "Error: %s\n", text.c_str());
    return 1;
}

int help() {
    std::printf("cnitool - runs a network's plugin chain by hand (add, check, del, gc, status)\n\n%s", kHelp);
    return 0;
}

std::string envOr(const char* k, const char* def) {
    const char* v = std::getenv(k);
    return v && *v ? v : def;
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
bool parseCniArgs(std::string_view s, std::vector<libcni::KV>& out, std::string& err) {
    size_t start = 0;
    for (;;) {
        size_t semi = s.find(';', start);
        std::string_view pair = s.substr(start, semi == std::string_view::npos ? std::string_view::npos : semi - start);
        size_t eq = pair.find('=');
        if (eq == std::string_view::npos || eq == 0 || eq + 1 == pair.size() ||
            pair.find('=', eq + 1) != std::string_view::npos) {
            err = "invalid CNI_ARGS pair " + gojson::quote(pair);
            return false;
        }
        out.emplace_back(std::string(pair.substr(0, eq)), std::string(pair.substr(eq + 1)));
        if (semi == std::string_view::npos) return true;
        start = semi + 1;
    }
}

int cnitoolMain(int argc, char** argv) {
    std::vector<std::string> pos;
    std::string ifname;
    bool wantHelp = false;
    for (int i = 1; i < argc; i++) {
        std::string_view a = argv[i];
        if (a == "--") {
            for (i++; i < argc; i++) pos.emplace_back(argv[i]);
            break;
        }
        if (a == "-h" || a == "--help") {
            wantHelp = true;
        } else if (a == "-i" || a == "--ifname") {
            if (i + 1 >= argc)
                return failWith(a == "-i" ? "flag needs an argument: 'i' in -i" : "flag needs an argument: --ifname");
            ifname = argv[++i];
        } else if (a.substr(0, 9) == "--ifname=") {
            ifname = a.substr(9);
        } else if (a.substr(0, 2) == "-i") {
            ifname = a.substr(a.size() > 2 && a[2] == '=' ? 3 : 2);
        } else if (a.size() > 1 && a[0] == '-') {
            if (a[1] == '-') return failWith("unknown flag: " + std::string(a));
            return failWith("unknown shorthand flag: '" + std::string(1, a[1]) + "' in " + std::string(a));
        } else {
            pos.emplace_back(a);
        }
    }
    if (wantHelp || pos.empty() || pos[0] == "help") return help();

    Cmd cmd;
    const std::string& verb = pos[0];
    if (verb == "add") cmd = Cmd::Add;
    else if (verb == "check") cmd = Cmd::Check;
    else if (verb == "del") cmd = Cmd::Del;
    else if (verb == "gc") cmd = Cmd::GC;
    else if (verb == "status") cmd = Cmd::Status;
    else return failWith("unknown command " + gojson::quote(verb) + " for \"cnitool\"");
    if (pos.size() < 3)
        return failWith("requires at least 2 arg(s), only received " + std::to_string(pos.size() - 1));
    const std::string& netName = pos[1];

    libcni::NetworkConfigList list;
    if (auto e = libcni::loadNetworkConf(envOr("NETCONFPATH", "/etc/cni/net.d"), netName, list))
        return failWith(e.text());

    libcni::RuntimeConf rt;
    if (const char* caps = std::getenv("CAP_ARGS"); caps && *caps) {
        auto doc = std::make_shared<rapidjson::Document>();
        if (auto e = json::parseDocument(caps, *doc)) return failWith(e.text());
        if (!doc->IsObject() && !doc->IsNull())
            return failWith(std::string("json: cannot unmarshal ") + json::typeName(*doc) +
                            " into Go value of type map[string]interface {}");
        if (doc->IsObject()) rt.capabilityArgs = doc;
    }
    if (const char* args = std::getenv("CNI_ARGS"); args && *args) {
        std::string err;
        if (!parseCniArgs(args, rt.args, err)) return failWith(err);
    }
    rt.ifname = !ifname.empty() ? ifname : envOr("CNI_IFNAME", "eth0");
    if (!absPath(pos[2], rt.netns)) return failWith("getwd: " + util::errnoText(errno));
    rt.containerID = "cnitool-" + nf::sha512Hex(rt.netns).substr(0, 20);

    libcni::CNIConfig c;
    c.path = envOr("CNI_PATH", "");
    c.cacheDir = envOr("CNI_CACHE_DIR", libcni::kDefaultCacheDir);

    Error e;
    switch (cmd) {
    case Cmd::Add: {
        Result r;
        e = c.addNetworkList(list, rt, r);
        if (!e) {
            std::string text;
            e = printResult(r, r.cniVersion, text);
            if (!e) (void)util::writeAll(1, text);  // no newline, as upstream
        }
        break;
    }
    case Cmd::Check: e = c.checkNetworkList(list, rt); break;
    case Cmd::Del: e = c.delNetworkList(list, rt); break;
    case Cmd::GC: e = c.gcNetworkList(list, nullptr); break;
    case Cmd::Status: e = c.getStatusNetworkList(list); break;
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
