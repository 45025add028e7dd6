#!/usr/bin/env bash
# VM lane: tests the applets whose link types (ipvlan, 802.1q vlan, dummy, vrf)
# the test machine's kernel lacks, and macvlan once more on a stock kernel (plus loopback and bridge as a check of the
# lane itself; veth and bridge are modules there too), on Debian's own kernel booted under qemu
# (TCG; no KVM, no network device, so nothing reaches the machine's network).
# The dhcp applet and its daemon are tested there on ipvlan links, against
# the machine's dnsmasq copied into the initramfs.
#
#   bash test/vm/run.sh [CNIBOX]
#   VM_ARCH=arm64 bash test/vm/run.sh build-static-arm64/out/cnibox
#
# CNIBOX: the binary to test (default $CNIBOX, else build/cnibox). A static one
# goes in alone; a dynamic one brings the libraries ldd names and the loader.
# Steps: kernel + modules (cached, keyed by the kernel package the
# linux-image-amd64 metapackage depends on, fetched with apt-get download),
# an initramfs of busybox-static + cnibox + dnsmasq + test/vm/init.sh as /init, one boot
# with a timeout, then the console's "VMTEST PASS|FAIL" lines are counted.
#
# VM_ARCH=arm64: the netfilter smoke (test/vm/smoke.sh as /init: bridge +
# host-local, portmap and firewall on both netfilter backends) on Debian's
# arm64 kernel under qemu-system-aarch64 (TCG, -M virt); the kernel, its
# netfilter/bridge/veth modules and busybox-static come from Debian's arm64
# packages, fetched with apt-get download through a private apt configuration
# (the machine's sources, arm64 only) kept in $VM_CACHE/arm64/apt. The modules
# load on demand: modules.dep and modules.alias are made here from the
# modules' own .modinfo, the guest's busybox modprobe is the kernel's helper.
# The binary must be a static aarch64 one.
#
# Environment:
#   VM_ARCH      amd64 (default) or arm64: the guest, and the binary's machine
#   VM_CACHE     kernel cache (default /var/cache/cnibox-vm as root, else
#                ${XDG_CACHE_HOME:-~/.cache}/cnibox-vm)
#   VM_KERNEL    kernel package name (default: what linux-image-$VM_ARCH depends on;
#                without apt lists, the newest one in the cache)
#   VM_TIMEOUT   seconds the VM may run (default 150; arm64: 300)
#   VM_LOG       keep the console log here (default: a temporary file)
#   VM_EXTRA_PLUGINS  space-separated plugin binaries put next to the applets
#                (replacing an applet of the same name), e.g. a reference
#                plugin to check the test cases themselves against
#
# Last line: "vm: N passed, N failed". Exit status 0 only when every case
# passed and the VM reached "VMTEST DONE".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/test/vm
log() { echo "vm: $*" >&2; }
die() { log "error: $*"; echo "vm: 0 passed, 1 failed"; exit 1; }

BIN=${1:-${CNIBOX:-$ROOT/build/cnibox}}
[ -x "$BIN" ] || die "cnibox binary not found: $BIN"
BIN=$(readlink -f "$BIN")
VM_ARCH=${VM_ARCH:-amd64}
case $VM_ARCH in amd64|arm64) ;; *) die "VM_ARCH=$VM_ARCH: amd64 or arm64" ;; esac
# The binary must be an ELF file for the guest's machine (packaging/common.sh
# reads its architecture from its header, as the packaging scripts do).
# shellcheck source=packaging/common.sh
. "$ROOT/packaging/common.sh"
bin_arch=$(pkg_arch "$BIN" 2>&1) || die "${bin_arch#*error: }"
[ "$bin_arch" = "$VM_ARCH" ] || die "$BIN is an $bin_arch binary, not one for VM_ARCH=$VM_ARCH"
if [ "$VM_ARCH" = amd64 ]; then VM_TIMEOUT=${VM_TIMEOUT:-150}; else VM_TIMEOUT=${VM_TIMEOUT:-300}; fi
if [ -z "${VM_CACHE:-}" ]; then
    if [ "$(id -u)" = 0 ]; then VM_CACHE=/var/cache/cnibox-vm
    else VM_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/cnibox-vm; fi
fi
# --- boot --------------------------------------------------------------------
# boot QEMU-COMMAND...: one boot of $WORK/initrd.gz with a timeout, then the
# console's VMTEST lines are counted (the script's last output and status).
# The caller sets OUT (the console log, VM_LOG or $WORK/console.log) and passes
# -serial file:$OUT.
boot() {
    start=$(date +%s)
    timeout -k 5 "$VM_TIMEOUT" "$@" </dev/null >"$WORK/qemu.out" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    tr -d '\r' < "$OUT" > "$WORK/clean.log"
    grep -E '^VMTEST ' "$WORK/clean.log" || true
    pass=$(grep -c '^VMTEST PASS ' "$WORK/clean.log")
    fail=$(grep -c '^VMTEST FAIL ' "$WORK/clean.log")
    if ! grep -q '^VMTEST DONE' "$WORK/clean.log"; then
        log "the VM did not finish (qemu exit $rc after ${secs}s); console tail:"
        tail -n 40 "$WORK/clean.log" >&2
        cat "$WORK/qemu.out" >&2
        fail=$((fail + 1))
    fi
    log "boot to poweroff ${secs}s"
    echo "vm: $pass passed, $fail failed"
    [ "$fail" = 0 ]
}

if [ "$VM_ARCH" = arm64 ]; then
    # shellcheck source=test/vm/arm64.sh
    . "$HERE/arm64.sh"
    exit $?
fi
for t in qemu-system-x86_64 cpio gzip; do
    command -v $t >/dev/null || die "$t missing (apt-get install qemu-system-x86 cpio busybox-static)"
done
BUSYBOX=
for b in /bin/busybox /usr/bin/busybox; do
    if [ -x $b ] && ! ldd $b >/dev/null 2>&1; then BUSYBOX=$b; break; fi
done
[ -n "$BUSYBOX" ] || die "a static busybox is missing (apt-get install busybox-static)"
DNSMASQ=/usr/sbin/dnsmasq
[ -x $DNSMASQ ] || die "$DNSMASQ missing, the DHCP server of the ipvlan + dhcp cases (apt-get install dnsmasq-base)"

WORK=$(mktemp -d /tmp/cnibox-vm-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# --- kernel + modules, cached per kernel package -----------------------------
MODS="net/llc/llc.ko net/802/stp.ko net/802/garp.ko net/802/mrp.ko net/8021q/8021q.ko
      drivers/net/ipvlan/ipvlan.ko drivers/net/dummy.ko drivers/net/vrf.ko
      drivers/net/veth.ko net/bridge/bridge.ko drivers/net/macvlan.ko"
KPKG=${VM_KERNEL:-$(apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)}
if [ -z "$KPKG" ] && [ "$(id -u)" = 0 ] && [ -z "$(ls "$VM_CACHE" 2>/dev/null)" ]; then
    log "no apt lists: apt-get update"
    apt-get update -q >&2 || true
    KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
fi
if [ -z "$KPKG" ]; then
    KPKG=$(ls -t "$VM_CACHE" 2>/dev/null | grep '^linux-image-' | head -n 1)
    [ -n "$KPKG" ] || die "no kernel package: apt-cache knows no linux-image-amd64 (apt-get update?) and $VM_CACHE is empty"
    log "apt lists unavailable; using cached $KPKG"
fi
KDIR=$VM_CACHE/$KPKG
missing_mod=false
for m in $MODS; do [ -f "$KDIR/modules/$(basename "$m")" ] || missing_mod=true; done
if [ ! -f "$KDIR/vmlinuz" ] || $missing_mod; then
    log "fetching $KPKG into $KDIR"
    mkdir -p "$VM_CACHE" || die "cannot create $VM_CACHE"
    dl=$WORK/deb
    mkdir -p "$dl"
    # apt's sandbox user cannot write a private temporary directory; that warning is harmless.
    (cd "$dl" && apt-get download -q "$KPKG" 2>&1 | grep -v 'unsandboxed' >&2) || true
    deb=$(ls "$dl"/*.deb 2>/dev/null | head -n 1)
    [ -n "$deb" ] || die "apt-get download $KPKG failed"
    x=$WORK/x
    mkdir -p "$x"
    # Only the kernel image and the few modules are needed.
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$x" --wildcards './boot/vmlinuz-*' \
        $(for m in $MODS; do echo "./lib/modules/*/kernel/$m"; done) || die "unpacking $deb failed"
    tmp=$KDIR.tmp.$$
    rm -rf "$tmp"; mkdir -p "$tmp/modules"
    cp "$x"/boot/vmlinuz-* "$tmp/vmlinuz" || die "no vmlinuz in $deb"
    for m in $MODS; do cp "$x"/lib/modules/*/kernel/"$m" "$tmp/modules/" || die "no $m in $deb"; done
    basename "$deb" > "$tmp/package"
    rm -rf "$KDIR"; mv "$tmp" "$KDIR"
fi

# --- initramfs ---------------------------------------------------------------
R=$WORK/root
mkdir -p "$R"/{bin,lib/modules,proc,sys,dev,run,tmp,etc}
cp "$BUSYBOX" "$R/bin/busybox"
cp "$KDIR"/modules/*.ko "$R/lib/modules/"
cp "$HERE/init.sh" "$R/init"
cp "$HERE/guest.sh" "$R/guest.sh"
chmod 755 "$R/init"
cp "$BIN" "$R/bin/cnibox"
add_libs() {  # every library a dynamic program needs, at the path the loader looks for it
    local lib
    for lib in $(ldd "$1" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'); do
        mkdir -p "$R$(dirname "$lib")"
        cp -L "$lib" "$R$lib"
    done
}
if ldd "$BIN" >/dev/null 2>&1; then kind=dynamic; add_libs "$BIN"; else kind=static; fi
mkdir -p "$R/usr/sbin"
cp "$DNSMASQ" "$R/usr/sbin/dnsmasq"
add_libs "$DNSMASQ"
mkdir -p "$R/extra"
for x in ${VM_EXTRA_PLUGINS:-}; do
    [ -x "$x" ] || die "VM_EXTRA_PLUGINS: $x is not executable"
    cp "$x" "$R/extra/"
    ldd "$x" >/dev/null 2>&1 && add_libs "$x"
    log "extra plugin $x"
done
echo "root:x:0:0:root:/:/bin/sh" > "$R/etc/passwd"
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) > "$WORK/initrd.gz" || die "cpio failed"
log "kernel $KPKG, $kind cnibox $BIN ($(du -sh "$WORK/initrd.gz" | cut -f1) initramfs)"

# --- boot --------------------------------------------------------------------
OUT=${VM_LOG:-$WORK/console.log}
boot qemu-system-x86_64 -accel tcg -cpu max -m 512 -smp 1 \
    -display none -monitor none -serial "file:$OUT" -nic none -no-reboot \
    -kernel "$KDIR/vmlinuz" -initrd "$WORK/initrd.gz" \
    -append "console=ttyS0 panic=-1 loglevel=3 quiet"
