import os
import shutil
import subprocess
import tempfile

import pytest

import cnitest

ROOT = cnitest.ROOT


@pytest.fixture(scope="session")
def static_bin():
    """The static cnibox under test: $CNIBOX_STATIC (test/run's static tier
    builds it with packaging/build-static.sh and sets it)."""
    b = os.environ.get("CNIBOX_STATIC")
    if not b:
        pytest.fail("CNIBOX_STATIC is not set: run `bash test/run static`, or build with "
                    "packaging/build-static.sh OUT and set CNIBOX_STATIC=OUT/cnibox", pytrace=False)
    if not os.access(b, os.X_OK):
        pytest.fail(f"CNIBOX_STATIC={b}: not an executable", pytrace=False)
    return os.path.abspath(b)


@pytest.fixture(scope="session")
def project_version():
    """meson.build's project version: the one place the version is written."""
    import json
    out = subprocess.run(["meson", "introspect", "--projectinfo", os.path.join(ROOT, "meson.build")],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["version"]


@pytest.fixture(scope="session")
def applets(static_bin):
    return subprocess.run([static_bin, "--list"], check=True, capture_output=True,
                          text=True).stdout.split()


@pytest.fixture
def outdir():
    """A scratch directory, removed afterwards."""
    d = tempfile.mkdtemp(prefix="cbt-pkg-")
    yield d
    shutil.rmtree(d, ignore_errors=True)
