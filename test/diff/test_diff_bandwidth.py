"""bandwidth against the reference 1.1.1, chained after each side's own
bridge (+host-local): the ADD result (masked: MACs, the host veth's random
name, the ifb's MAC), the kernel state, what `tc` shows on the host veth and
on the ifb (qdiscs with handles and raw numbers, the redirect filter), CHECK,
DEL removing the ifb; bad input; and where cnibox differs on purpose, the
documented difference (cnidiff.DIFFERENCES["bw-*"])."""
import hashlib
import json

import pytest

from cnidiff import DIFFERENCES, at_least, common_versions, compare_errors, compare_results, compare_states

VERSIONS = common_versions("bandwidth")
NET = "bwdiffnet"
RATE, BURST = 8 * 1000 * 1000, 80000
IFB = "bwp" + hashlib.sha512((NET + "ctr0").encode()).hexdigest()[:12]


def bridge(version):
    return {"cniVersion": version, "name": NET, "type": "bridge", "bridge": "cbtdbw0",
            "ipam": {"type": "host-local", "dataDir": "@DATA@/ipam", "ranges": [[{"subnet": "10.69.0.0/24"}]]}}


def bandwidth(version, prev=True, **kw):
    """A bandwidth conf whose prevResult is each side's own bridge result."""
    def make(side):
        c = {"cniVersion": version, "name": NET, "type": "bandwidth"}
        if prev:
            c["prevResult"] = side.results["br"]
        c.update(kw)
        return c
    return make


def chain(twin, version="1.0.0"):
    rr, rb = twin.both("bridge", "ADD", bridge(version), key="br")
    compare_results(rr, rb, version)


def veth(side):
    return [i["name"] for i in side.results["br"]["interfaces"]
            if i["name"].startswith("veth") and not i.get("sandbox")][0]


def tc(side):
    """`tc -raw qdisc show` of the host veth and the ifb and the filters under
    the veth's ffff:, as text ("-" when the device is gone)."""
    cmds = [f"tc -raw qdisc show dev {veth(side)}", f"tc -raw qdisc show dev {IFB}",
            f"tc filter show dev {veth(side)} parent ffff:"]
    outs = side.host.multi(cmds, check=False)
    return {"veth": outs[0].strip() or "-", "ifb": outs[1].strip() or "-", "filter": outs[2].strip() or "-"}


def one_mirred(ref_filter):
    """The reference's filter text with its second mirred action left out
    (DIFFERENCES["bw-one-mirred"])."""
    head, sep, tail = ref_filter.partition("\n\n\taction order 2: mirred")
    assert sep, ref_filter
    assert "(Egress Redirect to device " + IFB + ") pass" in tail, tail
    return head


def compare_tc(twin):
    a, b = tc(twin.ref), tc(twin.box)
    if "action order 2" in a["filter"]:
        a["filter"] = one_mirred(a["filter"])
    assert b == a, f"tc differs:\nreference {json.dumps(a, indent=1)}\ncnibox {json.dumps(b, indent=1)}"
    return b


def compare_kernel(twin):
    """compare_states, knowing that the kernel gives a veth with queue length
    0 (the reference's, DIFFERENCES["txqlen"]) the default 1000 when a qdisc
    is attached to it: then both sides have 1000."""
    read = twin.ref.state

    def state():
        st = read()
        for link in st["host"]["links"].values():
            if link.get("kind") == "veth" and link.get("txqlen") == 1000:
                link["txqlen"] = "veth-default"
        return st
    twin.ref.state = state
    try:
        compare_states(twin)
    finally:
        del twin.ref.state


def alias(side):
    out = side.host.sh(f"ip -d -j link show {IFB}", check=False).stdout
    return json.loads(out)[0].get("ifalias") if out.strip() else None


CONFIGS = {
    "both": dict(ingressRate=RATE, ingressBurst=BURST, egressRate=2 * RATE, egressBurst=2 * BURST),
    "ingress": dict(ingressRate=RATE, ingressBurst=BURST),
    "egress": dict(egressRate=RATE, egressBurst=BURST),
    "runtime": dict(capabilities={"bandwidth": True},
                    runtimeConfig={"bandwidth": {"ingressRate": RATE, "ingressBurst": BURST,
                                                 "egressRate": RATE, "egressBurst": BURST}}),
    "top-wins": dict(ingressRate=3 * RATE, ingressBurst=BURST,
                     runtimeConfig={"bandwidth": {"egressRate": RATE, "egressBurst": BURST}}),
    "large": dict(ingressRate=8 * 2**33, ingressBurst=8 * (2**32 - 2), egressRate=8, egressBurst=8 * (2**32 - 2)),
    "zero": dict(ingressRate=0, ingressBurst=0, egressRate=0, egressBurst=0),
    "absent": dict(),
}


# The configs that shape each direction.
INGRESS = {"both", "ingress", "runtime", "top-wins", "large"}
EGRESS = {"both", "egress", "runtime", "large"}


def matrix():
    return [(cfg, v) for cfg in sorted(CONFIGS) for v in (VERSIONS if cfg == "both" else ["1.0.0"])]


@pytest.mark.parametrize("cfg,version", matrix())
def test_bandwidth(twin, cfg, version):
    chain(twin, version)
    conf = bandwidth(version, **CONFIGS[cfg])
    rr, rb = twin.both("bandwidth", "ADD", conf)
    compare_results(rr, rb, version)
    egress = cfg in EGRESS
    names = [i["name"] for i in rb.json.get("interfaces", [])]
    assert (IFB in names) == egress, names
    compare_kernel(twin)
    shown = compare_tc(twin)
    assert ("tbf 1:" in shown["ifb"]) == egress
    if egress:
        assert "action order 1: mirred (Egress Redirect to device " + IFB + ") stolen" in shown["filter"]
        assert alias(twin.ref) is None and alias(twin.box) == f"cni-bandwidth net={NET} ifname=eth0"  # bw-ifb-alias
    if at_least(version, "0.4.0"):
        rr, rb = twin.both("bandwidth", "CHECK", conf)
        if cfg == "absent":
            # DIFFERENCES["bw-check-no-keys"]
            assert rr.rc == 2 and "panic" in rr.stderr, rr
        else:
            assert rr.ok, rr
        assert rb.ok, rb
    rr, rb = twin.both("bandwidth", "DEL", conf)
    assert rr.ok and rb.ok, (rr, rb)
    a, b = tc(twin.ref), tc(twin.box)
    assert a["ifb"] == b["ifb"] == "-"
    # DIFFERENCES["bw-del-qdiscs"]: the reference leaves the veth's qdiscs
    assert "tbf" not in b["veth"] and "ingress" not in b["veth"] and b["filter"] == "-"
    assert ("tbf 1:" in a["veth"]) == (cfg in INGRESS)
    rr, rb = twin.both("bandwidth", "DEL", conf)
    assert rr.ok and rb.ok, ("repeat DEL", rr, rb)


BAD = {
    "rate-without-burst": dict(ingressRate=RATE),
    "burst-without-rate": dict(egressBurst=BURST),
    "burst-too-large": dict(egressRate=RATE, egressBurst=8 * (2**32 - 1)),
    "negative": dict(ingressRate=-1, ingressBurst=BURST),
    "string": dict(ingressRate="8000000", ingressBurst=BURST),
    "runtime-rate-without-burst": dict(runtimeConfig={"bandwidth": {"egressRate": RATE}}),
    "runtime-not-object": dict(runtimeConfig={"bandwidth": "fast"}),
}


@pytest.mark.parametrize("cfg", sorted(BAD))
def test_bad_config(twin, cfg):
    chain(twin)
    conf = bandwidth("1.0.0", **BAD[cfg])
    rr, rb = twin.both("bandwidth", "ADD", conf)
    compare_errors(rr, rb, box_code=7)   # DIFFERENCES["spec-codes"]
    compare_kernel(twin)
    compare_tc(twin)
    rr, rb = twin.both("bandwidth", "DEL", conf)
    # DIFFERENCES["bw-del-lenient"]: the reference validates in DEL too
    assert not rr.ok and rb.ok, (rr, rb)


def test_missing_prev_result(twin):
    conf = bandwidth("1.0.0", prev=False, **CONFIGS["both"])
    rr, rb = twin.both("bandwidth", "ADD", conf)
    compare_errors(rr, rb, box_code=7)   # DIFFERENCES["spec-codes"]
    rr, rb = twin.both("bandwidth", "CHECK", conf)
    compare_errors(rr, rb, box_code=7)


def test_zero_without_prev_result(twin):
    rr, rb = twin.both("bandwidth", "ADD", bandwidth("1.0.0", prev=False))
    # DIFFERENCES["bw-zero-no-prev"]
    assert rr.rc == 2 and "panic" in rr.stderr, rr
    assert rb.ok and rb.json == {"cniVersion": "1.0.0", "dns": {}}, rb


def test_version_020(twin):
    chain(twin, "0.2.0")
    rr, rb = twin.both("bandwidth", "ADD", bandwidth("0.2.0", **CONFIGS["both"]))
    compare_errors(rr, rb)
    assert rb.json["code"] == 1


def test_ifname_not_in_container(twin):
    chain(twin)
    rr, rb = twin.both("bandwidth", "ADD", bandwidth("1.0.0", **CONFIGS["both"]), ifname="eth1")
    compare_errors(rr, rb)
    assert "eth1" in rb.json["msg"] and "veth peer" in rb.json["msg"]
    compare_tc(twin)


def test_failed_add(twin):
    """The kernel refuses the ifb's tbf (under a byte per second)."""
    chain(twin)
    conf = bandwidth("1.0.0", ingressRate=RATE, ingressBurst=BURST, egressRate=7, egressBurst=BURST)
    rr, rb = twin.both("bandwidth", "ADD", conf)
    compare_errors(rr, rb)
    assert "invalid argument" in rr.json["msg"].lower() and "invalid argument" in rb.json["msg"].lower()
    # DIFFERENCES["rollback"]: the reference leaves its qdiscs and ifb
    a, b = tc(twin.ref), tc(twin.box)
    assert "tbf 1:" in a["veth"] and a["ifb"] != "-"
    assert b == {"veth": "qdisc noqueue 0:[00000000] root refcnt 2", "ifb": "-", "filter": "-"}, b
    assert DIFFERENCES["rollback"]


def test_repeated_add(twin):
    chain(twin)
    conf = bandwidth("1.0.0", **CONFIGS["both"])
    rr, rb = twin.both("bandwidth", "ADD", conf)
    assert rr.ok and rb.ok
    rr, rb = twin.both("bandwidth", "ADD", conf)
    # DIFFERENCES["bw-repeat-add"]
    assert not rr.ok and "file exists" in rr.json["msg"], rr
    assert rb.ok, rb
    rr, rb = twin.both("bandwidth", "CHECK", conf)
    assert rr.ok and rb.ok, (rr, rb)
    compare_tc(twin)


def test_check_notices_a_missing_filter(twin):
    chain(twin)
    conf = bandwidth("1.0.0", **CONFIGS["both"])
    rr, rb = twin.both("bandwidth", "ADD", conf)
    assert rr.ok and rb.ok
    for side in (twin.ref, twin.box):
        side.host.sh(f"tc filter del dev {veth(side)} parent ffff:")
    rr, rb = twin.both("bandwidth", "CHECK", conf)
    # DIFFERENCES["bw-check"]
    assert rr.ok, rr
    assert not rb.ok and "redirect" in rb.json["msg"], rb


@pytest.mark.parametrize("change", [
    "tc qdisc change dev {veth} root handle 1: tbf rate 9mbit burst 10000b latency 25ms",
    "tc qdisc change dev {ifb} root handle 1: tbf rate 16mbit burst 20000b latency 50ms",
])
def test_check_fails_alike(twin, change):
    chain(twin)
    conf = bandwidth("1.0.0", **CONFIGS["both"])
    rr, rb = twin.both("bandwidth", "ADD", conf)
    assert rr.ok and rb.ok
    for side in (twin.ref, twin.box):
        side.host.sh(change.format(veth=veth(side), ifb=IFB))
    rr, rb = twin.both("bandwidth", "CHECK", conf)
    compare_errors(rr, rb)
    word = "Rate" if "9mbit" in change else "Limit"
    assert word + " doesn't match" in rr.json["msg"] and word + " doesn't match" in rb.json["msg"]


def test_second_interface(twin):
    chain(twin)
    for side in (twin.ref, twin.box):
        r = side.run("bridge", "ADD", bridge("1.0.0"), ifname="eth1")
        assert r.ok, r
        side.results["br1"] = r.json
    rr, rb = twin.both("bandwidth", "ADD", bandwidth("1.0.0", **CONFIGS["both"]))
    assert rr.ok and rb.ok

    def second(side):
        return dict(bandwidth("1.0.0", **CONFIGS["both"])(side), prevResult=side.results["br1"])
    rr, rb = twin.both("bandwidth", "ADD", second, ifname="eth1")
    # DIFFERENCES["bw-second-interface"]
    assert not rr.ok and "file exists" in rr.json["msg"], rr
    assert rb.json["code"] == 7 and "eth0" in rb.json["msg"], rb
    rr, rb = twin.both("bandwidth", "DEL", second, ifname="eth1")
    assert rr.ok and rb.ok
    assert tc(twin.ref)["ifb"] == "-"
    assert "tbf 1:" in tc(twin.box)["ifb"]
    assert twin.box.run("bandwidth", "CHECK", bandwidth("1.0.0", **CONFIGS["both"])).ok
