"""Hostile input: every case must fail with exit 1, a spec error object on
stdout with the right code and a message naming the problem, and leave
NOTHING behind: no new file under the scratch dataDir (nor the dir itself
when it did not exist) and no new link, address or route in the "host" and
"container" namespaces.

The right code comes from the spec (SPEC.md error table) and upstream's skel.
Where upstream's plugins answer 999 ("internal", the skel's wrapper for any
untyped Go error) for what the spec has a code for, cnibox answers the
spec's code; each such case says so in its `why`.
"""
import atexit
import json
import os
import subprocess
import sys

import pytest

import cnitest
from cnitest import assert_cni_error, run_plugin

BR = "cbthost0"
SUBNET = "10.77.0.0/24"


class Case:
    def __init__(self, id, plugin, conf, code, words=(), cmd="ADD", env=None, containerid="hostile1",
                 ifname="eth0", netns="ctr", args=None, setup=None, why="", ipam_ran=False):
        self.id, self.plugin, self.conf, self.code, self.words = id, plugin, conf, code, words
        self.cmd, self.env, self.containerid, self.ifname = cmd, env, containerid, ifname
        self.netns, self.args, self.setup, self.why = netns, args, setup, why
        # IPAM really allocated before the failure: its store's bookkeeping
        # (network dir, lock, last_reserved_ip.N, cnibox's index state) may
        # stay, as after any ADD+DEL; no lease and no index entry may.
        self.ipam_ran = ipam_ran


def hl_ipam(data, **kw):
    ipam = {"type": "host-local", "dataDir": data, "ranges": [[{"subnet": SUBNET}]]}
    ipam.update(kw)
    return ipam


def hl(data, version="1.0.0", name="hostile", **kw):
    return {"cniVersion": version, "name": name, "type": "host-local", "ipam": hl_ipam(data, **kw)}


def hl_range(data, **r):
    rng = {"subnet": SUBNET}
    rng.update(r)
    return hl(data, ranges=[[rng]])


def bridge(data, ipam=None, **kw):
    c = {"cniVersion": "1.0.0", "name": "hostile", "type": "bridge", "bridge": BR,
         "ipam": ipam if ipam is not None else hl_ipam(data)}
    c.update(kw)
    return c


def ptp(data, ipam=None, **kw):
    c = {"cniVersion": "1.0.0", "name": "hostile", "type": "ptp",
         "ipam": ipam if ipam is not None else hl_ipam(data)}
    c.update(kw)
    return c


def static(addresses=None, version="1.0.0", **ipam):
    i = {"type": "static"}
    if addresses is not None:
        i["addresses"] = addresses
    i.update(ipam)
    return {"cniVersion": version, "name": "hostile", "type": "static", "ipam": i}


LOOPBACK = {"cniVersion": "1.0.0", "name": "hostile", "type": "loopback"}

# A prevResult for the chained plugins (no kernel state behind it: every case
# below fails before anything reads it).
PREV = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": "/x"}],
        "ips": [{"address": "10.77.0.2/24", "interface": 0}]}
# Each applet's smallest config with the keys it requires, for the cases that
# put one bad key in it.
APPLET_KEYS = {
    "bridge": {"bridge": BR}, "macvlan": {"master": "lo"}, "ipvlan": {"master": "lo"}, "vlan": {"master": "lo"},
    "vrf": {"vrfname": "vrf0"}, "host-device": {"device": "eth9"},
}
CHAINED = {"portmap", "firewall", "tuning", "bandwidth", "sbr", "vrf"}


def short(v):
    """A value as a case id: long strings shortened."""
    t = str(v).replace("+", "")
    return t if len(t) <= 24 else f"{t[:8]}...({len(t)})"


def applet_conf(data, applet, **kw):
    c = {"cniVersion": "1.0.0", "name": "hostile", "type": applet}
    c.update(APPLET_KEYS.get(applet, {}))
    if applet in CHAINED:
        c["prevResult"] = PREV
    elif applet in ("bridge", "ptp", "macvlan", "ipvlan", "vlan", "host-local", "dummy"):
        c["ipam"] = hl_ipam(data)
    if applet == "portmap":
        c["capabilities"] = {"portMappings": True}
    c.update(kw)
    return c


# Setups: run before the snapshot, so what they make is not "left over".
def take_whole_range(t):
    """Fills a /30 range (one usable address besides the gateway) with another container."""
    r = run_plugin("host-local", "ADD", hl(t.data, ranges=[[{"subnet": "10.77.9.0/30"}]]),
                   host=t.host, netns=t.ctr, containerid="owner")
    assert r.ok, r


def make_bridge(t):
    # No IPv6 link-local address: the kernel adds one when a port gives the
    # bridge carrier and takes it away again when the carrier goes, from its
    # link-watch work up to a second later, which a state snapshot right after
    # the plugin returned could catch half-way.
    t.host.sh(f"ip link add {BR} type bridge && ip link set {BR} addrgenmode none && ip link set {BR} up")


def make_eth0_in_ctr(t):
    t.ctr.sh("ip link add eth0 type veth peer name eth0peer")


def make_bridge_and_fill(t):
    make_bridge(t)
    take_whole_range(t)


def full_range(data):
    return hl_ipam(data, ranges=[[{"subnet": "10.77.9.0/30"}]])


NO_FILE = "/etc/hostname"          # a plain file, not a namespace
NO_NS = "/run/netns/cbt-does-not-exist-0"
FIFO = f"/tmp/cbt-hostile-fifo-{os.getpid()}"   # a FIFO: opening it for reading would wait for a writer
PROC_FILE = "/proc/self/status"     # under /proc (procfs' magic), not a namespace


def make_fifo(t):
    if not os.path.exists(FIFO):
        os.mkfifo(FIFO)
        atexit.register(os.unlink, FIFO)

CI = "containerid"   # the env var's name as messages put it (case-insensitive match)

CASES = [
    # ---- required environment (skel): code 4 naming the variable
    *[Case(f"add-missing-{v}", "bridge", lambda d: bridge(d), 4, [v], env={v: None})
      for v in ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH")],
    Case("add-empty-CNI_CONTAINERID", "host-local", lambda d: hl(d), 4, ["CNI_CONTAINERID"],
         env={"CNI_CONTAINERID": ""}),
    Case("del-missing-CNI_IFNAME", "ptp", lambda d: ptp(d), 4, ["CNI_IFNAME"], cmd="DEL",
         env={"CNI_IFNAME": None}),
    Case("check-missing-CNI_NETNS", "bridge", lambda d: bridge(d), 4, ["CNI_NETNS"], cmd="CHECK",
         env={"CNI_NETNS": None}),
    Case("unknown-command", "host-local", lambda d: hl(d), 4, ["FROB"], cmd="FROB"),

    # ---- stdin that is not a config: code 6
    Case("bad-json", "bridge", lambda d: '{"cniVersion": "1.0.0", "name": ', 6),
    Case("json-array", "host-local", lambda d: '["cniVersion", "1.0.0"]', 6),
    Case("json-string", "ptp", lambda d: '"bridge"', 6),
    Case("json-number", "static", lambda d: "42", 6),
    Case("empty-stdin", "bridge", lambda d: "", 6),
    Case("json-trailing-garbage", "host-local", lambda d: json.dumps(hl(d)) + " }", 6),
    Case("deep-nesting", "bridge", lambda d: "[" * 100000 + "]" * 100000, 6,
         why="must not overflow the stack; upstream: 6 'exceeded max depth'"),
    Case("deep-nesting-in-object", "host-local",
         lambda d: '{"cniVersion":"1.0.0","name":"n","x":' + "[" * 100000 + "]" * 100000 + "}", {6, 7},
         why="upstream stops at depth 10000 (6); cnibox's parser has no depth limit and no recursion, so "
             "it reads the object and then finds no ipam (7): either way no crash"),

    # ---- versions: code 1
    Case("unknown-cniVersion", "bridge", lambda d: dict(bridge(d), cniVersion="9.9.9"), 1, ["9.9.9"]),
    Case("garbage-cniVersion", "host-local", lambda d: dict(hl(d), cniVersion="1.0"), 1, ["1.0"]),
    Case("check-with-0.3.1", "bridge", lambda d: dict(bridge(d), cniVersion="0.3.1"), 1, ["CHECK"],
         cmd="CHECK"),
    Case("gc-with-1.0.0", "host-local", lambda d: hl(d), 1, ["GC"], cmd="GC",
         why="spec: GC needs 1.1.0, code 1 (upstream skel since 1.2; Go 1.1.1 predates GC: code 4)"),
    Case("status-with-1.0.0", "bridge", lambda d: bridge(d), 1, ["STATUS"], cmd="STATUS",
         why="spec: STATUS needs 1.1.0, code 1"),

    # ---- network name (code 7) and container id (code 4), as upstream's skel
    Case("name-with-slash", "host-local", lambda d: hl(d, name="a/b"), 7, ["network name"]),
    Case("name-dotdot", "host-local", lambda d: hl(d, name="../escape"), 7, ["network name"]),
    Case("name-dot", "bridge", lambda d: dict(bridge(d), name="."), 7, ["network name"]),
    Case("name-missing", "host-local", lambda d: {k: v for k, v in hl(d).items() if k != "name"}, 7,
         ["name"]),
    Case("name-not-utf8-ish", "host-local", lambda d: hl(d, name="n\u00ff"), 7, ["network name"]),
    Case("containerid-slash", "host-local", lambda d: hl(d), 4, [CI], containerid="a/b"),
    Case("containerid-dotdot", "bridge", lambda d: bridge(d), 4, [CI], containerid="../../etc"),
    Case("containerid-leading-dot", "host-local", lambda d: hl(d), 4, [CI], containerid=".hidden"),

    # ---- ifname (code 4)
    Case("ifname-too-long", "bridge", lambda d: bridge(d), 4, ["interface name"], ifname="a" * 16),
    Case("ifname-dot", "ptp", lambda d: ptp(d), 4, ["interface name"], ifname="."),
    Case("ifname-dotdot", "bridge", lambda d: bridge(d), 4, ["interface name"], ifname=".."),
    Case("ifname-slash", "host-local", lambda d: hl(d), 4, ["interface name"], ifname="a/b"),
    Case("ifname-colon", "bridge", lambda d: bridge(d), 4, ["interface name"], ifname="eth0:1"),
    Case("ifname-space", "ptp", lambda d: ptp(d), 4, ["interface name"], ifname="eth 0"),
    Case("ifname-tab", "bridge", lambda d: bridge(d), 4, ["interface name"], ifname="eth\t0"),
    Case("ifname-too-long-on-del", "bridge", lambda d: bridge(d), 4, ["interface name"], cmd="DEL",
         ifname="x" * 40),

    # ---- CNI_NETNS that is not a namespace: code 8 (the library's ErrInvalidNetNS;
    # upstream's plugins wrap the same error as 999)
    Case("netns-plain-file", "bridge", lambda d: bridge(d), 8, [NO_FILE], netns=NO_FILE),
    Case("netns-missing", "ptp", lambda d: ptp(d), {3, 8}, [NO_NS], netns=NO_NS,
         why="3 (container does not exist) is the spec's other fitting code"),
    Case("netns-a-directory", "loopback", lambda d: LOOPBACK, 8, ["/run"], netns="/run"),
    Case("loopback-netns-plain-file", "loopback", lambda d: LOOPBACK, 8, [NO_FILE], netns=NO_FILE),
    # a FIFO must not hang a DEL (the ADD's own path check refuses it first)
    *[Case(f"{p}-{cmd.lower()}-netns-a-fifo", p, conf, 8, [FIFO], cmd=cmd, netns=FIFO, setup=make_fifo)
      for p, conf in (("bridge", lambda d: bridge(d)), ("loopback", lambda d: LOOPBACK))
      for cmd in ("ADD", "DEL")],
    # a file under /proc is procfs, as namespace files were before Linux 3.19: it must be a net namespace
    *[Case(f"bridge-{cmd.lower()}-netns-a-proc-file", "bridge", lambda d: bridge(d), 8,
           [PROC_FILE, "not a valid network namespace"], cmd=cmd, netns=PROC_FILE) for cmd in ("ADD", "DEL")],

    # ---- CNI_ARGS: code 4 (an invalid environment variable; upstream: 999)
    Case("cni-args-no-equals", "host-local", lambda d: hl(d), 4, ["foo"], args="foo"),
    Case("cni-args-two-equals", "host-local", lambda d: hl(d), 4, ["a=b=c"], args="a=b=c"),
    Case("cni-args-unknown-key", "host-local", lambda d: hl(d), 4, ["FOO"], args="FOO=bar"),
    Case("cni-args-bad-ip", "host-local", lambda d: hl(d), {4, 7}, ["1.2.3"], args="IP=1.2.3"),
    # A well-formed request that cannot be met is an allocation failure, which
    # cnibox reports as 100 (plugin-specific; upstream 999), like an exhausted range.
    Case("cni-args-ip-out-of-range", "host-local", lambda d: hl(d), 100, ["10.99.0.5"],
         args="IP=10.99.0.5"),
    Case("cni-args-ip-is-gateway", "host-local", lambda d: hl(d), 100, ["10.77.0.1", "gateway"],
         args="IP=10.77.0.1"),
    Case("cni-args-static-bad-gateway", "static", lambda d: static([]), 4, ["zz"],
         args="IP=10.0.0.1/24;GATEWAY=zz"),

    # ---- host-local config: code 7 (upstream: 999 for all of these)
    Case("subnet-garbage", "host-local", lambda d: hl_range(d, subnet="10.0.0.300/24"), 7,
         ["10.0.0.300/24"]),
    Case("subnet-host-bits", "host-local", lambda d: hl_range(d, subnet="10.0.0.5/24"), 7,
         ["host bits"]),
    Case("subnet-slash32", "host-local", lambda d: hl_range(d, subnet="10.0.0.5/32"), 7,
         ["10.0.0.5/32"]),
    Case("subnet-slash31", "host-local", lambda d: hl_range(d, subnet="10.0.0.4/31"), 7,
         ["10.0.0.4/31"]),
    Case("subnet-v6-slash128", "host-local", lambda d: hl_range(d, subnet="fd00::1/128"), 7,
         ["fd00::1/128"]),
    Case("subnet-missing", "host-local", lambda d: hl(d, ranges=[[{"rangeStart": "10.0.0.2"}]]), 7,
         ["subnet"]),
    Case("ranges-empty", "host-local", lambda d: hl(d, ranges=[]), 7, ["range"]),
    Case("ranges-not-a-list", "host-local", lambda d: hl(d, ranges={"subnet": SUBNET}), 7, ["ranges"]),
    Case("range-start-outside", "host-local", lambda d: hl_range(d, rangeStart="10.1.0.1"), 7,
         ["10.1.0.1"]),
    Case("range-end-before-start", "host-local",
         lambda d: hl_range(d, rangeStart="10.77.0.50", rangeEnd="10.77.0.10"), 7, ["10.77.0."]),
    Case("ranges-overlap", "host-local",
         lambda d: hl(d, ranges=[[{"subnet": SUBNET}], [{"subnet": "10.77.0.0/25"}]]), 7, ["overlap"]),
    Case("two-v4-with-0.2.0", "host-local",
         lambda d: hl(d, version="0.2.0", ranges=[[{"subnet": SUBNET}], [{"subnet": "10.78.0.0/24"}]]),
         7, ["0.2.0"]),
    Case("route-dst-garbage", "host-local", lambda d: hl(d, routes=[{"dst": "notanet"}]), 7, ["notanet"]),
    Case("route-gw-garbage", "host-local", lambda d: hl(d, routes=[{"dst": "0.0.0.0/0", "gw": "xx"}]), 7,
         ["xx"]),
    Case("route-not-object", "host-local", lambda d: hl(d, routes=["0.0.0.0/0"]), 7, ["routes"]),
    Case("datadir-not-a-string", "host-local", lambda d: hl(d, dataDir=7), 7, ["dataDir"]),
    Case("args-cni-ips-garbage", "host-local", lambda d: dict(hl(d), args={"cni": {"ips": ["notip"]}}), 7,
         ["notip"]),
    Case("runtimeconfig-ips-outside", "host-local",
         lambda d: dict(hl(d), runtimeConfig={"ips": ["10.99.9.9"]}), 100, ["10.99.9.9"]),
    Case("datadir-dotdot", "host-local", lambda d: hl(d, dataDir=d + "/../escape"), 7, ["dataDir", ".."],
         why="upstream accepts it; cnibox refuses '..' in a path it writes below"),
    Case("datadir-dotdot-bridge", "bridge", lambda d: bridge(d, ipam=hl_ipam(d, dataDir="../../tmp")), 7,
         ["dataDir"]),
    Case("resolvconf-missing", "host-local", lambda d: hl(d, resolvConf="/nonexistent/resolv.conf"),
         {5, 7}, ["/nonexistent/resolv.conf"], why="a file the config names cannot be read"),
    Case("long-network-name", "host-local", lambda d: hl(d, name="n" * 300), {5, 7},
         why="a name the file system cannot hold; the spec's regexp has no length limit"),
    Case("range-exhausted", "host-local", lambda d: hl(d, ranges=[[{"subnet": "10.77.9.0/30"}]]),
         100, ["10.77.9.", "no IP addresses available"], setup=take_whole_range,
         why="no spec code fits (11 'try again later' would invite a retry loop); upstream: 999"),

    # ---- ipam type / delegation
    # Delegation errors keep upstream's 999 and texts ("failed to find plugin",
    # "invalid plugin name"): a type is never joined to a path when it holds a '/'.
    Case("ipam-type-unknown", "bridge", lambda d: bridge(d, ipam={"type": "nosuchipam"}), {7, 999},
         ["nosuchipam"]),
    Case("ipam-type-path-dotdot", "bridge", lambda d: bridge(d, ipam={"type": "../cni/host-local"}), {7, 999},
         ["../cni/host-local"]),
    Case("ipam-type-absolute", "ptp", lambda d: ptp(d, ipam={"type": "/usr/lib/cni/host-local"}), {7, 999},
         ["/usr/lib/cni/host-local"]),
    Case("ipam-not-object", "bridge", lambda d: bridge(d, ipam="host-local"), 7, ["ipam"]),
    Case("ptp-without-ipam", "ptp", lambda d: {"cniVersion": "1.0.0", "name": "hostile", "type": "ptp"},
         7, ["ipam"]),
    Case("ipam-exhausted-bridge", "bridge", lambda d: bridge(d, ipam=full_range(d)), 100,
         ["10.77.9."], setup=make_bridge_and_fill,
         why="the veth made before IPAM ran must be removed again"),
    Case("ipam-exhausted-ptp", "ptp", lambda d: ptp(d, ipam=full_range(d)), 100,
         ["10.77.9."], setup=take_whole_range),

    # ---- static
    Case("static-address-not-cidr", "static", lambda d: static([{"address": "10.0.0.1"}]), 7, ["10.0.0.1"]),
    Case("static-no-ipam", "static", lambda d: {"cniVersion": "1.0.0", "name": "hostile", "type": "static"},
         7, ["ipam"]),
    Case("static-bad-route", "static", lambda d: static([{"address": "10.0.0.1/24"}], routes=[{"dst": "x"}]),
         7, ["x"]),
    Case("static-two-v4-0.2.0", "static",
         lambda d: static([{"address": "10.0.0.1/24"}, {"address": "10.0.0.2/24"}], version="0.2.0"),
         7, ["0.2.0"]),

    # ---- bridge / ptp keys
    Case("bridge-vlan-out-of-range", "bridge", lambda d: bridge(d, vlan=5000), 7, ["5000"]),
    Case("bridge-hairpin-and-promisc", "bridge", lambda d: bridge(d, hairpinMode=True, promiscMode=True),
         7, ["hairpin"]),
    Case("bridge-mtu-string", "bridge", lambda d: bridge(d, mtu="big"), 7, ["mtu"]),
    Case("ptp-mtu-string", "ptp", lambda d: ptp(d, mtu="big"), 7, ["mtu"]),
    Case("bridge-name-not-string", "bridge", lambda d: bridge(d, bridge=["br0"]), 7, ["bridge"]),
    Case("bridge-name-too-long", "bridge", lambda d: bridge(d, bridge="b" * 16), 7, ["b" * 16]),
    Case("bridge-on-existing-non-bridge", "bridge", lambda d: bridge(d, bridge="lo"), {7, 999}, ["lo"],
         why="a runtime conflict, not a malformed config: upstream 999"),
    Case("bridge-ifname-exists", "bridge", lambda d: bridge(d), {999}, ["eth0"],
         setup=lambda t: (make_bridge(t), make_eth0_in_ctr(t)),
         why="spec: ADD must fail when the interface exists; the lease taken first is released"),
    Case("ptp-ifname-exists", "ptp", lambda d: ptp(d), {999}, ["eth0"], setup=make_eth0_in_ctr,
         ipam_ran=True, why="ptp runs IPAM before it makes the veth; the lease is released again"),

    # ---- prevResult that is not a result: code 6
    Case("check-prevresult-garbage", "bridge", lambda d: bridge(d, prevResult={"ips": 5}), 6,
         ["prevResult"], cmd="CHECK",
         why="upstream ignores it and fails later with 999"),
    Case("add-prevresult-not-object", "static",
         lambda d: dict(static([{"address": "10.0.0.1/24"}]), prevResult="x"), 6, ["prevResult"]),

    # ---- every applet: malformed stdin, names and numbers out of range, paths
    *[Case(f"{a}-nul-byte", a, lambda d, a=a: '{"cniVersion":"1.0.0","name":"n\x00","type":"%s"}' % a, 6)
      for a in cnitest.PLUGIN_APPLETS],
    *[Case(f"{a}-deep-nesting", a, lambda d: "[" * 100000 + "{" + "]" * 100000, 6,
           why="no crash, no stack overflow: the parser does not recurse")
      for a in cnitest.PLUGIN_APPLETS if a != "bridge"],
    *[Case(f"{a}-name-not-utf8", a, lambda d, a=a: '{"cniVersion":"1.0.0","name":"n\xff","type":"%s"}' % a, 7,
           ["network name"], why="the byte reads as U+FFFD, which the name's characters exclude")
      for a in cnitest.PLUGIN_APPLETS],
    *[Case(f"{a}-{k}-{short(v)}", a, lambda d, a=a, k=k, v=v, extra=extra: applet_conf(d, a, **{k: v}, **extra),
           7, [k] if words is None else words)
      for a, k, v, extra, words in [
          ("bridge", "mtu", 1e30, {}, None), ("bridge", "vlan", -1, {}, ["VLAN"]),
          ("ptp", "mtu", 4294967296, {}, None), ("macvlan", "mtu", -5, {}, ["MTU"]),
          ("ipvlan", "mtu", 1e30, {}, None), ("vlan", "vlanId", 4095, {}, ["VLAN"]),
          ("vlan", "vlanId", 1e30, {}, None), ("tap", "mtu", 1e30, {}, None), ("tap", "owner", -2, {}, None),
          ("tap", "owner", 4294967296, {}, None), ("tuning", "mtu", 1e30, {}, None),
          ("tuning", "txQLen", -1, {}, None), ("bandwidth", "ingressRate", -1, {"ingressBurst": 10}, None),
          ("bandwidth", "egressBurst", 1e30, {"egressRate": 10}, None), ("sbr", "table", 1e30, {}, None),
          ("vrf", "table", 4294967296, {}, None), ("firewall", "iptablesAdminChainName", "A" * 100000, {}, None),
          ("portmap", "runtimeConfig", {"portMappings": [{"hostPort": 70000, "containerPort": 80}]}, {},
           ["70000"]),
          ("portmap", "runtimeConfig", {"portMappings": [{"hostPort": 80, "containerPort": -1}]}, {}, ["-1"]),
          ("host-device", "device", "d" * 10000, {}, ["device name"]),
          # paths the administrator configures: absolute, no '..' (upstream takes a relative one)
          ("flannel", "subnetFile", "run/flannel/subnet.env", {}, None),
          ("flannel", "dataDir", "var/lib/cni/flannel", {}, None),
          ("tuning", "dataDir", "run/cni/tuning", {}, None), ("tuning", "dataDir", "/run/../tmp", {}, None),
          ("host-device", "kernelpath", "/sys/devices/../../etc", {}, ["kernel device path"]),
      ]],
    *[Case(f"{a}-ipam-{k}-relative", a, lambda d, a=a, ipam=ipam: applet_conf(d, a, ipam=ipam), 7, [k])
      for a, k, ipam in [("host-local", "dataDir", hl_ipam("var/lib/cni/networks")),
                         ("bridge", "dataDir", hl_ipam("data")),
                         ("ptp", "daemonSocketPath", {"type": "dhcp", "daemonSocketPath": "run/cni/dhcp.sock"})]],
]


def bookkeeping(path, entry):
    """A host-local store file that is not a lease nor an attachment's index entry."""
    base = os.path.basename(path)
    if entry[0] == "dir":
        return True
    return base == "lock" or base.startswith("last_reserved_ip.") or path.endswith(".cnibox/state")


@pytest.fixture
def t(host, ctr, scratch):
    class T:
        pass
    x = T()
    x.host, x.ctr, x.scratch = host, ctr, scratch
    x.data = os.path.join(scratch.path, "data")   # does not exist until something writes it
    return x


def test_enough_cases():
    assert len(CASES) >= 30
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    # every plugin applet has its own cases
    assert {c.plugin for c in CASES} >= set(cnitest.PLUGIN_APPLETS)
    listed = subprocess.run([cnitest.cnibox_binary(), "--list"], capture_output=True, text=True, check=True)
    assert set(listed.stdout.split()) - {"cnitool"} == set(cnitest.PLUGIN_APPLETS)


BIG = 100 * 1000 * 1000

# Runs argv[1:] in a child of its own and prints the child's peak RSS (KiB)
# on stderr: measured from a fresh small process, not from pytest's memory,
# which a child of pytest would count until its exec.
PEAK_RSS = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write("peak-rss-kib %d\\n" % usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


@pytest.fixture(scope="module")
def big_stdin(tmp_path_factory):
    """A 100 MB config: one valid object with a huge string in it."""
    p = tmp_path_factory.mktemp("big") / "conf.json"
    head = '{"cniVersion":"1.0.0","name":"hostile","type":"loopback","pad":"'
    with open(p, "w") as f:
        f.write(head)
        chunk = "p" * (1 << 20)
        left = BIG - len(head) - 2
        while left > 0:
            f.write(chunk[:left])
            left -= len(chunk)
        f.write('"}')
    assert os.path.getsize(p) == BIG
    return p


@pytest.mark.parametrize("applet", cnitest.PLUGIN_APPLETS)
@pytest.mark.parametrize("source", ["100MB-file", "endless-pipe"])
def test_oversize_stdin_bounded_memory(applet, source, t, big_stdin):
    """Stdin past 8 MiB (a 100 MB config, or /dev/zero that never ends):
    code 6 naming the limit, at once, in bounded memory, nothing left."""
    files_before = cnitest.tree(t.scratch.path)
    host_before, ctr_before = t.host.state(), t.ctr.state()
    env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "big1", "CNI_NETNS": t.ctr.path, "CNI_IFNAME": "eth0",
           "CNI_PATH": cnitest.cnibox_dir(), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    cmd = ["ip", "netns", "exec", t.host.name, sys.executable, "-c", PEAK_RSS,
           os.path.join(cnitest.cnibox_dir(), applet)]
    with open(big_stdin if source == "100MB-file" else "/dev/zero", "rb") as stdin:
        # run_plugin's timeout: a plugin that kept reading would fail here
        p = subprocess.run(cmd, stdin=stdin, capture_output=True, text=True, env=env, timeout=60)
    assert_cni_error(cnitest.PluginResult(p), 6, "larger than 8 MiB")
    peak = [int(line.split()[1]) for line in p.stderr.splitlines() if line.startswith("peak-rss-kib ")]
    assert peak and peak[0] < 64 * 1024, p.stderr
    assert cnitest.tree(t.scratch.path) == files_before
    assert t.host.state() == host_before and t.ctr.state() == ctr_before


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile(case, t):
    if case.setup:
        case.setup(t)
    files_before = cnitest.tree(t.scratch.path)
    host_before, ctr_before = t.host.state(), t.ctr.state()

    conf = case.conf(t.data)
    netns = {"ctr": t.ctr}.get(case.netns, case.netns) if isinstance(case.netns, str) else case.netns
    r = run_plugin(case.plugin, case.cmd, conf, host=t.host, netns=netns, containerid=case.containerid,
                   ifname=case.ifname, args=case.args, env=case.env)

    assert_cni_error(r, case.code, *case.words)
    files = cnitest.tree(t.scratch.path)
    if case.ipam_ran:
        files = {k: v for k, v in files.items() if k not in files_before and not bookkeeping(k, v)}
        files_before = {}
    assert files == files_before, "files left under the scratch dir"
    assert t.host.state() == host_before, "host namespace changed"
    assert t.ctr.state() == ctr_before, "container namespace changed"
