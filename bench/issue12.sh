#!/bin/bash
# Issue 12's table: metadata and image work against its floor, in one run.
#
# For each size N in BENCH_SIZES the fixture is bench/gen's default shape: a
# complete binary tree of N snapshots with the full <domain> inside (about
# 1.7 KB each) and two disks. Rows (medians of interleaved runs, ms):
#
#   redefine x500   `vsnap 'snapshot-create bench F --redefine; ...'` of 500
#                   new snapshots (a binary subtree under the root), against
#                   500 files of 1.7 KB written durably one by one into a copy
#                   of the same snapshots/ directory (bench/driver floor-writes);
#                   also x250, to show it is linear in the number
#   info / current  `snapshot-info bench S`, `snapshot-current bench --name`
#   list            plain, --parent, --name, per 1,000 snapshots
#   rebuild         the index removed, then `snapshot-list bench --name`
#   delete 255      `snapshot-delete bench S --children --metadata` of a
#                   255-snapshot subtree
#   peak RSS        of every metadata command (snapshot-check, --json and
#                   --repair included)
#
# and once, on real qcow2 images of two disks:
#
#   internal create / delete   against `qemu-img snapshot -c` / `-d` on both
#   external delete            (50 MiB in each of two overlays) against both
#                              `qemu-img commit`s run at once, and (no
#                              verdict) against the same work by hand: the
#                              commits, then both overlays removed at once
#
# Runs alternate between a command and its floor (A B A B ...), each timed
# alone with bash's clock (no process in between); setup is not timed.
#
# Environment (make bench sets the first three): VSNAP, BENCH_GEN,
# BENCH_DRIVER, BENCH_SIZES (default "1000 10000 50000"), BENCH_RUNS (runs of
# the quick rows, default 21; the slow ones take a third, at least 5),
# BENCH_OUT (a directory for issue12.txt). Exits 1 when a row misses its
# target.
set -u

: "${VSNAP:=./vsnap}"
: "${BENCH_GEN:=./bench/gen}"
: "${BENCH_DRIVER:=./bench/driver}"
: "${BENCH_SIZES:=1000 10000 50000}"
: "${BENCH_RUNS:=21}"
: "${BENCH_OUT:=}"
QEMU_IMG=${VSNAP_QEMU_IMG:-qemu-img}
DOM=bench
slow_runs=$((BENCH_RUNS / 3))
[ "$slow_runs" -ge 5 ] || slow_runs=5

for p in "$VSNAP" "$BENCH_GEN" "$BENCH_DRIVER"; do
    [ -x "$p" ] || { echo "issue12.sh: $p is missing (make bench builds it)" >&2; exit 1; }
done
if [ -z "${EPOCHREALTIME:-}" ]; then
    echo "issue12.sh: needs bash 5 (EPOCHREALTIME)" >&2
    exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/vsnap-bench-12.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
report=$work/report
missed=0

say() { printf '%s\n' "$*" | tee -a "$report"; }

# usec: microseconds since the epoch, without a process
usec() { local t=$EPOCHREALTIME; echo "${t/[.,]/}"; }

# median of the numbers on stdin (microseconds) in ms, one decimal
median_ms() {
    sort -n | awk '{ v[NR] = $1 } END { if (!NR) { print "-"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m / 1000 }'
}

# time_cmd FILE CMD...: run CMD once (output dropped), append its microseconds to FILE
time_cmd() {
    local f=$1 t0 t1
    shift
    t0=$EPOCHREALTIME
    "$@" >/dev/null 2>>"$work/errors" || echo "failed: $*" >>"$work/errors"
    t1=$EPOCHREALTIME
    echo $(( ${t1/[.,]/} - ${t0/[.,]/} )) >>"$f"
}

# rss_kb CMD...: peak RSS of one run
rss_kb() {
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null 2>&1
        tail -n 1 "$work/rss"
    else
        echo -
    fi
}

# verdict VALUE OP LIMIT: "ok" or "MISSED" (a miss is noted in $work/missed:
# this runs in a command substitution)
verdict() {
    if awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { exit !((op == "<" && v < l) || (op == "<=" && v <= l)) }'; then
        echo ok
    else
        echo x >>"$work/missed"
        echo MISSED
    fi
}

row() { say "$(printf '%-46s %10s %10s %7s  %-22s %s' "$@")"; }
header() { row "$1" "vsnap ms" "floor ms" "ratio" "target" "verdict"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

load() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?"; }

say "issue 12: vsnap against its floor  $(date -u '+%Y-%m-%d %H:%M UTC')  $(uname -srm)  $(nproc 2>/dev/null || echo ?) CPUs"
say "runs: $BENCH_RUNS (slow rows $slow_runs), interleaved; load average at start: $(load)"
if grep -q __asan_init "$VSNAP" 2>/dev/null; then
    say "WARNING: vsnap is built with sanitizers; these numbers say little."
fi
say ""

# ---- the metadata rows, per size ------------------------------------------------

# the redefine inputs: K new snapshots, a binary tree under snap-00000
make_redefines() {
    local dir=$1 k=$2 src=$3 i p n
    mkdir -p "$dir"
    for ((i = 0; i < k; i++)); do
        if ((i == 0)); then p=snap-00000; else p=$(printf 'imp-%03d' $(((i - 1) / 2))); fi
        n=$(printf 'imp-%03d' "$i")
        sed -e "0,/<name>[^<]*<\/name>/s//<name>$n<\/name>/" \
            -e "/<parent>/,/<\/parent>/s|<name>[^<]*</name>|<name>$p</name>|" \
            -e "s|<creationTime>[0-9]*|<creationTime>$((1800000000 + i))|" \
            -e '/<?vsnap-seq/d' "$src" >"$dir/$n.xml"
    done
    : >"$dir/cmd"
    for ((i = 0; i < k; i++)); do
        printf 'snapshot-create %s %s/imp-%03d.xml --redefine; ' "$DOM" "$dir" "$i" >>"$dir/cmd"
    done
}

fresh_copy() { rm -rf "$2" && cp -a "$1" "$2" && sync; }

for n in $BENCH_SIZES; do
    pristine=$work/p$n
    "$BENCH_GEN" "$pristine" "$DOM" "$n" >"$work/gen.out" || { echo "gen failed" >&2; exit 1; }
    sub=$(sed -n 's/^subtree255=//p' "$work/gen.out")
    make_redefines "$work/r500" 500 "$pristine/$DOM/snapshots/snap-00005.xml"
    make_redefines "$work/r250" 250 "$pristine/$DOM/snapshots/snap-00005.xml"
    rm -f "$work"/t.*

    say "== N=$n  (a binary tree; the 255-snapshot subtree is $sub's; load now $(load))"
    header "operation"

    # redefine x500 against 500 durable writes, and x250
    for ((r = 0; r < slow_runs; r++)); do
        fresh_copy "$pristine" "$work/w"
        time_cmd "$work/t.redef500" "$VSNAP" -q -d "$work/w" "$(cat "$work/r500/cmd")"
        # the floor writes where vsnap writes: beside the N snapshot files
        fresh_copy "$pristine" "$work/w"
        time_cmd "$work/t.floor500" "$BENCH_DRIVER" "$work/w/$DOM/snapshots" - floor-writes 500
        fresh_copy "$pristine" "$work/w"
        time_cmd "$work/t.redef250" "$VSNAP" -q -d "$work/w" "$(cat "$work/r250/cmd")"
    done
    v=$(median_ms <"$work/t.redef500"); f=$(median_ms <"$work/t.floor500"); q=$(ratio "$v" "$f")
    row "500 snapshot-create --redefine, one string" "$v" "$f" "$q" "<= 1.5 x floor" "$(verdict "$q" "<=" 1.5)"
    v2=$(median_ms <"$work/t.redef250")
    row "  ... 250 of them (linear: about half)" "$v2" "-" "$(ratio "$v2" "$v")" "~0.5 of 500" "-"

    # the quick read-only commands, round robin
    fresh_copy "$pristine" "$work/w"
    "$VSNAP" -d "$work/w" snapshot-list "$DOM" --name >/dev/null   # the index, fresh
    for ((r = 0; r < BENCH_RUNS; r++)); do
        time_cmd "$work/t.info" "$VSNAP" -d "$work/w" snapshot-info "$DOM" "$sub"
        time_cmd "$work/t.current" "$VSNAP" -d "$work/w" snapshot-current "$DOM" --name
        time_cmd "$work/t.list" "$VSNAP" -d "$work/w" snapshot-list "$DOM"
        time_cmd "$work/t.listp" "$VSNAP" -d "$work/w" snapshot-list "$DOM" --parent
        time_cmd "$work/t.listn" "$VSNAP" -d "$work/w" snapshot-list "$DOM" --name
        time_cmd "$work/t.base" "$VSNAP" -d "$work/w" list --all
    done
    base=$(median_ms <"$work/t.base")
    for k in info current; do
        v=$(median_ms <"$work/t.$k")
        label="snapshot-info S"
        [ "$k" = current ] && label="snapshot-current --name"
        row "$label" "$v" "$base" "$(ratio "$v" "$base")" "< 4 ms" "$(verdict "$v" "<" 4)"
    done
    say "  (floor column above: 'vsnap list --all', a process that reads no snapshot)"
    for k in list listp listn; do
        v=$(median_ms <"$work/t.$k")
        per=$(awk -v v="$v" -v n="$n" 'BEGIN { printf "%.2f", v * 1000 / n }')
        case $k in
        list) label="snapshot-list, ms per 1,000" ;;
        listp) label="snapshot-list --parent, ms per 1,000" ;;
        *) label="snapshot-list --name, ms per 1,000" ;;
        esac
        if [ "$n" -ge 10000 ]; then
            row "$label ($v ms)" "$per" "-" "-" "<= 1 ms per 1,000" "$(verdict "$per" "<=" 1)"
        else
            row "$label ($v ms)" "$per" "-" "-" "(start-up: $base ms)" "-"
        fi
    done

    # the index rebuilt from scratch
    for ((r = 0; r < slow_runs; r++)); do
        rm -f "$work/w/$DOM/index"
        time_cmd "$work/t.rebuild" "$VSNAP" -d "$work/w" snapshot-list "$DOM" --name
    done
    v=$(median_ms <"$work/t.rebuild")
    case $n in
    10000) row "index rebuilt from scratch" "$v" "-" "-" "< 300 ms" "$(verdict "$v" "<" 300)" ;;
    50000) row "index rebuilt from scratch" "$v" "-" "-" "< 1500 ms" "$(verdict "$v" "<" 1500)" ;;
    *) row "index rebuilt from scratch" "$v" "-" "-" "(none at this size)" "-" ;;
    esac

    # delete of a 255-snapshot subtree, metadata only
    for ((r = 0; r < slow_runs; r++)); do
        fresh_copy "$pristine" "$work/w"
        time_cmd "$work/t.del255" "$VSNAP" -q -d "$work/w" snapshot-delete "$DOM" "$sub" --children --metadata
    done
    v=$(median_ms <"$work/t.del255")
    row "snapshot-delete --children --metadata (255)" "$v" "-" "-" "< 50 ms" "$(verdict "$v" "<" 50)"

    # peak RSS of every metadata command
    fresh_copy "$pristine" "$work/w"
    "$VSNAP" -d "$work/w" snapshot-list "$DOM" --name >/dev/null
    worst=0 worst_cmd=
    while read -r label args; do
        [ -n "$label" ] || continue
        case $label in
        rebuild) rm -f "$work/w/$DOM/index" ;;
        delete*|redefine|check-repair) fresh_copy "$pristine" "$work/w"; "$VSNAP" -d "$work/w" snapshot-list "$DOM" --name >/dev/null ;;
        esac
        # shellcheck disable=SC2086
        kb=$(rss_kb "$VSNAP" -d "$work/w" $args)
        say "$(printf '  peak RSS %-34s %8s KB' "$label" "$kb")"
        # snapshot-check too: it reads every file, one at a time (the bench's
        # images do not exist, so it reports them missing: exit status 1)
        if [ "$kb" != - ] && [ "$kb" -gt "$worst" ]; then
            worst=$kb worst_cmd=$label
        fi
    done <<EOF
list snapshot-list $DOM
list-parent snapshot-list $DOM --parent
list-name snapshot-list $DOM --name
list-tree snapshot-list $DOM --tree
list-roots snapshot-list $DOM --roots
list-from snapshot-list $DOM --from $sub --descendants
info snapshot-info $DOM $sub
current snapshot-current $DOM --name
current-xml snapshot-current $DOM
parent snapshot-parent $DOM $sub
dumpxml snapshot-dumpxml $DOM $sub
complete complete -- snapshot-revert $DOM snap-0
rebuild snapshot-list $DOM --name
check snapshot-check $DOM
check-json snapshot-check $DOM --json
check-repair snapshot-check $DOM --repair
redefine snapshot-create $DOM $work/r500/imp-000.xml --redefine
delete-one snapshot-delete $DOM $sub --metadata
delete-255 snapshot-delete $DOM $sub --children --metadata
EOF
    mb=$(awk -v k="$worst" 'BEGIN { printf "%.1f", k / 1024 }')
    if [ "$n" = 50000 ]; then
        row "peak RSS, the largest ($worst_cmd), MB" "$mb" "-" "-" "< 20 MB" "$(verdict "$mb" "<" 20)"
    else
        row "peak RSS, the largest ($worst_cmd), MB" "$mb" "-" "-" "(at 50,000)" "-"
    fi
    say ""
    rm -rf "$pristine" "$work/w" "$work/fl" "$work/r500" "$work/r250"
done

# ---- the image rows ------------------------------------------------------------

# fresh_dom DIR: a domain "vm" with two empty 1 GiB qcow2 disks under DIR
fresh_dom() {
    rm -rf "$1" && mkdir -p "$1"
    "$QEMU_IMG" create -q -f qcow2 "$1/vda.qcow2" 1G
    "$QEMU_IMG" create -q -f qcow2 "$1/vdb.qcow2" 1G
    cat >"$1/vm.xml" <<EOF
<domain type='qemu'>
  <name>vm</name>
  <memory unit='KiB'>65536</memory>
  <os>
    <type arch='x86_64'>hvm</type>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$1/vda.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$1/vdb.qcow2'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
  </devices>
</domain>
EOF
    "$VSNAP" -q -d "$1/meta" define "$1/vm.xml" >/dev/null
}

# overlays_by_hand DIR: a fresh domain's two disks with an overlay each
# (DIR/vda.o, DIR/vdb.o) holding 50 MiB, made with qemu-img, synced
overlays_by_hand() {
    fresh_dom "$1"
    "$QEMU_IMG" create -q -f qcow2 -F qcow2 -b "$1/vda.qcow2" "$1/vda.o"
    "$QEMU_IMG" create -q -f qcow2 -F qcow2 -b "$1/vdb.qcow2" "$1/vdb.o"
    qemu-io -f qcow2 -c "write -P 0x5a 0 50M" "$1/vda.o" >/dev/null
    qemu-io -f qcow2 -c "write -P 0x5b 0 50M" "$1/vdb.o" >/dev/null
    sync
}

say "== images: two qcow2 disks of 1 GiB (load now $(load))"
header "operation"
if ! command -v "$QEMU_IMG" >/dev/null 2>&1 || ! command -v qemu-io >/dev/null 2>&1; then
    say "(qemu-img or qemu-io missing: image rows skipped)"
else
    fresh_dom "$work/i"
    fresh_dom "$work/j"
    for ((r = 0; r < BENCH_RUNS; r++)); do
        time_cmd "$work/t.icreate" "$VSNAP" -q -d "$work/i/meta" snapshot-create-as vm "s$r"
        time_cmd "$work/t.rcreate" sh -c "'$QEMU_IMG' snapshot -c r$r '$work/j/vda.qcow2' && '$QEMU_IMG' snapshot -c r$r '$work/j/vdb.qcow2'"
    done
    for ((r = BENCH_RUNS - 1; r >= 0; r--)); do
        time_cmd "$work/t.idelete" "$VSNAP" -q -d "$work/i/meta" snapshot-delete vm "s$r"
        time_cmd "$work/t.rdelete" sh -c "'$QEMU_IMG' snapshot -d r$r '$work/j/vda.qcow2' && '$QEMU_IMG' snapshot -d r$r '$work/j/vdb.qcow2'"
    done
    v=$(median_ms <"$work/t.icreate"); f=$(median_ms <"$work/t.rcreate"); q=$(ratio "$v" "$f")
    row "internal snapshot create (qemu-img -c on both)" "$v" "$f" "$q" "<= 1.2 x floor" "$(verdict "$q" "<=" 1.2)"
    v=$(median_ms <"$work/t.idelete"); f=$(median_ms <"$work/t.rdelete"); q=$(ratio "$v" "$f")
    row "internal snapshot delete (qemu-img -d on both)" "$v" "$f" "$q" "<= 1.2 x floor" "$(verdict "$q" "<=" 1.2)"
    say "  (the floor runs sh, which starts the two qemu-img one after the other)"

    for ((r = 0; r < slow_runs; r++)); do
        fresh_dom "$work/e"
        "$VSNAP" -q -d "$work/e/meta" snapshot-create-as vm s1 --disk-only >/dev/null
        qemu-io -f qcow2 -c "write -P 0x5a 0 50M" "$work/e/vda.s1" >/dev/null
        qemu-io -f qcow2 -c "write -P 0x5b 0 50M" "$work/e/vdb.s1" >/dev/null
        sync
        time_cmd "$work/t.edelete" "$VSNAP" -q -d "$work/e/meta" snapshot-delete vm s1
        [ ! -e "$work/e/vda.s1" ] || echo "failed: the overlay is still there" >>"$work/errors"
        overlays_by_hand "$work/f"
        time_cmd "$work/t.rcommit" sh -c "'$QEMU_IMG' commit -q -f qcow2 -d '$work/f/vda.o' & '$QEMU_IMG' commit -q -f qcow2 -d '$work/f/vdb.o' & wait"
        # the same work as vsnap's by hand: the commits, then both overlays
        # removed at once (each unlink waits for its discards on a file
        # system mounted with discard)
        overlays_by_hand "$work/g"
        time_cmd "$work/t.rcommitrm" sh -c "'$QEMU_IMG' commit -q -f qcow2 -d '$work/g/vda.o' & '$QEMU_IMG' commit -q -f qcow2 -d '$work/g/vdb.o' & wait; rm -f '$work/g/vda.o' & rm -f '$work/g/vdb.o' & wait"
    done
    v=$(median_ms <"$work/t.edelete"); f=$(median_ms <"$work/t.rcommit"); q=$(ratio "$v" "$f")
    row "external delete, 50 MiB in each of 2 overlays" "$v" "$f" "$q" "<= 1.2 x floor" "$(verdict "$q" "<=" 1.2)"
    say "  (the floor: both qemu-img commits at once)"
    f=$(median_ms <"$work/t.rcommitrm"); q=$(ratio "$v" "$f")
    row "  the same, floor also removing both overlays" "$v" "$f" "$q" "(the same work)" "-"
fi
say ""
say "load average at the end: $(load)"
if [ -s "$work/errors" ]; then
    say "errors while measuring:"
    sed 's/^/  /' "$work/errors" | head -20 | tee -a "$report"
    missed=1
fi
[ -s "$work/missed" ] && missed=1
if [ -n "$BENCH_OUT" ]; then
    mkdir -p "$BENCH_OUT"
    cp "$report" "$BENCH_OUT/issue12.txt"
fi
exit "$missed"
