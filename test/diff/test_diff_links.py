"""macvlan and host-device against the reference: the ADD result, the
kernel state of the host and container namespaces, CHECK, DEL and repeat
DEL, for each option the reference 1.1.1 has, and the error codes for bad
input. Each side gets its own master / device (a veth pair end) in its
"host" namespace, named the same on both sides."""
import pytest

from cnidiff import at_least, common_versions, compare_errors, compare_results, compare_states

VERSIONS = common_versions("macvlan")
FAMILY_VERSIONS = [v for v in ("0.2.0", "0.4.0", "1.0.0") if v in VERSIONS]
MASTER = "cbtm0"
DEVICE = "cbthd0"


def hl_ipam(ranges, **kw):
    i = {"type": "host-local", "dataDir": "@DATA@", "ranges": ranges}
    i.update(kw)
    return i


V4 = [{"subnet": "10.61.0.0/24"}]
V6 = [{"subnet": "fd61::/64"}]


def with_prev(conf, key="c0"):
    return lambda side: dict(conf, prevResult=side.results[key])


def add_master(twin, name=MASTER, mac=None):
    for side in (twin.ref, twin.box):
        # txqlen 500: neither side's plugin veth default, so the veth
        # normalisation of cnidiff leaves these test links alone.
        side.host.sh(f"ip link add {name} txqueuelen 500 type veth peer name {name}p txqueuelen 500")
        if mac:
            side.host.sh(f"ip link set {name} address {mac}")
        side.host.sh(f"ip link set {name}p address 02:00:00:00:0f:01")
        side.host.sh(f"ip link set {name} up && ip link set {name}p up")


def check_and_del(twin, plugin, conf, version, ctr=0, key="c0", repeat=True):
    if at_least(version, "0.4.0"):
        rr, rb = twin.both(plugin, "CHECK", with_prev(conf, key), ctr=ctr)
        assert rb.ok, f"cnibox CHECK failed: {rb!r}"
        # DIFFERENCES["ref-check-faults"]: the reference looks up a route
        # without a gateway with gw <nil> and fails its own CHECK.
        assert rr.ok or "not found in routing table" in rr.stdout, f"reference CHECK failed: {rr!r}"
    dconf = with_prev(conf, key) if at_least(version, "0.4.0") else conf
    rr, rb = twin.both(plugin, "DEL", dconf, ctr=ctr)
    assert rr.ok and rb.ok, (rr, rb)
    compare_states(twin)
    if repeat:
        rr, rb = twin.both(plugin, "DEL", dconf, ctr=ctr, netns="")
        assert rr.ok and rb.ok, ("DEL without netns", rr, rb)
        compare_states(twin)


# ---------------------------------------------------------------- macvlan

MACVLAN_CONFIGS = {
    "v4": dict(ipam=hl_ipam([V4])),
    "v6": dict(ipam=hl_ipam([V6])),
    "dual": dict(ipam=hl_ipam([V4, V6])),
    "routes": dict(ipam=hl_ipam([V4], routes=[{"dst": "0.0.0.0/0"}, {"dst": "10.99.0.0/16"}])),
    "mode-private": dict(mode="private", ipam=hl_ipam([V4])),
    "mode-vepa": dict(mode="vepa", ipam=hl_ipam([V4])),
    "mode-passthru": dict(mode="passthru", ipam=hl_ipam([V4])),
    "mtu": dict(mtu=1400, ipam=hl_ipam([V4])),
    "mac": dict(mac="0a:58:0a:3d:00:07", ipam=hl_ipam([V4])),
    "runtime-mac": dict(capabilities={"mac": True}, runtimeConfig={"mac": "0a:58:0a:3d:00:08"},
                        ipam=hl_ipam([V4])),
    "dns": dict(dns={"nameservers": ["10.61.0.53"]}, ipam=hl_ipam([V4])),
}


def macvlan(version, **kw):
    c = {"cniVersion": version, "name": "diffmv", "type": "macvlan", "master": MASTER}
    c.update(kw)
    return c


def macvlan_matrix():
    out = []
    for cfg in sorted(MACVLAN_CONFIGS):
        vs = VERSIONS if cfg == "v4" else FAMILY_VERSIONS
        out += [(cfg, v) for v in vs]
    return out


@pytest.mark.parametrize("cfg,version", macvlan_matrix())
def test_macvlan(twin, cfg, version):
    add_master(twin)
    conf = macvlan(version, **MACVLAN_CONFIGS[cfg])
    rr, rb = twin.both("macvlan", "ADD", conf, key="c0")
    compare_results(rr, rb, version)
    compare_states(twin)
    # A second container on the same master (passthru: one per master; a
    # fixed MAC: one per network).
    if cfg not in ("mode-passthru", "mac", "runtime-mac"):
        rr, rb = twin.both("macvlan", "ADD", conf, ctr=1, key="c1")
        compare_results(rr, rb, version)
        compare_states(twin)
        check_and_del(twin, "macvlan", conf, version, ctr=1, key="c1")
    check_and_del(twin, "macvlan", conf, version)


def test_macvlan_default_master(twin):
    """No master: the interface of the host's default route."""
    add_master(twin)
    for side in (twin.ref, twin.box):
        side.host.sh(f"ip addr add 192.0.2.2/24 dev {MASTER} && ip route add default via 192.0.2.1")
    conf = {"cniVersion": "1.0.0", "name": "diffmv", "type": "macvlan", "ipam": hl_ipam([V4])}
    rr, rb = twin.both("macvlan", "ADD", conf, key="c0")
    compare_results(rr, rb, "1.0.0")
    compare_states(twin)
    check_and_del(twin, "macvlan", conf, "1.0.0")


BAD_MACVLAN = {
    "missing-master": dict(master="cbtnomaster", ipam=hl_ipam([V4])),
    "bad-mode": dict(mode="sideways", ipam=hl_ipam([V4])),
    "mtu-too-big": dict(mtu=9999, ipam=hl_ipam([V4])),
    "bad-mac": dict(mac="not-a-mac", ipam=hl_ipam([V4])),
}


@pytest.mark.parametrize("bad", sorted(BAD_MACVLAN))
def test_macvlan_bad(twin, bad):
    add_master(twin)
    conf = dict({"cniVersion": "1.0.0", "name": "diffmv", "type": "macvlan", "master": MASTER},
                **BAD_MACVLAN[bad])
    rr, rb = twin.both("macvlan", "ADD", conf)
    compare_errors(rr, rb)
    assert set(twin.box.ctr().links()) == {"lo"}
    compare_states(twin)


# ---------------------------------------------------------------- host-device

def host_device(version, **kw):
    c = {"cniVersion": version, "name": "diffhd", "type": "host-device"}
    c.update(kw)
    return c


HD_CONFIGS = {
    "device": dict(device=DEVICE),
    "device-ipam": dict(device=DEVICE, ipam={"type": "static",
                                             "addresses": [{"address": "10.62.0.5/24", "gateway": "10.62.0.1"}],
                                             "routes": [{"dst": "10.98.0.0/16"}]}),
    "hwaddr": dict(hwaddr="0a:58:0a:3e:00:09"),
    "kernelpath": dict(kernelpath=f"/sys/devices/virtual/net/{DEVICE}"),
}


def hd_matrix():
    out = []
    for cfg in sorted(HD_CONFIGS):
        vs = VERSIONS if cfg == "device" else FAMILY_VERSIONS
        out += [(cfg, v) for v in vs if cfg == "device" or at_least(v, "0.3.0") or "ipam" in cfg]
    return out


@pytest.mark.parametrize("cfg,version", hd_matrix())
def test_host_device(twin, cfg, version):
    add_master(twin, DEVICE, mac="0a:58:0a:3e:00:09")
    conf = host_device(version, **HD_CONFIGS[cfg])
    rr, rb = twin.both("host-device", "ADD", conf, key="c0")
    if not rr.ok:
        compare_errors(rr, rb)
        return
    compare_results(rr, rb, version)
    compare_states(twin)
    check_and_del(twin, "host-device", conf, version, repeat=False)
    # Back in the host namespace under its own name, on both sides.
    for side in (twin.ref, twin.box):
        assert DEVICE in side.host.links()


BAD_HD = {
    "no-device": dict(),
    "missing-device": dict(device="cbtnodev"),
    "bad-kernelpath": dict(kernelpath="/tmp/x"),
}


@pytest.mark.parametrize("bad", sorted(BAD_HD))
def test_host_device_bad(twin, bad):
    add_master(twin, DEVICE, mac="0a:58:0a:3e:00:09")
    rr, rb = twin.both("host-device", "ADD", host_device("1.0.0", **BAD_HD[bad]))
    if rr.ok:
        pytest.fail(f"reference accepted {bad}: {rr!r}")
    compare_errors(rr, rb)
    assert set(twin.box.ctr().links()) == {"lo"}
    compare_states(twin)
