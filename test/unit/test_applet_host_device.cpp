// host-device's config parser: every key, its default, its valid and invalid
// values; strict (ADD, CHECK, STATUS) against non-strict (DEL, GC).
#include <catch2/catch.hpp>

#include "applets/host_device.h"
#include "test_applet.h"

using applets::host_device::Conf;
using applets::host_device::parseConf;

namespace {

const testutil::ConfParser<Conf> parse{parseConf, "host-device"};

}  // namespace

TEST_CASE("host-device config: one of the four keys is required (ADD, CHECK, STATUS)", "[applet][host-device]") {
    parse.refuses("", "specify either \"device\", \"hwaddr\", \"kernelpath\" or \"pciBusID\"");
    parse.refuses(R"(,"device":"")", "specify either \"device\", \"hwaddr\", \"kernelpath\" or \"pciBusID\"");
    Conf lax;
    REQUIRE_FALSE(parse("", lax, false));
    CHECK(lax.device.empty());
    CHECK(lax.hwaddr.empty());
    CHECK(lax.kernelpath.empty());
    CHECK(lax.pciBusID.empty());
}

TEST_CASE("host-device config: each key alone", "[applet][host-device]") {
    Conf dev;
    REQUIRE_FALSE(parse(R"(,"device":"eth1")", dev));
    CHECK(dev.device == "eth1");
    Conf kp;
    REQUIRE_FALSE(parse(R"(,"kernelpath":"/sys/devices/pci0000:00/0000:00:03.0")", kp));
    CHECK(kp.kernelpath == "/sys/devices/pci0000:00/0000:00:03.0");
    Conf pci;
    REQUIRE_FALSE(parse(R"(,"pciBusID":"0000:00:03.0")", pci));
    CHECK(pci.pciBusID == "0000:00:03.0");
    Conf hw;
    REQUIRE_FALSE(parse(R"(,"hwaddr":"AA-BB-CC-DD-EE-0F")", hw));
    CHECK(hw.hwaddr == "aa:bb:cc:dd:ee:0f");
    for (const char* key : {"device", "hwaddr", "kernelpath", "pciBusID"}) {
        std::string k(key);
        parse.refuses(",\"" + k + "\":5", "invalid value for \"" + k + "\": expected a string, got number", false);
    }
}

TEST_CASE("host-device config: kernelpath and hwaddr are checked", "[applet][host-device]") {
    parse.refuses(R"(,"kernelpath":"/sys/class/net/eth1")",
                  "kernel device path \"/sys/class/net/eth1\" must be absolute and begin with /sys/devices/");
    parse.refuses(R"(,"kernelpath":"sys/devices/x")",
                  "kernel device path \"sys/devices/x\" must be absolute and begin with /sys/devices/");
    parse.refuses(R"(,"hwaddr":"zz:bb:cc:dd:ee:ff")", "invalid MAC address \"zz:bb:cc:dd:ee:ff\" in hwaddr");
    // Nothing may lead out of /sys/devices/ or /sys/bus/pci/devices/.
    for (const char* kp : {"/sys/devices/../../etc", "/sys/devices/pci0000:00/..", "/sys/devices/a/../../b"})
        parse.refuses(std::string(R"(,"kernelpath":")") + kp + "\"",
                      std::string("kernel device path \"") + kp + "\" must not contain \"..\"");
    Conf dots;
    REQUIRE_FALSE(parse(R"(,"kernelpath":"/sys/devices/a..b/...")", dots));
    for (const char* id : {"../../../etc", "0000:00:03.0/../..", "..", ".hidden", "a b", "x/y"})
        parse.refuses(std::string(R"(,"pciBusID":")") + id + "\"",
                      std::string("invalid device ID \"") + id +
                          "\" in pciBusID or runtimeConfig.deviceID: a PCI address such as 0000:04:00.5");
    parse.refuses(R"(,"runtimeConfig":{"deviceID":"../../x"})",
                  "invalid device ID \"../../x\" in pciBusID or runtimeConfig.deviceID: a PCI address such as "
                  "0000:04:00.5");
    Conf aux;
    REQUIRE_FALSE(parse(R"(,"runtimeConfig":{"deviceID":"mlx5_core.sf.4"})", aux));
    // DEL keeps what it was given.
    Conf lax;
    REQUIRE_FALSE(parse(R"(,"hwaddr":"AA-BB","kernelpath":"/x")", lax, false));
    CHECK(lax.hwaddr == "AA-BB");
    CHECK(lax.kernelpath == "/x");
}

TEST_CASE("host-device config: runtimeConfig.deviceID replaces pciBusID", "[applet][host-device]") {
    Conf c;
    REQUIRE_FALSE(parse(R"(,"pciBusID":"0000:00:03.0","runtimeConfig":{"deviceID":"0000:00:04.0"})", c));
    CHECK(c.pciBusID == "0000:00:04.0");
    Conf alone;
    REQUIRE_FALSE(parse(R"(,"runtimeConfig":{"deviceID":"0000:00:04.0"})", alone));
    CHECK(alone.pciBusID == "0000:00:04.0");
    // An empty or non-string deviceID is no deviceID.
    Conf empty;
    REQUIRE_FALSE(parse(R"(,"pciBusID":"0000:00:03.0","runtimeConfig":{"deviceID":""})", empty));
    CHECK(empty.pciBusID == "0000:00:03.0");
    Conf number;
    REQUIRE_FALSE(parse(R"(,"pciBusID":"0000:00:03.0","runtimeConfig":{"deviceID":4})", number));
    CHECK(number.pciBusID == "0000:00:03.0");
    parse.refuses(R"(,"runtimeConfig":{"deviceID":4})",
                  "specify either \"device\", \"hwaddr\", \"kernelpath\" or \"pciBusID\"");
}
