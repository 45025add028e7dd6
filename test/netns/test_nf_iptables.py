"""The iptables backend of src/netfilter (legacy xtables through libiptc),
driven by test/netfilter/nftool inside test namespaces.

Rules made through the backend must print in iptables-legacy-save exactly as
the same rules made with the iptables-legacy command (and as the Go reference
plugins make them), so that the diff tier finds byte-identical tables.
"""
import fcntl
import json
import os
import re
import subprocess
import tempfile
import time

import pytest

import cnitest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")

TOOL = None


def tool():
    global TOOL
    if TOOL is None:
        TOOL = cnitest.nftool_binary()
    return TOOL


def nftool(ns, doc, check=True, env=None, timeout=60):
    """Runs nftool in `ns` with `doc`; returns (exit status, [parsed output lines])."""
    extra = [f"{k}={v}" for k, v in (env or {}).items()]
    cmd = ["ip", "netns", "exec", ns.name, "env"] + extra + [tool()]
    p = subprocess.run(cmd, input=json.dumps(doc), capture_output=True, text=True, timeout=timeout)
    lines = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    if check and p.returncode != 0:
        raise AssertionError(f"nftool failed ({p.returncode}): {p.stdout}{p.stderr}")
    return p.returncode, lines


def ops(family, table, *steps):
    return {"backend": "iptables", "ops": [{"family": family, "table": table, "do": list(steps)}]}


def run_ops(ns, family, table, *steps, check=True):
    return nftool(ns, ops(family, table, *steps), check=check)


def save(ns, family="ip", table=None):
    """iptables-legacy-save without comment lines and with zeroed counters."""
    cmd = "iptables-legacy-save" if family == "ip" else "ip6tables-legacy-save"
    if table:
        cmd += f" -t {table}"
    out = ns.sh(cmd).stdout
    lines = [re.sub(r"\[\d+:\d+\]", "[0:0]", l) for l in out.splitlines() if not l.startswith("#")]
    return "\n".join(lines)


def ipt(ns, family, args, check=True):
    cmd = "iptables-legacy" if family == "ip" else "ip6tables-legacy"
    return ns.sh(f"{cmd} -w {args}", check=check)


def rule_lines(ns, family, table, chain):
    return [l for l in save(ns, family, table).splitlines() if l.startswith(f"-A {chain} ")]


# (family, table, iptables arguments after "-A X", nftool RULE). Chains X and
# Y exist on both sides.
CASES = [
    ("ip", "filter", "-j ACCEPT", {"verdict": "accept"}),
    ("ip", "filter", "-j DROP", {"verdict": "drop"}),
    ("ip", "filter", "-j RETURN", {"verdict": "return"}),
    ("ip", "filter", "-j Y", {"verdict": "jump", "chain": "Y"}),
    ("ip", "filter", "-g Y", {"verdict": "goto", "chain": "Y"}),
    ("ip", "filter", "-s 10.1.2.0/24 -j ACCEPT", {"src": "10.1.2.0/24"}),
    ("ip", "filter", "-s 10.1.2.3/24 -j ACCEPT", {"src": "10.1.2.3/24"}),  # host bits dropped
    ("ip", "filter", "! -s 10.0.0.0/8 -j ACCEPT", {"src": "10.0.0.0/8", "notSrc": True}),
    ("ip", "filter", "-d 10.88.0.2/32 -j ACCEPT", {"dst": "10.88.0.2/32"}),
    ("ip", "filter", "! -d 224.0.0.0/4 -j DROP", {"dst": "224.0.0.0/4", "notDst": True, "verdict": "drop"}),
    ("ip", "filter", "-i eth0 -j ACCEPT", {"iif": "eth0"}),
    ("ip", "filter", "! -i eth0 -j ACCEPT", {"iif": "eth0", "notIif": True}),
    ("ip", "filter", "-o veth+ -j ACCEPT", {"oif": "veth+"}),
    ("ip", "filter", "! -o cni0 -j ACCEPT", {"oif": "cni0", "notOif": True}),
    ("ip", "filter", "-i abcdefghijklmno -j ACCEPT", {"iif": "abcdefghijklmno"}),
    ("ip", "filter", "-p tcp -j ACCEPT", {"proto": "tcp"}),
    ("ip", "filter", "-p udp -j ACCEPT", {"proto": "udp"}),
    ("ip", "filter", "-p sctp -j ACCEPT", {"proto": "sctp"}),
    ("ip", "filter", "-p tcp -m tcp --dport 80 -j ACCEPT", {"proto": "tcp", "dports": [80]}),
    ("ip", "filter", "-p udp -m udp --dport 53 -j ACCEPT", {"proto": "udp", "dports": [53]}),
    ("ip", "filter", "-p sctp -m sctp --dport 9090 -j ACCEPT", {"proto": "sctp", "dports": [9090]}),
    ("ip", "filter", "-p tcp -m multiport --dports 80,443 -j ACCEPT", {"proto": "tcp", "dports": [80, 443]}),
    ("ip", "filter", "-p udp -m multiport --dports 5353 -j ACCEPT",
     {"proto": "udp", "dports": [5353], "multiport": True}),
    ("ip", "filter", "-p sctp -m multiport --dports " + ",".join(str(p) for p in range(1, 16)) + " -j ACCEPT",
     {"proto": "sctp", "dports": list(range(1, 16))}),
    ("ip", "filter", "-m addrtype --dst-type LOCAL -j ACCEPT", {"dstLocal": True}),
    ("ip", "filter", "-m mark --mark 0x2000/0x2000 -j ACCEPT", {"mark": 8192, "markMask": 8192}),
    ("ip", "filter", "-m mark --mark 0x10 -j ACCEPT", {"mark": 16}),
    ("ip", "filter", "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", {"ctRelEst": True}),
    ("ip", "filter", "-m comment --comment hello -j ACCEPT", {"comment": "hello"}),
    ("ip", "filter", "-m comment --comment 'name: \"n\" id: \"c\"' -j ACCEPT", {"comment": 'name: "n" id: "c"'}),
    ("ip", "nat", "-j MASQUERADE", {"verdict": "masquerade"}),
    ("ip", "nat", "-p tcp --dport 8080 -j DNAT --to-destination 10.88.0.2:80",
     {"proto": "tcp", "dports": [8080], "verdict": "dnat", "to": "10.88.0.2", "toPort": 80}),
    ("ip", "nat", "-j DNAT --to-destination 10.88.0.2", {"verdict": "dnat", "to": "10.88.0.2"}),
    ("ip", "nat", "-j MARK --set-xmark 0x2000/0x2000", {"verdict": "setmark", "setMark": 8192, "setMask": 8192}),
    ("ip", "mangle", "-j MARK --set-xmark 0x1/0xffffffff",
     {"verdict": "setmark", "setMark": 1, "setMask": 0xffffffff}),
    ("ip", "filter",
     "-s 10.0.0.0/8 ! -d 10.1.0.0/16 -i br0 ! -o eth1 -p tcp -m comment --comment all -m multiport --dports 1,2 "
     "-m addrtype --dst-type LOCAL -m mark --mark 0x4/0x4 -m conntrack --ctstate RELATED,ESTABLISHED -j Y",
     {"src": "10.0.0.0/8", "dst": "10.1.0.0/16", "notDst": True, "iif": "br0", "oif": "eth1", "notOif": True,
      "proto": "tcp", "dports": [1, 2], "comment": "all", "dstLocal": True, "mark": 4, "markMask": 4,
      "ctRelEst": True, "verdict": "jump", "chain": "Y"}),
    ("ip6", "filter", "-j ACCEPT", {"verdict": "accept"}),
    ("ip6", "filter", "-g Y", {"verdict": "goto", "chain": "Y"}),
    ("ip6", "filter", "-s fd00::/64 ! -d fd00::1/128 -j DROP",
     {"src": "fd00::/64", "dst": "fd00::1/128", "notDst": True, "verdict": "drop"}),
    ("ip6", "filter", "-s fd00:1::5/60 -j ACCEPT", {"src": "fd00:1::5/60"}),
    ("ip6", "filter", "! -i eth0 -o veth+ -j ACCEPT", {"iif": "eth0", "notIif": True, "oif": "veth+"}),
    ("ip6", "filter", "-p tcp -m tcp --dport 80 -j ACCEPT", {"proto": "tcp", "dports": [80]}),
    ("ip6", "filter", "-p udp -m udp --dport 53 -j ACCEPT", {"proto": "udp", "dports": [53]}),
    ("ip6", "filter", "-p sctp -m sctp --dport 9 -j ACCEPT", {"proto": "sctp", "dports": [9]}),
    ("ip6", "filter", "-p tcp -m comment --comment x -m multiport --dports 80,81 -j Y",
     {"proto": "tcp", "dports": [80, 81], "comment": "x", "verdict": "jump", "chain": "Y"}),
    ("ip6", "filter", "-m addrtype --dst-type LOCAL -m mark --mark 0x1/0xff -j RETURN",
     {"dstLocal": True, "mark": 1, "markMask": 255, "verdict": "return"}),
    ("ip6", "filter", "-d fd00::2/128 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
     {"dst": "fd00::2/128", "ctRelEst": True}),
    ("ip6", "nat", "! -d ff00::/8 -j MASQUERADE", {"dst": "ff00::/8", "notDst": True, "verdict": "masquerade"}),
    ("ip6", "nat", "-p tcp --dport 8080 -j DNAT --to-destination [fd00::2]:80",
     {"proto": "tcp", "dports": [8080], "verdict": "dnat", "to": "fd00::2", "toPort": 80}),
    ("ip6", "nat", "-p udp --dport 53 -j DNAT --to-destination fd00::3",
     {"proto": "udp", "dports": [53], "verdict": "dnat", "to": "fd00::3"}),
    ("ip6", "nat", "-m comment --comment m -j MARK --set-xmark 0x2000/0x2000",
     {"comment": "m", "verdict": "setmark", "setMark": 8192, "setMask": 8192}),
]


def _case_id(c):
    return f"{c[0]}-{c[1]}:{c[2]}"


@pytest.fixture(scope="module")
def pair():
    """Two namespaces: "cmd" programmed with iptables-legacy, "ours" with nftool."""
    a, b = cnitest.Netns("cbt-nfa"), cnitest.Netns("cbt-nfb")
    yield a, b
    a.delete()
    b.delete()


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_rule_renders_like_iptables(pair, case):
    family, table, args, rule = case
    cmd_ns, our_ns = pair
    for ns in pair:
        ipt(ns, family, f"-t {table} -F")
        ipt(ns, family, f"-t {table} -X")
        ipt(ns, family, f"-t {table} -N X")
        ipt(ns, family, f"-t {table} -N Y")
    ipt(cmd_ns, family, f"-t {table} -A X {args}")
    run_ops(our_ns, family, table, ["append", "X", rule], ["commit"])
    want = rule_lines(cmd_ns, family, table, "X")
    assert len(want) == 1
    assert rule_lines(our_ns, family, table, "X") == want
    assert save(our_ns, family, table) == save(cmd_ns, family, table)
    # iptables itself finds our rule (its own blob compare) ...
    ipt(our_ns, family, f"-t {table} -C X {args}")
    # ... and we find the rule iptables made, and delete it.
    _, out = run_ops(cmd_ns, family, table, ["contains", "X", rule], ["deleteRule", "X", rule],
                     ["contains", "X", rule], ["commit"])
    assert [o["result"] for o in out] == [True, False]
    assert rule_lines(cmd_ns, family, table, "X") == []


def test_match_order_is_fixed(host):
    """Whatever the IR holds, matches come out comment first, then
    tcp/udp/sctp or multiport, addrtype, mark, conntrack."""
    rule = {"proto": "udp", "dports": [7], "comment": "c", "ctRelEst": True, "mark": 1, "dstLocal": True}
    run_ops(host, "ip", "filter", ["ensureChain", "X"], ["append", "X", rule], ["commit"])
    assert rule_lines(host, "ip", "filter", "X") == [
        "-A X -p udp -m comment --comment c -m udp --dport 7 -m addrtype --dst-type LOCAL "
        "-m mark --mark 0x1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"]


# ------------------------------------------------------------ upstream's rule sets

def _upstream_ops(fam, ctr_ip, net, cname, dname, comment, v6):
    """What the reference bridge(ipMasq) + portmap(snat) + firewall write for one
    container, in the IR, in upstream's order."""
    dn = f"dnat {comment}"
    dn_rules = []
    for proto, hp, cp, host_ip in (("tcp", 8080, 80, None), ("udp", 8081, 81, None), ("sctp", 9090, 90, "127.0.0.1")):
        if v6 and host_ip:
            continue  # a v4 hostIP gives no v6 rules
        d = {"dst": host_ip + "/32"} if host_ip else {}
        dn_rules.append(["append", dname, dict(d, src=net, proto=proto, dports=[hp], verdict="jump",
                                               chain="CNI-HOSTPORT-SETMARK")])
        if not v6:
            dn_rules.append(["append", dname, dict(d, src="127.0.0.1/32", proto=proto, dports=[hp],
                                                   verdict="jump", chain="CNI-HOSTPORT-SETMARK")])
        dn_rules.append(["append", dname, dict(d, proto=proto, dports=[hp], verdict="dnat", to=ctr_ip,
                                               toPort=cp)])
    nat = [
        ["ensureChain", cname],
        ["append", cname, {"dst": net, "comment": comment, "verdict": "accept"}],
        ["append", cname, {"dst": "ff00::/8" if v6 else "224.0.0.0/4", "notDst": True, "comment": comment,
                           "verdict": "masquerade"}],
        ["append", "POSTROUTING", {"src": ctr_ip + ("/128" if v6 else "/32"), "comment": comment,
                                   "verdict": "jump", "chain": cname}],
        ["ensureChain", "CNI-HOSTPORT-SETMARK"],
        ["ensureRule", "CNI-HOSTPORT-SETMARK", {"comment": "CNI portfwd masquerade mark", "verdict": "setmark",
                                                "setMark": 0x2000, "setMask": 0x2000}],
        ["ensureChain", "CNI-HOSTPORT-MASQ"],
        ["ensureRule", "CNI-HOSTPORT-MASQ", {"mark": 0x2000, "markMask": 0x2000, "verdict": "masquerade"}],
        ["ensureRule", "POSTROUTING", {"comment": "CNI portfwd requiring masquerade", "verdict": "jump",
                                       "chain": "CNI-HOSTPORT-MASQ"}, True],
        ["ensureChain", "CNI-HOSTPORT-DNAT"],
        ["ensureRule", "PREROUTING", {"dstLocal": True, "verdict": "jump", "chain": "CNI-HOSTPORT-DNAT"}],
        ["ensureRule", "OUTPUT", {"dstLocal": True, "verdict": "jump", "chain": "CNI-HOSTPORT-DNAT"}],
        ["ensureChain", dname],
    ] + dn_rules + [
        ["append", "CNI-HOSTPORT-DNAT", {"proto": p, "dports": [hp], "multiport": True, "comment": dn,
                                         "verdict": "jump", "chain": dname}]
        for p, hp in (("sctp", 9090), ("tcp", 8080), ("udp", 8081))
    ] + [["commit"]]
    host = ctr_ip + ("/128" if v6 else "/32")
    filt = [
        ["ensureChain", "CNI-FORWARD"], ["ensureChain", "CNI-ADMIN"],
        ["ensureRule", "FORWARD", {"comment": "CNI firewall plugin rules", "verdict": "jump",
                                   "chain": "CNI-FORWARD"}, True],
        ["ensureRule", "CNI-FORWARD", {"comment": "CNI firewall plugin admin overrides", "verdict": "jump",
                                       "chain": "CNI-ADMIN"}, True],
        ["append", "CNI-FORWARD", {"dst": host, "ctRelEst": True, "verdict": "accept"}],
        ["append", "CNI-FORWARD", {"src": host, "verdict": "accept"}],
        ["commit"],
    ]
    return [{"family": fam, "table": "nat", "do": nat}, {"family": fam, "table": "filter", "do": filt}]


def test_upstream_rule_sets_identical(make_ns, scratch):
    """The Go reference bridge (ipMasq), portmap (snat) and firewall in one
    namespace; the same rule sets through nftool in another: identical
    iptables-legacy-save and ip6tables-legacy-save output."""
    ref_host, ctr, ours = make_ns("cbt-nfref"), make_ns("cbt-nfctr"), make_ns("cbt-nfours")
    name, cid = "mynet", "ctr1"
    conf = {"cniVersion": "1.0.0", "name": name, "type": "bridge", "bridge": "cni0", "isGateway": True,
            "ipMasq": True,
            "ipam": {"type": "host-local", "dataDir": scratch.path,
                     "ranges": [[{"subnet": "10.88.0.0/24"}], [{"subnet": "fd00:88::/64"}]]}}
    r = cnitest.run_plugin("bridge", "ADD", conf, host=ref_host, netns=ctr, containerid=cid, ref=True)
    assert r.rc == 0, r.stdout + r.stderr
    prev = json.loads(r.stdout)
    pm = {"cniVersion": "1.0.0", "name": name, "type": "portmap", "snat": True,
          "capabilities": {"portMappings": True},
          "runtimeConfig": {"portMappings": [
              {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
              {"hostPort": 8081, "containerPort": 81, "protocol": "udp"},
              {"hostPort": 9090, "containerPort": 90, "protocol": "sctp", "hostIP": "127.0.0.1"}]},
          "prevResult": prev}
    r = cnitest.run_plugin("portmap", "ADD", pm, host=ref_host, netns=ctr, containerid=cid, ref=True)
    assert r.rc == 0, r.stdout + r.stderr
    fw = {"cniVersion": "1.0.0", "name": name, "type": "firewall", "backend": "iptables", "prevResult": prev}
    r = cnitest.run_plugin("firewall", "ADD", fw, host=ref_host, netns=ctr, containerid=cid, ref=True)
    assert r.rc == 0, r.stdout + r.stderr

    _, out = nftool(ours, {"cmd": "chainName", "prefix": "CNI-", "name": name, "id": cid})
    cname = out[0]["result"]
    _, out = nftool(ours, {"cmd": "chainName", "prefix": "CNI-DN-", "name": name, "id": cid})
    dname = out[0]["result"]
    comment = f'name: "{name}" id: "{cid}"'
    doc = {"backend": "iptables",
           "ops": _upstream_ops("ip", "10.88.0.2", "10.88.0.0/24", cname, dname, comment, False)
           + _upstream_ops("ip6", "fd00:88::2", "fd00:88::/64", cname, dname, comment, True)}
    nftool(ours, doc)
    for fam in ("ip", "ip6"):
        want = save(ref_host, fam)
        assert "-j DNAT" in want and "CNI-FORWARD" in want
        assert save(ours, fam) == want

    # Our deletion machinery works on the reference's rules: every rule of
    # the container goes, the shared chains stay.
    clean = lambda fam, v6: {"family": fam, "table": "nat", "do": [  # noqa: E731
        ["deleteChain", dname],
        ["deleteComment", "POSTROUTING", comment],
        ["deleteChain", cname],
        ["deleteCommentPrefix", "CNI-HOSTPORT-DNAT", "dnat "],
        ["list", "CNI-HOSTPORT-DNAT"], ["hasChain", cname], ["hasChain", dname],
        ["commit"]]}
    _, out = nftool(ref_host, {"backend": "iptables", "ops": [clean("ip", False), clean("ip6", True)]})
    counts = [o["count"] for o in out if "count" in o]
    assert counts == [1, 0, 1, 0]  # the jumps to the DN chain went with deleteChain
    assert [o["rules"] for o in out if o["op"] == "list"] == [[], []]
    assert [o["result"] for o in out if o["op"] == "hasChain"] == [False, False] * 2
    for fam in ("ip", "ip6"):
        s = save(ref_host, fam, "nat")
        assert "mynet" not in s and "CNI-HOSTPORT-DNAT -" in s


# ------------------------------------------------------------ operations

A_RULE = {"dst": "10.0.0.0/24", "comment": "a", "verdict": "accept"}
B_RULE = {"proto": "tcp", "dports": [80, 81], "comment": "b", "verdict": "jump", "chain": "T"}


def test_chains(host):
    _, out = run_ops(host, "ip", "nat", ["hasChain", "C1"], ["ensureChain", "C1"], ["ensureChain", "C1"],
                     ["hasChain", "C1"], ["hasChain", "PREROUTING"], ["chains"], ["commit"],
                     ["hasChain", "C1"])
    assert [o["result"] for o in out] == [False, True, True,
                                          ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING", "C1"], True]
    assert ":C1 - [0:0]" in save(host, "ip", "nat")
    # ensureChain of a built-in chain: nothing happens
    run_ops(host, "ip", "nat", ["ensureChain", "POSTROUTING", {"type": "nat", "hook": "postrouting",
                                                               "priority": 100}], ["commit"])
    # flush / delete of missing chains: ok; built-ins cannot be deleted
    run_ops(host, "ip", "nat", ["flushChain", "NOPE"], ["deleteChain", "NOPE"], ["commit"])
    rc, out = run_ops(host, "ip", "nat", ["deleteChain", "OUTPUT"], check=False)
    assert rc == 1 and out[-1]["error"] == 999 and "OUTPUT" in out[-1]["msg"]
    run_ops(host, "ip", "nat", ["append", "C1", A_RULE], ["flushChain", "C1"], ["list", "C1"], ["commit"])
    assert rule_lines(host, "ip", "nat", "C1") == []


def test_ensure_rule_idempotent_and_at_head(host):
    steps = [["ensureChain", "T"], ["ensureChain", "C"], ["ensureRule", "C", A_RULE],
             ["ensureRule", "C", B_RULE, True], ["commit"]]
    run_ops(host, "ip", "filter", *steps)
    first = save(host, "ip", "filter")
    run_ops(host, "ip", "filter", *steps)
    run_ops(host, "ip", "filter", ["ensureRule", "C", A_RULE], ["ensureRule", "C", A_RULE], ["commit"])
    assert save(host, "ip", "filter") == first
    assert [l.split(" --comment ")[1].split()[0] for l in rule_lines(host, "ip", "filter", "C")] == ["b", "a"]


def test_contains_is_exact(host):
    run_ops(host, "ip", "filter", ["ensureChain", "T"], ["ensureChain", "C"], ["append", "C", A_RULE],
            ["append", "C", B_RULE], ["commit"])
    variants = [
        dict(A_RULE, comment="other"), dict(A_RULE, comment=""), dict(A_RULE, verdict="drop"),
        dict(A_RULE, dst="10.0.0.0/25"), dict(A_RULE, notDst=True), dict(A_RULE, src="10.0.0.0/24"),
        dict(B_RULE, dports=[80]), dict(B_RULE, dports=[81, 80]), dict(B_RULE, proto="udp"),
        dict(B_RULE, chain="C"), dict(B_RULE, verdict="goto"), dict(A_RULE, mark=1),
        dict(A_RULE, iif="eth0"), dict(A_RULE, dstLocal=True), dict(A_RULE, ctRelEst=True),
    ]
    steps = [["contains", "C", A_RULE], ["contains", "C", B_RULE], ["contains", "NOPE", A_RULE]] + \
        [["contains", "C", v] for v in variants]
    _, out = run_ops(host, "ip", "filter", *steps)
    assert [o["result"] for o in out] == [True, True, False] + [False] * len(variants)


def test_contains_exact_nat_targets(host):
    dnat = {"proto": "tcp", "dports": [80], "verdict": "dnat", "to": "10.0.0.2", "toPort": 8080}
    mark = {"verdict": "setmark", "setMark": 0x2000, "setMask": 0x2000}
    run_ops(host, "ip", "nat", ["ensureChain", "C"], ["append", "C", dnat], ["append", "C", mark], ["commit"])
    _, out = run_ops(host, "ip", "nat", ["contains", "C", dnat], ["contains", "C", mark],
                     ["contains", "C", dict(dnat, toPort=8081)], ["contains", "C", dict(dnat, to="10.0.0.3")],
                     ["contains", "C", dict(dnat, toPort=0)], ["contains", "C", dict(mark, setMask=0x4000)],
                     ["contains", "C", {"verdict": "masquerade"}])
    assert [o["result"] for o in out] == [True, True, False, False, False, False, False]


def test_queries_see_pending_changes(host):
    _, out = run_ops(host, "ip6", "filter", ["ensureChain", "C"], ["hasChain", "C"],
                     ["append", "C", {"src": "fd00::/8", "comment": "p"}], ["contains", "C", {"src": "fd00::/8",
                                                                                           "comment": "p"}],
                     ["list", "C"])
    assert out[0]["result"] is True and out[1]["result"] is True
    assert out[2]["rules"] == [{"index": 0, "handle": 0, "comment": "p", "target": "ACCEPT"}]
    # no commit: nothing applied
    assert ":C -" not in save(host, "ip6", "filter")


def test_delete_rule_deletes_every_copy(host):
    run_ops(host, "ip", "filter", ["ensureChain", "T"], ["ensureChain", "C"], ["append", "C", A_RULE],
            ["append", "C", B_RULE], ["append", "C", A_RULE], ["commit"])
    run_ops(host, "ip", "filter", ["deleteRule", "C", A_RULE], ["deleteRule", "C", A_RULE],
            ["deleteRule", "NOPE", A_RULE], ["commit"])
    assert len(rule_lines(host, "ip", "filter", "C")) == 1
    assert "--comment b" in rule_lines(host, "ip", "filter", "C")[0]


def test_list_and_delete_where(host):
    rules = [
        {"comment": "keep", "verdict": "accept"},
        {"comment": "x-1", "verdict": "jump", "chain": "T"},
        {"verdict": "drop"},
        {"comment": "x-2", "verdict": "masquerade"},
        {"comment": "exact", "verdict": "dnat", "to": "1.2.3.4"},
        {"comment": "m", "verdict": "setmark", "setMark": 1, "setMask": 1},
        {"comment": "r", "verdict": "return"},
        {"comment": "g", "verdict": "goto", "chain": "T"},
    ]
    run_ops(host, "ip", "nat", ["ensureChain", "T"], ["ensureChain", "C"],
            *[["append", "C", r] for r in rules], ["commit"])
    _, out = run_ops(host, "ip", "nat", ["list", "C"], ["list", "NOPE"])
    assert [(r["index"], r["comment"], r["target"]) for r in out[0]["rules"]] == [
        (0, "keep", "ACCEPT"), (1, "x-1", "T"), (2, "", "DROP"), (3, "x-2", "MASQUERADE"),
        (4, "exact", "DNAT"), (5, "m", "MARK"), (6, "r", "RETURN"), (7, "g", "T")]
    assert out[1]["rules"] == []
    _, out = run_ops(host, "ip", "nat", ["deleteCommentPrefix", "C", "x-"], ["deleteComment", "C", "exact"],
                     ["deleteComment", "C", "nothing"], ["deleteTarget", "C", "T"], ["deleteTarget", "NOPE", "T"],
                     ["list", "C"], ["commit"])
    assert [o.get("count") for o in out[:5]] == [2, 1, 0, 1, 0]
    assert [r["comment"] for r in out[5]["rules"]] == ["keep", "", "m", "r"]
    assert len(rule_lines(host, "ip", "nat", "C")) == 4


def test_delete_chain_removes_referencing_rules(host):
    j = {"verdict": "jump", "chain": "D"}
    g = {"verdict": "goto", "chain": "D", "comment": "g"}
    run_ops(host, "ip", "filter", ["ensureChain", "D"], ["ensureChain", "E"],
            ["append", "D", {"comment": "inside"}],
            ["append", "FORWARD", j], ["append", "FORWARD", {"comment": "other"}], ["append", "E", g],
            ["append", "E", j], ["append", "E", {"verdict": "drop"}], ["commit"])
    # a rule made by iptables itself also goes
    ipt(host, "ip", "-t filter -I INPUT -p tcp -j D")
    _, out = run_ops(host, "ip", "filter", ["deleteChain", "D"], ["hasChain", "D"], ["list", "E"],
                     ["list", "FORWARD"], ["commit"])
    assert out[0]["result"] is False
    assert [r["target"] for r in out[1]["rules"]] == ["DROP"]
    assert [r["comment"] for r in out[2]["rules"]] == ["other"]
    s = save(host, "ip", "filter")
    assert ":D " not in s and not re.search(r"-[jg] D$", s, re.M) and "-A INPUT" not in s


def test_commit_failure_leaves_nothing(host):
    before = save(host, "ip", "filter")
    rc, out = run_ops(host, "ip", "filter", ["ensureChain", "NEW"], ["append", "NEW", A_RULE],
                      ["append", "FORWARD", {"verdict": "jump", "chain": "MISSING"}], ["commit"], check=False)
    assert rc == 1 and out[-1]["error"] == 999
    assert "filter" in out[-1]["msg"]
    assert save(host, "ip", "filter") == before
    # DNAT outside the nat table: the kernel refuses it at commit
    rc, out = run_ops(host, "ip6", "filter", ["ensureChain", "NEW"],
                      ["append", "NEW", {"verdict": "dnat", "to": "fd00::1"}], ["commit"], check=False)
    assert rc == 1 and out[-1]["error"] == 999
    assert ":NEW" not in save(host, "ip6", "filter")


@pytest.mark.parametrize("bad", [
    {"proto": "tcp", "dports": list(range(1, 17))},             # more than 15 ports
    {"dports": [80]},                                          # ports without protocol
    {"src": "fd00::/64"},                                      # wrong family
    {"verdict": "dnat", "to": "fd00::1"},
    {"verdict": "jump"},                                       # no chain
    {"verdict": "jump", "chain": "C" * 29},                    # name too long
    {"iif": "a" * 16},
    {"comment": "x" * 256},
    {"etherSrc": "aa:bb:cc:dd:ee:ff"},
])
def test_unrenderable_rules_are_errors(host, bad):
    rc, out = run_ops(host, "ip", "nat", ["ensureChain", "C"], ["append", "C", bad], ["commit"], check=False)
    assert rc == 1 and out[-1]["error"] == 999 and out[-1]["msg"]
    _, out = run_ops(host, "ip", "nat", ["contains", "C", bad], ["hasChain", "C"])
    assert [o["result"] for o in out] == [False, False]


def test_bad_table_and_family(host):
    rc, out = run_ops(host, "ip", "bogus", check=False)
    assert rc == 1 and "bogus" in out[-1]["msg"]
    rc, out = run_ops(host, "inet", "filter", check=False)
    assert rc == 1 and out[-1]["error"] == 999
    rc, out = run_ops(host, "ip", "filter", ["destroy"], check=False)
    assert rc == 1 and out[-1]["error"] == 999
    _, out = run_ops(host, "ip", "filter", ["exists"], ["ensure", "c"])
    assert out == [{"op": "exists", "result": True}]


def test_both_families_in_one_process(host):
    doc = {"backend": "iptables", "ops": [
        {"family": "ip", "table": "nat", "do": [["ensureChain", "C4"]]},
        {"family": "ip6", "table": "nat", "do": [["ensureChain", "C6"]]},
        {"family": "ip", "table": "filter", "do": [["ensureChain", "F4"], ["commit"]]},
        {"family": "ip6", "table": "nat", "do": [["hasChain", "C6"], ["commit"]]},
    ]}
    _, out = nftool(host, doc)
    assert out == [{"op": "hasChain", "result": False}]  # the first ip6 nat Table never committed
    assert ":F4 -" in save(host, "ip", "filter")
    assert ":C4 -" not in save(host, "ip", "nat") and ":C6 -" not in save(host, "ip6", "nat")


def test_usable_and_auto(host):
    _, out = nftool(host, {"cmd": "usable"})
    assert out[0]["iptables"] is True
    # legacy tables in use in this namespace: auto picks iptables
    _, out = nftool(host, {"cmd": "auto"})
    assert out == [{"backend": "iptables"}]


def test_unchanged_transaction_changes_nothing(host):
    """Operations that find everything in place leave the table (and its
    counters) as it was."""
    run_ops(host, "ip", "filter", ["ensureChain", "C"], ["append", "C", A_RULE], ["commit"])
    ipt(host, "ip", "-t filter -Z C")
    ipt(host, "ip", "-t filter -A INPUT -j C")
    host.sh("iptables-legacy -w -t filter -Z INPUT")
    # some traffic through INPUT -> counters
    host.sh("ping -c 1 -W 1 127.0.0.1", check=False)
    before = host.sh("iptables-legacy-save -c -t filter").stdout.split("\n", 1)[1]
    run_ops(host, "ip", "filter", ["ensureChain", "C"], ["ensureRule", "C", A_RULE], ["deleteRule", "C", B_RULE],
            ["flushChain", "NOPE"], ["deleteChain", "NOPE"], ["commit"])
    after = host.sh("iptables-legacy-save -c -t filter").stdout.split("\n", 1)[1]
    strip = lambda s: [l for l in s.splitlines() if not l.startswith("#")]  # noqa: E731
    assert strip(after) == strip(before)


# ------------------------------------------------------------ the lock

class _Held:
    """flock(LOCK_EX) on path, held by this test process until release()."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def kill(self):
        os.close(self.fd)

    def wait(self):
        pass


def _hold_lock(path):
    return _Held(path)


def test_lock_waits_then_succeeds(host):
    with tempfile.TemporaryDirectory(prefix="cbt-lock-") as d:
        lock = os.path.join(d, "xtables.lock")
        holder = _hold_lock(lock)
        try:
            env = {"XTABLES_LOCKFILE": lock}
            cmd = ["ip", "netns", "exec", host.name, "env"] + [f"{k}={v}" for k, v in env.items()] + [tool()]
            p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            p.stdin.write(json.dumps(ops("ip", "filter", ["ensureChain", "L"], ["commit"])))
            p.stdin.close()
            time.sleep(0.5)
            assert p.poll() is None, "nftool did not wait for the lock"
            assert ":L -" not in save(host, "ip", "filter")
        finally:
            holder.kill()
            holder.wait()
        assert p.wait(timeout=30) == 0
        assert ":L -" in save(host, "ip", "filter")


def test_lock_timeout_is_code_11(host):
    with tempfile.TemporaryDirectory(prefix="cbt-lock-") as d:
        lock = os.path.join(d, "xtables.lock")
        holder = _hold_lock(lock)
        try:
            t0 = time.monotonic()
            rc, out = nftool(host, ops("ip", "filter", ["ensureChain", "L"], ["commit"]), check=False,
                             env={"XTABLES_LOCKFILE": lock, "CNIBOX_XTABLES_WAIT": "0.3"})
            took = time.monotonic() - t0
        finally:
            holder.kill()
            holder.wait()
        assert rc == 1 and out == [{"error": 11, "msg": f"xtables lock held by another process ({lock})"}]
        assert 0.25 < took < 5
        assert ":L -" not in save(host, "ip", "filter")


def test_lock_released_at_exit(host):
    """Several Tables of two families share the process's lock; it is free
    again when they are gone."""
    with tempfile.TemporaryDirectory(prefix="cbt-lock-") as d:
        lock = os.path.join(d, "xtables.lock")
        # a slow document: many operations across two families
        steps = [["ensureChain", f"C{i}"] for i in range(200)] + [["commit"]]
        doc = {"backend": "iptables", "ops": [{"family": "ip", "table": "filter", "do": steps},
                                              {"family": "ip6", "table": "filter", "do": steps}]}
        cmd = ["ip", "netns", "exec", host.name, "env", f"XTABLES_LOCKFILE={lock}", tool()]
        p = subprocess.run(cmd, input=json.dumps(doc), capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout
        # after exit the lock is free again
        assert subprocess.run(["flock", "-n", lock, "true"]).returncode == 0


def test_nftool_input_errors(host):
    """nftool itself: malformed documents are errors, not crashes."""
    def raw(text):
        p = subprocess.run(["ip", "netns", "exec", host.name, tool()], input=text, capture_output=True, text=True)
        return p.returncode, [json.loads(l) for l in p.stdout.splitlines()]
    assert raw("{")[1][0]["error"] == 6
    assert raw('{"backend":"x","ops":[]}')[1][0]["error"] == 7
    assert raw(json.dumps(ops("ip", "filter", ["bogus"])))[1] == [{"error": 7, "msg": "unknown op bogus"}]
    assert raw(json.dumps(ops("ip", "filter", ["append", "X", {"verdict": "maybe"}])))[1][0]["error"] == 7
    assert raw(json.dumps(ops("ip", "filter", ["append", "X", {"dports": [70000]}])))[1][0]["error"] == 7
    assert raw(json.dumps(ops("ip", "filter", ["append", "X", {"src": "nope"}])))[1][0]["error"] == 7
    assert raw(json.dumps(ops("ip", "filter", ["append"])))[0] == 1
    _, out = raw(json.dumps({"cmd": "chainName", "prefix": "CNI-DN-", "name": "mynet", "id": "ctr1"}))
    assert out == [{"result": "CNI-DN-5145007e2a8415ce07579"}]  # as the reference names it
