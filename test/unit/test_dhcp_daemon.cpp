// src/dhcp/daemon: the flags as Go's flag package reads them, Go durations,
// the fields of ADD/CHECK/DEL requests, and the lease schedule (phases,
// retries after failed renewals, acquire backoff).
#include <stdlib.h>

#include <chrono>
#include <string>
#include <vector>

#include "dhcp/daemon.h"
#include "helpers.h"

using dhcp::DaemonOptions;
using dhcp::LeasePhase;
using dhcp::LeaseTimes;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

namespace {

// argv for parseDaemonFlags: "cnibox-dhcp daemon" and `args`.
util::Error parse(std::vector<std::string> args, DaemonOptions& out) {
    args.insert(args.begin(), {"dhcp", "daemon"});
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    return dhcp::parseDaemonFlags(static_cast<int>(args.size()), argv.data(), out);
}

milliseconds dur(std::string_view s) {
    milliseconds d{-12345};
    REQUIRE(dhcp::parseGoDuration(s, d));
    return d;
}

}  // namespace

TEST_CASE("daemon flags: defaults", "[dhcp]") {
    unsetenv("CNIBOX_DHCP_TIME_SCALE");
    DaemonOptions o;
    REQUIRE(parse({}, o).ok());
    CHECK(o.socketPath == "/run/cni/dhcp.sock");
    CHECK(o.stateDir == "/var/lib/cni/dhcp");
    CHECK(o.pidFile.empty());
    CHECK(o.hostPrefix.empty());
    CHECK_FALSE(o.broadcast);
    CHECK(o.timeout == 10s);
    CHECK(o.resendMax == 62s);
    CHECK(o.resendTimeout == 208s);
    CHECK(o.timeScale == 1);
}

TEST_CASE("daemon flags: every form Go accepts", "[dhcp]") {
    unsetenv("CNIBOX_DHCP_TIME_SCALE");
    DaemonOptions o;
    REQUIRE(parse({"-socketpath", "/tmp/a.sock", "--pidfile=/run/d.pid", "--hostprefix", "/host", "-broadcast",
                   "-timeout=1m30s", "--resendmax", "500ms", "-resendtimeout=2s", "-statedir", "/s"},
                  o)
                .ok());
    CHECK(o.socketPath == "/tmp/a.sock");
    CHECK(o.pidFile == "/run/d.pid");
    CHECK(o.hostPrefix == "/host");
    CHECK(o.broadcast);
    CHECK(o.timeout == 90s);
    CHECK(o.resendMax == 500ms);
    CHECK(o.resendTimeout == 2s);
    CHECK(o.stateDir == "/s");

    DaemonOptions b;
    REQUIRE(parse({"-broadcast=false"}, b).ok());
    CHECK_FALSE(b.broadcast);
    REQUIRE(parse({"--broadcast=T"}, b).ok());
    CHECK(b.broadcast);
    // A bool flag takes no separate value: "true" ends the flags.
    DaemonOptions c;
    REQUIRE(parse({"-broadcast", "true", "-timeout", "bad"}, c).ok());
    CHECK(c.broadcast);
    CHECK(c.timeout == 10s);
    // "--" and the first non-flag end the flags.
    DaemonOptions d;
    REQUIRE(parse({"--", "-nosuch"}, d).ok());
    REQUIRE(parse({"extra", "-nosuch"}, d).ok());
    // An empty socket path is the default, as upstream.
    REQUIRE(parse({"-socketpath="}, d).ok());
    CHECK(d.socketPath == "/run/cni/dhcp.sock");
}

TEST_CASE("daemon flags: errors name the flag", "[dhcp]") {
    unsetenv("CNIBOX_DHCP_TIME_SCALE");
    DaemonOptions o;
    auto e = parse({"-nosuch", "x"}, o);
    CHECK(e.code == 7);
    CHECK(e.msg == "flag provided but not defined: -nosuch");
    e = parse({"-timeout", "10"}, o);
    CHECK(e.code == 7);
    CHECK(e.msg == "invalid value \"10\" for flag -timeout: parse error");
    e = parse({"-resendmax=1x"}, o);
    CHECK(e.msg == "invalid value \"1x\" for flag -resendmax: parse error");
    e = parse({"-resendtimeout=-1s"}, o);
    CHECK(e.msg == "invalid value \"-1s\" for flag -resendtimeout: not a positive duration");
    e = parse({"-socketpath"}, o);
    CHECK(e.msg == "flag needs an argument: -socketpath");
    e = parse({"-broadcast=maybe"}, o);
    CHECK(e.msg == "invalid boolean value \"maybe\" for -broadcast: parse error");
    e = parse({"---timeout=1s"}, o);
    CHECK(e.msg == "bad flag syntax: ---timeout=1s");
}

TEST_CASE("daemon flags: CNIBOX_DHCP_TIME_SCALE", "[dhcp]") {
    DaemonOptions o;
    setenv("CNIBOX_DHCP_TIME_SCALE", "20", 1);
    REQUIRE(parse({}, o).ok());
    CHECK(o.timeScale == 20);
    for (const char* bad : {"0", "-2", "x", "3s"}) {
        setenv("CNIBOX_DHCP_TIME_SCALE", bad, 1);
        CHECK(parse({}, o).code == 7);
    }
    unsetenv("CNIBOX_DHCP_TIME_SCALE");
}

TEST_CASE("Go durations", "[dhcp]") {
    CHECK(dur("0") == 0ms);
    CHECK(dur("10s") == 10s);
    CHECK(dur("1m30s") == 90s);
    CHECK(dur("1.5s") == 1500ms);
    CHECK(dur("0.1s") == 100ms);
    CHECK(dur(".5m") == 30s);
    CHECK(dur("1h2m3s4ms") == milliseconds(3723004));
    CHECK(dur("2500us") == 2ms);
    CHECK(dur("1500000ns") == 1ms);
    CHECK(dur("+3ms") == 3ms);
    CHECK(dur("-1.5h") == -milliseconds(5400000));
    milliseconds d{};
    for (const char* bad : {"", "10", "1.5", "s", ".s", "1x", "1s2", "-", "1e3s", "9999999999999999999h", "3000000h"})
        CHECK_FALSE(dhcp::parseGoDuration(bad, d));
}

TEST_CASE("attach requests", "[dhcp]") {
    dhcp::Block b;
    b.head = "ADD";
    b.add("network", "net1");
    b.add("container-id", "c1");
    b.add("ifname", "eth0");
    dhcp::AttachRequest q;
    auto e = dhcp::parseAttachRequest(b, true, q);
    CHECK(e.code == 6);
    CHECK(e.msg == "ADD request without \"netns\"");
    REQUIRE(dhcp::parseAttachRequest(b, false, q).ok());
    CHECK(q.clientID == std::string("\0c1/net1/eth0", 13));
    CHECK(q.requestList.empty());
    CHECK(q.provide.empty());

    b.add("netns", "/run/netns/x");
    b.add("client-id", "00616263");
    b.add("request", "1 3 121");
    b.add("provide", "12 686f7374");
    b.add("provide", "60 76");
    REQUIRE(dhcp::parseAttachRequest(b, true, q).ok());
    CHECK(q.netns == "/run/netns/x");
    CHECK(q.clientID == std::string("\0abc", 4));
    CHECK(q.requestList == std::vector<uint8_t>{1, 3, 121});
    CHECK(q.provide.size() == 2);
    CHECK(q.provide[12] == "host");

    dhcp::Block bad = b;
    bad.add("provide", "300 00");
    CHECK(dhcp::parseAttachRequest(bad, true, q).msg == "ADD request: bad \"provide\" field: \"300 00\"");
    bad = b;
    bad.fields[4].second = "0g";
    CHECK(dhcp::parseAttachRequest(bad, true, q).msg == "ADD request: bad \"client-id\" field: \"0g\"");
    bad = b;
    bad.fields[5].second = "1  3";
    CHECK(dhcp::parseAttachRequest(bad, true, q).code == 6);
    bad = b;
    bad.fields[0].second = "";
    CHECK(dhcp::parseAttachRequest(bad, true, q).msg == "ADD request without \"network\"");
}

TEST_CASE("lease schedule: phases", "[dhcp]") {
    LeaseTimes t = dhcp::scaleLeaseTimes(60, 105, 120, 1);
    CHECK(t.t1 == 60s);
    CHECK(t.t2 == 105s);
    CHECK(t.expiry == 120s);
    CHECK(dhcp::leasePhase(0ms, t) == LeasePhase::Bound);
    CHECK(dhcp::leasePhase(59999ms, t) == LeasePhase::Bound);
    CHECK(dhcp::leasePhase(60s, t) == LeasePhase::Renewing);
    CHECK(dhcp::leasePhase(105s, t) == LeasePhase::Rebinding);
    CHECK(dhcp::leasePhase(120s, t) == LeasePhase::Expired);
    CHECK(dhcp::leasePhase(1h, t) == LeasePhase::Expired);

    LeaseTimes s = dhcp::scaleLeaseTimes(60, 105, 120, 20);
    CHECK(s.t1 == 3s);
    CHECK(s.t2 == 5250ms);
    CHECK(s.expiry == 6s);
    // A zeroed (expired) record.
    CHECK(dhcp::leasePhase(0ms, dhcp::scaleLeaseTimes(0, 0, 0, 1)) == LeasePhase::Expired);
}

TEST_CASE("lease schedule: retries after failed renewals", "[dhcp]") {
    // One hour: T1 30 min, T2 52.5 min.
    LeaseTimes t = dhcp::scaleLeaseTimes(1800, 3150, 3600, 1);
    // Half the time left to T2...
    CHECK(dhcp::retryWait(LeasePhase::Renewing, 1800s, t, 60s) == milliseconds(675000));
    // ...at least the floor...
    CHECK(dhcp::retryWait(LeasePhase::Renewing, 3100s, t, 60s) == 50s);  // but never past T2
    CHECK(dhcp::retryWait(LeasePhase::Renewing, 3000s, t, 60s) == 75s);
    CHECK(dhcp::retryWait(LeasePhase::Renewing, 3060s, t, 60s) == 60s);
    // A renewal that gave up at T2: the rebinding comes at once...
    CHECK(dhcp::retryWait(LeasePhase::Renewing, 3150s, t, 60s) == 0ms);
    CHECK(dhcp::retryWait(LeasePhase::Renewing, 3200s, t, 60s) == 0ms);
    // ...then its retries go toward the expiry.
    CHECK(dhcp::retryWait(LeasePhase::Rebinding, 3150s, t, 60s) == 225s);
    CHECK(dhcp::retryWait(LeasePhase::Rebinding, 3590s, t, 60s) == 10s);
    CHECK(dhcp::retryWait(LeasePhase::Rebinding, 3600s, t, 60s) == 0ms);
    // The floor scales with the times.
    CHECK(dhcp::retryWait(LeasePhase::Renewing, 3100s, t, 3s) == 25s);
}

TEST_CASE("acquire backoff", "[dhcp]") {
    CHECK(dhcp::acquireRetryDelay(1, 62s) == 2s);
    CHECK(dhcp::acquireRetryDelay(4, 62s) == 2s);
    CHECK(dhcp::acquireRetryDelay(5, 62s) == 4s);
    CHECK(dhcp::acquireRetryDelay(6, 62s) == 8s);
    CHECK(dhcp::acquireRetryDelay(9, 62s) == 62s);
    CHECK(dhcp::acquireRetryDelay(50, 62s) == 62s);
    CHECK(dhcp::acquireRetryDelay(7, 10s) == 10s);
}
