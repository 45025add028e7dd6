// bandwidth's configuration parser, the ifb's name and alias, and the tbf
// numbers (no kernel, no root). Expected names and numbers were computed
// with Python's hashlib and float arithmetic (IEEE doubles, as Go's).
#include <catch2/catch.hpp>

#include <string>

#include "applets/bandwidth.h"
#include "helpers.h"
#include "netlink/tc.h"

using namespace applets::bandwidth;
using cni::Error;

namespace {

// The parse of `body` (the keys after cniVersion/name/type).
Error parse(const std::string& body, Entry& e) {
    std::string conf = R"({"cniVersion":"1.0.0","name":"n","type":"bandwidth")";
    if (!body.empty()) conf += "," + body;
    conf += "}";
    e = Entry{};
    return parseConf(testutil::cmdArgs(conf), e);
}

Entry ok(const std::string& body) {
    Entry e;
    Error err = parse(body, e);
    INFO(body << ": " << err.text());
    REQUIRE_FALSE(err);
    return e;
}

// `body` is refused with code 7 and a message containing `words`.
void refused(const std::string& body, const std::string& words) {
    Entry e;
    Error err = parse(body, e);
    INFO(body << ": " << err.text());
    CHECK(err.code == cni::kInvalidNetConf);
    CHECK(err.msg.find(words) != std::string::npos);
}

bool same(const Entry& a, uint64_t ir, uint64_t ib, uint64_t er, uint64_t eb) {
    return a.ingressRate == ir && a.ingressBurst == ib && a.egressRate == er && a.egressBurst == eb;
}

}  // namespace

TEST_CASE("bandwidth: no keys, zero", "[bandwidth]") {
    Entry e = ok("");
    CHECK(e.zero());
    CHECK_FALSE(e.ingress());
    CHECK_FALSE(e.egress());
    CHECK(ok(R"("ingressRate":0,"ingressBurst":0,"egressRate":0,"egressBurst":0)").zero());
    CHECK(ok(R"("ingressRate":null)").zero());
    CHECK(ok(R"("runtimeConfig":{})").zero());
    CHECK(ok(R"("runtimeConfig":{"bandwidth":null})").zero());
    CHECK(ok(R"("runtimeConfig":{"bandwidth":{}})").zero());
}

TEST_CASE("bandwidth: every key, top level and runtimeConfig", "[bandwidth]") {
    Entry e = ok(R"("ingressRate":1000,"ingressBurst":2000,"egressRate":3000,"egressBurst":4000)");
    CHECK(same(e, 1000, 2000, 3000, 4000));
    CHECK(e.ingress());
    CHECK(e.egress());
    e = ok(R"("runtimeConfig":{"bandwidth":{"ingressRate":1,"ingressBurst":2,"egressRate":3,"egressBurst":4}})");
    CHECK(same(e, 1, 2, 3, 4));
    // keys match as Go's encoding/json matches fields: case-insensitive, last wins
    CHECK(same(ok(R"("INGRESSRATE":5,"ingressburst":6,"ingressRate":7)"), 7, 6, 0, 0));
    CHECK(same(ok(R"("RuntimeConfig":{"Bandwidth":{"EgressRate":8,"egressBURST":9}})"), 0, 0, 8, 9));
    // the largest values
    CHECK(same(ok(R"("egressRate":18446744073709551615,"egressBurst":34359738352)"), 0, 0,
               18446744073709551615ULL, 34359738352ULL));
}

TEST_CASE("bandwidth: a key at the top level leaves runtimeConfig unused", "[bandwidth]") {
    const std::string rt = R"("runtimeConfig":{"bandwidth":{"egressRate":3,"egressBurst":4}})";
    CHECK(same(ok(R"("ingressRate":1,"ingressBurst":2,)" + rt), 1, 2, 0, 0));
    CHECK(ok(R"("egressRate":0,)" + rt).zero());
    CHECK(ok(R"("egressBurst":null,)" + rt).zero());   // null counts: Go allocates the entry
    CHECK(ok(R"("EGRESSBURST":null,)" + rt).zero());
    CHECK(same(ok(R"("other":1,)" + rt), 0, 0, 3, 4));
}

TEST_CASE("bandwidth: rate and burst go together", "[bandwidth]") {
    refused(R"("ingressRate":1000)", "if rate is set, burst must also be set (ingressRate 1000, ingressBurst 0)");
    refused(R"("ingressBurst":1000)", "if burst is set, rate must also be set (ingressRate 0, ingressBurst 1000)");
    refused(R"("egressRate":1000)", "if rate is set, burst must also be set (egressRate 1000");
    refused(R"("egressBurst":1000)", "if burst is set, rate must also be set (egressRate 0");
    refused(R"("runtimeConfig":{"bandwidth":{"egressRate":1}})", "burst must also be set");
    // only the entry in use is validated (as upstream)
    CHECK(same(ok(R"("ingressRate":1,"ingressBurst":1,"runtimeConfig":{"bandwidth":{"egressRate":1}})"), 1, 1, 0, 0));
}

TEST_CASE("bandwidth: burst below 4 GB", "[bandwidth]") {
    // burst/8 must stay below 2^32-1
    CHECK(ok(R"("ingressRate":1,"ingressBurst":34359738359)").ingressBurst == 34359738359ULL);  // /8 = 2^32-2
    refused(R"("ingressRate":1,"ingressBurst":34359738360)", "burst cannot be more than 4GB");        // /8 = 2^32-1
    refused(R"("egressRate":1,"egressBurst":18446744073709551615)", "burst cannot be more than 4GB (egressRate");
}

TEST_CASE("bandwidth: values of the wrong type are code 7", "[bandwidth]") {
    refused(R"("ingressRate":-1,"ingressBurst":1)",
            R"(invalid value for "ingressRate": expected an unsigned integer, got -1)");
    refused(R"("ingressRate":"1000")", R"("ingressRate": expected an unsigned integer, got string)");
    refused(R"("ingressBurst":1.5)", R"("ingressBurst": expected an unsigned integer, got 1.5)");
    refused(R"("egressRate":1e3)", R"("egressRate")");
    refused(R"("egressRate":18446744073709551616)", R"("egressRate")");
    refused(R"("egressBurst":true)", "got bool");
    refused(R"("egressBurst":[])", "got array");
    refused(R"("runtimeConfig":1)", "runtimeConfig must be an object");
    refused(R"("runtimeConfig":{"bandwidth":"fast"})", "runtimeConfig.bandwidth must be an object");
    refused(R"("runtimeConfig":{"bandwidth":{"ingressRate":-5}})", R"("runtimeConfig.bandwidth.ingressRate")");
    // a bad runtime value fails even when the top level wins (Go decodes both)
    refused(R"("ingressRate":1,"ingressBurst":1,"runtimeConfig":{"bandwidth":{"egressBurst":"x"}})",
            "runtimeConfig.bandwidth.egressBurst");
}

TEST_CASE("bandwidth: the ifb's name as upstream's", "[bandwidth]") {
    CHECK(ifbName("bwnet", "ctr1") == "bwpea62040b30ca");
    CHECK(ifbName("net", "c1") == "bwp623e1c388032");
    CHECK(ifbName("mynet", "0123456789abcdef") == "bwp7166596e80d9");
    // network + containerID concatenated: these two share a name
    CHECK(ifbName("a", "bc") == "bwpddaf35a19361");
    CHECK(ifbName("ab", "c") == "bwpddaf35a19361");
    CHECK(ifbName("x", "y").size() == 15);
}

TEST_CASE("bandwidth: the ifb's alias", "[bandwidth]") {
    CHECK(ifbAlias("bwnet", "eth0") == "cni-bandwidth net=bwnet ifname=eth0");
    CHECK(ifbAliasPrefix("bwnet") == "cni-bandwidth net=bwnet ifname=");
    std::string n200(200, 'n'), n201(201, 'n');
    CHECK(ifbAlias(n200, "eth0") == "cni-bandwidth net=" + n200 + " ifname=eth0");
    CHECK(ifbAlias(n201, "eth0") == "cni-bandwidth net=sha512:e42464efa355ce143d80a3a68e1688f9 ifname=eth0");
    CHECK(ifbAlias(n201, "eth0").starts_with(ifbAliasPrefix(n201)));
    CHECK(ifbAlias(std::string(10000, 'n'), "a234567890abcde").size() <= 255);
}

TEST_CASE("bandwidth: tbf numbers as upstream's", "[bandwidth]") {
    using nl::tc::Tbf;
    // rate bits/s, burst bits, tick (us) -> rate bytes/s, limit bytes, buffer ticks
    struct Case { uint64_t rate, burst; double tick; Tbf want; };
    const Case cases[] = {
        {8000000, 80000, 15.625, {1000000, 35000, 156250}},
        {16000000, 160000, 15.625, {2000000, 70000, 156250}},
        {8000000, 800000, 1.0, {1000000, 125000, 100000}},
        {1000000, 12345, 0.9765625, {125000, 4668, 12054}},
        // past 2^32 bytes/s; the largest burst
        {68719476736ULL, 34359738352ULL, 15.625, {8589934592ULL, 214748362, 7812484}},
        // products past uint32 wrap as Go's conversions do on amd64
        {8, 34359738352ULL, 15.625, {1, 4294967294U, 2653104560U}},
        {100, 100000, 15.625, {12, 12500, 3391139768U}},
        {18446744073709551615ULL, 34359738352ULL, 15.625, {2305843009213693951ULL, 3435973838U, 0}},
        // under a byte per second: division by zero gives 0 (the kernel refuses the rate)
        {7, 800, 15.625, {0, 100, 0}},
    };
    for (const Case& c : cases) {
        INFO(c.rate << " " << c.burst << " " << c.tick);
        Tbf t = tbfFor(c.rate, c.burst, c.tick);
        CHECK(t.rate == c.want.rate);
        CHECK(t.limit == c.want.limit);
        CHECK(t.buffer == c.want.buffer);
    }
    CHECK(nl::tc::tbfParams(1000000, 10000, 25, 15.625) == Tbf{1000000, 35000, 156250});
    CHECK(nl::tc::tbfParams(1000000, 10000, 50, 1.0) == Tbf{1000000, 60000, 10000});
}

TEST_CASE("bandwidth: tc handles as tc prints them", "[bandwidth]") {
    CHECK(nl::tc::handleStr(nl::tc::handle(1, 0)) == "1:");
    CHECK(nl::tc::handleStr(nl::tc::handle(1, 1)) == "1:1");
    CHECK(nl::tc::handleStr(nl::tc::kIngressHandle) == "ffff:");
    CHECK(nl::tc::handleStr(nl::tc::kRoot) == "root");
    CHECK(nl::tc::handleStr(nl::tc::kIngressParent) == "ingress");
}
