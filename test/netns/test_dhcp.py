"""dhcp IPAM with its daemon against a real DHCP server (root): dnsmasq in a
"server" namespace on a LAN (dhcplan.py), the daemon and the plugins in the
"host" namespace, containers attached by macvlan or by a bridge with the
LAN as a port. The lease must be in dnsmasq's lease file after ADD and gone
when DEL returns (the release is sent before DEL answers)."""
import concurrent.futures
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

import pytest

import cnitest
from cnitest import assert_cni_error, run_plugin
from dhcplan import Daemon, DnsmasqLan, fast_lan

pytestmark = pytest.mark.skipif(shutil.which("dnsmasq") is None, reason="needs dnsmasq (dnsmasq-base)")

NET = "lan"


@pytest.fixture
def lan(make_ns):
    l = DnsmasqLan(make_ns)
    yield l
    l.cleanup()


@pytest.fixture
def daemon(lan):
    d = Daemon(lan.host)
    yield d
    d.cleanup()


def macvlan_conf(sock, version="1.0.0", **ipam):
    return {"cniVersion": version, "name": NET, "type": "macvlan", "master": "lan0",
            "ipam": dict({"type": "dhcp", "daemonSocketPath": sock}, **ipam)}


def run(cmd, lan, ctr, c, cid="ctr1", ifname="eth0", **kw):
    return run_plugin(c["type"], cmd, c, host=lan.host, netns=ctr, containerid=cid, ifname=ifname, **kw)


def client_id(cid, ifname="eth0", net=NET):
    return ":".join(f"{b:02x}" for b in b"\0" + f"{cid}/{net}/{ifname}".encode())


def wait_gone(lan, cid_text, within=1.0):
    end = time.time() + within
    while time.time() < end:
        if not any(l[2] == cid_text for l in lan.leases()):
            return True
        time.sleep(0.02)
    return False


def test_macvlan_add_check_del_releases(lan, daemon, make_ns):
    ctr = make_ns()
    c = macvlan_conf(daemon.sock)
    r = run("ADD", lan, ctr, c)
    assert r.ok, (r, daemon.logtext())
    res = r.json
    assert len(res["ips"]) == 1
    ip = res["ips"][0]
    addr, prefix = ip["address"].split("/")
    assert prefix == "24" and addr.startswith("10.77.0.") and 50 <= int(addr.rsplit(".", 1)[1]) <= 150
    assert ip["gateway"] == lan.server_ip
    assert {"dst": "0.0.0.0/0", "gw": lan.server_ip} in res["routes"]
    # The server holds the lease under cnibox's client identifier.
    assert (res["interfaces"][0]["mac"], addr, client_id("ctr1")) in lan.leases()
    # The container uses the address: the server answers it.
    ctr.sh(f"ping -c1 -W2 {lan.server_ip}")
    r = run("CHECK", lan, ctr, dict(c, prevResult=res))
    assert r.ok, r
    r = run("DEL", lan, ctr, dict(c, prevResult=res))
    assert r.ok, r
    assert wait_gone(lan, client_id("ctr1")), (lan.leases(), lan.log()[-2000:])
    assert "DHCPRELEASE" in lan.log()
    assert run("DEL", lan, ctr, c).ok


def test_add_again_reuses_the_lease(lan, daemon, make_ns):
    ctr = make_ns()
    c = macvlan_conf(daemon.sock)
    r1 = run("ADD", lan, ctr, c)
    assert r1.ok, r1
    # A second ADD of the same attachment (the link made again) gets the same address.
    assert run("DEL", lan, ctr, c).ok
    r2 = run("ADD", lan, ctr, c)
    assert r2.ok, r2
    assert run("DEL", lan, ctr, c).ok


def test_bridge_port_del_releases_before_the_link_goes(lan, daemon, make_ns):
    c = bridge_conf(lan, daemon.sock)
    ctr = make_ns()
    r = run("ADD", lan, ctr, c)
    assert r.ok, (r, daemon.logtext())
    ctr.sh(f"ping -c1 -W2 {lan.server_ip}")
    assert any(l[2] == client_id("ctr1") for l in lan.leases())
    r = run("DEL", lan, ctr, c)
    assert r.ok, r
    assert wait_gone(lan, client_id("ctr1")), lan.leases()


def bridge_conf(lan, sock):
    lan.host.sh("ip link add brlan type bridge && ip link set lan0 master brlan && ip link set brlan up")
    return {"cniVersion": "1.0.0", "name": NET, "type": "bridge", "bridge": "brlan",
            "ipam": {"type": "dhcp", "daemonSocketPath": sock}}


@pytest.mark.parametrize("plugin,dev", [("macvlan", "lan0"), ("bridge", "brlan")])
def test_namespace_gone_before_del_releases_through_the_host_device(lan, daemon, make_ns, plugin, dev):
    # The runtime removed the container's namespace before its DEL (as after
    # a crash), and the container's link went with it; the host has no
    # address on the LAN. The daemon sends the RELEASE out of the host's
    # device that the container's frames left by: the macvlan's lower
    # device, or the bridge its veth peer was a port of.
    c = macvlan_conf(daemon.sock) if plugin == "macvlan" else bridge_conf(lan, daemon.sock)
    ctr = make_ns()
    r = run("ADD", lan, ctr, c)
    assert r.ok, (r, daemon.logtext())
    addr = r.json["ips"][0]["address"]
    assert any(l[2] == client_id("ctr1") for l in lan.leases())
    assert lan.host.sh("ip -4 -o addr show scope global").stdout == ""
    ctr.delete()
    assert run("DEL", lan, ctr, c).ok
    assert wait_gone(lan, client_id("ctr1")), (lan.leases(), daemon.logtext()[-2000:])
    assert f"ctr1/lan/eth0 released the lease of {addr} through {dev} (" in daemon.logtext(), daemon.logtext()
    assert os.listdir(daemon.state) == []


def test_host_device_gone_too_release_goes_by_route(lan, daemon, make_ns):
    # The device the lease was taken through is gone as well (renamed here):
    # the RELEASE goes as a UDP datagram from the daemon's namespace, routed
    # by the address it has on the LAN.
    c = macvlan_conf(daemon.sock)
    ctr = make_ns()
    r = run("ADD", lan, ctr, c)
    assert r.ok, (r, daemon.logtext())
    addr = r.json["ips"][0]["address"]
    ctr.delete()
    lan.host.sh("ip link set lan0 down && ip link set lan0 name lan9 && ip link set lan9 up && "
                "ip addr add 10.77.0.2/24 dev lan9")
    assert run("DEL", lan, ctr, c).ok
    assert wait_gone(lan, client_id("ctr1")), (lan.leases(), daemon.logtext()[-2000:])
    assert f"released the lease of {addr} from the daemon's namespace" in daemon.logtext(), daemon.logtext()


def test_daemon_restart_keeps_the_lease_and_del_releases(lan, daemon, make_ns):
    ctr = make_ns()
    c = macvlan_conf(daemon.sock)
    r = run("ADD", lan, ctr, c)
    assert r.ok, r
    daemon.kill(signal.SIGKILL)
    daemon.start()
    r2 = run("CHECK", lan, ctr, dict(c, prevResult=r.json))
    assert r2.ok, (r2, daemon.logtext())
    assert run("DEL", lan, ctr, c).ok
    assert wait_gone(lan, client_id("ctr1")), lan.leases()


def test_daemon_not_running_is_try_again_naming_the_socket(lan, make_ns):
    ctr = make_ns()
    sock = "/run/cbt-no-such-dhcp-dir/dhcp.sock"
    c = {"cniVersion": "1.0.0", "name": NET, "type": "macvlan", "master": "lan0",
         "ipam": {"type": "dhcp", "daemonSocketPath": sock}}
    for cmd in ("ADD", "DEL"):
        r = run(cmd, lan, ctr, c)
        assert_cni_error(r, 11, sock)
    # The failed ADD left no link behind.
    assert "eth0" not in ctr.links()
    # STATUS (spec 1.1.0) of macvlan asks its IPAM: not ready.
    assert_cni_error(run("STATUS", lan, ctr, dict(c, cniVersion="1.1.0")), 50, sock)


def test_socket_path_that_is_not_a_socket(lan, make_ns):
    ctr = make_ns()
    with tempfile.NamedTemporaryFile(prefix="cbt-notsock-") as f:
        c = {"cniVersion": "1.0.0", "name": NET, "type": "macvlan", "master": "lan0",
             "ipam": {"type": "dhcp", "daemonSocketPath": f.name}}
        assert_cni_error(run("ADD", lan, ctr, c), 11, f.name)


def test_renewal_before_expiry(make_ns):
    lan = DnsmasqLan(make_ns)
    d = Daemon(lan.host, env={"CNIBOX_DHCP_TIME_SCALE": "20"})
    try:
        ctr = make_ns()
        c = macvlan_conf(d.sock)
        r = run("ADD", lan, ctr, c)
        assert r.ok, r
        # dnsmasq's 2-minute lease, scaled by 20: T1 after 3 s.
        end = time.time() + 10
        while lan.log().count("DHCPACK") < 2 and time.time() < end:
            time.sleep(0.1)
        assert lan.log().count("DHCPACK") >= 2, lan.log()[-3000:]
        assert run("CHECK", lan, ctr, dict(c, prevResult=r.json)).ok
        assert run("DEL", lan, ctr, c).ok
        assert wait_gone(lan, client_id("ctr1"))
    finally:
        d.cleanup()
        lan.cleanup()


def test_parallel_attachments_distinct_and_all_released(lan, daemon, make_ns):
    n = 50
    ctrs = [make_ns() for _ in range(n)]
    c = macvlan_conf(daemon.sock)

    def add(i):
        return run("ADD", lan, ctrs[i], c, cid=f"par{i}")

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(add, range(n)))
    assert all(r.ok for r in results), [r for r in results if not r.ok][:2]
    addrs = [r.json["ips"][0]["address"] for r in results]
    assert len(set(addrs)) == n
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        dels = list(pool.map(lambda i: run("DEL", lan, ctrs[i], c, cid=f"par{i}"), range(n)))
    assert all(r.ok for r in dels)
    end = time.time() + 2
    while lan.leases() and time.time() < end:
        time.sleep(0.05)
    assert lan.leases() == []


@pytest.fixture
def fast(make_ns):
    """A LAN whose daemon runs lease times 20 times faster (dhcplan.fast_lan)."""
    lan, d = fast_lan(make_ns)
    yield lan, d
    d.cleanup()
    lan.cleanup()


def wait_for(pred, within):
    end = time.time() + within
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def attached(fast, make_ns):
    """One macvlan container on the fast LAN: (lan, ctr, conf, ADD result, its address)."""
    lan, d = fast
    ctr = make_ns()
    c = macvlan_conf(d.sock)
    r = run("ADD", lan, ctr, c)
    assert r.ok, r
    return lan, ctr, c, r, r.json["ips"][0]["address"]


def test_server_gone_then_back_the_lease_is_kept(fast, make_ns):
    lan, ctr, c, r, addr = attached(fast, make_ns)
    lan.stop()
    time.sleep(3.5)                       # past T1: renewals go unanswered
    lan.start()                           # back before expiry (dnsmasq keeps its lease file)
    assert wait_for(lambda: "DHCPACK" in lan.log().split("DHCP, IP range")[-1], 6), lan.log()[-2000:]
    time.sleep(1.5)                       # past the first lease's expiry
    assert run("CHECK", lan, ctr, dict(c, prevResult=r.json)).ok
    assert addr in ctr.sh("ip -4 -o addr show dev eth0").stdout
    assert run("DEL", lan, ctr, c).ok
    assert wait_gone(lan, client_id("ctr1"))


def test_expiry_without_server_takes_the_address_away(fast, make_ns):
    lan, ctr, c, r, addr = attached(fast, make_ns)
    lan.stop()
    # Expiry after 6 s: the address goes and the link is set down, as upstream.
    assert wait_for(lambda: addr not in ctr.sh("ip -4 -o addr show dev eth0").stdout, 10)
    assert "UP" not in ctr.link("eth0")["flags"]
    j = assert_cni_error(run("CHECK", lan, ctr, dict(c, prevResult=r.json)), 100, "expired")
    assert "eth0" in j["msg"], j
    # DEL still succeeds (the server is gone: nothing to release there).
    assert run("DEL", lan, ctr, c).ok
    assert run("DEL", lan, ctr, c).ok


def test_nak_on_renewal_takes_the_address_away(fast, make_ns):
    lan, ctr, c, r, addr = attached(fast, make_ns)
    # The server comes back serving another range and forgets its leases:
    # as the authority for the LAN it refuses the renewal (DHCPNAK).
    lan.stop()
    os.remove(lan.leasefile)
    lan.set_range("10.77.0.200", "10.77.0.210")
    lan.start()
    assert wait_for(lambda: "DHCPNAK" in lan.log(), 8), lan.log()[-2000:]
    assert wait_for(lambda: addr not in ctr.sh("ip -4 -o addr show dev eth0").stdout, 3)
    assert_cni_error(run("CHECK", lan, ctr, dict(c, prevResult=r.json)), 100)
    assert run("DEL", lan, ctr, c).ok


def test_container_gone_without_del_ends_its_lease_only(fast, make_ns):
    # One container's namespace is deleted, another's link, without a DEL:
    # at renewal time the daemon gives their leases back to the server (out
    # of lan0, the macvlans' lower device, from its own namespace) and holds
    # nothing of the deleted namespace; the third container's lease renews.
    lan, d = fast
    c = macvlan_conf(d.sock)
    ctrs = [make_ns() for _ in range(3)]
    for i, ctr in enumerate(ctrs):
        assert run("ADD", lan, ctr, c, cid=f"gone{i}").ok
    ino = os.stat(ctrs[0].path).st_ino
    ctrs[0].delete()
    ctrs[1].sh("ip link del eth0")
    assert wait_for(lambda: d.logtext().count("the lease of") >= 2 and "gone2/lan/eth0 renewal: lease" in d.logtext(),
                    8), d.logtext()[-3000:]
    assert "gone0/lan/eth0" in d.logtext() and "gone1/lan/eth0 link eth0 is gone" in d.logtext(), d.logtext()
    assert wait_gone(lan, client_id("gone0")) and wait_gone(lan, client_id("gone1")), lan.leases()
    assert any(l[2] == client_id("gone2") for l in lan.leases())
    fds = f"/proc/{d.proc.pid}/fd"
    assert f"net:[{ino}]" not in [os.readlink(f"{fds}/{f}") for f in os.listdir(fds)]
    assert sorted(os.listdir(d.state)) == [n for n in os.listdir(d.state) if "gone2" in n] and os.listdir(d.state)
    assert run("DEL", lan, ctrs[2], c, cid="gone2").ok
    for i in (0, 1):
        assert run("DEL", lan, ctrs[i], c, cid=f"gone{i}").ok


def test_daemon_sigkilled_with_100_leases_resumes_or_releases_each(fast, make_ns):
    """The daemon SIGKILLed while it holds 100 leases, 10 of the containers
    gone while it is down, then started again: it picks up the 90 from its
    records and renews them, gives the 10 back to the server, and the
    server's lease file holds the 90 once each, at their addresses; DEL
    releases the rest and leaves no record."""
    lan, d = fast
    c = macvlan_conf(d.sock)
    n = 100
    ctrs = [make_ns() for _ in range(n)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: run("ADD", lan, ctrs[i], c, cid=f"k{i}"), range(n)))
    assert all(r.ok for r in results), [r for r in results if not r.ok][:2]
    cidr = {f"k{i}": r.json["ips"][0]["address"] for i, r in enumerate(results)}   # as the daemon's log names them
    addr = {k: a.split("/")[0] for k, a in cidr.items()}
    assert len(set(addr.values())) == n

    def server_leases():
        return {l[2]: l[1] for l in lan.leases()}, len(lan.leases())

    held, rows = server_leases()
    assert rows == n and held == {client_id(k): a for k, a in addr.items()}
    d.kill(signal.SIGKILL)
    assert len(os.listdir(d.state)) == n
    gone = [f"k{i}" for i in range(0, n, 10)]
    for k in gone:
        ctrs[int(k[1:])].delete()
    mark = len(d.logtext())
    d.start()
    after = lambda: d.logtext()[mark:]
    kept = [k for k in addr if k not in gone]
    # every kept lease picked up and renewed (renewals come 3 s after each was acquired)
    assert wait_for(lambda: all(f"{k}/lan/eth0 renewal: lease of {cidr[k]} extended" in after() for k in kept), 20), \
        after()[-3000:]
    assert all(f"{k}/lan/eth0 lease of {cidr[k]} picked up again" in after() for k in kept), after()[-3000:]
    assert all(f"the lease of {cidr[k]} ends" in after() and f"released the lease of {cidr[k]}" in after() for k in gone), \
        after()[-3000:]
    assert wait_for(lambda: server_leases() == ({client_id(k): addr[k] for k in kept}, len(kept)), 5), server_leases()
    assert len(os.listdir(d.state)) == len(kept)
    for k in kept[:10]:
        assert run("CHECK", lan, ctrs[int(k[1:])], dict(c, prevResult=results[int(k[1:])].json), cid=k).ok
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        dels = list(pool.map(lambda i: run("DEL", lan, ctrs[i], c, cid=f"k{i}"), range(n)))
    assert all(r.ok for r in dels), [r for r in dels if not r.ok][:2]
    assert wait_for(lambda: lan.leases() == [], 3), lan.leases()
    assert os.listdir(d.state) == []


def start_daemon(ns, args, log, pass_fds=(), shell=None):
    """`dhcp daemon ARGS` in ns (or a bash command line ending in an exec
    of it, the program as $0); its Popen."""
    exe = os.path.join(cnitest.cnibox_dir(), "dhcp")
    cmd = ["bash", "-c", shell, exe] + args if shell else [exe, "daemon"] + args
    return subprocess.Popen(["ip", "netns", "exec", ns.name] + cmd, stdout=log, stderr=log, pass_fds=pass_fds)


def test_daemon_files_and_sigterm(lan, make_ns):
    # The socket's directory is made 0700, the socket is 0660; -pidfile gets
    # the pid. SIGTERM: exit 0, socket and pidfile removed, the lease neither
    # released nor forgotten (the container still runs): a new daemon serves
    # its CHECK and DEL.
    d = tempfile.mkdtemp(prefix="cbt-dhcpd-")
    sock, pid, state = f"{d}/run/cni/dhcp.sock", f"{d}/dhcp.pid", f"{d}/state"
    args = ["-socketpath", sock, "-pidfile", pid, "-statedir", state]
    log = open(f"{d}/daemon.log", "ab")
    p = None
    try:
        p = start_daemon(lan.host, args, log)
        assert wait_for(lambda: os.path.exists(sock) and os.path.exists(pid), 5)
        assert stat.S_IMODE(os.stat(os.path.dirname(sock)).st_mode) == 0o700
        st = os.stat(sock)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
        with open(pid) as f:
            assert f.read() == f"{p.pid}\n"
        ctr = make_ns()
        c = macvlan_conf(sock)
        r = run("ADD", lan, ctr, c)
        assert r.ok, r
        p.send_signal(signal.SIGTERM)
        assert p.wait(5) == 0
        assert not os.path.exists(sock) and not os.path.exists(pid)
        assert len(os.listdir(state)) == 1
        assert any(l[2] == client_id("ctr1") for l in lan.leases())
        p = start_daemon(lan.host, args, log)
        assert wait_for(lambda: os.path.exists(sock), 5)
        assert run("CHECK", lan, ctr, dict(c, prevResult=r.json)).ok
        assert run("DEL", lan, ctr, c).ok
        assert wait_gone(lan, client_id("ctr1"))
        assert os.listdir(state) == []
    finally:
        if p:
            cnitest.stop_process(p)
        log.close()
        shutil.rmtree(d, ignore_errors=True)


def test_socket_activation(make_ns):
    # systemd's way: the listening socket as fd 3, LISTEN_PID and LISTEN_FDS
    # naming this process. The daemon serves on it, never binds -socketpath,
    # and leaves the socket file to its owner when it stops.
    ns = make_ns()
    d = tempfile.mkdtemp(prefix="cbt-dhcpd-")
    path = f"{d}/activated.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    p = None
    log = open(f"{d}/daemon.log", "ab")
    try:
        listener.bind(path)
        listener.listen(16)
        fd = listener.fileno()
        redirect = "" if fd == 3 else f" 3<&{fd} {fd}<&-"
        shell = f'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" daemon "$@"{redirect}'
        p = start_daemon(ns, ["-socketpath", f"{d}/unused.sock", "-statedir", f"{d}/state"], log,
                         pass_fds=(fd,), shell=shell)
        logtext = lambda: open(f"{d}/daemon.log").read()  # noqa: E731
        assert wait_for(lambda: "listening on the socket systemd passed" in logtext() or p.poll() is not None, 5)
        assert p.poll() is None, logtext()
        conf = {"cniVersion": "1.1.0", "name": NET, "ipam": {"type": "dhcp", "daemonSocketPath": path}}
        assert run_plugin("dhcp", "STATUS", conf, host=ns).ok, logtext()
        assert not os.path.exists(f"{d}/unused.sock")
        p.send_signal(signal.SIGTERM)
        assert p.wait(5) == 0
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        # LISTEN_FDS naming an fd 3 that is no listening socket: refused.
        p = start_daemon(ns, ["-statedir", f"{d}/state"], log,
                         shell='LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" daemon "$@" 3</dev/null')
        assert p.wait(5) == 1
        assert "LISTEN_FDS names fd 3, which is not a listening socket" in logtext()
    finally:
        if p:
            cnitest.stop_process(p)
        listener.close()
        log.close()
        shutil.rmtree(d, ignore_errors=True)
