"""host-device applet against real namespaces (root): a veth end made in the
test's `host` namespace moves into the container and back."""

import pytest

import cnitest
from cnitest import assert_cni_error, mask_result, run_plugin

NET = "hdnet"
V4 = "10.64.0.0/24"
V6 = "fd64::/64"
MAC = "0a:58:0a:40:00:05"


def conf(scratch, version="1.0.0", subnets=(V4,), **kw):
    return cnitest.plugin_conf("host-device", NET, scratch, version, subnets, **kw)


def leases(scratch):
    return cnitest.leases(scratch, NET)


def run(cmd, host, ctr, c, ifname="net1", **kw):
    return run_plugin("host-device", cmd, c, host=host, netns=ctr, ifname=ifname, **kw)


@pytest.fixture
def dev(host):
    host.sh(f"ip link add hd0 address {MAC} type veth peer name hd1")
    return "hd0"


@pytest.mark.parametrize("by", ["device", "hwaddr"])
def test_add_check_del(host, ctr, dev, scratch, by):
    c = conf(scratch, subnets=(V4, V6), **({"device": dev} if by == "device" else {"hwaddr": MAC.upper()}))
    r = run("ADD", host, ctr, c)
    assert r.ok, r
    res = r.json
    assert res["interfaces"] == [{"name": "net1", "mac": MAC, "sandbox": ctr.path}]
    assert [i["address"] for i in res["ips"]] == ["10.64.0.2/24", "fd64::2/64"]
    assert host.link("hd0") is None
    l = ctr.link("net1")
    assert l["ifalias"] == "hd0" and "UP" in l["flags"]
    assert "10.64.0.2/24" in ctr.addrs("net1")
    assert run("CHECK", host, ctr, dict(c, prevResult=res)).ok
    assert run("DEL", host, ctr, c).ok
    assert ctr.link("net1") is None
    back = host.link("hd0")
    assert back is not None and back["address"] == MAC
    assert host.addrs("hd0") == [] or all(a.startswith("fe80") for a in host.addrs("hd0"))
    assert leases(scratch) == []
    assert run("DEL", host, ctr, c).ok


def test_no_ipam(host, ctr, dev, scratch):
    c = conf(scratch, subnets=(), device=dev)
    r = run("ADD", host, ctr, c)
    assert r.ok, r
    assert "UP" in ctr.link("net1")["flags"]
    assert run("DEL", host, ctr, c).ok
    assert host.link("hd0") is not None


def test_errors(host, ctr, dev, scratch):
    assert_cni_error(run("ADD", host, ctr, conf(scratch)), 7, "device")
    assert_cni_error(run("ADD", host, ctr, conf(scratch, device="nodev")), 999, "nodev")
    assert_cni_error(run("ADD", host, ctr, conf(scratch, hwaddr="0a:00:00:00:00:99")), 999, "hwaddr")
    assert_cni_error(run("ADD", host, ctr, conf(scratch, kernelpath="/tmp/x")), 7, "/sys/devices/")
    assert_cni_error(run("ADD", host, ctr, conf(scratch, pciBusID="0000:99:99.9")), 999, "0000:99:99.9")
    assert_cni_error(run("ADD", host, ctr, conf(scratch, runtimeConfig={"deviceID": "0000:99:99.8"})),
                     999, "0000:99:99.8")
    # nothing leads out of /sys/devices/ or /sys/bus/pci/devices/
    assert_cni_error(run("ADD", host, ctr, conf(scratch, kernelpath="/sys/devices/../../tmp")), 7, '"..')
    assert_cni_error(run("ADD", host, ctr, conf(scratch, pciBusID="../../../../tmp")), 7, "invalid device ID")
    assert_cni_error(run("ADD", host, ctr, conf(scratch, runtimeConfig={"deviceID": "../../../../tmp"})),
                     7, "invalid device ID")
    ctr.sh("ip link add net1 type veth peer name z1")
    assert_cni_error(run("ADD", host, ctr, conf(scratch, device=dev)), 999, "already exists")
    assert host.link("hd0") is not None
    assert leases(scratch) == []


def test_del_cells(host, ctr, dev, scratch):
    c = conf(scratch, device=dev)
    assert run("DEL", host, "", c).ok
    assert run("ADD", host, ctr, c).ok
    assert leases(scratch) == ["10.64.0.2"]
    # netns gone: IPAM released, DEL succeeds, and again
    path = ctr.path
    ctr.delete()
    assert run("DEL", host, path, c).ok
    assert leases(scratch) == []
    assert run("DEL", host, path, c).ok


def test_gc_status(host, ctr, dev, scratch):
    c = conf(scratch, device=dev, cniVersion="1.1.0")
    assert run("STATUS", host, "", c).ok
    assert run("ADD", host, ctr, c).ok
    assert run("GC", host, "", dict(c, **{"cni.dev/valid-attachments": []})).ok
    assert leases(scratch) == []
    assert run("DEL", host, ctr, c).ok


@pytest.mark.skipif(not cnitest.have_ref("host-device"), reason="no reference host-device")
def test_same_result_as_reference(host, make_ns, dev, scratch):
    out = []
    for ref in (False, True):
        ns = make_ns()
        s = cnitest.Scratch()
        try:
            c = conf(s, device=dev)
            r = run_plugin("host-device", "ADD", c, host=host, netns=ns, ifname="net1", ref=ref)
            assert r.ok, r
            out.append(mask_result(r.json))
            assert ns.link("net1") is not None
            assert run_plugin("host-device", "DEL", c, host=host, netns=ns, ifname="net1", ref=ref).ok
            assert host.link("hd0") is not None
        finally:
            s.cleanup()
    assert out[0] == out[1]



@pytest.mark.parametrize("where", ["host", "container", "container-renamed"])
def test_del_takes_back_a_device_left_half_moved(host, ctr, dev, scratch, where):
    """What an ADD or a DEL killed half-way leaves: the device under its
    moving name in the host (renamed, not yet moved) or in the container
    (moved, not yet renamed), marked with its name; or in the container
    under CNI_IFNAME before the alias. DEL brings it back as hd0."""
    c = conf(scratch, device=dev)
    tmp = cnitest.moving_name("ctr1", "net1")
    if where == "host":
        host.sh(f"ip link set {dev} alias {dev} && ip link set {dev} name {tmp}")
    elif where == "container":
        host.sh(f"ip link set {dev} alias {dev} && ip link set {dev} name {tmp} && "
                f"ip link set {tmp} netns {ctr.name}")
    else:   # the alias comes before the move, so only the config names it here
        host.sh(f"ip link set {dev} netns {ctr.name}")
        ctr.sh(f"ip link set {dev} name net1")
    assert run("DEL", host, ctr, c).ok
    assert host.link(dev) is not None and host.link(tmp) is None
    assert ctr.link("net1") is None and ctr.link(tmp) is None
    # and the next ADD takes it again
    r = run("ADD", host, ctr, c)
    assert r.ok, r
    assert ctr.link("net1")["ifalias"] == dev
    assert run("DEL", host, ctr, c).ok
    assert host.link(dev) is not None
