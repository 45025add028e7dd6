"""podman 4.3 on its CNI backend with cnibox's applet symlinks as the only
plugin dir: the default network, `podman network create`, --ip, published
ports (from the namespace podman runs in, the bridge address, a second
client namespace and the container itself), container to container, and
that `podman rm -f` / `podman network rm` leave nothing behind.

podman runs under `nsenter --net=<a namespace the test made>`, so the bridges,
veths and netfilter rules it makes stay there (see runtimes.Podman).
"""
import os
import re
import time

import runtimes
from runtimes import IMAGE_NAME, WWW_TEXT

PLUGINS = ("bridge", "host-local", "portmap", "firewall", "tuning", "loopback")


def curl(ns, url, timeout=10):
    """GET url from inside ns, retried until it answers (httpd starting)."""
    deadline = time.monotonic() + timeout
    while True:
        p = ns.sh(f"curl -sS -m 3 {url}", check=False)
        if p.returncode == 0 or time.monotonic() > deadline:
            return p
        time.sleep(0.2)


def nc_get(podman, name, ip, port, timeout=10):
    """GET / from inside container `name` with busybox nc (Debian's
    busybox-static 1.35 wget segfaults, even on a numeric address)."""
    deadline = time.monotonic() + timeout
    while True:
        p = podman.exec(name, f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {ip} {port}", check=False)
        if WWW_TEXT in p.stdout or time.monotonic() > deadline:
            return p
        time.sleep(0.2)


def network_names(podman):
    p = podman.podman("network", "ls", "--format", "{{.Name}}")
    return set(p.stdout.split()), p.stderr


def ip_of(podman, name, net):
    return podman.inspect(name)["NetworkSettings"]["Networks"][net]["IPAddress"]


def lease_files(net):
    d = os.path.join(runtimes.CNI_LEASES, net)
    if not os.path.isdir(d):
        return []
    return sorted(f for f in os.listdir(d) if re.match(r"^[0-9a-f.:]+$", f))


def cache_files(net):
    if not os.path.isdir(runtimes.CNI_RESULTS):
        return []
    return sorted(f for f in os.listdir(runtimes.CNI_RESULTS) if f.startswith(net + "-"))


def test_default_network(podman):
    """`podman run` without --network: the default network (bridge cni-podman0,
    10.88.0.0/16), and every plugin podman execs is one of cnibox's symlinks."""
    names, err = network_names(podman)
    assert podman.default_network in names, err
    log = os.path.join(podman.dir, "exec.log")
    out = podman.podman("run", "--rm", IMAGE_NAME, "sh", "-c", "ip -4 addr show eth0; ip -4 route",
                        wrap=("strace", "-f", "-qq", "-e", "trace=execve", "-e", "signal=none",
                              "-o", log)).stdout
    m = re.search(r"inet (10\.88\.\d+\.\d+)/16 ", out)
    assert m, out
    assert re.search(r"default via 10\.88\.0\.1 dev eth0", out), out
    # which plugin binaries were executed
    execs = []
    with open(log) as f:
        for line in f:
            m2 = re.search(r'execve\("([^"]+)"', line)
            if m2 and os.path.basename(m2.group(1)) in PLUGINS and "= 0" in line:
                execs.append(m2.group(1))
    assert execs, "no CNI plugin was executed"
    assert all(os.path.dirname(e) == podman.bindir for e in execs), sorted(set(execs))
    # (cnibox's bridge runs host-local in-process, so that one need not be exec'd)
    for p in ("bridge", "portmap", "firewall", "tuning"):
        assert os.path.join(podman.bindir, p) in execs, (p, sorted(set(execs)))
    # the bridge is in the test's namespace, with the gateway address
    assert "10.88.0.1/16" in podman.ns.addrs("cni-podman0")
    # --rm: the DEL ran
    assert runtimes.host_veths(podman.ns) == []
    assert lease_files(podman.default_network) == []
    assert cache_files(podman.default_network) == []


def test_version_never_fails(podman):
    """podman asks every plugin of every network for VERSION each time it
    loads the networks and silently drops a network whose plugin fails it:
    every network must be listed, every time, without a warning; and every
    VERSION exec podman made exited 0."""
    nets = [f"cbt-v{i}-{podman.tag}" for i in range(3)]
    types = {}
    for i, n in enumerate(nets):
        conf = podman.network_create(n, "--subnet", f"10.89.{10 + i}.0/24")
        types[n] = [p["type"] for p in conf["plugins"]]
    for _ in range(2):
        names, err = network_names(podman)
        assert set(nets) | {podman.default_network} <= names, err
        assert "CNI" not in err and "rror" not in err, err
    log = os.path.join(podman.dir, "version.log")
    p = podman.podman("network", "ls", "--format", "{{.Name}}",
                      wrap=("strace", "-f", "-q", "-v", "-s", "64", "-e", "trace=execve",
                            "-e", "signal=none", "-o", log))
    assert set(nets) <= set(p.stdout.split()), p.stderr
    version_pids = {}
    exits = {}
    with open(log) as f:
        for line in f:
            m = re.match(r"(\d+) +execve\(\"([^\"]+)\"", line)
            if m and "CNI_COMMAND=VERSION" in line:
                version_pids[m.group(1)] = os.path.basename(m.group(2))
                assert os.path.dirname(m.group(2)) == podman.bindir, line
            m = re.match(r"(\d+) +\+\+\+ exited with (\d+) \+\+\+", line)
            if m:
                exits[m.group(1)] = int(m.group(2))
    # one VERSION per plugin of each network file (the default network lives in memory)
    expected = sorted(t for n in nets for t in types[n])
    got = sorted(version_pids.values())
    assert all(t in got for t in set(expected)) and len(got) >= len(expected), (expected, got)
    failed = {pid: plug for pid, plug in version_pids.items() if exits.get(pid) != 0}
    assert not failed, (failed, exits)


def test_network_create_and_run(podman):
    """`podman network create --subnet`, then `podman run --network NET`:
    eth0's address and routes come from cnibox (bridge + host-local)."""
    net = f"cbt-n-{podman.tag}"
    conf = podman.network_create(net, "--subnet", "10.89.1.0/24")
    assert conf["cniVersion"] == "0.4.0"
    assert [p["type"] for p in conf["plugins"]] == ["bridge", "portmap", "firewall", "tuning"]
    names, err = network_names(podman)
    assert {net, podman.default_network} <= names, err

    podman.run_detached("c1", "--network", net, IMAGE_NAME, "sleep", "600")
    ip = ip_of(podman, "c1", net)
    assert ip.startswith("10.89.1."), ip
    out = podman.exec("c1", "ip -4 addr show eth0; ip -4 route; cat /sys/class/net/eth0/address").stdout
    assert f"inet {ip}/24 " in out, out
    assert re.search(r"default via 10\.89\.1\.1 dev eth0", out), out
    assert re.search(r"10\.89\.1\.0/24 dev eth0 .*src " + re.escape(ip), out), out
    assert re.search(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$", out.split()[-1]), out
    # host side: the bridge has the gateway, one veth is its port; the lease is on disk
    bridge = conf["plugins"][0]["bridge"]
    assert "10.89.1.1/24" in podman.ns.addrs(bridge)
    veths = runtimes.host_veths(podman.ns)
    assert len(veths) == 1 and podman.ns.links()[veths[0]].get("master") == bridge, podman.ns.links()
    assert lease_files(net) == [ip]
    # the container reaches its gateway
    podman.exec("c1", "ping -c1 -W2 10.89.1.1")


def test_static_ip(podman):
    """--ip: CNI_ARGS IP=... reaches host-local, which hands out exactly that address."""
    net = f"cbt-s-{podman.tag}"
    podman.network_create(net, "--subnet", "10.89.2.0/24")
    podman.run_detached("c1", "--network", net, "--ip", "10.89.2.50", IMAGE_NAME, "sleep", "600")
    out = podman.exec("c1", "ip -4 addr show eth0").stdout
    assert "inet 10.89.2.50/24 " in out, out
    assert ip_of(podman, "c1", net) == "10.89.2.50"
    assert lease_files(net) == ["10.89.2.50"]
    # a second container asking for the same address is refused, the first keeps it
    p = podman.podman("run", "--rm", "--network", net, "--ip", "10.89.2.50", IMAGE_NAME, "true", check=False)
    assert p.returncode != 0, p.stdout
    assert lease_files(net) == ["10.89.2.50"]
    # the failed ADD left no second veth and no cached result
    assert len(runtimes.host_veths(podman.ns)) == 1, runtimes.host_veths(podman.ns)
    assert len(cache_files(net)) == 1, cache_files(net)
    podman.exec("c1", "ping -c1 -W2 10.89.2.1")


def test_published_port(podman, client):
    """-p 8080:80 to busybox httpd: reached on 127.0.0.1 and on the bridge
    address from podman's namespace, and from a second client namespace."""
    net = f"cbt-p-{podman.tag}"
    podman.network_create(net, "--subnet", "10.89.3.0/24")
    podman.run_detached("web", "--network", net, "-p", "8080:80", IMAGE_NAME,
                        "httpd", "-f", "-p", "80", "-h", "/www")
    ip = ip_of(podman, "web", net)
    # the container itself answers on its own address first
    r = curl(podman.ns, f"http://{ip}:80/")
    assert WWW_TEXT in r.stdout, (r.stdout, r.stderr)
    for url in ("http://127.0.0.1:8080/", "http://10.89.3.1:8080/"):
        r = curl(podman.ns, url)
        assert WWW_TEXT in r.stdout, (url, r.stdout, r.stderr)
    cl, addr = client(podman.ns)
    r = curl(cl, f"http://{addr}:8080/")
    assert WWW_TEXT in r.stdout, (r.stdout, r.stderr)
    # (conmon holds 8080 open to reserve it but never answers on it: the page
    # came through portmap's DNAT)


def test_container_to_container(podman):
    """Two containers on one network reach each other through the bridge."""
    net = f"cbt-c-{podman.tag}"
    podman.network_create(net, "--subnet", "10.89.4.0/24")
    podman.run_detached("web", "--network", net, IMAGE_NAME, "httpd", "-f", "-p", "80", "-h", "/www")
    podman.run_detached("cl", "--network", net, IMAGE_NAME, "sleep", "600")
    ip_web, ip_cl = ip_of(podman, "web", net), ip_of(podman, "cl", net)
    assert ip_web != ip_cl
    r = nc_get(podman, "cl", ip_web, 80)
    assert WWW_TEXT in r.stdout, (r.stdout, r.stderr)
    podman.exec("web", f"ping -c1 -W2 {ip_cl}")
    assert sorted(lease_files(net)) == sorted([ip_web, ip_cl])


def test_hairpin(podman):
    """A container reaches its own published port through the host address
    (DNAT back out of the port it came in on: hairpin mode + masquerade)."""
    net = f"cbt-h-{podman.tag}"
    podman.network_create(net, "--subnet", "10.89.5.0/24")
    podman.run_detached("web", "--network", net, "-p", "8080:80", IMAGE_NAME,
                        "httpd", "-f", "-p", "80", "-h", "/www")
    r = nc_get(podman, "web", "10.89.5.1", 8080)
    assert WWW_TEXT in r.stdout, (r.stdout, r.stderr)


def test_teardown_leaves_nothing(podman, client):
    """`podman rm -f` of a container with a published port, then `podman
    network rm`: no veth, lease, cached result, container netns or rule
    naming the container (legacy xtables and nftables in the namespace)."""
    net = f"cbt-t-{podman.tag}"
    conf = podman.network_create(net, "--subnet", "10.89.6.0/24")
    bridge = conf["plugins"][0]["bridge"]
    cid = podman.run_detached("web", "--network", net, "-p", "8080:80", IMAGE_NAME,
                              "httpd", "-f", "-p", "80", "-h", "/www")
    info = podman.inspect("web")
    ip = info["NetworkSettings"]["Networks"][net]["IPAddress"]
    sandbox = info["NetworkSettings"]["SandboxKey"]
    assert os.path.exists(sandbox)
    assert lease_files(net) == [ip]
    assert cache_files(net) == [f"{net}-{cid}-eth0"]
    assert runtimes.cnibox_state_leftovers(podman.ns, cid, ip), "no rule names the container"
    r = curl(podman.ns, "http://127.0.0.1:8080/")
    assert WWW_TEXT in r.stdout, (r.stdout, r.stderr)

    podman.podman("rm", "-f", "-t", "0", "web")
    assert runtimes.host_veths(podman.ns) == []
    assert lease_files(net) == []
    assert cache_files(net) == []
    assert not os.path.exists(sandbox)
    assert runtimes.cnibox_state_leftovers(podman.ns, cid, ip) == []
    assert podman.ns.sh("curl -sS -m 2 http://127.0.0.1:8080/", check=False).returncode != 0

    podman.podman("network", "rm", net)
    names, err = network_names(podman)
    assert net not in names
    assert not os.path.exists(os.path.join(podman.confdir, net + ".conflist"))
    assert bridge not in podman.ns.links()
    assert runtimes.cnibox_state_leftovers(podman.ns, cid, ip, "10.89.6.") == []


def test_repeated_run_rm(podman, rounds=3):
    """Several run/rm rounds on one network: every round gets an address and
    leaves nothing; the bridge stays for the network."""
    net = f"cbt-r-{podman.tag}"
    podman.network_create(net, "--subnet", "10.89.8.0/24")
    for i in range(rounds):
        out = podman.run_once("--network", net, "-p", "8081:80", IMAGE_NAME, "ip", "-4", "addr", "show", "eth0")
        assert re.search(r"inet 10\.89\.8\.\d+/24 ", out), out
        assert lease_files(net) == [] and cache_files(net) == []
        assert runtimes.host_veths(podman.ns) == []
    assert runtimes.cnibox_state_leftovers(podman.ns, "10.89.8.") == []


def test_cnitool_reads_podmans_cache(podman):
    """cnibox's cnitool and podman's libcni share /var/lib/cni/results: `cnitool
    gc NET` DELs every cached attachment of the network, so it must read the
    cache file podman's libcni wrote (config, netns, CNI_ARGS, result) and tear
    the container's attachment down with it."""
    net = f"cbt-g-{podman.tag}"
    podman.network_create(net, "--subnet", "10.89.7.0/24")
    cid = podman.run_detached("gcme", "--network", net, "-p", "8081:80", IMAGE_NAME,
                              "httpd", "-f", "-p", "80", "-h", "/www")
    ip = ip_of(podman, "gcme", net)
    assert cache_files(net) == [f"{net}-{cid}-eth0"]
    cached = open(os.path.join(runtimes.CNI_RESULTS, f"{net}-{cid}-eth0")).read()
    assert runtimes.host_veths(podman.ns) != []
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NETCONFPATH": podman.confdir, "CNI_PATH": podman.bindir}
    p = runtimes.run(["nsenter", f"--net={podman.ns.path}", os.path.join(podman.bindir, "cnitool"),
                      "gc", net, podman.ns.path], env=env, check=False)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert cache_files(net) == []
    assert lease_files(net) == []
    assert runtimes.cnibox_state_leftovers(podman.ns, cid, ip) == []
    # podman 4.3's libcni writes no "netns" into its cache, so the GC's DEL has
    # an empty CNI_NETNS: as the spec says, the plugins release what they hold
    # outside the namespace (address, rules) and the veth goes with the netns.
    assert '"netns"' not in cached or runtimes.host_veths(podman.ns) == [], cached
    podman.podman("rm", "-f", "-t", "0", "gcme")          # its own DEL finds nothing left: still fine
    assert runtimes.host_veths(podman.ns) == []
