#!/usr/bin/env bash
# What the static build, the packages and their tests need beyond .ci/deps.sh
# (Debian 12, as root): file (checks), dpkg-dev (dpkg-deb's companions and
# dpkg-source for `apt-get source`), busybox-static (the installer image's
# shell), binutils (strip, readelf), util-linux (unshare, nsenter).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PKGS=(file dpkg-dev busybox-static binutils util-linux)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "packaging deps: installing ${missing[*]}"
for i in 1 2 3; do
    if apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; then
        exit 0
    fi
    echo "packaging deps: apt-get failed (try $i), retrying"; sleep $((i * 5))
done
exit 1
