// Helpers the libFuzzer targets share (test/fuzz only): invariant checks,
// the result print/parse fixed point, private temporary directories.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cni/result.h"
#include "cni/skel.h"

namespace fuzz {

// Aborts, naming the broken invariant's line, when `ok` is false.
inline void check(bool ok, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    if (ok) return;
    std::fprintf(stderr, "invariant broken at %s:%d\n", file, line);
    std::abort();
}

// `conf` through the skel's parser as plugin stdin for `cmd`, with a fixed
// environment (CNI_ARGS `cniArgs` when given) and no filesystem access.
inline cni::Error parseStdin(cni::Command cmd, const std::string& conf, cni::CmdArgs& a,
                             const char* cniArgs = nullptr) {
    static const cni::Plugin plugin = [] {
        cni::Plugin p;
        p.checkNetns = false;  // no filesystem access while fuzzing
        return p;
    }();
    std::vector<std::pair<std::string, std::string>> env = {
        {"CNI_CONTAINERID", "fuzz"}, {"CNI_NETNS", "/nonexistent"}, {"CNI_IFNAME", "eth0"},
        {"CNI_PATH", "/nonexistent"}, {"CNI_NETNS_OVERRIDE", "1"},
    };
    if (cniArgs) env.emplace_back("CNI_ARGS", cniArgs);
    return cni::parseCmdArgs(plugin, cmd, env, conf, a);
}

inline const char* const kVersions[] = {"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};

// Whatever parses prints in every version, and what is printed reads back
// to a fixed point. Invalid UTF-8 is printed as \ufffd, which reads back as
// U+FFFD and prints as itself: the text may differ once, the model may not.
inline void roundTrip(const cni::Result& r) {
    for (const char* v : kVersions) {
        std::string once;
        if (cni::printResult(r, v, once)) continue;  // e.g. no address for 0.2.0
        cni::Result back;
        check(!cni::parseResult(once, v, back));
        std::string twice;
        cni::Result again;
        check(!cni::printResult(back, v, twice) && !cni::parseResult(twice, v, again) && again == back);
    }
}

// A directory of the process's own, fuzzwork-<name>-<pid>-XXXXXX under
// /dev/shm (tmpfs: an input's files never reach a disk) or /tmp where there
// is no /dev/shm, made once and emptied between inputs.
class TempDir {
public:
    explicit TempDir(const char* name) {
        struct stat shm;
        const char* base = stat("/dev/shm", &shm) == 0 && S_ISDIR(shm.st_mode) ? "/dev/shm" : "/tmp";
        std::string t = std::string(base) + "/fuzzwork-" + name + "-" + std::to_string(getpid()) + "-XXXXXX";
        if (!mkdtemp(t.data())) std::abort();
        path_ = t;
    }
    ~TempDir() {
        clear();
        rmdir(path_.c_str());
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string sub(std::string_view rel) const { return path_ + "/" + std::string(rel); }

    // Removes everything below the directory (not the directory itself).
    void clear() const { removeBelow(path_); }

    // Writes `content` to `rel` (parents must exist); false on failure.
    bool write(std::string_view rel, std::string_view content) const {
        std::string p = sub(rel);
        int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) return false;
        bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
        close(fd);
        return ok;
    }
    bool mkdir(std::string_view rel) const { return ::mkdir(sub(rel).c_str(), 0700) == 0 || errno == EEXIST; }

private:
    static void removeBelow(const std::string& dir) {
        DIR* d = opendir(dir.c_str());
        if (!d) return;
        while (dirent* e = readdir(d)) {
            if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
            std::string p = dir + "/" + e->d_name;
            struct stat st;
            if (lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
                removeBelow(p);
                rmdir(p.c_str());
            } else {
                unlink(p.c_str());
            }
        }
        closedir(d);
    }
    std::string path_;
};

}  // namespace fuzz
