# Shared by external-crash.sh and internal-crash.sh: a domain "vm" with two
# qcow2 disks and the tree s0 -> s1 -> {s2, s3 (current)}, live data on top,
# and crash(), which kills vsnap at every step boundary of one command (the
# failpoint plan-step) and checks the state after snapshot-check --repair.
# The caller sets CRASH_SNAP_FLAGS (options of snapshot-create-as for the
# fixture's snapshots) and CRASH_UUID, after sourcing lib.sh.
# shellcheck shell=bash

if ! grep -q '^#define VSNAP_FAILPOINTS 1' "${top_builddir:-.}/config.h" 2>/dev/null; then
    echo "1..0 # SKIP failpoints are not compiled in (configure --enable-failpoints)"
    exit 0
fi
if [ -n "${VSNAP_REAL:-}" ] && [ "$VSNAP" != "$VSNAP_REAL" ]; then
    # a thousand vsnap runs under valgrind would take a quarter of an hour;
    # the sanitizer build runs this test for memory errors instead
    echo "1..0 # SKIP not under a wrapper such as valgrind (make check-valgrind)"
    exit 0
fi

work=$tmp/work
saved=$tmp/saved
mkdir -p "$work"
meta=$work/meta
d1=$work/disk1.qcow2
d2=$work/disk2.qcow2
NREG=6

disk_src() {
    "$VSNAP" -d "$meta" dumpxml vm | sed -n "s/.*<source file='\([^']*\)'.*/\1/p" | sed -n "${1}p"
}

# Expected data: one pattern byte per 64 KiB region, per disk.
declare -A want
live1="0 0 0 0 0 0"
live2="0 0 0 0 0 0"

# put REGION BYTE1 BYTE2: write both disks of the running state
put() {
    local r=$1 p1=$2 p2=$3 a
    qemu-io -f qcow2 -c "write -P $p1 $((r * 65536)) 64k" "$(disk_src 1)" >/dev/null || t_bail "write"
    qemu-io -f qcow2 -c "write -P $p2 $((r * 65536)) 64k" "$(disk_src 2)" >/dev/null || t_bail "write"
    read -ra a <<<"$live1"; a[$r]=$p1; live1="${a[*]}"
    read -ra a <<<"$live2"; a[$r]=$p2; live2="${a[*]}"
}

# holds IMAGE "B0 B1 ...": every region reads back its byte
holds() {
    local img=$1 i=0 b cmds=() o
    for b in $2; do
        cmds+=(-c "read -P $b $((i * 65536)) 64k")
        i=$((i + 1))
    done
    o=$(qemu-io -r -f qcow2 "${cmds[@]}" "$img" 2>&1) || return 1
    case $o in *"failed"*|*"rror"*) return 1 ;; esac
    return 0
}

snap() {
    must snapshot-create-as vm "$1" $CRASH_SNAP_FLAGS
    want[$1.1]=$live1
    want[$1.2]=$live2
}

# ---- the fixture: s0 -> s1 -> {s2, s3 (current)}, live data on top of s3
make_image "$d1"
make_image "$d2"
domain_xml vm "$CRASH_UUID" "vda:$d1" "vdb:$d2" >"$work/vm.xml"
must define "$work/vm.xml"
put 0 16 80
snap s0
put 1 17 81
snap s1
put 2 18 82
snap s2
put 3 19 83
must snapshot-revert vm s1
live1=${want[s1.1]}
live2=${want[s1.2]}
put 2 20 84
snap s3
put 4 21 85
fixture_live1=$live1
fixture_live2=$live2
# A second domain in the same store, its images beside vm's: repairing it
# while vm is interrupted must leave vm's files alone.
make_image "$work/other.qcow2"
domain_xml other 8a4c0e5e-2f0f-4d38-9d7e-6b1c3f0a1bff "vda:$work/other.qcow2" >"$work/other.xml"
must define "$work/other.xml"
qemu-io -f qcow2 -c "write -P 99 0 64k" "$work/other.qcow2" >/dev/null || t_bail "write"
must snapshot-create-as other o1 --disk-only
qemu-io -f qcow2 -c "write -P 98 0 64k" "$work/other.o1" >/dev/null || t_bail "write"
cp -a "$work" "$saved"

restore() {
    rm -rf "$work"
    cp -a "$saved" "$work"
}

# verify DESC LIVE1 LIVE2: the checks after a repair (or a completed run)
verify() {
    local desc=$1 l1=$2 l2=$3 s good=1
    run snapshot-check vm
    if [ "$rc" != 0 ]; then
        good=0
        echo "# snapshot-check:"
        t_diag "$tmp/out" "$tmp/err"
    fi
    holds "$(disk_src 1)" "$l1" || { good=0; echo "# vda does not hold [$l1]"; }
    holds "$(disk_src 2)" "$l2" || { good=0; echo "# vdb does not hold [$l2]"; }
    for s in $("$VSNAP" -d "$meta" snapshot-list vm --name); do
        run snapshot-revert vm "$s"
        if [ "$rc" != 0 ]; then
            good=0
            echo "# revert to $s failed"
            t_diag "$tmp/err"
            continue
        fi
        holds "$(disk_src 1)" "${want[$s.1]}" || { good=0; echo "# $s: vda does not hold [${want[$s.1]}]"; }
        holds "$(disk_src 2)" "${want[$s.2]}" || { good=0; echo "# $s: vdb does not hold [${want[$s.2]}]"; }
    done
    run snapshot-check vm
    if [ "$rc" != 0 ]; then
        good=0
        echo "# snapshot-check after the reverts:"
        t_diag "$tmp/out" "$tmp/err"
    fi
    if [ $good = 1 ]; then t_ok "$desc"; else t_not_ok "$desc"; fi
}

# crash DESC DONE-TEST AFTER1 AFTER2 ARGS...: run ARGS with a kill at every
# step boundary in turn, until a run gets through. DONE-TEST (a shell
# snippet) tells whether the operation took effect; AFTER1/AFTER2 are the
# disks' data after it (the fixture's live data before it).
crash() {
    local desc=$1 done_test=$2 a1=$3 a2=$4 n=1 l1 l2 what
    shift 4
    while :; do
        restore
        # (the braces keep bash's "Killed" notice out of the TAP stream)
        {
            VSNAP_FAILPOINT="plan-step:$n:kill" "$VSNAP" -d "$meta" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
            rc=$?
        } 2>/dev/null
        if [ "$rc" = 0 ]; then
            verify "$desc: runs through with no kill at boundary $n" "$a1" "$a2"
            break
        fi
        if [ "$rc" != 137 ]; then
            t_not_ok "$desc: killed at boundary $n (status $rc)"
            t_diag "$tmp/err"
            break
        fi
        run snapshot-list vm
        case $(err) in
        *"has an interrupted"*"run 'vsnap snapshot-check vm --repair'"*) ;;
        *) t_not_ok "$desc, killed at boundary $n: the next command says so"; t_diag "$tmp/err" ;;
        esac
        # the other domain's repair first: it must not touch vm's leftovers
        ls "$work" | grep '\.vsnap-' >"$tmp/tmp-before"
        run snapshot-check other --repair
        ls "$work" | grep '\.vsnap-' >"$tmp/tmp-after"
        if ! cmp -s "$tmp/tmp-before" "$tmp/tmp-after" ||
           ! holds "$work/other.o1" "98" || ! holds "$work/other.qcow2" "99"; then
            t_not_ok "$desc, killed at boundary $n: repairing another domain leaves vm's files"
            t_diag "$tmp/out" "$tmp/err" "$tmp/tmp-before" "$tmp/tmp-after"
        fi
        run snapshot-check vm --repair
        if [ "$rc" != 0 ]; then
            t_not_ok "$desc, killed at boundary $n: repair"
            t_diag "$tmp/out" "$tmp/err"
            break
        fi
        if eval "$done_test"; then
            l1=$a1 l2=$a2 what="finished"
        else
            l1=$fixture_live1 l2=$fixture_live2 what="rolled back"
        fi
        verify "$desc, killed at boundary $n: $what, consistent" "$l1" "$l2"
        n=$((n + 1))
        [ $n -gt 60 ] && { t_not_ok "$desc: too many boundaries"; break; }
    done
}

exists() { "$VSNAP" -d "$meta" snapshot-info vm "$1" >/dev/null 2>&1; }
current_is() { [ "$("$VSNAP" -d "$meta" -q snapshot-current vm --name 2>/dev/null)" = "$1" ]; }
