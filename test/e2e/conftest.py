"""Fixtures of the e2e tier: the busybox image (built once per run), a
podman and a containerd of the test's own, each inside a namespace the test
made, with cnibox's applet symlinks as their only CNI plugins."""
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cnitest  # noqa: E402
import runtimes  # noqa: E402


def _need(*tools):
    if os.geteuid() != 0:
        pytest.skip("the e2e tier needs root")
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pytest.skip(f"not installed: {' '.join(missing)} (.ci/deps.sh installs them)")


def _running(*names):
    """Whether a live (not zombie) process with one of these names exists."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.find("(") + 1:stat.rfind(")")]
        state = stat[stat.rfind(")") + 2:][:1]
        if comm in names and state != "Z":
            return True
    return False


@pytest.fixture(scope="session")
def _fixed_places():
    """The runtimes write to a few fixed places (runtimes.CNI_STATE, podman's
    lock segment and blob info cache, runc's root); what did not exist before
    the run is removed after it (the CNI state of each test's networks is
    removed by the fixtures below)."""
    cache = runtimes.PODMAN_BLOB_CACHE
    places = [runtimes.PODMAN_SHM_LOCK, cache, os.path.dirname(cache), os.path.dirname(os.path.dirname(cache)),
              runtimes.CNI_RESULTS, runtimes.CNI_LEASES, runtimes.CNI_STATE, runtimes.RUNC_ROOT]
    had = {p: os.path.exists(p) for p in places}
    yield
    if _running("podman", "conmon"):
        # someone else's podman is using the lock segment right now
        had[runtimes.PODMAN_SHM_LOCK] = True
    for p in places:
        if had[p]:
            continue
        try:
            if os.path.isdir(p):
                os.rmdir(p)
            else:
                os.unlink(p)
        except OSError:
            pass


@pytest.fixture(scope="session")
def e2e_image():
    _need("busybox", "chroot")
    img = runtimes.Image()
    yield img
    img.cleanup()


@pytest.fixture
def podman(make_ns, e2e_image, _fixed_places):
    _need("podman", "runc", "conmon", "nsenter", "strace", "curl", "nft", "iptables-legacy-save")
    ns = make_ns("cbt-e2e-pod")
    p = runtimes.Podman(ns, cnitest.cnibox_dir(), e2e_image)
    try:
        p.start()
        yield p
    finally:
        p.cleanup()


@pytest.fixture
def containerd(make_ns, e2e_image, _fixed_places):
    _need("containerd", "ctr", "containerd-shim-runc-v2", "runc", "nsenter", "unshare", "nft",
          "iptables-legacy-save")
    ns = make_ns("cbt-e2e-ctd")
    c = runtimes.Containerd(ns, cnitest.cnibox_dir(), e2e_image)
    try:
        c.start()
        yield c
    finally:
        c.cleanup()


@pytest.fixture
def client(make_ns):
    """A second client namespace joined to a runtime's namespace by a veth:
    client(ns) -> (client netns, address of ns on that link)."""
    def join(ns, prefix="192.0.2"):
        cl = make_ns("cbt-e2e-cl")
        host_if = "cbtcl" + cl.name[-6:]
        runtimes.run(["ip", "-n", ns.name, "link", "add", host_if, "type", "veth",
                      "peer", "name", "eth0", "netns", cl.name])
        ns.sh(f"ip addr add {prefix}.1/24 dev {host_if} && ip link set {host_if} up")
        cl.sh(f"ip addr add {prefix}.2/24 dev eth0 && ip link set eth0 up && "
              f"ip route add default via {prefix}.1")
        return cl, f"{prefix}.1"
    return join
