"""static: ADD in every version (compared with the reference plugin where it
speaks the version), CNI_ARGS / args / runtimeConfig addresses, CHECK, DEL
(root: CNI_NETNS is a namespace the test made; static touches no kernel
state and runs in the test's own namespace)."""
import pytest

import cnitest
from cnitest import assert_cni_error, run_plugin

ALL_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
REF_VERSIONS = cnitest.ref_versions("static")

ADDRS = [{"address": "10.81.0.5/24", "gateway": "10.81.0.1"}, {"address": "fd81::5/64", "gateway": "fd81::1"}]
ROUTES = [{"dst": "0.0.0.0/0"}, {"dst": "192.168.0.0/16", "gw": "10.81.0.9"}, {"dst": "::/0"}]
DNS = {"nameservers": ["10.81.0.53"], "domain": "x.test", "search": ["x.test"], "options": ["ndots:2"]}


def conf(version="1.0.0", addresses=ADDRS, **ipam):
    i = {"type": "static"}
    if addresses is not None:
        i["addresses"] = addresses
    i.update(ipam)
    return {"cniVersion": version, "name": "stnet", "type": "static", "ipam": i}


def st(cmd, c, ctr, ref=False, **kw):
    return run_plugin("static", cmd, c, netns=ctr, ref=ref, **kw)


def both(c, ctr, **kw):
    """Runs cnibox and (when it speaks the version) the reference; returns
    cnibox's result after checking the two agree."""
    box = st("ADD", c, ctr, **kw)
    if c["cniVersion"] in REF_VERSIONS:
        ref = st("ADD", c, ctr, ref=True, **kw)
        assert ref.ok == box.ok, (ref, box)
        if ref.ok:
            assert box.json == ref.json, (ref.json, box.json)
        else:
            assert ref.json["msg"] == box.json["msg"], (ref, box)
    return box


CONFIGS = {
    "dual": dict(addresses=ADDRS, routes=ROUTES, dns=DNS),
    "v4-no-gateway": dict(addresses=[{"address": "10.81.0.5/24"}]),
    "v6": dict(addresses=[{"address": "fd81::5/64", "gateway": "fd81::1"}], routes=[{"dst": "::/0"}]),
    "host-bits-kept": dict(addresses=[{"address": "10.81.0.77/16"}]),
}


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("cfg", sorted(CONFIGS))
def test_add_every_version(ctr, version, cfg):
    c = conf(version, **CONFIGS[cfg])
    r = both(c, ctr)
    assert r.ok, r
    assert r.json["cniVersion"] == version
    if version in ("0.1.0", "0.2.0"):
        first = CONFIGS[cfg]["addresses"][0]
        key = "ip6" if ":" in first["address"] else "ip4"
        assert r.json[key]["ip"] == first["address"]
    else:
        assert [i["address"] for i in r.json["ips"]] == [a["address"] for a in CONFIGS[cfg]["addresses"]]


def test_more_than_one_per_family_needs_030(ctr):
    two = [{"address": "10.81.0.5/24"}, {"address": "10.82.0.5/24"}]
    assert_cni_error(both(conf("0.2.0", two), ctr), 7,
                     "CNI version 0.2.0 does not support more than 1 address per family")
    r = both(conf("0.3.0", two), ctr)
    assert r.ok
    assert [i["address"] for i in r.json["ips"]] == ["10.81.0.5/24", "10.82.0.5/24"]


@pytest.mark.parametrize("name,args,extra,want", [
    ("cni-args-ip", "IP=10.81.1.5/24", {}, [("10.81.0.5/24", "10.81.0.1"), ("fd81::5/64", "fd81::1"),
                                           ("10.81.1.5/24", None)]),
    ("cni-args-list-and-gateway", "IP=10.81.1.5/24, 10.81.2.5/24;GATEWAY=10.81.2.1", {},
     [("10.81.0.5/24", "10.81.0.1"), ("fd81::5/64", "fd81::1"), ("10.81.1.5/24", None),
      ("10.81.2.5/24", "10.81.2.1")]),
    ("cni-args-ignore-unknown", "IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.81.1.5/24", {},
     [("10.81.0.5/24", "10.81.0.1"), ("fd81::5/64", "fd81::1"), ("10.81.1.5/24", None)]),
    ("args-replace", None, {"args": {"cni": {"ips": ["10.81.3.5/24"]}}}, [("10.81.3.5/24", None)]),
    ("runtime-config-replace", None, {"runtimeConfig": {"ips": ["10.81.4.5/24", "fd81::45/64"]}},
     [("10.81.4.5/24", None), ("fd81::45/64", None)]),
    ("runtime-config-beats-args", None, {"args": {"cni": {"ips": ["10.81.3.5/24"]}},
                                         "runtimeConfig": {"ips": ["10.81.4.5/24"]}}, [("10.81.4.5/24", None)]),
    ("cni-args-then-replaced", "IP=10.81.1.5/24", {"runtimeConfig": {"ips": ["10.81.4.5/24"]}},
     [("10.81.4.5/24", None)]),
])
def test_requested_addresses(ctr, name, args, extra, want):
    c = conf("1.0.0")
    c.update(extra)
    r = both(c, ctr, args=args)
    assert r.ok, r
    assert [(i["address"], i.get("gateway")) for i in r.json["ips"]] == want


@pytest.mark.parametrize("name,c,args,code,words", [
    ("bad-address", conf(addresses=[{"address": "10.81.0.5"}]), None, 7,
     ["the 'address' field is expected to be in CIDR notation, got: '10.81.0.5'"]),
    ("bad-gateway-json", conf(addresses=[{"address": "10.81.0.5/24", "gateway": "x"}]), None, 7, ["x"]),
    ("bad-cni-args-ip", conf(), "IP=10.81.1.5", 4,
     ["the 'ip' field is expected to be in CIDR notation, got: '10.81.1.5'"]),
    ("bad-cni-args-gateway", conf(), "IP=10.81.1.5/24;GATEWAY=zz", 4, ["invalid gateway address: zz"]),
    ("bad-args-ips", dict(conf(), args={"cni": {"ips": ["10.81.1.5"]}}), None, 7,
     ["an entry in the 'ips' field is NOT in CIDR notation, got: '10.81.1.5'"]),
    ("unknown-cni-args", conf(), "FOO=1", 4, ["FOO"]),
    ("no-ipam", {"cniVersion": "1.0.0", "name": "stnet", "type": "static"}, None, 7,
     ["IPAM config missing 'ipam' key"]),
])
def test_errors(ctr, name, c, args, code, words):
    r = st("ADD", c, ctr, args=args)
    assert_cni_error(r, code, *words)
    if name not in ("bad-gateway-json", "unknown-cni-args"):  # Go's own JSON/args texts differ
        ref = st("ADD", c, ctr, args=args, ref=True)
        assert not ref.ok and ref.json["msg"] == r.json["msg"], (ref, r)


def test_no_addresses(ctr):
    r = both(conf("1.0.0", addresses=None, routes=ROUTES), ctr)
    assert r.ok, r
    assert "ips" not in r.json or r.json["ips"] == []


@pytest.mark.parametrize("version", ["0.4.0", "1.0.0", "1.1.0"])
def test_check(ctr, version):
    c = conf(version)
    r = st("ADD", c, ctr)
    assert r.ok
    assert st("CHECK", dict(c, prevResult=r.json), ctr).ok
    # A different gateway for a configured address.
    bad = dict(r.json)
    bad["ips"] = [dict(bad["ips"][0], gateway="10.81.0.254")] + bad["ips"][1:]
    assert_cni_error(st("CHECK", dict(c, prevResult=bad), ctr), 100,
                     "static: Failed to match addr 10.81.0.5 on interface eth0")
    # A configured address missing from prevResult (the reference lets this pass).
    missing = dict(r.json)
    missing["ips"] = r.json["ips"][1:]
    assert_cni_error(st("CHECK", dict(c, prevResult=missing), ctr), 100,
                     "static: Failed to find addr 10.81.0.5 on interface eth0")
    assert_cni_error(st("CHECK", c, ctr), 7, "Required prevResult missing")


def test_check_needs_040(ctr):
    c = conf("0.3.1")
    r = st("ADD", c, ctr)
    assert_cni_error(st("CHECK", dict(c, prevResult=r.json), ctr), 1)


@pytest.mark.parametrize("version", ["0.2.0", "0.4.0", "1.0.0", "1.1.0"])
def test_del_is_a_no_op(make_ns, version):
    ctr = make_ns()
    c = conf(version)
    assert st("ADD", c, ctr).ok
    assert st("DEL", c, ctr).ok
    assert st("DEL", c, ctr).ok
    assert st("DEL", c, "").ok
    gone = ctr.path
    ctr.delete()
    assert st("DEL", c, gone).ok
    # Even a config that ADD would refuse.
    assert st("DEL", conf(version, addresses=[{"address": "junk"}]), "").ok


def test_gc_and_status(ctr):
    c = conf("1.1.0")
    assert st("GC", dict(c, **{"cni.dev/valid-attachments": []}), ctr).ok
    assert st("STATUS", c, ctr).ok
