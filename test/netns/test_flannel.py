"""flannel applet: the meta plugin over bridge + host-local, against real
namespaces (root).

flannel runs inside the `host` namespace; its subnet file, its dataDir and
host-local's dataDir are in `scratch` (never the machine's /run/flannel or
/var/lib/cni). The delegate configs it saves are compared byte for byte
with test/netns/data/flannel/*.json, written by hand from the rules of
flannel's own plugin (flannel.go, flannel_linux.go): Go's json.Marshal of
the delegate map (compact, keys sorted), `@IPAMDIR@` standing for the
test's host-local dataDir.
"""
import json
import os
import stat

import pytest

import cnitest
from cnitest import assert_cni_error, run_plugin

NET = "flannet"
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "flannel")

ENV_V4 = "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n"
ENV_V6 = "FLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n"
ENV_DUAL = ("FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_IPV6_NETWORK=fc00::/48\n"
            "FLANNEL_IPV6_SUBNET=fc00::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n")


def subnet_file(scratch):
    return os.path.join(scratch.path, "subnet.env")


def data_dir(scratch):
    return os.path.join(scratch.path, "flannel")


def ipam_dir(scratch):
    return os.path.join(scratch.path, "ipam")


def write_env(scratch, text=ENV_V4):
    with open(subnet_file(scratch), "w") as f:
        f.write(text)


def fconf(scratch, version="1.0.0", ipam=None, **kw):
    """A flannel config; host-local's dataDir goes in through `ipam`, as a
    user's ipam keys do."""
    c = {"cniVersion": version, "name": NET, "type": "flannel",
         "subnetFile": subnet_file(scratch), "dataDir": data_dir(scratch),
         "ipam": dict({"dataDir": ipam_dir(scratch)}, **(ipam or {}))}
    c.update(kw)
    return c


def flannel(cmd, host, ctr, conf, **kw):
    return run_plugin("flannel", cmd, conf, host=host, netns=ctr, **kw)


def saved(scratch, cid="ctr1"):
    with open(os.path.join(data_dir(scratch), cid)) as f:
        return f.read()


def saved_files(scratch):
    d = data_dir(scratch)
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def expected(name, scratch):
    with open(os.path.join(DATA, name + ".json")) as f:
        return f.read().replace("@IPAMDIR@", ipam_dir(scratch))


# name -> (subnet.env, extra config keys, expected addresses)
CASES = {
    "default": (ENV_V4, {}, ["10.1.17.2/24"]),
    "delegate": (ENV_V4, {"delegate": {"bridge": "cbtfl1", "mtu": 1400, "hairpinMode": True,
                                       "isGateway": False}}, ["10.1.17.2/24"]),
    "ipam": (ENV_V4, {"ipam": {"routes": [{"dst": "10.96.0.0/12"},
                                          {"dst": "192.168.244.0/24", "gw": "10.1.17.20"}],
                               "unknown-param": "unknown-value"}}, ["10.1.17.2/24"]),
    "dualstack": (ENV_DUAL, {}, ["10.1.17.2/24", "fc00::2/64"]),
    "ipv6": (ENV_V6, {}, ["fc00::2/64"]),
}


# ---------------------------------------------------------------- ADD / CHECK / DEL

@pytest.mark.parametrize("case", sorted(CASES))
def test_add_check_del_saves_flannels_delegate_config(host, ctr, scratch, case):
    env, extra, addrs = CASES[case]
    write_env(scratch, env)
    conf = fconf(scratch)
    if "ipam" in extra:
        conf["ipam"].update(extra["ipam"])
    if "delegate" in extra:
        conf["delegate"] = extra["delegate"]
    r = flannel("ADD", host, ctr, conf)
    assert r.ok, r
    assert saved(scratch) == expected(case, scratch)
    assert stat.S_IMODE(os.stat(os.path.join(data_dir(scratch), "ctr1")).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(data_dir(scratch)).st_mode) == 0o700
    assert saved_files(scratch) == ["ctr1"]
    assert sorted(ip["address"] for ip in r.json["ips"]) == addrs
    assert sorted(a for a in ctr.addrs("eth0") if not a.startswith("fe80:")) == addrs
    mtu = 1400 if case == "delegate" else 1472
    assert ctr.link("eth0")["mtu"] == mtu
    if case == "ipam":
        assert "192.168.244.0/24 via 10.1.17.20" in ctr.sh("ip -4 route show").stdout

    chk = dict(conf, prevResult=r.json)
    c = flannel("CHECK", host, ctr, chk)
    assert c.ok, c

    d = flannel("DEL", host, ctr, conf)
    assert d.ok, d
    assert saved_files(scratch) == []
    assert ctr.link("eth0") is None
    assert cnitest.leases(ipam_dir(scratch), NET) == []
    d = flannel("DEL", host, ctr, conf)
    assert d.ok, d


def test_default_ping_gateway_and_version_0_3_1(host, ctr, scratch):
    write_env(scratch)
    conf = fconf(scratch, version="0.3.1")
    r = flannel("ADD", host, ctr, conf)
    assert r.ok, r
    assert r.json["cniVersion"] == "0.3.1"
    assert json.loads(saved(scratch))["cniVersion"] == "0.3.1"
    assert "10.1.17.1/24" in host.addrs("cni0")
    ctr.sh("ping -c1 -W2 10.1.17.1")
    host.sh("ping -c1 -W2 10.1.17.2")
    assert "10.1.0.0/16 via 10.1.17.1" in ctr.sh("ip -4 route show").stdout
    assert flannel("DEL", host, ctr, conf).ok


def test_runtime_config_and_no_cni_version_passed_as_flannel_does(host, ctr, scratch):
    """runtimeConfig goes to the delegate; without a cniVersion the delegate
    config has none (flannel sets it only when given)."""
    write_env(scratch, ENV_V4.replace("FLANNEL_IPMASQ=true", "FLANNEL_IPMASQ=false"))
    conf = fconf(scratch, runtimeConfig={"portMappings": [], "mac": "c2:11:22:33:44:55"})
    r = flannel("ADD", host, ctr, conf)
    assert r.ok, r
    got = json.loads(saved(scratch))
    assert got["runtimeConfig"] == {"mac": "c2:11:22:33:44:55", "portMappings": []}
    assert got["ipMasq"] is True
    assert ctr.link("eth0")["address"] == "c2:11:22:33:44:55"
    assert flannel("DEL", host, ctr, conf).ok
    conf = fconf(scratch)
    del conf["cniVersion"]
    r = flannel("ADD", host, ctr, conf, containerid="ctr2")
    assert r.ok, r
    assert "cniVersion" not in json.loads(saved(scratch, "ctr2"))
    assert r.json["ip4"]["ip"].startswith("10.1.17.")
    assert flannel("DEL", host, ctr, conf, containerid="ctr2").ok
    assert saved_files(scratch) == []


def test_del_of_a_config_saved_by_flannels_own_plugin(host, ctr, scratch):
    """The attachment made by bridge with the config flannel's binary would
    have saved (written here by hand in its format) is removed by DEL."""
    text = expected("default", scratch)
    r = run_plugin("bridge", "ADD", text, host=host, netns=ctr)
    assert r.ok, r
    os.makedirs(data_dir(scratch), mode=0o700)
    with open(os.path.join(data_dir(scratch), "ctr1"), "w") as f:
        f.write(text)
    assert ctr.link("eth0") is not None
    d = flannel("DEL", host, ctr, fconf(scratch))  # no subnet file: DEL does not need it
    assert d.ok, d
    assert ctr.link("eth0") is None
    assert saved_files(scratch) == []
    assert cnitest.leases(ipam_dir(scratch), NET) == []


def test_del_without_saved_config_and_unusable_saved_config(host, ctr, scratch):
    assert flannel("DEL", host, ctr, fconf(scratch)).ok
    os.makedirs(data_dir(scratch))
    for text in ["", "not json", "[1]", '{"name":"x"}', '{"type":"flannel"}', '{"type":5}']:
        with open(os.path.join(data_dir(scratch), "ctr1"), "w") as f:
            f.write(text)
        d = flannel("DEL", host, ctr, fconf(scratch))
        assert d.ok, (text, d)
        assert saved_files(scratch) == [], text
    # a save cut short: the ADD killed while writing it
    for text in ["", '{"cniVersion":"1.0.0","name":"flan']:
        with open(os.path.join(data_dir(scratch), ".ctr1.tmp"), "w") as f:
            f.write(text)
        d = flannel("DEL", host, ctr, fconf(scratch))
        assert d.ok, (text, d)
        assert saved_files(scratch) == [], text


# a FIFO or a symlink planted under the saved config's name: neither waited
# on nor followed (the symlink leads to a config that names a delegate); DEL
# succeeds and leaves it, CHECK fails naming it
@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_planted_saved_config_neither_blocks_nor_is_followed(host, ctr, scratch, kind):
    write_env(scratch)
    os.makedirs(data_dir(scratch))
    planted = os.path.join(data_dir(scratch), "ctr1")
    cnitest.plant(planted, kind, json.dumps({"cniVersion": "1.0.0", "name": NET, "type": "bridge", "bridge": "cbtflp0",
                                             "ipam": {"type": "host-local", "dataDir": ipam_dir(scratch),
                                                      "ranges": [[{"subnet": "10.1.17.0/24"}]]}}))
    d = flannel("DEL", host, ctr, fconf(scratch), wrapper=["timeout", "10"])
    assert d.ok, d
    assert "not a regular file" in d.stderr
    assert saved_files(scratch) == ["ctr1"]
    c = flannel("CHECK", host, ctr, fconf(scratch), wrapper=["timeout", "10"])
    assert c.rc == 1 and planted in c.stdout, c


@pytest.mark.parametrize("gone", ["empty", "deleted", "repeat"])
def test_del_idempotent(host, make_ns, scratch, gone):
    ctr = make_ns()
    write_env(scratch)
    conf = fconf(scratch)
    r = flannel("ADD", host, ctr, conf)
    assert r.ok, r
    netns = ctr
    if gone == "empty":
        netns = ""
    elif gone == "deleted":
        path = ctr.path
        ctr.delete()
        netns = path
    d = run_plugin("flannel", "DEL", conf, host=host, netns=netns)
    assert d.ok, d
    assert saved_files(scratch) == []
    assert cnitest.leases(ipam_dir(scratch), NET) == []
    d = run_plugin("flannel", "DEL", conf, host=host, netns=netns)
    assert d.ok, d


def test_failed_delegate_add_leaves_nothing(host, make_ns, scratch):
    """The subnet has room for one container: the second ADD fails in
    host-local; its saved config goes, the first one's stays."""
    write_env(scratch, ENV_V4.replace("10.1.17.1/24", "10.1.17.0/30"))
    conf = fconf(scratch)
    a, b = make_ns(), make_ns()
    r = flannel("ADD", host, a, conf, containerid="ctr1")
    assert r.ok, r
    r = flannel("ADD", host, b, conf, containerid="ctr2")
    assert_cni_error(r, {100, 999}, "failed to delegate add")
    assert saved_files(scratch) == ["ctr1"]
    assert b.link("eth0") is None
    assert flannel("DEL", host, a, conf, containerid="ctr1").ok
    assert saved_files(scratch) == []


def test_check_delegates_check(host, ctr, scratch):
    write_env(scratch)
    conf = fconf(scratch)
    c = flannel("CHECK", host, ctr, dict(conf, prevResult={"cniVersion": "1.0.0", "ips": []}))
    assert_cni_error(c, 3, "no delegate config saved")
    r = flannel("ADD", host, ctr, conf)
    assert r.ok, r
    chk = dict(conf, prevResult=r.json)
    assert flannel("CHECK", host, ctr, chk).ok
    ctr.sh("ip addr flush dev eth0")
    c = flannel("CHECK", host, ctr, chk)
    assert not c.ok and c.json["code"] != 3, c
    assert flannel("DEL", host, ctr, conf).ok


# ---------------------------------------------------------------- GC and STATUS

def test_gc_removes_stale_saved_configs_and_leases(host, make_ns, scratch):
    write_env(scratch)
    conf = fconf(scratch, version="1.1.0")
    a, b = make_ns(), make_ns()
    assert flannel("ADD", host, a, conf, containerid="ctr1").ok
    assert flannel("ADD", host, b, conf, containerid="ctr2").ok
    # another network's saved config in the same dataDir stays
    with open(os.path.join(data_dir(scratch), "other1"), "w") as f:
        f.write('{"name":"othernet","type":"bridge"}')
    # saves cut short: a stale container's go, whatever network wrote them;
    # a valid container's and another network's whole one stay
    for n, text in ((".ctr3.tmp", ""), (".ctr4.tmp", '{"cniVersion":"1.1.0","na'), (".ctr1.tmp", ""),
                    (".other2.tmp", '{"name":"othernet","type":"bridge"}')):
        with open(os.path.join(data_dir(scratch), n), "w") as f:
            f.write(text)
    assert len(cnitest.leases(ipam_dir(scratch), NET)) == 2
    gc = dict(conf, **{"cni.dev/valid-attachments": [{"containerID": "ctr1", "ifname": "eth0"}]})
    g = run_plugin("flannel", "GC", gc, host=host)
    assert g.ok, g
    assert saved_files(scratch) == [".ctr1.tmp", ".other2.tmp", "ctr1", "other1"]
    assert cnitest.leases(ipam_dir(scratch), NET) == ["10.1.17.2"]
    os.unlink(subnet_file(scratch))
    gc = dict(conf, **{"cni.dev/valid-attachments": []})
    assert_cni_error(run_plugin("flannel", "GC", gc, host=host), 11, "subnet.env")
    assert saved_files(scratch) == [".ctr1.tmp", ".other2.tmp", "ctr1", "other1"]
    assert flannel("DEL", host, a, conf, containerid="ctr1").ok
    assert saved_files(scratch) == [".other2.tmp", "other1"]


def test_status_not_ready_until_the_subnet_file_exists(host, scratch):
    conf = fconf(scratch, version="1.1.0")
    s = run_plugin("flannel", "STATUS", conf, host=host)
    assert_cni_error(s, 50, "subnet.env")
    write_env(scratch, "FLANNEL_MTU=abc\n")
    assert_cni_error(run_plugin("flannel", "STATUS", conf, host=host), 50)
    write_env(scratch)
    s = run_plugin("flannel", "STATUS", conf, host=host)
    assert s.ok, s


# ---------------------------------------------------------------- the delegate executed

def fake_plugin(scratch, body):
    """A directory for CNI_PATH holding `fakeplug`, a shell script running
    `body` (then exit 0); returns the directory."""
    bindir = os.path.join(scratch.path, "bin")
    os.makedirs(bindir)
    path = os.path.join(bindir, "fakeplug")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body + "exit 0\n")
    os.chmod(path, 0o755)
    return bindir


def test_foreign_delegate_executed_with_the_saved_bytes(host, ctr, scratch):
    """A delegate that is not cnibox is executed from CNI_PATH and gets the
    saved config on stdin, for ADD and DEL alike."""
    out = os.path.join(scratch.path, "seen")
    bindir = fake_plugin(scratch, "cat > %s.$CNI_COMMAND\n"
                                  "[ \"$CNI_COMMAND\" = ADD ] && echo '{\"cniVersion\":\"1.0.0\","
                                  "\"ips\":[{\"address\":\"10.1.17.9/24\"}]}'\n" % out)
    write_env(scratch)
    conf = fconf(scratch, delegate={"type": "fakeplug"})
    r = flannel("ADD", host, ctr, conf, cni_path=bindir)
    assert r.ok, r
    assert r.json["ips"][0]["address"] == "10.1.17.9/24"
    with open(out + ".ADD") as f:
        assert f.read() == saved(scratch)
    assert "isGateway" not in json.loads(saved(scratch))
    assert flannel("DEL", host, ctr, conf, cni_path=bindir).ok
    with open(out + ".DEL") as f:
        sent = f.read()
    assert sent == expected("default", scratch).replace('"isGateway":true,', "").replace(
        '"type":"bridge"', '"type":"fakeplug"')
    assert saved_files(scratch) == []


def test_failed_delegate_del_keeps_the_saved_config(host, ctr, scratch):
    fail = os.path.join(scratch.path, "fail")
    bindir = fake_plugin(scratch, "cat >/dev/null\n"
                                  "[ \"$CNI_COMMAND\" = DEL ] && [ -e %s ] && "
                                  "{ echo '{\"code\":11,\"msg\":\"busy\"}'; exit 1; }\n"
                                  "[ \"$CNI_COMMAND\" = ADD ] && echo '{\"cniVersion\":\"1.0.0\"}'\n" % fail)
    write_env(scratch)
    conf = fconf(scratch, delegate={"type": "fakeplug"})
    assert flannel("ADD", host, ctr, conf, cni_path=bindir).ok
    open(fail, "w").close()
    assert_cni_error(flannel("DEL", host, ctr, conf, cni_path=bindir), 11, "busy")
    assert saved_files(scratch) == ["ctr1"]
    os.unlink(fail)
    assert flannel("DEL", host, ctr, conf, cni_path=bindir).ok
    assert saved_files(scratch) == []


# ---------------------------------------------------------------- bad input

def test_add_without_subnet_file_is_try_again(host, ctr, scratch):
    r = flannel("ADD", host, ctr, fconf(scratch))
    assert_cni_error(r, 11, "subnet.env", "no such file")
    assert not os.path.exists(data_dir(scratch))


BAD_ENVS = [
    ("foo=bar\n", "is missing FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK, FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET, "
                  "FLANNEL_MTU, FLANNEL_IPMASQ"),
    (ENV_V4.replace("FLANNEL_MTU=1472\n", ""), "is missing FLANNEL_MTU"),
    (ENV_V4.replace("FLANNEL_IPMASQ=true\n", ""), "is missing FLANNEL_IPMASQ"),
    (ENV_V4.replace("FLANNEL_SUBNET=10.1.17.1/24\n", ""), "FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET"),
    (ENV_V4.replace("1472", "-1"), "invalid syntax"),
    (ENV_V4.replace("1472", "4294967296"), "out of range"),
    (ENV_V4.replace("10.1.17.1/24", "10.1.17.1"), "invalid CIDR"),
    (ENV_V4.replace("10.1.0.0/16", "10.1.0.0/16,"), "invalid CIDR"),
    (ENV_V4.replace("10.1.0.0/16", "10.1.0.0/33"), "invalid CIDR"),
    (ENV_V4.replace("FLANNEL_MTU=1472", "FLANNEL_MTU"), "has no value"),
]


@pytest.mark.parametrize("text,words", BAD_ENVS)
def test_malformed_subnet_file_is_invalid_config(host, ctr, scratch, text, words):
    write_env(scratch, text)
    r = flannel("ADD", host, ctr, fconf(scratch))
    assert_cni_error(r, 7, words)
    assert not os.path.exists(data_dir(scratch))
    assert ctr.link("eth0") is None


BAD_CONFS = [
    ({"delegate": []}, "delegate must be an object"),
    ({"delegate": "bridge"}, "delegate must be an object"),
    ({"delegate": {"type": 5}}, "(string) 'type'"),
    ({"delegate": {"type": None}}, "(string) 'type'"),
    ({"delegate": {"type": ""}}, "invalid delegate type"),
    ({"delegate": {"type": "../bin/bridge"}}, "invalid delegate type"),
    ({"delegate": {"type": "flannel"}}, "invalid delegate type"),
    ({"delegate": {"name": "x"}}, "'name'"),
    ({"delegate": {"ipam": {}}}, "'ipam'"),
    ({"ipam": "host-local"}, "ipam"),
    ({"runtimeConfig": [1]}, "runtimeConfig must be an object"),
    ({"subnetFile": 5}, "subnetFile"),
    ({"dataDir": True}, "dataDir"),
    ({"ipam": {"routes": [{"dst": "10.96.0.0"}]}}, "ipam.routes"),
    ({"ipam": {"routes": {"dst": "10.96.0.0/12"}}}, "ipam.routes"),
]


@pytest.mark.parametrize("extra,words", BAD_CONFS)
def test_hostile_config_is_refused_with_nothing_left(host, ctr, scratch, extra, words):
    write_env(scratch)
    conf = fconf(scratch)
    for k, v in extra.items():
        if k == "ipam" and isinstance(v, dict):
            conf["ipam"].update(v)
        else:
            conf[k] = v
    r = flannel("ADD", host, ctr, conf)
    assert_cni_error(r, 7, words)
    assert not os.path.exists(data_dir(scratch))
    assert ctr.link("eth0") is None


def test_delegate_not_on_cni_path(host, ctr, scratch):
    write_env(scratch)
    r = flannel("ADD", host, ctr, fconf(scratch, delegate={"type": "nosuchplugin"}))
    assert_cni_error(r, 999, "failed to find plugin")
    assert not os.path.exists(data_dir(scratch))


def test_no_exec_of_network_tools(host, ctr, scratch):
    """ADD and DEL exec nothing: bridge and host-local run in-process."""
    write_env(scratch)
    conf = fconf(scratch)
    log = os.path.join(scratch.path, "strace")
    for cmd in ("ADD", "DEL"):
        r = run_plugin("flannel", cmd, conf, host=host, netns=ctr,
                       wrapper=["strace", "-f", "-qq", "-e", "trace=execve", "-o", log])
        assert r.ok, r
        execs = [l for l in open(log) if "execve(" in l]
        assert len(execs) == 1, execs


@pytest.mark.parametrize("cid", ["../escape", "a/b", ".hidden", ".."])
def test_container_id_cannot_escape_data_dir(host, ctr, scratch, cid):
    write_env(scratch)
    for cmd in ("ADD", "DEL"):
        r = flannel(cmd, host, ctr, fconf(scratch), containerid=cid)
        assert_cni_error(r, 4, "containerID")
    assert not os.path.exists(data_dir(scratch))
    assert os.listdir(scratch.path) == ["subnet.env"]
