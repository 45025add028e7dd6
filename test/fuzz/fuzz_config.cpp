// libFuzzer target: arbitrary bytes as a plugin's stdin config (through the
// skel's parser, including prevResult) and as a result in every version.
// Besides crashes and sanitizer reports it checks that printing is stable:
// whatever parses prints, and what is printed reads back to a fixed point.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "cni/result.h"
#include "cni/skel.h"

namespace {

const char* kVersions[] = {"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};

void roundTrip(const cni::Result& r) {
    for (const char* v : kVersions) {
        std::string once;
        if (cni::printResult(r, v, once)) continue;  // e.g. no address for 0.2.0
        cni::Result back;
        if (cni::parseResult(once, v, back)) std::abort();
        // Invalid UTF-8 is printed as \ufffd, which reads back as U+FFFD and
        // prints as itself: the text may differ once, the model may not.
        std::string twice;
        cni::Result again;
        if (cni::printResult(back, v, twice) || cni::parseResult(twice, v, again) || !(again == back)) std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);

    static const cni::Plugin plugin = [] {
        cni::Plugin p;
        p.checkNetns = false;  // no filesystem access while fuzzing
        return p;
    }();
    static const std::vector<std::pair<std::string, std::string>> env = {
        {"CNI_CONTAINERID", "fuzz"}, {"CNI_NETNS", "/nonexistent"}, {"CNI_IFNAME", "eth0"},
        {"CNI_ARGS", "IgnoreUnknown=1"}, {"CNI_PATH", "/nonexistent"}, {"CNI_NETNS_OVERRIDE", "1"},
    };
    for (cni::Command cmd : {cni::Command::Add, cni::Command::Check, cni::Command::GC}) {
        cni::CmdArgs a;
        cni::Error e = cni::parseCmdArgs(plugin, cmd, env, in, a);
        if (e) {
            (void)cni::errorJson(e);
            continue;
        }
        if (a.conf.prevResult) roundTrip(*a.conf.prevResult);
        (void)a.runtimeConfig("mac");
        (void)a.argsCni("ips");
    }

    cni::Result r;
    if (!cni::parseResult(in, "1.1.0", r)) roundTrip(r);
    return 0;
}
