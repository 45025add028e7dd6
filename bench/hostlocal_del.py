#!/usr/bin/env python3
"""host-local DEL cost with 1 lease vs 4000 leases in the store.

Each sample: an (untimed) ADD of one attachment, then its DEL, timed from
exec to exit; the median of N samples is printed for a store holding only
that lease and for one holding 3999 others as well (written as the
reference plugin writes them), with the ratio. The two stores are sampled
in turn. The
reference plugin (/usr/lib/cni/host-local) is measured the same way when
installed, for comparison. Also: a repeated DEL (nothing to release).

Usage: bench/hostlocal_del.py [--cnibox PATH] [-n N] [--leases 4000] [--no-ref]
Needs root (it makes a network namespace for CNI_NETNS and removes it).
Not a test: it asserts nothing.
"""
import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF = "/usr/lib/cni/host-local"


def run(exe, cmd, conf, netns, cid):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND": cmd, "CNI_CONTAINERID": cid,
           "CNI_NETNS": netns, "CNI_IFNAME": "eth0", "CNI_PATH": os.path.dirname(exe)}
    t = time.perf_counter()
    p = subprocess.run([exe], input=conf, capture_output=True, text=True, env=env)
    dt = (time.perf_counter() - t) * 1000
    if p.returncode != 0:
        sys.exit(f"{exe} {cmd} {cid} failed: {p.stdout}{p.stderr}")
    return dt


def store(data, leases):
    """A store holding `leases` leases of other attachments, written as the
    reference plugin writes them (10.50.0.0/16 from .2 up)."""
    d = os.path.join(data, "bench")
    os.makedirs(d)
    for i in range(leases):
        a = 2 + i
        ip = f"10.50.{a // 256}.{a % 256}"
        with open(os.path.join(d, ip), "w") as f:
            f.write(f"other{i}\r\neth0")
        os.chmod(os.path.join(d, ip), 0o600)
    if leases:
        with open(os.path.join(d, "last_reserved_ip.0"), "w") as f:
            f.write(ip)


def measure(exe, sizes, n, netns):
    """{size: (median DEL ms, median repeat-DEL ms)}; the stores are sampled
    in turn so that load on the machine hits every size alike."""
    datas = {k: tempfile.mkdtemp(prefix="cnibox-bench-") for k in sizes}
    try:
        confs = {}
        for k, data in datas.items():
            confs[k] = json.dumps({"cniVersion": "1.0.0", "name": "bench", "type": "host-local",
                                   "ipam": {"type": "host-local", "dataDir": data,
                                            "ranges": [[{"subnet": "10.50.0.0/16"}]]}})
            store(data, k - 1)
            run(exe, "DEL", confs[k], netns, "warmup")  # first contact (cnibox indexes the store here)
        dels = {k: [] for k in sizes}
        repeats = {k: [] for k in sizes}
        for i in range(n):
            for k in sizes:
                run(exe, "ADD", confs[k], netns, "target")
                dels[k].append(run(exe, "DEL", confs[k], netns, "target"))
                repeats[k].append(run(exe, "DEL", confs[k], netns, "target"))
        for k, data in datas.items():
            left = [f for f in os.listdir(os.path.join(data, "bench")) if f[0].isdigit()]
            assert len(left) == k - 1, (len(left), k)
        return {k: (statistics.median(dels[k]), statistics.median(repeats[k])) for k in sizes}
    finally:
        for data in datas.values():
            shutil.rmtree(data, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cnibox", default=os.environ.get("CNIBOX") or os.path.join(ROOT, "build", "cnibox"))
    ap.add_argument("-n", type=int, default=50, help="samples per case (default 50)")
    ap.add_argument("--leases", type=int, default=4000, help="leases in the big store (default 4000)")
    ap.add_argument("--no-ref", action="store_true", help="skip the reference plugin")
    a = ap.parse_args()

    bindir = tempfile.mkdtemp(prefix="cnibox-bench-bin-")
    netns = f"cbt-bench-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        subprocess.run([os.path.abspath(a.cnibox), "--install", bindir], check=True, capture_output=True)
        impls = [("cnibox", os.path.join(bindir, "host-local"))]
        if not a.no_ref and os.access(REF, os.X_OK):
            impls.append(("reference", REF))
        print(f"host-local DEL, median of {a.n} execs (ms)")
        print(f"{'':10} {'1 lease':>10} {str(a.leases) + ' leases':>13} {'ratio':>7}   "
              f"{'repeat DEL 1':>13} {'repeat DEL ' + str(a.leases):>17}")
        for name, exe in impls:
            m = measure(exe, (1, a.leases), a.n, f"/run/netns/{netns}")
            (one, one_rep), (many, many_rep) = m[1], m[a.leases]
            print(f"{name:10} {one:10.2f} {many:13.2f} {many / one:7.2f}   {one_rep:13.2f} {many_rep:17.2f}")
    finally:
        subprocess.run(["ip", "netns", "delete", netns])
        shutil.rmtree(bindir, ignore_errors=True)


if __name__ == "__main__":
    main()
