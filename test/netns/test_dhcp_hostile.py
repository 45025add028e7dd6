"""The dhcp daemon under hostile input (root).

On the wire: a fake server (fakedhcp.py) in a LAN's server namespace
answers every DISCOVER and REQUEST with a burst of broken frames (IPv4 and
UDP framing, BOOTP header, options, what an OFFER or ACK must carry). Alone,
it must make an ADD fail with a clear error and leave nothing behind, while
an attachment on another LAN is served as usual; next to dnsmasq, the ADD
must get dnsmasq's lease. On the unix socket: clients that connect and say
nothing, hang up halfway, hang up before their reply, or speak another
protocol. After each, the daemon is alive and serves a normal ADD and DEL.

Two LANs, each with its own host namespace, serve every test of the
module: the "hostile" one (dnsmasq stopped unless a test starts it) and a
"good" one; and two daemons in the hostile LAN's host namespace serve both:
"quick" (-timeout 2s, one acquire attempt) where a test waits for an
exchange to time out, the other with the default timeouts, whose
retransmissions ride out a frame the machine drops under load.
"""
import os
import shutil
import signal
import socket
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor

import pytest

import cnitest
from cnitest import assert_cni_error, run_plugin
from dhcplan import Daemon, DnsmasqLan
from fakedhcp import CANARY_HOST, FAKE_HOST, RELEASE, FakeDhcp

pytestmark = pytest.mark.skipif(shutil.which("dnsmasq") is None, reason="needs dnsmasq (dnsmasq-base)")

NET = "lan"
HOSTILE = "10.77.0"
GOOD = "10.78.0"
TIMEOUT = "2s"
# A normal ADD takes tens of milliseconds; this leaves room for a loaded
# machine (or one lost DISCOVER, retransmitted after 1 s) and is still below
# the quick daemon's 2 s exchange timeout.
NORMAL = 1.5


@pytest.fixture(scope="module")
def world():
    made = []

    def make(prefix="cbt-ctr"):
        ns = cnitest.Netns(prefix)
        made.append(ns)
        return ns

    hostile = good = daemon = quick = None
    try:
        # dnsmasq broadcasts its replies: a reply unicast to a client without
        # an address needs an ARP entry dnsmasq injects, and the kernel's
        # neighbour table limit counts the entries of every namespace, so
        # other tests holding many leases on the machine can make that fail
        # (ENOBUFS) and the reply never leaves.
        hostile = DnsmasqLan(make, subnet=HOSTILE, extra=("--dhcp-broadcast",))
        hostile.stop()
        good = DnsmasqLan(make, subnet=GOOD, extra=("--dhcp-broadcast",))
        daemon = Daemon(hostile.host)
        # One attempt of 2 s: -resendtimeout leaves no time for a second.
        quick = Daemon(hostile.host, args=("-timeout", TIMEOUT, "-resendtimeout", TIMEOUT))
        yield types.SimpleNamespace(hostile=hostile, good=good, daemon=daemon, quick=quick)
    finally:
        for x in (quick, daemon, good, hostile):
            if x:
                x.cleanup()
        for ns in made:
            ns.delete()


def conf(daemon, plugin="macvlan"):
    c = {"cniVersion": "1.0.0", "name": NET, "type": plugin,
         "ipam": {"type": "dhcp", "daemonSocketPath": daemon.sock}}
    if plugin == "macvlan":
        c["master"] = "lan0"
    return c


def run(cmd, lan, ctr, daemon, cid, plugin="macvlan", **kw):
    c = dict(conf(daemon, plugin), **kw)
    return run_plugin(plugin, cmd, c, host=lan.host, netns=ctr, containerid=cid, ifname="eth0")


def client_id(cid):
    return ":".join(f"{b:02x}" for b in b"\0" + f"{cid}/{NET}/eth0".encode())


def wait_for(pred, within):
    end = time.time() + within
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def records(daemon, cid):
    """The daemon's lease records of attachment `cid`."""
    try:
        return [f for f in os.listdir(daemon.state) if cid in f]
    except FileNotFoundError:
        return []


def alive(daemon):
    return daemon.proc is not None and daemon.proc.poll() is None


def host_of(addr):
    return int(addr.split("/")[0].rsplit(".", 1)[1])


def serves(w, make_ns, cid, daemon=None, timed=False):
    """`daemon` (the default-timeout one unless given) is alive and does a
    normal ADD, CHECK and DEL on the good LAN (with `timed`, ADD and DEL
    each in normal time): the lease in dnsmasq's file after ADD, gone after
    DEL."""
    d = daemon or w.daemon
    assert alive(d), d.logtext()[-3000:]
    ctr = make_ns()
    t = time.monotonic()
    r = run("ADD", w.good, ctr, d, cid)
    took = time.monotonic() - t
    assert r.ok, (r, d.logtext()[-2000:], w.good.log()[-2000:])
    assert not timed or took < NORMAL, f"ADD took {took:.2f} s"
    addr = r.json["ips"][0]["address"]
    assert addr.startswith(GOOD + ".") and 50 <= host_of(addr) <= 150, addr
    assert any(l[2] == client_id(cid) for l in w.good.leases())
    assert run("CHECK", w.good, ctr, d, cid, prevResult=r.json).ok
    t = time.monotonic()
    r = run("DEL", w.good, ctr, d, cid)
    took = time.monotonic() - t
    assert r.ok, r
    assert not timed or took < NORMAL, f"DEL took {took:.2f} s"
    assert wait_for(lambda: not any(l[2] == client_id(cid) for l in w.good.leases()), 1), w.good.leases()
    assert records(d, cid) == []
    assert alive(d)


# ---------------------------------------------------------------- on the wire


def test_hostile_replies_alone_fail_the_add_cleanly_and_block_nobody(world, make_ns):
    """Only the fake answers: every broken OFFER is passed over for the
    canary, every broken ACK and NAK after the REQUEST for it is ignored,
    and the ADD fails after the 2 s exchange as with no server, leaving
    nothing; meanwhile an ADD on the good LAN is served at once."""
    w = world
    fake = FakeDhcp(w.hostile, canary=True)
    try:
        ctr, bystander = make_ns(), make_ns()
        with ThreadPoolExecutor(1) as pool:
            t0 = time.monotonic()
            stuck = pool.submit(run, "ADD", w.hostile, ctr, w.quick, "victim")
            assert wait_for(lambda: fake.bursts(), 3), ("the fake saw no DISCOVER", fake.events(),
                                                      w.quick.logtext()[-2000:])
            # While that exchange goes on, the daemon serves another
            # attachment on another LAN in normal time.
            t = time.monotonic()
            r2 = run("ADD", w.good, bystander, w.quick, "bystander")
            took = time.monotonic() - t
            assert r2.ok, (r2, w.quick.logtext()[-3000:])
            assert took < NORMAL, f"the bystander's ADD took {took:.2f} s"
            assert not stuck.done(), ("the hostile ADD ended before the bystander's", stuck.result(), fake.seen())
            assert run("DEL", w.good, bystander, w.quick, "bystander").ok
            r = stuck.result()
        took = time.monotonic() - t0

        # A timeout, as with no server at all: the daemon took none of the
        # broken replies (an ACK would have bound, a NAK or an unusable ACK
        # would have ended it early with another error).
        assert_cni_error(r, 11, "no DHCP reply", "eth0", TIMEOUT)
        assert 1.9 < took < 5, f"the ADD took {took:.2f} s"
        assert alive(w.quick), w.quick.logtext()[-3000:]

        # The frames reached the client and were read: it took the canary,
        # the well-formed OFFER sent after every broken one, and nothing
        # else (each broken OFFER offers an address of its own).
        canary, fake_id = f"{HOSTILE}.{CANARY_HOST}", f"{HOSTILE}.{FAKE_HOST}"
        seen = [e for e in fake.seen() if e["type"] in (1, 3)]
        xids = {e["xid"] for e in seen}
        assert len(xids) == 1, ("one exchange, never restarted", seen)
        requests = [e for e in seen if e["type"] == 3]
        assert requests, ("the client never took the canary OFFER", seen, w.quick.logtext()[-2000:])
        taken = {(e["requested"], e["server"]) for e in requests}
        assert taken == {(canary, fake_id)}, taken
        bursts = fake.bursts(xids)
        assert {b["reply"] for b in bursts} == {"offer", "ack"}, bursts
        for b in bursts:
            assert b["sent"] == b["frames"] and not b["errors"], b
        offer_burst = next(b for b in bursts if b["reply"] == "offer")
        assert len(offer_burst["kinds"]) > 40 and list(offer_burst["kinds"])[-1] == "canary"

        # The server may have granted the address it was asked for (its ACK
        # late or lost): the daemon gives it back as it gives up.
        assert wait_for(lambda: any(e["type"] == RELEASE for e in fake.seen()), 1), fake.seen()
        released = {(e["ciaddr"], e["server"]) for e in fake.seen() if e["type"] == RELEASE}
        assert released == {(canary, fake_id)}, released

        # Nothing left: no record, no link or address in the container.
        assert records(w.quick, "victim") == []
        assert ctr.sh("ip -4 -o addr show scope global").stdout.strip() == ""
        assert "eth0" not in ctr.links()
        assert run("DEL", w.hostile, ctr, w.quick, "victim").ok
    finally:
        fake.stop()
    serves(w, make_ns, "after-wire-alone", w.quick)


def test_hostile_replies_next_to_dnsmasq_do_not_stop_the_lease(world, make_ns):
    """The fake sprays next to dnsmasq (its bursts usually reach the client
    before dnsmasq's replies): the ADD gets dnsmasq's lease and options, and
    CHECK and DEL work as usual."""
    w = world
    w.hostile.start()
    fake = FakeDhcp(w.hostile)
    try:
        ctr = make_ns()
        r = run("ADD", w.hostile, ctr, w.daemon, "amid")
        assert r.ok, (r, w.daemon.logtext()[-3000:])
        res = r.json
        addr = res["ips"][0]["address"]
        assert addr.startswith(HOSTILE + ".") and 50 <= host_of(addr) <= 150, addr
        # dnsmasq's lease, not one the fake sent (its router is .2).
        assert res["ips"][0]["gateway"] == w.hostile.server_ip
        mac = res["interfaces"][0]["mac"]
        ip = addr.split("/")[0]
        assert (mac, ip, client_id("amid")) in w.hostile.leases()
        assert addr in ctr.sh("ip -4 -o addr show dev eth0").stdout

        # The fake answered this client's DISCOVER and REQUEST, and the
        # client asked dnsmasq for dnsmasq's address only.
        seen = [e for e in fake.seen(mac) if e["type"] in (1, 3)]
        xids = {e["xid"] for e in seen}
        assert len(xids) == 1, seen
        requests = [e for e in seen if e["type"] == 3]
        assert requests and {(e["requested"], e["server"]) for e in requests} == {(ip, w.hostile.server_ip)}
        bursts = fake.bursts(xids)
        assert {b["reply"] for b in bursts} == {"offer", "ack"}, bursts
        for b in bursts:
            assert b["sent"] == b["frames"] and not b["errors"], b

        assert run("CHECK", w.hostile, ctr, w.daemon, "amid", prevResult=res).ok
        assert run("DEL", w.hostile, ctr, w.daemon, "amid").ok
        assert wait_for(lambda: not any(l[2] == client_id("amid") for l in w.hostile.leases()), 1), \
            w.hostile.leases()
        assert records(w.daemon, "amid") == []
        assert alive(w.daemon)
    finally:
        fake.stop()
        w.hostile.stop()
    serves(w, make_ns, "after-wire-amid")


# ---------------------------------------------------------------- on the unix socket


def escape(v):
    return "".join(f"%{ord(c):02X}" if c == "%" or ord(c) < 0x20 or ord(c) == 0x7f else c for c in v)


def block(head, fields):
    """A request as protocol.cpp's encode() writes it."""
    return ("CNIBOX-DHCP/1 " + head + "\n" + "".join(f"{k} {escape(v)}\n" for k, v in fields) + "\n").encode()


def attach_request(verb, cid, netns):
    """What the dhcp applet sends for attachment `cid` on eth0 in `netns`."""
    return block(verb, [("network", NET), ("container-id", cid), ("ifname", "eth0"), ("netns", netns),
                        ("client-id", (b"\0" + f"{cid}/{NET}/eth0".encode()).hex()),
                        ("request", "3 1 6 15 119")])


def connect(daemon):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(daemon.sock)
    return s


def exchange(daemon, data):
    """Sends `data` (errors from a daemon that hung up meanwhile ignored)
    and reads what comes back until the daemon closes."""
    with connect(daemon) as s:
        def send():
            try:
                s.sendall(data)
            except OSError:
                pass
        t = threading.Thread(target=send)
        t.start()
        got = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
        except ConnectionResetError:
            pass
        t.join()
    return got.decode(errors="replace")


class LogWatch:
    """Waits for the daemon's log to say `text` once more than when made."""

    def __init__(self, daemon, text):
        self.daemon, self.text = daemon, text
        self.before = daemon.logtext().count(text)

    def seen(self, within=2):
        return wait_for(lambda: self.daemon.logtext().count(self.text) > self.before, within)


@pytest.fixture
def frozen(world):
    """Stops the daemon (SIGSTOP) for what a client does in the meantime,
    so that it finds all of it at once when it goes on (SIGCONT)."""
    class Freezer:
        def __enter__(self):
            world.daemon.proc.send_signal(signal.SIGSTOP)

        def __exit__(self, *exc):
            world.daemon.proc.send_signal(signal.SIGCONT)
    return Freezer()


def test_silent_connections_do_not_hold_up_others(world, make_ns):
    """Clients that connect and send nothing while others are served."""
    idle = [connect(world.daemon) for _ in range(20)]
    try:
        serves(world, make_ns, "while-idle", timed=True)
    finally:
        for s in idle:
            s.close()
    assert alive(world.daemon)


def test_half_a_request_then_hang_up(world, make_ns):
    """A client that sends part of a request block and goes."""
    hung = LogWatch(world.daemon, "client hung up in the middle of its request")
    with connect(world.daemon) as s:
        s.sendall(b"CNIBOX-DHCP/1 ADD\nnetwork lan\ncontainer-id half1\nifn")
    assert hung.seen(), world.daemon.logtext()[-2000:]
    assert records(world.daemon, "half1") == []
    serves(world, make_ns, "after-half")


def test_add_then_hang_up_before_the_reply(world, make_ns, frozen):
    """A client that sends a whole ADD and goes before its reply: while the
    acquire is under way (it stops), and when the lease is held (the reply
    meets a closed socket). A DEL afterwards releases what it got."""
    w = world
    ctr = make_ns()
    # The container's link on the good LAN, made by hand: the request is
    # written here, not by the applet.
    w.good.host.sh(f"ip link add hup0 link lan0 type macvlan mode bridge && ip link set hup0 netns {ctr.name}")
    ctr.sh("ip link set hup0 name eth0")

    def add_and_hang_up(expect_log):
        """An ADD sent while the daemon is stopped, the connection closed
        before it wakes: the daemon logs `expect_log` and lives on."""
        watch = LogWatch(w.daemon, expect_log)
        with frozen:
            with connect(w.daemon) as s:
                s.sendall(attach_request("ADD", "hangup1", ctr.path))
        assert watch.seen(), w.daemon.logtext()[-2000:]
        assert alive(w.daemon)

    # 1. The client goes while its acquire is under way: the acquire stops.
    add_and_hang_up("hangup1/lan/eth0 acquire abandoned")
    ipam = {"type": "dhcp", "daemonSocketPath": w.daemon.sock}

    def del_releases():
        r = run_plugin("dhcp", "DEL", {"cniVersion": "1.0.0", "name": NET, "ipam": ipam}, host=w.good.host,
                       netns=ctr, containerid="hangup1", ifname="eth0")
        assert r.ok, r
        assert wait_for(lambda: not any(l[2] == client_id("hangup1") for l in w.good.leases()), 1), w.good.leases()
        assert records(w.daemon, "hangup1") == []

    del_releases()

    # 2. The lease is held, so the daemon answers an ADD at once, to a
    # client that has gone already: EPIPE, not SIGPIPE.
    reply = exchange(w.daemon, attach_request("ADD", "hangup1", ctr.path))
    assert reply.startswith("CNIBOX-DHCP/1 OK\naddress " + GOOD + "."), (reply, w.daemon.logtext()[-2000:])
    assert records(w.daemon, "hangup1")
    add_and_hang_up("connection dropped: client went away before its reply")
    # A DEL releases the lease the hung-up ADDs held.
    del_releases()
    serves(w, make_ns, "after-hangup")


def test_hang_up_while_the_request_waits_releases_the_address(world, make_ns):
    """The client goes after the daemon's REQUEST went out, before an ACK:
    the server may grant the address all the same (its ACK late or lost),
    so the daemon releases it as it drops the acquire."""
    w = world
    fake = FakeDhcp(w.hostile, canary=True)
    try:
        ctr = make_ns()
        w.hostile.host.sh(f"ip link add hup1 link lan0 type macvlan mode bridge && ip link set hup1 netns {ctr.name}")
        ctr.sh("ip link set hup1 name eth0")
        abandoned = LogWatch(w.daemon, "gone1/lan/eth0 acquire abandoned")
        with connect(w.daemon) as s:
            s.sendall(attach_request("ADD", "gone1", ctr.path))
            # The fake offers the canary, then never confirms it.
            assert wait_for(lambda: any(e["type"] == 3 for e in fake.seen()), 1.5), fake.seen()
        assert abandoned.seen(), w.daemon.logtext()[-2000:]
        assert wait_for(lambda: any(e["type"] == RELEASE for e in fake.seen()), 1), \
            (fake.seen(), w.daemon.logtext()[-2000:])
        released = {(e["ciaddr"], e["server"]) for e in fake.seen() if e["type"] == RELEASE}
        assert released == {(f"{HOSTILE}.{CANARY_HOST}", f"{HOSTILE}.{FAKE_HOST}")}, released
        assert records(w.daemon, "gone1") == []
        assert alive(w.daemon)
    finally:
        fake.stop()
    serves(w, make_ns, "after-gone")


@pytest.mark.parametrize("data, words", [
    (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x00\xff\n", ["malformed cnibox-dhcp block", "does not start"]),
    (b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: probe\r\n\r\n", ["HTTP request"]),
    (b"CONNECT /_goRPC_ HTTP/1.0\n\n", ["HTTP request"]),
    (b"CNIBOX-DHCP/1 ADD\nnetwork lan\ncontainer-id x\nifname eth0\nnetns /proc/self/ns/net\nclient-id zz\n\n",
     ["bad \"client-id\" field"]),
    (b"CNIBOX-DHCP/1 ADD\n\x00\x01garbage\n\n", ["malformed cnibox-dhcp block"]),
    (b"A" * 300000, ["request longer than 262144 bytes"]),
], ids=["binary", "http-get", "go-rpc-connect", "bad-field", "control-bytes", "no-newline-300k"])
def test_garbage_and_other_protocols_get_an_error_reply(world, make_ns, data, words):
    """Bytes that are not a request, an HTTP client (Go net/rpc's CONNECT
    included) and an oversized block: an error reply naming what came, and
    the connection closed."""
    reply = exchange(world.daemon, data)
    head, _, rest = reply.partition("\n")
    assert head == "CNIBOX-DHCP/1 ERROR 6", reply
    assert reply.endswith("\n\n"), reply
    for word in words:
        assert word in rest, reply
    assert alive(world.daemon)
    serves(world, make_ns, "after-garbage")


@pytest.mark.parametrize("netns", ["/etc/hostname", "/proc/self/status", "/run", "fifo", "/proc/1/ns/mnt",
                                   "/run/netns/../../proc/1/ns/net", "proc/1/ns/net"],
                         ids=["plain-file", "proc-file", "directory", "fifo", "mount-namespace", "dotdot",
                              "relative"])
def test_request_naming_no_network_namespace_is_refused(world, make_ns, netns, tmp_path):
    """The daemon runs as root on the requests of any client that reaches
    its socket: a netns field that is not a network namespace (a plain file,
    a procfs file, a directory, a FIFO that would block an open, another
    kind of namespace) gets an error reply at once, and nothing is done."""
    if netns == "fifo":
        netns = str(tmp_path / "fifo")
        os.mkfifo(netns)
    req = (f"CNIBOX-DHCP/1 ADD\nnetwork {NET}\ncontainer-id notns1\nifname eth0\nnetns {netns}\n\n").encode()
    t0 = time.monotonic()
    reply = exchange(world.daemon, req)
    assert time.monotonic() - t0 < 10, "the request waited"
    head, _, rest = reply.partition("\n")
    assert head.startswith("CNIBOX-DHCP/1 ERROR "), reply
    assert netns in rest, reply
    assert records(world.daemon, "notns1") == []
    assert alive(world.daemon)
    serves(world, make_ns, "after-notns")


def test_hostprefix_is_where_every_netns_is_opened(world, make_ns):
    """-hostprefix (the daemon in a container with the host's / mounted at
    the prefix): every request's netns is opened under it, and a '..' that
    would climb out of it is refused."""
    d = Daemon(world.hostile.host, args=("-hostprefix", "/nonexistent-prefix"))
    try:
        ctr = make_ns()
        req = f"CNIBOX-DHCP/1 ADD\nnetwork {NET}\ncontainer-id pfx1\nifname eth0\nnetns {ctr.path}\n\n"
        reply = exchange(d, req.encode())
        assert reply.startswith("CNIBOX-DHCP/1 ERROR "), reply
        assert "/nonexistent-prefix" + ctr.path in reply, reply
        req = f"CNIBOX-DHCP/1 ADD\nnetwork {NET}\ncontainer-id pfx2\nifname eth0\nnetns /../..{ctr.path}\n\n"
        reply = exchange(d, req.encode())
        assert reply.startswith("CNIBOX-DHCP/1 ERROR 6"), reply
        assert 'bad "netns" field' in reply, reply
        assert records(d, "pfx") == []
        assert alive(d)
    finally:
        d.cleanup()
