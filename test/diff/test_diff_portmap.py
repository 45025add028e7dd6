"""portmap against the reference (1.1.1, iptables; cnibox with backend
"iptables"): the passed-through result, the nat tables of both families
(iptables-legacy-save / ip6tables-legacy-save) after ADD and after DEL,
route_localnet, repeat DEL, and the error codes for bad input.

portmap needs no interface of its own: each side gets a made-up prevResult
whose container address is routed through a veth (both ends in its host
namespace) (so route_localnet has an interface to go on).
"""
import re

import pytest

from cnidiff import DIFFERENCES, at_least, common_versions, compare_errors, compare_results, show_diff

VERSIONS = common_versions("portmap")
NEWEST = VERSIONS[-1] if VERSIONS else "1.0.0"
DUMMY = "cbtpmd0"   # the "host interface that routes to the container"


def prev(v4="10.70.0.2/24", v6=None, version="1.0.0"):
    ips = []
    if v4:
        ips.append({"interface": 1, "address": v4, "gateway": "10.70.0.1"})
    if v6:
        ips.append({"interface": 1, "address": v6, "gateway": "fd70::1"})
    r = {"cniVersion": version,
         "interfaces": [{"name": "veth0", "mac": "aa:aa:aa:aa:aa:aa"},
                        {"name": "eth0", "mac": "aa:aa:aa:aa:aa:ab", "sandbox": "/var/run/netns/x"}],
         "ips": ips}
    if not at_least(version, "1.0.0"):
        for ip in r["ips"]:
            ip["version"] = "6" if ":" in ip["address"] else "4"
    return r


def conf(mappings, version=NEWEST, prev_result=None, **kw):
    c = {"cniVersion": version, "name": "pmdiff", "type": "portmap", "backend": "iptables"}
    if mappings is not None:
        c["runtimeConfig"] = {"portMappings": mappings}
    if prev_result is not None:
        c["prevResult"] = prev_result
    c.update(kw)
    return c


def setup_hosts(twin):
    for side in (twin.ref, twin.box):
        side.host.sh(f"ip link add {DUMMY} type veth peer name {DUMMY}p && ip link set {DUMMY}p up && "
                     f"ip link set {DUMMY} up && "
                     f"ip addr add 10.70.0.1/24 dev {DUMMY} && ip addr add fd70::1/64 dev {DUMMY} nodad")
        side.ctr()


_COUNTERS = re.compile(r" \[\d+:\d+\]$")


def nat(side, v6=False):
    """The nat table as iptables-legacy-save prints it, without the comment
    lines and counters."""
    tool = "ip6tables-legacy-save" if v6 else "iptables-legacy-save"
    out = side.host.sh(f"{tool} -t nat", check=False).stdout
    lines = []
    for l in out.splitlines():
        if l.startswith("#") or not l.strip():
            continue
        lines.append(_COUNTERS.sub("", l))
    return lines


def localnet(side):
    return side.host.sysctl(f"net/ipv4/conf/{DUMMY}/route_localnet")


def _subsequence(a, b):
    it = iter(b)
    return all(x in it for x in a)


def compare_nat(twin, ref_ip6_check_bug=False):
    """Equal nat tables. ref_ip6_check_bug: the container has several IPv6
    mappings of one protocol, which the reference drops but the first of
    (DIFFERENCES["portmap-ip6-dup"]): its lines must be a subsequence of
    cnibox's, the extra ones rules of the CNI-DN- chain and its entry rules."""
    for v6 in (False, True):
        a, b = nat(twin.ref, v6), nat(twin.box, v6)
        if v6 and ref_ip6_check_bug and b != a:
            assert _subsequence(a, b), "ip6tables nat differs:\n" + show_diff(a, b)
            extra = list(b)
            for x in a:
                extra.remove(x)
            stray = [x for x in extra if not x.startswith(("-A CNI-DN-", "-A CNI-HOSTPORT-DNAT "))]
            assert extra and not stray, stray
            continue
        assert b == a, f"{'ip6' if v6 else 'ip'}tables nat differs:\n" + show_diff(a, b)
    assert localnet(twin.box) == localnet(twin.ref)


def check_both(twin, c):
    """CHECK: cnibox passes; the reference 1.1.1 fails for its own faults
    (DIFFERENCES["portmap-check"])."""
    rr, rb = twin.both("portmap", "CHECK", c)
    assert rb.ok, rb
    assert rr.ok or "could not check ipv" in rr.stdout, rr


MAPS_TCP = [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]
MAPS_MANY = ([{"hostPort": 9000 + i, "containerPort": 80, "protocol": "tcp"} for i in range(17)] +
             [{"hostPort": 5353, "containerPort": 53, "protocol": "udp"},
              {"hostPort": 7000, "containerPort": 70, "protocol": "sctp"},
              {"hostPort": 9100, "containerPort": 91, "protocol": "tcp"}])
MAPS_HOSTIP = [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": "10.70.0.1"},
               {"hostPort": 8081, "containerPort": 81, "protocol": "tcp", "hostIP": "0.0.0.0"},
               {"hostPort": 8082, "containerPort": 82, "protocol": "udp", "hostIP": "fd70::1"}]

CASES = {
    "v4": dict(mappings=MAPS_TCP),
    "many": dict(mappings=MAPS_MANY),
    "hostip-dual": dict(mappings=MAPS_HOSTIP, v6="fd70::2/64"),
    "dual": dict(mappings=MAPS_TCP, v6="fd70::2/64"),
    "v6-only": dict(mappings=MAPS_TCP, v4=None, v6="fd70::2/64"),
    "no-snat": dict(mappings=MAPS_TCP, snat=False),
    "mark-bit": dict(mappings=MAPS_TCP, markMasqBit=5),
    "conditions": dict(mappings=MAPS_HOSTIP, v6="fd70::2/64", conditionsV4=["!", "-s", "10.9.0.0/16", "-i", "eth1"],
                       conditionsV6=["-d", "fd70::1"]),
    "many-dual": dict(mappings=MAPS_MANY, v6="fd70::2/64", conditionsV4=["-o", "eth2"]),
    "external-mark": dict(mappings=MAPS_TCP, externalSetMarkChain="EXTMARK"),
}


def case_conf(case, version, with_prev=True):
    kw = dict(CASES[case])
    maps = kw.pop("mappings")
    v4 = kw.pop("v4", "10.70.0.2/24")
    v6 = kw.pop("v6", None)
    return conf(maps, version, prev(v4, v6, version) if with_prev else None, **kw)


@pytest.mark.parametrize("case", list(CASES))
def test_add_del(twin, case):
    setup_hosts(twin)
    if case == "external-mark":
        for side in (twin.ref, twin.box):
            side.host.sh("iptables-legacy -t nat -N EXTMARK")
    version = NEWEST
    c = case_conf(case, version)
    rr, rb = twin.both("portmap", "ADD", c)
    compare_results(rr, rb, version)
    compare_nat(twin, ref_ip6_check_bug=case == "many-dual")
    check_both(twin, c)
    rr, rb = twin.both("portmap", "DEL", case_conf(case, version, with_prev=False))
    assert rr.ok and rb.ok, (rr, rb)
    compare_nat(twin)
    rr, rb = twin.both("portmap", "DEL", case_conf(case, version, with_prev=False))
    assert rr.ok and rb.ok, ("repeat DEL", rr, rb)
    compare_nat(twin)


@pytest.mark.parametrize("version", [v for v in VERSIONS if at_least(v, "0.3.0")])
def test_versions(twin, version):
    setup_hosts(twin)
    c = conf(MAPS_TCP, version, prev(version=version))
    rr, rb = twin.both("portmap", "ADD", c)
    compare_results(rr, rb, version)
    compare_nat(twin)
    rr, rb = twin.both("portmap", "DEL", conf(MAPS_TCP, version))
    assert rr.ok and rb.ok, (rr, rb)
    compare_nat(twin)


@pytest.mark.parametrize("version", [v for v in VERSIONS if not at_least(v, "0.3.0")])
def test_old_versions(twin, version):
    """0.1.0/0.2.0: the prevResult has ip4/ip6 (no interfaces): every address counts."""
    setup_hosts(twin)
    old = {"cniVersion": version, "ip4": {"ip": "10.70.0.2/24", "gateway": "10.70.0.1"},
           "ip6": {"ip": "fd70::2/64"}}
    c = conf(MAPS_TCP, version, old)
    rr, rb = twin.both("portmap", "ADD", c)
    compare_results(rr, rb, version)
    compare_nat(twin)
    rr, rb = twin.both("portmap", "DEL", conf(MAPS_TCP, version))
    assert rr.ok and rb.ok, (rr, rb)
    compare_nat(twin)


def test_two_containers(twin):
    setup_hosts(twin)
    a = conf(MAPS_TCP, prev_result=prev("10.70.0.2/24"))
    b = conf([{"hostPort": 8090, "containerPort": 80, "protocol": "udp"}], prev_result=prev("10.70.0.3/24"))
    for ctr, c in ((0, a), (1, b)):
        rr, rb = twin.both("portmap", "ADD", c, ctr=ctr)
        compare_results(rr, rb)
    compare_nat(twin)
    rr, rb = twin.both("portmap", "ADD", a)      # ADD again: nothing doubled
    compare_results(rr, rb)
    compare_nat(twin)
    rr, rb = twin.both("portmap", "DEL", conf(MAPS_TCP))
    assert rr.ok and rb.ok, (rr, rb)
    compare_nat(twin)


def test_no_mappings(twin):
    setup_hosts(twin)
    for maps in (None, []):
        rr, rb = twin.both("portmap", "ADD", conf(maps, prev_result=prev()))
        compare_results(rr, rb)
        rr, rb = twin.both("portmap", "DEL", conf(maps))
        assert rr.ok and rb.ok
    compare_nat(twin)


BAD = {
    "no-prev": lambda: conf(MAPS_TCP),
    "host-port-0": lambda: conf([{"hostPort": 0, "containerPort": 80}], prev_result=prev()),
    "container-port-neg": lambda: conf([{"hostPort": 80, "containerPort": -1}], prev_result=prev()),
    "mark-bit": lambda: conf(MAPS_TCP, prev_result=prev(), markMasqBit=32),
    "mark-and-chain": lambda: conf(MAPS_TCP, prev_result=prev(), markMasqBit=3, externalSetMarkChain="X"),
    "bad-json-type": lambda: conf([{"hostPort": "80", "containerPort": 80}], prev_result=prev()),
}


@pytest.mark.parametrize("case", list(BAD))
def test_errors(twin, case):
    setup_hosts(twin)
    rr, rb = twin.both("portmap", "ADD", BAD[case]())
    compare_errors(rr, rb)
    assert rb.json["code"] == 7, rb


def test_documented_differences():
    for key in ("portmap-check", "portmap-ip6-dup", "spec-codes"):
        assert key in DIFFERENCES
