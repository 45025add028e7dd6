#!/usr/bin/env bash
# The build context of the installer image (packaging/Containerfile), for the
# binary's architecture:
#
#   packaging/image-context.sh CTX_DIR [CNIBOX]
#
# CTX_DIR/Containerfile and CTX_DIR/rootfs/ holding
#   /opt/cni/bin/cnibox + applet links   the static binary (default: built with
#                                         build-static.sh into CTX_DIR)
#   /install-cni.sh                       the node installer (the entrypoint)
#   /bin/busybox + the few applet links   a static shell for install-cni.sh, of
#                                         the binary's architecture:
#                                         BUSYBOX_<arch> or BUSYBOX, else
#                                         Debian's busybox-static (this
#                                         machine's /bin/busybox, or fetched
#                                         for another architecture; riscv64's
#                                         from Debian 13)
# Then: podman build --platform <the binary's> --build-arg VERSION=<version> CTX_DIR
# (the command is logged). CNIBOX may be for any architecture (a foreign one
# runs under qemu-user); the image is FROM scratch with only COPY, so building
# it for another platform needs no emulation.
# Environment: IMAGE=NAME[:TAG]: also builds the image (podman), tagged NAME:TAG,
# by default NAME:<version>-<arch> (Go's arch name: localhost/cnibox:0.1.0-arm64,
# ...-arm for armhf), with the platform's architecture (and variant) in its
# config; the same binary gives the same image (times: SOURCE_DATE_EPOCH, else
# the last commit's).
set -euo pipefail
# shellcheck source=packaging/common.sh
. "$(dirname "$0")/common.sh"
if [ $# -lt 1 ] || [ $# -gt 2 ]; then sed -n '2,26s/^# \{0,1\}//p' "$0" >&2; exit 2; fi

CTX=$(pkg_abspath "$1")
mkdir -p "$CTX"
pkg_binary "$CTX" "${2:-}"
pkg_busybox

ROOTFS=$CTX/rootfs
rm -rf "$ROOTFS"
umask 022
pkg_stage_bin "$ROOTFS/opt/cni/bin"
install -m 0755 "$PKG_ROOT/packaging/install-cni.sh" "$ROOTFS/install-cni.sh"
mkdir -p "$ROOTFS/bin" "$ROOTFS/tmp"
chmod 1777 "$ROOTFS/tmp"
install -m 0755 "$PKG_BUSYBOX" "$ROOTFS/bin/busybox"
# What install-cni.sh runs.
for a in sh cat chmod cmp cp echo head mkdir mv rm sleep; do
    ln -s busybox "$ROOTFS/bin/$a"
done
install -m 0644 "$PKG_ROOT/packaging/Containerfile" "$CTX/Containerfile"
BUILD=(podman build --platform "$PKG_PLATFORM" --build-arg "VERSION=$PKG_VERSION")
pkg_log "$CTX: Containerfile + $PKG_ARCH rootfs ($(du -sk "$ROOTFS" | cut -f1) KiB); ${BUILD[*]} $CTX"
if [ -n "${IMAGE:-}" ]; then
    command -v podman > /dev/null || pkg_die "podman missing (IMAGE=$IMAGE builds the image with podman)"
    tag=$IMAGE
    # No tag (a colon after the last slash): <version>-<arch>.
    [[ ${tag##*/} == *:* ]] || tag=$tag:$PKG_VERSION-$PKG_GOARCH
    # No layer cache (podman 4.3 reuses a FROM scratch build's cached steps
    # for another platform: the image gets the first platform's config) and
    # no intermediate images left behind.
    "${BUILD[@]}" --layers=false --no-cache --timestamp "$(pkg_epoch)" -t "$tag" "$CTX" > /dev/null ||
        pkg_die "podman build of $tag ($PKG_PLATFORM) failed"
    pkg_log "$tag: the $PKG_PLATFORM installer image"
fi
echo "$CTX"
