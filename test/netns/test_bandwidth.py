"""bandwidth applet: chained after bridge (+host-local), against real namespaces (root).

bridge runs inside the `host` namespace (standing in for the machine's host
namespace) and makes eth0 in the container; bandwidth then shapes the host
end of that veth pair: a tbf for traffic to the container, an ifb fed by a
redirect filter for traffic from it. The qdiscs are read with `tc`, the
traffic is measured with a TCP socket pair of the test's own.
"""
import hashlib
import json
import os
import subprocess

import pytest

import cnitest
from cnitest import assert_cni_error, run_plugin

NET = "bwnet"
BR = "cbtbw0"
SUBNET = "10.67.0"
VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
MBIT = 1000 * 1000
# 8 Mbit/s each way. Bursts of 250 KB (0.25 s at the rate): the queue (burst
# + 25 ms) is deep enough that TCP's losses never leave the bucket idle, and
# the first burst is spent long before the measured window. The tbf counts
# whole frames, so TCP's payload arrives at 1448/1514 of the rate (7.65).
RATE = 8 * MBIT
BURST = 2000000
BOTH = dict(ingressRate=RATE, ingressBurst=BURST, egressRate=RATE, egressBurst=BURST)


def bridge_conf(scratch, version="1.0.0"):
    return {"cniVersion": version, "name": NET, "type": "bridge", "bridge": BR, "isGateway": True,
            "ipam": {"type": "host-local", "dataDir": os.path.join(scratch.path, "ipam"),
                     "ranges": [[{"subnet": SUBNET + ".0/24"}]]}}


def chain(host, ctr, scratch, version="1.0.0", ifname="eth0", containerid="ctr1"):
    """bridge ADD; returns its result (bandwidth's prevResult)."""
    r = run_plugin("bridge", "ADD", bridge_conf(scratch, version), host=host, netns=ctr,
                   ifname=ifname, containerid=containerid)
    assert r.ok, r
    return r.json


def bwconf(prev, version="1.0.0", name=NET, **kw):
    c = {"cniVersion": version, "name": name, "type": "bandwidth"}
    if prev is not None:
        c["prevResult"] = prev
    c.update(kw)
    return c


def bw(cmd, host, ctr, conf, **kw):
    kw.setdefault("netns", ctr)
    return run_plugin("bandwidth", cmd, conf, host=host, **kw)


def ifb_name(containerid="ctr1", net=NET):
    return "bwp" + hashlib.sha512((net + containerid).encode()).hexdigest()[:12]


def host_veth(prev):
    """The host end named in a bridge result."""
    return [i["name"] for i in prev["interfaces"] if i["name"].startswith("veth") and not i.get("sandbox")][0]


def qdiscs(host, dev):
    """`tc -j -raw qdisc show dev DEV` without the default root (noqueue 0:)."""
    r = host.sh(f"tc -j -raw qdisc show dev {dev}", check=False)
    if r.returncode != 0:
        return None
    return [q for q in json.loads(r.stdout or "[]") if q.get("handle") != "0:"]


def ifbs(host):
    """{name: (alias, mtu, up)} of the ifb links in the host namespace."""
    out = host.sh("ip -d -j link show type ifb").stdout
    return {l["ifname"]: (l.get("ifalias"), l["mtu"], "UP" in l["flags"]) for l in json.loads(out or "[]")}


def redirects(host, dev):
    """(match, flowid, [(action kind, direction, to_dev, verdict)]) of the u32 filters under ffff:."""
    out = host.sh(f"tc -j filter show dev {dev} parent ffff:", check=False).stdout
    found = []
    for f in json.loads(out or "[]"):
        o = f.get("options", {})
        if "match" in o:
            acts = [(a["kind"], a.get("direction"), a.get("to_dev"), a["control_action"]["type"])
                    for a in o.get("actions", [])]
            found.append((f["protocol"], f["pref"], o["match"]["value"], o["match"]["mask"], o["flowid"], acts))
    return found


def psched_tick():
    with open("/proc/net/psched") as f:
        v = [int(x, 16) for x in f.read().split()]
    if v[2] == 1000000000:
        v[0] = v[1]
    return v[0] / v[1] * (v[2] / 1e6)


def go_u32(f):
    """Go's uint32(float64) on amd64: through int64, then the low 32 bits."""
    v = int(f) if -2.0**63 <= f < 2.0**63 else -2**63
    return v & 0xffffffff


def tbf(rate_bits, burst_bits):
    """What `tc -j -raw` shows for upstream's tbf of this rate and burst."""
    rate, burst = rate_bits // 8, burst_bits // 8
    buffer = go_u32(go_u32(burst * 1e6 / rate) * psched_tick())
    limit = (go_u32(rate * (1e6 * (25 / 1000.0)) / 1e6) + burst) & 0xffffffff
    return {"rate": rate, "burst_raw": f"{buffer:x}", "limit": limit}


def tbf_of(q):
    o = q["options"]
    return {"rate": o["rate"], "burst_raw": o["burst_raw"], "limit": o["limit"]}


def assert_unshaped(host, prev):
    """No qdisc of ours on the host veth, no ifb."""
    assert qdiscs(host, host_veth(prev)) == []
    assert ifbs(host) == {}


def assert_shaped(host, prev, ingress=None, egress=None, containerid="ctr1", ifname="eth0"):
    """The host veth and the ifb shaped as upstream shapes them."""
    veth = host_veth(prev)
    qs = {q["kind"]: q for q in qdiscs(host, veth)}
    if ingress:
        assert qs["tbf"]["handle"] == "1:" and qs["tbf"]["root"] is True
        assert tbf_of(qs["tbf"]) == tbf(*ingress)
    else:
        assert "tbf" not in qs
    if not egress:
        assert "ingress" not in qs
        assert ifb_name(containerid) not in ifbs(host)
        return
    name = ifb_name(containerid)
    mtu = host.link(veth)["mtu"]
    assert ifbs(host)[name] == (f"cni-bandwidth net={NET} ifname={ifname}", mtu, True)
    assert qs["ingress"]["handle"] == "ffff:" and qs["ingress"]["parent"] == "ffff:fff1"
    assert redirects(host, veth) == [("all", 1, "0", "0", "1:1", [("mirred", "egress", name, "stolen")])]
    (q,) = qdiscs(host, name)
    assert q["kind"] == "tbf" and q["handle"] == "1:" and q["root"] is True
    assert tbf_of(q) == tbf(*egress)


def with_ifb(prev, host, containerid="ctr1"):
    """prevResult with the ifb appended, as bandwidth's ADD prints it."""
    want = json.loads(json.dumps(prev))
    name = ifb_name(containerid)
    mac = host.link(name)["address"]
    want["interfaces"].append({"name": name, "mac": mac})
    return want


# ---------------------------------------------------------------- ADD / CHECK / DEL

@pytest.mark.parametrize("version", VERSIONS)
def test_both_directions(host, ctr, scratch, version):
    prev = chain(host, ctr, scratch, version)
    c = bwconf(prev, version, ingressRate=8 * MBIT, ingressBurst=80000, egressRate=16 * MBIT, egressBurst=160000)
    r = bw("ADD", host, ctr, c)
    assert r.ok, r
    assert r.json == with_ifb(prev, host)
    assert_shaped(host, prev, (8 * MBIT, 80000), (16 * MBIT, 160000))
    if version not in ("0.3.0", "0.3.1"):
        r = bw("CHECK", host, ctr, c)
        assert r.ok, r
    else:
        assert_cni_error(bw("CHECK", host, ctr, c), 1)
    r = bw("DEL", host, ctr, c)
    assert r.ok and r.stdout == "", r
    assert_unshaped(host, prev)
    assert bw("DEL", host, ctr, c).ok


def test_ingress_only(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    c = bwconf(prev, ingressRate=RATE, ingressBurst=BURST)
    r = bw("ADD", host, ctr, c)
    assert r.ok, r
    assert r.json == prev
    assert_shaped(host, prev, ingress=(RATE, BURST))
    assert bw("CHECK", host, ctr, c).ok
    assert bw("DEL", host, ctr, c).ok
    assert_unshaped(host, prev)


def test_egress_only_ifb_gets_the_veth_mtu(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    host.sh(f"ip link set {host_veth(prev)} mtu 1400")
    c = bwconf(prev, egressRate=RATE, egressBurst=BURST)
    r = bw("ADD", host, ctr, c)
    assert r.ok, r
    assert r.json == with_ifb(prev, host)
    assert_shaped(host, prev, egress=(RATE, BURST))
    assert ifbs(host)[ifb_name()][1] == 1400
    assert bw("CHECK", host, ctr, c).ok
    assert bw("DEL", host, ctr, c).ok
    assert_unshaped(host, prev)


def test_large_numbers_as_upstream(host, ctr, scratch):
    """A rate past 2^32 bytes/s (TCA_TBF_RATE64) and the largest burst."""
    prev = chain(host, ctr, scratch)
    big = (8 * 2**33, 8 * (2**32 - 2))
    c = bwconf(prev, ingressRate=big[0], ingressBurst=big[1], egressRate=8, egressBurst=big[1])
    r = bw("ADD", host, ctr, c)
    assert r.ok, r
    assert_shaped(host, prev, big, (8, big[1]))
    assert bw("CHECK", host, ctr, c).ok


def test_runtime_config_capability(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    c = bwconf(prev, capabilities={"bandwidth": True},
               runtimeConfig={"bandwidth": {"ingressRate": RATE, "ingressBurst": BURST,
                                            "egressRate": 2 * RATE, "egressBurst": BURST}})
    r = bw("ADD", host, ctr, c)
    assert r.ok, r
    assert_shaped(host, prev, (RATE, BURST), (2 * RATE, BURST))
    assert bw("CHECK", host, ctr, c).ok
    assert bw("DEL", host, ctr, c).ok
    assert_unshaped(host, prev)


@pytest.mark.parametrize("top", [{"ingressRate": 2 * RATE, "ingressBurst": BURST},
                                 {"IngressRate": 2 * RATE, "ingressburst": BURST}])
def test_top_level_wins(host, ctr, scratch, top):
    prev = chain(host, ctr, scratch)
    c = bwconf(prev, runtimeConfig={"bandwidth": {"egressRate": RATE, "egressBurst": BURST}}, **top)
    assert bw("ADD", host, ctr, c).ok
    assert_shaped(host, prev, ingress=(2 * RATE, BURST))


@pytest.mark.parametrize("keys", [{"ingressRate": 0, "ingressBurst": 0, "egressRate": 0, "egressBurst": 0},
                                  {}, {"egressRate": None},
                                  {"ingressRate": 0, "runtimeConfig": {"bandwidth": BOTH}},
                                  {"runtimeConfig": {"bandwidth": {}}},
                                  {"runtimeConfig": {"bandwidth": None}}])
def test_zero_passes_prev_result_through(host, ctr, scratch, keys):
    """All zero or absent: prevResult unchanged, nothing made (any key at the
    top level, even 0 or null, leaves runtimeConfig.bandwidth unused)."""
    prev = chain(host, ctr, scratch)
    r = bw("ADD", host, ctr, bwconf(prev, **keys))
    assert r.ok, r
    assert r.json == prev
    assert_unshaped(host, prev)
    assert bw("CHECK", host, ctr, bwconf(prev, **keys)).ok


def test_zero_without_prev_result(host, ctr):
    r = bw("ADD", host, ctr, bwconf(None))
    assert r.ok, r
    assert r.json["cniVersion"] == "1.0.0" and not r.json.get("interfaces")
    assert ifbs(host) == {}


def test_repeated_add_resets(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    first = bwconf(prev, **BOTH)
    assert bw("ADD", host, ctr, first).ok
    second = bwconf(prev, ingressRate=2 * RATE, ingressBurst=2 * BURST, egressRate=3 * RATE, egressBurst=BURST)
    r = bw("ADD", host, ctr, second)
    assert r.ok, r
    assert r.json == with_ifb(prev, host)
    assert_shaped(host, prev, (2 * RATE, 2 * BURST), (3 * RATE, BURST))
    assert list(ifbs(host)) == [ifb_name()]
    assert bw("CHECK", host, ctr, second).ok
    assert_cni_error(bw("CHECK", host, ctr, first), 999, "rate")
    # now ingress only: the ifb and its redirect go
    third = bwconf(prev, ingressRate=RATE, ingressBurst=BURST)
    assert bw("ADD", host, ctr, third).ok
    assert_shaped(host, prev, ingress=(RATE, BURST))
    assert bw("DEL", host, ctr, third).ok
    assert_unshaped(host, prev)


def test_check_notices_changes(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    c = bwconf(prev, **BOTH)
    assert bw("ADD", host, ctr, c).ok
    veth, ifb = host_veth(prev), ifb_name()
    host.sh(f"tc qdisc change dev {veth} root handle 1: tbf rate 9mbit burst 100kb latency 25ms")
    assert_cni_error(bw("CHECK", host, ctr, c), 999, "rate", veth)
    assert bw("ADD", host, ctr, c).ok
    assert bw("CHECK", host, ctr, c).ok
    host.sh(f"tc qdisc change dev {ifb} root handle 1: tbf rate 8mbit burst 100kb latency 50ms")
    assert_cni_error(bw("CHECK", host, ctr, c), 999, "limit", ifb)
    assert bw("ADD", host, ctr, c).ok
    host.sh(f"tc filter del dev {veth} parent ffff:")
    assert_cni_error(bw("CHECK", host, ctr, c), 999, "redirect", ifb)
    host.sh(f"tc qdisc del dev {veth} ingress")
    assert_cni_error(bw("CHECK", host, ctr, c), 999, "ingress qdisc")
    host.sh(f"ip link del {ifb}")
    assert_cni_error(bw("CHECK", host, ctr, c), 999, ifb)
    host.sh(f"tc qdisc del dev {veth} root")
    assert_cni_error(bw("CHECK", host, ctr, c), 999, "qdisc")


def test_failed_add_leaves_nothing(host, ctr, scratch):
    """The kernel refuses the ifb's tbf (a rate under one byte per second)
    after the veth's tbf, the ifb and the redirect were made: all go again."""
    prev = chain(host, ctr, scratch)
    r = bw("ADD", host, ctr, bwconf(prev, ingressRate=RATE, ingressBurst=BURST, egressRate=7, egressBurst=BURST))
    assert_cni_error(r, 999, "tbf", ifb_name())
    assert_unshaped(host, prev)


# ---------------------------------------------------------------- traffic

SERVER = r'''
import json, socket, sys, time
addr, port, skip, dur = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
total, t0, mark = 0, None, None
while True:
    b = c.recv(1 << 18)
    if not b:
        break
    now = time.monotonic()
    t0 = t0 or now
    total += len(b)
    if mark is None and now - t0 >= skip:
        mark = (now, total)
    if now - t0 >= dur:
        break
c.close()
print(json.dumps({"bits": (total - mark[1]) * 8 / (now - mark[0]), "total": total}), flush=True)
'''

CLIENT = r'''
import socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])))
c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 17)
buf, end = b"x" * 65536, time.monotonic() + float(sys.argv[3])
try:
    while time.monotonic() < end:
        c.sendall(buf)
except OSError:
    pass
'''


def measure(server_ns, client_ns, addr, skip=1.0, dur=3.0, port=5201):
    """Application bits per second of one TCP stream from client_ns to addr
    (in server_ns), counted from `skip` to `dur` seconds after its first byte
    (the tbf's burst and TCP's slow start come before)."""
    srv = subprocess.Popen(["ip", "netns", "exec", server_ns.name, "python3", "-c", SERVER,
                            addr, str(port), str(skip), str(dur)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert srv.stdout.readline().strip() == "ready", srv.stderr.read()
        subprocess.run(["ip", "netns", "exec", client_ns.name, "python3", "-c", CLIENT, addr, str(port),
                        str(dur + 5)], check=True, timeout=dur + 30)
        out, err = srv.communicate(timeout=30)
        return json.loads(out)["bits"]
    finally:
        cnitest.stop_process(srv)


def test_traffic_limited_both_ways(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    gw, ip = SUBNET + ".1", SUBNET + ".2"
    c = bwconf(prev, **BOTH)
    assert bw("ADD", host, ctr, c).ok
    down = measure(ctr, host, ip)   # host -> container: the veth's tbf
    up = measure(host, ctr, gw)     # container -> host: the ifb's tbf
    print(f"shaped: to the container {down / MBIT:.2f} Mbit/s, from it {up / MBIT:.2f} Mbit/s "
          f"(configured {RATE / MBIT:.0f})")
    assert abs(down - RATE) <= 0.15 * RATE, down
    assert abs(up - RATE) <= 0.15 * RATE, up
    assert bw("DEL", host, ctr, c).ok
    down = measure(ctr, host, ip, skip=0.3, dur=1.0)
    up = measure(host, ctr, gw, skip=0.3, dur=1.0)
    print(f"unshaped: to the container {down / MBIT:.0f} Mbit/s, from it {up / MBIT:.0f} Mbit/s")
    assert down > 5 * RATE and up > 5 * RATE


def test_cnitool_passes_the_capability(host, ctr, scratch):
    """A runtime's view: cnitool runs bridge (host-local) -> bandwidth with
    CAP_ARGS; only bandwidth, which declares the capability, gets it."""
    netconf, cache = os.path.join(scratch.path, "net.d"), os.path.join(scratch.path, "cache")
    os.makedirs(netconf)
    br = bridge_conf(scratch)
    del br["cniVersion"], br["name"]
    with open(os.path.join(netconf, "10-bw.conflist"), "w") as f:
        json.dump({"cniVersion": "1.0.0", "name": NET,
                   "plugins": [br, {"type": "bandwidth", "capabilities": {"bandwidth": True}}]}, f)
    caps = {"bandwidth": {"ingressRate": RATE, "ingressBurst": BURST, "egressRate": 2 * RATE, "egressBurst": BURST}}

    def tool(*args):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NETCONFPATH": netconf, "CNI_PATH": cnitest.cnibox_dir(),
               "CNI_CACHE_DIR": cache, "CAP_ARGS": json.dumps(caps)}
        cmd = ["ip", "netns", "exec", host.name, "env", "-i"] + [f"{k}={v}" for k, v in env.items()] + \
              [os.path.join(cnitest.cnibox_dir(), "cnitool")] + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p
        return p.stdout

    res = json.loads(tool("add", NET, ctr.path))
    cid = "cnitool-" + hashlib.sha512(ctr.path.encode()).hexdigest()[:20]
    assert res["interfaces"][-1]["name"] == ifb_name(cid)
    assert_shaped(host, res, (RATE, BURST), (2 * RATE, BURST), containerid=cid)
    down = measure(ctr, host, SUBNET + ".2")
    print(f"cnitool: to the container {down / MBIT:.2f} Mbit/s")
    assert abs(down - RATE) <= 0.15 * RATE, down
    tool("check", NET, ctr.path)
    tool("del", NET, ctr.path)
    assert ifbs(host) == {}
    assert "eth0" not in ctr.links()


# ---------------------------------------------------------------- bad input

BAD = [
    ("rate without burst", dict(ingressRate=RATE), "burst must also be set"),
    ("burst without rate", dict(egressBurst=BURST), "rate must also be set"),
    ("burst too large", dict(egressRate=RATE, egressBurst=8 * (2**32 - 1)), "4GB"),
    ("negative rate", dict(ingressRate=-1, ingressBurst=BURST), "ingressRate"),
    ("string rate", dict(egressRate="8000000", egressBurst=BURST), "egressRate"),
    ("float burst", dict(ingressRate=RATE, ingressBurst=1.5), "ingressBurst"),
    ("bool rate", dict(ingressRate=True, ingressBurst=BURST), "ingressRate"),
    ("too large for uint64", dict(ingressRate=2**64, ingressBurst=BURST), "ingressRate"),
    ("runtime rate without burst", dict(runtimeConfig={"bandwidth": {"egressRate": RATE}}), "burst must"),
    ("runtime bandwidth not an object", dict(runtimeConfig={"bandwidth": [RATE]}), "runtimeConfig.bandwidth"),
    ("runtimeConfig not an object", dict(runtimeConfig="fast"), "runtimeConfig"),
    ("bad runtime key under top-level keys", dict(BOTH, runtimeConfig={"bandwidth": {"ingressRate": "x"}}),
     "runtimeConfig.bandwidth.ingressRate"),
]


@pytest.mark.parametrize("what,keys,word", BAD, ids=[b[0] for b in BAD])
def test_bad_rates(host, ctr, scratch, what, keys, word):
    prev = chain(host, ctr, scratch)
    for cmd in ("ADD", "CHECK"):
        r = bw(cmd, host, ctr, bwconf(prev, **keys))
        assert r.stdout.lstrip().startswith("{"), r
        assert_cni_error(r, 7, word)
    assert_unshaped(host, prev)
    # DEL does not read the keys: it succeeds
    assert bw("DEL", host, ctr, bwconf(prev, **keys)).ok


def test_missing_prev_result(host, ctr):
    assert_cni_error(bw("ADD", host, ctr, bwconf(None, **BOTH)), 7, "chained")
    assert_cni_error(bw("CHECK", host, ctr, bwconf(None, **BOTH)), 7, "chained")
    assert ifbs(host) == {}


def test_ifname_not_in_container(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    assert_cni_error(bw("ADD", host, ctr, bwconf(prev, **BOTH), ifname="eth1"), {7, 999}, "eth1", "veth peer")
    assert_unshaped(host, prev)


def test_host_veth_not_in_prev_result(host, ctr, scratch):
    prev = chain(host, ctr, scratch)
    veth = host_veth(prev)
    without = dict(prev, interfaces=[i for i in prev["interfaces"] if i["name"] != veth])
    assert_cni_error(bw("ADD", host, ctr, bwconf(without, **BOTH)), 7, "no veth peer", veth)
    no_ifs = dict(prev, interfaces=[])
    assert_cni_error(bw("ADD", host, ctr, bwconf(no_ifs, **BOTH)), 7, "no interfaces")
    assert_unshaped(host, prev)


def test_macvlan_has_no_veth_peer(host, ctr):
    """A macvlan (like ipvlan or host-device) has no host end to shape."""
    ctr.sh("ip link add m0 type veth peer name m1 && ip link add eth0 link m0 type macvlan mode bridge")
    prev = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "mac": ctr.link("eth0")["address"],
                                                   "sandbox": ctr.path}],
            "ips": [{"address": "10.68.0.2/24", "interface": 0}]}
    r = bw("ADD", host, ctr, bwconf(prev, **BOTH))
    assert_cni_error(r, 7, "eth0", "no veth peer", "macvlan")
    assert ifbs(host) == {}
    assert bw("DEL", host, ctr, bwconf(prev, **BOTH)).ok


def test_version_020_refused(host, ctr, scratch):
    prev = chain(host, ctr, scratch, "0.2.0")
    for cmd in ("ADD", "DEL"):
        assert_cni_error(bw(cmd, host, ctr, bwconf(prev, "0.2.0", **BOTH)), 1, "0.2.0")
    assert ifbs(host) == {}


def test_version_reply():
    r = run_plugin("bandwidth", "VERSION", "{}")
    assert r.json["supportedVersions"] == ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]


# ---------------------------------------------------------------- DEL

def _netns_empty(host, ctr, prev, c):
    return bw("DEL", host, ctr, c, netns="")


def _netns_gone(host, ctr, prev, c):
    ctr.delete()
    return bw("DEL", host, ctr, c)


def _host_link_gone(host, ctr, prev, c):
    host.sh(f"ip link del {host_veth(prev)}")
    return bw("DEL", host, ctr, c)


def _ifb_gone(host, ctr, prev, c):
    host.sh(f"ip link del {ifb_name()}")
    r = bw("DEL", host, ctr, c)
    assert qdiscs(host, host_veth(prev)) == []
    return r


def _repeated(host, ctr, prev, c):
    assert bw("DEL", host, ctr, c).ok
    return bw("DEL", host, ctr, c)


def _no_prev_result(host, ctr, prev, c):
    return bw("DEL", host, ctr, bwconf(None))


@pytest.mark.parametrize("case", [_netns_empty, _netns_gone, _host_link_gone, _ifb_gone, _repeated, _no_prev_result],
                         ids=lambda f: f.__name__.strip("_"))
def test_del_idempotent(host, ctr, scratch, case):
    prev = chain(host, ctr, scratch)
    c = bwconf(prev, **BOTH)
    assert bw("ADD", host, ctr, c).ok
    r = case(host, ctr, prev, c)
    assert r.ok and r.stdout == "", r
    assert ifbs(host) == {}


# ---------------------------------------------------------------- two interfaces, GC, STATUS

def test_second_interface_of_a_container(host, ctr, scratch):
    """Upstream names the ifb after network and container: a second
    interface's egress shaping would take the first one's ifb. It is refused;
    its ingress shaping and its DEL leave the first one's alone."""
    prev0 = chain(host, ctr, scratch)
    prev1 = chain(host, ctr, scratch, ifname="eth1")
    assert bw("ADD", host, ctr, bwconf(prev0, **BOTH)).ok
    r = bw("ADD", host, ctr, bwconf(prev1, **BOTH), ifname="eth1")
    assert_cni_error(r, 7, "eth1", "eth0", ifb_name())
    assert qdiscs(host, host_veth(prev1)) == []
    r = bw("ADD", host, ctr, bwconf(prev1, ingressRate=RATE, ingressBurst=BURST), ifname="eth1")
    assert r.ok, r
    assert r.json == prev1
    (q,) = qdiscs(host, host_veth(prev1))
    assert q["kind"] == "tbf" and tbf_of(q) == tbf(RATE, BURST)
    assert bw("DEL", host, ctr, bwconf(prev1), ifname="eth1").ok
    assert qdiscs(host, host_veth(prev1)) == []
    assert_shaped(host, prev0, (RATE, BURST), (RATE, BURST))
    assert bw("CHECK", host, ctr, bwconf(prev0, **BOTH)).ok
    assert bw("DEL", host, ctr, bwconf(prev0)).ok
    assert ifbs(host) == {}


def test_gc(host, make_ns, scratch):
    a, b, c = make_ns(), make_ns(), make_ns()
    prevs = {n: chain(host, ns, scratch, containerid=n) for n, ns in (("a", a), ("b", b), ("c", c))}
    for n, ns in (("a", a), ("b", b)):
        assert bw("ADD", host, ns, bwconf(prevs[n], **BOTH), containerid=n).ok
    assert bw("ADD", host, c, bwconf(prevs["c"], name="othernet", **BOTH), containerid="c").ok
    # not marked and up, or not named as bandwidth names its ifbs: never touched
    host.sh("ip link add bwp000000000000 type ifb && ip link set bwp000000000000 up")
    host.sh("ip link add bwpnothexdigit type ifb")
    # not marked, down, named bwp<12 hex>: an ADD killed between creating and marking it
    host.sh("ip link add bwp0123456789ab type ifb")
    other = ifb_name("c", "othernet")
    kept = {other, "bwp000000000000", "bwpnothexdigit"}
    before = set(ifbs(host))
    assert before == {ifb_name("a"), ifb_name("b"), "bwp0123456789ab"} | kept

    def gc(valid=None, **kw):
        conf = {"cniVersion": "1.1.0", "name": NET, "type": "bandwidth", **kw}
        if valid is not None:
            conf["cni.dev/valid-attachments"] = [{"containerID": v, "ifname": "eth0"} for v in valid]
        return run_plugin("bandwidth", "GC", conf, host=host, netns=None, env={"CNI_NETNS": None,
                                                                                "CNI_CONTAINERID": None,
                                                                                "CNI_IFNAME": None})
    r = gc()
    assert r.ok, r
    assert set(ifbs(host)) == before   # no list: nothing known to be stale
    r = gc(["a"])
    assert r.ok, r
    assert set(ifbs(host)) == {ifb_name("a")} | kept
    r = gc([])
    assert r.ok, r
    assert set(ifbs(host)) == kept


def test_add_replaces_an_unmarked_leftover_of_its_name(host, ctr, scratch):
    """An ADD killed between creating its ifb and marking it leaves it down and
    without an alias: the next ADD of the attachment takes its place; one that
    is up is somebody's and makes the ADD fail."""
    prev = chain(host, ctr, scratch)
    name = ifb_name()
    host.sh(f"ip link add {name} type ifb")
    r = bw("ADD", host, ctr, bwconf(prev, **BOTH))
    assert r.ok, r
    assert ifbs(host)[name][0] == f"cni-bandwidth net={NET} ifname=eth0"
    assert bw("DEL", host, ctr, bwconf(prev)).ok
    assert ifbs(host) == {}
    host.sh(f"ip link add {name} type ifb && ip link set {name} up")
    r = bw("ADD", host, ctr, bwconf(prev, **BOTH))
    assert not r.ok and r.json["code"] == 999 and "exists and is not this attachment's" in r.json["msg"], r
    assert set(ifbs(host)) == {name} and ifbs(host)[name][0] is None
    host.sh(f"ip link del {name}")


def test_status_and_old_versions_of_gc(host):
    conf = {"cniVersion": "1.1.0", "name": NET, "type": "bandwidth"}
    assert run_plugin("bandwidth", "STATUS", conf, host=host).ok
    conf["cniVersion"] = "1.0.0"
    assert_cni_error(run_plugin("bandwidth", "GC", conf, host=host), 1)


def test_long_network_name_hashed_in_alias(host, ctr, scratch):
    net = "n" * 230
    prev = chain(host, ctr, scratch)
    assert bw("ADD", host, ctr, bwconf(prev, name=net, **BOTH)).ok
    name = ifb_name("ctr1", net)
    mark = "sha512:" + hashlib.sha512(net.encode()).hexdigest()[:32]
    assert ifbs(host)[name][0] == f"cni-bandwidth net={mark} ifname=eth0"
    assert bw("CHECK", host, ctr, bwconf(prev, name=net, **BOTH)).ok
    assert bw("DEL", host, ctr, bwconf(prev, name=net)).ok
    assert ifbs(host) == {}


def test_help_lists_every_key():
    p = subprocess.run([cnitest.cnibox_binary(), "bandwidth", "--help"], capture_output=True, text=True)
    assert p.returncode == 0
    for word in ("ingressRate", "ingressBurst", "egressRate", "egressBurst", "runtimeConfig.bandwidth",
                 "ADD", "DEL", "CHECK", "GC", "STATUS"):
        assert word in p.stdout, word


def test_no_exec(host, ctr, scratch):
    """Nothing is exec'd: tc through netlink only (strace counts execve)."""
    if not os.path.exists("/usr/bin/strace"):
        pytest.skip("strace not installed")
    prev = chain(host, ctr, scratch)
    log = os.path.join(scratch.path, "strace.log")
    r = bw("ADD", host, ctr, bwconf(prev, **BOTH), wrapper=["strace", "-f", "-e", "trace=execve", "-o", log])
    assert r.ok, r
    with open(log) as f:
        execs = [l for l in f if "execve(" in l and "= 0" in l]
    assert len(execs) == 1, execs
