#include "cni/json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <climits>

#include "cni/gojson.h"
#include "util/fs.h"

namespace cni::json {

namespace {

bool equalFold(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); i++) {
        unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
        if (x == y) continue;
        if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x + 32);
        if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y + 32);
        if (x != y) return false;
    }
    return true;
}

std::string_view name(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

Error typeError(std::string_view key, const char* want, const Value& got) {
    return Error(kInvalidNetConf, "invalid value for " + gojson::quote(key) + ": expected " + want + ", got " +
                                      typeName(got));
}

Error stringAt(const Value& v, std::string_view key, std::string& out) {
    if (!v.IsString()) return typeError(key, "a string", v);
    out.assign(v.GetString(), v.GetStringLength());
    return {};
}

Error stringList(const Value& v, std::string_view key, std::vector<std::string>& out) {
    if (!v.IsArray()) return typeError(key, "a list of strings", v);
    std::vector<std::string> r;
    r.reserve(v.Size());
    for (const auto& e : v.GetArray()) {
        if (e.IsNull()) {
            r.emplace_back();  // as Go: null leaves the element empty
            continue;
        }
        if (!e.IsString()) return typeError(key, "a list of strings", v);
        r.emplace_back(e.GetString(), e.GetStringLength());
    }
    out = std::move(r);
    return {};
}

Error intAt(const Value& v, std::string_view key, int64_t lo, int64_t hi, int64_t& out) {
    if (!v.IsNumber()) return typeError(key, "an integer", v);
    if (!v.IsInt64()) {
        if (v.IsUint64() || v.IsDouble()) {
            // Go: "cannot unmarshal number 1.5 into ... int" (fractions, exponents, overflow)
            return Error(kInvalidNetConf, "invalid value for " + gojson::quote(key) + ": expected an integer in range " +
                                              std::to_string(lo) + ".." + std::to_string(hi));
        }
        return typeError(key, "an integer", v);
    }
    int64_t n = v.GetInt64();
    if (n < lo || n > hi)
        return Error(kInvalidNetConf, "invalid value for " + gojson::quote(key) + ": " + std::to_string(n) +
                                          " is out of range " + std::to_string(lo) + ".." + std::to_string(hi));
    out = n;
    return {};
}

Error intOpt(const Value& obj, std::string_view key, std::optional<int>& out) {
    if (const Value* v = get(obj, key)) {
        int64_t n;
        if (auto e = intAt(*v, key, INT_MIN, INT_MAX, n)) return e;
        out = static_cast<int>(n);
    }
    return {};
}

}  // namespace

const char* typeName(const Value& v) {
    switch (v.GetType()) {
    case rapidjson::kNullType: return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return "bool";
    case rapidjson::kObjectType: return "object";
    case rapidjson::kArrayType: return "array";
    case rapidjson::kStringType: return "string";
    case rapidjson::kNumberType: return "number";
    }
    return "value";
}

const Value* get(const Value& obj, std::string_view key) {
    if (!obj.IsObject()) return nullptr;
    const Value* found = nullptr;
    for (const auto& m : obj.GetObject())
        if (!m.value.IsNull() && equalFold(name(m.name), key)) found = &m.value;
    return found;
}

const Value* getExact(const Value& obj, std::string_view key) {
    if (!obj.IsObject()) return nullptr;
    const Value* found = nullptr;
    for (const auto& m : obj.GetObject())
        if (!m.value.IsNull() && name(m.name) == key) found = &m.value;
    return found;
}

Error parseDocument(std::string_view text, rapidjson::Document& doc, int code) {
    doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
    if (!doc.HasParseError()) return {};
    size_t off = doc.GetErrorOffset();
    // Skip the whitespace the parser stopped at, to name the offending byte.
    while (off < text.size() && (text[off] == ' ' || text[off] == '\t' || text[off] == '\n' || text[off] == '\r'))
        off++;
    if (off >= text.size() || doc.GetParseError() == rapidjson::kParseErrorDocumentEmpty)
        return Error(code, "unexpected end of JSON input");
    std::string ch(1, text[off]);
    std::string q = ch == "'" ? "'\\''" : "'" + ch + "'";
    if (static_cast<unsigned char>(text[off]) < 0x20 || static_cast<unsigned char>(text[off]) >= 0x80)
        q = gojson::quote(ch);
    switch (doc.GetParseError()) {
    case rapidjson::kParseErrorValueInvalid:
        return Error(code, "invalid character " + q + " looking for beginning of value");
    case rapidjson::kParseErrorDocumentRootNotSingular:
        return Error(code, "invalid character " + q + " after top-level value");
    default:
        return Error(code, "invalid character " + q + " at offset " + std::to_string(off) + ": " +
                               rapidjson::GetParseError_En(doc.GetParseError()));
    }
}

Error getString(const Value& obj, std::string_view key, std::string& out) {
    if (const Value* v = get(obj, key)) return stringAt(*v, key, out);
    return {};
}

Error getBool(const Value& obj, std::string_view key, bool& out) {
    if (const Value* v = get(obj, key)) {
        if (!v->IsBool()) return typeError(key, "a boolean", *v);
        out = v->GetBool();
    }
    return {};
}

Error getInt(const Value& obj, std::string_view key, int64_t& out) {
    if (const Value* v = get(obj, key)) return intAt(*v, key, INT64_MIN, INT64_MAX, out);
    return {};
}

Error getInt(const Value& obj, std::string_view key, int& out) {
    if (const Value* v = get(obj, key)) {
        int64_t n;
        if (auto e = intAt(*v, key, INT_MIN, INT_MAX, n)) return e;
        out = static_cast<int>(n);
    }
    return {};
}

Error getUint32(const Value& obj, std::string_view key, uint32_t& out) {
    if (const Value* v = get(obj, key)) {
        int64_t n;
        if (auto e = intAt(*v, key, 0, UINT32_MAX, n)) return e;
        out = static_cast<uint32_t>(n);
    }
    return {};
}

Error getStringList(const Value& obj, std::string_view key, std::vector<std::string>& out) {
    if (const Value* v = get(obj, key)) return stringList(*v, key, out);
    return {};
}

Error getPath(const Value& obj, std::string_view key, std::string& out) {
    std::string p;
    if (auto e = getString(obj, key, p)) return e;
    if (p.empty()) return {};
    if (p[0] != '/' || util::hasDotDot(p) || p.find('\0') != std::string::npos || p.size() >= PATH_MAX)
        return Error(kInvalidNetConf, std::string(key) + " must be an absolute path without \"..\" components" +
                                          " (at most " + std::to_string(PATH_MAX - 1) + " bytes), got " +
                                          gojson::quote(p.size() > 256 ? p.substr(0, 256) + "..." : p));
    out = std::move(p);
    return {};
}

Error getIP(const Value& obj, std::string_view key, std::optional<util::IP>& out) {
    if (const Value* v = get(obj, key)) {
        std::string s;
        if (auto e = stringAt(*v, key, s)) return e;
        if (s.empty()) {  // Go's net.IP decodes "" as no address
            out.reset();
            return {};
        }
        auto ip = util::IP::parse(s);
        if (!ip) return Error(kInvalidNetConf, "invalid IP address " + gojson::quote(s) + " in " + gojson::quote(key));
        out = *ip;
    }
    return {};
}

Error getIPNet(const Value& obj, std::string_view key, std::optional<util::IPNet>& out) {
    if (const Value* v = get(obj, key)) {
        std::string s;
        if (auto e = stringAt(*v, key, s)) return e;
        auto n = util::IPNet::parse(s);
        if (!n) return Error(kInvalidNetConf, "invalid CIDR address " + gojson::quote(s) + " in " + gojson::quote(key));
        out = *n;
    }
    return {};
}

Error getDNS(const Value& obj, std::string_view key, DNS& out) {
    const Value* v = get(obj, key);
    if (!v) return {};
    if (!v->IsObject()) return typeError(key, "an object", *v);
    DNS d;
    if (auto e = getStringList(*v, "nameservers", d.nameservers)) return e;
    if (auto e = getString(*v, "domain", d.domain)) return e;
    if (auto e = getStringList(*v, "search", d.search)) return e;
    if (auto e = getStringList(*v, "options", d.options)) return e;
    out = std::move(d);
    return {};
}

Error getRoutes(const Value& obj, std::string_view key, std::vector<Route>& out) {
    const Value* v = get(obj, key);
    if (!v) return {};
    if (!v->IsArray()) return typeError(key, "a list of routes", *v);
    std::vector<Route> routes;
    routes.reserve(v->Size());
    for (const auto& rv : v->GetArray()) {
        if (rv.IsNull()) return Error(kInvalidNetConf, "invalid route in " + gojson::quote(key) + ": null");
        if (!rv.IsObject()) return typeError(key, "a list of route objects", *v);
        Route r;
        std::optional<util::IPNet> dst;
        if (auto e = getIPNet(rv, "dst", dst)) return e;
        if (!dst) return Error(kInvalidNetConf, "route in " + gojson::quote(key) + " has no \"dst\"");
        r.dst = *dst;
        if (auto e = getIP(rv, "gw", r.gw)) return e;
        if (auto e = getInt(rv, "mtu", r.mtu)) return e;
        if (auto e = getInt(rv, "advmss", r.advmss)) return e;
        if (auto e = getInt(rv, "priority", r.priority)) return e;
        if (auto e = intOpt(rv, "table", r.table)) return e;
        if (auto e = intOpt(rv, "scope", r.scope)) return e;
        routes.push_back(std::move(r));
    }
    out = std::move(routes);
    return {};
}

std::string stringify(const Value& v) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    v.Accept(w);
    return {buf.GetString(), buf.GetSize()};
}

}  // namespace cni::json
