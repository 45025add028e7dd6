// libFuzzer target: arbitrary bytes as a plugin result, read in every spec
// version (0.1.0 ... 1.1.0) both as text (cni::parseResult) and as an
// already parsed JSON value, as a prevResult and a cached result are read
// (cni::json::parseResult), and as the prevResult of a config in each
// version (the skel's parser). Checks, besides crashes and sanitizer
// reports: the two readers agree; every result that parses prints in every
// version and reads back to a fixed point (fuzz::roundTrip); converting in
// the model is printing and reading back (convertResult); each route prints
// as Go's compact JSON. A result equal to one already checked for this
// input (the same JSON read with another fallback version when it names
// its own, or again as a prevResult) is not printed and converted again:
// the functions are deterministic, so that would check nothing new.
#include <rapidjson/document.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cni/json.h"
#include "cni/result.h"
#include "cni/skel.h"
#include "fuzz_util.h"

namespace {

using fuzz::check;

void conversions(const cni::Result& r) {
    for (const char* v : fuzz::kVersions) {
        std::string text;
        cni::Result conv;
        cni::Error pe = cni::printResult(r, v, text);
        cni::Error ce = cni::convertResult(r, v, conv);
        // convertResult is "printing in v and parsing back", in the model.
        check(!pe == !ce);
        if (pe) continue;
        cni::Result back;
        check(!cni::parseResult(text, v, back));
        check(back == conv);
    }
    for (const auto& rt : r.routes) {
        std::string j = cni::routeJson(rt);
        rapidjson::Document d;
        check(!cni::json::parseDocument(j, d) && d.IsObject());
    }
}

// The round trip and the conversions of `r`, unless a result equal to it
// is among `seen` (the ones already checked for this input; `r` is added).
void checkOnce(std::vector<cni::Result>& seen, const cni::Result& r) {
    for (const cni::Result& s : seen)
        if (s == r) return;
    seen.push_back(r);
    fuzz::roundTrip(r);
    conversions(r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);

    rapidjson::Document doc;
    bool json = !cni::json::parseDocument(in, doc);
    std::vector<cni::Result> seen;
    for (const char* v : fuzz::kVersions) {
        cni::Result r;
        cni::Error e = cni::parseResult(in, v, r);
        if (json) {
            cni::Result viaValue;
            cni::Error ve = cni::json::parseResult(doc, v, viaValue);
            check(!e == !ve);
            if (!e) check(viaValue == r);
        }
        if (!e) checkOnce(seen, r);
    }

    // As a prevResult: a config of each version carrying it.
    if (!json || !doc.IsObject()) return 0;
    for (const char* v : fuzz::kVersions) {
        std::string conf = std::string("{\"cniVersion\":\"") + v + "\",\"name\":\"fuzz\",\"type\":\"fuzz\",\"prevResult\":" + in + "}";
        cni::CmdArgs a;
        if (fuzz::parseStdin(cni::Command::Check, conf, a)) continue;
        if (a.conf.prevResult) checkOnce(seen, *a.conf.prevResult);
    }
    return 0;
}
