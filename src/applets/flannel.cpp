// flannel: the meta plugin of flannel's CNI plugin. It reads the node's
// subnet from flanneld's subnet.env, builds a delegate config from it (bridge
// with host-local by default), saves that config per container in dataDir
// in the bytes flannel's own plugin writes, and delegates every verb.
// Its configuration and the delegate config: applets/flannel.h.
#include "applets/flannel.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <set>
#include <utility>

#include "cni/applet.h"
#include "cni/delegate.h"
#include "cni/gojson.h"
#include "cni/json.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/text.h"

namespace {

constexpr const char* kHelp =
    "Config keys (default):\n"
    "  subnetFile  /run/flannel/subnet.env  flanneld's subnet file: FLANNEL_NETWORK and\n"
    "                                       FLANNEL_SUBNET (IPv4) and/or FLANNEL_IPV6_NETWORK and\n"
    "                                       FLANNEL_IPV6_SUBNET (networks comma-separated),\n"
    "                                       FLANNEL_MTU, FLANNEL_IPMASQ (\"true\": flanneld masquerades)\n"
    "  dataDir     /var/lib/cni/flannel     the delegate config saved per container,\n"
    "                                       <dataDir>/<containerID> (mode 0600, directory 0700),\n"
    "                                       in the format of flannel's own plugin: either can DEL\n"
    "                                       what the other added\n"
    "  delegate    {}                       keys of the delegate config; must not have \"name\" or\n"
    "                                       \"ipam\"; \"type\" a plugin name (default bridge; not\n"
    "                                       flannel). Added unless given: \"ipMasq\" (not\n"
    "                                       FLANNEL_IPMASQ), \"mtu\" (FLANNEL_MTU), \"isGateway\"\n"
    "                                       true (bridge only). Always set: \"name\", \"cniVersion\"\n"
    "                                       (when the config has one), \"runtimeConfig\" (when\n"
    "                                       the config has one)\n"
    "  ipam        {}                       the base of the delegate's \"ipam\": \"type\" host-local\n"
    "                                       unless given; \"ranges\" one range set per subnet\n"
    "                                       (IPv4 first); \"routes\" its own routes followed by a\n"
    "                                       route to each flannel network; other keys passed on\n"
    "  runtimeConfig                        passed on to the delegate\n"
    "The delegate runs in-process when it is one of cnibox's applets (the one found on\n"
    "CNI_PATH is cnibox), else it is executed from CNI_PATH.\n"
    "\n"
    "ADD    builds the delegate config, saves it, delegates ADD and prints the delegate's\n"
    "       result. No subnet file: code 11 (flanneld has not written it yet); a malformed\n"
    "       one: code 7. A failed delegate ADD is followed by a delegate DEL of the same\n"
    "       config, and the saved config is removed (kept only when that DEL fails too).\n"
    "DEL    delegates DEL with the saved config, then removes it (a failed delegate DEL\n"
    "       keeps it for the retry). No saved config is success; one that names no\n"
    "       plugin is removed (success), and so is a save cut short (the ADD killed\n"
    "       while writing .<containerID>.tmp). A symlink or FIFO under the saved\n"
    "       config's name is neither followed nor waited on: it is left, and DEL\n"
    "       succeeds. The subnet file is not read.\n"
    "CHECK  delegates CHECK with the saved config, the config's prevResult and cniVersion;\n"
    "       no saved config is code 3.\n"
    "GC     delegates GC (the config built as ADD builds it, with\n"
    "       cni.dev/valid-attachments), then removes the saved configs of this network\n"
    "       (their \"name\") whose container is not in cni.dev/valid-attachments, and\n"
    "       such containers' saves cut short (a .tmp holding no whole config); the\n"
    "       subnet file must exist (code 11 otherwise, as ADD).\n"
    "STATUS code 50 while the subnet file is missing or malformed, then delegates STATUS.\n";

}  // namespace

// ---- configuration, subnet.env, the delegate config

namespace applets::flannel {

using cni::Error;
using cni::gojson::quote;
namespace json = cni::json;

namespace {

Error invalid(std::string msg) { return Error(cni::kInvalidNetConf, std::move(msg)); }

std::string_view sv(const json::Value& v) { return {v.GetString(), v.GetStringLength()}; }

// The last member named exactly `key` (Go map semantics: a JSON null is a
// value too), or nullptr.
const json::Value* member(const json::Value& obj, std::string_view key) {
    const json::Value* found = nullptr;
    if (!obj.IsObject()) return nullptr;
    for (const auto& m : obj.GetObject())
        if (sv(m.name) == key) found = &m.value;
    return found;
}

// Go's net.ParseCIDR, masked: the network of "10.1.17.1/24" is 10.1.17.0/24.
Error parseCidr(std::string_view s, util::IPNet& out) {
    auto n = util::IPNet::parse(s);
    if (!n) return invalid("invalid CIDR address: " + std::string(s));
    out = n->masked();
    return {};
}

Error parseNetworks(std::string_view value, std::vector<util::IPNet>& out) {
    out.clear();
    for (size_t i = 0;;) {
        size_t comma = value.find(',', i);
        util::IPNet n;
        if (auto e = parseCidr(value.substr(i, comma == std::string_view::npos ? comma : comma - i), n)) return e;
        bool seen = false;
        for (const auto& o : out) seen = seen || o == n;
        if (!seen) out.push_back(n);
        if (comma == std::string_view::npos) return {};
        i = comma + 1;
    }
}

// strconv.ParseUint(s, 10, 32).
Error parseMtu(std::string_view s, uint32_t& out) {
    auto fail = [&](const char* why) {
        return invalid("strconv.ParseUint: parsing " + quote(s) + ": " + why);
    };
    if (s.empty()) return fail("invalid syntax");
    uint64_t v = 0;
    bool range = false;
    for (char c : s) {
        if (c < '0' || c > '9') return fail("invalid syntax");
        v = v * 10 + static_cast<uint64_t>(c - '0');
        if (v > UINT32_MAX) {
            range = true;
            v = UINT32_MAX;
        }
    }
    if (range) return fail("value out of range");
    out = static_cast<uint32_t>(v);
    return {};
}

// Every member of `obj` rendered (a repeated name: the last one wins).
Error membersOf(const json::Value& obj, Members& out) {
    for (const auto& m : obj.GetObject()) {
        std::string text;
        if (auto e = cni::gojson::marshal(m.value, text)) return e;
        out[std::string(sv(m.name))] = std::move(text);
    }
    return {};
}

std::string jsonString(std::string_view s) {
    std::string out;
    cni::gojson::appendString(out, s);
    return out;
}

// The config's `ipam` as the delegate's: see delegateMembers.
Error delegateIpam(const cni::CmdArgs& a, const SubnetEnv& env, std::string& out) {
    Members ipam;
    const json::Value* user = json::get(a.config(), "ipam");
    std::vector<cni::Route> routes;
    if (user) {
        if (auto e = membersOf(*user, ipam)) return e;
        if (const json::Value* r = member(*user, "routes"); r && !r->IsNull()) {
            // Read as Go reads []types.Route (json::getRoutes on a copy under
            // the key "routes").
            rapidjson::Document tmp(rapidjson::kObjectType);
            json::Value copy(*r, tmp.GetAllocator());
            tmp.AddMember("routes", copy, tmp.GetAllocator());
            if (auto e = json::getRoutes(tmp, "routes", routes))
                return invalid("failed to assemble Delegate IPAM: failed to read IPAM routes: failed to parse ipam.routes: " +
                               e.msg);
        }
    }
    if (!ipam.count("type")) ipam["type"] = jsonString("host-local");
    std::string ranges = "[";
    for (const auto* sn : {&env.subnet, &env.ip6Subnet}) {
        if (!*sn) continue;
        if (ranges.size() > 1) ranges += ',';
        ranges += "[{\"subnet\":" + jsonString((*sn)->str()) + "}]";
    }
    ipam["ranges"] = ranges + "]";
    for (const auto* nws : {&env.networks, &env.ip6Networks})
        for (const auto& n : *nws) routes.push_back(cni::Route{.dst = n});
    std::string rs = "[";
    for (const auto& r : routes) {
        if (rs.size() > 1) rs += ',';
        rs += cni::routeJson(r);
    }
    ipam["routes"] = rs + "]";
    out = render(ipam);
    return {};
}

}  // namespace

Error parseSubnetEnv(std::string_view text, std::string_view file, SubnetEnv& out) {
    out = SubnetEnv{};
    for (std::string_view line : util::splitOn(text, '\n')) {
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        size_t eq = line.find('=');
        std::string_view key = line.substr(0, eq);
        std::string_view value = eq == std::string_view::npos ? std::string_view{} : line.substr(eq + 1);
        bool known = key == "FLANNEL_NETWORK" || key == "FLANNEL_SUBNET" || key == "FLANNEL_IPV6_NETWORK" ||
                     key == "FLANNEL_IPV6_SUBNET" || key == "FLANNEL_MTU" || key == "FLANNEL_IPMASQ";
        if (!known) continue;
        if (eq == std::string_view::npos) return invalid(std::string(file) + ": " + std::string(key) + " has no value");
        Error e;
        util::IPNet n;
        if (key == "FLANNEL_NETWORK") {
            e = parseNetworks(value, out.networks);
        } else if (key == "FLANNEL_IPV6_NETWORK") {
            e = parseNetworks(value, out.ip6Networks);
        } else if (key == "FLANNEL_SUBNET" || key == "FLANNEL_IPV6_SUBNET") {
            if (!(e = parseCidr(value, n))) (key == "FLANNEL_SUBNET" ? out.subnet : out.ip6Subnet) = n;
        } else if (key == "FLANNEL_MTU") {
            uint32_t mtu = 0;
            if (!(e = parseMtu(value, mtu))) out.mtu = mtu;
        } else {
            out.ipMasq = value == "true";
        }
        if (e) return e.wrap(std::string(file) + ": " + std::string(key));
    }
    std::vector<std::string> missing;
    if (out.networks.empty() && out.ip6Networks.empty()) {
        missing.push_back("FLANNEL_NETWORK");
        missing.push_back("FLANNEL_IPV6_NETWORK");
    }
    if (!out.subnet && !out.ip6Subnet) {
        missing.push_back("FLANNEL_SUBNET");
        missing.push_back("FLANNEL_IPV6_SUBNET");
    }
    if (!out.mtu) missing.push_back("FLANNEL_MTU");
    if (!out.ipMasq) missing.push_back("FLANNEL_IPMASQ");
    if (missing.empty()) return {};
    std::string msg = std::string(file) + " is missing ";
    for (size_t k = 0; k < missing.size(); k++) msg += (k ? ", " : "") + missing[k];
    return invalid(std::move(msg));
}

Error loadSubnetEnv(const std::string& file, SubnetEnv& out) {
    constexpr std::string_view kHint = ". Check the flannel pod log for this node.";
    std::string text;
    if (auto e = util::readFile(file, text, 1 << 20)) {
        int code = e.errnum == ENOENT ? cni::kTryAgainLater : cni::kInternal;
        return Error(code, "failed to load flannel 'subnet.env' file: " + e.msg + std::string(kHint)).withErrno(e.errnum);
    }
    if (auto e = parseSubnetEnv(text, file, out)) return e.wrap("failed to load flannel 'subnet.env' file");
    return {};
}

Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c) {
    const json::Value& d = a.config();
    if (auto e = json::getPath(d, "subnetFile", c.subnetFile)) return e;
    if (auto e = json::getPath(d, "dataDir", c.dataDir)) return e;
    if (c.subnetFile.empty()) c.subnetFile = kDefaultSubnetFile;
    if (c.dataDir.empty()) c.dataDir = kDefaultDataDir;
    if (!strict) return {};
    for (const char* key : {"ipam", "runtimeConfig"})
        if (const json::Value* v = json::get(d, key); v && !v->IsObject())
            return invalid(std::string(key) + " must be an object, not " + json::typeName(*v));
    const json::Value* del = json::get(d, "delegate");
    if (!del) return {};
    if (!del->IsObject()) return invalid(std::string("delegate must be an object, not ") + json::typeName(*del));
    if (const json::Value* t = member(*del, "type")) {
        if (!t->IsString()) return invalid("'delegate' dictionary, if present, must have (string) 'type' field");
        std::string type(sv(*t));
        if (type.empty() || type.find('/') != std::string::npos || type == "flannel")
            return invalid("invalid delegate type " + quote(type) +
                           ": must name a plugin on CNI_PATH other than flannel");
        c.delegateType = type;
    }
    if (member(*del, "name")) return invalid("'delegate' dictionary must not have 'name' field, it'll be set by flannel");
    if (member(*del, "ipam")) return invalid("'delegate' dictionary must not have 'ipam' field, it'll be set by flannel");
    return {};
}

std::string render(const Members& m) {
    std::string out = "{";
    for (const auto& [k, v] : m) {
        if (out.size() > 1) out += ',';
        cni::gojson::appendString(out, k);
        out += ':';
        out += v;
    }
    return out + "}";
}

Error delegateMembers(const cni::CmdArgs& a, const SubnetEnv& env, Members& out) {
    const json::Value& d = a.config();
    out.clear();
    if (const json::Value* del = json::get(d, "delegate"))
        if (auto e = membersOf(*del, out)) return e;
    if (const json::Value* rc = json::get(d, "runtimeConfig")) {
        std::string text;
        if (auto e = cni::gojson::marshal(*rc, text)) return e;
        out["runtimeConfig"] = std::move(text);
    }
    out["name"] = jsonString(a.conf.name);
    if (!out.count("type")) out["type"] = jsonString(kDefaultDelegate);
    if (!out.count("ipMasq")) out["ipMasq"] = *env.ipMasq ? "false" : "true";
    if (!out.count("mtu")) out["mtu"] = std::to_string(*env.mtu);
    if (out["type"] == jsonString("bridge") && !out.count("isGateway")) out["isGateway"] = "true";
    std::string version;
    if (auto e = json::getString(d, "cniVersion", version)) return e;
    if (!version.empty()) out["cniVersion"] = jsonString(version);
    return delegateIpam(a, env, out["ipam"]);
}

Error delegateConfig(const cni::CmdArgs& a, const SubnetEnv& env, std::string& out) {
    Members m;
    if (auto e = delegateMembers(a, env, m)) return e;
    out = render(m);
    return {};
}

std::string savedPath(const Conf& c, std::string_view containerID) { return util::joinPath(c.dataDir, containerID); }
// A saved config is a few kilobytes; a larger file is read no further.
constexpr size_t kMaxSaved = 16 << 20;

// The temporary file a save writes before renaming it over savedPath: a name
// no container ID has.
std::string saveTmpName(const std::string& containerID) { return "." + containerID + ".tmp"; }

bool parseSaved(std::string_view text, std::string& type, std::string& name) {
    rapidjson::Document doc;
    if (json::parseDocument(text, doc) || !doc.IsObject()) return false;
    std::string version;
    type.clear();
    name.clear();
    if (json::getString(doc, "type", type) || json::getString(doc, "name", name) ||
        json::getString(doc, "cniVersion", version))
        return false;
    return !type.empty();
}

}  // namespace applets::flannel

// ---- ADD, DEL, CHECK, GC, STATUS

namespace {

using cni::Error;
using cni::gojson::quote;
using namespace applets::flannel;
namespace json = cni::json;

// `a` with `config` as its stdin: what the delegate gets.
cni::CmdArgs withConfig(const cni::CmdArgs& a, std::string config) {
    cni::CmdArgs sub = a;
    sub.stdinData = std::move(config);
    return sub;
}

// Writes the saved config as flannel's plugin does (0600 in a 0700
// directory, not synced: neither is host-local's lease store, which the
// saved config goes with), atomically: through ".<containerID>.tmp", a name
// no container ID has. The directories it made are appended to `created`.
Error save(const Conf& c, const std::string& containerID, const std::string& config,
           std::vector<std::string>& created) {
    if (auto e = util::mkdirAll(c.dataDir, 0700, &created)) return e;
    util::Fd dfd(::open(c.dataDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd) return util::pathError("open", c.dataDir, errno);
    std::string tmp = saveTmpName(containerID);
    if (auto e = util::writeFileAtomicAt(dfd.get(), containerID.c_str(), tmp.c_str(), config, 0600))
        return e.wrap("failed to save the delegate config in " + c.dataDir);
    return {};
}

void removeDirs(const std::vector<std::string>& created) {
    for (auto it = created.rbegin(); it != created.rend(); ++it) (void)::rmdir(it->c_str());
}

// The parsed config and subnet.env, for ADD, GC and STATUS.
Error prepare(const cni::CmdArgs& a, Conf& c, SubnetEnv& env) {
    if (auto e = parseConf(a, true, c)) return e;
    return loadSubnetEnv(c.subnetFile, env);
}

Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    Conf c;
    SubnetEnv env;
    if (auto e = prepare(a, c, env)) return e;
    std::string config;
    if (auto e = delegateConfig(a, env, config)) return e;
    std::string file;
    if (auto e = cni::findPlugin(c.delegateType, a.path, file)) return e;
    std::vector<std::string> created;
    if (auto e = save(c, a.containerID, config, created)) {
        removeDirs(created);
        return e;
    }
    cni::CmdArgs sub = withConfig(a, config);
    Error err = cni::delegateAdd(sub, c.delegateType, out);
    if (!err) return {};
    // Undo what the delegate may have made before it failed; the saved
    // config stays only when that fails too (a later DEL retries with it).
    if (!cni::delegate(sub, cni::Command::Del, c.delegateType)) {
        (void)::unlink(savedPath(c, a.containerID).c_str());
        removeDirs(created);
    }
    return err.wrap("failed to delegate add");
}

// Reads the attachment's saved config: `found` false when there is none,
// `type` empty when it names no plugin this applet may delegate to. Read as a
// data file (util::readDataFile): a symlink or FIFO planted under its name is
// neither followed nor waited on (ELOOP, EINVAL).
Error readSaved(const Conf& c, const std::string& containerID, std::string& text, std::string& type, bool& found) {
    found = false;
    type.clear();
    if (auto e = util::readDataFile(c.dataDir, containerID, text, kMaxSaved)) {
        if (e.errnum == ENOENT || e.errnum == ENOTDIR) return {};
        return e;
    }
    found = true;
    std::string name;
    if (!parseSaved(text, type, name) || type.find('/') != std::string::npos || type == "flannel") type.clear();
    return {};
}

Error cmdDel(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, false, c)) return e;
    // What a save cut short left (the ADD killed while writing it).
    std::string tmp = util::joinPath(c.dataDir, saveTmpName(a.containerID));
    if (::unlink(tmp.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR) return util::pathError("remove", tmp, errno);
    std::string text, type;
    bool found = false;
    std::string path = savedPath(c, a.containerID);
    if (auto e = readSaved(c, a.containerID, text, type, found)) {
        // No config of cnibox's (those are regular files renamed into place):
        // nothing to delegate, and it is left as GC leaves it.
        if (e.errnum != ELOOP && e.errnum != EINVAL) return e;
        std::fprintf(stderr, "flannel: %s is not a regular file: no saved config (left alone)\n", path.c_str());
        return {};
    }
    if (!found) return {};
    if (type.empty()) {
        std::fprintf(stderr, "flannel: %s holds no delegate config; removed\n", path.c_str());
        (void)::unlink(path.c_str());
        return {};
    }
    if (auto e = cni::delegate(withConfig(a, text), cni::Command::Del, type)) return e;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return util::pathError("remove", path, errno);
    return {};
}

Error cmdCheck(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, true, c)) return e;
    std::string text, type;
    bool found = false;
    if (auto e = readSaved(c, a.containerID, text, type, found)) return e;
    std::string path = savedPath(c, a.containerID);
    if (!found)
        return Error(cni::kUnknownContainer, "no delegate config saved for container " + quote(a.containerID),
                     path + " does not exist");
    if (type.empty()) return Error(cni::kInvalidNetConf, path + " holds no delegate config");
    // The saved config with this call's prevResult and cniVersion.
    rapidjson::Document doc;
    if (auto e = json::parseDocument(text, doc)) return e;
    Members m;
    if (auto e = membersOf(doc, m)) return e;
    if (const json::Value* pr = json::get(a.config(), "prevResult"))
        if (auto e = cni::gojson::marshal(*pr, m["prevResult"])) return e;
    m["cniVersion"] = jsonString(a.conf.cniVersion);
    return cni::delegate(withConfig(a, render(m)), cni::Command::Check, type);
}

// The saved configs in dataDir of this network whose container is not in
// cni.dev/valid-attachments (and leftovers of an interrupted save).
Error removeStale(const cni::CmdArgs& a, const Conf& c) {
    std::set<std::string> valid;
    for (const auto& at : a.conf.validAttachments) valid.insert(at.containerID);
    util::Dir dir;
    if (auto e = util::Dir::open(c.dataDir.c_str(), dir)) {
        if (e.errnum == ENOENT || e.errnum == ENOTDIR) return {};
        return util::pathError("open", c.dataDir, e.errnum);
    }
    int dfd = dirfd(dir.get());
    std::vector<std::string> stale;
    while (dirent* de = dir.next()) {
        std::string n = de->d_name;
        std::string id = n;
        if (id.size() > 5 && id[0] == '.' && id.ends_with(".tmp")) id = id.substr(1, id.size() - 5);
        if (cni::validateContainerID(id) || valid.count(id)) continue;
        struct stat st;
        if (fstatat(dfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
        // A save cut short (the ADD killed) leaves a ".tmp" that may hold
        // nothing parseable: it goes too, whichever network wrote it.
        std::string text, type, name;
        if (util::readFileAt(dfd, n.c_str(), text, kMaxSaved)) continue;
        bool parsed = parseSaved(text, type, name);
        if ((parsed && name == a.conf.name) || (!parsed && n != id)) stale.push_back(n);
    }
    Error err;  // the first failure; the others are still removed
    for (const auto& n : stale)
        if (unlinkat(dfd, n.c_str(), 0) != 0 && errno != ENOENT && !err)
            err = util::pathError("remove", util::joinPath(c.dataDir, n), errno);
    return err;
}

Error cmdGC(const cni::CmdArgs& a) {
    Conf c;
    SubnetEnv env;
    if (auto e = prepare(a, c, env)) return e;
    Members m;
    if (auto e = delegateMembers(a, env, m)) return e;
    if (const json::Value* va = json::get(a.config(), "cni.dev/valid-attachments"))
        if (auto e = cni::gojson::marshal(*va, m["cni.dev/valid-attachments"])) return e;
    if (auto e = cni::delegate(withConfig(a, render(m)), cni::Command::GC, c.delegateType)) return e;
    if (!a.conf.hasValidAttachments) return {};
    return removeStale(a, c);
}

Error cmdStatus(const cni::CmdArgs& a) {
    Conf c;
    SubnetEnv env;
    if (auto e = parseConf(a, true, c)) return e;
    if (auto e = loadSubnetEnv(c.subnetFile, env)) {
        e.code = cni::kNotAvailable;  // flanneld has not (or not rightly) written it yet
        return e;
    }
    std::string config;
    if (auto e = delegateConfig(a, env, config)) return e;
    return cni::delegate(withConfig(a, config), cni::Command::Status, c.delegateType);
}

const cni::Plugin kPlugin{
    .add = cmdAdd,
    .del = cmdDel,
    .check = cmdCheck,
    .gc = cmdGC,
    .status = cmdStatus,
};

}  // namespace

extern const cni::Applet flannel_applet;
const cni::Applet flannel_applet{
    .name = "flannel",
    .summary = "flannel's meta plugin: the node's flannel subnet, delegated to bridge + host-local",
    .help = kHelp,
    .plugin = &kPlugin,
};
