#!/usr/bin/env bash
# What the static build (packaging/build-static.sh), the packages and their
# tests need (Debian 12, as root). The list itself is .ci/deps.sh's, which
# demo/quickstart.sh and .ci/run install whole; this installs its "packaging"
# share (the same as `bash .ci/deps.sh --tier packaging`).
set -euo pipefail
exec bash "$(dirname "$0")/../.ci/deps.sh" --tier packaging "$@"
