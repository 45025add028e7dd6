#!/usr/bin/env bash
# The multi-arch installer image: one manifest list (image index) joining an
# installer image per architecture, in podman's storage:
#
#   packaging/manifest.sh LIST CNIBOX|IMAGE...
#   packaging/manifest.sh localhost/cnibox:0.1.0 build-static/out/cnibox \
#       build-static-arm64/out/cnibox build-static-armhf/out/cnibox
#
# LIST: the list's name (NAME[:TAG], TAG default latest); a list of that name
# is replaced. CNIBOX: a static cnibox of any architecture: its image is built
# (image-context.sh in a scratch directory, podman build --platform of the
# binary's architecture, no emulation needed) and tagged LIST-<arch> (Go's
# arch name: localhost/cnibox:0.1.0-arm64, ...-arm for armhf). IMAGE: an
# image already in podman's storage, added with the platform of its config.
# One image per platform: linux/amd64, linux/arm64, linux/arm/v7, ...
# Environment: ARCHIVE=FILE: also writes the list with all its images to FILE
# as an OCI archive (podman manifest push --all LIST oci-archive:FILE; this
# script names and contacts no registry); BUSYBOX_<arch> (BUSYBOX_riscv64=
# /path/busybox): that architecture's static busybox, else Debian's
# busybox-static of each image's architecture (see image-context.sh).
# Prints LIST. Then: podman manifest inspect LIST.
# (podman 4.3's `podman images` fails while a list of local images exists,
# "locating item named manifest-sha256:...", podman issue 19757; the images
# and the list themselves are fine; podman manifest rm LIST ends it.)
set -euo pipefail
# shellcheck source=packaging/common.sh
. "$(dirname "$0")/common.sh"
if [ $# -lt 2 ]; then sed -n '2,24s/^# \{0,1\}//p' "$0" >&2; exit 2; fi
command -v podman > /dev/null || pkg_die "podman missing (package podman)"

LIST=$1
shift
[[ ${LIST##*/} == *:* ]] || LIST=$LIST:latest

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cnibox-manifest-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# The images, built from the binaries.
IMAGES=() seen=" " n=0
for src; do
    n=$((n + 1))
    if [ -f "$src" ]; then
        arch=$(pkg_arch "$src") || exit 1
        [[ $seen != *" $arch "* ]] || pkg_die "$src: a second $arch binary (one image per architecture)"
        seen+="$arch "
        tag=$LIST-$(pkg_goarch "$arch")
        IMAGE=$tag "$PKG_ROOT/packaging/image-context.sh" "$WORK/ctx-$n" "$src" > /dev/null ||
            pkg_die "the $arch image of $src failed"
        IMAGES+=("$tag")
    elif podman image exists "$src"; then
        IMAGES+=("$src")
    else
        pkg_die "$src: neither a file nor an image in podman's storage"
    fi
done

if podman manifest exists "$LIST"; then
    podman manifest rm "$LIST" > /dev/null || pkg_die "podman manifest rm $LIST failed"
elif podman image exists "$LIST"; then
    pkg_die "$LIST is an image, not a manifest list (name the list otherwise)"
fi
podman manifest create "$LIST" > /dev/null || pkg_die "podman manifest create $LIST failed"
for img in "${IMAGES[@]}"; do
    # containers-storage: the local image, never a registry's of that name
    podman manifest add "$LIST" "containers-storage:$img" > /dev/null ||
        pkg_die "podman manifest add $LIST $img failed"
done

# Each entry's platform, once each.
platforms=$(podman manifest inspect "$LIST" | python3 -c '
import json, sys
for m in json.load(sys.stdin)["manifests"]:
    p = m.get("platform", {})
    print("/".join(x for x in (p.get("os"), p.get("architecture"), p.get("variant")) if x))')
if [ "$(echo "$platforms" | wc -l)" != "${#IMAGES[@]}" ] || [ -n "$(echo "$platforms" | sort | uniq -d)" ]; then
    podman manifest rm "$LIST" > /dev/null || true
    pkg_die "${IMAGES[*]}: $(echo "$platforms" | tr '\n' ' ')is not one image per platform"
fi
pkg_log "$LIST: $(echo "$platforms" | tr '\n' ' ')($(printf '%s ' "${IMAGES[@]}"| sed 's/ $//'))"

if [ -n "${ARCHIVE:-}" ]; then
    ARCHIVE=$(pkg_abspath "$ARCHIVE")
    tmp=$(dirname "$ARCHIVE")/.$(basename "$ARCHIVE").new
    rm -f "$tmp"
    podman manifest push --all --quiet "$LIST" "oci-archive:$tmp" ||
        pkg_die "podman manifest push $LIST oci-archive:$ARCHIVE failed"
    mv -f "$tmp" "$ARCHIVE"
    pkg_log "$ARCHIVE: $LIST as an OCI archive, $(stat -c %s "$ARCHIVE") bytes"
fi
echo "$LIST"
