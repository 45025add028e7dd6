"""src/netlink against the real kernel: runs the nl_selftest program (built
from test/netlink) inside two namespaces made for it, then removes them.

The binary is $NL_SELFTEST, else build/test/netlink/nl_selftest, else the
newest build*/test/netlink/nl_selftest. Root only.
"""
import glob
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


def _selftest():
    env = os.environ.get("NL_SELFTEST")
    if env:
        return env
    default = os.path.join(ROOT, "build", "test", "netlink", "nl_selftest")
    if os.path.exists(default):
        return default
    found = glob.glob(os.path.join(ROOT, "build*", "test", "netlink", "nl_selftest"))
    return max(found, key=os.path.getmtime) if found else None


@pytest.fixture
def selftest():
    exe = _selftest()
    if not exe or not os.access(exe, os.X_OK):
        pytest.skip("nl_selftest not built (meson compile -C <builddir> nl_selftest)")
    return exe


def _run(exe, here, other):
    p = subprocess.run(["ip", "netns", "exec", here.name, exe, other.path],
                       capture_output=True, text=True, timeout=120)
    print(p.stdout)
    return p


def test_netlink_layer(selftest, make_ns):
    a, b = make_ns("cbt-nla"), make_ns("cbt-nlb")
    p = _run(selftest, a, b)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 failed" in p.stdout
    # What the layer left behind in the other namespace: the container end
    # and its addresses (proves the peer was really created there).
    links = b.links()
    assert "eth0" in links and links["eth0"]["mtu"] == 1400
    assert "10.9.0.2/24" in b.addrs("eth0")
    assert b.sysctl("net.ipv4.ip_forward") == "1"
    assert a.sysctl("net.ipv4.ip_forward") == "0"


def test_bad_netns_argument(selftest, make_ns):
    a = make_ns("cbt-nla")
    p = subprocess.run(["ip", "netns", "exec", a.name, selftest, "/run/netns/cbt-does-not-exist"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    assert 'failed to open netns "/run/netns/cbt-does-not-exist"' in p.stderr
