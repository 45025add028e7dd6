#!/usr/bin/env bash
# Installs what building and testing cnibox need on Debian 12 (run as root).
# Used by .ci/run and demo/quickstart.sh. With arguments, installs those
# packages instead (packaging/deps.sh).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

PKGS=(
    # build
    meson ninja-build g++ pkg-config rapidjson-dev libnl-3-dev libnl-route-3-dev
    libip4tc-dev libip6tc-dev libnftnl-dev libmnl-dev nettle-dev
    # unit tests, sanitizer and fuzz builds
    catch2 clang libclang-rt-14-dev
    # root test tiers and the demo
    python3 python3-pytest iproute2 iputils-ping procps
    # netfilter tiers: looking at the tables (iptables-legacy-save, nft), counting execs
    iptables nftables strace curl
    # the reference plugins (upstream's Go build) the differential tier compares against
    containernetworking-plugins
    # the VM tier (test/vm): ipvlan, vlan, dummy, vrf under Debian's kernel in qemu
    qemu-system-x86 busybox-static cpio
    # the e2e tier (test/e2e): real runtimes; podman stays on its CNI backend only
    # because --no-install-recommends keeps netavark out
    podman runc conmon containerd
)
[ $# -gt 0 ] && PKGS=("$@")

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#PKGS[@]} packages present"
    exit 0
fi
echo "deps: installing ${missing[*]}"
for i in 1 2 3; do
    if apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; then
        exit 0
    fi
    echo "deps: apt-get failed (try $i), retrying"; sleep $((i * 5))
done
exit 1
