"""cnitool applet: config loading, chain execution and the result cache as
upstream's libcni/cnitool do them.

Kernel tests run cnitool inside a `host` namespace (ip netns exec) with a
temporary NETCONFPATH, CNI_CACHE_DIR and host-local dataDir; containers are
further namespaces. A small recording plugin ("rec", Python) sits on
CNI_PATH next to the applet symlinks: it logs every call (verb, CNI_*
variables, stdin) and answers ADD with its prevResult (or a fixed result),
so the stdin libcni would build can be checked exactly. Tests that only
need rec touch no kernel state and run in the caller's namespace.
"""
import base64
import hashlib
import json
import os
import stat
import subprocess

import pytest

import cnitest

REC = r'''#!/usr/bin/python3
import json, os, sys
conf = json.loads(sys.stdin.read() or "{}")
cmd = os.environ.get("CNI_COMMAND")
with open(os.environ["REC_LOG"], "a") as f:
    f.write(json.dumps({"cmd": cmd, "type": conf.get("type"), "tag": conf.get("tag"),
                        "env": {k: v for k, v in os.environ.items() if k.startswith("CNI_")},
                        "conf": conf}) + "\n")
fail = conf.get("fail", {})
if cmd in fail:
    print(json.dumps({"code": fail[cmd][0], "msg": fail[cmd][1]}))
    sys.exit(1)
if cmd == "ADD":
    res = conf.get("prevResult")
    if res is None:
        v = conf.get("cniVersion", "")
        ip = {"address": conf.get("addr", "10.99.0.5/24"), "gateway": "10.99.0.1"}
        if v.startswith("0.3") or v.startswith("0.4"):
            ip["version"] = "4"
        res = {"cniVersion": v, "ips": [ip]}
    sys.stdout.write(json.dumps(res))
'''


class Tool:
    """A temporary NETCONFPATH + cache + CNI_PATH with rec, and cnitool runs."""

    def __init__(self, scratch, host=None):
        self.host = host
        self.dir = scratch.path
        self.netconf = os.path.join(self.dir, "net.d")
        self.cache = os.path.join(self.dir, "cache")
        self.data = os.path.join(self.dir, "ipam")
        self.recdir = os.path.join(self.dir, "recbin")
        self.log = os.path.join(self.dir, "rec.log")
        os.makedirs(self.netconf)
        os.makedirs(self.recdir)
        rec = os.path.join(self.recdir, "rec")
        with open(rec, "w") as f:
            f.write(REC)
        os.chmod(rec, 0o755)
        self.path = cnitest.cnibox_dir() + ":" + self.recdir

    def write(self, name, conf):
        p = os.path.join(self.netconf, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(conf if isinstance(conf, str) else json.dumps(conf))
        return p

    def run(self, *args, env=None):
        e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NETCONFPATH": self.netconf, "CNI_PATH": self.path,
             "CNI_CACHE_DIR": self.cache, "REC_LOG": self.log}
        e.update(env or {})
        exe = os.path.join(cnitest.cnibox_dir(), "cnitool")
        cmd = [exe] + [str(a) for a in args]
        if self.host is not None:
            cmd = ["ip", "netns", "exec", self.host.name, "env", "-i"] + [f"{k}={v}" for k, v in e.items()] + cmd
            e = None
        return subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=60)

    def ok(self, *args, env=None):
        p = self.run(*args, env=env)
        assert p.returncode == 0, p
        return p

    def calls(self, cmd=None):
        try:
            with open(self.log) as f:
                out = [json.loads(l) for l in f]
        except FileNotFoundError:
            return []
        os.unlink(self.log)
        return [c for c in out if cmd is None or c["cmd"] == cmd]

    def cache_files(self):
        d = os.path.join(self.cache, "results")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def cached(self, name):
        with open(os.path.join(self.cache, "results", name)) as f:
            return json.load(f)


def container_id(netns_path):
    return "cnitool-" + hashlib.sha512(os.path.abspath(netns_path).encode()).hexdigest()[:20]


def rec(tag, **kw):
    return dict({"type": "rec", "tag": tag}, **kw)


@pytest.fixture
def tool(scratch):
    return Tool(scratch)


@pytest.fixture
def ktool(scratch, host):
    return Tool(scratch, host)


def bridge(t, subnet="10.77.0.0/24", **kw):
    return dict({"type": "bridge", "bridge": "cbtbr0", "isGateway": True,
                 "ipam": {"type": "host-local", "dataDir": t.data, "ranges": [[{"subnet": subnet}]]}}, **kw)


def failed(p, *words):
    assert p.returncode == 1, p
    assert p.stdout == "", p
    assert p.stderr.startswith("Error: "), p
    for w in words:
        assert w in p.stderr, p
    return p.stderr


# ---- kernel: a real chain ----

def test_add_check_del_bridge_chain(ktool, ctr):
    t = ktool
    text = json.dumps({"cniVersion": "1.0.0", "name": "cntbr",
                       "plugins": [bridge(t), rec("after")]}, indent=2)
    conflist = t.write("10-br.conflist", text)
    p = t.ok("add", "cntbr", ctr.path)
    res = json.loads(p.stdout)
    assert not p.stdout.endswith("\n")  # printed as upstream: no newline
    assert res["cniVersion"] == "1.0.0"
    assert [i["address"] for i in res["ips"]] == ["10.77.0.2/24"]
    assert "10.77.0.2/24" in ctr.addrs("eth0")

    cid = container_id(ctr.path)
    calls = t.calls()
    assert [c["cmd"] for c in calls] == ["ADD"]
    c = calls[0]
    assert c["env"]["CNI_CONTAINERID"] == cid
    assert c["env"]["CNI_NETNS"] == ctr.path
    assert c["env"]["CNI_IFNAME"] == "eth0"
    assert c["conf"]["name"] == "cntbr" and c["conf"]["cniVersion"] == "1.0.0"
    assert c["conf"]["prevResult"] == res  # bridge's result threaded on
    assert "runtimeConfig" not in c["conf"]

    # the cache: libcni's file name, modes and cniCacheV1 content
    name = f"cntbr-{cid}-eth0"
    assert t.cache_files() == [name]
    rdir = os.path.join(t.cache, "results")
    assert stat.S_IMODE(os.stat(rdir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(rdir, name)).st_mode) == 0o600
    ci = t.cached(name)
    assert list(ci) == ["kind", "containerId", "config", "ifName", "networkName", "netns", "result"]
    assert ci["kind"] == "cniCacheV1" and ci["containerId"] == cid and ci["ifName"] == "eth0"
    assert ci["networkName"] == "cntbr" and ci["netns"] == ctr.path
    assert base64.b64decode(ci["config"]).decode() == open(conflist).read()
    assert ci["result"] == res

    t.ok("check", "cntbr", ctr.path)
    checks = t.calls()
    assert [c["cmd"] for c in checks] == ["CHECK"]
    assert checks[0]["conf"]["prevResult"] == res

    t.ok("del", "cntbr", ctr.path)
    dels = t.calls()
    assert [c["cmd"] for c in dels] == ["DEL"]  # rec first: the list runs in reverse
    assert dels[0]["conf"]["prevResult"] == res
    assert "eth0" not in ctr.links()
    assert t.cache_files() == []
    assert not [f for f in os.listdir(os.path.join(t.data, "cntbr")) if f.startswith("10.")]
    # DEL again: no cache, no prevResult, still fine
    t.ok("del", "cntbr", ctr.path)
    assert "prevResult" not in t.calls()[0]["conf"]


def test_single_conf_upgraded_to_list(ktool, ctr):
    t = ktool
    conf = {"cniVersion": "0.4.0", "name": "cntptp", "type": "ptp", "mtu": 1400,
            "ipam": {"type": "host-local", "dataDir": t.data, "subnet": "10.78.0.0/24"}}
    t.write("20-ptp.conf", conf)
    res = json.loads(t.ok("add", "cntptp", ctr.path).stdout)
    assert res["cniVersion"] == "0.4.0"
    assert "10.78.0.2/24" in ctr.addrs("eth0")
    ci = t.cached(f"cntptp-{container_id(ctr.path)}-eth0")
    # libcni's ConfListFromConf: a Go-marshalled list (sorted keys, compact)
    inner = json.dumps(conf, sort_keys=True, separators=(",", ":"))
    assert base64.b64decode(ci["config"]).decode() == \
        '{"cniVersion":"0.4.0","name":"cntptp","plugins":[' + inner + ']}'
    t.ok("check", "cntptp", ctr.path)
    t.ok("del", "cntptp", ctr.path)
    assert "eth0" not in ctr.links()
    assert t.cache_files() == []


def test_capability_mac_for_bridge(ktool, ctr):
    t = ktool
    t.write("10.conflist", {"cniVersion": "1.0.0", "name": "cntcap",
                            "plugins": [bridge(t, "10.79.0.0/24", capabilities={"mac": True}),
                                        rec("caps", capabilities={"ips": True, "mac": False}),
                                        rec("nocaps")]})
    mac = "c2:11:22:33:44:55"
    caps = {"mac": mac, "ips": ["10.79.0.9/24"], "portMappings": []}
    p = t.ok("add", "cntcap", ctr.path, env={"CAP_ARGS": json.dumps(caps)})
    assert ctr.links()["eth0"]["address"] == mac
    assert json.loads(p.stdout)["interfaces"][2]["mac"] == mac
    calls = {c["tag"]: c for c in t.calls()}
    assert calls["caps"]["conf"]["runtimeConfig"] == {"ips": ["10.79.0.9/24"]}
    assert "runtimeConfig" not in calls["nocaps"]["conf"]
    ci = t.cached(f"cntcap-{container_id(ctr.path)}-eth0")
    assert ci["capabilityArgs"] == caps
    t.ok("del", "cntcap", ctr.path, env={"CAP_ARGS": json.dumps(caps)})
    assert "eth0" not in ctr.links()


def test_gc_deletes_every_cached_attachment(ktool, make_ns):
    t = ktool
    t.write("10.conflist", {"cniVersion": "1.1.0", "name": "cntgc", "plugins": [bridge(t, "10.80.0.0/24"), rec("r")]})
    t.write("20.conflist", {"cniVersion": "1.1.0", "name": "other", "plugins": [rec("o")]})
    a, b = make_ns(), make_ns()
    t.ok("add", "cntgc", a.path)
    t.ok("add", "cntgc", b.path, env={"CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=b"})
    t.ok("add", "other", a.path)
    t.calls()
    assert len(t.cache_files()) == 3
    t.ok("gc", "cntgc", a.path)
    calls = t.calls()
    dels = [c for c in calls if c["cmd"] == "DEL"]
    assert sorted(c["env"]["CNI_CONTAINERID"] for c in dels) == sorted([container_id(a.path), container_id(b.path)])
    assert {c["env"]["CNI_ARGS"] for c in dels} == {"", "IgnoreUnknown=1;K8S_POD_NAME=b"}
    gcs = [c for c in calls if c["cmd"] == "GC"]
    assert len(gcs) == 1 and gcs[0]["tag"] == "r"
    assert "cni.dev/valid-attachments" not in gcs[0]["conf"]  # cnitool passes no valid list
    assert gcs[0]["env"]["CNI_CONTAINERID"] == "" and gcs[0]["env"]["CNI_IFNAME"] == ""
    assert "eth0" not in a.links() and "eth0" not in b.links()
    assert t.cache_files() == [f"other-{container_id(a.path)}-eth0"]


def test_status(ktool, ctr):
    t = ktool
    t.write("10.conflist", {"cniVersion": "1.1.0", "name": "cntst", "plugins": [bridge(t, "10.82.0.0/24"), rec("r")]})
    t.ok("status", "cntst", ctr.path)
    assert [c["cmd"] for c in t.calls()] == ["STATUS"]


# ---- chain semantics (rec only, no kernel state) ----

def test_cniversions_negotiation(tool):
    tool.write("10.conflist", {"cniVersion": "0.4.0", "cniVersions": ["0.3.1", "1.1.0", "1.0.0", "9.9.9"],
                               "name": "nv", "plugins": [rec("a", cniVersion="0.1.0")]})
    tool.ok("add", "nv", "/tmp/x")
    assert tool.calls()[0]["conf"]["cniVersion"] == "1.1.0"
    tool.write("10.conflist", {"cniVersion": "0.4.0", "cniVersions": ["0.3.1", "x"], "name": "nv",
                               "plugins": [rec("a")]})
    failed(tool.run("del", "nv", "/tmp/x"), "invalid cniVersions entry x at index 1")


def test_conflists_sorted_and_matched_by_name(tool):
    tool.write("30.conflist", {"cniVersion": "1.0.0", "name": "n", "plugins": [rec("third")]})
    tool.write("20.conflist", {"cniVersion": "1.0.0", "name": "n", "plugins": [rec("second")]})
    tool.write("10.conflist", {"cniVersion": "1.0.0", "name": "m", "plugins": [rec("first")]})
    tool.write("05.conf", {"cniVersion": "1.0.0", "name": "n", "type": "rec", "tag": "conf"})
    tool.ok("add", "n", "/tmp/x")
    assert [c["tag"] for c in tool.calls()] == ["second"]
    tool.ok("add", "m", "/tmp/x")
    assert [c["tag"] for c in tool.calls()] == ["first"]


def test_non_inlined_plugins(tool):
    tool.write("10.conflist", {"cniVersion": "1.0.0", "name": "ni", "plugins": [rec("inline")]})
    tool.write("ni/20-b.conf", rec("file-b"))
    tool.write("ni/10-a.conf", rec("file-a"))
    tool.write("ni/30-c.json", rec("not-a-conf"))
    tool.ok("add", "ni", "/tmp/x")
    calls = tool.calls()
    assert [c["tag"] for c in calls] == ["inline", "file-a", "file-b"]
    assert calls[1]["conf"]["name"] == "ni" and calls[2]["conf"]["prevResult"]["ips"]
    tool.ok("del", "ni", "/tmp/x")
    assert [c["tag"] for c in tool.calls()] == ["file-b", "file-a", "inline"]
    # loadOnlyInlinedPlugins: the directory is ignored
    tool.write("10.conflist", {"cniVersion": "1.0.0", "name": "ni", "loadOnlyInlinedPlugins": "TRUE",
                               "plugins": [rec("inline")]})
    tool.ok("add", "ni", "/tmp/x")
    assert [c["tag"] for c in tool.calls()] == ["inline"]
    # no plugins key at all: only the directory's
    tool.write("10.conflist", {"cniVersion": "1.0.0", "name": "ni"})
    tool.ok("add", "ni", "/tmp/x")
    assert [c["tag"] for c in tool.calls()] == ["file-a", "file-b"]
    tool.write("10.conflist", {"cniVersion": "1.0.0", "name": "ni", "loadOnlyInlinedPlugins": True})
    failed(tool.run("add", "ni", "/tmp/x"), "`loadOnlyInlinedPlugins` is true, and no 'plugins' key")


def test_check_rules(tool):
    tool.write("10.conflist", {"cniVersion": "0.3.1", "name": "ck", "plugins": [rec("a")]})
    failed(tool.run("check", "ck", "/tmp/x"), 'configuration version "0.3.1" does not support the CHECK command')
    tool.write("10.conflist", {"cniVersion": "1.0.0", "name": "ck", "disableCheck": True, "plugins": [rec("a")]})
    tool.ok("check", "ck", "/tmp/x")
    assert tool.calls() == []
    # without a cached result the plugins get no prevResult (and decide)
    tool.write("10.conflist", {"cniVersion": "1.0.0", "name": "ck", "plugins": [rec("a")]})
    tool.ok("check", "ck", "/tmp/x")
    assert "prevResult" not in tool.calls()[0]["conf"]


def test_del_before_040_has_no_prevresult(tool):
    tool.write("10.conflist", {"cniVersion": "0.3.1", "name": "old", "plugins": [rec("a")]})
    tool.ok("add", "old", "/tmp/x")
    tool.calls()
    assert len(tool.cache_files()) == 1
    tool.ok("del", "old", "/tmp/x")
    assert "prevResult" not in tool.calls()[0]["conf"]
    assert tool.cache_files() == []


def test_add_failure_and_plugin_errors(tool):
    tool.write("10.conflist", {"cniVersion": "1.0.0", "name": "f",
                               "plugins": [rec("a"), rec("b", name="bee", fail={"ADD": [7, "no good"]})]})
    err = failed(tool.run("add", "f", "/tmp/x"), 'plugin type="rec" name="bee" failed (add): no good')
    assert tool.cache_files() == []
    tool.write("10.conflist", {"cniVersion": "1.0.0", "name": "f",
                               "plugins": [rec("a"), rec("b", fail={"DEL": [11, "later"]})]})
    failed(tool.run("del", "f", "/tmp/x"), 'plugin type="rec" failed (delete): later')
    assert err


def test_status_stops_at_first_error_and_needs_110(tool):
    tool.write("10.conflist", {"cniVersion": "1.1.0", "name": "s",
                               "plugins": [rec("a"), rec("b", fail={"STATUS": [50, "not ready"]}), rec("c")]})
    failed(tool.run("status", "s", "/tmp/x"), "Error: not ready")
    assert [c["tag"] for c in tool.calls()] == ["a", "b"]
    tool.write("10.conflist", {"cniVersion": "1.0.0", "name": "s", "plugins": [rec("a")]})
    tool.ok("status", "s", "/tmp/x")
    assert tool.calls() == []


def test_gc_rules(tool):
    tool.write("10.conflist", {"cniVersion": "1.0.0", "name": "g", "plugins": [rec("a")]})
    tool.ok("add", "g", "/tmp/x")
    tool.calls()
    tool.ok("gc", "g", "/tmp/y")  # < 1.1.0: the stale DELs only
    assert [c["cmd"] for c in tool.calls()] == ["DEL"]
    assert tool.cache_files() == []
    tool.write("10.conflist", {"cniVersion": "1.1.0", "name": "g", "disableGC": "true",
                               "plugins": [rec("a")]})
    tool.ok("add", "g", "/tmp/x")
    tool.calls()
    tool.ok("gc", "g", "/tmp/x")
    assert tool.calls() == [] and len(tool.cache_files()) == 1
    tool.write("10.conflist", {"cniVersion": "1.1.0", "name": "g",
                               "plugins": [rec("a", fail={"GC": [100, "gc a"]}), rec("b", fail={"GC": [100, "gc b"]})]})
    err = failed(tool.run("gc", "g", "/tmp/x"))
    assert "failed to GC plugin rec: gc a\nfailed to GC plugin rec: gc b" in err  # errors joined, all run


def test_args_ifname_and_container_id(tool):
    tool.write("10.conflist", {"cniVersion": "1.0.0", "name": "a", "plugins": [rec("a")]})
    cwd = tool.dir
    p = subprocess.run([os.path.join(cnitest.cnibox_dir(), "cnitool"), "-i", "net1", "add", "a", "ns/../x"],
                       cwd=cwd, capture_output=True, text=True,
                       env={"NETCONFPATH": tool.netconf, "CNI_PATH": tool.path, "CNI_CACHE_DIR": tool.cache,
                            "REC_LOG": tool.log, "CNI_ARGS": "A=1;B=2", "CNI_IFNAME": "ignored"})
    assert p.returncode == 0, p
    env = tool.calls()[0]["env"]
    assert env["CNI_IFNAME"] == "net1" and env["CNI_ARGS"] == "A=1;B=2"
    assert env["CNI_NETNS"] == os.path.join(cwd, "x")
    assert env["CNI_CONTAINERID"] == container_id(os.path.join(cwd, "x"))
    ci = tool.cached(f"a-{env['CNI_CONTAINERID']}-net1")
    assert ci["cniArgs"] == [["A", "1"], ["B", "2"]]
    tool.ok("add", "a", "/tmp/x", env={"CNI_IFNAME": "net2"})
    assert tool.calls()[0]["env"]["CNI_IFNAME"] == "net2"
    tool.ok("--ifname=net3", "add", "a", "/tmp/x")
    assert tool.calls()[0]["env"]["CNI_IFNAME"] == "net3"
    failed(tool.run("add", "a", "/tmp/x", env={"CNI_ARGS": "A=1;"}), 'invalid CNI_ARGS pair ""')
    failed(tool.run("add", "a", "/tmp/x", env={"CAP_ARGS": "[1]"}), "cannot unmarshal array")
    failed(tool.run("add", "a", "/tmp/x", env={"CAP_ARGS": "{"}), "unexpected end of JSON input")


def test_reads_a_libcni_cache_file(tool):
    """A cache file exactly as libcni writes it (json.Marshal of cachedInfo:
    struct order, compact, result as a map with sorted keys), here holding a
    0.4.0 result while the list is now 1.0.0: DEL gets it converted."""
    conflist = json.dumps({"cniVersion": "1.0.0", "name": "lc", "plugins": [rec("a")]})
    tool.write("10.conflist", conflist)
    cid = container_id("/run/netns/lc")
    result = ('{"cniVersion":"0.4.0","dns":{},"interfaces":[{"mac":"aa:bb:cc:dd:ee:ff","name":"eth0",'
              '"sandbox":"/run/netns/lc"}],"ips":[{"address":"10.5.0.7/24","gateway":"10.5.0.1",'
              '"interface":0,"version":"4"}],"routes":[{"dst":"0.0.0.0/0"}]}')
    text = ('{"kind":"cniCacheV1","containerId":"' + cid + '","config":"' +
            base64.b64encode(conflist.encode()).decode() + '","ifName":"eth0","networkName":"lc",'
            '"netns":"/run/netns/lc","cniArgs":[["IgnoreUnknown","1"]],"capabilityArgs":{"mac":"aa:bb:cc:dd:ee:ff"},'
            '"result":' + result + '}')
    os.makedirs(os.path.join(tool.cache, "results"), mode=0o700)
    name = f"lc-{cid}-eth0"
    with open(os.path.join(tool.cache, "results", name), "w") as f:
        f.write(text)
    tool.ok("check", "lc", "/run/netns/lc")
    prev = tool.calls()[0]["conf"]["prevResult"]
    assert prev == {"cniVersion": "1.0.0",
                    "interfaces": [{"name": "eth0", "mac": "aa:bb:cc:dd:ee:ff", "sandbox": "/run/netns/lc"}],
                    "ips": [{"interface": 0, "address": "10.5.0.7/24", "gateway": "10.5.0.1"}],
                    "routes": [{"dst": "0.0.0.0/0"}], "dns": {}}  # 1.0.0 keeps an empty dns, as Go's struct does
    # gc takes netns, CNI_ARGS and capability args from the cache
    tool.ok("gc", "lc", "/whatever")
    d = tool.calls()[0]
    assert d["cmd"] == "DEL" and d["env"]["CNI_ARGS"] == "IgnoreUnknown=1"
    assert d["env"]["CNI_NETNS"] == "/run/netns/lc" and d["conf"]["prevResult"] == prev
    assert tool.cache_files() == []


def test_written_cache_matches_libcni_bytes(tool):
    """What cnitool writes is byte for byte what libcni's json.Marshal gives."""
    conflist = '{"cniVersion":"1.0.0","name":"wb","plugins":[{"type":"rec","addr":"10.6.0.9/24"}]}\n'
    tool.write("10.conflist", conflist)
    tool.ok("add", "wb", "/run/netns/wb", env={"CAP_ARGS": '{"z":1.50,"a":[1e21,1e-7,100]}', "CNI_ARGS": "K=<v>"})
    cid = container_id("/run/netns/wb")
    with open(os.path.join(tool.cache, "results", f"wb-{cid}-eth0")) as f:
        got = f.read()
    want = ('{"kind":"cniCacheV1","containerId":"' + cid + '","config":"' +
            base64.b64encode(conflist.encode()).decode() + '","ifName":"eth0","networkName":"wb",'
            '"netns":"/run/netns/wb","cniArgs":[["K","\\u003cv\\u003e"]],'
            '"capabilityArgs":{"a":[1e+21,1e-7,100],"z":1.5},'
            '"result":{"cniVersion":"1.0.0","dns":{},"ips":[{"address":"10.6.0.9/24","gateway":"10.99.0.1"}]}}')
    assert got == want


def test_config_errors(tool):
    failed(tool.run("add", "x", "/tmp/x"), "no net configurations found in " + tool.netconf)
    tool.write("10.conflist", {"cniVersion": "1.0.0", "name": "bad", "plugins": [{"type": "a/b"}]})
    failed(tool.run("add", "bad", "/tmp/x"), 'plugin type="a/b" failed (add): invalid plugin name: a/b')
    failed(tool.run("del", "bad", "/tmp/x"), 'plugin type="a/b" failed (delete): invalid plugin name: a/b')
    failed(tool.run("add", "missing", "/tmp/x"), f'no net configuration with name "missing" in {tool.netconf}')
    tool.write("10.conflist", {"cniVersion": "1.0.0", "name": "bad", "plugins": [{"tag": "x"}]})
    failed(tool.run("add", "bad", "/tmp/x"),
           "failed to parse plugin config 0: error parsing configuration: missing 'type'")
    tool.write("10.conflist", {"cniVersion": "1.0.0", "name": "bad", "plugins": [rec("x", type="nosuch")]})
    failed(tool.run("add", "bad", "/tmp/x"), 'failed to find plugin "nosuch" in path [')
    tool.write("10.conflist", {"cniVersion": "1.0.0", "name": "bad", "disableCheck": "maybe", "plugins": [rec("x")]})
    failed(tool.run("add", "bad", "/tmp/x"), 'invalid value "maybe" for disableCheck')


def test_cli(tool):
    p = tool.run("--help")
    assert p.returncode == 0
    for w in ("add", "check", "del", "gc", "status", "NETCONFPATH", "CNI_PATH", "CNI_ARGS", "CAP_ARGS",
              "CNI_IFNAME", "CNI_CACHE_DIR", "/var/lib/cni/results", "--ifname"):
        assert w in p.stdout
    assert tool.run().returncode == 0
    failed(tool.run("frob", "a", "b"), 'unknown command "frob" for "cnitool"')
    failed(tool.run("add", "a"), "requires at least 2 arg(s), only received 1")
    failed(tool.run("--bogus", "add", "a", "b"), "unknown flag: --bogus")
    failed(tool.run("add", "a", "b", "-i"), "flag needs an argument")
