"""ipMasq and macspoofchk against the reference (bridge and ptp 1.1.1).

The reference execs `iptables` (cnitest points it at iptables-legacy) and
`nft`; cnibox runs with ipMasqBackend "iptables" (the reference 1.1.1 does
not know the key and ignores it) and its in-process backends. Compared: the
results, the kernel state, iptables-legacy-save / ip6tables-legacy-save
(counters and comment lines dropped) and `nft list ruleset` (host veth names
made stable) after each ADD and DEL.
"""
import re

import pytest

from cnidiff import DIFFERENCES, compare_results, compare_states

V4 = [{"subnet": "10.60.0.0/24"}]
V6 = [{"subnet": "fd60::/64"}]
BR = "cbtbr0"


def hl_ipam(ranges, **kw):
    i = {"type": "host-local", "dataDir": "@DATA@", "ranges": ranges}
    i.update(kw)
    return i


def plugin_conf(plugin, ranges, version="1.0.0", **kw):
    c = {"cniVersion": version, "name": "diffnet", "type": plugin, "ipam": hl_ipam(ranges)}
    if plugin == "bridge":
        c.update(bridge=BR, isGateway=True)
    c.update(kw)
    return c


def xtables(side):
    """Both families' legacy xtables as saved, without timestamps and counters."""
    out = []
    for tool in ("iptables-legacy-save", "ip6tables-legacy-save"):
        for line in side.host.sh(tool, check=False).stdout.splitlines():
            if line.startswith("#"):
                continue
            out.append(tool.split("-")[0] + ": " + re.sub(r" \[\d+:\d+\]$", "", line))
    return out


def ruleset(side):
    """`nft list ruleset` with each host veth named after its container end
    and container MACs (random) named after their interface."""
    text = side.host.sh("nft list ruleset", check=False).stdout
    for real, stable in side.renames().items():
        text = text.replace(f'"{real}"', f'"{stable}"')
    for i, c in enumerate(side.ctrs):
        for name, link in c.links().items():
            if link.get("address") and name != "lo":
                text = text.replace(f"ether saddr {link['address']} ", f"ether saddr MAC-ctr{i}-{name} ")
    return text


def compare_netfilter(twin, nft=False):
    a, b = xtables(twin.ref), xtables(twin.box)
    assert b == a, "xtables differ:\n--- reference\n" + "\n".join(a) + "\n--- cnibox\n" + "\n".join(b)
    if nft:
        a, b = ruleset(twin.ref), ruleset(twin.box)
        assert b == a, f"nft rulesets differ:\n--- reference\n{a}\n--- cnibox\n{b}"


def both_ok(pair):
    rr, rb = pair
    assert rr.ok, f"reference failed: {rr!r}"
    assert rb.ok, f"cnibox failed: {rb!r}"
    return rr, rb


CASES = {
    "ptp-v4": ("ptp", [V4]),
    "ptp-dual": ("ptp", [V4, V6]),
    "bridge-v4": ("bridge", [V4]),
    "bridge-dual": ("bridge", [V4, V6]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_ipmasq_iptables(twin, case):
    plugin, ranges = CASES[case]
    conf = plugin_conf(plugin, ranges, ipMasq=True, ipMasqBackend="iptables")
    compare_results(*twin.both(plugin, "ADD", conf, key="c0"))
    compare_states(twin)
    compare_netfilter(twin)
    saved = xtables(twin.box)
    assert sum("-j MASQUERADE" in l for l in saved) == len(ranges), saved
    both_ok(twin.both(plugin, "CHECK", lambda s: dict(conf, prevResult=s.results["c0"])))
    compare_results(*twin.both(plugin, "ADD", conf, ctr=1, key="c1"))
    compare_netfilter(twin)
    both_ok(twin.both(plugin, "DEL", conf, ctr=1))
    compare_netfilter(twin)
    both_ok(twin.both(plugin, "DEL", conf))
    compare_states(twin)
    compare_netfilter(twin)
    both_ok(twin.both(plugin, "DEL", conf))      # again
    both_ok(twin.both(plugin, "DEL", conf, netns=""))
    compare_netfilter(twin)


@pytest.mark.parametrize("plugin", ["bridge", "ptp"])
def test_ipmasq_del_after_link_gone(twin, plugin):
    """DIFFERENCES["ipmasq-teardown"]: with the container link gone, the
    reference leaves its chain (it needs the link's addresses); cnibox
    removes it, and the xtables end up as after a normal DEL."""
    assert "ipmasq-teardown" in DIFFERENCES
    conf = plugin_conf(plugin, [V4], ipMasq=True, ipMasqBackend="iptables")
    compare_results(*twin.both(plugin, "ADD", conf, key="c0"))
    compare_netfilter(twin)
    for side in (twin.ref, twin.box):
        side.ctr().sh("ip link del eth0")
    both_ok(twin.both(plugin, "DEL", conf))
    ref, box = xtables(twin.ref), xtables(twin.box)
    assert any(re.search(r"-j CNI-[0-9a-f]{24}$", l) for l in ref), ref    # the reference's leak
    assert not any("CNI-" in l for l in box), box
    assert box == [l for l in ref if "CNI-" not in l]


@pytest.mark.parametrize("layer3", [True, False])
def test_macspoofchk(twin, layer3):
    conf = (plugin_conf("bridge", [V4], macspoofchk=True) if layer3 else
            {"cniVersion": "1.0.0", "name": "diffnet", "type": "bridge", "bridge": BR, "ipam": {},
             "macspoofchk": True})
    compare_results(*twin.both("bridge", "ADD", conf, key="c0"))
    compare_states(twin)
    compare_netfilter(twin, nft=True)
    assert "macspoofchk-ctr0-eth0" in ruleset(twin.box)
    compare_results(*twin.both("bridge", "ADD", conf, ctr=1, key="c1"))
    compare_netfilter(twin, nft=True)
    both_ok(twin.both("bridge", "DEL", conf))
    compare_netfilter(twin, nft=True)
    both_ok(twin.both("bridge", "DEL", conf, ctr=1))
    compare_netfilter(twin, nft=True)
    both_ok(twin.both("bridge", "DEL", conf, ctr=1))     # again
    compare_netfilter(twin, nft=True)


def test_macspoofchk_with_ipmasq(twin):
    conf = plugin_conf("bridge", [V4, V6], ipMasq=True, ipMasqBackend="iptables", macspoofchk=True)
    compare_results(*twin.both("bridge", "ADD", conf, key="c0"))
    compare_states(twin)
    compare_netfilter(twin, nft=True)
    both_ok(twin.both("bridge", "DEL", conf))
    compare_states(twin)
    compare_netfilter(twin, nft=True)
