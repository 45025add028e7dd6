// The plugin side of the spec, following upstream's pkg/skel: the same
// required variables per verb, the same checks in the same order, the same
// error codes and messages.
#include "cni/skel.h"

#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdio>

#include "cni/gojson.h"
#include "cni/json.h"
#include "config.h"
#include "util/fs.h"

extern char** environ;

namespace cni {

namespace {

constexpr unsigned kNsfsMagic = 0x6e736673;
constexpr unsigned kProcMagic = 0x9fa0;

constexpr unsigned kAdd = 1u << static_cast<unsigned>(Command::Add);
constexpr unsigned kDel = 1u << static_cast<unsigned>(Command::Del);
constexpr unsigned kCheck = 1u << static_cast<unsigned>(Command::Check);
constexpr unsigned kGC = 1u << static_cast<unsigned>(Command::GC);
constexpr unsigned kStatus = 1u << static_cast<unsigned>(Command::Status);

struct EnvVar {
    const char* name;
    std::string CmdArgs::*field;
    unsigned requiredFor;
    Error (*validate)(std::string_view);
};

// Upstream's table, in upstream's order (it decides which error comes first).
// CNI_COMMAND heads it upstream; here the verb is known before these checks
// (runPlugin prints the banner when it is missing).
const EnvVar kEnvVars[] = {
    {"CNI_CONTAINERID", &CmdArgs::containerID, kAdd | kCheck | kDel, validateContainerID},
    {"CNI_NETNS", &CmdArgs::netns, kAdd | kCheck, nullptr},
    {"CNI_IFNAME", &CmdArgs::ifname, kAdd | kCheck | kDel, validateIfname},
    {"CNI_ARGS", &CmdArgs::args, 0, nullptr},
    {"CNI_PATH", &CmdArgs::path, kAdd | kCheck | kDel | kGC | kStatus, nullptr},
    {"CNI_NETNS_OVERRIDE", &CmdArgs::netnsOverride, 0, nullptr},
};

using Env = std::vector<std::pair<std::string, std::string>>;

std::string_view lookup(const Env& env, std::string_view key) {
    for (const auto& [k, v] : env)
        if (k == key) return v;
    return {};
}

// `mask` is 0 for VERSION and for an unknown verb (only CNI_COMMAND is needed then).
Error checkEnv(unsigned mask, const Env& env, CmdArgs* out) {
    std::string missing;
    for (const auto& v : kEnvVars) {
        std::string_view val = lookup(env, v.name);
        if (out) (out->*v.field).assign(val);
        bool required = (v.requiredFor & mask) != 0;
        if (val.empty()) {
            if (required) {
                if (!missing.empty()) missing += ',';
                missing += v.name;
            }
        } else if (required && v.validate) {
            if (auto e = v.validate(val)) return e;
        }
    }
    if (!missing.empty()) return Error(kInvalidEnv, "required env variables [" + missing + "] missing");
    return {};
}

unsigned maskOf(Command c) { return c == Command::Version ? 0 : 1u << static_cast<unsigned>(c); }

// The config on stdin, at most kMaxStdinBytes of it.
Error readStdin(std::string& in) {
    int rc = util::readAll(0, in, kMaxStdinBytes);
    if (rc == EFBIG) {
        in.clear();
        in.shrink_to_fit();
        return Error(kDecodeFailure, "the configuration on stdin is larger than " +
                                         std::to_string(kMaxStdinBytes >> 20) + " MiB");
    }
    if (rc) return Error(kIOFailure, "error reading from stdin: " + util::errnoText(rc));
    return {};
}

Error validateConfig(std::string_view stdinData, rapidjson::Document& doc, std::string& name) {
    if (auto e = json::parseDocument(stdinData, doc)) {
        e.msg = "error unmarshall network config: " + e.msg;
        return e;
    }
    if (!doc.IsObject() && !doc.IsNull())
        return Error(kDecodeFailure, std::string("error unmarshall network config: json: cannot unmarshal ") +
                                         json::typeName(doc) +
                                         " into Go value of type struct { Name string \"json:\\\"name\\\"\" }");
    if (const json::Value* v = json::get(doc, "name")) {
        if (!v->IsString())
            return Error(kDecodeFailure, std::string("error unmarshall network config: json: cannot unmarshal ") +
                                             json::typeName(*v) + " into Go struct field .name of type string");
        name.assign(v->GetString(), v->GetStringLength());
    }
    if (name.empty()) return Error(kInvalidNetConf, "missing network name");
    return validateNetworkName(name);
}

Error decodeVersion(const rapidjson::Document& doc, std::string& version) {
    version.clear();
    if (const json::Value* v = json::get(doc, "cniVersion")) {
        if (!v->IsString())
            return Error(kDecodeFailure,
                         std::string("decoding version from network config: json: cannot unmarshal ") +
                             json::typeName(*v) + " into Go struct field .cniVersion of type string");
        version.assign(v->GetString(), v->GetStringLength());
    }
    if (version.empty()) version = "0.1.0";
    return {};
}

Error reconcile(const Plugin& p, const std::string& version) {
    auto v = parseVersion(version);
    if (v && p.versions.has(*v)) return {};
    return Error(kIncompatibleVersion, "incompatible CNI versions",
                 "config is " + gojson::quote(version) + ", plugin supports " + p.versions.quoted());
}

// CHECK, GC and STATUS: the config must be new enough, and some version the
// plugin supports must be at least the config's, which must then be supported.
Error gateVersion(const Plugin& p, const std::string& version, const char* minVersion, const char* verb) {
    std::string err;
    bool ok = versionAtLeast(version, minVersion, err);
    if (!err.empty()) return Error(kDecodeFailure, err);
    if (!ok) return Error(kIncompatibleVersion, std::string("config version does not allow ") + verb);
    for (int i = 0; i < kNumVersions; i++) {
        Ver pv = static_cast<Ver>(i);
        if (!p.versions.has(pv)) continue;
        bool ge = versionAtLeast(str(pv), version, err);
        if (!err.empty()) return Error(kDecodeFailure, err);
        if (ge) return reconcile(p, version);
    }
    return Error(kIncompatibleVersion, std::string("plugin version does not allow ") + verb);
}

const char* familyList(Family f) {
    switch (f) {
    case Family::f020: return "[ 0.1.0 0.2.0]";
    case Family::f040: return "[0.3.0 0.3.1 0.4.0]";
    case Family::f100: break;
    }
    return "[1.0.0 1.1.0]";
}

Error parsePrevResult(const json::Value& v, const std::string& confVersion, std::optional<Result>& out) {
    if (!v.IsObject())
        return Error(kDecodeFailure, std::string("could not parse prevResult: expected an object, got ") + json::typeName(v));
    // Upstream decodes prevResult with the result type of the config's
    // version, which accepts only its own family's cniVersion values.
    Family confFamily = family(parseVersion(confVersion).value_or(kCurrent));
    if (const json::Value* rv = json::get(v, "cniVersion"); rv && rv->IsString() && rv->GetStringLength()) {
        std::string own(rv->GetString(), rv->GetStringLength());
        auto ov = parseVersion(own);
        if (!ov || family(*ov) != confFamily)
            return Error(kDecodeFailure, std::string("could not parse prevResult: result type supports ") +
                                             familyList(confFamily) + " but unmarshalled CNIVersion is " +
                                             gojson::quote(own));
    }
    Result r;
    if (auto e = json::parseResult(v, confVersion, r)) {
        e.code = kDecodeFailure;
        e.msg = "could not parse prevResult: " + e.msg;
        return e;
    }
    out = std::move(r);
    return {};
}

Error parseNetConf(const rapidjson::Document& doc, NetConf& c) {
    if (auto e = json::getString(doc, "type", c.type)) return e;
    if (const json::Value* ipam = json::get(doc, "ipam")) {
        if (!ipam->IsObject())
            return Error(kInvalidNetConf, std::string("invalid value for \"ipam\": expected an object, got ") +
                                              json::typeName(*ipam));
        if (auto e = json::getString(*ipam, "type", c.ipamType)) return e;
    }
    if (auto e = json::getDNS(doc, "dns", c.dns)) return e;
    if (const json::Value* pr = json::get(doc, "prevResult"))
        if (auto e = parsePrevResult(*pr, c.cniVersion, c.prevResult)) return e;
    if (const json::Value* va = json::get(doc, "cni.dev/valid-attachments")) {
        const char* bad = "invalid value for \"cni.dev/valid-attachments\": expected a list of "
                          "{\"containerID\", \"ifname\"} objects";
        if (!va->IsArray()) return Error(kInvalidNetConf, bad);
        for (const auto& a : va->GetArray()) {
            if (!a.IsObject()) return Error(kInvalidNetConf, bad);
            Attachment at;
            if (auto e = json::getString(a, "containerID", at.containerID)) return e;
            if (auto e = json::getString(a, "ifname", at.ifname)) return e;
            c.validAttachments.push_back(std::move(at));
        }
        c.hasValidAttachments = true;
    }
    return {};
}

// As upstream's ns.GetNS: the path must exist and be nsfs or procfs.
Error checkNetnsPath(const std::string& path) {
    struct statfs fs;
    if (statfs(path.c_str(), &fs) != 0)
        return Error(kInvalidNetNS, "failed to Statfs " + gojson::quote(path) + ": " + util::errnoText(errno));
    auto magic = static_cast<unsigned long>(fs.f_type);
    if (magic != kNsfsMagic && magic != kProcMagic) {
        char hex[32];
        std::snprintf(hex, sizeof hex, "%lx", magic);
        return Error(kInvalidNetNS, "unknown FS magic on " + gojson::quote(path) + ": " + hex);
    }
    return {};
}

bool isOwnNetns(const std::string& path) {
    struct stat a, b;
    if (path.empty() || stat(path.c_str(), &a) != 0) return false;
    if (stat("/proc/thread-self/ns/net", &b) != 0 && stat("/proc/self/ns/net", &b) != 0) return false;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

bool overrideSet(const std::string& v) {
    std::string up = v;
    for (char& c : up)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    return up == "TRUE" || v == "1";
}

Env processEnv() {
    Env env;
    for (char** e = environ; e && *e; e++) {
        std::string_view kv = *e;
        if (kv.substr(0, 4) != "CNI_") continue;
        auto eq = kv.find('=');
        if (eq == std::string_view::npos) continue;
        env.emplace_back(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
    return env;
}

}  // namespace

std::string_view str(Command c) {
    switch (c) {
    case Command::Add: return "ADD";
    case Command::Del: return "DEL";
    case Command::Check: return "CHECK";
    case Command::GC: return "GC";
    case Command::Status: return "STATUS";
    case Command::Version: break;
    }
    return "VERSION";
}

std::optional<Command> parseCommand(std::string_view s) {
    for (Command c : {Command::Add, Command::Del, Command::Check, Command::GC, Command::Status, Command::Version})
        if (str(c) == s) return c;
    return std::nullopt;
}

const rapidjson::Value* CmdArgs::member(std::string_view key) const {
    return doc ? json::get(*doc, key) : nullptr;
}

const rapidjson::Value* CmdArgs::runtimeConfig(std::string_view key) const {
    const rapidjson::Value* rc = member("runtimeConfig");
    return rc ? json::get(*rc, key) : nullptr;
}

const rapidjson::Value* CmdArgs::argsCni(std::string_view key) const {
    const rapidjson::Value* a = member("args");
    const rapidjson::Value* c = a ? json::get(*a, "cni") : nullptr;
    return c ? json::get(*c, key) : nullptr;
}

Error validateContainerID(std::string_view id) {
    if (id.empty()) return Error(kUnknownContainer, "missing containerID");
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
    bool ok = alnum(id[0]);
    for (size_t i = 1; ok && i < id.size(); i++) ok = alnum(id[i]) || id[i] == '_' || id[i] == '.' || id[i] == '-';
    if (!ok) return Error(kInvalidEnv, "invalid characters in containerID", std::string(id));
    return {};
}

Error validateNetworkName(std::string_view name) {
    if (name.empty()) return Error(kInvalidNetConf, "missing network name");
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
    bool ok = alnum(name[0]);
    for (size_t i = 1; ok && i < name.size(); i++)
        ok = alnum(name[i]) || name[i] == '_' || name[i] == '.' || name[i] == '-';
    if (!ok) return Error(kInvalidNetConf, "invalid characters found in network name", std::string(name));
    return {};
}

Error validateIfname(std::string_view ifname) {
    if (ifname.empty()) return Error(kInvalidEnv, "interface name is empty");
    if (ifname.size() > 15)
        return Error(kInvalidEnv, "interface name is too long", "interface name should be less than 16 characters");
    if (ifname == "." || ifname == "..") return Error(kInvalidEnv, "interface name is . or ..");
    for (size_t i = 0; i < ifname.size();) {
        auto [r, n] = gojson::decodeRune(ifname, i);
        i += n;
        // Go's unicode.IsSpace
        bool space = r == ' ' || (r >= '\t' && r <= '\r') || r == 0x85 || r == 0xa0 || r == 0x1680 ||
                     (r >= 0x2000 && r <= 0x200a) || r == 0x2028 || r == 0x2029 || r == 0x202f || r == 0x205f ||
                     r == 0x3000;
        if (r == '/' || r == ':' || space)
            return Error(kInvalidEnv, "interface name contains / or : or whitespace characters");
    }
    return {};
}

Error parseCmdArgs(const Plugin& p, Command cmd, const std::vector<std::pair<std::string, std::string>>& env,
                   std::string stdinData, CmdArgs& out) {
    CmdArgs a;
    a.command = cmd;
    if (auto e = checkEnv(maskOf(cmd), env, &a)) return e;
    a.doc = std::make_shared<rapidjson::Document>();
    if (cmd == Command::Version) {  // stdin is not read for VERSION
        a.doc->SetObject();
        out = std::move(a);
        return {};
    }
    a.stdinData = std::move(stdinData);
    if (auto e = validateConfig(a.stdinData, *a.doc, a.conf.name)) return e;
    if (auto e = decodeVersion(*a.doc, a.conf.cniVersion)) return e;
    switch (cmd) {
    case Command::Add:
    case Command::Del:
        if (auto e = reconcile(p, a.conf.cniVersion)) return e;
        break;
    case Command::Check:
        if (auto e = gateVersion(p, a.conf.cniVersion, "0.4.0", "CHECK")) return e;
        break;
    case Command::GC:
        if (auto e = gateVersion(p, a.conf.cniVersion, "1.1.0", "GC")) return e;
        break;
    case Command::Status:
        if (auto e = gateVersion(p, a.conf.cniVersion, "1.1.0", "STATUS")) return e;
        break;
    case Command::Version: break;
    }
    if (auto e = parseNetConf(*a.doc, a.conf)) return e;
    if (p.checkNetns && (cmd == Command::Add || cmd == Command::Check))
        if (auto e = checkNetnsPath(a.netns)) return e;
    if ((cmd == Command::Add || cmd == Command::Del) && !overrideSet(a.netnsOverride) && isOwnNetns(a.netns))
        return Error(kInvalidNetNS, "plugin's netns and netns from CNI_NETNS should not be the same");
    out = std::move(a);
    return {};
}

Error dispatch(const Plugin& p, const CmdArgs& args, std::string& stdoutText) {
    stdoutText.clear();
    switch (args.command) {
    case Command::Version:
        stdoutText = "{\"cniVersion\":\"" + std::string(str(kCurrent)) +
                     "\",\"supportedVersions\":" + p.versions.jsonList() + "}\n";
        return {};
    case Command::Add: {
        if (!p.add) return {};
        Result r;
        if (auto e = p.add(args, r)) return e;
        return printResult(r, args.conf.cniVersion, stdoutText);
    }
    case Command::Del: return p.del ? p.del(args) : Error();
    case Command::Check: return p.check ? p.check(args) : Error();
    case Command::GC: return p.gc ? p.gc(args) : Error();
    case Command::Status: return p.status ? p.status(args) : Error();
    }
    return {};
}

int runPlugin(std::string_view appletName, const Plugin& p) {
    Env env = processEnv();
    std::string_view cmdText = lookup(env, "CNI_COMMAND");
    if (cmdText.empty()) {
        std::fprintf(stderr, "CNI %.*s plugin v%s\nCNI protocol versions supported: %s\n",
                     static_cast<int>(appletName.size()), appletName.data(), CNIBOX_VERSION,
                     p.versions.joined(", ").c_str());
        return 0;
    }
    auto cmd = parseCommand(cmdText);
    Error err;
    std::string out;
    std::string in;
    if (!cmd) {
        // Upstream reads and checks the config before rejecting the verb.
        if (Error e = readStdin(in)) {
            err = std::move(e);
        } else {
            rapidjson::Document doc;
            std::string name;
            err = validateConfig(in, doc, name);
            if (!err) err = Error(kInvalidEnv, "unknown CNI_COMMAND: " + std::string(cmdText));
        }
    } else if (!(err = checkEnv(maskOf(*cmd), env, nullptr))) {
        if (*cmd != Command::Version)
            err = readStdin(in);
        CmdArgs a;
        if (!err) err = parseCmdArgs(p, *cmd, env, std::move(in), a);
        if (!err) err = dispatch(p, a, out);
    }
    if (err) {
        (void)util::writeAll(1, cni::errorJson(err));
        return 1;
    }
    (void)util::writeAll(1, out);
    return 0;
}

}  // namespace cni
