// JSON output byte-compatible with Go's encoding/json, which is what
// runtimes and the reference plugins print: json.Marshal (compact) and
// json.MarshalIndent(v, "", "    "), with Go's string escaping (HTML
// characters as \u003c \u003e \u0026, U+2028/U+2029 escaped, invalid UTF-8
// replaced by U+FFFD), Go's float64 formatting, and json.Marshal of a value
// decoded into interface{}. Plus Go's %q quoting for error messages and
// base64.StdEncoding ([]byte fields).
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cni/error.h"

namespace cni::gojson {

class Writer {
public:
    // indent 0: compact (json.Marshal); otherwise MarshalIndent with that many spaces.
    explicit Writer(int indent = 4) : indent_(indent) {}

    Writer& beginObject();
    Writer& endObject();
    Writer& beginArray();
    Writer& endArray();
    // Inside an object: the next value's key.
    Writer& key(std::string_view k);
    Writer& string(std::string_view s);
    Writer& number(int64_t n);
    Writer& boolean(bool b);
    Writer& null();
    // Convenience: key + value.
    Writer& member(std::string_view k, std::string_view v) { return key(k).string(v); }
    Writer& member(std::string_view k, int64_t n) { return key(k).number(n); }
    Writer& stringList(std::string_view k, const std::vector<std::string>& v);

    const std::string& str() const { return out_; }
    std::string take() { return std::move(out_); }

private:
    void beforeValue();
    Writer& close(char c);
    void newline();
    std::string out_;
    int indent_;
    int depth_ = 0;
    std::vector<bool> empty_;  // per open container: nothing written yet
    bool afterKey_ = false;
};

// Go's utf8.DecodeRuneInString at s[i]: {rune, length}; {-1, 1} for an
// invalid sequence (Go's RuneError).
std::pair<int32_t, size_t> decodeRune(std::string_view s, size_t i);

// Appends s as a Go JSON string literal (with quotes).
void appendString(std::string& out, std::string_view s);

// Appends a finite float64 as encoding/json writes it: strconv.FormatFloat
// with the fewest digits that read back as f, 'f' format ("1500", "1.5",
// "-0", "100000000000000000000") unless |f| < 1e-6 or >= 1e21, then 'e'
// without a leading zero in the exponent ("1e-7", "1e+21", "5e-324").
void appendFloat(std::string& out, double f);

// The nesting limit of Go's JSON decoder (encoding/json's maxNestingDepth),
// which marshal keeps to as well.
inline constexpr int kMaxDepth = 10000;

// Go's json.Marshal of a value decoded into interface{}: compact, numbers
// as float64 (appendFloat), Go's string escaping, and object keys sorted (a
// repeated key: the last one wins) unless !sortKeys. A value more than
// kMaxDepth levels below the top one fails: code 6 "exceeded max depth".
Error marshal(const rapidjson::Value& v, std::string& out, bool sortKeys = true);

// base64.StdEncoding.EncodeToString: the standard alphabet, '=' padding.
std::string base64Encode(std::string_view in);
// base64.StdEncoding.DecodeString: padding required, \r and \n skipped.
// False for bad input, with `badAt` the offset Go reports ("illegal base64
// data at input byte N").
bool base64Decode(std::string_view in, std::string& out, size_t& badAt);

// Go's strconv.Quote / fmt "%q" for a string.
std::string quote(std::string_view s);
// Go's fmt "%q" for a []string: ["a" "b"].
std::string quoteList(const std::vector<std::string>& v);

}  // namespace cni::gojson
