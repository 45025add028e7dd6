#!/usr/bin/env bash
# The release tarball: OUT_DIR/cnibox-<version>-linux-<arch>.tar.gz (+ .sha256)
#
#   packaging/tarball.sh OUT_DIR [CNIBOX]
#
# CNIBOX: the static binary to package (default OUT_DIR/cnibox, built with
# build-static.sh when missing), for any architecture: <arch> is the binary's
# own, Go's name as in upstream's cni-plugins-linux-<arch>-*.tgz (amd64,
# arm64, arm for armhf, riscv64); a foreign binary runs under qemu-user. The
# archive holds, at its top level like upstream's plugin tarballs, cnibox and
# one relative symlink per applet, so
#   tar -C /opt/cni/bin -xzf cnibox-<version>-linux-<arch>.tar.gz
# installs it. Owners, order and times are fixed (SOURCE_DATE_EPOCH, else the
# last commit's time), so the same binary gives the same bytes.
set -euo pipefail
# shellcheck source=packaging/common.sh
. "$(dirname "$0")/common.sh"
if [ $# -lt 1 ] || [ $# -gt 2 ]; then sed -n '2,14s/^# \{0,1\}//p' "$0" >&2; exit 2; fi

OUT=$(pkg_abspath "$1")
mkdir -p "$OUT"
pkg_binary "$OUT" "${2:-}"
NAME=cnibox-$PKG_VERSION-linux-$PKG_GOARCH

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/cnibox-tarball-XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
pkg_stage_bin "$STAGE"

(cd "$STAGE" && ls -A) |
    tar -C "$STAGE" --create --format=gnu --sort=name --owner=0 --group=0 --numeric-owner \
        --mtime="@$(pkg_epoch)" --files-from=- | gzip -9n > "$OUT/.$NAME.tar.gz.new"
mv -f "$OUT/.$NAME.tar.gz.new" "$OUT/$NAME.tar.gz"
(cd "$OUT" && sha256sum "$NAME.tar.gz" > "$NAME.tar.gz.sha256")
pkg_log "$OUT/$NAME.tar.gz: $(stat -c %s "$OUT/$NAME.tar.gz") bytes; $PKG_ARCH cnibox + links: $PKG_APPLETS"
echo "$OUT/$NAME.tar.gz"
