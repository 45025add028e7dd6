"""The packages of cross-built static binaries, made on this machine: the
architecture comes from the binary's ELF header (packaging/common.sh's
pkg_arch), never the machine's, and a foreign binary runs under qemu-user
where the scripts must run it. Per foreign architecture: the release tarball
(cnibox-<version>-linux-<goarch>.tar.gz), the .deb (Architecture, name,
contents; inspected with dpkg-deb, never installed here) and the installer
image (podman build --platform: its config's os/architecture/variant and the
rootfs in its layer); then one manifest list (packaging/manifest.sh) joining
the native and every cross image, one entry per platform.

The cross binaries: $CNIBOX_CROSS ("arm64=/abs/cnibox armhf=/abs/cnibox"),
default build-static-ARCH/out/cnibox in the source tree for ARCH arm64, armhf,
riscv64 where present (ARCH=ARCH packaging/build-static.sh
build-static-ARCH/out makes them). podman runs with scratch storage and
configuration (removed afterwards, with the few fixed places it writes
whatever it is told, when they were not there before); no registry is named
or contacted."""
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile

import pytest

import cnitest

ROOT = cnitest.ROOT
PKG = os.path.join(ROOT, "packaging")
GOARCH = {"amd64": "amd64", "arm64": "arm64", "armhf": "arm", "riscv64": "riscv64"}
# Debian architecture -> OCI platform (architecture, variant)
PLATFORM = {"amd64": ("amd64", None), "arm64": ("arm64", None), "armhf": ("arm", "v7"),
            "riscv64": ("riscv64", None)}
QEMU = cnitest.QEMU_USER
MACHINE_ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                              text=True).stdout.strip()


# test/static/test_packaging.py: the native packages' checks, reused
PACKAGING = cnitest.load_test_module("static", "test_packaging")
CROSS = {arch: path for arch, path, _ in cnitest.cross_binaries()}
cross_arches = pytest.mark.parametrize("arch", sorted(CROSS))


def run(argv, env=None, check=True, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, **(env or {})), **kw)
    if check:
        assert p.returncode == 0, f"{argv} -> {p.returncode}\n{p.stderr[-4000:]}"
    return p


def script(name, *args, env=None):
    return run([os.path.join(PKG, name), *args], env=env).stdout.strip()


def common(fn, *args, check=True):
    """A packaging/common.sh function's output."""
    p = run(["bash", "-c", f'. "{PKG}/common.sh"; {fn} "$@"', fn, *args], check=check)
    return p if not check else p.stdout.strip()


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def foreign(arch, argv):
    """argv run as an `arch` executable: through qemu-user unless native."""
    return argv if arch == MACHINE_ARCH else [QEMU[arch]] + argv


@pytest.fixture(scope="session")
def cross_bins():
    """Copies of the cross binaries (rebuilding one meanwhile changes no
    test's input), each checked to be a static binary of its arch."""
    d = tempfile.mkdtemp(prefix="cbt-cross-")
    out = {}
    for arch, path in CROSS.items():
        assert os.path.isfile(path), f"CNIBOX_CROSS: {arch}={path}: no such file"
        dst = os.path.join(d, arch, "cnibox")
        os.makedirs(os.path.dirname(dst))
        shutil.copy2(path, dst)
        out[arch] = dst
    yield out
    shutil.rmtree(d, ignore_errors=True)


def cross_bin(cross_bins, arch):
    b = cross_bins[arch]
    if shutil.which(QEMU[arch]) is None:
        pytest.skip(f"{QEMU[arch]} missing (apt-get install qemu-user-static)")
    return b


def applets_of(arch, binary):
    return run(foreign(arch, [binary, "--list"])).stdout.split()


# --- the architecture, from the ELF header -----------------------------------

def test_pkg_arch_from_elf_header(static_bin, cross_bins, outdir):
    assert common("pkg_arch", static_bin) == MACHINE_ARCH
    assert common("pkg_arch", "/bin/sh") == MACHINE_ARCH
    for arch, b in cross_bins.items():
        assert common("pkg_arch", b) == arch, b
    # Other cross toolchains' objects, where installed.
    for arch, f in (("arm64", "/usr/aarch64-linux-gnu/lib/libc.so.6"),
                    ("armhf", "/usr/arm-linux-gnueabihf/lib/libc.so.6"),
                    ("riscv64", "/usr/riscv64-linux-gnu/lib/libc.so.6")):
        if os.path.exists(f):
            assert common("pkg_arch", f) == arch, f
    text = os.path.join(outdir, "not-elf")
    with open(text, "w") as f:
        f.write("#!/bin/sh\n")
    p = common("pkg_arch", text, check=False)
    assert p.returncode != 0 and "not an ELF file" in p.stderr, p.stderr
    # A 32-bit ARM header without the hard-float flag: armel.
    hdr = bytearray(52)
    hdr[0:4] = b"\x7fELF"
    hdr[4], hdr[5], hdr[18] = 1, 1, 40
    hdr[36:40] = (0x05000000).to_bytes(4, "little")
    soft = os.path.join(outdir, "armel")
    with open(soft, "wb") as f:
        f.write(hdr)
    assert common("pkg_arch", soft) == "armel"
    hdr[36:40] = (0x05000400).to_bytes(4, "little")
    with open(soft, "wb") as f:
        f.write(hdr)
    assert common("pkg_arch", soft) == "armhf"


def test_arch_names():
    for arch, go in GOARCH.items():
        assert common("pkg_goarch", arch) == go
        a, v = PLATFORM[arch]
        assert common("pkg_platform", arch) == "/".join(x for x in ("linux", a, v) if x)
    assert common("pkg_goarch") == GOARCH.get(MACHINE_ARCH, MACHINE_ARCH)


def test_missing_qemu_is_named(cross_bins, outdir):
    """Without qemu-user a foreign binary is refused with the package to
    install (PATH: this machine's commands but qemu's)."""
    if not cross_bins:
        pytest.skip("no cross binaries")
    arch, b = sorted(cross_bins.items())[0]
    bindir = os.path.join(outdir, "bin")
    os.mkdir(bindir)
    for d in ("/usr/local/bin", "/usr/bin", "/usr/sbin"):
        for n in os.listdir(d):
            if not n.startswith("qemu-") and not os.path.lexists(os.path.join(bindir, n)):
                os.symlink(os.path.join(d, n), os.path.join(bindir, n))
    p = run([os.path.join(PKG, "tarball.sh"), os.path.join(outdir, "out"), b], check=False,
            env={"PATH": bindir})
    assert p.returncode != 0, p
    assert f"{QEMU[arch]} missing" in p.stderr and "apt-get install qemu-user-static" in p.stderr, p.stderr


# --- tarball -------------------------------------------------------------------

@cross_arches
def test_cross_tarball(arch, cross_bins, project_version, outdir):
    b = cross_bin(cross_bins, arch)
    PACKAGING.check_tarball(outdir, b, applets_of(arch, b), GOARCH[arch], project_version)


# --- .deb ------------------------------------------------------------------------

@cross_arches
def test_cross_deb(arch, cross_bins, project_version, outdir):
    b = cross_bin(cross_bins, arch)
    applets = applets_of(arch, b)
    deb = script("deb.sh", outdir, b)
    assert os.path.basename(deb) == f"cnibox_{project_version}_{arch}.deb"
    info = run(["dpkg-deb", "-I", deb]).stdout
    fields = dict(l.strip().split(": ", 1) for l in info.splitlines() if l.startswith(" ") and ": " in l
                  and not l.startswith("  "))
    assert fields["Package"] == "cnibox"
    assert fields["Architecture"] == arch
    assert fields["Version"] == project_version
    assert "Depends" not in fields
    assert f"Applets: {' '.join(applets)}" in info
    listing = run(["dpkg-deb", "-c", deb]).stdout.splitlines()
    files = {l.split()[5]: l for l in listing}
    assert files["./opt/cni/bin/cnibox"].startswith("-rwxr-xr-x root/root")
    for a in applets:
        assert files[f"./opt/cni/bin/{a}"].endswith("-> cnibox"), a
    # The payload's binary is the one given (dpkg-deb -x: unpacked, not installed).
    x = os.path.join(outdir, "x")
    run(["dpkg-deb", "-x", deb, x])
    assert sha256(os.path.join(x, "opt/cni/bin/cnibox")) == sha256(b)
    assert sorted(os.listdir(os.path.join(x, "opt/cni/bin"))) == sorted(["cnibox"] + applets)


# --- images ------------------------------------------------------------------------

# Where root's podman writes whatever its configuration says (as test/e2e's
# runtimes.py lists them).
PODMAN_FIXED = ["/dev/shm/libpod_lock", "/var/lib/containers/cache/blob-info-cache-v1.boltdb",
                "/var/lib/containers/cache", "/var/lib/containers"]


def _running(*names):
    return any(run(["pgrep", "-x", n], check=False).returncode == 0 for n in names)


@pytest.fixture(scope="session")
def podman_env():
    """podman's environment: scratch storage (vfs) and configuration; all of
    it (the images and lists the tests make) is removed afterwards."""
    if shutil.which("podman") is None:
        pytest.skip("podman missing")
    had = {p: os.path.exists(p) for p in PODMAN_FIXED}
    d = tempfile.mkdtemp(prefix="cbt-podman-")
    for k in ("root", "runroot", "tmp"):
        os.mkdir(os.path.join(d, k))
    with open(os.path.join(d, "storage.conf"), "w") as f:
        f.write(f'[storage]\ndriver = "vfs"\ngraphroot = "{d}/root"\nrunroot = "{d}/runroot"\n')
    with open(os.path.join(d, "containers.conf"), "w") as f:
        f.write(f'[engine]\ntmp_dir = "{d}/tmp"\nstatic_dir = "{d}/root/libpod"\n'
                f'volume_path = "{d}/root/volumes"\nevents_logger = "file"\n')
    env = {"CONTAINERS_CONF": os.path.join(d, "containers.conf"),
           "CONTAINERS_STORAGE_CONF": os.path.join(d, "storage.conf")}
    yield env
    run(["podman", "rmi", "-a", "-f"], env=env, check=False)  # lists and images
    shutil.rmtree(d, ignore_errors=True)
    if _running("podman", "conmon"):
        had["/dev/shm/libpod_lock"] = True   # someone else's podman uses it
    for p in PODMAN_FIXED:
        if had[p]:
            continue
        try:
            os.rmdir(p) if os.path.isdir(p) else os.unlink(p)
        except OSError:
            pass


def podman(env, *args):
    return run(["podman", *args], env=env).stdout


def busybox_error(arch):
    """Why there is no static busybox for that architecture's image (Debian's
    busybox-static, fetched with a private apt configuration into the
    packaging cache once), or None."""
    if arch == MACHINE_ARCH:
        return None
    p = common("pkg_fetch_busybox", arch, check=False)
    return None if p.returncode == 0 else f"no static {arch} busybox for the image: {p.stderr.strip()[-300:]}"


def busybox_for(arch):
    err = busybox_error(arch)
    if err:
        pytest.skip(err)


def blob(layout, digest):
    return os.path.join(layout, "blobs", *digest.split(":", 1))


def oci_images(layout):
    """[(platform from the index or None, manifest, config)] of an OCI layout,
    nested indexes followed."""
    out = []

    def walk(desc, platform):
        doc = json.load(open(blob(layout, desc["digest"])))
        if "manifests" in doc:
            for m in doc["manifests"]:
                walk(m, m.get("platform"))
        else:
            out.append((platform, doc, json.load(open(blob(layout, doc["config"]["digest"])))))

    for m in json.load(open(os.path.join(layout, "index.json")))["manifests"]:
        walk(m, m.get("platform"))
    return out


def rootfs_files(layout, manifest):
    """{path: (TarInfo, bytes of a regular file else None)} of the image's layers."""
    files = {}
    for layer in manifest["layers"]:
        with tarfile.open(blob(layout, layer["digest"]), "r:*") as t:
            for m in t.getmembers():
                files[m.name.lstrip("./")] = (m, t.extractfile(m).read() if m.isfile() else None)
    return files


def check_image(layout, manifest, config, arch, binary, applets, version, outdir):
    """The image's config (platform, label, entrypoint) and rootfs (the
    binary, its links, install-cni.sh, a busybox of the same arch)."""
    a, v = PLATFORM[arch]
    assert config["os"] == "linux" and config["architecture"] == a, config
    assert config.get("variant") == v, config
    assert config["config"]["Labels"]["org.opencontainers.image.version"] == version
    assert config["config"]["Entrypoint"] == ["/bin/sh", "/install-cni.sh"]
    files = rootfs_files(layout, manifest)
    m, data = files["opt/cni/bin/cnibox"]
    assert data == open(binary, "rb").read() and m.mode & 0o777 == 0o755
    for ap in applets:
        m, _ = files[f"opt/cni/bin/{ap}"]
        assert m.issym() and m.linkname == "cnibox", ap
    assert files["install-cni.sh"][1] == open(os.path.join(PKG, "install-cni.sh"), "rb").read()
    m, _ = files["bin/sh"]
    assert m.issym() and m.linkname == "busybox"
    head = os.path.join(outdir, "busybox-head")
    with open(head, "wb") as f:
        f.write(files["bin/busybox"][1][:64])
    assert common("pkg_arch", head) == arch


@cross_arches
def test_cross_image(arch, cross_bins, project_version, podman_env, outdir):
    b = cross_bin(cross_bins, arch)
    applets = applets_of(arch, b)
    busybox_for(arch)
    tag = f"localhost/cbt-cnibox:{project_version}-{GOARCH[arch]}"
    ctx = script("image-context.sh", os.path.join(outdir, "ctx"), b,
                 env=dict(podman_env, IMAGE="localhost/cbt-cnibox"))
    rootfs = os.path.join(ctx, "rootfs")
    assert sha256(os.path.join(rootfs, "opt/cni/bin/cnibox")) == sha256(b)
    assert common("pkg_arch", os.path.join(rootfs, "bin/busybox")) == arch
    layout = os.path.join(outdir, "oci")
    podman(podman_env, "push", "--quiet", tag, f"oci:{layout}")
    [(_, manifest, config)] = oci_images(layout)
    check_image(layout, manifest, config, arch, b, applets, project_version, outdir)
    # The same binary, the same image.
    image_id = podman(podman_env, "image", "inspect", "--format", "{{.Id}}", tag).strip()
    script("image-context.sh", os.path.join(outdir, "ctx2"), b, env=dict(podman_env, IMAGE=tag))
    assert podman(podman_env, "image", "inspect", "--format", "{{.Id}}", tag).strip() == image_id
    podman(podman_env, "rmi", tag)


def test_image_busybox_of_another_arch_refused(cross_bins, outdir):
    if not cross_bins:
        pytest.skip("no cross binaries")
    arch, b = sorted(cross_bins.items())[0]
    cross_bin(cross_bins, arch)
    p = run([os.path.join(PKG, "image-context.sh"), os.path.join(outdir, "ctx"), b], check=False,
            env={"BUSYBOX": "/bin/busybox"})
    assert p.returncode != 0 and f"a {MACHINE_ARCH} busybox" in p.stderr, p.stderr


# --- the manifest list ---------------------------------------------------------------

def test_manifest_list(static_bin, cross_bins, project_version, podman_env, outdir):
    """One list of the native and every cross image (where that
    architecture's busybox is to be had): one entry per platform, each the
    per-arch image tagged LIST-<goarch>; written as an OCI archive too, whose
    images hold each architecture's binary."""
    bins = {MACHINE_ARCH: static_bin}
    for arch in cross_bins:
        if shutil.which(QEMU[arch]) and not busybox_error(arch):
            bins[arch] = cross_bins[arch]
    lst = f"localhost/cbt-cnibox:{project_version}"
    archive = os.path.join(outdir, "cnibox-oci.tar")
    out = script("manifest.sh", lst, *bins.values(), env=dict(podman_env, ARCHIVE=archive))
    assert out == lst
    entries = json.loads(podman(podman_env, "manifest", "inspect", lst))["manifests"]
    want = sorted((a, PLATFORM[a]) for a in bins)
    got = sorted(((e["platform"]["architecture"], e["platform"].get("variant")) for e in entries))
    assert got == sorted(p for _, p in want), entries
    assert all(e["platform"]["os"] == "linux" for e in entries)
    for arch in bins:
        tag = f"{lst}-{GOARCH[arch]}"
        digest = podman(podman_env, "image", "inspect", "--format", "{{.Digest}}", tag).strip()
        [e] = [e for e in entries if (e["platform"]["architecture"], e["platform"].get("variant"))
               == PLATFORM[arch]]
        assert e["digest"] == digest, (arch, e, digest)

    # The archive: the same platforms, each image with its own binary.
    layout = os.path.join(outdir, "oci")
    os.mkdir(layout)
    with tarfile.open(archive) as t:
        t.extractall(layout)
    images = oci_images(layout)
    assert sorted((p["architecture"], p.get("variant")) for p, _, _ in images) == got
    by_platform = {(p["architecture"], p.get("variant")): (m, c) for p, m, c in images}
    for arch, b in bins.items():
        manifest, config = by_platform[PLATFORM[arch]]
        check_image(layout, manifest, config, arch, b, applets_of(arch, b), project_version, outdir)

    # Again from the images themselves: the list is replaced, not added to;
    # two images of one platform are refused.
    tags = [f"{lst}-{GOARCH[a]}" for a in bins]
    script("manifest.sh", lst, *tags, env=podman_env)
    assert sorted(e["digest"] for e in json.loads(podman(podman_env, "manifest", "inspect", lst))["manifests"]) \
        == sorted(e["digest"] for e in entries)
    p = run([os.path.join(PKG, "manifest.sh"), f"{lst}-twice", tags[0], tags[0]], env=podman_env, check=False)
    assert p.returncode != 0 and "not one image per platform" in p.stderr, p.stderr
    assert run(["podman", "manifest", "exists", f"{lst}-twice"], env=podman_env, check=False).returncode != 0
    podman(podman_env, "manifest", "rm", lst)
    podman(podman_env, "rmi", *tags)
