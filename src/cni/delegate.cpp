// Delegation as upstream's pkg/invoke does it (find the type in CNI_PATH,
// same environment with CNI_COMMAND overridden, full config on stdin, the
// error JSON from stdout), with one shortcut: a delegate that is this very
// executable runs in-process through the same parse/dispatch path.
#include "cni/delegate.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "cni/gojson.h"
#include "cni/json.h"
#include "util/fs.h"

extern char** environ;

namespace cni {

namespace {

std::vector<std::string> splitPath(std::string_view path) {
    std::vector<std::string> dirs;
    if (path.empty()) return dirs;  // Go's filepath.SplitList("") is empty
    size_t start = 0;
    for (;;) {
        size_t c = path.find(':', start);
        dirs.emplace_back(path.substr(start, c == std::string_view::npos ? std::string_view::npos : c - start));
        if (c == std::string_view::npos) break;
        start = c + 1;
    }
    return dirs;
}

std::string join(const std::string& dir, std::string_view name) {
    if (dir.empty()) return std::string(name);
    return dir.back() == '/' ? dir + std::string(name) : dir + "/" + std::string(name);
}

Error locate(std::string_view type, std::string_view path, std::string& found) {
    if (type.empty()) return Error(kInternal, "no plugin name provided");
    if (type.find('/') != std::string_view::npos) return Error(kInternal, "invalid plugin name: " + std::string(type));
    auto dirs = splitPath(path);
    if (dirs.empty()) return Error(kInternal, "no paths provided");
    found = findInPath(type, path);
    if (!found.empty()) return {};
    std::string list = "[";
    for (size_t i = 0; i < dirs.size(); i++) list += (i ? " " : "") + dirs[i];
    return Error(kInternal, "failed to find plugin " + gojson::quote(type) + " in path " + list + "]");
}

InProcessLookup g_inProcess = nullptr;

// The plugin to run in-process, or nullptr to exec `file`.
const Plugin* inProcess(std::string_view type, const std::string& file) {
    const Plugin* p = g_inProcess ? g_inProcess(type) : nullptr;
    if (!p) return nullptr;
    struct stat a, self;
    if (stat(file.c_str(), &a) != 0 || stat("/proc/self/exe", &self) != 0) return nullptr;
    if (a.st_dev == self.st_dev && a.st_ino == self.st_ino) return p;
    // Under an emulator (qemu-user), /proc/self/exe is the emulator itself,
    // while the link's target reads as the program it runs.
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return nullptr;
    exe[n] = '\0';
    if (stat(exe, &self) != 0) return nullptr;
    return a.st_dev == self.st_dev && a.st_ino == self.st_ino ? p : nullptr;
}

Error runInProcess(const Plugin& p, const CmdArgs& a, Command cmd, std::string& out) {
    std::vector<std::pair<std::string, std::string>> env = {
        {"CNI_COMMAND", std::string(str(cmd))}, {"CNI_CONTAINERID", a.containerID}, {"CNI_NETNS", a.netns},
        {"CNI_IFNAME", a.ifname},                {"CNI_ARGS", a.args},               {"CNI_PATH", a.path},
        {"CNI_NETNS_OVERRIDE", a.netnsOverride},
    };
    CmdArgs sub;
    if (auto e = parseCmdArgs(p, cmd, env, a.stdinData, sub)) return e;
    return dispatch(p, sub, out);
}

// A file holding `data`, positioned at its start, for the child's stdin.
int stdinFile(std::string_view data) {
    int fd = memfd_create("cni-stdin", MFD_CLOEXEC);
    if (fd < 0) {
        char tmpl[] = "/tmp/cni-stdin-XXXXXX";
        fd = mkostemp(tmpl, O_CLOEXEC);
        if (fd < 0) return -1;
        unlink(tmpl);
    }
    if (util::writeAll(fd, data) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

std::string lowerFirst(std::string s) {
    if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] + 32);
    return s;
}

// Go's exec.ExitError text.
std::string statusText(int status) {
    if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "signal: " + lowerFirst(strsignal(WTERMSIG(status)));
    return "unknown exit status";
}

// Upstream's RawExec.pluginErr.
Error pluginError(const std::string& status, const std::string& out, const std::string& err) {
    if (out.empty()) {
        if (err.empty()) return Error(kInternal, "netplugin failed with no error message: " + status);
        return Error(kInternal, "netplugin failed: " + gojson::quote(err) + ": " + status);
    }
    rapidjson::Document doc;
    Error perr = json::parseDocument(out, doc);
    Error e;
    e.code = kOK;
    if (!perr) {
        if (doc.IsObject()) {
            if (const json::Value* c = json::get(doc, "code")) {
                if (c->IsUint64() && c->GetUint64() <= static_cast<uint64_t>(INT32_MAX)) e.code = static_cast<int>(c->GetUint64());
                else perr = Error(kInternal, std::string("json: cannot unmarshal ") + json::typeName(*c) + " into Go struct field Error.code of type uint");
            }
            if (!perr) perr = json::getString(doc, "msg", e.msg);
            if (!perr) perr = json::getString(doc, "details", e.details);
        } else if (!doc.IsNull()) {
            perr = Error(kInternal, std::string("json: cannot unmarshal ") + json::typeName(doc) + " into Go value of type types.Error");
        }
    }
    if (perr)
        return Error(kInternal, "netplugin failed but error parsing its diagnostic message " + gojson::quote(out) + ": " + perr.msg);
    if (e.code == kOK) e.code = kInternal;  // code 0 cannot mean failure here
    return e;
}

}  // namespace

void setInProcessLookup(InProcessLookup lookup) { g_inProcess = lookup; }

std::vector<std::string> environWithoutCni(bool keepNetnsOverride) {
    static constexpr std::string_view kOwn[] = {"CNI_COMMAND=", "CNI_CONTAINERID=", "CNI_NETNS=", "CNI_IFNAME=",
                                                "CNI_ARGS=", "CNI_PATH=", "CNI_NETNS_OVERRIDE="};
    std::vector<std::string> env;
    for (char** e = environ; e && *e; e++) {
        std::string_view kv = *e;
        bool own = false;
        for (auto k : kOwn) own = own || kv.substr(0, k.size()) == k;
        if (keepNetnsOverride && kv.starts_with("CNI_NETNS_OVERRIDE=")) own = false;
        if (!own) env.emplace_back(kv);
    }
    return env;
}

namespace {

Error execPlugin(const std::string& file, const CmdArgs& a, Command cmd, std::string& out) {
    // The current environment with the CNI variables taken from `a` and
    // CNI_COMMAND overridden (upstream's DelegateArgs).
    std::vector<std::string> env = environWithoutCni();
    env.push_back("CNI_COMMAND=" + std::string(str(cmd)));
    auto add = [&](const char* k, const std::string& v) {
        if (!v.empty()) env.push_back(std::string(k) + "=" + v);
    };
    add("CNI_CONTAINERID", a.containerID);
    add("CNI_NETNS", a.netns);
    add("CNI_IFNAME", a.ifname);
    add("CNI_ARGS", a.args);
    add("CNI_PATH", a.path);
    add("CNI_NETNS_OVERRIDE", a.netnsOverride);
    return execFile(file, env, a.stdinData, out);
}

}  // namespace

Error execFile(const std::string& file, const std::vector<std::string>& env, std::string_view stdinData,
               std::string& out) {
    std::vector<char*> envp;
    for (const auto& kv : env) envp.push_back(const_cast<char*>(kv.c_str()));
    envp.push_back(nullptr);

    int in = stdinFile(stdinData);
    if (in < 0) return Error(kIOFailure, "cannot pass the config to " + file + ": " + util::errnoText(errno));
    int outp[2], errp[2];
    if (pipe2(outp, O_CLOEXEC) != 0) {
        int err = errno;
        close(in);
        return Error(kIOFailure, "pipe: " + util::errnoText(err));
    }
    if (pipe2(errp, O_CLOEXEC) != 0) {
        int err = errno;
        close(in);
        close(outp[0]);
        close(outp[1]);
        return Error(kIOFailure, "pipe: " + util::errnoText(err));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    std::string argv0 = file;
    char* argv[] = {argv0.data(), nullptr};
    pid_t pid = -1;
    int rc = 0;
    for (int attempt = 0; attempt <= 5; attempt++) {  // as upstream: retry "text file busy"
        rc = posix_spawn(&pid, file.c_str(), &fa, nullptr, argv, envp.data());
        if (rc != ETXTBSY) break;
        if (lseek(in, 0, SEEK_SET) != 0) break;
        sleep(1);
    }
    posix_spawn_file_actions_destroy(&fa);
    close(in);
    close(outp[1]);
    close(errp[1]);
    std::string errText;
    if (rc != 0) {
        close(outp[0]);
        close(errp[0]);
        return pluginError("fork/exec " + file + ": " + util::errnoText(rc), "", "");
    }
    // Drain both pipes together so neither can fill up and stall the child.
    pollfd fds[2] = {{outp[0], POLLIN, 0}, {errp[0], POLLIN, 0}};
    std::string* bufs[2] = {&out, &errText};
    int open = 2;
    char buf[16384];
    while (open > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                bufs[i]->append(buf, static_cast<size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open--;
            }
        }
    }
    for (auto& f : fds)
        if (f.fd >= 0) close(f.fd);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        if (!errText.empty()) (void)util::writeAll(2, errText);  // stderr passes through
        return {};
    }
    return pluginError(statusText(status), out, errText);
}

namespace {

Error run(const CmdArgs& a, Command cmd, std::string_view type, std::string& out) {
    std::string file;
    if (auto e = locate(type, a.path, file)) return e;
    if (const Plugin* p = inProcess(type, file)) return runInProcess(*p, a, cmd, out);
    return execPlugin(file, a, cmd, out);
}

}  // namespace

std::string findInPath(std::string_view type, std::string_view path) {
    if (type.empty() || type.find('/') != std::string_view::npos) return {};
    for (const auto& dir : splitPath(path)) {
        std::string full = join(dir, type);
        struct stat st;
        if (stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return full;
    }
    return {};
}

Error findPlugin(std::string_view type, std::string_view path, std::string& file) {
    return locate(type, path, file);
}

Error delegateAdd(const CmdArgs& a, std::string_view type, Result& out) {
    std::string text;
    if (auto e = run(a, Command::Add, type, text)) return e;
    // A result without cniVersion is taken to be in the config's version.
    return parseResult(text, a.conf.cniVersion, out);
}

Error delegate(const CmdArgs& a, Command cmd, std::string_view type) {
    std::string text;
    return run(a, cmd, type, text);
}

}  // namespace cni
