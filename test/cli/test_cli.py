"""The multi-call binary itself: dispatch on argv[0] or argv[1], --version,
--list, --help, APPLET --help, --install [--force], unknown applets and the
VERSION reply every applet gives. No root and no kernel state needed."""
import json
import os
import re
import shutil
import subprocess

import pytest

import cnitest

ALL_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
# Applets finished in this release; the binary may hold more (planned ones).
FINISHED = {"bandwidth", "bridge", "cnitool", "dhcp", "dummy", "firewall", "flannel", "host-device", "host-local",
            "ipvlan", "loopback", "macvlan", "portmap", "ptp", "sbr", "static", "tap", "tuning", "vlan", "vrf"}
# Applets that are tools with their own command line, not CNI plugins.
NOT_PLUGINS = {"cnitool"}


def project_version():
    text = open(os.path.join(cnitest.ROOT, "meson.build")).read()
    return re.search(r"version:\s*'([^']+)'", text).group(1)


@pytest.fixture(scope="module")
def box():
    return cnitest.cnibox_binary()


def run(argv, env=None, stdin="", argv0=None, cwd=None):
    e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    e.update(env or {})
    exe = argv[0]
    return subprocess.run([argv0 or exe] + list(argv[1:]), executable=exe, input=stdin,
                          capture_output=True, text=True, env=e, timeout=30, cwd=cwd)


@pytest.fixture(scope="module")
def applets(box):
    p = run([box, "--list"])
    assert p.returncode == 0, p
    return p.stdout.split()


# ---------------------------------------------------------------- banner, --version, --list, --help

@pytest.mark.parametrize("args", [[], ["--version"]])
def test_banner(box, applets, args):
    p = run([box] + args)
    assert p.returncode == 0, p
    lines = p.stdout.splitlines()
    assert lines[0].startswith(f"cnibox {project_version()}"), p.stdout
    assert "CNI versions: " + " ".join(ALL_VERSIONS) in p.stdout
    applet_line = [l for l in lines if l.startswith("Applets:")]
    assert applet_line and applet_line[0].split()[1:] == applets, p.stdout
    assert p.stderr == ""


def test_list_sorted_one_per_line(box, applets):
    p = run([box, "--list"])
    assert p.stdout.endswith("\n")
    assert p.stdout.splitlines() == applets
    assert applets == sorted(applets)
    assert len(set(applets)) == len(applets)
    assert FINISHED <= set(applets)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_usage(box, flag):
    p = run([box, flag])
    assert p.returncode == 0, p
    for w in ["Usage", "--list", "--install", "--force", "--version", "APPLET --help"]:
        assert w in p.stdout, w


def test_argv0_with_path_and_prefix_name(box, tmp_path):
    """argv[0] 'cnibox' by any path, and a renamed copy 'cnibox-1.2' still act as cnibox."""
    p = run([box, "--list"], argv0="/some/where/cnibox")
    assert p.returncode == 0 and "bridge" in p.stdout.split()
    copy = tmp_path / "cnibox-static"
    shutil.copy(box, copy)
    p = run([str(copy), "--list"])
    assert p.returncode == 0 and "bridge" in p.stdout.split(), p


# ---------------------------------------------------------------- APPLET --help

@pytest.mark.parametrize("form", ["symlink", "argv1"])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_applet_help(box, applets, form, flag):
    for a in applets:
        if form == "symlink":
            p = run([box, flag], argv0=a)
        else:
            p = run([box, a, flag])
        assert p.returncode == 0, (a, p)
        assert p.stdout.startswith(f"{a} - "), (a, p.stdout[:200])
        if a in NOT_PLUGINS:
            continue
        m = re.search(r"CNI versions: ([0-9. ]+)", p.stdout)
        assert m, (a, p.stdout)
        assert set(m.group(1).split()) <= set(ALL_VERSIONS)
        if a in FINISHED:
            assert "NOT FINISHED" not in p.stdout, a


def test_finished_applets_document_their_keys(box):
    """Each finished applet's help names its config keys (a few spot checks)."""
    keys = {"bridge": ["isGateway", "ipMasq", "hairpinMode", "mtu"],
            "ptp": ["ipMasq", "mtu"],
            "host-local": ["ranges", "dataDir", "routes"],
            "static": ["addresses", "routes"],
            "flannel": ["subnetFile", "dataDir", "delegate", "ipam", "runtimeConfig", "FLANNEL_NETWORK",
                        "FLANNEL_SUBNET", "FLANNEL_IPV6_NETWORK", "FLANNEL_IPV6_SUBNET", "FLANNEL_MTU",
                        "FLANNEL_IPMASQ", "STATUS", "GC"]}
    for a, ks in keys.items():
        out = run([box, a, "--help"]).stdout
        for k in ks:
            assert k in out, (a, k)


# ---------------------------------------------------------------- VERSION

def help_versions(box, a):
    out = run([box, a, "--help"]).stdout
    return re.search(r"CNI versions: ([0-9. ]+)", out).group(1).split()


@pytest.mark.parametrize("form", ["symlink", "argv1", "installed"])
def test_version_reply(box, applets, form, tmp_path):
    if form == "installed":
        subprocess.run([box, "--install", str(tmp_path)], check=True)
    for a in applets:
        if a in NOT_PLUGINS:
            continue
        env = {"CNI_COMMAND": "VERSION"}
        if form == "symlink":
            p = run([box], env=env, argv0=a, stdin="{}")
        elif form == "argv1":
            p = run([box, a], env=env, stdin="{}")
        else:
            p = run([str(tmp_path / a)], env=env, stdin="{}")
        assert p.returncode == 0, (a, p)
        # Byte-for-byte the shape upstream prints: compact JSON and a newline.
        want = {"cniVersion": "1.1.0", "supportedVersions": help_versions(box, a)}
        assert p.stdout == json.dumps(want, separators=(",", ":")) + "\n", (a, p.stdout)


@pytest.mark.parametrize("stdin", ["", "not json at all", '{"cniVersion":"9.9.9"}', "[]"])
def test_version_ignores_stdin(box, stdin):
    p = run([box, "bridge"], env={"CNI_COMMAND": "VERSION"}, stdin=stdin)
    assert p.returncode == 0, p
    assert json.loads(p.stdout)["supportedVersions"] == ALL_VERSIONS


def test_version_needs_no_other_env(box):
    p = subprocess.run([box, "host-local"], env={"CNI_COMMAND": "VERSION"}, capture_output=True,
                       text=True, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p
    assert json.loads(p.stdout)["cniVersion"] == "1.1.0"


def test_unknown_command(box):
    conf = json.dumps({"cniVersion": "1.0.0", "name": "n", "type": "loopback"})
    p = run([box, "loopback"], env={"CNI_COMMAND": "FROB", "CNI_CONTAINERID": "c", "CNI_NETNS": "/x",
                                    "CNI_IFNAME": "eth0", "CNI_PATH": "/x"}, stdin=conf)
    r = cnitest.PluginResult(p)
    cnitest.assert_cni_error(r, 4, "FROB")


def test_no_cni_command(box):
    """Run by hand with no CNI_COMMAND: like upstream, an 'about' text that
    names the CNI versions on stderr and exit 0, or a code-4 error naming the
    missing variable."""
    p = run([box, "bridge"], stdin="{}")
    if p.returncode == 0:
        assert "0.1.0" in p.stderr and "1.1.0" in p.stderr, p
        assert p.stdout == ""
    else:
        cnitest.assert_cni_error(cnitest.PluginResult(p), 4, "CNI_COMMAND")


# ---------------------------------------------------------------- unknown applets

def test_unknown_applet_by_argv0(box):
    p = run([box], argv0="no-such-plugin")
    assert p.returncode == 1
    assert "unknown applet" in p.stderr and "no-such-plugin" in p.stderr
    assert p.stdout == ""


def test_unknown_applet_by_argv1(box):
    p = run([box, "no-such-plugin"])
    assert p.returncode == 1
    assert "unknown applet" in p.stderr and "no-such-plugin" in p.stderr


def test_unknown_applet_run_by_a_runtime(box):
    """A runtime exec'ing a name cnibox lacks gets a spec error on stdout."""
    p = run([box], argv0="/opt/cni/bin/macvlanx", env={"CNI_COMMAND": "ADD"}, stdin="{}")
    assert p.returncode == 1
    j = cnitest.assert_cni_error(cnitest.PluginResult(p), set(range(1, 1000)), "macvlanx")
    assert j["code"] != 0


@pytest.mark.parametrize("arg", ["--frob", "-x", "BRIDGE", ""])
def test_bad_option(box, arg):
    p = run([box, arg])
    assert p.returncode != 0, p


# ---------------------------------------------------------------- --install

def links_in(d):
    return {n: os.readlink(os.path.join(d, n)) for n in os.listdir(d)
            if os.path.islink(os.path.join(d, n))}


def test_install_makes_symlinks(box, applets, tmp_path):
    d = tmp_path / "bin"
    p = run([box, "--install", str(d)])
    assert p.returncode == 0, p
    got = links_in(d)
    assert set(got) == set(applets)
    assert sorted(os.listdir(d)) == sorted(applets), "no temp files left behind"
    for a, target in got.items():
        assert os.path.realpath(os.path.join(d, a)) == os.path.realpath(box)
    # The links work.
    p = run([str(d / "loopback")], env={"CNI_COMMAND": "VERSION"})
    assert p.returncode == 0 and "supportedVersions" in p.stdout


def test_install_is_idempotent(box, applets, tmp_path):
    for _ in range(2):
        p = run([box, "--install", str(tmp_path)])
        assert p.returncode == 0, p
    assert set(links_in(tmp_path)) == set(applets)


def test_install_replaces_old_symlinks(box, tmp_path):
    os.symlink("/nonexistent/old-bridge", tmp_path / "bridge")
    assert run([box, "--install", str(tmp_path)]).returncode == 0
    assert os.path.realpath(tmp_path / "bridge") == os.path.realpath(box)


def test_install_keeps_foreign_file_without_force(box, applets, tmp_path):
    (tmp_path / "bridge").write_text("#!/bin/sh\necho mine\n")
    p = run([box, "--install", str(tmp_path)])
    assert p.returncode == 1
    assert "bridge" in p.stderr and "--force" in p.stderr
    assert (tmp_path / "bridge").read_text() == "#!/bin/sh\necho mine\n"
    # The others were still installed.
    assert set(links_in(tmp_path)) == set(applets) - {"bridge"}
    p = run([box, "--install", str(tmp_path), "--force"])
    assert p.returncode == 0, p
    assert set(links_in(tmp_path)) == set(applets)
    # --force may also come first.
    (tmp_path / "ptp").unlink()
    (tmp_path / "ptp").write_text("x")
    assert run([box, "--install", "--force", str(tmp_path)]).returncode == 0
    assert os.path.islink(tmp_path / "ptp")


def test_install_next_to_itself_links_by_name(box, applets, tmp_path):
    """cnibox in DIR: the links name it relatively, so DIR can be moved."""
    d = tmp_path / "opt-cni-bin"
    d.mkdir()
    shutil.copy(box, d / "cnibox")
    p = run([str(d / "cnibox"), "--install", str(d)])
    assert p.returncode == 0, p
    got = links_in(d)
    assert set(got) == set(applets)
    assert all(t == "cnibox" for t in got.values()), got
    moved = tmp_path / "moved"
    d.rename(moved)
    p = run([str(moved / "bridge")], env={"CNI_COMMAND": "VERSION"})
    assert p.returncode == 0, p


def test_install_relative_dir(box, applets, tmp_path):
    p = run([box, "--install", "rel"], cwd=str(tmp_path))
    assert p.returncode == 0, p
    assert set(links_in(tmp_path / "rel")) == set(applets)
    # Targets are absolute (cnibox lives elsewhere).
    assert all(os.path.isabs(t) for t in links_in(tmp_path / "rel").values())


def test_install_needs_a_dir(box):
    p = run([box, "--install"])
    assert p.returncode == 1
    assert "--install" in p.stderr


def test_install_fails_cleanly(box, tmp_path):
    (tmp_path / "afile").write_text("")
    p = run([box, "--install", str(tmp_path / "afile")])
    assert p.returncode == 1 and p.stderr
    p = run([box, "--install", str(tmp_path / "no" / "such" / "parent")])
    assert p.returncode == 1 and p.stderr


def test_install_rejects_two_dirs(box, tmp_path):
    p = run([box, "--install", str(tmp_path / "a"), str(tmp_path / "b")])
    assert p.returncode == 1


def test_dispatch_by_copy_name(box, tmp_path):
    """A hard copy named like an applet is that applet (argv[0] basename)."""
    shutil.copy(box, tmp_path / "static")
    p = run([str(tmp_path / "static")], env={"CNI_COMMAND": "VERSION"})
    assert p.returncode == 0 and json.loads(p.stdout)["cniVersion"] == "1.1.0"
