#include <catch2/catch.hpp>

#include "cni/args.h"

using namespace cni;

TEST_CASE("CNI_ARGS parsing follows upstream LoadArgs", "[args]") {
    struct Case {
        const char* in;
        const char* err;  // nullptr: success
    } cases[] = {
        {"", nullptr},
        {"IP=10.0.0.1", nullptr},
        {"IP=10.0.0.1;MAC=aa:bb:cc:dd:ee:ff", nullptr},
        {"IP=", nullptr},
        {"IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=pod;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u", nullptr},
        {"K8S_POD_NAME=pod;IgnoreUnknown=true", nullptr},  // applied after all pairs
        {"IgnoreUnknown=TRUE;X=1", nullptr},
        {"IgnoreUnknown=True;X=1", nullptr},
        {"IgnoreUnknown=0", nullptr},
        {"IgnoreUnknown=false", nullptr},
        {"X=1", "ARGS: unknown args [\"X=1\"]"},
        {"X=1;IP=1;Y=2", "ARGS: unknown args [\"X=1\" \"Y=2\"]"},
        {"IgnoreUnknown=0;X=1", "ARGS: unknown args [\"X=1\"]"},
        {"IgnoreUnknown=1;IgnoreUnknown=0;X=1", "ARGS: unknown args [\"X=1\"]"},
        {"ip=1", "ARGS: unknown args [\"ip=1\"]"},  // keys are case-sensitive
        {"ignoreunknown=1;X=1", "ARGS: unknown args [\"ignoreunknown=1\" \"X=1\"]"},
        {"=v", "ARGS: unknown args [\"=v\"]"},
        {"IP", "ARGS: invalid pair \"IP\""},
        {"IP=1=2", "ARGS: invalid pair \"IP=1=2\""},
        {"IP=1;", "ARGS: invalid pair \"\""},
        {";IP=1", "ARGS: invalid pair \"\""},
        {"IgnoreUnknown=1;X", "ARGS: invalid pair \"X\""},
        {"X=1;Y", "ARGS: invalid pair \"Y\""},  // a bad pair wins over unknown keys
        {"IgnoreUnknown=yes", "ARGS: error parsing value of pair \"IgnoreUnknown=yes\": boolean unmarshal error: invalid input yes"},
        {"IgnoreUnknown=YES", "ARGS: error parsing value of pair \"IgnoreUnknown=YES\": boolean unmarshal error: invalid input yes"},
        {"X=\"q\"", "ARGS: unknown args [\"X=\\\"q\\\"\"]"},
    };
    for (const auto& c : cases) {
        INFO(c.in);
        CniArgs a;
        Error e = parseCniArgs(c.in, {"IP", "MAC"}, a);
        if (c.err) {
            CHECK(e.code == kInvalidEnv);
            CHECK(e.msg == c.err);
        } else {
            CHECK_FALSE(e);
        }
    }
}

TEST_CASE("CNI_ARGS values", "[args]") {
    CniArgs a;
    REQUIRE_FALSE(parseCniArgs("IgnoreUnknown=1;IP=10.0.0.1,10.0.0.2;X=y;IP=10.0.0.9;MAC=", {"IP", "MAC"}, a));
    REQUIRE(a.get("IP"));
    CHECK(*a.get("IP") == "10.0.0.9");  // the last one wins
    REQUIRE(a.get("MAC"));
    CHECK(a.get("MAC")->empty());
    REQUIRE(a.get("X"));  // ignored unknown pairs are still listed
    CHECK(*a.get("X") == "y");
    CHECK(a.get("GATEWAY") == nullptr);
    CHECK(a.pairs.size() == 5);
    CHECK(a.pairs[0] == std::make_pair(std::string("IgnoreUnknown"), std::string("1")));

    CniArgs empty;
    REQUIRE_FALSE(parseCniArgs("", {}, empty));
    CHECK(empty.pairs.empty());

    CniArgs untouched;
    untouched.pairs = {{"A", "B"}};
    REQUIRE(parseCniArgs("Z=1", {}, untouched));
    CHECK(untouched.pairs.size() == 1);  // failure leaves `out` alone
}
