"""dhcp against the reference (its plugin and its daemon, 1.1.1): each side
its own LAN with the same dnsmasq (dhcplan.py), its own daemon, and a
macvlan container on it; the ADD results must have the same shape for each
cniVersion (the address's host part, which dnsmasq picks per client, and the
MAC masked). DIFFERENCES["dhcp-dns"]: cnibox also returns the server's DNS
options as the result's dns."""
import shutil

import pytest

import cnitest
from cnidiff import DIFFERENCES, common_versions, show_diff
from dhcplan import Daemon, DnsmasqLan

pytestmark = pytest.mark.skipif(shutil.which("dnsmasq") is None or not cnitest.have_ref("dhcp"),
                                reason="needs dnsmasq (dnsmasq-base) and the reference dhcp plugin")

VERSIONS = common_versions("dhcp")
NET = "lan"


class Side:
    def __init__(self, make_ns, ref):
        self.ref = ref
        self.lan = DnsmasqLan(make_ns, extra=["--dhcp-option=option:dns-server,10.77.0.1",
                                              "--dhcp-option=option:domain-name,lan.example"])
        self.daemon = Daemon(self.lan.host, ref=ref)
        self.ctr = make_ns()

    def run(self, cmd, conf):
        return cnitest.run_plugin("macvlan", cmd, conf, host=self.lan.host, netns=self.ctr,
                                  containerid="ctr1", ref=self.ref)

    def conf(self, version):
        return {"cniVersion": version, "name": NET, "type": "macvlan", "master": "lan0",
                "ipam": {"type": "dhcp", "daemonSocketPath": self.daemon.sock}}

    def cleanup(self):
        self.daemon.cleanup()
        self.lan.cleanup()


@pytest.fixture
def sides(make_ns):
    s = [Side(make_ns, True), Side(make_ns, False)]
    yield s
    for x in s:
        x.cleanup()


def masked(res):
    """The result with the MAC, the sandbox path and the address's last octet masked."""
    res = cnitest.mask_result(res)

    def host(a):
        net, _, rest = a.rpartition(".")
        return net + ".X" + rest[rest.index("/"):] if "/" in rest else net + ".X"
    for ip in res.get("ips", []):
        ip["address"] = host(ip["address"])
    if "ip4" in res:
        res["ip4"]["ip"] = host(res["ip4"]["ip"])
    return res


@pytest.mark.parametrize("version", VERSIONS)
def test_add_result_shape(sides, version):
    ref, box = sides
    rr, rb = ref.run("ADD", ref.conf(version)), box.run("ADD", box.conf(version))
    assert rr.ok, (rr, ref.daemon.logtext())
    assert rb.ok, (rb, box.daemon.logtext())
    a, b = masked(rr.json), masked(rb.json)
    # DIFFERENCES["dhcp-dns"]: the DNS options the server sent are cnibox's dns.
    dns = b.pop("dns", None)
    assert dns == {"nameservers": ["10.77.0.1"], "domain": "lan.example"}, dns
    a.pop("dns", None)
    assert b == a, "results differ:\n" + show_diff(a, b)
    assert DIFFERENCES["dhcp-dns"]
    for s in sides:
        assert s.run("DEL", s.conf(version)).ok
