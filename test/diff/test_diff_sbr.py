"""sbr against the reference 1.1.1: each side runs its own bridge (+host-local)
ADD of the container's net1 (and eth0 for a multi-homed container), then its
sbr with that result as prevResult. Compared: the results, the container's
rules (`ip rule`, both families) and every namespace's links, addresses and
routes of all tables (cnidiff.compare_states), after ADD, CHECK and DEL.

1.1.1 has no config key of its own (table, gateways and addSourceHints came
later, DIFFERENCES["sbr-new-keys"]): the keys are tested in test/netns, here
only that the reference ignores them. Where sbr differs on purpose, the tests
assert the documented difference: DEL empties the tables it made and gives
main its routes back ("sbr-del-routes") and succeeds without a namespace or
interface ("sbr-del-idempotent"), CHECK checks ("sbr-check"), a prevResult
without an address of the interface is refused ("sbr-no-address").
"""
import copy
import json
import os

import pytest

import cnidiff
from cnidiff import DIFFERENCES, at_least, common_versions, compare_errors, compare_results, compare_states, show_diff

VERSIONS = common_versions("sbr")
FAMILY_VERSIONS = [v for v in ("0.2.0", "0.4.0", "1.0.0") if v in VERSIONS]
NET = "sbrdiff"
V4 = ("10.73.0.0/24",)
DUAL = ("10.73.0.0/24", "fd73::/64")
IP4 = "10.73.0.2"


def bridge(version, subnets=V4, routes=(), br="cbtdsbr1", net=NET):
    return {"cniVersion": version, "name": net, "type": "bridge", "bridge": br, "isGateway": True,
            "ipam": {"type": "host-local", "dataDir": "@DATA@/" + net, "ranges": [[{"subnet": s}] for s in subnets],
                     "routes": [{"dst": d} for d in routes]}}


def sbr(version, key="net1", **kw):
    """An sbr conf whose prevResult is each side's own bridge result `key`."""
    def make(side):
        c = {"cniVersion": version, "name": NET, "type": "sbr"}
        if key is not None:
            c["prevResult"] = side.results[key]
        c.update(kw)
        return c
    return make


def attach(twin, version, subnets=V4, routes=("0.0.0.0/0",), ifname="net1", **kw):
    if ":" in "".join(subnets):
        for side in (twin.ref, twin.box):
            side.ctr().sh("sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0")
    rr, rb = twin.both("bridge", "ADD", bridge(version, subnets, routes, **kw), key=ifname, ifname=ifname)
    compare_results(rr, rb, version)


def both(twin, cmd, conf, ifname="net1", **kw):
    """sbr `cmd` on both sides, for the container's net1 unless told."""
    return twin.both("sbr", cmd, conf, ifname=ifname, **kw)


def added(twin):
    """net1 attached and sbr ADDed on both sides (1.0.0); returns sbr's conf."""
    attach(twin, "1.0.0")
    conf = sbr("1.0.0")
    rr, rb = both(twin, "ADD", conf)
    assert rr.ok and rb.ok, (rr, rb)
    return conf


def rules(side):
    """The container's rules, both families, as `ip -j rule` shows them."""
    return [json.loads(side.ctr().sh(f"ip -j {fam} rule show").stdout) for fam in ("-4", "-6")]


def sources(side):
    """The tables the container's rules from 10.73.0.2 look up."""
    return [r["table"] for r in rules(side)[0] if r.get("src") == IP4]


def compare_all(twin):
    compare_states(twin)
    a, b = rules(twin.ref), rules(twin.box)
    assert b == a, f"rules differ: reference {a}, cnibox {b}"


def sbr_table(route):
    return str(route[8]).isdigit() and int(route[8]) >= 100


def after_cnibox_del(ref_state):
    """The reference's state after its DEL as cnibox's DEL leaves it
    (DIFFERENCES["sbr-del-routes"]): the container's tables from 100 on
    emptied, their routes but the default ones back in main."""
    s = copy.deepcopy(ref_state)
    for ctr in s["ctrs"]:
        routes = [tuple(r) for r in ctr["routes"]]
        back = {r[:8] + ("main",) + r[9:] for r in routes if sbr_table(r) and r[2] != "default"}
        ctr["routes"] = sorted({r for r in routes if not sbr_table(r)} | back, key=repr)
    return s


def compare_after_del(twin):
    a, b = twin.ref.state(), twin.box.state()
    assert any(sbr_table(r) for r in a["ctrs"][0]["routes"]), "the reference left no table"
    b["sysctl"] = cnidiff._apply_sysctl_diffs(a["sysctl"], b["sysctl"])
    want = after_cnibox_del(a)
    for ctr in b["ctrs"]:
        ctr["routes"] = sorted({tuple(r) for r in ctr["routes"]}, key=repr)
    assert b == want, "state after DEL differs:\n" + show_diff(want, b)
    assert rules(twin.box) == rules(twin.ref)


def add_check_del(twin, version, conf):
    rr, rb = both(twin, "ADD", conf)
    compare_results(rr, rb, version)
    compare_all(twin)
    if at_least(version, "0.4.0"):
        rr, rb = both(twin, "CHECK", conf)
        assert rr.ok and rb.ok, (rr, rb)
    rr, rb = both(twin, "DEL", conf)
    assert rr.ok and rb.ok and rb.stdout == "", (rr, rb)
    compare_after_del(twin)
    rr, rb = both(twin, "DEL", conf)
    assert rr.ok and rb.ok, ("repeat DEL", rr, rb)


@pytest.mark.parametrize("version", VERSIONS)
def test_ipv4(twin, version):
    attach(twin, version)
    add_check_del(twin, version, sbr(version))


@pytest.mark.parametrize("version", FAMILY_VERSIONS)
def test_dual_stack(twin, version):
    attach(twin, version, DUAL, routes=("0.0.0.0/0", "::/0"))
    add_check_del(twin, version, sbr(version))


def test_more_routes(twin):
    attach(twin, "1.0.0", DUAL, routes=("0.0.0.0/0", "10.80.0.0/16", "fd80::/48"))
    add_check_del(twin, "1.0.0", sbr("1.0.0"))


def test_no_routes_in_prev_result(twin):
    attach(twin, "1.0.0", routes=())
    add_check_del(twin, "1.0.0", sbr("1.0.0"))


def test_multihomed(twin):
    attach(twin, "1.0.0", ifname="eth0", br="cbtdsbr0", net="sbrdiff0", subnets=("10.74.0.0/24",))
    attach(twin, "1.0.0", routes=())
    add_check_del(twin, "1.0.0", sbr("1.0.0"))


def test_tables_in_use(twin):
    attach(twin, "1.0.0")
    for side in (twin.ref, twin.box):
        side.ctr().sh("ip rule add from 192.0.2.1 lookup 100; ip rule add from 192.0.2.2 lookup 102")
    rr, rb = both(twin, "ADD", sbr("1.0.0"))
    compare_results(rr, rb, "1.0.0")
    compare_all(twin)
    assert sources(twin.box) == ["101"]


def test_add_after_del(twin):
    """DIFFERENCES["sbr-del-routes"]: the routes the reference's DEL leaves
    in table 100 make its next ADD fail; cnibox's ADD after its DEL works."""
    conf = added(twin)
    rr, rb = both(twin, "DEL", conf)
    assert rr.ok and rb.ok
    rr, rb = both(twin, "ADD", conf)
    assert not rr.ok and "file exists" in rr.stdout.lower(), rr
    assert rb.ok, rb
    r = twin.box.run("sbr", "CHECK", conf, ifname="net1")
    assert r.ok, r


@pytest.mark.parametrize("change", ["ip rule del from 10.73.0.2 lookup 100", "ip route del default table 100"])
def test_check_checks(twin, change):
    """DIFFERENCES["sbr-check"]: the reference's CHECK passes whatever is there."""
    conf = added(twin)
    for side in (twin.ref, twin.box):
        side.ctr().sh(change)
    rr, rb = both(twin, "CHECK", conf)
    assert rr.ok, rr
    assert not rb.ok and rb.json["code"] == 999, rb
    assert "sbr-check" in DIFFERENCES


@pytest.mark.parametrize("how", ["empty", "gone"])
def test_del_without_netns(twin, how):
    """DIFFERENCES["sbr-del-idempotent"]."""
    conf = added(twin)
    paths = {}
    for side in (twin.ref, twin.box):
        paths[side.kind] = side.ctr().path
        if how == "gone":
            side.ctr().delete()
    for side in (twin.ref, twin.box):
        netns = "" if how == "empty" else paths[side.kind]
        r = side.run("sbr", "DEL", conf, netns=netns, ifname="net1")
        if side.ref:
            assert not r.ok, r
        else:
            assert r.ok and r.stdout == "", r
    if how == "gone":
        assert not os.path.exists(paths["box"])
        if os.path.isfile(paths["ref"]):      # the reference's lock file
            os.unlink(paths["ref"])
    assert "sbr-del-idempotent" in DIFFERENCES


def test_del_link_gone(twin):
    """DIFFERENCES["sbr-del-idempotent"]: with the link gone (and its routes
    with it) the reference's DEL fails and leaves the rule; cnibox's removes
    the rule of prevResult's address and succeeds."""
    conf = added(twin)
    for side in (twin.ref, twin.box):
        side.ctr().sh("ip link del net1")
    rr, rb = both(twin, "DEL", conf)
    assert not rr.ok and "net1" in rr.stdout, rr
    assert rb.ok, rb
    assert sources(twin.ref) == ["100"]
    assert sources(twin.box) == []
    compare_states(twin)


def test_other_interface_only(twin):
    """DIFFERENCES["sbr-no-address"]: CNI_IFNAME=eth0 with a prevResult of
    net1 only."""
    attach(twin, "1.0.0", ifname="eth0", br="cbtdsbr0", net="sbrdiff0", subnets=("10.74.0.0/24",))
    attach(twin, "1.0.0", routes=())
    before = twin.box.state()
    rr, rb = both(twin, "ADD", sbr("1.0.0"), ifname="eth0")
    assert rr.ok, rr
    assert not rb.ok and rb.json["code"] == 7, rb
    assert twin.box.state() == before
    eth0_main = [r for r in twin.ref.state()["ctrs"][0]["routes"] if r[4] == "eth0" and r[8] == "main"]
    assert eth0_main == [], "the reference moved eth0's routes out of main"
    assert "sbr-no-address" in DIFFERENCES


@pytest.mark.parametrize("key,value", [("table", 1000), ("gateways", ["10.73.0.254"]),
                                       ("addSourceHints", True)])
def test_newer_keys(twin, key, value):
    """DIFFERENCES["sbr-new-keys"]: the reference ignores the key."""
    attach(twin, "1.0.0")
    rr, rb = both(twin, "ADD", sbr("1.0.0", **{key: value}))
    compare_results(rr, rb, "1.0.0")
    assert sources(twin.ref) == ["100"]
    assert sources(twin.box) == (["1000"] if key == "table" else ["100"])

    def main(side):
        return sorted((r["dst"], r.get("prefsrc")) for r in json.loads(side.ctr().sh("ip -j route show").stdout))
    assert main(twin.ref) == []
    if key == "gateways":
        gw = [r.get("gateway") for r in json.loads(twin.box.ctr().sh("ip -j route show table 100").stdout)
              if r["dst"] == "default"]
        assert gw == ["10.73.0.254"]
    elif key == "addSourceHints":
        assert main(twin.box) == [("10.73.0.0/24", IP4)]
    else:
        assert main(twin.box) == [("10.73.0.0/24", IP4), ("default", None)]
    assert "sbr-new-keys" in DIFFERENCES


@pytest.mark.parametrize("table", ["100", 1.5, -1])
def test_newer_key_bad_value(twin, table):
    """DIFFERENCES["sbr-new-keys"]: the reference ignores `table`, cnibox refuses a bad one."""
    attach(twin, "1.0.0")
    rr, rb = both(twin, "ADD", sbr("1.0.0", table=table))
    assert rr.ok, rr
    assert not rb.ok and rb.json["code"] == 7, rb


def test_no_prev_result(twin):
    attach(twin, "1.0.0")
    rr, rb = both(twin, "ADD", sbr("1.0.0", key=None))
    compare_errors(rr, rb, box_code=7)   # DIFFERENCES["spec-codes"]
    compare_all(twin)
