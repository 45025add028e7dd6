"""portmap and firewall under qemu-user, on both netfilter backends: they
cannot work there, and these tests pin how they fail.

qemu-user does not carry netfilter's syscalls: socket(AF_NETLINK, SOCK_RAW,
NETLINK_NETFILTER) returns EPROTONOSUPPORT (it lets through only
NETLINK_ROUTE, KOBJECT_UEVENT and AUDIT) and getsockopt(SOL_IP,
IPT_SO_GET_INFO) returns ENOPROTOOPT. Chained after bridge (its result as
prevResult), ADD must fail with code 50 naming that reason, exit 1 and leave
no rule, chain or table behind. The real smoke of these applets on a
foreign architecture is the arm64 VM lane (test/vm, VM_ARCH=arm64).
"""
import pytest

import cnitest

NET = "crossnf"
BR = "cbtxnf0"
SUBNET = "10.73.0.0/24"

REASON = {"iptables": "the iptables backend is not usable in this network namespace: Protocol not available "
                      "(is the ip_tables module loaded?)",
          "nftables": "the nftables backend is not usable in this network namespace: Protocol not supported"}
CARRIED = "qemu-user now carries NETLINK_NETFILTER/IPT_SO_*: turn this into a real smoke"

NF_STATE = ["nft list ruleset", "iptables-legacy-save", "ip6tables-legacy-save",
            "cat /proc/net/ip_tables_names /proc/net/ip6_tables_names"]


def netfilter_state(ns):
    """nft ruleset, legacy xtables rules and chains, and legacy tables of
    `ns` (the save tools' comment lines, which carry a date, left out)."""
    outs = ns.multi(NF_STATE)
    return {cmd: [l for l in out.splitlines() if l.strip() and not l.startswith("#")]
            for cmd, out in zip(NF_STATE, outs)}


def plugin_conf(applet, backend, prev):
    c = {"cniVersion": "1.1.0", "name": NET, "type": applet, "backend": backend, "prevResult": prev}
    if applet == "portmap":
        c["runtimeConfig"] = {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}
    return c


@pytest.fixture
def attached(cross, host, ctr, scratch, bridge_conf):
    """bridge ADD under qemu (no ipMasq: no netfilter rule of its own); its
    result. The bridge DEL afterwards must succeed."""
    conf = bridge_conf(NET, BR, SUBNET)
    r = cross.plugin("bridge", "ADD", conf, host=host, netns=ctr, containerid="cross-nf")
    assert r.ok, r
    yield r.json
    r = cross.plugin("bridge", "DEL", dict(conf, prevResult=r.json), host=host, netns=ctr, containerid="cross-nf")
    assert r.ok, r
    assert cnitest.leases(scratch, NET) == []


def assert_empty(state):
    """No nft table, no legacy table, rule or chain: a fresh namespace's."""
    assert state == {cmd: [] for cmd in NF_STATE}, state


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
@pytest.mark.parametrize("applet", ["portmap", "firewall"])
def test_add_fails_for_want_of_netfilter_syscalls(cross, host, ctr, attached, applet, backend):
    """ADD exits 1 with code 50 naming the syscall's errno (iptables:
    IPT_SO_GET_INFO's ENOPROTOOPT, nftables: NETLINK_NETFILTER's
    EPROTONOSUPPORT) and leaves nothing. Covered for real by the arm64 VM
    lane (test/vm, VM_ARCH=arm64)."""
    assert_empty(netfilter_state(host))
    r = cross.plugin(applet, "ADD", plugin_conf(applet, backend, attached), host=host, netns=ctr,
                     containerid="cross-nf")
    assert not r.ok, f"{CARRIED} ({applet} {backend} ADD succeeded: {r!r})"
    assert r.json and r.json.get("msg") == REASON[backend], f"{r!r} (if qemu-user changed, {CARRIED})"
    cnitest.assert_cni_error(r, 50, REASON[backend])
    assert_empty(netfilter_state(host))
    assert_empty(netfilter_state(ctr))


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
@pytest.mark.parametrize("applet", ["portmap", "firewall"])
def test_del_after_the_failed_add(cross, host, ctr, attached, applet, backend, request):
    """The runtime's DEL after the failed ADD: nothing can have been added
    (the backend cannot even be opened), so DEL succeeds and adds nothing.
    Covered for real by the arm64 VM lane (test/vm, VM_ARCH=arm64)."""
    conf = plugin_conf(applet, backend, attached)
    r = cross.plugin(applet, "ADD", conf, host=host, netns=ctr, containerid="cross-nf")
    assert r.rc == 1, f"{CARRIED} ({applet} {backend} ADD: {r!r})"
    r = cross.plugin(applet, "DEL", conf, host=host, netns=ctr, containerid="cross-nf")
    assert r.ok and r.stdout == "", r
    assert_empty(netfilter_state(host))
