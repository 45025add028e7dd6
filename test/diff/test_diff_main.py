"""loopback, ptp and bridge (with host-local) against the reference: the
ADD result, the kernel state in the host and container namespaces
(links, addresses, routes, sysctls, bridge VLANs), CHECK, DEL and repeat
DEL, and the error codes for bad input."""
import pytest

from cnidiff import at_least, common_versions, compare_errors, compare_results, compare_states

VERSIONS = common_versions("bridge")
# The broad matrix runs in a few representative versions (one per result
# family, plus the newest common one); the basic configs run in all.
FAMILY_VERSIONS = [v for v in ("0.2.0", "0.4.0", "1.0.0") if v in VERSIONS]


def with_prev(conf, key="c0"):
    """A conf whose prevResult is each side's own result for `key`."""
    return lambda side: dict(conf, prevResult=side.results[key])


# CHECK failures of the reference 1.1.1 that are its own faults (cnibox's
# CHECK passes there): DIFFERENCES["ref-check-faults"].
REF_CHECK_FAULTS = [
    "no plugin name provided",          # bridge without IPAM: CHECK delegates to an empty type
    "not found in routing table",       # a route without gw is looked up with gw <nil>
]


def check(twin, plugin, conf, version, ctr=0, key="c0"):
    """CHECK right after the ADD (a later ADD may change the bridge's MAC)."""
    if not at_least(version, "0.4.0"):
        return
    rr, rb = twin.both(plugin, "CHECK", with_prev(conf, key), ctr=ctr)
    if not rr.ok and any(f in rr.stdout for f in REF_CHECK_FAULTS):
        assert rb.ok, f"cnibox CHECK failed: {rb!r}"
        return
    assert rr.ok, f"reference CHECK failed: {rr!r}"
    assert rb.ok, f"cnibox CHECK failed: {rb!r}"


def del_cycle(twin, plugin, conf, version, ctr=0, key="c0"):
    """DEL, compare, repeat DEL, DEL with no netns, compare."""
    dconf = with_prev(conf, key) if at_least(version, "0.4.0") else conf
    rr, rb = twin.both(plugin, "DEL", dconf, ctr=ctr)
    assert rr.ok and rb.ok, (rr, rb)
    compare_states(twin)
    rr, rb = twin.both(plugin, "DEL", dconf, ctr=ctr)
    assert rr.ok and rb.ok, ("repeat DEL", rr, rb)
    rr, rb = twin.both(plugin, "DEL", dconf, ctr=ctr, netns="")
    assert rr.ok and rb.ok, ("DEL without netns", rr, rb)
    compare_states(twin)


# ---------------------------------------------------------------- loopback

def old_shape(res, version):
    """A 1.0-shaped result as the given older version has it (spec conversion rules)."""
    if "ips" not in res or any("version" in ip for ip in res["ips"]):
        return res
    fam = lambda a: "6" if ":" in a["address"] else "4"  # noqa: E731
    if at_least(version, "0.3.0"):
        out = dict(res)
        out["ips"] = [dict(ip, version=fam(ip)) for ip in res["ips"]]
        # key order as printed: version first
        out["ips"] = [{"version": ip["version"], **{k: v for k, v in ip.items() if k != "version"}}
                      for ip in out["ips"]]
        return out
    out = {"cniVersion": res["cniVersion"]}
    for f in ("4", "6"):
        ips = [ip for ip in res["ips"] if fam(ip) == f]
        if ips:
            o = {"ip": ips[0]["address"]}
            if ips[0].get("gateway"):
                o["gateway"] = ips[0]["gateway"]
            out["ip" + f] = o
    if "dns" in res:
        out["dns"] = res["dns"]
    return out


@pytest.mark.parametrize("version", VERSIONS)
def test_loopback(twin, version):
    conf = {"cniVersion": version, "name": "diffnet", "type": "loopback"}
    for side in (twin.ref, twin.box):      # start with lo down, as in a fresh namespace
        side.ctr().sh("ip link set lo down")
    compare_states(twin)
    rr, rb = twin.both("loopback", "ADD", conf, key="c0")
    if not at_least(version, "1.0.0"):
        # DIFFERENCES["ref-loopback-shape"]: the reference prints a 1.0-shaped
        # result under the old version; cnibox prints that version's shape.
        assert rr.ok, rr
        rr.json = old_shape(rr.json, version)
    compare_results(rr, rb, version)
    compare_states(twin)
    check(twin, "loopback", conf, version)
    del_cycle(twin, "loopback", conf, version)


# ---------------------------------------------------------------- ptp

def hl_ipam(ranges, **kw):
    i = {"type": "host-local", "dataDir": "@DATA@", "ranges": ranges}
    i.update(kw)
    return i


V4 = [{"subnet": "10.60.0.0/24"}]
V6 = [{"subnet": "fd60::/64"}]

PTP_CONFIGS = {
    "v4": dict(ipam=hl_ipam([V4])),
    "v6": dict(ipam=hl_ipam([V6])),
    "dual": dict(ipam=hl_ipam([V4, V6])),
    "v4-routes": dict(ipam=hl_ipam([V4], routes=[{"dst": "0.0.0.0/0"}, {"dst": "10.99.0.0/16"}])),
    "dual-routes": dict(ipam=hl_ipam([V4, V6], routes=[{"dst": "0.0.0.0/0"}, {"dst": "::/0"}])),
    "mtu": dict(mtu=1400, ipam=hl_ipam([V4])),
    "dns": dict(dns={"nameservers": ["10.60.0.53"], "search": ["x.test"]}, ipam=hl_ipam([V4])),
    "window-gateway": dict(ipam=hl_ipam([[{"subnet": "10.60.0.0/24", "rangeStart": "10.60.0.50",
                                          "gateway": "10.60.0.254"}]])),
}


def ptp(version, **kw):
    c = {"cniVersion": version, "name": "diffnet", "type": "ptp"}
    c.update(kw)
    return c


def ptp_matrix():
    out = []
    for cfg in sorted(PTP_CONFIGS):
        vs = VERSIONS if cfg == "v4" else FAMILY_VERSIONS
        out += [(cfg, v) for v in vs]
    return out


@pytest.mark.parametrize("cfg,version", ptp_matrix())
def test_ptp(twin, cfg, version):
    conf = ptp(version, **PTP_CONFIGS[cfg])
    rr, rb = twin.both("ptp", "ADD", conf, key="c0")
    compare_results(rr, rb, version)
    compare_states(twin)
    check(twin, "ptp", conf, version)
    # A second container on the same network.
    rr, rb = twin.both("ptp", "ADD", conf, ctr=1, key="c1")
    compare_results(rr, rb, version)
    compare_states(twin)
    check(twin, "ptp", conf, version, ctr=1, key="c1")
    del_cycle(twin, "ptp", conf, version)
    del_cycle(twin, "ptp", conf, version, ctr=1, key="c1")


# ---------------------------------------------------------------- bridge

BR = "cbtbr0"


def bridge(version, **kw):
    c = {"cniVersion": version, "name": "diffnet", "type": "bridge", "bridge": BR}
    c.update(kw)
    return c


BR_CONFIGS = {
    "v4": dict(ipam=hl_ipam([V4])),
    "gateway": dict(isGateway=True, ipam=hl_ipam([V4])),
    "default-gateway": dict(isDefaultGateway=True, ipam=hl_ipam([V4])),
    "v6-gateway": dict(isGateway=True, ipam=hl_ipam([V6])),
    "dual-default-gateway": dict(isDefaultGateway=True, ipam=hl_ipam([V4, V6])),
    "ipam-routes": dict(isGateway=True, ipam=hl_ipam([V4], routes=[{"dst": "10.99.0.0/16"}])),
    "mtu": dict(mtu=1400, isGateway=True, ipam=hl_ipam([V4])),
    "hairpin": dict(hairpinMode=True, ipam=hl_ipam([V4])),
    "promisc": dict(promiscMode=True, ipam=hl_ipam([V4])),
    "dns": dict(dns={"nameservers": ["10.60.0.53"], "domain": "x.test"}, ipam=hl_ipam([V4])),
    "l2-only": dict(ipam={}),
    "vlan": dict(vlan=10, ipam=hl_ipam([V4])),
    "vlan-gateway": dict(vlan=20, isGateway=True, ipam=hl_ipam([V4])),
    "window-gateway": dict(isGateway=True,
                           ipam=hl_ipam([[{"subnet": "10.60.0.0/24", "rangeStart": "10.60.0.50",
                                           "gateway": "10.60.0.254"}]])),
    "force-address": dict(isGateway=True, forceAddress=True, ipam=hl_ipam([V4])),
}


def bridge_matrix():
    out = []
    for cfg in sorted(BR_CONFIGS):
        vs = VERSIONS if cfg in ("default-gateway", "dual-default-gateway") else FAMILY_VERSIONS
        for v in vs:
            if cfg == "l2-only" and not at_least(v, "0.3.0"):
                continue   # an address-less result cannot be a 0.2.0 result (both refuse)
            out.append((cfg, v))
    return out


@pytest.mark.parametrize("cfg,version", bridge_matrix())
def test_bridge(twin, cfg, version):
    conf = bridge(version, **BR_CONFIGS[cfg])
    rr, rb = twin.both("bridge", "ADD", conf, key="c0")
    if cfg in ("vlan", "vlan-gateway") and not rr.ok:
        # A kernel without bridge VLAN filtering (this host's; the VM lane
        # covers vlan and its gateway): both fail, cnibox leaving nothing behind.
        compare_errors(rr, rb)
        assert "VLAN filtering" in rb.json["msg"], rb
        assert set(twin.box.ctr().links()) == {"lo"}
        return
    compare_results(rr, rb, version)
    compare_states(twin)
    check(twin, "bridge", conf, version)
    rr, rb = twin.both("bridge", "ADD", conf, ctr=1, key="c1")
    compare_results(rr, rb, version)
    compare_states(twin)
    check(twin, "bridge", conf, version, ctr=1, key="c1")
    del_cycle(twin, "bridge", conf, version)
    del_cycle(twin, "bridge", conf, version, ctr=1, key="c1")


def test_bridge_existing_bridge_with_other_address(twin):
    """The bridge already holds a different gateway address."""
    for side in (twin.ref, twin.box):
        side.host.sh(f"ip link add {BR} type bridge && ip addr add 10.60.5.1/24 dev {BR} && ip link set {BR} up")
    conf = bridge("1.0.0", isGateway=True, ipam=hl_ipam([V4]))
    twin.box.ctr()
    before = twin.box.state()
    rr, rb = twin.both("bridge", "ADD", conf, key="c0")
    if rr.ok:
        compare_results(rr, rb)
        compare_states(twin)
    else:
        compare_errors(rr, rb)
        # DIFFERENCES["rollback"]: the reference leaves its veth; cnibox nothing
        # (both set the existing bridge's accept_ra=0 first, a change the DEL would not undo either).
        after = twin.box.state()
        assert (after["host"], after["ctrs"]) == (before["host"], before["ctrs"])


def test_bridge_l2_only_0_2_0(twin):
    """No IPAM and a 0.2.0 result: nothing to report an address in."""
    rr, rb = twin.both("bridge", "ADD", bridge("0.2.0", ipam={}), key="c0")
    if rr.ok:
        compare_results(rr, rb)
    else:
        compare_errors(rr, rb)


BAD_MAIN = {
    "bridge-vlan-5000": ("bridge", dict(vlan=5000, ipam=hl_ipam([V4])), 7),
    "bridge-hairpin-promisc": ("bridge", dict(hairpinMode=True, promiscMode=True, ipam=hl_ipam([V4])), 7),
    "bridge-mtu-type": ("bridge", dict(mtu="x", ipam=hl_ipam([V4])), 7),
    "bridge-ipam-type-path": ("bridge", dict(ipam={"type": "../cni/host-local"}), 7),
    "bridge-bad-range": ("bridge", dict(ipam=hl_ipam([[{"subnet": "10.60.0.1/24"}]])), 7),
    "ptp-no-ipam": ("ptp", dict(), 7),
    "ptp-mtu-type": ("ptp", dict(mtu=[1], ipam=hl_ipam([V4])), 7),
    "ptp-bad-range": ("ptp", dict(ipam=hl_ipam([[{"subnet": "10.60.0.0/31"}]])), 7),
    "bridge-version-unknown": ("bridge", dict(cniVersion="2.0.0", ipam=hl_ipam([V4])), 1),
}


@pytest.mark.parametrize("bad", sorted(BAD_MAIN))
def test_bad_main(twin, bad):
    plugin, kw, code = BAD_MAIN[bad]
    c = {"cniVersion": "1.0.0", "name": "diffnet", "type": plugin}
    c.update(kw)
    rr, rb = twin.both(plugin, "ADD", c)
    compare_errors(rr, rb, box_code=code)
    # DIFFERENCES["rollback"]: cnibox leaves no link in the container.
    assert set(twin.box.ctr().links()) == {"lo"}


@pytest.mark.parametrize("plugin", ["bridge", "ptp"])
def test_ifname_exists(twin, plugin):
    for side in (twin.ref, twin.box):
        side.ctr().sh("ip link add eth0 type veth peer name eth0p")
    conf = {"cniVersion": "1.0.0", "name": "diffnet", "type": plugin, "bridge": BR, "ipam": hl_ipam([V4])}
    if plugin == "ptp":
        del conf["bridge"]
    rr, rb = twin.both(plugin, "ADD", conf)
    compare_errors(rr, rb)
    # DIFFERENCES["rollback"]: no lease is kept for the failed ADD.
    assert not any(v[0] == "file" and "10.60." in k for k, v in twin.box.leases().items())
