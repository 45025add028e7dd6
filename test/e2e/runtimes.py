"""Real container runtimes driven by the e2e tier: podman 4.3 on its CNI
backend and containerd 1.6 (`ctr run --cni`), each with its own scratch
configuration, storage and state, running inside a network namespace the
test made, with cnibox's applet symlinks as the only CNI plugins.

Nothing here configures the machine's own network namespace. The fixed
places the runtimes write to whatever they are told are named below; the
tier removes what it made there (see conftest.py).
"""
import hashlib
import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time

# Fixed places the runtimes use whatever their configuration says:
# libcni's result cache (neither podman 4.3 nor ctr 1.6 lets it be moved),
# host-local's default dataDir (podman writes no dataDir into the configs it
# generates), podman's SHM lock segment and blob info cache, runc's root.
CNI_STATE = "/var/lib/cni"
CNI_RESULTS = "/var/lib/cni/results"
CNI_LEASES = "/var/lib/cni/networks"
PODMAN_SHM_LOCK = "/dev/shm/libpod_lock"
# containers/image's blob info cache: root's podman writes it here whatever
# the storage configuration says
PODMAN_BLOB_CACHE = "/var/lib/containers/cache/blob-info-cache-v1.boltdb"
# runc's default state root, which podman uses (empty once the containers are gone)
RUNC_ROOT = "/run/runc"

IMAGE_NAME = "localhost/cbt-busybox:latest"
CTR_IMAGE_NAME = "localhost/cbt-busybox:latest"
WWW_TEXT = "hello from the cnibox e2e image"


def tag():
    """A short unique suffix for names that live outside the test's scratch."""
    return f"{os.getpid()}-{secrets.token_hex(3)}"


def run(cmd, *, timeout=60, check=True, env=None, input=None):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                       input=input, stdin=None if input is not None else subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} -> exit {p.returncode}\n"
                             f"stdout: {p.stdout[-3000:]}\nstderr: {p.stderr[-3000:]}")
    return p


def mounts_under(path):
    """Mount points at or below path (deepest first)."""
    path = os.path.realpath(path)
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == path or mp.startswith(path + "/"):
                out.append(mp)
    return sorted(out, key=len, reverse=True)


def remove_tree(path):
    """rm -rf that first lazily unmounts whatever a runtime left mounted there."""
    for mp in mounts_under(path):
        subprocess.run(["umount", "-l", mp], capture_output=True)
    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- the image

class Image:
    """busybox-static plus its applet symlinks (busybox --install -s) and a
    page for httpd, as a rootfs tar (for `podman import`) and as an OCI
    image-layout tar (for `ctr image import`), built without any registry."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="cbt-e2e-image-")
        rootfs = os.path.join(self.dir, "rootfs")
        for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "www", "root"):
            os.makedirs(os.path.join(rootfs, d))
        busybox = shutil.which("busybox")
        if not busybox:
            raise RuntimeError("busybox not found (apt-get install busybox-static)")
        shutil.copy(busybox, os.path.join(rootfs, "bin", "busybox"))
        run(["chroot", rootfs, "/bin/busybox", "--install", "-s", "/bin"])
        with open(os.path.join(rootfs, "www", "index.html"), "w") as f:
            f.write(WWW_TEXT + "\n")
        self.rootfs_tar = os.path.join(self.dir, "rootfs.tar")
        with tarfile.open(self.rootfs_tar, "w") as t:
            for name in sorted(os.listdir(rootfs)):
                t.add(os.path.join(rootfs, name), arcname=name)
        self.oci_tar = os.path.join(self.dir, "oci.tar")
        self._write_oci(self.rootfs_tar, self.oci_tar)

    @staticmethod
    def _write_oci(layer_path, out):
        with open(layer_path, "rb") as f:
            layer = f.read()
        sha = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731
        config = json.dumps({
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"], "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(layer)]},
        }).encode()
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": "sha256:" + sha(config), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": "sha256:" + sha(layer), "size": len(layer)}],
        }).encode()
        index = json.dumps({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "digest": "sha256:" + sha(manifest), "size": len(manifest),
                           "platform": {"architecture": "amd64", "os": "linux"},
                           "annotations": {"io.containerd.image.name": CTR_IMAGE_NAME,
                                           "org.opencontainers.image.ref.name": "latest"}}],
        }).encode()
        with tarfile.open(out, "w") as t:
            def add(name, data):
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                ti.mode = 0o644
                t.addfile(ti, io.BytesIO(data))
            add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
            add("index.json", index)
            for blob in (layer, config, manifest):
                add("blobs/sha256/" + sha(blob), blob)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- podman

class Podman:
    """podman with scratch containers.conf/storage.conf (CNI backend, cnibox's
    applet dir as the only plugin dir, scratch CNI config dir, storage root,
    runroot, tmp dir), every command run under `nsenter --net=<ns>`."""

    def __init__(self, ns, bindir, image):
        self.ns = ns
        self.bindir = bindir
        self.dir = tempfile.mkdtemp(prefix="cbt-e2e-podman-")
        self.tag = tag()
        self.default_network = f"cbt-dflt-{self.tag}"
        self.networks = {self.default_network}   # every name whose state may land in CNI_LEASES
        self.containers = set()
        self.confdir = os.path.join(self.dir, "cni")
        d = {k: os.path.join(self.dir, k) for k in ("root", "runroot", "tmp", "cni")}
        for p in d.values():
            os.makedirs(p)
        conf = os.path.join(self.dir, "containers.conf")
        with open(conf, "w") as f:
            f.write(f"""[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[network]
network_backend = "cni"
cni_plugin_dirs = ["{bindir}"]
network_config_dir = "{d['cni']}"
default_network = "{self.default_network}"
default_subnet = "10.88.0.0/16"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "{d['tmp']}"
static_dir = "{d['root']}/libpod"
volume_path = "{d['root']}/volumes"
""")
        storage = os.path.join(self.dir, "storage.conf")
        with open(storage, "w") as f:
            f.write(f"""[storage]
driver = "vfs"
graphroot = "{d['root']}"
runroot = "{d['runroot']}"
""")
        self.env = dict(os.environ, CONTAINERS_CONF=conf, CONTAINERS_STORAGE_CONF=storage)
        for k in ("CONTAINER_HOST", "CONTAINER_CONNECTION", "CNI_PATH"):
            self.env.pop(k, None)
        self.image = image

    def start(self):
        self.podman("import", self.image.rootfs_tar, IMAGE_NAME)

    def podman(self, *args, check=True, timeout=90, wrap=()):
        return run(list(wrap) + ["nsenter", f"--net={self.ns.path}", "podman", *args],
                   check=check, timeout=timeout, env=self.env)

    def network_create(self, name, *args):
        self.networks.add(name)
        self.podman("network", "create", *args, name)
        with open(os.path.join(self.confdir, name + ".conflist")) as f:
            return json.load(f)

    def run_detached(self, name, *args):
        self.containers.add(name)
        return self.podman("run", "-d", "--name", name, *args).stdout.strip()

    def run_once(self, *args):
        """podman run --rm; stdout of the command."""
        return self.podman("run", "--rm", *args).stdout

    def exec(self, name, cmd, check=True):
        return self.podman("exec", name, "sh", "-c", cmd, check=check)

    def inspect(self, name):
        return json.loads(self.podman("inspect", name).stdout)[0]

    def cleanup(self):
        try:
            self.podman("rm", "-af", "-t", "0", check=False, timeout=60)
            for n in self.networks - {self.default_network}:
                self.podman("network", "rm", "-f", n, check=False, timeout=60)
        finally:
            remove_tree(self.dir)
            for n in self.networks:
                # host-local's dir and any result cache entry of this run's networks
                shutil.rmtree(os.path.join(CNI_LEASES, n), ignore_errors=True)
                if os.path.isdir(CNI_RESULTS):
                    for f in os.listdir(CNI_RESULTS):
                        if f.startswith(n + "-"):
                            os.unlink(os.path.join(CNI_RESULTS, f))


# ---------------------------------------------------------------- containerd

CTR_NAMESPACE = "default"


class Containerd:
    """A containerd of its own (scratch root, state, sockets; CRI plugin off)
    started in the background inside a test namespace, and `ctr` against it.

    `ctr run --cni` (1.6) takes its network config from /etc/cni/net.d and its
    plugins from /opt/cni/bin, with no option to move them; ctr runs in a
    private mount namespace where scratch dirs are bind-mounted over those two
    paths. Where a path is missing on the machine it is created first and
    removed (exactly what was created) on cleanup.
    """

    CONF_DIR = "/etc/cni/net.d"
    BIN_DIR = "/opt/cni/bin"
    # containerd 1.6 puts shim sockets under /run/containerd/s whatever its
    # state dir; ctr's FIFOs and runc's root are moved to scratch (--fifo-dir,
    # --runc-root).
    RUN_DIR = "/run/containerd"

    def __init__(self, ns, bindir, image):
        self.ns = ns
        self.bindir = bindir
        self.dir = tempfile.mkdtemp(prefix="cbt-e2e-ctd-")
        self.tag = tag()
        self.netconf = os.path.join(self.dir, "net.d")
        self.data_dir = os.path.join(self.dir, "ipam")
        os.makedirs(self.netconf)
        self.sock = os.path.join(self.dir, "containerd.sock")
        self.created_paths = []
        self.proc = None
        self.had_run_dir = True
        self.log = os.path.join(self.dir, "containerd.log")
        cfg = os.path.join(self.dir, "config.toml")
        with open(cfg, "w") as f:
            f.write(f"""version = 2
root = "{self.dir}/root"
state = "{self.dir}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "{self.sock}"

[ttrpc]
  address = "{self.sock}.ttrpc"

[debug]
  address = "{self.dir}/debug.sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "{self.dir}/opt"
""")
        self.cfg = cfg
        self.image = image

    def start(self):
        self.had_run_dir = os.path.exists(self.RUN_DIR)
        for p in (self.CONF_DIR, self.BIN_DIR):
            self._make_missing(p)
        cfg, ns, image = self.cfg, self.ns, self.image
        with open(self.log, "w") as logf:
            self.proc = subprocess.Popen(
                ["nsenter", f"--net={ns.path}", "containerd", "--config", cfg],
                stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            p = self.ctr("version", check=False, timeout=10)
            if p.returncode == 0:
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"containerd did not come up: {p.stderr}\n{self.logtail()}")
            time.sleep(0.1)
        self.ctr("image", "import", "--snapshotter", "native", image.oci_tar, timeout=120)

    def _make_missing(self, path):
        missing = []
        p = path
        while not os.path.exists(p):
            missing.append(p)
            p = os.path.dirname(p)
        for m in reversed(missing):
            os.mkdir(m)
            self.created_paths.append(m)

    def logtail(self):
        try:
            with open(self.log) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    @property
    def fifo_dir(self):
        return os.path.join(self.dir, "fifo")

    @property
    def runc_root(self):
        return os.path.join(self.dir, "runc")

    def write_network(self, conf):
        with open(os.path.join(self.netconf, "10-cbt.conflist"), "w") as f:
            json.dump(conf, f)

    def ctr(self, *args, cni_paths=False, check=True, timeout=90):
        """ctr against this containerd, inside the test namespace; with
        cni_paths=True inside a private mount namespace where the scratch
        network config dir and cnibox's applet dir sit on ctr's fixed paths."""
        cmd = ["ctr", "-a", self.sock, "-n", CTR_NAMESPACE, *args]
        if cni_paths:
            script = ('set -e; mount --bind "$1" "$3"; mount --bind "$2" "$4"; shift 4; exec "$@"')
            cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                   self.netconf, self.bindir, self.CONF_DIR, self.BIN_DIR] + cmd
        return run(["nsenter", f"--net={self.ns.path}"] + cmd, check=check, timeout=timeout)

    def shim_pids(self):
        """Shims this containerd started (their command line names our socket)."""
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if argv and b"containerd-shim" in argv[0] and self.sock.encode() in argv:
                pids.append(int(d))
        return pids

    def cleanup(self):
        try:
            if self.proc and self.proc.poll() is None:
                tasks = self.ctr("task", "ls", "-q", check=False, timeout=30).stdout.split()
                for t in tasks:
                    self.ctr("task", "kill", "-s", "KILL", t, cni_paths=True, check=False, timeout=30)
                for t in tasks:
                    for _ in range(50):
                        if self.ctr("task", "rm", "-f", t, check=False, timeout=30).returncode == 0:
                            break
                        time.sleep(0.1)
                for c in self.ctr("container", "ls", "-q", check=False, timeout=30).stdout.split():
                    self.ctr("container", "rm", c, check=False, timeout=30)
        finally:
            if self.proc and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(10)
            for pid in self.shim_pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            remove_tree(self.dir)
            if not self.had_run_dir and os.path.isdir(self.RUN_DIR):
                # only empty directories: a containerd started meanwhile by
                # someone else would have put files there
                for dp, _, _ in sorted(os.walk(self.RUN_DIR), key=lambda w: -len(w[0])):
                    try:
                        os.rmdir(dp)
                    except OSError:
                        pass
            for p in reversed(self.created_paths):
                try:
                    os.rmdir(p)
                except OSError:
                    pass
            if os.path.isdir(CNI_RESULTS):
                for f in os.listdir(CNI_RESULTS):
                    if self.tag in f:
                        os.unlink(os.path.join(CNI_RESULTS, f))


def cnibox_state_leftovers(ns, *needles):
    """Lines of the namespace's netfilter state (legacy xtables and nftables)
    that mention any of the needles (container IDs, addresses)."""
    text = run(["ip", "netns", "exec", ns.name, "iptables-legacy-save"], check=False).stdout
    text += run(["ip", "netns", "exec", ns.name, "nft", "list", "ruleset"], check=False).stdout
    return [ln for ln in text.splitlines() if any(n in ln for n in needles)]


def host_veths(ns):
    return sorted(n for n in ns.links() if n.startswith("veth"))


def wait_for(fn, timeout=10, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)

