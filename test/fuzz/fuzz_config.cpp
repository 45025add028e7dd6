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
#include "fuzz_util.h"

using fuzz::roundTrip;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);

    for (cni::Command cmd : {cni::Command::Add, cni::Command::Check, cni::Command::GC}) {
        cni::CmdArgs a;
        cni::Error e = fuzz::parseStdin(cmd, in, a, "IgnoreUnknown=1");
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
