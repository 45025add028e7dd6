"""ptp applet: ADD/CHECK/DEL/STATUS/GC against real namespaces (root).

The plugin runs inside the `host` namespace with host-local (dataDir under
`scratch`) as IPAM; containers are further namespaces.
"""
import shutil
import time

import pytest

import cnitest
from cnitest import assert_cni_error, kernel_state, mask_result, run_plugin

NET = "ptpnet"
V4 = "10.61.0.0/24"
V6 = "fd61::/64"



needs_ping = pytest.mark.skipif(shutil.which("ping") is None, reason="needs ping (iputils-ping)")


def ping(ns, ip):
    """One echo reply from `ip` within 5 s (a fresh IPv6 gateway is usable
    only once its DAD is over)."""
    ns.sh(f"ping {'-6' if ':' in ip else '-4'} -c1 -w5 -i0.2 {ip}")


def wait_for(cond, seconds=5):
    end = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def steady(ns, rename=None):
    """kernel_state without IPv6 link-local addresses and their routes: the
    kernel adds those a moment after a link gets carrier (from its link
    watcher), so when they show up races with the test."""
    s = kernel_state(ns, rename)
    s["addrs"] = {k: [a for a in v if a[1] != "fe80::LL"] for k, v in s["addrs"].items()}
    s["routes"] = [r for r in s["routes"] if r[2] not in ("fe80::LL", "fe80::", "ff00::/8")]
    return s

def ipam(scratch, subnets=(V4,), routes=None):
    i = {"type": "host-local", "dataDir": scratch.path, "ranges": [[{"subnet": s}] for s in subnets]}
    if routes is not None:
        i["routes"] = routes
    return i


def conf(scratch, version="1.0.0", subnets=(V4,), routes=None, **kw):
    c = {"cniVersion": version, "name": NET, "type": "ptp", "ipam": ipam(scratch, subnets, routes)}
    c.update(kw)
    return c


def leases(scratch):
    """IP addresses host-local holds for the network."""
    return sorted(cnitest.leases(scratch, NET))


def host_veths(host):
    return [n for n, l in host.links().items() if n.startswith("veth")]


def routes_of(ns, fam, dev):
    return {(r.get("dst"), r.get("gateway"), r.get("scope", "global"), r.get("prefsrc"))
            for r in ns.routes(fam) if r.get("dev") == dev and r.get("table", "main") == "main"
            and r.get("type", "unicast") == "unicast" and not (r.get("dst") or "").startswith("fe80")}


def add(host, ctr, c, **kw):
    r = run_plugin("ptp", "ADD", c, host=host, netns=ctr, **kw)
    assert r.ok, r
    return r.json


def check_v4_state(host, ctr, res, ifname="eth0"):
    hostveth = res["interfaces"][0]["name"]
    ip = res["ips"][0]["address"].split("/")[0]
    gw = res["ips"][0]["gateway"]
    links = ctr.links()
    assert links[ifname]["link_type"] == "ether"
    assert "UP" in links[ifname]["flags"]
    assert links[ifname]["address"] == res["interfaces"][1]["mac"]
    assert f"{ip}/24" in ctr.addrs(ifname)
    assert routes_of(ctr, "-4", ifname) >= {
        ("10.61.0.0/24", gw, "global", ip),
        (gw, None, "link", ip),
    }
    hl = host.links()[hostveth]
    assert "UP" in hl["flags"]
    assert hl["address"] == res["interfaces"][0]["mac"]
    assert host.addrs(hostveth) == [f"{gw}/32"] or f"{gw}/32" in host.addrs(hostveth)
    assert (ip, None, "host", None) in routes_of(host, "-4", hostveth)
    assert host.sysctl("net.ipv4.ip_forward") == "1"


@pytest.mark.parametrize("version", ["0.3.1", "0.4.0", "1.0.0", "1.1.0"])
def test_add_v4(host, ctr, scratch, version):
    res = add(host, ctr, conf(scratch, version, routes=[{"dst": "0.0.0.0/0"}]))
    assert res["cniVersion"] == version
    h, c = res["interfaces"]
    assert h["name"].startswith("veth") and len(h["name"]) == 12 and "sandbox" not in h
    assert c["name"] == "eth0" and c["sandbox"] == ctr.path
    ips = res["ips"]
    assert len(ips) == 1
    assert ips[0]["interface"] == 1
    assert ips[0]["address"] == "10.61.0.2/24" and ips[0]["gateway"] == "10.61.0.1"
    assert ("version" in ips[0]) == version.startswith("0.")
    assert res["routes"] == [{"dst": "0.0.0.0/0"}]
    check_v4_state(host, ctr, res)
    assert ("default", "10.61.0.1", "global", None) in routes_of(ctr, "-4", "eth0")
    assert leases(scratch) == ["10.61.0.2"]


def test_add_020_shape(host, ctr, scratch):
    res = add(host, ctr, conf(scratch, "0.2.0", routes=[{"dst": "0.0.0.0/0"}]))
    res.pop("dns", None)
    assert res == {"cniVersion": "0.2.0",
                   "ip4": {"ip": "10.61.0.2/24", "gateway": "10.61.0.1", "routes": [{"dst": "0.0.0.0/0"}]}}
    assert "10.61.0.2/24" in ctr.addrs("eth0")


def test_add_dual_stack(host, ctr, scratch):
    res = add(host, ctr, conf(scratch, "1.1.0", subnets=(V4, V6),
                              routes=[{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]))
    assert [(i["address"], i["gateway"], i["interface"]) for i in res["ips"]] == [
        ("10.61.0.2/24", "10.61.0.1", 1), ("fd61::2/64", "fd61::1", 1)]
    check_v4_state(host, ctr, res)
    hostveth = res["interfaces"][0]["name"]
    assert "fd61::2/64" in ctr.addrs("eth0")
    r6 = routes_of(ctr, "-6", "eth0")
    assert ("fd61::/64", "fd61::1", "global", "fd61::2") in r6
    assert ("fd61::1", None, "global", "fd61::2") in r6
    assert ("default", "fd61::1", "global", None) in r6
    # The kernel's own prefix route is gone: everything goes through the gateway.
    assert not [r for r in r6 if r[0] == "fd61::/64" and r[1] is None]
    assert "fd61::1/128" in host.addrs(hostveth)
    assert ("fd61::2", None, "global", None) in routes_of(host, "-6", hostveth)
    assert host.sysctl("net.ipv6.conf.all.forwarding") == "1"
    assert ctr.sysctl("net/ipv6/conf/eth0/keep_addr_on_down") == "1"
    r = run_plugin("ptp", "CHECK", conf(scratch, "1.1.0", subnets=(V4, V6), prevResult=res), host=host, netns=ctr)
    assert r.ok, r


@needs_ping
def test_add_v6_only_and_ping(host, make_ns, scratch):
    a, b = make_ns(), make_ns()
    c = conf(scratch, "1.0.0", subnets=(V6,), routes=[{"dst": "::/0"}])
    ra = add(host, a, c, containerid="a")
    rb = add(host, b, c, containerid="b")
    assert ra["ips"][0]["address"] == "fd61::2/64" and rb["ips"][0]["address"] == "fd61::3/64"
    ping(a, 'fd61::3')


@needs_ping
def test_two_containers_ping(host, make_ns, scratch):
    a, b = make_ns(), make_ns()
    c = conf(scratch)
    ra = add(host, a, c, containerid="a")
    rb = add(host, b, c, containerid="b")
    ipa = ra["ips"][0]["address"].split("/")[0]
    ipb = rb["ips"][0]["address"].split("/")[0]
    ping(a, ipb)
    ping(b, ipa)
    ping(b, '10.61.0.1')
    assert leases(scratch) == sorted([ipa, ipb])
    for cid, ns in (("a", a), ("b", b)):
        r = run_plugin("ptp", "DEL", c, host=host, netns=ns, containerid=cid)
        assert r.ok, r
    assert leases(scratch) == []
    assert host_veths(host) == []


def test_mtu_and_ifname(host, ctr, scratch):
    res = add(host, ctr, conf(scratch, mtu=1400), ifname="net1")
    assert ctr.links()["net1"]["mtu"] == 1400
    assert host.links()[res["interfaces"][0]["name"]]["mtu"] == 1400
    assert res["interfaces"][1]["name"] == "net1"


def test_dns_from_conf_overrides_ipam(host, ctr, scratch):
    dns = {"nameservers": ["10.61.0.53"], "search": ["example.test"]}
    res = add(host, ctr, conf(scratch, dns=dns))
    assert res["dns"] == dns


def test_check(host, ctr, scratch):
    c = conf(scratch, routes=[{"dst": "10.99.0.0/16"}])
    res = add(host, ctr, c)
    cc = dict(c, prevResult=res)
    r = run_plugin("ptp", "CHECK", cc, host=host, netns=ctr)
    assert r.ok, r
    ctr.sh("ip route del 10.99.0.0/16")
    assert_cni_error(run_plugin("ptp", "CHECK", cc, host=host, netns=ctr), 999, "10.99.0.0/16")
    ctr.sh("ip addr del 10.61.0.2/24 dev eth0")
    assert_cni_error(run_plugin("ptp", "CHECK", cc, host=host, netns=ctr), 999, "10.61.0.2")
    assert_cni_error(run_plugin("ptp", "CHECK", c, host=host, netns=ctr), 999, "prevResult")


def test_check_wrong_mac(host, ctr, scratch):
    c = conf(scratch)
    res = add(host, ctr, c)
    res["interfaces"][1]["mac"] = "02:00:00:00:00:01"
    r = run_plugin("ptp", "CHECK", dict(c, prevResult=res), host=host, netns=ctr)
    assert_cni_error(r, 999, "mac")


def test_del_releases_everything(host, ctr, scratch):
    c = conf(scratch)
    host_before, ctr_before = host.state(), ctr.state()
    add(host, ctr, c)
    for _ in range(2):   # repeat DEL
        r = run_plugin("ptp", "DEL", c, host=host, netns=ctr)
        assert r.ok, r
        assert r.stdout == ""
        assert leases(scratch) == []
        assert ctr.state() == ctr_before
        assert host.state() == host_before


def test_del_empty_netns(host, ctr, scratch):
    c = conf(scratch)
    add(host, ctr, c)
    r = run_plugin("ptp", "DEL", c, host=host, netns="")
    assert r.ok, r
    assert leases(scratch) == []
    assert "eth0" in ctr.links()   # nothing to find it by without a netns


def test_del_vanished_netns(host, make_ns, scratch):
    ns = make_ns()
    c = conf(scratch)
    add(host, ns, c)
    path = ns.path
    ns.delete()
    r = run_plugin("ptp", "DEL", c, host=host, netns=path)
    assert r.ok, r
    assert leases(scratch) == []
    # The kernel tears a deleted namespace down (and the veth with it) in the background.
    wait_for(lambda: host_veths(host) == [])


def test_del_link_gone(host, ctr, scratch):
    c = conf(scratch)
    add(host, ctr, c)
    ctr.sh("ip link del eth0")
    r = run_plugin("ptp", "DEL", c, host=host, netns=ctr)
    assert r.ok, r
    assert leases(scratch) == []


def test_del_without_add(host, ctr, scratch):
    r = run_plugin("ptp", "DEL", conf(scratch), host=host, netns=ctr)
    assert r.ok, r


def test_ifname_taken_releases_lease(host, ctr, scratch):
    ctr.sh("ip link add eth0 type veth peer name other0")
    host_before, ctr_before = host.state(), ctr.state()
    r = run_plugin("ptp", "ADD", conf(scratch), host=host, netns=ctr)
    assert_cni_error(r, 999, "eth0", "already exists")
    assert leases(scratch) == []
    assert host.state() == host_before and ctr.state() == ctr_before
    r = run_plugin("ptp", "DEL", conf(scratch), host=host, netns=ctr)   # DEL after a failed ADD
    assert r.ok, r


@pytest.mark.parametrize("extra,code,words", [
    ({"ipMasq": True, "ipMasqBackend": "pf"}, 7, ["ipMasqBackend", "pf"]),
    ({"ipMasq": "yes"}, 7, ["ipMasq"]),
    ({"ipMasqBackend": "pf"}, 7, ["pf"]),
    ({"mtu": -5}, 7, ["mtu"]),
    ({"mtu": 70000}, 7, ["mtu"]),
    ({"mtu": "big"}, 7, ["mtu"]),
    ({"ipam": {}}, 7, ["ipam"]),
])
def test_config_errors_leave_nothing(host, ctr, scratch, extra, code, words):
    host_before, ctr_before = host.state(), ctr.state()
    c = conf(scratch, **extra)
    r = run_plugin("ptp", "ADD", c, host=host, netns=ctr)
    assert_cni_error(r, code, *words)
    assert scratch.files() == []
    assert host.state() == host_before and ctr.state() == ctr_before


@pytest.mark.parametrize("ipam_conf,words", [
    ({"type": "nosuchipam"}, ["nosuchipam"]),
    ({"type": "host-local", "ranges": [[{"subnet": "nonsense"}]]}, ["nonsense"]),
])
def test_ipam_failure_leaves_nothing(host, ctr, scratch, ipam_conf, words):
    if ipam_conf["type"] == "host-local":
        ipam_conf = dict(ipam_conf, dataDir=scratch.path)
    before = steady(host), steady(ctr)
    r = run_plugin("ptp", "ADD", conf(scratch, ipam=ipam_conf), host=host, netns=ctr)
    assert_cni_error(r, {7, 999}, *words)
    assert (steady(host), steady(ctr)) == before
    assert leases(scratch) == []


def test_ipmasq_backend_alone_is_accepted(host, ctr, scratch):
    add(host, ctr, conf(scratch, ipMasq=False, ipMasqBackend="iptables"))


def test_status_and_gc(host, make_ns, scratch):
    c = conf(scratch, "1.1.0")
    add(host, make_ns(), c, containerid="keep")
    add(host, make_ns(), c, containerid="drop")
    r = run_plugin("ptp", "STATUS", c, host=host)
    assert r.ok, r
    gc = dict(c, **{"cni.dev/valid-attachments": [{"containerID": "keep", "ifname": "eth0"}]})
    r = run_plugin("ptp", "GC", gc, host=host)
    assert r.ok, r
    assert leases(scratch) == ["10.61.0.2"]
    assert_cni_error(run_plugin("ptp", "STATUS", conf(scratch, ipMasq=True, ipMasqBackend="pf", cniVersion="1.1.0"),
                                host=host), 7, "pf")


@pytest.mark.skipif(not cnitest.have_ref("ptp"), reason="no reference ptp")
@pytest.mark.parametrize("version", ["0.4.0", "1.0.0"])
def test_same_as_reference(host, make_ns, scratch, version):
    other = cnitest.Netns("cbt-refhost")
    try:
        ours, theirs = make_ns(), make_ns()
        refdata = cnitest.Scratch()
        c = conf(scratch, version, routes=[{"dst": "0.0.0.0/0"}])
        cr = conf(refdata, version, routes=[{"dst": "0.0.0.0/0"}])
        a = run_plugin("ptp", "ADD", c, host=host, netns=ours)
        b = run_plugin("ptp", "ADD", cr, host=other, netns=theirs, ref=True,
                       cni_path=cnitest.REF_DIR)
        assert a.ok and b.ok, (a, b)
        ja, jb = mask_result(a.json), mask_result(b.json)
        for j in (ja, jb):
            if j.get("dns") == {}:
                del j["dns"]
        assert ja == jb
        ren_a = {a.json["interfaces"][0]["name"]: "HOSTVETH"}
        ren_b = {b.json["interfaces"][0]["name"]: "HOSTVETH"}
        assert steady(host, ren_a) == steady(other, ren_b)
        assert steady(ours) == steady(theirs)
        refdata.cleanup()
    finally:
        other.delete()
