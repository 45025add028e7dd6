// flannel's subnet.env reader, config parser and delegate config
// (applets/flannel.h), without the kernel or a delegate. The expected
// delegate configs are written by hand from the rules of flannel's own
// plugin: Go's json.Marshal of its delegate map (compact, keys sorted).
#include "applets/flannel.h"

#include <sys/stat.h>

#include <fstream>

#include "helpers.h"

using namespace applets::flannel;
using cni::Error;

namespace {

constexpr const char* kV4 = "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n";
constexpr const char* kV6 = "FLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n";
constexpr const char* kDual =
    "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_IPV6_NETWORK=fc00::/48\n"
    "FLANNEL_IPV6_SUBNET=fc00::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n";

SubnetEnv env(std::string_view text) {
    SubnetEnv e;
    Error err = parseSubnetEnv(text, "/run/flannel/subnet.env", e);
    INFO(err.text());
    REQUIRE_FALSE(err);
    return e;
}

Error badEnv(std::string_view text) {
    SubnetEnv e;
    Error err = parseSubnetEnv(text, "/run/flannel/subnet.env", e);
    REQUIRE(err);
    CHECK(err.code == cni::kInvalidNetConf);
    return err;
}

std::string conf(std::string_view extra, std::string_view version = R"("cniVersion":"1.0.0",)") {
    std::string out = "{";
    out.append(version).append(R"("name":"cni-flannel","type":"flannel")").append(extra).append("}");
    return out;
}

// The delegate config built for `extra` keys and subnet.env `text`.
std::string delegateFor(std::string_view extra, std::string_view text,
                        std::string_view version = R"("cniVersion":"1.0.0",)") {
    cni::CmdArgs a = testutil::cmdArgs(conf(extra, version));
    Conf c;
    Error e = parseConf(a, true, c);
    INFO(e.text());
    REQUIRE_FALSE(e);
    std::string out;
    e = delegateConfig(a, env(text), out);
    INFO(e.text());
    REQUIRE_FALSE(e);
    return out;
}

Error badConf(std::string_view extra) {
    cni::CmdArgs a = testutil::cmdArgs(conf(extra));
    Conf c;
    Error e = parseConf(a, true, c);
    REQUIRE(e);
    CHECK(e.code == cni::kInvalidNetConf);
    return e;
}

}  // namespace

TEST_CASE("flannel: subnet.env with every key, IPv4", "[flannel]") {
    SubnetEnv e = env(kV4);
    REQUIRE(e.networks.size() == 1);
    CHECK(e.networks[0].str() == "10.1.0.0/16");
    REQUIRE(e.subnet);
    CHECK(e.subnet->str() == "10.1.17.0/24");  // masked, as flannel reads it
    CHECK(e.ip6Networks.empty());
    CHECK_FALSE(e.ip6Subnet);
    CHECK(*e.mtu == 1472);
    CHECK(*e.ipMasq);
}

TEST_CASE("flannel: subnet.env IPv6 only and dual stack", "[flannel]") {
    SubnetEnv v6 = env(kV6);
    CHECK(v6.networks.empty());
    CHECK_FALSE(v6.subnet);
    REQUIRE(v6.ip6Networks.size() == 1);
    CHECK(v6.ip6Networks[0].str() == "fc00::/48");
    CHECK(v6.ip6Subnet->str() == "fc00::/64");
    SubnetEnv d = env(kDual);
    CHECK(d.subnet->str() == "10.1.17.0/24");
    CHECK(d.ip6Subnet->str() == "fc00::/64");
}

TEST_CASE("flannel: subnet.env lines as flannel's plugin reads them", "[flannel]") {
    // CRLF, unknown keys and blank lines, a last line without LF, networks
    // comma-separated with duplicates dropped, a repeated key replacing the
    // earlier one, FLANNEL_IPMASQ anything but "true" being false.
    SubnetEnv e = env("# flanneld\r\nFOO=bar\r\n\nFLANNEL_NETWORK=10.9.0.0/16\nFLANNEL_NETWORK=10.1.0.0/16,192.168.0.0/16,"
                      "10.1.5.0/16\nFLANNEL_SUBNET=10.1.17.1/24\r\nFLANNEL_MTU=01450\nFLANNEL_IPMASQ=True");
    REQUIRE(e.networks.size() == 2);
    CHECK(e.networks[0].str() == "10.1.0.0/16");
    CHECK(e.networks[1].str() == "192.168.0.0/16");
    CHECK(*e.mtu == 1450);
    CHECK_FALSE(*e.ipMasq);
    CHECK(env("FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=4294967295\nFLANNEL_IPMASQ=\n")
              .mtu == 4294967295u);
}

TEST_CASE("flannel: malformed or incomplete subnet.env is code 7", "[flannel]") {
    CHECK(badEnv("foo=bar").msg ==
          "/run/flannel/subnet.env is missing FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK, FLANNEL_SUBNET, "
          "FLANNEL_IPV6_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ");
    CHECK(badEnv("").msg.ends_with("is missing FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK, FLANNEL_SUBNET, "
                                   "FLANNEL_IPV6_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ"));
    CHECK(badEnv("FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\n").msg.ends_with(
        "is missing FLANNEL_MTU, FLANNEL_IPMASQ"));
    CHECK(badEnv("FLANNEL_IPV6_SUBNET=fc00::1/64\nFLANNEL_MTU=1\nFLANNEL_IPMASQ=true\n").msg.ends_with(
        "is missing FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK"));
    CHECK(badEnv("FLANNEL_MTU=abc").msg ==
          "/run/flannel/subnet.env: FLANNEL_MTU: strconv.ParseUint: parsing \"abc\": invalid syntax");
    CHECK(badEnv("FLANNEL_MTU=-1").msg.ends_with("invalid syntax"));
    CHECK(badEnv("FLANNEL_MTU=+1").msg.ends_with("invalid syntax"));
    CHECK(badEnv("FLANNEL_MTU=").msg.ends_with("invalid syntax"));
    CHECK(badEnv("FLANNEL_MTU=4294967296").msg.ends_with("value out of range"));
    CHECK(badEnv("FLANNEL_SUBNET=10.1.17.1").msg ==
          "/run/flannel/subnet.env: FLANNEL_SUBNET: invalid CIDR address: 10.1.17.1");
    CHECK(badEnv("FLANNEL_NETWORK=10.1.0.0/16,").msg.ends_with("invalid CIDR address: "));
    CHECK(badEnv("FLANNEL_NETWORK= 10.1.0.0/16").msg.ends_with("invalid CIDR address:  10.1.0.0/16"));
    CHECK(badEnv("FLANNEL_IPV6_NETWORK=fc00::/129").msg.ends_with("invalid CIDR address: fc00::/129"));
    CHECK(badEnv("FLANNEL_IPV6_SUBNET=zz").msg.ends_with("invalid CIDR address: zz"));
    CHECK(badEnv("FLANNEL_MTU\n").msg == "/run/flannel/subnet.env: FLANNEL_MTU has no value");
}

TEST_CASE("flannel: loading the file: missing is code 11, malformed 7", "[flannel]") {
    testutil::TmpDir d;
    SubnetEnv e;
    Error err = loadSubnetEnv(d / "subnet.env", e);
    CHECK(err.code == cni::kTryAgainLater);
    CHECK(err.msg == "failed to load flannel 'subnet.env' file: open " + (d / "subnet.env") +
                         ": no such file or directory. Check the flannel pod log for this node.");
    std::ofstream(d / "subnet.env") << "FLANNEL_MTU=x\n";
    err = loadSubnetEnv(d / "subnet.env", e);
    CHECK(err.code == cni::kInvalidNetConf);
    CHECK(err.msg.starts_with("failed to load flannel 'subnet.env' file: " + (d / "subnet.env") + ": FLANNEL_MTU"));
    std::ofstream(d / "subnet.env") << kV4;
    CHECK_FALSE(loadSubnetEnv(d / "subnet.env", e));
    CHECK(*e.mtu == 1472);
}

TEST_CASE("flannel: config keys and their defaults", "[flannel]") {
    cni::CmdArgs a = testutil::cmdArgs(conf(""));
    Conf c;
    REQUIRE_FALSE(parseConf(a, true, c));
    CHECK(c.subnetFile == "/run/flannel/subnet.env");
    CHECK(c.dataDir == "/var/lib/cni/flannel");
    CHECK(c.delegateType == "bridge");
    CHECK(savedPath(c, "abc") == "/var/lib/cni/flannel/abc");
    a = testutil::cmdArgs(conf(R"(,"subnetFile":"/x/s.env","dataDir":"/y/","delegate":{"type":"ipvlan"})"));
    c = Conf{};
    REQUIRE_FALSE(parseConf(a, true, c));
    CHECK(c.subnetFile == "/x/s.env");
    CHECK(c.delegateType == "ipvlan");
    CHECK(savedPath(c, "abc") == "/y/abc");
    a = testutil::cmdArgs(conf(R"(,"subnetFile":"","dataDir":"")"));
    c = Conf{};
    REQUIRE_FALSE(parseConf(a, true, c));
    CHECK(c.subnetFile == "/run/flannel/subnet.env");
    CHECK(c.dataDir == "/var/lib/cni/flannel");
}

TEST_CASE("flannel: bad config keys are code 7; DEL reads only dataDir", "[flannel]") {
    CHECK(badConf(R"(,"delegate":[])").msg == "delegate must be an object, not array");
    CHECK(badConf(R"(,"delegate":{"type":5})").msg == "'delegate' dictionary, if present, must have (string) 'type' field");
    CHECK(badConf(R"(,"delegate":{"type":null})").msg.find("(string) 'type'") != std::string::npos);
    CHECK(badConf(R"(,"delegate":{"type":""})").msg.starts_with("invalid delegate type"));
    CHECK(badConf(R"(,"delegate":{"type":"a/b"})").msg.starts_with("invalid delegate type"));
    CHECK(badConf(R"(,"delegate":{"type":"flannel"})").msg.starts_with("invalid delegate type"));
    CHECK(badConf(R"(,"delegate":{"name":"x"})").msg.find("'name'") != std::string::npos);
    CHECK(badConf(R"(,"delegate":{"ipam":null})").msg.find("'ipam'") != std::string::npos);
    CHECK(badConf(R"(,"runtimeConfig":"x")").msg == "runtimeConfig must be an object, not string");
    CHECK(badConf(R"(,"subnetFile":1)").msg.find("subnetFile") != std::string::npos);
    CHECK(badConf(R"(,"dataDir":[])").msg.find("dataDir") != std::string::npos);
    cni::CmdArgs a = testutil::cmdArgs(conf(R"(,"delegate":5,"dataDir":"/d")"), cni::Command::Del);
    Conf c;
    REQUIRE_FALSE(parseConf(a, false, c));
    CHECK(c.dataDir == "/d");
}

TEST_CASE("flannel: the default delegate config", "[flannel]") {
    CHECK(delegateFor("", kV4) ==
          R"({"cniVersion":"1.0.0","ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],)"
          R"("routes":[{"dst":"10.1.0.0/16"}],"type":"host-local"},"isGateway":true,"mtu":1472,)"
          R"("name":"cni-flannel","type":"bridge"})");
    // Without a cniVersion the delegate gets none; FLANNEL_IPMASQ false: ipMasq true.
    std::string noMasq = std::string(kV4).replace(std::string(kV4).find("true"), 4, "false");
    CHECK(delegateFor("", noMasq, "") ==
          R"({"ipMasq":true,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"dst":"10.1.0.0/16"}],)"
          R"("type":"host-local"},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"})");
    // Two networks: a route to each.
    CHECK(delegateFor("", "FLANNEL_NETWORK=10.1.0.0/16,192.168.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\n"
                          "FLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n")
              .find(R"("routes":[{"dst":"10.1.0.0/16"},{"dst":"192.168.0.0/16"}])") != std::string::npos);
}

TEST_CASE("flannel: a delegate override keeps its keys", "[flannel]") {
    CHECK(delegateFor(R"(,"delegate":{"bridge":"mynet0","mtu":1400,"isGateway":false,"ipMasq":null,"hairpinMode":true})",
                      kV4) ==
          R"({"bridge":"mynet0","cniVersion":"1.0.0","hairpinMode":true,"ipMasq":null,)"
          R"("ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"dst":"10.1.0.0/16"}],"type":"host-local"},)"
          R"("isGateway":false,"mtu":1400,"name":"cni-flannel","type":"bridge"})");
    // Another type: no isGateway; the config's cniVersion wins over the delegate's;
    // runtimeConfig passed on; numbers as Go writes float64s.
    CHECK(delegateFor(R"(,"delegate":{"type":"ipvlan","master":"eth0","cniVersion":"0.3.1","x":1e3,"y":[0.5,"<&>"]},)"
                      R"("runtimeConfig":{"portMappings":[{"hostPort":8080}],"ips":[]})",
                      kV4) ==
          R"({"cniVersion":"1.0.0","ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],)"
          R"("routes":[{"dst":"10.1.0.0/16"}],"type":"host-local"},"master":"eth0","mtu":1472,"name":"cni-flannel",)"
          R"("runtimeConfig":{"ips":[],"portMappings":[{"hostPort":8080}]},"type":"ipvlan","x":1000,)"
          R"("y":[0.5,"\u003c\u0026\u003e"]})");
}

TEST_CASE("flannel: the user's ipam keys merged as flannel merges them", "[flannel]") {
    // Its routes first (as Go's types.Route writes them), then the networks';
    // its ranges replaced; its other keys kept; its type kept.
    CHECK(delegateFor(R"(,"ipam":{"type":"my-ipam","unknown-param":"unknown-value","ranges":[[{"subnet":"1.2.3.0/24"}]],)"
                      R"("routes":[{"dst":"10.96.0.0/12"},{"dst":"192.168.244.0/24","gw":"10.1.17.20","mtu":1400,"x":1}]})",
                      kV4) ==
          R"({"cniVersion":"1.0.0","ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],)"
          R"("routes":[{"dst":"10.96.0.0/12"},{"dst":"192.168.244.0/24","gw":"10.1.17.20","mtu":1400},)"
          R"({"dst":"10.1.0.0/16"}],"type":"my-ipam","unknown-param":"unknown-value"},"isGateway":true,"mtu":1472,)"
          R"("name":"cni-flannel","type":"bridge"})");
    // Without a type: host-local; routes null: only the networks'.
    CHECK(delegateFor(R"(,"ipam":{"dataDir":"/d","routes":null})", kV4)
              .find(R"("ipam":{"dataDir":"/d","ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"dst":"10.1.0.0/16"}],)"
                    R"("type":"host-local"})") != std::string::npos);
    for (const char* bad : {R"({"routes":[{"dst":"10.96.0.0"}]})", R"({"routes":{}})", R"({"routes":[{"gw":"1.2.3.4"}]})",
                            R"({"routes":[{"dst":"10.0.0.0/8","mtu":"x"}]})"}) {
        cni::CmdArgs a = testutil::cmdArgs(conf(std::string(R"(,"ipam":)") + bad));
        std::string out;
        Error e = delegateConfig(a, env(kV4), out);
        INFO(bad);
        CHECK(e.code == cni::kInvalidNetConf);
        CHECK(e.msg.find("ipam.routes") != std::string::npos);
    }
}

TEST_CASE("flannel: dual stack and IPv6-only delegate configs", "[flannel]") {
    CHECK(delegateFor("", kDual) ==
          R"({"cniVersion":"1.0.0","ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}],[{"subnet":"fc00::/64"}]],)"
          R"("routes":[{"dst":"10.1.0.0/16"},{"dst":"fc00::/48"}],"type":"host-local"},"isGateway":true,"mtu":1472,)"
          R"("name":"cni-flannel","type":"bridge"})");
    CHECK(delegateFor("", kV6) ==
          R"({"cniVersion":"1.0.0","ipMasq":false,"ipam":{"ranges":[[{"subnet":"fc00::/64"}]],)"
          R"("routes":[{"dst":"fc00::/48"}],"type":"host-local"},"isGateway":true,"mtu":1472,)"
          R"("name":"cni-flannel","type":"bridge"})");
}

TEST_CASE("flannel: a saved config's type and name", "[flannel]") {
    std::string type, name;
    CHECK(parseSaved(R"({"name":"n","type":"bridge","ipam":{}})", type, name));
    CHECK(type == "bridge");
    CHECK(name == "n");
    CHECK(parseSaved(R"({"type":"ipvlan"})", type, name));
    CHECK(name.empty());
    for (const char* bad : {"", "x", "[]", "{}", R"({"type":""})", R"({"type":5})", R"({"type":"b","name":1})",
                            R"({"type":"b","cniVersion":1})"}) {
        INFO(bad);
        CHECK_FALSE(parseSaved(bad, type, name));
    }
}
