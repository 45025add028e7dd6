"""vrf applet on a kernel without vrf support (this machine's), against real
namespaces (root).

bridge (+host-local) runs inside the `host` namespace and makes eth0 in the
container; vrf is chained after it. Without the vrf driver every ADD fails,
so what is tested here is what holds before a VRF exists: STATUS, the refusal
of bad input and of a kernel without vrf, with the container untouched, and
DEL. The VM lane (test/vm) runs the rest on a kernel with vrf; on such a
kernel the tests that expect no vrf support are skipped.
"""
import json
import os
import time

import pytest

import cnitest
from cnitest import assert_cni_error, run_plugin

NET = "vrfnet"
BR = "cbtvrf0"


def vrf_supported():
    """The vrf driver is loaded, built in, or a module the kernel could load."""
    if os.path.isdir("/sys/module/vrf"):
        return True
    try:
        with open(f"/lib/modules/{os.uname().release}/modules.dep") as f:
            return "/vrf.ko" in f.read()
    except OSError:
        return False


# The tests that need a kernel without vrf; the others hold on any kernel.
no_vrf = pytest.mark.skipif(vrf_supported(), reason="the kernel has vrf support (the VM lane's cases apply)")


def chain(host, ctr, scratch, version="1.0.0"):
    """bridge ADD; returns its result (vrf's prevResult)."""
    c = {"cniVersion": version, "name": NET, "type": "bridge", "bridge": BR,
         "ipam": {"type": "host-local", "dataDir": scratch.path, "ranges": [[{"subnet": "10.64.0.0/24"}]]}}
    r = run_plugin("bridge", "ADD", c, host=host, netns=ctr)
    assert r.ok, r
    # eth0's link-local address comes when its carrier does, a moment later:
    # the container's state is compared from then on.
    for _ in range(100):
        if ctr.sh("ip -6 addr show dev eth0 scope link").stdout.strip():
            break
        time.sleep(0.02)
    return r.json


def vconf(prev, version="1.0.0", **kw):
    c = {"cniVersion": version, "name": NET, "type": "vrf", "vrfname": "blue", "table": 1001}
    if prev is not None:
        c["prevResult"] = prev
    c.update(kw)
    return c


def vrf(cmd, host, ctr, conf, **kw):
    return run_plugin("vrf", cmd, conf, host=host, netns=ctr, **kw)


def master(ns, dev="eth0"):
    return json.loads(ns.sh(f"ip -j link show dev {dev}").stdout)[0].get("master")


# ---------------------------------------------------------------- STATUS, GC

@no_vrf
def test_status_no_vrf_support(host):
    r = vrf("STATUS", host, "", vconf(None, "1.1.0"))
    assert_cni_error(r, 50, "no vrf support")
    # the probe makes nothing
    assert set(host.links()) == {"lo"}


def test_status_needs_1_1_0(host):
    assert_cni_error(vrf("STATUS", host, "", vconf(None, "1.0.0")), 1)


def test_status_bad_config(host):
    c = vconf(None, "1.1.0")
    del c["vrfname"]
    assert_cni_error(vrf("STATUS", host, "", c), 7, "vrf name")


def test_gc_does_nothing(host):
    c = vconf(None, "1.1.0")
    c["cni.dev/valid-attachments"] = []
    r = vrf("GC", host, "", c)
    assert r.ok and r.stdout == "", r


# ---------------------------------------------------------------- ADD without vrf

@no_vrf
@pytest.mark.parametrize("table", [1001, 0])
def test_add_without_vrf_support(host, ctr, scratch, table):
    prev = chain(host, ctr, scratch)
    before = ctr.state()
    r = vrf("ADD", host, ctr, vconf(prev, table=table))
    assert_cni_error(r, 999, "create vrf blue", "Unknown device type", "the kernel has no vrf support")
    assert ctr.state() == before
    assert master(ctr) is None


@no_vrf
@pytest.mark.parametrize("version", ["0.3.1", "0.4.0", "1.1.0"])
def test_versions_from_0_3_1(host, ctr, scratch, version):
    prev = chain(host, ctr, scratch, version)
    assert_cni_error(vrf("ADD", host, ctr, vconf(prev, version)), 999, "no vrf support")


def test_version_0_3_0_refused(host, ctr, scratch):
    prev = chain(host, ctr, scratch, "0.3.0")
    before = ctr.state()
    assert_cni_error(vrf("ADD", host, ctr, vconf(prev, "0.3.0")), 1, "0.3.0")
    assert ctr.state() == before


def test_check_without_vrf(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    assert_cni_error(vrf("CHECK", host, ctr, vconf(prev)), 999, "VRF \"blue\" not found")
    assert_cni_error(vrf("CHECK", host, ctr, vconf(prev, "0.3.1")), 1)


# ---------------------------------------------------------------- hostile input

def _without(key):
    def f(c):
        del c[key]
    return f


def _set(key, value):
    def f(c):
        c[key] = value
    return f


@pytest.mark.parametrize("change,code,words", [
    (_without("vrfname"), 7, ["valid vrf name"]),
    (_set("vrfname", ""), 7, ["valid vrf name"]),
    (_set("vrfname", 5), 7, ["vrfname", "string"]),
    (_set("vrfname", "much-too-long-name"), 7, ["vrfname", "too long"]),
    (_set("vrfname", "a b"), 7, ["vrfname", "whitespace"]),
    (_set("table", "1001"), 7, ["table", "integer"]),
    (_set("table", -1), 7, ["table", "out of range"]),
    (_set("table", 4294967296), 7, ["table", "out of range"]),
    (_set("table", 1.5), 7, ["table", "integer"]),
    (_without("prevResult"), 7, ["missing prevResult"]),
    (_set("prevResult", {"cniVersion": "1.0.0", "interfaces": [{"name": "eth1", "sandbox": "/x"}]}), 7,
     ["eth0", "not in prevResult"]),
    (_set("prevResult", "nope"), 6, []),
])
@pytest.mark.parametrize("cmd", ["ADD", "CHECK"])
def test_bad_input(host, ctr, scratch, change, code, words, cmd):
    prev = chain(host, ctr, scratch)
    c = vconf(prev)
    change(c)
    before = ctr.state()
    assert_cni_error(vrf(cmd, host, ctr, c), code, *words)
    assert ctr.state() == before


def test_interface_missing(host, ctr, scratch):
    """prevResult names eth1, which the container lacks: refused before any VRF."""
    prev = chain(host, ctr, scratch)
    prev["interfaces"].append({"name": "eth1", "sandbox": ctr.path})
    before = ctr.state()
    assert_cni_error(vrf("ADD", host, ctr, vconf(prev), ifname="eth1"), 999, "eth1", "not found")
    assert ctr.state() == before


def test_interface_has_a_master(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    ctr.sh("ip link add cbtbr type bridge && ip link set eth0 master cbtbr")
    before = ctr.state()
    assert_cni_error(vrf("ADD", host, ctr, vconf(prev)), 999, "eth0", "already has a master: cbtbr")
    assert ctr.state() == before


def test_vrfname_not_a_vrf(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    ctr.sh("ip link add blue type bridge")
    before = ctr.state()
    assert_cni_error(vrf("ADD", host, ctr, vconf(prev)), 999, "\"blue\" is not a VRF")
    assert_cni_error(vrf("CHECK", host, ctr, vconf(prev)), 999, "\"blue\" is not a VRF")
    assert ctr.state() == before
    # DEL leaves a link that is not a VRF alone
    assert vrf("DEL", host, ctr, vconf(prev)).ok
    assert ctr.state() == before


def test_bad_netns(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    assert_cni_error(vrf("ADD", host, "/tmp", vconf(prev)), 8)


# ---------------------------------------------------------------- DEL

def test_del_without_vrf(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    before = ctr.state()
    for _ in range(2):
        r = vrf("DEL", host, ctr, vconf(prev))
        assert r.ok and r.stdout == "", r
    assert ctr.state() == before
    # without prevResult too (a runtime that lost its cache)
    assert vrf("DEL", host, ctr, vconf(None)).ok


def test_del_netns_empty(host, scratch):
    r = vrf("DEL", host, "", vconf(None))
    assert r.ok and r.stdout == "", r


def test_del_netns_gone(host, make_ns, scratch):
    ns = make_ns()
    path = ns.path
    ns.delete()
    assert not os.path.exists(path)
    r = vrf("DEL", host, path, vconf(None))
    assert r.ok and r.stdout == "", r


def test_del_link_gone(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    ctr.sh("ip link del eth0")
    assert vrf("DEL", host, ctr, vconf(prev)).ok


@pytest.mark.parametrize("change", [_without("vrfname"), _set("vrfname", 5), _set("table", -1),
                                    _set("table", "x")])
def test_del_bad_config_succeeds(host, ctr, scratch, change):
    """A config ADD refuses made nothing: its DEL has nothing to undo."""
    prev = chain(host, ctr, scratch)
    c = vconf(prev)
    change(c)
    before = ctr.state()
    r = vrf("DEL", host, ctr, c)
    assert r.ok and r.stdout == "", r
    assert ctr.state() == before


def test_del_bad_netns(host):
    assert_cni_error(vrf("DEL", host, "/tmp", vconf(None)), 8)


# ---------------------------------------------------------------- --help

def test_help_lists_every_key():
    out = cnitest.sh([cnitest.cnibox_binary(), "vrf", "--help"]).stdout
    assert "NOT FINISHED" not in out
    for w in ("vrfname", "table", "(required)", "0.3.1", "ADD", "DEL", "CHECK", "GC", "STATUS", "code 50",
              "lowest id", "keep_addr_on_down"):
        assert w in out, w
