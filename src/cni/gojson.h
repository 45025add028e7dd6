// JSON output byte-compatible with Go's encoding/json, which is what
// runtimes and the reference plugins print: json.Marshal (compact) and
// json.MarshalIndent(v, "", "    "), with Go's string escaping (HTML
// characters as \u003c \u003e \u0026, U+2028/U+2029 escaped, invalid UTF-8
// replaced by U+FFFD). Plus Go's %q quoting for error messages.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// Go's strconv.Quote / fmt "%q" for a string.
std::string quote(std::string_view s);
// Go's fmt "%q" for a []string: ["a" "b"].
std::string quoteList(const std::vector<std::string>& v);

}  // namespace cni::gojson
