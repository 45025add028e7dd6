"""firewall (backend iptables) against the reference 1.1.1: each side runs
its own bridge (+host-local) ADD and then its firewall with that result as
prevResult; the legacy xtables of both host namespaces (iptables-legacy-save,
ip6tables-legacy-save, normalised) must be the same after ADD, CHECK, DEL
and a repeated DEL. The reference runs `iptables` from PATH, which
cnitest points at the legacy tools.

The reference 1.1.1 knows ingressPolicy "same-bridge" (not "isolated", which
came later); its isolation rules all carry the comment "(ingressPolicy:
same-bridge)", cnibox's the ones of newer upstream releases
(DIFFERENCES["fw-ingress-comments"]).
"""
import re

import pytest

from cnidiff import DIFFERENCES, at_least, common_versions, compare_errors, compare_results, show_diff

VERSIONS = [v for v in common_versions("firewall") if at_least(v, "0.4.0")]
NET = "fwdiff"
BR = "cbtfwd0"


def bridge_conf(version, subnets=("10.72.0.0/24",)):
    return {"cniVersion": version, "name": NET, "type": "bridge", "bridge": BR, "isGateway": True,
            "ipam": {"type": "host-local", "dataDir": "@DATA@", "ranges": [[{"subnet": s}] for s in subnets]}}


def fw_conf(version, **kw):
    # dataDir: cnibox's own key (its iptables records); the reference ignores it
    c = {"cniVersion": version, "name": NET, "type": "firewall", "backend": "iptables", "dataDir": "@DATA@/fw"}
    c.update(kw)
    return c


def with_prev(conf, key):
    return lambda side: dict(conf, prevResult=side.results[key])


# cnibox's isolation comments (newer upstream) -> the reference 1.1.1's.
FW_COMMENTS = [("(ingressPolicy: same-bridge|isolated)", "(ingressPolicy: same-bridge)")]


def xtables(side):
    """{table: sorted chain declarations (policy, no counters) + rules in order}
    of both families; tables with nothing but empty ACCEPT built-ins are left
    out (which of them exist depends on what a tool happened to look at)."""
    out = {}
    for fam in ("iptables", "ip6tables"):
        text = side.host.sh(f"{fam}-legacy-save", check=False).stdout
        table, chains, rules = None, [], []

        def flush():
            if table is None:
                return
            # A user chain has policy "-"; a built-in one ACCEPT unless changed.
            if rules or any(c.split()[1] != "ACCEPT" for c in chains):
                out[f"{fam}:{table}"] = sorted(chains) + rules
        for line in text.splitlines():
            if line.startswith("*"):
                flush()
                table, chains, rules = line[1:], [], []
            elif line.startswith(":"):
                chains.append(re.sub(r"\s*\[\d+:\d+\]$", "", line))
            elif line.startswith("-A "):
                if not side.ref:
                    for mine, theirs in FW_COMMENTS:
                        line = line.replace(mine, theirs)
                rules.append(line)
            elif line == "COMMIT":
                flush()
                table = None
    return out


def compare_xtables(twin):
    a, b = xtables(twin.ref), xtables(twin.box)
    assert b == a, "legacy xtables differ:\n" + show_diff(a, b)
    return a


def add_chain(twin, version, fwc, subnets=("10.72.0.0/24",), ctr=0, key="c0"):
    rr, rb = twin.both("bridge", "ADD", bridge_conf(version, subnets), key=key + "br", ctr=ctr)
    assert rr.ok and rb.ok, (rr, rb)
    rr, rb = twin.both("firewall", "ADD", with_prev(fwc, key + "br"), key=key, ctr=ctr)
    compare_results(rr, rb, version)
    assert rb.json == twin.box.results[key + "br"]   # prevResult passed on


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("subnets", [("10.72.0.0/24",), ("10.72.0.0/24", "fd72::/64")], ids=["v4", "dual"])
def test_add_check_del(twin, version, subnets):
    fwc = fw_conf(version)
    add_chain(twin, version, fwc, subnets)
    state = compare_xtables(twin)
    assert any("CNI-FORWARD" in r for r in state["iptables:filter"])
    assert ("ip6tables:filter" in state) == (len(subnets) == 2)
    rr, rb = twin.both("firewall", "CHECK", with_prev(fwc, "c0br"))
    assert rr.ok and rb.ok, (rr, rb)
    for _ in range(2):
        rr, rb = twin.both("firewall", "DEL", with_prev(fwc, "c0br"))
        assert rr.ok and rb.ok, (rr, rb)
        after = compare_xtables(twin)
        assert not any("10.72." in r or "fd72:" in r for t in after.values() for r in t)
    # CHECK now fails on both sides.
    rr, rb = twin.both("firewall", "CHECK", with_prev(fwc, "c0br"))
    compare_errors(rr, rb)


def test_admin_chain_and_two_containers(twin):
    version = VERSIONS[-1]
    fwc = fw_conf(version, iptablesAdminChainName="CBT-ADMIN")
    add_chain(twin, version, fwc, ctr=0, key="c0")
    add_chain(twin, version, fwc, ctr=1, key="c1")
    state = compare_xtables(twin)
    assert sum("-j CNI-FORWARD" in r for r in state["iptables:filter"]) == 1
    rr, rb = twin.both("firewall", "DEL", with_prev(fwc, "c0br"), ctr=0)
    assert rr.ok and rb.ok, (rr, rb)
    compare_xtables(twin)
    rr, rb = twin.both("firewall", "CHECK", with_prev(fwc, "c1br"), ctr=1)
    assert rr.ok and rb.ok, (rr, rb)


def test_del_without_prev_result(twin):
    """DIFFERENCES["fw-del-records"]: upstream's per-address rules name no
    attachment, and without prevResult the reference's DEL leaves them;
    cnibox's takes the addresses from the record its ADD made."""
    assert "fw-del-records" in DIFFERENCES
    version = VERSIONS[-1]
    fwc = fw_conf(version)
    add_chain(twin, version, fwc)
    before = compare_xtables(twin)
    rr, rb = twin.both("firewall", "DEL", fwc)
    assert rr.ok and rb.ok, (rr, rb)
    assert xtables(twin.ref) == before
    addr = twin.box.results["c0br"]["ips"][0]["address"].split("/")[0]
    left = [r for rules in xtables(twin.box).values() for r in rules if addr in r]
    assert left == [], left
    rr, rb = twin.both("firewall", "DEL", fwc, netns="")
    assert rr.ok and rb.ok, (rr, rb)


def test_ingress_same_bridge(twin):
    """DIFFERENCES["fw-ingress-comments"]: equal once cnibox's newer comments are mapped."""
    assert "fw-ingress-comments" in DIFFERENCES
    version = VERSIONS[-1]
    fwc = fw_conf(version, ingressPolicy="same-bridge")
    add_chain(twin, version, fwc)
    state = compare_xtables(twin)
    assert any("CNI-ISOLATION-STAGE-2" in r for r in state["iptables:filter"])
    rr, rb = twin.both("firewall", "CHECK", with_prev(fwc, "c0br"))
    assert rr.ok and rb.ok, (rr, rb)
    rr, rb = twin.both("firewall", "DEL", with_prev(fwc, "c0br"))
    assert rr.ok and rb.ok, (rr, rb)
    compare_xtables(twin)


@pytest.mark.parametrize("bad", ["no-prev", "0.3.1", "ingress"])
def test_errors(twin, bad):
    version = VERSIONS[-1]
    rr, rb = twin.both("bridge", "ADD", bridge_conf(version), key="c0br")
    assert rr.ok and rb.ok
    if bad == "no-prev":
        conf = fw_conf(version)
    elif bad == "0.3.1":
        conf = with_prev(fw_conf("0.3.1"), "c0br")
    else:
        conf = with_prev(fw_conf(version, ingressPolicy="closed"), "c0br")
    rr, rb = twin.both("firewall", "ADD", conf)
    compare_errors(rr, rb, box_code={"no-prev": 7, "0.3.1": None, "ingress": 7}[bad])
    # cnibox leaves nothing (DIFFERENCES["rollback"]: the reference 1.1.1
    # adds its rules before it looks at ingressPolicy).
    assert xtables(twin.box) == {}
    if bad != "ingress":
        assert xtables(twin.ref) == {}
