#!/bin/sh
# External snapshots against raw qemu-img, on a domain with two qcow2 disks
# of 1 GiB (issue 3):
#   create: `vsnap snapshot-create-as DOM s1 --disk-only` on a fresh domain
#           against the two `qemu-img create -f qcow2 -F qcow2 -b IMG OVL` it
#           runs; target: vsnap at most 1.2 times the raw pair.
#   delete: `vsnap snapshot-delete DOM s1` of the only snapshot, whose vda
#           overlay holds 50 MiB (vdb's is empty), against a raw
#           `qemu-img commit` of that overlay; target: at most 1.2 times.
#           (Also printed: the raw pair committing both overlays, and the same
#           with the overlay files removed afterwards, as vsnap removes them.)
# Medians of BENCH_RUNS runs (default 15), in milliseconds, each run timed
# alone; the setup of a run (a fresh domain, the 50 MiB written) is not timed.
#
# Environment: VSNAP (the binary), BENCH_RUNS, BENCH_TARGET_RATIO (1.2),
# BENCH_OUT (a directory for external.txt, optional). Exits 1 when a ratio is
# over the target.
set -eu

: "${VSNAP:=./vsnap}"
: "${BENCH_RUNS:=15}"
: "${BENCH_TARGET_RATIO:=1.2}"
QEMU_IMG=${VSNAP_QEMU_IMG:-qemu-img}

work=$(mktemp -d "${TMPDIR:-/tmp}/vsnap-bench-external.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

if grep -q __asan_init "$VSNAP" 2>/dev/null; then
    echo "WARNING: vsnap is built with sanitizers; these numbers say little."
fi

now_us() { echo $(($(date +%s%N) / 1000)); }

# median FILE: the median of the numbers in FILE (microseconds) in ms
median() {
    sort -n "$1" | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m / 1000 }'
}

# fresh DIR: a domain "vm" with two empty 1 GiB qcow2 disks under DIR
fresh() {
    rm -rf "$1"
    mkdir -p "$1"
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

# ---- create: the first snapshot of a fresh domain, each run
: >"$work/create.vsnap"
: >"$work/create.raw"
i=0
while [ "$i" -lt "$BENCH_RUNS" ]; do
    i=$((i + 1))
    fresh "$work/c"
    t0=$(now_us)
    "$VSNAP" -q -d "$work/c/meta" snapshot-create-as vm s1 --disk-only >/dev/null
    t1=$(now_us)
    echo $((t1 - t0)) >>"$work/create.vsnap"
    "$VSNAP" -q -d "$work/c/meta" snapshot-check vm >/dev/null || {
        echo "external.sh: the created snapshot does not check clean" >&2
        exit 1
    }
    fresh "$work/c"
    t0=$(now_us)
    "$QEMU_IMG" create -q -f qcow2 -F qcow2 -b "$work/c/vda.qcow2" "$work/c/vda.s1"
    "$QEMU_IMG" create -q -f qcow2 -F qcow2 -b "$work/c/vdb.qcow2" "$work/c/vdb.s1"
    t1=$(now_us)
    echo $((t1 - t0)) >>"$work/create.raw"
done

# ---- delete of a snapshot whose overlay holds 50 MiB
: >"$work/delete.vsnap"
: >"$work/delete.raw"
: >"$work/delete.rawpair"
: >"$work/delete.rawrm"
i=0
while [ "$i" -lt "$BENCH_RUNS" ]; do
    i=$((i + 1))
    fresh "$work/d"
    "$VSNAP" -q -d "$work/d/meta" snapshot-create-as vm s1 --disk-only >/dev/null
    qemu-io -f qcow2 -c "write -P 0x5a 0 50M" "$work/d/vda.s1" >/dev/null
    t0=$(now_us)
    "$VSNAP" -q -d "$work/d/meta" snapshot-delete vm s1 >/dev/null
    t1=$(now_us)
    echo $((t1 - t0)) >>"$work/delete.vsnap"
    if [ -e "$work/d/vda.s1" ]; then
        echo "external.sh: the overlay is still there after the delete" >&2
        exit 1
    fi

    fresh "$work/r"
    "$QEMU_IMG" create -q -f qcow2 -F qcow2 -b "$work/r/vda.qcow2" "$work/r/vda.ovl"
    "$QEMU_IMG" create -q -f qcow2 -F qcow2 -b "$work/r/vdb.qcow2" "$work/r/vdb.ovl"
    qemu-io -f qcow2 -c "write -P 0x5a 0 50M" "$work/r/vda.ovl" >/dev/null
    t0=$(now_us)
    "$QEMU_IMG" commit -q -f qcow2 -d "$work/r/vda.ovl"
    t1=$(now_us)
    "$QEMU_IMG" commit -q -f qcow2 -d "$work/r/vdb.ovl"
    t2=$(now_us)
    rm -f "$work/r/vda.ovl" "$work/r/vdb.ovl"
    t3=$(now_us)
    echo $((t1 - t0)) >>"$work/delete.raw"
    echo $((t2 - t0)) >>"$work/delete.rawpair"
    echo $((t3 - t0)) >>"$work/delete.rawrm"
done

cv=$(median "$work/create.vsnap")
cr=$(median "$work/create.raw")
dv=$(median "$work/delete.vsnap")
dr=$(median "$work/delete.raw")
dp=$(median "$work/delete.rawpair")
dm=$(median "$work/delete.rawrm")
report=$(awk -v cv="$cv" -v cr="$cr" -v dv="$dv" -v dr="$dr" -v dp="$dp" -v dm="$dm" -v t="$BENCH_TARGET_RATIO" -v n="$BENCH_RUNS" 'BEGIN {
    printf "external snapshots, two 1 GiB qcow2 disks, medians of %d runs (ms)\n", n
    printf "%-58s %8s %8s %7s %s\n", "operation", "vsnap", "raw", "ratio", "target"
    rc = cv / cr; rd = dv / dr
    printf "%-58s %8.1f %8.1f %7.2f <= %s %s\n", "create --disk-only vs 2x qemu-img create", cv, cr, rc, t, (rc <= t ? "ok" : "OVER")
    printf "%-58s %8.1f %8.1f %7.2f <= %s %s\n", "delete (50 MiB overlay) vs qemu-img commit", dv, dr, rd, t, (rd <= t ? "ok" : "OVER")
    printf "%-58s %8.1f %8.1f %7.2f\n", "delete (50 MiB overlay) vs both overlays committed", dv, dp, dv / dp
    printf "%-58s %8.1f %8.1f %7.2f\n", "delete (50 MiB overlay) vs both committed, files removed", dv, dm, dv / dm
}')
echo "$report"
if [ -n "${BENCH_OUT:-}" ]; then
    mkdir -p "$BENCH_OUT"
    echo "$report" >"$BENCH_OUT/external.txt"
fi
echo "$report" | grep -q OVER && exit 1
exit 0
