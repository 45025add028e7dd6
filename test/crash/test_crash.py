"""Kill anywhere: a plugin of a chain is SIGKILLed at a state-changing
syscall of its ADD or of its DEL, then the runtime does what runtimes do
(DEL, repeated until it succeeds, at most 3 times; or GC with the surviving
attachments), and nothing of the killed attachment may be left: no link,
address, route, qdisc, lease, index entry, netfilter rule or chain, cached
result or backup; the other attachment is untouched; and the next ADD of the
same container ID succeeds.

The instants: strace's syscall tampering (-e inject=SYSCALL:signal=KILL:
when=N) kills the plugin as it enters the Nth call of one syscall. A run
without injection first lists, per plugin of the chain, every call of the
state-changing syscalls it makes (netlink and nftables sends, the iptables
commit's setsockopt, file writes, renames, unlinks, mkdirs, flocks, ioctls,
the spawn of a delegate, and the result's write to stdout); each of those is
a kill point, so every phase is reached: before IPAM, inside it (the lease
and index writes, the lock held), after each link, address and route, just
before and just after each netfilter commit, and before the result is
printed. No build has kill points of its own: the binary under test is the
one users run.

The runtime is cnitool (the result cache included); the plugin under test is
run through a wrapper on CNI_PATH that execs it under strace.

CRASH_FULL=1 (the crash-full tier) kills at every point of every plugin, on
ADD and on DEL, then at random instants until each verb has FULL_KILLS: the
plugin runs under `timeout -s KILL` with a delay drawn uniformly from its
measured run time (timing, not syscalls: the kill may land anywhere,
between calls, in the dynamic loader's work or in a lock wait). Without it a
spread-out sample (each plugin's first and last points and evenly spaced
ones between) keeps the run within a few minutes.
"""
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import time

import pytest

import cnitest

FULL = os.environ.get("CRASH_FULL") == "1"
ADD_SAMPLE = 7   # points per plugin on ADD without CRASH_FULL
DEL_SAMPLE = 3   # and on DEL
# With CRASH_FULL, kills at random instants make up each verb's kills to
# this many (so a chain gets at least twice as many).
FULL_KILLS = 100
SYSCALLS = ("sendmsg", "sendto", "setsockopt", "write", "pwrite64", "writev", "rename", "renameat",
            "renameat2", "unlink", "unlinkat", "mkdir", "mkdirat", "rmdir", "flock", "ftruncate", "ioctl",
            "fsync", "fdatasync", "clone", "clone3", "vfork", "connect")
NET = "crashnet"
# A DEL that took this long waited for a lock (host-local's and the netfilter
# backends' waits are 30 s and more; a whole chain's DEL takes well under 1 s).
LOCK_WAIT = 10
# plugins whose verb changes nothing here (tuning's DEL: only sysctls were set, nothing to restore)
QUIET = {("tuning", "DEL")}
SUBNET = "10.79.0.0/24"


def have_strace():
    return shutil.which("strace") is not None


pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


class Chain:
    """A conflist in a scratch NETCONFPATH, a CNI_PATH of applet symlinks in
    which one plugin may be replaced by the strace wrapper, and cnitool runs
    in the `host` namespace."""

    def __init__(self, name, plugins, host, scratch, cap_args=None):
        self.name, self.host, self.dir = name, host, scratch.path
        self.netconf = os.path.join(self.dir, "net.d")
        self.cache = os.path.join(self.dir, "cache")
        self.bin = os.path.join(self.dir, "bin")
        self.trace = os.path.join(self.dir, "trace")
        os.makedirs(self.netconf)
        self.cap_args = cap_args
        self.types = [p["type"] for p in plugins]
        with open(os.path.join(self.netconf, "10-crash.conflist"), "w") as f:
            json.dump({"cniVersion": "1.1.0", "name": name, "plugins": plugins}, f)
        self.plain()

    def plain(self):
        """CNI_PATH with every applet a plain symlink."""
        shutil.rmtree(self.bin, ignore_errors=True)
        os.makedirs(self.bin)
        for a in os.listdir(cnitest.cnibox_dir()):
            os.symlink(os.path.join(cnitest.cnibox_dir(), a), os.path.join(self.bin, a))

    def wrap(self, applet, inject=None, after=None, measure=False):
        """`applet` on CNI_PATH runs under strace: tracing the state-changing
        syscalls into self.trace, or with inject=(syscall, n) killed as it
        enters its nth call of that syscall. after=SECONDS instead: it runs
        without strace and is SIGKILLed that long after its start (its own
        children, a delegate, are left running, as a runtime's timeout
        leaves them); measure=True: it runs without strace and its run time
        in nanoseconds is appended to self.trace."""
        self.plain()
        real = os.path.join(cnitest.cnibox_dir(), applet)
        if after is not None:
            line = f'exec timeout --foreground -s KILL {after:.6f} {real} "$@"'
        elif measure:
            line = (f't0=$(date +%s%N); {real} "$@"; rc=$?; '
                    f'echo $(($(date +%s%N) - t0)) >> {self.trace}; exit $rc')
        else:
            args = ["strace", "-qq", "-o", self.trace, "-e", "trace=" + ",".join(SYSCALLS)]
            if inject:
                args += ["-e", f"inject={inject[0]}:signal=KILL:when={inject[1]}"]
            line = "exec " + " ".join(args) + f' {real} "$@"'
        script = os.path.join(self.bin, applet)
        os.unlink(script)
        with open(script, "w") as f:
            f.write("#!/bin/sh\n" + line + "\n")
        os.chmod(script, 0o755)
        if os.path.exists(self.trace):
            os.unlink(self.trace)

    def cnitool(self, cmd, ctr, check=False):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NETCONFPATH": self.netconf, "CNI_PATH": self.bin,
               "CNI_CACHE_DIR": self.cache}
        if self.cap_args:
            env["CAP_ARGS"] = json.dumps(self.cap_args)
        argv = ["ip", "netns", "exec", self.host.name, "env", "-i"] + [f"{k}={v}" for k, v in env.items()] + \
            [os.path.join(cnitest.cnibox_dir(), "cnitool"), cmd, self.name, ctr.path]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if check:
            assert p.returncode == 0, f"cnitool {cmd}: {p.stderr.strip()}"
        return p

    def times(self):
        """The run times of the measured runs (wrap(measure=True)), in seconds."""
        with open(self.trace) as f:
            return [int(x) / 1e9 for x in f.read().split()]

    def points(self):
        """The traced calls of the last wrapped run, [(syscall, nth call of it)]."""
        seen, out = {}, []
        with open(self.trace) as f:
            for line in f:
                m = re.match(r"([a-z0-9_]+)\(", line)
                if not m or m.group(1) not in SYSCALLS:
                    continue
                n = seen[m.group(1)] = seen.get(m.group(1), 0) + 1
                out.append((m.group(1), n))
        return out


def sample(points, k):
    """The first and last of `points` and evenly spaced ones between (all of
    them with CRASH_FULL)."""
    if FULL or len(points) <= k:
        return list(points)
    idx = sorted({round(i * (len(points) - 1) / (k - 1)) for i in range(k)})
    return [points[i] for i in idx]


def nf_state(ns):
    """Both netfilter backends' rules in `ns`, counters left out."""
    out = ns.multi(["nft list ruleset", "iptables-legacy-save", "ip6tables-legacy-save"], check=False)
    text = "\n".join(out)
    text = re.sub(r"counter packets \d+ bytes \d+", "counter", text)
    text = re.sub(r"\[\d+:\d+\]", "", text)
    return [line for line in text.splitlines() if not line.startswith("#")]


def stores(scratch, cid):
    """What of attachment `cid` the stores under scratch hold: host-local
    leases and index entries, cached results, tuning backups, flannel's
    saved configs."""
    found = []
    for root, _, files in os.walk(scratch.path):
        if "/net.d" in root or root.endswith("/bin") or "/bin/" in root:
            continue
        for f in files:
            if f == "trace":
                continue
            p = os.path.join(root, f)
            if cid in f:
                found.append(p)
                continue
            try:
                with open(p, errors="replace") as fh:
                    if cid in fh.read(65536):
                        found.append(p)
            except OSError:
                pass
    return sorted(found)


class World:
    def __init__(self, chain, host, survivor, make_ns, scratch, leftovers=None):
        self.chain, self.host, self.survivor, self.make_ns, self.scratch = chain, host, survivor, make_ns, scratch
        self.leftovers = leftovers or (lambda cid: [])
        if survivor:
            chain.cnitool("add", survivor, check=True)
        # the survivor's IPv6 link-local address and route come after DAD
        self.base = settle(self.snapshot)

    def snapshot(self):
        s = self.host.state()
        return {"host": s, "qdisc": self.host.sh("tc qdisc show").stdout, "nf": nf_state(self.host),
                "survivor": self.survivor.state() if self.survivor else None}

    def attempt(self, verb, applet, point, gc=False):
        """One kill: ADD (or ADD, then DEL) with `applet` killed at `point`
        ((syscall, n), or ("after", seconds) for a kill at an instant), then
        the runtime's cleanup, then the checks. gc: the runtime removes the
        sandbox (its namespace) and sends GC naming the survivor, instead of
        DELs."""
        c = self.chain
        ctr = self.make_ns()
        cid = container_id(ctr)
        ctr_base = ctr.state()
        if verb == "DEL":
            c.plain()
            c.cnitool("add", ctr, check=True)
        if point[0] == "after":
            c.wrap(applet, after=point[1])
        else:
            c.wrap(applet, point)
        first = c.cnitool("add" if verb == "ADD" else "del", ctr)
        c.plain()
        at = f"{point[1] * 1000:.3f} ms after its start" if point[0] == "after" else f"{point[0]} #{point[1]}"
        where = f"{applet} {verb} killed at {at} ({first.stderr.strip()[:200]})"
        killed = first.returncode != 0
        if gc and not killed:
            # The point was not reached this time (portmap's nftables socket
            # close forks only after a recent deletion): the ADD succeeded and
            # its result is cached, so the runtime's cleanup is its DEL.
            gc = False
        if gc:
            ctr.delete()
            gc_survivors(c, self.survivor, self.host)
        else:
            for _ in range(3):
                t0 = time.monotonic()
                ok = c.cnitool("del", ctr).returncode == 0
                # A plugin killed holding the host-local, xtables or nftables
                # lock (flock) holds it no longer: the kernel released it with
                # the process, so the DEL never waits out a lock timeout.
                assert time.monotonic() - t0 < LOCK_WAIT, "DEL waited on a lock after a kill: " + where
                if ok:
                    break
            else:
                pytest.fail("DEL failed 3 times after a kill: " + where)
            assert ctr.state() == ctr_base, "container namespace not clean: " + where
        # a deleted namespace's veth end goes with it a moment later
        now = converge(self.snapshot, self.base)
        for k in ("host", "qdisc", "nf", "survivor"):
            assert now[k] == self.base[k], f"{k} differs from before: {where}\n{differ(self.base[k], now[k])}"
        assert stores(self.scratch, cid) == [], "stores hold the killed attachment: " + where
        left = converge(lambda: self.leftovers(cid), [])
        assert left == [], f"state outside the scratch stores holds the killed attachment: {where}: {left}"
        if not gc:
            # the same container ID attaches again, and goes
            c.cnitool("add", ctr, check=True)
            c.cnitool("del", ctr, check=True)
            assert self.snapshot() == self.base, "after the re-ADD and DEL: " + where
            ctr.delete()
        return killed


def differ(a, b):
    """What b has that a lacks and the other way round, item by item."""
    if isinstance(a, dict) and isinstance(b, dict):
        return "; ".join(f"{k}: {differ(a.get(k), b.get(k))}" for k in sorted(set(a) | set(b))
                         if a.get(k) != b.get(k))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return f"gone {[x for x in a if x not in b]}, new {[x for x in b if x not in a]}"
    return f"{a!r} -> {b!r}"


def container_id(ns):
    """cnitool's container ID for namespace `ns`."""
    return "cnitool-" + hashlib.sha512(ns.path.encode()).hexdigest()[:20]


def settle(take, quiet=2.0, within=15.0):
    """take() until it has not changed for `quiet` seconds; the last one."""
    end = time.time() + within
    got, since = take(), time.time()
    while time.time() < end and time.time() - since < quiet:
        time.sleep(0.25)
        now = take()
        if now != got:
            got, since = now, time.time()
    return got


def converge(take, want, within=5.0):
    """take() until it equals `want` or `within` seconds passed; the last one."""
    end = time.time() + within
    got = take()
    while got != want and time.time() < end:
        time.sleep(0.05)
        got = take()
    return got


def gc_survivors(chain, survivor, host):
    """GC as a runtime sends it after a crash: every plugin of the list,
    cni.dev/valid-attachments naming the survivor only."""
    valid = [{"containerID": container_id(survivor), "ifname": "eth0"}] if survivor else []
    with open(os.path.join(chain.netconf, "10-crash.conflist")) as f:
        conf = json.load(f)
    for p in conf["plugins"]:
        one = dict(p, cniVersion="1.1.0", name=conf["name"])
        one["cni.dev/valid-attachments"] = valid
        r = cnitest.run_plugin(p["type"], "GC", one, host=host, netns="", containerid="", ifname="",
                               cni_path=chain.bin, env={"CNI_CONTAINERID": None, "CNI_NETNS": None,
                                                        "CNI_IFNAME": None})
        assert r.ok, (p["type"], r)


def plugins_a(scratch, backend):
    """bridge (ipMasq) -> portmap -> firewall -> tuning -> bandwidth."""
    return cnitest.users_chain(scratch.path, backend, "cbtcrash0", SUBNET, 8000000)


def plugins_ptp(scratch):
    """ptp (host-local) -> sbr."""
    return [{"type": "ptp", "ipam": {"type": "host-local", "dataDir": os.path.join(scratch.path, "ipam"),
                                     "ranges": [[{"subnet": "10.78.0.0/24"}]]}},
            {"type": "sbr"}]


def plugins_flannel(scratch):
    """flannel -> (bridge with ipMasq and host-local, in-process) -> portmap."""
    d = scratch.path
    env = os.path.join(d, "subnet.env")
    with open(env, "w") as f:
        f.write("FLANNEL_NETWORK=10.90.0.0/16\nFLANNEL_SUBNET=10.90.1.1/24\nFLANNEL_MTU=1450\n"
                "FLANNEL_IPMASQ=true\n")
    return [{"type": "flannel", "subnetFile": env, "dataDir": os.path.join(d, "flannel"),
             "ipam": {"dataDir": os.path.join(d, "ipam")}, "delegate": {"bridge": "cbtcrfl0"}},
            {"type": "portmap", "capabilities": {"portMappings": True}, "backend": "nftables",
             "dataDir": os.path.join(d, "portmap")}]


class Spec:
    """A chain's plugins and what its world needs besides: the runtime's
    capability args, the namespace that stands for the host (None: the
    `host` fixture), whether a survivor shares the network, whether a
    killed ADD may be cleaned up by GC (the sandbox's namespace removed),
    where else than the scratch stores the attachment leaves state
    (leftovers(cid) -> what is still there), and a cleanup."""

    def __init__(self, plugins, cap=None, host=None, survivor=True, gc=True, leftovers=None, cleanup=None,
                 lo_down=False):
        self.plugins, self.cap, self.host, self.survivor, self.gc = plugins, cap, host, survivor, gc
        self.leftovers, self.cleanup, self.lo_down = leftovers, cleanup or (lambda: None), lo_down


def spec_macvlan_dhcp(scratch, make_ns, host):
    """macvlan on a LAN with dnsmasq, dhcp IPAM through a daemon whose lease
    times run 20 times faster (so a lease the killed ADD's daemon side took is
    seen to end): the daemon's records and dnsmasq's lease file are checked."""
    if shutil.which("dnsmasq") is None:
        pytest.fail("dnsmasq is missing (the crash tier's packages: .ci/deps.sh --tier crash)")
    from dhcplan import fast_lan
    lan, d = fast_lan(make_ns)

    def leftovers(cid):
        wanted = ":".join(f"{b:02x}" for b in b"\0" + f"{cid}/{NET}/eth0".encode())
        held = [f"dnsmasq lease {l}" for l in lan.leases() if l[2] == wanted]
        records = []
        for f in os.listdir(d.state) if os.path.isdir(d.state) else []:
            with open(os.path.join(d.state, f), errors="replace") as fh:
                if cid in f or cid in fh.read():
                    records.append(f"daemon record {f}")
        if held:   # why the daemon did not give it back
            held.append("daemon log's tail: " + d.logtext()[-1500:])
        return held + records

    def cleanup():
        d.cleanup()
        lan.cleanup()
    return Spec([{"type": "macvlan", "master": "lan0", "ipam": {"type": "dhcp", "daemonSocketPath": d.sock}}],
                host=lan.host, leftovers=leftovers, cleanup=cleanup)


def spec_tap_static(scratch, make_ns, host):
    """tap with static IPAM, tuning after it."""
    return Spec([{"type": "tap", "mtu": 1400, "ipam": {"type": "static", "addresses": [{"address": "10.81.0.5/24"}],
                                                      "routes": [{"dst": "10.82.0.0/16", "gw": "10.81.0.1"}]}},
                 {"type": "tuning", "dataDir": os.path.join(scratch.path, "tuning"), "mac": "02:00:00:00:81:05"}])


def spec_loopback(scratch, make_ns, host):
    """loopback: ADD sets lo up, DEL down again, so containers start with it down."""
    return Spec([{"type": "loopback"}], lo_down=True)


def spec_host_device(scratch, make_ns, host):
    """host-device moving the host's hd0 (a veth end) into the container and
    back. One device: no survivor; no GC, since removing the namespace would
    destroy a veth instead of returning it."""
    host.sh("ip link add hd0 type veth peer name hd0p")   # hd0p down: no carrier-made address
    return Spec([{"type": "host-device", "device": "hd0", "ipam": {
        "type": "host-local", "dataDir": os.path.join(scratch.path, "ipam"), "ranges": [[{"subnet": "10.83.0.0/24"}]]}}],
        survivor=False, gc=False)


CHAINS = {
    "bridge-iptables": lambda s, m, h: Spec(plugins_a(s, "iptables"), {"portMappings": [
        {"hostPort": 18080, "containerPort": 80, "protocol": "tcp"}]}),
    "bridge-nftables": lambda s, m, h: Spec(plugins_a(s, "nftables"), {"portMappings": [
        {"hostPort": 18081, "containerPort": 80, "protocol": "tcp"}]}),
    "ptp-sbr": lambda s, m, h: Spec(plugins_ptp(s)),
    "flannel-bridge": lambda s, m, h: Spec(plugins_flannel(s), {"portMappings": [
        {"hostPort": 18082, "containerPort": 80, "protocol": "tcp"}]}),
    "macvlan-dhcp": spec_macvlan_dhcp,
    "tap-static-tuning": spec_tap_static,
    "loopback": spec_loopback,
    "host-device": spec_host_device,
}


@pytest.fixture(params=sorted(CHAINS))
def world(request, host, make_ns, scratch):
    if not have_strace():
        pytest.fail("strace is missing (the crash tier's packages: .ci/deps.sh --tier crash)")
    spec = CHAINS[request.param](scratch, make_ns, host)
    h = spec.host or host
    chain = Chain(NET, spec.plugins, h, scratch, spec.cap)
    make = make_ns
    if spec.lo_down:
        def make(*a):
            ns = make_ns(*a)
            ns.sh("ip link set lo down")
            return ns
    survivor = make() if spec.survivor else None
    try:
        w = World(chain, h, survivor, make, scratch, spec.leftovers)
        w.id, w.gc = request.param, spec.gc
        yield w
        chain.plain()
        if survivor:
            chain.cnitool("del", survivor)
    finally:
        spec.cleanup()


def observed_run(w, verb, applet, read, **how):
    """One run of `applet` for `verb` in the chain, wrapped as
    chain.wrap(applet, **how) says, in a namespace of its own (ADDed first
    for a DEL, DELed afterwards for an ADD, then removed): read(chain), what
    it makes of the trace."""
    c = w.chain
    ctr = w.make_ns()
    if verb == "DEL":
        c.plain()
        c.cnitool("add", ctr, check=True)
    c.wrap(applet, **how)
    c.cnitool("add" if verb == "ADD" else "del", ctr, check=True)
    out = read(c)
    c.plain()
    if verb == "ADD":
        c.cnitool("del", ctr, check=True)
    ctr.delete()
    return out


def kill_points(w, verb):
    """[(applet, (syscall, n))] of every plugin in the chain for `verb`."""
    out = []
    for applet in dict.fromkeys(w.chain.types):
        pts = observed_run(w, verb, applet, Chain.points)
        # none: nothing to kill it in (tuning's DEL without a backup to restore)
        assert pts or (applet, verb) in QUIET, f"no traced call in {applet} {verb}"
        out += [(applet, p) for p in sample(pts, ADD_SAMPLE if verb == "ADD" else DEL_SAMPLE)]
    return out


def run_times(w, verb, applet, n=3):
    """`applet`'s run times for `verb` in the chain, in seconds (n runs)."""
    return [t for _ in range(n) for t in observed_run(w, verb, applet, Chain.times, measure=True)]


@pytest.mark.parametrize("verb", ["ADD", "DEL"])
def test_killed_anywhere_leaves_nothing(world, verb):
    points = kill_points(world, verb)
    assert len(points) >= len(set(world.chain.types)) * 2
    kills, missed = 0, []
    for i, (applet, point) in enumerate(points):
        # every fourth ADD kill is cleaned up by GC instead of DEL
        if world.attempt(verb, applet, point, gc=(world.gc and verb == "ADD" and i % 4 == 3)):
            kills += 1
        else:
            missed.append(f"{applet} {point[0]} #{point[1]}")
    # a point of a call made only sometimes (a fork, a retry) may not be reached
    assert kills > 0, f"none of the {len(points)} points was reached"
    timed = tries = 0
    if FULL and kills < FULL_KILLS:
        # Then kills at random instants of the plugins' runs (each plugin in
        # turn, uniform over its measured run time and a little beyond),
        # until the verb has FULL_KILLS; an instant after the run's end is
        # no kill and is not counted.
        rng = random.Random(f"{world.id}-{verb}")
        applets = list(dict.fromkeys(world.chain.types))
        longest = {a: max(run_times(world, verb, a)) for a in applets}
        while kills + timed < FULL_KILLS:
            assert tries < 3 * FULL_KILLS, f"only {timed} of {tries} kills at random instants hit a run"
            a = applets[tries % len(applets)]
            point = ("after", max(1e-4, rng.uniform(0, 1.1 * longest[a])))
            timed += world.attempt(verb, a, point, gc=(world.gc and verb == "ADD" and tries % 4 == 3))
            tries += 1
    print(f"{world.id} {verb}: {kills} kills at {len(points)} points" +
          (f" (not reached: {', '.join(missed)})" if missed else "") +
          (f" + {timed} at random instants ({tries} tries)" if timed else "") + ", leaks: 0")
