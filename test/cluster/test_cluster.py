"""The cluster tier: three flannel nodes in network namespaces, joined by a
vxlan overlay over an underlay bridge (flannelnet.py plays flanneld's part),
with pods attached by cnibox's cnitool through packaging's flannel
conflist: flannel (-> bridge + host-local) -> portmap -> bandwidth ->
firewall. Dual stack: the IPv6 pod subnets ride the same IPv4 vxlan.

CLUSTER_CHURN_PODS sets the churn test's pod count (default and test/run's
cluster tier: 200; its cluster-full tier, not in the default set: 1000).
"""
import collections
import ipaddress
import json
import os
import re
import secrets
import subprocess
import tempfile
import threading
import time

import pytest

import cnitest
import flannelnet
from flannelnet import Cluster, addresses

PORTS = {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}
SHAPE = {"bandwidth": {"ingressRate": 8000000, "ingressBurst": 256000,
                       "egressRate": 8000000, "egressBurst": 256000}}
CHURN_PODS = int(os.environ.get("CLUSTER_CHURN_PODS", "200"))
CHURN_WORKERS = 8


def new_cluster(nodes=3, dual=True):
    work = tempfile.mkdtemp(prefix="cbt-cl-")
    tag = f"{os.getpid()}-{secrets.token_hex(3)}"
    c = Cluster("cbt-cl", tag, work, cnitest.cnibox_dir(), nodes=nodes, dual=dual)
    try:
        return c.up()
    except BaseException:
        c.down()
        raise


def ping_all(src_ns, targets, tries=3):
    """The targets src_ns cannot ping (one echo each, retried a little: a
    fresh IPv6 address may still be settling)."""
    if not targets:
        return []
    script = "".join(
        f"ok=; for i in $(seq {tries}); do ping -c 1 -W 2 {t} >/dev/null 2>&1 && {{ ok=1; break; }}; "
        f"sleep 0.2; done; [ -n \"$ok\" ] || echo FAIL {t}\n" for t in targets)
    out = cnitest.sh(["ip", "netns", "exec", src_ns, "sh", "-c", script], check=False, timeout=120).stdout
    return re.findall(r"FAIL (\S+)", out)


def vxlan_tx(node):
    j = json.loads(node.ip_cmd("-s", "-j", "link", "show", "flannel.1").stdout)[0]
    return j["stats64"]["tx"]["packets"]


class HttpServer:
    """python3 -m http.server inside a namespace, serving one text."""

    def __init__(self, ns, port, text, bind="0.0.0.0"):
        self.dir = tempfile.mkdtemp(prefix="cbt-cl-www-")
        with open(os.path.join(self.dir, "index.html"), "w") as f:
            f.write(text + "\n")
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-m", "http.server", str(port),
                                      "--bind", bind, "--directory", self.dir],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(100):
            if cnitest.sh(["ip", "netns", "exec", ns, "bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"],
                          check=False).returncode == 0:
                break
            time.sleep(0.05)

    def seen(self):
        self.log.flush()
        with open(os.path.join(self.dir, "log")) as f:
            return f.read()

    def stop(self):
        cnitest.stop_process(self.proc)
        self.log.close()
        cnitest.sh(["rm", "-rf", self.dir], check=False)


def curl(ns, url):
    return cnitest.sh(["ip", "netns", "exec", ns, "curl", "-sS", "--max-time", "5", url], check=False)


def node_leftovers(node, ips=()):
    """What an attachment could have left on a node: pod-side links (veths,
    ifbs), leases, saved delegate configs, cached results, netfilter rules
    naming a pod address or a per-container chain. Empty when clean."""
    left = []
    links = json.loads(node.ip_cmd("-d", "-j", "link", "show").stdout)
    extra = sorted(l["ifname"] for l in links if l["ifname"] not in ("lo", "eth0", "flannel.1", "cni0"))
    if extra:
        left.append(f"links {extra}")
    held = cnitest.leases(node.ipam, flannelnet.NET)
    if held:
        left.append(f"leases {sorted(held)}")
    for what, d in (("saved delegate configs", node.data), ("cached results", os.path.join(node.cache, "results"))):
        if os.path.isdir(d) and os.listdir(d):
            left.append(f"{what} {sorted(os.listdir(d))}")
    rules = node.sh("iptables-legacy-save 2>/dev/null; ip6tables-legacy-save 2>/dev/null; "
                    "nft list ruleset 2>/dev/null", check=False).stdout
    for ip in ips:
        if re.search(r"(?<![0-9a-f:.])" + re.escape(ip) + r"(?![0-9a-f:.])", rules):
            left.append(f"a rule naming {ip}")
    chains = sorted(set(re.findall(r"\b(CNI-(?:DN-|SN-)?[0-9a-f]{12,})\b", rules)))
    if chains:
        left.append(f"per-container chains {chains}")
    return left


# -- one cluster with two pods per node, shared by the tests below in order

@pytest.fixture(scope="module")
def cl():
    c = new_cluster()
    c.pods = {}
    c.servers = []
    try:
        for n in c.nodes:
            for p in "ab":
                caps = PORTS if (n, p) == (1, "a") else SHAPE if (n, p) == (2, "b") else None
                ns, res = c.add_pod(n, p, caps=caps)
                c.pods[(n, p)] = {"ns": ns, "result": res, "ips": addresses(res), "caps": caps}
        yield c
    finally:
        for s in c.servers:
            s.stop()
        c.down()


def test_pods_get_their_nodes_subnets_on_both_families(cl):
    for (n, p), pod in cl.pods.items():
        v4, v6 = pod["ips"]
        assert ipaddress.ip_address(v4) in ipaddress.ip_network(f"10.42.{n}.0/24"), pod
        assert ipaddress.ip_address(v6) in ipaddress.ip_network(f"fd42:0:0:{n:x}::/64"), pod
        # the route to the whole cluster network flannel adds to host-local's config
        routes = cnitest.sh(["ip", "-n", pod["ns"], "-j", "route", "show"]).stdout
        dsts = {r["dst"] for r in json.loads(routes)}
        assert "10.42.0.0/16" in dsts or "default" in dsts, routes
        mtu = json.loads(cnitest.sh(["ip", "-n", pod["ns"], "-j", "link", "show", "eth0"]).stdout)[0]["mtu"]
        assert mtu == flannelnet.MTU
    # the delegate config flannel saved for each pod, under the node's dataDir
    for n, node in cl.nodes.items():
        saved = sorted(os.listdir(node.data))
        assert len(saved) == 2, saved
        conf = json.load(open(os.path.join(node.data, saved[0])))
        assert conf["type"] == "bridge" and conf["ipMasq"] is True and conf["mtu"] == flannelnet.MTU
        assert conf["hairpinMode"] is True and conf["isDefaultGateway"] is True
        assert [r[0]["subnet"] for r in conf["ipam"]["ranges"]] == [f"10.42.{n}.0/24", f"fd42:0:0:{n:x}::/64"]


def test_every_pod_pings_every_other_pod_on_both_families(cl):
    before = {n: vxlan_tx(node) for n, node in cl.nodes.items()}
    failed = {}
    for key, pod in cl.pods.items():
        targets = [ip for other, o in cl.pods.items() if other != key for ip in o["ips"]]
        bad = ping_all(pod["ns"], targets)
        if bad:
            failed[pod["ns"]] = bad
    assert not failed
    # across nodes the packets went through each node's vxlan device
    for n, node in cl.nodes.items():
        assert vxlan_tx(node) - before[n] >= 4 * 2 * 2, n


def test_published_port_from_another_nodes_underlay_address_and_from_a_pod(cl):
    server = HttpServer(cl.pods[(1, "a")]["ns"], 80, "hello from pod n1a")
    cl.servers.append(server)
    url = f"http://{cl.nodes[1].ip}:8080/"
    r = curl(cl.nodes[3].ns, url)
    assert r.returncode == 0 and "hello from pod n1a" in r.stdout, r.stderr
    r = curl(cl.pods[(2, "a")]["ns"], url)
    assert r.returncode == 0 and "hello from pod n1a" in r.stdout, r.stderr
    # the server saw node 3's underlay address and node 2's (pod n2a masqueraded by node 2)
    seen = server.seen()
    assert cl.nodes[3].ip in seen and cl.nodes[2].ip in seen, seen


def test_masquerade_to_the_outside(cl):
    server = HttpServer(cl.outside, 8000, "outside")
    cl.servers.append(server)
    for n in cl.nodes:
        r = curl(cl.pods[(n, "b")]["ns"], f"http://{flannelnet.OUTSIDE}:8000/")
        assert r.returncode == 0 and "outside" in r.stdout, (n, r.stderr)
    seen = server.seen()
    # the outside host has no route to 10.42.0.0/16: it saw the nodes' addresses
    for node in cl.nodes.values():
        assert node.ip in seen, seen
    assert "10.42." not in seen


def test_bandwidth_shapes_the_pod_that_asked(cl):
    node = cl.nodes[2]
    ifbs = json.loads(node.ip_cmd("-j", "link", "show", "type", "ifb").stdout)
    assert len(ifbs) == 1, ifbs
    qdiscs = node.sh("tc qdisc show").stdout
    assert qdiscs.count("tbf") == 2, qdiscs


def test_check_passes_for_every_pod(cl):
    for (n, p), pod in cl.pods.items():
        r = cl.nodes[n].cnitool("check", f"/run/netns/{pod['ns']}", caps=pod["caps"])
        assert r.returncode == 0, (pod["ns"], r.stderr)


def test_del_of_every_pod_leaves_nothing(cl):
    for (n, p), pod in list(cl.pods.items()):
        r = cl.del_pod(n, p, caps=pod["caps"])
        assert r.returncode == 0, (pod["ns"], r.stderr)
    for n, node in cl.nodes.items():
        ips = [ip for (m, _), pod in cl.pods.items() if m == n for ip in pod["ips"]]
        assert node_leftovers(node, ips) == [], n
    # a repeated DEL (a runtime's retry) still succeeds
    r = cl.nodes[1].cnitool("del", f"/run/netns/{cl.pods[(1, 'a')]['ns']}")
    assert r.returncode == 0, r.stderr


# -- node failure

def test_node_failure_others_keep_talking_and_its_pods_del_later():
    c = new_cluster()
    try:
        pods = {}
        for n in c.nodes:
            for p in "ab":
                ns, res = c.add_pod(n, p)
                pods[(n, p)] = (ns, addresses(res))
        node2 = c.nodes[2]
        c.node_down(node2)
        assert not os.path.exists(node2.path)
        # the pods of nodes 1 and 3 still reach each other on both families
        for src, dst in (((1, "a"), (3, "b")), ((3, "a"), (1, "b")), ((1, "a"), (1, "b"))):
            assert ping_all(pods[src][0], pods[dst][1]) == [], (src, dst)
        # node 2's pods lost their links with the node
        assert "eth0" not in cnitest.sh(["ip", "-n", pods[(2, "a")][0], "link"]).stdout
        # the node comes back (same disk, a fresh network namespace); the
        # runtime's retried DELs succeed: one pod's namespace still exists,
        # the other's was removed in the meantime
        c.node_up(node2)
        cnitest.sh(["ip", "netns", "delete", pods[(2, "b")][0]])
        for p in "ab":
            r = c.del_pod(2, p)
            assert r.returncode == 0, (p, r.stderr)
        assert node_leftovers(node2, pods[(2, "a")][1] + pods[(2, "b")][1]) == []
        # and it takes pods again, reachable from the other nodes
        ns, res = c.add_pod(2, "c")
        assert ping_all(pods[(1, "a")][0], addresses(res)) == []
        assert ping_all(ns, pods[(3, "a")][1]) == []
        for key in pods:
            if key[0] != 2:
                assert c.del_pod(*key).returncode == 0
        assert c.del_pod(2, "c").returncode == 0
        for n, node in c.nodes.items():
            assert node_leftovers(node) == [], n
    finally:
        c.down()


# -- churn

def test_churn_parallel_adds_and_dels_across_nodes():
    """CHURN_WORKERS workers add and delete CHURN_PODS pods across the three
    nodes, each keeping up to 4 attached at a time: no address is ever held
    by two live pods, every operation succeeds, nothing is left."""
    c = new_cluster()
    lock = threading.Lock()
    live = {}                  # address -> pod namespace
    used = collections.Counter()
    errors = []
    peak = [0]

    def worker(w):
        mine = collections.deque()
        for k in range(w, CHURN_PODS, CHURN_WORKERS):
            node = k % 3 + 1
            try:
                ns, res = c.add_pod(node, f"x{k}")
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(f"ADD {k}: {e}")
                continue
            with lock:
                for ip in addresses(res):
                    if ip in live:
                        errors.append(f"{ip} given to {ns} while {live[ip]} holds it")
                    live[ip] = ns
                    used[ip] += 1
                peak[0] = max(peak[0], len(live))
            mine.append((node, k, addresses(res)))
            if len(mine) > 4:
                release(mine.popleft())
        while mine:
            release(mine.popleft())

    def release(item):
        node, k, ips = item
        with lock:
            for ip in ips:
                live.pop(ip, None)
        r = c.del_pod(node, f"x{k}")
        if r.returncode != 0:
            errors.append(f"DEL {k}: {r.stderr.strip()}")

    try:
        threads = [threading.Thread(target=worker, args=(w,)) for w in range(CHURN_WORKERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sum(used.values()) == 2 * CHURN_PODS
        assert peak[0] >= 2 * min(CHURN_PODS, CHURN_WORKERS * 2), peak
        for n, node in c.nodes.items():
            ips = [ip for ip in used if ipaddress.ip_address(ip) in ipaddress.ip_network(f"10.42.{n}.0/24")
                   or ipaddress.ip_address(ip) in ipaddress.ip_network(f"fd42:0:0:{n:x}::/64")]
            assert node_leftovers(node, ips) == [], n
    finally:
        c.down()
