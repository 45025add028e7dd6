"""tuning applet: chained after bridge (+host-local), against real namespaces (root).

bridge runs inside the `host` namespace and makes eth0 in the container;
tuning then changes eth0's sysctls and attributes. Backups go to a dataDir
under `scratch`.
"""
import json
import os
import subprocess

import pytest

import cnitest
from cnitest import assert_cni_error, run_plugin

NET = "tunenet"
BR = "cbttun0"
MAC = "c2:11:22:33:44:55"
VERSIONS = ["0.2.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]


def bridge_conf(scratch, version="1.0.0"):
    return {"cniVersion": version, "name": NET, "type": "bridge", "bridge": BR,
            "ipam": {"type": "host-local", "dataDir": os.path.join(scratch.path, "ipam"),
                     "ranges": [[{"subnet": "10.63.0.0/24"}]]}}


def chain(host, ctr, scratch, version="1.0.0", ifname="eth0", containerid="ctr1"):
    """bridge ADD; returns its result (the prevResult of tuning)."""
    r = run_plugin("bridge", "ADD", bridge_conf(scratch, version), host=host, netns=ctr,
                   ifname=ifname, containerid=containerid)
    assert r.ok, r
    return r.json


def data_dir(scratch):
    return os.path.join(scratch.path, "tuning")


def tconf(scratch, prev, version="1.0.0", **kw):
    c = {"cniVersion": version, "name": NET, "type": "tuning", "dataDir": data_dir(scratch)}
    if prev is not None:
        c["prevResult"] = prev
    c.update(kw)
    return c


def tuning(cmd, host, ctr, conf, **kw):
    return run_plugin("tuning", cmd, conf, host=host, netns=ctr, **kw)


def link(ns, dev="eth0"):
    j = json.loads(ns.sh(f"ip -j -d link show dev {dev}").stdout)[0]
    return {"mac": j["address"], "mtu": j["mtu"], "txqlen": j.get("txqlen", 0),
            "promisc": "PROMISC" in j["flags"], "allmulti": "ALLMULTI" in j["flags"]}


def backups(scratch):
    d = data_dir(scratch)
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def backup(scratch, cid="ctr1", ifname="eth0"):
    with open(os.path.join(data_dir(scratch), f"{cid}_{ifname}.json")) as f:
        return f.read()


def snapshot(ctr, keys=(), dev="eth0"):
    return {"link": link(ctr, dev), "sysctl": {k: ctr.sysctl(k) for k in keys}}


ALL_ATTRS = dict(mac=MAC, mtu=1400, promisc=True, allmulti=True, txQLen=321)


# ---------------------------------------------------------------- ADD / CHECK / DEL

@pytest.mark.parametrize("version", VERSIONS)
def test_every_key_applied_and_restored(host, ctr, scratch, version):
    prev = chain(host, ctr, scratch, version)
    keys = ["net/ipv4/conf/eth0/rp_filter", "net/ipv4/conf/eth0/accept_local", "net/ipv6/conf/eth0/hop_limit"]
    before = snapshot(ctr, keys)
    sysctl = {"net.ipv4.conf.IFNAME.rp_filter": "2", "net/ipv4/conf/eth0/accept_local": "1",
              "net.ipv6.conf.eth0.hop_limit": "33"}
    c = tconf(scratch, prev, version, sysctl=sysctl, **ALL_ATTRS)
    r = tuning("ADD", host, ctr, c)
    assert r.ok, r
    # prevResult passed through, CNI_IFNAME's MAC updated
    want = json.loads(json.dumps(prev))
    for i in want.get("interfaces", []):
        if i["name"] == "eth0":
            i["mac"] = MAC
    assert r.json == want
    if version != "0.2.0":
        assert [i["mac"] for i in r.json["interfaces"] if i["name"] == "eth0"] == [MAC]
    assert link(ctr) == {"mac": MAC, "mtu": 1400, "txqlen": 321, "promisc": True, "allmulti": True}
    assert ctr.sysctl("net/ipv4/conf/eth0/rp_filter") == "2"
    assert ctr.sysctl("net/ipv4/conf/eth0/accept_local") == "1"
    assert ctr.sysctl("net/ipv6/conf/eth0/hop_limit") == "33"
    # the backup: upstream's file name and format, the original attributes,
    # then the network (cnibox's own key, for GC; upstream's reader ignores it)
    assert backups(scratch) == ["ctr1_eth0.json"]
    b = before["link"]
    assert backup(scratch) == (
        "{\n"
        f' "mac": "{b["mac"]}",\n'
        f' "promisc": {json.dumps(b["promisc"])},\n'
        f' "mtu": {b["mtu"]},\n'
        f' "allmulti": {json.dumps(b["allmulti"])},\n'
        f' "txQLen": {b["txqlen"]},\n'
        ' "network": "tunenet"\n'
        "}")
    assert oct(os.stat(os.path.join(data_dir(scratch), "ctr1_eth0.json")).st_mode & 0o777) == "0o600"
    if version not in ("0.2.0", "0.3.1"):
        r = tuning("CHECK", host, ctr, c)
        assert r.ok, r
    else:
        assert_cni_error(tuning("CHECK", host, ctr, c), 1)
    r = tuning("DEL", host, ctr, c)
    assert r.ok and r.stdout == "", r
    after = snapshot(ctr, keys)
    assert after["link"] == before["link"]
    # sysctls are not restored (as upstream)
    assert after["sysctl"]["net/ipv4/conf/eth0/rp_filter"] == "2"
    assert backups(scratch) == []
    r = tuning("DEL", host, ctr, c)
    assert r.ok, ("repeat DEL", r)
    assert snapshot(ctr, keys) == after


@pytest.mark.parametrize("key,value,field,want", [
    ("mac", MAC, "mac", MAC),
    ("mtu", 1280, "mtu", 1280),
    ("promisc", True, "promisc", True),
    ("allmulti", True, "allmulti", True),
    ("txQLen", 0, "txqlen", 0),
    ("txQLen", 5000, "txqlen", 5000),
])
def test_single_key(host, ctr, scratch, key, value, field, want):
    prev = chain(host, ctr, scratch)
    before = link(ctr)
    c = tconf(scratch, prev, **{key: value})
    r = tuning("ADD", host, ctr, c)
    assert r.ok, r
    now = link(ctr)
    assert now[field] == want
    assert {k: v for k, v in now.items() if k != field} == {k: v for k, v in before.items() if k != field}
    # only that attribute is backed up
    bkey = {"txqlen": "txQLen"}.get(field, field)
    assert list(json.loads(backup(scratch))) == [bkey, "network"]
    assert tuning("CHECK", host, ctr, c).ok
    assert tuning("DEL", host, ctr, c).ok
    assert link(ctr) == before
    assert backups(scratch) == []


def test_allmulti_off(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    ctr.sh("ip link set eth0 allmulticast on")
    c = tconf(scratch, prev, allmulti=False)
    assert tuning("ADD", host, ctr, c).ok
    assert link(ctr)["allmulti"] is False
    assert json.loads(backup(scratch)) == {"allmulti": True, "network": "tunenet"}
    assert tuning("DEL", host, ctr, c).ok
    assert link(ctr)["allmulti"] is True


def test_promisc_false_changes_nothing(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    ctr.sh("ip link set eth0 promisc on")
    c = tconf(scratch, prev, promisc=False)
    assert tuning("ADD", host, ctr, c).ok
    assert link(ctr)["promisc"] is True
    assert backups(scratch) == []
    # CHECK wants promisc exactly as configured (upstream)
    assert_cni_error(tuning("CHECK", host, ctr, c), 999, "promisc")


def test_sysctl_only_no_backup(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    c = tconf(scratch, prev, sysctl={"net.ipv4.conf.eth0.arp_ignore": "1"})
    r = tuning("ADD", host, ctr, c)
    assert r.ok, r
    assert r.json == prev
    assert ctr.sysctl("net/ipv4/conf/eth0/arp_ignore") == "1"
    assert backups(scratch) == []
    assert tuning("CHECK", host, ctr, c).ok
    assert tuning("DEL", host, ctr, c).ok
    assert ctr.sysctl("net/ipv4/conf/eth0/arp_ignore") == "1"


def test_sysctl_namespace_wide_key(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    c = tconf(scratch, prev, sysctl={"net.ipv4.ip_forward": "1", "net.core.somaxconn": "1234"})
    assert tuning("ADD", host, ctr, c).ok
    assert ctr.sysctl("net.ipv4.ip_forward") == "1"
    assert ctr.sysctl("net.core.somaxconn") == "1234"
    assert host.sysctl("net.core.somaxconn") != "1234"


def test_ifname_with_dot(host, ctr, scratch):
    """IFNAME is replaced after the dots became slashes, so a dotted name works."""
    prev = chain(host, ctr, scratch, ifname="e.12")
    c = tconf(scratch, prev, sysctl={"net.ipv4.conf.IFNAME.arp_announce": "2"}, mtu=1300, mac=MAC)
    r = tuning("ADD", host, ctr, c, ifname="e.12")
    assert r.ok, r
    assert ctr.sysctl("net/ipv4/conf/e.12/arp_announce") == "2"
    assert link(ctr, "e.12")["mtu"] == 1300
    assert [i["mac"] for i in r.json["interfaces"] if i["name"] == "e.12"] == [MAC]
    assert backups(scratch) == ["ctr1_e.12.json"]
    assert tuning("CHECK", host, ctr, c, ifname="e.12").ok
    assert tuning("DEL", host, ctr, c, ifname="e.12").ok
    assert backups(scratch) == []


# ---------------------------------------------------------------- MAC sources and args.cni

MAC_CONF, MAC_ENV, MAC_RT, MAC_ARGS = ("c2:00:00:00:00:01", "c2:00:00:00:00:02",
                                       "c2:00:00:00:00:03", "c2:00:00:00:00:04")


@pytest.mark.parametrize("sources,want", [
    ({"conf"}, MAC_CONF),
    ({"conf", "env"}, MAC_ENV),
    ({"conf", "env", "rt"}, MAC_RT),
    ({"conf", "env", "rt", "args"}, MAC_ARGS),
    ({"env", "args"}, MAC_ARGS),
    ({"rt", "env"}, MAC_RT),
    ({"conf", "args"}, MAC_ARGS),
])
def test_mac_precedence(host, ctr, scratch, sources, want):
    prev = chain(host, ctr, scratch)
    c = tconf(scratch, prev)
    if "conf" in sources:
        c["mac"] = MAC_CONF
    if "rt" in sources:
        c["runtimeConfig"] = {"mac": MAC_RT}
    if "args" in sources:
        c["args"] = {"cni": {"mac": MAC_ARGS}}
    env = f"IgnoreUnknown=1;K8S_POD_NAME=x;MAC={MAC_ENV}" if "env" in sources else None
    r = tuning("ADD", host, ctr, c, args=env)
    assert r.ok, r
    assert link(ctr)["mac"] == want
    assert [i["mac"] for i in r.json["interfaces"] if i["name"] == "eth0"] == [want]
    assert tuning("CHECK", host, ctr, c, args=env).ok


def test_mac_normalised(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    c = tconf(scratch, prev, mac="C2-11-22-33-44-AA")
    r = tuning("ADD", host, ctr, c)
    assert r.ok, r
    assert link(ctr)["mac"] == "c2:11:22:33:44:aa"
    assert [i["mac"] for i in r.json["interfaces"] if i["name"] == "eth0"] == ["c2:11:22:33:44:aa"]
    assert tuning("CHECK", host, ctr, c).ok


def test_args_cni_overrides(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    before = link(ctr)
    c = tconf(scratch, prev, mtu=1400, promisc=True, mac=MAC,
              sysctl={"net.ipv4.conf.IFNAME.arp_ignore": "1", "net.ipv4.conf.IFNAME.arp_announce": "1"},
              args={"cni": {"mtu": 1300, "promisc": False, "mac": "", "allmulti": True, "txQLen": 77,
                            "sysctl": {"net.ipv4.conf.IFNAME.arp_announce": "2",
                                       "net.ipv4.conf.IFNAME.rp_filter": "2"}}})
    r = tuning("ADD", host, ctr, c)
    assert r.ok, r
    now = link(ctr)
    assert now == dict(before, mtu=1300, allmulti=True, txqlen=77)   # args.cni.mac "" clears the mac
    assert r.json == prev
    assert [ctr.sysctl(f"net/ipv4/conf/eth0/{k}") for k in ("arp_ignore", "arp_announce", "rp_filter")] == \
        ["1", "2", "2"]
    assert set(json.loads(backup(scratch))) == {"mtu", "allmulti", "txQLen", "network"}
    assert tuning("CHECK", host, ctr, c).ok
    assert tuning("DEL", host, ctr, c).ok
    assert link(ctr) == before


def test_args_cni_sysctl_without_config_sysctl(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    c = tconf(scratch, prev, args={"cni": {"sysctl": {"net.ipv4.conf.IFNAME.arp_ignore": "2"}}})
    assert tuning("ADD", host, ctr, c).ok
    assert ctr.sysctl("net/ipv4/conf/eth0/arp_ignore") == "2"


# ---------------------------------------------------------------- CHECK

@pytest.mark.parametrize("change,words", [
    ("ip link set eth0 mtu 1450", ["MTU", "1400", "1450"]),
    ("ip link set eth0 address c2:99:99:99:99:99", ["c2:99:99:99:99:99"]),
    ("ip link set eth0 txqueuelen 50", ["Queue", "50"]),
    ("ip link set eth0 allmulticast off", ["all-multicast"]),
    ("ip link set eth0 promisc off", ["promisc"]),
    ("echo 0 > /proc/sys/net/ipv4/conf/eth0/arp_ignore", ["/proc/sys/net/ipv4/conf/eth0/arp_ignore"]),
])
def test_check_notices_changes(host, ctr, scratch, change, words):
    prev = chain(host, ctr, scratch)
    c = tconf(scratch, prev, sysctl={"net.ipv4.conf.IFNAME.arp_ignore": "1"}, **ALL_ATTRS)
    assert tuning("ADD", host, ctr, c).ok
    assert tuning("CHECK", host, ctr, c).ok
    ctr.sh(change)
    assert_cni_error(tuning("CHECK", host, ctr, c), 999, *words)


def test_check_needs_link_and_prev_result(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    c = tconf(scratch, prev, mtu=1400)
    assert tuning("ADD", host, ctr, c).ok
    assert_cni_error(tuning("CHECK", host, ctr, tconf(scratch, None, mtu=1400)), 7, "prevResult")
    ctr.sh("ip link del eth0")
    assert_cni_error(tuning("CHECK", host, ctr, c), 999, "eth0")


# ---------------------------------------------------------------- DEL corner cases

def test_del_without_backup(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    before = link(ctr)
    r = tuning("DEL", host, ctr, tconf(scratch, prev, mtu=1400))
    assert r.ok, r
    assert link(ctr) == before


def test_del_empty_netns_removes_backup(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    c = tconf(scratch, prev, mtu=1400)
    assert tuning("ADD", host, ctr, c).ok
    r = tuning("DEL", host, "", c)
    assert r.ok, r
    assert backups(scratch) == []
    assert link(ctr)["mtu"] == 1400


def test_del_vanished_netns(host, make_ns, scratch):
    ctr = make_ns()
    prev = chain(host, ctr, scratch)
    c = tconf(scratch, prev, mtu=1400)
    assert tuning("ADD", host, ctr, c).ok
    path = ctr.path
    ctr.delete()
    r = tuning("DEL", host, path, c)
    assert r.ok, r
    assert backups(scratch) == []
    assert tuning("DEL", host, path, c).ok


def test_del_link_gone(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    c = tconf(scratch, prev, mtu=1400, mac=MAC)
    assert tuning("ADD", host, ctr, c).ok
    ctr.sh("ip link del eth0")
    r = tuning("DEL", host, ctr, c)
    assert r.ok, r
    assert backups(scratch) == []


# a corrupt backup, and a backup's write cut short (an ADD killed between
# writing the .tmp and renaming it): removed, the link left as it is
@pytest.mark.parametrize("name,text", [("ctr1_eth0.json", "{not json"), ("ctr1_eth0.json.tmp", '{"mtu":15')])
def test_del_corrupt_backup(host, ctr, scratch, name, text):
    prev = chain(host, ctr, scratch)
    os.makedirs(data_dir(scratch))
    with open(os.path.join(data_dir(scratch), name), "w") as f:
        f.write(text)
    before = link(ctr)
    assert tuning("DEL", host, ctr, tconf(scratch, prev)).ok
    assert backups(scratch) == []
    assert link(ctr) == before


# a FIFO or a symlink planted under the backup's name: neither waited on nor
# followed (the symlink leads to a readable backup that would change the
# link); DEL succeeds, the link as it is, the planted file left
@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_del_planted_backup_neither_blocks_nor_is_followed(host, ctr, scratch, kind):
    prev = chain(host, ctr, scratch)
    os.makedirs(data_dir(scratch))
    cnitest.plant(os.path.join(data_dir(scratch), "ctr1_eth0.json"), kind, '{\n "mtu": 1300\n}')
    before = link(ctr)
    r = tuning("DEL", host, ctr, tconf(scratch, prev), wrapper=["timeout", "10"])
    assert r.ok, r
    assert "not a regular file" in r.stderr
    assert link(ctr) == before
    assert backups(scratch) == ["ctr1_eth0.json"]


def test_del_reads_upstream_backup(host, ctr, scratch):
    """A backup written by upstream's tuning (same name and format) is restored."""
    prev = chain(host, ctr, scratch)
    orig = link(ctr)
    ctr.sh(f"ip link set eth0 mtu 1300 address {MAC} promisc on allmulticast on txqueuelen 9")
    os.makedirs(data_dir(scratch))
    with open(os.path.join(data_dir(scratch), "ctr1_eth0.json"), "w") as f:
        f.write(json.dumps({"mac": orig["mac"], "promisc": False, "mtu": orig["mtu"], "allmulti": False,
                            "txQLen": orig["txqlen"]}, indent=1))
    assert tuning("DEL", host, ctr, tconf(scratch, prev)).ok
    assert link(ctr) == orig
    assert backups(scratch) == []


def test_del_default_data_dir_untouched_without_backup(host, ctr, scratch):
    """DEL with the default dataDir and no backup there needs nothing (and makes nothing)."""
    prev = chain(host, ctr, scratch, containerid="cbt-none-xyz")
    c = tconf(scratch, prev)
    del c["dataDir"]
    existed = os.path.exists("/run/cni/tuning/cbt-none-xyz_eth0.json")
    r = tuning("DEL", host, ctr, c, containerid="cbt-none-xyz")
    assert r.ok, r
    assert os.path.exists("/run/cni/tuning/cbt-none-xyz_eth0.json") == existed


# ---------------------------------------------------------------- GC

def gc_conf(scratch, attachments, version="1.1.0"):
    c = {"cniVersion": version, "name": NET, "type": "tuning", "dataDir": data_dir(scratch)}
    if attachments is not None:
        c["cni.dev/valid-attachments"] = [{"containerID": a, "ifname": b} for a, b in attachments]
    return c


def test_gc_removes_stale_backups(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    c = tconf(scratch, prev, mtu=1400)
    for cid in ("ctr1", "ctr_2", "ctr3"):
        assert tuning("ADD", host, ctr, c, containerid=cid).ok
    d = data_dir(scratch)
    # besides: files not tuning's, backups cut short (an ADD killed while
    # writing the .tmp) of an attachment kept and of one not, and backups
    # that are not this network's to judge: another network's in the same
    # dataDir (whole, and a .tmp) and upstream's, which names no network
    other = '{"mtu": 1500, "network": "othernet"}'
    for name, text in (("notes.txt", "keep"), ("other.json", '{"keep": true}'), ("x_y.json", "[1]"),
                       ("ctr_2_eth0.json.tmp", '{"mtu":15'), ("ctr9_eth0.json.tmp", ""),
                       ("ctrB_net1.json", other), ("ctrC_net1.json.tmp", other),
                       ("ctrU_eth0.json", '{\n "mtu": 1500\n}')):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    theirs = ["ctrB_net1.json", "ctrC_net1.json.tmp", "ctrU_eth0.json"]
    assert backups(scratch) == sorted(["ctr1_eth0.json", "ctr3_eth0.json", "ctr9_eth0.json.tmp", "ctr_2_eth0.json",
                                       "ctr_2_eth0.json.tmp", "notes.txt", "other.json", "x_y.json"] + theirs)
    # no valid-attachments key: nothing to decide, nothing removed
    r = run_plugin("tuning", "GC", gc_conf(scratch, None), host=host)
    assert r.ok, r
    assert len(backups(scratch)) == 11
    # an older version has no GC
    assert_cni_error(run_plugin("tuning", "GC", gc_conf(scratch, [], "1.0.0"), host=host), 1)
    r = run_plugin("tuning", "GC", gc_conf(scratch, [("ctr_2", "eth0"), ("ctr1", "eth1")]), host=host)
    assert r.ok and r.stdout == "", r
    assert backups(scratch) == sorted(["ctr_2_eth0.json", "ctr_2_eth0.json.tmp", "notes.txt", "other.json",
                                       "x_y.json"] + theirs)
    assert run_plugin("tuning", "GC", gc_conf(scratch, []), host=host).ok
    assert backups(scratch) == sorted(["notes.txt", "other.json", "x_y.json"] + theirs)
    # the other network's GC takes its own, and leaves upstream's
    o = gc_conf(scratch, [])
    o["name"] = "othernet"
    assert run_plugin("tuning", "GC", o, host=host).ok
    assert backups(scratch) == ["ctrU_eth0.json", "notes.txt", "other.json", "x_y.json"]
    # the kernel is not touched by GC
    assert link(ctr)["mtu"] == 1400


def test_gc_missing_data_dir(host, scratch):
    r = run_plugin("tuning", "GC", gc_conf(scratch, []), host=host)
    assert r.ok, r


def test_status(host, scratch):
    r = run_plugin("tuning", "STATUS", gc_conf(scratch, None), host=host)
    assert r.ok, r


# ---------------------------------------------------------------- bad input: code 7, nothing changed

SYSCTL_KEYS = ["net/ipv4/conf/eth0/arp_ignore", "net/ipv4/conf/eth0/rp_filter"]
GOOD = dict(sysctl={"net.ipv4.conf.IFNAME.arp_ignore": "2"}, mac=MAC, mtu=1400, promisc=True)


def nothing_changed(ctr, scratch, before):
    assert snapshot(ctr, SYSCTL_KEYS) == before
    assert backups(scratch) == []


@pytest.mark.parametrize("bad,words", [
    ({"sysctl": {"kernel.hostname": "x"}}, ["kernel/hostname"]),
    ({"sysctl": {"/kernel/hostname": "x"}}, ["sysctl key"]),
    ({"sysctl": {"vm.swappiness": "1"}}, ["vm/swappiness"]),
    ({"sysctl": {"net": "1"}}, ["sysctl key"]),
    ({"sysctl": {"IFNAME.x": "1"}}, ["sysctl key"]),
    ({"sysctl": {"net.ipv4.conf.eth0.rp_filter": 1}}, ["sysctl"]),
    ({"sysctl": ["net.ipv4.ip_forward"]}, ["sysctl"]),
    ({"args": {"cni": {"sysctl": {"kernel.x": "1"}}}}, ["kernel/x"]),
    ({"mac": "c2:11:22:33:44"}, ["mac"]),
    ({"mac": "zz:11:22:33:44:55"}, ["mac"]),
    ({"runtimeConfig": {"mac": "nope"}}, ["mac"]),
    ({"runtimeConfig": {"mac": 5}}, ["mac"]),
    ({"args": {"cni": {"mac": "1:2:3"}}}, ["mac"]),
    ({"mtu": -1}, ["mtu"]),
    ({"mtu": "1400"}, ["mtu"]),
    ({"mtu": 1400.5}, ["mtu"]),
    ({"args": {"cni": {"mtu": -5}}}, ["mtu"]),
    ({"txQLen": -1}, ["txQLen"]),
    ({"promisc": "yes"}, ["promisc"]),
    ({"allmulti": 1}, ["allmulti"]),
    ({"dataDir": 5}, ["dataDir"]),
    ({"args": {"cni": []}}, ["args"]),
    ({"args": []}, ["args"]),
])
def test_bad_config(host, ctr, scratch, bad, words):
    prev = chain(host, ctr, scratch)
    before = snapshot(ctr, SYSCTL_KEYS)
    c = tconf(scratch, prev, **GOOD)
    c.update(bad)
    r = tuning("ADD", host, ctr, c)
    assert_cni_error(r, 7, *words)
    nothing_changed(ctr, scratch, before)
    assert_cni_error(tuning("CHECK", host, ctr, c), 7, *words)


def test_duplicate_sysctl_keys(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    before = snapshot(ctr, SYSCTL_KEYS)
    text = json.dumps(tconf(scratch, prev, mtu=1400))[:-1] + \
        ', "sysctl": {"net.ipv4.conf.eth0.rp_filter": "1", "net.ipv4.conf.eth0.rp_filter": "2"}}'
    r = run_plugin("tuning", "ADD", text, host=host, netns=ctr)
    assert_cni_error(r, 7, "duplicated sysctl keys")
    nothing_changed(ctr, scratch, before)
    assert_cni_error(run_plugin("tuning", "CHECK", text, host=host, netns=ctr), 7, "duplicated sysctl keys")
    # DEL does not judge the keys (as upstream)
    r = run_plugin("tuning", "DEL", text, host=host, netns=ctr)
    assert r.ok, r


def test_missing_prev_result(host, ctr, scratch):
    chain(host, ctr, scratch)
    before = snapshot(ctr, SYSCTL_KEYS)
    assert_cni_error(tuning("ADD", host, ctr, tconf(scratch, None, **GOOD)), 7, "prevResult")
    nothing_changed(ctr, scratch, before)


def test_bad_cni_args(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    before = snapshot(ctr, SYSCTL_KEYS)
    assert_cni_error(tuning("ADD", host, ctr, tconf(scratch, prev, **GOOD), args="FOO=bar"), 4, "FOO")
    assert_cni_error(tuning("ADD", host, ctr, tconf(scratch, prev, **GOOD), args="MAC=1:2"), 7, "mac")
    nothing_changed(ctr, scratch, before)


def test_bad_netns(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    assert_cni_error(tuning("ADD", host, "/tmp", tconf(scratch, prev, **GOOD)), 8)
    assert backups(scratch) == []


def test_missing_link(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    before = snapshot(ctr, SYSCTL_KEYS)
    r = tuning("ADD", host, ctr, tconf(scratch, prev, **GOOD), ifname="eth9")
    assert_cni_error(r, 999, "eth9")
    nothing_changed(ctr, scratch, before)


def test_kernel_failure_puts_everything_back(host, ctr, scratch):
    """A failure after some changes (MTU above the veth maximum) undoes them."""
    prev = chain(host, ctr, scratch)
    before = snapshot(ctr, SYSCTL_KEYS)
    c = tconf(scratch, prev, sysctl={"net.ipv4.conf.IFNAME.arp_ignore": "2"}, mac=MAC, promisc=True,
              mtu=70000)
    r = tuning("ADD", host, ctr, c)
    assert_cni_error(r, 999, "mtu")
    nothing_changed(ctr, scratch, before)


def test_missing_sysctl_changes_nothing(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    before = snapshot(ctr, SYSCTL_KEYS)
    c = tconf(scratch, prev, sysctl={"net.ipv4.conf.IFNAME.arp_ignore": "2",
                                     "net.ipv4.conf.IFNAME.no_such_sysctl": "1"}, mtu=1400)
    r = tuning("ADD", host, ctr, c)
    assert_cni_error(r, 999, "no_such_sysctl")
    nothing_changed(ctr, scratch, before)


def test_bad_sysctl_value_puts_back(host, ctr, scratch):
    """The kernel refuses a value: sysctls written before it get their old values."""
    prev = chain(host, ctr, scratch)
    before = snapshot(ctr, SYSCTL_KEYS)
    text = json.dumps(tconf(scratch, prev))[:-1] + \
        ', "sysctl": {"net.ipv4.conf.IFNAME.arp_ignore": "2", "net.ipv4.conf.IFNAME.rp_filter": "notanumber"}}'
    r = run_plugin("tuning", "ADD", text, host=host, netns=ctr)
    assert_cni_error(r, 999, "rp_filter")
    nothing_changed(ctr, scratch, before)


# ---------------------------------------------------------------- allowlist

def with_allowlist(scratch, lines):
    """A wrapper that runs the tuning applet in a private mount namespace
    whose /etc has cni/tuning/allowlist.conf (an overlay; the machine's /etc
    is not touched)."""
    d = os.path.join(scratch.path, "etc-overlay")
    os.makedirs(os.path.join(d, "cni", "tuning"), exist_ok=True)
    with open(os.path.join(d, "cni", "tuning", "allowlist.conf"), "w") as f:
        f.write("\n".join(lines) + "\n")
    exe = os.path.join(cnitest.cnibox_dir(), "tuning")
    w = os.path.join(scratch.path, "tuning-wrapper")
    with open(w, "w") as f:
        f.write("#!/bin/sh\n"
                f"exec unshare -m sh -c 'mount -t overlay overlay -o lowerdir={d}:/etc /etc && exec \"$0\"' {exe}\n")
    os.chmod(w, 0o755)
    return w


def test_allowlist(host, ctr, scratch):
    if subprocess.run(["which", "unshare"], capture_output=True).returncode != 0:
        pytest.skip("needs unshare")
    prev = chain(host, ctr, scratch)
    w = with_allowlist(scratch, ["  ^net\\.ipv4\\.conf\\.IFNAME\\.arp_(ignore|announce)$  ", "",
                                 "^net\\.core\\.somaxconn$"])
    before = snapshot(ctr, SYSCTL_KEYS)
    ok = tconf(scratch, prev, sysctl={"net.ipv4.conf.IFNAME.arp_ignore": "1", "net.core.somaxconn": "999"})
    r = run_plugin("tuning", "ADD", ok, host=host, netns=ctr, binary=w)
    assert r.ok, r
    assert ctr.sysctl("net/ipv4/conf/eth0/arp_ignore") == "1"
    before = snapshot(ctr, SYSCTL_KEYS)
    bad = tconf(scratch, prev, sysctl={"net.ipv4.conf.IFNAME.arp_ignore": "2",
                                       "net.ipv4.conf.eth0.rp_filter": "2"}, mtu=1400)
    r = run_plugin("tuning", "ADD", bad, host=host, netns=ctr, binary=w)
    assert_cni_error(r, 7, "net.ipv4.conf.eth0.rp_filter is not allowed", "arp_(ignore|announce)")
    nothing_changed(ctr, scratch, before)
    # without the allowlist the same config is accepted
    assert tuning("ADD", host, ctr, bad).ok


def test_allowlist_bad_regexp(host, ctr, scratch):
    if subprocess.run(["which", "unshare"], capture_output=True).returncode != 0:
        pytest.skip("needs unshare")
    prev = chain(host, ctr, scratch)
    w = with_allowlist(scratch, ["^net\\.(ipv4"])
    r = run_plugin("tuning", "ADD", tconf(scratch, prev, sysctl={"net.ipv4.ip_forward": "1"}),
                   host=host, netns=ctr, binary=w)
    assert_cni_error(r, 7, "regexp")
    # no sysctls: the allowlist is not consulted
    r = run_plugin("tuning", "ADD", tconf(scratch, prev, mtu=1400), host=host, netns=ctr, binary=w)
    assert r.ok, r


# ---------------------------------------------------------------- help

def test_help_lists_every_key():
    out = subprocess.run([cnitest.cnibox_binary(), "tuning", "--help"], capture_output=True, text=True).stdout
    for k in ("sysctl", "mac", "mtu", "promisc", "allmulti", "txQLen", "dataDir", "/run/cni/tuning",
              "allowlist.conf", "IFNAME", "runtimeConfig.mac", "args.cni", "CNI_ARGS MAC", "GC",
              "upstream's tuning has no GC"):
        assert k in out, k
    assert "NOT FINISHED" not in out
