#!/usr/bin/env python3
"""cnibox against the reference plugins (/usr/lib/cni), side by side.

Run through bench/run (which builds the static cnibox). Every sample execs a
plugin exactly as a runtime does (CNI_* environment, config on stdin) and
takes its time from spawn to reaped exit. The two implementations are
sampled in turn (ABAB..., order flipped every other sample) so that the
machine's drift hits both alike; the figure is the ratio of medians from one
run.

Cases:
  VERSION             exec latency of `bridge` answering VERSION, timed by a small
                      C helper (bench/spawn.c: vfork/exec/wait, no interpreter in
                      the loop); peak RSS = the plugin's VmHWM read at its exit
                      (ptrace exit stop), since wait4's ru_maxrss would also count
                      the parent's address space the child had before execve
  bridge ADD / DEL    bridge + host-local, one veth per container namespace; wall
                      time, and CPU time from wait4 (with the reference's
                      host-local child), which load on the machine disturbs less
  ptp ADD / DEL       ptp + host-local
  8 workers           8 threads doing ADD (then DEL) of bridge + host-local on
                      one shared bridge and lease store: per-op medians, wall time
  kernel floor        veth created with its peer straight in a container
                      namespace, and its deletion: raw netlink from this process,
                      no exec, sampled in the same rounds as the plugins
  install size        /usr/lib/cni against the static cnibox

Everything runs in namespaces this program makes: a "host" namespace (this
process re-executes itself inside it) and container namespaces; the
machine's own namespace is never configured. All are removed at the end,
also on failure.
"""
import argparse
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

REF_DIR = "/usr/lib/cni"
PATH_ENV = "/usr/sbin:/usr/bin:/sbin:/bin"


# --- exec harness -------------------------------------------------------------

class Exec:
    __slots__ = ("rc", "ms", "cpu_ms", "out", "err")


def run(exe, env, stdin=b"", argv0=None):
    """posix_spawn + wait4: wall time from spawn to reaped exit, and the
    CPU time (user + sys) of the child and of the children it waited for."""
    inr, inw = os.pipe()
    outr, outw = os.pipe()
    errr, errw = os.pipe()
    os.write(inw, stdin)  # configs are far below the pipe's 64 KiB
    os.close(inw)
    fa = [(os.POSIX_SPAWN_DUP2, inr, 0), (os.POSIX_SPAWN_DUP2, outw, 1), (os.POSIX_SPAWN_DUP2, errw, 2)]
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(exe, [argv0 or exe], env, file_actions=fa)
    _, status, ru = os.wait4(pid, 0)
    t1 = time.perf_counter_ns()
    for fd in (inr, outw, errw):
        os.close(fd)
    r = Exec()
    r.out = _drain(outr)
    r.err = _drain(errr)
    r.rc = os.waitstatus_to_exitcode(status)
    r.ms = (t1 - t0) / 1e6
    r.cpu_ms = (ru.ru_utime + ru.ru_stime) * 1000  # with the children it waited for
    return r


def _drain(fd):
    chunks = []
    while True:
        b = os.read(fd, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(fd)
    return b"".join(chunks)


def cni_env(cmd, netns="", cni_path="", cid="bench", ifname="eth0"):
    return {"PATH": PATH_ENV, "CNI_COMMAND": cmd, "CNI_CONTAINERID": cid, "CNI_NETNS": netns,
            "CNI_IFNAME": ifname, "CNI_PATH": cni_path}


# --- peak RSS: the plugin's own high-water mark, read at its exit --------------------

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
_libc.ptrace.restype = ctypes.c_long
PTRACE_TRACEME, PTRACE_CONT, PTRACE_SETOPTIONS = 0, 7, 0x4200
PTRACE_O_TRACEEXIT, PTRACE_O_EXITKILL, PTRACE_EVENT_EXIT = 0x40, 0x100000, 6


def peak_rss_kb(exe, env, stdin=b""):
    """(VmHWM, RssAnon) in KiB of the exec'd program (its own address space
    only) at its exit. Most of a static binary's VmHWM is its own file's
    page-cache pages, which the kernel maps 64 KiB at a time around each page
    fault ("fault-around"); RssAnon is the memory the process itself owns."""
    inr, inw = os.pipe()
    os.write(inw, stdin)
    os.close(inw)
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(inr, 0)
            null = os.open("/dev/null", os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            _libc.ptrace(PTRACE_TRACEME, 0, None, None)
            os.execve(exe, [exe], env)
        finally:
            os._exit(127)
    os.close(inr)
    os.waitpid(pid, 0)  # stopped at its execve
    _libc.ptrace(PTRACE_SETOPTIONS, pid, None, ctypes.c_void_p(PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL))
    _libc.ptrace(PTRACE_CONT, pid, None, None)
    got = {}
    while True:
        _, st = os.waitpid(pid, 0)
        if not os.WIFSTOPPED(st):
            break
        sig = os.WSTOPSIG(st)
        if sig == 5 and (st >> 16) == PTRACE_EVENT_EXIT:  # SIGTRAP, exit stop
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    k = line.split(":")[0]
                    if k in ("VmHWM", "RssAnon"):
                        got[k] = int(line.split()[1])
            sig = 0
        _libc.ptrace(PTRACE_CONT, pid, None, ctypes.c_void_p(sig))
    if len(got) != 2:
        raise Failure(f"{exe}: no exit stop seen")
    return got["VmHWM"], got["RssAnon"]


# --- exec latency without the interpreter: bench/spawn.c ------------------------------

def build_spawn(tmpdir):
    exe = os.path.join(tmpdir, "spawn")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spawn.c")
    subprocess.run([os.environ.get("CC", "cc"), "-O2", "-Wall", "-Wextra", "-Werror", "-o", exe, src], check=True)
    return exe


def spawn_rounds(helper, exes, rounds, env, stdin):
    """{exe index: [ms]} from the helper, which runs the exes in turn."""
    p = subprocess.run([helper, str(rounds)] + exes, input=stdin, capture_output=True, env=env, check=True)
    out = {i: [] for i in range(len(exes))}
    for line in p.stdout.decode().splitlines():
        i, ns, rc = map(int, line.split())
        if rc != 0:
            raise Failure(f"{exes[i]} exited {rc}")
        out[i].append(ns / 1e6)
    return out


# --- namespaces -----------------------------------------------------------------

def ns_add(name):
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
    return f"/run/netns/{name}"


def ns_del(name):
    subprocess.run(["ip", "netns", "delete", name], stderr=subprocess.DEVNULL)


CLONE_NEWNET = 0x40000000


def setns_net(fd):
    """Moves the calling thread into the network namespace open at fd."""
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def ns_list():
    try:
        return os.listdir("/run/netns")
    except FileNotFoundError:
        return []


def _hold_signals():
    """Cleanup is under way: a second Ctrl-C or TERM must not cut it short."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# --- raw rtnetlink, for the kernel floor -------------------------------------------

RTM_NEWLINK, RTM_DELLINK, NLMSG_ERROR = 16, 17, 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
IFLA_IFNAME, IFLA_LINKINFO, IFLA_NET_NS_FD = 3, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
NLA_F_NESTED = 0x8000


def _attr(t, payload):
    a = struct.pack("=HH", 4 + len(payload), t) + payload
    return a + b"\0" * (-len(a) % 4)


def _ifinfo():
    return struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0)


class Rtnl:
    def __init__(self):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
        self.s.bind((0, 0))
        self.seq = 0

    def _call(self, mtype, flags, body):
        self.seq += 1
        msg = struct.pack("=IHHII", 16 + len(body), mtype, flags | NLM_F_REQUEST | NLM_F_ACK, self.seq, 0) + body
        self.s.send(msg)
        while True:
            data = self.s.recv(65536)
            off = 0
            while off < len(data):
                ln, t, _, seq, _ = struct.unpack_from("=IHHII", data, off)
                if t == NLMSG_ERROR and seq == self.seq:
                    err = struct.unpack_from("=i", data, off + 16)[0]
                    if err:
                        raise OSError(-err, os.strerror(-err))
                    return
                off += (ln + 3) & ~3

    def veth_in_place(self, name, peer, netns_fd):
        """A veth `name` here whose peer `peer` is created in the namespace of netns_fd."""
        peer_msg = _ifinfo() + _attr(IFLA_IFNAME, peer.encode() + b"\0") + \
            _attr(IFLA_NET_NS_FD, struct.pack("=I", netns_fd))
        info = _attr(IFLA_INFO_KIND, b"veth\0") + \
            _attr(IFLA_INFO_DATA | NLA_F_NESTED, _attr(VETH_INFO_PEER | NLA_F_NESTED, peer_msg))
        body = _ifinfo() + _attr(IFLA_IFNAME, name.encode() + b"\0") + _attr(IFLA_LINKINFO | NLA_F_NESTED, info)
        self._call(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)

    def delete(self, name):
        self._call(RTM_DELLINK, 0, _ifinfo() + _attr(IFLA_IFNAME, name.encode() + b"\0"))


# --- the implementations ----------------------------------------------------------

class Impl:
    def __init__(self, name, bindir, tag, subnet_byte, data_root):
        self.name = name
        self.bindir = bindir
        self.tag = tag                    # short, for link and network names
        self.net = subnet_byte            # 10.<net>.0.0/16 (bridge), 10.<net+1>.0.0/16 (ptp)
        self.data = os.path.join(data_root, tag)

    def exe(self, plugin):
        return os.path.join(self.bindir, plugin)

    def conf(self, kind, version="1.0.0"):
        ipam = {"type": "host-local", "dataDir": self.data}
        if kind == "bridge":
            ipam["ranges"] = [[{"subnet": f"10.{self.net}.0.0/16"}]]
            return {"cniVersion": version, "name": f"b{self.tag}", "type": "bridge",
                    "bridge": f"cb{self.tag}0", "isGateway": True, "ipam": ipam}
        ipam["ranges"] = [[{"subnet": f"10.{self.net + 1}.0.0/16"}]]
        return {"cniVersion": version, "name": f"p{self.tag}", "type": "ptp", "ipam": ipam}


class Failure(Exception):
    pass


def check(r, what):
    if r.rc != 0:
        raise Failure(f"{what} failed (exit {r.rc}): {r.out.decode(errors='replace')}"
                      f"{r.err.decode(errors='replace')}")
    return r


class HostSide:
    """One side of a side-by-side bench (netfilter.py, meta.py, flannel.py):
    its plugin directory and the "host" namespace its plugins run in, entered
    with setns before each spawn."""

    def __init__(self, name, bindir, hostns):
        self.name, self.bindir = name, bindir
        self.fd = os.open(hostns if hostns.startswith("/") else f"/run/netns/{hostns}", os.O_RDONLY)

    def env(self, cmd, netns, cid):
        return cni_env(cmd, netns, self.bindir, cid)

    def exec(self, plugin, cmd, conf, netns, cid):
        """Runs plugin with conf (a dict, or its JSON text) on stdin; raises Failure when it fails."""
        setns_net(self.fd)
        data = conf if isinstance(conf, str) else json.dumps(conf)
        return check(run(os.path.join(self.bindir, plugin), self.env(cmd, netns, cid), data.encode()),
                     f"{self.name} {plugin} {cmd} {cid}")


def add(impl, kind, ns, cid):
    conf = impl.conf(kind)
    r = check(run(impl.exe(kind), cni_env("ADD", ns, impl.bindir, cid), json.dumps(conf).encode()),
              f"{impl.name} {kind} ADD {cid}")
    conf["prevResult"] = json.loads(r.out)
    return r, json.dumps(conf).encode()


def delete(impl, kind, ns, cid, conf_with_prev):
    return check(run(impl.exe(kind), cni_env("DEL", ns, impl.bindir, cid), conf_with_prev),
                 f"{impl.name} {kind} DEL {cid}")


# --- cases --------------------------------------------------------------------------

def med(xs):
    return statistics.median(xs) if xs else float("nan")


def bench_version(impls, n, helper, rss_n):
    body = b'{"cniVersion":"1.0.0"}'
    env = cni_env("VERSION")
    exes = [i.exe("bridge") for i in impls]
    for i in impls:  # each must answer
        check(run(i.exe("bridge"), env, body), f"{i.name} VERSION")
    ms = spawn_rounds(helper, exes, n, env, body)
    lat = {i.name: ms[k] for k, i in enumerate(impls)}
    rss = {i.name: [] for i in impls}
    anon = {i.name: [] for i in impls}
    for k in range(rss_n):
        for i in (impls if k % 2 == 0 else impls[::-1]):
            h, a = peak_rss_kb(i.exe("bridge"), env, body)
            rss[i.name].append(h)
            anon[i.name].append(a)
    return lat, rss, anon


def bench_attach(impls, kind, nss, rounds, floor=None):
    """ADD into every container namespace, then DEL from each, per round; the
    implementations (and the kernel floor, when given as (Rtnl, [(netns fd)])
    take turns at every namespace."""
    adds = {i.name: [] for i in impls}
    dels = {i.name: [] for i in impls}
    cpu = {(i.name, v): [] for i in impls for v in ("add", "del")}
    fadd, fdel = [], []
    k = len(nss[impls[0].name])
    for rnd in range(rounds):
        prev = {i.name: [] for i in impls}
        for j in range(k):
            order = impls if (j + rnd) % 2 == 0 else impls[::-1]
            for i in order:
                r, conf = add(i, kind, nss[i.name][j], f"{kind}-{rnd}-{j}")
                adds[i.name].append(r.ms)
                cpu[(i.name, "add")].append(r.cpu_ms)
                prev[i.name].append(conf)
            if floor:
                rt, fds = floor
                t0 = time.perf_counter_ns()
                rt.veth_in_place(f"kf{j}", "eth0", fds[j])
                fadd.append((time.perf_counter_ns() - t0) / 1e6)
        for j in range(k):
            order = impls if (j + rnd) % 2 == 0 else impls[::-1]
            for i in order:
                r = delete(i, kind, nss[i.name][j], f"{kind}-{rnd}-{j}", prev[i.name][j])
                dels[i.name].append(r.ms)
                cpu[(i.name, "del")].append(r.cpu_ms)
            if floor:
                rt, _ = floor
                t0 = time.perf_counter_ns()
                rt.delete(f"kf{j}")
                fdel.append((time.perf_counter_ns() - t0) / 1e6)
    return adds, dels, fadd, fdel, cpu


def bench_concurrent(impl, nss, workers):
    """`workers` threads, each ADDs its share of the namespaces one after the
    other; when all are done, each DELs its share. Returns per-op latencies,
    wall times of the two phases, and the failures."""
    per = [nss[w::workers] for w in range(workers)]
    adds, dels, fails = [], [], []
    lock = threading.Lock()
    prev = {}

    def do_add(w):
        for j, ns in enumerate(per[w]):
            cid = f"conc-{w}-{j}"
            try:
                r, conf = add(impl, "bridge", ns, cid)
                with lock:
                    adds.append(r.ms)
                    prev[cid] = (ns, conf)
            except Failure as e:
                with lock:
                    fails.append(str(e))

    def do_del(w):
        for j in range(len(per[w])):
            cid = f"conc-{w}-{j}"
            if cid not in prev:
                continue
            ns, conf = prev[cid]
            try:
                r = delete(impl, "bridge", ns, cid, conf)
                with lock:
                    dels.append(r.ms)
            except Failure as e:
                with lock:
                    fails.append(str(e))

    walls = []
    for fn in (do_add, do_del):
        ts = [threading.Thread(target=fn, args=(w,), daemon=True) for w in range(workers)]
        t0 = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        walls.append((time.perf_counter() - t0) * 1000)
    return adds, dels, walls, fails


def tree_bytes(path):
    total = 0
    for d, _, fs in os.walk(path):
        for f in fs:
            p = os.path.join(d, f)
            if os.path.isfile(p) and not os.path.islink(p):
                total += os.path.getsize(p)
    return total


# --- main ------------------------------------------------------------------------------

def inner(a):
    """Runs inside the host namespace: makes the container namespaces and measures."""
    prefix = a.prefix
    data_root = os.path.join(a.workdir, "data")
    bindir = os.path.join(a.workdir, "bin")
    os.mkdir(data_root)
    os.mkdir(bindir)
    made = []
    fds = []
    try:
        subprocess.run([a.cnibox, "--install", bindir], check=True, capture_output=True)
        impls = [Impl("reference", REF_DIR, "r", 81, data_root), Impl("cnibox", bindir, "c", 83, data_root)]
        t_start = time.time()

        def mk(tag, count):
            out = []
            for j in range(count):
                name = f"cbt-bench-{tag}{j}{prefix}"
                made.append(name)
                out.append(ns_add(name))
            return out

        res = {"params": vars(a).copy()}
        # VERSION
        lat, rss, anon = bench_version(impls, a.version_n, build_spawn(data_root), 20)
        res["version_ms"] = {k: med(v) for k, v in lat.items()}
        res["version_rss_kb"] = {k: med(v) for k, v in rss.items()}
        res["version_anon_kb"] = {k: med(v) for k, v in anon.items()}
        progress(f"VERSION done ({time.time() - t_start:.0f}s)")

        # bridge and ptp ADD/DEL, with the kernel floor in the bridge rounds
        nss = {i.name: mk(i.tag, a.containers) for i in impls}
        floor_ns = mk("k", a.containers)
        fds = [os.open(p, os.O_RDONLY) for p in floor_ns]
        rt = Rtnl()
        for i in impls:  # first contact (bridge creation, store directories) is not measured
            for kind in ("bridge", "ptp"):
                _, conf = add(i, kind, nss[i.name][0], "warm")
                # the attachment is really there
                ip = json.loads(conf)["prevResult"]["ips"][0]["address"]
                name = os.path.basename(nss[i.name][0])
                shown = subprocess.run(["ip", "-n", name, "-o", "addr", "show", "dev", "eth0"],
                                       capture_output=True, text=True).stdout
                if ip not in shown:
                    raise Failure(f"{i.name} {kind} ADD: {ip} not on eth0 in {name}: {shown!r}")
                delete(i, kind, nss[i.name][0], "warm", conf)
        badd, bdel, fadd, fdel, bcpu = bench_attach(impls, "bridge", nss, a.rounds, (rt, fds))
        progress(f"bridge done ({time.time() - t_start:.0f}s)")
        padd, pdel, fadd2, fdel2, pcpu = bench_attach(impls, "ptp", nss, a.rounds, (rt, fds))
        progress(f"ptp done ({time.time() - t_start:.0f}s)")
        res["bridge_add_ms"] = {k: med(v) for k, v in badd.items()}
        res["bridge_del_ms"] = {k: med(v) for k, v in bdel.items()}
        res["ptp_add_ms"] = {k: med(v) for k, v in padd.items()}
        res["ptp_del_ms"] = {k: med(v) for k, v in pdel.items()}
        for kind, c in (("bridge", bcpu), ("ptp", pcpu)):
            for verb in ("add", "del"):
                res[f"{kind}_{verb}_cpu_ms"] = {i.name: med(c[(i.name, verb)]) for i in impls}
        res["floor_veth_add_ms"] = med(fadd + fadd2)
        res["floor_veth_del_ms"] = med(fdel + fdel2)
        # per kind, from the samples taken in that kind's own rounds
        res["bridge_floor_del_ms"], res["ptp_floor_del_ms"] = med(fdel), med(fdel2)
        res["samples_attach"] = len(badd["cnibox"])
        res["samples_floor"] = len(fadd + fadd2)

        # 8 concurrent workers: phases ABBA
        conc = {i.name: {"add": [], "del": [], "wall_add": [], "wall_del": [], "fails": []} for i in impls}
        cnss = {i.name: nss[i.name] + mk(i.tag + "x", max(0, a.conc_containers - a.containers))
                for i in impls}
        for i in impls + impls[::-1]:
            adds, dels, walls, fails = bench_concurrent(i, cnss[i.name][:a.conc_containers], a.workers)
            c = conc[i.name]
            c["add"] += adds
            c["del"] += dels
            c["wall_add"].append(walls[0])
            c["wall_del"].append(walls[1])
            c["fails"] += fails
        res["conc"] = {k: {"add_ms": med(v["add"]), "del_ms": med(v["del"]),
                           "wall_add_ms": med(v["wall_add"]), "wall_del_ms": med(v["wall_del"]),
                           "fails": len(v["fails"]), "first_fail": v["fails"][:1]}
                       for k, v in conc.items()}
        progress(f"{a.workers} workers done ({time.time() - t_start:.0f}s)")

        res["install_bytes"] = {"reference": tree_bytes(REF_DIR), "cnibox": os.path.getsize(a.cnibox)}
        res["seconds"] = time.time() - t_start
        with open(a.result, "w") as f:
            json.dump(res, f)
    finally:
        _hold_signals()
        for fd in fds:
            os.close(fd)
        for n in made:
            ns_del(n)


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def progress(msg):
    print(f"  .. {msg}", file=sys.stderr, flush=True)


def table(res, command):
    L = []
    v, r = res["version_ms"], res["version_rss_kb"]
    exec_floor = v["cnibox"]
    fdel = res["floor_veth_del_ms"]
    p = res["params"]

    def row(name, ref, cb, ratio, target, ok, unit="ms"):
        fmt = (lambda x: f"{x:.2f}") if unit == "ms" else (lambda x: f"{x}")
        L.append(f"| {name} | {fmt(ref) if ref is not None else '—'} | {fmt(cb)} | {ratio} | {target} | "
                 f"{'yes' if ok else 'NO'} |")

    L.append(f"`{command}`: {p['containers']} namespaces per implementation x {p['rounds']} rounds "
             f"= {res['samples_attach']} samples per ADD/DEL figure, {p['version_n']} per VERSION, "
             f"{res['samples_floor']} kernel-floor samples; medians, ms; {res['seconds']:.0f} s.")
    L.append("")
    L.append("| case | reference | cnibox | ratio | target | met |")
    L.append("|---|---:|---:|---:|---|---|")
    x = v["reference"] / v["cnibox"]
    row("VERSION exec (ms)", v["reference"], v["cnibox"], f"{x:.1f}x faster", ">= 6x", x >= 6)
    row("VERSION peak RSS, VmHWM (KiB)", r["reference"], r["cnibox"], f"{r['reference'] / r['cnibox']:.1f}x less",
        "<= 1024 KiB", r["cnibox"] <= 1024, unit="kb")
    an = res["version_anon_kb"]
    L.append(f"| ... of it private (RssAnon, KiB); the rest is the binary's page cache | {an['reference']} | "
             f"{an['cnibox']} | {an['reference'] / an['cnibox']:.1f}x less | | |")
    for kind in ("bridge", "ptp"):
        a, d = res[f"{kind}_add_ms"], res[f"{kind}_del_ms"]
        x = a["reference"] / a["cnibox"]
        row(f"{kind}+host-local ADD (ms)", a["reference"], a["cnibox"], f"{x:.1f}x faster",
            ">= 15x" if kind == "bridge" else "", x >= 15 if kind == "bridge" else True)
        floor = res[f"{kind}_floor_del_ms"] + exec_floor
        y = d["cnibox"] / floor
        row(f"{kind}+host-local DEL (ms)", d["reference"], d["cnibox"],
            f"{d['reference'] / d['cnibox']:.1f}x faster; {y:.2f}x floor", "<= 1.2x floor", y <= 1.2)
        for verb in ("add", "del"):
            c = res[f"{kind}_{verb}_cpu_ms"]
            L.append(f"| ... {verb.upper()} CPU time, user+sys (ms) | {c['reference']:.2f} | {c['cnibox']:.2f} | "
                     f"{c['reference'] / max(c['cnibox'], 0.001):.1f}x less | | |")
    cr, cc = res["conc"]["reference"], res["conc"]["cnibox"]
    n = p["conc_containers"]
    row(f"{p['workers']} workers: bridge ADD per op (ms)", cr["add_ms"], cc["add_ms"],
        f"{cr['add_ms'] / cc['add_ms']:.1f}x faster", "", True)
    row(f"{p['workers']} workers: bridge DEL per op (ms)", cr["del_ms"], cc["del_ms"],
        f"{cr['del_ms'] / cc['del_ms']:.1f}x faster", "", True)
    row(f"{p['workers']} workers: {n} ADDs, wall (ms)", cr["wall_add_ms"], cc["wall_add_ms"],
        f"{cr['wall_add_ms'] / cc['wall_add_ms']:.1f}x faster", "", True)
    row(f"{p['workers']} workers: {n} DELs, wall (ms)", cr["wall_del_ms"], cc["wall_del_ms"],
        f"{cr['wall_del_ms'] / cc['wall_del_ms']:.1f}x faster", "", True)
    L.append(f"| {p['workers']} workers: failed ops | {cr['fails']} | {cc['fails']} | | 0 | "
             f"{'yes' if cc['fails'] == 0 else 'NO'} |")
    L.append(f"| kernel floor: veth create, peer in place (ms) | | {res['floor_veth_add_ms']:.2f} | | | |")
    L.append(f"| kernel floor: veth delete (ms) | | {fdel:.2f} | | | |")
    L.append(f"| DEL floor = veth delete + cnibox exec (ms): bridge rounds / ptp rounds | | "
             f"{res['bridge_floor_del_ms'] + exec_floor:.2f} / {res['ptp_floor_del_ms'] + exec_floor:.2f} | | | |")
    L.append(f"| ADD floor = veth create + cnibox exec (ms) | | {res['floor_veth_add_ms'] + exec_floor:.2f} | | | |")
    ib = res["install_bytes"]
    x = ib["reference"] / ib["cnibox"]
    L.append(f"| install size (MB) | {ib['reference'] / 1e6:.1f} | {ib['cnibox'] / 1e6:.2f} | "
             f"{x:.0f}x smaller | >= 30x | {'yes' if x >= 30 else 'NO'} |")
    for k, c in res["conc"].items():
        if c["first_fail"]:
            L.append(f"\n{k}: first concurrent failure: {c['first_fail'][0][:300]}")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cnibox", required=True, help="the static cnibox")
    ap.add_argument("--containers", type=int, default=40, help="container namespaces per implementation")
    ap.add_argument("--rounds", type=int, default=5, help="ADD/DEL rounds over those namespaces")
    ap.add_argument("--version-n", type=int, default=400, help="VERSION samples per implementation")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--conc-containers", type=int, default=64, help="attachments per concurrent phase")
    ap.add_argument("--json", help="also write the raw figures here")
    ap.add_argument("--command", default="bench/run", help=argparse.SUPPRESS)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--prefix", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if prologue(a, inner, ("bridge", "ptp", "host-local")):
        return
    # Names "cbt-bench-<what>-<pid>-<hex>", the pattern test/run's cleanup
    # of stale test namespaces knows, should this process be killed.
    prefix = f"-{os.getpid()}-{secrets.token_hex(3)}"
    host = f"cbt-bench-host{prefix}"
    args = []
    for k in ("cnibox", "containers", "rounds", "version_n", "workers", "conc_containers", "command"):
        args += [f"--{k.replace('_', '-')}", str(getattr(a, k))]
    res = measure_in_namespace(os.path.abspath(__file__), host, prefix, "cnibox-bench-", args)
    report(table(res, a.command), res, a.json)


def prologue(a, inner_fn, plugins):
    """Common start of the bench scripts. Returns True when this was the
    inner (measuring) process and it has run."""
    a.cnibox = os.path.abspath(a.cnibox)
    # Cleanup (namespaces, files) runs in `finally`: let SIGTERM and SIGINT
    # unwind to it, also when started in the background with SIGINT ignored.
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if a.inner:
        inner_fn(a)
        return True
    if os.geteuid() != 0:
        sys.exit("bench: needs root (it makes network namespaces)")
    for p in plugins:
        if not os.access(os.path.join(REF_DIR, p), os.X_OK):
            sys.exit(f"bench: the reference plugins are missing ({REF_DIR}/{p}); "
                     "apt-get install containernetworking-plugins")
    return False


def measure_in_namespace(script, host, prefix, tmp_prefix, args):
    """Runs `script --inner` inside a new namespace `host` (names ending in
    `prefix`, so an interrupted run's leftovers are found) with a scratch
    workdir, and returns the figures it wrote. Every cbt-bench-* namespace
    ending in `prefix` and the workdir are removed afterwards, also on
    failure or interruption (the measuring process cleans up first)."""
    workdir = tempfile.mkdtemp(prefix=tmp_prefix)
    result = os.path.join(workdir, "result.json")
    proc = None
    try:
        ns_add(host)
        cmd = ["ip", "netns", "exec", host, sys.executable, script, "--inner",
               f"--prefix={prefix}", f"--result={result}", f"--workdir={workdir}"] + args
        proc = subprocess.Popen(cmd)
        if proc.wait() != 0:
            sys.exit(f"bench: the measuring process failed (exit {proc.returncode})")
        with open(result) as f:
            return json.load(f)
    finally:
        _hold_signals()
        if proc is not None and proc.poll() is None:  # interrupted: let it clean up first
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for n in ns_list():
            if n.startswith("cbt-bench-") and n.endswith(prefix):
                ns_del(n)
        shutil.rmtree(workdir, ignore_errors=True)


def side_main(script, doc, inner_fn, table_fn, short, plugins=(), containers=10, rounds=3, extra=()):
    """The main of the side-by-side scripts (netfilter.py, meta.py,
    flannel.py): their common options, the reference check (`plugins` in
    /usr/lib/cni), then `script --inner` (inner_fn) measuring in a namespace
    cbt-bench-<short>-base-*, and table_fn(res, command) printed. extra:
    (option, default) pairs of further integer options passed on."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cnibox", required=True)
    ap.add_argument("--containers", type=int, default=containers, help="container namespaces per side")
    ap.add_argument("--rounds", type=int, default=rounds, help="ADD/DEL rounds over those namespaces")
    for opt, default in extra:
        ap.add_argument(opt, type=int, default=default)
    ap.add_argument("--json", help="also write the raw figures here")
    ap.add_argument("--command", default="bench/run")
    for hidden in ("--prefix", "--result", "--workdir"):
        ap.add_argument(hidden, help=argparse.SUPPRESS)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if prologue(a, inner_fn, plugins):
        return
    if a.containers < 1 or a.rounds < 1:
        sys.exit(f"{os.path.basename(script)}: --containers and --rounds must be at least 1")
    prefix = f"-{os.getpid()}-{secrets.token_hex(3)}"
    args = ["--cnibox", a.cnibox, "--containers", str(a.containers), "--rounds", str(a.rounds),
            "--command", a.command]
    for opt, _ in extra:
        args += [opt, str(getattr(a, opt.lstrip("-").replace("-", "_")))]
    # The sampler lives in a namespace of its own too (never the machine's).
    res = measure_in_namespace(os.path.abspath(script), f"cbt-bench-{short}-base{prefix}", prefix,
                               f"cnibox-bench-{short}-", args)
    report(table_fn(res, a.command), res, a.json)


def release(sides, made):
    """The end of an inner run: signals held, the sides' namespace fds
    closed, the namespaces it made deleted."""
    _hold_signals()
    for s in sides:
        os.close(s.fd)
    for n in made:
        ns_del(n)


def report(text, res, json_path):
    print(text)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(res, f, indent=1)


def entry(main_fn):
    try:
        main_fn()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    entry(main)
