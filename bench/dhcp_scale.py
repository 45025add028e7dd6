#!/usr/bin/env python3
"""The dhcp daemon holding many leases: cnibox's daemon with --leases
attachments (default 1000), the reference daemon (/usr/lib/cni/dhcp) with
--ref-leases (default 100; each of its ADDs takes seconds), each against its
own dnsmasq (--dhcp-lease-max above its default of 1000, 2-minute leases,
--no-ping) in a namespace.

Attachments are macvlan links (ifnames eth0..ethN) in a few container
namespaces, made by the macvlan plugin's ADD exec'd from the host namespace
by a few parallel "runtimes". Measured on the daemon's process:
  - RSS (VmRSS) and descriptors with as many leases as the reference
    holds and with all of them; the
    descriptors show that no packet socket stays open between exchanges;
  - idle: CPU time and context switches from the last ADD until just
    before the first renewal is due (a daemon that polls shows here);
  - renewals: each lease's renewal time, read back from dnsmasq's lease
    file (a renewal moves the expiry to renewal + lease time), against its
    due time T1 = ACK + lease/2, the renewals the daemon had to retry (see
    neigh_note), and the CPU the renewals took;
  - DEL of every attachment (each sends a DHCPRELEASE): dnsmasq's lease
    file is empty after the last one returns.

The server runs on the same kernel as the containers, and a kernel has one
neighbour table for all its namespaces (gc_thresh3 entries, 1024 by
default): with dynamic ARP entries a lease needs two of them at its renewal
(the server's for the client, the client's for the server), more than the
table holds at 1000 leases, and replies are dropped (see neigh_note). So
after the ADDs the server gets a permanent entry per leased address (which
the table does not count, and no ARP exchange happens); --dynamic-arp leaves
them out to show the other case.

--time-scale S runs cnibox's daemon with the test-only CNIBOX_DHCP_TIME_SCALE
(lease times S times shorter: renewals come after 60/S s instead of 60 s).

Run through bench/run, or: python3 bench/dhcp_scale.py --cnibox PATH.
Namespaces are named cbt-bench-ds-* (bench/dhcpnet.py) and removed at the end, also on failure.
"""
import argparse
import calendar
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnibench as cb  # noqa: E402
from dhcpnet import REF, Lan, sh  # noqa: E402

LEASE_S = 120          # dnsmasq's lease time (its minimum)
PER_NS = 25            # attachments per container namespace
WORKERS = 4            # parallel runtimes
REF_WORKERS = 16       # the reference's ADD waits seconds (its link-down retry)
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
SERVER = ("10.80.0.1/20", f"10.80.1.0,10.80.14.255,255.255.240.0,{LEASE_S}s")


class Proc:
    """What /proc says about one process."""

    def __init__(self, pid):
        self.pid = pid

    def status(self, key):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        raise KeyError(key)

    def rss_kib(self):
        return self.status("VmRSS")

    def switches(self):
        return self.status("voluntary_ctxt_switches") + self.status("nonvoluntary_ctxt_switches")

    def cpu_ms(self):
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * TICK_MS   # utime + stime

    def fds(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))


class Side(Lan):
    """A LAN with n attachments' container namespaces (PER_NS links each)."""

    def __init__(self, tag, bindir, work, n, ref=False, scale=1):
        env = {"CNIBOX_DHCP_TIME_SCALE": str(scale)} if scale != 1 else {}
        super().__init__(f"ds-{tag}", bindir, work, SERVER, ref=ref, env=env,
                         extra=[f"--dhcp-lease-max={max(2 * n, 2000)}"])
        self.daemon = Proc(self.daemon_pid)
        self.added = {}    # client id (dnsmasq's hex) -> time the ADD returned
        self.hw = {}       # leased address -> the link's MAC
        try:
            self.ctrs = [self.add_ns(f"c{i}") for i in range((n + PER_NS - 1) // PER_NS)]
            # PER_NS links of one namespace on one LAN: each answers ARP
            # only for its own address (arp_ignore=1), or the server's
            # unicast reply to a renewal may go to a sibling link's MAC.
            for ns in self.ctrs:
                sh("ip", "netns", "exec", ns, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore")
        except BaseException:
            self.close()
            raise
        self.conf_dhcp = self.dhcp()

    def attachment(self, i):
        return f"/run/netns/{self.ctrs[i // PER_NS]}", f"eth{i % PER_NS}", f"ds{i}"

    def _exec(self, cmd, i):
        netns, ifname, cid = self.attachment(i)
        env = cb.cni_env(cmd, netns, self.bindir, cid=cid, ifname=ifname)
        r = cb.run(os.path.join(self.bindir, "macvlan"), env, json.dumps(self.conf_dhcp).encode())
        cb.check(r, f"{self.tag} {cmd} {i}")
        if cmd == "ADD":
            key = b"\0" + f"{cid}/lan/{ifname}".encode()
            self.added[":".join(f"{b:02x}" for b in key)] = time.time()
            res = json.loads(r.out)
            self.hw[res["ips"][0]["address"].split("/")[0]] = res["interfaces"][0]["mac"]
        return r.ms

    def server_arp(self):
        """A permanent neighbour entry on srv0 for every leased address (see --dynamic-arp)."""
        lines = "".join(f"neigh replace {ip} lladdr {mac} dev srv0 nud permanent\n" for ip, mac in self.hw.items())
        subprocess.run(["ip", "-n", self.srv, "-batch", "-"], input=lines.encode(), check=True, capture_output=True)

    def run_all(self, cmd, idx, workers=WORKERS):
        """cmd for each attachment in idx, workers at a time, from the host namespace; ms each."""
        def pool():
            with concurrent.futures.ThreadPoolExecutor(workers) as p:
                return list(p.map(lambda i: self._exec(cmd, i), idx))
        return self.in_host(pool)


def held(side, n_more, workers=WORKERS):
    """ADD n_more attachments; the daemon's figures once it holds them."""
    start = len(side.added)
    t0 = time.time()
    ms = side.run_all("ADD", range(start, start + n_more), workers)
    return {"leases": len(side.added), "add_s": time.time() - t0, "add_med_ms": cb.med(ms),
            "rss_kib": side.daemon.rss_kib(), "fds": side.daemon.fds()}


def daemon_lateness(log, t1):
    """From the daemon's log (1 s resolution): each lease's first "renewing"
    line against its "acquired" line plus T1, in seconds."""
    def when(line):
        return calendar.timegm(time.strptime(line.split(" ", 1)[0], "%Y-%m-%dT%H:%M:%SZ"))
    got, late = {}, []
    for line in log:
        parts = line.split(" ", 3)
        if len(parts) < 4:
            continue
        who, what = parts[1], parts[2] + " " + parts[3]
        if what.startswith("lease of ") and " acquired " in what:
            got[who] = when(line)
        elif what.startswith("renewing ") and who in got:
            late.append(when(line) - got.pop(who) - t1)
    return sorted(late)


def neigh_note(n, res):
    """Why renewals may be retried with many leases on one kernel: every
    lease needs two ARP entries during its renewal (the server's for the
    client, the client's for the server), and the neighbour table's limit
    (gc_thresh3) is one for the whole kernel, every namespace's entries
    counted together; a reply whose entry finds no room is dropped, and the
    daemon asks again."""
    if not res["renew_failed"]:
        return ""
    try:
        with open("/proc/sys/net/ipv4/neigh/default/gc_thresh3") as f:
            limit = int(f.read())
    except OSError:
        return ""
    if 2 * n <= limit:
        return ""
    return f" (the kernel's neighbour table holds {limit} entries for all namespaces; {n} leases need {2 * n})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cnibox", required=True)
    ap.add_argument("--leases", type=int, default=1000)
    ap.add_argument("--ref-leases", type=int, default=100)
    ap.add_argument("--time-scale", type=int, default=1)
    ap.add_argument("--dynamic-arp", action="store_true",
                    help="leave the server's ARP entries dynamic (more renewals retried, see neigh_note)")
    a = ap.parse_args()
    if not 1 <= a.ref_leases < a.leases:
        ap.error("--ref-leases must be at least 1 and fewer than --leases")
    work = tempfile.mkdtemp(prefix="cbt-bench-ds-")
    bindir = os.path.join(work, "bin")
    os.makedirs(bindir)
    subprocess.run([a.cnibox, "--install", bindir], check=True, capture_output=True)
    sides = []
    res = {}
    try:
        # The reference first: its leases renew in the background while ours are measured.
        ref = Side("ref", REF, work, a.ref_leases, ref=True)
        sides.append(ref)
        res["ref"] = held(ref, a.ref_leases, REF_WORKERS)
        box = Side("box", bindir, work, a.leases, scale=a.time_scale)
        sides.append(box)
        first = time.time()
        res["box100"] = held(box, a.ref_leases)
        res["box"] = held(box, a.leases - a.ref_leases)
        last = time.time()
        if not a.dynamic_arp:
            box.server_arp()
        t1 = LEASE_S / 2 / a.time_scale
        # Idle: from just after the last ADD to just before the first renewal is due.
        idle_end = first + t1 - 1
        if idle_end - last >= 2:
            time.sleep(1)
            c0, s0, w0 = box.daemon.cpu_ms(), box.daemon.switches(), time.time()
            time.sleep(idle_end - time.time())
            res["idle"] = (time.time() - w0, box.daemon.cpu_ms() - c0, box.daemon.switches() - s0)
        # Renewals: all due by last + T1; give them 3 s more.
        c0 = box.daemon.cpu_ms()
        time.sleep(max(0.0, last + t1 + 3 - time.time()))
        res["renew_cpu_ms"] = box.daemon.cpu_ms() - c0
        leases = box.leases()
        late = []
        for cid, added in box.added.items():
            exp = leases.get(cid)
            if exp is None:
                continue
            # The last renewal's time against the due time nearest to it
            # (with --time-scale a lease renews many times); an unrenewed
            # lease shows as T1 early.
            since = (exp - LEASE_S) - added
            k = max(1, round(since / t1))
            late.append(since - k * t1)
        res["renewed"] = sum(1 for x in late if x > -t1 / 2)
        res["on_time"] = sum(1 for x in late if -t1 / 2 < x < 2)
        with open(box.daemon_log, errors="replace") as f:
            log = f.read().splitlines()
        res["renew_failed"] = sum(1 for line in log if " renewal failed: " in line)
        res["sent_late"] = daemon_lateness(log, t1)
        res["late"] = late
        res["rss_after_renew"] = box.daemon.rss_kib()
        t0 = time.time()
        res["del_med_ms"] = cb.med(box.run_all("DEL", range(a.leases)))
        res["del_s"] = time.time() - t0
        time.sleep(0.5)
        res["left"] = len(box.leases())
        res["rss_after_del"] = box.daemon.rss_kib()
        res["fds_after_del"] = box.daemon.fds()
        ref.run_all("DEL", range(a.ref_leases))
    finally:
        for s in sides:
            s.close()
        shutil.rmtree(work, ignore_errors=True)

    n = a.leases
    r, b100, b = res["ref"], res["box100"], res["box"]
    mib = lambda k: f"{k / 1024:.1f} MiB"  # noqa: E731
    print(f"| dhcp daemon holding leases (dnsmasq, {LEASE_S} s leases) | reference | cnibox | |")
    print("|---|---:|---:|---|")
    print(f"| RSS with {r['leases']} leases | {mib(r['rss_kib'])} | {mib(b100['rss_kib'])} | |")
    print(f"| RSS with {n} leases | | {mib(b['rss_kib'])} | target < 8 MiB |")
    print(f"| descriptors with {r['leases']} / {n} leases | {r['fds']} | {b100['fds']} / {b['fds']} | "
          "no socket held between exchanges |")
    print(f"| ADD, median ({REF_WORKERS} / {WORKERS} runtimes at once) | {r['add_med_ms']:.0f} ms | "
          f"{(b100['add_med_ms'] + b['add_med_ms']) / 2:.1f} ms | all {n}: {b100['add_s'] + b['add_s']:.1f} s |")
    if "idle" in res:
        w, cpu, sw = res["idle"]
        print(f"| idle between renewals ({w:.0f} s, {n} leases) | | {cpu:.0f} ms CPU, {sw} wakeups | |")
    late = sorted(res["late"])
    if late:
        sl = res["sent_late"]
        if sl:
            print(f"| renewals sent at T1 ({t1:.0f} s), daemon's log | | {len(sl)} sent; "
                  f"{sum(1 for x in sl if abs(x) <= 1)} within 1 s of T1, latest {sl[-1]:+.0f} s | "
                  "log has 1 s resolution |")
        print(f"| renewals acked, dnsmasq's lease file | | {res['renewed']} of {n} renewed, {res['on_time']} within 2 s; "
              f"lateness median {late[len(late) // 2]:+.1f} s, max {late[-1]:+.1f} s | "
              f"lease file has 1 s resolution; {res['renew_failed']} renewals retried{neigh_note(n, res)} |")
    print(f"| CPU for {n} renewals | | {res['renew_cpu_ms']:.0f} ms | |")
    print(f"| RSS after the renewals / after DEL of all | | {mib(res['rss_after_renew'])} / "
          f"{mib(res['rss_after_del'])} | |")
    print(f"| DEL (with release), median / all {n} | | {res['del_med_ms']:.1f} ms / {res['del_s']:.1f} s | "
          f"{res['left']} leases left in dnsmasq, {res['fds_after_del']} descriptors |")
    ok = b["rss_kib"] < 8 * 1024 and res["renewed"] == n and res["left"] == 0
    if not ok:
        print("dhcp_scale: a target was missed (RSS < 8 MiB, every lease renewed, none left)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
