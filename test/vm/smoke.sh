#!/bin/busybox sh
# /init of the arm64 VM lane (VM_ARCH=arm64 test/vm/run.sh): the netfilter
# smoke qemu-user cannot carry (no NETLINK_NETFILTER, no IPT_SO_* socket
# options there): bridge + host-local, then portmap and firewall chained after
# bridge on both backends ("backend": "iptables" and "nftables"), checked by
# the traffic they let through or stop (the guest has no iptables or nft).
# Every case prints "VMTEST PASS name" or "VMTEST FAIL name reason"; the run
# ends with "VMTEST DONE" and a poweroff.
#
# Conventions of test/vm/init.sh: the VM's own network namespace plays the
# host; containers are namespaces bound on files under /run/netns (busybox
# unshare --net=FILE), entered with nsenter; applets run as a runtime runs them.
# Modules load on demand: the kernel's helper is busybox modprobe, which reads
# the modules.dep and modules.alias run.sh made.

. /guest.sh
echo /sbin/modprobe > /proc/sys/kernel/modprobe
ip link set lo up

echo "VMTEST BEGIN kernel $(uname -r) $(uname -m), uptime $(cut -d' ' -f1 /proc/uptime) s"

# --- modules: veth and bridge up front, netfilter on demand ------------------
for m in veth bridge; do
    modprobe $m 2>/tmp/modprobe.err
    if [ -d /sys/module/$m ]; then pass "module-$m"; else fail "module-$m" "not loaded: $(cat /tmp/modprobe.err)"; fi
done

install_applets
pass cnibox-install

# --- helpers (more in guest.sh) -------------------------------------------
# failed NAME: PASS when the last cni call failed (an error result)
failed() { if [ "$RC" != 0 ] && grep -q '"code"' /tmp/out; then pass "$1"; else fail "$1" "succeeded: $(why)"; fi; }
# with_prev CONFIG RESULT: CONFIG with prevResult RESULT (as a runtime passes it)
with_prev() { echo "$1" | sed 's/}$//'; echo ",\"prevResult\":$2}"; }

ipam() {  # subnet datadir -> host-local ipam JSON
    echo "{\"type\":\"host-local\",\"dataDir\":\"$2\",\"ranges\":[[{\"subnet\":\"$1\"}]]}"
}
brconf() {  # name bridge subnet [KEYS] -> bridge config (a gateway, addresses under /run/ipam/NAME)
    echo "{\"cniVersion\":\"1.0.0\",\"name\":\"$1\",\"type\":\"bridge\",\"bridge\":\"$2\",\"isGateway\":true,${4:+$4,}\"ipam\":$(ipam $3 /run/ipam/$1)}"
}

# Scripts, so that check (sh -c, busybox) and nc -e can run them.
cat >/bin/inns <<'EOF'
#!/bin/sh
ns=$1; shift; exec nsenter --net="$ns" "$@"
EOF
# leases DIR: host-local holds an address lease in DIR
cat >/bin/leases <<'EOF'
#!/bin/sh
ls "$1" 2>/dev/null | grep -q '^[0-9a-f.:]*$'
EOF
# peered: a link of this namespace has a peer (a veth; its iflink is not its ifindex)
cat >/bin/peered <<'EOF'
#!/bin/sh
for d in /sys/class/net/*; do
    [ "$(cat $d/iflink)" != "$(cat $d/ifindex)" ] && { echo "${d##*/}"; exit 0; }
done
exit 1
EOF
# the TCP server of the portmap cases: answers PONG-<its name>
cat >/bin/pong <<'EOF'
#!/bin/sh
echo "PONG-$PONG"
EOF
# reach ADDR PORT NAME: a TCP connection to ADDR:PORT gets server NAME's answer
cat >/bin/reach <<'EOF'
#!/bin/sh
[ "$(timeout 6 nc -w 3 "$1" "$2" </dev/null 2>/dev/null)" = "PONG-$3" ]
EOF
# unreached ADDR PORT: a TCP connection to ADDR:PORT gets no answer
cat >/bin/unreached <<'EOF'
#!/bin/sh
[ -z "$(timeout 6 nc -w 3 "$1" "$2" </dev/null 2>/dev/null)" ]
EOF
chmod +x /bin/inns /bin/leases /bin/peered /bin/pong /bin/reach /bin/unreached

# --- (1) bridge + host-local -------------------------------------------------
BR=$(brconf br cni0 10.88.0.0/24)
mkns; a=$NS; mkns; b=$NS
cni ADD $a eth0 "$BR" ca; ok bridge-add-a
ra=$(cat /tmp/out)
cni ADD $b eth0 "$BR" cb; ok bridge-add-b
rb=$(cat /tmp/out)
check bridge-addr-a "10.88.0.2 not on a's eth0" addrin $a eth0 10.88.0.2/24
check bridge-addr-b "10.88.0.3 not on b's eth0" addrin $b eth0 10.88.0.3/24
check bridge-gw "10.88.0.1 not on cni0" sh -c "ip -4 addr show cni0 | grep -q 'inet 10.88.0.1/24'"
cni CHECK $a eth0 "$(with_prev "$BR" "$ra")" ca; ok bridge-check-a
cni CHECK $b eth0 "$(with_prev "$BR" "$rb")" cb; ok bridge-check-b
check bridge-ping-host-a "the host cannot reach a" ping -c 1 -W 2 10.88.0.2
check bridge-ping-a-gw "a cannot reach the gateway" inns $a ping -c 1 -W 2 10.88.0.1
check bridge-ping-a-b "a cannot reach b" inns $a ping -c 1 -W 2 10.88.0.3
check bridge-ping-b-a "b cannot reach a" inns $b ping -c 1 -W 2 10.88.0.2
cni DEL $a eth0 "$(with_prev "$BR" "$ra")" ca; ok bridge-del-a
cni DEL $b eth0 "$(with_prev "$BR" "$rb")" cb; ok bridge-del-b
check bridge-del-links "eth0 still in a container" sh -c "! inns $a ip link show eth0 && ! inns $b ip link show eth0"
check bridge-del-no-veth "a veth left on the host: $(peered)" sh -c '! peered'
check bridge-del-no-ports "ports left on cni0: $(ls /sys/class/net/cni0/brif 2>&1 | tr '\n' ' ')" \
    sh -c '[ -z "$(ls /sys/class/net/cni0/brif)" ]'
check bridge-del-no-lease "leases left: $(ls /run/ipam/br/br 2>&1 | tr '\n' ' ')" sh -c '! leases /run/ipam/br/br'
cni DEL $a eth0 "$(with_prev "$BR" "$ra")" ca; ok bridge-del-repeat
rmns $a; rmns $b

# --- the iptables backend before anything loaded ip_tables -------------------
# (the iptables binary modprobes ip_tables itself; the kernel has no on-demand
# load for its socket options)
printf '{"cniVersion":"1.1.0","name":"probe","type":"portmap","backend":"iptables"}' |
    env CNI_COMMAND=STATUS CNI_PATH=$BIN $BIN/portmap >/tmp/out 2>&1
echo "VMTEST INFO portmap STATUS, backend iptables, ip_tables not loaded: rc=$? $(head -c 300 /tmp/out | tr '\n' ' ')"
modprobe ip_tables; modprobe ip6_tables
check module-ip_tables "ip_tables not loaded" test -d /sys/module/ip_tables

# --- (2), (3) portmap chained after bridge -----------------------------------
# a runs a TCP server on port 80 (busybox nc -ll -e pong), c is a client; the
# mapping is hostPort -> a:80. Reached from the host (its gateway address and
# 127.0.0.1), from a itself (hairpin) and from c (iptables); after DEL from none.
portmap_case() {
    be=$1; p=portmap-$1; net=pm-$1; br=$2; pre=$3; hp=$4
    B=$(brconf $net $br $pre.0/24)
    gw=$pre.1
    mkns; a=$NS; mkns; c=$NS
    cni ADD $a eth0 "$B" $net-a; ok $p-bridge-add
    ra=$(cat /tmp/out)
    cni ADD $c eth0 "$B" $net-c; ok $p-bridge-add-client
    PM="{\"cniVersion\":\"1.0.0\",\"name\":\"$net\",\"type\":\"portmap\",\"backend\":\"$be\",\"capabilities\":{\"portMappings\":true},\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":$hp,\"containerPort\":80,\"protocol\":\"tcp\"}]}}"
    PMP=$(with_prev "$PM" "$ra")
    PONG=$be nsenter --net=$a nc -ll -p 80 -e /bin/pong >/dev/null 2>&1 &
    srv=$!
    check $p-server "the server in a does not answer" retry reach $pre.2 80 $be
    check $p-unmapped "port $hp answers before ADD" unreached $gw $hp
    cni ADD $a eth0 "$PMP" $net-a; ok $p-add
    check $p-add-result "ADD did not print prevResult: $(why)" grep -q "\"$pre.2/24\"" /tmp/out
    check $p-reach-host "host -> $gw:$hp does not reach a:80" reach $gw $hp $be
    check $p-reach-localhost "host -> 127.0.0.1:$hp does not reach a:80" reach 127.0.0.1 $hp $be
    check $p-reach-hairpin "a -> $gw:$hp does not reach a:80 (hairpin)" inns $a reach $gw $hp $be
    # iptables masquerades from the container's subnet (upstream since #469),
    # nftables from the container's own address only (upstream's nftables layout)
    [ $be = iptables ] && check $p-reach-container "c -> $gw:$hp does not reach a:80" inns $c reach $gw $hp $be
    cni CHECK $a eth0 "$PMP" $net-a; ok $p-check
    cni DEL $a eth0 "$PMP" $net-a; ok $p-del
    check $p-del-host "host -> $gw:$hp still reaches a" unreached $gw $hp
    check $p-del-localhost "host -> 127.0.0.1:$hp still reaches a" unreached 127.0.0.1 $hp
    check $p-del-hairpin "a -> $gw:$hp still reaches a" inns $a unreached $gw $hp
    check $p-del-container "c -> $gw:$hp still reaches a" inns $c unreached $gw $hp
    check $p-del-server-kept "a's server gone" reach $pre.2 80 $be
    cni CHECK $a eth0 "$PMP" $net-a; failed $p-check-after-del-fails
    cni DEL $a eth0 "$PMP" $net-a; ok $p-del-repeat
    cni ADD $a eth0 "$PMP" $net-a; ok $p-readd
    check $p-readd-host "host -> $gw:$hp does not reach a:80 after the new ADD" reach $gw $hp $be
    cni DEL $a eth0 "$PMP" $net-a; ok $p-readd-del
    check $p-readd-del-host "host -> $gw:$hp still reaches a" unreached $gw $hp
    kill $srv 2>/dev/null
    cni DEL $a eth0 "$(with_prev "$B" "$ra")" $net-a; ok $p-bridge-del
    cni DEL $c eth0 "$B" $net-c; ok $p-bridge-del-client
    check $p-no-lease "leases left: $(ls /run/ipam/$net/$net 2>&1 | tr '\n' ' ')" sh -c "! leases /run/ipam/$net/$net"
    rmns $a; rmns $c
}
# retry CMD...: CMD succeeds within 5 tries a second apart (a server starting)
cat >/bin/retry <<'EOF'
#!/bin/sh
for i in 1 2 3 4 5; do "$@" && exit 0; sleep 1; done
exit 1
EOF
chmod +x /bin/retry
portmap_case iptables pmi0 10.89.1 8081
portmap_case nftables pmn0 10.89.2 8082

# --- (4) firewall chained after bridge ----------------------------------------
# a on bridge X, b on bridge Y (routed through the host); with ingressPolicy
# same-bridge on both attachments, a no longer reaches b, the gateway still.
firewall_case() {
    be=$1; p=firewall-$1; net=fw-$1; pre=$2
    X=$(brconf $net-x ${3}x0 $pre.1.0/24 '"isDefaultGateway":true')
    Y=$(brconf $net-y ${3}y0 $pre.2.0/24 '"isDefaultGateway":true')
    mkns; a=$NS; mkns; b=$NS
    cni ADD $a eth0 "$X" $net-a; ok $p-bridge-add-a
    ra=$(cat /tmp/out)
    cni ADD $b eth0 "$Y" $net-b; ok $p-bridge-add-b
    rb=$(cat /tmp/out)
    check $p-routed "a cannot reach b before the firewall" inns $a ping -c 1 -W 2 $pre.2.2
    FW="{\"cniVersion\":\"1.0.0\",\"name\":\"$net\",\"type\":\"firewall\",\"backend\":\"$be\",\"ingressPolicy\":\"same-bridge\"}"
    FA=$(with_prev "$FW" "$ra"); FB=$(with_prev "$FW" "$rb")
    cni ADD $a eth0 "$FA" $net-a; ok $p-add-a
    check $p-add-result "ADD did not print prevResult: $(why)" grep -q "\"$pre.1.2/24\"" /tmp/out
    cni CHECK $a eth0 "$FA" $net-a; ok $p-check-a
    cni ADD $b eth0 "$FB" $net-b; ok $p-add-b
    cni CHECK $b eth0 "$FB" $net-b; ok $p-check-b
    check $p-gw "a cannot reach its gateway" inns $a ping -c 1 -W 2 $pre.1.1
    check $p-isolated "a still reaches b on the other bridge" sh -c "! inns $a ping -c 1 -W 1 $pre.2.2"
    cni DEL $a eth0 "$FA" $net-a; ok $p-del-a
    cni CHECK $a eth0 "$FA" $net-a; failed $p-check-after-del-fails
    cni DEL $a eth0 "$FA" $net-a; ok $p-del-repeat
    cni DEL $b eth0 "$FB" $net-b; ok $p-del-b
    cni DEL $b eth0 "$FB" $net-b; ok $p-del-b-repeat
    cni DEL $a eth0 "$(with_prev "$X" "$ra")" $net-a; ok $p-bridge-del-a
    cni DEL $b eth0 "$(with_prev "$Y" "$rb")" $net-b; ok $p-bridge-del-b
    rmns $a; rmns $b
}
firewall_case iptables 10.90 fwi
firewall_case nftables 10.91 fwn

finish
