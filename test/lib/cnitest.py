"""Helpers for the root test tiers: namespaces the test makes and removes,
and running a plugin (cnibox or the reference) the way a runtime does.

Every kernel-touching test runs plugins inside a "host" namespace it made
(never the machine's own) and attaches "containers" that are namespaces too.
"""
import atexit
import ipaddress
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REF_DIR = "/usr/lib/cni"


def cnibox_binary():
    """The cnibox under test: $CNIBOX, else build/cnibox."""
    b = os.environ.get("CNIBOX") or os.path.join(ROOT, "build", "cnibox")
    if not os.path.exists(b):
        raise RuntimeError(f"cnibox binary not found at {b} (build first or set CNIBOX)")
    return os.path.abspath(b)


def nftool_binary():
    """test/netfilter/nftool of the build the cnibox under test came from
    ($CNIBOX_NFTOOL when set: the static binary's tiers use the normal build's)."""
    b = os.environ.get("CNIBOX_NFTOOL") or os.path.join(os.path.dirname(cnibox_binary()), "test", "netfilter", "nftool")
    if not os.path.exists(b):
        raise RuntimeError(f"nftool not found at {b} (build with -Dtests=true)")
    return b


def load_test_module(tier, name):
    """test/TIER/NAME.py as a module of its own, so that another tier reuses
    its helpers and fixtures rather than copying them."""
    import importlib.util
    path = os.path.join(ROOT, "test", tier, name + ".py")
    spec = importlib.util.spec_from_file_location(f"cbt_{tier}_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# The applets that run as CNI plugins (cnitool is a runtime's side); the
# hostile table checks this against `cnibox --list`.
PLUGIN_APPLETS = ("bandwidth", "bridge", "dhcp", "dummy", "firewall", "flannel", "host-device", "host-local",
                  "ipvlan", "loopback", "macvlan", "portmap", "ptp", "sbr", "static", "tap", "tuning", "vlan", "vrf")

CROSS_ARCHES = ("arm64", "armhf", "riscv64")
# Debian architecture -> the qemu-user emulator that runs its executables here
QEMU_USER = {"amd64": "qemu-x86_64-static", "arm64": "qemu-aarch64-static", "armhf": "qemu-arm-static",
             "riscv64": "qemu-riscv64-static"}


def cross_binaries():
    """The cross-built static binaries under test, [(arch, path, named)]:
    $CNIBOX_CROSS ("ARCH=PATH ARCH=PATH ..."), named=True (a missing binary
    fails its tests); unset, every build-static-ARCH/out/cnibox of the source
    tree that exists, named=False."""
    spec = os.environ.get("CNIBOX_CROSS")
    if spec is None:
        out = []
        for arch in CROSS_ARCHES:
            p = os.path.join(ROOT, f"build-static-{arch}", "out", "cnibox")
            if os.path.exists(p):
                out.append((arch, p, False))
        return out
    out = []
    for word in spec.split():
        arch, sep, path = word.partition("=")
        out.append((arch, os.path.abspath(path) if path else "", True) if sep else (word, "", True))
    return out


_bindir = None


def cnibox_dir():
    """A directory of applet symlinks made by `cnibox --install` (shared per process)."""
    global _bindir
    if _bindir is None:
        d = tempfile.mkdtemp(prefix="cnibox-bin-")
        subprocess.run([cnibox_binary(), "--install", d], check=True, capture_output=True)
        _bindir = d
        atexit.register(shutil.rmtree, d, True)
    return _bindir


def sh(cmd, check=True, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=check,
                          capture_output=True, text=True, **kw)


# Namespaces this process made and has not deleted; removed at exit as a
# last resort (a test's own teardown is the normal path).
_live_netns = {}


def stop_process(proc, timeout=5):
    """SIGTERM, then SIGKILL after `timeout` seconds; reaped either way."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _delete_live_netns():
    for name in list(_live_netns):
        sh(["ip", "netns", "delete", name], check=False)
        _live_netns.pop(name, None)


atexit.register(_delete_live_netns)

# Test namespace names are "<prefix>-<pid of the creating process>-<hex>",
# every prefix starting with "cbt-", so leftovers of a process that died
# (SIGKILL, a timeout) can be told from those of a run still going.
_NAME_RE = re.compile(r"^cbt(-.*)?-(\d+)-[0-9a-f]+$")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_netns(everything=False):
    """Names of cbt-* namespaces whose creating process is gone (all of
    them, whatever their owner, with everything=True)."""
    out = sh(["ip", "-j", "netns", "list"], check=False).stdout.strip()
    names = [n["name"] for n in json.loads(out)] if out else []
    stale = []
    for n in names:
        if not n.startswith("cbt-"):
            continue
        m = _NAME_RE.match(n)
        if everything or (m and not _pid_alive(int(m.group(2)))) or (not m and _older_than(n, 3600)):
            stale.append(n)
    return stale


def _older_than(name, seconds):
    import time
    try:
        return time.time() - os.stat(f"/run/netns/{name}").st_mtime > seconds
    except OSError:
        return False


def cleanup_stale(everything=False):
    """Deletes leftover test namespaces (see stale_netns) and, with
    everything=True, leftover scratch dirs too. Returns the namespace names."""
    gone = stale_netns(everything)
    for n in gone:
        sh(["ip", "netns", "delete", n], check=False)
    if everything:
        import glob
        tmp = tempfile.gettempdir()
        for d in glob.glob(os.path.join(tmp, "cbt-*")) + glob.glob(os.path.join(tmp, "cnibox-bin-*")):
            remove_tree(d)
    return gone


def users_chain(data, backend, bridge, subnet, rate):
    """The chain users run: bridge (gateway, ipMasq, host-local) -> portmap ->
    firewall -> tuning -> bandwidth (`rate` bits/s each way), on `backend`,
    every store under the directory `data`."""
    return [
        {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": True, "ipMasqBackend": backend,
         "ipam": {"type": "host-local", "dataDir": os.path.join(data, "ipam"), "ranges": [[{"subnet": subnet}]]}},
        {"type": "portmap", "capabilities": {"portMappings": True}, "backend": backend,
         "dataDir": os.path.join(data, "portmap")},
        {"type": "firewall", "backend": backend, "dataDir": os.path.join(data, "firewall")},
        {"type": "tuning", "dataDir": os.path.join(data, "tuning"), "sysctl": {"net.ipv4.conf.eth0.arp_notify": "1"}},
        {"type": "bandwidth", "ingressRate": rate, "ingressBurst": rate // 100, "egressRate": rate,
         "egressBurst": rate // 100},
    ]


def moving_name(containerid, ifname):
    """The name a link of an attachment has while it is made or moved (sublinks,
    host-device): tmp + 12 hex digits of FNV-1a 64 of "<containerID>/<ifname>"."""
    h = 14695981039346656037
    for b in f"{containerid}/{ifname}".encode():
        h = ((h ^ b) * 1099511628211) % (1 << 64)
    return "tmp" + f"{h:016x}"[:12]


def remove_tree(path):
    """Removes `path` and everything in it without opening anything but
    directories: shutil.rmtree opens the path it is given before it looks at
    what it is, and a FIFO left there (a killed hostile test's) would block
    it until a writer came, forever."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


class Netns:
    """A named network namespace (/run/netns/NAME) removed on delete()."""

    def __init__(self, prefix="cbt"):
        if not prefix.startswith("cbt"):
            prefix = "cbt-" + prefix
        self.name = f"{prefix}-{os.getpid()}-{secrets.token_hex(3)}"
        sh(["ip", "netns", "add", self.name])
        _live_netns[self.name] = True
        self.path = f"/run/netns/{self.name}"
        self.sh("ip link set lo up")

    def sh(self, cmd, check=True):
        """Runs a shell command inside the namespace."""
        return sh(["ip", "netns", "exec", self.name, "sh", "-c", cmd], check=check)

    def links(self):
        out = self.sh("ip -j link show").stdout
        return {l["ifname"]: l for l in json.loads(out)}

    def addrs(self, dev):
        out = self.sh(f"ip -j addr show dev {dev}").stdout
        j = json.loads(out)
        return [f'{a["local"]}/{a["prefixlen"]}' for a in j[0]["addr_info"]] if j else []

    def routes(self, family="-4"):
        return json.loads(self.sh(f"ip -j {family} route show table all").stdout)

    def link(self, name):
        """`ip -d -j link show NAME` as a dict, None when there is no such link."""
        out = self.sh(f"ip -d -j link show {name}", check=False)
        return json.loads(out.stdout)[0] if out.returncode == 0 and out.stdout.strip() else None

    def sysctl(self, key):
        """Value of a sysctl ("net/ipv4/ip_forward" or "net.ipv4.ip_forward") inside
        the namespace, None when it does not exist."""
        path = "/proc/sys/" + (key.replace(".", "/") if "/" not in key else key)
        r = self.sh(f"cat {path} 2>/dev/null", check=False)
        return r.stdout.strip() if r.returncode == 0 else None

    def sysctls(self, keys):
        """{key: value or None} of many sysctls, read by one command."""
        keys = list(keys)
        if not keys:
            return {}
        paths = ["/proc/sys/" + (k.replace(".", "/") if "/" not in k else k) for k in keys]
        # grep prints "path:line" for every line of each readable file.
        r = sh(["ip", "netns", "exec", self.name, "grep", "-s", "-H", ""] + sorted(set(paths)),
               check=False)
        lines = {}
        for line in r.stdout.splitlines():
            path, _, value = line.partition(":")
            lines.setdefault(path, []).append(value)
        return {k: ("\n".join(lines[p]).strip() if p in lines else None) for k, p in zip(keys, paths)}

    def multi(self, cmds, check=True):
        """Runs several commands in one shell inside the namespace and returns
        each one's stdout. check: a command that fails raises (as sh does);
        otherwise its output is returned as it is."""
        mark = "@@cbt-" + secrets.token_hex(8)
        script = "".join(f"{c}\nrc=$?; echo; echo {mark}:$rc\n" for c in cmds)
        r = self.sh(script, check=False)
        outs, rest = [], r.stdout
        for c in cmds:
            body, sep, rest = rest.partition("\n" + mark + ":")
            rc, _, rest = rest.partition("\n")
            if not sep or (check and rc != "0"):
                raise subprocess.CalledProcessError(int(rc) if rc.isdigit() else -1, c, body, r.stderr)
            outs.append(body)
        return outs

    def state(self):
        """A comparable picture of the namespace: links, addresses and routes
        (see kernel_state)."""
        return kernel_state(self)

    def delete(self):
        sh(["ip", "netns", "delete", self.name], check=False)
        _live_netns.pop(self.name, None)


def _mask_ll(a):
    """IPv6 link-local addresses derive from random MACs: mask the host part."""
    return "fe80::LL" if isinstance(a, str) and a.startswith("fe80::") and a != "fe80::" else a


def kernel_state(ns, rename=None, txqlen=False):
    """Links, addresses and routes of a namespace as plain data that is equal
    for two namespaces configured alike: no ifindexes, MACs, lifetimes or
    link-local host parts; `rename` maps link names (e.g. random veth names)
    to stable ones. txqlen=True adds each link's TX queue length."""
    return parse_kernel_state(read_kernel_state(ns), rename, txqlen)


KERNEL_STATE_CMDS = ["ip -d -j link show", "ip -j addr show",
                     "ip -j -4 route show table all", "ip -j -6 route show table all"]


def read_kernel_state(ns, extra=()):
    """The raw `ip` output kernel_state reads (one command in the namespace),
    plus the output of each `extra` command."""
    return ns.multi(KERNEL_STATE_CMDS + list(extra))


def parse_kernel_state(outs, rename=None, txqlen=False):
    """kernel_state from read_kernel_state's output."""
    rename = dict(rename or {})
    out_links, out_addrs, out_r4, out_r6 = outs[:4]
    raw = json.loads(out_links or "[]")
    nm = lambda n: rename.get(n, n)  # noqa: E731
    links = {}
    for l in raw:
        info = l.get("linkinfo", {})
        links[nm(l["ifname"])] = {
            "kind": info.get("info_kind", ""),
            "slave_kind": info.get("info_slave_kind", ""),
            "mtu": l.get("mtu"),
            "up": "UP" in l.get("flags", []),
            "promisc": l.get("promiscuity", 0) > 0,
            "master": nm(l["master"]) if "master" in l else None,
            "hairpin": info.get("info_slave_data", {}).get("hairpin"),
        }
        if txqlen:
            links[nm(l["ifname"])]["txqlen"] = l.get("txqlen", 0)
    addrs = {}
    for l in json.loads(out_addrs or "[]"):
        addrs[nm(l["ifname"])] = sorted(
            (a["family"], _mask_ll(a["local"]), a["prefixlen"], a.get("scope"))
            for a in l.get("addr_info", []))
    routes = []
    for fam, out in (("-4", out_r4), ("-6", out_r6)):
        for r in json.loads(out or "[]"):
            dst = _mask_ll(r.get("dst"))
            routes.append((fam, r.get("type", "unicast"), dst, r.get("gateway"),
                           nm(r.get("dev", "")), r.get("protocol", ""), r.get("scope", ""),
                           r.get("metric", 0), r.get("table", "main"), _mask_ll(r.get("prefsrc"))))
    return {"links": links, "addrs": addrs, "routes": sorted(routes, key=repr)}


def tree(path):
    """{relative path: (kind, mode, content)} of everything under path
    (content only for regular files); {} when path does not exist."""
    out = {}
    if not os.path.lexists(path):
        return out
    for dp, dns, fns in os.walk(path):
        for n in dns + fns:
            full = os.path.join(dp, n)
            st = os.lstat(full)
            rel = os.path.relpath(full, path)
            if stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    out[rel] = ("file", stat.S_IMODE(st.st_mode), f.read())
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), None)
            else:
                out[rel] = ("other", stat.S_IMODE(st.st_mode), None)
    return out


def plant(path, kind, text=""):
    """Plants at `path` what a data dir must not be fooled by: a FIFO (kind
    "fifo"), which a blocking open would wait on, or a symlink ("symlink") to
    a file holding `text`, made beside the directory of `path` (one level up,
    so that listing that directory shows only the symlink)."""
    if kind == "fifo":
        os.mkfifo(path)
        return
    target = os.path.join(os.path.dirname(os.path.dirname(path)), "planted-target")
    with open(target, "w") as f:
        f.write(text)
    os.symlink(target, path)


def assert_cni_error(r, code, *words):
    """r is a failed plugin run: exit 1, a spec error object on stdout with
    `code` (an int or a set of acceptable ints) and a msg/details mentioning
    every one of `words` (case-insensitive)."""
    assert r.rc == 1, f"expected exit 1, got {r!r}"
    j = r.json
    assert isinstance(j, dict), f"stdout is not a JSON object: {r!r}"
    assert isinstance(j.get("code"), int), f"no integer code: {r!r}"
    assert isinstance(j.get("msg"), str) and j["msg"], f"no msg: {r!r}"
    codes = code if isinstance(code, (set, frozenset, tuple, list)) else {code}
    assert j["code"] in codes, f"expected code {sorted(codes)}, got {j['code']}: {j}"
    text = (j.get("msg", "") + " " + str(j.get("details", ""))).lower()
    for w in words:
        assert w.lower() in text, f"error does not mention {w!r}: {j}"
    return j


_ref_versions = {}


def ref_versions(plugin="bridge"):
    """The CNI versions the reference plugin speaks (its VERSION reply)."""
    if plugin not in _ref_versions:
        exe = os.path.join(REF_DIR, plugin)
        if not os.path.exists(exe):
            _ref_versions[plugin] = []
        else:
            p = subprocess.run([exe], input="{}", capture_output=True, text=True,
                               env={"CNI_COMMAND": "VERSION"})
            _ref_versions[plugin] = json.loads(p.stdout).get("supportedVersions", [])
    return _ref_versions[plugin]


def have_ref(plugin="bridge"):
    return os.access(os.path.join(REF_DIR, plugin), os.X_OK)


class PluginResult:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        try:
            self.json = json.loads(proc.stdout) if proc.stdout.strip() else None
        except ValueError:
            self.json = None

    @property
    def ok(self):
        return self.rc == 0

    def __repr__(self):
        return f"PluginResult(rc={self.rc}, stdout={self.stdout!r}, stderr={self.stderr!r})"


def legacy_iptables_dir():
    """A directory whose iptables/ip6tables(-save/-restore) are the legacy
    xtables tools. The reference plugins exec `iptables` from PATH; Debian's
    default is iptables-nft, while cnibox's iptables backend writes legacy
    xtables through libiptc. Put first in the reference's PATH, both sides
    program the same tables and iptables-legacy-save shows both."""
    d = "/tmp/cbt-legacy-iptables"
    os.makedirs(d, exist_ok=True)
    for fam in ("iptables", "ip6tables"):
        for suffix in ("", "-save", "-restore"):
            link = os.path.join(d, fam + suffix)
            if not os.path.islink(link):
                try:
                    os.symlink(f"/usr/sbin/{fam}-legacy{suffix}", link)
                except FileExistsError:
                    pass
    return d


def run_plugin(plugin, command, conf, *, host=None, netns="", containerid="ctr1", ifname="eth0",
               args=None, cni_path=None, ref=False, env=None, binary=None, stdin=None, wrapper=None):
    """Execs a plugin as a runtime would and returns a PluginResult.

    plugin: applet/type name. conf: dict (dumped) or str (sent as is).
    host: the Netns the plugin runs in (None = caller's own namespace, only
    for plugins that touch no kernel state). netns: CNI_NETNS (a Netns or a path).
    ref: run the reference plugin from /usr/lib/cni instead of cnibox.
    env: a dict of variables; a value of None removes that variable.
    wrapper: a command line the plugin runs under (e.g. ["unshare", "-U"]).
    """
    bindir = REF_DIR if ref else cnibox_dir()
    exe = binary or os.path.join(bindir, plugin)
    path = "/usr/sbin:/usr/bin:/sbin:/bin"
    if ref:
        path = legacy_iptables_dir() + ":" + path
    e = {"PATH": path,
         "CNI_COMMAND": command,
         "CNI_CONTAINERID": containerid,
         "CNI_NETNS": netns.path if isinstance(netns, Netns) else netns,
         "CNI_IFNAME": ifname,
         "CNI_PATH": cni_path or bindir}
    if args is not None:
        e["CNI_ARGS"] = args
    for k, v in (env or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    data = stdin if stdin is not None else (conf if isinstance(conf, str) else json.dumps(conf))
    cmd = (wrapper or []) + [exe]
    if host is not None:
        cmd = ["ip", "netns", "exec", host.name, "env", "-i"] + [f"{k}={v}" for k, v in e.items()] + cmd
        e = None
    p = subprocess.run(cmd, input=data, capture_output=True, text=True, env=e, timeout=60)
    return PluginResult(p)


class Scratch:
    """A temporary directory (e.g. host-local dataDir) removed on cleanup."""

    def __init__(self, prefix="cbt-data-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    @classmethod
    def of(cls, path):
        """An existing directory seen as a Scratch (for files())."""
        s = cls.__new__(cls)
        s.path = path
        return s

    def files(self, sub=""):
        base = os.path.join(self.path, sub)
        out = []
        for dp, _, fns in os.walk(base):
            for f in fns:
                out.append(os.path.relpath(os.path.join(dp, f), base))
        return sorted(out)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


def plugin_conf(plugin, net, scratch, version="1.0.0", subnets=(), **kw):
    """A config of `plugin` on network `net` with host-local IPAM (dataDir in
    `scratch`), one range per subnet; no IPAM without subnets. `kw` is merged in."""
    c = {"cniVersion": version, "name": net, "type": plugin}
    if subnets:
        c["ipam"] = {"type": "host-local", "dataDir": scratch.path, "ranges": [[{"subnet": s}] for s in subnets]}
    c.update(kw)
    return c


def leases(store, net):
    """The addresses host-local holds leases for on network `net` in `store`
    (a Scratch, or the path of a host-local dataDir)."""
    if isinstance(store, str):
        store = Scratch.of(store)
    out = []
    for f in store.files(net):
        try:
            out.append(str(ipaddress.ip_address(f)))
        except ValueError:
            pass
    return out


def mask_result(res):
    """Masks what differs between runs: MACs and random host veth names."""
    if not isinstance(res, dict):
        return res
    res = json.loads(json.dumps(res))
    for i in res.get("interfaces", []) or []:
        if "mac" in i:
            i["mac"] = "MAC"
        if i.get("name", "").startswith("veth") and not i.get("sandbox"):
            i["name"] = "vethXXXX"
        if i.get("sandbox"):
            i["sandbox"] = "SANDBOX"
    return res
