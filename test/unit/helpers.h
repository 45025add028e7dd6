// Shared helpers for the unit tests.
#pragma once

#include <ftw.h>
#include <rapidjson/document.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "cni/json.h"
#include "cni/skel.h"

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

// CmdArgs for `config` as the skel builds them for `cmd`: container "c1",
// CNI_IFNAME eth0, CNI_NETNS this process's own (the own-netns check off),
// CNI_PATH /nonexistent; `env` entries replace or add variables. Fails the
// test when the skel refuses the input; parse errors of the applets' own
// keys come later, from their parsers.
inline cni::CmdArgs cmdArgs(std::string config, cni::Command cmd = cni::Command::Add,
                            const std::vector<std::pair<std::string, std::string>>& env = {}) {
    std::vector<std::pair<std::string, std::string>> e = {
        {"CNI_COMMAND", std::string(cni::str(cmd))}, {"CNI_CONTAINERID", "c1"}, {"CNI_NETNS", "/proc/self/ns/net"},
        {"CNI_IFNAME", "eth0"}, {"CNI_PATH", "/nonexistent"}, {"CNI_NETNS_OVERRIDE", "1"}};
    for (const auto& [k, v] : env) {
        bool found = false;
        for (auto& kv : e)
            if (kv.first == k) kv.second = v, found = true;
        if (!found) e.emplace_back(k, v);
    }
    cni::Plugin p;
    cni::CmdArgs a;
    cni::Error err = cni::parseCmdArgs(p, cmd, e, std::move(config), a);
    INFO(err.text());
    REQUIRE_FALSE(err);
    return a;
}

}  // namespace testutil
