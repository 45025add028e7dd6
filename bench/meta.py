#!/usr/bin/env python3
"""The routing and shaping meta plugins: bandwidth and sbr, cnibox against
the reference plugins (/usr/lib/cni), interleaved in one run.

Run through bench/run, or: python3 bench/meta.py --cnibox PATH.

Every sample execs one plugin as a runtime does (CNI_* environment, config
with prevResult on stdin) and takes its time from spawn to reaped exit (the
exec harness of cnibench.py). Each implementation has its own "host"
namespace (the sampler switches into it with setns before each spawn) and
its own container namespaces; the samples take turns (order flipped every
other sample). The bridge + host-local attachment each plugin is chained
after is made and removed untimed.

Cases:
  bandwidth ADD / DEL  ingress and egress shaping (tbf on the host veth, an
                       ifb with an ingress qdisc, a redirect filter and tbf)
  sbr ADD / DEL        a routing table and a rule for the container's address
  kernel floor         bandwidth DEL deletes the ifb, which pays the same
                       unregister wait as a veth: an ifb deleted by this
                       process with one RTM_DELLINK, sampled in the same rounds

Namespaces are named cbt-bench-meta-* and removed at the end, also on failure.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnibench as cb  # noqa: E402

# 80 Mbit/s, 1 Mbit of burst, both ways (the shaping itself costs the same
# for any rate).
SHAPE = {"ingressRate": 80_000_000, "ingressBurst": 1_000_000,
         "egressRate": 80_000_000, "egressBurst": 1_000_000}


class Side(cb.HostSide):
    """One implementation: its plugins, its host namespace."""

    def __init__(self, name, bindir, net, hostns, data):
        super().__init__(name, bindir, hostns)
        self.net, self.data = net, data

    def bridge(self):
        return {"cniVersion": "1.0.0", "name": f"meta{self.net}", "type": "bridge",
                "bridge": f"cbm{self.net}", "isGateway": True,
                "ipam": {"type": "host-local", "dataDir": self.data,
                         "ranges": [[{"subnet": f"10.{self.net}.0.0/16"}]]}}

    def meta(self, plugin, prev):
        c = {"cniVersion": "1.0.0", "name": f"meta{self.net}", "type": plugin, "prevResult": prev}
        if plugin == "bandwidth":
            c.update(SHAPE)
        return c


class Floor:
    """The kernel's share of bandwidth DEL: one ifb deleted by RTM_DELLINK."""

    def __init__(self, fd):
        self.fd = fd
        self.rt = None

    def sample(self, j):
        cb.setns_net(self.fd)
        if self.rt is None:
            self.rt = cb.Rtnl()   # bound in the floor's own host namespace
        name = f"kfifb{j}"
        body = cb._ifinfo() + cb._attr(cb.IFLA_IFNAME, name.encode() + b"\0") + \
            cb._attr(cb.IFLA_LINKINFO | cb.NLA_F_NESTED, cb._attr(cb.IFLA_INFO_KIND, b"ifb\0"))
        self.rt._call(cb.RTM_NEWLINK, cb.NLM_F_CREATE | cb.NLM_F_EXCL, body)
        t0 = time.perf_counter_ns()
        self.rt.delete(name)
        return (time.perf_counter_ns() - t0) / 1e6


def bench_plugin(plugin, sides, ctrs, rounds, floor=None):
    """bridge ADD (untimed) -> PLUGIN ADD; then PLUGIN DEL -> bridge DEL (untimed)."""
    t = {(s.name, k): [] for s in sides for k in ("add", "del")}
    fdel = []
    k = len(ctrs[sides[0].name])
    for rnd in range(rounds):
        prevs = {}
        for j in range(k):
            order = sides if (j + rnd) % 2 == 0 else sides[::-1]
            for s in order:
                cid, ns = f"{plugin}-{rnd}-{j}", ctrs[s.name][j]
                prev = json.loads(s.exec("bridge", "ADD", s.bridge(), ns, cid).out)
                r = s.exec(plugin, "ADD", s.meta(plugin, prev), ns, cid)
                t[(s.name, "add")].append(r.ms)
                prevs[(s.name, j)] = (prev, json.loads(r.out))
        for j in range(k):
            order = sides if (j + rnd) % 2 == 0 else sides[::-1]
            for s in order:
                cid, ns = f"{plugin}-{rnd}-{j}", ctrs[s.name][j]
                prev, result = prevs[(s.name, j)]
                r = s.exec(plugin, "DEL", s.meta(plugin, result), ns, cid)
                t[(s.name, "del")].append(r.ms)
                conf = s.bridge()
                conf["prevResult"] = prev
                s.exec("bridge", "DEL", conf, ns, cid)
            if floor:
                fdel.append(floor.sample(j))
    return t, fdel


def inner(a):
    made = []
    sides = []
    floor = None
    try:
        bindir = os.path.join(a.workdir, "bin")
        os.mkdir(bindir)
        subprocess.run([a.cnibox, "--install", bindir], check=True, capture_output=True)
        data = os.path.join(a.workdir, "data")
        os.mkdir(data)

        def mk(name):
            full = f"cbt-bench-meta-{name}{a.prefix}"
            made.append(full)
            return cb.ns_add(full)

        for name, bd, net in (("reference", cb.REF_DIR, 70), ("cnibox", bindir, 72)):
            host = mk(f"h{name[:3]}")
            sides.append(Side(name, bd, net, os.path.basename(host), os.path.join(data, name)))
        floor = Floor(os.open(mk("hflo"), os.O_RDONLY))
        ctrs = {s.name: [mk(f"{s.name[:3]}{j}") for j in range(a.containers)] for s in sides}
        res = {"params": {"containers": a.containers, "rounds": a.rounds}}
        t0 = time.time()
        # warm-up: the first bridge ADD makes the bridge; not measured
        for s in sides:
            ns = ctrs[s.name][0]
            prev = json.loads(s.exec("bridge", "ADD", s.bridge(), ns, "warm").out)
            for plugin in ("bandwidth", "sbr"):
                out = json.loads(s.exec(plugin, "ADD", s.meta(plugin, prev), ns, "warm").out)
                s.exec(plugin, "DEL", s.meta(plugin, out), ns, "warm")
            conf = s.bridge()
            conf["prevResult"] = prev
            s.exec("bridge", "DEL", conf, ns, "warm")
        bw, fdel = bench_plugin("bandwidth", sides, ctrs, a.rounds, floor)
        cb.progress(f"bandwidth done ({time.time() - t0:.0f}s)")
        sbr, _ = bench_plugin("sbr", sides, ctrs, a.rounds)
        cb.progress(f"sbr done ({time.time() - t0:.0f}s)")
        for tag, t in (("bw", bw), ("sbr", sbr)):
            for (name, k), v in t.items():
                res.setdefault(f"{tag}_{k}", {})[name] = cb.med(v)
        res["floor_del"] = cb.med(fdel)
        res["samples"] = len(bw[(sides[0].name, "add")])
        res["seconds"] = time.time() - t0
        with open(a.result, "w") as f:
            json.dump(res, f)
    finally:
        cb.release(sides + ([floor] if floor else []), made)


def table(res, command):
    L = [f"Meta plugins: `{command}` ({res['samples']} samples per cell, medians in ms; ratio = "
         "reference / cnibox).", "",
         "| Case | reference | cnibox | ratio | target |", "|---|---:|---:|---:|---|"]
    for k, label, tgt in (("bw_add", "bandwidth ADD (ingress + egress)", 5), ("bw_del", "bandwidth DEL", None),
                          ("sbr_add", "sbr ADD", 5), ("sbr_del", "sbr DEL", None)):
        ref, box = res[k]["reference"], res[k]["cnibox"]
        if tgt:
            tt = f">= {tgt}x: " + ("met" if ref / box >= tgt else "NOT met")
        elif k == "bw_del":
            tt = (f"floor (one ifb RTM_DELLINK) {res['floor_del']:.2f} ms; cnibox adds "
                  f"{box - res['floor_del']:.2f} ms")
        else:
            tt = "(reported)"
        L.append(f"| {label} | {ref:.2f} | {box:.2f} | {ref / box:.1f}x | {tt} |")
    return "\n".join(L)


def main():
    cb.side_main(__file__, __doc__, inner, table, "meta", ("bridge", "bandwidth", "sbr"))


if __name__ == "__main__":
    cb.entry(main)
