"""macvlan applet against real namespaces (root): the master is a bridge or
veth made in the test's `host` namespace. Also: ipvlan, vlan and dummy fail
cleanly on a kernel without those drivers (they need the VM lane)."""
import json
import shutil

import pytest

import cnitest
from cnitest import assert_cni_error, mask_result, run_plugin

NET = "mvnet"
V4 = "10.62.0.0/24"
V6 = "fd62::/64"

needs_ping = pytest.mark.skipif(shutil.which("ping") is None, reason="needs ping")


def ipam(scratch, subnets=(V4,)):
    return {"type": "host-local", "dataDir": scratch.path, "ranges": [[{"subnet": s}] for s in subnets]}


def conf(scratch, version="1.0.0", subnets=(V4,), typ="macvlan", **kw):
    c = {"cniVersion": version, "name": NET, "type": typ, "master": "br0"}
    if subnets:
        c["ipam"] = ipam(scratch, subnets)
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


def leases(scratch):
    return cnitest.leases(scratch, NET)


@pytest.fixture
def master(host):
    host.sh("ip link add br0 type bridge && ip link set br0 up")
    return "br0"


def run(cmd, host, ctr, c, ifname="eth0", cid="ctr1", **kw):
    return run_plugin(c["type"], cmd, c, host=host, netns=ctr, ifname=ifname, containerid=cid, **kw)


def link(ns, name):
    out = ns.sh(f"ip -d -j link show {name}", check=False)
    return json.loads(out.stdout)[0] if out.returncode == 0 and out.stdout.strip() else None


def test_add_check_del(host, ctr, master, scratch):
    c = conf(scratch)
    r = run("ADD", host, ctr, c)
    assert r.ok, r
    res = r.json
    assert res["interfaces"] == [{"name": "eth0", "mac": res["interfaces"][0]["mac"], "sandbox": ctr.path}]
    assert res["ips"] == [{"interface": 0, "address": "10.62.0.2/24", "gateway": "10.62.0.1"}]
    l = link(ctr, "eth0")
    assert l["linkinfo"]["info_kind"] == "macvlan"
    assert l["linkinfo"]["info_data"]["mode"] == "bridge"
    assert l["address"] == res["interfaces"][0]["mac"]
    assert "UP" in l["flags"]
    assert "10.62.0.2/24" in ctr.addrs("eth0")
    assert ctr.sysctl("net.ipv4.conf.eth0.arp_notify") == "1"
    # nothing left in the host namespace but the master
    assert set(host.links()) == {"lo", "br0"}
    cc = dict(c, prevResult=res)
    assert run("CHECK", host, ctr, cc).ok
    assert run("STATUS", host, ctr, dict(c, cniVersion="1.1.0")).ok
    assert run("DEL", host, ctr, cc).ok
    assert link(ctr, "eth0") is None
    assert leases(scratch) == []


def test_check_detects_missing_link(host, ctr, master, scratch):
    c = conf(scratch)
    r = run("ADD", host, ctr, c)
    assert r.ok, r
    ctr.sh("ip link del eth0")
    assert_cni_error(run("CHECK", host, ctr, dict(c, prevResult=r.json)), 999, "eth0")


@pytest.mark.parametrize("mode", ["bridge", "private", "vepa", "passthru", "source"])
def test_modes(host, ctr, master, scratch, mode):
    if mode == "passthru":
        host.sh("ip link add m0 type veth peer name m1")
        c = conf(scratch, mode=mode, master="m0")
    else:
        c = conf(scratch, mode=mode)
    r = run("ADD", host, ctr, c)
    assert r.ok, r
    assert link(ctr, "eth0")["linkinfo"]["info_data"]["mode"] == mode
    assert run("DEL", host, ctr, c).ok


def test_bad_mode(host, ctr, master, scratch):
    assert_cni_error(run("ADD", host, ctr, conf(scratch, mode="nope")), 7, "nope")
    assert leases(scratch) == []


def test_mtu(host, ctr, master, scratch):
    host.sh("ip link set br0 mtu 1400")
    r = run("ADD", host, ctr, conf(scratch, mtu=1300))
    assert r.ok, r
    assert link(ctr, "eth0")["mtu"] == 1300
    assert run("DEL", host, ctr, conf(scratch)).ok
    assert_cni_error(run("ADD", host, ctr, conf(scratch, mtu=1500)), 7, "1400")
    assert link(ctr, "eth0") is None and leases(scratch) == []


@pytest.mark.parametrize("where", ["conf", "runtimeConfig", "CNI_ARGS"])
def test_mac(host, ctr, master, scratch, where):
    mac = "0a:58:0a:3e:00:09"
    kw, args = {}, None
    if where == "conf":
        kw["mac"] = mac
    elif where == "runtimeConfig":
        kw["runtimeConfig"] = {"mac": mac.upper()}
    else:
        args = f"IgnoreUnknown=1;MAC={mac}"
    c = conf(scratch, **kw)
    r = run("ADD", host, ctr, c, args=args)
    assert r.ok, r
    assert r.json["interfaces"][0]["mac"] == mac
    assert link(ctr, "eth0")["address"] == mac
    assert run("CHECK", host, ctr, dict(c, prevResult=r.json), args=args).ok
    assert run("DEL", host, ctr, c, args=args).ok


def test_dual_stack_and_0_4_0(host, ctr, master, scratch):
    c = conf(scratch, version="0.4.0", subnets=(V4, V6))
    r = run("ADD", host, ctr, c)
    assert r.ok, r
    ips = r.json["ips"]
    assert [i["version"] for i in ips] == ["4", "6"]
    addrs = ctr.addrs("eth0")
    assert "10.62.0.2/24" in addrs and "fd62::2/64" in addrs
    assert run("CHECK", host, ctr, dict(c, prevResult=r.json)).ok
    assert run("DEL", host, ctr, c).ok
    assert leases(scratch) == []


def test_two_attachments_to_one_lan_each_get_the_default_route(host, ctr, master, scratch):
    # Two links of one namespace on the same LAN, each with a default route
    # via the same gateway: the second goes in beside the first (upstream's
    # RouteAddEcmp) instead of failing with "File exists".
    c = conf(scratch, subnets=(V4, V6))
    c["ipam"]["routes"] = [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]
    r0, r1 = run("ADD", host, ctr, c, ifname="eth0"), run("ADD", host, ctr, c, ifname="eth1")
    assert r0.ok and r1.ok, (r0, r1)
    for fam in ("-4", "-6"):
        out = ctr.sh(f"ip {fam} route show default").stdout
        assert "dev eth0" in out and "dev eth1" in out, out
    for ifname, r in (("eth0", r0), ("eth1", r1)):
        assert run("CHECK", host, ctr, dict(c, prevResult=r.json), ifname=ifname).ok
    assert run("DEL", host, ctr, c, ifname="eth1").ok
    assert run("DEL", host, ctr, c, ifname="eth0").ok
    assert leases(scratch) == []


def test_no_ipam(host, ctr, master, scratch):
    c = conf(scratch, subnets=())
    r = run("ADD", host, ctr, c)
    assert r.ok, r
    assert "ips" not in r.json or r.json["ips"] == []
    assert "UP" in link(ctr, "eth0")["flags"]
    assert run("DEL", host, ctr, c).ok


def test_default_master_and_link_in_container(host, ctr, scratch):
    host.sh("ip link add up0 type veth peer name up1 && ip link set up0 up && "
            "ip addr add 192.0.2.2/24 dev up0 && ip route add default via 192.0.2.1")
    c = conf(scratch, master=None)
    r = run("ADD", host, ctr, c)
    assert r.ok, r
    assert link(ctr, "eth0")["link_index"] == link(host, "up0")["ifindex"]
    assert run("DEL", host, ctr, c).ok
    # linkInContainer: the master is the container's
    ctr.sh("ip link add cm0 type veth peer name cm1 && ip link set cm0 up")
    c = conf(scratch, master="cm0", linkInContainer=True)
    r = run("ADD", host, ctr, c, ifname="net1")
    assert r.ok, r
    assert link(ctr, "net1")["link"] == "cm0"
    assert run("DEL", host, ctr, c, ifname="net1").ok
    assert link(ctr, "net1") is None


def test_ifname_taken(host, ctr, master, scratch):
    ctr.sh("ip link add eth0 type veth peer name x1")
    assert_cni_error(run("ADD", host, ctr, conf(scratch)), 999, "already exists")
    assert leases(scratch) == []
    assert sorted(ctr.links()) == ["eth0", "lo", "x1"]


def test_missing_master(host, ctr, scratch):
    assert_cni_error(run("ADD", host, ctr, conf(scratch, master="nope0")), 999, "nope0")
    assert leases(scratch) == []


@needs_ping
def test_two_containers_ping(host, make_ns, master, scratch):
    a, b = make_ns(), make_ns()
    c = conf(scratch)
    ra = run("ADD", host, a, c, cid="a")
    rb = run("ADD", host, b, c, cid="b")
    assert ra.ok and rb.ok, (ra, rb)
    ip_b = rb.json["ips"][0]["address"].split("/")[0]
    a.sh(f"ping -c1 -w5 -i0.2 {ip_b}")
    assert run("DEL", host, a, c, cid="a").ok
    assert run("DEL", host, b, c, cid="b").ok


def test_del_cells(host, ctr, master, scratch):
    c = conf(scratch)
    # netns "" / link gone / repeat
    assert run("DEL", host, "", c).ok
    assert run("ADD", host, ctr, c).ok
    ctr.sh("ip link del eth0")
    assert run("DEL", host, ctr, c).ok
    assert run("DEL", host, ctr, c).ok
    assert leases(scratch) == []
    # netns gone: IPAM still released
    assert run("ADD", host, ctr, c).ok
    path = ctr.path
    ctr.delete()
    assert run("DEL", host, path, c).ok
    assert leases(scratch) == []


def test_gc_status_passthrough(host, ctr, master, scratch):
    c = conf(scratch)
    assert run("ADD", host, ctr, c).ok
    assert leases(scratch) == ["10.62.0.2"]
    g = dict(c, cniVersion="1.1.0", **{"cni.dev/valid-attachments": []})
    assert run("GC", host, "", g).ok
    assert leases(scratch) == []
    assert run("STATUS", host, "", dict(c, cniVersion="1.1.0")).ok


@pytest.mark.skipif(not cnitest.have_ref("macvlan"), reason="no reference macvlan")
@pytest.mark.parametrize("version,subnets", [("1.0.0", (V4,)), ("0.3.1", (V4, V6)), ("1.0.0", ())])
def test_same_result_as_reference(host, make_ns, master, scratch, version, subnets):
    out = []
    for ref in (False, True):
        ns = make_ns()
        s = cnitest.Scratch()
        try:
            c = conf(s, version=version, subnets=subnets)
            r = run_plugin("macvlan", "ADD", c, host=host, netns=ns, ref=ref)
            assert r.ok, r
            out.append(mask_result(r.json))
            assert link(ns, "eth0")["linkinfo"]["info_data"]["mode"] == "bridge"
            assert run_plugin("macvlan", "DEL", c, host=host, netns=ns, ref=ref).ok
        finally:
            s.cleanup()
    assert out[0] == out[1]


# ---- kinds this kernel lacks: a clean error, nothing left behind

@pytest.mark.parametrize("typ", ["ipvlan", "vlan", "dummy"])
def test_unsupported_kind_fails_cleanly(host, ctr, master, scratch, typ):
    c = conf(scratch, typ=typ, vlanId=10 if typ == "vlan" else None)
    before_h, before_c = set(host.links()), set(ctr.links())
    r = run("ADD", host, ctr, c)
    if r.ok:
        pytest.skip(f"this kernel has {typ}")
    assert_cni_error(r, 999, "unknown device type", typ)
    assert set(host.links()) == before_h and set(ctr.links()) == before_c
    assert leases(scratch) == []
    assert run("DEL", host, ctr, c).ok
    assert run("STATUS", host, ctr, dict(c, cniVersion="1.1.0")).ok


def test_vlan_del_without_master(host, ctr, scratch):
    c = conf(scratch, typ="vlan", master="gone0", vlanId=10)
    assert run("DEL", host, ctr, c).ok


@pytest.mark.parametrize("typ,kw,words", [
    ("vlan", {"vlanId": 4095}, ["4095"]),
    ("vlan", {"vlanId": None}, ["vlan id"]),
    ("ipvlan", {"mode": "l4"}, ["l4"]),
    ("ipvlan", {"flags": "x"}, ["x"]),
])
def test_sublink_conf_errors(host, ctr, master, scratch, typ, kw, words):
    c = conf(scratch, typ=typ, **kw)
    assert_cni_error(run("ADD", host, ctr, c), 7, *words)


def test_ipvlan_dummy_need_ipam(host, ctr, master, scratch):
    for typ in ("ipvlan", "dummy", "vlan"):
        c = conf(scratch, typ=typ, subnets=(), vlanId=1)
        assert_cni_error(run("ADD", host, ctr, c), 7, "ipam")


def test_a_link_left_under_its_temporary_name(host, ctr, master, scratch):
    """An ADD killed between creating the macvlan (under the attachment's
    temporary name) and renaming it: DEL removes it; an ADD finding it takes
    the name again."""
    c = conf(scratch)
    tmp = cnitest.moving_name("ctr1", "eth0")
    host.sh(f"ip link add link {master} name {tmp} type macvlan mode bridge && ip link set {tmp} netns {ctr.name}")
    assert run("DEL", host, ctr, c).ok
    assert link(ctr, tmp) is None
    host.sh(f"ip link add link {master} name {tmp} type macvlan mode bridge && ip link set {tmp} netns {ctr.name}")
    r = run("ADD", host, ctr, c)
    assert r.ok, r
    assert link(ctr, tmp) is None and link(ctr, "eth0")["linkinfo"]["info_kind"] == "macvlan"
    assert run("DEL", host, ctr, c).ok
    assert link(ctr, "eth0") is None and leases(scratch) == []
