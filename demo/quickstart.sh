#!/usr/bin/env bash
# Fresh Debian 12, as root: install every dependency (.ci/deps.sh: the build,
# the static build, the packages and every test tier, so `bash test/run` can
# follow), build cnibox into build/, and run the demo (demo/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "run as root (installs packages, makes network namespaces)"; exit 1; fi
bash .ci/deps.sh
[ -f build/build.ninja ] || meson setup build
meson compile -C build
bash demo/run.sh
