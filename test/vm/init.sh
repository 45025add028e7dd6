#!/bin/busybox sh
# /init of the VM lane's initramfs (see test/vm/run.sh): loads the link-type
# modules the test machine's kernel lacks, then runs cnibox applets the way a
# runtime does, inside namespaces made here. Every case prints one line on the
# console, "VMTEST PASS name" or "VMTEST FAIL name reason", and the run ends
# with "VMTEST DONE"; then the VM powers off.
#
# The VM's own network namespace plays the host: it holds the masters (a dummy
# link made with busybox ip) and the bridge; "containers" are namespaces bound
# on files under /run/netns (busybox unshare --net=FILE), entered with nsenter.

. /guest.sh

echo "VMTEST BEGIN kernel $(uname -r)"

# --- modules ---------------------------------------------------------------
# Order matters: busybox insmod does not resolve dependencies.
for m in llc stp garp mrp 8021q ipvlan dummy vrf veth bridge macvlan; do
    args=""
    [ $m = dummy ] && args="numdummies=0"
    insmod /lib/modules/$m.ko $args 2>/tmp/insmod.err || true
done
for m in 8021q ipvlan dummy vrf veth bridge macvlan; do
    if [ -d /sys/module/$m ]; then pass "module-$m"; else fail "module-$m" "not loaded: $(cat /tmp/insmod.err)"; fi
done

install_applets
for x in /extra/*; do
    [ -f "$x" ] && rm -f $BIN/${x##*/} && cp "$x" $BIN/ && echo "VMTEST INFO extra plugin ${x##*/}"
done
APPLETS=" $(ls $BIN | tr '\n' ' ') "
echo "VMTEST INFO applets:$APPLETS"
has() { case $APPLETS in *" $1 "*) return 0 ;; esac; return 1; }

# --- helpers (more in guest.sh) -------------------------------------------
# linkin NS IF: the interface exists in namespace NS
linkin() { inns "$1" ip link show "$2" >/dev/null 2>&1; }
# out_has TEXT: the result printed by the last call mentions TEXT
out_has() { grep -q "$1" /tmp/out; }

# The DEL cells every interface-making applet must pass (a runtime may call
# DEL any number of times, with the namespace or the link already gone, or
# with no namespace at all). Arguments: prefix, config, host-local data dir.
# Each ADD must take a lease and each DEL must give it back.
del_cells() {
    p=$1; conf=$2; dd=$3
    # repeat DEL after a normal one
    mkns; ns=$NS
    cni ADD $ns eth0 "$conf" $p-dc1
    if [ $RC != 0 ]; then fail "$p-del-setup" "$(why)"; rmns $ns; return; fi
    check "$p-add-lease" "no lease for $p-dc1" leased $dd $p-dc1
    cni DEL $ns eth0 "$conf" $p-dc1; ok "$p-del"
    check "$p-del-link-gone" "eth0 still in netns" sh -c "! inns $ns ip link show eth0"
    check "$p-del-lease-released" "lease kept" sh -c "! leased $dd $p-dc1"
    cni DEL $ns eth0 "$conf" $p-dc1; ok "$p-del-repeat"
    # DEL when the link was removed behind the plugin's back
    cni ADD $ns eth0 "$conf" $p-dc2
    inns $ns ip link del eth0 2>/dev/null
    cni DEL $ns eth0 "$conf" $p-dc2; ok "$p-del-link-removed"
    check "$p-del-link-removed-lease" "lease kept" sh -c "! leased $dd $p-dc2"
    # DEL when the namespace is gone (path no longer exists)
    cni ADD $ns eth0 "$conf" $p-dc3
    rmns $ns
    cni DEL $ns eth0 "$conf" $p-dc3; ok "$p-del-netns-gone"
    check "$p-del-netns-gone-lease" "lease kept" sh -c "! leased $dd $p-dc3"
    # DEL with an empty CNI_NETNS (the runtime lost the namespace)
    mkns; ns=$NS
    cni ADD $ns eth0 "$conf" $p-dc4
    cni DEL "" eth0 "$conf" $p-dc4; ok "$p-del-netns-empty"
    check "$p-del-netns-empty-lease" "lease kept" sh -c "! leased $dd $p-dc4"
    rmns $ns
}
# busybox sh -c does not see shell functions: export the ones check uses.
# leased DIR CONTAINERID: host-local holds a lease for that container
cat >/bin/leased <<'EOF'
#!/bin/sh
[ -d "$1" ] && grep -ls -- "$2" "$1"/* | grep -q .
EOF
cat >/bin/inns <<'EOF'
#!/bin/sh
ns=$1; shift; exec nsenter --net="$ns" "$@"
EOF
chmod +x /bin/leased /bin/inns

ipam() {  # subnet datadir -> host-local ipam JSON
    echo "{\"type\":\"host-local\",\"dataDir\":\"$2\",\"ranges\":[[{\"subnet\":\"$1\"}]]}"
}

# --- kernel: the link types exist here (made with busybox ip in a scratch netns)
mkns; k=$NS
check kernel-dummy "ip link add type dummy" inns $k ip link add kd0 type dummy
check kernel-vlan "ip link add type vlan" inns $k ip link add link kd0 name kd0.10 type vlan id 10
check kernel-ipvlan "ip link add type ipvlan" inns $k ip link add link kd0 name kipv type ipvlan
rmns $k

# --- loopback --------------------------------------------------------------
if has loopback; then
    LO='{"cniVersion":"1.0.0","name":"lo","type":"loopback"}'
    mkns; ns=$NS
    inns $ns ip link set lo down
    cni ADD $ns lo "$LO"; ok loopback-add
    check loopback-up "lo not up" sh -c "inns $ns ip link show lo | grep -qE '[<,]UP[,>]'"
    cni CHECK $ns lo "$LO"; ok loopback-check
    cni DEL $ns lo "$LO"; ok loopback-del
    cni DEL $ns lo "$LO"; ok loopback-del-repeat
    rmns $ns
    cni DEL $ns lo "$LO"; ok loopback-del-netns-gone
    cni DEL "" lo "$LO"; ok loopback-del-netns-empty
fi

# --- bridge + host-local between two namespaces ------------------------------
if has bridge && has host-local; then
    D=/run/ipam/br
    BR="{\"cniVersion\":\"1.0.0\",\"name\":\"br\",\"type\":\"bridge\",\"bridge\":\"vmbr0\",\"isGateway\":true,\"ipam\":$(ipam 10.88.0.0/24 $D)}"
    mkns; a=$NS; mkns; b=$NS
    cni ADD $a eth0 "$BR" ca; ok bridge-add-a
    res=$(cat /tmp/out)
    cni ADD $b eth0 "$BR" cb; ok bridge-add-b
    check bridge-addr-a "10.88.0.2 not on eth0" addrin $a eth0 10.88.0.2/24
    check bridge-addr-b "10.88.0.3 not on eth0" addrin $b eth0 10.88.0.3/24
    check bridge-host "vmbr0 missing" ip link show vmbr0
    check bridge-ping "a cannot reach b" inns $a ping -c 1 -W 2 10.88.0.3
    check bridge-ping-gw "a cannot reach gateway" inns $a ping -c 1 -W 2 10.88.0.1
    cni CHECK $a eth0 "$(echo "$BR" | sed 's/}$//'),\"prevResult\":$res}" ca; ok bridge-check
    cni DEL $a eth0 "$BR" ca; ok bridge-del-a
    cni DEL $b eth0 "$BR" cb; ok bridge-del-b
    check bridge-del-leases "leases kept" sh -c "! leased $D/br ca && ! leased $D/br cb"
    rmns $a; rmns $b
    del_cells bridge "$BR" $D/br
fi

# --- bridge VLAN filtering (the test machine's kernel lacks it) ---------------
# a and b on vlan 10, c on vlan 11, all in one subnet: only a and b meet.
if has bridge && has host-local; then
    D=/run/ipam/brv
    brv() {  # extra keys -> config
        echo "{\"cniVersion\":\"1.0.0\",\"name\":\"brv\",\"type\":\"bridge\",\"bridge\":\"vmbr2\",$1,\"ipam\":$(ipam 10.93.0.0/24 $D)}"
    }
    V10=$(brv '"vlan":10'); V11=$(brv '"vlan":11')
    VT=$(brv '"vlanTrunk":[{"id":20},{"minID":30,"maxID":32}],"preserveDefaultVlan":true')
    mkns; a=$NS; mkns; b=$NS; mkns; c=$NS; mkns; t=$NS
    cni ADD $a eth0 "$V10" va; ok bridge-vlan-add-a
    cni ADD $b eth0 "$V10" vb; ok bridge-vlan-add-b
    cni ADD $c eth0 "$V11" vc; ok bridge-vlan-add-c
    check bridge-vlan-filtering "vlan_filtering not on" grep -q 1 /sys/class/net/vmbr2/bridge/vlan_filtering
    check bridge-vlan-same "a cannot reach b on vlan 10" inns $a ping -c 1 -W 2 10.93.0.3
    check bridge-vlan-other "a reaches c on vlan 11" sh -c "! inns $a ping -c 1 -W 1 10.93.0.4"
    cni ADD $t eth0 "$VT" vt; ok bridge-vlan-trunk-add
    cni DEL $a eth0 "$V10" va; ok bridge-vlan-del-a
    cni DEL $b eth0 "$V10" vb; ok bridge-vlan-del-b
    cni DEL $c eth0 "$V11" vc; ok bridge-vlan-del-c
    cni DEL $t eth0 "$VT" vt; ok bridge-vlan-trunk-del
    check bridge-vlan-del-leases "leases kept" sh -c "! ls $D/brv/10.* >/dev/null 2>&1"
    rmns $a; rmns $b; rmns $c; rmns $t
fi

# --- bridge VLAN gateway: isGateway with vlan ---------------------------------
# a and b on vlan 10 with isGateway: the gateway address goes on vmbr3.10, a
# veth whose peer is vmbr3's port in vlan 10, shared by both and kept by DEL;
# c on vlan 11 (same subnet, no gateway) reaches neither.
if has bridge && has host-local; then
    D=/run/ipam/brg
    brg() {  # extra keys -> config
        echo "{\"cniVersion\":\"1.0.0\",\"name\":\"brg\",\"type\":\"bridge\",\"bridge\":\"vmbr3\",$1,\"ipam\":$(ipam 10.94.0.0/24 $D)}"
    }
    G10=$(brg '"vlan":10,"isGateway":true'); G11=$(brg '"vlan":11')
    mkns; a=$NS; mkns; b=$NS; mkns; c=$NS
    cni ADD $a eth0 "$G10" ga; ok bridge-vgw-add-a
    res=$(cat /tmp/out)
    check bridge-vgw-result "vmbr3.10 not in the result: $(why)" out_has '"name": *"vmbr3\.10"'
    check bridge-vgw-result-ips "a's IP not on interface 2: $(why)" out_has '"interface": *2'
    # CHECK before other ports join: the bridge's MAC is not pinned (the
    # gateway address is not on it), so a lower port MAC may change it later.
    cni CHECK $a eth0 "$(echo "$G10" | sed 's/}$//'),\"prevResult\":$res}" ga; ok bridge-vgw-check
    cni ADD $b eth0 "$G10" gb; ok bridge-vgw-add-b
    check bridge-vgw-result-b "vmbr3.10 not in b's result: $(why)" out_has '"name": *"vmbr3\.10"'
    cni ADD $c eth0 "$G11" gc; ok bridge-vgw-add-c
    check bridge-vgw-addr "10.94.0.1/24 not on vmbr3.10" sh -c "ip -4 addr show vmbr3.10 | grep -q 'inet 10.94.0.1/24'"
    check bridge-vgw-bridge-no-addr "vmbr3 has an address" sh -c "! ip -4 addr show vmbr3 | grep -q inet"
    check bridge-vgw-up "vmbr3.10 not up" sh -c "ip link show vmbr3.10 | grep -qE '[<,]UP[,>]'"
    check bridge-vgw-port "vmbr3.10's peer is not a port of vmbr3" sh -c 'p=$(cat /sys/class/net/vmbr3.10/iflink)
        for d in /sys/class/net/*; do
            [ "$(cat $d/ifindex)" = "$p" ] && [ "$(basename "$(readlink $d/master)")" = vmbr3 ] && exit 0
        done; exit 1'
    check bridge-vgw-forward "ip_forward off" grep -q 1 /proc/sys/net/ipv4/ip_forward
    check bridge-vgw-ping-gw "a cannot reach the gateway" inns $a ping -c 1 -W 2 10.94.0.1
    check bridge-vgw-ping-b "a cannot reach b" inns $a ping -c 1 -W 2 10.94.0.3
    check bridge-vgw-ping-gw-b "b cannot reach the gateway" inns $b ping -c 1 -W 2 10.94.0.1
    check bridge-vgw-other "c reaches a" sh -c "! inns $c ping -c 1 -W 1 10.94.0.2"
    check bridge-vgw-other-gw "c reaches the gateway" sh -c "! inns $c ping -c 1 -W 1 10.94.0.1"
    cni DEL $a eth0 "$G10" ga; ok bridge-vgw-del-a
    check bridge-vgw-del-a-link "eth0 still in a" sh -c "! inns $a ip link show eth0"
    check bridge-vgw-kept "vmbr3.10 gone after a's DEL" ip link show vmbr3.10
    check bridge-vgw-ping-gw-b-after "b cannot reach the gateway after a's DEL" inns $b ping -c 1 -W 2 10.94.0.1
    cni DEL $a eth0 "$G10" ga; ok bridge-vgw-del-repeat
    cni DEL $b eth0 "$G10" gb; ok bridge-vgw-del-b
    cni DEL $c eth0 "$G11" gc; ok bridge-vgw-del-c
    check bridge-vgw-del-leases "leases kept" sh -c "! ls $D/brg/10.* >/dev/null 2>&1"
    check bridge-vgw-shared "vmbr3.10 removed by DEL (upstream keeps it)" ip link show vmbr3.10
    # A later ADD takes the existing gateway: no second port.
    cni ADD $a eth0 "$G10" ga2; ok bridge-vgw-readd
    check bridge-vgw-readd-ports "not 2 ports on vmbr3: $(ls /sys/class/net/vmbr3/brif | tr '\n' ' ')" \
        sh -c "[ \$(ls /sys/class/net/vmbr3/brif | wc -l) = 2 ]"
    check bridge-vgw-readd-ping "a cannot reach the gateway again" inns $a ping -c 1 -W 2 10.94.0.1
    cni DEL $a eth0 "$G10" ga2; ok bridge-vgw-readd-del
    rmns $a; rmns $b; rmns $c
fi

# --- ipvlan / vlan / dummy (whichever the binary has) ------------------------
# Master for ipvlan and vlan: a dummy link in the VM's own (host) namespace.
ip link add vmm0 type dummy && ip link set vmm0 up

# plugin_cells NAME CONFIG SUBNET-PREFIX VERIFY-CMD [CONFIG-B]: ADD two
# containers (the second with CONFIG-B when given), ping between them when
# both use one config (and the link type carries traffic), CHECK, DEL, then
# the DEL cells. VERIFY-CMD NS checks the link's kind.
plugin_cells() {
    p=$1; conf=$2; pre=$3; verify=$4; confb=${5:-$2}; dd=/run/ipam/$p/$p
    mkns; a=$NS; mkns; b=$NS
    cni ADD $a eth0 "$conf" pa; ok $p-add-a
    res=$(cat /tmp/out)
    check $p-result-ip "result lacks ${pre}.2" out_has "${pre}\.2"
    cni ADD $b eth0 "$confb" pb; ok $p-add-b
    check $p-addr-a "${pre}.2 not on eth0" addrin $a eth0 ${pre}.2/24
    check $p-addr-b "${pre}.3 not on eth0" addrin $b eth0 ${pre}.3/24
    check $p-kind "$($verify $a 2>&1 | head -c 200)" $verify $a
    check $p-up "eth0 not up" sh -c "inns $a ip link show eth0 | grep -qE '[<,]UP[,>]'"
    if [ "$p" != dummy ] && [ "$confb" = "$conf" ]; then
        check $p-ping "a cannot reach b" inns $a ping -c 1 -W 2 ${pre}.3
    fi
    cni CHECK $a eth0 "$(echo "$conf" | sed 's/}$//'),\"prevResult\":$res}" pa; ok $p-check
    cni DEL $a eth0 "$conf" pa; ok $p-del-a
    cni DEL $b eth0 "$confb" pb; ok $p-del-b
    check $p-del-gone "eth0 still in netns" sh -c "! inns $a ip link show eth0 && ! inns $b ip link show eth0"
    check $p-master-kept "master vmm0 gone" ip link show vmm0
    rmns $a; rmns $b
    del_cells $p "$conf" $dd
}

# Kind checks read /proc/net of the container namespace.
cat >/bin/is-vlan <<'EOF'
#!/bin/sh
nsenter --net="$1" sh -c 'grep -q "^eth0 *| *10 *|" /proc/net/vlan/config'
EOF
cat >/bin/is-ipvlan <<'EOF'
#!/bin/sh
# an ipvlan slave shares its master's MAC
m=$(cat /sys/class/net/vmm0/address)
nsenter --net="$1" ip link show eth0 | grep -q "link/ether $m"
EOF
cat >/bin/is-dummy <<'EOF'
#!/bin/sh
nsenter --net="$1" ip link show eth0 | grep -q NOARP
EOF
cat >/bin/is-macvlan <<'EOF'
#!/bin/sh
# a macvlan has a lower link (eth0@...) and a MAC of its own
m=$(cat /sys/class/net/vmm0/address)
l=$(nsenter --net="$1" ip link show eth0)
echo "$l" | grep -q "eth0@" && ! echo "$l" | grep -q "link/ether $m"
EOF
chmod +x /bin/is-vlan /bin/is-ipvlan /bin/is-dummy /bin/is-macvlan

if has ipvlan; then
    plugin_cells ipvlan "{\"cniVersion\":\"1.0.0\",\"name\":\"ipvlan\",\"type\":\"ipvlan\",\"master\":\"vmm0\",\"mode\":\"l2\",\"ipam\":$(ipam 10.89.0.0/24 /run/ipam/ipvlan)}" 10.89.0 is-ipvlan
else
    echo "VMTEST INFO no ipvlan applet in this cnibox"
fi
# macvlan on the distribution kernel (the host lane runs it on this
# machine's kernel): bridge mode, two containers on one master.
if has macvlan; then
    plugin_cells macvlan "{\"cniVersion\":\"1.0.0\",\"name\":\"macvlan\",\"type\":\"macvlan\",\"master\":\"vmm0\",\"mode\":\"bridge\",\"ipam\":$(ipam 10.88.0.0/24 /run/ipam/macvlan)}" 10.88.0 is-macvlan
else
    echo "VMTEST INFO no macvlan applet in this cnibox"
fi
if has vlan; then
    vconf() { echo "{\"cniVersion\":\"1.0.0\",\"name\":\"vlan\",\"type\":\"vlan\",\"master\":\"vmm0\",\"vlanId\":$1,\"ipam\":$(ipam 10.90.0.0/24 /run/ipam/vlan)}"; }
    # One VLAN id per master: the second container gets id 11.
    plugin_cells vlan "$(vconf 10)" 10.90.0 is-vlan "$(vconf 11)"
    # A second link with a taken id fails cleanly: no link, no lease left behind.
    mkns; a=$NS; mkns; b=$NS
    cni ADD $a eth0 "$(vconf 10)" va
    cni ADD $b eth0 "$(vconf 10)" vb
    if [ "$RC" != 0 ]; then pass vlan-same-id-fails; else fail vlan-same-id-fails "second ADD with id 10 succeeded"; fi
    check vlan-same-id-no-link "a link was left in the namespace" sh -c "[ \$(inns $b ip -o link | wc -l) = 1 ]"
    check vlan-same-id-no-lease "lease leaked" sh -c "! leased /run/ipam/vlan/vlan vb"
    cni DEL $a eth0 "$(vconf 10)" va; cni DEL $b eth0 "$(vconf 10)" vb
    rmns $a; rmns $b
else
    echo "VMTEST INFO no vlan applet in this cnibox"
fi
if has dummy; then
    plugin_cells dummy "{\"cniVersion\":\"1.0.0\",\"name\":\"dummy\",\"type\":\"dummy\",\"ipam\":$(ipam 10.91.0.0/24 /run/ipam/dummy)}" 10.91.0 is-dummy
else
    echo "VMTEST INFO no dummy applet in this cnibox"
fi
# --- vrf -----------------------------------------------------------------------
# vrf is chained: after bridge (whose result is its prevResult) it makes the
# VRF device in the container namespace and enslaves the interface to it. The
# bridges are gateways (10.x.0.1, fdxx::1) unless said otherwise, and IPAM adds
# routes through them, which vrf moves into the VRF's table. busybox ip shows
# a table's IPv6 routes only in "table all".
if has vrf && has bridge && has host-local; then
    VD=/run/ipam/vrf
    # vbr NETWORK BRIDGE SUBNETS ROUTES [ISGATEWAY]: a bridge config; SUBNETS
    # and ROUTES comma-separated (a range set per subnet; routes via the gateway)
    vbr() {
        rs=""; for s in $(echo "$3" | tr , ' '); do rs="$rs${rs:+,}[{\"subnet\":\"$s\"}]"; done
        rt=""; for d in $(echo "$4" | tr , ' '); do rt="$rt${rt:+,}{\"dst\":\"$d\"}"; done
        echo "{\"cniVersion\":\"1.0.0\",\"name\":\"$1\",\"type\":\"bridge\",\"bridge\":\"$2\",\"isGateway\":${5:-true},\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"$VD\",\"ranges\":[$rs],\"routes\":[$rt]}}"
    }
    vconf() {  # VRFNAME TABLE PREVRESULT
        echo "{\"cniVersion\":\"1.0.0\",\"name\":\"vrfnet\",\"type\":\"vrf\",\"vrfname\":\"$1\",\"table\":$2,\"prevResult\":$3}"
    }
    # vattach NS IFNAME CID BRIDGECONF VRFNAME TABLE [PREP]: bridge ADD, then
    # PREP NS when given, then vrf ADD ($RC and /tmp/out are its; $res its result)
    vattach() {
        res=""
        cni ADD $1 $2 "$4" $3
        [ $RC = 0 ] || return
        prev=$(cat /tmp/out)
        [ -z "$7" ] || $7 $1
        cni ADD $1 $2 "$(vconf $5 $6 "$prev")" $3
        res=$(cat /tmp/out)
    }
    enslaved() { inns $1 ip link show $2 | grep -qE "master $3( |\$)"; }   # NS IFNAME VRF
    released() { inns $1 ip link show $2 >/dev/null 2>&1 && ! enslaved "$@"; }
    nolink() { ! inns $1 ip link show $2 >/dev/null 2>&1; }
    isup() { inns $1 ip link show $2 | grep -qE '[<,]UP[,>]'; }
    # vtable NS TABLE TEXT: a route of TABLE reads TEXT
    vtable() { inns $1 ip route show table all | grep -E " table $2( |\$)" | grep -q "$3"; }
    routes() { inns $1 ip route show table all | tr '\n' ';' | head -c 600; }
    # failed_with NAME TEXT: PASS when the last cni call failed naming TEXT
    failed_with() { if [ "$RC" != 0 ] && out_has "$2"; then pass "$1"; else fail "$1" "$(why)"; fi; }
    # up to 3 tries a second apart (an IPv6 gateway may still be in DAD)
    retry() { for i in 1 2 3; do "$@" && return 0; sleep 1; done; return 1; }

    # STATUS (in the VM's own namespace): ready, and the probe made no link; GC
    nlinks() { ip link show | grep -c '^[0-9]'; }
    l0=$(nlinks)
    cni STATUS "" eth0 '{"cniVersion":"1.1.0","name":"vrfnet","type":"vrf","vrfname":"blue"}'; ok vrf-status
    check vrf-status-no-link "links before $l0, after $(nlinks)" test "$(nlinks)" = "$l0"
    cni GC "" eth0 '{"cniVersion":"1.1.0","name":"vrfnet","type":"vrf","vrfname":"blue","cni.dev/valid-attachments":[]}'
    ok vrf-gc

    # One attachment, table 1001: the VRF, its routes, CHECK, the DEL cells.
    B1=$(vbr vrf1 vmbr1 10.92.0.0/24 0.0.0.0/0,10.10.10.0/24)
    mkns; ns=$NS
    vattach $ns eth0 vr1 "$B1" blue 1001; ok vrf-add
    r1=$res
    check vrf-device "no vrf blue in netns" inns $ns ip link show blue
    check vrf-up "blue not up" isup $ns blue
    check vrf-enslaved "eth0 not in vrf blue" enslaved $ns eth0 blue
    check vrf-addr-kept "eth0 lost 10.92.0.2" addrin $ns eth0 10.92.0.2/24
    check vrf-table-connected "$(routes $ns)" vtable $ns 1001 "10.92.0.0/24 dev eth0"
    check vrf-table-default "$(routes $ns)" vtable $ns 1001 "default via 10.92.0.1 dev eth0"
    check vrf-table-ipam-route "$(routes $ns)" vtable $ns 1001 "10.10.10.0/24 via 10.92.0.1 dev eth0"
    check vrf-main-empty "$(routes $ns)" sh -c "! inns $ns ip route show | grep -q 'dev eth0'"
    check vrf-ping-gw "cannot reach 10.92.0.1 in vrf blue" inns $ns ping -c 1 -W 2 -I blue 10.92.0.1
    check vrf-ping-outside-fails "10.92.0.1 reached outside the VRF" sh -c "! inns $ns ping -c 1 -W 1 10.92.0.1"
    check vrf-result "result is not prevResult" out_has '"name": *"eth0"'
    cni CHECK $ns eth0 "$(vconf blue 1001 "$r1")" vr1; ok vrf-check
    cni CHECK $ns eth0 "$(vconf blue 0 "$r1")" vr1; ok vrf-check-table-0
    cni CHECK $ns eth0 "$(vconf blue 1002 "$r1")" vr1; failed_with vrf-check-other-table-fails "routing table 1001"
    cni CHECK $ns eth0 "$(vconf red 1001 "$r1")" vr1; failed_with vrf-check-other-vrf-fails "not found"
    cni ADD $ns eth0 "$(vconf blue 1001 "$r1")" vr1; failed_with vrf-add-again-fails "already has a master: blue"
    check vrf-add-again-kept "eth0 left blue" enslaved $ns eth0 blue
    cni DEL "" eth0 "$(vconf blue 1001 "$r1")" vr1; ok vrf-del-netns-empty
    check vrf-del-netns-empty-kept "eth0 left blue" enslaved $ns eth0 blue
    cni DEL $ns eth0 "$(vconf blue 1001 "$r1")" vr1; ok vrf-del
    check vrf-del-released "eth0 still in vrf blue" released $ns eth0 blue
    check vrf-del-vrf-gone "blue kept after its last slave left" nolink $ns blue
    check vrf-del-addr-kept "eth0 lost 10.92.0.2" addrin $ns eth0 10.92.0.2/24
    cni DEL $ns eth0 "$(vconf blue 1001 "$r1")" vr1; ok vrf-del-repeat
    cni DEL $ns eth0 "$B1" vr1
    # the link removed behind the plugin's back: DEL removes the empty VRF
    vattach $ns eth0 vr2 "$B1" blue 1001; r2=$res
    inns $ns ip link del eth0
    cni DEL $ns eth0 "$(vconf blue 1001 "$r2")" vr2; ok vrf-del-link-gone
    check vrf-del-link-gone-vrf "blue kept" nolink $ns blue
    cni DEL $ns eth0 "$B1" vr2
    # the namespace gone
    vattach $ns eth0 vr3 "$B1" blue 1001; r3=$res
    rmns $ns
    cni DEL $ns eth0 "$(vconf blue 1001 "$r3")" vr3; ok vrf-del-netns-gone
    cni DEL $ns eth0 "$B1" vr3
    check vrf-del-leases "leases kept" sh -c "! leased $VD/vrf1 vr1 && ! leased $VD/vrf1 vr2 && ! leased $VD/vrf1 vr3"

    # One VRF, two slaves (eth0 on vmbr1, eth1 on vmbr4): table 0 takes the
    # lowest free id (1), the second ADD (table 0, or 1 given) joins it; an ADD
    # naming another table fails; DEL of one keeps the VRF and makes the other
    # one's CHECK fail, DEL of the other removes it. ORDER: which one goes first.
    vrf_shared() {
        o=$1; p=vrf-shared-$o
        A=$(vbr vrf1 vmbr1 10.92.0.0/24 0.0.0.0/0,10.10.10.0/24)
        B=$(vbr vrf4 vmbr4 10.96.0.0/24 10.11.0.0/24)
        tb=0; [ $o = last ] && tb=1
        mkns; ns=$NS
        vattach $ns eth0 sa-$o "$A" blue 0; ok $p-add-a
        ra=$res
        check $p-lowest-table "$(routes $ns)" vtable $ns 1 "10.92.0.0/24 dev eth0"
        vattach $ns eth1 sb-$o "$B" blue $tb; ok $p-add-b
        rb=$res
        check $p-both "eth0 and eth1 not both in blue" sh -c "inns $ns ip link show | grep -c 'master blue ' | grep -qx 2"
        check $p-routes-a "$(routes $ns)" vtable $ns 1 "10.10.10.0/24 via 10.92.0.1 dev eth0"
        check $p-routes-b "$(routes $ns)" vtable $ns 1 "10.11.0.0/24 via 10.96.0.1 dev eth1"
        check $p-ping-a "cannot reach 10.92.0.1 in blue" inns $ns ping -c 1 -W 2 -I blue 10.92.0.1
        check $p-ping-b "cannot reach 10.96.0.1 in blue" inns $ns ping -c 1 -W 2 -I blue 10.96.0.1
        if [ $o = first ]; then
            # an existing VRF with another table: refused, eth2 untouched
            C=$(vbr vrf7 vmbr7 10.99.0.0/24 10.12.0.0/24)
            vattach $ns eth2 sc-$o "$C" blue 1001; failed_with vrf-other-table-fails "routing table 1, not 1001"
            check vrf-other-table-untouched "eth2 enslaved or its routes moved: $(routes $ns)" \
                sh -c "! inns $ns ip link show eth2 | grep -q master && inns $ns ip route show | grep -q '10.12.0.0/24 via 10.99.0.1 dev eth2'"
            cni DEL $ns eth2 "$C" sc-$o
        fi
        if [ $o = first ]; then set -- eth0 sa-$o "$ra" "$A" eth1 sb-$o "$rb" "$B"
        else set -- eth1 sb-$o "$rb" "$B" eth0 sa-$o "$ra" "$A"; fi
        cni CHECK $ns $1 "$(vconf blue 0 "$3")" $2; ok $p-check-1
        cni DEL $ns $1 "$(vconf blue 0 "$3")" $2; ok $p-del-1
        check $p-del-1-released "$1 still in blue" released $ns $1 blue
        check $p-del-1-vrf-kept "blue gone with $5 in it" enslaved $ns $5 blue
        cni CHECK $ns $1 "$(vconf blue 0 "$3")" $2; failed_with $p-check-released-fails "associated to VRF"
        cni CHECK $ns $5 "$(vconf blue 0 "$7")" $6; ok $p-check-2
        cni DEL $ns $5 "$(vconf blue 0 "$7")" $6; ok $p-del-2
        check $p-del-2-vrf-gone "blue kept after its last slave left" nolink $ns blue
        cni DEL $ns $1 "$(vconf blue 0 "$3")" $2; ok $p-del-repeat
        cni DEL $ns $1 "$4" $2; cni DEL $ns $5 "$8" $6
        rmns $ns
    }
    vrf_shared first
    vrf_shared last

    # Two VRFs with overlapping addresses in one namespace: vmbr5 and vmbr6
    # (not gateways) carry the same subnet from two networks; eth0 (vmbr5) in
    # red (table 1), eth1 (vmbr6) in green (table 0: the lowest free, 2), both
    # 10.97.0.2. A peer on each bridge (10.97.0.3 both) is reached through
    # each VRF. DEL in the other order than ADD. ($ov: the inns function sets
    # $ns to the namespace it enters, here the peers' too.)
    R=$(vbr vrf5 vmbr5 10.97.0.0/24 10.10.10.0/24 false)
    G=$(vbr vrf6 vmbr6 10.97.0.0/24 10.10.10.0/24 false)
    mkns; ov=$NS; mkns; pr=$NS; mkns; pg=$NS
    vattach $ov eth0 ov-r "$R" red 1; ok vrf-overlap-add-red
    rr=$res
    vattach $ov eth1 ov-g "$G" green 0; ok vrf-overlap-add-green
    rg=$res
    cni ADD $pr eth0 "$R" peer-r; ok vrf-overlap-peer-r
    cni ADD $pg eth0 "$G" peer-g; ok vrf-overlap-peer-g
    check vrf-overlap-addrs "10.97.0.2 not on both" sh -c "inns $ov ip -4 addr show eth0 | grep -q 'inet 10.97.0.2/24' && inns $ov ip -4 addr show eth1 | grep -q 'inet 10.97.0.2/24'"
    check vrf-overlap-red-table "$(routes $ov)" vtable $ov 1 "10.97.0.0/24 dev eth0"
    check vrf-overlap-red-route "$(routes $ov)" vtable $ov 1 "10.10.10.0/24 via 10.97.0.1 dev eth0"
    check vrf-overlap-green-table "$(routes $ov)" vtable $ov 2 "10.97.0.0/24 dev eth1"
    check vrf-overlap-green-route "$(routes $ov)" vtable $ov 2 "10.10.10.0/24 via 10.97.0.1 dev eth1"
    # a third VRF on green's table: refused, nothing made
    C=$(vbr vrf7 vmbr7 10.99.0.0/24 10.12.0.0/24)
    vattach $ov eth2 ov-c "$C" yellow 2; failed_with vrf-table-of-another-vrf-fails "routing table 2 is VRF"
    check vrf-table-of-another-vrf-nothing-made "yellow made or eth2 enslaved" \
        sh -c "! inns $ov ip link show yellow >/dev/null 2>&1 && ! inns $ov ip link show eth2 | grep -q master"
    cni DEL $ov eth2 "$C" ov-c
    check vrf-overlap-ping-red "cannot reach the red peer" inns $ov ping -c 1 -W 2 -I red 10.97.0.3
    check vrf-overlap-ping-green "cannot reach the green peer" inns $ov ping -c 1 -W 2 -I green 10.97.0.3
    # each VRF's neighbour 10.97.0.3 is its own bridge's peer
    macof() { inns $1 ip link show $2 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }
    mr=$(macof $pr eth0); mg=$(macof $pg eth0)
    check vrf-overlap-neigh-red "not $mr: $(inns $ov ip neigh show dev eth0)" \
        sh -c "inns $ov ip neigh show dev eth0 | grep -q '10.97.0.3 lladdr $mr'"
    check vrf-overlap-neigh-green "not $mg: $(inns $ov ip neigh show dev eth1)" \
        sh -c "inns $ov ip neigh show dev eth1 | grep -q '10.97.0.3 lladdr $mg'"
    check vrf-overlap-peer-r-reply "red peer cannot reach 10.97.0.2" inns $pr ping -c 1 -W 2 10.97.0.2
    check vrf-overlap-peer-g-reply "green peer cannot reach 10.97.0.2" inns $pg ping -c 1 -W 2 10.97.0.2
    cni CHECK $ov eth0 "$(vconf red 1 "$rr")" ov-r; ok vrf-overlap-check-red
    cni CHECK $ov eth1 "$(vconf green 2 "$rg")" ov-g; ok vrf-overlap-check-green
    cni DEL $ov eth1 "$(vconf green 0 "$rg")" ov-g; ok vrf-overlap-del-green
    check vrf-overlap-green-gone "green kept" nolink $ov green
    check vrf-overlap-red-kept "eth0 left red" enslaved $ov eth0 red
    check vrf-overlap-ping-red-after "cannot reach the red peer after green's DEL" inns $ov ping -c 1 -W 2 -I red 10.97.0.3
    cni DEL $ov eth0 "$(vconf red 1 "$rr")" ov-r; ok vrf-overlap-del-red
    check vrf-overlap-red-gone "red kept" nolink $ov red
    cni DEL $ov eth1 "$G" ov-g; cni DEL $ov eth0 "$R" ov-r
    cni DEL $pr eth0 "$R" peer-r; cni DEL $pg eth0 "$G" peer-g
    rmns $ov; rmns $pr; rmns $pg

    # Dual stack: the IPv6 address stays in place (keep_addr_on_down=1, as
    # bridge sets it), or is dropped by the kernel on enslave and put back by
    # vrf, which waits for its local route (accept_dad=1: after DAD, ~1 s).
    D=$(vbr vrf8 vmbr8 10.98.0.0/24,fd98::/64 0.0.0.0/0,::/0)
    v6prep() {  # NS: before vrf's ADD
        [ $mode = kept ] || inns $1 sh -c 'echo 0 >/proc/sys/net/ipv6/conf/eth0/keep_addr_on_down
            echo 1 >/proc/sys/net/ipv6/conf/eth0/accept_dad'
        t0=$(cut -d' ' -f1 /proc/uptime)
    }
    for mode in kept readd; do
        p=vrf-v6-$mode
        mkns; ns=$NS
        vattach $ns eth0 v6-$mode "$D" v6 0 v6prep; ok $p-add
        r6=$res
        echo "VMTEST INFO $p: vrf ADD from $t0 to $(cut -d' ' -f1 /proc/uptime) s (uptime)"
        a6=$(sed -n 's/.*"address": *"\(fd98::[0-9a-f]*\)\/64".*/\1/p' /tmp/out | head -n 1)
        check $p-addr "'$a6' not on eth0: $(inns $ns ip -6 addr show eth0 | tr '\n' ' ')" \
            sh -c "[ -n '$a6' ] && inns $ns ip -6 addr show eth0 | grep -q 'inet6 $a6/64'"
        check $p-local-route "$(routes $ns)" vtable $ns 1 "local $a6 dev eth0"
        check $p-prefix-route "$(routes $ns)" vtable $ns 1 "fd98::/64 dev eth0"
        check $p-default6 "$(routes $ns)" vtable $ns 1 "default via fd98::1 dev eth0"
        check $p-default4 "$(routes $ns)" vtable $ns 1 "default via 10.98.0.1 dev eth0"
        check $p-ping6 "cannot reach fd98::1 in vrf v6" retry inns $ns ping -6 -c 1 -W 2 -I v6 fd98::1
        cni CHECK $ns eth0 "$(vconf v6 0 "$r6")" v6-$mode; ok $p-check
        cni DEL $ns eth0 "$(vconf v6 0 "$r6")" v6-$mode; ok $p-del
        check $p-del-vrf-gone "v6 kept" nolink $ns v6
        cni DEL $ns eth0 "$D" v6-$mode
        rmns $ns
    done
    # A failed ADD puts everything back: the address comes back as a duplicate
    # of one the bridge holds, so DAD fails and its local route never comes.
    v6dup() {
        mode=readd; v6prep $1
        dup=$(echo "$prev" | sed -n 's/.*"address": *"\(fd98::[0-9a-f]*\)\/64".*/\1/p' | head -n 1)
        echo 0 >/proc/sys/net/ipv6/conf/vmbr8/accept_dad   # busybox ip has no nodad
        ip -6 addr add $dup/128 dev vmbr8
    }
    p=vrf-v6-dadfail
    mkns; ns=$NS
    vattach $ns eth0 v6-dup "$D" v6 0 v6dup; failed_with $p-add-fails "did not appear in table 1"
    check $p-released "eth0 still in v6" released $ns eth0 v6
    check $p-vrf-gone "v6 kept" nolink $ns v6
    check $p-routes-back "$(routes $ns)" sh -c "inns $ns ip route show | grep -q 'default via 10.98.0.1 dev eth0'"
    check $p-addr-back "$dup not on eth0" sh -c "inns $ns ip -6 addr show eth0 | grep -q 'inet6 $dup/64'"
    ip -6 addr del $dup/128 dev vmbr8
    cni DEL $ns eth0 "$D" v6-dup
    rmns $ns
else
    echo "VMTEST INFO no vrf applet in this cnibox (module check only)"
fi

# --- ipvlan + dhcp: two links with one MAC, leases from dnsmasq -------------
# A "server" namespace runs dnsmasq (DHCP only) on srv0, a veth to lan0 in the
# VM's own namespace; the dhcp daemon runs there too. Two containers get
# ipvlan (l2) children of lan0: both links carry lan0's MAC, so the server
# tells them apart by the client ID alone (byte 0 + "<container id>/<network>/
# <ifname>", written 00:.. in its lease file). The daemon runs with -broadcast:
# a reply sent to an address the child does not hold yet reaches no ipvlan
# child, a broadcast reaches them all.
if has dhcp && has ipvlan; then
    DH=/run/dhcp-vm
    mkdir -p $DH
    LEASES=$DH/leases
    DNSLOG=$DH/dnsmasq.log
    SOCK=$DH/dhcp.sock
    mkns; srv=$NS
    # busybox ip names no veth peer (the kernel calls it veth0 in the fresh
    # namespace) and moves links to a process's namespace (PID 1's: this one)
    inns $srv ip link add lan0 type veth
    inns $srv ip link set veth0 name srv0
    inns $srv ip link set lan0 netns 1
    ip link set lan0 up
    inns $srv ip addr add 10.95.0.1/24 dev srv0
    inns $srv ip link set srv0 up

    # centiseconds since boot
    cs() { read u _ </proc/uptime; echo $(( ${u%.*} * 100 + 1${u#*.} - 100 )); }
    # within CS CMD...: CMD succeeds before CS centiseconds have passed
    within() {
        t=$(( $(cs) + $1 )); shift
        while ! "$@" >/dev/null 2>&1; do [ $(cs) -lt $t ] || return 1; sleep 0.02; done
    }
    tailof() { tail -c 300 "$1" 2>/dev/null | tr '\n' ' '; }
    # the client ID the dhcp applet sends for CONTAINERID, as dnsmasq writes it
    clientid() { printf 00; printf '%s' "$1/dhlan/eth0" | od -An -tx1 -v | tr -s ' \n' '::' | sed 's/:$//'; }
    # dhlease CONTAINERID [ADDRESS]: dnsmasq's lease file holds that client ID (at ADDRESS)
    dhlease() { grep -q " ${2:-[0-9.]*} [^ ]* $(clientid $1)\$" $LEASES 2>/dev/null; }
    dhnolease() { ! dhlease $1; }
    # the address (without prefix length) in the last call's result
    dhaddr() { sed -n 's/.*"address": *"\([0-9.]*\)\/24".*/\1/p' /tmp/out | head -n 1; }
    # dhaddr_ok NS ADDRESS: from dnsmasq's range and on the namespace's eth0
    dhaddr_ok() {
        o=${2##*.}
        [ "${2%.*}" = 10.95.0 ] && [ "$o" -ge 50 ] && [ "$o" -le 150 ] &&
            inns $1 ip -4 addr show eth0 | grep -q "inet $2/24"
    }
    distinct() { [ -n "$1" ] && [ "$1" != "$2" ]; }
    hasmac() { inns $1 ip link show eth0 | grep -q "link/ether $2"; }
    two_clients() { [ $(wc -l <$LEASES) = 2 ] && [ $(cut -d' ' -f5 $LEASES | sort -u | wc -l) = 2 ]; }
    serving() { grep -q "DHCP, IP range" $DNSLOG; }
    # exited PID: the process is gone or a zombie
    exited() { [ ! -d /proc/$1 ] || grep -q '^State:.*Z' /proc/$1/status; }

    nsenter --net=$srv /usr/sbin/dnsmasq -k --conf-file=/dev/null --port=0 --user=root \
        --bind-interfaces --interface=srv0 --dhcp-range=10.95.0.50,10.95.0.150,255.255.255.0,2m \
        --dhcp-option=option:router,10.95.0.1 --dhcp-leasefile=$LEASES --pid-file=$DH/dnsmasq.pid \
        --log-dhcp --log-facility=$DNSLOG --no-ping --dhcp-authoritative >$DH/dnsmasq.out 2>&1 &
    DNSPID=$!
    if within 500 serving; then pass ipvlan-dhcp-server
    else fail ipvlan-dhcp-server "dnsmasq not serving: $(tailof $DH/dnsmasq.out) $(tailof $DNSLOG)"; fi
    $BIN/dhcp daemon -broadcast -socketpath $SOCK -statedir $DH/state >$DH/daemon.log 2>&1 &
    DPID=$!
    if within 500 test -S $SOCK; then pass ipvlan-dhcp-daemon
    else fail ipvlan-dhcp-daemon "no socket $SOCK: $(tailof $DH/daemon.log)"; fi

    DHC="{\"cniVersion\":\"1.0.0\",\"name\":\"dhlan\",\"type\":\"ipvlan\",\"master\":\"lan0\",\"mode\":\"l2\",\"ipam\":{\"type\":\"dhcp\",\"daemonSocketPath\":\"$SOCK\"}}"
    # dhcp_pair: the cells of containers a and b (stops after a failed ADD)
    dhcp_pair() {
        cni ADD $a eth0 "$DHC" dha
        # a failed ADD took the daemon's 60 s: no second one
        if [ "$RC" = 0 ]; then pass ipvlan-dhcp-add-a
        else fail ipvlan-dhcp-add-a "$(why) $(tailof $DH/daemon.log)"; return; fi
        resa=$(cat /tmp/out); ipa=$(dhaddr)
        cni ADD $b eth0 "$DHC" dhb
        if [ "$RC" = 0 ]; then pass ipvlan-dhcp-add-b
        else fail ipvlan-dhcp-add-b "$(why) $(tailof $DH/daemon.log)"; cni DEL $a eth0 "$DHC" dha; return; fi
        resb=$(cat /tmp/out); ipb=$(dhaddr)
        echo "VMTEST INFO ipvlan-dhcp addresses: a $ipa, b $ipb"
        check ipvlan-dhcp-addr-a "'$ipa' not from the range or not on eth0" dhaddr_ok $a "$ipa"
        check ipvlan-dhcp-addr-b "'$ipb' not from the range or not on eth0" dhaddr_ok $b "$ipb"
        check ipvlan-dhcp-distinct "a '$ipa', b '$ipb'" distinct "$ipa" "$ipb"
        m=$(cat /sys/class/net/lan0/address)
        check ipvlan-dhcp-one-mac-a "a's eth0 lacks lan0's MAC $m" hasmac $a $m
        check ipvlan-dhcp-one-mac-b "b's eth0 lacks lan0's MAC $m" hasmac $b $m
        check ipvlan-dhcp-lease-a "no lease of $ipa for $(clientid dha): $(tailof $LEASES)" dhlease dha "$ipa"
        check ipvlan-dhcp-lease-b "no lease of $ipb for $(clientid dhb): $(tailof $LEASES)" dhlease dhb "$ipb"
        check ipvlan-dhcp-leases-two "not two leases with distinct client IDs: $(tailof $LEASES)" two_clients
        check ipvlan-dhcp-ping-server-a "a cannot reach the server" inns $a ping -c 1 -W 2 10.95.0.1
        check ipvlan-dhcp-ping-server-b "b cannot reach the server" inns $b ping -c 1 -W 2 10.95.0.1
        check ipvlan-dhcp-ping-a-b "a cannot reach b" inns $a ping -c 1 -W 2 "$ipb"
        check ipvlan-dhcp-ping-b-a "b cannot reach a" inns $b ping -c 1 -W 2 "$ipa"
        cni CHECK $a eth0 "$(echo "$DHC" | sed 's/}$//'),\"prevResult\":$resa}" dha; ok ipvlan-dhcp-check-a
        cni CHECK $b eth0 "$(echo "$DHC" | sed 's/}$//'),\"prevResult\":$resb}" dhb; ok ipvlan-dhcp-check-b
        # The release goes out before DEL answers: the lease leaves dnsmasq's
        # file within 1 s of it.
        cni DEL $a eth0 "$DHC" dha; ok ipvlan-dhcp-del-a
        if within 100 dhnolease dha; then pass ipvlan-dhcp-del-a-released
        else fail ipvlan-dhcp-del-a-released "lease kept 1 s after DEL: $(tailof $LEASES)"; fi
        check ipvlan-dhcp-del-a-keeps-b "b's lease went with a's DEL: $(tailof $LEASES)" dhlease dhb "$ipb"
        check ipvlan-dhcp-del-a-ping-b "b cannot reach the server after a's DEL" inns $b ping -c 1 -W 2 10.95.0.1
        cni DEL $a eth0 "$DHC" dha; ok ipvlan-dhcp-del-a-repeat
        cni DEL $b eth0 "$DHC" dhb; ok ipvlan-dhcp-del-b
        if within 100 dhnolease dhb; then pass ipvlan-dhcp-del-b-released
        else fail ipvlan-dhcp-del-b-released "lease kept 1 s after DEL: $(tailof $LEASES)"; fi
        cni DEL $b eth0 "$DHC" dhb; ok ipvlan-dhcp-del-b-repeat
        check ipvlan-dhcp-del-gone "eth0 still in a netns" sh -c "! inns $a ip link show eth0 && ! inns $b ip link show eth0"
        check ipvlan-dhcp-del-release-seen "no DHCPRELEASE in dnsmasq's log" grep -q DHCPRELEASE $DNSLOG
    }
    mkns; a=$NS; mkns; b=$NS
    if [ -S $SOCK ] && serving; then dhcp_pair; fi
    # SIGTERM: the daemon exits with status 0 and removes its socket.
    kill -TERM $DPID
    if within 500 exited $DPID; then
        wait $DPID; st=$?
        if [ $st = 0 ] && [ ! -e $SOCK ]; then pass ipvlan-dhcp-daemon-stop
        else fail ipvlan-dhcp-daemon-stop "exit status $st, socket $(ls $SOCK 2>&1): $(tailof $DH/daemon.log)"; fi
    else
        fail ipvlan-dhcp-daemon-stop "still running 5 s after SIGTERM"
    fi
    kill -TERM $DNSPID
    rmns $a; rmns $b; rmns $srv
else
    echo "VMTEST INFO no dhcp or ipvlan applet in this cnibox (ipvlan + dhcp skipped)"
fi

finish
