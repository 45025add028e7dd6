// Shared helpers for the unit tests.
#pragma once

#include <ftw.h>
#include <rapidjson/document.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <string_view>

#include <catch2/catch.hpp>

#include "cni/json.h"

namespace testutil {

// Parses JSON text; fails the test on malformed input.
inline rapidjson::Document parse(std::string_view text) {
    rapidjson::Document d;
    d.Parse(text.data(), text.size());
    if (d.HasParseError()) throw std::runtime_error("bad JSON in test: " + std::string(text));
    return d;
}

// Structural equality of two JSON texts (member order ignored).
inline bool sameJson(std::string_view a, std::string_view b) { return parse(a) == parse(b); }

// A scratch directory under /tmp, removed with everything in it.
struct TmpDir {
    std::string path;
    explicit TmpDir(const char* prefix = "cnibox-unit") {
        std::string t = std::string("/tmp/") + prefix + "-XXXXXX";
        REQUIRE(mkdtemp(t.data()));
        path = t;
    }
    TmpDir(const TmpDir&) = delete;
    TmpDir& operator=(const TmpDir&) = delete;
    ~TmpDir() {
        nftw(
            path.c_str(), [](const char* p, const struct stat*, int, FTW*) { return remove(p); }, 16,
            FTW_DEPTH | FTW_PHYS);
    }
    std::string operator/(std::string_view name) const { return path + "/" + std::string(name); }
};

}  // namespace testutil
