#!/usr/bin/env python3
"""Soak: many ADD+DEL cycles of the chains users run, by parallel workers
with failures injected, then: nothing leaked, no shared rule twice, the dhcp
daemon's memory and descriptors flat, and ADD latency at the end within a
tolerance of the start. Needs root; everything happens in namespaces it
makes (cbt-soak-*) and removes.

    python3 bench/soak.py [--cycles 20000] [--workers 8] [--fail 0.1] [--json FILE]

cnibox: $CNIBOX (default build/cnibox), run through cnitool as the runtime
(its result cache included), every chain in one "host" namespace:

  bridge-nft   bridge (ipMasq, host-local) -> portmap -> firewall -> tuning
               -> bandwidth, on nftables
  bridge-ipt   the same on iptables
  macvlan-dhcp macvlan with dhcp IPAM (a daemon; dnsmasq on a LAN namespace)
  ptp-sbr      ptp (host-local) -> sbr
  flannel      flannel (-> bridge in-process) -> portmap on nftables

A cycle makes a container namespace, ADDs one chain (round robin over the
cycles), DELs it and removes the namespace. With probability --fail a cycle
gets one injected failure instead: the chain with a foreign plugin at its end
that fails (the runtime then DELs the half-made attachment), or the
container's namespace deleted before the DEL.

ADD latency: the p50 and p99 of each chain's ADDs in the first and in the
last tenth of the run (cycles with injected failures left out).
Exit status 1 when anything leaked, a shared rule is there twice, the
daemon's RSS or descriptors grew, or a chain's p50 drifted past --drift.
"""
import argparse
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "lib"))
import cnitest  # noqa: E402
from dhcplan import fast_lan  # noqa: E402

CHAINS = ("bridge-nft", "bridge-ipt", "macvlan-dhcp", "ptp-sbr", "flannel")
FAIL_PLUGIN = "soakfail"


def conflists(work, sock):
    d = work
    env = os.path.join(d, "subnet.env")
    with open(env, "w") as f:
        f.write("FLANNEL_NETWORK=10.91.0.0/16\nFLANNEL_SUBNET=10.91.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n")

    def bridge(backend, n):
        return cnitest.users_chain(d, backend, f"cbtsoak{n}", f"10.9{n}.0.0/16", 80000000)
    return {
        "bridge-nft": bridge("nftables", 2),
        "bridge-ipt": bridge("iptables", 3),
        "macvlan-dhcp": [{"type": "macvlan", "master": "lan0", "ipam": {"type": "dhcp", "daemonSocketPath": sock}}],
        "ptp-sbr": [{"type": "ptp", "ipam": {"type": "host-local", "dataDir": os.path.join(d, "ipam"),
                                             "ranges": [[{"subnet": "10.94.0.0/16"}]]}}, {"type": "sbr"}],
        "flannel": [{"type": "flannel", "subnetFile": env, "dataDir": os.path.join(d, "flannel"),
                     "ipam": {"dataDir": os.path.join(d, "ipam")}, "delegate": {"bridge": "cbtsoakfl"}},
                    {"type": "portmap", "capabilities": {"portMappings": True}, "backend": "nftables",
                     "dataDir": os.path.join(d, "portmap")}],
    }


class Runtime:
    """One NETCONFPATH per chain (and per chain with the failing plugin at
    its end), one cache, one CNI_PATH of applets plus the failing plugin."""

    def __init__(self, work, host, lists):
        self.work, self.host = work, host
        self.bin = os.path.join(work, "bin")
        shutil.copytree(cnitest.cnibox_dir(), self.bin, symlinks=True)
        with open(os.path.join(self.bin, FAIL_PLUGIN), "w") as f:
            # a foreign plugin: fails its ADD (code 11), succeeds on everything else
            f.write('#!/bin/sh\ncat >/dev/null\nif [ "$CNI_COMMAND" = ADD ]; then\n'
                    '  echo \'{"cniVersion":"1.1.0","code":11,"msg":"soakfail: injected failure"}\'; exit 1\nfi\n'
                    'if [ "$CNI_COMMAND" = VERSION ]; then echo \'{"cniVersion":"1.1.0","supportedVersions":'
                    '["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\'; fi\nexit 0\n')
        os.chmod(os.path.join(self.bin, FAIL_PLUGIN), 0o755)
        self.cache = os.path.join(work, "cache")
        self.dirs = {}
        for name, plugins in lists.items():
            for failing in (False, True):
                d = os.path.join(work, "net.d", name + ("-fail" if failing else ""))
                os.makedirs(d)
                ps = plugins + ([{"type": FAIL_PLUGIN}] if failing else [])
                with open(os.path.join(d, "10-soak.conflist"), "w") as f:
                    json.dump({"cniVersion": "1.1.0", "name": "soak-" + name, "plugins": ps}, f)
                self.dirs[(name, failing)] = d

    def cnitool(self, cmd, chain, netns_path, failing=False, port=None):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NETCONFPATH": self.dirs[(chain, failing)],
               "CNI_PATH": self.bin, "CNI_CACHE_DIR": self.cache}
        if port:
            env["CAP_ARGS"] = json.dumps({"portMappings": [{"hostPort": port, "containerPort": 80,
                                                              "protocol": "tcp"}]})
        argv = ["ip", "netns", "exec", self.host.name, "env", "-i"] + [f"{k}={v}" for k, v in env.items()] + \
            [os.path.join(self.bin, "cnitool"), cmd, "soak-" + chain, netns_path]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120)


class Sandbox:
    """A container's network namespace, made and removed with one `ip`
    each (lo stays down: no chain here needs it)."""

    def __init__(self, tag):
        self.name = f"cbt-soak-{tag}-{os.getpid()}-{secrets.token_hex(4)}"
        self.path = f"/run/netns/{self.name}"
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)

    def delete(self):
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True)


def proc_sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def nf_rules(host):
    out = host.multi(["nft list ruleset", "iptables-legacy-save", "ip6tables-legacy-save"], check=False)
    text = re.sub(r"counter packets \d+ bytes \d+", "counter", "\n".join(out))
    text = re.sub(r"\[\d+:\d+\]", "", text)
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--fail", type=float, default=0.1, help="share of cycles with an injected failure")
    ap.add_argument("--drift", type=float, default=0.10, help="allowed p50 drift, end against start")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("soak: needs root (network namespaces)")
    work = tempfile.mkdtemp(prefix="cbt-soak-")
    made = []

    def make_ns(prefix="cbt-soak"):
        ns = cnitest.Netns(prefix if prefix.startswith("cbt-soak") else "cbt-soak-" + prefix.removeprefix("cbt-"))
        made.append(ns)
        return ns

    lan, daemon = fast_lan(make_ns, scale=10)
    host = lan.host
    # the host's own address on the LAN: the daemon releases from here the
    # lease of a container whose namespace went before its DEL
    host.sh("ip addr add 10.77.0.2/24 dev lan0")
    try:
        rt = Runtime(work, host, conflists(work, daemon.sock))
        # One warm-up ADD+DEL per chain: the shared state (bridges, chains) exists from here on.
        for c in CHAINS:
            ns = Sandbox("w")
            r = rt.cnitool("add", c, ns.path, port=40000)
            assert r.returncode == 0, (c, r.stderr)
            r = rt.cnitool("del", c, ns.path, port=40000)
            assert r.returncode == 0, (c, r.stderr)
            ns.delete()
        shared_links = set(host.links())
        base_rules = nf_rules(host)
        dpid = daemon.proc.pid
        samples = [(0, *proc_sample(dpid))]
        lat = {c: [] for c in CHAINS}          # (cycle, seconds) of clean ADDs
        errors, injected = [], {"foreign": 0, "netns-gone": 0}
        lock = threading.Lock()
        counter = iter(range(a.cycles))
        t0 = time.time()

        def worker(w):
            wr = random.Random(a.seed * 1000 + w)
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                chain = CHAINS[i % len(CHAINS)]
                fail = wr.random() < a.fail
                kind = wr.choice(("foreign", "netns-gone")) if fail else None
                port = 20000 + (i % 20000)
                ns = Sandbox("c")
                try:
                    s = time.monotonic()
                    r = rt.cnitool("add", chain, ns.path, failing=(kind == "foreign"), port=port)
                    took = time.monotonic() - s
                    if kind == "foreign":
                        if r.returncode == 0:
                            raise RuntimeError(f"{chain}: the failing plugin's ADD succeeded")
                    elif r.returncode != 0:
                        raise RuntimeError(f"{chain} ADD: {r.stderr.strip()[:300]}")
                    else:
                        with lock:
                            lat[chain].append((i, took))
                    if kind == "netns-gone":
                        ns.delete()
                    r = rt.cnitool("del", chain, ns.path, failing=(kind == "foreign"), port=port)
                    if r.returncode != 0:
                        raise RuntimeError(f"{chain} DEL ({kind or 'clean'}): {r.stderr.strip()[:300]}")
                    if kind:
                        with lock:
                            injected[kind] += 1
                except Exception as e:  # recorded; the run goes on
                    with lock:
                        errors.append(f"cycle {i}: {e}")
                finally:
                    ns.delete()
                if w == 0 and i % 200 == 0:
                    with lock:
                        samples.append((i, *proc_sample(dpid)))
                    done = sum(len(v) for v in lat.values())
                    print(f"soak: {i}/{a.cycles} cycles, {time.time() - t0:.0f}s, {done} clean ADDs, "
                          f"{len(errors)} errors", file=sys.stderr, flush=True)

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(a.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.time() - t0
        samples.append((a.cycles, *proc_sample(dpid)))

        # What must hold afterwards.
        time.sleep(1)
        leaks = []
        links = set(host.links())
        leaks += [f"host link {n}" for n in sorted(links - shared_links)]
        rules = nf_rules(host)
        gone = [r for r in base_rules if r not in rules]
        new = [r for r in rules if r not in base_rules]
        leaks += [f"rule {r}" for r in new] + [f"rule gone {r}" for r in gone]
        dups = sorted({r for r in rules if rules.count(r) > base_rules.count(r)})
        for sub in ("ipam", "portmap", "firewall", "tuning", "flannel", "cache"):
            for root, _, files in os.walk(os.path.join(work, sub)):
                # host-local's lock and range hints stay, as upstream's do, and
                # its index (.cnibox), which may name no container then
                for f in files:
                    p = os.path.join(root, f)
                    if "/.cnibox" in p:
                        with open(p, errors="replace") as fh:
                            if "cnitool-" in fh.read():
                                leaks.append(f"index entry in {p}")
                    elif f != "lock" and not f.startswith("last_reserved_ip."):
                        leaks.append(f"file {p}")
        leaks += [f"dnsmasq lease {l}" for l in lan.leases()]
        if os.path.isdir(daemon.state):
            leaks += [f"daemon record {f}" for f in os.listdir(daemon.state)]

        rows, drift_bad = [], []
        for c in CHAINS:
            xs = sorted(lat[c])
            n = max(1, len(xs) // 10)
            first, last = [t for _, t in xs[:n]], [t for _, t in xs[-n:]]
            p50s, p50e = statistics.median(first) * 1000, statistics.median(last) * 1000
            p99s, p99e = pct(first, 99) * 1000, pct(last, 99) * 1000
            d50 = (p50e - p50s) / p50s
            rows.append((c, len(xs), p50s, p50e, d50, p99s, p99e))
            if d50 > a.drift:
                drift_bad.append(c)
        rss0, fd0 = samples[1][1:] if len(samples) > 1 else samples[0][1:]
        rss1, fd1 = samples[-1][1:]
        grew = rss1 > rss0 * 1.10 + 512 or fd1 > fd0

        print(f"soak: {a.cycles} cycles ({sum(injected.values())} with an injected failure: "
              f"{injected['foreign']} a failing plugin, {injected['netns-gone']} the netns gone before DEL), "
              f"{a.workers} workers, {took:.0f} s ({a.cycles / took:.1f} cycles/s)")
        print("| chain | clean ADDs | p50 first tenth | p50 last tenth | drift | p99 first | p99 last |")
        print("|---|---|---|---|---|---|---|")
        for c, n, p50s, p50e, d50, p99s, p99e in rows:
            print(f"| {c} | {n} | {p50s:.1f} ms | {p50e:.1f} ms | {d50 * 100:+.1f}% | {p99s:.1f} ms | {p99e:.1f} ms |")
        print(f"dhcp daemon: RSS {samples[0][1]} kB at the start, {rss0} kB after 200 cycles, {rss1} kB at the end; "
              f"descriptors {samples[0][2]}, {fd0}, {fd1}")
        print(f"errors: {len(errors)}; leaks: {len(leaks)}; shared rules twice: {len(dups)}")
        for e in errors[:10]:
            print("  error:", e)
        for l in leaks[:20]:
            print("  leak:", l)
        for r in dups[:10]:
            print("  twice:", r)
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"cycles": a.cycles, "workers": a.workers, "seconds": took, "injected": injected,
                           "latency": {c: lat[c] for c in CHAINS}, "daemon": samples, "errors": errors,
                           "leaks": leaks, "twice": dups}, f)
        ok = not errors and not leaks and not dups and not grew and not drift_bad
        if drift_bad:
            print("p50 drift past", f"{a.drift * 100:.0f}%:", ", ".join(drift_bad))
        if grew:
            print("the dhcp daemon grew")
        return 0 if ok else 1
    finally:
        daemon.cleanup()
        lan.cleanup()
        for ns in made:
            ns.delete()
        for n in cnitest.stale_netns():
            if n.startswith("cbt-soak"):
                cnitest.sh(["ip", "netns", "delete", n], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
