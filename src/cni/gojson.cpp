#include "cni/gojson.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

namespace cni::gojson {

namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string_view sv(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

}  // namespace

std::pair<int32_t, size_t> decodeRune(std::string_view s, size_t i) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = b(i);
    if (c < 0x80) return {c, 1};
    size_t n;
    int32_t r;
    int32_t min;
    if (c >= 0xc2 && c <= 0xdf) { n = 2; r = c & 0x1f; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { n = 3; r = c & 0x0f; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 4; r = c & 0x07; min = 0x10000; }
    else return {-1, 1};
    if (i + n > s.size()) return {-1, 1};
    for (size_t k = 1; k < n; k++) {
        unsigned char cc = b(i + k);
        if ((cc & 0xc0) != 0x80) return {-1, 1};
        r = (r << 6) | (cc & 0x3f);
    }
    if (r < min || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff)) return {-1, 1};
    return {r, n};
}

namespace {

void appendU4(std::string& out, unsigned v) {
    out += "\\u";
    for (int sh = 12; sh >= 0; sh -= 4) out += kHex[(v >> sh) & 0xf];
}

// Approximation of Go's unicode.IsPrint for non-ASCII runes.
bool isPrint(int32_t r) {
    if (r < 0x20 || r == 0x7f) return false;
    if (r < 0x7f) return true;
    if (r >= 0x80 && r <= 0xa0) return false;
    if (r == 0xad || r == 0x2028 || r == 0x2029 || r == 0xfeff) return false;
    if (r >= 0x2000 && r <= 0x200f) return false;
    if (r >= 0xe000 && r <= 0xf8ff) return false;  // private use
    if ((r & 0xfffe) == 0xfffe) return false;      // noncharacters
    return true;
}

}  // namespace

void appendString(std::string& out, std::string_view s) {
    out += '"';
    size_t start = 0;
    for (size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
                i++;
                continue;
            }
            out.append(s.substr(start, i - start));
            switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default: appendU4(out, c); break;
            }
            i++;
            start = i;
            continue;
        }
        auto [r, n] = decodeRune(s, i);
        if (r == -1 || r == 0x2028 || r == 0x2029) {
            out.append(s.substr(start, i - start));
            appendU4(out, r == -1 ? 0xfffd : static_cast<unsigned>(r));
            i += n;
            start = i;
            continue;
        }
        i += n;
    }
    out.append(s.substr(start));
    out += '"';
}

void appendFloat(std::string& out, double f) {
    char buf[64];
    int len = 0;
    for (int prec = 0; prec < 17; prec++) {  // the fewest digits that read back as f
        len = std::snprintf(buf, sizeof buf, "%.*e", prec, f);
        if (std::strtod(buf, nullptr) == f) break;
    }
    std::string_view sci(buf, static_cast<size_t>(len));  // [-]d[.ddd]e(+|-)dd
    double a = std::fabs(f);
    if (a != 0 && (a < 1e-6 || a >= 1e21)) {
        std::string s(sci);
        size_t n = s.size();
        // Go writes e-07 as e-7.
        if (n >= 4 && s[n - 4] == 'e' && s[n - 3] == '-' && s[n - 2] == '0') s.erase(n - 2, 1);
        out += s;
        return;
    }
    if (sci[0] == '-') {
        out += '-';
        sci.remove_prefix(1);
    }
    size_t e = sci.find('e');
    std::string digits;
    for (char c : sci.substr(0, e))
        if (c != '.') digits += c;
    int exp = static_cast<int>(std::strtol(std::string(sci.substr(e + 1)).c_str(), nullptr, 10));
    if (digits == "0") {
        out += '0';
    } else if (exp < 0) {
        out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    } else {
        size_t ip = static_cast<size_t>(exp) + 1;
        if (digits.size() <= ip) {
            out += digits + std::string(ip - digits.size(), '0');
        } else {
            out += digits.substr(0, ip) + "." + digits.substr(ip);
        }
    }
}

// Without recursion: a document nested kMaxDepth levels deep must not
// need kMaxDepth stack frames (ASan's frames would overflow 8 MiB).
Error marshal(const rapidjson::Value& v, std::string& out, bool sortKeys) {
    out.clear();
    struct Level {
        std::vector<std::pair<std::string_view, const rapidjson::Value*>> items;
        size_t next = 0;
        bool object = false;
    };
    std::vector<Level> open;  // the containers around the value being written
    const rapidjson::Value* cur = &v;
    for (;;) {
        if (cur) {
            if (open.size() > static_cast<size_t>(kMaxDepth)) return Error(kDecodeFailure, "exceeded max depth");
            switch (cur->GetType()) {
            case rapidjson::kNullType: out += "null"; break;
            case rapidjson::kFalseType: out += "false"; break;
            case rapidjson::kTrueType: out += "true"; break;
            case rapidjson::kStringType: appendString(out, sv(*cur)); break;
            case rapidjson::kNumberType: appendFloat(out, cur->GetDouble()); break;
            case rapidjson::kArrayType: {
                Level l;
                for (const auto& e : cur->GetArray()) l.items.emplace_back(std::string_view{}, &e);
                out += '[';
                open.push_back(std::move(l));
                break;
            }
            case rapidjson::kObjectType: {
                Level l;
                l.object = true;
                if (sortKeys) {
                    // sorted by bytes; a repeated key: the last one wins
                    std::map<std::string_view, const rapidjson::Value*> m;
                    for (const auto& kv : cur->GetObject()) m[sv(kv.name)] = &kv.value;
                    l.items.assign(m.begin(), m.end());
                } else {
                    for (const auto& kv : cur->GetObject()) l.items.emplace_back(sv(kv.name), &kv.value);
                }
                out += '{';
                open.push_back(std::move(l));
                break;
            }
            }
            cur = nullptr;
        }
        if (open.empty()) return {};
        Level& l = open.back();
        if (l.next == l.items.size()) {
            out += l.object ? '}' : ']';
            open.pop_back();
            continue;
        }
        if (l.next > 0) out += ',';
        const auto& [key, val] = l.items[l.next++];
        if (l.object) {
            appendString(out, key);
            out += ':';
        }
        cur = val;
    }
}

std::string base64Encode(std::string_view in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(in[k])); };
    for (; i + 3 <= in.size(); i += 3) {
        uint32_t v = b(i) << 16 | b(i + 1) << 8 | b(i + 2);
        for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 63];
    }
    if (size_t rest = in.size() - i) {
        uint32_t v = b(i) << 16 | (rest == 2 ? b(i + 1) << 8 : 0);
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += rest == 2 ? kB64[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

bool base64Decode(std::string_view in, std::string& out, size_t& badAt) {
    out.clear();
    auto bad = [&](size_t at) {
        badAt = at;
        return false;
    };
    auto newline = [](char c) { return c == '\r' || c == '\n'; };
    uint32_t acc = 0;
    int n = 0;  // sextets of the current quantum
    for (size_t i = 0; i < in.size(); i++) {
        char c = in[i];
        if (newline(c)) continue;
        if (c != '=') {
            const char* p = c ? std::strchr(kB64, c) : nullptr;
            if (!p) return bad(i);
            acc = acc << 6 | static_cast<uint32_t>(p - kB64);
            if (++n == 4) {
                out += static_cast<char>(acc >> 16);
                out += static_cast<char>((acc >> 8) & 0xff);
                out += static_cast<char>(acc & 0xff);
                acc = 0;
                n = 0;
            }
            continue;
        }
        // Padding ends the data: "xx==" or "xxx=", then only newlines.
        if (n < 2) return bad(i);
        size_t j = i + 1;
        if (n == 2) {
            while (j < in.size() && newline(in[j])) j++;
            if (j == in.size()) return bad(in.size());
            if (in[j] != '=') return bad(j - 1);
            j++;
        }
        while (j < in.size() && newline(in[j])) j++;
        if (j < in.size()) return bad(j);
        acc <<= 6 * (4 - n);
        out += static_cast<char>(acc >> 16);
        if (n == 3) out += static_cast<char>((acc >> 8) & 0xff);
        return true;
    }
    if (n != 0) return bad(in.size() - static_cast<size_t>(n));  // an unpadded last quantum
    return true;
}

std::string quote(std::string_view s) {
    std::string out = "\"";
    for (size_t i = 0; i < s.size();) {
        auto [r, n] = decodeRune(s, i);
        if (r == -1) {
            unsigned char c = static_cast<unsigned char>(s[i]);
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
            i++;
            continue;
        }
        if (r == '"' || r == '\\') {
            out += '\\';
            out += static_cast<char>(r);
        } else if (isPrint(r)) {
            out.append(s.substr(i, n));
        } else {
            switch (r) {
            case '\a': out += "\\a"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\v': out += "\\v"; break;
            default:
                if (r < 0x20 || r == 0x7f) {
                    out += "\\x";
                    out += kHex[(r >> 4) & 0xf];
                    out += kHex[r & 0xf];
                } else if (r < 0x10000) {
                    appendU4(out, static_cast<unsigned>(r));
                } else {
                    out += "\\U";
                    for (int sh = 28; sh >= 0; sh -= 4) out += kHex[(r >> sh) & 0xf];
                }
            }
        }
        i += n;
    }
    out += '"';
    return out;
}

std::string quoteList(const std::vector<std::string>& v) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); i++) {
        if (i) out += ' ';
        out += quote(v[i]);
    }
    out += ']';
    return out;
}

void Writer::newline() {
    out_ += '\n';
    out_.append(static_cast<size_t>(depth_ * indent_), ' ');
}

void Writer::beforeValue() {
    if (afterKey_) {
        afterKey_ = false;
        return;
    }
    if (empty_.empty()) return;  // top level
    if (!empty_.back()) out_ += ',';
    empty_.back() = false;
    if (indent_) newline();
}

Writer& Writer::beginObject() {
    beforeValue();
    out_ += '{';
    depth_++;
    empty_.push_back(true);
    return *this;
}

Writer& Writer::close(char c) {
    bool wasEmpty = empty_.back();
    empty_.pop_back();
    depth_--;
    if (!wasEmpty && indent_) newline();
    out_ += c;
    return *this;
}

Writer& Writer::endObject() { return close('}'); }

Writer& Writer::beginArray() {
    beforeValue();
    out_ += '[';
    depth_++;
    empty_.push_back(true);
    return *this;
}

Writer& Writer::endArray() { return close(']'); }

Writer& Writer::key(std::string_view k) {
    beforeValue();
    appendString(out_, k);
    out_ += indent_ ? ": " : ":";
    afterKey_ = true;
    return *this;
}

Writer& Writer::string(std::string_view s) {
    beforeValue();
    appendString(out_, s);
    return *this;
}

Writer& Writer::number(int64_t n) {
    beforeValue();
    out_ += std::to_string(n);
    return *this;
}

Writer& Writer::boolean(bool b) {
    beforeValue();
    out_ += b ? "true" : "false";
    return *this;
}

Writer& Writer::null() {
    beforeValue();
    out_ += "null";
    return *this;
}

Writer& Writer::stringList(std::string_view k, const std::vector<std::string>& v) {
    key(k).beginArray();
    for (const auto& s : v) string(s);
    return endArray();
}

}  // namespace cni::gojson
