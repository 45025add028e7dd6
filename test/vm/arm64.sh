# shellcheck shell=bash
# VM_ARCH=arm64 part of test/vm/run.sh (sourced by it; BIN, HERE, VM_CACHE,
# VM_TIMEOUT, log, die, boot and packaging/common.sh come from there):
# Debian's arm64 kernel, its bridge/veth/netfilter modules and
# busybox-static:arm64, fetched with
# apt-get download through a private apt configuration, an initramfs with
# test/vm/smoke.sh as /init, one boot of qemu-system-aarch64 (TCG, -M virt).
#
# Cache ($VM_CACHE/arm64):
#   apt-arm64/           the private apt configuration and its lists (arm64 only)
#   <kernel package>/    vmlinuz, package, modules.ok, lib/modules/<version>/ (the module
#                        directories below, modules.dep, modules.alias)
#   busybox-arm64/       busybox (pkg_fetch_busybox)

for t in qemu-system-aarch64 cpio gzip apt-get apt-cache dpkg-deb; do
    command -v $t >/dev/null || die "$t missing (apt-get install qemu-system-arm cpio apt dpkg)"
done
# A dynamic binary would need arm64 libraries the host's ldd cannot name.
if grep -q 'ld-linux-aarch64\|ld-musl-aarch64' "$BIN"; then
    die "$BIN is a dynamic aarch64 binary; VM_ARCH=arm64 takes a static one (packaging/build-static.sh)"
fi
[ -z "${VM_EXTRA_PLUGINS:-}" ] || log "VM_EXTRA_PLUGINS is ignored with VM_ARCH=arm64"

WORK=$(mktemp -d /tmp/cnibox-vm-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
A=$VM_CACHE/arm64
mkdir -p "$A" || die "cannot create $A"

# --- private apt configuration: the machine's sources, arm64 packages only ---
# shellcheck source=packaging/apt-private.sh
. "$ROOT/packaging/apt-private.sh"
APTD=$A/apt-arm64   # (the lists pkg_fetch_busybox uses too)
kernel_package() {
    apt-cache "${APT_OPTS[@]}" depends linux-image-arm64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1
}

KPKG=${VM_KERNEL:-}
if [ -z "$KPKG" ]; then
    apt_private_setup "$APTD" deb arm64 || log "apt-get update failed"
    KPKG=$(kernel_package)
fi
if [ -z "$KPKG" ]; then
    KPKG=$(cd "$A" && ls -t linux-image-*/modules.ok 2>/dev/null | head -n 1)
    KPKG=${KPKG%/modules.ok}
    [ -n "$KPKG" ] || die "no arm64 kernel package: no apt lists in $APTD and nothing cached in $A"
    log "arm64 apt lists unavailable; using cached $KPKG"
fi

# --- kernel + modules, cached per kernel package ------------------------------
# Whole directories: the kernel asks for netfilter modules by alias (nft-expr-*,
# nft-chain-*, ipt_*, iptable_*, ...) as rules need them. libcrc32c (of
# nf_conntrack and nf_nat) asks for crypto-crc32c, modular in Debian's arm64 kernel.
KMODS="net/netfilter net/ipv4/netfilter net/ipv6/netfilter net/bridge net/802 net/llc
       drivers/net/veth.ko lib/libcrc32c.ko crypto/crc32c_generic.ko"
KDIR=$A/$KPKG
# moddep DIR: modules.dep (each module's dependencies, transitively, in the
# order modprobe reads them: the last one is loaded first) and modules.alias,
# from the "depends=" and "alias=" strings of each module's .modinfo.
moddep() {
    local d=$1
    # .modinfo strings are NUL-terminated: grep -z reads them as lines.
    (cd "$d" && find kernel -name '*.ko' | sort | sed 's/^/M /'
     find kernel -name '*.ko' | sort | xargs grep -a -z -H -E '^(depends|alias)=[[:print:]]*$' |
         tr '\0' '\n' | sed 's/^/I /') | awk -v dep="$d/modules.dep" -v ali="$d/modules.alias" '
        function norm(s) { gsub(/-/, "_", s); return s }
        function visit(m,   n, a, i) {
            if (m in seen) return
            seen[m] = 1
            if (!(m in path)) { print "module " m " (needed by " top ") is not in the set" > "/dev/stderr"; bad = 1; return }
            n = split(deps[m], a, ",")
            for (i = 1; i <= n; i++) if (a[i] != "") visit(norm(a[i]))
            order[++k] = m
        }
        $1 == "M" { f = $2; m = f; sub(/.*\//, "", m); sub(/\.ko$/, "", m); m = norm(m); path[m] = f; mod[f] = m; names[++nm] = m; next }
        $1 == "I" { r = substr($0, 3); i = index(r, ":"); m = mod[substr(r, 1, i - 1)]; kv = substr(r, i + 1)
                    i = index(kv, "="); key = substr(kv, 1, i - 1); v = substr(kv, i + 1)
                    if (key == "depends") deps[m] = v; else print "alias " v " " m > ali }
        END {
            for (j = 1; j <= nm; j++) {
                top = names[j]; split("", seen); k = 0; visit(top)
                line = path[top] ":"
                for (i = k - 1; i >= 1; i--) line = line " " path[order[i]]
                print line > dep
            }
            exit bad
        }'
}
if [ ! -f "$KDIR/vmlinuz" ] || [ ! -f "$KDIR/modules.ok" ]; then
    log "fetching $KPKG (arm64) into $KDIR"
    apt_private_setup "$APTD" deb arm64 && apt_private_download "$WORK/deb" "$KPKG" || die "apt-get download $KPKG (arm64) failed"
    deb=$(ls "$WORK"/deb/*.deb 2>/dev/null | head -n 1)
    [ -n "$deb" ] || die "apt-get download $KPKG gave no .deb"
    tmp=$KDIR.tmp.$$
    rm -rf "$tmp"; mkdir -p "$tmp"
    # shellcheck disable=SC2046  # one wildcard pattern per entry of KMODS
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards './boot/vmlinuz-*' \
        $(for m in $KMODS; do echo "./lib/modules/*/kernel/$m"; done) || die "unpacking $deb failed"
    mv "$tmp"/boot/vmlinuz-* "$tmp/vmlinuz" || die "no vmlinuz in $deb"
    rmdir "$tmp/boot"
    for m in $KMODS; do ls -d "$tmp"/lib/modules/*/kernel/"$m" >/dev/null 2>&1 || die "no $m in $deb"; done
    ls "$tmp"/lib/modules/*/kernel/net/netfilter/*.ko.* >/dev/null 2>&1 &&
        die "$deb has compressed modules; busybox insmod takes plain .ko files"
    moddep "$(ls -d "$tmp"/lib/modules/*)" || die "modules.dep of $deb: a dependency is missing from KMODS"
    basename "$deb" > "$tmp/package"
    touch "$tmp/modules.ok"
    rm -rf "$KDIR"; mv "$tmp" "$KDIR"
fi
# busybox-static:arm64, as the installer image gets it (packaging/common.sh)
BB=$(PKG_CACHE=$A pkg_fetch_busybox arm64) || die "fetching busybox-static (arm64) into $A failed"

# --- initramfs ---------------------------------------------------------------
R=$WORK/root
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,lib,proc,sys,dev,run,tmp,etc}
cp "$BB" "$R/bin/busybox"
cp -a "$KDIR/lib/modules" "$R/lib/"
cp "$HERE/smoke.sh" "$R/init"
cp "$HERE/guest.sh" "$R/guest.sh"
chmod 755 "$R/init"
cp "$BIN" "$R/bin/cnibox"
echo "root:x:0:0:root:/:/bin/sh" > "$R/etc/passwd"
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) > "$WORK/initrd.gz" || die "cpio failed"
log "kernel $KPKG (arm64), static aarch64 cnibox $BIN ($(du -sh "$WORK/initrd.gz" | cut -f1) initramfs)"

# --- boot --------------------------------------------------------------------
# cortex-a57: no pointer authentication, whose emulation slows TCG down.
OUT=${VM_LOG:-$WORK/console.log}
boot qemu-system-aarch64 -M virt -accel tcg -cpu cortex-a57 -m 512 -smp 1 \
    -display none -monitor none -serial "file:$OUT" -nic none -no-reboot \
    -kernel "$KDIR/vmlinuz" -initrd "$WORK/initrd.gz" \
    -append "console=ttyAMA0 panic=-1 loglevel=3 quiet"
