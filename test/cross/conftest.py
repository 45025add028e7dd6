"""The cross tier: the static binaries packaging/build-static.sh cross-builds
(ARCH=arm64|armhf|riscv64) run under qemu-user, called explicitly
(qemu-ARCH-static PROGRAM: no binfmt handler is registered).

Which binaries: $CNIBOX_CROSS, "ARCH=PATH ARCH=PATH ..." (space-separated);
unset, every build-static-ARCH/out/cnibox of the source tree that exists.
Every test taking the `cross` fixture runs once per architecture. An ARCH
that $CNIBOX_CROSS names whose binary is missing fails its tests; one left
out is listed in the report header as not tested.

The whole tier needs root (chroot, namespaces); without it every test is
skipped with that reason. Kernel-touching tests run the plugins in a "host"
namespace and containers the test makes (test/conftest.py's host, make_ns).
"""
import collections
import os
import shutil
import subprocess
import tempfile

import pytest

import cnitest

# arch: packaging/build-static.sh's ARCH; qemu: the qemu-user emulator;
# file: what `file` says of the binary's machine; machine/bits: e_machine
# and ELF class (32 or 64) of the ELF header.
Arch = collections.namedtuple("Arch", "arch qemu file machine bits")

ARCHES = {
    "arm64": Arch("arm64", cnitest.QEMU_USER["arm64"], "ARM aarch64", 183, 64),      # EM_AARCH64
    "armhf": Arch("armhf", cnitest.QEMU_USER["armhf"], "ARM, EABI5", 40, 32),        # EM_ARM
    "riscv64": Arch("riscv64", cnitest.QEMU_USER["riscv64"], "RISC-V", 243, 64),    # EM_RISCV
}


_static_conftest = cnitest.load_test_module("static", "conftest")
_static_build = cnitest.load_test_module("static", "test_static_build")

# The static tier's fixtures: meson.build's project version, the native static
# binary ($CNIBOX_STATIC) and a scratch directory.
project_version = _static_conftest.project_version
static_bin = _static_conftest.static_bin
outdir = _static_conftest.outdir


cross_targets = cnitest.cross_binaries


def pytest_report_header(config):
    targets = cross_targets()
    src = "CNIBOX_CROSS" if "CNIBOX_CROSS" in os.environ else "build-static-ARCH/out (CNIBOX_CROSS unset)"
    tested = {a for a, _, _ in targets}
    lines = [f"cross ({src}): " + (", ".join(f"{a}={p}" for a, p, _ in targets) or "nothing")]
    if "CNIBOX_CROSS" not in os.environ:
        absent = [a for a in ARCHES if a not in tested]
        if absent:
            lines.append("cross: not tested (no build-static-ARCH/out/cnibox): " + ", ".join(absent))
    return lines


def pytest_generate_tests(metafunc):
    if "cross" in metafunc.fixturenames:
        targets = cross_targets()
        if targets:
            metafunc.parametrize("cross", targets, ids=[a for a, _, _ in targets], indirect=True, scope="session")
        else:
            metafunc.parametrize("cross", [pytest.param(None, marks=pytest.mark.skip(
                reason="no cross-built binary: build one with `ARCH=arm64 bash packaging/build-static.sh "
                       "build-static-arm64/out` or set CNIBOX_CROSS=\"ARCH=PATH ...\""))],
                ids=["none"], indirect=True, scope="session")


@pytest.fixture(scope="session", autouse=True)
def _needs_root():
    if os.geteuid() != 0:
        pytest.skip("the cross tier needs root (chroot, network namespaces)")


class Cross:
    """One cross-built binary and the qemu-user that runs it."""

    def __init__(self, arch, binary):
        self.arch = ARCHES[arch]
        self.name = arch
        self.binary = binary
        self.qemu = shutil.which(self.arch.qemu) or os.path.join("/usr/bin", self.arch.qemu)
        self._bindir = None

    def run(self, args, env=None, stdin="", argv0=None):
        """The binary under qemu with `args` (argv[0] = `argv0` when given)."""
        cmd = [self.qemu] + (["-0", argv0] if argv0 else []) + [self.binary] + list(args)
        return cnitest.PluginResult(subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                                                   env=env, timeout=120))

    @property
    def bindir(self):
        """A directory of applet symlinks made by `cnibox --install` under qemu."""
        if self._bindir is None:
            d = tempfile.mkdtemp(prefix=f"cbt-cross-bin-{self.name}-")
            r = self.run(["--install", d])
            if not r.ok:
                shutil.rmtree(d, ignore_errors=True)
            assert r.ok, f"{self.name}: cnibox --install under qemu failed: {r!r}"
            self._bindir = d
        return self._bindir

    def plugin(self, applet, command, conf, **kw):
        """cnitest.run_plugin with the applet's symlink run under qemu and
        CNI_PATH the symlink directory (delegation finds host-local there)."""
        return cnitest.run_plugin(applet, command, conf, binary=os.path.join(self.bindir, applet),
                                  cni_path=self.bindir, wrapper=[self.qemu], **kw)

    def cleanup(self):
        if self._bindir:
            shutil.rmtree(self._bindir, ignore_errors=True)


@pytest.fixture(scope="session")
def cross(request):
    """The Cross of this test's architecture."""
    arch, path, named = request.param
    if arch not in ARCHES:
        pytest.fail(f"CNIBOX_CROSS names an unknown ARCH {arch!r} (known: {', '.join(ARCHES)})", pytrace=False)
    if not path or not os.path.isfile(path):
        pytest.fail(f"CNIBOX_CROSS names {arch}={path or '(no path)'}, which is not there: build it with "
                    f"`ARCH={arch} bash packaging/build-static.sh build-static-{arch}/out`", pytrace=False)
    c = Cross(arch, path)
    if not os.access(c.qemu, os.X_OK):
        pytest.fail(f"{arch}: {c.arch.qemu} is not installed (qemu-user-static)", pytrace=False)
    yield c
    c.cleanup()


@pytest.fixture(scope="session")
def static_build():
    """test/static/test_static_build.py: EmptyRoot, cni_env, lo_up, VERSION_REPLY
    and its file checks, reused by the cross tier."""
    return _static_build


class QemuRoot(_static_build.EmptyRoot):
    """The static tier's empty root with the static qemu-user copied in as
    /qemu-ARCH-static; run() execs argv through it."""

    def __init__(self, cross, links=()):
        super().__init__(cross.binary, links)
        self.qemu = "/" + cross.arch.qemu
        shutil.copy2(cross.qemu, self.path + self.qemu)

    def run(self, argv, env, stdin="", nets=None, run_in=None):
        return super().run([self.qemu] + list(argv), env, stdin, nets, run_in)


@pytest.fixture
def bridge_conf(scratch):
    """Factory of bridge configs with host-local as IPAM (dataDir in
    `scratch`) and the bridge as gateway; no ipMasq (no netfilter rule)."""
    def make(net, bridge, subnet, **kw):
        c = {"cniVersion": "1.1.0", "name": net, "type": "bridge", "bridge": bridge,
             "isGateway": True, "ipMasq": False,
             "ipam": {"type": "host-local", "dataDir": scratch.path, "ranges": [[{"subnet": subnet}]]}}
        c.update(kw)
        return c
    return make


@pytest.fixture
def qemu_root(cross):
    """Factory of QemuRoots (links: applet symlinks in /bin), removed afterwards."""
    roots = []

    def make(links=()):
        r = QemuRoot(cross, links)
        roots.append(r)
        return r
    yield make
    for r in roots:
        r.cleanup()
