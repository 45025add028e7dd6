"""A hostile DHCP server for the dhcp daemon's robustness tests.

Run as a program in the server namespace of a DnsmasqLan (dhcplan.py), on
srv0, it reads every DHCPDISCOVER and DHCPREQUEST a client broadcasts on an
AF_PACKET socket and answers each at once with a burst of crafted Ethernet
frames, each broken in one way a client must notice: the IPv4 and UDP
framing, the BOOTP header, the options (overrun, overload, repetition), and
what an OFFER, ACK or NAK must carry. Each frame of a DISCOVER's burst
offers an address of its own (KIND_BASE and up), so a REQUEST for one of
them names the frame the client took. With --canary the burst ends with one
well-formed OFFER (host CANARY_HOST): a REQUEST for it proves the fake's
frames reach the client and are read, after every broken one before it.

Everything it sees and sends goes to an events file, one JSON object a
line: {"ev": "ready"}, {"ev": "rx", ...} per client message and
{"ev": "burst", ...} per answer. FakeDhcp (imported by a test) starts it in
the LAN's server namespace and reads those events.

    fakedhcp.py IFACE EVENTS SUBNET [--canary]
"""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

FAKE_HOST = 2          # <subnet>.2: the fake's IP source address and server identifier
OTHER_HOST = 3         # <subnet>.3: a server nobody asked
KIND_BASE = 160        # the broken OFFERs' addresses: <subnet>.160 and up
CANARY_HOST = 250      # the well-formed OFFER of --canary

ETH_P_IP = 0x0800
PACKET_OUTGOING = 4
MAGIC = b"\x63\x82\x53\x63"
DISCOVER, OFFER, REQUEST, ACK, NAK, RELEASE = 1, 2, 3, 5, 6, 7


def ip4(s):
    return socket.inet_aton(s)


def csum(data):
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def options(opts):
    """[(code, bytes)] in wire form, without End."""
    return b"".join(bytes([c, len(v)]) + v for c, v in opts)


def bootp(xid, chaddr, yiaddr, opts, *, op=2, hlen=6, cookie=MAGIC, sname=b"", file=b"", end=True, pad=True):
    """A BOOTP message; `opts` a list of (code, bytes) or raw option bytes."""
    head = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", op, 1, hlen, 0, xid, 0, 0, ip4("0.0.0.0"), ip4(yiaddr),
                       ip4("0.0.0.0"), ip4("0.0.0.0"), chaddr.ljust(16, b"\0"), sname.ljust(64, b"\0"),
                       file.ljust(128, b"\0"))
    body = head + cookie + (opts if isinstance(opts, bytes) else options(opts)) + (b"\xff" if end else b"")
    return body.ljust(300, b"\0") if pad else body


def ipv4_udp(payload, src, dst="255.255.255.255", sport=67, dport=68, *, udp_len=None, udp_sum="good",
             sum_len=None, ip_total=None, ihl=5, ip_opts=b"", version=4, frag=0, proto=17, bad_ip_sum=False):
    """IPv4 + UDP around `payload`; every keyword breaks one field. The UDP
    checksum covers `sum_len` bytes of the datagram (all by default), as its
    sender would have computed it for the length it claims."""
    ulen = 8 + len(payload) if udp_len is None else udp_len
    udp = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    n = len(udp) if sum_len is None else sum_len
    if udp_sum != "none":
        pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 17, n)
        s = csum(pseudo + udp[:n]) or 0xffff
        if udp_sum == "bad":
            s = (s ^ 0x5a5a) or 1
        udp = udp[:6] + struct.pack("!H", s) + udp[8:]
    hlen = 20 + len(ip_opts)
    total = hlen + len(udp) if ip_total is None else ip_total
    hdr = struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl, 0, total, 0, frag, 64, proto, 0, ip4(src),
                      ip4(dst)) + ip_opts
    s = csum(hdr) ^ (0x1111 if bad_ip_sum else 0)
    return hdr[:10] + struct.pack("!H", s) + hdr[12:] + udp


class Ctx:
    """What a burst answers: the client's message, and the reply it would get."""

    def __init__(self, subnet, xid, chaddr, cmac, smac, reply, server, yiaddr):
        self.subnet, self.xid, self.chaddr, self.cmac, self.smac = subnet, xid, chaddr, cmac, smac
        self.reply = reply                # OFFER for a DISCOVER, ACK for a REQUEST
        self.server = server              # the server identifier the client expects
        self.yiaddr = yiaddr              # what an ACK confirms (the REQUEST's address)
        self.fake = f"{subnet}.{FAKE_HOST}"
        self.other = f"{subnet}.{OTHER_HOST}"

    def opts(self, mtype=None, server="expected", extra=()):
        """The options of a well-formed reply of `mtype` (default: the reply
        this burst makes), server identifier 54 as asked."""
        t = self.reply if mtype is None else mtype
        o = [(53, bytes([t]))]
        sid = {"expected": self.server, "other": self.other}.get(server, server)
        if sid is not None:
            o.append((54, ip4(sid)))
        if t in (OFFER, ACK):
            o += [(1, ip4("255.255.255.0")), (51, struct.pack("!I", 600)), (3, ip4(self.fake))]
        return o + list(extra)

    def msg(self, y, mtype=None, server="expected", **kw):
        return bootp(kw.pop("xid", self.xid), kw.pop("chaddr", self.chaddr), y,
                     kw.pop("opts", None) or self.opts(mtype, server), **kw)

    def frame(self, payload, **kw):
        return self.cmac + self.smac + struct.pack("!H", ETH_P_IP) + ipv4_udp(payload, self.fake, **kw)


def _flip(b):
    return b[:-1] + bytes([b[-1] ^ 1])


# Each kind: (name, which bursts ("offer", "ack" or "both"), builder(ctx, yiaddr) -> frame).
# Nothing here may be taken by a client: each is broken, or not meant for it.
KINDS = [
    # -- IPv4 and UDP framing around a message that is otherwise right
    ("ip_total_length_past_frame", "both", lambda c, y: c.frame(c.msg(y), ip_total=28 + 300 + 64)),
    ("ip_header_cut", "both", lambda c, y: c.frame(c.msg(y))[:14 + 16]),
    ("ip_bad_header_checksum", "both", lambda c, y: c.frame(c.msg(y), bad_ip_sum=True)),
    ("ip_ihl_below_5", "both", lambda c, y: c.frame(c.msg(y), ihl=4)),
    ("ip_ihl_past_total_length", "both",
     lambda c, y: c.frame(c.msg(y), ihl=15, ip_opts=b"\x01" * 40, ip_total=40)),
    ("ip_more_fragments", "both", lambda c, y: c.frame(c.msg(y), frag=0x2000)),
    ("ip_fragment_offset", "both", lambda c, y: c.frame(c.msg(y), frag=0x0010)),
    ("ip_not_udp", "both", lambda c, y: c.frame(c.msg(y), proto=6)),
    ("ip_version_6", "both", lambda c, y: c.frame(c.msg(y), version=6)),
    ("udp_length_past_ip_payload", "both", lambda c, y: c.frame(c.msg(y), udp_len=8 + 300 + 32)),
    ("udp_length_below_header", "both", lambda c, y: c.frame(c.msg(y), udp_len=4)),
    ("udp_length_cuts_the_message", "both", lambda c, y: c.frame(c.msg(y), udp_len=8 + 200, sum_len=8 + 200)),
    ("udp_header_cut", "both", lambda c, y: c.frame(c.msg(y), ip_total=20 + 6)[:14 + 26]),
    ("udp_bad_checksum", "both", lambda c, y: c.frame(c.msg(y), udp_sum="bad")),
    ("udp_to_port_69", "both", lambda c, y: c.frame(c.msg(y), dport=69)),
    ("udp_payload_not_dhcp", "both", lambda c, y: c.frame(bytes(range(7, 71)))),
    ("udp_payload_empty", "both", lambda c, y: c.frame(b"")),
    # -- the BOOTP header
    ("bootp_cut_before_cookie", "both", lambda c, y: c.frame(c.msg(y)[:238])),
    ("bootrequest_op", "both", lambda c, y: c.frame(c.msg(y, op=1))),
    ("wrong_xid", "both", lambda c, y: c.frame(c.msg(y, xid=c.xid ^ 0x01010101))),
    ("wrong_chaddr", "both", lambda c, y: c.frame(c.msg(y, chaddr=_flip(c.chaddr)))),
    ("wrong_magic_cookie", "both", lambda c, y: c.frame(c.msg(y, cookie=b"\x63\x82\x53\x64"))),
    ("hlen_17", "both", lambda c, y: c.frame(c.msg(y, hlen=17))),
    # -- the options
    ("option_runs_past_the_end", "both",
     lambda c, y: c.frame(c.msg(y, opts=options(c.opts()) + b"\x0c\xc8abcde", end=False, pad=False))),
    ("option_without_length_byte", "both",
     lambda c, y: c.frame(c.msg(y, opts=options(c.opts()) + b"\x0c", end=False, pad=False))),
    ("no_end_option_then_garbage", "both",
     lambda c, y: c.frame(c.msg(y, opts=options(c.opts()) + b"\x2b\xf0" + b"x" * 20, end=False, pad=False))),
    ("overload_value_4", "both", lambda c, y: c.frame(c.msg(y, opts=c.opts(extra=[(52, b"\x04")])))),
    ("overload_two_bytes", "both", lambda c, y: c.frame(c.msg(y, opts=c.opts(extra=[(52, b"\x01\x01")])))),
    ("overload_into_file_garbage", "both",
     lambda c, y: c.frame(c.msg(y, opts=c.opts(extra=[(52, b"\x01")]), file=b"\x0c\xf0" + b"g" * 126))),
    ("overload_into_sname_garbage", "both",
     lambda c, y: c.frame(c.msg(y, opts=c.opts(extra=[(52, b"\x02")]), sname=b"\x0c\x50" + b"g" * 62))),
    # file and sname name each other again and add a second message type:
    # read once each, as RFC 3396 says, the type is two bytes, no type.
    ("overload_nested_loop", "both",
     lambda c, y: c.frame(c.msg(y, opts=c.opts(extra=[(52, b"\x03")]),
                                file=options([(52, b"\x03"), (53, bytes([c.reply]))]) + b"\xff",
                                sname=options([(52, b"\x01")]) + b"\xff"))),
    ("message_type_repeated_300_times", "both",
     lambda c, y: c.frame(c.msg(y, opts=c.opts(extra=[(53, bytes([c.reply]))] * 299)))),
    ("server_id_repeated_150_times", "both",
     lambda c, y: c.frame(c.msg(y, opts=c.opts(extra=[(54, ip4(c.server))] * 149)))),
    ("message_type_two_bytes", "both",
     lambda c, y: c.frame(c.msg(y, opts=[(53, bytes([c.reply, c.reply]))] + c.opts()[1:]))),
    ("no_message_type", "both", lambda c, y: c.frame(c.msg(y, opts=c.opts()[1:]))),
    # -- a reply of the wrong kind for the state
    ("ack_while_selecting", "offer", lambda c, y: c.frame(c.msg(y, ACK))),
    ("nak_while_selecting", "offer", lambda c, y: c.frame(c.msg("0.0.0.0", NAK))),
    ("offer_while_requesting", "ack", lambda c, y: c.frame(c.msg(y, OFFER))),
    ("request_echoed_as_reply", "ack", lambda c, y: c.frame(c.msg(y, REQUEST))),
    # -- an OFFER without what the client needs, or with what it must not take
    ("offer_yiaddr_zero", "offer", lambda c, y: c.frame(c.msg("0.0.0.0"))),
    ("offer_yiaddr_this_network", "offer", lambda c, y: c.frame(c.msg("0.1.2.3"))),
    ("offer_yiaddr_loopback", "offer", lambda c, y: c.frame(c.msg("127.0.0.9"))),
    ("offer_yiaddr_multicast", "offer", lambda c, y: c.frame(c.msg("224.0.0.9"))),
    ("offer_yiaddr_broadcast", "offer", lambda c, y: c.frame(c.msg("255.255.255.255"))),
    ("offer_without_server_id", "offer", lambda c, y: c.frame(c.msg(y, server=None))),
    ("offer_server_id_3_bytes", "offer",
     lambda c, y: c.frame(c.msg(y, opts=[c.opts()[0], (54, ip4(c.server)[:3])] + c.opts()[2:]))),
    ("offer_server_id_zero", "offer", lambda c, y: c.frame(c.msg(y, server="0.0.0.0"))),
    ("offer_server_id_broadcast", "offer", lambda c, y: c.frame(c.msg(y, server="255.255.255.255"))),
    ("offer_server_id_multicast", "offer", lambda c, y: c.frame(c.msg(y, server="224.0.0.1"))),
    # -- an ACK or NAK that is not the asked server's
    ("ack_from_another_server", "ack", lambda c, y: c.frame(c.msg(y, server="other"))),
    ("ack_without_server_id", "ack", lambda c, y: c.frame(c.msg(y, server=None))),
    ("nak_from_another_server", "ack", lambda c, y: c.frame(c.msg("0.0.0.0", NAK, server="other"))),
    ("nak_without_server_id", "ack", lambda c, y: c.frame(c.msg("0.0.0.0", NAK, server=None))),
    ("nak_wrong_xid", "ack", lambda c, y: c.frame(c.msg("0.0.0.0", NAK, xid=c.xid ^ 0x01010101))),
    ("nak_wrong_chaddr", "ack", lambda c, y: c.frame(c.msg("0.0.0.0", NAK, chaddr=_flip(c.chaddr)))),
    ("nak_bad_udp_checksum", "ack", lambda c, y: c.frame(c.msg("0.0.0.0", NAK), udp_sum="bad")),
    ("nak_ip_total_length_past_frame", "ack",
     lambda c, y: c.frame(c.msg("0.0.0.0", NAK), ip_total=28 + 300 + 64)),
]


def kinds_for(reply):
    want = "offer" if reply == OFFER else "ack"
    return [(n, b) for n, w, b in KINDS if w in (want, "both")]


def offer_address(subnet, i):
    """The address the i-th broken OFFER offers (host KIND_BASE + i)."""
    return f"{subnet}.{KIND_BASE + i}"


def parse_request(data):
    """A client's DHCP message in an Ethernet frame (IPv4, UDP to port 67,
    BOOTREQUEST), as a dict; None for anything else."""
    if len(data) < 14 + 20 + 8 + 240 or data[12:14] != b"\x08\x00":
        return None
    ip = data[14:]
    ihl = (ip[0] & 15) * 4
    if ip[0] >> 4 != 4 or ip[9] != 17 or len(ip) < ihl + 8 + 240:
        return None
    if struct.unpack("!H", ip[ihl + 2:ihl + 4])[0] != 67:
        return None
    m = ip[ihl + 8:]
    if m[0] != 1 or m[236:240] != MAGIC:
        return None
    opts, i = {}, 240
    while i < len(m) and m[i] != 255:
        if m[i] == 0:
            i += 1
            continue
        if i + 1 >= len(m):
            break
        n = m[i + 1]
        opts[m[i]] = opts.get(m[i], b"") + m[i + 2:i + 2 + n]
        i += 2 + n
    ipopt = lambda c: socket.inet_ntoa(opts[c]) if len(opts.get(c, b"")) == 4 else None  # noqa: E731
    return {"src": data[6:12], "xid": struct.unpack("!I", m[4:8])[0], "chaddr": m[28:34],
            "ciaddr": socket.inet_ntoa(m[12:16]),
            "type": opts.get(53, b"\0")[0] if len(opts.get(53, b"")) == 1 else 0,
            "requested": ipopt(50), "server": ipopt(54)}


def serve(iface, events, subnet, canary):
    out = open(events, "a", buffering=1)

    def log(**ev):
        out.write(json.dumps(ev) + "\n")

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    s.bind((iface, ETH_P_IP))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    smac = s.getsockname()[4][:6]
    fake = f"{subnet}.{FAKE_HOST}"
    log(ev="ready", mac=smac.hex(":"))
    while True:
        data, addr = s.recvfrom(65535)
        if addr[2] == PACKET_OUTGOING:
            continue
        q = parse_request(data)
        if not q:
            continue
        log(ev="rx", type=q["type"], xid=q["xid"], chaddr=q["chaddr"].hex(":"), requested=q["requested"],
            server=q["server"], ciaddr=q["ciaddr"])
        if q["type"] not in (DISCOVER, REQUEST):
            continue
        if q["type"] == DISCOVER:
            reply, server, confirm = OFFER, fake, None
        else:
            reply, server = ACK, q["server"] or fake
            confirm = q["requested"] or q["ciaddr"]
        c = Ctx(subnet, q["xid"], q["chaddr"], q["src"], smac, reply, server, confirm)
        frames, names = [], {}
        for i, (name, build) in enumerate(kinds_for(reply)):
            y = offer_address(subnet, i) if reply == OFFER else confirm
            frames.append(build(c, y))
            names[name] = y
        if canary and reply == OFFER:
            y = f"{subnet}.{CANARY_HOST}"
            frames.append(c.frame(c.msg(y)))
            names["canary"] = y
        sent, errors = 0, []
        for f in frames:
            try:
                s.send(f)
                sent += 1
            except OSError as e:
                errors.append(str(e))
        log(ev="burst", xid=q["xid"], reply="offer" if reply == OFFER else "ack", frames=len(frames), sent=sent,
            errors=errors, kinds=names)


class FakeDhcp:
    """The fake server running in `lan`'s server namespace on srv0 (a
    dhcplan.DnsmasqLan), next to dnsmasq or alone."""

    def __init__(self, lan, canary=False):
        self.lan = lan
        self.events_path = os.path.join(lan.dir, f"fakedhcp-{time.monotonic_ns()}.jsonl")
        args = [sys.executable, os.path.abspath(__file__), "srv0", self.events_path, lan.subnet]
        self.proc = subprocess.Popen(["ip", "netns", "exec", lan.srv.name] + args + (["--canary"] if canary else []),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        end = time.time() + 5
        while not any(e["ev"] == "ready" for e in self.events()):
            if self.proc.poll() is not None:
                raise RuntimeError("fakedhcp exited: " + self.proc.stderr.read().decode(errors="replace"))
            if time.time() > end:
                self.stop()
                raise RuntimeError("fakedhcp did not start within 5 s")
            time.sleep(0.01)

    def events(self):
        try:
            with open(self.events_path) as f:
                return [json.loads(line) for line in f if line.endswith("\n")]
        except FileNotFoundError:
            return []

    def seen(self, chaddr=None):
        """The client messages it read: [{"type", "xid", "chaddr", "requested", "server", "ciaddr"}]."""
        return [e for e in self.events() if e["ev"] == "rx" and (chaddr is None or e["chaddr"] == chaddr)]

    def bursts(self, xids=None):
        return [e for e in self.events() if e["ev"] == "burst" and (xids is None or e["xid"] in xids)]

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        import cnitest  # not at the top: this file also runs as the fake server itself
        cnitest.stop_process(self.proc)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    serve(sys.argv[1], sys.argv[2], sys.argv[3], "--canary" in sys.argv[4:])
