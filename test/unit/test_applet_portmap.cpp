// portmap's config parser (applets/portmap.h): every key, without the kernel.
#include <netinet/in.h>

#include "applets/portmap.h"
#include "helpers.h"

namespace {

using applets::portmap::Conf;

std::string conf(std::string_view extra) {
    return R"({"cniVersion":"1.0.0","name":"net1","type":"portmap")" + std::string(extra) + "}";
}

Conf parsed(std::string_view extra, cni::Command cmd = cni::Command::Add) {
    cni::CmdArgs a = testutil::cmdArgs(conf(extra), cmd);
    Conf c;
    cni::Error e = applets::portmap::parseConf(a, c);
    INFO(e.text());
    REQUIRE_FALSE(e);
    return c;
}

cni::Error failure(std::string_view extra) {
    cni::CmdArgs a = testutil::cmdArgs(conf(extra));
    Conf c;
    return applets::portmap::parseConf(a, c);
}

constexpr const char* kPrev =
    R"(,"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"br0"},{"name":"eth0","sandbox":"/run/netns/x"},)"
    R"({"name":"eth1","sandbox":"/run/netns/x"}],)"
    R"("ips":[{"address":"10.0.0.9/24","interface":2},{"address":"10.0.0.2/24","interface":1},)"
    R"({"address":"10.0.0.3/24","interface":1},{"address":"fd00::2/64"},{"address":"fd00::3/64","interface":0}]})";

}  // namespace

TEST_CASE("portmap config: defaults") {
    Conf c = parsed("");
    CHECK(c.hp.network == "net1");
    CHECK(c.hp.containerID == "c1");
    CHECK(c.hp.snat);
    CHECK_FALSE(c.hp.masqAll);
    CHECK(c.hp.markBit == 13);
    CHECK(c.hp.externalSetMarkChain.empty());
    CHECK(c.hp.mappings.empty());
    CHECK_FALSE(c.backend.has_value());
    CHECK(c.condV4.empty());
    CHECK(c.condV6.empty());
    CHECK_FALSE(c.ctr4.has_value());
    CHECK_FALSE(c.ctr6.has_value());
}

TEST_CASE("portmap config: every key set") {
    Conf c = parsed(R"(,"snat":false,"masqAll":true,"markMasqBit":0,"backend":"iptables",)"
                    R"("conditionsV4":["-s 10.0.0.0/8","!","-i","eth9"],"conditionsV6":["-d","fd00::/8"])");
    CHECK_FALSE(c.hp.snat);
    CHECK(c.hp.masqAll);
    CHECK(c.hp.markBit == 0);
    CHECK(c.backend == nf::Backend::kIptables);
    CHECK(c.condV4 == std::vector<std::string>{"-s 10.0.0.0/8", "!", "-i", "eth9"});
    CHECK(c.condV6 == std::vector<std::string>{"-d", "fd00::/8"});

    c = parsed(R"(,"markMasqBit":31)");
    CHECK(c.hp.markBit == 31);
    c = parsed(R"(,"externalSetMarkChain":"KUBE-MARK-MASQ")");
    CHECK(c.hp.externalSetMarkChain == "KUBE-MARK-MASQ");
}

TEST_CASE("portmap config: runtimeConfig.portMappings") {
    Conf c = parsed(R"(,"runtimeConfig":{"portMappings":[)"
                    R"({"hostPort":8080,"containerPort":80},)"
                    R"({"hostPort":53,"containerPort":5353,"protocol":"UDP","hostIP":"127.0.0.1"},)"
                    R"({"hostPort":9,"containerPort":9,"protocol":"sctp","hostIP":"fd00::1"},)"
                    R"({"hostPort":65535,"containerPort":1,"protocol":"tcp","hostIP":""}]})");
    REQUIRE(c.hp.mappings.size() == 4);
    const auto& m = c.hp.mappings;
    CHECK(m[0].hostPort == 8080);
    CHECK(m[0].containerPort == 80);
    CHECK(m[0].proto == IPPROTO_TCP);
    CHECK_FALSE(m[0].hostIP.has_value());
    CHECK(m[1].proto == IPPROTO_UDP);
    REQUIRE(m[1].hostIP.has_value());
    CHECK(m[1].hostIP->str() == "127.0.0.1");
    CHECK(m[2].proto == IPPROTO_SCTP);
    CHECK(m[2].hostIP->str() == "fd00::1");
    CHECK(m[3].hostPort == 65535);
    CHECK(m[3].containerPort == 1);
    CHECK_FALSE(m[3].hostIP.has_value());
}

TEST_CASE("portmap config: container addresses from prevResult") {
    Conf c = parsed(kPrev);
    // Per family the first address on CNI_IFNAME (eth0) in a sandbox, or on no interface.
    REQUIRE(c.ctr4.has_value());
    CHECK(c.ctr4->str() == "10.0.0.2/24");
    REQUIRE(c.ctr6.has_value());
    CHECK(c.ctr6->str() == "fd00::2/64");
}

TEST_CASE("portmap config: backend chosen by the options") {
    CHECK(parsed(R"(,"externalSetMarkChain":"X")").backend == nf::Backend::kIptables);
    CHECK(parsed(R"(,"conditionsV4":["-s","10.0.0.0/8"])").backend == nf::Backend::kIptables);
    CHECK(parsed(R"(,"conditionsV6":["! -d fd00::/8"])").backend == nf::Backend::kIptables);
    CHECK(parsed(R"(,"conditionsV4":["ip saddr 10.0.0.0/8"])").backend == nf::Backend::kNftables);
    CHECK(parsed(R"(,"backend":"nftables","conditionsV6":["ip6 daddr fd00::/8"])").backend == nf::Backend::kNftables);
    CHECK_FALSE(parsed(R"(,"backend":"")").backend.has_value());
}

TEST_CASE("portmap config: bad values are code 7 with upstream's messages") {
    struct Bad {
        const char* extra;
        const char* msg;
    };
    const Bad bad[] = {
        {R"(,"markMasqBit":32)", "MasqMarkBit must be between 0 and 31"},
        {R"(,"markMasqBit":-1)", "MasqMarkBit must be between 0 and 31"},
        {R"(,"markMasqBit":3,"externalSetMarkChain":"X")", "Cannot specify externalSetMarkChain and markMasqBit"},
        {R"(,"backend":"bogus")", "backend must be \"iptables\" or \"nftables\", not \"bogus\""},
        {R"(,"backend":"nftables","externalSetMarkChain":"X")",
         "nftables backend was requested but configuration contains iptables-specific options [externalSetMarkChain]"},
        {R"(,"backend":"nftables","conditionsV4":["-s","10.0.0.0/8"])",
         "nftables backend was requested but configuration contains iptables-specific options [conditionsV4]"},
        {R"(,"backend":"iptables","conditionsV4":["ip saddr 1.2.3.4"],"conditionsV6":["ip6 saddr fd00::/8"])",
         "iptables backend was requested but configuration contains nftables-specific options [conditionsV4 "
         "conditionsV6]"},
        {R"(,"externalSetMarkChain":"X","conditionsV6":["ip6 saddr fd00::/8"])",
         "configuration contains iptables-specific options [externalSetMarkChain] and nftables-specific options "
         "[conditionsV6]"},
        {R"(,"runtimeConfig":{"portMappings":[{"hostPort":0,"containerPort":80}]})", "Invalid host port number: 0"},
        {R"(,"runtimeConfig":{"portMappings":[{"hostPort":80,"containerPort":70000}]})",
         "Invalid container port number: 70000"},
        {R"(,"runtimeConfig":{"portMappings":[{"hostPort":80,"containerPort":80,"protocol":"icmp"}]})",
         "unsupported protocol \"icmp\" in portMappings (tcp, udp or sctp)"},
        {R"(,"runtimeConfig":{"portMappings":[{"hostPort":80,"containerPort":80,"hostIP":"1.2.3"}]})",
         "invalid hostIP \"1.2.3\" in portMappings"},
        {R"(,"runtimeConfig":{"portMappings":{"hostPort":80}})",
         "runtimeConfig.portMappings must be a list, not object"},
        {R"(,"runtimeConfig":{"portMappings":[80]})",
         "runtimeConfig.portMappings: an entry is a number, not an object"},
    };
    for (const Bad& b : bad) {
        INFO(b.extra);
        cni::Error e = failure(b.extra);
        CHECK(e.code == cni::kInvalidNetConf);
        CHECK(e.msg == b.msg);
    }
}

TEST_CASE("portmap config: values of the wrong JSON type are code 7") {
    const std::pair<const char*, const char*> bad[] = {
        {R"(,"snat":"yes")", R"(invalid value for "snat": expected a boolean, got string)"},
        {R"(,"masqAll":1)", R"(invalid value for "masqAll": expected a boolean, got number)"},
        {R"(,"markMasqBit":"13")", R"(invalid value for "markMasqBit": expected an integer, got string)"},
        {R"(,"externalSetMarkChain":5)", R"(invalid value for "externalSetMarkChain": expected a string, got number)"},
        {R"(,"conditionsV4":"-s 10.0.0.0/8")",
         R"(invalid value for "conditionsV4": expected a list of strings, got string)"},
        {R"(,"conditionsV6":[1])", R"(invalid value for "conditionsV6": expected a list of strings, got array)"},
        {R"(,"backend":true)", R"(invalid value for "backend": expected a string, got bool)"},
        {R"(,"runtimeConfig":{"portMappings":[{"hostPort":"80","containerPort":80}]})",
         R"(invalid value for "hostPort": expected an integer, got string)"},
        {R"(,"runtimeConfig":{"portMappings":[{"hostPort":80,"containerPort":80,"protocol":6}]})",
         R"(invalid value for "protocol": expected a string, got number)"},
        {R"(,"runtimeConfig":{"portMappings":[{"hostPort":80,"containerPort":80,"hostIP":1}]})",
         R"(invalid value for "hostIP": expected a string, got number)"},
    };
    for (const auto& [extra, msg] : bad) {
        INFO(extra);
        cni::Error e = failure(extra);
        CHECK(e.code == cni::kInvalidNetConf);
        CHECK(e.msg == msg);
    }
}
