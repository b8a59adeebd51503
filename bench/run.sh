#!/bin/sh
# vsnap listing and metadata benchmarks (see bench/README.md).
#
# Environment (make bench sets the first three):
#   VSNAP         the vsnap binary (CLI timings are skipped when it does not work)
#   BENCH_GEN     bench/gen       BENCH_DRIVER  bench/driver
#   BENCH_SIZES   snapshot counts, default "200 10000"
#   BENCH_RUNS    runs per measurement, default 20 (deletes: half, at least 5)
#   BENCH_OUT     directory for the report and hyperfine exports, default bench/results
set -eu

: "${VSNAP:=./vsnap}"
: "${BENCH_GEN:=./bench/gen}"
: "${BENCH_DRIVER:=./bench/driver}"
: "${BENCH_SIZES:=200 10000}"
: "${BENCH_RUNS:=20}"
: "${BENCH_OUT:=}"
[ -n "$BENCH_OUT" ] || BENCH_OUT=bench/results
DOM=bench

del_runs=$((BENCH_RUNS / 2))
[ "$del_runs" -ge 5 ] || del_runs=5

for p in "$BENCH_GEN" "$BENCH_DRIVER"; do
    [ -x "$p" ] || { echo "run.sh: $p is missing (make bench builds it)" >&2; exit 1; }
done
mkdir -p "$BENCH_OUT"
report="$BENCH_OUT/report-$(date -u +%Y%m%dT%H%M%SZ).txt"
work=$(mktemp -d "${TMPDIR:-/tmp}/vsnap-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

say() { printf '%s\n' "$*" | tee -a "$report"; }

if grep -q __asan_init "$VSNAP" 2>/dev/null || grep -q __asan_init "$BENCH_DRIVER" 2>/dev/null; then
    say "WARNING: built with sanitizers; these numbers say little. Reconfigure without --enable-sanitizers."
fi

have_hyperfine=no
command -v hyperfine >/dev/null 2>&1 && have_hyperfine=yes
have_time=no
[ -x /usr/bin/time ] && have_time=yes

cli_ok() {
    "$VSNAP" -d "$1" snapshot-list "$DOM" --name >/dev/null 2>&1
}

# median_loop RUNS PREPARE CMD...: milliseconds, median of RUNS (no hyperfine)
median_loop() {
    runs=$1 prep=$2
    shift 2
    i=0
    : >"$work/times"
    while [ "$i" -lt "$runs" ]; do
        [ -z "$prep" ] || sh -c "$prep"
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1 || { echo "run.sh: failed: $*" >&2; exit 1; }
        t1=$(date +%s%N)
        echo $(( (t1 - t0) / 1000 )) >>"$work/times"
        i=$((i + 1))
    done
    sort -n "$work/times" | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m / 1000 }'
}

# cli_median LABEL RUNS PREPARE CMD...: milliseconds
cli_median() {
    label=$1 runs=$2 prep=$3
    shift 3
    if [ "$have_hyperfine" = yes ]; then
        csv="$BENCH_OUT/$label.csv"
        if [ -n "$prep" ]; then
            hyperfine -N --style none --runs "$runs" --prepare "$prep" --export-csv "$csv" "$*" >/dev/null 2>>"$BENCH_OUT/hyperfine.log"
        else
            hyperfine -N --style none --warmup 3 --runs "$runs" --export-csv "$csv" "$*" >/dev/null 2>>"$BENCH_OUT/hyperfine.log"
        fi
        awk -F, 'NR == 2 { printf "%.1f", $4 * 1000 }' "$csv"
    else
        median_loop "$runs" "$prep" "$@"
    fi
}

# peak_rss PREPARE CMD...: kilobytes
peak_rss() {
    prep=$1
    shift
    if [ "$have_time" = no ]; then
        printf -- '-'
        return
    fi
    [ -z "$prep" ] || sh -c "$prep"
    /usr/bin/time -f 'RSS %M' -o "$work/rss" "$@" >/dev/null 2>&1 || true
    awk '/^RSS/ { printf "%s", $2 }' "$work/rss"
}

lib_median() {
    "$BENCH_DRIVER" "$@" | sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p'
}

say "vsnap benchmarks  $(date -u '+%Y-%m-%d %H:%M UTC')  $(uname -srm)  $(nproc 2>/dev/null || echo ?) CPUs"
say "VSNAP=$VSNAP  runs=$BENCH_RUNS (deletes: $del_runs)  timer: $([ "$have_hyperfine" = yes ] && echo hyperfine || echo shell loop)"
say ""

for n in $BENCH_SIZES; do
    pristine="$work/p$n"
    mkdir -p "$pristine"
    "$BENCH_GEN" "$pristine/root" "$DOM" "$n" >"$work/gen.out"
    target=$(sed -n 's/^target=//p' "$work/gen.out")
    desc=$(sed -n 's/^descendants=//p' "$work/gen.out")
    kids=$(sed -n 's/^children=//p' "$work/gen.out")
    rebuild=$(sed -n 's/^rebuild_ms=//p' "$work/gen.out")
    root="$pristine/root"
    restore="rm -rf '$work/w' && cp -a '$pristine' '$work/w'"

    say "== N=$n  (delete target $target: $desc descendants, $kids children; first index build ${rebuild} ms)"
    say "$(printf '%-34s %12s %12s %12s' operation 'cli ms' 'lib ms' 'cli rss KB')"

    row() { say "$(printf '%-34s %12s %12s %12s' "$1" "$2" "$3" "$4")"; }

    lib_load=$(lib_median "$root" "$DOM" load "" "$BENCH_RUNS")
    lib_list=$(lib_median "$root" "$DOM" list "" "$BENCH_RUNS")
    lib_tree=$(lib_median "$root" "$DOM" tree "" "$BENCH_RUNS")
    lib_names=$(lib_median "$root" "$DOM" names "" "$BENCH_RUNS")
    lib_info=$(lib_median "$root" "$DOM" info "$target" "$BENCH_RUNS")
    lib_rebuild=$(lib_median "$root" "$DOM" rebuild "" 3)
    lib_del=$(
        i=0
        while [ "$i" -lt "$del_runs" ]; do
            sh -c "$restore"
            "$BENCH_DRIVER" "$work/w/root" "$DOM" delete "$target" | sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p'
            i=$((i + 1))
        done | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
    )
    # the rebuild runs above rewrote the index: make the fixture fresh again
    "$BENCH_DRIVER" "$root" "$DOM" load "" 1 >/dev/null

    if cli_ok "$root"; then
        c_list=$(cli_median "list-$n" "$BENCH_RUNS" "" "$VSNAP" -d "$root" snapshot-list "$DOM")
        r_list=$(peak_rss "" "$VSNAP" -d "$root" snapshot-list "$DOM")
        c_tree=$(cli_median "tree-$n" "$BENCH_RUNS" "" "$VSNAP" -d "$root" snapshot-list "$DOM" --tree)
        r_tree=$(peak_rss "" "$VSNAP" -d "$root" snapshot-list "$DOM" --tree)
        c_name=$(cli_median "name-$n" "$BENCH_RUNS" "" "$VSNAP" -d "$root" snapshot-list "$DOM" --name)
        r_name=$(peak_rss "" "$VSNAP" -d "$root" snapshot-list "$DOM" --name)
        c_info=$(cli_median "info-$n" "$BENCH_RUNS" "" "$VSNAP" -d "$root" snapshot-info "$DOM" "$target")
        r_info=$(peak_rss "" "$VSNAP" -d "$root" snapshot-info "$DOM" "$target")
        c_del=$(cli_median "delete-$n" "$del_runs" "sh -c \"$restore\"" \
            "$VSNAP" -d "$work/w/root" snapshot-delete "$DOM" "$target" --metadata)
        r_del=$(peak_rss "$restore" "$VSNAP" -d "$work/w/root" snapshot-delete "$DOM" "$target" --metadata)
    else
        say "(the vsnap CLI does not run here: CLI columns skipped)"
        c_list=- c_tree=- c_name=- c_info=- c_del=- r_list=- r_tree=- r_name=- r_info=- r_del=-
    fi

    row "load tree from index" - "$lib_load" -
    row "snapshot-list" "$c_list" "$lib_list" "$r_list"
    row "snapshot-list --tree" "$c_tree" "$lib_tree" "$r_tree"
    row "snapshot-list --name" "$c_name" "$lib_names" "$r_name"
    row "snapshot-info TARGET" "$c_info" "$lib_info" "$r_info"
    row "snapshot-delete TARGET --metadata" "$c_del" "$lib_del" "$r_del"
    row "index rebuild (all files parsed)" - "$lib_rebuild" -
    say ""
    rm -rf "$pristine" "$work/w"
done
say "report: $report"
