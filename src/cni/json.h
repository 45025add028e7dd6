// Small typed readers over rapidjson used by every applet's config parser.
// Each reports a code-7 (invalid network config) error naming the key when
// the value has the wrong type; a missing key leaves `out` untouched.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/error.h"
#include "cni/result.h"
#include "util/ipaddr.h"

namespace cni::json {

using Value = rapidjson::Value;

// Member lookup; nullptr when absent or when `obj` is not an object.
// A JSON null counts as absent. Keys match as Go's encoding/json matches
// struct fields: exact or ASCII-case-insensitive, the last one wins
// ({"MTU":1} sets "mtu" upstream, so it does here).
const Value* get(const Value& obj, std::string_view key);
// Exact-key lookup (Go map semantics), last one wins, null = absent.
const Value* getExact(const Value& obj, std::string_view key);

// Parses `text` (iteratively: no recursion on deep nesting). On malformed
// input returns `code` with a message like Go's ("unexpected end of JSON
// input", "invalid character 'x' looking for beginning of value").
Error parseDocument(std::string_view text, rapidjson::Document& doc, int code = kDecodeFailure);

// "string", "number", "bool", "array", "object", "null" (Go's names in
// unmarshal type errors).
const char* typeName(const Value& v);

Error getString(const Value& obj, std::string_view key, std::string& out);
Error getBool(const Value& obj, std::string_view key, bool& out);
Error getInt(const Value& obj, std::string_view key, int64_t& out);
Error getInt(const Value& obj, std::string_view key, int& out);
Error getUint32(const Value& obj, std::string_view key, uint32_t& out);
Error getStringList(const Value& obj, std::string_view key, std::vector<std::string>& out);
// A path the administrator configures (dataDir, subnetFile, ...): absent or
// "" leaves `out` alone; else it must be absolute, without NUL bytes or ".."
// components, and shorter than PATH_MAX (code 7). Upstream also takes a
// relative path, which the plugin would resolve against the runtime's
// working directory.
Error getPath(const Value& obj, std::string_view key, std::string& out);
Error getIP(const Value& obj, std::string_view key, std::optional<util::IP>& out);
Error getIPNet(const Value& obj, std::string_view key, std::optional<util::IPNet>& out);
// {nameservers, domain, search, options}
Error getDNS(const Value& obj, std::string_view key, DNS& out);
// [{dst, gw, mtu, advmss, priority, table, scope}]
Error getRoutes(const Value& obj, std::string_view key, std::vector<Route>& out);

// parseResult (result.h) over an already parsed value (e.g. prevResult).
Error parseResult(const Value& v, std::string_view fallbackVersion, Result& out);

// Compact serialisation of a value.
std::string stringify(const Value& v);

}  // namespace cni::json
