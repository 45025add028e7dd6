#!/usr/bin/env bash
# The one list of the Debian 12 packages cnibox needs, grouped by purpose, and
# their installer (run as root). demo/quickstart.sh and .ci/run install all of
# it; test/run installs one tier's share right before running that tier.
#
#   bash .ci/deps.sh                    install every group
#   bash .ci/deps.sh --tier TIER...     install what these test/run tiers need
#                                       (also: build, demo, packaging)
#   bash .ci/deps.sh --check [--tier TIER...]
#                                       install nothing: name what is missing,
#                                       exit 1 when anything is
#   bash .ci/deps.sh --list [--tier TIER...]
#                                       print the packages, one a line
#   bash .ci/deps.sh PACKAGE...         install these packages
#
# When everything is present this costs one dpkg-query (milliseconds) and
# prints nothing with --quiet; apt-get update runs only when something is
# missing. Packages are installed with --no-install-recommends (that keeps
# netavark out, so podman stays on its CNI backend).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

GROUPS_ORDER=(build tools pytest fuzz reference static e2e vm cross)
declare -A GROUP=(
    # build/cnibox (meson setup build && meson compile -C build); its default
    # -Dtests=true also builds the unit tests (catch2), test/netlink and the
    # tests' netfilter tool (nftool)
    [build]="meson ninja-build g++ pkg-config rapidjson-dev libnl-3-dev libnl-route-3-dev
             libip4tc-dev libip6tc-dev libnftnl-dev libmnl-dev nettle-dev catch2"
    # the demo and the root test tiers: namespaces, traffic (ping, curl, a
    # python http.server), the netfilter tables as oracles (iptables-legacy-save,
    # nft), strace's count of execs and the crash tier's kills, a DHCP server for the dhcp tests (dnsmasq)
    [tools]="python3 iproute2 iputils-ping procps iptables nftables strace curl dnsmasq-base"
    # the pytest tiers
    [pytest]="python3 python3-pytest"
    # the fuzz tier: clang's libFuzzer and sanitizer runtimes
    [fuzz]="clang libclang-rt-14-dev"
    # the diff tier: upstream's Go plugins 1.1.1 in /usr/lib/cni, the reference
    [reference]="containernetworking-plugins"
    # packaging/build-static.sh and the static tier: musl (the C library),
    # `apt-get source` and the builds of libnl (flex, bison), nettle (m4) and
    # libiptc from Debian's sources (dpkg-dev, make), the binary's checks
    # (file, binutils' strip and readelf), the .deb (dpkg-deb), the installer
    # image's static shell (busybox-static), unshare/chroot (util-linux), the
    # flannel DaemonSet manifest's parser (python3-yaml)
    [static]="musl-tools musl-dev make flex bison m4 dpkg-dev file binutils busybox-static util-linux
              python3-yaml"
    # the e2e tier: real runtimes (podman on its CNI backend, runc, containerd's
    # ctr) and a busybox image made from busybox-static
    [e2e]="podman runc conmon containerd busybox-static"
    # the vm tier: Debian's kernel under qemu with a busybox initramfs, and
    # dnsmasq in it as the DHCP server of the ipvlan + dhcp cases
    [vm]="qemu-system-x86 busybox-static cpio dnsmasq-base"
    # the cross tier: ARCH=arm64 packaging/build-static.sh with Debian's cross
    # compiler (its libstdc++ and libgcc come along; the foreign musl and
    # libnftnl are fetched by the build itself, not installed), qemu-user to
    # run the binary and the unit tests, and qemu-system-arm for the arm64
    # guest of test/vm (VM_ARCH=arm64)
    [cross]="gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user-static qemu-system-arm"
    # the cross-full tier and releases: armhf and riscv64 too
    [cross-full]="gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf gcc-riscv64-linux-gnu g++-riscv64-linux-gnu"
)
# What each of test/run's tiers (and a few other users) needs.
declare -A TIER=(
    [build]="build"
    [demo]="build tools"
    [unit]="build"
    [unit-asan]="build"
    [asan]="build"
    [layout]="build pytest"
    [cli]="build pytest"
    [netns]="build pytest tools"
    [cluster]="build pytest tools"
    [cluster-full]="build pytest tools"
    [crash]="build pytest tools"
    [crash-full]="build pytest tools"
    [diff]="build pytest tools reference"
    [e2e]="build pytest tools e2e"
    [fuzz]="build fuzz"
    [static]="build pytest static"
    [netns-static]="build pytest tools static"
    [vm]="build vm"
    [packaging]="build static e2e cross cross-full"
    [cross]="build pytest tools static e2e vm cross"
    [cross-full]="build pytest tools static e2e vm cross cross-full"
)

usage() { sed -n '2,/^set -e/p' "$0" | sed -n 's/^# \{0,1\}//p' >&2; exit 2; }

mode=install quiet=false tiers=() pkgs=()
while [ $# -gt 0 ]; do
    case $1 in
        --tier) [ $# -ge 2 ] || usage; tiers+=("$2"); shift 2 ;;
        --tier=*) tiers+=("${1#--tier=}"); shift ;;
        --check) mode=check; shift ;;
        --list) mode=list; shift ;;
        --quiet|-q) quiet=true; shift ;;
        -h|--help) usage ;;
        -*) echo "deps: unknown option $1" >&2; usage ;;
        *) pkgs+=("$1"); shift ;;
    esac
done

groups=()
if [ ${#tiers[@]} -gt 0 ]; then
    for t in "${tiers[@]}"; do
        [ -n "${TIER[$t]+x}" ] || { echo "deps: unknown tier '$t' (known: ${!TIER[*]})" >&2; exit 2; }
        read -r -d '' -a g <<< "${TIER[$t]}" || true
        groups+=("${g[@]}")
    done
elif [ ${#pkgs[@]} -eq 0 ]; then
    groups=("${GROUPS_ORDER[@]}")
fi
for g in "${groups[@]}"; do
    read -r -d '' -a p <<< "${GROUP[$g]}" || true
    pkgs+=("${p[@]}")
done
# each package once, in order
declare -A seen=()
PKGS=()
for p in "${pkgs[@]}"; do
    [ -n "${seen[$p]+x}" ] && continue
    seen[$p]=1
    PKGS+=("$p")
done

if [ "$mode" = list ]; then
    printf '%s\n' "${PKGS[@]}"
    exit 0
fi

say() { $quiet || echo "deps: $*"; }

missing_packages() {  # prints the packages of PKGS not installed, one a line
    # One query for all; unknown packages are missing from its output.
    dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PKGS[@]}" 2>/dev/null |
        awk '$2 == "ii" { print $1 }' | sort -u > "$tmp/present" || true
    printf '%s\n' "${PKGS[@]}" | sort -u | comm -23 - "$tmp/present"
}

command -v dpkg-query > /dev/null || { echo "deps: dpkg-query not found (this list is Debian 12's)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mapfile -t missing < <(missing_packages)
if [ ${#missing[@]} -eq 0 ]; then
    say "all ${#PKGS[@]} packages present"
    exit 0
fi
if [ "$mode" = check ]; then
    echo "deps: missing: ${missing[*]}"
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing: ${missing[*]} (installing them needs root)" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}"
for i in 1 2 3; do
    if apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; then
        exit 0
    fi
    echo "deps: apt-get failed (try $i of 3)" >&2
    [ "$i" = 3 ] || sleep $((i * 5))
done
exit 1
