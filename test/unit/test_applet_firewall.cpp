// firewall's config parser (applets/firewall.h): every key, without the kernel.
#include "applets/firewall.h"
#include "helpers.h"

namespace {

using applets::firewall::Conf;
namespace fw = nf::fw;

std::string conf(std::string_view extra) {
    return R"({"cniVersion":"1.0.0","name":"net1","type":"firewall")" + std::string(extra) + "}";
}

cni::Error parse(std::string_view extra, Conf& c) {
    cni::CmdArgs a = testutil::cmdArgs(conf(extra));
    return applets::firewall::parseConf(a, c);
}

Conf parsed(std::string_view extra) {
    Conf c;
    cni::Error e = parse(extra, c);
    INFO(e.text());
    REQUIRE_FALSE(e);
    return c;
}

// The bridge check of ADD and CHECK for `prev` (a prevResult's JSON).
cni::Error bridgeOf(std::string_view extra, std::string_view prev, Conf& c) {
    cni::CmdArgs a = testutil::cmdArgs(conf(std::string(extra) + R"(,"prevResult":)" + std::string(prev)));
    if (auto e = applets::firewall::parseConf(a, c)) return e;
    return applets::firewall::ingressBridge(a, c);
}

}  // namespace

TEST_CASE("firewall config: defaults") {
    Conf c = parsed("");
    CHECK_FALSE(c.firewalld);
    CHECK_FALSE(c.backend.has_value());
    CHECK(c.spec.adminChain == "CNI-ADMIN");
    CHECK(c.spec.ingress == fw::Ingress::kOpen);
    CHECK(c.spec.network == "net1");
    CHECK(c.spec.containerID == "c1");
    CHECK(c.spec.ifname == "eth0");
    CHECK(c.spec.ips.empty());
    CHECK(c.spec.bridge.empty());
}

TEST_CASE("firewall config: every key set") {
    Conf c = parsed(R"(,"backend":"nftables","iptablesAdminChainName":"MY-ADMIN","firewalldZone":"public",)"
                    R"("ingressPolicy":"isolated")");
    CHECK(c.backend == nf::Backend::kNftables);
    CHECK(c.spec.adminChain == "MY-ADMIN");
    CHECK(c.spec.ingress == fw::Ingress::kIsolated);
    CHECK(parsed(R"(,"backend":"iptables","ingressPolicy":"same-bridge")").spec.ingress == fw::Ingress::kSameBridge);
    CHECK(parsed(R"(,"backend":"iptables")").backend == nf::Backend::kIptables);
    CHECK(parsed(R"(,"ingressPolicy":"open")").spec.ingress == fw::Ingress::kOpen);
    CHECK(parsed(R"(,"ingressPolicy":"")").spec.ingress == fw::Ingress::kOpen);
    // An empty name is the default one.
    CHECK(parsed(R"(,"iptablesAdminChainName":"")").spec.adminChain == "CNI-ADMIN");
    // firewalld is accepted by the parser; the verbs refuse it.
    Conf f = parsed(R"(,"backend":"firewalld")");
    CHECK(f.firewalld);
    CHECK_FALSE(f.backend.has_value());
}

TEST_CASE("firewall config: prevResult's addresses, duplicates removed") {
    Conf c = parsed(R"(,"prevResult":{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24"},)"
                    R"({"address":"fd00::2/64"},{"address":"10.0.0.2/16"}]})");
    REQUIRE(c.spec.ips.size() == 2);
    CHECK(c.spec.ips[0].str() == "10.0.0.2");
    CHECK(c.spec.ips[1].str() == "fd00::2");
}

TEST_CASE("firewall config: bad values are code 7") {
    struct Bad {
        const char* extra;
        const char* msg;
        const char* details;
    };
    const Bad bad[] = {
        {R"(,"backend":"bpf")", "backend must be \"iptables\" or \"nftables\", not \"bpf\"", ""},
        {R"(,"ingressPolicy":"closed")", "unknown ingress policy: \"closed\"",
         "ingressPolicy must be \"open\", \"same-bridge\" or \"isolated\""},
        {R"(,"iptablesAdminChainName":"ABCDEFGHIJKLMNOPQRSTUVWXYZ123")",
         "invalid iptablesAdminChainName \"ABCDEFGHIJKLMNOPQRSTUVWXYZ123\": longer than 28 characters", ""},
        {R"(,"iptablesAdminChainName":"MY ADMIN")",
         "invalid iptablesAdminChainName \"MY ADMIN\": only printable characters without blanks or quotes", ""},
        {R"(,"iptablesAdminChainName":"-X")", "invalid iptablesAdminChainName \"-X\": must not start with '-' or '!'",
         ""},
        {R"(,"iptablesAdminChainName":"FORWARD")",
         "invalid iptablesAdminChainName \"FORWARD\": a built-in or firewall chain name", ""},
        {R"(,"iptablesAdminChainName":"cni-forward")",
         "invalid iptablesAdminChainName \"cni-forward\": a built-in or firewall chain name", ""},
    };
    for (const Bad& b : bad) {
        INFO(b.extra);
        Conf c;
        cni::Error e = parse(b.extra, c);
        CHECK(e.code == cni::kInvalidNetConf);
        CHECK(e.msg == b.msg);
        CHECK(e.details == b.details);
    }
}

TEST_CASE("firewall config: values of the wrong JSON type are code 7") {
    const std::pair<const char*, const char*> bad[] = {
        {R"(,"backend":1)", R"(invalid value for "backend": expected a string, got number)"},
        {R"(,"iptablesAdminChainName":[])",
         R"(invalid value for "iptablesAdminChainName": expected a string, got array)"},
        {R"(,"firewalldZone":false)", R"(invalid value for "firewalldZone": expected a string, got bool)"},
        {R"(,"ingressPolicy":{})", R"(invalid value for "ingressPolicy": expected a string, got object)"},
    };
    for (const auto& [extra, msg] : bad) {
        INFO(extra);
        Conf c;
        cni::Error e = parse(extra, c);
        CHECK(e.code == cni::kInvalidNetConf);
        CHECK(e.msg == msg);
    }
}

TEST_CASE("firewall config: the bridge of an ingress policy") {
    Conf c;
    REQUIRE_FALSE(bridgeOf(R"(,"ingressPolicy":"same-bridge")",
                           R"({"cniVersion":"1.0.0","interfaces":[{"name":"cni0"},{"name":"eth0","sandbox":"/x"}]})",
                           c));
    CHECK(c.spec.bridge == "cni0");

    Conf open;
    REQUIRE_FALSE(bridgeOf("", R"({"cniVersion":"1.0.0"})", open));
    CHECK(open.spec.bridge.empty());

    Conf none;
    cni::Error e = bridgeOf(R"(,"ingressPolicy":"isolated")", R"({"cniVersion":"1.0.0"})", none);
    CHECK(e.code == cni::kInvalidNetConf);
    CHECK(e.msg == "interface needs to be set for ingress policy \"isolated\", make sure to chain \"firewall\" "
                   "plugin with \"bridge\"");
    Conf empty;
    e = bridgeOf(R"(,"ingressPolicy":"same-bridge")", R"({"cniVersion":"1.0.0","interfaces":[{"name":""}]})", empty);
    CHECK(e.code == cni::kInvalidNetConf);
    CHECK(e.msg == "got empty bridge name");
    Conf longName;
    e = bridgeOf(R"(,"ingressPolicy":"same-bridge")",
                 R"({"cniVersion":"1.0.0","interfaces":[{"name":"bridge-0123456789"}]})", longName);
    CHECK(e.code == cni::kInvalidNetConf);
    CHECK(e.msg == "bridge name \"bridge-0123456789\" is longer than 15 characters");
}
