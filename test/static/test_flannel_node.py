"""cnibox on a flannel node: packaging/flannel/10-flannel.conflist and the
DaemonSet of packaging/flannel/cnibox-flannel.yaml.

The manifest is checked against the image it names (the Containerfile's
entrypoint, install-cni.sh's defaults, the busybox links image-context.sh
makes); then its initContainers are run as a kubelet would, chrooted into the
image's rootfs with their volumes bind-mounted from scratch directories
standing for the node's /opt/cni/bin and /etc/cni/net.d, and the installed
binary runs the installed conflist: flannel answers ADD with code 11 and
STATUS with code 50 while subnet.env is missing, and with one the whole
chain (flannel -> bridge + host-local, portmap, bandwidth, firewall) adds
and deletes a container through cnitool, in namespaces this test makes."""
import json
import os
import re
import subprocess

import yaml

import cnitest
from test_packaging import busybox, needs_root, run_in_image, script

ROOT = cnitest.ROOT
FLANNEL = os.path.join(ROOT, "packaging", "flannel")
CONFLIST = os.path.join(FLANNEL, "10-flannel.conflist")
MANIFEST = os.path.join(FLANNEL, "cnibox-flannel.yaml")
IMAGE = "cnibox:VERSION"


def conflist_text():
    with open(CONFLIST) as f:
        return f.read()


def manifest():
    with open(MANIFEST) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["ConfigMap", "DaemonSet"], kinds
    return {d["kind"]: d for d in docs}


def entrypoint():
    """The image's ENTRYPOINT (exec form) from packaging/Containerfile."""
    with open(os.path.join(ROOT, "packaging", "Containerfile")) as f:
        lines = [l for l in f if l.startswith("ENTRYPOINT ")]
    assert len(lines) == 1, lines
    return json.loads(lines[0][len("ENTRYPOINT "):])


def install_cni_default(var):
    """The default install-cni.sh gives `var` (${VAR:-default})."""
    with open(os.path.join(ROOT, "packaging", "install-cni.sh")) as f:
        m = re.search(r"\$\{" + var + r":-([^}]*)\}", f.read())
    assert m, var
    return m.group(1)


def env_of(container):
    return {e["name"]: e["value"] for e in container.get("env", [])}


def mounts_of(container, volumes):
    """{mountPath (trailing / dropped): volume} of a container."""
    return {m["mountPath"].rstrip("/"): volumes[m["name"]] for m in container.get("volumeMounts", [])}


# --- the files ----------------------------------------------------------------------

def test_conflist():
    c = json.loads(conflist_text())
    assert c["name"] == "cbr0" and c["cniVersion"] == "1.0.0"
    assert [p["type"] for p in c["plugins"]] == ["flannel", "portmap", "bandwidth", "firewall"]
    fl, pm, bw, fw = c["plugins"]
    # As kube-flannel.yml and k3s ship it; the default subnetFile and dataDir.
    assert fl == {"type": "flannel",
                  "delegate": {"hairpinMode": True, "forceAddress": True, "isDefaultGateway": True}}
    assert pm == {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}
    assert bw == {"type": "bandwidth", "capabilities": {"bandwidth": True}}
    assert fw == {"type": "firewall"}
    # README's "On a flannel node" shows it (compacted).
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    section = readme[readme.index("### On a flannel node\n"):]
    shown = section[section.index("```json\n") + 8:]
    assert json.loads(shown[:shown.index("```")]) == c


def test_manifest_matches_image_and_conflist():
    docs = manifest()
    cm, ds = docs["ConfigMap"], docs["DaemonSet"]
    assert cm["metadata"]["namespace"] == ds["metadata"]["namespace"] == "kube-system"
    # The ConfigMap's conflist is the file, byte for byte.
    assert cm["data"]["cni-conf.json"] == conflist_text()
    assert json.loads(cm["data"]["cni-conf.json"]) == json.loads(conflist_text())

    spec = ds["spec"]["template"]["spec"]
    assert ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()
    assert spec["hostNetwork"] is True  # runs before the node has a CNI config
    assert spec["priorityClassName"] == "system-node-critical"
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert {"operator": "Exists"} in spec["tolerations"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    inits, mains = spec["initContainers"], spec["containers"]
    assert [c["name"] for c in inits] == ["install-cni-plugin", "install-cni"]
    assert len(mains) == 1
    for c in inits + mains:
        assert c["image"] == IMAGE, c["name"]
        for m in c.get("volumeMounts", []):
            assert m["name"] in volumes, (c["name"], m)

    bin_dir = install_cni_default("CNI_BIN_DIR")
    assert bin_dir == "/host/opt/cni/bin"
    installers = [c for c in inits + mains if "command" not in c]
    assert [c["name"] for c in installers] == ["install-cni-plugin", mains[0]["name"]]
    for c in installers:  # the image's entrypoint, install-cni.sh
        assert "args" not in c, c["name"]
        env = env_of(c)
        assert env.get("CNI_BIN_DIR", bin_dir) == bin_dir, c["name"]
        assert mounts_of(c, volumes)[bin_dir]["hostPath"]["path"] == "/opt/cni/bin", c["name"]
        assert "CNIBOX" not in env  # the image's own binary
    assert env_of(mains[0]).get("CNI_SLEEP") == "true"
    assert env_of(inits[0]).get("CNI_SLEEP", "false") != "true"  # an initContainer must exit

    cp = inits[1]
    assert cp["command"] == ["/bin/cp"]
    flag, src, dst = cp["args"]
    assert flag == "-f"
    mounts = mounts_of(cp, volumes)
    assert mounts[os.path.dirname(src)]["configMap"]["name"] == cm["metadata"]["name"]
    assert os.path.basename(src) == "cni-conf.json"
    assert mounts[os.path.dirname(dst)]["hostPath"]["path"] == "/etc/cni/net.d"
    assert os.path.basename(dst) == "10-flannel.conflist"


# --- installed on a scratch node, then run -----------------------------------------

def run_container(rootfs, container, binds):
    """Runs a container of the DaemonSet as a kubelet would: its command (or
    the image's entrypoint) and args, its env only, chrooted into the image's
    rootfs with `binds` ({mountPath: directory}) mounted."""
    argv = (container.get("command") or entrypoint()) + container.get("args", [])
    return run_in_image(rootfs, argv, binds, env_of(container))


def node_install(static_bin, outdir):
    """The image's rootfs, the DaemonSet's initContainers run on a scratch
    node: returns (node's /opt/cni/bin, node's /etc/cni/net.d)."""
    ctx = script("image-context.sh", os.path.join(outdir, "ctx"), static_bin)
    rootfs = os.path.join(ctx, "rootfs")
    assert os.readlink(os.path.join(rootfs, "bin/cp")) == "busybox"

    docs = manifest()
    spec = docs["DaemonSet"]["spec"]["template"]["spec"]
    node_bin, node_netd = os.path.join(outdir, "opt-cni-bin"), os.path.join(outdir, "etc-cni-net.d")
    os.mkdir(node_bin)
    # What was there before: flannel's own plugin (a regular file, replaced:
    # CNI_FORCE) and a plugin cnibox does not have (left alone). net.d is
    # made by the hostPath (DirectoryOrCreate).
    for name in ("flannel", "multus"):
        with open(os.path.join(node_bin, name), "w") as f:
            f.write("old " + name)
    cfg = os.path.join(outdir, "configmap")
    os.mkdir(cfg)
    for key, value in docs["ConfigMap"]["data"].items():
        with open(os.path.join(cfg, key), "w") as f:
            f.write(value)
    hostpaths = {"/opt/cni/bin": node_bin, "/etc/cni/net.d": node_netd}
    sources = {}
    for v in spec["volumes"]:
        if "hostPath" in v:
            sources[v["name"]] = hostpaths[v["hostPath"]["path"]]
            if v["hostPath"].get("type") == "DirectoryOrCreate":
                os.makedirs(sources[v["name"]], exist_ok=True)
        else:
            assert v["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]
            sources[v["name"]] = cfg
    for c in spec["initContainers"]:
        binds = {m["mountPath"].rstrip("/"): sources[m["name"]] for m in c["volumeMounts"]}
        r = run_container(rootfs, c, binds)
        assert r.returncode == 0, (c["name"], r.stderr)
    return node_bin, node_netd


def flannel_conf(plugins_conf, version, **inject):
    """The flannel entry of the conflist as libcni hands it to the plugin
    (the list's name and cniVersion added), `inject` merged in."""
    c = dict(plugins_conf["plugins"][0], name=plugins_conf["name"], cniVersion=version)
    c.update(inject)
    return c


@needs_root
@busybox
def test_node_install_and_flannel_chain(static_bin, applets, outdir, make_ns):
    node_bin, node_netd = node_install(static_bin, outdir)
    assert sorted(os.listdir(node_bin)) == sorted(["cnibox", "multus"] + applets)
    for a in applets:
        assert os.readlink(os.path.join(node_bin, a)) == "cnibox", a
    assert open(os.path.join(node_bin, "multus")).read() == "old multus"
    with open(os.path.join(node_bin, "cnibox"), "rb") as f, open(static_bin, "rb") as g:
        assert f.read() == g.read()
    assert os.listdir(node_netd) == ["10-flannel.conflist"]
    with open(os.path.join(node_netd, "10-flannel.conflist")) as f:
        installed = f.read()
    assert installed == conflist_text()
    conf = json.loads(installed)
    for p in conf["plugins"]:
        assert os.readlink(os.path.join(node_bin, p["type"])) == "cnibox", p["type"]

    # flanneld has not written subnet.env yet: ADD is code 11 (try again
    # later) and STATUS (1.1.0) code 50, before anything is touched.
    subnet_env = os.path.join(outdir, "run-flannel", "subnet.env")
    data_dir = os.path.join(outdir, "var-lib-cni-flannel")
    ipam_dir = os.path.join(outdir, "var-lib-cni-networks")
    host, ctr = make_ns("cbt-fn-host"), make_ns("cbt-fn-ctr")
    before = ctr.state()
    inject = {"subnetFile": subnet_env, "dataDir": data_dir}
    flannel = os.path.join(node_bin, "flannel")
    r = cnitest.run_plugin("flannel", "ADD", flannel_conf(conf, "1.0.0", **inject), host=host, netns=ctr,
                           containerid="cbt-fn-ctr1", binary=flannel, cni_path=node_bin)
    cnitest.assert_cni_error(r, 11, subnet_env, "flannel")
    r = cnitest.run_plugin("flannel", "STATUS", flannel_conf(conf, "1.1.0", **inject), host=host,
                           binary=flannel, cni_path=node_bin)
    cnitest.assert_cni_error(r, 50, subnet_env)
    assert not os.path.exists(data_dir)
    assert ctr.state() == before

    # flanneld's file: the installed conflist through cnitool, paths injected.
    os.mkdir(os.path.dirname(subnet_env))
    with open(subnet_env, "w") as f:
        f.write("FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n")
    r = cnitest.run_plugin("flannel", "STATUS", flannel_conf(conf, "1.1.0", **inject), host=host,
                           binary=flannel, cni_path=node_bin)
    assert r.ok, r
    netd = os.path.join(outdir, "net.d-test")
    os.mkdir(netd)
    conf["plugins"][0].update(inject, ipam={"dataDir": ipam_dir})
    with open(os.path.join(netd, "10-flannel.conflist"), "w") as f:
        json.dump(conf, f)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NETCONFPATH": netd, "CNI_PATH": node_bin,
           "CNI_CACHE_DIR": os.path.join(outdir, "cache"),
           "CAP_ARGS": json.dumps({"portMappings": [{"hostPort": 18080, "containerPort": 80, "protocol": "tcp"}]})}

    def cnitool(*args):
        return subprocess.run(["ip", "netns", "exec", host.name, "env", "-i"]
                              + [f"{k}={v}" for k, v in env.items()]
                              + [os.path.join(node_bin, "cnitool"), *args],
                              capture_output=True, text=True, timeout=60)

    r = cnitool("add", "cbr0", ctr.path)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert [ip["address"] for ip in res["ips"]] == ["10.1.17.2/24"]
    assert "10.1.17.2/24" in ctr.addrs("eth0")
    assert ctr.link("eth0")["mtu"] == 1450
    assert any(rt.get("dst") == "default" and rt.get("gateway") == "10.1.17.1" for rt in ctr.routes())
    assert host.link("cni0") is not None and "10.1.17.1/24" in host.addrs("cni0")
    saved = os.listdir(data_dir)
    assert len(saved) == 1 and saved[0].startswith("cnitool-")
    delegate = json.load(open(os.path.join(data_dir, saved[0])))
    assert delegate["type"] == "bridge" and delegate["hairpinMode"] is True
    assert delegate["forceAddress"] is True and delegate["isDefaultGateway"] is True
    assert delegate["ipMasq"] is False and delegate["mtu"] == 1450

    r = cnitool("del", "cbr0", ctr.path)
    assert r.returncode == 0, r.stderr
    assert os.listdir(data_dir) == []
    assert "eth0" not in ctr.links()
    assert cnitest.leases(ipam_dir, "cbr0") == []
