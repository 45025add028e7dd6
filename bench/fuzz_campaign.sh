#!/usr/bin/env bash
# The long fuzz campaign (not a CI tier; CI's fuzz tier is its short run):
# each libFuzzer target of test/fuzz run for a while, as many sessions as it
# takes to reach ten million executions, with what each run did appended to
# test/fuzz/campaign.tsv.
#
#   bench/fuzz_campaign.sh [-t SECONDS] [-j JOBS] [TARGET...]
#   bench/fuzz_campaign.sh --report
#
#   -t SECONDS  how long each target runs at most this time (default 600);
#               a target stops sooner when it reaches the goal
#   -j JOBS     targets run side by side (default: the CPUs)
#   TARGET      fuzz_* names (default: every target short of the goal,
#               fewest executions first)
#   --report    print each target's runs summed from the ledger, as the
#               README's table: executions, hours, the best run's exec/s,
#               crashes; it runs nothing
#
# Each run starts from test/fuzz/corpus/<target> (the seeds, what earlier runs
# found and their crashers) and a scratch corpus; afterwards the inputs that
# add coverage are merged into test/fuzz/corpus/<target>/found (libFuzzer's
# -merge=1), and a crashing, leaking or hanging input is copied to
# test/fuzz/corpus/<target>/crashers/, where the fuzz tier then runs it on
# every CI run (as a regression test once fixed). Its line in campaign.tsv:
# date, target, executions, seconds, exec/s, coverage, crashes (0 or 1, since
# libFuzzer stops at the first), and the build's commit.
#
# SIGTERM or SIGINT (kill the script's own pid, not its subshells) stops
# it: no further target starts, and each running fuzzer is stopped and its
# run merged and recorded.
#
# Environment: FUZZ_BUILD (default build-fuzz; set up like test/run's fuzz
# tier when missing), GOAL (default 10000000), WORK (default
# /tmp/cnibox-fuzz-campaign), TIMEOUT (default 60: the seconds one input may
# take before the run stops as a hang; libFuzzer counts wall time, and a
# run under SCHED_IDLE beside a build can be kept off the CPUs for longer
# than the fuzz tier's 10 seconds).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
# shellcheck source=test/fuzz/lib.sh
. test/fuzz/lib.sh

LEDGER=test/fuzz/campaign.tsv

report() {  # the ledger summed per target, a markdown table
    fuzz_targets |
    awk -F'\t' '
        function commas(x,   s) {
            s = sprintf("%d", x)
            while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9](,|$)/, ",&", s)
            return s
        }
        FILENAME != "-" { if (FNR > 1) { n[$2] += $3; secs[$2] += $4; c[$2] += $7
                                         if ($5 + 0 > best[$2]) best[$2] = $5 + 0 }
                          next }
        { order[++k] = $1 }
        END {
            print "| Target | executions | hours | exec/s (best run) | crashes |"
            print "|---|---:|---:|---:|---:|"
            for (i = 1; i <= k; i++) {
                t = order[i]
                printf "| `%s` | %s | %.2f | %s | %d |\n", t, commas(n[t]), secs[t] / 3600, commas(best[t]), c[t]
            }
        }' "$LEDGER" -
}

SECS=600 JOBS=$(nproc) targets=()
while [ $# -gt 0 ]; do
    case $1 in
        --report) [ -f "$LEDGER" ] || { echo "fuzz_campaign: no $LEDGER yet" >&2; exit 1; }
                  report; exit 0 ;;
        -t) SECS=$2; shift 2 ;;
        -j) JOBS=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -u/s/^# \{0,1\}//p' "$0" | sed '$d'; exit 0 ;;
        fuzz_*) targets+=("$1"); shift ;;
        *) echo "fuzz_campaign: unknown argument $1" >&2; exit 2 ;;
    esac
done
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
GOAL=${GOAL:-10000000}
WORK=${WORK:-/tmp/cnibox-fuzz-campaign}
TIMEOUT=${TIMEOUT:-60}
[ -f "$LEDGER" ] || printf 'date\ttarget\texecutions\tseconds\texec_per_s\tcov\tcrashes\tcommit\n' > "$LEDGER"

fuzz_build "$FUZZ_BUILD" >/dev/null || { echo "fuzz_campaign: build failed" >&2; exit 1; }
all=$(fuzz_targets)

total() {  # target -> its executions so far
    awk -F'\t' -v t="$1" '$2 == t { n += $3 } END { print n + 0 }' "$LEDGER"
}
if [ ${#targets[@]} = 0 ]; then
    mapfile -t targets < <(for t in $all; do
        n=$(total "$t")
        [ "$n" -lt "$GOAL" ] && echo "$n $t"
    done | sort -n | cut -d' ' -f2)
fi
[ ${#targets[@]} = 0 ] && { echo "fuzz_campaign: every target has $GOAL executions"; exit 0; }
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

one() {  # target
    local t=$1 w=$WORK/$1 exe=$FUZZ_BUILD/test/fuzz/$1 rc log execs secs cov crashes=0 start left c
    rm -rf "$w"
    mkdir -p "$w/corpus" "$w/art"
    fuzz_inputs "$t"
    log=$w/log
    left=$(( GOAL - $(total "$t") ))
    [ "$left" -gt 0 ] || left=$GOAL
    start=$(date +%s)
    "$exe" -max_total_time="$SECS" -runs="$left" "${FUZZ_FLAGS[@]}" -timeout="$TIMEOUT" -artifact_prefix="$w/art/" \
        "${FUZZ_DICT[@]}" "$w/corpus" "${FUZZ_SEEDS[@]}" > "$log" 2>&1 &
    local pid=$!
    echo "$pid" > "$w/pid"
    wait "$pid"
    rc=$?
    rm -f "$w/pid"
    # a run stopped by a signal ends without removing its scratch directory
    rm -rf /dev/shm/fuzzwork-*-"$pid"-* /tmp/fuzzwork-*-"$pid"-*
    secs=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ -z "$execs" ]; then   # a crash: the last status line's count
        execs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
    fi
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
    if [ "$rc" = 72 ]; then   # libFuzzer's exit on SIGINT or SIGTERM: stopped, not a crash
        echo "fuzz_campaign: $t interrupted" >&2
    elif [ "$rc" != 0 ]; then
        crashes=1
        mkdir -p "test/fuzz/corpus/$t/crashers"
        for c in "$w"/art/*; do [ -f "$c" ] && cp "$c" "test/fuzz/corpus/$t/crashers/"; done
        echo "fuzz_campaign: $t stopped (exit $rc): $(grep -m 1 -E 'ERROR:|invariant broken|runtime error' "$log")" >&2
    fi
    mkdir -p "test/fuzz/corpus/$t/found"
    "$exe" -merge=1 "${FUZZ_FLAGS[@]}" "test/fuzz/corpus/$t/found" "$w/corpus" > "$w/merge.log" 2>&1 ||
        echo "fuzz_campaign: $t: merging its corpus failed (see $w/merge.log)" >&2
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "${execs:-0}" "$secs" \
        "$(( ${execs:-0} / (secs > 0 ? secs : 1) ))" "${cov:-0}" "$crashes" "$commit" >> "$LEDGER"
    echo "fuzz_campaign: $t: ${execs:-0} executions in ${secs}s, $(total "$t") in all"
}

# SIGTERM or SIGINT to this script stops the campaign: no more targets
# start, and the running fuzzers are stopped the way libFuzzer ends a run
# cleanly (SIGTERM), so that each run still merges and records what it did.
stopping=0
stop() {
    stopping=1
    local p
    for p in "$WORK"/*/pid; do [ -f "$p" ] && kill -TERM "$(cat "$p")" 2>/dev/null; done
}
trap stop TERM INT

mkdir -p "$WORK"
running=0
for t in "${targets[@]}"; do
    [ "$stopping" = 1 ] && break
    [ -x "$FUZZ_BUILD/test/fuzz/$t" ] || { echo "fuzz_campaign: no target $t" >&2; continue; }
    one "$t" &
    running=$((running + 1))
    while [ "$running" -ge "$JOBS" ] && [ "$stopping" = 0 ]; do
        wait -n
        # a run's end is its status (0); a trapped signal ends the wait with >128
        [ $? -le 128 ] && running=$((running - 1))
    done
done
# the runs under way finish (recording what they did); a signal here just waits again
while [ -n "$(jobs -rp)" ]; do wait; done
