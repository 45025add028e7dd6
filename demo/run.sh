#!/usr/bin/env bash
# cnibox demo: two "containers" on one bridge network, wired by cnibox's
# bridge + host-local applets exactly as a container runtime would run them.
#
# Everything happens inside network namespaces this script makes (a demo
# "host" and two "containers"); the machine's own network namespace is
# never touched. All of it is removed on exit, also after an error.
#
#   sudo bash demo/run.sh            (uses build/cnibox, or $CNIBOX)
set -euo pipefail
cd "$(dirname "$0")/.."

CNIBOX=${CNIBOX:-$PWD/build/cnibox}
SUBNET=10.123.0.0/24
BRIDGE=cnidemo0
NET=demonet
ID=$$

if [ "$(id -u)" != 0 ]; then echo "run as root (it makes network namespaces)"; exit 1; fi
if [ ! -x "$CNIBOX" ]; then echo "no cnibox at $CNIBOX: build first (meson setup build && meson compile -C build)"; exit 1; fi

HOST=cnidemo-host-$ID
A=cnidemo-a-$ID
B=cnidemo-b-$ID
WORK=$(mktemp -d /tmp/cnibox-demo-XXXXXX)
BIN=$WORK/bin
DATA=$WORK/data

if [ -t 1 ]; then BOLD=$'\033[1m' NORM=$'\033[0m'; else BOLD= NORM=; fi
bold() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$NORM"; }
say() { printf '    %s\n' "$*"; }
run() { printf '    $ %s\n' "$*"; "$@" 2>&1 | sed 's/^/      /'; return "${PIPESTATUS[0]}"; }

cleanup() {
    local rc=$?
    set +e
    bold "cleaning up: namespaces $HOST $A $B and $WORK"
    for ns in "$A" "$B" "$HOST"; do ip netns delete "$ns" 2>/dev/null; done
    rm -rf "$WORK"
    [ "$rc" = 0 ] && bold "demo finished OK" || bold "demo FAILED (exit $rc)"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bold "cnibox: $("$CNIBOX" --version | head -1)"
"$CNIBOX" --version | tail -n +2 | sed 's/^/    /'

bold "making a demo host namespace and two container namespaces"
for ns in "$HOST" "$A" "$B"; do
    run ip netns add "$ns"
    ip netns exec "$ns" ip link set lo up
done

bold "installing the applet symlinks: cnibox --install $BIN"
run "$CNIBOX" --install "$BIN"
run ls "$BIN"

CONF=$(cat <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$NET",
  "type": "bridge",
  "bridge": "$BRIDGE",
  "isDefaultGateway": true,
  "ipam": {
    "type": "host-local",
    "dataDir": "$DATA",
    "ranges": [[{"subnet": "$SUBNET"}]]
  }
}
EOF
)
bold "the network config (the same for both containers)"
echo "$CONF" | sed 's/^/    /'

# cni VERB CONTAINER-NS CONTAINER-ID [PLUGIN]: runs a plugin the way a runtime
# does (env vars + config on stdin), inside the demo host namespace.
cni() {
    local verb=$1 ns=$2 id=$3 plugin=${4:-bridge}
    echo "$CONF" | ip netns exec "$HOST" env -i \
        CNI_COMMAND="$verb" CNI_CONTAINERID="$id" CNI_NETNS="/run/netns/$ns" \
        CNI_IFNAME=eth0 CNI_PATH="$BIN" "$BIN/$plugin"
}

addr_of() {  # the container's IPv4 address on eth0
    ip netns exec "$1" ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1
}

for ns in "$A" "$B"; do
    bold "ADD: attaching $ns (CNI_COMMAND=ADD $BIN/bridge, IPAM by host-local)"
    cni ADD "$ns" "demo-$ns" | sed 's/^/    /'
    echo
done

bold "inside the containers"
for ns in "$A" "$B"; do
    say "$ns:"
    run ip netns exec "$ns" ip addr show dev eth0
    run ip netns exec "$ns" ip route
done

bold "on the demo host: the bridge and its ports, the leases host-local wrote"
run ip netns exec "$HOST" ip -br addr
run ip netns exec "$HOST" ip -br link show master "$BRIDGE"
run ls -l "$DATA/$NET"

IPA=$(addr_of "$A")
IPB=$(addr_of "$B")
GW=$(ip netns exec "$HOST" ip -4 -o addr show dev "$BRIDGE" | awk '{print $4}' | cut -d/ -f1)

bold "ping: A ($IPA) -> B ($IPB), B -> A, and each -> the gateway on the bridge ($GW)"
run ip netns exec "$A" ping -c 2 -W 2 "$IPB"
run ip netns exec "$B" ping -c 2 -W 2 "$IPA"
run ip netns exec "$A" ping -c 1 -W 2 "$GW"
run ip netns exec "$B" ping -c 1 -W 2 "$GW"

# More plugins join here later (published ports, firewall, bandwidth ...).

for ns in "$A" "$B"; do
    bold "DEL: detaching $ns"
    cni DEL "$ns" "demo-$ns"
    run ip netns exec "$ns" ip -br link
done
bold "after DEL: leases released, the bridge stays (as upstream's bridge plugin does)"
run ls -A "$DATA/$NET"
run ip netns exec "$HOST" ip -br link
