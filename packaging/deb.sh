#!/usr/bin/env bash
# A Debian package installing cnibox into /opt/cni/bin, where container
# runtimes (containerd, CRI-O, kubelet's CNI setups) look for plugins:
#
#   packaging/deb.sh OUT_DIR [CNIBOX]     -> OUT_DIR/cnibox_<version>_<arch>.deb
#
# CNIBOX: the static binary (default OUT_DIR/cnibox, built with
# build-static.sh when missing), for any architecture: <arch> and the
# package's Architecture are its own (amd64, arm64, armhf, riscv64), whatever
# the machine's; a foreign binary runs under qemu-user. The package holds
# /opt/cni/bin/cnibox, one /opt/cni/bin/APPLET -> cnibox symlink per applet
# (shipped as package files, so dpkg removes exactly them), the dhcp daemon's
# systemd units (/lib/systemd/system/cnibox-dhcp.{socket,service}, not
# enabled: no maintainer scripts) and the copyright file; no dependencies
# (the binary is static). Built with dpkg-deb.
# Environment: DEB_VERSION (default: the project version), DEB_MAINTAINER.
#
#   dpkg -i OUT_DIR/cnibox_*.deb     dpkg -r cnibox
set -euo pipefail
# shellcheck source=packaging/common.sh
. "$(dirname "$0")/common.sh"
if [ $# -lt 1 ] || [ $# -gt 2 ]; then sed -n '2,18s/^# \{0,1\}//p' "$0" >&2; exit 2; fi
command -v dpkg-deb > /dev/null || pkg_die "dpkg-deb missing (package dpkg)"

OUT=$(pkg_abspath "$1")
mkdir -p "$OUT"
pkg_binary "$OUT" "${2:-}"
ARCH=$PKG_ARCH
VERSION=${DEB_VERSION:-$PKG_VERSION}
MAINTAINER=${DEB_MAINTAINER:-cnibox maintainers <cnibox@localhost>}
DEB=$OUT/cnibox_${VERSION}_$ARCH.deb

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/cnibox-deb-XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
chmod 0755 "$STAGE"
umask 022
pkg_stage_bin "$STAGE/opt/cni/bin"

if [[ " $PKG_APPLETS " == *" dhcp "* ]]; then
    mkdir -p "$STAGE/lib/systemd/system"
    install -m 0644 "$PKG_ROOT/packaging/systemd/cnibox-dhcp.socket" \
        "$PKG_ROOT/packaging/systemd/cnibox-dhcp.service" "$STAGE/lib/systemd/system/"
fi

mkdir -p "$STAGE/usr/share/doc/cnibox"
cat > "$STAGE/usr/share/doc/cnibox/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: cnibox

Files: *
License: Apache-2.0
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
EOF

mkdir -p "$STAGE/DEBIAN"
parts=$(cd "$STAGE" && ls -d opt usr lib 2>/dev/null)
# shellcheck disable=SC2086
(cd "$STAGE" && find $parts -type f | LC_ALL=C sort | xargs md5sum) > "$STAGE/DEBIAN/md5sums"
# shellcheck disable=SC2086
size_kb=$(cd "$STAGE" && du -sk --apparent-size $parts | awk '{s += $1} END {print s}')
cat > "$STAGE/DEBIAN/control" <<EOF
Package: cnibox
Version: $VERSION
Architecture: $ARCH
Maintainer: $MAINTAINER
Installed-Size: $size_kb
Section: net
Priority: optional
Description: CNI plugins in one static binary
 cnibox is every CNI (Container Network Interface) plugin in one statically
 linked multi-call executable, like busybox: /opt/cni/bin/bridge,
 /opt/cni/bin/host-local, ... are symlinks to /opt/cni/bin/cnibox, which runs
 the applet it was called as. It takes the same configuration as the
 reference plugins and talks to the kernel over netlink directly.
 .
 Applets: ${PKG_APPLETS% }
EOF

# Fixed file times, for the same bytes from the same binary.
find "$STAGE" -exec touch -h -d "@$(pkg_epoch)" {} +
SOURCE_DATE_EPOCH=$(pkg_epoch) dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$OUT/.cnibox.deb.new" > /dev/null
mv -f "$OUT/.cnibox.deb.new" "$DEB"
pkg_log "$DEB: $(stat -c %s "$DEB") bytes (installed: $size_kb KiB in /opt/cni/bin)"
echo "$DEB"
