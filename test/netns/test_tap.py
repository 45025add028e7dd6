"""tap applet against real namespaces (root): the tap is made through
/dev/net/tun inside the container namespace."""


import cnitest
from cnitest import assert_cni_error, run_plugin

NET = "tapnet"
V4 = "10.63.0.0/24"
V6 = "fd63::/64"


def conf(scratch, version="1.0.0", subnets=(V4,), **kw):
    return cnitest.plugin_conf("tap", NET, scratch, version, subnets, **kw)


def leases(scratch):
    return cnitest.leases(scratch, NET)


def run(cmd, host, ctr, c, ifname="tap0", **kw):
    return run_plugin("tap", cmd, c, host=host, netns=ctr, ifname=ifname, **kw)


def tun_flags(ns, name):
    return ns.sh(f"cat /sys/class/net/{name}/tun_flags").stdout.strip()


def test_add_check_del(host, ctr, scratch):
    c = conf(scratch, subnets=(V4, V6))
    r = run("ADD", host, ctr, c)
    assert r.ok, r
    res = r.json
    assert res["interfaces"] == [{"name": "tap0", "mac": res["interfaces"][0]["mac"], "sandbox": ctr.path}]
    assert [i["address"] for i in res["ips"]] == ["10.63.0.2/24", "fd63::2/64"]
    l = ctr.link("tap0")
    assert l["linkinfo"]["info_kind"] == "tun"
    assert l["linkinfo"]["info_data"]["type"] == "tap"
    assert l["linkinfo"]["info_data"]["persist"] is True
    assert "UP" in l["flags"]
    assert "10.63.0.2/24" in ctr.addrs("tap0")
    assert set(host.links()) == {"lo"}
    assert run("CHECK", host, ctr, dict(c, prevResult=res)).ok
    assert run("DEL", host, ctr, c).ok
    assert ctr.link("tap0") is None
    assert leases(scratch) == []


def test_owner_group_mtu_mac_multiqueue(host, ctr, scratch):
    mac = "0a:58:0a:3f:00:07"
    c = conf(scratch, owner=1234, group=2345, mtu=1400, mac=mac, multiQueue=True)
    r = run("ADD", host, ctr, c)
    assert r.ok, r
    l = ctr.link("tap0")
    d = l["linkinfo"]["info_data"]
    assert d["user"] in (1234, "1234") and d["group"] in (2345, "2345")
    assert d["multi_queue"] is True
    assert l["mtu"] == 1400 and l["address"] == mac
    assert r.json["interfaces"][0]["mac"] == mac
    assert run("CHECK", host, ctr, dict(c, prevResult=r.json)).ok
    assert run("DEL", host, ctr, c).ok


def test_runtime_mac(host, ctr, scratch):
    c = conf(scratch, runtimeConfig={"mac": "0a:58:0a:3f:00:08"})
    r = run("ADD", host, ctr, c)
    assert r.ok, r
    assert ctr.link("tap0")["address"] == "0a:58:0a:3f:00:08"
    assert run("DEL", host, ctr, c).ok


def test_bridge_in_netns(host, ctr, scratch):
    ctr.sh("ip link add br9 type bridge && ip link set br9 up")
    c = conf(scratch, subnets=(), bridge="br9")
    r = run("ADD", host, ctr, c)
    assert r.ok, r
    assert "ips" not in r.json or r.json["ips"] == []
    assert ctr.link("tap0")["master"] == "br9"
    assert run("DEL", host, ctr, c).ok
    assert_cni_error(run("ADD", host, ctr, conf(scratch, bridge="nobr")), 999, "nobr")
    assert ctr.link("tap0") is None and leases(scratch) == []


def test_selinux_unsupported(host, ctr, scratch):
    assert_cni_error(run("ADD", host, ctr, conf(scratch, selinuxContext="system_u:x")), 2, "selinuxContext")
    assert ctr.link("tap0") is None


def test_name_taken(host, ctr, scratch):
    ctr.sh("ip tuntap add tap0 mode tap")
    assert_cni_error(run("ADD", host, ctr, conf(scratch)), 999, "already exists")
    assert leases(scratch) == []


def test_del_cells(host, ctr, scratch):
    c = conf(scratch)
    assert run("DEL", host, "", c).ok
    assert run("ADD", host, ctr, c).ok
    ctr.sh("ip link del tap0")
    assert run("DEL", host, ctr, c).ok
    assert run("DEL", host, ctr, c).ok
    assert run("ADD", host, ctr, c).ok
    path = ctr.path
    ctr.delete()
    assert run("DEL", host, path, c).ok
    assert leases(scratch) == []


def test_check_wrong_kind(host, ctr, scratch):
    c = conf(scratch)
    r = run("ADD", host, ctr, c)
    assert r.ok, r
    ctr.sh("ip link del tap0 && ip link add tap0 type veth peer name t1")
    assert_cni_error(run("CHECK", host, ctr, dict(c, prevResult=r.json)), 999, "tun")
    assert run("DEL", host, ctr, c).ok
