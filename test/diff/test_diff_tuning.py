"""tuning against the reference 1.1.1, chained after each side's own bridge
(+host-local): the ADD result (masked, plus the container MAC), the kernel
state (links, addresses, routes, sysctls, and the container interface's MAC,
allmulti flag and the configured sysctls), the backup files, CHECK, and the
state after DEL. Only keys the reference knows (sysctl, mac, mtu, promisc,
allmulti, dataDir, runtimeConfig.mac, args.cni.*, CNI_ARGS MAC); txQLen, the
sysctl allowlist and GC are newer than 1.1.1 and tested in test/netns."""
import json
import os

import pytest

import cnitest
from cnidiff import DIFFERENCES, at_least, common_versions, compare_errors, compare_results, compare_states

VERSIONS = common_versions("tuning")
FAMILY_VERSIONS = [v for v in ("0.2.0", "0.4.0", "1.0.0") if v in VERSIONS]
MAC = "c2:11:22:33:44:55"
NETWORK_LINE = ',\n "network": "diffnet"\n}'   # how cnibox's backups end
SYSCTLS = ["net/ipv4/conf/eth0/arp_ignore", "net/ipv4/conf/eth0/arp_announce", "net/ipv4/conf/eth0/rp_filter",
           "net/ipv4/ip_forward", "net/core/somaxconn"]


def bridge(version):
    return {"cniVersion": version, "name": "diffnet", "type": "bridge", "bridge": "cbtdtun0",
            "ipam": {"type": "host-local", "dataDir": "@DATA@/ipam", "ranges": [[{"subnet": "10.64.0.0/24"}]]}}


def tuning(version, **kw):
    """A tuning conf whose prevResult is each side's own bridge result."""
    def make(side):
        c = {"cniVersion": version, "name": "diffnet", "type": "tuning", "dataDir": "@DATA@/tuning",
             "prevResult": side.results["br"]}
        c.update(kw)
        return c
    return make


def chain(twin, version):
    rr, rb = twin.both("bridge", "ADD", bridge(version), key="br")
    compare_results(rr, rb, version)


def container(side):
    """What tuning changes in the container beyond kernel_state: the MAC (as
    "original"/"changed:<mac>"), allmulti and the sysctls it may write."""
    c = side.ctr()
    j = json.loads(c.sh("ip -j link show dev eth0").stdout)[0]
    orig = side.results.get("orig-mac")
    return {"mac": "original" if j["address"] == orig else "changed:" + j["address"],
            "allmulti": "ALLMULTI" in j["flags"], "promisc": "PROMISC" in j["flags"], "mtu": j["mtu"],
            "sysctl": {k: c.sysctl(k) for k in SYSCTLS}}


def backups(side):
    """The backup files with the side's original MAC masked: {name: (mode, text)}.
    cnibox's name their network after upstream's members
    (DIFFERENCES["tuning-backup-network"]); that line is checked and left out."""
    d = os.path.join(side.data, "tuning")
    out = {}
    if not os.path.isdir(d):
        return out
    for n in sorted(os.listdir(d)):
        p = os.path.join(d, n)
        with open(p) as f:
            text = f.read().replace(side.results["orig-mac"], "ORIGINAL-MAC")
        if not side.ref:
            assert text.endswith(NETWORK_LINE), text
            text = text[:-len(NETWORK_LINE)] + "\n}"
        out[n] = (oct(os.stat(p).st_mode & 0o777), text)
    return out


def remember_mac(twin):
    for side in (twin.ref, twin.box):
        side.results["orig-mac"] = json.loads(side.ctr().sh("ip -j link show dev eth0").stdout)[0]["address"]


def compare_all(twin):
    compare_states(twin)
    a, b = container(twin.ref), container(twin.box)
    assert b == a, f"container interface differs: reference {a}, cnibox {b}"


def eth0_mac(res, side=None):
    """The result's MACs of eth0 ("original" for the side's MAC before tuning)."""
    orig = side.results.get("orig-mac") if side else None
    return ["original" if i.get("mac") == orig else i.get("mac")
            for i in (res or {}).get("interfaces", []) if i.get("name") == "eth0"]


CONFIGS = {
    "sysctl": dict(sysctl={"net.ipv4.conf.eth0.arp_ignore": "1", "net/ipv4/conf/eth0/arp_announce": "2",
                           "net.ipv4.ip_forward": "1", "net.core.somaxconn": "777"}),
    "sysctl-ifname": dict(sysctl={"net.ipv4.conf.IFNAME.rp_filter": "2"}),
    "mac": dict(mac=MAC),
    "mtu": dict(mtu=1400),
    "promisc": dict(promisc=True),
    "promisc-false": dict(promisc=False),
    "allmulti": dict(allmulti=True),
    "allmulti-false": dict(allmulti=False),
    "all": dict(sysctl={"net.ipv4.conf.eth0.arp_ignore": "2"}, mac=MAC, mtu=1300, promisc=True, allmulti=True),
    "runtime-mac": dict(mac="c2:00:00:00:00:01", runtimeConfig={"mac": MAC}),
    "args-mac": dict(mac="c2:00:00:00:00:01", runtimeConfig={"mac": "c2:00:00:00:00:02"},
                     args={"cni": {"mac": MAC}}),
    "args-override": dict(mtu=1400, promisc=True, sysctl={"net.ipv4.conf.eth0.arp_ignore": "1"},
                          args={"cni": {"mtu": 1280, "promisc": False, "allmulti": True,
                                        "sysctl": {"net.ipv4.conf.eth0.arp_announce": "1"}}}),
    "args-mac-empty": dict(mac=MAC, mtu=1400, args={"cni": {"mac": ""}}),
}


def matrix():
    out = []
    for cfg in sorted(CONFIGS):
        vs = VERSIONS if cfg == "all" else FAMILY_VERSIONS
        out += [(cfg, v) for v in vs]
    return out


@pytest.mark.parametrize("cfg,version", matrix())
def test_tuning(twin, cfg, version):
    chain(twin, version)
    remember_mac(twin)
    compare_all(twin)
    conf = tuning(version, **CONFIGS[cfg])
    rr, rb = twin.both("tuning", "ADD", conf)
    compare_results(rr, rb, version)
    assert eth0_mac(rb.json, twin.box) == eth0_mac(rr.json, twin.ref)
    compare_all(twin)
    assert backups(twin.box) == backups(twin.ref)
    if at_least(version, "0.4.0"):
        rr, rb = twin.both("tuning", "CHECK", conf)
        if "IFNAME" in json.dumps(CONFIGS[cfg]):
            # DIFFERENCES["tuning-check-ifname"]: 1.1.1's CHECK reads the key
            # with IFNAME left in (upstream fixed it in 1.2.0).
            assert not rr.ok and "IFNAME" in rr.stdout, rr
            assert rb.ok, rb
        else:
            assert rr.ok, rr
            assert rb.ok, rb
    rr, rb = twin.both("tuning", "DEL", conf)
    assert rr.ok and rb.ok, (rr, rb)
    compare_all(twin)
    assert backups(twin.box) == backups(twin.ref) == {}
    rr, rb = twin.both("tuning", "DEL", conf)
    assert rr.ok and rb.ok, ("repeat DEL", rr, rb)
    compare_all(twin)


def test_cni_args_mac(twin):
    chain(twin, "1.0.0")
    remember_mac(twin)
    conf = tuning("1.0.0", mac="c2:00:00:00:00:01")
    args = f"IgnoreUnknown=1;K8S_POD_NAME=p;MAC={MAC}"
    rr, rb = twin.both("tuning", "ADD", conf, args=args)
    compare_results(rr, rb, "1.0.0")
    assert eth0_mac(rb.json) == eth0_mac(rr.json) == [MAC]
    compare_all(twin)
    rr, rb = twin.both("tuning", "CHECK", conf, args=args)
    assert rr.ok and rb.ok, (rr, rb)
    rr, rb = twin.both("tuning", "DEL", conf, args=args)
    assert rr.ok and rb.ok, (rr, rb)
    compare_all(twin)


@pytest.mark.parametrize("change", ["ip link set eth0 mtu 1450", "ip link set eth0 promisc off",
                                    "ip link set eth0 allmulticast off",
                                    "echo 0 > /proc/sys/net/ipv4/conf/eth0/arp_ignore"])
def test_check_fails_alike(twin, change):
    chain(twin, "1.0.0")
    conf = tuning("1.0.0", sysctl={"net.ipv4.conf.eth0.arp_ignore": "2"}, mtu=1400, promisc=True,
                  allmulti=True)
    rr, rb = twin.both("tuning", "ADD", conf)
    assert rr.ok and rb.ok, (rr, rb)
    for side in (twin.ref, twin.box):
        side.ctr().sh(change)
    rr, rb = twin.both("tuning", "CHECK", conf)
    compare_errors(rr, rb)


BAD = {
    "non-net-sysctl": dict(sysctl={"kernel.hostname": "x"}),
    "sysctl-not-string": dict(sysctl={"net.ipv4.ip_forward": 1}),
    "bad-mac": dict(mac="c2:11:22"),
    "negative-mtu": dict(mtu=-1),
    "mtu-string": dict(mtu="1400"),
    "promisc-string": dict(promisc="yes"),
    "no-prev-result": dict(prevResult=None),
}


@pytest.mark.parametrize("cfg", sorted(BAD))
def test_bad_config(twin, cfg):
    chain(twin, "1.0.0")
    remember_mac(twin)
    kw = dict(BAD[cfg])
    base = tuning("1.0.0", **kw)
    conf = (lambda side: {k: v for k, v in base(side).items() if k != "prevResult"}) \
        if kw.get("prevResult", 1) is None else base
    rr, rb = twin.both("tuning", "ADD", conf)
    compare_errors(rr, rb, box_code=7)   # DIFFERENCES["spec-codes"]
    compare_all(twin)
    # DIFFERENCES["rollback"]: the reference may leave its backup file behind
    assert backups(twin.box) == {}


def test_kernel_failure_rolls_back(twin):
    """MTU above the veth maximum after a MAC change: the reference fails
    with the MAC changed and its backup left; cnibox puts the MAC back and
    removes the backup (DIFFERENCES["rollback"])."""
    chain(twin, "1.0.0")
    remember_mac(twin)
    conf = tuning("1.0.0", mac=MAC, mtu=70000)
    rr, rb = twin.both("tuning", "ADD", conf)
    compare_errors(rr, rb)
    compare_states(twin)
    assert container(twin.ref)["mac"] == "changed:" + MAC
    assert container(twin.box)["mac"] == "original"
    assert backups(twin.box) == {}
    assert list(backups(twin.ref)) == ["ctr0_eth0.json"]


def test_del_without_netns(twin):
    """DEL with an empty CNI_NETNS: both succeed; cnibox also drops the backup
    that can no longer be used (DIFFERENCES["tuning-del-cleanup"])."""
    chain(twin, "1.0.0")
    remember_mac(twin)
    conf = tuning("1.0.0", mtu=1400)
    rr, rb = twin.both("tuning", "ADD", conf)
    assert rr.ok and rb.ok, (rr, rb)
    rr, rb = twin.both("tuning", "DEL", conf, netns="")
    assert rr.ok and rb.ok, (rr, rb)
    compare_all(twin)
    assert list(backups(twin.ref)) == ["ctr0_eth0.json"]
    assert backups(twin.box) == {}


def test_differences_documented():
    for k in ("tuning-check-ifname", "tuning-del-cleanup", "rollback", "spec-codes"):
        assert k in DIFFERENCES


def test_reference_restores_from_cniboxs_backup(twin):
    """The backup stays upstream's format for upstream's reader: the
    reference's DEL restores the link from the backup cnibox's ADD wrote
    (DIFFERENCES["tuning-backup-network"]: it ignores "network")."""
    chain(twin, "1.0.0")
    remember_mac(twin)
    box = twin.box
    before = container(box)
    conf = box.conf(tuning("1.0.0", mac=MAC, mtu=1400, promisc=True)(box))
    r = box.run("tuning", "ADD", conf)
    assert r.ok, r
    assert container(box) == dict(before, mac="changed:" + MAC, mtu=1400, promisc=True)
    assert list(backups(box)) == ["ctr0_eth0.json"]   # with its "network" member (checked there)
    r = cnitest.run_plugin("tuning", "DEL", conf, host=box.host, netns=box.ctr(), containerid="ctr0", ref=True)
    assert r.ok, r
    assert container(box) == before
    assert backups(box) == {}
