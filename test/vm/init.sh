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

/bin/busybox mkdir -p /proc /sys /dev /run /tmp /var/lib /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
exec </dev/null

PASSN=0
FAILN=0
pass() { PASSN=$((PASSN + 1)); echo "VMTEST PASS $1"; }
fail() { FAILN=$((FAILN + 1)); echo "VMTEST FAIL $1 $2"; }
# check NAME REASON CMD...: PASS when CMD succeeds.
check() { n=$1; r=$2; shift 2; if "$@" >/dev/null 2>&1; then pass "$n"; else fail "$n" "$r"; fi; }
finish() {
    echo "VMTEST COUNTS $PASSN $FAILN"
    echo "VMTEST DONE"
    sync
    poweroff -f
    sleep 10
}

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

# --- the binary ------------------------------------------------------------
BIN=/opt/cni/bin
mkdir -p $BIN /run/netns /run/ipam
if ! /bin/cnibox --install $BIN >/tmp/install.out 2>&1; then
    fail cnibox-install "$(head -c 300 /tmp/install.out | tr '\n' ' ')"
    finish
fi
for x in /extra/*; do
    [ -f "$x" ] && rm -f $BIN/${x##*/} && cp "$x" $BIN/ && echo "VMTEST INFO extra plugin ${x##*/}"
done
APPLETS=" $(ls $BIN | tr '\n' ' ') "
echo "VMTEST INFO applets:$APPLETS"
has() { case $APPLETS in *" $1 "*) return 0 ;; esac; return 1; }

# --- helpers ---------------------------------------------------------------
NSN=0
mkns() {  # -> path of a new named namespace in $NS
    NSN=$((NSN + 1))
    NS=/run/netns/c$NSN
    touch $NS
    unshare --net=$NS true
    nsenter --net=$NS ip link set lo up
}
rmns() { umount "$1" 2>/dev/null; rm -f "$1"; }
inns() { ns=$1; shift; nsenter --net="$ns" "$@"; }

# cni CMD NETNS IFNAME CONFIG [CONTAINERID] -> $RC, stdout in /tmp/out, stderr in /tmp/err
cni() {
    # the plugin: the config's first "type" (ipam's and prevResult's come later)
    typ=$(echo "$4" | sed 's/"ipam".*//; s/"prevResult".*//' | sed -n 's/.*"type" *: *"\([^"]*\)".*/\1/p')
    printf '%s' "$4" | env CNI_COMMAND="$1" CNI_CONTAINERID="${5:-ctr-$1}" CNI_NETNS="$2" \
        CNI_IFNAME="$3" CNI_PATH=$BIN $BIN/"$typ" >/tmp/out 2>/tmp/err
    RC=$?
}
why() { echo "rc=$RC $(head -c 300 /tmp/out | tr '\n' ' ') $(head -c 300 /tmp/err | tr '\n' ' ')"; }
# ok NAME: PASS when the last cni call succeeded
ok() { if [ "$RC" = 0 ]; then pass "$1"; else fail "$1" "$(why)"; fi; }
# linkin NS IF: the interface exists in namespace NS
linkin() { inns "$1" ip link show "$2" >/dev/null 2>&1; }
addrin() { inns "$1" ip -4 addr show "$2" 2>/dev/null | grep -q "inet $3"; }
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
# vrf is chained: after bridge (whose result is its prevResult) it makes the
# VRF device in the container and enslaves the interface to it.
if has vrf && has bridge && has host-local; then
    VB="{\"cniVersion\":\"1.0.0\",\"name\":\"vrfnet\",\"type\":\"bridge\",\"bridge\":\"vmbr1\",\"ipam\":$(ipam 10.92.0.0/24 /run/ipam/vrf)}"
    vrfconf() {  # prevResult
        echo "{\"cniVersion\":\"1.0.0\",\"name\":\"vrfnet\",\"type\":\"vrf\",\"vrfname\":\"blue\",\"table\":1001,\"prevResult\":$1}"
    }
    mkns; ns=$NS
    cni ADD $ns eth0 "$VB" vr1; ok vrf-base-add
    prev=$(cat /tmp/out)
    cni ADD $ns eth0 "$(vrfconf "$prev")" vr1; ok vrf-add
    res=$(cat /tmp/out)
    check vrf-device "no vrf blue in netns" inns $ns ip link show blue
    check vrf-enslaved "eth0 not in vrf blue" sh -c "inns $ns ip link show eth0 | grep -q 'master blue'"
    check vrf-addr-kept "eth0 lost 10.92.0.2" addrin $ns eth0 10.92.0.2/24
    cni CHECK $ns eth0 "$(vrfconf "$res")" vr1; ok vrf-check
    cni DEL $ns eth0 "$(vrfconf "$res")" vr1; ok vrf-del
    check vrf-del-released "eth0 still in vrf blue" sh -c "! inns $ns ip link show eth0 | grep -q 'master blue'"
    cni DEL $ns eth0 "$(vrfconf "$res")" vr1; ok vrf-del-repeat
    cni DEL $ns eth0 "$VB" vr1
    cni DEL "" eth0 "$(vrfconf "$res")" vr1; ok vrf-del-netns-empty
    rmns $ns
    cni DEL $ns eth0 "$(vrfconf "$res")" vr1; ok vrf-del-netns-gone
else
    echo "VMTEST INFO no vrf applet in this cnibox (module check only)"
fi

finish
