#!/usr/bin/env bash
# Builds the fully static, stripped cnibox:
#
#   packaging/build-static.sh OUT_DIR            -> OUT_DIR/cnibox (every applet)
#   APPLETS=bridge,host-local,loopback packaging/build-static.sh OUT_DIR
#
# Environment:
#   APPLETS      comma-separated applets to build in (default: every applet the
#                "applets" meson option knows)
#   BUILD_DIR    meson build directory (default: build-static in the source tree);
#                it keeps the unstripped binary (cnibox) and the link map (cnibox.map)
#   DEPS_CACHE   static archives built from Debian's sources (default: $BUILD_DIR-deps)
#   STATIC_DEPS  auto (default): build static libip4tc+libip6tc from Debian's
#                sources when a meson.build asks for them; build: always; no: never
#                (libnftnl.a comes from Debian; the libmnl functions it needs
#                are src/netfilter/mnl, meson option bundled_mnl)
#   NFTOOL       1: also build test/netfilter/nftool statically (OUT_DIR/nftool),
#                for running the netfilter tests against the static build
#   CXX, CC      compilers (meson's choice of C++ compiler; cc for the two C stubs)
#
# Static glibc: -static, non-PIE; -Os, LTO, one section per function/object
# and --gc-sections; libstdc++/libgcc/libnl from their archives. Warnings are
# errors, the link's included: a linker warning (e.g. glibc's "Using 'getpwnam'
# in statically linked applications ...") fails the build. The result is
# checked to be static (file, ldd) and to report meson's project version.
set -euo pipefail

usage() { sed -n '2,/^set -e/p' "$0" | sed -n 's/^# \{0,1\}//p' >&2; exit 2; }
[ $# -eq 1 ] || usage
case $1 in -h|--help) usage ;; esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
OUT_DIR=$(abspath "$1")
BUILD_DIR=$(abspath "${BUILD_DIR:-$ROOT/build-static}")
DEPS_CACHE=$(abspath "${DEPS_CACHE:-$BUILD_DIR-deps}")
STATIC_DEPS=${STATIC_DEPS:-auto}
APPLETS=${APPLETS:-}
CC=${CC:-cc}

log() { echo "build-static: $*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------
# Static archives Debian does not ship (libip4tc, libip6tc), built
# from Debian's own sources with `apt-get source`. The machine's apt sources
# are mirrored as deb-src entries in a private apt configuration under the
# cache, so neither the machine's apt setup nor any host name is touched or
# written down here. Installs into $cache/root (lib/*.a, lib/pkgconfig/*.pc,
# include/), which PKG_CONFIG_PATH then points at. Done once per cache.
# ---------------------------------------------------------------------------
APT_OPTS=()
apt_private_setup() {  # dir
    local d=$1 f
    mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/sources.list.d"
    : > "$d/sources.list"
    # One-line style: every "deb" line again as "deb-src".
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        sed -n 's/^[[:space:]]*deb\([[:space:]]\)/deb-src\1/p' "$f" >> "$d/sources.list"
    done
    # deb822 style: the same stanzas with "Types: deb-src".
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        sed 's/^Types:.*/Types: deb-src/' "$f" > "$d/sources.list.d/$(basename "$f")"
    done
    APT_OPTS=(-o "Dir::Etc::SourceList=$d/sources.list" -o "Dir::Etc::SourceParts=$d/sources.list.d"
              -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache"
              -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "APT::Sandbox::User=root")
    if ! compgen -G "$d/lists/*Sources*" > /dev/null; then
        log "apt-get update (private deb-src configuration in $d)"
        apt-get "${APT_OPTS[@]}" -q update >&2 || die "apt-get update for the source indexes failed"
    fi
}

fetch_source() {  # cache package -> prints the unpacked source directory
    local cache=$1 pkg=$2 dir
    dir=$(find "$cache/src" -maxdepth 1 -type d -name "$pkg-[0-9]*" 2>/dev/null | sort | tail -n 1)
    if [ -z "$dir" ]; then
        mkdir -p "$cache/src"
        log "apt-get source $pkg"
        (cd "$cache/src" && apt-get "${APT_OPTS[@]}" -q source "$pkg" >&2) ||
            die "apt-get source $pkg failed (is dpkg-dev installed?)"
        dir=$(find "$cache/src" -maxdepth 1 -type d -name "$pkg-[0-9]*" | sort | tail -n 1)
    fi
    [ -n "$dir" ] || die "no unpacked source of $pkg under $cache/src"
    echo "$dir"
}

build_netfilter_deps() {  # cache lib... (libiptc = libip4tc + libip6tc)
    local cache=$1 root=$1/root src jobs lib todo=()
    shift
    for lib in "$@"; do
        case $lib in
            libiptc) [ -f "$root/lib/libip4tc.a" ] && [ -f "$root/lib/libip6tc.a" ] || todo+=(libiptc) ;;
            *) die "no recipe for a static $lib" ;;
        esac
    done
    [ ${#todo[@]} -gt 0 ] || return 0
    jobs=$(nproc 2>/dev/null || echo 2)
    apt_private_setup "$cache/apt"
    local cflags="-Os -ffunction-sections -fdata-sections"
    local conf=(--prefix="$root" --libdir="$root/lib" --enable-static --disable-shared)
    for lib in "${todo[@]}"; do
        case $lib in
            libiptc)
                src=$(fetch_source "$cache" iptables)
                log "building static libip4tc/libip6tc from $src"
                (cd "$src" && ./configure "${conf[@]}" CFLAGS="$cflags" --disable-nftables >&2 &&
                    make -j"$jobs" -C libiptc >&2 && make -C libiptc install >&2 &&
                    make -C include install >&2) || die "libiptc build failed"
                ;;
        esac
    done
    rm -f "$root"/lib/*.la
}

# Which of them the build needs: STATIC_DEPS=build -> all, no -> none, auto ->
# those meson.build files ask for.
netfilter_deps_needed() {
    case $STATIC_DEPS in
        build) echo libiptc; return ;;
        no) return ;;
        auto) ;;
        *) die "STATIC_DEPS must be auto, build or no" ;;
    esac
    local files
    files=$(find "$ROOT/meson.build" "$ROOT/src" -name meson.build 2>/dev/null)
    # shellcheck disable=SC2086
    grep -qsE "dependency\(\s*'(libip4tc|libip6tc|libiptc)'" $files && echo libiptc
    return 0
}

# ---------------------------------------------------------------------------
# The build
# ---------------------------------------------------------------------------
NF_DEPS=$(netfilter_deps_needed | xargs)
if [ -n "$NF_DEPS" ]; then
    # shellcheck disable=SC2086
    build_netfilter_deps "$DEPS_CACHE" $NF_DEPS
    export PKG_CONFIG_PATH="$DEPS_CACHE/root/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
fi

mkdir -p "$BUILD_DIR"
# The stubs (static-netdb.c: no NSS; static-terminate.c: no C++ demangler)
# are linked as objects; they must exist before meson's sanity-check links,
# which use the same link arguments.
STUBS=
for s in static-netdb static-terminate; do
    if [ ! -f "$BUILD_DIR/$s.o" ] || [ "$ROOT/packaging/$s.c" -nt "$BUILD_DIR/$s.o" ]; then
        "$CC" -Os -Wall -Wextra -Werror -c "$ROOT/packaging/$s.c" -o "$BUILD_DIR/$s.o"
        rm -f "$BUILD_DIR/cnibox"   # ninja does not see link-argument objects: relink
    fi
    STUBS+=" $BUILD_DIR/$s.o"
done

OPTS=(
    -Dbuildtype=release -Doptimization=s -Db_ndebug=true -Dwerror=true
    -Db_lto=true -Db_pie=false -Db_staticpic=false
    -Ddefault_library=static -Dprefer_static=true
    -Dtests=$([ "${NFTOOL:-0}" = 1 ] && echo true || echo false) -Dfuzz=false -Dbundled_mnl=true
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
    meson setup "$BUILD_DIR" "$ROOT" "${OPTS[@]}" >&2 || die "meson setup failed (APPLETS=$APPLETS)"
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
if ldd "$BIN" >/dev/null 2>&1; then die "ldd finds dynamic dependencies: $(ldd "$BIN" 2>&1)"; fi
banner=$("$BIN" --version | head -n 1)
[ "$banner" = "cnibox $VERSION - CNI plugins in one binary" ] ||
    die "binary reports '$banner', meson project version is $VERSION"

mkdir -p "$OUT_DIR"
strip --strip-all --remove-section=.comment -o "$OUT_DIR/.cnibox.new" "$BIN"
mv -f "$OUT_DIR/.cnibox.new" "$OUT_DIR/cnibox"

# The netfilter test program, linked the same way (NFTOOL=1).
if [ "${NFTOOL:-0}" = 1 ]; then
    meson compile -C "$BUILD_DIR" test/netfilter/nftool >&2 || die "nftool build failed"
    TOOL=$BUILD_DIR/test/netfilter/nftool
    case $(file -b "$TOOL") in *"statically linked"*) ;; *) die "nftool is not statically linked" ;; esac
    strip --strip-all -o "$OUT_DIR/nftool" "$TOOL"
    log "$OUT_DIR/nftool: static netfilter test program"
fi
size=$(stat -c %s "$OUT_DIR/cnibox")
log "$OUT_DIR/cnibox: cnibox $VERSION, $size bytes stripped ($(awk -v s="$size" 'BEGIN{printf "%.2f", s/1048576}') MiB), applets: $APPLETS"
echo "$OUT_DIR/cnibox"
