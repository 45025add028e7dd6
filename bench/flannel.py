#!/usr/bin/env python3
"""The flannel meta plugin's own cost: cnibox's flannel -> bridge + host-local
against cnibox's bridge + host-local alone with the same delegate config,
interleaved in one run.

Run through bench/run, or: python3 bench/flannel.py --cnibox PATH.

cnibox only: there is no reference flannel plugin on this machine
(/usr/lib/cni, Debian's containernetworking-plugins, does not ship one; the
flannel CNI plugin is flannel-io/cni-plugin, packaged apart), so there is no
reference column.

cnibox's flannel applet runs its delegate (bridge, and bridge's host-local)
in-process, so both cases exec one process, and the difference of their CPU
times is flannel's own work: reading subnet.env, building the delegate
config, saving it in dataDir (ADD), reading and removing it (DEL).

Every sample execs one plugin as a runtime does (CNI_* environment, config
on stdin; the exec harness of cnibench.py) and takes, from the reaped child
(wait4), its wall time from spawn to exit and its CPU time (user + sys;
there are no other processes to count). The two cases take turns (order
flipped every other sample), each in its own "host" namespace (the sampler
switches into it with setns before each spawn) with its own pool of
container namespaces, reused round after round: every round ADDs into every
container namespace, then DELs from each.

  flannel -> bridge   flannel's config: subnetFile (a subnet.env written here:
                      FLANNEL_NETWORK=10.1.0.0/16, FLANNEL_SUBNET=10.1.17.1/24,
                      FLANNEL_MTU=1450, FLANNEL_IPMASQ=true), dataDir, and
                      ipam {"dataDir"} that flannel merges into host-local's.
                      DEL gets the config with the ADD's result as prevResult,
                      as a runtime sends it.
  bridge alone        the delegate config flannel saved at the warm-up ADD
                      (dataDir/<containerID>, read back: the same compact JSON,
                      keys in the same order), but host-local's dataDir
                      pointed at a store of its own; DEL
                      gets that config as flannel passes it (no prevResult).

The figure: flannel's own CPU per ADD = the median, over the samples, of
CPU(flannel -> bridge ADD) - CPU(bridge ADD) for the two samples taken side
by side at the same container namespace index; target under 0.2 ms. The
difference of the two medians and a distribution-free 95% interval for the
median difference are printed too. Wall times are printed but are noisy (the
kernel's veth work and the disk).

dataDir and the lease stores are in a scratch directory under the temp
directory (TMPDIR, else /tmp); the table names it and its file system type,
since flannel's save of the delegate config costs more on a disk file system
than on tmpfs (TMPDIR=/dev/shm measures the latter).

Namespaces are named cbt-bench-fl-* and removed at the end, also on failure.
"""
import json
import math
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnibench as cb  # noqa: E402

NET = "flbench"
SUBNET_ENV = "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"
TARGET_MS = 0.2
CASES = ("flannel", "bridge")   # flannel -> bridge, bridge alone


class Side(cb.HostSide):
    """One case: its plugin, its host namespace, its container namespaces."""

    def __init__(self, name, plugin, bindir, hostns):
        super().__init__(name, bindir, hostns)
        self.plugin = plugin
        self.ctrs = []


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


def median_ci(xs, level=0.95):
    """A distribution-free interval for the median of xs (order statistics,
    binomial(n, 1/2)), or None when there are too few samples."""
    n = len(xs)
    s = sorted(xs)
    alpha = (1 - level) / 2
    cum, k = 0.0, 0
    for i in range(n + 1):
        cum += math.comb(n, i) / 2 ** n
        if cum > alpha:
            k = i  # P(B <= k - 1) <= alpha < P(B <= k)
            break
    if k < 1:
        return None
    return s[k - 1], s[n - k]


def check_addr(ns_path, result, what):
    """The ADD result's address is really on eth0 in the container."""
    ip = json.loads(result)["ips"][0]["address"]
    shown = subprocess.run(["ip", "-n", os.path.basename(ns_path), "-o", "addr", "show", "dev", "eth0"],
                           capture_output=True, text=True).stdout
    if ip not in shown:
        raise cb.Failure(f"{what}: {ip} not on eth0 in {ns_path}: {shown!r}")


def inner(a):
    made = []
    sides = []
    try:
        w = a.workdir
        bindir = os.path.join(w, "bin")
        os.mkdir(bindir)
        listed = subprocess.run([a.cnibox, "--list"], check=True, capture_output=True, text=True).stdout.split()
        for p in ("flannel", "bridge", "host-local"):
            if p not in listed:
                raise cb.Failure(f"{a.cnibox} has no {p} applet (--list: {' '.join(listed)})")
        subprocess.run([a.cnibox, "--install", bindir], check=True, capture_output=True)
        subnet_file = os.path.join(w, "subnet.env")
        with open(subnet_file, "w") as f:
            f.write(SUBNET_ENV)
        fl_data = os.path.join(w, "flannel")
        fconf = {"cniVersion": "1.0.0", "name": NET, "type": "flannel", "subnetFile": subnet_file,
                 "dataDir": fl_data, "ipam": {"dataDir": os.path.join(w, "ipam-flannel")}}
        fconf_text = compact(fconf)

        def mk(name):
            full = f"cbt-bench-fl-{name}{a.prefix}"
            made.append(full)
            return cb.ns_add(full)

        for name, plugin in zip(CASES, ("flannel", "bridge")):
            sides.append(Side(name, plugin, bindir, mk(f"h{name[0]}")))
        for s in sides:
            s.ctrs = [mk(f"{s.name[0]}{j}") for j in range(a.containers)]
        fl, br = sides

        # warm-up (not measured): flannel makes cni0 and its stores; its saved
        # delegate config becomes the bridge-alone case's config
        r = fl.exec(fl.plugin, "ADD", fconf_text, fl.ctrs[0], "warm")
        check_addr(fl.ctrs[0], r.out, "flannel ADD")
        with open(os.path.join(fl_data, "warm")) as f:
            delegate_text = f.read()
        dconf = json.loads(delegate_text)
        if dconf.get("type") != "bridge" or dconf.get("ipam", {}).get("type") != "host-local":
            raise cb.Failure(f"flannel saved an unexpected delegate config: {delegate_text}")
        dconf["ipam"]["dataDir"] = os.path.join(w, "ipam-bridge")
        bconf_text = compact(dconf)
        fl.exec(fl.plugin, "DEL", compact(dict(fconf, prevResult=json.loads(r.out))), fl.ctrs[0], "warm")
        if os.listdir(fl_data):
            raise cb.Failure(f"flannel DEL left {os.listdir(fl_data)} in its dataDir")
        r = br.exec(br.plugin, "ADD", bconf_text, br.ctrs[0], "warm")
        check_addr(br.ctrs[0], r.out, "bridge ADD")
        br.exec(br.plugin, "DEL", bconf_text, br.ctrs[0], "warm")

        # samples: [case][verb] -> list of (wall ms, cpu ms), index-aligned
        t = {s.name: {"add": [], "del": []} for s in sides}
        t0 = time.time()
        load0 = os.getloadavg()
        k = a.containers
        for rnd in range(a.rounds):
            results = {}
            for j in range(k):
                for s in (sides if (j + rnd) % 2 == 0 else sides[::-1]):
                    cid = f"fl-{rnd}-{j}"
                    r = s.exec(s.plugin, "ADD", fconf_text if s is fl else bconf_text, s.ctrs[j], cid)
                    t[s.name]["add"].append((r.ms, r.cpu_ms))
                    results[(s.name, j)] = r.out
            for j in range(k):
                for s in (sides if (j + rnd) % 2 == 0 else sides[::-1]):
                    cid = f"fl-{rnd}-{j}"
                    if s is fl:
                        text = compact(dict(fconf, prevResult=json.loads(results[(s.name, j)])))
                    else:
                        text = bconf_text  # as flannel passes the saved config on
                    r = s.exec(s.plugin, "DEL", text, s.ctrs[j], cid)
                    t[s.name]["del"].append((r.ms, r.cpu_ms))
            cb.progress(f"flannel round {rnd + 1}/{a.rounds} ({time.time() - t0:.0f}s)")
        left = os.listdir(fl_data)
        if left:
            raise cb.Failure(f"flannel's dataDir not empty after the DELs: {left}")

        res_floor = save_floor(w, delegate_text)

        fstype = subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "--target", w],
                                capture_output=True, text=True).stdout.split()  # the visible mount last
        res = {"params": {"containers": a.containers, "rounds": a.rounds},
               "samples": len(t["flannel"]["add"]), "seconds": time.time() - t0,
               "load": [load0, os.getloadavg()], "delegate": delegate_text,
               "workdir_fs": f"{os.path.dirname(w)} ({fstype[-1] if fstype else '?'})",
               "floor": res_floor}
        for verb in ("add", "del"):
            for m, col in (("wall", 0), ("cpu", 1)):
                v = {s: [x[col] for x in t[s][verb]] for s in CASES}
                diffs = [f - b for f, b in zip(v["flannel"], v["bridge"])]
                res[f"{verb}_{m}"] = {s: cb.med(v[s]) for s in CASES}
                res[f"{verb}_{m}"]["diff_pairs"] = cb.med(diffs)
                res[f"{verb}_{m}"]["diff_medians"] = cb.med(v["flannel"]) - cb.med(v["bridge"])
                res[f"{verb}_{m}"]["ci"] = median_ci(diffs)
        with open(a.result, "w") as f:
            json.dump(res, f)
    finally:
        cb.release(sides, made)


def save_floor(workdir, text, n=500):
    """The kernel's part of flannel's file work, in this process: CPU ms per
    save (create ".tmp", write the delegate config, close, rename to its
    name) and per read + remove, in a directory on the same file system as
    the dataDir (Python's own call overhead, a few us, included)."""
    d = os.path.join(workdir, "floor")
    os.mkdir(d, 0o700)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    data = text.encode()
    try:
        t0 = time.process_time()
        for i in range(n):
            fd = os.open(".c.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600, dir_fd=dfd)
            os.write(fd, data)
            os.close(fd)
            os.rename(".c.tmp", f"c{i}", src_dir_fd=dfd, dst_dir_fd=dfd)
        t1 = time.process_time()
        for i in range(n):
            fd = os.open(f"c{i}", os.O_RDONLY | os.O_CLOEXEC, dir_fd=dfd)
            os.read(fd, 65536)
            os.close(fd)
            os.unlink(f"c{i}", dir_fd=dfd)
        t2 = time.process_time()
    finally:
        os.close(dfd)
        os.rmdir(d)
    return {"save": (t1 - t0) * 1000 / n, "remove": (t2 - t1) * 1000 / n, "n": n}


def table(res, command):
    n = res["samples"]
    L = [f"Flannel meta plugin, cnibox only (no reference flannel in {cb.REF_DIR}): `{command}` "
         f"({n} samples per cell, medians in ms; flannel's share = median of the {n} paired differences "
         "flannel -> bridge minus bridge alone, with its 95% interval).", "",
         "| Case | flannel -> bridge | bridge alone | flannel's share [95% interval] | difference of medians | target |",
         "|---|---:|---:|---:|---:|---|"]
    for key, label in (("add_cpu", "ADD CPU (user + sys)"), ("del_cpu", "DEL CPU (user + sys)"),
                       ("add_wall", "ADD wall (noisy)"), ("del_wall", "DEL wall (noisy)")):
        c = res[key]
        ci = f" [{c['ci'][0]:.3f}, {c['ci'][1]:.3f}]" if c["ci"] else " [too few samples]"
        if key == "add_cpu":
            ok = c["diff_pairs"] < TARGET_MS
            tt = f"< {TARGET_MS} ms: " + ("pass" if ok else "FAIL")
            if ok and c["ci"] and c["ci"][1] >= TARGET_MS:
                tt += " (interval reaches it)"
        elif key.endswith("wall"):
            tt = "(reported; noisy)"
        else:
            tt = "(reported)"
        L.append(f"| {label} | {c['flannel']:.3f} | {c['bridge']:.3f} | {c['diff_pairs']:.3f}{ci} | "
                 f"{c['diff_medians']:.3f} | {tt} |")
    fl = res["floor"]
    share = res["add_cpu"]["diff_pairs"]
    L.append(f"| kernel floor: saving the delegate config (create, write, rename; {fl['n']} in-process) "
             f"| | | {fl['save']:.3f} | | flannel's ADD share less it: {share - fl['save']:.3f} |")
    L.append(f"| kernel floor: reading and removing it | | | {fl['remove']:.3f} | | |")
    (l0, _, _), (l1, _, _) = res["load"]
    L.append("")
    L.append(f"dataDir and the lease stores in {res['workdir_fs']}; load average (1 min) {l0:.2f} at the "
             f"start, {l1:.2f} at the end; {res['seconds']:.0f} s.")
    return "\n".join(L)


def main():
    cb.side_main(__file__, __doc__, inner, table, "fl", containers=20, rounds=10)


if __name__ == "__main__":
    cb.entry(main)
