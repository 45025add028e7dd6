#!/usr/bin/env bash
# Stripped size of the static cnibox for several applet sets, and what each
# dependency costs in it (from the link map, see size-report.py):
#
#   packaging/size-matrix.sh [SET ...]     a SET is a comma-separated applet list
#
# Default sets: every applet; the k3s set (bridge, host-local, loopback,
# portmap, bandwidth, firewall) as far as those applets exist; IPAM only
# (host-local,static: no libnl-using applet); loopback alone. A first row is
# the floor: an empty main() linked the same way (the static C library + start
# files; LIBC as for build-static.sh, musl by default).
# BUILD_DIR as for build-static.sh (default: build-static); the binary in it is
# left built with the last set, so run build-static.sh again afterwards.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-static}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$PWD/$BUILD_DIR ;; esac
export BUILD_DIR
OUT=$(mktemp -d /tmp/cnibox-sizes-XXXXXX)
trap 'rm -rf "$OUT"' EXIT

known=$(meson introspect --buildoptions "$ROOT/meson.build" | python3 -c '
import json, sys
print(",".join(next(o["choices"] for o in json.load(sys.stdin) if o["name"] == "applets")))')
have() { case ",$known," in *",$1,"*) return 0 ;; esac; return 1; }
subset() {  # wanted applets -> those that exist, comma-separated
    local out=() a
    for a in ${1//,/ }; do have "$a" && out+=("$a"); done
    local IFS=,; echo "${out[*]}"
}

if [ $# -eq 0 ]; then
    set -- "$known" "$(subset bridge,host-local,loopback,portmap,bandwidth,firewall)" \
        "$(subset host-local,static)" loopback
fi

printf '%-44s %10s %9s | %9s %9s %9s %9s %9s %9s\n' "applets" "stripped" "MiB" \
    "cnibox" "libc" "libstdc++" "libgcc" "libnl-3" "nl-route"

# The floor: an empty program, static, same flags.
LIBC=${LIBC:-musl}
echo 'int main(void) { return 0; }' > "$OUT/empty.c"
if [ "$LIBC" = musl ]; then FLOOR_CC=musl-gcc; else FLOOR_CC=${CC:-cc}; fi
"$FLOOR_CC" -Os -flto -ffunction-sections -fdata-sections -static -Wl,--gc-sections -Wl,-O1 \
    -Wl,-z,noseparate-code -Wl,-Map="$OUT/empty.map" "$OUT/empty.c" -o "$OUT/empty"
strip --strip-all --remove-section=.comment "$OUT/empty"

row() {  # label binary map
    local size
    size=$(stat -c %s "$2")
    python3 "$ROOT/packaging/size-report.py" --json "$3" | python3 -c '
import json, sys
label, size = sys.argv[1], int(sys.argv[2])
g = json.load(sys.stdin)
col = lambda *k: sum(v for n, v in g.items() if n in k)
print("%-44s %10d %9.2f | %9d %9d %9d %9d %9d %9d" % (label, size, size / 1048576,
      col("cnibox code (LTO)"), col("libc.a", "C runtime start files", "static-netdb.o", "compat.o", "malloc.o"),
      col("libstdc++.a"), col("libgcc.a", "libgcc_eh.a"), col("libnl-3.a"), col("libnl-route-3.a")))
' "$1" "$size"
}
row "(empty main: the static $LIBC floor)" "$OUT/empty" "$OUT/empty.map"

for set in "$@"; do
    APPLETS=$set "$ROOT/packaging/build-static.sh" "$OUT" > /dev/null 2> "$OUT/log" ||
        { cat "$OUT/log" >&2; exit 1; }
    label=$set
    [ "$set" = "$known" ] && label="every applet ($(echo "$set" | tr ',' '\n' | wc -l))"
    row "$label" "$OUT/cnibox" "$BUILD_DIR/cnibox.map"
done
