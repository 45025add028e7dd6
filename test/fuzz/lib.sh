# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source this
# What test/run's fuzz tier and bench/fuzz_campaign.sh share, sourced by
# both from the repository's root: the clang build of the targets, their
# names, and how one run of a target is given its seeds, its dictionary and
# libFuzzer's limits.

# libFuzzer's flags of every run: an input taking over 10 s or 2 GB is a
# failure, and the run ends with its counts (stat::number_of_executed_units).
FUZZ_FLAGS=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)

# The targets' names (fuzz_*), one a line.
fuzz_targets() {
    (cd test/fuzz && for f in fuzz_*.cpp; do echo "${f%.cpp}"; done)
}

# fuzz_build DIR: sets DIR up as the clang fuzz build when it is not one
# yet, and builds the targets (not the rest of that build). 0; 2 when meson
# setup failed; else the build's failure.
fuzz_build() {
    if [ ! -f "$1/build.ninja" ]; then
        CC=clang CXX=clang++ meson setup "$1" -Dfuzz=true -Dtests=false -Db_lundef=false || return 2
    fi
    # shellcheck disable=SC2046  # a list of target names
    meson compile -C "$1" $(fuzz_targets)
}

# fuzz_inputs NAME: FUZZ_SEEDS, the seed corpus directory of target NAME
# (test/fuzz/corpus/NAME, read recursively: the seeds, what the campaign
# found, its crashers), and FUZZ_DICT, its -dict= flag (its own dictionary,
# else the first one there is); each an array, empty when there is none.
fuzz_inputs() {
    local d
    FUZZ_SEEDS=() FUZZ_DICT=()
    for d in "test/fuzz/corpus/$1" "test/fuzz/corpus" "test/fuzz/$1.corpus"; do
        [ -d "$d" ] && { FUZZ_SEEDS=("$d"); break; }
    done
    for d in "test/fuzz/$1.dict" test/fuzz/*.dict; do
        [ -f "$d" ] && { FUZZ_DICT=("-dict=$d"); break; }
    done
}
