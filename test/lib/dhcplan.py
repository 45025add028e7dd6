"""A LAN with a DHCP server for the dhcp tests: a "host" namespace (where the
plugins and the dhcp daemon run) whose link lan0 is a veth to a "server"
namespace running dnsmasq (DHCP only) on srv0. macvlan children of lan0, or
a bridge with lan0 as a port, put containers on that LAN.

dnsmasq runs with --no-ping unless asked: its default ping check holds every
new client's OFFER for about 3 s, a server policy that would hide the
client's own cost."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import cnitest


class DnsmasqLan:
    def __init__(self, make_ns, subnet="10.77.0", lease="2m", ping=False, extra=()):
        self.host = make_ns("cbt-dh-host")
        self.srv = make_ns("cbt-dh-srv")
        self.subnet = subnet
        self.lease = lease
        self.server_ip = f"{subnet}.1"
        self.dir = tempfile.mkdtemp(prefix="cbt-dhcp-")
        self.leasefile = os.path.join(self.dir, "leases")
        self.logfile = os.path.join(self.dir, "dnsmasq.log")
        self.host.sh(f"ip link add lan0 type veth peer name srv0 netns {self.srv.name} && ip link set lan0 up")
        self.srv.sh(f"ip addr add {self.server_ip}/24 dev srv0 && ip link set srv0 up")
        self._args = ["dnsmasq", "-k", "--conf-file=/dev/null", "--port=0", "--bind-interfaces",
                      "--interface=srv0", f"--dhcp-range={subnet}.50,{subnet}.150,255.255.255.0,{lease}",
                      f"--dhcp-option=option:router,{self.server_ip}", f"--dhcp-leasefile={self.leasefile}",
                      "--log-dhcp", f"--log-facility={self.logfile}", "--dhcp-authoritative"]
        if not ping:
            self._args.append("--no-ping")
        self._args += list(extra)
        self.proc = None
        self.start()

    def start(self):
        # Ready once the log has one more "DHCP, IP range" line than before
        # (a restart appends to the first start's log).
        started = self.log().count("DHCP, IP range")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.srv.name] + self._args,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        end = time.time() + 5
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("dnsmasq exited: " + self.proc.stderr.read().decode(errors="replace"))
            if self.log().count("DHCP, IP range") > started:
                return
            time.sleep(0.02)
        raise RuntimeError("dnsmasq did not start within 5 s")

    def set_range(self, first, last):
        """The address range of the next start()."""
        self._args = [a if not a.startswith("--dhcp-range=") else
                      f"--dhcp-range={first},{last},255.255.255.0,{self.lease}" for a in self._args]

    def stop(self):
        if self.proc:
            cnitest.stop_process(self.proc)
        self.proc = None

    def leases(self):
        """dnsmasq's lease file: [(mac, ip, client id)]."""
        try:
            with open(self.leasefile) as f:
                rows = [l.split() for l in f if l.strip()]
        except FileNotFoundError:
            return []
        return [(r[1], r[2], r[4]) for r in rows if len(r) >= 5]

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def cleanup(self):
        self.stop()
        cnitest.sh(["rm", "-rf", self.dir], check=False)


class Daemon:
    """A dhcp daemon in namespace `ns` with its own socket and state
    directory: cnibox's, or with ref=True the reference plugin's
    (/usr/lib/cni/dhcp, which keeps no state on disk). `args` are more
    daemon flags (e.g. ("-timeout", "2s"))."""

    def __init__(self, ns, env=None, ref=False, args=()):
        self.ns = ns
        self.ref = ref
        self.args = list(args)
        self.dir = tempfile.mkdtemp(prefix="cbt-dhcpd-")
        self.sock = os.path.join(self.dir, "dhcp.sock")
        self.state = os.path.join(self.dir, "state")
        self.env = env or {}
        self.proc = None
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise

    def start(self):
        exe = os.path.join(cnitest.REF_DIR if self.ref else cnitest.cnibox_dir(), "dhcp")
        args = ["-socketpath", self.sock] + ([] if self.ref else ["-statedir", self.state]) + self.args
        env = dict(os.environ, **self.env)
        self.log = open(os.path.join(self.dir, "daemon.log"), "ab")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns.name, exe, "daemon"] + args,
                                     stdout=self.log, stderr=self.log, env=env)
        # Ready once the socket takes connections (a killed daemon's socket
        # file may still be there until the new one replaces it).
        end = time.time() + 5
        while not self.listening():
            assert self.proc.poll() is None, "daemon exited: " + self.logtext()
            assert time.time() < end, "daemon socket did not appear: " + self.logtext()
            time.sleep(0.01)

    def listening(self):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(self.sock)
                return True
            except OSError:
                return False

    def logtext(self):
        with open(os.path.join(self.dir, "daemon.log"), errors="replace") as f:
            return f.read()

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()

    def cleanup(self):
        self.kill(signal.SIGTERM)
        shutil.rmtree(self.dir, ignore_errors=True)


def fast_lan(make_ns, scale=20):
    """A DnsmasqLan and a Daemon in its host namespace whose lease times run
    `scale` times faster (test-only CNIBOX_DHCP_TIME_SCALE: with 20,
    dnsmasq's 2-minute lease renews after 3 s, rebinds after 5.25 s and
    expires after 6 s). The caller cleans up both (daemon first)."""
    lan = DnsmasqLan(make_ns)
    try:
        return lan, Daemon(lan.host, env={"CNIBOX_DHCP_TIME_SCALE": str(scale)})
    except BaseException:
        lan.cleanup()
        raise
