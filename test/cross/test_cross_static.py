"""The static tier's checks for each cross-built binary (test/static),
run under qemu-user where they execute it: `file` names the architecture and
says statically linked; no PT_INTERP, no dynamic section; the size budget;
--version prints the project version and every applet meson offers; the
VERSION command; loopback ADD/DEL chrooted into an empty root holding only
the binary, its applet symlinks and the static qemu.
"""
import json
import os
import struct
import subprocess

SIZE_BUDGET = 1_200_000  # bytes, stripped, every applet

PT_INTERP, PT_DYNAMIC = 3, 2
ET_EXEC = 2


def elf_header(path):
    """(bits, e_type, e_machine, [p_type of every program header])."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"\x7fELF", f"{path}: not an ELF file"
    bits = {1: 32, 2: 64}[data[4]]
    end = {1: "<", 2: ">"}[data[5]]
    e_type, e_machine = struct.unpack_from(end + "HH", data, 16)
    if bits == 64:
        e_phoff, = struct.unpack_from(end + "Q", data, 32)
        e_phentsize, e_phnum = struct.unpack_from(end + "HH", data, 54)
    else:
        e_phoff, = struct.unpack_from(end + "I", data, 28)
        e_phentsize, e_phnum = struct.unpack_from(end + "HH", data, 42)
    ptypes = [struct.unpack_from(end + "I", data, e_phoff + i * e_phentsize)[0] for i in range(e_phnum)]
    return bits, e_type, e_machine, ptypes


def test_file_says_arch_and_statically_linked(cross, static_build):
    desc = subprocess.run(["file", "-b", cross.binary], capture_output=True, text=True).stdout
    assert cross.arch.file in desc, f"{cross.name}: expected {cross.arch.file!r}: {desc}"
    # The static tier's own check: "statically linked", not static-pie, stripped.
    static_build.test_file_says_statically_linked(cross.binary)


def test_no_interpreter_no_dynamic_section(cross, static_build):
    bits, e_type, machine, ptypes = elf_header(cross.binary)
    assert (bits, machine) == (cross.arch.bits, cross.arch.machine), \
        f"{cross.name}: ELF class {bits}, e_machine {machine}"
    assert e_type == ET_EXEC, f"e_type {e_type}: not a plain (non-PIE) executable"
    assert PT_INTERP not in ptypes and PT_DYNAMIC not in ptypes, f"program header types {ptypes}"
    # readelf -lW / -dW, as the static tier reads them.
    static_build.test_no_interpreter_no_dynamic_section(cross.binary)


def test_size_budget(cross):
    size = os.path.getsize(cross.binary)
    assert size <= SIZE_BUDGET, f"{cross.name}: {size} bytes (budget {SIZE_BUDGET})"


def test_version_under_qemu(cross, project_version, static_build):
    """--version: the project version and exactly the applets meson offers
    (--list agrees); the banner of an applet run by hand."""
    r = cross.run(["--version"])
    assert r.ok, r
    lines = r.stdout.splitlines()
    assert lines[0] == f"cnibox {project_version} - CNI plugins in one binary", r
    listed = cross.run(["--list"])
    assert listed.ok, listed
    applets = listed.stdout.split()
    assert lines[2] == "Applets: " + " ".join(applets), r
    static_build.test_every_meson_applet_is_in(applets)
    r = cross.run([], env={"PATH": "/usr/bin:/bin"}, argv0="loopback")
    assert r.ok and r.stdout == "", r
    assert r.stderr.splitlines()[0] == f"CNI loopback plugin v{project_version}", r


def test_version_command_under_qemu(cross, static_build):
    r = cross.plugin("loopback", "VERSION", {"cniVersion": "1.0.0"})
    assert r.ok, r
    assert "1.1.0" in r.json["supportedVersions"], r
    assert r.json == static_build.VERSION_REPLY


def test_empty_root_version(cross, qemu_root, static_build, project_version):
    root = qemu_root(links=["loopback"])
    assert root.files() == sorted(["bin", "bin/loopback", "cnibox", "ns", "proc", cross.arch.qemu])
    r = root.run(["/cnibox", "--version"], {})
    assert r.ok, r
    assert r.stdout.startswith(f"cnibox {project_version} - CNI plugins in one binary\n"), r
    r = root.run(["/bin/loopback"], static_build.cni_env("VERSION"), stdin='{"cniVersion":"1.1.0"}')
    assert r.ok, r
    assert r.json == static_build.VERSION_REPLY


def test_empty_root_loopback_add_del(cross, qemu_root, static_build, ctr):
    """chroot ROOT /qemu-ARCH-static /bin/loopback, the container's
    namespace bind-mounted at /ns/ctr: ADD brings lo up, DEL down."""
    root = qemu_root(links=["loopback"])
    ctr.sh("ip link set lo down")
    conf = json.dumps({"cniVersion": "1.1.0", "name": "crosslo", "type": "loopback"})
    env = static_build.cni_env("ADD", "/ns/ctr", ifname="lo", cid="cross-ctr")
    r = root.run(["/bin/loopback"], env, conf, {"ctr": ctr})
    assert r.ok, r
    assert r.json["cniVersion"] == "1.1.0"
    assert r.json["interfaces"] == [{"name": "lo", "mac": "00:00:00:00:00:00", "sandbox": "/ns/ctr"}], r
    assert "127.0.0.1/8" in [ip["address"] for ip in r.json["ips"]], r
    assert static_build.lo_up(ctr)
    env["CNI_COMMAND"] = "DEL"
    r = root.run(["/bin/loopback"], env, conf, {"ctr": ctr})
    assert r.ok and r.stdout == "", r
    assert not static_build.lo_up(ctr)
