#!/usr/bin/env python3
"""A TCP transfer of a few seconds and its rate, for the demo's shaped container.

  rate.py recv PORT               accept one connection, print the rate it arrived at
  rate.py send ADDR PORT SECONDS  send as fast as the path allows for SECONDS

The receiver counts from the end of the first half second, so the token
bucket's burst (sent at line rate) does not inflate the figure.
"""
import socket
import sys
import time


def recv(port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(1)
    print("ready", flush=True)
    conn, _ = srv.accept()
    start = time.monotonic()
    counted, t0 = 0, None
    while True:
        data = conn.recv(1 << 16)
        if not data:
            break
        now = time.monotonic()
        if t0 is None and now - start >= 0.5:
            t0 = now
        elif t0 is not None:
            counted += len(data)
    end = time.monotonic()
    if t0 is None or end <= t0:
        sys.exit("transfer too short to measure")
    print(f"{counted * 8 / (end - t0) / 1e6:.1f} Mbit/s")


def send(addr, port, seconds):
    s = socket.create_connection((addr, port), timeout=10)
    buf = b"x" * (1 << 16)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.sendall(buf)
    s.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "recv":
        recv(int(sys.argv[2]))
    elif len(sys.argv) == 5 and sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.exit(__doc__)
