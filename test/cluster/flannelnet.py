#!/usr/bin/env python3
"""A flannel cluster made of network namespaces: the cluster tier's setup,
which the demo uses too.

    underlay bridge namespace (<prefix>-ul, bridge br0, 198.18.0.0/24)
      |-- node 1 (<prefix>-n1, eth0 198.18.0.11)  flannel.1  cni0  pods
      |-- node 2 (<prefix>-n2, eth0 198.18.0.12)  ...
      |-- ...
      `-- outside (<prefix>-out, 198.18.0.200): no route to any pod subnet

The cluster network is 10.42.0.0/16 (and fd42::/48 with dual stack); node N
owns 10.42.N.0/24 (fd42:0:0:N::/64). This code plays flanneld's part, with
`ip` and `bridge` as flanneld's vxlan backend does it with netlink: the
vxlan device flannel.1 (VNI 1, UDP 8472, learning off, the node's underlay
address as its local address), the subnet's network address on it (/32, and
/128 for IPv6), and per remote node a route to its subnet via that address
onlink, a permanent neighbour entry with the remote flannel.1's MAC and an
FDB entry sending that MAC to the remote node's underlay address. The IPv6
subnets travel through the same vxlan device over the IPv4 underlay. It also
writes each node's subnet.env. cnibox (the product) only ever runs as the
node's CNI plugins, through cnitool and the conflist of
packaging/flannel/10-flannel.conflist; it never sets up vxlan.

flanneld masquerades pod traffic leaving the cluster network itself when it
runs with --ip-masq (FLANNEL_IPMASQ=true). This setup does not play that
part: subnet.env says FLANNEL_IPMASQ=false, so the flannel plugin gives the
bridge ipMasq true and cnibox masquerades.

Every node keeps its state in its own directory under the work directory
(subnet.env, the flannel plugin's dataDir, host-local's dataDir, the
cnitool result cache, net.d): never the machine's /run/flannel or
/var/lib/cni.

As a program (the demo's use):
    flannelnet.py up --prefix P --tag T --nodes N --work DIR --bin BINDIR [--dual] [--show]
    flannelnet.py add|del --prefix P --tag T --work DIR --bin BINDIR NODE POD
    flannelnet.py down --prefix P --tag T --nodes N --work DIR
`--show` prints the commands that play flanneld's part as they run.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFLIST = os.path.join(ROOT, "packaging", "flannel", "10-flannel.conflist")
NET = "cbr0"
UNDERLAY = "198.18.0"
OUTSIDE = f"{UNDERLAY}.200"
NETWORK4 = "10.42.0.0/16"
NETWORK6 = "fd42::/48"
VNI = 1
PORT = 8472
MTU = 1450
SYS_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def run(cmd, check=True, show=False, **kw):
    if show:
        print("    $ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip() or p.stdout.strip()}")
    return p


class Node:
    def __init__(self, cluster, n):
        self.cluster, self.n = cluster, n
        self.ns = cluster.name(f"n{n}")
        self.path = f"/run/netns/{self.ns}"
        self.ip = f"{UNDERLAY}.{10 + n}"
        self.mac = f"0e:42:00:00:00:{n:02x}"
        self.subnet4 = f"10.42.{n}.0/24"
        self.vtep4 = f"10.42.{n}.0"
        self.subnet6 = f"fd42:0:0:{n:x}::/64"
        self.vtep6 = f"fd42:0:0:{n:x}::"
        self.dir = os.path.join(cluster.work, f"n{n}")
        self.subnet_env = os.path.join(self.dir, "subnet.env")
        self.data = os.path.join(self.dir, "flannel")
        self.ipam = os.path.join(self.dir, "ipam")
        self.cache = os.path.join(self.dir, "cache")
        self.netconf = os.path.join(self.dir, "net.d")

    def ip_cmd(self, *args, check=True):
        return run(["ip", "-n", self.ns] + list(args), check=check, show=self.cluster.show)

    def sh(self, cmd, check=True, timeout=60):
        return run(["ip", "netns", "exec", self.ns, "sh", "-c", cmd], check=check, timeout=timeout)

    def conflist(self):
        """packaging's conflist with this node's paths in the flannel plugin."""
        with open(self.cluster.conflist) as f:
            c = json.load(f)
        fl = c["plugins"][0]
        assert fl["type"] == "flannel", fl
        fl["subnetFile"] = self.subnet_env
        fl["dataDir"] = self.data
        fl["ipam"] = dict(fl.get("ipam", {}), dataDir=self.ipam)
        return c

    def write_files(self):
        os.makedirs(self.netconf, exist_ok=True)
        env = f"FLANNEL_NETWORK={NETWORK4}\nFLANNEL_SUBNET=10.42.{self.n}.1/24\n"
        if self.cluster.dual:
            env += f"FLANNEL_IPV6_NETWORK={NETWORK6}\nFLANNEL_IPV6_SUBNET=fd42:0:0:{self.n:x}::1/64\n"
        env += f"FLANNEL_MTU={MTU}\nFLANNEL_IPMASQ=false\n"
        with open(self.subnet_env, "w") as f:
            f.write(env)
        with open(os.path.join(self.netconf, "10-flannel.conflist"), "w") as f:
            json.dump(self.conflist(), f, indent=2)

    def cnitool(self, verb, pod_path, caps=None, ifname="eth0", check=False, timeout=60):
        """cnitool VERB cbr0 POD_PATH in the node, as the node's runtime runs it."""
        env = {"PATH": SYS_PATH, "NETCONFPATH": self.netconf, "CNI_PATH": self.cluster.bindir,
               "CNI_CACHE_DIR": self.cache, "CNI_IFNAME": ifname}
        if caps is not None:
            env["CAP_ARGS"] = caps if isinstance(caps, str) else json.dumps(caps)
        cmd = ["ip", "netns", "exec", self.ns, "env", "-i"] + [f"{k}={v}" for k, v in env.items()] + \
            [os.path.join(self.cluster.bindir, "cnitool"), verb, NET, pod_path]
        return run(cmd, check=check, timeout=timeout)


class Cluster:
    """Nodes 1..nodes, the underlay, the outside host; see the module text.

    prefix and tag make the namespace names: <prefix>-<role>-<tag> (the
    tests use prefix cbt-cl and tag <pid>-<hex>, so that test/run's cleanup
    of a killed run finds them)."""

    def __init__(self, prefix, tag, work, bindir, nodes=3, dual=True, show=False, conflist=CONFLIST):
        self.prefix, self.tag, self.work, self.bindir = prefix, tag, work, bindir
        self.dual, self.show, self.conflist = dual, show, conflist
        self.underlay = self.name("ul")
        self.outside = self.name("out")
        self.nodes = {n: Node(self, n) for n in range(1, nodes + 1)}

    def name(self, role):
        return f"{self.prefix}-{role}-{self.tag}"

    def pod_ns(self, node, pod):
        return self.name(f"n{node}{pod}")

    # -- the underlay and the outside host

    def up(self):
        os.makedirs(self.work, exist_ok=True)
        run(["ip", "netns", "add", self.underlay])
        run(["ip", "-n", self.underlay, "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", self.underlay, "link", "set", "br0", "up"])
        run(["ip", "netns", "add", self.outside])
        self._wire(self.outside, "out", OUTSIDE)
        run(["ip", "-n", self.outside, "link", "set", "lo", "up"])
        for node in self.nodes.values():
            self.node_up(node, peers=False)
        for node in self.nodes.values():
            for other in self.nodes.values():
                if other is not node:
                    self._peer(node, other)
        return self

    def _wire(self, ns, port, addr):
        """A veth from the underlay bridge (port name) to eth0 of ns, addr/24 on it."""
        run(["ip", "-n", self.underlay, "link", "add", port, "master", "br0", "up", "type", "veth",
             "peer", "name", "eth0", "netns", ns])
        run(["ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0"])
        run(["ip", "-n", ns, "link", "set", "eth0", "up"])

    def node_up(self, node, peers=True):
        """Makes (or remakes, after node_down) the node: its namespace, its
        underlay port, its files, flannel.1 and, with peers, the entries for
        its peers and the peers' entries for it."""
        run(["ip", "netns", "add", node.ns])
        run(["ip", "-n", node.ns, "link", "set", "lo", "up"])
        run(["ip", "-n", self.underlay, "link", "del", f"ul{node.n}"], check=False)
        self._wire(node.ns, f"ul{node.n}", node.ip)
        node.write_files()
        if self.show:
            print(f"  node {node.n} ({node.ns}): flannel.1 as flanneld's vxlan backend makes it", flush=True)
        node.ip_cmd("link", "add", "flannel.1", "address", node.mac, "mtu", str(MTU), "type", "vxlan",
                    "id", str(VNI), "local", node.ip, "dev", "eth0", "dstport", str(PORT), "nolearning")
        node.ip_cmd("addr", "add", f"{node.vtep4}/32", "dev", "flannel.1")
        if self.dual:
            node.ip_cmd("addr", "add", f"{node.vtep6}/128", "dev", "flannel.1", "nodad")
        node.ip_cmd("link", "set", "flannel.1", "up")
        for other in self.nodes.values():
            if peers and other is not node:
                self._peer(node, other)
                if self._alive(other):
                    self._peer(other, node)

    def _alive(self, node):
        return os.path.exists(node.path)

    def _peer(self, node, other):
        """node's entries for reaching other's pods (replaced when present)."""
        if self.show:
            print(f"  node {node.n} -> node {other.n}'s pods ({other.subnet4}"
                  f"{', ' + other.subnet6 if self.dual else ''}):", flush=True)
        node.ip_cmd("neigh", "replace", other.vtep4, "lladdr", other.mac, "dev", "flannel.1", "nud", "permanent")
        node.ip_cmd("route", "replace", other.subnet4, "via", other.vtep4, "dev", "flannel.1", "onlink")
        if self.dual:
            node.ip_cmd("-6", "neigh", "replace", other.vtep6, "lladdr", other.mac, "dev", "flannel.1",
                        "nud", "permanent")
            node.ip_cmd("-6", "route", "replace", other.subnet6, "via", other.vtep6, "dev", "flannel.1", "onlink")
        run(["bridge", "-n", node.ns, "fdb", "replace", other.mac, "dev", "flannel.1", "dst", other.ip,
             "self", "permanent"], show=self.show)

    def node_down(self, node):
        """The node fails: its namespace goes, with whatever was attached."""
        run(["ip", "netns", "delete", node.ns], check=False)

    def down(self):
        """Removes every namespace of the cluster (pods included) and the work directory."""
        out = run(["ip", "-j", "netns", "list"], check=False).stdout.strip()
        names = [n["name"] for n in json.loads(out)] if out else []
        for n in names:
            if n.startswith(self.prefix + "-") and n.endswith("-" + self.tag):
                run(["ip", "netns", "delete", n], check=False)
        shutil.rmtree(self.work, ignore_errors=True)

    # -- pods

    def add_pod(self, node, pod, caps=None):
        """A pod namespace on node (a Node or its number) attached through
        cnitool: (namespace name, the result). Raises when ADD fails."""
        node = self.nodes[node] if isinstance(node, int) else node
        ns = self.pod_ns(node.n, pod)
        run(["ip", "netns", "add", ns])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        r = node.cnitool("add", f"/run/netns/{ns}", caps=caps)
        if r.returncode != 0:
            raise RuntimeError(f"cnitool add on node {node.n} for {ns}: {r.stderr.strip() or r.stdout.strip()}")
        return ns, json.loads(r.stdout)

    def del_pod(self, node, pod, caps=None, keep_ns=False):
        node = self.nodes[node] if isinstance(node, int) else node
        ns = self.pod_ns(node.n, pod)
        r = node.cnitool("del", f"/run/netns/{ns}", caps=caps)
        if not keep_ns:
            run(["ip", "netns", "delete", ns], check=False)
        return r


def addresses(result):
    """A result's container addresses without prefix length, IPv4 first."""
    ips = [i["address"].split("/")[0] for i in result.get("ips", [])]
    return sorted(ips, key=lambda a: (":" in a, a))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("action", choices=["up", "add", "del", "down"])
    ap.add_argument("node", nargs="?", type=int)
    ap.add_argument("pod", nargs="?")
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--bin", default="")
    ap.add_argument("--nodes", type=int, default=2)
    ap.add_argument("--dual", action="store_true")
    ap.add_argument("--show", action="store_true")
    ap.add_argument("--caps")
    a = ap.parse_args()
    c = Cluster(a.prefix, a.tag, a.work, a.bin, nodes=max(a.nodes, a.node or 0), dual=a.dual, show=a.show)
    if a.action == "up":
        c.up()
    elif a.action == "down":
        c.down()
    elif a.node is None or a.pod is None:
        ap.error(f"{a.action} needs NODE and POD")
    elif a.action == "add":
        _, res = c.add_pod(a.node, a.pod, caps=a.caps)
        print(json.dumps(res, indent=2))
    else:
        r = c.del_pod(a.node, a.pod, caps=a.caps)
        if r.returncode != 0:
            sys.exit(f"cnitool del: {r.stderr.strip() or r.stdout.strip()}")


if __name__ == "__main__":
    main()
