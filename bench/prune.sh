#!/bin/sh
# Retention benchmarks (issue 11), on fixtures of bench/gen_prune: a domain
# of 10,000 metadata-only snapshots in one hourly chain, 1,007 of them
# auto-*, so that `snapshot-prune DOM --match 'auto-*' --keep-daily 7`
# deletes 1,000 of the 10,000. Targets:
#   the prune                          under 2000 ms
#   its --dry-run                      under 100 ms
#   snapshot-list --json at 10,000     at most 1.5 times snapshot-list
# The prune is timed on the "consecutive" fixture (the cron history: the
# 1,007 newest are auto-*) and, for the record, on "interleaved" (every
# deleted snapshot's child is rewritten); the targets apply to the first.
#
# Environment (make bench-prune sets the first two):
#   VSNAP            the vsnap binary
#   BENCH_GEN_PRUNE  bench/gen_prune
#   BENCH_RUNS       runs per measurement, default 10 (the prune: at least 5)
#   BENCH_OUT        directory for the report, default bench/results
# Exits 1 when a target is missed.
set -eu
# the commands are split into words below; "auto-*" must stay a word
set -f

: "${VSNAP:=./vsnap}"
: "${BENCH_GEN_PRUNE:=./bench/gen_prune}"
: "${BENCH_RUNS:=10}"
: "${BENCH_OUT:=}"
[ -n "$BENCH_OUT" ] || BENCH_OUT=bench/results
DOM=bench
N=10000
K=1007

[ -x "$BENCH_GEN_PRUNE" ] || { echo "prune.sh: $BENCH_GEN_PRUNE is missing (make bench-prune builds it)" >&2; exit 1; }
mkdir -p "$BENCH_OUT"
report="$BENCH_OUT/prune-$(date -u +%Y%m%dT%H%M%SZ).txt"
work=$(mktemp -d "${TMPDIR:-/tmp}/vsnap-bench-prune.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
say() { printf '%s\n' "$*" | tee -a "$report"; }

if grep -q __asan_init "$VSNAP" 2>/dev/null; then
    say "WARNING: vsnap is built with sanitizers; these numbers say little."
fi
prune_runs=$BENCH_RUNS
[ "$prune_runs" -ge 5 ] || prune_runs=5

# median_ms RUNS PREPARE CMD...: the median in milliseconds (PREPARE, a
# command line, runs before each run, untimed; "" for none)
median_ms() {
    runs=$1 prep=$2
    shift 2
    if command -v hyperfine >/dev/null 2>&1; then
        if [ -n "$prep" ]; then
            hyperfine -N --style none --runs "$runs" --prepare "$prep" \
                --export-json "$work/h.json" "$*" >/dev/null 2>"$work/h.log"
        else
            hyperfine -N --style none --warmup 3 --runs "$runs" \
                --export-json "$work/h.json" "$*" >/dev/null 2>"$work/h.log"
        fi || { cat "$work/h.log" >&2; exit 1; }
        sed -n 's/.*"median": *\([0-9.e-]*\).*/\1/p' "$work/h.json" | head -1 |
            awk '{ printf "%.1f", $1 * 1000 }'
        return
    fi
    i=0
    : >"$work/times"
    while [ "$i" -lt "$runs" ]; do
        [ -z "$prep" ] || eval "$prep"
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000)) >>"$work/times"
        i=$((i + 1))
    done
    sort -n "$work/times" | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m / 1000 }'
}

under() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }

failed=0
verdict() {
    if under "$1" "$2"; then echo "ok"; else failed=1; echo "MISSED"; fi
}

say "vsnap retention benchmarks  $(date -u '+%Y-%m-%d %H:%M UTC')  $(uname -srm)  $(nproc 2>/dev/null || echo ?) CPUs  load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo ?)"
say "VSNAP=$VSNAP  N=$N  auto-*=$K  runs=$BENCH_RUNS (prune: $prune_runs)"
say ""

for shape in consecutive interleaved; do
    pristine=$work/p-$shape
    "$BENCH_GEN_PRUNE" "$pristine" "$DOM" "$N" "$K" "$shape" >"$work/gen.out"
    want=$(sed -n 's/^deletable=//p' "$work/gen.out")
    root=$work/w
    # the copy is synced first, so that the prune's own sync does not pay for it
    restore="rm -rf '$root' && cp -a '$pristine' '$root' && sync"
    prune="$VSNAP -d $root snapshot-prune $DOM --match auto-* --keep-daily 7"

    # the numbers mean something only if the prune does what it says
    sh -c "$restore"
    "$VSNAP" -d "$root" snapshot-prune "$DOM" --match 'auto-*' --keep-daily 7 --dry-run --json \
        >"$work/dry.json"
    got=$(grep -o '"deleted":[0-9]*' "$work/dry.json" | cut -d: -f2)
    "$VSNAP" -d "$root" snapshot-prune "$DOM" --match 'auto-*' --keep-daily 7 >"$work/out"
    left=$("$VSNAP" -d "$root" snapshot-list "$DOM" --name | grep -c . || true)
    if [ "$got" != "$want" ] || [ "$left" -ne $((N - want)) ] ||
        ! "$VSNAP" -d "$root" snapshot-check "$DOM" >/dev/null 2>&1; then
        echo "prune.sh: $shape: expected $want deletions and $((N - want)) snapshots left, the dry run said $got and $left are left" >&2
        exit 1
    fi

    sh -c "$restore"
    dry=$(median_ms "$BENCH_RUNS" "" $prune --dry-run)
    real=$(median_ms "$prune_runs" "sh -c \"$restore\"" $prune)
    if [ "$shape" = consecutive ]; then
        say "$(printf '%-58s %10s  %s' "snapshot-prune --keep-daily 7, $want of $N ($shape)" "$real ms" "target < 2000 ms: $(verdict "$real" 2000)")"
        say "$(printf '%-58s %10s  %s' "  its --dry-run" "$dry ms" "target < 100 ms: $(verdict "$dry" 100)")"
    else
        say "$(printf '%-58s %10s  %s' "snapshot-prune --keep-daily 7, $want of $N ($shape)" "$real ms" "(no target)")"
        say "$(printf '%-58s %10s  %s' "  its --dry-run" "$dry ms" "(no target)")"
    fi
done

# the listing: the consecutive fixture, untouched
sh -c "rm -rf '$work/w' && cp -a '$work/p-consecutive' '$work/w'"
plain=$(median_ms "$BENCH_RUNS" "" "$VSNAP" -d "$work/w" snapshot-list "$DOM")
json=$(median_ms "$BENCH_RUNS" "" "$VSNAP" -d "$work/w" snapshot-list "$DOM" --json)
ratio=$(awk -v a="$json" -v b="$plain" 'BEGIN { printf "%.2f", a / b }')
say "$(printf '%-58s %10s' "snapshot-list at $N" "$plain ms")"
say "$(printf '%-58s %10s  %s' "snapshot-list --json at $N" "$json ms" "${ratio}x, target <= 1.5x: $(verdict "$ratio" 1.5001)")"
say "report: $report"
exit "$failed"
