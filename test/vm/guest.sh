# shellcheck shell=sh
# Sourced by the VM lane's /init scripts (test/vm/init.sh, test/vm/smoke.sh;
# /guest.sh in the initramfs): the guest's file systems, the console's
# VMTEST lines, "container" namespaces and running an applet as a runtime does.

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
    echo "VMTEST INFO modules: $(cut -d' ' -f1 /proc/modules | sort | tr '\n' ' ')"
    echo "VMTEST INFO uptime $(cut -d' ' -f1 /proc/uptime) s"
    echo "VMTEST COUNTS $PASSN $FAILN"
    echo "VMTEST DONE"
    sync
    poweroff -f
    sleep 10
}

# install_applets: /bin/cnibox's applet links in $BIN (/opt/cni/bin), or a
# FAIL and the end of the run
BIN=/opt/cni/bin
install_applets() {
    mkdir -p $BIN /run/netns /run/ipam
    if ! /bin/cnibox --install $BIN >/tmp/install.out 2>&1; then
        fail cnibox-install "$(head -c 300 /tmp/install.out | tr '\n' ' ')"
        finish
    fi
}

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

# cni CMD NETNS IFNAME CONFIG [CONTAINERID] -> $RC, stdout in /tmp/out, stderr
# in /tmp/err; the applets are in $BIN
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
addrin() { inns "$1" ip -4 addr show "$2" 2>/dev/null | grep -q "inet $3"; }
