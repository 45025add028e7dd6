"""loopback applet: ADD/CHECK/DEL against real namespaces (root).

The plugin runs inside the `host` namespace; CNI_NETNS is a container
namespace whose lo the tests first set down.
"""
import pytest

import cnitest
from cnitest import assert_cni_error, mask_result, run_plugin

VERSIONS_040 = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]


def conf(version="1.0.0", **kw):
    c = {"cniVersion": version, "name": "lonet", "type": "loopback"}
    c.update(kw)
    return c


def nodns(j):
    """The result without an empty "dns" object (printed or not depending on version)."""
    j = dict(j)
    if j.get("dns") == {}:
        del j["dns"]
    return j


def lo_up(ns):
    return "UP" in ns.links()["lo"]["flags"]


@pytest.fixture
def downed(ctr):
    ctr.sh("ip link set lo down")
    assert not lo_up(ctr)
    return ctr


@pytest.mark.parametrize("version", VERSIONS_040)
def test_add_result_and_state(host, downed, version):
    r = run_plugin("loopback", "ADD", conf(version), host=host, netns=downed, ifname="eth7")
    assert r.ok, r
    j = r.json
    assert j["cniVersion"] == version
    assert j["interfaces"] == [{"name": "lo", "mac": "00:00:00:00:00:00", "sandbox": downed.path}]
    addrs = [(ip.get("interface"), ip["address"]) for ip in j["ips"]]
    assert addrs == [(0, "127.0.0.1/8"), (0, "::1/128")]
    if version.startswith("0."):
        assert all(ip["version"] == ("4" if "." in ip["address"] else "6") for ip in j["ips"])
    else:
        assert all("version" not in ip for ip in j["ips"])
    assert lo_up(downed)
    # CNI_IFNAME is ignored: nothing named eth7 appears.
    assert set(downed.links()) == {"lo"}


def test_add_020_shape(host, downed):
    r = run_plugin("loopback", "ADD", conf("0.2.0"), host=host, netns=downed)
    assert r.ok, r
    assert nodns(r.json) == {"cniVersion": "0.2.0", "ip4": {"ip": "127.0.0.1/8"}, "ip6": {"ip": "::1/128"}}


def test_add_without_ipv6(host, downed):
    downed.sh("sysctl -qw net.ipv6.conf.lo.disable_ipv6=1")
    r = run_plugin("loopback", "ADD", conf(), host=host, netns=downed)
    assert r.ok, r
    assert [ip["address"] for ip in r.json["ips"]] == ["127.0.0.1/8"]


def test_add_passes_prevresult(host, downed):
    prev = {"cniVersion": "1.0.0",
            "interfaces": [{"name": "eth0", "mac": "aa:bb:cc:dd:ee:ff", "sandbox": downed.path}],
            "ips": [{"interface": 0, "address": "10.1.2.3/24", "gateway": "10.1.2.1"}],
            "routes": [{"dst": "0.0.0.0/0"}],
            "dns": {"nameservers": ["10.1.2.1"]}}
    r = run_plugin("loopback", "ADD", conf(prevResult=prev), host=host, netns=downed)
    assert r.ok, r
    assert r.json == prev
    assert lo_up(downed)
    # A 0.4.0 prevResult with a 0.4.0 config comes back as it went in.
    prev["cniVersion"] = "0.4.0"
    prev["ips"][0]["version"] = "4"
    r = run_plugin("loopback", "ADD", conf("0.4.0", prevResult=prev), host=host, netns=downed)
    assert r.ok, r
    assert r.json == prev


def test_add_refuses_non_loopback_address(host, downed):
    downed.sh("ip addr add 10.5.5.5/32 dev lo")
    r = run_plugin("loopback", "ADD", conf(), host=host, netns=downed)
    assert_cni_error(r, 999, "non-loopback", "10.5.5.5")


def test_check(host, downed):
    r = run_plugin("loopback", "ADD", conf("1.0.0"), host=host, netns=downed)
    assert r.ok, r
    c = conf("1.0.0", prevResult=r.json)
    r = run_plugin("loopback", "CHECK", c, host=host, netns=downed)
    assert r.ok, r
    assert r.stdout == ""
    downed.sh("ip link set lo down")
    r = run_plugin("loopback", "CHECK", c, host=host, netns=downed)
    assert_cni_error(r, 999, "down")


def test_check_needs_040(host, ctr):
    r = run_plugin("loopback", "CHECK", conf("0.3.1"), host=host, netns=ctr)
    assert_cni_error(r, 1)


def test_del_sets_lo_down_and_is_idempotent(host, ctr):
    assert lo_up(ctr)
    for _ in range(2):
        r = run_plugin("loopback", "DEL", conf(), host=host, netns=ctr)
        assert r.ok, r
        assert r.stdout == ""
        assert not lo_up(ctr)


def test_del_empty_netns(host):
    r = run_plugin("loopback", "DEL", conf(), host=host, netns="")
    assert r.ok, r


def test_del_vanished_netns(host, make_ns):
    ns = make_ns()
    path = ns.path
    ns.delete()
    r = run_plugin("loopback", "DEL", conf(), host=host, netns=path)
    assert r.ok, r


def test_host_lo_untouched(host, ctr):
    host_before = host.state()
    r = run_plugin("loopback", "DEL", conf(), host=host, netns=ctr)
    assert r.ok, r
    assert lo_up(host)
    assert host.state() == host_before


@pytest.mark.parametrize("version", ["1.1.0", "1.0.0"])
def test_status_and_gc_are_no_ops(host, version):
    for cmd in ("STATUS", "GC"):
        r = run_plugin("loopback", cmd, conf(version), host=host)
        if version == "1.1.0":
            assert r.ok, r
            assert r.stdout == ""
        else:
            assert_cni_error(r, 1)


@pytest.mark.skipif(not cnitest.have_ref("loopback"), reason="no reference loopback")
@pytest.mark.parametrize("version", ["0.3.1", "0.4.0", "1.0.0"])
def test_same_as_reference(host, make_ns, version):
    ours, theirs = make_ns(), make_ns()
    for ns in (ours, theirs):
        ns.sh("ip link set lo down")
    a = run_plugin("loopback", "ADD", conf(version), host=host, netns=ours)
    b = run_plugin("loopback", "ADD", conf(version), host=host, netns=theirs, ref=True)
    assert a.ok and b.ok, (a, b)
    ja, jb = mask_result(nodns(a.json)), mask_result(nodns(b.json))
    if version.startswith("0."):
        # The reference labels a 1.x-shaped result with the old version (no
        # ips[].version); cnibox converts it to the version's real shape.
        assert all(ip.pop("version") for ip in ja["ips"])
    assert ja == jb
    assert ours.state() == theirs.state()
    for ns, ref in ((ours, False), (theirs, True)):
        r = run_plugin("loopback", "DEL", conf(version), host=host, netns=ns, ref=ref)
        assert r.ok, r
    assert ours.state() == theirs.state()
