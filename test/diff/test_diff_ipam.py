"""host-local and static against the reference: results in every common
CNI version, allocation order over a sequence of ADD/DEL, lease files on
disk, CHECK/DEL behaviour and error codes for bad input."""
import os

import pytest

import cnitest
from cnidiff import DIFFERENCES, at_least, common_versions, compare_errors, compare_outcome, compare_results

VERSIONS = common_versions("host-local")
assert "DIFFERENCES" and DIFFERENCES


def hl(version, name="diffnet", **ipam):
    i = {"type": "host-local", "dataDir": "@DATA@"}
    i.update(ipam)
    return {"cniVersion": version, "name": name, "type": "host-local", "ipam": i}


V4 = [{"subnet": "10.40.0.0/24"}]
V6 = [{"subnet": "fd40::/64"}]

HL_CONFIGS = {
    "v4": dict(ranges=[V4]),
    "v6": dict(ranges=[V6]),
    "dual": dict(ranges=[V4, V6]),
    "v4-window-gateway": dict(ranges=[[{"subnet": "10.40.0.0/24", "rangeStart": "10.40.0.100",
                                        "rangeEnd": "10.40.0.103", "gateway": "10.40.0.101"}]]),
    "v4-two-ranges-one-set": dict(ranges=[[{"subnet": "10.40.0.0/30"}, {"subnet": "10.41.0.0/29"}]]),
    "v6-small-window": dict(ranges=[[{"subnet": "fd40::/120", "rangeStart": "fd40::fe"}]]),
    "routes": dict(ranges=[V4, V6], routes=[{"dst": "0.0.0.0/0"}, {"dst": "192.168.0.0/16", "gw": "10.40.0.9"},
                                            {"dst": "fd99::/64", "gw": "fd40::9"}, {"dst": "::/0"}]),
    "legacy-subnet": dict(subnet="10.40.0.0/24", rangeStart="10.40.0.20", rangeEnd="10.40.0.30",
                          gateway="10.40.0.1"),
    "legacy-plus-ranges": dict(subnet="10.40.0.0/24", ranges=[V6]),
    "resolvconf": dict(ranges=[V4], resolvConf="@RESOLV@"),
    "slash30": dict(ranges=[[{"subnet": "10.40.0.0/30"}]]),
}

RESOLV = """# generated
nameserver 10.40.0.53
nameserver fd40::53
domain example.test
search a.example.test b.example.test
options ndots:2 timeout:1
"""


@pytest.fixture
def resolv(tmp_path):
    p = tmp_path / "resolv.conf"
    p.write_text(RESOLV)
    return str(p)


def fill(conf, resolv):
    import json
    return json.loads(json.dumps(conf).replace("@RESOLV@", resolv))


# cnibox's own bookkeeping below a network's directory: the index of
# attachments (see src/ipam/store.h), not part of upstream's format.
BOX_INDEX_DIR = ".cnibox"


def compare_leases(twin):
    a = twin.ref.leases()
    b = {k: v for k, v in twin.box.leases().items() if BOX_INDEX_DIR not in k.split(os.sep)}
    assert sorted(b) == sorted(a), f"file names differ: reference {sorted(a)}, cnibox {sorted(b)}"
    for k in a:
        ka, ma, ca = a[k]
        kb, mb, cb = b[k]
        assert kb == ka, k
        assert cb == ca, f"{k}: reference {ca!r}, cnibox {cb!r}"
        if ka == "file" and os.path.basename(k) != "lock":
            # DIFFERENCES["lease-modes"]
            assert mb == 0o600, f"{k}: mode {oct(mb)}"
        else:
            assert mb == ma, f"{k}: mode {oct(mb)}, reference {oct(ma)}"
    # The index holds nothing but 0600 files in a 0700 dir.
    for k, (kind, mode, _) in twin.box.leases().items():
        if BOX_INDEX_DIR in k.split(os.sep):
            assert mode == (0o700 if kind == "dir" else 0o600), (k, oct(mode))


def can_hold(version, conf):
    """0.1.0/0.2.0 results hold one address per family."""
    fams = []
    for s in conf.get("ranges", []):
        fams.append(":" in s[0]["subnet"])
    if "subnet" in conf:
        fams.append(":" in conf["subnet"])
    return at_least(version, "0.3.0") or len(fams) == len(set(fams))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("cfg", sorted(HL_CONFIGS))
def test_host_local_sequence(twin, version, cfg, resolv):
    """ADD three containers, CHECK, DEL the middle one, ADD another (which
    address comes next), repeat DEL, DEL all: results and files equal."""
    conf = fill(hl(version, **HL_CONFIGS[cfg]), resolv)
    rr, rb = twin.both("host-local", "ADD", conf, containerid="c0", key="c0")
    if not can_hold(version, HL_CONFIGS[cfg]):
        compare_errors(rr, rb, box_code=7)
        # DIFFERENCES["rollback"]: nothing written on a failed ADD.
        assert not any(v[0] == "file" and not k.endswith("lock") for k, v in twin.box.leases().items())
        return
    compare_results(rr, rb, version)
    compare_leases(twin)
    for cid in ("c1", "c2"):
        # Small windows run out here: then both must refuse alike.
        rr, rb = twin.both("host-local", "ADD", conf, containerid=cid, key=cid)
        compare_outcome(rr, rb, version)
    compare_leases(twin)
    if at_least(version, "0.4.0"):
        for side in (twin.ref, twin.box):
            c = dict(conf, prevResult=side.results["c0"])
            r = side.run("host-local", "CHECK", c, containerid="c0")
            assert r.ok, (side.kind, r)
    rr, rb = twin.both("host-local", "DEL", conf, containerid="c1")
    assert rr.ok and rb.ok, (rr, rb)
    compare_leases(twin)
    rr, rb = twin.both("host-local", "ADD", conf, containerid="c3", key="c3")
    compare_outcome(rr, rb, version)
    compare_leases(twin)
    for cid in ("c1", "c0", "c2", "c3", "c0"):
        rr, rb = twin.both("host-local", "DEL", conf, containerid=cid)
        assert rr.ok and rb.ok, (cid, rr, rb)
    compare_leases(twin)


REQUESTS = {
    "cni-args-ip": dict(args="IP=10.40.0.77"),
    "cni-args-ignore-unknown": dict(args="IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.40.0.78"),
    "args-cni-ips": dict(conf={"args": {"cni": {"ips": ["10.40.0.79", "fd40::79"]}}}),
    "runtimeconfig-ips": dict(conf={"runtimeConfig": {"ips": ["10.40.0.80/24"]}}),
    # Both sources together: upstream asks for the union (two v4 in one set: refused).
    "args-and-cni-args": dict(args="IP=10.40.0.81", conf={"args": {"cni": {"ips": ["10.40.0.82"]}}}),
}


@pytest.mark.parametrize("version", ["0.3.1", "1.0.0"])
@pytest.mark.parametrize("req", sorted(REQUESTS))
def test_host_local_requested_ip(twin, version, req):
    spec = REQUESTS[req]
    conf = hl(version, ranges=[V4, V6])
    conf.update(spec.get("conf", {}))
    rr, rb = twin.both("host-local", "ADD", conf, containerid="c0", key="c0", args=spec.get("args"))
    compare_outcome(rr, rb, version)
    if not rr.ok:
        # DIFFERENCES["rollback"]: the reference keeps its store's files; cnibox wrote nothing.
        assert twin.box.leases() == {}
        return
    compare_leases(twin)
    # The same address again for another container: both refuse.
    rr, rb = twin.both("host-local", "ADD", conf, containerid="c1", args=spec.get("args"))
    compare_errors(rr, rb)
    rr, rb = twin.both("host-local", "DEL", conf, containerid="c0")
    assert rr.ok and rb.ok
    compare_leases(twin)


BAD_HL = {
    "subnet-host-bits": dict(ranges=[[{"subnet": "10.40.0.1/24"}]]),
    "subnet-slash31": dict(ranges=[[{"subnet": "10.40.0.0/31"}]]),
    "subnet-garbage": dict(ranges=[[{"subnet": "10.40.0/24"}]]),
    "no-ranges": dict(ranges=[]),
    "overlap": dict(ranges=[V4, [{"subnet": "10.40.0.128/25"}]]),
    "start-outside": dict(ranges=[[{"subnet": "10.40.0.0/24", "rangeStart": "10.41.0.1"}]]),
    "end-outside": dict(ranges=[[{"subnet": "10.40.0.0/24", "rangeEnd": "10.41.0.1"}]]),
    "mixed-family-set": dict(ranges=[[{"subnet": "10.40.0.0/24"}, {"subnet": "fd40::/64"}]]),
    "route-garbage": dict(ranges=[V4], routes=[{"dst": "x"}]),
    "ranges-wrong-type": dict(ranges="10.40.0.0/24"),
}


@pytest.mark.parametrize("bad", sorted(BAD_HL))
def test_host_local_bad_config(twin, bad):
    rr, rb = twin.both("host-local", "ADD", hl("1.0.0", **BAD_HL[bad]))
    compare_errors(rr, rb, box_code=7)
    assert not any(v[0] == "file" and not k.endswith("lock") for k, v in twin.box.leases().items())


BAD_HL_ENV = {
    "cni-args-unknown": dict(args="FOO=1", code=4),
    "cni-args-bad-pair": dict(args="IP", code=4),
    "cni-args-ip-outside": dict(args="IP=10.99.0.1", code=None),
    "cni-args-ip-gateway": dict(args="IP=10.40.0.1", code=None),
    "version-1.1.0-unknown-to-ref": dict(version="9.0.0", code=1),
}


@pytest.mark.parametrize("bad", sorted(BAD_HL_ENV))
def test_host_local_bad_env(twin, bad):
    spec = BAD_HL_ENV[bad]
    rr, rb = twin.both("host-local", "ADD", hl(spec.get("version", "1.0.0"), ranges=[V4]), args=spec.get("args"))
    compare_errors(rr, rb, box_code=spec["code"])


def test_host_local_exhaustion_and_reuse(twin):
    """A /29 window: fill it, fail, free one, get exactly that one back."""
    conf = hl("1.0.0", ranges=[[{"subnet": "10.40.0.0/29"}]])
    for i in range(5):
        rr, rb = twin.both("host-local", "ADD", conf, containerid=f"c{i}", key=f"c{i}")
        compare_results(rr, rb)
    rr, rb = twin.both("host-local", "ADD", conf, containerid="c9")
    compare_errors(rr, rb)
    rr, rb = twin.both("host-local", "DEL", conf, containerid="c2")
    assert rr.ok and rb.ok
    rr, rb = twin.both("host-local", "ADD", conf, containerid="c9", key="c9")
    compare_results(rr, rb)
    compare_leases(twin)


def test_host_local_same_container_two_ifnames(twin):
    conf = hl("1.0.0", ranges=[V4])
    for ifname in ("eth0", "net1"):
        rr, rb = twin.both("host-local", "ADD", conf, containerid="c0", ifname=ifname, key=ifname)
        compare_results(rr, rb)
    compare_leases(twin)
    # Duplicate ADD for the same container+ifname.
    rr, rb = twin.both("host-local", "ADD", conf, containerid="c0", ifname="eth0")
    compare_errors(rr, rb)
    rr, rb = twin.both("host-local", "DEL", conf, containerid="c0", ifname="net1")
    assert rr.ok and rb.ok
    compare_leases(twin)


def test_host_local_check_without_lease(twin):
    conf = hl("1.0.0", ranges=[V4])
    rr, rb = twin.both("host-local", "ADD", conf, containerid="c0", key="c0")
    compare_results(rr, rb)
    for side in (twin.ref, twin.box):
        r = side.run("host-local", "CHECK", dict(conf, prevResult=side.results["c0"]), containerid="other")
        assert not r.ok, (side.kind, r)


# ---------------------------------------------------------------- static

def st(version, addresses=None, **ipam):
    i = {"type": "static"}
    if addresses is not None:
        i["addresses"] = addresses
    i.update(ipam)
    return {"cniVersion": version, "name": "diffnet", "type": "static", "ipam": i}


ST_CONFIGS = {
    "v4": dict(addresses=[{"address": "10.50.0.5/24"}]),
    "v4-gw": dict(addresses=[{"address": "10.50.0.5/24", "gateway": "10.50.0.1"}]),
    "v6-gw": dict(addresses=[{"address": "fd50::5/64", "gateway": "fd50::1"}]),
    "dual": dict(addresses=[{"address": "10.50.0.5/24", "gateway": "10.50.0.1"},
                            {"address": "fd50::5/64", "gateway": "fd50::1"}]),
    "two-v4": dict(addresses=[{"address": "10.50.0.5/24"}, {"address": "10.51.0.5/16"}]),
    "routes-dns": dict(addresses=[{"address": "10.50.0.5/24", "gateway": "10.50.0.1"}],
                       routes=[{"dst": "0.0.0.0/0"}, {"dst": "10.60.0.0/16", "gw": "10.50.0.9"}],
                       dns={"nameservers": ["10.50.0.53"], "domain": "x.test", "search": ["x.test"],
                            "options": ["ndots:1"]}),
    "host-bits-kept": dict(addresses=[{"address": "10.50.0.77/8"}]),
}


def st_can_hold(version, cfg):
    fams = [":" in a["address"] for a in ST_CONFIGS[cfg]["addresses"]]
    return at_least(version, "0.3.0") or len(fams) == len(set(fams))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("cfg", sorted(ST_CONFIGS))
def test_static(twin, version, cfg):
    conf = st(version, **ST_CONFIGS[cfg])
    rr, rb = twin.both("static", "ADD", conf, key="c0")
    if not st_can_hold(version, cfg):
        compare_errors(rr, rb, box_code=7)
        return
    compare_results(rr, rb, version)
    if at_least(version, "0.4.0"):
        for side in (twin.ref, twin.box):
            r = side.run("static", "CHECK", dict(conf, prevResult=side.results["c0"]))
            assert r.ok, (side.kind, r)
    rr, rb = twin.both("static", "DEL", conf)
    assert rr.ok and rb.ok, (rr, rb)


ST_REQUESTS = {
    "cni-args-ip": dict(args="IP=10.50.0.9/24"),
    "cni-args-ip-gw": dict(args="IP=10.50.0.9/24,fd50::9/64;GATEWAY=10.50.0.1,fd50::1"),
    "cni-args-appends": dict(addresses=[{"address": "10.50.0.5/24"}], args="IP=10.51.0.9/24"),
    "args-cni-ips-replace": dict(addresses=[{"address": "10.50.0.5/24"}],
                                 conf={"args": {"cni": {"ips": ["10.52.0.9/24"]}}}),
    "runtimeconfig-ips-replace": dict(addresses=[{"address": "10.50.0.5/24"}],
                                      conf={"runtimeConfig": {"ips": ["10.53.0.9/24"]}}),
}


@pytest.mark.parametrize("req", sorted(ST_REQUESTS))
def test_static_requested(twin, req):
    spec = ST_REQUESTS[req]
    conf = st("1.0.0", spec.get("addresses", []))
    conf.update(spec.get("conf", {}))
    rr, rb = twin.both("static", "ADD", conf, args=spec.get("args"))
    compare_results(rr, rb)


BAD_ST = {
    "not-cidr": dict(addresses=[{"address": "10.50.0.5"}]),
    "bad-gateway": dict(addresses=[{"address": "10.50.0.5/24", "gateway": "x"}]),
    "bad-route": dict(addresses=[{"address": "10.50.0.5/24"}], routes=[{"dst": "10.0.0.0"}]),
}


@pytest.mark.parametrize("bad", sorted(BAD_ST))
def test_static_bad(twin, bad):
    rr, rb = twin.both("static", "ADD", st("1.0.0", **BAD_ST[bad]))
    compare_errors(rr, rb, box_code=7)


def test_static_no_addresses(twin):
    """No address at all: the reference returns an empty result."""
    rr, rb = twin.both("static", "ADD", st("1.0.0", []))
    if rr.ok:
        compare_results(rr, rb)
    else:
        compare_errors(rr, rb)


# ---------------------------------------------------------------- one store, both plugins

def lease_files(side):
    """Paths of the lease files (named by an address) under the side's dataDir."""
    import ipaddress
    out = []
    for k, v in side.leases().items():
        try:
            ipaddress.ip_address(os.path.basename(k))
        except ValueError:
            continue
        if v[0] == "file":
            out.append(k)
    return sorted(out)


def test_host_local_shared_store(twin):
    """The reference and cnibox on ONE dataDir (the store format is shared):
    neither hands out the other's address, each releases and checks the
    other's leases, and cnibox's index notices the reference's changes."""
    side = twin.box                      # one namespace pair and one dataDir
    conf = hl("1.0.0", ranges=[[{"subnet": "10.40.0.0/29"}]])

    def run(ref, cmd, cid, prev=None):
        c = dict(conf, prevResult=prev) if prev else conf
        return cnitest.run_plugin("host-local", cmd, side.conf(c), host=side.host, netns=side.ctr(),
                                  containerid=cid, ref=ref)

    got = {}
    for cid, ref in (("r0", True), ("b0", False), ("r1", True), ("b1", False)):
        r = run(ref, "ADD", cid)
        assert r.ok, (cid, r)
        got[cid] = r.json
    addrs = [got[c]["ips"][0]["address"] for c in ("r0", "b0", "r1", "b1")]
    assert addrs == ["10.40.0.2/29", "10.40.0.3/29", "10.40.0.4/29", "10.40.0.5/29"], addrs
    # Each checks and releases the other's lease.
    assert run(False, "CHECK", "r0", got["r0"]).ok
    assert run(True, "CHECK", "b0", got["b0"]).ok
    assert run(False, "DEL", "r0").ok
    assert run(True, "DEL", "b0").ok
    assert lease_files(side) == ["diffnet/10.40.0.4", "diffnet/10.40.0.5"]
    # cnibox no longer sees b0 (released behind its back by the reference).
    r = run(False, "CHECK", "b0", got["b0"])
    assert not r.ok, r
    # Round robin goes on after the last reserved address, whoever reserved it.
    r = run(False, "ADD", "b2")
    assert r.ok and r.json["ips"][0]["address"] == "10.40.0.6/29", r
    r = run(True, "ADD", "r2")
    assert r.ok and r.json["ips"][0]["address"] == "10.40.0.2/29", r


def test_gc_and_status_are_cnibox_only(twin):
    """DIFFERENCES["gc-status"]: the reference 1.1.1 knows neither verb. With
    1.1.0, cnibox's GC releases leases of attachments not listed as valid."""
    conf = hl("1.0.0", ranges=[V4])
    for cid in ("c0", "c1", "c2"):
        rr, rb = twin.both("host-local", "ADD", conf, containerid=cid, key=cid)
        compare_results(rr, rb)
    for verb in ("GC", "STATUS"):
        rr, rb = twin.both("host-local", verb, conf)
        assert rr.json and rr.json["code"] == 4 and verb in rr.json["msg"], rr   # unknown CNI_COMMAND
        cnitest.assert_cni_error(rb, 1, verb)                                     # needs 1.1.0
    new = dict(conf, cniVersion="1.1.0")
    r = twin.box.run("host-local", "STATUS", new)
    assert r.ok, r
    gc = dict(new, **{"cni.dev/valid-attachments": [{"containerID": "c1", "ifname": "eth0"}]})
    r = twin.box.run("host-local", "GC", gc)
    assert r.ok, r
    assert lease_files(twin.box) == ["diffnet/10.40.0.3"]
    assert twin.box.leases()["diffnet/10.40.0.3"][2] == b"c1\r\neth0"


def test_static_check_notices_missing_address(twin):
    """DIFFERENCES["static-check"]: a prevResult without one of the configured
    addresses passes the reference's CHECK; cnibox's fails (code 100)."""
    conf = st("1.0.0", [{"address": "10.50.0.5/24"}, {"address": "fd50::5/64"}])
    rr, rb = twin.both("static", "ADD", conf, key="c0")
    compare_results(rr, rb)
    prev = dict(rr.json, ips=rr.json["ips"][:1])
    rr, rb = twin.both("static", "CHECK", dict(conf, prevResult=prev))
    assert rr.ok, rr
    cnitest.assert_cni_error(rb, 100, "fd50::5")
