"""bridge applet (core keys): ADD/CHECK/DEL/STATUS/GC against real namespaces (root).

The plugin runs inside the `host` namespace with host-local (dataDir under
`scratch`) as IPAM; containers are further namespaces.
"""
import copy
import shutil
import subprocess
import time
import json

import pytest

import cnitest
from cnitest import assert_cni_error, kernel_state, mask_result, run_plugin

NET = "brnet"
BR = "cbtbr0"
V4 = "10.62.0.0/24"
V6 = "fd62::/64"



needs_ping = pytest.mark.skipif(shutil.which("ping") is None, reason="needs ping (iputils-ping)")


def ping(ns, ip):
    """One echo reply from `ip` within 5 s (a fresh IPv6 gateway is usable
    only once its DAD is over)."""
    ns.sh(f"ping {'-6' if ':' in ip else '-4'} -c1 -w5 -i0.2 {ip}")


def wait_for(cond, seconds=5):
    end = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def steady(ns, rename=None):
    """kernel_state without IPv6 link-local addresses and their routes: the
    kernel adds those a moment after a link gets carrier (from its link
    watcher), so when they show up races with the test."""
    s = kernel_state(ns, rename)
    s["addrs"] = {k: [a for a in v if a[1] != "fe80::LL"] for k, v in s["addrs"].items()}
    s["routes"] = [r for r in s["routes"] if r[2] not in ("fe80::LL", "fe80::", "ff00::/8")]
    return s

def ipam(scratch, subnets=(V4,), routes=None):
    i = {"type": "host-local", "dataDir": scratch.path, "ranges": [[{"subnet": s}] for s in subnets]}
    if routes is not None:
        i["routes"] = routes
    return i


def conf(scratch, version="1.0.0", subnets=(V4,), routes=None, **kw):
    c = {"cniVersion": version, "name": NET, "type": "bridge", "bridge": BR,
         "ipam": ipam(scratch, subnets, routes)}
    c.update(kw)
    return c


def leases(scratch):
    return sorted(cnitest.leases(scratch, NET))


def add(host, ctr, c, **kw):
    r = run_plugin("bridge", "ADD", c, host=host, netns=ctr, **kw)
    assert r.ok, r
    return r.json


def delete(host, ctr, c, **kw):
    r = run_plugin("bridge", "DEL", c, host=host, netns=ctr, **kw)
    assert r.ok, r
    assert r.stdout == ""


def veths(host):
    return sorted(n for n in host.links() if n.startswith("veth"))


def link_detail(ns, dev):
    return json.loads(ns.sh(f"ip -d -j link show dev {dev}").stdout)[0]


def ctr_routes(ns, fam="-4", dev="eth0"):
    return {(r.get("dst"), r.get("gateway")) for r in ns.routes(fam)
            if r.get("dev") == dev and r.get("table", "main") == "main" and r.get("type", "unicast") == "unicast"
            and not (r.get("dst") or "").startswith("fe80")}


@pytest.mark.parametrize("version", ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
def test_add_v4_gateway(host, ctr, scratch, version):
    res = add(host, ctr, conf(scratch, version, isGateway=True))
    assert res["cniVersion"] == version
    br, hv, cv = res["interfaces"]
    assert br["name"] == BR and "sandbox" not in br
    assert hv["name"].startswith("veth") and "sandbox" not in hv
    assert cv == {"name": "eth0", "mac": cv["mac"], "sandbox": ctr.path}
    assert [(i["interface"], i["address"], i["gateway"]) for i in res["ips"]] == [(2, "10.62.0.2/24", "10.62.0.1")]
    assert ("version" in res["ips"][0]) == version.startswith("0.")
    hl = host.links()
    assert hl[BR]["address"] == br["mac"]
    assert hl[hv["name"]]["address"] == hv["mac"]
    assert hl[hv["name"]]["master"] == BR
    assert "UP" in hl[hv["name"]]["flags"] and hl[hv["name"]]["operstate"] == "UP"
    assert "UP" in hl[BR]["flags"]
    assert host.addrs(BR) and host.addrs(BR)[0] == "10.62.0.1/24"
    assert host.sysctl("net.ipv4.ip_forward") == "1"
    assert host.sysctl(f"net/ipv6/conf/{BR}/accept_ra") == "0"
    assert host.sysctl(f"net/ipv6/conf/{hv['name']}/accept_ra") == "0"
    cl = ctr.links()["eth0"]
    assert cl["address"] == cv["mac"] and "UP" in cl["flags"]
    assert "10.62.0.2/24" in ctr.addrs("eth0")
    assert ctr.sysctl("net/ipv6/conf/eth0/accept_dad") == "0"
    assert ctr.sysctl("net/ipv4/conf/eth0/arp_notify") == "1"
    r = run_plugin("bridge", "CHECK", conf(scratch, version, isGateway=True, prevResult=res), host=host, netns=ctr)
    if version in ("0.3.0", "0.3.1"):
        assert_cni_error(r, 1)
    else:
        assert r.ok, r
    delete(host, ctr, conf(scratch, version, isGateway=True))
    assert leases(scratch) == []
    assert veths(host) == [] and "eth0" not in ctr.links()
    assert BR in host.links()   # the bridge stays


def test_add_020_shape(host, ctr, scratch):
    res = add(host, ctr, conf(scratch, "0.2.0", isDefaultGateway=True))
    res.pop("dns", None)
    assert res == {"cniVersion": "0.2.0",
                   "ip4": {"ip": "10.62.0.2/24", "gateway": "10.62.0.1",
                           "routes": [{"dst": "0.0.0.0/0", "gw": "10.62.0.1"}]}}
    assert ("default", "10.62.0.1") in ctr_routes(ctr)


def test_no_gateway_keeps_bridge_bare(host, ctr, scratch):
    res = add(host, ctr, conf(scratch))
    # host-local gives the gateway; without isGateway nothing goes on the bridge.
    assert res["ips"][0]["gateway"] == "10.62.0.1"
    assert host.addrs(BR) == [] or all(a.startswith("fe80") for a in host.addrs(BR))


def test_dual_stack_default_gateway(host, ctr, scratch):
    c = conf(scratch, "1.1.0", subnets=(V4, V6), isDefaultGateway=True)
    res = add(host, ctr, c)
    assert [(i["address"], i["gateway"]) for i in res["ips"]] == [
        ("10.62.0.2/24", "10.62.0.1"), ("fd62::2/64", "fd62::1")]
    assert res["routes"] == [{"dst": "0.0.0.0/0", "gw": "10.62.0.1"}, {"dst": "::/0", "gw": "fd62::1"}]
    assert "10.62.0.1/24" in host.addrs(BR) and "fd62::1/64" in host.addrs(BR)
    assert host.sysctl("net.ipv6.conf.all.forwarding") == "1"
    assert "fd62::2/64" in ctr.addrs("eth0")
    assert ("default", "10.62.0.1") in ctr_routes(ctr)
    assert ("default", "fd62::1") in ctr_routes(ctr, "-6")
    assert ctr.sysctl("net/ipv6/conf/eth0/keep_addr_on_down") == "1"
    # accept_dad=0: the address is usable at once.
    a6 = json.loads(ctr.sh("ip -j -6 addr show dev eth0 scope global").stdout)[0]["addr_info"]
    assert not any(a.get("tentative") for a in a6)
    r = run_plugin("bridge", "CHECK", dict(c, prevResult=res), host=host, netns=ctr)
    assert r.ok, r
    ctr.sh("ip -6 route del default")
    assert_cni_error(run_plugin("bridge", "CHECK", dict(c, prevResult=res), host=host, netns=ctr), 999, "::/0")


def test_route_attributes_and_ecmp(host, ctr, scratch):
    routes = [{"dst": "10.98.0.0/16", "priority": 50, "mtu": 1300, "advmss": 1260},
              {"dst": "10.97.0.0/16", "gw": "10.62.0.7", "table": 100},
              {"dst": "10.95.0.0/16", "gw": "10.62.0.1"},
              {"dst": "10.95.0.0/16", "gw": "10.62.0.254"}]
    c = conf(scratch, "1.1.0", routes=routes)
    res = add(host, ctr, c)
    assert res["routes"] == routes
    got = {r["dst"]: r for r in json.loads(ctr.sh("ip -j -d -4 route show table all").stdout)
           if r.get("dst", "").startswith("10.9")}
    r98 = got["10.98.0.0/16"]
    assert r98["gateway"] == "10.62.0.1" and r98["metric"] == 50   # gw defaults to the IP's gateway
    metrics = {k: v for m in r98["metrics"] for k, v in m.items()}
    assert metrics["mtu"] == 1300 and metrics["advmss"] == 1260
    assert got["10.97.0.0/16"]["table"] == "100" and got["10.97.0.0/16"]["gateway"] == "10.62.0.7"
    hops = sorted(h["gateway"] for h in got["10.95.0.0/16"]["nexthops"])
    assert hops == ["10.62.0.1", "10.62.0.254"]
    r = run_plugin("bridge", "CHECK", dict(c, prevResult=res), host=host, netns=ctr)
    assert r.ok, r


def test_default_gateway_not_duplicated(host, ctr, scratch):
    c = conf(scratch, routes=[{"dst": "0.0.0.0/0", "gw": "10.62.0.254"}], isDefaultGateway=True)
    res = add(host, ctr, c)
    assert res["routes"] == [{"dst": "0.0.0.0/0", "gw": "10.62.0.254"}]


def test_v6_with_dad(host, ctr, scratch):
    c = conf(scratch, subnets=(V6,), isDefaultGateway=True, enabledad=True)
    add(host, ctr, c)
    assert ctr.sysctl("net/ipv6/conf/eth0/accept_dad") == "1"
    assert ctr.sysctl("net/ipv6/conf/eth0/enhanced_dad") == "1"
    a6 = json.loads(ctr.sh("ip -j -6 addr show dev eth0 scope global").stdout)[0]["addr_info"]
    assert a6 and not any(a.get("tentative") for a in a6)


@needs_ping
def test_two_containers_ping(host, make_ns, scratch):
    a, b = make_ns(), make_ns()
    c = conf(scratch, subnets=(V4, V6), isGateway=True)
    ra = add(host, a, c, containerid="a")
    rb = add(host, b, c, containerid="b")
    assert host.links()[ra["interfaces"][1]["name"]]["master"] == BR
    assert host.links()[rb["interfaces"][1]["name"]]["master"] == BR
    ping(a, '10.62.0.3')
    ping(b, '10.62.0.2')
    ping(a, 'fd62::3')
    ping(b, '10.62.0.1')   # the gateway on the bridge
    # The bridge MAC is pinned: a port leaving does not change it.
    mac = host.links()[BR]["address"]
    delete(host, a, c, containerid="a")
    assert host.links()[BR]["address"] == mac
    delete(host, b, c, containerid="b")
    assert leases(scratch) == [] and veths(host) == []


def test_layer2_only(host, ctr, scratch):
    c = conf(scratch, "1.0.0", ipam={})
    res = add(host, ctr, c)
    assert "ips" not in res or res["ips"] == []
    assert len(res["interfaces"]) == 3
    assert "UP" in ctr.links()["eth0"]["flags"]
    assert host.links()[res["interfaces"][1]["name"]]["master"] == BR
    r = run_plugin("bridge", "CHECK", dict(c, prevResult=res), host=host, netns=ctr)
    assert r.ok, r
    delete(host, ctr, c)
    assert veths(host) == []


def test_mtu_hairpin_promisc(host, make_ns, scratch):
    a, b = make_ns(), make_ns()
    ra = add(host, a, conf(scratch, mtu=1400, hairpinMode=True), containerid="a")
    hv = ra["interfaces"][1]["name"]
    assert a.links()["eth0"]["mtu"] == 1400
    assert host.links()[hv]["mtu"] == 1400
    assert host.links()[BR]["mtu"] == 1400   # made by this ADD, so with the mtu
    assert link_detail(host, hv)["linkinfo"]["info_slave_data"]["hairpin"] is True
    assert link_detail(host, BR).get("promiscuity", 0) == 0
    rb = add(host, b, conf(scratch, promiscMode=True), containerid="b")
    assert link_detail(host, BR)["promiscuity"] > 0
    assert link_detail(host, rb["interfaces"][1]["name"])["linkinfo"]["info_slave_data"]["hairpin"] is False
    # CHECK compares the bridge's promiscuous mode with the config. (Without
    # isGateway nothing pins the bridge MAC: it follows the lowest port MAC.)
    ra["interfaces"][0]["mac"] = host.links()[BR]["address"]
    c = conf(scratch, prevResult=ra)
    assert_cni_error(run_plugin("bridge", "CHECK", c, host=host, netns=a, containerid="a"), 999, "promisc")


@pytest.mark.parametrize("where", ["runtimeConfig", "args", "CNI_ARGS"])
def test_container_mac(host, ctr, scratch, where):
    kw, env_args = {}, None
    macs = {"runtimeConfig": "0a:00:00:00:00:01", "args": "0a:00:00:00:00:02", "CNI_ARGS": "0a:00:00:00:00:03"}
    order = ["runtimeConfig", "args", "CNI_ARGS"]
    # Supply this source and every lower-precedence one: this one must win.
    for w in order[order.index(where):]:
        if w == "runtimeConfig":
            kw["runtimeConfig"] = {"mac": macs[w].upper()}
        elif w == "args":
            kw["args"] = {"cni": {"mac": macs[w]}}
        else:
            env_args = f"IgnoreUnknown=1;K8S_POD_NAME=x;MAC={macs[w]}"
    res = add(host, ctr, conf(scratch, **kw), args=env_args)
    assert res["interfaces"][2]["mac"] == macs[where]
    assert ctr.links()["eth0"]["address"] == macs[where]


def test_bad_mac(host, ctr, scratch):
    before = host.state(), ctr.state()
    r = run_plugin("bridge", "ADD", conf(scratch, runtimeConfig={"mac": "zz:00"}), host=host, netns=ctr)
    assert_cni_error(r, 7, "zz:00")
    assert (host.state(), ctr.state()) == before


def test_cni_args_unknown_key(host, ctr, scratch):
    r = run_plugin("bridge", "ADD", conf(scratch), host=host, netns=ctr, args="FOO=1")
    assert_cni_error(r, 4, "FOO")
    assert BR not in host.links()


def test_gateway_conflict_and_force(host, make_ns, scratch):
    host.sh(f"ip link add {BR} type bridge && ip addr add 10.62.0.99/24 dev {BR}")
    a, b = make_ns(), make_ns()
    a_before = steady(a)
    r = run_plugin("bridge", "ADD", conf(scratch, isGateway=True), host=host, netns=a, containerid="a")
    assert_cni_error(r, 999, f'"{BR}" already has an IP address different from 10.62.0.1/24')
    # The failed ADD undid its veth and its lease.
    assert leases(scratch) == []
    assert steady(a) == a_before
    assert veths(host) == []
    # DEL after the failed ADD succeeds.
    delete(host, a, conf(scratch, isGateway=True), containerid="a")
    add(host, b, conf(scratch, isGateway=True, forceAddress=True), containerid="b")
    assert host.addrs(BR)[0] == "10.62.0.1/24" and "10.62.0.99/24" not in host.addrs(BR)


def test_existing_bridge_reused(host, ctr, scratch):
    host.sh(f"ip link add {BR} type bridge")
    add(host, ctr, conf(scratch, mtu=1300))
    assert "UP" in host.links()[BR]["flags"]
    assert host.links()[BR]["mtu"] == 1300   # follows its only port
    assert ctr.links()["eth0"]["mtu"] == 1300


def test_not_a_bridge(host, ctr, scratch):
    host.sh(f"ip link add {BR} type veth peer name cbtpeer0")
    before = host.state(), ctr.state()
    r = run_plugin("bridge", "ADD", conf(scratch), host=host, netns=ctr)
    assert_cni_error(r, 999, BR, "not a bridge")
    assert (host.state(), ctr.state()) == before
    assert leases(scratch) == []


def test_ifname_taken(host, ctr, scratch):
    ctr.sh("ip link add eth0 type veth peer name other0")
    r = run_plugin("bridge", "ADD", conf(scratch), host=host, netns=ctr)
    assert_cni_error(r, 999, "eth0", "already exists")
    assert veths(host) == [] and leases(scratch) == []
    assert "eth0" in ctr.links()


# ---------------------------------------------------------------- DEL cells

def test_del_repeat(host, ctr, scratch):
    c = conf(scratch, isGateway=True)
    add(host, ctr, c)
    for _ in range(3):
        delete(host, ctr, c)
    assert leases(scratch) == [] and veths(host) == []


def test_del_empty_netns(host, ctr, scratch):
    c = conf(scratch)
    add(host, ctr, c)
    delete(host, "", c)
    assert leases(scratch) == []


def test_del_vanished_netns(host, make_ns, scratch):
    ns = make_ns()
    c = conf(scratch)
    add(host, ns, c)
    path = ns.path
    ns.delete()
    delete(host, path, c)
    assert leases(scratch) == []
    # The kernel tears a deleted namespace down (and the veth with it) in the background.
    wait_for(lambda: veths(host) == [])


def test_del_link_gone(host, ctr, scratch):
    c = conf(scratch)
    add(host, ctr, c)
    ctr.sh("ip link del eth0")
    delete(host, ctr, c)
    assert leases(scratch) == []


def test_del_never_added(host, ctr, scratch):
    delete(host, ctr, conf(scratch))
    delete(host, "", conf(scratch, ipam={}))


def test_del_with_keys_add_did_not_have(host, ctr, scratch):
    c = conf(scratch)
    add(host, ctr, c)
    delete(host, ctr, dict(c, vlan=5, ipMasq=True, macspoofchk=True))
    assert leases(scratch) == [] and veths(host) == []


# ---------------------------------------------------------------- config errors

@pytest.mark.parametrize("extra,code,words", [
    ({"hairpinMode": True, "promiscMode": True}, 7, ["hairpin", "promiscuous"]),
    ({"mtu": 10}, 7, ["mtu"]),
    ({"mtu": "x"}, 7, ["mtu"]),
    ({"bridge": "bad/name"}, 7, ["bad/name"]),
    ({"bridge": "b" * 16}, 7, ["b" * 16]),
    ({"vlan": 5000}, 7, ["5000"]),
    ({"vlan": -1}, 7, ["invalid VLAN ID -1"]),
    ({"bridge": "b" * 11, "vlan": 4094, "isGateway": True}, 7, ["bbbbbbbbbbb.4094", "too long"]),
    ({"vlanTrunk": [{"id": 0}]}, 7, ["incorrect trunk id parameter"]),
    ({"vlanTrunk": [{"id": 4095}]}, 7, ["incorrect trunk id parameter"]),
    ({"vlanTrunk": [{"minID": 0, "maxID": 5}]}, 7, ["incorrect trunk minID parameter"]),
    ({"vlanTrunk": [{"minID": 5, "maxID": 4095}]}, 7, ["incorrect trunk maxID parameter"]),
    ({"vlanTrunk": [{"minID": 9, "maxID": 5}]}, 7, ["minID is greater than maxID"]),
    ({"vlanTrunk": [{"minID": 5}]}, 7, ["maxID is missing"]),
    ({"vlanTrunk": [{"maxID": 5}]}, 7, ["minID is missing"]),
    ({"vlanTrunk": {"id": 5}}, 7, ["vlanTrunk"]),
    ({"portIsolation": "yes"}, 7, ["portIsolation"]),
    ({"disableContainerInterface": True}, 7, ["cannot use IPAM when DisableContainerInterface flag is set"]),
    ({"ipMasqBackend": "pf"}, 7, ["pf"]),
    ({"ipMasq": True, "ipMasqBackend": "pf"}, 7, ["ipMasqBackend", "pf"]),
    ({"ipMasq": "yes"}, 7, ["ipMasq"]),
    ({"macspoofchk": 1}, 7, ["macspoofchk"]),
    ({"isGateway": "yes"}, 7, ["isGateway"]),
])
def test_config_errors_leave_nothing(host, ctr, scratch, extra, code, words):
    before = host.state(), ctr.state()
    r = run_plugin("bridge", "ADD", conf(scratch, **extra), host=host, netns=ctr)
    assert_cni_error(r, code, *words)
    assert (host.state(), ctr.state()) == before
    assert scratch.files() == []


@pytest.mark.parametrize("ipam_conf,words", [
    ({"type": "nosuchipam"}, ["nosuchipam"]),
    ({"type": "host-local", "ranges": [[{"subnet": "nonsense"}]]}, ["nonsense"]),
])
def test_ipam_failure_leaves_nothing(host, ctr, scratch, ipam_conf, words):
    """No bridge, veth or lease is left when IPAM fails (and DEL still succeeds)."""
    if ipam_conf["type"] == "host-local":
        ipam_conf = dict(ipam_conf, dataDir=scratch.path)
    before = steady(host), steady(ctr)
    r = run_plugin("bridge", "ADD", conf(scratch, ipam=ipam_conf), host=host, netns=ctr)
    assert_cni_error(r, {7, 999}, *words)
    assert (steady(host), steady(ctr)) == before
    assert leases(scratch) == []


def test_defaults_of_unsupported_keys_are_fine(host, ctr, scratch):
    add(host, ctr, conf(scratch, vlan=0, preserveDefaultVlan=False, portIsolation=False, macspoofchk=False,
                        disableContainerInterface=False, ipMasq=False, ipMasqBackend="nftables"))


def test_default_bridge_name(host, ctr, scratch):
    c = conf(scratch)
    del c["bridge"]
    res = add(host, ctr, c)
    assert res["interfaces"][0]["name"] == "cni0"
    assert "cni0" in host.links()


# ---------------------------------------------------------------- STATUS, GC

def test_status_and_gc(host, ctr, scratch):
    c = conf(scratch, "1.1.0")
    assert run_plugin("bridge", "STATUS", c, host=host).ok
    assert run_plugin("bridge", "STATUS", conf(scratch, "1.1.0", ipam={}), host=host).ok
    assert_cni_error(run_plugin("bridge", "STATUS", conf(scratch, "1.1.0", bridge="a b"), host=host), 7, "a b")
    add(host, ctr, c, containerid="keep")
    gc = dict(c, **{"cni.dev/valid-attachments": [{"containerID": "keep", "ifname": "eth0"}]})
    r = run_plugin("bridge", "GC", gc, host=host)
    assert r.ok, r
    assert leases(scratch) == ["10.62.0.2"]
    assert run_plugin("bridge", "GC", conf(scratch, "1.1.0", ipam={}), host=host).ok


# ---------------------------------------------------------------- CHECK failures

def test_check_detects_missing_pieces(host, ctr, scratch):
    c = conf(scratch, isGateway=True)
    res = add(host, ctr, c)
    cc = dict(c, prevResult=res)
    assert run_plugin("bridge", "CHECK", cc, host=host, netns=ctr).ok
    assert_cni_error(run_plugin("bridge", "CHECK", c, host=host, netns=ctr), 999, "prevResult")
    wrong = copy.deepcopy(res)
    wrong["interfaces"][0]["mac"] = "02:00:00:00:00:09"
    assert_cni_error(run_plugin("bridge", "CHECK", dict(c, prevResult=wrong), host=host, netns=ctr), 999, "mac")
    host.sh(f"ip link set {res['interfaces'][1]['name']} nomaster")
    assert_cni_error(run_plugin("bridge", "CHECK", cc, host=host, netns=ctr), 999, "veth")


# ---------------------------------------------------------------- reference

@pytest.mark.skipif(not cnitest.have_ref("bridge"), reason="no reference bridge")
@pytest.mark.parametrize("version,extra", [
    ("1.0.0", {"isDefaultGateway": True}),
    ("0.4.0", {"isGateway": True, "hairpinMode": True, "mtu": 1450}),
])
def test_same_as_reference(host, make_ns, scratch, version, extra):
    other = cnitest.Netns("cbt-refhost")
    refdata = cnitest.Scratch()
    try:
        ours, theirs = make_ns(), make_ns()
        a = run_plugin("bridge", "ADD", conf(scratch, version, **extra), host=host, netns=ours)
        b = run_plugin("bridge", "ADD", conf(refdata, version, **extra), host=other, netns=theirs, ref=True)
        assert a.ok and b.ok, (a, b)
        ja, jb = mask_result(a.json), mask_result(b.json)
        for j in (ja, jb):
            if j.get("dns") == {}:
                del j["dns"]
        assert ja == jb
        ren_a = {a.json["interfaces"][1]["name"]: "HOSTVETH"}
        ren_b = {b.json["interfaces"][1]["name"]: "HOSTVETH"}
        assert steady(host, ren_a) == steady(other, ren_b)
        assert steady(ours) == steady(theirs)
        for s in ("net/ipv4/ip_forward", f"net/ipv6/conf/{BR}/accept_ra"):
            assert host.sysctl(s) == other.sysctl(s)
        for s in ("net/ipv6/conf/eth0/accept_dad", "net/ipv4/conf/eth0/arp_notify"):
            assert ours.sysctl(s) == theirs.sysctl(s)
        run_plugin("bridge", "DEL", conf(scratch, version, **extra), host=host, netns=ours)
        run_plugin("bridge", "DEL", conf(refdata, version, **extra), host=other, netns=theirs, ref=True)
        assert steady(host) == steady(other)
        assert steady(ours) == steady(theirs)
    finally:
        other.delete()
        refdata.cleanup()


# ---------------------------------------------------------------- portIsolation, disableContainerInterface, vlan

def slave_data(ns, dev):
    return link_detail(ns, dev)["linkinfo"]["info_slave_data"]


@needs_ping
def test_port_isolation(host, make_ns, scratch):
    """Isolated ports cannot talk to each other; a non-isolated port reaches both."""
    a, b, n = make_ns(), make_ns(), make_ns()
    iso = conf(scratch, portIsolation=True)
    ra = add(host, a, iso, containerid="a")
    rb = add(host, b, iso, containerid="b")
    rn = add(host, n, conf(scratch), containerid="n")
    assert slave_data(host, ra["interfaces"][1]["name"])["isolated"] is True
    assert slave_data(host, rb["interfaces"][1]["name"])["isolated"] is True
    assert slave_data(host, rn["interfaces"][1]["name"])["isolated"] is False
    ipa, ipb = (r["ips"][0]["address"].split("/")[0] for r in (ra, rb))
    ipn = rn["ips"][0]["address"].split("/")[0]
    assert a.sh(f"ping -4 -c1 -w1 {ipb}", check=False).returncode != 0
    ping(n, ipa)
    ping(n, ipb)
    ping(a, ipn)
    for ns, cid in ((a, "a"), (b, "b"), (n, "n")):
        delete(host, ns, iso, containerid=cid)
    assert leases(scratch) == [] and veths(host) == []


def test_disable_container_interface(host, ctr, scratch):
    c = conf(scratch, ipam={}, disableContainerInterface=True)
    res = add(host, ctr, c)
    assert len(res["interfaces"]) == 3
    assert "UP" not in ctr.links()["eth0"]["flags"]
    hv = res["interfaces"][1]["name"]
    assert host.links()[hv]["master"] == BR
    delete(host, ctr, c)
    assert veths(host) == [] and "eth0" not in ctr.links()


def test_disable_container_interface_with_empty_ipam_type(host, ctr, scratch):
    """An IPAM object without a type is L2 only: allowed."""
    add(host, ctr, conf(scratch, ipam={"type": ""}, disableContainerInterface=True))


def _kernel_has_vlan_filtering(host):
    probe = "cbtprobe0"
    host.sh(f"ip link add {probe} type bridge")
    try:
        host.sh(f"ip link set {probe} type bridge vlan_filtering 1")
        return True
    except subprocess.CalledProcessError:
        return False
    finally:
        host.sh(f"ip link del {probe}")


@pytest.mark.parametrize("extra", [{"vlan": 10}, {"vlanTrunk": [{"id": 5}, {"minID": 20, "maxID": 22}]},
                                   {"vlan": 10, "isGateway": True}, {"vlan": 10, "isDefaultGateway": True}])
@pytest.mark.parametrize("existing", [False, True])
def test_vlan_without_kernel_support_leaves_nothing(host, ctr, scratch, extra, existing):
    """This kernel lacks bridge VLAN filtering: ADD fails cleanly, and leaves
    no veth, no lease and no new bridge (the VM lane covers the real thing)."""
    if _kernel_has_vlan_filtering(host):
        pytest.skip("kernel has bridge VLAN filtering (covered by the VM lane)")
    if existing:
        host.sh(f"ip link add {BR} type bridge")
    before = steady(host), steady(ctr)
    r = run_plugin("bridge", "ADD", conf(scratch, **extra), host=host, netns=ctr)
    assert_cni_error(r, {999}, "VLAN filtering", BR)
    assert (steady(host), steady(ctr)) == before
    assert leases(scratch) == [] and veths(host) == []
    delete(host, ctr, conf(scratch, **extra))
