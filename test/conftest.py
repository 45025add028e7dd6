import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

import cnitest  # noqa: E402


@pytest.fixture
def host():
    """A namespace standing in for the machine's host namespace."""
    ns = cnitest.Netns("cbt-host")
    yield ns
    ns.delete()


@pytest.fixture
def make_ns():
    """Factory of extra namespaces (containers), all removed afterwards."""
    made = []

    def make(prefix="cbt-ctr"):
        ns = cnitest.Netns(prefix)
        made.append(ns)
        return ns
    yield make
    for ns in made:
        ns.delete()


@pytest.fixture
def ctr(make_ns):
    return make_ns()


@pytest.fixture
def scratch():
    s = cnitest.Scratch()
    yield s
    s.cleanup()


def _root_links():
    p = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True)
    try:
        return {l["ifname"] for l in json.loads(p.stdout)}
    except ValueError:
        return set()


@pytest.fixture(autouse=True)
def _machine_namespace_untouched(request):
    """No test may configure the machine's own network namespace: a link that
    appears there during a kernel-touching test fails that test."""
    kernel = any(f in request.fixturenames for f in ("host", "ctr", "make_ns"))
    if os.geteuid() != 0 or not kernel:
        yield
        return
    before = _root_links()
    yield
    new = _root_links() - before
    if new:
        pytest.fail(f"links appeared in the machine's own namespace: {sorted(new)}", pytrace=False)
