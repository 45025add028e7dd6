// `dhcp daemon`: one process per node that acquires and keeps the DHCP
// leases of every attachment whose IPAM is dhcp, serving the applet over a
// unix socket (protocol.h) from one event loop (loop.h): no thread or
// process per lease.
//
// Requests (fields as protocol.h writes them):
//   ADD, CHECK, DEL:  network, container-id, ifname, netns (CNI_NETNS as the
//                     runtime gave it), client-id (hex of option 61 as sent),
//                     request (the codes of option 55, space-separated
//                     decimal), provide (repeated: "<code> <hex>")
//   GC:               network, keep (repeated: "<container-id>/<ifname>")
//   STATUS:           none
// Replies to ADD and CHECK: address ("10.0.0.5/24") and option (repeated:
// "<code> <hex>", every option of the lease's ACK).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dhcp/protocol.h"
#include "util/error.h"

namespace dhcp {

using util::Error;

struct DaemonOptions {
    std::string socketPath = "/run/cni/dhcp.sock";   // -socketpath
    std::string pidFile;                             // -pidfile; empty: none
    std::string hostPrefix;                          // -hostprefix: prepended to netns paths
    std::string stateDir = "/var/lib/cni/dhcp";      // -statedir (ours)
    bool broadcast = false;                          // -broadcast
    std::chrono::milliseconds timeout{std::chrono::seconds(10)};        // -timeout
    std::chrono::milliseconds resendMax{std::chrono::seconds(62)};      // -resendmax
    std::chrono::milliseconds resendTimeout{std::chrono::seconds(208)}; // -resendtimeout
    // Test-only: lease times (T1, T2, expiry) divided by this factor, from
    // $CNIBOX_DHCP_TIME_SCALE; 1 in production.
    unsigned timeScale = 1;
};

// The daemon's flags as Go's flag package reads them ("-socketpath X",
// "-socketpath=X", "--socketpath X"; durations as Go writes them: "10s",
// "1m30s", "500ms"; a bare "-broadcast" is true). argv[0] is the program,
// argv[1] "daemon". Errors (code 7) name the flag.
Error parseDaemonFlags(int argc, char** argv, DaemonOptions& out);

// Runs the daemon until SIGTERM or SIGINT; the exit status of the process.
int runDaemon(const DaemonOptions& o);

// ---- the pieces of the daemon that are pure computation (tested alone)

// Go's time.ParseDuration ("1h2m3.5s", "300ms", "-1.5h", "0"), truncated to
// whole milliseconds; false for anything Go rejects.
bool parseGoDuration(std::string_view s, std::chrono::milliseconds& out);

// The fields of an ADD, CHECK or DEL request (see the top of this file).
struct AttachRequest {
    std::string network, containerID, ifname, netns;
    std::string clientID;                      // option 61's bytes; default: type 0 + defaultClientID()
    std::vector<uint8_t> requestList;          // option 55
    std::map<uint8_t, std::string> provide;
};
// Errors (code 6) name the field: network, container-id and ifname are
// required, netns too when `needNetns`; hex and codes must parse.
Error parseAttachRequest(const Block& b, bool needNetns, AttachRequest& out);

// A lease's T1, T2 and expiry counted from its acquisition, each divided by
// the time scale.
struct LeaseTimes {
    std::chrono::milliseconds t1{}, t2{}, expiry{};
};
LeaseTimes scaleLeaseTimes(uint32_t t1Seconds, uint32_t t2Seconds, uint32_t leaseSeconds, unsigned scale);

enum class LeasePhase { Bound, Renewing, Rebinding, Expired };
// Where a lease stands `elapsed` after its acquisition: before T1 bound,
// from T1 renewing, from T2 rebinding, from the expiry expired.
LeasePhase leasePhase(std::chrono::milliseconds elapsed, const LeaseTimes& t);
// The wait before the next try after an exchange of `failed` (Renewing or
// Rebinding) failed at `elapsed`: half the time left to the end of that
// phase (T2, or the expiry), at least `floor`, never beyond that end (0 once
// there: a renewal that gave up at T2 is followed by a rebinding at once).
std::chrono::milliseconds retryWait(LeasePhase failed, std::chrono::milliseconds elapsed, const LeaseTimes& t,
                                    std::chrono::milliseconds floor);
// The pause before the next acquire attempt after `failed` attempts timed
// out (upstream's backoff, without its jitter): 2 s for the first four, then
// 4 s doubling up to `resendMax`.
std::chrono::milliseconds acquireRetryDelay(int failed, std::chrono::milliseconds resendMax);

}  // namespace dhcp
