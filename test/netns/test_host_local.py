"""host-local: ADD/CHECK/DEL/GC/STATUS in every version, requested addresses,
exhaustion, DEL idempotence, nothing left behind by a failed ADD, and
interoperation with the reference plugin on one data dir (root).

IPAM touches no kernel state, so the plugin runs in the test's own
namespace; CNI_NETNS is a namespace the test made. Every case uses a
scratch dataDir.
"""
import json
import os
import stat
import subprocess

import pytest

import cnitest
from cnitest import assert_cni_error, run_plugin

NET = "hlnet"
V4 = "10.71.0.0/24"
V6 = "fd71::/64"
ALL_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]

needs_ref = pytest.mark.skipif(not cnitest.have_ref("host-local"),
                               reason="reference plugins not installed in /usr/lib/cni")


def conf(scratch, version="1.0.0", ranges=None, name=NET, **ipam):
    i = {"type": "host-local", "dataDir": scratch.path if hasattr(scratch, "path") else scratch,
         "ranges": ranges if ranges is not None else [[{"subnet": V4}], [{"subnet": V6}]]}
    i.update(ipam)
    return {"cniVersion": version, "name": name, "type": "host-local", "ipam": i}


def hl(cmd, c, ctr, cid="c1", ifname="eth0", ref=False, **kw):
    return run_plugin("host-local", cmd, c, netns=ctr, containerid=cid, ifname=ifname, ref=ref, **kw)


def addrs(res):
    """Addresses of a result of any version, as "ip/prefix" strings."""
    j = res.json
    if "ips" in j:
        return [i["address"] for i in j["ips"]]
    return [j[k]["ip"] for k in ("ip4", "ip6") if k in j]


def leases(scratch, name=NET):
    """{address: content} of the lease files (bookkeeping excluded)."""
    d = os.path.join(scratch.path, name)
    out = {}
    if not os.path.isdir(d):
        return out
    for f in os.listdir(d):
        p = os.path.join(d, f)
        if f in ("lock",) or f.startswith("last_reserved_ip.") or f == ".cnibox":
            continue
        with open(p, "rb") as fh:
            out[f] = fh.read()
    return out


def index_files(scratch, name=NET):
    d = os.path.join(scratch.path, name, ".cnibox")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


# ----------------------------------------------------------------- basics

@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_add_check_del_every_version(scratch, ctr, version):
    c = conf(scratch, version)
    r = hl("ADD", c, ctr)
    assert r.ok, r
    j = r.json
    assert j["cniVersion"] == version
    if version in ("0.1.0", "0.2.0"):
        assert j["ip4"] == {"ip": "10.71.0.2/24", "gateway": "10.71.0.1"}
        assert j["ip6"] == {"ip": "fd71::2/64", "gateway": "fd71::1"}
    else:
        ips = j["ips"]
        assert [i["address"] for i in ips] == ["10.71.0.2/24", "fd71::2/64"]
        assert [i["gateway"] for i in ips] == ["10.71.0.1", "fd71::1"]
        assert all("interface" not in i for i in ips)
        if version in ("0.3.0", "0.3.1", "0.4.0"):
            assert [i["version"] for i in ips] == ["4", "6"]
        else:
            assert all("version" not in i for i in ips)
    assert leases(scratch) == {"10.71.0.2": b"c1\r\neth0", "fd71::2": b"c1\r\neth0"}

    chk = hl("CHECK", dict(c, prevResult=j), ctr)
    if version in ("0.1.0", "0.2.0", "0.3.0", "0.3.1"):
        assert_cni_error(chk, 1, "CHECK")
    else:
        assert chk.ok, chk

    assert hl("DEL", c, ctr).ok
    assert leases(scratch) == {}
    assert index_files(scratch) in ([], ["state"])
    assert hl("DEL", c, ctr).ok  # repeat DEL
    if version not in ("0.1.0", "0.2.0", "0.3.0", "0.3.1"):
        assert_cni_error(hl("CHECK", dict(c, prevResult=j), ctr), 100, "Failed to find address", "c1")


def test_lease_files_format(scratch, ctr):
    assert hl("ADD", conf(scratch), ctr, cid="abc").ok
    d = os.path.join(scratch.path, NET)
    st = os.stat(d)
    assert stat.S_IMODE(st.st_mode) == 0o755
    for f in ("10.71.0.2", "fd71::2"):
        st = os.stat(os.path.join(d, f))
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert open(os.path.join(d, f), "rb").read() == b"abc\r\neth0"
    assert open(os.path.join(d, "last_reserved_ip.0"), "rb").read() == b"10.71.0.2"
    assert open(os.path.join(d, "last_reserved_ip.1"), "rb").read() == b"fd71::2"
    assert os.path.isfile(os.path.join(d, "lock"))
    assert index_files(scratch) == ["abc@eth0", "state"]
    assert stat.S_IMODE(os.stat(os.path.join(d, ".cnibox")).st_mode) == 0o700


def test_more_than_one_per_family_needs_030(scratch, ctr):
    ranges = [[{"subnet": V4}], [{"subnet": "10.72.0.0/24"}]]
    r = hl("ADD", conf(scratch, "0.2.0", ranges), ctr)
    assert_cni_error(r, 7, "CNI version 0.2.0 does not support more than 1 address per family")
    assert not os.path.exists(os.path.join(scratch.path, NET))
    r = hl("ADD", conf(scratch, "0.3.0", ranges), ctr)
    assert r.ok, r
    assert addrs(r) == ["10.71.0.2/24", "10.72.0.2/24"]


def test_range_window_gateway_routes_and_resolvconf(scratch, ctr, tmp_path):
    rc = tmp_path / "resolv.conf"
    rc.write_text("nameserver 10.71.0.53\nsearch a.test b.test\ndomain x.test\noptions ndots:3\n")
    c = conf(scratch, ranges=[[{"subnet": V4, "rangeStart": "10.71.0.100", "rangeEnd": "10.71.0.102",
                                "gateway": "10.71.0.101"}]],
             routes=[{"dst": "0.0.0.0/0"}, {"dst": "192.168.0.0/16", "gw": "10.71.0.9"}], resolvConf=str(rc))
    got = []
    for i in range(2):
        r = hl("ADD", c, ctr, cid=f"c{i}")
        assert r.ok, r
        got.append(r.json["ips"][0])
    assert got == [{"address": "10.71.0.100/24", "gateway": "10.71.0.101"},
                   {"address": "10.71.0.102/24", "gateway": "10.71.0.101"}]  # the gateway is skipped
    assert r.json["routes"] == [{"dst": "0.0.0.0/0"}, {"dst": "192.168.0.0/16", "gw": "10.71.0.9"}]
    assert r.json["dns"] == {"nameservers": ["10.71.0.53"], "domain": "x.test", "search": ["a.test", "b.test"],
                             "options": ["ndots:3"]}
    assert_cni_error(hl("ADD", c, ctr, cid="c9"), 100, "no IP addresses available in range set: "
                                                       "10.71.0.100-10.71.0.102")


def test_range_sources_order(scratch, ctr):
    """runtimeConfig.ipRanges, then the top-level range, then `ranges`."""
    c = conf(scratch, ranges=[[{"subnet": "10.73.0.0/24"}]], subnet="10.72.0.0/24")
    c["runtimeConfig"] = {"ipRanges": [[{"subnet": "10.74.0.0/24"}]]}
    r = hl("ADD", c, ctr)
    assert r.ok, r
    assert addrs(r) == ["10.74.0.2/24", "10.72.0.2/24", "10.73.0.2/24"]


@pytest.mark.parametrize("bad,code,words", [
    ({"ranges": [[{"subnet": "10.71.0.1/24"}]]}, 7, ["host bits"]),
    ({"ranges": [[{"subnet": "10.71.0.0/31"}]]}, 7, ["too small"]),
    ({"ranges": [[{"subnet": "10.71.0.0/24", "rangeStart": "10.72.0.1"}]]}, 7, ["RangeStart 10.72.0.1 not in"]),
    ({"ranges": [[{"subnet": V4}], [{"subnet": "10.71.0.128/25"}]]}, 7, ["range set 0 overlaps with 1"]),
    ({"ranges": [[{"subnet": V4}, {"subnet": V6}]]}, 7, ["mixed address families"]),
    ({"ranges": []}, 7, ["no IP ranges specified"]),
    ({"ranges": [[{"subnet": V4}]], "dataDir": "@/../escape"}, 7, ["dataDir", ".."]),
    ({"ranges": [[{"subnet": V4}]], "resolvConf": "/nonexistent/resolv.conf"}, 5, ["no such file"]),
])
def test_bad_config_leaves_nothing(scratch, ctr, bad, code, words):
    c = conf(scratch)
    c["ipam"].update(json.loads(json.dumps(bad).replace("@", scratch.path)))
    before = cnitest.tree(scratch.path)
    assert_cni_error(hl("ADD", c, ctr), code, *words)
    assert cnitest.tree(scratch.path) == before
    assert not os.path.exists(os.path.join(os.path.dirname(scratch.path), "escape"))


def test_missing_ipam(scratch, ctr):
    c = conf(scratch)
    del c["ipam"]
    assert_cni_error(hl("ADD", c, ctr), 7, "IPAM config missing 'ipam' key")


def test_failed_add_in_fresh_dir_removes_it(scratch, ctr):
    data = os.path.join(scratch.path, "a", "b")
    c = conf(data, ranges=[[{"subnet": V4}]])
    assert_cni_error(hl("ADD", c, ctr, args="IP=10.71.0.1"), 100, "gateway")
    assert os.listdir(scratch.path) == []
    assert_cni_error(hl("ADD", c, ctr, args="IP=10.99.0.5"), 100, "failed to allocate all requested IPs: 10.99.0.5")
    assert os.listdir(scratch.path) == []
    assert hl("ADD", c, ctr).ok
    assert os.path.isdir(os.path.join(data, NET))


# ------------------------------------------------------- requested addresses

@pytest.mark.parametrize("how", ["cni-args", "cni-args-prefix", "cni-args-ignore-unknown", "args",
                                 "runtime-config"])
def test_requested_ip(scratch, ctr, how):
    c = conf(scratch)
    args = None
    if how == "cni-args":
        args = "IP=10.71.0.77"
    elif how == "cni-args-prefix":
        args = "IP=10.71.0.77/24"
    elif how == "cni-args-ignore-unknown":
        args = "IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.71.0.77"
    elif how == "args":
        c["args"] = {"cni": {"ips": ["10.71.0.77", "fd71::77"]}}
    else:
        c["runtimeConfig"] = {"ips": ["10.71.0.77/24", "fd71::77/64"]}
    r = hl("ADD", c, ctr, args=args)
    assert r.ok, r
    want6 = "fd71::77/64" if how in ("args", "runtime-config") else "fd71::2/64"
    assert addrs(r) == ["10.71.0.77/24", want6]
    # The same address for another container: refused, and that ADD keeps nothing.
    r2 = hl("ADD", c, ctr, cid="c2", args=args)
    assert_cni_error(r2, 100, "requested IP address 10.71.0.77 is not available in range set 10.71.0.1-10.71.0.254")
    assert set(leases(scratch).values()) == {b"c1\r\neth0"}
    assert hl("DEL", c, ctr).ok
    assert leases(scratch) == {}


def test_requested_ip_sources_combine(scratch, ctr):
    c = conf(scratch, ranges=[[{"subnet": V4}], [{"subnet": "10.72.0.0/24"}], [{"subnet": V6}]], version="0.4.0")
    c["args"] = {"cni": {"ips": ["10.72.0.9"]}}
    c["runtimeConfig"] = {"ips": ["fd71::9"]}
    r = hl("ADD", c, ctr, args="IP=10.71.0.9")
    assert r.ok, r
    assert addrs(r) == ["10.71.0.9/24", "10.72.0.9/24", "fd71::9/64"]
    # Two wanted in one set: refused (as upstream), before touching the disk.
    c2 = conf(scratch, name="other", ranges=[[{"subnet": V4}]])
    c2["args"] = {"cni": {"ips": ["10.71.0.10"]}}
    assert_cni_error(hl("ADD", c2, ctr, args="IP=10.71.0.11"), 100, "failed to allocate all requested IPs: 10.71.0.10")
    assert not os.path.exists(os.path.join(scratch.path, "other"))


@pytest.mark.parametrize("args,code,words", [
    ("IP=10.71.0.1", 100, ["requested ip 10.71.0.1 is subnet's gateway"]),
    ("IP=10.99.0.1", 100, ["failed to allocate all requested IPs: 10.99.0.1"]),
    ("IP=10.71.0.5,10.71.0.6", 4, ["invalid IP address 10.71.0.5,10.71.0.6"]),  # one address only
    ("IP=bogus", 4, ["bogus"]),
    ("K8S_POD_NAME=x", 4, ["unknown args"]),
    ("IP", 4, ["invalid pair"]),
])
def test_requested_ip_errors(scratch, ctr, args, code, words):
    assert_cni_error(hl("ADD", conf(scratch), ctr, args=args), code, *words)
    assert leases(scratch) == {}


def test_duplicate_allocation(scratch, ctr):
    c = conf(scratch)
    assert hl("ADD", c, ctr).ok
    assert_cni_error(hl("ADD", c, ctr), 100,
                     "10.71.0.2 has been allocated to c1, duplicate allocation is not allowed")
    r = hl("ADD", c, ctr, ifname="eth1")  # another interface of the same container
    assert r.ok
    assert addrs(r) == ["10.71.0.3/24", "fd71::3/64"]


# -------------------------------------------------- exhaustion, round robin

def test_exhaustion_round_robin_and_status(scratch, ctr):
    c = conf(scratch, "1.1.0", ranges=[[{"subnet": "10.71.0.0/29"}]])  # .2-.6 usable
    assert hl("STATUS", c, ctr).ok
    assert not os.path.exists(os.path.join(scratch.path, NET))  # STATUS creates nothing
    got = [addrs(hl("ADD", c, ctr, cid=f"c{i}"))[0] for i in range(5)]
    assert got == [f"10.71.0.{i}/29" for i in range(2, 7)]
    assert_cni_error(hl("ADD", c, ctr, cid="c9"), 100, "no IP addresses available in range set: 10.71.0.1-10.71.0.6")
    assert_cni_error(hl("STATUS", c, ctr), 50, "no IP addresses available")
    assert hl("DEL", c, ctr, cid="c1").ok
    assert hl("DEL", c, ctr, cid="c3").ok
    assert hl("STATUS", c, ctr).ok
    # Round robin: after .6 the walk wraps to the lowest free address.
    assert addrs(hl("ADD", c, ctr, cid="c9")) == ["10.71.0.3/29"]
    assert addrs(hl("ADD", c, ctr, cid="c10")) == ["10.71.0.5/29"]


def test_round_robin_does_not_reuse_at_once(scratch, ctr):
    c = conf(scratch, ranges=[[{"subnet": V4}]])
    assert addrs(hl("ADD", c, ctr, cid="a")) == ["10.71.0.2/24"]
    assert addrs(hl("ADD", c, ctr, cid="b")) == ["10.71.0.3/24"]
    assert hl("DEL", c, ctr, cid="a").ok
    assert addrs(hl("ADD", c, ctr, cid="c")) == ["10.71.0.4/24"]


def run_in_ro_mount(path, c, ctr, cmd="STATUS"):
    """Runs cnibox host-local with `path` bind-mounted read-only in a private mount namespace."""
    exe = os.path.join(cnitest.cnibox_dir(), "host-local")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND": cmd, "CNI_CONTAINERID": "c1",
           "CNI_NETNS": ctr.path, "CNI_IFNAME": "eth0", "CNI_PATH": cnitest.cnibox_dir()}
    script = f'mount --bind "{path}" "{path}" && mount -o remount,ro,bind "{path}" && exec "{exe}"'
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                       input=json.dumps(c), capture_output=True, text=True, env=env, timeout=60)
    return cnitest.PluginResult(p)


def test_status_store_not_writable(scratch, ctr):
    c = conf(scratch, "1.1.0")
    r = run_in_ro_mount(scratch.path, c, ctr)
    assert_cni_error(r, 50, "not writable")
    assert hl("STATUS", c, ctr).ok
    # A data dir that is a file.
    f = os.path.join(scratch.path, "file")
    open(f, "w").close()
    assert_cni_error(hl("STATUS", conf(f, "1.1.0"), ctr), 50, "not a directory")


def test_status_and_gc_need_110(scratch, ctr):
    assert_cni_error(hl("STATUS", conf(scratch, "1.0.0"), ctr), 1)
    assert_cni_error(hl("GC", conf(scratch, "1.0.0"), ctr), 1)


# ------------------------------------------------------------------------ GC

def test_gc(scratch, ctr):
    c = conf(scratch, "1.1.0", ranges=[[{"subnet": V4}]])
    for cid, ifn in (("a", "eth0"), ("b", "eth0"), ("a", "eth1"), ("c", "net1")):
        assert hl("ADD", c, ctr, cid=cid, ifname=ifn).ok
    # No valid-attachments key: nothing is known, nothing is released.
    assert hl("GC", c, ctr).ok
    assert len(leases(scratch)) == 4
    g = dict(c)
    g["cni.dev/valid-attachments"] = [{"containerID": "a", "ifname": "eth0"}, {"containerID": "c", "ifname": "net1"}]
    assert hl("GC", g, ctr).ok
    assert sorted(leases(scratch).values()) == [b"a\r\neth0", b"c\r\nnet1"]
    assert index_files(scratch) == ["a@eth0", "c@net1", "state"]
    assert hl("CHECK", dict(c, prevResult={"cniVersion": "1.1.0", "ips": []}), ctr, cid="a").ok
    assert_cni_error(hl("CHECK", dict(c, prevResult={"cniVersion": "1.1.0", "ips": []}), ctr, cid="b"), 100)
    g["cni.dev/valid-attachments"] = []
    assert hl("GC", g, ctr).ok
    assert leases(scratch) == {}
    # GC of a network that never had a lease creates nothing.
    assert hl("GC", conf(scratch, "1.1.0", name="never"), ctr).ok
    assert not os.path.exists(os.path.join(scratch.path, "never"))


# ---------------------------------------------------------- DEL idempotence

def test_del_idempotence(scratch, make_ns):
    ctr = make_ns()
    c = conf(scratch)
    # Never added, and the network dir does not exist: success, nothing created.
    assert hl("DEL", c, ctr).ok
    assert not os.path.exists(os.path.join(scratch.path, NET))
    assert hl("ADD", c, ctr).ok
    # CNI_NETNS empty.
    assert hl("DEL", c, "").ok
    assert leases(scratch) == {}
    assert hl("ADD", c, ctr).ok
    # The namespace is gone.
    gone = ctr.path
    ctr.delete()
    assert hl("DEL", c, gone).ok
    assert leases(scratch) == {}
    assert hl("DEL", c, gone).ok  # repeat
    # DEL after a failed ADD.
    ctr2 = make_ns()
    assert_cni_error(hl("ADD", c, ctr2, args="IP=10.71.0.1"), 100)
    assert hl("DEL", c, ctr2).ok
    assert leases(scratch) == {}


# ------------------------------------------------------------------- interop

@needs_ref
@pytest.mark.parametrize("version", ["0.3.1", "0.4.0", "1.0.0"])
def test_interop_reference_lease_released_by_cnibox(scratch, ctr, version):
    c = conf(scratch, version)
    r = hl("ADD", c, ctr, ref=True, cid="refctr")
    assert r.ok, r
    assert index_files(scratch) == []
    if version != "0.3.1":
        assert hl("CHECK", dict(c, prevResult=r.json), ctr, cid="refctr").ok
    # cnibox allocates next to it (the reference's last_reserved_ip is honoured).
    r2 = hl("ADD", c, ctr, cid="boxctr")
    assert r2.ok, r2
    assert addrs(r2) == ["10.71.0.3/24", "fd71::3/64"]
    # Duplicate guard across implementations.
    assert_cni_error(hl("ADD", c, ctr, cid="refctr"), 100, "duplicate allocation is not allowed")
    assert hl("DEL", c, ctr, cid="refctr").ok
    assert sorted(leases(scratch)) == ["10.71.0.3", "fd71::3"]
    if version != "0.3.1":
        assert not hl("CHECK", dict(c, prevResult=r.json), ctr, cid="refctr", ref=True).ok


@needs_ref
@pytest.mark.parametrize("version", ["0.3.1", "1.0.0"])
def test_interop_cnibox_lease_released_by_reference(scratch, ctr, version):
    c = conf(scratch, version)
    r = hl("ADD", c, ctr, cid="boxctr")
    assert r.ok, r
    if version != "0.3.1":
        assert hl("CHECK", dict(c, prevResult=r.json), ctr, cid="boxctr", ref=True).ok
    # The reference reads every file below the network dir: our index must not confuse it.
    r2 = hl("ADD", c, ctr, cid="refctr", ref=True)
    assert r2.ok, r2
    assert addrs(r2) == ["10.71.0.3/24", "fd71::3/64"]
    assert_cni_error(hl("ADD", c, ctr, cid="boxctr", ref=True), 999, "duplicate allocation is not allowed")
    assert hl("DEL", c, ctr, cid="boxctr", ref=True).ok
    assert sorted(leases(scratch)) == ["10.71.0.3", "fd71::3"]
    assert "boxctr@eth0" in index_files(scratch)  # stale until cnibox looks again
    # cnibox notices the change and rebuilds its index.
    if version != "0.3.1":
        assert_cni_error(hl("CHECK", dict(c, prevResult=r.json), ctr, cid="boxctr"), 100)
    assert hl("DEL", c, ctr, cid="boxctr").ok
    assert "boxctr@eth0" not in index_files(scratch)
    assert hl("DEL", c, ctr, cid="refctr").ok
    assert leases(scratch) == {}
    # The reference's view agrees: nothing left for either.
    assert hl("DEL", c, ctr, cid="refctr", ref=True).ok


@needs_ref
def test_interop_alternating_writers(scratch, ctr):
    """ADDs and DELs alternate between the two implementations on one store:
    no address is handed out twice and every DEL finds its leases."""
    c = conf(scratch, "1.0.0", ranges=[[{"subnet": "10.71.0.0/27"}]])
    held = {}
    for i in range(20):
        ref = i % 2 == 0
        r = hl("ADD", c, ctr, cid=f"c{i}", ref=ref)
        assert r.ok, (i, r)
        a = addrs(r)[0]
        assert a not in held.values()
        held[f"c{i}"] = a
        if i % 3 == 2:
            victim = f"c{i - 1}"
            assert hl("DEL", c, ctr, cid=victim, ref=not ref).ok
            del held[victim]
    assert {v.split("/")[0]: k for k, v in held.items()} == \
        {ip: content.decode().split("\r\n")[0] for ip, content in leases(scratch).items()}
    for cid in list(held):
        assert hl("DEL", c, ctr, cid=cid, ref=cid[-1] in "13579").ok
    assert leases(scratch) == {}


@needs_ref
@pytest.mark.parametrize("version", ["0.2.0", "0.4.0", "1.0.0"])
def test_interop_same_files_as_reference(make_ns, version):
    """The same sequence on two data dirs: lease and bookkeeping files have
    the same names and bytes; ours are mode 0600 (upstream since v1.4.0; the
    Debian reference 1.1.1 writes 0644)."""
    ctr = make_ns()
    dirs = {k: cnitest.Scratch() for k in ("ref", "box")}
    try:
        ranges = [[{"subnet": V4}], [{"subnet": V6}]]
        for side, s in dirs.items():
            c = conf(s, version, ranges)
            for cid in ("a", "b", "c"):
                assert hl("ADD", c, ctr, cid=cid, ref=side == "ref").ok
            assert hl("DEL", c, ctr, cid="b", ref=side == "ref").ok
            assert hl("ADD", c, ctr, cid="d", ifname="net1", ref=side == "ref").ok
        trees = {k: cnitest.tree(s.path) for k, s in dirs.items()}
        box = {k: v for k, v in trees["box"].items() if ".cnibox" not in k.split(os.sep)}
        assert sorted(box) == sorted(trees["ref"])
        for k, (kind, mode, content) in trees["ref"].items():
            assert box[k][0] == kind and box[k][2] == content, k
            if kind == "file" and not k.endswith("lock"):
                assert box[k][1] == 0o600, k
            else:
                assert box[k][1] == mode, k
    finally:
        for s in dirs.values():
            s.cleanup()


@needs_ref
def test_interop_old_id_only_lease(scratch, ctr):
    """Leases of very old versions hold only the container id: found by
    CHECK and released by DEL for any ifname, by both implementations."""
    c = conf(scratch, "1.0.0", ranges=[[{"subnet": V4}]])
    d = os.path.join(scratch.path, NET)
    os.makedirs(d)
    with open(os.path.join(d, "10.71.0.50"), "w") as f:
        f.write("oldctr")
    pr = {"cniVersion": "1.0.0", "ips": []}
    assert hl("CHECK", dict(c, prevResult=pr), ctr, cid="oldctr", ifname="eth7").ok
    assert_cni_error(hl("ADD", c, ctr, cid="oldctr"), 100, "10.71.0.50 has been allocated to oldctr")
    assert hl("DEL", c, ctr, cid="oldctr", ifname="eth7").ok
    assert leases(scratch) == {}


# -------------------------------------------------------------- the index

OFF = {"CNIBOX_HOSTLOCAL_INDEX": "0"}


def test_index_switched_off(scratch, ctr):
    """CNIBOX_HOSTLOCAL_INDEX=0: every call scans the lease files and .cnibox/
    is neither made nor touched; with the index on again, the changes made
    meanwhile are noticed."""
    c = conf(scratch, "1.1.0", ranges=[[{"subnet": V4}]])
    pr = dict(c, prevResult={"cniVersion": "1.1.0", "ips": []})
    for cid in ("a", "b", "c"):
        r = hl("ADD", c, ctr, cid=cid, env=OFF)
        assert r.ok and r.stderr == "", r
    assert sorted(leases(scratch).values()) == [b"a\r\neth0", b"b\r\neth0", b"c\r\neth0"]
    assert not os.path.exists(os.path.join(scratch.path, NET, ".cnibox"))
    assert hl("CHECK", pr, ctr, cid="b", env=OFF).ok
    assert hl("DEL", c, ctr, cid="b", env=OFF).ok
    assert_cni_error(hl("CHECK", pr, ctr, cid="b", env=OFF), 100, "Failed to find address", "b")
    assert_cni_error(hl("ADD", c, ctr, cid="a", env=OFF), 100, "duplicate allocation is not allowed")

    # On: the index is built from the leases.
    assert hl("CHECK", pr, ctr, cid="a").ok
    assert index_files(scratch) == ["a@eth0", "c@eth0", "state"]
    before = open(os.path.join(scratch.path, NET, ".cnibox", "a@eth0"), "rb").read()
    # Off again: DEL and GC leave the index files as they are ...
    assert hl("DEL", c, ctr, cid="a", env=OFF).ok
    g = dict(c, **{"cni.dev/valid-attachments": []})
    assert hl("GC", g, ctr, env=OFF).ok
    assert leases(scratch) == {}
    assert index_files(scratch) == ["a@eth0", "c@eth0", "state"]
    assert open(os.path.join(scratch.path, NET, ".cnibox", "a@eth0"), "rb").read() == before
    # ... and the index, on again, does not believe them.
    assert_cni_error(hl("CHECK", pr, ctr, cid="a"), 100, "Failed to find address", "a")
    assert index_files(scratch) == ["state"]


def test_index_that_cannot_be_written(scratch, ctr):
    """An index that cannot be written (here .cnibox is a file) does not
    change any answer; each call says so on stderr and scans the leases."""
    c = conf(scratch, "1.0.0", ranges=[[{"subnet": V4}]])
    d = os.path.join(scratch.path, NET)
    os.makedirs(d)
    with open(os.path.join(d, ".cnibox"), "w") as f:
        f.write("not a directory")
    warning = f"host-local: index not saved: open {d}/.cnibox: not a directory\n"
    r = hl("ADD", c, ctr, cid="a")
    assert r.ok and addrs(r) == ["10.71.0.2/24"], r
    assert r.stderr == warning
    r = hl("CHECK", dict(c, prevResult=r.json), ctr, cid="a")
    assert r.ok and r.stderr == warning, r
    r = hl("DEL", c, ctr, cid="a")
    assert r.ok and r.stderr == warning, r
    assert leases(scratch) == {}


@pytest.mark.parametrize("plant", ["lock-fifo", "last-reserved-fifo", "last-reserved-symlink", "lease-fifo"])
def test_planted_files_neither_block_nor_redirect(scratch, ctr, tmp_path, plant):
    """A FIFO or a symlink planted in the network's data dir (as the lock,
    last_reserved_ip.0 or a lease file): ADD and DEL never wait on it
    (run_plugin's timeout would fail them) and never write through it."""
    c = conf(scratch, ranges=[[{"subnet": V4}]])
    d = os.path.join(scratch.path, NET)
    os.makedirs(d)
    outside = tmp_path / "outside"
    outside.write_text("kept")
    name = {"lock-fifo": "lock", "lease-fifo": "10.71.0.2"}.get(plant, "last_reserved_ip.0")
    if plant.endswith("fifo"):
        os.mkfifo(os.path.join(d, name))
    else:
        os.symlink(outside, os.path.join(d, name))
    add = hl("ADD", c, ctr)
    if plant == "lease-fifo":
        # not a lease: the address is skipped, the next one taken
        assert add.ok, add
        assert addrs(add) == ["10.71.0.3/24"]
        assert hl("DEL", c, ctr).ok
    else:
        # refused at once with an I/O error naming the file
        assert_cni_error(add, 5, os.path.join(d, name))
    assert outside.read_text() == "kept"
    assert [f for f in os.listdir(d) if f[0].isdigit() and f != "10.71.0.2"] == []


def test_network_dir_symlink_is_not_followed(scratch, ctr, tmp_path):
    """The network's directory under dataDir (its name comes from the config)
    is made and opened under dataDir's descriptor without following a
    symlink: one planted there, or swapped in between the mkdir and the
    open, leads no write elsewhere."""
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, os.path.join(scratch.path, NET))
    c = conf(scratch, ranges=[[{"subnet": V4}]])
    add = hl("ADD", c, ctr)
    assert_cni_error(add, 5, os.path.join(scratch.path, NET))
    assert os.listdir(outside) == []
    # DEL finds no store of its own there, and succeeds (a runtime retries a failing DEL forever)
    assert hl("DEL", c, ctr).ok
    assert os.listdir(outside) == []
    # a real directory in its place works as ever
    os.unlink(os.path.join(scratch.path, NET))
    add = hl("ADD", c, ctr)
    assert add.ok, add
    assert addrs(add) == ["10.71.0.2/24"]
    assert hl("DEL", c, ctr).ok
