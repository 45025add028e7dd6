"""ipMasq of bridge and ptp on both backends (root): the container reaches an
"outside" namespace through the host namespace and is seen there with the
host's address; the rules (iptables-legacy-save / nft list ruleset) appear
with ADD and go with DEL, also when the link or the container namespace is
gone; GC; concurrent ADDs; a failed ADD leaves nothing.

Topology per test: `host` (the plugin runs here) -- veth -- `outside`
(172.31.250.2, no route back to the container subnets); containers attach
to the host through the plugin under test.
"""
import hashlib
import ipaddress
import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

import cnitest
from cnitest import assert_cni_error, run_plugin

BACKENDS = ["iptables", "nftables"]
PLUGINS = ["bridge", "ptp"]
NET = "ipmnet"
BR = "cbtmasq0"
SUBNET = {"bridge": "10.63.0.0/24", "ptp": "10.64.0.0/24"}
SUBNET6 = {"bridge": "fd63::/64", "ptp": "fd64::/64"}
OUT_HOST, OUT = "172.31.250.1", "172.31.250.2"
PORT = 8080
PY = "/usr/bin/python3"

SERVER = f"""
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("{OUT}", {PORT}))
s.listen(8)
print("ready", flush=True)
while True:
    c, peer = s.accept()
    c.sendall(peer[0].encode())
    c.close()
"""

CLIENT = f"""
import socket, sys
try:
    s = socket.create_connection(("{OUT}", {PORT}), timeout=float(sys.argv[1]))
    print(s.recv(100).decode())
except OSError as e:
    print("failed:", e)
"""


# ---------------------------------------------------------------- helpers

def conf(plugin, scratch, backend=None, v6=False, **kw):
    ranges = [[{"subnet": SUBNET[plugin]}]]
    routes = [{"dst": "0.0.0.0/0"}]
    if v6:
        ranges.append([{"subnet": SUBNET6[plugin]}])
    c = {"cniVersion": "1.0.0", "name": NET, "type": plugin, "ipMasq": True,
         "ipam": {"type": "host-local", "dataDir": scratch.path, "ranges": ranges, "routes": routes}}
    if plugin == "bridge":
        c.update(bridge=BR, isGateway=True)
    if backend:
        c["ipMasqBackend"] = backend
    c.update(kw)
    return c


def add(host, ctr, c, cid="c1", **kw):
    r = run_plugin(c["type"], "ADD", c, host=host, netns=ctr, containerid=cid, **kw)
    assert r.ok, r
    return r.json


def delete(host, netns, c, cid="c1", **kw):
    r = run_plugin(c["type"], "DEL", c, host=host, netns=netns, containerid=cid, **kw)
    assert r.ok, r


def chain(cid, net=NET):
    return "CNI-" + hashlib.sha512((net + cid).encode()).hexdigest()[:24]


def nft_comment(cid, ifname="eth0", net=NET):
    h = lambda s: hashlib.sha512(s.encode()).hexdigest()[:16]  # noqa: E731
    return f"{h(net)}-{h(ifname + ':' + cid)}, net: {net}, if: {ifname}, id: {cid}"[:128]


def tables_names(ns, v6=False):
    r = ns.sh(f"cat /proc/net/ip{'6' if v6 else ''}_tables_names 2>/dev/null", check=False)
    return r.stdout.split()


def ipt_nat(ns, v6=False):
    """The nat table's chain and rule lines (iptables-legacy-save, which only
    dumps tables that exist, so looking creates nothing)."""
    out = ns.sh(f"ip{'6' if v6 else ''}tables-legacy-save", check=False).stdout
    lines, cur = [], None
    for l in out.splitlines():
        if l.startswith("*"):
            cur = l[1:]
        elif cur == "nat" and (l.startswith("-A ") or l.startswith(":")):
            lines.append(re.sub(r" \[\d+:\d+\]$", "", l))
    return lines


def ipt_rules(ns, v6=False):
    return [l for l in ipt_nat(ns, v6) if l.startswith("-A ")]


def ipt_masq_chains(ns, v6=False):
    return [l[1:].split()[0] for l in ipt_nat(ns, v6) if re.match(r":CNI-[0-9a-f]{24} ", l)]


def nft_json(ns):
    out = ns.sh("nft -j list ruleset", check=False).stdout
    return json.loads(out or '{"nftables": []}')["nftables"]


def nft_rules(ns, family, table, chain_name=None):
    return [o["rule"] for o in nft_json(ns)
            if "rule" in o and o["rule"]["family"] == family and o["rule"]["table"] == table
            and (chain_name is None or o["rule"]["chain"] == chain_name)]


def nft_text(ns):
    return ns.sh("nft list ruleset", check=False).stdout


def masq_rules(ns, backend):
    """The per-attachment masquerading rules of `ns` as comparable strings."""
    if backend == "iptables":
        return sorted(ipt_rules(ns) + ipt_rules(ns, v6=True))
    return sorted(r.get("comment", "") + " | " + json.dumps(r["expr"])
                  for r in nft_rules(ns, "inet", "cni_plugins_masquerade", "masq_checks"))


def assert_masq_present(host, backend, cid, ips, net=NET, ifname="eth0"):
    """The attachment's rules for each of `ips` ("10.63.0.2/24") are there."""
    if backend == "iptables":
        q = f'"name: \\"{net}\\" id: \\"{cid}\\""'
        ch = chain(cid, net)
        for ip in ips:
            iface = ipaddress.ip_interface(ip)
            v6 = iface.version == 6
            rules = ipt_rules(host, v6)
            host_bits = 128 if v6 else 32
            mc = "ff00::/8" if v6 else "224.0.0.0/4"
            for want in (f"-A POSTROUTING -s {iface.ip}/{host_bits} -m comment --comment {q} -j {ch}",
                         f"-A {ch} -d {iface.network} -m comment --comment {q} -j ACCEPT",
                         f"-A {ch} ! -d {mc} -m comment --comment {q} -j MASQUERADE"):
                assert rules.count(want) == 1, f"{want!r} not once in {rules}"
    else:
        text = nft_text(host)
        com = nft_comment(cid, ifname, net)
        for ip in ips:
            iface = ipaddress.ip_interface(ip)
            fam = "ip6" if iface.version == 6 else "ip"
            want = f'{fam} saddr {iface.ip} {fam} daddr != {iface.network} masquerade comment "{com}"'
            assert text.count(want) == 1, f"{want!r} not once in:\n{text}"


def assert_masq_gone(host, backend, cid=None, net=NET):
    """Nothing of attachment `cid` (None: of any attachment) is left."""
    if backend == "iptables":
        for v6 in (False, True):
            chains = ipt_masq_chains(host, v6)
            rules = ipt_rules(host, v6)
            if cid is None:
                assert chains == [] and rules == [], (chains, rules)
            else:
                assert chain(cid, net) not in chains
                assert not [r for r in rules if chain(cid, net) in r], rules
    else:
        rules = nft_rules(host, "inet", "cni_plugins_masquerade", "masq_checks")
        if cid is None:
            assert rules == [], rules
        else:
            assert not [r for r in rules if r.get("comment", "").startswith(nft_comment(cid, "eth0", net)[:33])]


def assert_shared_once(host, backend):
    """The shared rules exist exactly once."""
    if backend == "iptables":
        for v6 in (False, True):
            rules = ipt_rules(host, v6)
            dup = {r for r in rules if rules.count(r) > 1}
            assert not dup, dup
    else:
        post = nft_rules(host, "inet", "cni_plugins_masquerade", "postrouting")
        assert len(post) == 3, post
        text = nft_text(host)
        for want in ("ip daddr 224.0.0.0/4 return", "ip6 daddr ff00::/8 return", "goto masq_checks",
                     "type nat hook postrouting priority srcnat; policy accept;"):
            assert text.count(want) == 1, f"{want!r} not once in:\n{text}"


@pytest.fixture
def outside(host, make_ns):
    """The outside namespace with a TCP server that answers each connection
    with the peer address it sees."""
    o = make_ns("cbt-out")
    host.sh(f"ip link add cbtout0 type veth peer name eth0 netns {o.name}")
    host.sh(f"ip addr add {OUT_HOST}/24 dev cbtout0 && ip link set cbtout0 up")
    o.sh(f"ip addr add {OUT}/24 dev eth0 && ip link set eth0 up")
    p = subprocess.Popen(["ip", "netns", "exec", o.name, PY, "-c", SERVER],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
        yield o
    finally:
        p.kill()
        p.wait()


def peer_seen(ctr, timeout=5):
    """The source address the outside server saw for a connection from `ctr`
    ("failed: ..." when it could not connect)."""
    return ctr.sh(f"{PY} -c '{CLIENT}' {timeout}").stdout.strip()


# ---------------------------------------------------------------- traffic

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("plugin", PLUGINS)
def test_masquerade_add_check_del(host, ctr, scratch, outside, plugin, backend):
    c = conf(plugin, scratch, backend)
    res = add(host, ctr, c)
    ips = [i["address"] for i in res["ips"]]
    assert_masq_present(host, backend, "c1", ips)
    assert_shared_once(host, backend)
    assert peer_seen(ctr) == OUT_HOST
    r = run_plugin(plugin, "CHECK", dict(c, prevResult=res), host=host, netns=ctr, containerid="c1")
    assert r.ok, r
    delete(host, ctr, c)
    assert_masq_gone(host, backend)
    delete(host, ctr, c)   # twice
    assert_masq_gone(host, backend)


def test_without_ipmasq_the_outside_is_unreachable(host, ctr, scratch, outside):
    """The control: the outside has no route back to the container subnet."""
    c = conf("bridge", scratch, ipMasq=False)
    add(host, ctr, c)
    assert peer_seen(ctr, timeout=1.5).startswith("failed")
    assert tables_names(host) == [] and [o for o in nft_json(host) if "table" in o] == []
    delete(host, ctr, c)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("plugin", PLUGINS)
def test_dual_stack(host, ctr, scratch, plugin, backend):
    c = conf(plugin, scratch, backend, v6=True)
    res = add(host, ctr, c)
    ips = [i["address"] for i in res["ips"]]
    assert len(ips) == 2
    assert_masq_present(host, backend, "c1", ips)
    assert_shared_once(host, backend)
    delete(host, ctr, c)
    assert_masq_gone(host, backend)


@pytest.mark.parametrize("plugin", PLUGINS)
def test_only_the_chosen_backend_is_touched(host, ctr, scratch, plugin):
    """nftables: no legacy xtables table appears; iptables: no nftables table."""
    c = conf(plugin, scratch, "nftables")
    add(host, ctr, c)
    delete(host, ctr, c)
    assert tables_names(host) == [] and tables_names(host, v6=True) == []
    c = conf(plugin, scratch, "iptables")
    add(host, ctr, c, cid="c2")
    tables = [o["table"]["name"] for o in nft_json(host) if "table" in o]
    assert tables == ["cni_plugins_masquerade"]   # from the nftables round
    delete(host, ctr, c, cid="c2")


def test_del_creates_no_tables(host, ctr, scratch):
    """DEL of an attachment that never had rules creates nothing anywhere."""
    for plugin in PLUGINS:
        delete(host, ctr, conf(plugin, scratch))
    assert tables_names(host) == [] and tables_names(host, v6=True) == []
    assert [o for o in nft_json(host) if "table" in o] == []


# ---------------------------------------------------------------- DEL when things are gone

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("plugin", PLUGINS)
def test_del_after_netns_gone(host, make_ns, scratch, plugin, backend):
    """Upstream leaks the rules then; cnibox finds them by name and ID."""
    c = conf(plugin, scratch, backend)
    ctr = make_ns()
    add(host, ctr, c)
    path = ctr.path
    ctr.delete()
    delete(host, path, c)
    assert_masq_gone(host, backend)
    delete(host, "", c)
    assert_masq_gone(host, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("plugin", PLUGINS)
def test_del_without_netns(host, ctr, scratch, plugin, backend):
    c = conf(plugin, scratch, backend)
    add(host, ctr, c)
    delete(host, "", c)
    assert_masq_gone(host, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("plugin", PLUGINS)
def test_del_after_link_gone(host, ctr, scratch, plugin, backend):
    c = conf(plugin, scratch, backend)
    add(host, ctr, c)
    ctr.sh("ip link del eth0")
    delete(host, ctr, c)
    assert_masq_gone(host, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_del_removes_only_its_own(host, make_ns, scratch, backend):
    c = conf("bridge", scratch, backend)
    a, b = make_ns(), make_ns()
    ra = add(host, a, c, cid="a")
    add(host, b, c, cid="b")
    delete(host, b, c, cid="b")
    assert_masq_gone(host, backend, "b")
    assert_masq_present(host, backend, "a", [i["address"] for i in ra["ips"]])
    delete(host, a, c, cid="a")
    assert_masq_gone(host, backend)


# ---------------------------------------------------------------- GC

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("plugin", PLUGINS)
def test_gc(host, make_ns, scratch, plugin, backend):
    c = conf(plugin, scratch, backend, cniVersion="1.1.0")
    keep = add(host, make_ns(), c, cid="keep")
    add(host, make_ns(), c, cid="drop")
    other_scratch = cnitest.Scratch()
    try:
        other = dict(conf(plugin, other_scratch, backend, cniVersion="1.1.0"), name="othernet")
        if plugin == "bridge":
            other["bridge"] = "cbtmasq1"
        other["ipam"]["ranges"] = [[{"subnet": "10.65.0.0/24"}]]
        oth = add(host, make_ns(), other, cid="drop")
        # A chain of another plugin with this network's comment (portmap's
        # naming): not ipMasq's, never collected.
        q = f'name: "{NET}" id: "drop"'
        dn = "CNI-DN-" + hashlib.sha512((NET + "drop").encode()).hexdigest()[:21]
        host.sh(f"iptables-legacy -t nat -N {dn} && iptables-legacy -t nat -A {dn} "
                f"-m comment --comment '{q}' -j RETURN")
        gc = dict(c, **{"cni.dev/valid-attachments": [{"containerID": "keep", "ifname": "eth0"}]})
        r = run_plugin(plugin, "GC", gc, host=host)
        assert r.ok, r
        assert_masq_gone(host, backend, "drop")
        assert_masq_present(host, backend, "keep", [i["address"] for i in keep["ips"]])
        assert_masq_present(host, backend, "drop", [i["address"] for i in oth["ips"]], net="othernet")
        assert f":{dn} -" in ipt_nat(host)
        assert len([l for l in ipt_rules(host) if dn in l]) == 1
        # GC again: nothing more to do; a GC without the key collects nothing.
        assert run_plugin(plugin, "GC", gc, host=host).ok
        assert run_plugin(plugin, "GC", c, host=host).ok
        assert_masq_present(host, backend, "keep", [i["address"] for i in keep["ips"]])
    finally:
        other_scratch.cleanup()


@pytest.mark.parametrize("backend", BACKENDS)
def test_gc_keeps_other_ifnames_of_a_valid_container(host, ctr, scratch, backend):
    """nftables rules are per (container, ifname); iptables chains per container."""
    c = conf("bridge", scratch, backend, cniVersion="1.1.0")
    del c["ipam"]["routes"]     # one default route per container
    r0 = add(host, ctr, c, cid="x", ifname="eth0")
    add(host, ctr, c, cid="x", ifname="eth1")
    gc = dict(c, **{"cni.dev/valid-attachments": [{"containerID": "x", "ifname": "eth0"}]})
    assert run_plugin("bridge", "GC", gc, host=host).ok
    assert_masq_present(host, backend, "x", [i["address"] for i in r0["ips"]])
    if backend == "nftables":
        rules = nft_rules(host, "inet", "cni_plugins_masquerade", "masq_checks")
        assert [r["comment"] for r in rules] == [nft_comment("x", "eth0")]


# ---------------------------------------------------------------- concurrency

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("plugin", PLUGINS)
def test_parallel_adds(host, make_ns, scratch, plugin, backend):
    c = conf(plugin, scratch, backend)
    ctrs = [make_ns() for _ in range(8)]
    with ThreadPoolExecutor(8) as ex:
        res = list(ex.map(lambda i: run_plugin(plugin, "ADD", c, host=host, netns=ctrs[i], containerid=f"p{i}"),
                          range(8)))
    assert all(r.ok for r in res), [r for r in res if not r.ok]
    assert_shared_once(host, backend)
    for i, r in enumerate(res):
        assert_masq_present(host, backend, f"p{i}", [ip["address"] for ip in r.json["ips"]])
    if backend == "iptables":
        assert len(ipt_masq_chains(host)) == 8 and len(ipt_rules(host)) == 8 * 3
    else:
        assert len(nft_rules(host, "inet", "cni_plugins_masquerade", "masq_checks")) == 8
    with ThreadPoolExecutor(8) as ex:
        dels = list(ex.map(lambda i: run_plugin(plugin, "DEL", c, host=host, netns=ctrs[i], containerid=f"p{i}"),
                           range(8)))
    assert all(r.ok for r in dels), [r for r in dels if not r.ok]
    assert_masq_gone(host, backend)


# ---------------------------------------------------------------- backend choice, errors

def test_auto_backend(host, make_ns, scratch):
    """Without ipMasqBackend: nftables when no legacy xtables table is in use;
    iptables once one is."""
    c = conf("bridge", scratch)
    rn = add(host, make_ns(), c, cid="n")
    assert_masq_present(host, "nftables", "n", [i["address"] for i in rn["ips"]])
    assert tables_names(host) == []
    host.sh("iptables-legacy -t nat -S >/dev/null")    # legacy xtables now in use
    add(host, make_ns(), c, cid="i")
    assert len(ipt_masq_chains(host)) == 1 and chain("i") in ipt_masq_chains(host)
    delete(host, "", c, cid="n")
    delete(host, "", c, cid="i")
    assert_masq_gone(host, "nftables")
    assert_masq_gone(host, "iptables")


@pytest.mark.parametrize("plugin", PLUGINS)
def test_status(host, scratch, plugin):
    for backend in [None] + BACKENDS:
        r = run_plugin(plugin, "STATUS", conf(plugin, scratch, backend, cniVersion="1.1.0"), host=host)
        assert r.ok, r
    r = run_plugin(plugin, "STATUS", conf(plugin, scratch, "ebtables", cniVersion="1.1.0"), host=host)
    assert_cni_error(r, 7, "ipMasqBackend", "ebtables")


@pytest.mark.parametrize("plugin", PLUGINS)
def test_failed_masquerade_rolls_back(host, ctr, scratch, plugin):
    """A postrouting chain of the wrong type in the table (someone else's):
    the masquerade rule cannot go there, so ADD fails and leaves no veth,
    lease or rule; the foreign table stays as it was."""
    host.sh("nft add table inet cni_plugins_masquerade && "
            "nft 'add chain inet cni_plugins_masquerade postrouting "
            "{ type filter hook postrouting priority 0; policy accept; }' && "
            "nft add rule inet cni_plugins_masquerade postrouting counter")
    before_nft = nft_text(host)
    before_links = set(host.links())
    r = run_plugin(plugin, "ADD", conf(plugin, scratch, "nftables"), host=host, netns=ctr, containerid="c1")
    assert_cni_error(r, set(range(1, 1000)), "masquerad")
    assert set(ctr.links()) == {"lo"}
    assert set(host.links()) - before_links <= {BR}
    assert [f for f in scratch.files(NET) if re.match(r"^[0-9.]+$", f)] == []
    after = nft_text(host)
    assert "masq_checks" not in after and " masquerade" not in after, after
    assert after.count("counter") == before_nft.count("counter")
