"""Helpers of the differential tier (see conftest.py): twin sides, state
snapshots and the comparisons, with the documented differences."""
import concurrent.futures
import copy
import difflib
import fnmatch
import json
import os
import shutil
import tempfile
import time

import cnitest

# The documented, deliberate differences (README "Compatibility"). Keys are
# cited where a comparison asserts one of them.
DIFFERENCES = {
    "spec-codes": "errors the spec has a code for get that code (7 invalid config, 4 invalid env incl. "
                  "CNI_ARGS, 8 invalid netns, 6 undecodable prevResult) where the reference wraps them "
                  "as 999",
    "lease-modes": "host-local lease and last_reserved_ip files are 0600 (the reference 1.1.1 writes "
                   "0644; upstream moved them to 0600 in 1.4.0); cnibox keeps an index of attachments "
                   "in <network>/.cnibox/ (0700, files 0600)",
    "alloc-100": "an address request that cannot be met (range exhausted, requested address taken, "
                 "outside every range, or the gateway) is code 100, plugin-specific; the reference: 999",
    "rollback": "a failed ADD removes what it made (links, leases); the reference can leave them",
    "ref-check-faults": "CHECK passes where the reference 1.1.1 fails by its own faults (bridge without "
                        "IPAM, IPAM routes without a gateway)",
    "keep-addr": "a container interface given an IPv6 address gets keep_addr_on_down=1, as upstream "
                 "does since 1.7 (the reference 1.1.1 leaves 0)",
    "ref-loopback-shape": "loopback's results in 0.1.0..0.4.0 have the shape of that version; the "
                          "reference 1.1.1 prints the 1.0 shape (no ips[].version, interfaces in 0.2.0)",
    "static-check": "static's CHECK requires every configured address in prevResult (the reference "
                    "does not notice a missing one)",
    "txqlen": "veths and macvlans get the kernel's default TX queue length (1000), as upstream does since 1.6.0 "
              "(plugins#1100); the reference 1.1.1 sets 0, which starves qdiscs that take their "
              "limit from it",
    "ipmasq-teardown": "bridge and ptp DEL remove the ipMasq chain also when the container link or namespace "
                       "is already gone (the reference leaves it: it needs the link's addresses)",
    "gc-status": "GC and STATUS (spec 1.1.0) are implemented; the reference 1.1.1 does not know them",
    "portmap-check": "portmap's CHECK looks for the container's rules in the families it has addresses "
                     "in; the reference 1.1.1 looks in both iptables and ip6tables for every address, so "
                     "its CHECK fails (\"could not check ipv6 dnat\") on every IPv4-only or dual-stack "
                     "container",
    "portmap-ip6-dup": "portmap publishes every IPv6 mapping; the reference 1.1.1 checks for an existing "
                       "rule with ip6tables-legacy -C, which takes rules differing only in their ports "
                       "for the same one, so for IPv6 it keeps only the first rule of each kind: the "
                       "first mapping of a protocol in the CNI-DN- chain, the first 15 ports of a "
                       "protocol in CNI-HOSTPORT-DNAT",
    "tuning-check-ifname": "tuning's CHECK resolves IFNAME in sysctl keys as ADD does (upstream since "
                           "1.2.0); the reference 1.1.1 reads the key with IFNAME left in and fails",
    "tuning-backup-network": "tuning's backup ends with a member of cnibox's own, \"network\" (the network "
                             "whose ADD wrote it), so that one network's GC leaves another's backups in a shared "
                             "dataDir alone; upstream's reader ignores it, and a backup without it is read as ever",
    "tuning-del-cleanup": "tuning's DEL removes a backup that can no longer be restored (empty or vanished "
                          "CNI_NETNS, link gone, unreadable file); the reference leaves it behind",
    "dhcp-dns": "dhcp asks the server for options 6, 15 and 119 and returns them as the result's dns; "
                "the reference asks for neither and returns an empty dns",
    "fw-del-records": "firewall's iptables ADD records the attachment's addresses in dataDir (cnibox's own "
                      "key) before committing its rules, and a DEL without prevResult (a chain whose ADD "
                      "failed has no cached result) removes them; the reference's DEL leaves them",
    "fw-ingress-comments": "firewall ingressPolicy rules carry the comments of upstream since 1.7 "
                           "(\"(ingressPolicy: same-bridge|isolated)\" on the shared jump, RETURN and "
                           "stage-2 rules); the reference 1.1.1 writes \"(ingressPolicy: same-bridge)\" on all",
}

# sbr (test_diff_sbr.py).
DIFFERENCES.update({
    "sbr-del-routes": "sbr's DEL (without `table`) empties the tables its rules looked up when no other rule "
                      "does, giving the main table back the routes ADD moved out of it but the default routes; "
                      "the reference removes only the rules, and the routes it leaves in the tables make its "
                      "next ADD on that interface fail (\"file exists\")",
    "sbr-del-idempotent": "sbr's DEL succeeds when CNI_NETNS is empty or gone or CNI_IFNAME is gone (the rules "
                          "then go by prevResult's addresses); the reference 1.1.1 fails in all three (its lock "
                          "opens the path, and makes a regular file there when it is gone)",
    "sbr-check": "sbr's CHECK checks the rules and the tables' default and subnet routes; the reference's "
                 "CHECK does nothing",
    "sbr-no-address": "sbr refuses (code 7) a prevResult without an address of CNI_IFNAME; the reference "
                      "succeeds acting on no address, yet moves the interface's routes out of the main table",
    "sbr-new-keys": "table, gateways and addSourceHints (upstream 1.6.0 and later) are implemented; the "
                    "reference 1.1.1 ignores them",
})

# bandwidth (test_diff_bandwidth.py).
DIFFERENCES.update({
    "bw-one-mirred": "bandwidth's redirect filter has one action, mirred egress redirect to the ifb (stolen); "
                     "the reference's has a second one after it, the same redirect with verdict pass "
                     "(vishvananda/netlink adds one for RedirIndex besides the explicit action), which never runs",
    "bw-ifb-alias": "the ifb carries the alias \"cni-bandwidth net=<network> ifname=<ifname>\" (GC, DEL and a "
                    "repeated ADD go by it); the reference's has none",
    "bw-del-qdiscs": "bandwidth's DEL also removes the tbf and ingress qdiscs from the host veth when prevResult "
                     "and CNI_NETNS lead to it; the reference removes only the ifb (the qdiscs go with the veth)",
    "bw-del-lenient": "bandwidth's DEL does not read the rate keys, so the DEL of a config its ADD refused "
                      "succeeds; the reference validates them in DEL too and fails",
    "bw-repeat-add": "a repeated ADD of an attachment replaces what the earlier one made; the reference fails "
                     "(\"file exists\") and leaves the qdiscs",
    "bw-second-interface": "egress shaping of a second interface of a container on the same network (the ifb's "
                           "name is the first one's) is refused (code 7) before anything is made, and that "
                           "interface's DEL leaves the first one's ifb alone; the reference shapes the second "
                           "veth's ingress, then fails (\"file exists\"), and its DEL deletes the first one's ifb",
    "bw-check": "bandwidth's CHECK wants tbf 1: as the host veth's and the ifb's root qdisc, the ingress qdisc "
                "and the redirect filter; the reference compares the numbers of the tbfs listed before the "
                "first other qdisc, so a missing filter, ingress qdisc or tbf passes",
    "bw-zero-no-prev": "all-zero limits without prevResult print an empty result; the reference crashes (nil "
                       "result, Go panic, exit 2)",
    "bw-check-no-keys": "CHECK of a config without any of the four keys succeeds; the reference 1.1.1 crashes "
                        "(nil entry, Go panic, exit 2; upstream fixed it later)",
})

# The reference speaks up to 1.0.0; cnibox speaks 0.1.0..1.1.0. Diff only the common ones.
ALL_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]


def common_versions(plugin="bridge"):
    ref = cnitest.ref_versions(plugin)
    return [v for v in ALL_VERSIONS if v in ref]


def at_least(v, m):
    return tuple(map(int, v.split("."))) >= tuple(map(int, m.split(".")))


def _subst(obj, data):
    if isinstance(obj, str):
        return obj.replace("@DATA@", data)
    if isinstance(obj, list):
        return [_subst(x, data) for x in obj]
    if isinstance(obj, dict):
        return {k: _subst(v, data) for k, v in obj.items()}
    return obj


def _tentative(addr_json):
    """The IPv6 addresses in `ip -j addr show` output that are still tentative
    (DAD). Link-local ones are left out: they are not compared, and on a
    bridge without carrier they stay tentative."""
    return [a["local"] for l in json.loads(addr_json or "[]") for a in l.get("addr_info", [])
            if a.get("tentative") and a.get("family") == "inet6"
            and not a.get("local", "").startswith("fe80:")]


def _strip_ll(state):
    """Kernel-made IPv6 link-local addresses, their routes and the ff00::/8
    multicast route depend on timing (DAD, linkwatch's carrier delay) and
    random MACs; they are not the plugin's doing."""
    s = copy.deepcopy(state)
    s["addrs"] = {k: [a for a in v if a[1] != "fe80::LL"] for k, v in s["addrs"].items()}
    s["routes"] = [r for r in s["routes"] if r[2] not in ("fe80::LL", "fe80::", "ff00::/8")]
    return s


SYSCTLS_HOST = ["net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding", "net/ipv4/conf/all/forwarding"]
SYSCTLS_LINK_HOST = ["net/ipv4/conf/{}/forwarding", "net/ipv6/conf/{}/accept_ra",
                     "net/ipv6/conf/{}/forwarding", "net/ipv4/conf/{}/proxy_arp"]
SYSCTLS_LINK_CTR = ["net/ipv4/conf/{}/arp_notify", "net/ipv6/conf/{}/accept_dad",
                    "net/ipv6/conf/{}/enhanced_dad", "net/ipv6/conf/{}/disable_ipv6",
                    "net/ipv6/conf/{}/keep_addr_on_down", "net/ipv6/conf/lo/disable_ipv6"]


class Side:
    def __init__(self, kind, make_ns):
        self.kind = kind
        self.ref = kind == "ref"
        self._make_ns = make_ns
        self.host = make_ns(f"cbt-{kind}-host")
        # No DAD on the host side (gateway addresses on bridges and ptp host
        # ends): the same on both sides, and it saves seconds per IPv6 case.
        self.host.sh("sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0")
        self.ctrs = []
        self.data = tempfile.mkdtemp(prefix=f"cbt-diff-{kind}-")
        self.results = {}

    def ctr(self, i=0):
        while len(self.ctrs) <= i:
            self.ctrs.append(self._make_ns(f"cbt-{self.kind}-ctr{len(self.ctrs)}"))
        return self.ctrs[i]

    def conf(self, conf):
        if isinstance(conf, str):
            return conf.replace("@DATA@", self.data)
        return _subst(conf, self.data)

    def run(self, plugin, cmd, conf, ctr=0, netns=None, containerid=None, **kw):
        ns = netns if netns is not None else self.ctr(ctr)
        cid = containerid or f"ctr{ctr}"
        if callable(conf):
            conf = conf(self)
        return cnitest.run_plugin(plugin, cmd, self.conf(conf), host=self.host, netns=ns,
                                  containerid=cid, ref=self.ref, **kw)

    def renames(self, raw=None):
        """Random host veth names -> stable ones: the host end of container
        i's link L is called "veth-ctr<i>-<L>" (found by the peer's ifindex).
        raw: each namespace's `ip -j link show` output, host first (read
        when not given)."""
        if raw is None:
            raw = [ns.sh("ip -j link show").stdout for ns in [self.host] + self.ctrs]
        byidx = {l["ifindex"]: l["ifname"] for l in json.loads(raw[0] or "[]")}
        m = {}
        for i, out in enumerate(raw[1:]):
            for l in json.loads(out or "[]"):
                peer = l.get("link_index")
                if peer in byidx and l.get("link_netnsid") is not None:
                    m[byidx[peer]] = f"veth-ctr{i}-{l['ifname']}"
        return m

    def state(self):
        """Links, addresses, routes, sysctls and bridge VLANs of every
        namespace of this side, read with two commands per namespace."""
        raw = self._read_settled()
        ren = self.renames([r[0] for r in raw])
        st = {"host": _strip_ll(cnitest.parse_kernel_state(raw[0], ren, txqlen=True)),
              "ctrs": [_strip_ll(cnitest.parse_kernel_state(r, txqlen=True)) for r in raw[1:]],
              "sysctl": self.sysctls(ren, [[l["ifname"] for l in json.loads(r[0] or "[]")] for r in raw]),
              "vlans": self.vlans(ren, raw[0][4])}
        # DIFFERENCES["txqlen"]: the reference's veths and macvlans have queue length 0,
        # cnibox's the kernel default (1000). Each side must show its own.
        mine = 0 if self.ref else 1000
        for ns in [st["host"]] + st["ctrs"]:
            for link in ns["links"].values():
                if link.get("kind") in ("veth", "macvlan") and link.get("txqlen") == mine:
                    link["txqlen"] = "veth-default"
        return st

    def _read_settled(self, timeout=4.0):
        """read_kernel_state of every namespace (the host's with its bridge
        VLANs) once no IPv6 address is tentative, so both sides are compared in the
        same steady state."""
        end = time.time() + timeout
        while True:
            raw = [cnitest.read_kernel_state(self.host, ["bridge -j vlan show"])] + \
                  [cnitest.read_kernel_state(c) for c in self.ctrs]
            if time.time() >= end or not any(_tentative(r[1]) for r in raw):
                return raw
            time.sleep(0.05)

    def vlans(self, ren, out):
        """Bridge VLAN membership in the host namespace from `bridge -j vlan show`'s output."""
        try:
            raw = json.loads(out or "[]")
        except ValueError:
            return None
        return sorted((ren.get(p["ifname"], p["ifname"]),
                       sorted((v.get("vlan"), v.get("vlanEnd"), tuple(sorted(v.get("flags", []))))
                              for v in p.get("vlans", [])))
                      for p in raw)

    def sysctls(self, ren, names):
        """The compared sysctls, one read per namespace. names: each
        namespace's link names, host first."""
        nss = [self.host] + self.ctrs
        out = {}
        for n, (ns, links) in enumerate(zip(nss, names)):
            keys = {}  # reported key -> sysctl path
            if n == 0:
                keys.update({k: k for k in SYSCTLS_HOST})
            for name in links:
                if name == "lo":
                    continue
                for k in (SYSCTLS_LINK_HOST if n == 0 else SYSCTLS_LINK_CTR):
                    shown = k.format(ren.get(name, name)) if n == 0 else k.format(name)
                    keys[("host:" if n == 0 else f"ctr{n - 1}:") + shown] = k.format(name)
            values = ns.sysctls(list(keys.values()))
            out.update({shown: values[path] for shown, path in keys.items()})
        return out

    def leases(self, ignore=()):
        """host-local's files under dataDir: {path: (kind, mode, content)}."""
        t = cnitest.tree(self.data)
        return {k: v for k, v in t.items() if os.path.basename(k) not in ignore}

    def cleanup(self):
        shutil.rmtree(self.data, ignore_errors=True)


class Twin:
    """The two sides; .both() runs the same thing on each."""

    def __init__(self, make_ns):
        self.ref = Side("ref", make_ns)
        self.box = Side("box", make_ns)

    def both(self, plugin, cmd, conf, key=None, **kw):
        rr = self.ref.run(plugin, cmd, conf, **kw)
        rb = self.box.run(plugin, cmd, conf, **kw)
        if cmd == "ADD" and key is not None:
            self.ref.results[key] = rr.json if rr.ok else None
            self.box.results[key] = rb.json if rb.ok else None
        return rr, rb

    def cleanup(self):
        self.ref.cleanup()
        self.box.cleanup()


# ---------------------------------------------------------------- comparisons

def compare_results(rr, rb, version=None):
    """Both succeeded, and the masked results are equal up to documented differences."""
    assert rr.ok, f"reference failed: {rr!r}"
    assert rb.ok, f"cnibox failed: {rb!r}"
    a, b = cnitest.mask_result(rr.json), cnitest.mask_result(rb.json)
    assert b == a, "results differ:\n" + show_diff(a, b)
    if version:
        assert b.get("cniVersion") == version


def compare_outcome(rr, rb, version=None):
    """Equal results when the reference succeeds, equal errors when it fails."""
    if rr.ok:
        compare_results(rr, rb, version)
    else:
        compare_errors(rr, rb)


# The codes cnibox answers where the reference says 999 (DIFFERENCES["spec-codes"],
# DIFFERENCES["alloc-100"]).
SPEC_FOR_999 = {4, 6, 7, 8, 100}


def compare_errors(rr, rb, box_code=None):
    """Both failed with a spec error object. Codes equal, or the reference's
    999 became the spec's code (box_code when the test knows which)."""
    assert rr.rc != 0, f"reference succeeded: {rr!r}"
    assert rb.rc == 1, f"cnibox did not fail with exit 1: {rb!r}"
    cr = (rr.json or {}).get("code")
    cb = (rb.json or {}).get("code")
    assert isinstance(cb, int) and (rb.json or {}).get("msg"), f"no spec error from cnibox: {rb!r}"
    if cr == cb:
        return
    assert cr == 999, f"codes differ: reference {cr} ({rr.json}), cnibox {cb} ({rb.json})"
    if box_code is not None:
        assert cb == box_code, f"expected code {box_code} (reference 999): {rb.json}"
    else:
        assert cb in SPEC_FOR_999, f"reference 999 ({rr.json.get('msg')}) became {cb}: {rb.json}"


def show_diff(a, b):
    """A unified diff of two JSON-able values, reference (-) vs cnibox (+)."""
    la = json.dumps(a, indent=1, sort_keys=True).splitlines()
    lb = json.dumps(b, indent=1, sort_keys=True).splitlines()
    return "\n".join(difflib.unified_diff(la, lb, "reference", "cnibox", lineterm="", n=4))


# Sysctls where cnibox follows newer upstream releases than the reference:
# (key pattern, reference value, cnibox value, DIFFERENCES key).
SYSCTL_DIFFS = [
    ("ctr*:net/ipv6/conf/*/keep_addr_on_down", "0", "1", "keep-addr"),
]


def _apply_sysctl_diffs(a, b):
    b = dict(b)
    for pat, va, vb, _ in SYSCTL_DIFFS:
        for k in b:
            if fnmatch.fnmatch(k, pat) and a.get(k) == va and b[k] == vb:
                b[k] = va
    return b


def compare_states(twin):
    # The two sides are independent namespaces: read them at the same time.
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        fa, fb = pool.submit(twin.ref.state), pool.submit(twin.box.state)
        a, b = fa.result(), fb.result()
    b["sysctl"] = _apply_sysctl_diffs(a["sysctl"], b["sysctl"])
    for part in ("host", "ctrs", "sysctl", "vlans"):
        assert b[part] == a[part], f"kernel state ({part}) differs:\n" + show_diff(a[part], b[part])
