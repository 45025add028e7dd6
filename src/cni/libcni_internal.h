// What the parts of libcni (libcni_conf.cpp, libcni_cache.cpp,
// libcni_runner.cpp) share. Not for other users: cni/libcni.h is the API.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>
#include <utility>

#include "cni/error.h"
#include "cni/gojson.h"
#include "cni/json.h"
#include "cni/result.h"
#include "util/fs.h"

namespace cni::libcni::detail {

using json::Value;

inline std::string_view sv(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

// libcni's errors that carry no code of their own.
inline Error fail(std::string msg) { return Error(kInternal, std::move(msg)); }

// `prefix` + the error's whole text, keeping its code: Go's
// fmt.Errorf("<prefix>%w", err), whose text has no separate details.
inline Error wrap(const std::string& prefix, Error e) {
    e.msg = prefix + e.text();
    e.details.clear();
    return e;
}

// Exact-key lookup in an object decoded as a Go map: the last duplicate
// wins and a null value is present (unlike json::get).
inline const Value* mapGet(const Value& obj, std::string_view key, bool& present) {
    present = false;
    const Value* found = nullptr;
    if (!obj.IsObject()) return nullptr;
    for (const auto& m : obj.GetObject())
        if (sv(m.name) == key) {
            found = &m.value;
            present = true;
        }
    return found;
}

// Go's json.Unmarshal into map[string]interface{}: an object or null.
inline Error parseMap(std::string_view text, rapidjson::Document& doc) {
    if (auto e = json::parseDocument(text, doc)) return e;
    if (!doc.IsObject() && !doc.IsNull())
        return Error(kDecodeFailure, std::string("json: cannot unmarshal ") + json::typeName(doc) +
                                         " into Go value of type map[string]interface {}");
    return {};
}

// A whole file; code 5 "open PATH: ..." or "read PATH: ...".
inline Error readFile(const std::string& path, std::string& out) {
    Error e = util::readFile(path, out);
    if (e) e.code = kIOFailure;
    return e;
}

// The result as Go marshals the Result struct (field order kept), or as a
// map (sorted).
inline Error resultJson(const Result& r, bool sorted, std::string& out) {
    std::string text;
    if (auto e = printResult(r, r.cniVersion, text)) return e;
    rapidjson::Document d;
    if (auto e = json::parseDocument(text, d)) return e;
    return gojson::marshal(d, out, sorted);
}

}  // namespace cni::libcni::detail
