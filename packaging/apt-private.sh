# shellcheck shell=bash
# A private apt configuration mirroring this machine's apt sources, sourced by
# packaging/build-static.sh, packaging/common.sh and test/vm/arm64.sh: source
# packages, or another architecture's binary packages, without touching the
# machine's apt or dpkg state (its own lists and cache under DIR; for binary
# packages APT::Architecture=ARCH and an empty dpkg status).
#
# apt_private_setup DIR TYPE [ARCH [SUITE]]
#     TYPE: deb-src (source packages) or deb (ARCH's binary packages). SUITE:
#     the machine's main archive entries with SUITE as their suite, without
#     -updates and -security (riscv64 is only in Debian 13). Sets APT_OPTS
#     (apt-get "${APT_OPTS[@]}" ...); runs apt-get update when DIR has no
#     lists yet.
# apt_private_update      apt-get update of the configuration set up last
# apt_private_download DEST PACKAGE...
#     the .debs into DEST; when that fails (lists too old for the mirror),
#     once more after an update
# apt_arch_suite ARCH
#     the SUITE for ARCH's packages: Debian 13 (trixie) for riscv64, which
#     Debian 12 has no port of; nothing (the machine's own) for the others
# Each returns non-zero, with apt's message on stderr, when apt fails.

APT_OPTS=() APT_DIR=

apt_private_setup() {
    local d=$1 type=$2 arch=${3:-} suite=${4:-} f
    [ "$APT_DIR" = "$d" ] && return 0
    mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/sources.list.d"
    : > "$d/sources.list"
    # One-line style: every "deb" line again as a $type line.
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        sed -n 's/^[[:space:]]*deb\([[:space:]]\)/'"$type"'\1/p' "$f" | if [ -z "$suite" ]; then cat; else
            # (type [options] uri suite component...)
            awk -v suite="$suite" '
                { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
                  if ($(i + 1) !~ /-/) { $(i + 1) = suite; print } }'; fi >> "$d/sources.list"
    done
    # deb822 style: the same stanzas with "Types: $type".
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        sed "s/^Types:.*/Types: $type/" "$f" | if [ -z "$suite" ]; then cat; else awk -v suite="$suite" '
            BEGIN { RS = ""; FS = "\n" }
            { keep = 0
              for (i = 1; i <= NF; i++) if ($i ~ /^Suites:/) {
                  n = split(substr($i, 8), w, /[ \t]+/)
                  for (j = 1; j <= n; j++) if (w[j] != "" && w[j] !~ /-/) keep = 1
                  $i = "Suites: " suite }
              if (keep) { for (i = 1; i <= NF; i++) print $i; print "" } }'; fi > "$d/sources.list.d/$(basename "$f")"
    done
    APT_OPTS=(-o "Dir::Etc::SourceList=$d/sources.list" -o "Dir::Etc::SourceParts=$d/sources.list.d"
              -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache"
              -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "APT::Sandbox::User=root")
    if [ -n "$arch" ]; then
        : > "$d/status"
        APT_OPTS+=(-o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o "Dir::State::status=$d/status")
    fi
    APT_DIR=$d
    if ! compgen -G "$d/lists/*_$([ "$type" = deb-src ] && echo Sources || echo Packages)*" > /dev/null; then
        apt_private_update
    fi
}

apt_private_update() {
    echo "apt-get update (private configuration in $APT_DIR)" >&2
    apt-get "${APT_OPTS[@]}" -q update >&2
}

apt_private_download() {
    local dest=$1
    shift
    mkdir -p "$dest" || return 1
    (cd "$dest" && apt-get "${APT_OPTS[@]}" -q download "$@" >&2) && return 0
    apt_private_update && (cd "$dest" && apt-get "${APT_OPTS[@]}" -q download "$@" >&2)
}

apt_arch_suite() {
    if [ "$1" = riscv64 ]; then echo trixie; fi
}
