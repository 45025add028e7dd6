#!/usr/bin/env bash
# The build context of the installer image (packaging/Containerfile):
#
#   packaging/image-context.sh CTX_DIR [CNIBOX]
#
# CTX_DIR/Containerfile and CTX_DIR/rootfs/ holding
#   /opt/cni/bin/cnibox + applet links   the static binary (default: built with
#                                         build-static.sh into CTX_DIR)
#   /install-cni.sh                       the node installer (the entrypoint)
#   /bin/busybox + the few applet links   a static shell for install-cni.sh
#                                         (Debian's busybox-static; BUSYBOX=path)
# Then: podman build --build-arg VERSION=<version> CTX_DIR
set -euo pipefail
# shellcheck source=packaging/common.sh
. "$(dirname "$0")/common.sh"
if [ $# -lt 1 ] || [ $# -gt 2 ]; then sed -n '2,12s/^# \{0,1\}//p' "$0" >&2; exit 2; fi

CTX=$(pkg_abspath "$1")
mkdir -p "$CTX"
pkg_binary "$CTX" "${2:-}"
BUSYBOX=${BUSYBOX:-/bin/busybox}
case $(file -b "$BUSYBOX" 2>/dev/null) in
    *"statically linked"*) ;;
    *) pkg_die "$BUSYBOX is not a static busybox (install busybox-static, or set BUSYBOX)" ;;
esac

ROOTFS=$CTX/rootfs
rm -rf "$ROOTFS"
umask 022
pkg_stage_bin "$ROOTFS/opt/cni/bin"
install -m 0755 "$PKG_ROOT/packaging/install-cni.sh" "$ROOTFS/install-cni.sh"
mkdir -p "$ROOTFS/bin" "$ROOTFS/tmp"
chmod 1777 "$ROOTFS/tmp"
install -m 0755 "$BUSYBOX" "$ROOTFS/bin/busybox"
# What install-cni.sh runs.
for a in sh cat chmod cmp cp echo head mkdir mv rm sleep; do
    ln -s busybox "$ROOTFS/bin/$a"
done
install -m 0644 "$PKG_ROOT/packaging/Containerfile" "$CTX/Containerfile"
pkg_log "$CTX: Containerfile + rootfs ($(du -sk "$ROOTFS" | cut -f1) KiB); podman build --build-arg VERSION=$PKG_VERSION $CTX"
echo "$CTX"
