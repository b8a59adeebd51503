#!/bin/bash
# Deletes and reverts of external snapshots while the domain runs, against a
# real qemu-system-x86_64 (TCG, 32 MiB, no guest OS), for the tree shapes the
# offline planner handles: the current leaf (its overlay is the active layer:
# block-commit, job-complete, the disk moves down), a snapshot in the middle
# of the running chain (block-commit of an inner layer, the layer above
# re-pointed by QEMU), the root, one with two children (each rebased: the one
# QEMU runs on with block-stream, the other with qemu-img), a leaf off the
# running chain (qemu-img alone), --children and --children-only, and a
# revert to an external snapshot while running (QEMU stops, new overlays,
# --running starts it on them). After every step a content oracle proves
# state: each remaining snapshot's images (read directly: QEMU only reads
# them) hold exactly what the guest had written when it was taken, and the
# guest reads, through QEMU, what it wrote last.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
. "${top_srcdir:-.}/tests/scenarios/live-lib.sh"

a=$tmp/a.qcow2
b=$tmp/b.qcow2
make_image "$a"
make_image "$b"
live_define vm 3d4e5f60-7a8b-4c9d-8e0f-112233445566 "vda:$a" "vdb:$b"
NREG=6

# The guest's present data, one byte per 64 KiB region and disk, and each
# snapshot's.
live_a="0 0 0 0 0 0"
live_b="0 0 0 0 0 0"
declare -A want

# put REGION BYTE_A BYTE_B: the guest writes both disks
put() {
    local arr skip="" i
    for ((i = 0; i < $1; i++)); do skip="$skip- "; done
    vm_write vm vda "$skip$2"
    vm_write vm vdb "$skip$3"
    read -ra arr <<<"$live_a"; arr[$1]=$2; live_a="${arr[*]}"
    read -ra arr <<<"$live_b"; arr[$1]=$3; live_b="${arr[*]}"
}
snap() {
    must snapshot-create-as vm "$1" --disk-only
    want[$1.a]=$live_a
    want[$1.b]=$live_b
}
# content IMAGE "B0 B1 ...": an image QEMU does not write, read directly
content() {
    local i=0 x cmds=() o
    for x in $2; do
        cmds+=(-c "read -P $x $((i * 65536)) 64k")
        i=$((i + 1))
    done
    o=$(qemu-io -r -U -f qcow2 "${cmds[@]}" "$1" 2>&1) || return 1
    case $o in *"failed"*|*"rror"*) echo "# $1: $o" | head -3; return 1 ;; esac
}
# image_of SNAP TARGET: the image the snapshot recorded (its content)
image_of() {
    "$VSNAP_TOOL" -d "$meta" snapshot-dumpxml vm "$1" \
        --xpath "/domainsnapshot/domain/devices/disk[target/@dev='$2']/source/@file" |
        sed -n 's/.*file="\([^"]*\)".*/\1/p'
}
# oracle DESC: every snapshot left holds its data, the guest reads its own
oracle() {
    local s good=1
    run snapshot-list vm --name
    for s in $(out); do
        content "$(image_of "$s" vda)" "${want[$s.a]}" || { good=0; echo "# $s vda"; }
        content "$(image_of "$s" vdb)" "${want[$s.b]}" || { good=0; echo "# $s vdb"; }
    done
    vm_holds vm vda "$live_a" || { good=0; echo "# live vda"; }
    vm_holds vm vdb "$live_b" || { good=0; echo "# live vdb"; }
    [ "$(state vm)" = "running (booted)" ] || [ "$(state vm)" = "running (from snapshot)" ] ||
        { good=0; echo "# state: $(state vm)"; }
    if [ "$good" = 1 ]; then t_ok "$1: every snapshot and the guest hold their data"
    else t_not_ok "$1: every snapshot and the guest hold their data"; fi
}
# depth TARGET: the images of the disk's chain in QEMU
depth() {
    "$VSNAP_TOOL" -d "$meta" qemu-monitor-command vm --hmp 'info block' | tr -d '\r' |
        awk -v t="$1" '/^[^ ].*: .* \(/ { f = 1 } /Attached to:/ { ok = ($3 == t || index($3, "/" t "/")) }
            /Backing file:/ && ok { sub(/.*depth: /, ""); sub(/\).*/, ""); print; exit }'
}

expect_ok "start" start vm
put 0 0x10 0x20
snap e1
put 1 0x11 0x21
snap e2
put 2 0x12 0x22
snap e3
put 3 0x13 0x23
t_is "a chain of three overlays in QEMU" "$(depth vda)" 3
oracle "three snapshots"

# ---- the middle of the running chain ---------------------------------------------------
t0=$(date +%s%N)
expect_ok "delete e2 (in the middle of the chain QEMU runs)" snapshot-delete vm e2
echo "# delete took $((($(date +%s%N) - t0) / 1000000)) ms"
t_check "its overlays are gone" test ! -e "$tmp/a.e2" -a ! -e "$tmp/b.e2"
t_is "QEMU's chain is one shorter" "$(depth vda)" 2
oracle "e2 deleted"
put 4 0x14 0x24

# ---- the current leaf: its overlay is the active layer -----------------------------------
t0=$(date +%s%N)
expect_ok "delete e3 (current: the active layer is committed down)" snapshot-delete vm e3
echo "# delete took $((($(date +%s%N) - t0) / 1000000)) ms"
run domblklist vm
t_check "the disks moved down onto e3's image" grep -q "vda *$tmp/a.e1\$" "$tmp/out"
t_check "the active overlays are gone" test ! -e "$tmp/a.e3" -a ! -e "$tmp/b.e3"
t_is "... QEMU runs on what is left" "$(depth vda)" 1
oracle "e3 deleted"
run snapshot-current vm --name
expect_stdout "current moved up to e1" "e1"

# ---- revert while running: QEMU stops, new overlays, --running ------------------------------
put 5 0x15 0x25
snap e4
expect_ok "revert to e1 --running while running" snapshot-revert vm e1 --running
t_is "running again (from snapshot)" "$(state vm)" "running (from snapshot)"
live_a=${want[e1.a]}
live_b=${want[e1.b]}
oracle "reverted to e1"
put 1 0x31 0x41
snap e5
expect_ok "revert to e1 again" snapshot-revert vm e1 --running
live_a=${want[e1.a]}
live_b=${want[e1.b]}
put 2 0x32 0x42
oracle "e1 has two children (e4, e5) and the live branch"

# ---- off the running chain, and two children ------------------------------------------------
expect_ok "delete e4 (a leaf off the chain QEMU runs: qemu-img only)" snapshot-delete vm e4
oracle "e4 deleted"
snap e6
put 3 0x33 0x43
expect_ok "delete e1 (its children: one QEMU runs on, one not)" snapshot-delete vm e1
oracle "e1 deleted"
run snapshot-list vm --roots --name
t_is "e5 and e6 are roots now" "$(out | sort | tr '\n' ' ')" " e5 e6 "

# ---- --children-only, --children -------------------------------------------------------------------
snap e7
put 4 0x34 0x44
snap e8
put 5 0x35 0x45
expect_ok "delete e6 --children-only (e7, e8: the chain QEMU runs on)" snapshot-delete vm e6 --children-only
expect_stdout "... virsh's line" "Domain snapshot e6 children deleted
"
oracle "e6's children deleted"
run snapshot-list vm --name
expect_stdout "e5 and e6 are left" "e5
e6
"
snap e9
put 0 0x36 0x46
expect_ok "delete e6 --children" snapshot-delete vm e6 --children
oracle "e6 and e9 deleted"
run snapshot-list vm --name
expect_stdout "e5 is left" "e5
"
run snapshot-check vm
t_is "snapshot-check: the metadata and the images agree" "$rc" 0
t_check "no journal" test ! -e "$meta/vm/journal"
expect_ok "destroy" destroy vm
t_check "every image left is clean" sh -c "for f in '$tmp'/*.qcow2 '$tmp'/a.* '$tmp'/b.*; do qemu-img check -q \"\$f\" || exit 1; done"
run snapshot-check vm
t_is "... and agrees with the metadata shut off too" "$rc $(out | head -1)" "0 Domain 'vm': snapshot metadata and disk images agree"
t_done
