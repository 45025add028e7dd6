"""The README's demo runs to the end (it makes and removes its own namespaces)."""
import os
import re
import subprocess

import cnitest


def test_demo_runs():
    env = dict(os.environ, CNIBOX=cnitest.cnibox_binary())
    p = subprocess.run(["bash", os.path.join(cnitest.ROOT, "demo", "run.sh")], env=env,
                       capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert "demo finished OK" in p.stdout
    assert p.stdout.count(" 0% packet loss") >= 4, p.stdout[-3000:]
    # the published port, from localhost, outside, container B and A itself (hairpin)
    assert p.stdout.count("hello from container A") >= 4, p.stdout[-3000:]
    # masquerade: the outside server answered container B (status 200)
    assert "\n      200\n" in p.stdout, p.stdout[-3000:]
    # the shaped container: both directions measured near 8 Mbit/s, the
    # unshaped one far above
    rates = [float(r) for r in re.findall(r"\):\s+([0-9.]+) Mbit/s\n", p.stdout)]
    assert len(rates) == 3, p.stdout[-3000:]
    assert all(8 * 0.85 <= r <= 8 * 1.15 for r in rates[:2]) and rates[2] > 40, rates
    # the LAN scene: two containers leased from dnsmasq, pinging it and each
    # other, both leases released by DEL
    assert p.stdout.count(" 0% packet loss") >= 7, p.stdout[-3000:]
    assert p.stdout.count("DHCPACK(eth0)") >= 2 and p.stdout.count("DHCPRELEASE(eth0)") == 2, p.stdout[-3000:]
    # the two-node flannel cluster: pods on different nodes ping each other
    # on both families (ttl 62: two routers, the nodes, on the way), through
    # the vxlan devices
    cl = p.stdout[p.stdout.index("a two-node flannel cluster"):]
    assert cl.count(" 0% packet loss") == 4 and cl.count("ttl=62") >= 8, cl[-3000:]
    assert "10.42.2.0/24 via 10.42.2.0 onlink" in cl, cl[:3000]
    leftovers = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "cnidemo-" not in leftovers
