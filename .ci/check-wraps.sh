#!/usr/bin/env bash
# Where the build's dependencies come from, checked offline: configures
# scratch build directories with --wrap-mode=nodownload and
#   1. the default configure: lists every dependency with its origin (the
#      system's pkg-config file or library, or a subproject) and fails if a
#      subproject other than subprojects/libmnl was used, or if anything was
#      downloaded or unpacked (a new subprojects/<name>-<version> directory
#      or subprojects/packagecache, or meson saying it downloaded or used a
#      cached archive);
#   2. --force-fallback-for=libmnl: must configure with subprojects/libmnl;
#   3. --force-fallback-for=RapidJSON, then =catch2: must fail, saying that
#      downloading is disabled, while their archives are not in
#      subprojects/packagecache (an archive put there would be used instead:
#      that check is then skipped).
# The source tree is left as it was found. The last line is the summary.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/cnibox-check-wraps.XXXXXX") || exit 1
trap 'rm -rf "$SCRATCH"' EXIT

problems=()
bad() { echo "check-wraps: FAIL: $*"; problems+=("$1"); }
listing() { ls -A subprojects | sort; }
had_cache=$([ -d subprojects/packagecache ] && echo 1 || echo 0)
before=$(listing)

# setup NAME ARGS...: configures $SCRATCH/NAME; its output in $SCRATCH/NAME.out
setup() {
    local name=$1
    shift
    nice meson setup --wrap-mode=nodownload "$@" "$SCRATCH/$name" "$ROOT" > "$SCRATCH/$name.out" 2>&1
}

# origins DIR: one line per dependency lookup of the configure in DIR,
# "name version: origin", origin "system ..." or "subproject NAME".
origins() {
    python3 - "$1" <<'EOF'
import json, re, subprocess, sys
build = sys.argv[1]
def introspect(what):
    out = subprocess.run(["meson", "introspect", build, what], capture_output=True, text=True, check=True).stdout
    return json.loads(out)
external = {d["name"].lower(): d for d in introspect("--dependencies")}
seen, executing = set(), None
for line in open(f"{build}/meson-logs/meson-log.txt", encoding="utf-8", errors="replace"):
    line = line.rstrip("\n")
    m = re.match(r"Executing subproject (\S+)", line)
    if m:
        executing = m.group(1)
        continue
    m = re.match(r"(?:Run-time dependency|Dependency) (\S+) (?:from subproject (\S+) )?found: YES ?(\S*)(.*)", line)
    if m:
        name, sub, version, rest = m.groups()
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        if sub or "(overridden)" in rest:
            where = "subproject " + (sub.split("/")[-1] if sub else executing or "?")
        elif name.lower() in external:
            pcname = external[name.lower()]["name"]
            pc = subprocess.run(["pkg-config", "--variable=pcfiledir", pcname], capture_output=True, text=True)
            where = "system " + (f"{pc.stdout.strip()}/{pcname}.pc" if pc.returncode == 0 else "dependency")
        else:
            where = "cached " + rest.strip()
        print(f"{name} {version or '-'}: {where}")
        continue
    m = re.match(r"Library (\S+) found: YES", line)
    if m:
        print(f"lib{m.group(1)} -: system library")
EOF
}

# 1. The default configure: the system's packages, nothing fetched.
n_system=0 n_sub=0
if ! setup default; then
    cat "$SCRATCH/default.out"
    bad "default configure failed"
else
    echo "check-wraps: the default configure (--wrap-mode=nodownload):"
    while IFS= read -r l; do
        echo "  $l"
        case $l in
            *": system "*) n_system=$((n_system + 1)) ;;
            *": subproject libmnl") n_sub=$((n_sub + 1)) ;;
            *": subproject "*) n_sub=$((n_sub + 1)); bad "a wrap was used: $l" ;;
            *) bad "origin unknown: $l" ;;
        esac
    done < <(origins "$SCRATCH/default")
    [ "$n_system" -gt 0 ] || bad "no dependency listed"
    if grep -E "^Downloading |source from cache" "$SCRATCH/default/meson-logs/meson-log.txt"; then
        bad "the default configure fetched or unpacked a subproject"
    fi
fi
after=$(listing)
if [ "$after" != "$before" ]; then
    bad "subprojects/ changed: $(comm -13 <(echo "$before") <(echo "$after") | tr '\n' ' ')"
fi

# 2. The libmnl fallback, offline.
if ! setup mnl -Dtests=false --force-fallback-for=libmnl; then
    cat "$SCRATCH/mnl.out"
    bad "--force-fallback-for=libmnl: configure failed"
else
    mnl=$(origins "$SCRATCH/mnl" | grep '^libmnl ')
    subs=$(meson introspect "$SCRATCH/mnl" --projectinfo |
        python3 -c 'import json,sys; print(" ".join(s["name"] for s in json.load(sys.stdin)["subprojects"]))')
    echo "check-wraps: --force-fallback-for=libmnl: ${mnl:-libmnl not listed}"
    case $mnl in *": subproject libmnl") ;; *) bad "--force-fallback-for=libmnl did not use subprojects/libmnl" ;; esac
    [ "$subs" = libmnl ] || bad "--force-fallback-for=libmnl: subprojects used: '$subs' (expected libmnl only)"
fi

# 3. The wraps' fallbacks: without their archive they fail, and do not download.
refused=()
for dep in RapidJSON:rapidjson catch2:catch2; do
    name=${dep%%:*} wrap=subprojects/${dep#*:}.wrap
    archive=$(sed -n 's/^source_filename *= *//p' "$wrap")
    if [ -f "subprojects/packagecache/$archive" ]; then
        echo "check-wraps: --force-fallback-for=$name: skipped, subprojects/packagecache/$archive is there"
        continue
    fi
    if setup "fb-$name" --force-fallback-for="$name"; then
        bad "--force-fallback-for=$name configured without subprojects/packagecache/$archive"
    elif msg=$(grep -m1 "ERROR: Automatic wrap-based subproject downloading is disabled" "$SCRATCH/fb-$name.out"); then
        echo "check-wraps: --force-fallback-for=$name: refused as expected, $archive is not in subprojects/packagecache (meson: ${msg#*ERROR: })"
        refused+=("$name")
    else
        cat "$SCRATCH/fb-$name.out"
        bad "--force-fallback-for=$name failed for another reason than the missing archive"
    fi
    if grep -E "^Downloading " "$SCRATCH/fb-$name/meson-logs/meson-log.txt" 2>/dev/null; then
        bad "--force-fallback-for=$name tried to download"
    fi
done
# meson makes an empty packagecache before it finds it may not download
[ "$had_cache" = 1 ] || rmdir subprojects/packagecache 2>/dev/null
after=$(listing)
if [ "$after" != "$before" ]; then
    bad "subprojects/ changed: $(comm -13 <(echo "$before") <(echo "$after") | tr '\n' ' ')"
fi

if [ ${#problems[@]} -eq 0 ]; then
    echo "check-wraps: OK: $n_system dependencies from the system, $n_sub from subprojects/, nothing downloaded; the libmnl fallback configures offline; fallbacks refusing to download without their archive: ${refused[*]:-none checked}"
else
    echo "check-wraps: FAILED: ${#problems[@]} problem(s): $(printf '%s; ' "${problems[@]}" | sed 's/; $//')"
    exit 1
fi
