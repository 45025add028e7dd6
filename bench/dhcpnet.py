"""The LAN both dhcp benchmarks measure on: a "host" namespace (plugins and
daemon) whose lan0 is a veth to a "server" namespace running dnsmasq (DHCP
only, --no-ping unless asked), and the side's dhcp daemon (cnibox's, or the
reference's with ref=True). Namespaces are named cbt-bench-<tag>-*."""
import ctypes
import os
import secrets
import shutil
import subprocess
import tempfile
import time

import cnibench as cb

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
REF = "/usr/lib/cni"


def setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


class Lan:
    """server: (address/prefix on srv0, dnsmasq's --dhcp-range value);
    extra: more dnsmasq arguments; env: more of the daemon's environment."""

    def __init__(self, tag, bindir, work, server, ref=False, ping=False, extra=(), env=None):
        self.tag, self.bindir, self.ref = tag, bindir, ref
        self.procs, self.nss, self.fd, self.daemon_pid = [], [], None, None
        self.dir = tempfile.mkdtemp(prefix=f"cbt-bench-{tag}-", dir=work)
        self.leasefile = os.path.join(self.dir, "leases")
        self.sock = os.path.join(self.dir, "dhcp.sock")
        try:
            self._start(server, ping, extra, env or {})
        except BaseException:
            self.close()
            raise

    def ns_name(self, what):
        return f"cbt-bench-{self.tag}-{what}-{os.getpid()}-{secrets.token_hex(2)}"

    def add_ns(self, what):
        name = self.ns_name(what)
        cb.ns_add(name)
        self.nss.append(name)
        return name

    def _start(self, server, ping, extra, env):
        addr, drange = server
        self.host, self.srv = self.add_ns("host"), self.add_ns("srv")
        sh("ip", "-n", self.host, "link", "add", "lan0", "type", "veth", "peer", "name", "srv0", "netns", self.srv)
        sh("ip", "-n", self.host, "link", "set", "lan0", "up")
        sh("ip", "-n", self.srv, "addr", "add", addr, "dev", "srv0")
        sh("ip", "-n", self.srv, "link", "set", "srv0", "up")
        log = os.path.join(self.dir, "dnsmasq.log")
        args = ["dnsmasq", "-k", "--conf-file=/dev/null", "--port=0", "--bind-interfaces", "--interface=srv0",
                f"--dhcp-range={drange}", f"--dhcp-option=option:router,{addr.split('/')[0]}",
                f"--dhcp-leasefile={self.leasefile}", f"--log-facility={log}", "--dhcp-authoritative"]
        if not ping:
            args.append("--no-ping")
        self.procs.append(subprocess.Popen(["ip", "netns", "exec", self.srv] + args + list(extra),
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        dargs = ["-socketpath", self.sock] + ([] if self.ref else ["-statedir", self.dir + "/state"])
        # ip netns exec execs the daemon: the Popen's pid is the daemon's.
        self.daemon_log = os.path.join(self.dir, "daemon.log")
        with open(self.daemon_log, "wb") as logf:
            d = subprocess.Popen(["ip", "netns", "exec", self.host, os.path.join(self.bindir, "dhcp"), "daemon"]
                                 + dargs, stdout=logf, stderr=logf, env=dict(os.environ, **env))
        self.procs.append(d)
        self.daemon_pid = d.pid
        end = time.time() + 5
        while not (os.path.exists(self.sock) and os.path.exists(log)):
            if time.time() > end:
                raise RuntimeError(f"{self.tag}: dnsmasq or the dhcp daemon did not start")
            time.sleep(0.02)
        time.sleep(0.2)
        self.fd = os.open(f"/run/netns/{self.host}", os.O_RDONLY)

    def conf(self, ipam):
        return {"cniVersion": "1.0.0", "name": "lan", "type": "macvlan", "master": "lan0", "ipam": ipam}

    def dhcp(self):
        return self.conf({"type": "dhcp", "daemonSocketPath": self.sock})

    def in_host(self, fn):
        """fn() with this thread in the host namespace (threads it starts inherit it)."""
        own = os.open("/proc/self/ns/net", os.O_RDONLY)
        try:
            setns(self.fd)
            return fn()
        finally:
            setns(own)
            os.close(own)

    def leases(self):
        """dnsmasq's lease file: {client id: expiry (epoch s)}. dnsmasq
        rewrites the file in place: read until two reads agree."""
        def read():
            try:
                with open(self.leasefile) as f:
                    return f.read()
            except FileNotFoundError:
                return ""
        text, again = read(), read()
        while text != again:
            time.sleep(0.05)
            text, again = again, read()
        rows = [l.split() for l in text.splitlines() if l.strip()]
        return {r[4]: int(r[0]) for r in rows if len(r) >= 5}

    def close(self):
        for p in self.procs:
            p.terminate()
            p.wait()
        if self.fd is not None:
            os.close(self.fd)
        for ns in self.nss:
            cb.ns_del(ns)
        shutil.rmtree(self.dir, ignore_errors=True)
