#!/usr/bin/env python3
"""macvlan + dhcp: cnibox's dhcp applet and daemon against the reference
plugin and daemon (/usr/lib/cni), each with its own LAN: a "host" namespace
(plugins and daemon) whose lan0 is a veth to a "server" namespace running
dnsmasq (DHCP only). Each sample makes a container namespace, execs the
macvlan plugin's ADD (then its DEL) from the host namespace as a runtime
does and times it from spawn to reaped exit (cnibench's exec harness).

dnsmasq runs with --no-ping: its default ping check holds every new
client's OFFER for about 3 s, a server policy that would hide the client's
own cost; a few samples with the check show that policy. The floor: the
same macvlan ADD/DEL with the static IPAM (no DHCP at all), cnibox.

Run through bench/run, or: python3 bench/dhcp.py --cnibox PATH.
Namespaces are named cbt-bench-dh-* (bench/dhcpnet.py) and removed at the end, also on failure.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnibench as cb  # noqa: E402
from dhcpnet import REF, Lan as BaseLan  # noqa: E402

SERVER = ("10.77.0.1/24", "10.77.0.10,10.77.0.250,255.255.255.0,10m")


class Lan(BaseLan):
    def __init__(self, tag, bindir, work, ref=False, ping=False):
        super().__init__(f"dh-{tag}", bindir, work, SERVER, ref=ref, ping=ping)

    def sample(self, conf, i):
        """ADD then DEL of a fresh container; (add ms, del ms)."""
        ctr = self.ns_name(f"c{i}")
        cb.ns_add(ctr)

        def add_del():
            env = cb.cni_env("ADD", f"/run/netns/{ctr}", self.bindir, cid=f"b{i}")
            a = cb.run(os.path.join(self.bindir, "macvlan"), env, json.dumps(conf).encode())
            cb.check(a, f"{self.tag} ADD")
            env = cb.cni_env("DEL", f"/run/netns/{ctr}", self.bindir, cid=f"b{i}")
            d = cb.run(os.path.join(self.bindir, "macvlan"), env,
                       json.dumps(dict(conf, prevResult=json.loads(a.out))).encode())
            cb.check(d, f"{self.tag} DEL")
            return a.ms, d.ms
        try:
            return self.in_host(add_del)
        finally:
            cb.ns_del(ctr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cnibox", required=True)
    ap.add_argument("--samples", type=int, default=15, help="cnibox samples per case")
    ap.add_argument("--ref-samples", type=int, default=5, help="reference samples (each takes seconds)")
    ap.add_argument("--ping-samples", type=int, default=2, help="samples with dnsmasq's ping check")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="cbt-bench-dh-")
    bindir = os.path.join(work, "bin")
    os.makedirs(bindir)
    subprocess.run([a.cnibox, "--install", bindir], check=True, capture_output=True)
    lans = []
    try:
        box, ref = Lan("box", bindir, work), Lan("ref", REF, work, ref=True)
        lans += [box, ref]
        rows = {}
        rows["box"] = [box.sample(box.dhcp(), i) for i in range(a.samples)]
        rows["ref"] = [ref.sample(ref.dhcp(), 1000 + i) for i in range(a.ref_samples)]
        static = box.conf({"type": "static", "addresses": [{"address": "10.77.0.5/24"}]})
        rows["floor"] = [box.sample(static, 2000 + i) for i in range(a.samples)]
        pbox, pref = Lan("pbox", bindir, work, ping=True), Lan("pref", REF, work, ref=True, ping=True)
        lans += [pbox, pref]
        rows["box-ping"] = [pbox.sample(pbox.dhcp(), 3000 + i) for i in range(a.ping_samples)]
        rows["ref-ping"] = [pref.sample(pref.dhcp(), 4000 + i) for i in range(a.ping_samples)]
    finally:
        for lan in lans:
            lan.close()
        shutil.rmtree(work, ignore_errors=True)
    m = {k: (cb.med([x[0] for x in v]), cb.med([x[1] for x in v])) for k, v in rows.items()}
    print("| macvlan + dhcp (dnsmasq in a namespace) | reference | cnibox | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| ADD, dnsmasq --no-ping (median of {a.ref_samples} / {a.samples}) | {m['ref'][0]:.1f} ms | "
          f"{m['box'][0]:.1f} ms | {m['ref'][0] / m['box'][0]:.0f}x faster |")
    print(f"| DEL incl. the release | {m['ref'][1]:.1f} ms | {m['box'][1]:.1f} ms | "
          f"{m['ref'][1] / m['box'][1]:.1f}x |")
    print(f"| ADD, dnsmasq's ping check (median of {a.ping_samples}) | {m['ref-ping'][0]:.0f} ms | "
          f"{m['box-ping'][0]:.0f} ms | the server's 3 s |")
    print(f"| floor: macvlan + static ADD / DEL (no DHCP) | | {m['floor'][0]:.1f} / {m['floor'][1]:.1f} ms | |")
    print(f"| dhcp's own cost: ADD / DEL above the floor | | {m['box'][0] - m['floor'][0]:.1f} / "
          f"{m['box'][1] - m['floor'][1]:.1f} ms | |")


if __name__ == "__main__":
    main()
