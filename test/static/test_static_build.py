"""The static cnibox (packaging/build-static.sh): it is static, it reports
the project version, it fits the size budget, and it runs in an empty root
(a directory holding only the binary, /proc mounted for /proc/self/exe):
VERSION, loopback ADD/DEL, and bridge + host-local ADD/DEL in namespaces the
test makes. The root tests need root; the empty root lives in a private
mount namespace (unshare -m), so nothing is mounted on the machine.
"""
import json
import os
import shlex
import shutil
import subprocess
import tempfile

import pytest

import cnitest

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chroot, namespaces)")

SIZE_BUDGET = 2_000_000  # bytes, stripped, every applet
VERSION_REPLY = {"cniVersion": "1.1.0",
                 "supportedVersions": ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]}


def out(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


# --- the file ---------------------------------------------------------------

def test_file_says_statically_linked(static_bin):
    desc = out(["file", "-b", static_bin]).stdout
    assert "statically linked" in desc, desc
    assert "dynamically linked" not in desc and "static-pie" not in desc, desc
    assert ", stripped" in desc, desc


def test_ldd_says_not_dynamic(static_bin):
    r = out(["ldd", static_bin])
    assert r.returncode != 0
    assert "not a dynamic executable" in r.stdout + r.stderr


def test_no_interpreter_no_dynamic_section(static_bin):
    assert "INTERP" not in out(["readelf", "-lW", static_bin]).stdout
    assert "There is no dynamic section" in out(["readelf", "-dW", static_bin]).stdout


def test_size_budget(static_bin, applets):
    size = os.path.getsize(static_bin)
    assert size <= SIZE_BUDGET, f"{size} bytes with {len(applets)} applets (budget {SIZE_BUDGET})"


def test_version_is_the_project_version(static_bin, project_version, applets):
    r = out([static_bin, "--version"])
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0] == f"cnibox {project_version} - CNI plugins in one binary"
    assert lines[2] == "Applets: " + " ".join(applets)
    # The banner a plugin prints on stderr when run by hand (no CNI_COMMAND).
    r = subprocess.run([static_bin, "loopback"], input="", capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0 and r.stdout == ""
    assert r.stderr.splitlines()[0] == f"CNI loopback plugin v{project_version}"


def test_every_meson_applet_is_in(applets):
    """build-static.sh builds in every applet the "applets" option offers
    (unless APPLETS says otherwise)."""
    if os.environ.get("APPLETS"):
        pytest.skip("built with APPLETS=" + os.environ["APPLETS"])
    out_ = subprocess.run(["meson", "introspect", "--buildoptions",
                           os.path.join(cnitest.ROOT, "meson.build")],
                          capture_output=True, text=True, check=True).stdout
    choices = next(o["choices"] for o in json.loads(out_) if o["name"] == "applets")
    assert sorted(applets) == sorted(choices)


# --- the empty root -----------------------------------------------------------

class EmptyRoot:
    """A directory with the static binary as /cnibox (and, when asked, applet
    symlinks in /bin) and nothing else; programs run chrooted into it, in a
    private mount namespace with /proc mounted and the given namespace files
    bind-mounted at /ns/NAME."""

    def __init__(self, binary, links=()):
        self.path = tempfile.mkdtemp(prefix="cbt-emptyroot-")
        shutil.copy2(binary, os.path.join(self.path, "cnibox"))
        os.mkdir(os.path.join(self.path, "proc"))
        os.mkdir(os.path.join(self.path, "ns"))
        if links:
            os.mkdir(os.path.join(self.path, "bin"))
            for a in links:
                os.symlink("../cnibox", os.path.join(self.path, "bin", a))

    def files(self):
        return sorted(os.path.relpath(os.path.join(d, f), self.path)
                      for d, dns, fns in os.walk(self.path) for f in fns + dns)

    def run(self, argv, env, stdin="", nets=None, run_in=None):
        """argv runs as PID-namespace-less chrooted process with exactly `env`.
        nets: {name: Netns} bind-mounted at /ns/NAME; run_in: the Netns to run in."""
        nets = nets or {}
        lines = ["set -e", f"mount -t proc proc {shlex.quote(self.path + '/proc')}"]
        for name, ns in nets.items():
            target = os.path.join(self.path, "ns", name)
            open(target, "w").close()
            lines.append(f"mount --bind {shlex.quote(ns.path)} {shlex.quote(target)}")
        cmd = []
        if run_in is not None:
            cmd += ["nsenter", f"--net={run_in.path}"]
        cmd += [shutil.which("env"), "-i"] + [f"{k}={v}" for k, v in env.items()]
        cmd += [shutil.which("chroot"), self.path] + argv
        lines.append("exec " + " ".join(shlex.quote(c) for c in cmd))
        p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            "\n".join(lines)], input=stdin, capture_output=True, text=True, timeout=60)
        return cnitest.PluginResult(p)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


@pytest.fixture
def empty_root(static_bin):
    roots = []

    def make(links=()):
        r = EmptyRoot(static_bin, links)
        roots.append(r)
        return r
    yield make
    for r in roots:
        r.cleanup()


def cni_env(command, netns="", ifname="eth0", cid="static-ctr", path="/bin"):
    return {"CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": netns,
            "CNI_IFNAME": ifname, "CNI_PATH": path}


@needs_root
def test_empty_root_version(empty_root, project_version):
    root = empty_root(links=["loopback"])
    assert root.files() == ["bin", "bin/loopback", "cnibox", "ns", "proc"]
    r = root.run(["/cnibox", "--version"], {})
    assert r.ok, r
    assert r.stdout.splitlines()[0] == f"cnibox {project_version} - CNI plugins in one binary"
    # As a runtime runs it: by the applet's name, VERSION on stdin's config.
    for argv in (["/bin/loopback"], ["/cnibox", "loopback"]):
        r = root.run(argv, cni_env("VERSION"), stdin='{"cniVersion":"1.0.0"}')
        assert r.ok, r
        assert r.json == VERSION_REPLY
    r = root.run(["/bin/loopback"], {})
    assert r.ok and r.stderr.startswith(f"CNI loopback plugin v{project_version}\n"), r


def lo_up(ns):
    return "UP" in ns.links()["lo"]["flags"]


@needs_root
def test_empty_root_loopback_add_del(empty_root, ctr):
    root = empty_root()
    ctr.sh("ip link set lo down")
    assert not lo_up(ctr)
    conf = json.dumps({"cniVersion": "1.0.0", "name": "lo", "type": "loopback"})
    r = root.run(["/cnibox", "loopback"], cni_env("ADD", "/ns/ctr", ifname="lo"), conf, {"ctr": ctr})
    assert r.ok, r
    assert r.json["interfaces"] == [{"name": "lo", "mac": "00:00:00:00:00:00", "sandbox": "/ns/ctr"}]
    assert {ip["address"] for ip in r.json["ips"]} >= {"127.0.0.1/8"}
    assert lo_up(ctr)
    r = root.run(["/cnibox", "loopback"], cni_env("DEL", "/ns/ctr", ifname="lo"), conf, {"ctr": ctr})
    assert r.ok, r
    assert not lo_up(ctr)


@needs_root
def test_empty_root_bridge_host_local(empty_root, host, ctr):
    """bridge with host-local as IPAM (found on CNI_PATH=/bin, run in-process):
    netlink, namespaces and the lease store with nothing but the binary."""
    root = empty_root(links=["bridge", "host-local"])
    conf = {"cniVersion": "1.0.0", "name": "staticnet", "type": "bridge", "bridge": "cbtsb0",
            "isGateway": True,
            "ipam": {"type": "host-local", "dataDir": "/leases",
                     "ranges": [[{"subnet": "10.63.0.0/24"}]]}}
    env = cni_env("ADD", "/ns/ctr")
    r = root.run(["/bin/bridge"], env, json.dumps(conf), {"ctr": ctr}, run_in=host)
    assert r.ok, r
    assert r.json["ips"][0]["address"] == "10.63.0.2/24"
    assert "10.63.0.2/24" in ctr.addrs("eth0")
    assert "cbtsb0" in host.links()
    assert os.path.exists(os.path.join(root.path, "leases/staticnet/10.63.0.2"))
    conf["prevResult"] = r.json
    r = root.run(["/bin/bridge"], cni_env("DEL", "/ns/ctr"), json.dumps(conf), {"ctr": ctr}, run_in=host)
    assert r.ok, r
    assert "eth0" not in ctr.links()
    assert not os.path.exists(os.path.join(root.path, "leases/staticnet/10.63.0.2"))
