"""host-local under concurrency (root): many processes allocating from one
range at once must never hand out an address twice, and after the DELs no
lease may be left (only lock, last_reserved_ip.* and the index's state file).
A mixed run has the reference plugin allocate from the same store at the
same time (both take the same flock)."""
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

import cnitest

NET = "ccnet"
SUBNET = "10.91.0.0/20"


def conf(scratch):
    return {"cniVersion": "1.0.0", "name": NET, "type": "host-local",
            "ipam": {"type": "host-local", "dataDir": scratch.path, "ranges": [[{"subnet": SUBNET}]]}}


def run(exe, cmd, data, ns_path, cid):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND": cmd, "CNI_CONTAINERID": cid,
           "CNI_NETNS": ns_path, "CNI_IFNAME": "eth0", "CNI_PATH": os.path.dirname(exe)}
    p = subprocess.run([exe], input=data, capture_output=True, text=True, env=env, timeout=120)
    return p


def worker(exe, cmd, data, ns_path, ids):
    out = {}
    for cid in ids:
        p = run(exe, cmd, data, ns_path, cid)
        if p.returncode != 0:
            out[cid] = ("error", p.stdout + p.stderr)
        elif cmd == "ADD":
            out[cid] = ("ok", json.loads(p.stdout)["ips"][0]["address"])
        else:
            out[cid] = ("ok", None)
    return out


def hammer(jobs, cmd, data, ns_path):
    """jobs: [(exe, [container ids])], one thread each; returns {cid: (status, value)}."""
    res = {}
    with ThreadPoolExecutor(max_workers=len(jobs)) as ex:
        for part in ex.map(lambda j: worker(j[0], cmd, data, ns_path, j[1]), jobs):
            res.update(part)
    return res


def leftovers(scratch):
    d = os.path.join(scratch.path, NET)
    top = sorted(f for f in os.listdir(d) if f != ".cnibox")
    idx = sorted(os.listdir(os.path.join(d, ".cnibox"))) if os.path.isdir(os.path.join(d, ".cnibox")) else []
    return top, idx


def check_unique(res):
    errors = {k: v for k, (s, v) in res.items() if s != "ok"}
    assert not errors, list(errors.items())[:5]
    addrs = [v for _, v in res.values()]
    assert len(addrs) == len(set(addrs)), "an address was handed out twice"
    return addrs


def test_parallel_add_del_no_duplicates(scratch, ctr):
    exe = os.path.join(cnitest.cnibox_dir(), "host-local")
    data = json.dumps(conf(scratch))
    jobs = [(exe, [f"w{w}-c{i}" for i in range(200)]) for w in range(8)]
    res = hammer(jobs, "ADD", data, ctr.path)
    addrs = check_unique(res)
    assert len(addrs) == 1600
    d = os.path.join(scratch.path, NET)
    files = [f for f in os.listdir(d) if f[0].isdigit()]
    assert len(files) == 1600
    # Every lease names its owner, and the index agrees with the leases.
    for cid, (_, a) in res.items():
        with open(os.path.join(d, a.split("/")[0]), "rb") as f:
            assert f.read() == cid.encode() + b"\r\neth0"
    assert len(os.listdir(os.path.join(d, ".cnibox"))) == 1600 + 1

    res = hammer(jobs, "DEL", data, ctr.path)
    assert all(s == "ok" for s, _ in res.values()), [v for v in res.values() if v[0] != "ok"][:5]
    top, idx = leftovers(scratch)
    assert top == ["last_reserved_ip.0", "lock"]
    assert idx in ([], ["state"])


@pytest.mark.skipif(not cnitest.have_ref("host-local"), reason="reference plugins not installed")
def test_parallel_mixed_with_reference(scratch, ctr):
    box = os.path.join(cnitest.cnibox_dir(), "host-local")
    ref = os.path.join(cnitest.REF_DIR, "host-local")
    data = json.dumps(conf(scratch))
    jobs = [(box if w % 2 else ref, [f"m{w}-c{i}" for i in range(40)]) for w in range(8)]
    res = hammer(jobs, "ADD", data, ctr.path)
    assert len(check_unique(res)) == 320
    # Each side releases the other's leases.
    swapped = [(ref if exe == box else box, ids) for exe, ids in jobs]
    res = hammer(swapped, "DEL", data, ctr.path)
    assert all(s == "ok" for s, _ in res.values()), [v for v in res.values() if v[0] != "ok"][:5]
    top, idx = leftovers(scratch)
    assert top == ["last_reserved_ip.0", "lock"]
    # The reference's DELs leave the index stale; the next cnibox operation tidies it.
    p = run(box, "DEL", data, ctr.path, "nobody")
    assert p.returncode == 0, p
    top, idx = leftovers(scratch)
    assert idx in ([], ["state"])
