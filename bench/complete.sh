#!/bin/sh
# Completion latency: what bash waits for after Tab in
# `vsnap snapshot-revert DOM <TAB>`, i.e. `vsnap complete -- snapshot-revert DOM ''`,
# with a domain of 10,000 snapshots. Target: under 20 ms (design.md, issue 4).
#
# Environment (make bench-complete sets the first two):
#   VSNAP               the vsnap binary
#   BENCH_GEN           bench/gen (the fixture generator, see bench/README.md)
#   BENCH_COMPLETE_N    snapshots in the fixture, default 10000
#   BENCH_RUNS          runs per measurement, default 20
#   BENCH_TARGET_MS     default 20; the script exits 1 when the median is over it
set -eu

: "${VSNAP:=./vsnap}"
: "${BENCH_GEN:=./bench/gen}"
: "${BENCH_COMPLETE_N:=10000}"
: "${BENCH_RUNS:=20}"
: "${BENCH_TARGET_MS:=20}"
DOM=bench

[ -x "$BENCH_GEN" ] || { echo "complete.sh: $BENCH_GEN is missing (make bench builds it)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/vsnap-bench-complete.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

if grep -q __asan_init "$VSNAP" 2>/dev/null; then
    echo "WARNING: vsnap is built with sanitizers; these numbers say little."
fi

"$BENCH_GEN" "$work/root" "$DOM" "$BENCH_COMPLETE_N" >/dev/null

# The answer must be the real one: every snapshot name, then the options.
"$VSNAP" -d "$work/root" complete -- snapshot-revert "$DOM" '' >"$work/out" 2>"$work/err"
names=$(grep -c '^snap-' "$work/out" || true)
if [ "$names" -ne "$BENCH_COMPLETE_N" ] || [ -s "$work/err" ]; then
    echo "complete.sh: expected $BENCH_COMPLETE_N snapshot names, got $names" >&2
    cat "$work/err" >&2
    exit 1
fi

# median_ms CMD...: the median of BENCH_RUNS runs, in milliseconds.
median_ms() {
    if command -v hyperfine >/dev/null 2>&1; then
        hyperfine -N --style none --warmup 3 --runs "$BENCH_RUNS" \
            --export-json "$work/h.json" "$*" >/dev/null 2>"$work/h.log" || {
            cat "$work/h.log" >&2
            exit 1
        }
        sed -n 's/.*"median": *\([0-9.e-]*\).*/\1/p' "$work/h.json" | head -1 |
            awk '{ printf "%.1f", $1 * 1000 }'
        return
    fi
    i=0
    : >"$work/times"
    while [ "$i" -lt "$BENCH_RUNS" ]; do
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000)) >>"$work/times"
        i=$((i + 1))
    done
    sort -n "$work/times" | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m / 1000 }'
}

revert=$(median_ms "$VSNAP" -d "$work/root" complete -- snapshot-revert "$DOM" '')
prefix=$(median_ms "$VSNAP" -d "$work/root" complete -- snapshot-revert "$DOM" snap-0999)
command=$(median_ms "$VSNAP" -d "$work/root" complete -- snapshot-)
locked=-
if command -v flock >/dev/null 2>&1; then
    # A writer holds the domain: completion reads without a lock instead.
    exec 9>"$work/root/$DOM/lock"
    flock -x 9
    locked=$(median_ms "$VSNAP" -d "$work/root" complete -- snapshot-revert "$DOM" '' 9>&-)
    exec 9>&-
fi

printf '%-58s %8s\n' "vsnap complete -- ... ($BENCH_COMPLETE_N snapshots)" "median"
printf '%-58s %6s ms\n' "snapshot-revert $DOM ''  (all names and options)" "$revert"
printf '%-58s %6s ms\n' "snapshot-revert $DOM snap-0999  (10 names)" "$prefix"
printf '%-58s %6s ms\n' "snapshot-  (command names)" "$command"
printf '%-58s %6s ms\n' "snapshot-revert $DOM ''  while a writer holds the lock" "$locked"

if awk -v m="$revert" -v t="$BENCH_TARGET_MS" 'BEGIN { exit !(m < t) }'; then
    echo "target < $BENCH_TARGET_MS ms: met"
else
    echo "target < $BENCH_TARGET_MS ms: MISSED"
    exit 1
fi
