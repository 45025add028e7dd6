"""sbr applet: chained after bridge (+host-local), against real namespaces (root).

bridge runs inside the `host` namespace and makes the container's interface
(net1, or eth0 and net1 for a multi-homed container); sbr then adds the
source rules and tables in the container. The multi-homed test proves with
traffic that a reply leaves through the interface the request came in on.
"""
import fcntl
import json
import os
import subprocess
import threading
import time

import pytest

from cnitest import assert_cni_error, run_plugin

NET = "sbrnet"
VERSIONS = ["0.2.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
SUBNET4, GW4, IP4 = "10.91.0.0/24", "10.91.0.1", "10.91.0.2"
SUBNET6, GW6, IP6 = "fd91::/64", "fd91::1", "fd91::2"


def no_dad(*nss):
    """New IPv6 addresses are usable at once (no DAD wait in the bridge ADD)."""
    for ns in nss:
        ns.sh("sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0")


def bridge_conf(scratch, version="1.0.0", br="cbtsbr1", subnets=(SUBNET4,), routes=(), net=NET):
    return {"cniVersion": version, "name": net, "type": "bridge", "bridge": br, "isGateway": True,
            "ipam": {"type": "host-local", "dataDir": os.path.join(scratch.path, "ipam"),
                     "ranges": [[{"subnet": s}] for s in subnets],
                     "routes": [{"dst": d} for d in routes]}}


def attach(host, ctr, scratch, ifname="net1", version="1.0.0", **kw):
    """bridge ADD of `ifname`; returns its result (the prevResult of sbr)."""
    r = run_plugin("bridge", "ADD", bridge_conf(scratch, version, **kw), host=host, netns=ctr,
                   ifname=ifname, containerid="ctr1")
    assert r.ok, r
    return r.json


def sconf(prev, version="1.0.0", **kw):
    c = {"cniVersion": version, "name": NET, "type": "sbr"}
    if prev is not None:
        c["prevResult"] = prev
    c.update(kw)
    return c


def sbr(cmd, host, ctr, conf, ifname="net1", **kw):
    return run_plugin("sbr", cmd, conf, host=host, netns=ctr, ifname=ifname, containerid="ctr1", **kw)


def rules(ns):
    """The rules with a source: {(src, table)} ("from 10.91.0.2 lookup 100" -> ("10.91.0.2", "100"))."""
    out = set()
    for fam in ("-4", "-6"):
        for r in json.loads(ns.sh(f"ip -j {fam} rule show").stdout):
            if r.get("src", "all") != "all":
                src = r["src"] + (f'/{r["srclen"]}' if "srclen" in r else "")
                out.add((src, str(r["table"])))
    return out


def routes(ns, table):
    """Routes of `table` ("main", "100"), both families: {(dst, gateway, dev, prefsrc)}; the
    link-local prefix fe80::/64 is left out."""
    out = set()
    for fam in ("-4", "-6"):
        # a table that never held a route of the family is an error ("does not exist")
        p = ns.sh(f"ip -j {fam} route show table {table}", check=False)
        for r in json.loads(p.stdout) if p.returncode == 0 else []:
            if r["dst"] != "fe80::/64":
                out.add((r["dst"], r.get("gateway"), r.get("dev"), r.get("prefsrc")))
    return out


def snapshot(ns):
    """Every rule (with its priority) and route of the namespace; not the
    link-local ones, which the kernel adds when their DAD ends."""
    outs = ns.multi(["ip -4 rule show", "ip -6 rule show", "ip -4 route show table all",
                     "ip -6 route show table all"])
    return [[line for line in out.splitlines() if "fe80:" not in line] for out in outs]


# ---------------------------------------------------------------- ADD / CHECK / DEL

@pytest.mark.parametrize("version", VERSIONS)
def test_ipv4_table_per_address(host, ctr, scratch, version):
    prev = attach(host, ctr, scratch, version=version, routes=["0.0.0.0/0"])
    assert routes(ctr, "main") == {("default", GW4, "net1", None), (SUBNET4, None, "net1", IP4)}
    c = sconf(prev, version)
    r = sbr("ADD", host, ctr, c)
    assert r.ok, r
    assert r.json == prev
    assert rules(ctr) == {(IP4, "100")}
    assert routes(ctr, "100") == {("default", GW4, "net1", None), (SUBNET4, None, "net1", IP4)}
    assert routes(ctr, "main") == set()           # moved out, as upstream
    if version in ("0.4.0", "1.0.0", "1.1.0"):
        assert sbr("CHECK", host, ctr, c).ok
    r = sbr("DEL", host, ctr, c)
    assert r.ok and r.stdout == "", r
    assert rules(ctr) == set()
    assert routes(ctr, "100") == set()
    # the moved routes are back in main, but the default route (it would
    # take over the container's default route)
    assert routes(ctr, "main") == {(SUBNET4, None, "net1", IP4)}
    assert sbr("DEL", host, ctr, c).ok
    # and ADD works again on the same interface
    assert sbr("ADD", host, ctr, c).ok
    assert rules(ctr) == {(IP4, "100")}
    assert routes(ctr, "100") == {("default", GW4, "net1", None), (SUBNET4, None, "net1", IP4)}


def test_dual_stack(host, ctr, scratch):
    no_dad(host, ctr)
    prev = attach(host, ctr, scratch, subnets=(SUBNET4, SUBNET6), routes=["0.0.0.0/0", "::/0"])
    c = sconf(prev)
    r = sbr("ADD", host, ctr, c)
    assert r.ok, r
    assert rules(ctr) == {(IP4, "100"), (IP6, "101")}
    # Routes without source or gateway (the IPv6 prefix route) go into every
    # address's table, as upstream copies them.
    assert routes(ctr, "100") == {("default", GW4, "net1", None), (SUBNET4, None, "net1", IP4),
                                  (SUBNET6, None, "net1", None)}
    assert routes(ctr, "101") == {("default", GW6, "net1", None), (SUBNET6, None, "net1", None)}
    assert routes(ctr, "main") == set()
    rule6 = json.loads(ctr.sh("ip -j -6 rule show").stdout)
    assert [r.get("srclen", 128) for r in rule6 if r.get("src") == IP6] == [128]
    # the kernel's choice for the address as source, per family
    assert "dev net1 table 101" in ctr.sh(f"ip -6 route get fd99::9 from {IP6}").stdout
    assert "dev net1 table 100" in ctr.sh(f"ip route get 10.99.0.9 from {IP4}").stdout
    assert sbr("CHECK", host, ctr, c).ok
    assert sbr("DEL", host, ctr, c).ok
    assert rules(ctr) == set()
    assert routes(ctr, "100") == routes(ctr, "101") == set()
    assert routes(ctr, "main") == {(SUBNET4, None, "net1", IP4), (SUBNET6, None, "net1", None)}


def test_ipv6_only(host, ctr, scratch):
    no_dad(host, ctr)
    prev = attach(host, ctr, scratch, subnets=(SUBNET6,), routes=["::/0"])
    c = sconf(prev)
    assert sbr("ADD", host, ctr, c).ok
    assert rules(ctr) == {(IP6, "100")}
    assert routes(ctr, "100") == {("default", GW6, "net1", None), (SUBNET6, None, "net1", None)}
    assert sbr("CHECK", host, ctr, c).ok
    assert sbr("DEL", host, ctr, c).ok
    assert rules(ctr) == set() and routes(ctr, "100") == set()


def test_tables_in_use_are_skipped(host, ctr, scratch):
    prev = attach(host, ctr, scratch)
    # 100 is looked up by a rule, 101 holds a route: both are taken.
    ctr.sh("ip rule add from 192.0.2.7 lookup 100; ip route add blackhole 198.51.100.0/24 table 101")
    c = sconf(prev)
    assert sbr("ADD", host, ctr, c).ok
    assert rules(ctr) == {("192.0.2.7", "100"), (IP4, "102")}
    assert routes(ctr, "102") == {(SUBNET4, None, "net1", IP4), ("default", GW4, "net1", None)}
    assert sbr("DEL", host, ctr, c).ok
    assert rules(ctr) == {("192.0.2.7", "100")}
    assert routes(ctr, "101") == {("198.51.100.0/24", None, None, None)}
    assert routes(ctr, "102") == set()


def test_second_interface_gets_next_table(host, ctr, scratch):
    prev1 = attach(host, ctr, scratch)
    prev2 = attach(host, ctr, scratch, ifname="net2", br="cbtsbr2", subnets=("10.92.0.0/24",), net="sbrnet2")
    assert sbr("ADD", host, ctr, sconf(prev1)).ok
    assert sbr("ADD", host, ctr, sconf(prev2), ifname="net2").ok
    assert rules(ctr) == {(IP4, "100"), ("10.92.0.2", "101")}
    assert sbr("CHECK", host, ctr, sconf(prev1)).ok
    assert sbr("CHECK", host, ctr, sconf(prev2), ifname="net2").ok
    # DEL of one leaves the other alone
    assert sbr("DEL", host, ctr, sconf(prev1)).ok
    assert rules(ctr) == {("10.92.0.2", "101")}
    assert routes(ctr, "100") == set()
    assert routes(ctr, "101") == {("10.92.0.0/24", None, "net2", "10.92.0.2"), ("default", "10.92.0.1", "net2", None)}
    assert sbr("CHECK", host, ctr, sconf(prev2), ifname="net2").ok


def test_parallel_adds_take_turns(host, ctr, scratch):
    """The namespace lock: two ADDs at once never pick the same table."""
    prevs = [attach(host, ctr, scratch, ifname=f"net{i}", br=f"cbtsbr{i}", subnets=(f"10.9{i}.0.0/24",),
                    net=f"sbrnet{i}") for i in (1, 2, 3)]
    out = {}

    def run(i):
        out[i] = sbr("ADD", host, ctr, sconf(prevs[i - 1]), ifname=f"net{i}")
    threads = [threading.Thread(target=run, args=(i,)) for i in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.ok for r in out.values()), out
    tables = sorted(t for _, t in rules(ctr))
    assert tables == ["100", "101", "102"]


def test_add_waits_for_the_namespace_lock(host, ctr, scratch):
    prev = attach(host, ctr, scratch)
    fd = os.open(ctr.path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        box = {}
        t = threading.Thread(target=lambda: box.update(r=sbr("ADD", host, ctr, sconf(prev))))
        t.start()
        time.sleep(0.5)
        assert t.is_alive() and rules(ctr) == set()
        fcntl.flock(fd, fcntl.LOCK_UN)
        t.join(20)
    finally:
        os.close(fd)
    assert box["r"].ok, box
    assert rules(ctr) == {(IP4, "100")}


def test_user_table(host, ctr, scratch):
    no_dad(host, ctr)
    prev = attach(host, ctr, scratch, subnets=(SUBNET4, SUBNET6), routes=["0.0.0.0/0"])
    ctr.sh(f"ip route add default via {GW4} dev net1 table 500")
    main = routes(ctr, "main")
    c = sconf(prev, table=500)
    r = sbr("ADD", host, ctr, c)
    assert r.ok, r
    assert r.json == prev
    assert rules(ctr) == {(IP4, "500"), (IP6, "500")}
    assert routes(ctr, "main") == main                      # nothing moved
    assert routes(ctr, "500") == {("default", GW4, "net1", None)}
    assert sbr("CHECK", host, ctr, c).ok
    # CHECK wants the configured table
    assert_cni_error(sbr("CHECK", host, ctr, sconf(prev, table=501)), 999, "no rule from", "lookup 501")
    assert sbr("DEL", host, ctr, c).ok
    assert rules(ctr) == set()
    assert routes(ctr, "500") == {("default", GW4, "net1", None)}   # the user's table stays
    # a rule of the same address to another table is not DEL's with `table`
    ctr.sh(f"ip rule add from {IP4} lookup 600")
    assert sbr("DEL", host, ctr, c).ok
    assert rules(ctr) == {(IP4, "600")}


def test_gateways(host, ctr, scratch):
    no_dad(host, ctr)
    prev = attach(host, ctr, scratch, subnets=(SUBNET4, SUBNET6), routes=["0.0.0.0/0", "::/0"])
    c = sconf(prev, gateways=["fd91::fe", "10.91.0.254"])
    assert sbr("ADD", host, ctr, c).ok
    # the configured gateways, not prevResult's nor the copied main defaults
    assert ("default", "10.91.0.254", "net1", None) in routes(ctr, "100")
    assert ("default", GW4, "net1", None) not in routes(ctr, "100")
    assert ("default", "fd91::fe", "net1", None) in routes(ctr, "101")
    assert ("default", GW6, "net1", None) not in routes(ctr, "101")
    assert sbr("CHECK", host, ctr, c).ok
    # CHECK compares with the gateway of the config it is given
    assert_cni_error(sbr("CHECK", host, ctr, sconf(prev)), 999, "no default route via 10.91.0.1", "table 100")
    assert sbr("DEL", host, ctr, c).ok
    assert rules(ctr) == set() and routes(ctr, "100") == routes(ctr, "101") == set()


def test_add_source_hints(host, ctr, scratch):
    prev = attach(host, ctr, scratch, routes=["0.0.0.0/0", "10.80.0.0/16"])
    c = sconf(prev, addSourceHints=True)
    assert sbr("ADD", host, ctr, c).ok
    assert rules(ctr) == {(IP4, "100")}
    assert routes(ctr, "100") == {("default", GW4, "net1", None), (SUBNET4, None, "net1", IP4),
                                  ("10.80.0.0/16", GW4, "net1", None)}
    # main keeps the subnet route with the address as source; the gateway routes go
    assert routes(ctr, "main") == {(SUBNET4, None, "net1", IP4)}
    assert sbr("CHECK", host, ctr, c).ok
    assert sbr("DEL", host, ctr, c).ok
    assert rules(ctr) == set() and routes(ctr, "100") == set()
    # the hint stays; the gateway route is back
    assert routes(ctr, "main") == {(SUBNET4, None, "net1", IP4), ("10.80.0.0/16", GW4, "net1", None)}
    assert sbr("ADD", host, ctr, c).ok
    ctr.sh(f"ip route del {SUBNET4} dev net1")
    assert_cni_error(sbr("CHECK", host, ctr, c), 999, SUBNET4, "source", "main")


def test_address_without_gateway(host, ctr, scratch):
    prev = attach(host, ctr, scratch)
    for ip in prev["ips"]:
        ip.pop("gateway", None)
    c = sconf(prev)
    assert sbr("ADD", host, ctr, c).ok
    assert routes(ctr, "100") == {(SUBNET4, None, "net1", IP4)}
    assert sbr("CHECK", host, ctr, c).ok
    assert sbr("DEL", host, ctr, c).ok


# ---------------------------------------------------------------- traffic

def test_multihomed_replies_leave_where_requests_came_in(host, make_ns, scratch):
    """Two bridges in the host; the container is on both (eth0 with the
    default route, net1 without). A peer reaches the host only through its
    own link, and the host filters reverse paths strictly: without sbr the
    reply to a ping of net1's address leaves by eth0's default route and is
    dropped; with sbr it leaves by net1 and arrives."""
    ctr, peer = make_ns("cbt-ctr"), make_ns("cbt-peer")
    attach(host, ctr, scratch, ifname="eth0", br="cbtsbr0", subnets=("10.90.0.0/24",), routes=["0.0.0.0/0"],
           net="sbrnet0")
    prev = attach(host, ctr, scratch)
    host.sh(f"ip link add cbtpeer0 type veth peer name eth0 netns {peer.name}; "
            "ip addr add 10.99.0.1/24 dev cbtpeer0; ip link set cbtpeer0 up; "
            "sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1")
    for dev in ("cbtsbr0", "cbtsbr1", "cbtpeer0"):
        host.sh(f"sysctl -qw net.ipv4.conf.{dev}.rp_filter=1")
    peer.sh("ip addr add 10.99.0.2/24 dev eth0; ip link set eth0 up; ip route add default via 10.99.0.1")

    def ping(dst):
        return peer.sh(f"ping -c1 -W1 {dst}", check=False).returncode == 0

    def way_out():
        return ctr.sh(f"ip route get 10.99.0.2 from {IP4}").stdout
    assert ping("10.90.0.2")
    assert not ping(IP4), "the reply should have been lost without sbr"
    assert "dev eth0" in way_out()
    c = sconf(prev)
    assert sbr("ADD", host, ctr, c).ok
    assert ping(IP4)
    assert ping("10.90.0.2")                 # the other address still answers
    assert "dev net1 table 100" in way_out()
    assert ctr.sh(f"ping -c1 -W1 -I {IP4} 10.99.0.2", check=False).returncode == 0
    assert sbr("CHECK", host, ctr, c).ok
    assert sbr("DEL", host, ctr, c).ok
    assert not ping(IP4)
    assert "dev eth0" in way_out()


# ---------------------------------------------------------------- CHECK

@pytest.mark.parametrize("change,words", [
    (f"ip rule del from {IP4} lookup 100", ["no rule from 10.91.0.2"]),
    ("ip route del default table 100", ["no default route via 10.91.0.1", "table 100"]),
    (f"ip route del {SUBNET4} table 100", ["no route to 10.91.0.0/24", "table 100"]),
])
def test_check_notices_changes(host, ctr, scratch, change, words):
    prev = attach(host, ctr, scratch, routes=["0.0.0.0/0"])
    c = sconf(prev)
    assert sbr("ADD", host, ctr, c).ok
    assert sbr("CHECK", host, ctr, c).ok
    ctr.sh(change)
    assert_cni_error(sbr("CHECK", host, ctr, c), 999, *words)


def test_check_needs_prev_result_and_link(host, ctr, scratch):
    prev = attach(host, ctr, scratch)
    c = sconf(prev)
    assert sbr("ADD", host, ctr, c).ok
    assert_cni_error(sbr("CHECK", host, ctr, sconf(None)), 7, "prevResult")
    ctr.sh("ip link del net1")
    assert_cni_error(sbr("CHECK", host, ctr, c), 999, "net1")


# ---------------------------------------------------------------- DEL

@pytest.mark.parametrize("row", ["netns-empty", "netns-gone", "link-gone", "repeat", "no-prev-result"])
def test_del_idempotent(host, make_ns, scratch, row):
    ctr = make_ns()
    prev = attach(host, ctr, scratch)
    c = sconf(prev)
    assert sbr("ADD", host, ctr, c).ok
    netns = ctr
    if row == "netns-empty":
        netns = ""
    elif row == "netns-gone":
        path = ctr.path
        ctr.delete()
        netns = path
    elif row == "link-gone":
        ctr.sh("ip link del net1")
    elif row == "no-prev-result":
        c = sconf(None)
    for attempt in (1, 2):
        r = run_plugin("sbr", "DEL", c, host=host, netns=netns, ifname="net1", containerid="ctr1")
        assert r.ok and r.stdout == "", (attempt, r)
    if row == "netns-gone":
        assert not os.path.exists(path)            # the lock made no file there
    elif row == "netns-empty":
        assert rules(ctr) == {(IP4, "100")}        # nothing to reach: untouched
    else:
        # the rules go also when the link went first (they outlive it);
        # without prevResult, the addresses on the link name them
        assert rules(ctr) == set()
        assert routes(ctr, "100") == set()


def test_del_keeps_other_rules(host, ctr, scratch):
    prev = attach(host, ctr, scratch)
    c = sconf(prev)
    assert sbr("ADD", host, ctr, c).ok
    ctr.sh("ip rule add from 10.91.0.0/24 lookup 100; ip rule add from 10.91.0.77 lookup 100")
    assert sbr("DEL", host, ctr, c).ok
    assert rules(ctr) == {("10.91.0.0/24", "100"), ("10.91.0.77", "100")}
    # a table another rule still looks up keeps its routes
    assert routes(ctr, "100") == {("default", GW4, "net1", None), (SUBNET4, None, "net1", IP4)}


def test_gc_and_status(host, scratch):
    c = {"cniVersion": "1.1.0", "name": NET, "type": "sbr",
         "cni.dev/valid-attachments": [{"containerID": "x", "ifname": "net1"}]}
    r = run_plugin("sbr", "GC", c, host=host)
    assert r.ok and r.stdout == "", r
    r = run_plugin("sbr", "STATUS", {"cniVersion": "1.1.0", "name": NET, "type": "sbr"}, host=host)
    assert r.ok and r.stdout == "", r


# ---------------------------------------------------------------- hostile input

PREV_OTHER_IF = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": "/x"}],
                 "ips": [{"interface": 0, "address": "10.91.0.2/24", "gateway": GW4}]}

HOSTILE = {
    "table-string": (dict(table="100"), {}, 7, ["table", "integer"]),
    "table-negative": (dict(table=-1), {}, 7, ["invalid table -1"]),
    "table-zero": (dict(table=0), {}, 7, ["invalid table 0"]),
    "table-too-big": (dict(table=4294967296), {}, 7, ["invalid table 4294967296"]),
    "table-fraction": (dict(table=100.5), {}, 7, ["table", "integer"]),
    "table-object": (dict(table={"id": 1}), {}, 7, ["table"]),
    "no-prev-result": (dict(prevResult=None), {}, 7, ["prevResult"]),
    "interface-not-in-prev-result": (dict(prevResult=PREV_OTHER_IF), {}, 7, ["net1"]),
    "prev-result-no-ips": (dict(prevResult={"cniVersion": "1.0.0"}), {}, 7, ["No IP addresses", "net1"]),
    "prev-result-garbage": (dict(prevResult={"cniVersion": "1.0.0", "ips": [{"address": "nope"}]}), {}, 6, []),
    "ifname-not-in-netns": (dict(), {"ifname": "net7"}, 999, ["Cannot find network interface net7"]),
    "two-ipv4-gateways": (dict(gateways=["10.91.0.1", "10.91.0.9"]), {}, 7, ["multiple IPv4"]),
    "two-ipv6-gateways": (dict(gateways=["fd91::1", "fd91::9"]), {}, 7, ["multiple IPv6"]),
    "three-gateways": (dict(gateways=["10.91.0.1", "fd91::1", "10.91.0.9"]), {}, 7, ["more than 2"]),
    "gateway-not-ip": (dict(gateways=["gw.example"]), {}, 7, ["gw.example"]),
    "gateways-string": (dict(gateways="10.91.0.1"), {}, 7, ["gateways"]),
    "hints-string": (dict(addSourceHints="true"), {}, 7, ["addSourceHints"]),
    "bad-version": (dict(cniVersion="9.9.9"), {}, 1, ["9.9.9"]),
    "unreachable-gateway": (dict(gateways=["192.0.2.1"]), {}, 999, ["192.0.2.1"]),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile(host, ctr, scratch, case):
    kw, run_kw, code, words = HOSTILE[case]
    prev = attach(host, ctr, scratch, routes=["0.0.0.0/0"])
    c = sconf(prev)
    for k, v in kw.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    ifname = run_kw.get("ifname", "net1")
    if ifname != "net1":      # prevResult names an interface the namespace lacks
        c["prevResult"] = json.loads(json.dumps(prev).replace('"net1"', json.dumps(ifname)))
    before = snapshot(ctr)
    r = sbr("ADD", host, ctr, c, ifname=ifname)
    assert_cni_error(r, code, *words)
    assert snapshot(ctr) == before


def test_failed_add_undoes_everything(host, ctr, scratch):
    """The IPv4 address gets its rule and table, then the IPv6 default route
    fails (its gateway is off-link): the ADD leaves nothing, and the moved
    routes are not moved."""
    no_dad(host, ctr)
    prev = attach(host, ctr, scratch, subnets=(SUBNET4, SUBNET6), routes=["0.0.0.0/0"])
    before = snapshot(ctr)
    r = sbr("ADD", host, ctr, sconf(prev, gateways=["2001:db8:99::1"]))
    assert_cni_error(r, 999, "2001:db8:99::1")
    assert snapshot(ctr) == before


def test_bad_netns(host, scratch):
    prev = {"cniVersion": "1.0.0", "ips": [{"address": "10.91.0.2/24"}]}
    r = run_plugin("sbr", "ADD", sconf(prev), host=host, netns="/run/netns/cbt-sbr-missing", ifname="net1")
    assert_cni_error(r, 8, "cbt-sbr-missing")
    assert not os.path.exists("/run/netns/cbt-sbr-missing")


def test_help_lists_every_key():
    from cnitest import cnibox_binary
    out = subprocess.run([cnibox_binary(), "sbr", "--help"], capture_output=True, text=True).stdout
    for word in ("table", "gateways", "addSourceHints", "ADD", "DEL", "CHECK", "GC", "STATUS", "100"):
        assert word in out, word
