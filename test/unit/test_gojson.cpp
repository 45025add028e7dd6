// Go-compatible JSON: every expected text here is what Go's encoding/json,
// strconv and encoding/base64 produce for the same input.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "cni/gojson.h"
#include "helpers.h"

using namespace cni;

namespace {

std::string fmtFloat(double f) {
    std::string out;
    gojson::appendFloat(out, f);
    return out;
}

std::string marshal(std::string_view text, bool sorted = true) {
    auto d = testutil::parse(text);
    std::string out;
    Error e = gojson::marshal(d, out, sorted);
    INFO(e.text());
    REQUIRE_FALSE(e);
    return out;
}

std::string jsonString(std::string_view s) {
    std::string out;
    gojson::appendString(out, s);
    return out;
}

std::string decode(std::string_view in, size_t* badAt = nullptr) {
    std::string out;
    size_t bad = 12345;
    bool ok = gojson::base64Decode(in, out, bad);
    if (badAt) {
        REQUIRE_FALSE(ok);
        *badAt = bad;
        return {};
    }
    INFO(in);
    REQUIRE(ok);
    return out;
}

size_t badAt(std::string_view in) {
    size_t at = 0;
    decode(in, &at);
    return at;
}

}  // namespace

TEST_CASE("appendFloat formats a float64 as encoding/json does", "[gojson]") {
    // 'f' format with the fewest digits that read back
    CHECK(fmtFloat(0) == "0");
    CHECK(fmtFloat(-0.0) == "-0");
    CHECK(fmtFloat(1) == "1");
    CHECK(fmtFloat(1500) == "1500");
    CHECK(fmtFloat(1.5) == "1.5");
    CHECK(fmtFloat(-1234.5678) == "-1234.5678");
    CHECK(fmtFloat(0.1) == "0.1");
    CHECK(fmtFloat(0.1 + 0.2) == "0.30000000000000004");
    CHECK(fmtFloat(1.0 / 3) == "0.3333333333333333");
    CHECK(fmtFloat(9007199254740992.0) == "9007199254740992");  // 2^53
    CHECK(fmtFloat(12345678901234567890.0) == "12345678901234567000");
    CHECK(fmtFloat(1e20) == "100000000000000000000");
    CHECK(fmtFloat(999999999999999900000.0) == "999999999999999900000");  // just below 1e21
    CHECK(fmtFloat(0.000001) == "0.000001");                              // 1e-6 is still 'f'
    CHECK(fmtFloat(0.000123) == "0.000123");
    // 'e' below 1e-6 and from 1e21 on, e-07 written e-7
    CHECK(fmtFloat(1e21) == "1e+21");
    CHECK(fmtFloat(-1e21) == "-1e+21");
    CHECK(fmtFloat(1.5e21) == "1.5e+21");
    CHECK(fmtFloat(1e100) == "1e+100");
    CHECK(fmtFloat(9.99e-7) == "9.99e-7");
    CHECK(fmtFloat(1e-7) == "1e-7");
    CHECK(fmtFloat(-1.5e-7) == "-1.5e-7");
    CHECK(fmtFloat(1e-10) == "1e-10");
    CHECK(fmtFloat(1.2345e-300) == "1.2345e-300");
    CHECK(fmtFloat(std::numeric_limits<double>::max()) == "1.7976931348623157e+308");
    CHECK(fmtFloat(std::numeric_limits<double>::denorm_min()) == "5e-324");
    // appends
    std::string s = "x=";
    gojson::appendFloat(s, 2.5);
    CHECK(s == "x=2.5");
}

TEST_CASE("appendString escapes as encoding/json: HTML characters, U+2028/9, invalid UTF-8", "[gojson]") {
    CHECK(jsonString("") == R"("")");
    CHECK(jsonString("plain text") == R"("plain text")");
    CHECK(jsonString("<a href=\"x\">&</a>") == R"("\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e")");
    CHECK(jsonString("back\\slash") == R"("back\\slash")");
    CHECK(jsonString("\n\r\t") == R"("\n\r\t")");
    CHECK(jsonString(std::string("\x01\x1f", 2)) == R"("\u0001\u001f")");
    CHECK(jsonString(std::string("a\0b", 3)) == R"("a\u0000b")");
    CHECK(jsonString("\x7f") == "\"\x7f\"");  // DEL passes as is
    CHECK(jsonString("\u2028\u2029") == R"("\u2028\u2029")");
    CHECK(jsonString("é€😀") == "\"é€😀\"");  // valid UTF-8 passes as is
    CHECK(jsonString("a\xff" "b") == R"("a\ufffdb")");
    CHECK(jsonString("\xc3") == R"("\ufffd")");            // truncated sequence
    CHECK(jsonString("\xed\xa0\x80") == R"("\ufffd\ufffd\ufffd")");  // a surrogate: each byte replaced
    CHECK(jsonString("\xc0\xaf") == R"("\ufffd\ufffd")");  // overlong
}

TEST_CASE("quote is Go's %q", "[gojson]") {
    CHECK(gojson::quote("") == R"("")");
    CHECK(gojson::quote("eth0") == R"("eth0")");
    CHECK(gojson::quote("a\"b\\c") == R"("a\"b\\c")");
    CHECK(gojson::quote("<&>") == R"("<&>")");  // no HTML escaping in %q
    CHECK(gojson::quote("\a\b\f\n\r\t\v") == R"("\a\b\f\n\r\t\v")");
    CHECK(gojson::quote(std::string("\x00\x1b\x7f", 3)) == R"("\x00\x1b\x7f")");
    CHECK(gojson::quote("\xff") == R"("\xff")");
    CHECK(gojson::quote("é😀") == "\"é😀\"");
    CHECK(gojson::quote("\u00a0\u2028\ufeff") == R"("\u00a0\u2028\ufeff")");
    CHECK(gojson::quote("\xee\x80\x80") == R"("\ue000")");  // private use
    CHECK(gojson::quoteList({}) == "[]");
    CHECK(gojson::quoteList({"a", "b c"}) == R"(["a" "b c"])");
}

TEST_CASE("decodeRune is utf8.DecodeRuneInString", "[gojson]") {
    using P = std::pair<int32_t, size_t>;
    CHECK(gojson::decodeRune("a", 0) == P{'a', 1});
    CHECK(gojson::decodeRune("xé", 1) == P{0xe9, 2});
    CHECK(gojson::decodeRune("€", 0) == P{0x20ac, 3});
    CHECK(gojson::decodeRune("😀", 0) == P{0x1f600, 4});
    CHECK(gojson::decodeRune("\xe2\x82", 0) == P{-1, 1});
    CHECK(gojson::decodeRune("\xf4\x90\x80\x80", 0) == P{-1, 1});  // above U+10FFFF
}

TEST_CASE("marshal is json.Marshal of an interface{}: sorted keys, float64 numbers", "[gojson]") {
    CHECK(marshal(R"({"b":1,"a":{"y":true,"x":null},"a":[1,2]})") == R"({"a":[1,2],"b":1})");
    CHECK(marshal(R"({"b":1,"a":2})", false) == R"({"b":1,"a":2})");
    CHECK(marshal(R"([1500, 1.50, 1e21, 1e20, 1e-7, 0.000001, -0.0, 12345678901234567890, 1E3])") ==
          "[1500,1.5,1e+21,100000000000000000000,1e-7,0.000001,-0,12345678901234567000,1000]");
    CHECK(marshal(R"("<a&b>\u2028é")") == R"("\u003ca\u0026b\u003e\u2028é")");
    CHECK(marshal(R"({ "z" : [ {}, [], "" , false ], "B": null, "a": {"<": 1} })") ==
          R"({"B":null,"a":{"\u003c":1},"z":[{},[],"",false]})");
    CHECK(marshal("null") == "null");
    // keys sort by bytes, as Go's sort of map keys
    CHECK(marshal(R"({"é":1,"z":2,"Z":3,"_":4})") == R"({"Z":3,"_":4,"z":2,"é":1})");
}

TEST_CASE("marshal stops at Go's nesting limit", "[gojson]") {
    // kMaxDepth levels below the top are fine, one more is not.
    auto nested = [](int levels) {
        std::string s(static_cast<size_t>(levels) + 1, '[');
        s += std::string(static_cast<size_t>(levels) + 1, ']');
        return s;
    };
    auto d = testutil::parse(nested(gojson::kMaxDepth));
    std::string out = "stale";
    REQUIRE_FALSE(gojson::marshal(d, out));
    CHECK(out == nested(gojson::kMaxDepth));
    d = testutil::parse(nested(gojson::kMaxDepth + 1));
    Error e = gojson::marshal(d, out);
    CHECK(e.code == kDecodeFailure);
    CHECK(e.msg == "exceeded max depth");
    // an object member counts as a level as well
    std::string obj;
    for (int i = 0; i <= gojson::kMaxDepth; i++) obj += R"({"k":)";
    obj += "1";
    obj += std::string(static_cast<size_t>(gojson::kMaxDepth) + 1, '}');
    d = testutil::parse(obj);
    CHECK(gojson::marshal(d, out).msg == "exceeded max depth");
}

TEST_CASE("base64 is StdEncoding: standard alphabet, '=' padding", "[gojson]") {
    CHECK(gojson::base64Encode("") == "");
    CHECK(gojson::base64Encode("f") == "Zg==");
    CHECK(gojson::base64Encode("fo") == "Zm8=");
    CHECK(gojson::base64Encode("foo") == "Zm9v");
    CHECK(gojson::base64Encode("foob") == "Zm9vYg==");
    CHECK(gojson::base64Encode("fooba") == "Zm9vYmE=");
    CHECK(gojson::base64Encode("foobar") == "Zm9vYmFy");
    CHECK(gojson::base64Encode(std::string("\xfb\xff\xbf", 3)) == "+/+/");  // '+' and '/', not URL's '-' '_'
    CHECK(gojson::base64Encode(R"({"cniVersion":"1.0.0"})") == "eyJjbmlWZXJzaW9uIjoiMS4wLjAifQ==");

    for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xfb\xff\xbf\x00\x01"})
        CHECK(decode(gojson::base64Encode(s)) == s);
    CHECK(decode("Zm9v\r\nYmE=\n") == "fooba");  // \r and \n are skipped
    CHECK(decode("Zg=\n=") == "f");
}

TEST_CASE("base64Decode reports the byte Go's CorruptInputError names", "[gojson]") {
    CHECK(badAt("Zm9v!mFy") == 4);   // not in the alphabet
    CHECK(badAt("Zm9v-_==") == 4);   // URL alphabet
    CHECK(badAt("=Zm9") == 0);       // padding too early
    CHECK(badAt("Z===") == 1);
    CHECK(badAt("Zm9vYg") == 4);     // unpadded last quantum: where it starts
    CHECK(badAt("Zm9vY") == 4);
    CHECK(badAt("Zg=") == 3);        // "==" expected, input ends
    CHECK(badAt("Zg=A") == 2);       // "==" expected, something else follows
    CHECK(badAt("Zg==Zg==") == 4);   // data after the padding
    CHECK(badAt("Zm8=\nx") == 5);
}

TEST_CASE("Writer is json.Marshal and json.MarshalIndent", "[gojson]") {
    gojson::Writer w;
    w.beginObject().member("name", "n<1>").member("mtu", int64_t{1500});
    w.key("empty").beginObject().endObject();
    w.stringList("list", {"a", "b"});
    w.key("none").beginArray().endArray();
    w.key("ok").boolean(true).key("nil").null();
    w.endObject();
    CHECK(w.str() ==
          "{\n"
          "    \"name\": \"n\\u003c1\\u003e\",\n"
          "    \"mtu\": 1500,\n"
          "    \"empty\": {},\n"
          "    \"list\": [\n"
          "        \"a\",\n"
          "        \"b\"\n"
          "    ],\n"
          "    \"none\": [],\n"
          "    \"ok\": true,\n"
          "    \"nil\": null\n"
          "}");
    gojson::Writer c(0);
    c.beginArray().number(-1).string("x").beginObject().member("k", "v").endObject().endArray();
    CHECK(c.take() == R"([-1,"x",{"k":"v"}])");
}
