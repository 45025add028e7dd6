#include "cni/gojson.h"

namespace cni::gojson {

namespace {

constexpr char kHex[] = "0123456789abcdef";

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
