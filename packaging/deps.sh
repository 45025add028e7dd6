#!/usr/bin/env bash
# What the static build, the packages and their tests need beyond .ci/deps.sh
# (Debian 12, as root): file (checks), dpkg-dev (dpkg-deb's companions and
# dpkg-source for `apt-get source`), busybox-static (the installer image's
# shell), binutils (strip, readelf), util-linux (unshare, nsenter), musl-tools
# and musl-dev (the C library of the static build), flex, bison and m4 (libnl's
# and nettle's builds from source). Installed the way .ci/deps.sh installs its
# own.
set -euo pipefail
exec bash "$(dirname "$0")/../.ci/deps.sh" file dpkg-dev busybox-static binutils util-linux \
    musl-tools musl-dev flex bison m4
