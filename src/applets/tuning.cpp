// tuning: sysctls and link attributes (MAC, MTU, promisc, allmulti, TX queue
// length) of the container interface, with the original attributes kept in a
// backup file and restored on DEL. Its configuration: applets/tuning.h.
#include "applets/tuning.h"

#include <fcntl.h>
#include <regex.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <set>
#include <utility>

#include "cni/applet.h"
#include "cni/args.h"
#include "cni/gojson.h"
#include "cni/json.h"
#include "netlink/netlink.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/mac.h"
#include "util/rollback.h"
#include "util/text.h"

namespace {

constexpr const char* kHelp =
    "Config keys (default):\n"
    "  sysctl     {}                {\"net.key\": \"value\"} written in the container; keys use\n"
    "                               '.' or '/' as separators, must resolve below\n"
    "                               /proc/sys/net/, IFNAME in a key is CNI_IFNAME; no\n"
    "                               duplicate keys. When /etc/cni/tuning/allowlist.conf\n"
    "                               exists (one POSIX extended regexp per line), ADD\n"
    "                               accepts only keys matching one of its lines\n"
    "  mac        (unchanged)       interface MAC; also CNI_ARGS MAC=, runtimeConfig.mac,\n"
    "                               args.cni.mac (each overriding the one before); 6\n"
    "                               bytes, ':' or '-' separated; the result's interface\n"
    "                               CNI_IFNAME gets it (in lower case)\n"
    "  mtu        0 (unchanged)     interface MTU (>= 0)\n"
    "  promisc    false             true: promiscuous mode on (false changes nothing)\n"
    "  allmulti   (unchanged)       all-multicast mode on/off\n"
    "  txQLen     (unchanged)       TX queue length (>= 0)\n"
    "  dataDir    /run/cni/tuning   backups <containerID>_<ifname>.json of the original\n"
    "                               attributes (the format upstream's tuning uses, and\n"
    "                               \"network\": the network's name, which it ignores)\n"
    "  args.cni.{sysctl,mac,mtu,promisc,allmulti,txQLen}  override the keys above\n"
    "                               (args.cni.sysctl adds to and overrides sysctl)\n"
    "\n"
    "Needs a prevResult (a chained plugin). Bad input is code 7 with nothing changed.\n"
    "ADD    sysctls, then a backup of the attributes to change, then MAC, promisc, MTU,\n"
    "       allmulti, TX queue length; prints prevResult (the MAC updated). A failed\n"
    "       ADD puts back what it changed and removes its backup.\n"
    "DEL    restores the backed-up attributes (sysctls stay) and removes the backup;\n"
    "       no backup, an empty or vanished CNI_NETNS or a missing link is success (the\n"
    "       backup is removed then too, and so is a backup's .tmp that an ADD killed\n"
    "       while writing it left). A symlink or FIFO under the backup's name is no\n"
    "       backup: neither followed nor waited on, it is left, and DEL succeeds.\n"
    "CHECK  the sysctls' values, MAC, MTU, allmulti, TX queue length as configured;\n"
    "       promisc on exactly when configured true.\n"
    "GC     (cnibox extension; upstream's tuning has no GC) removes this network's\n"
    "       backups in dataDir of attachments not in cni.dev/valid-attachments, and\n"
    "       such attachments' backups cut short (a .json.tmp that is no other\n"
    "       network's). Another network's backups, and upstream's (no \"network\"),\n"
    "       stay.\n"
    "STATUS always ready.\n";

}  // namespace

// ---- configuration

namespace applets::tuning {

using cni::Error;
using cni::gojson::quote;
namespace json = cni::json;

namespace {

Error invalid(std::string msg) { return Error(cni::kInvalidNetConf, std::move(msg)); }

// A "sysctl" object: string values, keys in order; `dupCheck` rejects a key
// given twice.
Error readSysctlObject(const json::Value& v, std::string_view where, bool dupCheck, std::vector<Sysctl>& out) {
    if (v.IsNull()) return {};
    if (!v.IsObject()) return invalid(std::string(where) + " must be an object of strings");
    for (const auto& m : v.GetObject()) {
        std::string key(m.name.GetString(), m.name.GetStringLength());
        if (!m.value.IsString()) {
            std::string msg(where);
            msg.append(" value of ").append(quote(key)).append(" must be a string");
            return invalid(std::move(msg));
        }
        std::string val(m.value.GetString(), m.value.GetStringLength());
        bool merged = false;
        for (Sysctl& s : out)
            if (s.key == key) {
                if (dupCheck) return invalid("duplicated sysctl keys are not allowed: " + quote(key));
                s.value = val;
                merged = true;
            }
        if (!merged) out.push_back({std::move(key), {}, std::move(val)});
    }
    return {};
}

// Reads the keys of `obj` (the config, or args.cni) into `c`. Duplicate
// keys in the config's sysctl are an error with `dupCheck` (ADD, CHECK).
Error readKeys(const json::Value& obj, bool fromArgs, bool dupCheck, Conf& c) {
    if (const json::Value* s = json::get(obj, "sysctl"))
        if (auto e = readSysctlObject(*s, fromArgs ? "args.cni.sysctl" : "sysctl", dupCheck && !fromArgs, c.sysctls))
            return e;
    if (auto e = json::getBool(obj, "promisc", c.promisc)) return e;
    if (auto e = json::getInt(obj, "mtu", c.mtu)) return e;
    if (json::get(obj, "allmulti")) {
        bool b = false;
        if (auto e = json::getBool(obj, "allmulti", b)) return e;
        c.allmulti = b;
    }
    if (json::get(obj, "txQLen")) {
        int n = 0;
        if (auto e = json::getInt(obj, "txQLen", n)) return e;
        c.txqlen = n;
    }
    return {};
}

}  // namespace

Error sysctlPath(std::string_view key, std::string_view ifname, std::string& rel) {
    std::string k(key);
    for (char& c : k)
        if (c == '.') c = '/';
    if (size_t at = k.find("IFNAME"); at != std::string::npos) k.replace(at, 6, ifname);
    std::string full = util::cleanPath("/proc/sys/" + k);
    constexpr std::string_view prefix = "/proc/sys/net/";
    if (full.compare(0, prefix.size(), prefix) != 0 || full.size() == prefix.size())
        return invalid("invalid net sysctl key: " + quote(k) + " (only keys below net. are allowed)");
    rel = full.substr(std::string_view("/proc/sys/").size());
    return {};
}

Error checkAllowlist(const std::vector<Sysctl>& sysctls, const std::string& file) {
    if (sysctls.empty()) return {};
    std::string text;
    if (int e = util::readFile(file, text).errnum) {
        if (e == ENOENT) return {};
        return Error(cni::kInternal, "failed to read " + file + ": " + util::errnoText(e));
    }
    std::vector<std::string> lines;
    for (std::string_view l : util::splitOn(text, '\n')) {
        std::string_view line = util::trimSpace(l);
        if (!line.empty()) lines.emplace_back(line);
    }
    std::string listed = "[";
    for (const auto& l : lines) listed += (listed.size() > 1 ? " " : "") + l;
    listed += "]";
    std::vector<bool> allowed(sysctls.size(), false);
    for (const auto& l : lines) {
        regex_t re;
        if (int rc = regcomp(&re, l.c_str(), REG_EXTENDED | REG_NOSUB)) {
            char buf[128];
            regerror(rc, &re, buf, sizeof buf);
            return invalid("invalid regexp " + quote(l) + " in " + file + ": " + buf);
        }
        for (size_t i = 0; i < sysctls.size(); i++)
            if (!allowed[i] && regexec(&re, sysctls[i].key.c_str(), 0, nullptr, 0) == 0) allowed[i] = true;
        regfree(&re);
    }
    for (size_t i = 0; i < sysctls.size(); i++)
        if (!allowed[i])
            return invalid("Sysctl " + sysctls[i].key + " is not allowed. Only the following sysctls are allowed: " + listed);
    return {};
}

Error parseConf(const cni::CmdArgs& a, bool strict, Conf& c) {
    const json::Value& d = a.config();
    if (auto e = readKeys(d, false, strict, c)) return e;
    if (auto e = json::getPath(d, "dataDir", c.dataDir)) return e;
    if (c.dataDir.empty()) c.dataDir = kDefaultDataDir;
    // The MAC in upstream tuning's order, not cni::containerMac's: config <
    // CNI_ARGS MAC < runtimeConfig.mac < args.cni.mac, only the last one validated.
    if (auto e = json::getString(d, "mac", c.mac)) return e;
    if (!a.args.empty()) {
        cni::CniArgs env;
        if (auto e = cni::parseCniArgs(a.args, {"MAC"}, env)) return e;
        if (const std::string* m = env.get("MAC"); m && !m->empty()) c.mac = *m;
    }
    if (const json::Value* rc = a.member("runtimeConfig"); rc && !rc->IsObject())
        return invalid("runtimeConfig must be an object");
    if (const json::Value* m = a.runtimeConfig("mac")) {
        if (!m->IsString()) return invalid("runtimeConfig.mac must be a string");
        if (m->GetStringLength()) c.mac = m->GetString();
    }
    if (const json::Value* args = a.member("args")) {
        if (!args->IsObject()) return invalid("args must be an object");
        if (const json::Value* ac = json::get(*args, "cni")) {
            if (!ac->IsObject()) return invalid("args.cni must be an object");
            if (auto e = readKeys(*ac, true, strict, c)) return e;
            if (json::get(*ac, "mac"))
                if (auto e = json::getString(*ac, "mac", c.mac)) return e;  // "" clears, as upstream
        }
    }
    if (!strict) return {};
    if (!c.mac.empty()) {
        auto norm = util::normalizeMac(c.mac);
        if (!norm) return invalid("invalid MAC address " + quote(c.mac));
        c.mac = *norm;
    }
    if (c.mtu < 0) return invalid("invalid MTU " + std::to_string(c.mtu) + ": must be 0 (unchanged) or positive");
    if (c.txqlen && *c.txqlen < 0)
        return invalid("invalid txQLen " + std::to_string(*c.txqlen) + ": must not be negative");
    for (Sysctl& s : c.sysctls)
        if (auto e = sysctlPath(s.key, a.ifname, s.path)) return e;
    return {};
}

std::string backupName(std::string_view containerID, std::string_view ifname) {
    return std::string(containerID) + "_" + std::string(ifname) + ".json";
}

std::string backupJson(const Backup& b) {
    std::vector<std::string> f;
    auto boolStr = [](bool v) { return v ? "true" : "false"; };
    if (!b.mac.empty()) f.push_back("\"mac\": \"" + b.mac + "\"");
    if (b.promisc) f.push_back(std::string("\"promisc\": ") + boolStr(*b.promisc));
    if (b.mtu != 0) f.push_back("\"mtu\": " + std::to_string(b.mtu));
    if (b.allmulti) f.push_back(std::string("\"allmulti\": ") + boolStr(*b.allmulti));
    if (b.txqlen) f.push_back("\"txQLen\": " + std::to_string(*b.txqlen));
    if (!b.network.empty()) f.push_back("\"network\": " + cni::gojson::quote(b.network));
    if (f.empty()) return "{}";
    std::string out = "{\n";
    for (size_t i = 0; i < f.size(); i++) out += " " + f[i] + (i + 1 < f.size() ? ",\n" : "\n");
    return out + "}";
}

bool parseBackup(std::string_view text, Backup& b) {
    rapidjson::Document doc;
    if (json::parseDocument(text, doc) || !doc.IsObject()) return false;
    const json::Value& obj = doc;
    for (const auto& m : obj.GetObject()) {
        std::string_view k(m.name.GetString(), m.name.GetStringLength());
        if (k != "mac" && k != "promisc" && k != "mtu" && k != "allmulti" && k != "txQLen" && k != "network")
            return false;
    }
    if (json::getString(doc, "mac", b.mac) || json::getInt(doc, "mtu", b.mtu) ||
        json::getString(doc, "network", b.network))
        return false;
    bool v = false;
    if (json::get(doc, "promisc")) {
        if (json::getBool(doc, "promisc", v)) return false;
        b.promisc = v;
    }
    if (json::get(doc, "allmulti")) {
        if (json::getBool(doc, "allmulti", v)) return false;
        b.allmulti = v;
    }
    if (json::get(doc, "txQLen")) {
        int n = 0;
        if (json::getInt(doc, "txQLen", n)) return false;
        b.txqlen = n;
    }
    return true;
}

}  // namespace applets::tuning

// ---- ADD, DEL, CHECK, GC

namespace {

using cni::Error;
using cni::gojson::quote;
using namespace applets::tuning;

// A backup is a few hundred bytes; a larger file is none (read no further).
constexpr size_t kMaxBackup = 64 * 1024;

Error writeBackup(const std::string& dir, const std::string& name, const Backup& b) {
    if (auto e = util::mkdirAll(dir, 0700)) {
        // util's "mkdir <dir>: <reason>" as "failed to create backup directory <dir>: <reason>"
        e.msg.replace(0, std::string_view("mkdir ").size(), "failed to create backup directory ");
        return e;
    }
    std::string tmp = name + ".tmp";
    util::Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    int err = !dfd ? errno : util::writeFileAtomicAt(dfd.get(), name.c_str(), tmp.c_str(), backupJson(b), 0600).errnum;
    if (err) return Error(cni::kInternal, "failed to save backup " + dir + "/" + name + ": " + util::errnoText(err));
    return {};
}

void removeFile(const std::string& path) { (void)::unlink(path.c_str()); }

// Sets the attributes of `b` on the link, upstream's restore order (MTU, MAC,
// promisc, allmulti, TX queue length), skipping those already so. Errors are
// collected, "; "-joined.
std::string restore(nl::Socket& sk, const nl::LinkInfo& li, const Backup& b) {
    std::string errs;
    auto note = [&](const char* what, const Error& e) {
        if (e) errs += (errs.empty() ? "" : "; ") + std::string("failed to restore ") + what + ": " + e.text();
    };
    if (b.mtu != 0 && b.mtu != li.mtu) note("MTU", sk.setMtu(li.index, b.mtu));
    if (!b.mac.empty()) {
        auto mac = util::normalizeMac(b.mac);
        if (!mac) note("MAC address", invalid("invalid MAC address " + quote(b.mac)));
        else if (*mac != li.mac) note("MAC address", sk.setMac(li.index, *mac));
    }
    if (b.promisc && *b.promisc != li.promisc) note("promiscuous mode", sk.setPromisc(li.index, *b.promisc));
    if (b.allmulti && *b.allmulti != li.allmulti) note("all-multicast mode", sk.setAllmulti(li.index, *b.allmulti));
    if (b.txqlen && *b.txqlen != li.txqlen) note("transmit queue length", sk.setTxQLen(li.index, *b.txqlen));
    return errs;
}

// Writes the sysctls inside the namespace (entered by the caller). Every
// file is read first, so a missing key fails before anything is written.
// `old` receives (path, previous value) of each one written, as it is
// written, for the caller to put back (a write-only file has no previous
// value and is not put back).
Error applySysctls(const std::vector<Sysctl>& sysctls, std::vector<std::pair<std::string, std::string>>& old) {
    std::vector<std::optional<std::string>> prev(sysctls.size());
    for (size_t i = 0; i < sysctls.size(); i++) {
        std::string v;
        if (auto e = nl::sysctlGet(sysctls[i].path, v)) {
            if (e.errnum != EACCES) return e;
            continue;
        }
        prev[i] = std::move(v);
    }
    for (size_t i = 0; i < sysctls.size(); i++) {
        if (auto e = nl::sysctlSet(sysctls[i].path, sysctls[i].value)) return e;
        if (prev[i] && *prev[i] != sysctls[i].value) old.emplace_back(sysctls[i].path, *prev[i]);
    }
    return {};
}

// Sysctls, then the backup of the attributes to change, then the
// attributes; a failure puts back what was done, last first.
Error cmdAdd(const cni::CmdArgs& a, cni::Result& out) {
    Conf c;
    if (auto e = parseConf(a, true, c)) return e;
    if (auto e = checkAllowlist(c.sysctls)) return e;
    if (!a.conf.prevResult) return invalid("Required prevResult missing");
    nl::Netns ns;
    if (auto e = nl::Netns::open(a.netns, ns)) return e;
    nl::Socket sk;
    nl::LinkInfo li;
    if (c.linkAttrs()) {
        if (auto e = nl::Socket::openIn(ns, sk)) return e;
        bool found = false;
        if (auto e = sk.linkByName(a.ifname, li, found)) return e;
        if (!found) return Error(cni::kInternal, "failed to get " + quote(a.ifname) + ": Link not found");
    }
    std::vector<std::pair<std::string, std::string>> oldSysctls;
    Backup b;
    std::string backupPath;
    util::Rollback undo;
    if (!c.sysctls.empty()) {
        nl::NetnsGuard in(ns);
        if (in.error()) return in.error();
        undo.defer([&] {
            nl::NetnsGuard back(ns);
            if (back.error()) return;
            for (auto it = oldSysctls.rbegin(); it != oldSysctls.rend(); ++it) (void)nl::sysctlSet(it->first, it->second);
        });
        if (auto e = applySysctls(c.sysctls, oldSysctls)) return e;
    }
    if (c.linkAttrs()) {
        if (!c.mac.empty()) b.mac = li.mac;
        if (c.promisc) b.promisc = li.promisc;
        if (c.mtu != 0) b.mtu = li.mtu;
        if (c.allmulti) b.allmulti = li.allmulti;
        if (c.txqlen) b.txqlen = li.txqlen;
        b.network = a.conf.name;
        std::string name = backupName(a.containerID, a.ifname);
        if (auto e = writeBackup(c.dataDir, name, b)) return e;
        backupPath = c.dataDir + "/" + name;
        undo.defer([&] { removeFile(backupPath); });
        undo.defer([&] {
            nl::LinkInfo now;
            bool found = false;
            if (!sk.linkByIndex(li.index, now, found) && found) (void)restore(sk, now, b);
        });
        if (!c.mac.empty() && c.mac != li.mac)
            if (auto e = sk.setMac(li.index, c.mac)) return e;
        if (c.promisc && !li.promisc)
            if (auto e = sk.setPromisc(li.index, true)) return e;
        if (c.mtu != 0 && c.mtu != li.mtu)
            if (auto e = sk.setMtu(li.index, c.mtu)) return e;
        if (c.allmulti && *c.allmulti != li.allmulti)
            if (auto e = sk.setAllmulti(li.index, *c.allmulti)) return e;
        if (c.txqlen && *c.txqlen != li.txqlen)
            if (auto e = sk.setTxQLen(li.index, *c.txqlen)) return e;
    }
    undo.dismiss();
    out = *a.conf.prevResult;
    if (!c.mac.empty())
        for (cni::Interface& i : out.interfaces)
            if (i.name == a.ifname) i.mac = c.mac;
    return {};
}

// Restores and removes the backup. Success whenever there is nothing left to
// restore to (no backup, no netns, no link); a failed restore keeps the backup
// for a later DEL (and is reported on stderr only, as DEL must succeed).
Error cmdDel(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, false, c)) return e;
    std::string name = backupName(a.containerID, a.ifname), path = c.dataDir + "/" + name;
    removeFile(path + ".tmp");   // a backup's write cut short (the ADD killed before its rename)
    // Read as a data file (util::readDataFile): a symlink or FIFO planted
    // under the backup's name is neither followed nor waited on. It is no
    // backup of cnibox's (those are regular files renamed into place), so
    // there is nothing to restore, and it is left as GC leaves it. A file too
    // large to be a backup is removed below as one that does not parse.
    std::string text;
    int err = util::readDataFile(c.dataDir, name, text, kMaxBackup).errnum;
    if (err == ENOENT || err == ENOTDIR) return {};
    if (err == ELOOP || err == EINVAL) {
        std::fprintf(stderr, "tuning: %s is not a regular file: no backup to restore (left alone)\n", path.c_str());
        return {};
    }
    if (err == EFBIG) text.clear();
    else if (err) return Error(cni::kInternal, "failed to open file " + quote(path) + ": " + util::errnoText(err));
    Backup b;
    if (!parseBackup(text, b) || a.netns.empty()) {
        removeFile(path);
        return {};
    }
    nl::Netns ns;
    nl::Socket sk;
    nl::LinkInfo li;
    bool found = false;
    if (nl::Netns::open(a.netns, ns) || nl::Socket::openIn(ns, sk)) {
        removeFile(path);
        return {};
    }
    if (auto e = sk.linkByName(a.ifname, li, found)) return e;
    if (!found) {
        removeFile(path);
        return {};
    }
    std::string errs = restore(sk, li, b);
    if (!errs.empty()) {
        std::fprintf(stderr, "tuning: %s (backup %s kept)\n", errs.c_str(), path.c_str());
        return {};
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return Error(cni::kInternal, "failed to remove file " + path + ": " + util::errnoText(errno));
    return {};
}

Error cmdCheck(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, true, c)) return e;
    if (!a.conf.prevResult) return invalid("Required prevResult missing");
    nl::Netns ns;
    if (auto e = nl::Netns::open(a.netns, ns)) return e;
    if (!c.sysctls.empty()) {
        nl::NetnsGuard in(ns);
        if (in.error()) return in.error();
        for (const Sysctl& s : c.sysctls) {
            std::string cur;
            if (auto e = nl::sysctlGet(s.path, cur)) return e;
            if (cur != s.value)
                return Error(cni::kInternal, "Error: Tuning configured value of /proc/sys/" + s.path + " is " + s.value +
                                                 ", current value is " + cur);
        }
    }
    nl::Socket sk;
    if (auto e = nl::Socket::openIn(ns, sk)) return e;
    nl::LinkInfo li;
    bool found = false;
    if (auto e = sk.linkByName(a.ifname, li, found)) return e;
    if (!found) return Error(cni::kInternal, "Cannot find container link " + a.ifname);
    auto mismatch = [&](const std::string& what, const std::string& want, const std::string& have) {
        return Error(cni::kInternal, "Error: Tuning configured " + what + " of " + a.ifname + " is " + want +
                                         ", current value is " + have);
    };
    auto b = [](bool v) { return std::string(v ? "true" : "false"); };
    if (!c.mac.empty() && c.mac != li.mac) return mismatch("Ethernet", c.mac, li.mac);
    if (c.promisc != li.promisc) return mismatch("promisc", b(c.promisc), b(li.promisc));
    if (c.mtu != 0 && c.mtu != li.mtu) return mismatch("MTU", std::to_string(c.mtu), std::to_string(li.mtu));
    if (c.allmulti && *c.allmulti != li.allmulti) return mismatch("all-multicast mode", b(*c.allmulti), b(li.allmulti));
    if (c.txqlen && *c.txqlen != li.txqlen)
        return mismatch("Transmit Queue Length", std::to_string(*c.txqlen), std::to_string(li.txqlen));
    return {};
}

// Removes backups of attachments not in cni.dev/valid-attachments: files
// named <containerID>_<ifname>.json in dataDir that hold a backup object,
// and <containerID>_<ifname>.json.tmp whether it holds one or not (an ADD
// killed while writing it leaves anything from nothing to the whole
// backup). Other files are left alone.
Error cmdGC(const cni::CmdArgs& a) {
    Conf c;
    if (auto e = parseConf(a, false, c)) return e;
    if (!a.conf.hasValidAttachments) return {};
    std::set<std::string> valid;
    for (const auto& at : a.conf.validAttachments) valid.insert(backupName(at.containerID, at.ifname));
    util::Dir dir;
    if (auto e = util::Dir::open(c.dataDir.c_str(), dir)) {
        if (e.errnum == ENOENT || e.errnum == ENOTDIR) return {};
        return Error(cni::kInternal, "failed to open " + c.dataDir + ": " + util::errnoText(e.errnum));
    }
    int dfd = dirfd(dir.get());
    std::vector<std::string> stale;
    while (dirent* de = dir.next()) {
        std::string n = de->d_name;
        std::string base = n;
        if (base.size() > 4 && base.ends_with(".tmp")) base.resize(base.size() - 4);
        if (!base.ends_with(".json") || base.find('_') == std::string::npos || valid.count(base)) continue;
        struct stat st;
        if (fstatat(dfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
        // This network's backups only: another network's (the dataDir may be
        // shared) and upstream's, which name none, are not this GC's to judge.
        // A write cut short (.tmp) goes unless it is another network's: it may
        // hold nothing (the ADD killed before it wrote), and its ADD failed.
        std::string text;
        Backup b;
        bool parsed = !util::readFileAt(dfd, n.c_str(), text, kMaxBackup) && parseBackup(text, b);
        bool mine = parsed && b.network == a.conf.name;
        if (mine || (n != base && (!parsed || b.network.empty()))) stale.push_back(n);
    }
    Error err;  // the first failure; the others are still removed
    for (const auto& n : stale)
        if (unlinkat(dfd, n.c_str(), 0) != 0 && errno != ENOENT && !err)
            err = Error(cni::kInternal, "failed to remove " + c.dataDir + "/" + n + ": " + util::errnoText(errno));
    return err;
}

const cni::Plugin kPlugin{
    .add = cmdAdd,
    .del = cmdDel,
    .check = cmdCheck,
    .gc = cmdGC,
};

}  // namespace

extern const cni::Applet tuning_applet;
const cni::Applet tuning_applet{
    .name = "tuning",
    .summary = "sysctls and link attributes of the container interface",
    .help = kHelp,
    .plugin = &kPlugin,
};
