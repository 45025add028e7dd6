"""A netns smoke of each cross-built binary under qemu-user: bridge with
host-local as IPAM (delegated in-process: the applet finds itself in
CNI_PATH) attaches two containers to a bridge in a "host" namespace the test
makes; CHECK with the ADD result as prevResult (as a runtime passes it);
traffic from the host namespace to each container and between the two; DEL
leaves no veth, no container eth0 and no lease.
"""
import pytest

import cnitest

NET = "crossnet"
BR = "cbtx0"
SUBNET = "10.72.0.0/24"
GW = "10.72.0.1"


def ping(ns, ip):
    r = ns.sh(f"ping -4 -c1 -w5 -i0.2 {ip}", check=False)
    assert r.returncode == 0, f"{ns.name}: no echo reply from {ip}: {r.stdout}{r.stderr}"


def test_bridge_host_local_add_check_ping_del(cross, host, make_ns, scratch, bridge_conf):
    conf = bridge_conf(NET, BR, SUBNET)
    ctrs = {"cross-a": make_ns(), "cross-b": make_ns()}
    res, addr = {}, {}
    for cid, ns in ctrs.items():
        r = cross.plugin("bridge", "ADD", conf, host=host, netns=ns, containerid=cid)
        assert r.ok, r
        res[cid] = r.json
        br, hv, cv = r.json["interfaces"]
        assert br["name"] == BR and hv["name"].startswith("veth"), r
        assert cv["name"] == "eth0" and cv["sandbox"] == ns.path, r
        assert [(ip["address"], ip["gateway"]) for ip in r.json["ips"]] == \
            [(f"10.72.0.{len(res) + 1}/24", GW)], r
        addr[cid] = r.json["ips"][0]["address"].split("/")[0]
        assert r.json["ips"][0]["address"] in ns.addrs("eth0")
        assert host.links()[hv["name"]]["master"] == BR
    assert sorted(cnitest.leases(scratch, NET)) == sorted(addr.values())
    assert GW + "/24" in host.addrs(BR)

    for cid, ns in ctrs.items():
        r = cross.plugin("bridge", "CHECK", dict(conf, prevResult=res[cid]), host=host, netns=ns,
                         containerid=cid)
        assert r.ok and r.stdout == "", r

    a, b = ctrs.values()
    ping(host, addr["cross-a"])
    ping(host, addr["cross-b"])
    ping(a, addr["cross-b"])
    ping(b, addr["cross-a"])

    for cid, ns in ctrs.items():
        r = cross.plugin("bridge", "DEL", dict(conf, prevResult=res[cid]), host=host, netns=ns,
                         containerid=cid)
        assert r.ok and r.stdout == "", r
        assert "eth0" not in ns.links()
    assert [n for n in host.links() if n.startswith("veth")] == []
    assert cnitest.leases(scratch, NET) == []
    # Left: host-local's lock and last reservation, cnibox's lease index.
    assert scratch.files(NET) == [".cnibox/state", "last_reserved_ip.0", "lock"]


@pytest.mark.parametrize("path", ["/proc/self/ns/mnt", "/proc/self/status"], ids=["mnt-namespace", "proc-file"])
def test_not_a_net_namespace_is_refused(cross, path):
    """qemu-user answers the NS_GET_NSTYPE ioctl with ENOSYS (kernels before
    4.11 with ENOTTY): CNI_NETNS is then checked by entering it as a network
    namespace, which the kernel refuses for another kind of namespace and
    for any other file under /proc: code 8, for ADD and DEL."""
    conf = {"cniVersion": "1.0.0", "name": "lo", "type": "loopback"}
    for cmd in ("ADD", "DEL"):
        r = cross.plugin("loopback", cmd, conf, netns=path, ifname="lo")
        cnitest.assert_cni_error(r, 8, "not a valid network namespace")
