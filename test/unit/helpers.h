// Shared helpers for the unit tests.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>

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

}  // namespace testutil
