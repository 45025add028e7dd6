"""The nftables backend of the netfilter layer (src/netfilter/nft.cpp),
driven through test/netfilter/nftool inside namespaces the tests make.

The oracle is nft(8): every Match field and Verdict is written once through
nftool and once as nft syntax in a second namespace; `nft list ruleset` must
print the same text, and nftool must find (contains) and delete (deleteRule)
the rule nft made, i.e. the rendered expressions are identical.
"""
import fcntl
import json
import os
import subprocess
import tempfile
import time

import pytest

import cnitest

NFT = "/usr/sbin/nft"

pytestmark = pytest.mark.skipif(not os.path.exists(NFT), reason="nft (the oracle) is not installed")


def nftool(ns, doc, check=True, binary=None, env=None, wrapper=()):
    """Runs nftool in ns with the JSON doc (with `env` added to its
    environment, under `wrapper`); returns (returncode, [parsed lines])."""
    extra = [f"{k}={v}" for k, v in (env or {}).items()]
    p = subprocess.run(["ip", "netns", "exec", ns.name, "env"] + extra + list(wrapper) +
                       [binary or cnitest.nftool_binary()],
                       input=json.dumps(doc), capture_output=True, text=True, timeout=60)
    lines = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    if check:
        assert p.returncode == 0, (p.stdout, p.stderr)
    return p.returncode, lines


def ops(family, table, *do):
    return {"backend": "nftables", "ops": [{"family": family, "table": table, "do": list(do)}]}


def run(ns, family, table, *do, check=True, binary=None, env=None, wrapper=()):
    return nftool(ns, ops(family, table, *do), check=check, binary=binary, env=env, wrapper=wrapper)


def nft(ns, script):
    p = subprocess.run(["ip", "netns", "exec", ns.name, NFT, "-f", "-"], input=script,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p


def ruleset(ns):
    return ns.sh(f"{NFT} list ruleset").stdout


def one(lines, op):
    got = [l for l in lines if l.get("op") == op]
    assert len(got) == 1, lines
    return got[0]


NAT_PRE = {"type": "nat", "hook": "prerouting", "priority": -100}
NAT_POST = {"type": "nat", "hook": "postrouting", "priority": 100}
FILTER_FWD = {"type": "filter", "hook": "forward", "priority": 0}
BR_PRE = {"type": "filter", "hook": "prerouting", "priority": -300}

HOOK_NFT = {
    "nat/prerouting": "type nat hook prerouting priority -100; policy accept;",
    "nat/postrouting": "type nat hook postrouting priority 100; policy accept;",
    "filter/forward": "type filter hook forward priority 0; policy accept;",
    "filter/prerouting": "type filter hook prerouting priority -300; policy accept;",
}


def hook_key(h):
    return f'{h["type"]}/{h["hook"]}'


# (id, family, base chain of the rule, RULE, the same rule in nft syntax)
CASES = [
    ("masq-src-notdst", "ip", NAT_POST,
     {"src": "10.1.0.2/32", "dst": "10.1.0.0/24", "notDst": True, "verdict": "masquerade"},
     "ip saddr 10.1.0.2 ip daddr != 10.1.0.0/24 masquerade"),
    ("src-prefix-unaligned", "ip", FILTER_FWD, {"src": "10.1.0.0/20", "verdict": "accept"},
     "ip saddr 10.1.0.0/20 accept"),
    ("notsrc-drop", "ip", FILTER_FWD, {"src": "10.0.0.0/8", "notSrc": True, "verdict": "drop"},
     "ip saddr != 10.0.0.0/8 drop"),
    ("dst-host", "ip", FILTER_FWD, {"dst": "192.168.7.9/32", "verdict": "accept"},
     "ip daddr 192.168.7.9 accept"),
    ("iif-notoif-return", "ip", FILTER_FWD, {"iif": "br0", "oif": "eth0", "notOif": True, "verdict": "return"},
     'iifname "br0" oifname != "eth0" return'),
    ("notiif-oif", "ip", FILTER_FWD, {"iif": "br0", "notIif": True, "oif": "eth0", "verdict": "accept"},
     'iifname != "br0" oifname "eth0" accept'),
    ("iif-wildcard", "ip", FILTER_FWD, {"iif": "veth+", "verdict": "accept"}, 'iifname "veth*" accept'),
    ("tcp-dport-dnat-port", "ip", NAT_PRE,
     {"proto": "tcp", "dports": [8080], "verdict": "dnat", "to": "10.0.0.2", "toPort": 80},
     "tcp dport 8080 dnat ip to 10.0.0.2:80"),
    ("udp-dports-set-dnat", "ip", NAT_PRE,
     {"proto": "udp", "dports": [5353, 53], "verdict": "dnat", "to": "10.0.0.2"},
     "udp dport { 53, 5353 } dnat ip to 10.0.0.2"),
    ("sctp-dport", "ip", FILTER_FWD, {"proto": "sctp", "dports": [9000], "verdict": "accept"},
     "sctp dport 9000 accept"),
    ("proto-only", "ip", FILTER_FWD, {"proto": "udp", "verdict": "drop"}, "meta l4proto udp drop"),
    ("dports-15", "ip", FILTER_FWD,
     {"proto": "tcp", "dports": list(range(1000, 1015)), "verdict": "accept"},
     "tcp dport { " + ", ".join(str(p) for p in range(1000, 1015)) + " } accept"),
    ("dstlocal-jump", "ip", NAT_PRE, {"dstLocal": True, "verdict": "jump", "chain": "X"},
     "fib daddr type local jump X"),
    ("mark-mask-goto", "ip", FILTER_FWD, {"mark": 0x2000, "markMask": 0x2000, "verdict": "goto", "chain": "X"},
     "meta mark & 0x00002000 == 0x00002000 goto X"),
    ("mark-exact", "ip", FILTER_FWD, {"mark": 1, "verdict": "accept"}, "meta mark 0x00000001 accept"),
    ("ct-relest", "ip", FILTER_FWD, {"ctRelEst": True, "verdict": "accept"},
     "ct state related,established accept"),
    ("setmark-bit", "ip", NAT_PRE, {"verdict": "setmark", "setMark": 0x2000, "setMask": 0x2000},
     "meta mark set meta mark | 0x00002000"),
    ("setmark-all", "ip", NAT_PRE, {"verdict": "setmark", "setMark": 5, "setMask": 0xffffffff},
     "meta mark set 0x00000005"),
    ("setmark-field", "ip", NAT_PRE, {"verdict": "setmark", "setMark": 0x1200, "setMask": 0xff00},
     "meta mark set meta mark & 0xffff00ff | 0x00001200"),
    ("comment", "ip", FILTER_FWD, {"src": "10.0.0.0/8", "verdict": "accept", "comment": "name: n id: c"},
     'ip saddr 10.0.0.0/8 accept comment "name: n id: c"'),
    ("everything", "ip", NAT_PRE,
     {"src": "10.1.0.0/16", "dst": "10.9.0.0/16", "notDst": True, "iif": "br0", "oif": "eth1",
      "proto": "tcp", "dports": [80, 443], "dstLocal": True, "mark": 0x10, "markMask": 0xf0,
      "ctRelEst": True, "verdict": "dnat", "to": "10.0.0.9", "toPort": 8443, "comment": "all"},
     'ip saddr 10.1.0.0/16 ip daddr != 10.9.0.0/16 iifname "br0" oifname "eth1" tcp dport { 80, 443 } '
     'fib daddr type local meta mark & 0x000000f0 == 0x00000010 ct state related,established '
     'dnat ip to 10.0.0.9:8443 comment "all"'),
    # ip6
    ("ip6-masq", "ip6", NAT_POST,
     {"src": "fd00:1::/60", "dst": "fd00::/8", "notDst": True, "verdict": "masquerade"},
     "ip6 saddr fd00:1::/60 ip6 daddr != fd00::/8 masquerade"),
    ("ip6-dnat-port", "ip6", NAT_PRE,
     {"proto": "tcp", "dports": [80], "verdict": "dnat", "to": "fd00::5", "toPort": 8080},
     "tcp dport 80 dnat ip6 to [fd00::5]:8080"),
    ("ip6-dst-host-drop", "ip6", FILTER_FWD, {"dst": "fd00::1/128", "verdict": "drop"}, "ip6 daddr fd00::1 drop"),
    # inet: meta nfproto dependency
    ("inet-v4", "inet", FILTER_FWD,
     {"src": "10.1.0.2/32", "dst": "10.2.0.0/16", "proto": "tcp", "dports": [80], "verdict": "accept"},
     "ip saddr 10.1.0.2 ip daddr 10.2.0.0/16 tcp dport 80 accept"),
    ("inet-v6", "inet", FILTER_FWD, {"src": "fd00::/64", "notSrc": True, "verdict": "accept"},
     "ip6 saddr != fd00::/64 accept"),
    ("inet-dnat", "inet", NAT_PRE, {"proto": "udp", "dports": [53], "verdict": "dnat", "to": "10.0.0.3", "toPort": 5353},
     "udp dport 53 dnat ip to 10.0.0.3:5353"),
    ("inet-dnat6", "inet", NAT_PRE, {"verdict": "dnat", "to": "fd00::3"}, "dnat ip6 to fd00::3"),
    ("inet-masq", "inet", NAT_POST, {"oif": "eth0", "verdict": "masquerade"}, 'oifname "eth0" masquerade'),
    # bridge: meta protocol dependency, ether saddr
    ("bridge-ether-ip", "bridge", BR_PRE,
     {"etherSrc": "aa:bb:cc:dd:ee:ff", "src": "10.0.0.1/32", "verdict": "accept"},
     "ether saddr aa:bb:cc:dd:ee:ff ip saddr 10.0.0.1 accept"),
    ("bridge-ip6", "bridge", BR_PRE, {"dst": "fd00::1/128", "verdict": "drop"}, "ip6 daddr fd00::1 drop"),
    ("bridge-iif-ether", "bridge", BR_PRE,
     {"etherSrc": "02:00:00:00:00:01", "iif": "veth1", "verdict": "return"},
     'ether saddr 02:00:00:00:00:01 iifname "veth1" return'),
    ("bridge-iif-drop", "bridge", BR_PRE, {"iif": "veth1", "verdict": "drop", "comment": "spoof"},
     'iifname "veth1" drop comment "spoof"'),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_rule_matches_nft_oracle(make_ns, case):
    _, family, hook, rule, text = case
    mine, theirs = make_ns("cbt-nft"), make_ns("cbt-nft")
    needs_x = rule.get("chain") == "X"
    do = [["ensure"]]
    if needs_x:
        do.append(["ensureChain", "X"])
    do += [["ensureChain", "C", hook], ["append", "C", rule], ["commit"]]
    run(mine, family, "t", *do)
    nft(theirs, f"table {family} t {{\n" + ("chain X {\n}\n" if needs_x else "") +
        f"chain C {{\n{HOOK_NFT[hook_key(hook)]}\n{text}\n}}\n}}\n")
    assert ruleset(mine) == ruleset(theirs)

    # The rule nft made is identical to the rendered one: found and deleted by it.
    _, lines = run(theirs, family, "t", ["contains", "C", rule])
    assert one(lines, "contains")["result"] is True
    other = dict(rule, comment=rule.get("comment", "") + "x")
    _, lines = run(theirs, family, "t", ["contains", "C", other])
    assert one(lines, "contains")["result"] is False
    run(theirs, family, "t", ["deleteRule", "C", rule], ["commit"])
    _, lines = run(theirs, family, "t", ["list", "C"])
    assert one(lines, "list")["rules"] == []
    # ... and nftool's own rule is found by it too.
    _, lines = run(mine, family, "t", ["contains", "C", rule])
    assert one(lines, "contains")["result"] is True


@pytest.mark.parametrize("hook", [NAT_PRE, NAT_POST, FILTER_FWD,
                                  {"type": "filter", "hook": "input", "priority": 10},
                                  {"type": "filter", "hook": "output", "priority": -5},
                                  {"type": "nat", "hook": "output", "priority": -100}],
                         ids=lambda h: f'{h["type"]}-{h["hook"]}')
@pytest.mark.parametrize("family", ["ip", "ip6", "inet"])
def test_base_chains(make_ns, family, hook):
    mine, theirs = make_ns("cbt-nft"), make_ns("cbt-nft")
    run(mine, family, "t", ["ensure"], ["ensureChain", "B", hook], ["ensureChain", "R"], ["commit"])
    # ensureChain of an existing chain (base or regular) is a no-op
    run(mine, family, "t", ["ensure"], ["ensureChain", "B", hook], ["ensureChain", "R"], ["commit"])
    nft(theirs, f'table {family} t {{\nchain B {{\ntype {hook["type"]} hook {hook["hook"]} '
                f'priority {hook["priority"]}; policy accept;\n}}\nchain R {{\n}}\n}}\n')
    assert ruleset(mine) == ruleset(theirs)
    _, lines = run(mine, family, "t", ["chains"], ["hasChain", "B"], ["hasChain", "R"], ["hasChain", "Z"])
    assert sorted(one(lines, "chains")["result"]) == ["B", "R"]
    assert [l["result"] for l in lines if l["op"] == "hasChain"] == [True, True, False]


def test_bridge_base_chain(make_ns):
    mine, theirs = make_ns("cbt-nft"), make_ns("cbt-nft")
    run(mine, "bridge", "t", ["ensure"], ["ensureChain", "B", BR_PRE], ["commit"])
    nft(theirs, "table bridge t {\nchain B {\ntype filter hook prerouting priority -300; policy accept;\n}\n}\n")
    assert ruleset(mine) == ruleset(theirs)


def test_table_comment(make_ns):
    ns = make_ns("cbt-nft")
    run(ns, "inet", "cni_test", ["ensure", "managed by cnibox"], ["commit"])
    assert 'comment "managed by cnibox"' in ruleset(ns)
    # ensure of an existing table is a no-op: the comment stays
    run(ns, "inet", "cni_test", ["ensure", "other"], ["ensureChain", "c"], ["commit"])
    out = ruleset(ns)
    assert 'comment "managed by cnibox"' in out and "other" not in out
    theirs = make_ns("cbt-nft")
    nft(theirs, 'table inet cni_test {\ncomment "managed by cnibox"\nchain c {\n}\n}\n')
    assert out == ruleset(theirs)


def test_exists_has_chain_chains(make_ns):
    ns = make_ns("cbt-nft")
    _, lines = run(ns, "ip", "t", ["exists"], ["hasChain", "A"], ["chains"], ["list", "A"])
    assert one(lines, "exists")["result"] is False
    assert one(lines, "hasChain")["result"] is False
    assert one(lines, "chains")["result"] == []
    assert one(lines, "list")["rules"] == []
    # another table's chains are not this table's; the same name in another family neither
    nft(ns, "table ip other {\nchain O {\n}\n}\ntable ip6 t {\nchain S {\n}\n}\n")
    run(ns, "ip", "t", ["ensure"], ["ensureChain", "A"], ["commit"])
    _, lines = run(ns, "ip", "t", ["exists"], ["hasChain", "A"], ["hasChain", "O"], ["hasChain", "S"], ["chains"])
    assert one(lines, "exists")["result"] is True
    assert [l["result"] for l in lines if l["op"] == "hasChain"] == [True, False, False]
    assert one(lines, "chains")["result"] == ["A"]


def test_list_targets_and_comments(make_ns):
    ns = make_ns("cbt-nft")
    rules = [
        {"verdict": "accept", "comment": 'name: "n" id: "c"'},
        {"verdict": "drop"},
        {"verdict": "return"},
        {"verdict": "jump", "chain": "X"},
        {"verdict": "goto", "chain": "X"},
        {"verdict": "masquerade", "comment": "m"},
        {"verdict": "dnat", "to": "10.0.0.1"},
        {"verdict": "setmark", "setMark": 1, "setMask": 1},
    ]
    run(ns, "ip", "t", ["ensure"], ["ensureChain", "X"], ["ensureChain", "C"],
        *[["append", "C", r] for r in rules], ["commit"])
    _, lines = run(ns, "ip", "t", ["list", "C"])
    got = one(lines, "list")["rules"]
    assert [r["index"] for r in got] == list(range(len(rules)))
    assert [r["target"] for r in got] == ["ACCEPT", "DROP", "RETURN", "X", "X", "MASQUERADE", "DNAT", "MARK"]
    assert [r["comment"] for r in got] == ['name: "n" id: "c"', "", "", "", "", "m", "", ""]
    assert all(r["handle"] > 0 for r in got) and len({r["handle"] for r in got}) == len(got)


def test_insert_append_order(make_ns):
    ns = make_ns("cbt-nft")
    run(ns, "ip", "t", ["ensure"], ["ensureChain", "C"],
        ["append", "C", {"verdict": "accept", "comment": "b"}],
        ["insert", "C", {"verdict": "accept", "comment": "a"}],
        ["append", "C", {"verdict": "accept", "comment": "c"}], ["commit"])
    run(ns, "ip", "t", ["insert", "C", {"verdict": "drop", "comment": "0"}], ["commit"])
    _, lines = run(ns, "ip", "t", ["list", "C"])
    assert [r["comment"] for r in one(lines, "list")["rules"]] == ["0", "a", "b", "c"]


def test_ensure_rule_idempotent(make_ns):
    ns = make_ns("cbt-nft")
    r1 = {"proto": "tcp", "dports": [80, 443], "verdict": "accept", "comment": "web"}
    r2 = {"src": "10.0.0.0/8", "verdict": "drop", "comment": "head"}
    for _ in range(3):
        run(ns, "ip", "t", ["ensure"], ["ensureChain", "C"], ["ensureRule", "C", r1],
            ["ensureRule", "C", r2, True], ["commit"])
    _, lines = run(ns, "ip", "t", ["list", "C"])
    assert [r["comment"] for r in one(lines, "list")["rules"]] == ["head", "web"]
    # the same match with another comment is another rule
    run(ns, "ip", "t", ["ensureRule", "C", dict(r1, comment="web2")], ["commit"])
    _, lines = run(ns, "ip", "t", ["list", "C"])
    assert [r["comment"] for r in one(lines, "list")["rules"]] == ["head", "web", "web2"]
    # another port set is another rule
    _, lines = run(ns, "ip", "t", ["contains", "C", dict(r1, dports=[80, 444])])
    assert one(lines, "contains")["result"] is False


def test_delete_rule_and_delete_where(make_ns):
    ns = make_ns("cbt-nft")
    a = {"src": "10.0.0.1/32", "verdict": "accept", "comment": 'name: "n" id: "c1"'}
    b = {"src": "10.0.0.2/32", "verdict": "jump", "chain": "X", "comment": 'name: "n" id: "c2"'}
    c = {"src": "10.0.0.3/32", "verdict": "jump", "chain": "X", "comment": "other"}
    run(ns, "ip", "t", ["ensure"], ["ensureChain", "X"], ["ensureChain", "C"],
        ["append", "C", a], ["append", "C", a], ["append", "C", b], ["append", "C", c], ["commit"])
    # deleteRule deletes every identical rule; a different comment is not identical
    _, lines = run(ns, "ip", "t", ["deleteRule", "C", dict(a, comment="nope")], ["commit"], ["list", "C"])
    assert len(one(lines, "list")["rules"]) == 4
    run(ns, "ip", "t", ["deleteRule", "C", a], ["commit"])
    _, lines = run(ns, "ip", "t", ["list", "C"])
    assert [r["comment"] for r in one(lines, "list")["rules"]] == ['name: "n" id: "c2"', "other"]
    # deleting a rule that is not there is fine
    run(ns, "ip", "t", ["deleteRule", "C", a], ["deleteRule", "MISSING", a], ["commit"])
    _, lines = run(ns, "ip", "t", ["deleteCommentPrefix", "C", "name: "], ["commit"], ["list", "C"])
    assert one(lines, "deleteCommentPrefix")["count"] == 1
    assert [r["comment"] for r in one(lines, "list")["rules"]] == ["other"]
    _, lines = run(ns, "ip", "t", ["deleteComment", "C", "othe"], ["deleteTarget", "C", "X"], ["commit"],
                   ["list", "C"])
    assert one(lines, "deleteComment")["count"] == 0
    assert one(lines, "deleteTarget")["count"] == 1
    assert one(lines, "list")["rules"] == []


def test_flush_and_delete_chain(make_ns):
    ns = make_ns("cbt-nft")
    run(ns, "ip", "t", ["ensure"], ["ensureChain", "X"], ["ensureChain", "C"], ["ensureChain", "D"],
        ["append", "X", {"verdict": "accept"}],
        ["append", "C", {"verdict": "jump", "chain": "X", "comment": "to-x"}],
        ["append", "C", {"verdict": "accept", "comment": "keep"}],
        ["append", "D", {"verdict": "goto", "chain": "X"}], ["commit"])
    # missing chains: ok
    run(ns, "ip", "t", ["flushChain", "NOPE"], ["deleteChain", "NOPE"], ["commit"])
    run(ns, "ip", "t", ["flushChain", "D"], ["commit"])
    _, lines = run(ns, "ip", "t", ["list", "D"])
    assert one(lines, "list")["rules"] == []
    # deleting a chain with rules that others jump to removes those jumps too
    run(ns, "ip", "t", ["append", "D", {"verdict": "goto", "chain": "X"}], ["commit"])
    _, lines = run(ns, "ip", "t", ["deleteChain", "X"], ["commit"], ["chains"], ["list", "C"], ["list", "D"])
    assert sorted(one(lines, "chains")["result"]) == ["C", "D"]
    assert [r["comment"] for r in [l for l in lines if l["op"] == "list"][0]["rules"]] == ["keep"]
    assert [l for l in lines if l["op"] == "list"][1]["rules"] == []


def test_destroy(make_ns):
    ns = make_ns("cbt-nft")
    nft(ns, "table ip keep {\nchain k {\nip saddr 1.2.3.4 accept\n}\n}\n")
    before = ruleset(ns)
    run(ns, "ip", "t", ["destroy"], ["commit"])  # absent: ok
    run(ns, "ip", "t", ["ensure", "c"], ["ensureChain", "C", NAT_PRE],
        ["append", "C", {"proto": "tcp", "dports": [1, 2], "verdict": "dnat", "to": "10.0.0.1"}], ["commit"])
    _, lines = run(ns, "ip", "t", ["exists"], ["destroy"], ["commit"], ["exists"])
    assert [l["result"] for l in lines if l["op"] == "exists"] == [True, False]
    assert ruleset(ns) == before
    # destroy and re-create in one transaction
    run(ns, "ip", "t", ["ensure"], ["ensureChain", "A"], ["commit"])
    run(ns, "ip", "t", ["destroy"], ["ensure"], ["ensureChain", "B"], ["commit"])
    _, lines = run(ns, "ip", "t", ["chains"])
    assert one(lines, "chains")["result"] == ["B"]


def test_failed_commit_leaves_nothing(make_ns):
    ns = make_ns("cbt-nft")
    nft(ns, "table ip t {\nchain C {\nip saddr 1.2.3.4 accept\n}\n}\n")
    before = ruleset(ns)
    rc, lines = run(ns, "ip", "t", ["ensure"], ["ensureChain", "N"], ["append", "N", {"verdict": "accept"}],
                    ["append", "C", {"proto": "udp", "dports": [7, 9], "verdict": "drop"}],
                    ["append", "MISSING", {"verdict": "accept", "comment": "lost"}],
                    ["append", "C", {"verdict": "accept"}], ["commit"], check=False)
    assert rc == 1
    err = lines[-1]
    assert err["error"] != 0
    assert '"MISSING"' in err["msg"] and "No such file or directory" in err["msg"], err
    assert "lost" in err["msg"]
    assert ruleset(ns) == before
    # a jump to a missing chain fails too, and names the rule
    rc, lines = run(ns, "inet", "u", ["ensure"], ["ensureChain", "C"],
                    ["append", "C", {"verdict": "jump", "chain": "NOWHERE"}], ["commit"], check=False)
    assert rc == 1 and "NOWHERE" in lines[-1]["msg"]
    assert ruleset(ns) == before


def test_invalid_rules_are_errors(make_ns):
    ns = make_ns("cbt-nft")
    bad = [
        ("ip", {"src": "fd00::/64", "verdict": "accept"}),
        ("ip6", {"verdict": "dnat", "to": "10.0.0.1"}),
        ("ip", {"dports": [80], "verdict": "accept"}),
        ("ip", {"etherSrc": "aa:bb:cc:dd:ee:ff", "verdict": "accept"}),
        ("inet", {"src": "10.0.0.0/8", "dst": "fd00::/8", "verdict": "accept"}),
    ]
    for family, rule in bad:
        rc, lines = run(ns, family, "t", ["ensure"], ["ensureChain", "C"], ["append", "C", rule], ["commit"],
                        check=False)
        assert rc == 1 and lines[-1]["error"] != 0, (family, rule, lines)
    assert ruleset(ns) == ""


def test_other_tables_untouched(make_ns):
    ns = make_ns("cbt-nft")
    nft(ns, "table ip t2 {\nchain C {\nip saddr 1.2.3.4 accept comment \"x\"\n}\n}\n"
            "table ip6 t {\nchain C {\nip6 saddr ::1 accept comment \"x\"\n}\n}\n")
    before = ruleset(ns)
    run(ns, "ip", "t", ["ensure"], ["ensureChain", "C"], ["append", "C", {"verdict": "accept", "comment": "x"}],
        ["commit"])
    _, lines = run(ns, "ip", "t", ["list", "C"], ["deleteComment", "C", "x"], ["commit"], ["destroy"], ["commit"])
    assert len(one(lines, "list")["rules"]) == 1
    assert ruleset(ns) == before


def test_several_families_in_one_process(make_ns):
    ns = make_ns("cbt-nft")
    doc = {"backend": "nftables", "ops": [
        {"family": f, "table": "t", "do": [["ensure"], ["ensureChain", "C"],
                                           ["append", "C", {"verdict": "accept", "comment": f}], ["commit"]]}
        for f in ("ip", "ip6", "inet", "bridge")]}
    nftool(ns, doc)
    out = ruleset(ns)
    for f in ("ip", "ip6", "inet", "bridge"):
        assert f"table {f} t {{" in out and f'comment "{f}"' in out


def test_usable_and_auto(make_ns):
    ns = make_ns("cbt-nft")
    _, lines = nftool(ns, {"cmd": "usable"})
    assert lines[0]["nftables"] is True


def test_lock_waits_for_holder(make_ns):
    """Another holder of /run/cnibox/nftables.lock delays the transaction."""
    ns = make_ns("cbt-nft")
    os.makedirs("/run/cnibox", mode=0o755, exist_ok=True)
    holder = subprocess.Popen(["flock", "/run/cnibox/nftables.lock", "sleep", "1.5"])
    try:
        time.sleep(0.3)
        t0 = time.monotonic()
        run(ns, "ip", "t", ["ensure"], ["commit"])
        waited = time.monotonic() - t0
    finally:
        holder.wait()
    assert waited >= 0.8, waited
    _, lines = run(ns, "ip", "t", ["exists"])
    assert one(lines, "exists")["result"] is True


class _Held:
    """flock(LOCK_EX) on a lock file, held by this test process until release()."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def release(self):
        os.close(self.fd)


def test_lock_path_and_wait_overrides(make_ns):
    """$CNIBOX_NFTABLES_LOCKFILE names the lock; another holder delays the
    transaction, and past $CNIBOX_NFTABLES_WAIT seconds it is code 11."""
    ns = make_ns("cbt-nft")
    with tempfile.TemporaryDirectory(prefix="cbt-lock-") as d:
        lock = os.path.join(d, "sub", "nftables.lock")  # its directory is made
        os.makedirs(os.path.dirname(lock))
        holder = _Held(lock)
        try:
            t0 = time.monotonic()
            rc, out = run(ns, "ip", "t", ["ensure"], ["commit"], check=False,
                          env={"CNIBOX_NFTABLES_LOCKFILE": lock, "CNIBOX_NFTABLES_WAIT": "0.3"})
            took = time.monotonic() - t0
            assert rc == 1 and out == [{"error": 11, "msg": f"nftables lock held by another process ({lock})"}]
            assert 0.25 < took < 5, took
            assert "table ip t" not in ruleset(ns)

            p = subprocess.Popen(["ip", "netns", "exec", ns.name, "env", f"CNIBOX_NFTABLES_LOCKFILE={lock}",
                                  cnitest.nftool_binary()], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            p.stdin.write(json.dumps(ops("ip", "t", ["ensure"], ["commit"])))
            p.stdin.close()
            time.sleep(0.5)
            assert p.poll() is None, "nftool did not wait for the lock"
            assert "table ip t" not in ruleset(ns)
        finally:
            holder.release()
        assert p.wait(timeout=30) == 0
        assert "table ip t" in ruleset(ns)
        # released at exit
        assert subprocess.run(["flock", "-n", lock, "true"]).returncode == 0


QUERIES = [
    ("exists", ["exists"], "listing the chains"),
    ("hasChain", ["hasChain", "C"], "listing the chains"),
    ("chains", ["chains"], "listing the chains"),
    ("list", ["list", "C"], 'listing the rules of chain "C"'),
    ("contains", ["contains", "C", {"verdict": "accept", "comment": "x"}], 'listing the rules of chain "C"'),
    ("ensureChain", ["ensureChain", "C"], "listing the chains"),
    ("deleteComment", ["deleteComment", "C", "x"], 'listing the rules of chain "C"'),
]


@pytest.mark.parametrize("op,step,what", QUERIES, ids=[q[0] for q in QUERIES])
def test_refused_query_fails(make_ns, op, step, what):
    """A query the kernel refuses is an error naming the table, never "not
    there": in a user namespace of its own the tool has no CAP_NET_ADMIN
    over the namespace's netfilter, and every dump is answered EPERM."""
    ns = make_ns("cbt-nft")
    nft(ns, "table ip t {\n chain C {\n accept comment \"x\"\n }\n}\n")
    with tempfile.TemporaryDirectory(prefix="cbt-lock-") as d:
        rc, out = run(ns, "ip", "t", step, check=False, wrapper=["unshare", "--user"],
                      env={"CNIBOX_NFTABLES_LOCKFILE": os.path.join(d, "nftables.lock")})
    assert rc == 1 and out == [{"error": 999, "msg": f"nftables table ip t: {what}: Operation not permitted"}], out
    assert 'comment "x"' in ruleset(ns)


def test_refused_probe_is_not_usable(make_ns):
    ns = make_ns("cbt-nft")
    _, lines = nftool(ns, {"cmd": "usable"}, wrapper=["unshare", "--user"])
    assert lines == [{"iptables": False, "nftables": False}]


def _static_nftool():
    b = os.environ.get("CNIBOX_STATIC")
    if not b:
        return None
    tool = os.path.join(os.path.dirname(os.path.abspath(b)), "nftool")
    return tool if os.path.exists(tool) else None


@pytest.mark.skipif(_static_nftool() is None,
                    reason="set CNIBOX_STATIC to a static cnibox with nftool next to it "
                           "(NFTOOL=1 packaging/build-static.sh DIR)")
def test_static_build_nftables(make_ns):
    """The static build (bundled netlink helpers instead of libmnl) renders and
    commits the same rules as the dynamic one."""
    tool = _static_nftool()
    assert "statically linked" in subprocess.run(["file", "-b", tool], capture_output=True, text=True).stdout
    mine, theirs = make_ns("cbt-nft"), make_ns("cbt-nft")
    do = [["ensure", "static"], ["ensureChain", "X"]]
    hooks = {}
    for i, (_, family, hook, rule, text) in enumerate(CASES):
        if family != "ip":
            continue
        hooks[i] = (hook, text)
        do += [["ensureChain", f"C{i}", hook], ["append", f"C{i}", rule]]
    do.append(["commit"])
    run(mine, "ip", "t", *do, binary=tool)
    script = 'table ip t {\ncomment "static"\nchain X {\n}\n'
    for i, (hook, text) in hooks.items():
        script += f"chain C{i} {{\n{HOOK_NFT[hook_key(hook)]}\n{text}\n}}\n"
    nft(theirs, script + "}\n")
    assert ruleset(mine) == ruleset(theirs)
    for i, (_, family, hook, rule, text) in enumerate(CASES):
        if i in hooks:
            _, lines = run(theirs, "ip", "t", ["contains", f"C{i}", rule], ["list", f"C{i}"], binary=tool)
            assert one(lines, "contains")["result"] is True, text
    _, lines = run(mine, "ip", "t", ["destroy"], ["commit"], ["exists"], binary=tool)
    assert one(lines, "exists")["result"] is False
