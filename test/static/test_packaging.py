"""The packages made from the static cnibox: the release tarball
(packaging/tarball.sh), the .deb (packaging/deb.sh; installed into and
removed from a scratch dpkg root, never the machine's) and the installer
image's layout (packaging/image-context.sh + install-cni.sh, run chrooted
onto a scratch "node" directory)."""
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import tarfile

import pytest

import cnitest

ROOT = cnitest.ROOT
PKG = os.path.join(ROOT, "packaging")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chroot)")
GOARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def script(name, *args, env=None):
    p = subprocess.run([os.path.join(PKG, name), *args], capture_output=True, text=True,
                       env=dict(os.environ, **(env or {})))
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# --- tarball ------------------------------------------------------------------

def check_tarball(outdir, binary, applets, goarch, version):
    """tarball.sh's archive of `binary`: its name, cnibox and one link per
    applet at the top, the .sha256, the same bytes when made again."""
    path = script("tarball.sh", outdir, binary)
    assert os.path.basename(path) == f"cnibox-{version}-linux-{goarch}.tar.gz"
    with tarfile.open(path) as t:
        members = {m.name: m for m in t.getmembers()}
        assert sorted(members) == sorted(["cnibox"] + applets)
        b = members["cnibox"]
        assert b.isfile() and b.mode == 0o755 and b.uid == 0 and b.gid == 0
        assert t.extractfile(b).read() == open(binary, "rb").read()
        for a in applets:
            assert members[a].issym() and members[a].linkname == "cnibox", a
    digest, name = open(path + ".sha256").read().split()
    assert name == os.path.basename(path) and digest == sha256(path)
    # Same binary, same bytes.
    again = script("tarball.sh", outdir, binary)
    assert again == path and sha256(path) == digest


def test_tarball(static_bin, project_version, applets, outdir):
    check_tarball(outdir, static_bin, applets, GOARCH, project_version)


def test_tarball_extracts_to_working_plugins(static_bin, outdir):
    path = script("tarball.sh", outdir, static_bin)
    dest = os.path.join(outdir, "opt-cni-bin")
    os.mkdir(dest)
    subprocess.run(["tar", "-C", dest, "-xzf", path], check=True)
    r = subprocess.run([os.path.join(dest, "host-local")], input="{}", capture_output=True, text=True,
                       env={"CNI_COMMAND": "VERSION"})
    assert r.returncode == 0 and '"supportedVersions"' in r.stdout, r


# --- .deb -----------------------------------------------------------------------

def deb_field(deb, field):
    return subprocess.run(["dpkg-deb", "-f", deb, field], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_deb_metadata_and_contents(static_bin, project_version, applets, outdir):
    deb = script("deb.sh", outdir, static_bin)
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    assert os.path.basename(deb) == f"cnibox_{project_version}_{arch}.deb"
    assert deb_field(deb, "Package") == "cnibox"
    assert deb_field(deb, "Version") == project_version
    assert deb_field(deb, "Architecture") == arch
    assert deb_field(deb, "Depends") == ""  # static: nothing
    listing = subprocess.run(["dpkg-deb", "--contents", deb], capture_output=True, text=True,
                             check=True).stdout.splitlines()
    files = {l.split()[5]: l for l in listing}
    assert files["./opt/cni/bin/cnibox"].startswith("-rwxr-xr-x root/root")
    for a in applets:
        assert f"./opt/cni/bin/{a}" in files and files[f"./opt/cni/bin/{a}"].endswith("-> cnibox"), a
    # Nothing outside /opt/cni/bin but the copyright file, and with the dhcp
    # applet its daemon's systemd units (and the directories).
    extra = [f for f, l in files.items() if not l.startswith("d") and not f.startswith("./opt/cni/bin/")]
    units = ["./lib/systemd/system/cnibox-dhcp.service", "./lib/systemd/system/cnibox-dhcp.socket"]
    assert sorted(extra) == sorted(["./usr/share/doc/cnibox/copyright"] + (units if "dhcp" in applets else []))
    for u in units if "dhcp" in applets else []:
        assert files[u].startswith("-rw-r--r-- root/root"), files[u]
    ctrl = subprocess.run(["dpkg-deb", "--ctrl-tarfile", deb], capture_output=True, check=True).stdout
    names = subprocess.run(["tar", "-t"], input=ctrl, capture_output=True, check=True).stdout.decode().split()
    assert sorted(n for n in names if n != "./") == ["./control", "./md5sums"]  # no maintainer scripts


def test_deb_installs_and_removes_cleanly(static_bin, applets, outdir):
    """dpkg -i / -r / -P into a scratch root (dpkg --root): the files land in
    /opt/cni/bin and go again, leaving nothing but dpkg's own database."""
    deb = script("deb.sh", outdir, static_bin)
    root = os.path.join(outdir, "root")
    for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"):
        os.makedirs(os.path.join(root, d))
    open(os.path.join(root, "var/lib/dpkg/status"), "w").close()
    dpkg = ["dpkg", f"--root={root}", "--force-not-root", "--log=/dev/null"]

    def run(*args):
        p = subprocess.run(dpkg + list(args), capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
        return p.stdout

    run("-i", deb)
    assert "Status: install ok installed" in run("-s", "cnibox")
    bindir = os.path.join(root, "opt/cni/bin")
    assert sorted(os.listdir(bindir)) == sorted(["cnibox"] + applets)
    assert sha256(os.path.join(bindir, "cnibox")) == sha256(static_bin)
    r = subprocess.run([os.path.join(bindir, "bridge")], input="{}", capture_output=True, text=True,
                       env={"CNI_COMMAND": "VERSION"})
    assert r.returncode == 0, r
    run("-r", "cnibox")
    run("-P", "cnibox")
    left = sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, dns, fns in os.walk(root) for f in fns + dns)
    assert [f for f in left if not f.startswith("var")] == []
    status = open(os.path.join(root, "var/lib/dpkg/status")).read()
    assert "cnibox" not in status


# --- installer image ----------------------------------------------------------------

busybox = pytest.mark.skipif(
    "statically linked" not in subprocess.run(["file", "-b", "/bin/busybox"], capture_output=True,
                                              text=True).stdout,
    reason="needs a static busybox (Debian package busybox-static)")


def run_in_image(rootfs, argv, binds, env=None):
    """Runs argv chrooted into an image's rootfs as a container runtime
    would: /proc and `binds` ({path in the image: directory}) mounted, only
    `env` in its environment, in a private mount namespace."""
    os.makedirs(os.path.join(rootfs, "proc"), exist_ok=True)
    sh = [f"mount -t proc proc {shlex.quote(rootfs)}/proc"]
    for path, src in binds.items():
        target = os.path.join(rootfs, path.lstrip("/"))
        os.makedirs(target, exist_ok=True)
        sh.append(f"mount --bind {shlex.quote(src)} {shlex.quote(target)}")
    e = " ".join(shlex.quote(f"{k}={v}") for k, v in (env or {}).items())
    sh.append(f"exec env -i {e} {shutil.which('chroot')} {shlex.quote(rootfs)} "
              + " ".join(shlex.quote(a) for a in argv))
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           "set -e; " + "; ".join(sh)], capture_output=True, text=True, timeout=60)


def install_cni(rootfs, node, env=None):
    """Runs the image's entrypoint with `node` mounted at /host/opt/cni/bin,
    as a DaemonSet would."""
    return run_in_image(rootfs, ["/bin/sh", "/install-cni.sh"], {"/host/opt/cni/bin": node}, env)


@needs_root
@busybox
def test_image_layout_and_install_cni(static_bin, applets, project_version, outdir):
    ctx = script("image-context.sh", os.path.join(outdir, "ctx"), static_bin)
    assert open(os.path.join(ctx, "Containerfile")).read().count("FROM scratch") == 1
    rootfs = os.path.join(ctx, "rootfs")
    assert sha256(os.path.join(rootfs, "opt/cni/bin/cnibox")) == sha256(static_bin)

    node = os.path.join(outdir, "node-opt-cni-bin")
    os.mkdir(node)
    r = install_cni(rootfs, node)
    assert r.returncode == 0, r.stderr
    assert f"cnibox {project_version}" in r.stderr
    assert sorted(os.listdir(node)) == sorted(["cnibox"] + applets)
    assert sha256(os.path.join(node, "cnibox")) == sha256(static_bin)
    assert os.stat(os.path.join(node, "cnibox")).st_mode & 0o777 == 0o755
    for a in applets:
        assert os.readlink(os.path.join(node, a)) == "cnibox"
    r = subprocess.run([os.path.join(node, "loopback")], input="{}", capture_output=True, text=True,
                       env={"CNI_COMMAND": "VERSION"})
    assert r.returncode == 0, r

    # Again: nothing to do, same result.
    ino = os.stat(os.path.join(node, "cnibox")).st_ino
    r = install_cni(rootfs, node)
    assert r.returncode == 0 and "up to date" in r.stderr, r.stderr
    assert os.stat(os.path.join(node, "cnibox")).st_ino == ino

    # A plugin installed before (a regular file) is kept unless CNI_FORCE=true.
    os.unlink(os.path.join(node, "bridge"))
    with open(os.path.join(node, "bridge"), "w") as f:
        f.write("old plugin")
    r = install_cni(rootfs, node)
    assert r.returncode != 0 and "--force" in r.stderr, r.stderr
    assert open(os.path.join(node, "bridge")).read() == "old plugin"
    r = install_cni(rootfs, node, {"CNI_FORCE": "true"})
    assert r.returncode == 0, r.stderr
    assert os.readlink(os.path.join(node, "bridge")) == "cnibox"
    assert [f for f in os.listdir(node) if f.startswith(".")] == []
