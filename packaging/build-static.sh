#!/usr/bin/env bash
# Builds the fully static, stripped cnibox:
#
#   packaging/build-static.sh OUT_DIR            -> OUT_DIR/cnibox (every applet)
#   APPLETS=bridge,host-local,loopback packaging/build-static.sh OUT_DIR
#   ARCH=arm64 packaging/build-static.sh OUT_DIR  -> an aarch64 cnibox
#
# Environment:
#   ARCH         the Debian architecture to build for: amd64, arm64, armhf or
#                riscv64 (default: this machine's). Another architecture than
#                the machine's is a cross build (musl only): see below
#   APPLETS      comma-separated applets to build in (default: every applet the
#                "applets" meson option knows)
#   BUILD_DIR    meson build directory (default: build-static in the source tree,
#                build-static-ARCH for another architecture);
#                it keeps the unstripped binary (cnibox) and the link map (cnibox.map)
#   DEPS_CACHE   static archives built from Debian's sources (default: $BUILD_DIR-deps)
#   SRC_CACHE    where those sources are fetched (apt-get source) and kept
#                (default: DEPS_CACHE; for another ARCH, build-static-deps, the
#                machine's own build's, which every architecture shares)
#   LIBC         musl (default) or glibc: the C library linked in
#   NFTOOL       1: also build test/netfilter/nftool statically (OUT_DIR/nftool),
#                for running the netfilter tests against the static build
#   CXX, CC      compilers for LIBC=glibc (meson's C++ compiler; cc for the C stubs)
#
# -static, non-PIE; -Os, LTO, one section per function/object and
# --gc-sections. Warnings are errors, the link's included: a linker warning
# (e.g. glibc's "Using 'getpwnam' in statically linked applications ...")
# fails the build. The result is checked to be static (file, ldd) and to
# report meson's project version.
#
# LIBC=musl (Debian's musl-tools): musl's start-up does not probe the CPU's
# caches with CPUID, which traps to the hypervisor in a VM and is most of a
# static glibc program's exec time there; musl's libc.a is also a fraction of
# glibc's. g++ compiles against musl's headers with Debian's libstdc++
# headers (packaging/musl/c++config.h adapts their glibc configuration) and
# links Debian's libstdc++.a/libgcc.a with musl's libc.a through a generated
# specs file; packaging/musl/compat.c gives the few glibc symbols those
# archives name. libnl-3, libnl-route-3, nettle and libiptc are built with
# musl-gcc from Debian's sources (`apt-get source`). libnftnl's sources are
# not on this machine's mirror: Debian's libnftnl.a is linked as it is (it
# calls only plain C functions, and two _FORTIFY_SOURCE printf variants from
# compat.c); the libmnl functions it needs are subprojects/libmnl, meson's
# fallback for libmnl, forced here (-Dforce_fallback_for=libmnl).
#
# LIBC=glibc: static glibc; libiptc is built from Debian's sources, the
# other archives are Debian's.
#
# Another ARCH: Debian's cross compilers (gcc-/g++-<triplet>, whose
# libstdc++.a and libgcc are linked as on the machine's own architecture)
# and that architecture's musl (libc.a, start files, headers) and libnftnl.a
# from Debian's packages for it (musl, musl-dev, libnftnl-dev), downloaded
# with a private apt configuration and unpacked under the cache: the
# machine's dpkg never gets a foreign architecture. libnl, nettle and
# libiptc are built from the same Debian sources with the cross compiler.
# The binary's checks run it under qemu-user (qemu-user-static).
#
# ARCH=riscv64: Debian 12 (bookworm) has no riscv64 port, so riscv64's musl,
# musl-dev and libnftnl-dev come from Debian 13 (trixie, FOREIGN_SUITE): the
# private apt configuration takes the machine's main archive entries with
# trixie as their suite (no -updates, no -security). Trixie's libnftnl.a
# (gcc 14, glibc 2.41) is linked like bookworm's: the glibc symbols it names
# are the same two from compat.c. Its crt1.o's debug information, which
# bookworm's riscv64 ld cannot read, is stripped. The cross compiler and the
# sources built here stay bookworm's.
set -euo pipefail

usage() { sed -n '2,/^set -e/p' "$0" | sed -n 's/^# \{0,1\}//p' >&2; exit 2; }
[ $# -eq 1 ] || usage
case $1 in -h|--help) usage ;; esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
OUT_DIR=$(abspath "$1")
LIBC=${LIBC:-musl}
APPLETS=${APPLETS:-}
CC=${CC:-cc}
case $LIBC in musl|glibc) ;; *) echo "build-static: LIBC must be musl or glibc" >&2; exit 2 ;; esac
NATIVE_ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
ARCH=${ARCH:-$NATIVE_ARCH}
# Debian architecture -> GNU triplet, musl triplet, meson cpu family, qemu-user
case $ARCH in
    amd64)   TRIPLET=x86_64-linux-gnu      MUSL_TRIPLET=x86_64-linux-musl    CPU=x86_64  QEMU=qemu-x86_64-static ;;
    arm64)   TRIPLET=aarch64-linux-gnu     MUSL_TRIPLET=aarch64-linux-musl   CPU=aarch64 QEMU=qemu-aarch64-static ;;
    armhf)   TRIPLET=arm-linux-gnueabihf   MUSL_TRIPLET=arm-linux-musleabihf CPU=arm     QEMU=qemu-arm-static ;;
    riscv64) TRIPLET=riscv64-linux-gnu     MUSL_TRIPLET=riscv64-linux-musl   CPU=riscv64 QEMU=qemu-riscv64-static ;;
    *) echo "build-static: ARCH must be amd64, arm64, armhf or riscv64 (not $ARCH)" >&2; exit 2 ;;
esac
# The Debian release the foreign musl and libnftnl-dev come from (a cross
# build): empty for the machine's own; riscv64 is only in Debian 13 and later.
CROSS_BUILD=false
if [ "$ARCH" != "$NATIVE_ARCH" ]; then
    CROSS_BUILD=true
    [ "$LIBC" = musl ] || { echo "build-static: a cross build (ARCH=$ARCH) links musl only" >&2; exit 2; }
    BUILD_DIR=${BUILD_DIR:-$ROOT/build-static-$ARCH}
fi
BUILD_DIR=$(abspath "${BUILD_DIR:-$ROOT/build-static}")
DEPS_CACHE=$(abspath "${DEPS_CACHE:-$BUILD_DIR-deps}")
# Debian's sources are the same for every architecture: a cross build takes
# them (and the deb-src apt indexes) from the machine's own static build's cache.
if $CROSS_BUILD; then SRC_CACHE=$(abspath "${SRC_CACHE:-$ROOT/build-static-deps}")
else SRC_CACHE=$(abspath "${SRC_CACHE:-$DEPS_CACHE}"); fi

log() { echo "build-static: $*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------
# Static archives built from Debian's own sources with `apt-get source`. The
# machine's apt sources are mirrored as deb-src entries in a private apt
# configuration under the cache, so neither the machine's apt setup nor any
# host name is touched or written down here. Each library is built once per
# cache, in a copy of its source under $cache/build/$LIBC, and installed into
# $cache/root-$LIBC (lib/*.a, lib/pkgconfig/*.pc, include/).
# ---------------------------------------------------------------------------
# shellcheck source=packaging/apt-private.sh
. "$ROOT/packaging/apt-private.sh"
# shellcheck source=packaging/common.sh
. "$ROOT/packaging/common.sh"   # (pkg_arch: an ELF file's architecture)
FOREIGN_SUITE=$(apt_arch_suite "$ARCH")

# Debian's musl, musl-dev and libnftnl-dev for ARCH (a cross build), unpacked
# (dpkg-deb -x) into $cache/foreign: prints that directory.
foreign_root() {  # cache
    local cache=$1 root=$1/foreign debs=$1/debs-$ARCH p
    if [ ! -f "$root/.unpacked" ]; then
        apt_private_setup "$cache/apt-$ARCH${FOREIGN_SUITE:+-$FOREIGN_SUITE}" deb "$ARCH" "$FOREIGN_SUITE" ||
            die "apt-get update for $ARCH's package indexes failed"
        rm -rf "$root" "$debs"
        mkdir -p "$root"
        log "apt-get download musl musl-dev libnftnl-dev ($ARCH${FOREIGN_SUITE:+, Debian $FOREIGN_SUITE})"
        apt_private_download "$debs" "musl:$ARCH" "musl-dev:$ARCH" "libnftnl-dev:$ARCH" ||
            die "apt-get download of $ARCH's musl and libnftnl-dev failed"
        for p in "$debs"/*.deb; do dpkg-deb -x "$p" "$root" || die "dpkg-deb -x $p failed"; done
        # Debian's start files carry debug information, whose relocations
        # may be newer than the cross binutils (trixie's riscv64 crt1.o:
        # R_RISCV_SET_ULEB128, on which bookworm's ld 2.40 crashes). The
        # final binary is stripped anyway: strip it here.
        for p in "$root/usr/lib/$MUSL_TRIPLET"/*crt*.o; do
            "$TRIPLET-strip" --strip-debug "$p" || die "strip --strip-debug $p failed"
        done
        touch "$root/.unpacked"
    fi
    echo "$root"
}

fetch_source() {  # cache package -> prints the unpacked source directory
    local cache=$SRC_CACHE pkg=$2 dir
    dir=$(find "$cache/src" -maxdepth 1 -type d -name "$pkg-[0-9]*" 2>/dev/null | sort | tail -n 1)
    if [ -z "$dir" ]; then
        apt_private_setup "$cache/apt" deb-src || die "apt-get update for the deb-src indexes failed"
        mkdir -p "$cache/src"
        log "apt-get source $pkg"
        (cd "$cache/src" && apt-get "${APT_OPTS[@]}" -q source "$pkg" >&2) ||
            die "apt-get source $pkg failed (is dpkg-dev installed?)"
        dir=$(find "$cache/src" -maxdepth 1 -type d -name "$pkg-[0-9]*" | sort | tail -n 1)
    fi
    [ -n "$dir" ] || die "no unpacked source of $pkg under $cache/src"
    echo "$dir"
}

# A fresh copy of a package's source to build in. Debian's patches leave
# autotools inputs newer than what autotools generated from them; the
# generated files are made the newer again, so make does not ask for
# autoconf/automake, which the build does not need.
build_copy() {  # cache package name -> prints the directory
    local src dir t
    src=$(fetch_source "$1" "$2")
    dir=$1/build/$LIBC/$3
    rm -rf "$dir"
    mkdir -p "$(dirname "$dir")"
    cp -a "$src" "$dir"
    t=$(( $(stat -c %Y "$dir/configure") - 3600 ))
    find "$dir" \( -name configure.ac -o -name Makefile.am -o -name '*.m4' \) -exec touch -d "@$t" {} +
    find "$dir" \( -name configure -o -name Makefile.in -o -name config.h.in -o -name 'stamp-h*' \) -exec touch {} +
    echo "$dir"
}

# cache cc cflags lib... ; lib: libiptc (libip4tc + libip6tc), libnl (libnl-3 +
# libnl-route-3), nettle
build_deps() {
    local cache=$1 cc=$2 cflags=$3 root=$1/root-$LIBC jobs lib dir
    shift 3
    jobs=$(nproc 2>/dev/null || echo 2)
    local conf=(--prefix="$root" --libdir="$root/lib" --enable-static --disable-shared)
    $CROSS_BUILD && conf+=(--host="$TRIPLET" --build="$(gcc -dumpmachine)")
    for lib in "$@"; do
        case $lib in
            libiptc) [ -f "$root/lib/libip4tc.a" ] && [ -f "$root/lib/libip6tc.a" ] && continue
                dir=$(build_copy "$cache" iptables libiptc)
                log "building static libip4tc/libip6tc ($LIBC) from Debian's iptables source"
                (cd "$dir" && ./configure "${conf[@]}" CC="$cc" CFLAGS="$cflags" --disable-nftables >&2 &&
                    make -j"$jobs" -C libiptc >&2 && make -C libiptc install >&2 &&
                    make -C include install >&2) || die "libiptc build failed" ;;
            libnl) [ -f "$root/lib/libnl-route-3.a" ] && continue
                dir=$(build_copy "$cache" libnl3 libnl)
                log "building static libnl-3/libnl-route-3 ($LIBC) from Debian's libnl3 source"
                (cd "$dir" && ./configure "${conf[@]}" CC="$cc" CFLAGS="$cflags" --disable-cli --disable-debug >&2 &&
                    make -j"$jobs" >&2 && make install >&2) || die "libnl build failed" ;;
            nettle) [ -f "$root/lib/libnettle.a" ] && continue
                dir=$(build_copy "$cache" nettle nettle)
                log "building static libnettle ($LIBC) from Debian's nettle source"
                (cd "$dir" && ./configure "${conf[@]}" CC="$cc" CFLAGS="$cflags" --disable-public-key \
                        --disable-openssl --disable-documentation >&2 &&
                    make -j"$jobs" libnettle.a >&2 &&
                    make install-headers install-static install-pkgconfig >&2) || die "nettle build failed" ;;
            *) die "no recipe for a static $lib" ;;
        esac
    done
    rm -f "$root"/lib/*.la
}

# The musl toolchain around g++: system headers (the kernel's uapi headers
# and the header-only or Debian-built libraries' headers, by symlink, since
# musl's headers replace /usr/include), the libstdc++ configuration overlay,
# a specs file that links musl's start files and libc.a, and the meson cross
# file naming it all.
# A cross build takes the cross compilers ($TRIPLET-gcc/g++), the asm/
# kernel headers of their sysroot and the foreign musl and libnftnl.a (foreign_root);
# its C compiler is the cross gcc with the same specs and musl's headers
# (what musl-gcc is on the machine's own architecture).
musl_toolchain() {  # cache -> prints the cross file; the C compiler's command line in $cache/musl/cc
    local cache=$1 root=$1/root-musl m tri sysinc cxxdirs=() d gccinc nftnl_lib out prefix=
    local musl_inc cc=() arch_inc frt
    if $CROSS_BUILD; then
        # the machine's kernel headers but for asm/, the cross sysroot's (the
        # cross package's linux/ may be older: its const.h says typeof, which
        # C++ lacks)
        tri=$TRIPLET prefix=$TRIPLET- arch_inc=/usr/$TRIPLET/include
        command -v "${prefix}g++" > /dev/null ||
            die "${prefix}g++ not found (apt-get install g++-$TRIPLET, or bash .ci/deps.sh --tier cross)"
        frt=$(foreign_root "$cache") || exit 1
        m=$frt/usr/lib/$MUSL_TRIPLET musl_inc=$frt/usr/include/$MUSL_TRIPLET
        nftnl_lib=$frt/usr/lib/$TRIPLET/libnftnl.a
        [ -f "$m/libc.a" ] && [ -f "$nftnl_lib" ] || die "no $ARCH musl or libnftnl.a under $frt"
    else
        tri=$(gcc -dumpmachine) arch_inc=/usr/include/$tri
        m=/usr/lib/${tri%-gnu}-musl musl_inc=/usr/include/${tri%-gnu}-musl
        if [ ! -f "$m/libc.a" ] || ! command -v musl-gcc > /dev/null; then die "musl not found (apt-get install musl-tools musl-dev)"; fi
        nftnl_lib=$(pkg-config --variable=libdir libnftnl)/libnftnl.a
    fi
    sysinc=$cache/musl/sysinc
    mkdir -p "$sysinc" "$cache/musl/cxxinc/bits"
    for d in linux asm-generic libmnl libnftnl rapidjson; do
        [ -d "/usr/include/$d" ] || die "/usr/include/$d missing"
        ln -sfn "/usr/include/$d" "$sysinc/$d"
    done
    ln -sfn "$arch_inc/asm" "$sysinc/asm"
    # Copied only when it differs: every C++ object depends on it, and a new
    # mtime would rebuild them all on each run.
    cmp -s "$ROOT/packaging/musl/c++config.h" "$cache/musl/cxxinc/bits/c++config.h" ||
        cp "$ROOT/packaging/musl/c++config.h" "$cache/musl/cxxinc/bits/c++config.h"
    # libstdc++'s header directories, in g++'s own order
    while read -r d; do cxxdirs+=("$d"); done < <("${prefix}g++" -xc++ -E -v /dev/null 2>&1 |
        sed -n '/^#include <...> search starts here:/,/^End of search list/p' | sed -n 's/^ \(.*c++.*\)$/\1/p')
    [ ${#cxxdirs[@]} -gt 0 ] || die "cannot find libstdc++'s headers"
    gccinc=$("${prefix}gcc" -print-file-name=include)
    cat > "$cache/musl/g++.specs" <<EOF
*link_libgcc:
-L$m -L .%s

*libgcc:
libgcc.a%s %:if-exists(libgcc_eh.a%s)

*startfile:
$m/crt1.o $m/crti.o crtbeginT.o%s

*endfile:
crtend.o%s $m/crtn.o

*link:
-nostdlib %{static:-static}
EOF
    # pkg-config sees only the musl root: RapidJSON is headers only, libnftnl
    # is Debian's archive (see the top of this file)
    mkdir -p "$root/lib/pkgconfig"
    printf 'Name: RapidJSON\nDescription: header-only\nVersion: %s\nCflags:\n' \
        "$(pkg-config --modversion RapidJSON)" > "$root/lib/pkgconfig/RapidJSON.pc"
    if pkg-config --exists catch2; then  # header-only too (NFTOOL=1 configures the tests)
        ln -sfn "$(pkg-config --variable=includedir catch2)/catch2" "$sysinc/catch2"
        printf 'Name: catch2\nDescription: header-only\nVersion: %s\nCflags:\n' \
            "$(pkg-config --modversion catch2)" > "$root/lib/pkgconfig/catch2.pc"
    fi
    printf 'libdir=%s\nName: libnftnl\nDescription: Debian'"'"'s archive\nVersion: %s\nLibs: %s\nCflags:\n' \
        "$(dirname "$nftnl_lib")" "$(pkg-config --modversion libnftnl)" "$nftnl_lib" > "$root/lib/pkgconfig/libnftnl.pc"
    if $CROSS_BUILD; then
        # (-static: the specs' start files are the static ones, which a
        # default PIE link refuses on armhf)
        cc=("${prefix}gcc" "-specs=$cache/musl/g++.specs" -static -nostdinc -isystem "$musl_inc" -isystem "$gccinc")
    else
        cc=(musl-gcc)
    fi
    echo "${cc[*]}" > "$cache/musl/cc"
    q() { printf "'%s', " "$@"; }
    out=$cache/musl/cross.ini
    {
        echo "[binaries]"
        echo "c = [$(q "${cc[@]}")]"
        echo "cpp = [$(q "${prefix}g++" "-specs=$cache/musl/g++.specs" -nostdinc -nostdinc++ -isystem "$cache/musl/cxxinc")$(
            for d in "${cxxdirs[@]}"; do q -isystem "$d"; done)$(
            q -isystem "$musl_inc" -isystem "$gccinc" -isystem "$sysinc" \
              -isystem "$root/include" -isystem "$root/include/libnl3")]"
        echo "ar = '${prefix}gcc-ar'"
        echo "strip = '${prefix}strip'"
        echo "pkgconfig = 'pkg-config'"
        if $CROSS_BUILD && command -v "$QEMU" > /dev/null; then echo "exe_wrapper = '$QEMU'"; fi
        echo "[properties]"
        echo "pkg_config_libdir = ['$root/lib/pkgconfig']"
        echo "[host_machine]"
        echo "system = 'linux'"
        echo "cpu_family = '$CPU'"
        echo "cpu = '$CPU'"
        echo "endian = 'little'"
    } > "$out"
    echo "$out"
}

# ---------------------------------------------------------------------------
# The build
# ---------------------------------------------------------------------------
CFLAGS_DEPS="-Os -ffunction-sections -fdata-sections"
MESON_LIBC=()
if [ "$LIBC" = musl ]; then
    CROSS=$(musl_toolchain "$DEPS_CACHE") && [ -f "$CROSS" ] || die "cannot set up the musl toolchain"
    CC=$(cat "$DEPS_CACHE/musl/cc")
    build_deps "$DEPS_CACHE" "$CC" "$CFLAGS_DEPS -isystem $DEPS_CACHE/musl/sysinc" libiptc libnl nettle
    MESON_LIBC=(--cross-file "$CROSS")
else
    build_deps "$DEPS_CACHE" "$CC" "$CFLAGS_DEPS" libiptc
    export PKG_CONFIG_PATH="$DEPS_CACHE/root-glibc/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
fi

# A build directory set up for the other C library starts again.
# (.libc: "LIBC" for the machine's architecture, "LIBC ARCH" for another)
TARGET=$LIBC$($CROSS_BUILD && echo " $ARCH" || true)
if [ -f "$BUILD_DIR/build.ninja" ] && [ "$(cat "$BUILD_DIR/.libc" 2>/dev/null)" != "$TARGET" ]; then
    log "$BUILD_DIR was set up for another C library or architecture: setting it up again"
    rm -rf "$BUILD_DIR"
fi
mkdir -p "$BUILD_DIR"
echo "$TARGET" > "$BUILD_DIR/.libc"
# The stubs (static-netdb.c: no name service; static-terminate.c: no C++
# demangler; musl/compat.c, musl/malloc.c: see above) are linked as objects; they must exist
# before meson's sanity-check links, which use the same link arguments.
STUBS=
for s in static-netdb static-terminate $([ "$LIBC" = musl ] && echo musl/compat musl/malloc); do
    o=$BUILD_DIR/$(basename "$s").o
    if [ ! -f "$o" ] || [ "$ROOT/packaging/$s.c" -nt "$o" ]; then
        $CC -Os -Wall -Wextra -Werror -c "$ROOT/packaging/$s.c" -o "$o"
        rm -f "$BUILD_DIR/cnibox"   # ninja does not see link-argument objects: relink
    fi
    STUBS+=" $o"
done

OPTS=(
    -Dbuildtype=release -Doptimization=s -Db_ndebug=true -Dwerror=true
    -Db_lto=true -Db_pie=false -Db_staticpic=false
    -Ddefault_library=static -Dprefer_static=true
    -Dtests=$([ "${NFTOOL:-0}" = 1 ] && echo true || echo false) -Dfuzz=false -Dforce_fallback_for=libmnl
    "-Dcpp_args=-ffunction-sections -fdata-sections -fno-exceptions -fno-asynchronous-unwind-tables"
    "-Dcpp_link_args=-static -Wl,--gc-sections -Wl,-O1 -Wl,-z,noseparate-code -Wl,-Map=$BUILD_DIR/cnibox.map$STUBS"
)
# Every applet by default: the choices of the "applets" option, read from
# the source tree (a build dir's copy may predate new applets).
if [ -z "$APPLETS" ]; then
    APPLETS=$(meson introspect --buildoptions "$ROOT/meson.build" | python3 -c '
import json, sys
print(",".join(next(o["choices"] for o in json.load(sys.stdin) if o["name"] == "applets")))')
fi
OPTS+=("-Dapplets=$APPLETS")
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    meson setup "$BUILD_DIR" "$ROOT" "${MESON_LIBC[@]}" "${OPTS[@]}" >&2 || die "meson setup failed (APPLETS=$APPLETS)"
else
    # (meson 1.0's --reconfigure keeps earlier cpp_args; configure sets them)
    { meson setup --reconfigure "$BUILD_DIR" "$ROOT" "${OPTS[@]}" && meson configure "$BUILD_DIR" "${OPTS[@]}"; } >&2 ||
        die "meson setup --reconfigure failed (APPLETS=$APPLETS)"
fi
VERSION=$(meson introspect --projectinfo "$BUILD_DIR" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')

# Compiler warnings already fail the compile (-Werror); the link's (glibc's
# static-linking warnings, LTO diagnostics) are checked here. The output of
# the link that made the current binary is kept in static-link.log, so an
# up-to-date build is checked without linking again.
LOG=$BUILD_DIR/static-compile.log
if ! meson compile -C "$BUILD_DIR" cnibox 2>&1 | tee "$LOG" >&2; then
    rm -f "$BUILD_DIR/cnibox"
    die "compile failed (log: $LOG)"
fi
if grep -q "Linking target cnibox" "$LOG" || [ ! -f "$BUILD_DIR/static-link.log" ]; then
    cp "$LOG" "$BUILD_DIR/static-link.log"
fi
if grep -iE '(^|[: ])warning[: ]' "$BUILD_DIR/static-link.log" >&2; then
    rm -f "$BUILD_DIR/cnibox"
    die "the build printed warnings (above); warnings are errors"
fi

BIN=$BUILD_DIR/cnibox
desc=$(file -b "$BIN")
case $desc in *"statically linked"*) ;; *) die "not statically linked: $desc" ;; esac
[ "$(pkg_arch "$BIN")" = "$ARCH" ] || die "not an $ARCH executable: $desc"
if ldd "$BIN" >/dev/null 2>&1; then die "ldd finds dynamic dependencies: $(ldd "$BIN" 2>&1)"; fi
RUN=()
if $CROSS_BUILD; then
    command -v "$QEMU" > /dev/null || die "$QEMU not found: it runs the $ARCH binary's checks (apt-get install qemu-user-static)"
    RUN=("$QEMU")
fi
banner=$("${RUN[@]}" "$BIN" --version | sed -n 1p)
[ "$banner" = "cnibox $VERSION - CNI plugins in one binary" ] ||
    die "binary reports '$banner', meson project version is $VERSION"

mkdir -p "$OUT_DIR"
STRIP=$($CROSS_BUILD && echo "$TRIPLET-" || true)strip
"$STRIP" --strip-all --remove-section=.comment -o "$OUT_DIR/.cnibox.new" "$BIN"
mv -f "$OUT_DIR/.cnibox.new" "$OUT_DIR/cnibox"

# The netfilter test program, linked the same way (NFTOOL=1).
if [ "${NFTOOL:-0}" = 1 ]; then
    meson compile -C "$BUILD_DIR" test/netfilter/nftool >&2 || die "nftool build failed"
    TOOL=$BUILD_DIR/test/netfilter/nftool
    case $(file -b "$TOOL") in *"statically linked"*) ;; *) die "nftool is not statically linked" ;; esac
    "$STRIP" --strip-all -o "$OUT_DIR/nftool" "$TOOL"
    log "$OUT_DIR/nftool: static netfilter test program"
fi
size=$(stat -c %s "$OUT_DIR/cnibox")
log "$OUT_DIR/cnibox: cnibox $VERSION ($ARCH), $size bytes stripped ($(awk -v s="$size" 'BEGIN{printf "%.2f", s/1048576}') MiB), applets: $APPLETS"
echo "$OUT_DIR/cnibox"
