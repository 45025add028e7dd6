"""The netfilter plugins chained as a runtime chains them (root), on both
backends: bridge (+host-local, ipMasq) -> portmap -> firewall.

- 8 workers x 200 ADD+DEL cycles at once: no failure, every shared rule
  exactly once, nothing of any container left.
- No shelling out: under strace, each plugin exec is the only execve of its
  process tree (IPAM runs in-process, netfilter through the libraries).
"""
import json
import os
import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor

import pytest

import cnitest

BACKENDS = ["iptables", "nftables"]
NET = "nfchain"


def chain_confs(backend, data, subnet="10.92.0.0/16"):
    """The three plugin configs of the chain (prevResult and runtimeConfig added per call)."""
    return [
        {"cniVersion": "1.0.0", "name": NET, "type": "bridge", "bridge": "cbchain0",
         "isGateway": True, "ipMasq": True, "ipMasqBackend": backend,
         "ipam": {"type": "host-local", "dataDir": data, "ranges": [[{"subnet": subnet}]]}},
        {"cniVersion": "1.0.0", "name": NET, "type": "portmap", "backend": backend,
         "capabilities": {"portMappings": True}},
        {"cniVersion": "1.0.0", "name": NET, "type": "firewall", "backend": backend},
    ]


def exec_plugin(bindir, host, cmd, conf, netns, cid, wrap=None):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND": cmd, "CNI_CONTAINERID": cid,
           "CNI_NETNS": netns, "CNI_IFNAME": "eth0", "CNI_PATH": bindir}
    argv = ["ip", "netns", "exec", host.name, "env", "-i"] + [f"{k}={v}" for k, v in env.items()]
    argv += (wrap or []) + [os.path.join(bindir, conf["type"])]
    return subprocess.run(argv, input=json.dumps(conf), capture_output=True, text=True, timeout=120)


def run_chain(bindir, host, confs, cmd, netns, cid, port, cached=None, wrap=None):
    """ADD: plugins in order, prevResult threaded; DEL: reverse order, each
    given the cached final result (as libcni does). Returns (result, error)."""
    seq = confs if cmd == "ADD" else list(reversed(confs))
    prev = cached
    for c in seq:
        conf = dict(c)
        if c["type"] == "portmap":
            conf["runtimeConfig"] = {"portMappings": [{"hostPort": port, "containerPort": 80,
                                                       "protocol": "tcp"}]}
        if prev is not None:
            conf["prevResult"] = prev
        p = exec_plugin(bindir, host, cmd, conf, netns, cid, wrap)
        if p.returncode != 0:
            return None, f"{c['type']} {cmd} {cid}: {p.stdout}{p.stderr}"
        if cmd == "ADD":
            prev = json.loads(p.stdout)
    return prev, None


def iptables_save(host):
    out = ""
    for tool in ("iptables-legacy-save", "ip6tables-legacy-save"):
        out += host.sh(tool, check=False).stdout
    return [l for l in out.splitlines() if l.startswith("-A ")]


def nft_ruleset(host):
    return host.sh("nft list ruleset", check=False).stdout


def assert_nothing_left(host, backend, cids):
    """No rule or chain of a container is left; every shared rule exactly once."""
    rules = iptables_save(host)
    dup = {r for r in rules if rules.count(r) > 1}
    assert not dup, f"duplicated rules: {sorted(dup)[:5]}"
    per_ctr = [r for r in rules if re.search(r"CNI-DN-|-j CNI-[0-9a-f]{24}\b|-s 10\.92\.|-d 10\.92\.", r)]
    assert not per_ctr, f"per-container iptables rules left: {per_ctr[:5]}"
    text = nft_ruleset(host)
    for cid in cids[:50] + cids[-50:]:
        assert cid not in text, f"nftables rules of {cid} left"
    assert "10.92." not in text, "nftables rules naming a container address left"
    # In each chain, a shared rule appears once (the same text twice in one chain is a duplicate).
    chains = re.split(r"\n\s*chain ", text)
    for ch in chains:
        body = [l.strip() for l in ch.splitlines()[1:] if l.strip() and not l.strip().startswith(("type", "}", "policy"))]
        dupl = {l for l in body if body.count(l) > 1}
        assert not dupl, f"duplicated nftables rules: {sorted(dupl)[:5]}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_parallel_chains_leave_nothing(backend, host, make_ns, scratch):
    bindir = cnitest.cnibox_dir()
    confs = chain_confs(backend, scratch.path)
    # CNIBOX_CHAIN_CYCLES: fewer for the netns-static tier (the same code,
    # already churned by the netns tier)
    workers, cycles = 8, int(os.environ.get("CNIBOX_CHAIN_CYCLES", "200"))
    nss = [make_ns(f"cbt-w{w}") for w in range(workers)]

    def work(w):
        fails = []
        for i in range(cycles):
            cid = f"cc-{backend[:3]}-{w}-{i}"
            port = 20000 + w * cycles + i
            res, err = run_chain(bindir, host, confs, "ADD", nss[w].path, cid, port)
            if err:
                fails.append(err)
                continue
            _, err = run_chain(bindir, host, confs, "DEL", nss[w].path, cid, port, cached=res)
            if err:
                fails.append(err)
        return fails

    with ThreadPoolExecutor(max_workers=workers) as ex:
        fails = [f for part in ex.map(work, range(workers)) for f in part]
    assert not fails, f"{len(fails)} failures, e.g. {fails[:3]}"
    cids = [f"cc-{backend[:3]}-{w}-{i}" for w in range(workers) for i in range(cycles)]
    assert_nothing_left(host, backend, cids)
    # The shared rules are there, once (they are never removed).
    if backend == "iptables":
        rules = iptables_save(host)
        assert rules.count("-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT") == 1
        assert sum(1 for r in rules if r.startswith("-A FORWARD") and "CNI-FORWARD" in r) == 1
    else:
        text = nft_ruleset(host)
        assert text.count("fib daddr type local jump hostports_all") == 2  # prerouting + output
    leases = [f for f in os.listdir(os.path.join(scratch.path, NET)) if f[0].isdigit()]
    assert leases == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_exec_each_plugin(backend, host, ctr, scratch):
    """strace -f counts execve: for every plugin of the chain, ADD and DEL, the
    plugin's own exec is the only one (IPAM in-process, netfilter through the libraries)."""
    bindir = cnitest.cnibox_dir()
    confs = chain_confs(backend, scratch.path)
    prev = None
    traces = []
    with tempfile.TemporaryDirectory(prefix="cbt-strace-") as d:
        for k, c in enumerate(confs):
            conf = dict(c)
            if c["type"] == "portmap":
                conf["runtimeConfig"] = {"portMappings": [{"hostPort": 8081, "containerPort": 80, "protocol": "tcp"}]}
            if prev is not None:
                conf["prevResult"] = prev
            log = os.path.join(d, f"add{k}")
            p = exec_plugin(bindir, host, "ADD", conf, ctr.path, "nox2",
                            ["strace", "-f", "-qq", "-e", "trace=execve,execveat", "-o", log])
            assert p.returncode == 0, p.stdout + p.stderr
            prev = json.loads(p.stdout)
            traces.append((f"{c['type']} ADD", open(log).read()))
        for k, c in enumerate(reversed(confs)):
            conf = dict(c)
            if c["type"] == "portmap":
                conf["runtimeConfig"] = {"portMappings": [{"hostPort": 8081, "containerPort": 80, "protocol": "tcp"}]}
            conf["prevResult"] = prev
            log = os.path.join(d, f"del{k}")
            p = exec_plugin(bindir, host, "DEL", conf, ctr.path, "nox2",
                            ["strace", "-f", "-qq", "-e", "trace=execve,execveat", "-o", log])
            assert p.returncode == 0, p.stdout + p.stderr
            traces.append((f"{c['type']} DEL", open(log).read()))
    for what, text in traces:
        execs = [l for l in text.splitlines() if re.search(r"execve(at)?\(", l)]
        assert len(execs) == 1, f"{what} exec'd more than itself: {execs}"
