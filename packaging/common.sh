# shellcheck shell=bash
# Sourced by the packaging scripts: the binary to package, its version and
# architecture. The version has one source, meson.build's project version;
# the binary must report the same (cnibox --version, first line).

PKG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

pkg_log() { echo "$(basename "$0"): $*" >&2; }
pkg_die() { pkg_log "error: $*"; exit 1; }
pkg_abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

# meson.build's project version.
pkg_project_version() {
    meson introspect --projectinfo "$PKG_ROOT/meson.build" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])'
}

# pkg_binary OUT_DIR [CNIBOX]: the static binary to package. Given one, it is
# used as it is; else OUT_DIR/cnibox when present; else build-static.sh makes
# it there. Checks that it is static and reports the project version; sets
# PKG_BIN, PKG_VERSION, PKG_APPLETS.
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
    PKG_VERSION=$(pkg_project_version)
    local banner
    banner=$("$PKG_BIN" --version | head -n 1)
    [ "$banner" = "cnibox $PKG_VERSION - CNI plugins in one binary" ] ||
        pkg_die "$PKG_BIN reports '$banner'; meson.build says version $PKG_VERSION (rebuild it)"
    PKG_APPLETS=$("$PKG_BIN" --list | tr '\n' ' ')
    [ -n "$PKG_APPLETS" ] || pkg_die "$PKG_BIN lists no applets"
}

# The architecture as release tarballs and images name it (Go's GOARCH).
pkg_goarch() {
    case $(uname -m) in
        x86_64) echo amd64 ;;
        aarch64|arm64) echo arm64 ;;
        armv7*|armv6*) echo arm ;;
        i?86) echo 386 ;;
        ppc64le) echo ppc64le ;;
        s390x) echo s390x ;;
        riscv64) echo riscv64 ;;
        *) uname -m ;;
    esac
}

# A timestamp for reproducible archives: SOURCE_DATE_EPOCH, else the last
# commit's, else the binary's mtime.
pkg_epoch() {
    if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then echo "$SOURCE_DATE_EPOCH"; return; fi
    git -C "$PKG_ROOT" log -1 --format=%ct 2>/dev/null || stat -c %Y "$PKG_BIN"
}

# pkg_stage_bin DIR: DIR/cnibox (a copy, 0755) and one relative DIR/APPLET ->
# cnibox symlink per applet, made by cnibox --install itself.
pkg_stage_bin() {
    local dir=$1
    mkdir -p "$dir"
    install -m 0755 "$PKG_BIN" "$dir/cnibox"
    "$dir/cnibox" --install "$dir" >&2 || pkg_die "cnibox --install $dir failed"
    local a
    for a in $PKG_APPLETS; do
        [ "$(readlink "$dir/$a")" = cnibox ] || pkg_die "$dir/$a is not a link to cnibox"
    done
}
