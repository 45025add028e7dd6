#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>
#include <string>

#include "cni/error.h"
#include "util/fs.h"

using cni::Error;

TEST_CASE("Error is a value", "[error]") {
    Error ok;
    CHECK_FALSE(ok);
    CHECK(ok.ok());
    Error e(7, "bad", "why");
    CHECK(e);
    CHECK_FALSE(e.ok());
    CHECK(e.text() == "bad; why");
    CHECK(Error(4, "only").text() == "only");
}

TEST_CASE("Error JSON is upstream's indented form", "[error]") {
    CHECK(cni::errorJson(Error(4, "required env variables [CNI_NETNS] missing")) ==
          "{\n    \"code\": 4,\n    \"msg\": \"required env variables [CNI_NETNS] missing\"\n}");
    CHECK(cni::errorJson(Error(1, "incompatible CNI versions", "config is \"9.9.9\", plugin supports [\"0.1.0\"]")) ==
          "{\n    \"code\": 1,\n    \"msg\": \"incompatible CNI versions\",\n"
          "    \"details\": \"config is \\\"9.9.9\\\", plugin supports [\\\"0.1.0\\\"]\"\n}");
    CHECK(cni::errorJson(Error(999, "")) == "{\n    \"code\": 999,\n    \"msg\": \"\"\n}");
}

TEST_CASE("Error JSON escapes strings as Go does", "[error]") {
    struct Case {
        std::string in;
        const char* out;
    } cases[] = {
        {"a<b>&c", R"("a\u003cb\u003e\u0026c")"},
        {"tab\there\nnl\rcr", R"("tab\there\nnl\rcr")"},
        {"q\"b\\s", R"("q\"b\\s")"},
        {std::string("nul\0x", 5), R"("nul\u0000x")"},
        {"\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\""},
        {"\b\f", R"("\u0008\u000c")"},
        {"caf\xc3\xa9", "\"caf\xc3\xa9\""},
        {"bad\xff", R"("bad\ufffd")"},
        {"\xe2\x80\xa8\xe2\x80\xa9", R"("\u2028\u2029")"},
        {"\xed\xa0\x80", R"("\ufffd\ufffd\ufffd")"},  // UTF-8 encoded surrogate: invalid
        {"\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""},
    };
    for (const auto& c : cases) {
        INFO(c.in);
        std::string j = cni::errorJson(Error(5, c.in));
        CHECK(j == std::string("{\n    \"code\": 5,\n    \"msg\": ") + c.out + "\n}");
    }
}

TEST_CASE("errno texts are glibc's and Go's words, whichever C library", "[error]") {
    CHECK(std::string(util::errnoDesc(ENOENT)) == "No such file or directory");
    CHECK(std::string(util::errnoDesc(EBUSY)) == "Device or resource busy");
    CHECK(std::string(util::errnoDesc(EADDRINUSE)) == "Address already in use");
    CHECK(std::string(util::errnoDesc(0)) == "Success");
    CHECK(std::string(util::errnoDesc(41)) == "Unknown error 41");
    CHECK(std::string(util::errnoDesc(-3)) == "Unknown error -3");
    CHECK(std::string(util::errnoDesc(4000)) == "Unknown error 4000");
    CHECK(util::errnoText(EEXIST) == "file exists");
#ifdef __GLIBC__
    // the table is glibc's own: the same text for every errno it names
    for (int e = 1; e < 200; e++) {
        const char* g = strerrordesc_np(e);
        INFO("errno " << e);
        if (g) CHECK(std::string(util::errnoDesc(e)) == g);
        else CHECK(std::string(util::errnoDesc(e)) == "Unknown error " + std::to_string(e));
    }
#endif
}
