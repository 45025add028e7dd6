// cnibox: every CNI plugin in one executable. Dispatches on basename(argv[0])
// (a symlink per applet, made by --install) or on argv[1] ("cnibox bridge").
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "applets/registry.h"
#include "cni/delegate.h"
#include "cni/error.h"
#include "config.h"
#include "netfilter/netfilter.h"
#include "util/fs.h"

namespace {

constexpr std::string_view kSelf = "cnibox";

void printBanner(FILE* f) {
    std::fprintf(f, "cnibox %s - CNI plugins in one binary\n", CNIBOX_VERSION);
    std::fprintf(f, "CNI versions: %s\n", cni::VersionSet::all().spaced().c_str());
    std::fprintf(f, "Applets:");
    for (const cni::Applet* a : registry::applets()) std::fprintf(f, " %s", a->name);
    std::fprintf(f, "\n");
}

void printUsage() {
    printBanner(stdout);
    std::printf(
        "\nUsage:\n"
        "  APPLET                      run as a CNI plugin (argv[0] is an applet name)\n"
        "  cnibox APPLET [ARGS]        the same, naming the applet\n"
        "  cnibox APPLET --help        the applet's config keys and defaults\n"
        "  cnibox --list               applet names, one per line\n"
        "  cnibox --install DIR [--force]\n"
        "                              make DIR/APPLET -> cnibox symlinks (a non-symlink\n"
        "                              in the way is kept unless --force)\n"
        "  cnibox --version            version, CNI versions and applets\n");
}

void printList() {
    for (const cni::Applet* a : registry::applets()) std::printf("%s\n", a->name);
}

void printAppletHelp(const cni::Applet& a) {
    std::printf("%s - %s\n", a.name, a.summary);
    if (!a.finished)
        std::printf("\nNOT FINISHED: this applet is not complete in cnibox %s; every verb but VERSION\n"
                    "fails with a CNI error.\n", CNIBOX_VERSION);
    if (a.plugin) std::printf("\nCNI versions: %s\n", a.plugin->versions.spaced().c_str());
    if (a.help && *a.help) std::printf("\n%s", a.help);
}

std::string selfPath() {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return {};
    buf[n] = 0;
    return buf;
}

std::string dirName(const std::string& p) {
    auto s = p.rfind('/');
    return s == std::string::npos ? "." : s == 0 ? "/" : p.substr(0, s);
}

int install(const char* dirArg, bool force) {
    std::string self = selfPath();
    if (self.empty()) {
        std::fprintf(stderr, "cnibox: cannot find its own path: %s\n", util::errnoDesc(errno));
        return 1;
    }
    char dirBuf[PATH_MAX];
    if (mkdir(dirArg, 0755) != 0 && errno != EEXIST) {
        std::fprintf(stderr, "cnibox: cannot create %s: %s\n", dirArg, util::errnoDesc(errno));
        return 1;
    }
    if (!realpath(dirArg, dirBuf)) {
        std::fprintf(stderr, "cnibox: %s: %s\n", dirArg, util::errnoDesc(errno));
        return 1;
    }
    std::string dir = dirBuf;
    // Link by bare name when cnibox lives in DIR itself, so the tree can be moved.
    std::string target = dirName(self) == dir ? self.substr(self.rfind('/') + 1) : self;
    int failed = 0;
    for (const cni::Applet* a : registry::applets()) {
        std::string link = dir + "/" + a->name;
        struct stat st;
        if (lstat(link.c_str(), &st) == 0 && !S_ISLNK(st.st_mode)) {
            if (!force) {
                std::fprintf(stderr, "cnibox: %s exists and is not a symlink (use --force to replace it)\n",
                             link.c_str());
                failed++;
                continue;
            }
        }
        std::string tmp = dir + "/." + a->name + ".cnibox-new";
        unlink(tmp.c_str());
        if (symlink(target.c_str(), tmp.c_str()) != 0 || rename(tmp.c_str(), link.c_str()) != 0) {
            std::fprintf(stderr, "cnibox: cannot link %s: %s\n", link.c_str(), util::errnoDesc(errno));
            unlink(tmp.c_str());
            failed++;
        }
    }
    return failed ? 1 : 0;
}

int runVerbs(const cni::Applet& a, int argc, char** argv) {
    if (a.main) return a.main(argc, argv);
    if (!a.finished) {
        const char* cmd = std::getenv("CNI_COMMAND");
        if (!cmd || std::strcmp(cmd, "VERSION") != 0) {
            cni::Error e(cni::kPluginSpecific, std::string("the ") + a.name +
                         " plugin is not finished in cnibox " CNIBOX_VERSION);
            std::printf("%s\n", cni::errorJson(e).c_str());
            return 1;
        }
    }
    return cni::runPlugin(a.name, *a.plugin);
}

int runApplet(const cni::Applet& a, int argc, char** argv) {
    if (argc > 1 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
        printAppletHelp(a);
        return 0;
    }
    int rc = runVerbs(a, argc, argv);
    // The run's netfilter resources go now (the nftables socket's close
    // deferred when it would wait for the kernel), not in exit's destructors.
    nf::finishRun();
    return rc;
}

int unknown(std::string_view name) {
    std::fprintf(stderr, "cnibox: unknown applet '%.*s'\n", static_cast<int>(name.size()), name.data());
    printBanner(stderr);
    // A runtime exec'ing a name we do not have gets a spec error, too.
    if (std::getenv("CNI_COMMAND")) {
        cni::Error e(cni::kInvalidNetConf, "cnibox has no applet \"" + std::string(name) + "\"");
        std::printf("%s\n", cni::errorJson(e).c_str());
    }
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    cni::setInProcessLookup(registry::inProcessPlugin);
    std::string_view name = argc > 0 && argv[0] ? argv[0] : kSelf;
    if (auto s = name.rfind('/'); s != std::string_view::npos) name.remove_prefix(s + 1);

    if (const cni::Applet* a = registry::find(name)) return runApplet(*a, argc, argv);
    if (name.substr(0, kSelf.size()) != kSelf) return unknown(name);

    if (argc < 2 || std::strcmp(argv[1], "--version") == 0) {
        printBanner(stdout);
        return 0;
    }
    std::string_view arg = argv[1];
    if (arg == "--help" || arg == "-h") {
        printUsage();
        return 0;
    }
    if (arg == "--list") {
        printList();
        return 0;
    }
    if (arg == "--install") {
        bool force = false;
        const char* dir = nullptr;
        for (int i = 2; i < argc; i++) {
            if (std::strcmp(argv[i], "--force") == 0) force = true;
            else if (!dir) dir = argv[i];
            else return unknown(argv[i]);
        }
        if (!dir) {
            std::fprintf(stderr, "cnibox: --install needs a directory\n");
            return 1;
        }
        return install(dir, force);
    }
    if (const cni::Applet* a = registry::find(arg)) return runApplet(*a, argc - 1, argv + 1);
    return unknown(arg);
}
