"""Differential tier: the same input to upstream's Go plugins (/usr/lib/cni)
and to cnibox, each side in its own twin namespaces (a "host" namespace the
plugin runs in, "container" namespaces it attaches) with its own scratch
dataDir; then the results, error codes, kernel state and lease files are
compared (helpers in cnidiff.py).

Where cnibox differs from the reference on purpose (README, "Compatibility"),
the comparison asserts that documented difference instead of equality; each
such place names its entry in cnidiff.DIFFERENCES.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cnidiff  # noqa: E402
import cnitest  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if not cnitest.have_ref("bridge"):
        skip = pytest.mark.skip(reason="reference plugins not installed in /usr/lib/cni "
                                       "(apt-get install containernetworking-plugins)")
        for it in items:
            if "/diff/" in str(it.fspath):
                it.add_marker(skip)


@pytest.fixture
def twin(make_ns):
    t = cnidiff.Twin(make_ns)
    yield t
    t.cleanup()
