#!/usr/bin/env python3
"""The netfilter plugins: cnibox (both backends) against the reference
plugins (/usr/lib/cni), interleaved in one run.

Run through bench/run, or: python3 bench/netfilter.py --cnibox PATH.

Every sample execs one plugin as a runtime does (CNI_* environment, config
with prevResult on stdin) and takes its time from spawn to reaped exit (the
exec harness of cnibench.py). Each implementation has its own "host"
namespace (the sampler switches into it with setns before each spawn), so
the tables one side fills never slow the other down; the samples take turns
(reference, reference/legacy, cnibox/iptables, cnibox/nftables, order
rotated every sample).
The reference runs `iptables` from PATH: once as installed (Debian's default,
iptables-nft), once with the legacy xtables tools first in PATH (what
cnibox's iptables backend writes).

Cases:
  portmap ADD / DEL     one tcp mapping, chained after bridge + host-local
  firewall ADD / DEL    chained after the same bridge attachment
  bridge+ipMasq ADD/DEL bridge + host-local with ipMasq (masquerade chain / rules)
  portmap ADD with N mappings present: the same ADD on an empty table and with
                        1000 mappings (10 attachments x 100) already there, per
                        cnibox backend: the ratio shows how the cost grows

Namespaces are named cbt-bench-nf-* and removed at the end, also on failure.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnibench as cb  # noqa: E402



def legacy_dir(workdir):
    d = os.path.join(workdir, "legacy-bin")
    os.makedirs(d, exist_ok=True)
    for fam in ("iptables", "ip6tables"):
        for suffix in ("", "-save", "-restore"):
            os.symlink(f"/usr/sbin/{fam}-legacy{suffix}", os.path.join(d, fam + suffix))
    return d


class Side(cb.HostSide):
    """One implementation: its plugins, its host namespace, its backend."""

    def __init__(self, name, bindir, backend, net, hostns, data, path):
        super().__init__(name, bindir, hostns)
        self.backend, self.net = backend, net
        self.data = data
        self.path = path

    def env(self, cmd, netns, cid):
        e = super().env(cmd, netns, cid)
        e["PATH"] = self.path
        return e

    def bridge(self, masq=False):
        c = {"cniVersion": "1.0.0", "name": f"nf{self.net}{'m' if masq else ''}", "type": "bridge",
             "bridge": f"cbnf{self.net}{'m' if masq else ''}", "isGateway": True,
             "ipam": {"type": "host-local", "dataDir": self.data,
                      "ranges": [[{"subnet": f"10.{self.net + (1 if masq else 0)}.0.0/16"}]]}}
        if masq:
            c["ipMasq"] = True
            if self.backend:
                c["ipMasqBackend"] = self.backend
        return c

    def portmap(self, prev, ports):
        c = {"cniVersion": "1.0.0", "name": f"nf{self.net}", "type": "portmap",
             "runtimeConfig": {"portMappings": [{"hostPort": p, "containerPort": 80, "protocol": "tcp"}
                                                for p in ports]},
             "prevResult": prev}
        if self.backend:
            c["backend"] = self.backend
        return c

    def firewall(self, prev):
        c = {"cniVersion": "1.0.0", "name": f"nf{self.net}", "type": "firewall", "prevResult": prev}
        if self.backend:
            c["backend"] = self.backend
        return c


def bench_chain(sides, ctrs, rounds):
    """bridge ADD (not timed) -> portmap ADD -> firewall ADD; then DELs in reverse."""
    t = {(s.name, k): [] for s in sides for k in ("pm_add", "pm_del", "fw_add", "fw_del")}
    n = len(sides)
    for rnd in range(rounds):
        prevs = {}
        for j in range(len(ctrs[sides[0].name])):
            order = sides[(j + rnd) % n:] + sides[:(j + rnd) % n]
            for s in order:
                cid = f"nf-{rnd}-{j}"
                ns = ctrs[s.name][j]
                r = s.exec("bridge", "ADD", s.bridge(), ns, cid)
                prev = json.loads(r.out)
                r = s.exec("portmap", "ADD", s.portmap(prev, [10000 + j]), ns, cid)
                t[(s.name, "pm_add")].append(r.ms)
                prev = json.loads(r.out)
                r = s.exec("firewall", "ADD", s.firewall(prev), ns, cid)
                t[(s.name, "fw_add")].append(r.ms)
                prevs[(s.name, j)] = json.loads(r.out)
        for j in range(len(ctrs[sides[0].name])):
            order = sides[(j + rnd) % n:] + sides[:(j + rnd) % n]
            for s in order:
                cid = f"nf-{rnd}-{j}"
                ns = ctrs[s.name][j]
                prev = prevs[(s.name, j)]
                r = s.exec("firewall", "DEL", s.firewall(prev), ns, cid)
                t[(s.name, "fw_del")].append(r.ms)
                r = s.exec("portmap", "DEL", s.portmap(prev, [10000 + j]), ns, cid)
                t[(s.name, "pm_del")].append(r.ms)
                conf = s.bridge()
                conf["prevResult"] = prev
                s.exec("bridge", "DEL", conf, ns, cid)
    return t


def bench_masq(sides, ctrs, rounds):
    t = {(s.name, k): [] for s in sides for k in ("add", "del")}
    n = len(sides)
    for rnd in range(rounds):
        prevs = {}
        for j in range(len(ctrs[sides[0].name])):
            order = sides[(j + rnd) % n:] + sides[:(j + rnd) % n]
            for s in order:
                r = s.exec("bridge", "ADD", s.bridge(True), ctrs[s.name][j], f"m-{rnd}-{j}")
                t[(s.name, "add")].append(r.ms)
                prevs[(s.name, j)] = json.loads(r.out)
        for j in range(len(ctrs[sides[0].name])):
            order = sides[(j + rnd) % n:] + sides[:(j + rnd) % n]
            for s in order:
                conf = s.bridge(True)
                conf["prevResult"] = prevs[(s.name, j)]
                r = s.exec("bridge", "DEL", conf, ctrs[s.name][j], f"m-{rnd}-{j}")
                t[(s.name, "del")].append(r.ms)
    return t


def bench_scaling(sides, ctrs, samples, present):
    """portmap ADD (+ untimed DEL) with 0 and with `present` mappings in place."""
    out = {}
    for s in sides:
        ns = ctrs[s.name][0]
        r = s.exec("bridge", "ADD", s.bridge(), ns, "scale")
        prev = json.loads(r.out)
        curve = {}
        for filled in (0, present):
            if filled:
                per = 100
                for k in range(filled // per):
                    s.exec("portmap", "ADD", s.portmap(prev, list(range(30000 + k * per, 30000 + (k + 1) * per))),
                           ns, f"fill-{k}")
            # ADDs one after the other, DELs after them: after a transaction that
            # deleted anything, nf_tables frees it after an RCU grace period and
            # the next netfilter socket release (and commit) waits for that;
            # the growth with the table's size is what is measured here.
            time.sleep(0.2)
            ms = []
            for k in range(samples):
                r = s.exec("portmap", "ADD", s.portmap(prev, [12000 + k]), ns, f"probe-{filled}-{k}")
                ms.append(r.ms)
            for k in range(samples):
                s.exec("portmap", "DEL", s.portmap(prev, [12000 + k]), ns, f"probe-{filled}-{k}")
            curve[filled] = cb.med(ms)
        for k in range(present // 100):
            s.exec("portmap", "DEL", s.portmap(prev, list(range(30000 + k * 100, 30000 + (k + 1) * 100))),
                   ns, f"fill-{k}")
        conf = s.bridge()
        conf["prevResult"] = prev
        s.exec("bridge", "DEL", conf, ns, "scale")
        out[s.name] = curve
    return out


def inner(a):
    made = []
    sides = []
    try:
        bindir = os.path.join(a.workdir, "bin")
        os.mkdir(bindir)
        subprocess.run([a.cnibox, "--install", bindir], check=True, capture_output=True)
        data = os.path.join(a.workdir, "data")
        os.mkdir(data)

        def mk(name):
            full = f"cbt-bench-nf-{name}{a.prefix}"
            made.append(full)
            return cb.ns_add(full)

        legacy = legacy_dir(a.workdir)
        plain = cb.PATH_ENV
        spec = [("reference", cb.REF_DIR, None, 58, plain),
                ("reference/legacy", cb.REF_DIR, None, 60, legacy + ":" + plain),
                ("cnibox/iptables", bindir, "iptables", 62, plain),
                ("cnibox/nftables", bindir, "nftables", 64, plain)]
        for name, bd, backend, net, path in spec:
            tag = name.split("/")[-1][:3]
            host = mk(f"h{tag}")
            sides.append(Side(name, bd, backend, net, os.path.basename(host), data, path))
        ctrs = {s.name: [mk(f"{s.name.split('/')[-1][:3]}{j}") for j in range(a.containers)] for s in sides}
        res = {"params": {"containers": a.containers, "rounds": a.rounds}}
        t0 = time.time()
        # warm-up: first contact (bridge, top-level chains, tables) is not measured
        for s in sides:
            for masq in (False, True):
                r = s.exec("bridge", "ADD", s.bridge(masq), ctrs[s.name][0], "warm")
                prev = json.loads(r.out)
                if not masq:
                    prev = json.loads(s.exec("portmap", "ADD", s.portmap(prev, [9999]), ctrs[s.name][0], "warm").out)
                    prev = json.loads(s.exec("firewall", "ADD", s.firewall(prev), ctrs[s.name][0], "warm").out)
                    s.exec("firewall", "DEL", s.firewall(prev), ctrs[s.name][0], "warm")
                    s.exec("portmap", "DEL", s.portmap(prev, [9999]), ctrs[s.name][0], "warm")
                conf = s.bridge(masq)
                conf["prevResult"] = prev
                s.exec("bridge", "DEL", conf, ctrs[s.name][0], "warm")
        chain = bench_chain(sides, ctrs, a.rounds)
        cb.progress(f"portmap/firewall done ({time.time() - t0:.0f}s)")
        masq = bench_masq(sides, ctrs, a.rounds)
        cb.progress(f"ipMasq done ({time.time() - t0:.0f}s)")
        scaling = bench_scaling(sides[2:], ctrs, a.scale_samples, 1000)
        cb.progress(f"scaling done ({time.time() - t0:.0f}s)")
        for (name, k), v in chain.items():
            res.setdefault(k, {})[name] = cb.med(v)
        for (name, k), v in masq.items():
            res.setdefault("masq_" + k, {})[name] = cb.med(v)
        res["scaling"] = scaling
        res["samples"] = len(chain[(sides[0].name, "pm_add")])
        res["seconds"] = time.time() - t0
        with open(a.result, "w") as f:
            json.dump(res, f)
    finally:
        cb.release(sides, made)


def table(res, command):
    L = [f"Netfilter plugins: `{command}` ({res['samples']} samples per cell, medians in ms; ratio = "
         "reference / cnibox). reference: /usr/lib/cni with Debian's default `iptables` (iptables-nft), "
         "as installed; reference/legacy: the same plugins with iptables-legacy first in PATH.", "",
         "| Case | reference | reference/legacy | cnibox iptables | ratio | ratio (legacy) "
         "| cnibox nftables | ratio | target |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    targets = {"pm_add": 20, "pm_del": 50, "fw_add": 15, "fw_del": 30, "masq_add": 15, "masq_del": None}
    names = {"pm_add": "portmap ADD", "pm_del": "portmap DEL", "fw_add": "firewall ADD",
             "fw_del": "firewall DEL", "masq_add": "bridge+ipMasq ADD", "masq_del": "bridge+ipMasq DEL"}
    for k, label in names.items():
        v = res[k]
        ref, leg, ipt, nft = v["reference"], v["reference/legacy"], v["cnibox/iptables"], v["cnibox/nftables"]
        tgt = targets[k]
        tt = ""
        if tgt:
            met = [n for n, x in (("iptables", ipt), ("nftables", nft)) if ref / x >= tgt]
            tt = f">= {tgt}x: " + (("met (" + ", ".join(met) + ")") if met else "NOT met")
        L.append(f"| {label} | {ref:.2f} | {leg:.2f} | {ipt:.2f} | {ref / ipt:.1f}x | {leg / ipt:.1f}x "
                 f"| {nft:.2f} | {ref / nft:.1f}x | {tt} |")
    L += ["", "| portmap ADD | empty table | 1000 mappings present | growth | target |", "|---|---:|---:|---:|---|"]
    for name, curve in res["scaling"].items():
        e, f = curve["0"] if "0" in curve else curve[0], curve["1000"] if "1000" in curve else curve[1000]
        tgt = "<= 1.5x: " + ("met" if f / e <= 1.5 else "NOT met") if name.endswith("nftables") else "(reported)"
        L.append(f"| {name} | {e:.2f} | {f:.2f} | {f / e:.2f}x | {tgt} |")
    return "\n".join(L)


def main():
    cb.side_main(__file__, __doc__, inner, table, "nf", ("bridge", "portmap", "firewall"),
                 containers=12, extra=(("--scale-samples", 15),))


if __name__ == "__main__":
    cb.entry(main)
