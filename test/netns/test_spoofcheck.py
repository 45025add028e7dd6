"""bridge macspoofchk (root): nftables table bridge nat with upstream's chains
and rules; frames from the container with its own MAC pass, with another
MAC they are dropped; CHECK looks at the rules; DEL removes them (also when
the container namespace is gone); a failed ADD leaves none; concurrent ADDs
share the table and base chain."""
import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from cnitest import assert_cni_error, run_plugin

NET = "spoofnet"
BR = "cbtspoof0"
SUBNET = "10.66.0.0/24"
GW = "10.66.0.1"

needs_ping = pytest.mark.skipif(shutil.which("ping") is None, reason="needs ping (iputils-ping)")


def conf(scratch, layer3=True, **kw):
    c = {"cniVersion": "1.0.0", "name": NET, "type": "bridge", "bridge": BR, "macspoofchk": True}
    if layer3:
        c.update(isGateway=True, ipam={"type": "host-local", "dataDir": scratch.path,
                                       "ranges": [[{"subnet": SUBNET}]]})
    else:
        c["ipam"] = {}
    c.update(kw)
    return c


def add(host, ctr, c, cid="c1", ifname="eth0"):
    r = run_plugin("bridge", "ADD", c, host=host, netns=ctr, containerid=cid, ifname=ifname)
    assert r.ok, r
    return r.json


def delete(host, netns, c, cid="c1", ifname="eth0"):
    r = run_plugin("bridge", "DEL", c, host=host, netns=netns, containerid=cid, ifname=ifname)
    assert r.ok, r


def nft_objects(ns):
    out = ns.sh("nft -j list table bridge nat", check=False).stdout
    return json.loads(out)["nftables"] if out else []


def chains(ns):
    return sorted(o["chain"]["name"] for o in nft_objects(ns) if "chain" in o)


def rules(ns, chain=None):
    return [o["rule"] for o in nft_objects(ns) if "rule" in o and (chain is None or o["rule"]["chain"] == chain)]


def table_text(ns):
    return ns.sh("nft list table bridge nat", check=False).stdout


def expected_lines(host_veth, mac, cid="c1", ifname="eth0"):
    ref = f"{cid}-{ifname}"
    c = f'comment "macspoofchk-{ref}"'
    return [
        f'iifname "{host_veth}" jump cni-br-iface-{ref} {c}',
        f"jump cni-br-iface-{ref}-mac {c}",
        f"ether saddr {mac} return {c}",
        f"drop {c}",
    ]


def assert_rules(host, res, cid="c1", ifname="eth0"):
    host_veth = res["interfaces"][1]["name"]
    mac = res["interfaces"][2]["mac"]
    text = table_text(host)
    for line in expected_lines(host_veth, mac, cid, ifname):
        assert text.count(line) == 1, f"{line!r} not once in:\n{text}"
    assert "type filter hook prerouting priority dstnat; policy accept;" in text, text   # -300
    ref = f"{cid}-{ifname}"
    assert {f"cni-br-iface-{ref}", f"cni-br-iface-{ref}-mac"} <= set(chains(host))


def assert_gone(host, cid="c1", ifname="eth0"):
    ref = f"{cid}-{ifname}"
    assert not [c for c in chains(host) if c.startswith(f"cni-br-iface-{ref}")], chains(host)
    assert not [r for r in rules(host) if r.get("comment") == f"macspoofchk-{ref}"], rules(host)


def ping(ns, ip, ok=True):
    r = ns.sh(f"ping -c1 -w{3 if ok else 1} -i0.2 {ip}", check=False)
    assert (r.returncode == 0) == ok, r


def change_mac(host, ctr):
    ctr.sh("ip link set eth0 address 02:00:00:00:42:42")
    ctr.sh("ip neigh flush all")
    host.sh("ip neigh flush all")


@needs_ping
def test_rules_traffic_check_del(host, ctr, scratch):
    c = conf(scratch)
    res = add(host, ctr, c)
    assert_rules(host, res)
    assert chains(host) == sorted(["PREROUTING", "cni-br-iface-c1-eth0", "cni-br-iface-c1-eth0-mac"])
    assert len(rules(host)) == 4
    ping(ctr, GW)
    r = run_plugin("bridge", "CHECK", dict(c, prevResult=res), host=host, netns=ctr, containerid="c1")
    assert r.ok, r
    change_mac(host, ctr)
    ping(ctr, GW, ok=False)
    delete(host, ctr, c)
    assert_gone(host)
    assert chains(host) == ["PREROUTING"] and rules(host) == []   # table and base chain stay, as upstream
    delete(host, ctr, c)


@needs_ping
def test_control_without_macspoofchk_a_new_mac_passes(host, ctr, scratch):
    """The control of the drop above: without macspoofchk the same change
    leaves the gateway reachable."""
    c = conf(scratch, macspoofchk=False)
    add(host, ctr, c)
    change_mac(host, ctr)
    ping(ctr, GW)
    assert nft_objects(host) == []
    delete(host, ctr, c)


def test_check_notices_missing_rules(host, ctr, scratch):
    c = conf(scratch)
    res = add(host, ctr, c)
    host.sh("nft flush chain bridge nat cni-br-iface-c1-eth0-mac")
    r = run_plugin("bridge", "CHECK", dict(c, prevResult=res), host=host, netns=ctr, containerid="c1")
    assert_cni_error(r, 999, "macspoofchk")
    # Without macspoofchk in the config, CHECK does not look.
    r = run_plugin("bridge", "CHECK", dict(c, macspoofchk=False, prevResult=res), host=host, netns=ctr,
                   containerid="c1")
    assert r.ok, r
    delete(host, ctr, c)
    assert_gone(host)


def test_layer2_only(host, ctr, scratch):
    c = conf(scratch, layer3=False)
    res = add(host, ctr, c)
    assert_rules(host, res)
    delete(host, ctr, c)
    assert_gone(host)


def test_with_ipmasq_on_iptables(host, ctr, scratch):
    """macspoofchk is nftables whatever ipMasqBackend says."""
    c = conf(scratch, ipMasq=True, ipMasqBackend="iptables")
    res = add(host, ctr, c)
    assert_rules(host, res)
    assert "MASQUERADE" in host.sh("iptables-legacy-save -t nat").stdout
    assert "cni_plugins_masquerade" not in host.sh("nft list tables").stdout
    delete(host, ctr, c)
    assert_gone(host)
    assert "MASQUERADE" not in host.sh("iptables-legacy-save -t nat").stdout


def test_del_after_netns_gone(host, make_ns, scratch):
    c = conf(scratch)
    ctr = make_ns()
    add(host, ctr, c)
    path = ctr.path
    ctr.delete()
    delete(host, path, c)
    assert_gone(host)
    delete(host, "", c)


def test_del_of_one_keeps_the_other(host, make_ns, scratch):
    c = conf(scratch)
    a, b = make_ns(), make_ns()
    ra = add(host, a, c, cid="a")
    add(host, b, c, cid="b")
    delete(host, b, c, cid="b")
    assert_gone(host, "b")
    assert_rules(host, ra, "a")
    delete(host, a, c, cid="a")
    assert_gone(host, "a")


def test_failed_add_leaves_no_rules(host, ctr, scratch):
    """The gateway address cannot go on the bridge (it has another one):
    ADD fails after the spoof check was set up, and undoes it."""
    host.sh(f"ip link add {BR} type bridge && ip addr add 10.66.9.1/24 dev {BR} && ip link set {BR} up")
    r = run_plugin("bridge", "ADD", conf(scratch), host=host, netns=ctr, containerid="c1")
    assert_cni_error(r, 999, "already has an IP address")
    assert_gone(host)
    assert set(ctr.links()) == {"lo"}
    assert not [f for f in scratch.files(NET) if re.match(r"^[0-9.]+$", f)]


def test_parallel_adds(host, make_ns, scratch):
    c = conf(scratch)
    ctrs = [make_ns() for _ in range(8)]
    with ThreadPoolExecutor(8) as ex:
        res = list(ex.map(lambda i: run_plugin("bridge", "ADD", c, host=host, netns=ctrs[i],
                                               containerid=f"p{i}"), range(8)))
    assert all(r.ok for r in res), [r for r in res if not r.ok]
    text = host.sh("nft list ruleset").stdout
    assert text.count("table bridge nat") == 1 and text.count("chain PREROUTING") == 1, text
    assert len(rules(host, "PREROUTING")) == 8
    for i, r in enumerate(res):
        assert_rules(host, r.json, f"p{i}")
    with ThreadPoolExecutor(8) as ex:
        dels = list(ex.map(lambda i: run_plugin("bridge", "DEL", c, host=host, netns=ctrs[i],
                                                containerid=f"p{i}"), range(8)))
    assert all(r.ok for r in dels), [r for r in dels if not r.ok]
    assert chains(host) == ["PREROUTING"] and rules(host) == []


def test_status(host, scratch):
    r = run_plugin("bridge", "STATUS", conf(scratch, cniVersion="1.1.0"), host=host)
    assert r.ok, r


def test_add_again_replaces_stale_rules(host, make_ns, scratch):
    """An ADD of the same container ID and ifname (without DEL in between)
    replaces the earlier rules instead of adding a second set (L2 only:
    host-local would refuse the second allocation)."""
    c = conf(scratch, layer3=False)
    add(host, make_ns(), c)
    res = add(host, make_ns(), c)
    assert_rules(host, res)
    assert len(rules(host, "PREROUTING")) == 1 and len(rules(host)) == 4
    delete(host, "", c)
    assert_gone(host)
