# shellcheck shell=bash
# Sourced by the packaging scripts: the binary to package, its version and
# architecture. The version has one source, meson.build's project version;
# the binary must report the same (cnibox --version, first line). The
# architecture is the binary's own, read from its ELF header, so a
# cross-built binary (ARCH=arm64 packaging/build-static.sh ...) is packaged
# on any machine, running it under qemu-user where it must run.

PKG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

pkg_log() { echo "$(basename "$0"): $*" >&2; }
pkg_die() { pkg_log "error: $*"; exit 1; }
pkg_abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

# meson.build's project version.
pkg_project_version() {
    meson introspect --projectinfo "$PKG_ROOT/meson.build" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])'
}

# pkg_arch BINARY: the Debian architecture an ELF executable is for, from its
# header (class, byte order, e_machine; for 32-bit ARM the hard-float flag):
# amd64, arm64, armhf, armel, riscv64, i386, ppc64el or s390x.
pkg_arch() {
    local f=$1 h
    [ -f "$f" ] || pkg_die "$f: no such file"
    # The first 52 bytes: e_ident (16), e_type, e_machine (at 18), e_version,
    # ..., e_flags (at 36 in a 32-bit header).
    read -r -a h < <(od -An -v -tu1 -N 52 "$f" | tr -s ' \n' '  ')
    if [ "${#h[@]}" -lt 40 ] || [ "${h[0]} ${h[1]} ${h[2]} ${h[3]}" != "127 69 76 70" ]; then
        pkg_die "$f: not an ELF file"
    fi
    local class=${h[4]} data=${h[5]} machine flags=0
    if [ "$data" = 1 ]; then
        machine=$((h[18] | h[19] << 8))
        [ "$class" = 1 ] && flags=$((h[36] | h[37] << 8 | h[38] << 16 | h[39] << 24))
    else
        machine=$((h[18] << 8 | h[19]))
    fi
    case $class.$data.$machine in
        2.1.62) echo amd64 ;;
        2.1.183) echo arm64 ;;
        1.1.40) if ((flags & 0x400)); then echo armhf; else echo armel; fi ;;  # EF_ARM_ABI_FLOAT_HARD
        2.1.243) echo riscv64 ;;
        1.1.3) echo i386 ;;
        2.1.21) echo ppc64el ;;
        2.2.22) echo s390x ;;
        *) pkg_die "$f: an ELF file for an architecture not packaged here (class $class, data $data, machine $machine)" ;;
    esac
}

# This machine's Debian architecture.
pkg_machine_arch() {
    dpkg --print-architecture 2>/dev/null && return
    case $(uname -m) in
        x86_64) echo amd64 ;; aarch64|arm64) echo arm64 ;; armv7*|armv8l) echo armhf ;;
        armv5*|armv6*) echo armel ;; i?86) echo i386 ;; ppc64le) echo ppc64el ;;
        *) uname -m ;;
    esac
}

# pkg_goarch [DEBIAN_ARCH]: the architecture as release tarballs and images
# name it (Go's GOARCH, as in upstream's cni-plugins-linux-<arch>-*.tgz):
# amd64, arm64, arm (armhf, armel), riscv64, 386, ppc64le, s390x. Default:
# the packaged binary's (PKG_ARCH), else this machine's.
pkg_goarch() {
    local a=${1:-${PKG_ARCH:-$(pkg_machine_arch)}}
    case $a in
        armhf|armel) echo arm ;;
        i386) echo 386 ;;
        ppc64el) echo ppc64le ;;
        *) echo "$a" ;;
    esac
}

# pkg_platform [DEBIAN_ARCH]: that architecture's OCI platform,
# os/arch[/variant]: linux/amd64, linux/arm64, linux/arm/v7 (armhf), ...
pkg_platform() {
    local a=${1:-${PKG_ARCH:-$(pkg_machine_arch)}}
    case $a in
        armhf) echo linux/arm/v7 ;;
        armel) echo linux/arm/v5 ;;
        *) echo "linux/$(pkg_goarch "$a")" ;;
    esac
}

# pkg_runner DEBIAN_ARCH: what runs that architecture's executables here:
# nothing on this machine's own, else qemu-user's qemu-ARCH-static, run
# explicitly (no binfmt handler is needed or used).
pkg_runner() {
    local a=$1 q
    [ "$a" = "$(pkg_machine_arch)" ] && return 0
    case $a in
        amd64) q=x86_64 ;; arm64) q=aarch64 ;; armhf|armel) q=arm ;; i386) q=i386 ;;
        ppc64el) q=ppc64le ;; *) q=$a ;;
    esac
    command -v "qemu-$q-static" ||
        pkg_die "qemu-$q-static missing: a $a binary runs on this $(pkg_machine_arch) machine under qemu-user (apt-get install qemu-user-static)"
}

# pkg_run EXECUTABLE [ARG...]: runs an executable of the packaged binary's
# architecture (PKG_ARCH), under qemu-user when foreign.
pkg_run() { ${PKG_RUNNER:+"$PKG_RUNNER"} "$@"; }

# pkg_binary OUT_DIR [CNIBOX]: the static binary to package. Given one, it is
# used as it is; else OUT_DIR/cnibox when present; else build-static.sh makes
# it there. Checks that it is static and reports the project version; sets
# PKG_BIN, PKG_VERSION, PKG_APPLETS and its architecture: PKG_ARCH (Debian's
# name), PKG_GOARCH, PKG_PLATFORM and PKG_RUNNER (for pkg_run).
pkg_binary() {
    local out=$1 bin=${2:-}
    if [ -z "$bin" ]; then
        bin=$out/cnibox
        [ -x "$bin" ] || "$PKG_ROOT/packaging/build-static.sh" "$out" > /dev/null ||
            pkg_die "static build failed"
    fi
    [ -x "$bin" ] || pkg_die "$bin: not an executable"
    PKG_BIN=$(pkg_abspath "$bin")
    case $(file -b "$PKG_BIN") in
        *"statically linked"*) ;;
        *) pkg_die "$PKG_BIN is not statically linked (packaging/build-static.sh makes one that is)" ;;
    esac
    PKG_ARCH=$(pkg_arch "$PKG_BIN") || exit 1
    # shellcheck disable=SC2034  # for the scripts sourcing this
    PKG_GOARCH=$(pkg_goarch "$PKG_ARCH")
    # shellcheck disable=SC2034
    PKG_PLATFORM=$(pkg_platform "$PKG_ARCH")
    PKG_RUNNER=$(pkg_runner "$PKG_ARCH") || exit 1
    PKG_VERSION=$(pkg_project_version)
    local banner
    # All its output, then the first line (head would close the pipe early).
    banner=$(pkg_run "$PKG_BIN" --version) || pkg_die "$PKG_BIN ($PKG_ARCH) --version failed"
    banner=${banner%%$'\n'*}
    [ "$banner" = "cnibox $PKG_VERSION - CNI plugins in one binary" ] ||
        pkg_die "$PKG_BIN ($PKG_ARCH) reports '$banner'; meson.build says version $PKG_VERSION (rebuild it)"
    PKG_APPLETS=$(pkg_run "$PKG_BIN" --list) || pkg_die "$PKG_BIN ($PKG_ARCH) --list failed"
    PKG_APPLETS=$(echo "$PKG_APPLETS" | tr '\n' ' ')
    [ -n "$PKG_APPLETS" ] || pkg_die "$PKG_BIN lists no applets"
}

# pkg_busybox: the static busybox of the image for PKG_ARCH, in PKG_BUSYBOX:
# $BUSYBOX_<arch> (BUSYBOX_riscv64=...) or $BUSYBOX when set (it must be for
# PKG_ARCH); else on this machine's own
# architecture /bin/busybox (Debian's busybox-static); else Debian's
# busybox-static for PKG_ARCH (pkg_fetch_busybox).
pkg_busybox() {
    local v=BUSYBOX_$PKG_ARCH a bb
    bb=${!v:-${BUSYBOX:-}}
    if [ -z "$bb" ]; then
        if [ "$PKG_ARCH" = "$(pkg_machine_arch)" ]; then
            bb=/bin/busybox
        else
            bb=$(pkg_fetch_busybox "$PKG_ARCH") || exit 1
        fi
    fi
    case $(file -b "$bb" 2>/dev/null) in
        *"statically linked"*) ;;
        *) pkg_die "$bb is not a static busybox (install busybox-static, or set BUSYBOX)" ;;
    esac
    a=$(pkg_arch "$bb") || exit 1
    [ "$a" = "$PKG_ARCH" ] ||
        pkg_die "$bb is a $a busybox, $PKG_BIN an $PKG_ARCH binary (set BUSYBOX to a static $PKG_ARCH busybox, or unset it)"
    # shellcheck disable=SC2034  # for image-context.sh
    PKG_BUSYBOX=$bb
}

# pkg_fetch_busybox DEBIAN_ARCH: prints the path of /bin/busybox from that
# architecture's busybox-static, fetched once from the machine's apt sources
# with a private apt configuration (its own lists, an empty dpkg status: the
# machine's dpkg gets no foreign architecture) and unpacked under $PKG_CACHE
# (default: build-pkg-cache in the source tree). riscv64, which Debian 12
# (bookworm) lacks, comes from Debian 13 (trixie) as in build-static.sh: the
# machine's main archive entries with trixie as their suite (no -updates, no
# -security).
pkg_fetch_busybox() {
    local arch=$1 cache dir apt f suite=
    # shellcheck source=packaging/apt-private.sh
    . "$PKG_ROOT/packaging/apt-private.sh"
    suite=$(apt_arch_suite "$arch")
    cache=$(pkg_abspath "${PKG_CACHE:-$PKG_ROOT/build-pkg-cache}")
    dir=$cache/busybox-$arch apt=$cache/apt-$arch${suite:+-$suite}
    if [ ! -x "$dir/busybox" ]; then
        apt_private_setup "$apt" deb "$arch" "$suite" || pkg_die "apt-get update of $arch's package lists failed"
        rm -rf "$apt/debs"
        apt_private_download "$apt/debs" "busybox-static:$arch" ||
            pkg_die "apt-get download busybox-static:$arch failed (or set BUSYBOX to a static $arch busybox)"
        rm -rf "$dir.new"
        mkdir -p "$dir.new/root"
        dpkg-deb -x "$apt/debs"/busybox-static_*.deb "$dir.new/root" || pkg_die "dpkg-deb -x of busybox-static:$arch failed"
        # /bin/busybox; /usr/bin/busybox from trixie on (merged /usr)
        for f in "$dir.new"/root/bin/busybox "$dir.new"/root/usr/bin/busybox ""; do
            [ -z "$f" ] && pkg_die "busybox-static:$arch has no /bin/busybox nor /usr/bin/busybox"
            [ -f "$f" ] && [ ! -L "$f" ] && break
        done
        install -m 0755 "$f" "$dir.new/busybox"
        rm -rf "$dir.new/root" "$dir"
        mv "$dir.new" "$dir"
        pkg_log "$dir/busybox: Debian's busybox-static for $arch ($(basename "$apt"/debs/busybox-static_*.deb))"
    fi
    echo "$dir/busybox"
}

# A timestamp for reproducible archives: SOURCE_DATE_EPOCH, else the last
# commit's, else the binary's mtime.
pkg_epoch() {
    if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then echo "$SOURCE_DATE_EPOCH"; return; fi
    git -C "$PKG_ROOT" log -1 --format=%ct 2>/dev/null || stat -c %Y "$PKG_BIN"
}

# pkg_stage_bin DIR: DIR/cnibox (a copy, 0755) and one relative DIR/APPLET ->
# cnibox symlink per applet, made by cnibox --install itself (under qemu-user
# when foreign).
pkg_stage_bin() {
    local dir=$1
    mkdir -p "$dir"
    install -m 0755 "$PKG_BIN" "$dir/cnibox"
    pkg_run "$dir/cnibox" --install "$dir" >&2 || pkg_die "cnibox --install $dir failed"
    local a
    for a in $PKG_APPLETS; do
        [ "$(readlink "$dir/$a")" = cnibox ] || pkg_die "$dir/$a is not a link to cnibox"
    done
}
