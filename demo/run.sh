#!/usr/bin/env bash
# cnibox demo: two "containers" on one bridge network, attached by cnibox's
# cnitool running the chain bridge (+ host-local, ipMasq) -> portmap ->
# firewall -> bandwidth exactly as a container runtime's libcni would,
# container A publishing a web server on host port 8080, container B shaped
# to 8 Mbit/s each way (measured). Then two more containers on a
# macvlan LAN whose DHCP server (dnsmasq) gives them their addresses through
# cnibox's dhcp IPAM and its daemon. Last, a two-node flannel cluster: each
# node a namespace with a vxlan device as flanneld makes it (the cluster
# tier's setup, test/cluster/flannelnet.py), a pod on each attached through
# the flannel conflist, pinging each other across the overlay on both
# IPv4 and IPv6.
#
# Everything happens inside network namespaces this script makes (a demo
# "host", the "containers", an "outside" machine wired to the host and a LAN
# server); the machine's own network namespace is never touched. All of it is removed on
# exit, also after an error.
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
OUT=cnidemo-out-$ID
LAN=cnidemo-lan-$ID
C=cnidemo-c-$ID
D=cnidemo-d-$ID
LANNET=lannet
WORK=$(mktemp -d /tmp/cnibox-demo-XXXXXX)
BIN=$WORK/bin
PIDS=()

if [ -t 1 ]; then BOLD=$'\033[1m' NORM=$'\033[0m'; else BOLD= NORM=; fi
bold() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$NORM"; }
say() { printf '    %s\n' "$*"; }
run() { printf '    $ %s\n' "$*"; "$@" 2>&1 | sed 's/^/      /'; return "${PIPESTATUS[0]}"; }

cleanup() {
    local rc=$?
    set +e
    bold "cleaning up: namespaces $HOST $A $B $OUT $LAN $C $D and $WORK"
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    for ns in "$A" "$B" "$C" "$D" "$OUT" "$LAN" "$HOST"; do ip netns delete "$ns" 2>/dev/null; done
    cluster down > /dev/null 2>&1
    rm -rf "$WORK"
    [ "$rc" = 0 ] && bold "demo finished OK" || bold "demo FAILED (exit $rc)"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The two-node cluster's namespaces are cnidemo-cl-<role>-$ID (flannelnet.py).
cluster() {  # ACTION [NODE POD] [options]
    python3 test/cluster/flannelnet.py "$@" --prefix cnidemo-cl --tag "$ID" --nodes 2 --work "$WORK/cluster" --bin "$BIN"
}

bold "cnibox: $("$CNIBOX" --version | head -1)"
"$CNIBOX" --version | tail -n +2 | sed 's/^/    /'

bold "making a demo host namespace, two container namespaces and an outside machine"
for ns in "$HOST" "$A" "$B" "$OUT"; do
    run ip netns add "$ns"
    ip netns exec "$ns" ip link set lo up
done
# The outside machine: 192.0.2.2, reaching the demo host (192.0.2.1) over a veth.
ip -n "$HOST" link add uplink type veth peer name eth0 netns "$OUT"
ip -n "$HOST" addr add 192.0.2.1/24 dev uplink && ip -n "$HOST" link set uplink up
ip -n "$OUT" addr add 192.0.2.2/24 dev eth0 && ip -n "$OUT" link set eth0 up
say "outside: 192.0.2.2 <-> demo host 192.0.2.1 (uplink)"

bold "installing the applet symlinks: cnibox --install $BIN"
run "$CNIBOX" --install "$BIN"
run ls "$BIN"

mkdir -p "$WORK/net.d"
cat > "$WORK/net.d/10-demonet.conflist" <<EOF
{
  "cniVersion": "1.1.0",
  "name": "$NET",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isDefaultGateway": true,
      "hairpinMode": true,
      "ipMasq": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$WORK/ipam",
        "ranges": [[{"subnet": "$SUBNET"}]]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "firewall"},
    {"type": "bandwidth", "capabilities": {"bandwidth": true}}
  ]
}
EOF
bold "the network: $WORK/net.d/10-demonet.conflist (bridge -> portmap -> firewall -> bandwidth)"
sed 's/^/    /' "$WORK/net.d/10-demonet.conflist"

# cnitool VERB CONTAINER-NS [CAP_ARGS]: libcni's way of running the chain, inside the demo host.
cnitool() {
    local verb=$1 ns=$2 caps=${3:-}
    ip netns exec "$HOST" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin NETCONFPATH="$WORK/net.d" \
        CNI_PATH="$BIN" CNI_CACHE_DIR="$WORK/cache" CAP_ARGS="$caps" "$BIN/cnitool" "$verb" "${CNITOOL_NET:-$NET}" \
        "/run/netns/$ns"
}

bold "ADD: attaching $A, publishing host port 8080 -> its port 80"
PORTS='{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}'
say "\$ CAP_ARGS='$PORTS' cnitool add $NET /run/netns/$A"
cnitool add "$A" "$PORTS" | sed 's/^/    /'
# 8 Mbit/s each way; bursts of 256 kbit (32 KiB) at line rate
BW='{"bandwidth":{"ingressRate":8000000,"ingressBurst":256000,"egressRate":8000000,"egressBurst":256000}}'
bold "ADD: attaching $B, shaped to 8 Mbit/s each way (the bandwidth capability)"
say "\$ CAP_ARGS='$BW' cnitool add $NET /run/netns/$B"
cnitool add "$B" "$BW" | sed 's/^/    /'

addr_of() {  # NS [-6]: the container's IPv4 (global IPv6) address on eth0
    ip netns exec "$1" ip "${2:--4}" -o addr show dev eth0 scope global | awk '{print $4}' | cut -d/ -f1
}
IPA=$(addr_of "$A")
IPB=$(addr_of "$B")
GW=$(ip netns exec "$HOST" ip -4 -o addr show dev "$BRIDGE" | awk '{print $4}' | cut -d/ -f1)

bold "inside the containers"
for ns in "$A" "$B"; do
    say "$ns:"
    run ip netns exec "$ns" ip addr show dev eth0
    run ip netns exec "$ns" ip route
done

bold "on the demo host: the bridge and its ports, host-local's leases, the cached results"
run ip netns exec "$HOST" ip -br addr
run ip netns exec "$HOST" ip -br link show master "$BRIDGE"
run ls "$WORK/ipam/$NET" "$WORK/cache/results"

bold "ping: A ($IPA) -> B ($IPB), B -> A, and each -> the gateway on the bridge ($GW)"
run ip netns exec "$A" ping -c 2 -W 2 "$IPB"
run ip netns exec "$B" ping -c 2 -W 2 "$IPA"
run ip netns exec "$A" ping -c 1 -W 2 "$GW"
run ip netns exec "$B" ping -c 1 -W 2 "$GW"

bold "a web server in container A (port 80), published on the host's port 8080"
mkdir -p "$WORK/www"
echo "hello from container A ($IPA)" > "$WORK/www/index.html"
ip netns exec "$A" python3 -m http.server 80 --bind 0.0.0.0 --directory "$WORK/www" \
    > "$WORK/httpd-a.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do ip netns exec "$A" bash -c 'exec 3<>/dev/tcp/127.0.0.1/80' 2>/dev/null && break; sleep 0.1; done
CURL=(curl -sS --max-time 5)
say "from the demo host, on localhost:"
run ip netns exec "$HOST" "${CURL[@]}" http://127.0.0.1:8080/
say "from the outside machine, on the host's address:"
run ip netns exec "$OUT" "${CURL[@]}" http://192.0.2.1:8080/
say "from container B, on the host's bridge address:"
run ip netns exec "$B" "${CURL[@]}" "http://$GW:8080/"
say "from container A itself, through its own published port (hairpin):"
run ip netns exec "$A" "${CURL[@]}" "http://$GW:8080/"
say "what the server saw (the clients' addresses after NAT):"
sed 's/^/      /' "$WORK/httpd-a.log"

bold "masquerade: container B -> the outside machine, which sees the host's address"
ip netns exec "$OUT" python3 -m http.server 8000 --bind 0.0.0.0 --directory "$WORK/www" \
    > "$WORK/httpd-out.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do ip netns exec "$OUT" bash -c 'exec 3<>/dev/tcp/127.0.0.1/8000' 2>/dev/null && break; sleep 0.1; done
say "(the outside machine has no route to $SUBNET: only the masquerade lets it answer)"
run ip netns exec "$B" "${CURL[@]}" -o /dev/null -w '%{http_code}\n' http://192.0.2.2:8000/
say "the outside server's log:"
sed 's/^/      /' "$WORK/httpd-out.log"

bold "traffic shaping: B is held to 8 Mbit/s each way, A is not"
say "the qdiscs bandwidth made in the demo host (tbf on B's host veth; its egress goes"
say "through an ifb, redirected by a u32 filter on the veth's ingress qdisc, and shaped there):"
VETHB=$(ip netns exec "$HOST" ip -o link show master "$BRIDGE" | awk -F': ' '{print $2}' | cut -d@ -f1 | while read -r v; do
    ip netns exec "$HOST" tc qdisc show dev "$v" | grep tbf > /dev/null && echo "$v"; done)
IFB=$(ip netns exec "$HOST" ip -o link show type ifb | awk -F': ' 'NR == 1 {print $2}')
run ip netns exec "$HOST" tc qdisc show dev "$VETHB"
run ip netns exec "$HOST" tc qdisc show dev "$IFB"
# rate FROM-NS TO-NS TO-ADDR: a 3 s TCP transfer, the receiver's measured rate
rate() {
    local port=$((5000 + RANDOM % 1000)) out
    out=$(mktemp "$WORK/rate-XXXXXX")
    ip netns exec "$2" python3 demo/rate.py recv "$port" > "$out" 2>&1 &
    local rp=$!
    for _ in $(seq 50); do grep -q ready "$out" && break; sleep 0.1; done
    ip netns exec "$1" python3 demo/rate.py send "$3" "$port" 3
    wait "$rp"
    tail -n 1 "$out"
}
say "B -> demo host (B's egress, limited to 8 Mbit/s):  $(rate "$B" "$HOST" "$GW")"
say "demo host -> B (B's ingress, limited to 8 Mbit/s): $(rate "$HOST" "$B" "$IPB")"
say "A -> demo host (not shaped):                       $(rate "$A" "$HOST" "$GW")"

bold "the netfilter rules cnibox made in the demo host (in-process, no iptables/nft exec)"
if [ -n "$(ip netns exec "$HOST" nft list tables 2>/dev/null)" ]; then
    run ip netns exec "$HOST" nft list ruleset
fi
if ip netns exec "$HOST" grep -q . /proc/net/ip_tables_names; then
    run ip netns exec "$HOST" iptables-legacy-save
fi

bold "CHECK and STATUS"
run cnitool check "$A"
run cnitool status "$A"

bold "DEL: detaching $A (with the same capability args, as a runtime does)"
say "\$ CAP_ARGS='$PORTS' cnitool del $NET /run/netns/$A"
cnitool del "$A" "$PORTS"
run ip netns exec "$A" ip -br link
bold "DEL: detaching $B (its ifb goes too)"
say "\$ CAP_ARGS='$BW' cnitool del $NET /run/netns/$B"
cnitool del "$B" "$BW"
run ip netns exec "$B" ip -br link
bold "after DEL: leases and cached results gone, no per-container rule left; the bridge stays"
run ls -A "$WORK/ipam/$NET" "$WORK/cache/results"
run ip netns exec "$HOST" ip -br link
if [ -n "$(ip netns exec "$HOST" nft list tables 2>/dev/null)" ]; then
    run ip netns exec "$HOST" nft list ruleset
fi

bold "a LAN with a DHCP server: macvlan + dhcp"
say "a LAN server namespace ($LAN, 10.124.0.1) running dnsmasq (DHCP only), wired to the"
say "demo host's lan0; two more containers ($C, $D) get macvlan links on lan0"
for ns in "$LAN" "$C" "$D"; do
    ip netns add "$ns"
    ip netns exec "$ns" ip link set lo up
done
ip -n "$HOST" link add lan0 type veth peer name eth0 netns "$LAN"
ip -n "$HOST" link set lan0 up
ip -n "$LAN" addr add 10.124.0.1/24 dev eth0 && ip -n "$LAN" link set eth0 up
ip netns exec "$LAN" dnsmasq -k --conf-file=/dev/null --port=0 --bind-interfaces --interface=eth0 \
    --dhcp-range=10.124.0.100,10.124.0.199,255.255.255.0,10m --dhcp-option=option:router,10.124.0.1 \
    --dhcp-option=option:dns-server,10.124.0.1 --dhcp-leasefile="$WORK/dnsmasq.leases" --no-ping \
    --log-dhcp --log-facility="$WORK/dnsmasq.log" &
PIDS+=($!)
say "\$ dhcp daemon -socketpath $WORK/dhcp.sock -statedir $WORK/dhcp-state &   (in the demo host)"
ip netns exec "$HOST" "$BIN/dhcp" daemon -socketpath "$WORK/dhcp.sock" -statedir "$WORK/dhcp-state" \
    > "$WORK/dhcp-daemon.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
    [ -S "$WORK/dhcp.sock" ] && grep -q "DHCP, IP range" "$WORK/dnsmasq.log" 2>/dev/null && break
    sleep 0.05
done
cat > "$WORK/net.d/20-lannet.conflist" <<EOF
{
  "cniVersion": "1.1.0",
  "name": "$LANNET",
  "plugins": [
    {
      "type": "macvlan",
      "master": "lan0",
      "mode": "bridge",
      "ipam": {"type": "dhcp", "daemonSocketPath": "$WORK/dhcp.sock"}
    }
  ]
}
EOF
bold "the network: $WORK/net.d/20-lannet.conflist"
sed 's/^/    /' "$WORK/net.d/20-lannet.conflist"
for ns in "$C" "$D"; do
    bold "ADD: attaching $ns (its address from the LAN's DHCP server)"
    say "\$ cnitool add $LANNET /run/netns/$ns"
    CNITOOL_NET=$LANNET cnitool add "$ns" | sed 's/^/    /'
done
IPC=$(addr_of "$C")
IPD=$(addr_of "$D")
bold "the server's leases (dnsmasq's lease file: expiry, MAC, address, name, client id)"
run cat "$WORK/dnsmasq.leases"
bold "ping: C ($IPC) -> the LAN server, C -> D ($IPD), D -> C"
run ip netns exec "$C" ping -c 1 -W 2 10.124.0.1
run ip netns exec "$C" ping -c 2 -W 2 "$IPD"
run ip netns exec "$D" ping -c 2 -W 2 "$IPC"
for ns in "$C" "$D"; do
    bold "DEL: detaching $ns (the daemon sends DHCPRELEASE before DEL returns)"
    say "\$ cnitool del $LANNET /run/netns/$ns"
    CNITOOL_NET=$LANNET cnitool del "$ns"
done
bold "after DEL: the server's lease file is empty, its log shows the acks and releases"
run cat "$WORK/dnsmasq.leases"
grep -E "DHCP(ACK|RELEASE)" "$WORK/dnsmasq.log" | sed 's/^.*dnsmasq-dhcp\[[0-9]*\]: /      /'

bold "a two-node flannel cluster"
say "two nodes (namespaces cnidemo-cl-n1-$ID, cnidemo-cl-n2-$ID) on an underlay bridge, 198.18.0.11"
say "and .12; the cluster network 10.42.0.0/16 + fd42::/48, node N owning 10.42.N.0/24 + fd42:0:0:N::/64."
say "flanneld's part, played with ip and bridge (cnibox never touches vxlan): flannel.1 (VNI 1,"
say "UDP 8472, learning off) and, per remote node, a route, a neighbour and an FDB entry:"
cluster up --dual --show
N1=cnidemo-cl-n1-$ID
N2=cnidemo-cl-n2-$ID
bold "node 1's subnet.env (flanneld writes it) and the conflist (packaging/flannel/10-flannel.conflist)"
run cat "$WORK/cluster/n1/subnet.env"
run cat packaging/flannel/10-flannel.conflist
bold "node 1's routes to node 2's pods, through flannel.1"
run ip -n "$N1" route show dev flannel.1
run ip -n "$N1" -6 route show dev flannel.1
run bridge -n "$N1" fdb show dev flannel.1
for n in 1 2; do
    bold "ADD: a pod on node $n (cnitool add cbr0, flannel -> bridge + host-local -> portmap -> bandwidth -> firewall)"
    cluster add "$n" a | sed 's/^/    /'
done
P1=cnidemo-cl-n1a-$ID
P2=cnidemo-cl-n2a-$ID
P1V4=$(addr_of "$P1")
P2V4=$(addr_of "$P2")
P1V6=$(addr_of "$P1" -6)
P2V6=$(addr_of "$P2" -6)
bold "the delegate config flannel saved for node 1's pod (flannel's own format)"
for f in "$WORK"/cluster/n1/flannel/*; do say "$f:"; say "$(cat "$f")"; done
bold "ping across the nodes: pod on node 1 ($P1V4, $P1V6) <-> pod on node 2 ($P2V4, $P2V6)"
for pair in "$P1 $P2V4" "$P2 $P1V4" "$P1 $P2V6" "$P2 $P1V6"; do
    read -r from to <<< "$pair"
    run ip netns exec "$from" ping -c 2 -W 2 "$to"
done
say "the packets went through node 1's vxlan device:"
run ip -n "$N1" -s link show flannel.1
for n in 1 2; do
    bold "DEL: the pod on node $n"
    say "\$ cnitool del cbr0 /run/netns/cnidemo-cl-n${n}a-$ID"
    cluster del "$n" a
done
bold "after DEL: no saved delegate config, no lease, no veth left on node 1"
run ls -A "$WORK/cluster/n1/flannel" "$WORK/cluster/n1/ipam/cbr0"
run ip -n "$N1" -br link
cluster down
