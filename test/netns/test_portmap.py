"""portmap applet against real namespaces (root), both backends.

A bridge + host-local ADD gives a container its address in a "host"
namespace; portmap ADD (chained, with that result) publishes host ports; a
Python server in the container answers on TCP and UDP and tells who it saw.
It is reached from the host namespace, from a client namespace routed
through the host, from the container itself (hairpin), on 127.0.0.1 and
over IPv6. Rules are inspected with iptables-legacy-save / nft; DEL, CHECK,
GC and bad configs complete the picture. Rule-only cases give portmap a
made-up prevResult (it needs no interface).
"""
import atexit
import json
import os
import subprocess
import threading

import pytest

import cnitest
from cnitest import assert_cni_error, run_plugin

NET = "pmnet"
BR = "cbtpm0"
V4 = "10.63.0.0/24"
V6 = "fd63::/64"
HOST4, CTR4 = "10.63.0.1", "10.63.0.2"
HOST6, CTR6 = "fd63::1", "fd63::2"
CLI_HOST4, CLI4 = "10.64.0.1", "10.64.0.2"
PY = "/usr/bin/python3"

BACKENDS = ["iptables", "nftables"]

SERVER = r'''
import socket, sys, threading
def tcp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port)); s.listen(64)
    while True:
        c, a = s.accept()
        c.settimeout(2)
        try:
            c.recv(100)
            c.sendall(("tcp%d %s" % (port, a[0].replace("::ffff:", ""))).encode())
        except OSError:
            pass
        c.close()
def udp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    while True:
        d, a = s.recvfrom(100)
        s.sendto(("udp%d %s" % (port, a[0].replace("::ffff:", ""))).encode(), a)
for p in sys.argv[1].split(","):
    if p: threading.Thread(target=tcp, args=(int(p),), daemon=True).start()
for p in sys.argv[2].split(","):
    if p: threading.Thread(target=udp, args=(int(p),), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
'''

CLIENT = r'''
import socket, sys
proto, host, port, sport, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
s.settimeout(timeout)
if sport:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", sport))
try:
    if proto == "tcp":
        s.connect((host, port)); s.sendall(b"hi"); print(s.recv(200).decode())
    else:
        s.sendto(b"hi", (host, port)); print(s.recvfrom(200)[0].decode())
except OSError as e:
    print("ERR", e)
'''


def talk(ns, proto, addr, port, sport=0, timeout=2.0):
    """One request from namespace `ns`; the server's answer ("tcp80 <peer>")
    or None when nothing came back."""
    p = subprocess.run(["ip", "netns", "exec", ns.name, PY, "-c", CLIENT, proto, addr, str(port), str(sport),
                        str(timeout)], capture_output=True, text=True, timeout=30)
    out = p.stdout.strip()
    return None if not out or out.startswith("ERR") else out


class Server:
    def __init__(self, ns, tcp=(), udp=()):
        self.p = subprocess.Popen(["ip", "netns", "exec", ns.name, PY, "-c", SERVER,
                                   ",".join(map(str, tcp)), ",".join(map(str, udp))],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.p.stdout.readline().strip() == "ready"

    def stop(self):
        self.p.kill()
        self.p.wait()


@pytest.fixture
def servers():
    made = []

    def start(ns, tcp=(), udp=()):
        s = Server(ns, tcp, udp)
        made.append(s)
        return s
    yield start
    for s in made:
        s.stop()


# The records of nftables attachments (dataDir) go to a directory of this
# module's, not to the machine's /run/cni/portmap.
RECORDS = cnitest.Scratch("cbt-pmrec-")
atexit.register(RECORDS.cleanup)


def pm_conf(backend, mappings, prev=None, version="1.0.0", **kw):
    c = {"cniVersion": version, "name": NET, "type": "portmap", "dataDir": RECORDS.path}
    if backend:
        c["backend"] = backend
    if mappings is not None:
        c["runtimeConfig"] = {"portMappings": mappings}
    if prev is not None:
        c["prevResult"] = prev
    c.update(kw)
    return c


def fake_prev(v4=CTR4 + "/24", v6=None, ifname="eth0", sandbox="/var/run/netns/x"):
    ips = []
    if v4:
        ips.append({"interface": 1, "address": v4, "gateway": HOST4})
    if v6:
        ips.append({"interface": 1, "address": v6, "gateway": HOST6})
    return {"cniVersion": "1.0.0",
            "interfaces": [{"name": "vethx", "mac": "aa:aa:aa:aa:aa:aa"},
                           {"name": ifname, "mac": "aa:aa:aa:aa:aa:ab", "sandbox": sandbox}],
            "ips": ips}


def portmap(host, ctr, cmd, conf, cid="ctr1", **kw):
    return run_plugin("portmap", cmd, conf, host=host, netns=ctr, containerid=cid, **kw)


def ok(r):
    assert r.ok, r
    return r


# ---------------------------------------------------------------- looking at rules

def ipt_save(ns, v6=False):
    tool = "ip6tables-legacy-save" if v6 else "iptables-legacy-save"
    return ns.sh(f"{tool} -t nat 2>/dev/null", check=False).stdout


def ipt_rules(ns, v6=False):
    return [l for l in ipt_save(ns, v6).splitlines() if l.startswith("-A ")]


def nft_ruleset(ns):
    return ns.sh("nft list ruleset", check=False).stdout


def nft_json(ns):
    r = ns.sh("nft -j list ruleset", check=False)
    return json.loads(r.stdout or '{"nftables": []}')["nftables"]


def nft_rules(ns, family=None, chain=None):
    return [x["rule"] for x in nft_json(ns) if "rule" in x and x["rule"]["table"] == "cni_hostport"
            and (family is None or x["rule"]["family"] == family) and (chain is None or x["rule"]["chain"] == chain)]


def legacy_tables(ns):
    out = ns.sh("cat /proc/net/ip_tables_names /proc/net/ip6_tables_names", check=False).stdout
    return sorted(out.split())


def traces(ns, backend, cid, net=NET):
    """What of container `cid` (of network `net`) is in the host's rules (empty when none)."""
    if backend == "iptables":
        comment = f'name: \\"{net}\\" id: \\"{cid}\\"'
        save = ipt_save(ns) + ipt_save(ns, True)
        return [l for l in save.splitlines() if dn_chain(cid, net) in l or comment in l]
    return [r for r in nft_rules(ns) if r.get("comment") == cid]


def dn_chain(cid, net=NET):
    import hashlib
    return ("CNI-DN-" + hashlib.sha512((net + cid).encode()).hexdigest())[:28]


# ---------------------------------------------------------------- a world

class World:
    """host namespace, a bridge with a container on it (bridge + host-local)."""

    def __init__(self, host, make_ns, scratch, v6=False, ctr_name="ctr1"):
        self.host = host
        self.ctr = make_ns()
        self.cid = ctr_name
        host.sh("sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0")
        ranges = [[{"subnet": V4}]] + ([[{"subnet": V6}]] if v6 else [])
        self.bconf = {"cniVersion": "1.0.0", "name": NET, "type": "bridge", "bridge": BR,
                      "isDefaultGateway": True,
                      # br_netfilter (bridge-nf-call-iptables=1, the default once loaded)
                      # DNATs hairpin traffic on the bridge itself: back out of the port it
                      # came in by, which needs hairpin mode (as deployments configure it)
                      "hairpinMode": True,
                      "ipam": {"type": "host-local", "dataDir": scratch.path, "ranges": ranges}}
        r = run_plugin("bridge", "ADD", self.bconf, host=host, netns=self.ctr, containerid=self.cid)
        assert r.ok, r
        self.res = r.json
        if v6:
            self.host.sh(f"ip -6 route replace default via {HOST6} dev eth0 || true", check=False)
            self.ctr.sh(f"ip -6 route replace default via {HOST6} dev eth0", check=False)

    def pm(self, cmd, backend, mappings, **kw):
        c = pm_conf(backend, mappings, prev=self.res, **kw)
        return portmap(self.host, self.ctr, cmd, c, cid=self.cid)

    def client(self, make_ns):
        """A namespace routed through the host: 10.64.0.2 -> 10.64.0.1 (host)."""
        cli = make_ns("cbt-cli")
        self.host.sh(f"ip link add cbtcl0 type veth peer name eth0 netns {cli.name}")
        self.host.sh(f"ip addr add {CLI_HOST4}/24 dev cbtcl0 && ip link set cbtcl0 up")
        cli.sh(f"ip addr add {CLI4}/24 dev eth0 && ip link set eth0 up && ip route add default via {CLI_HOST4}")
        return cli


# ---------------------------------------------------------------- traffic

@pytest.mark.parametrize("backend", BACKENDS)
def test_traffic_v4(host, make_ns, scratch, servers, backend):
    w = World(host, make_ns, scratch)
    cli = w.client(make_ns)
    servers(w.ctr, tcp=[80], udp=[53])
    maps = [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
            {"hostPort": 5353, "containerPort": 53, "protocol": "udp"}]
    r = ok(w.pm("ADD", backend, maps))
    assert r.json == w.res                                         # prevResult passed through
    # (a) from the host namespace to its bridge address (OUTPUT)
    assert talk(host, "tcp", HOST4, 8080) == f"tcp80 {HOST4}"
    # (b) from a client routed through the host (PREROUTING); not masqueraded
    assert talk(cli, "tcp", CLI_HOST4, 8080) == f"tcp80 {CLI4}"
    assert talk(cli, "tcp", HOST4, 8080) == f"tcp80 {CLI4}"
    # (c) hairpin: the container to its own published port, masqueraded to the host
    assert talk(w.ctr, "tcp", HOST4, 8080) == f"tcp80 {HOST4}"
    # (d) localhost: route_localnet on the bridge, masqueraded
    assert host.sysctl(f"net/ipv4/conf/{BR}/route_localnet") == "1"
    assert talk(host, "tcp", "127.0.0.1", 8080) == f"tcp80 {HOST4}"
    # (e) UDP
    assert talk(host, "udp", HOST4, 5353) == f"udp53 {HOST4}"
    assert talk(cli, "udp", CLI_HOST4, 5353) == f"udp53 {CLI4}"
    # the plain port is not published; the UDP port is not published for TCP
    assert talk(cli, "tcp", CLI_HOST4, 5353, timeout=0.5) is None
    ok(w.pm("CHECK", backend, maps))
    ok(w.pm("DEL", backend, maps))
    assert traces(host, backend, w.cid) == []
    assert talk(cli, "tcp", CLI_HOST4, 8080, timeout=0.5) is None
    ok(w.pm("DEL", backend, maps))                                 # twice


@pytest.mark.parametrize("backend", BACKENDS)
def test_snat_off(host, make_ns, scratch, servers, backend):
    w = World(host, make_ns, scratch)
    servers(w.ctr, tcp=[80])
    maps = [{"hostPort": 8080, "containerPort": 80}]
    ok(w.pm("ADD", backend, maps, snat=False))
    # without masquerading the container answers the host from its own address
    assert talk(host, "tcp", HOST4, 8080) == f"tcp80 {HOST4}"
    assert host.sysctl(f"net/ipv4/conf/{BR}/route_localnet") == "0"
    if backend == "iptables":
        assert not any("CNI-HOSTPORT-MASQ" in l or "CNI-HOSTPORT-SETMARK" in l for l in ipt_rules(host))
    else:
        assert nft_rules(host, chain="masquerading") == []
    ok(w.pm("CHECK", backend, maps, snat=False))
    ok(w.pm("DEL", backend, maps, snat=False))


@pytest.mark.parametrize("backend", BACKENDS)
def test_host_ip(host, make_ns, scratch, servers, backend):
    w = World(host, make_ns, scratch)
    cli = w.client(make_ns)
    servers(w.ctr, tcp=[80, 81])
    maps = [{"hostPort": 8080, "containerPort": 80, "hostIP": CLI_HOST4},
            {"hostPort": 8081, "containerPort": 81, "hostIP": "0.0.0.0"},
            {"hostPort": 8082, "containerPort": 80, "hostIP": "fd00::1"}]   # other family: skipped
    ok(w.pm("ADD", backend, maps))
    assert talk(cli, "tcp", CLI_HOST4, 8080) == f"tcp80 {CLI4}"
    assert talk(cli, "tcp", HOST4, 8080, timeout=0.5) is None      # only on the hostIP
    assert talk(cli, "tcp", HOST4, 8081) == f"tcp81 {CLI4}"        # 0.0.0.0: every address
    if backend == "iptables":
        dn = [l for l in ipt_rules(host) if l.startswith(f"-A {dn_chain(w.cid)}")]
        assert any(f"-d {CLI_HOST4}/32" in l and "--dport 8080" in l for l in dn)
        assert not any("8082" in l for l in dn)
    else:
        rs = nft_rules(host, "ip", "hostports")
        assert len(rs) == 2
    ok(w.pm("CHECK", backend, maps))
    ok(w.pm("DEL", backend, maps))
    assert traces(host, backend, w.cid) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_traffic_v6(host, make_ns, scratch, servers, backend):
    w = World(host, make_ns, scratch, v6=True)
    servers(w.ctr, tcp=[80], udp=[53])
    maps = [{"hostPort": 8080, "containerPort": 80}, {"hostPort": 5353, "containerPort": 53, "protocol": "udp"}]
    ok(w.pm("ADD", backend, maps))
    assert talk(host, "tcp", HOST6, 8080) == f"tcp80 {HOST6}"
    assert talk(host, "udp", HOST6, 5353) == f"udp53 {HOST6}"
    assert talk(host, "tcp", HOST4, 8080) == f"tcp80 {HOST4}"
    assert talk(w.ctr, "tcp", HOST6, 8080) == f"tcp80 {HOST6}"      # hairpin over IPv6
    if backend == "iptables":
        v6 = ipt_rules(host, True)
        assert any(f"--to-destination [{CTR6}]:80" in l for l in v6)
        assert not any("127.0.0.1" in l for l in v6)
    else:
        assert len(nft_rules(host, "ip6", "hostports")) == 2
        assert len(nft_rules(host, "ip6", "masquerading")) == 1
        assert len(nft_rules(host, "ip", "masquerading")) == 2
    ok(w.pm("CHECK", backend, maps))
    ok(w.pm("DEL", backend, maps))
    assert traces(host, backend, w.cid) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_stale_udp_conntrack(host, make_ns, scratch, servers, backend):
    """A UDP flow seen before the port was published would keep going to the
    host (conntrack); ADD deletes those entries."""
    w = World(host, make_ns, scratch)
    cli = w.client(make_ns)
    servers(w.ctr, udp=[53])
    ok(w.pm("ADD", backend, [{"hostPort": 8080, "containerPort": 80}]))   # nat in use
    assert talk(cli, "udp", CLI_HOST4, 5353, sport=40000, timeout=0.5) is None
    maps = [{"hostPort": 8080, "containerPort": 80}, {"hostPort": 5353, "containerPort": 53, "protocol": "udp"}]
    ok(w.pm("ADD", backend, maps))
    assert talk(cli, "udp", CLI_HOST4, 5353, sport=40000) == f"udp53 {CLI4}"
    ok(w.pm("DEL", backend, maps))


def conntrack_dports(ns):
    """(family, dport) of the UDP conntrack entries of the namespace."""
    out = ns.sh("cat /proc/net/nf_conntrack", check=False).stdout
    got = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) > 3 and f[2] == "udp":
            dport = next(x for x in f if x.startswith("dport=")).split("=")[1]
            got.add((f[0], int(dport)))
    return got


@pytest.mark.parametrize("backend", BACKENDS)
def test_conntrack_deletes_only_mapped_udp_ports(host, ctr, backend):
    prev = fake_prev(v6="fd63::2/64")
    ok(portmap(host, ctr, "ADD", pm_conf(backend, [{"hostPort": 8080, "containerPort": 80}], prev=prev)))
    for addr in ("127.0.0.1", "::1"):                     # tracked now that nat is in use
        for port in (5353, 5354):
            talk(host, "udp", addr, port, timeout=0.2)
    before = conntrack_dports(host)
    assert {("ipv4", 5353), ("ipv4", 5354), ("ipv6", 5353), ("ipv6", 5354)} <= before, before
    maps = [{"hostPort": 8080, "containerPort": 80}, {"hostPort": 5353, "containerPort": 53, "protocol": "udp"}]
    ok(portmap(host, ctr, "ADD", pm_conf(backend, maps, prev=prev)))
    after = conntrack_dports(host)
    assert ("ipv4", 5353) not in after and ("ipv6", 5353) not in after, after
    assert {("ipv4", 5354), ("ipv6", 5354)} <= after, after


# ---------------------------------------------------------------- rule layout

def test_iptables_layout(host, ctr):
    maps = [{"hostPort": 9000 + i, "containerPort": 80} for i in range(20)]
    maps += [{"hostPort": 5353, "containerPort": 53, "protocol": "udp"},
             {"hostPort": 7000, "containerPort": 70, "protocol": "SCTP"}]
    ok(portmap(host, ctr, "ADD", pm_conf("iptables", maps, prev=fake_prev())))
    rules = ipt_rules(host)
    dn = dn_chain("ctr1")
    comment = '-m comment --comment "dnat name: \\"pmnet\\" id: \\"ctr1\\""'
    entry = [l for l in rules if l.startswith("-A CNI-HOSTPORT-DNAT")]
    assert len(entry) == 4                                   # sctp 1, tcp 15 + 5, udp 1
    assert [l.split(" -p ")[1].split()[0] for l in entry] == ["sctp", "tcp", "tcp", "udp"]
    assert all(comment in l and f"-j {dn}" in l and "-m multiport --dports" in l for l in entry)
    assert "--dports " + ",".join(str(9000 + i) for i in range(15)) in entry[1]
    assert "-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT" in rules
    assert "-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT" in rules
    assert ('-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ'
            in rules)
    assert ('-A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" '
            '-j MARK --set-xmark 0x2000/0x2000' in rules)
    assert "-A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE" in rules
    mine = [l for l in rules if l.startswith(f"-A {dn} ")]
    assert len(mine) == 3 * 22
    assert f"-A {dn} -s 10.63.0.0/24 -p tcp -m tcp --dport 9000 -j CNI-HOSTPORT-SETMARK" in mine
    assert f"-A {dn} -s 127.0.0.1/32 -p tcp -m tcp --dport 9000 -j CNI-HOSTPORT-SETMARK" in mine
    assert f"-A {dn} -p tcp -m tcp --dport 9000 -j DNAT --to-destination {CTR4}:80" in mine
    assert f"-A {dn} -p sctp -m sctp --dport 7000 -j DNAT --to-destination {CTR4}:70" in mine
    ok(portmap(host, ctr, "CHECK", pm_conf("iptables", maps, prev=fake_prev())))
    # ADD again: the same rules, not twice
    ok(portmap(host, ctr, "ADD", pm_conf("iptables", maps, prev=fake_prev())))
    assert sorted(ipt_rules(host)) == sorted(rules)
    ok(portmap(host, ctr, "DEL", pm_conf("iptables", maps)))
    left = ipt_rules(host)
    assert not any(dn in l for l in left)
    assert len(left) == 5                                    # the shared rules stay
    assert f":{dn}" not in ipt_save(host)


def test_iptables_mark_bit_masq_all_external(host, ctr):
    maps = [{"hostPort": 8080, "containerPort": 80}]
    ok(portmap(host, ctr, "ADD", pm_conf("iptables", maps, prev=fake_prev(), markMasqBit=5, masqAll=True)))
    rules = ipt_rules(host)
    dn = dn_chain("ctr1")
    assert "-A CNI-HOSTPORT-MASQ -m mark --mark 0x20/0x20 -j MASQUERADE" in rules
    assert [l for l in rules if l.startswith(f"-A {dn} ")] == [
        f"-A {dn} -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK",
        f"-A {dn} -p tcp -m tcp --dport 8080 -j DNAT --to-destination {CTR4}:80"]
    ok(portmap(host, ctr, "DEL", pm_conf("iptables", maps)))
    # an external mark chain: ours are not made, the rules jump to it
    host.sh("iptables-legacy -t nat -N EXTMARK")
    c = pm_conf("iptables", maps, prev=fake_prev(), externalSetMarkChain="EXTMARK")
    ok(portmap(host, ctr, "ADD", c, cid="ctr2"))
    mine = [l for l in ipt_rules(host) if l.startswith(f"-A {dn_chain('ctr2')} ")]
    assert f"-A {dn_chain('ctr2')} -s 10.63.0.0/24 -p tcp -m tcp --dport 8080 -j EXTMARK" in mine
    ok(portmap(host, ctr, "CHECK", c, cid="ctr2"))
    ok(portmap(host, ctr, "DEL", c, cid="ctr2"))


def test_iptables_conditions(host, ctr):
    maps = [{"hostPort": 8080, "containerPort": 80}]
    c = pm_conf(None, maps, prev=fake_prev(v6="fd63::2/64"),
                conditionsV4=["!", "-s", "10.9.0.0/16", "-i eth1"], conditionsV6=["-d", "fd63::1"])
    ok(portmap(host, ctr, "ADD", c))                         # iptables implied by the conditions
    entry = [l for l in ipt_rules(host) if l.startswith("-A CNI-HOSTPORT-DNAT")]
    assert len(entry) == 1 and "! -s 10.9.0.0/16" in entry[0] and "-i eth1" in entry[0]
    entry6 = [l for l in ipt_rules(host, True) if l.startswith("-A CNI-HOSTPORT-DNAT")]
    assert len(entry6) == 1 and "-d fd63::1/128" in entry6[0]
    ok(portmap(host, ctr, "CHECK", c))
    ok(portmap(host, ctr, "DEL", c))
    assert traces(host, "iptables", "ctr1") == []


def test_nftables_layout(host, ctr):
    maps = [{"hostPort": 8080, "containerPort": 80},
            {"hostPort": 8081, "containerPort": 81, "hostIP": "10.64.0.1"},
            {"hostPort": 5353, "containerPort": 53, "protocol": "udp"}]
    c = pm_conf("nftables", maps, prev=fake_prev(v6="fd63::2/64"), conditionsV4=["iifname", "!=", "eth9"])
    ok(portmap(host, ctr, "ADD", c))
    js = nft_json(host)
    tables = {(x["table"]["family"], x["table"]["name"]) for x in js if "table" in x}
    assert {("ip", "cni_hostport"), ("ip6", "cni_hostport")} <= tables
    chains = {(x["chain"]["family"], x["chain"]["name"]): x["chain"] for x in js
              if "chain" in x and x["chain"]["table"] == "cni_hostport"}
    for fam in ("ip", "ip6"):
        assert {n for f, n in chains if f == fam} == {"hostports", "hostip_hostports", "hostports_all",
                                                      "prerouting", "output", "masquerading"}
        assert chains[(fam, "prerouting")]["hook"] == "prerouting" and chains[(fam, "prerouting")]["prio"] == -100
        assert chains[(fam, "output")]["hook"] == "output" and chains[(fam, "output")]["prio"] == -100
        assert chains[(fam, "masquerading")]["hook"] == "postrouting"
        assert chains[(fam, "masquerading")]["prio"] == 100
    text = nft_ruleset(host)
    assert 'comment "CNI portmap plugin"' in text
    assert 'iifname != "eth9" fib daddr type local jump hostports_all' in text
    assert "tcp dport 8080 dnat to 10.63.0.2:80" in text
    assert "ip daddr 10.64.0.1 tcp dport 8081 dnat to 10.63.0.2:81" in text
    assert "udp dport 5353 dnat to [fd63::2]:53" in text
    assert "ip saddr 127.0.0.1 ip daddr 10.63.0.2 masquerade" in text
    assert len(nft_rules(host, "ip", "hostports")) == 3
    assert len(nft_rules(host, "ip6", "hostports")) == 2     # the v4 hostIP is skipped
    assert all(r.get("comment") == "ctr1" for r in nft_rules(host, chain="hostports"))
    ok(portmap(host, ctr, "CHECK", c))
    ok(portmap(host, ctr, "ADD", c))                          # again: replaced, not doubled
    assert len(nft_rules(host, "ip", "hostports")) == 3
    assert len(nft_rules(host, "ip", "prerouting")) == 1
    ok(portmap(host, ctr, "DEL", c))
    assert traces(host, "nftables", "ctr1") == []
    assert legacy_tables(host) == []                          # no xtables made to look into


@pytest.mark.parametrize("backend", BACKENDS)
def test_parallel_adds(host, make_ns, backend):
    ctrs = [make_ns() for _ in range(8)]
    results = [None] * 8

    def one(i):
        prev = fake_prev(v4=f"10.63.0.{10 + i}/24", sandbox=ctrs[i].path)
        results[i] = portmap(host, ctrs[i], "ADD", pm_conf(backend, [{"hostPort": 8000 + i, "containerPort": 80}],
                                                           prev=prev), cid=f"c{i}")
    ts = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for r in results:
        assert r.ok, r
    if backend == "iptables":
        rules = ipt_rules(host)
        for shared in ("-A PREROUTING ", "-A OUTPUT ", "-A POSTROUTING ", "-A CNI-HOSTPORT-SETMARK ",
                       "-A CNI-HOSTPORT-MASQ "):
            assert sum(l.startswith(shared) for l in rules) == 1, (shared, rules)
        assert sum(l.startswith("-A CNI-HOSTPORT-DNAT ") for l in rules) == 8
    else:
        assert len(nft_rules(host, "ip", "prerouting")) == 1
        assert len(nft_rules(host, "ip", "hostports_all")) == 2
        assert len(nft_rules(host, "ip", "hostports")) == 8
        assert len(nft_rules(host, "ip", "masquerading")) == 16
    for i in range(8):
        ok(portmap(host, ctrs[i], "DEL", pm_conf(backend, [{"hostPort": 8000 + i, "containerPort": 80}]),
                   cid=f"c{i}"))
    for i in range(8):
        assert traces(host, backend, f"c{i}") == []


def test_parallel_add_del_of_one_network(host, make_ns, scratch):
    """Workers ADD and DEL attachments of one network at once (nftables, so
    each keeps a record): the network's directory goes with its last record
    while another ADD is writing one, and that ADD makes it again."""
    ctrs = [make_ns() for _ in range(6)]
    data = {"dataDir": os.path.join(scratch.path, "portmap")}
    failures = []

    def worker(i):
        maps = [{"hostPort": 8100 + i, "containerPort": 80}]
        for n in range(8):
            cid = f"w{i}-{n}"
            prev = fake_prev(v4=f"10.63.0.{20 + i}/24", sandbox=ctrs[i].path)
            for cmd, c in (("ADD", pm_conf("nftables", maps, prev=prev, **data)),
                           ("DEL", pm_conf("nftables", maps, **data))):
                r = portmap(host, ctrs[i], cmd, c, cid=cid)
                if not r.ok:
                    failures.append((cid, cmd, r))
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert failures == []
    assert not os.path.exists(os.path.join(data["dataDir"], NET))
    assert nft_rules(host, "ip", "hostports") == []


# ---------------------------------------------------------------- DEL, CHECK, GC

@pytest.mark.parametrize("backend", BACKENDS)
def test_del_when_gone(host, ctr, backend):
    maps = [{"hostPort": 8080, "containerPort": 80}]
    c = pm_conf(backend, maps, prev=fake_prev())
    ok(portmap(host, ctr, "DEL", c))                          # nothing there at all
    assert legacy_tables(host) == []                          # and nothing made to look
    ok(portmap(host, ctr, "ADD", c))
    if backend == "iptables":
        host.sh("iptables-legacy -t nat -F && iptables-legacy -t nat -X")
    else:
        host.sh("nft delete table ip cni_hostport")
    ok(portmap(host, ctr, "DEL", c))
    ok(portmap(host, ctr, "DEL", c))


def test_del_fails_when_the_rules_cannot_be_read(host, ctr):
    """A DEL whose dump the kernel refuses fails (code 999 naming the table
    and the errno) instead of reporting success with the rules left: in a
    user namespace of its own the plugin has no CAP_NET_ADMIN over the
    host's netfilter."""
    c = pm_conf("nftables", [{"hostPort": 8080, "containerPort": 80}], prev=fake_prev())
    ok(portmap(host, ctr, "ADD", c))
    r = run_plugin("portmap", "DEL", c, host=host, containerid="ctr1", wrapper=["unshare", "--user"])
    assert r.rc == 1 and r.json["code"] == 999, r
    assert r.json["msg"] == ("error deleting nftables rules: nftables table ip cni_hostport: listing the chains: "
                             "Operation not permitted"), r
    assert traces(host, "nftables", "ctr1") != []
    ok(portmap(host, ctr, "DEL", c))
    assert traces(host, "nftables", "ctr1") == []


def test_del_cleans_other_backend(host, ctr):
    """A network switched from one backend to the other: DEL removes both."""
    maps = [{"hostPort": 8080, "containerPort": 80}]
    ok(portmap(host, ctr, "ADD", pm_conf("iptables", maps, prev=fake_prev())))
    ok(portmap(host, ctr, "DEL", pm_conf("nftables", maps)))
    assert traces(host, "iptables", "ctr1") == []
    ok(portmap(host, ctr, "ADD", pm_conf("nftables", maps, prev=fake_prev())))
    ok(portmap(host, ctr, "DEL", pm_conf("iptables", maps)))
    assert traces(host, "nftables", "ctr1") == []


def test_no_mappings(host, ctr):
    prev = fake_prev()
    for mappings in (None, []):
        r = ok(portmap(host, ctr, "ADD", pm_conf(None, mappings, prev=prev)))
        assert r.json == dict(prev, dns={})                  # printed as upstream prints a 1.0 result
        ok(portmap(host, ctr, "DEL", pm_conf(None, mappings)))
        ok(portmap(host, ctr, "CHECK", pm_conf(None, mappings, prev=prev)))
    assert ipt_rules(host) == [] and nft_rules(host) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_del_without_mappings_cleans_up(host, ctr, backend):
    """A runtime that does not send portMappings again on DEL leaks nothing
    (upstream's DEL returns early then)."""
    ok(portmap(host, ctr, "ADD", pm_conf(backend, [{"hostPort": 8080, "containerPort": 80}],
                                         prev=fake_prev(v4="10.63.0.5/24", v6="fd63::5/64"))))
    assert traces(host, backend, "ctr1") != []
    ok(portmap(host, ctr, "DEL", pm_conf(backend, None)))
    assert traces(host, backend, "ctr1") == []


def test_container_address_choice(host, ctr):
    """First address per family on CNI_IFNAME in the sandbox (or on no interface)."""
    prev = {"cniVersion": "1.0.0",
            "interfaces": [{"name": "br0", "mac": "aa:aa:aa:aa:aa:a0"},
                           {"name": "eth0", "mac": "aa:aa:aa:aa:aa:a1", "sandbox": "/x"},
                           {"name": "net1", "mac": "aa:aa:aa:aa:aa:a2", "sandbox": "/x"}],
            "ips": [{"interface": 0, "address": "10.1.0.1/24"},
                    {"interface": 2, "address": "10.2.0.2/24"},
                    {"interface": 1, "address": "10.3.0.3/24"},
                    {"interface": 1, "address": "10.4.0.4/24"},
                    {"address": "fd05::5/64"}]}
    ok(portmap(host, ctr, "ADD", pm_conf("iptables", [{"hostPort": 80, "containerPort": 80}], prev=prev)))
    assert any("--to-destination 10.3.0.3:80" in l for l in ipt_rules(host))
    assert sum("DNAT --to-destination" in l for l in ipt_rules(host)) == 1
    assert any("--to-destination [fd05::5]:80" in l for l in ipt_rules(host, True))


@pytest.mark.parametrize("backend", BACKENDS)
def test_check(host, ctr, backend):
    maps = [{"hostPort": 8080, "containerPort": 80}]
    c = pm_conf(backend, maps, prev=fake_prev())               # IPv4 only
    r = portmap(host, ctr, "CHECK", c)
    assert_cni_error(r, 999)                                    # nothing there yet
    ok(portmap(host, ctr, "ADD", c))
    ok(portmap(host, ctr, "CHECK", c))
    other = pm_conf(backend, [{"hostPort": 8081, "containerPort": 80}], prev=fake_prev())
    assert_cni_error(portmap(host, ctr, "CHECK", other), 999)    # a mapping that is not there
    if backend == "iptables":
        host.sh(f"iptables-legacy -t nat -F {dn_chain('ctr1')}")
        assert_cni_error(portmap(host, ctr, "CHECK", c), 999, "not found")
    else:
        host.sh("nft flush chain ip cni_hostport hostports")
        assert_cni_error(portmap(host, ctr, "CHECK", c), 999, "hostports")
    r = portmap(host, ctr, "CHECK", pm_conf(backend, maps))
    assert_cni_error(r, 7, "prevResult")


@pytest.mark.parametrize("backend", BACKENDS)
def test_gc(host, ctr, backend, scratch):
    maps = [{"hostPort": 8080, "containerPort": 80}]
    data = {"dataDir": os.path.join(scratch.path, "portmap")}
    for i, cid in enumerate(["keep", "gone1", "gone2"]):
        ok(portmap(host, ctr, "ADD", pm_conf(backend, maps, prev=fake_prev(v4=f"10.63.0.{5 + i}/24",
                                                                            v6=f"fd63::{5 + i}/64"), **data),
                   cid=cid))
    # another network's container: not this network's GC business
    other = pm_conf(backend, maps, prev=fake_prev(v4="10.63.0.9/24"), **data)
    other["name"] = "othernet"
    ok(portmap(host, ctr, "ADD", other, cid="gone1"))
    # and one whose ID starts with "gone2-": no record of gone2
    other2 = pm_conf(backend, [{"hostPort": 8082, "containerPort": 80}], prev=fake_prev(v4="10.63.0.10/24"), **data)
    other2["name"] = "othernet"
    ok(portmap(host, ctr, "ADD", other2, cid="gone2-b"))
    gc = pm_conf(backend, None, version="1.1.0", **data)
    gc["cni.dev/valid-attachments"] = [{"containerID": "keep", "ifname": "eth0"}]
    ok(portmap(host, ctr, "GC", gc))
    if backend == "iptables":
        assert traces(host, backend, "gone1") == []
        assert traces(host, backend, "gone2") == []
        save = ipt_save(host) + ipt_save(host, True)
        assert dn_chain("keep") in save
        assert dn_chain("gone1") not in save and dn_chain("gone2") not in save
        assert dn_chain("gone1", "othernet") in save and dn_chain("gone2-b", "othernet") in save
    else:
        # The nftables rules name only the container (upstream's layout): the
        # records ADD made tell this network's; gone1's rules stay, since
        # othernet holds a record of it, and its record here goes; gone2's go
        # (othernet's gone2-b-eth0 is gone2-b's).
        assert {r["comment"] for r in nft_rules(host, chain="hostports")} == {"keep", "gone1", "gone2-b"}
        assert {r["comment"] for r in nft_rules(host, "ip6", "hostports")} == {"keep", "gone1"}
        assert sorted(os.listdir(os.path.join(data["dataDir"], NET))) == ["keep-eth0"]
        assert sorted(os.listdir(os.path.join(data["dataDir"], "othernet"))) == ["gone1-eth0", "gone2-b-eth0"]
    ok(portmap(host, ctr, "CHECK", pm_conf(backend, maps, version="1.1.0",
                                           prev=fake_prev(v4="10.63.0.5/24", v6="fd63::5/64"), **data), cid="keep"))
    ok(portmap(host, ctr, "GC", gc))                           # again: nothing to do
    # DEL removes the record with the rules
    ok(portmap(host, ctr, "DEL", pm_conf(backend, maps, **data), cid="keep"))
    if backend == "nftables":
        # the network's directory goes with its last record
        assert not os.path.exists(os.path.join(data["dataDir"], NET))
        assert sorted(os.listdir(os.path.join(data["dataDir"], "othernet"))) == ["gone1-eth0", "gone2-b-eth0"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_status(host, ctr, backend):
    c = pm_conf(backend, None, version="1.1.0")
    ok(run_plugin("portmap", "STATUS", c, host=host, netns=""))


@pytest.mark.parametrize("backend", BACKENDS + [None])
def test_status_without_a_usable_backend(host, backend):
    """In a user namespace of its own the plugin has no CAP_NET_ADMIN over the
    host's network namespace: neither backend can be read, STATUS says 50."""
    c = pm_conf(backend, None, version="1.1.0")
    r = run_plugin("portmap", "STATUS", c, host=host, netns="", wrapper=["unshare", "--user"])
    assert r.rc == 1 and r.json["code"] == 50, r
    assert "backend is not usable in this network namespace: Operation not permitted" in r.json["msg"], r


# ---------------------------------------------------------------- bad input

BAD = [
    ({"runtimeConfig": {"portMappings": [{"hostPort": 0, "containerPort": 80}]}}, 7, "host port"),
    ({"runtimeConfig": {"portMappings": [{"hostPort": 80, "containerPort": 70000}]}}, 7, "container port"),
    ({"runtimeConfig": {"portMappings": [{"hostPort": 80, "containerPort": 80, "protocol": "icmp"}]}}, 7,
     "protocol"),
    ({"runtimeConfig": {"portMappings": [{"hostPort": 80, "containerPort": 80, "hostIP": "1.2.3"}]}}, 7,
     "hostIP"),
    ({"runtimeConfig": {"portMappings": [{"hostPort": "80", "containerPort": 80}]}}, 7, "hostPort"),
    ({"runtimeConfig": {"portMappings": {"hostPort": 80}}}, 7, "portMappings"),
    ({"markMasqBit": 32}, 7, "between 0 and 31"),
    ({"markMasqBit": 3, "externalSetMarkChain": "X"}, 7, "externalSetMarkChain"),
    ({"backend": "bogus"}, 7, "backend"),
    ({"backend": "nftables", "externalSetMarkChain": "X"}, 7, "iptables-specific"),
    ({"backend": "nftables", "conditionsV4": ["-s", "10.0.0.0/8"]}, 7, "conditionsV4"),
    ({"backend": "iptables", "conditionsV6": ["ip6", "saddr", "fd00::/8"]}, 7, "nftables-specific"),
    ({"conditionsV4": ["-s", "10.0.0.0/8"], "conditionsV6": ["ip6 saddr fd00::/8"]}, 7, "options"),
    ({"conditionsV4": ["-m", "mark", "--mark", "1"]}, 7, "unsupported condition"),
    ({"conditionsV4": ["-s", "fd00::1"]}, 7, "unsupported condition"),
    ({"conditionsV4": ["-s"]}, 7, "unsupported condition"),
    ({"backend": "nftables", "conditionsV4": ["meta mark 1"]}, 7, "unsupported condition"),
    ({"backend": "nftables", "conditionsV4": ["ip6 saddr fd00::1"]}, 7, "unsupported condition"),
    ({"snat": "yes"}, 7, "snat"),
]


@pytest.mark.parametrize("extra,code,word", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_config(host, ctr, extra, code, word):
    c = pm_conf(None, [{"hostPort": 8080, "containerPort": 80}], prev=fake_prev())
    c.update(extra)
    r = portmap(host, ctr, "ADD", c)
    assert_cni_error(r, code, word)
    assert legacy_tables(host) == []                          # nothing made (looking makes the table)
    assert nft_rules(host) == []


def test_needs_prev_result(host, ctr):
    r = portmap(host, ctr, "ADD", pm_conf(None, [{"hostPort": 8080, "containerPort": 80}]))
    assert_cni_error(r, 7, "chained plugin")


def test_failed_add_rolls_back(host, ctr):
    """The IPv6 half fails (the external mark chain exists only for IPv4):
    the IPv4 half is removed again."""
    host.sh("iptables-legacy -t nat -N EXTMARK")
    c = pm_conf("iptables", [{"hostPort": 8080, "containerPort": 80}], prev=fake_prev(v6="fd63::2/64"),
                externalSetMarkChain="EXTMARK")
    r = portmap(host, ctr, "ADD", c)
    assert r.rc == 1 and r.json["code"] != 0, r
    assert not any(dn_chain("ctr1") in l for l in ipt_save(host).splitlines() + ipt_save(host, True).splitlines())


def test_help_lists_keys():
    out = subprocess.run([cnitest.cnibox_binary(), "portmap", "--help"], capture_output=True, text=True)
    text = out.stdout + out.stderr
    for key in ("portMappings", "backend", "snat", "masqAll", "markMasqBit", "externalSetMarkChain",
                "conditionsV4", "conditionsV6", "hostIP", "protocol"):
        assert key in text, key
    assert "Not finished" not in text
