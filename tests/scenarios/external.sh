#!/usr/bin/env bash
# External snapshots through the vsnap binary: create (--disk-only, --diskspec,
# --reuse-external), revert, delete, --dry-run, snapshot-check, the journal
# refusal and repair, and a mixed internal/external tree; guest data written
# with qemu-io and read back (virsh-behaviour.md B.3, C.1-C.4).
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"

d1=$tmp/disk1.qcow2
d2=$tmp/disk2.qcow2
make_image "$d1"
make_image "$d2"
define_domain vm 8a4c0e5e-2f0f-4d38-9d7e-6b1c3f0a1b02 "vda:$d1" "vdb:$d2"
images="$d1 $d2"

# disk_src N: the domain's N-th disk source (1-based)
disk_src() {
    "$VSNAP" -d "$meta" dumpxml vm | sed -n "s/.*<source file='\([^']*\)'.*/\1/p" | sed -n "${1}p"
}
# backing IMAGE: its backing file as qemu-img reports it
backing() {
    qemu-img info --output=json "$1" | sed -n 's/.*"full-backing-filename": "\([^"]*\)".*/\1/p'
}
# read_ok IMAGE BYTE: the first 64 KiB read back BYTE (through the backing chain)
read_ok() {
    local o
    o=$(qemu-io -r -f qcow2 -c "read -P $2 0 64k" "$1" 2>&1) || return 1
    case $o in *"failed"*) return 1 ;; esac
    return 0
}

write_pattern "$d1" 0x11
write_pattern "$d2" 0x21

# ---- create
images="$d1 $d2"
run snapshot-create-as vm s1 --disk-only --dry-run
t_is "dry run: status 0" "$rc" 0
case $(out) in
"Plan for snapshot-create of snapshot 's1' on domain 'vm' (dry run: nothing was changed)"*"create   $tmp/disk1.s1 (qcow2 overlay on $d1)"*"write snapshot 's1'"*"current snapshot becomes 's1'"*)
    t_ok "dry run prints the plan" ;;
*) t_not_ok "dry run prints the plan"; t_diag "$tmp/out" ;;
esac
t_check "dry run created no file" test ! -e "$tmp/disk1.s1"
run snapshot-list vm --name
t_is "dry run recorded nothing" "$(out)" ""

expect_ok "snapshot-create-as --disk-only" snapshot-create-as vm s1 --disk-only
expect_stdout "create message" "Domain snapshot s1 created"
t_is "vda now runs on its overlay" "$(disk_src 1)" "$tmp/disk1.s1"
t_is "vdb now runs on its overlay" "$(disk_src 2)" "$tmp/disk2.s1"
t_is "the overlay is based on the image" "$(backing "$tmp/disk1.s1")" "$d1"
run snapshot-dumpxml vm s1
case $(out) in
*"<state>shutoff</state>"*"<memory snapshot='no'/>"*"<disk name='vda' snapshot='external' type='file'>"*"<source file='$tmp/disk1.s1'/>"*"<domain type='qemu'>"*"<source file='$d1'/>"*)
    t_ok "s1 records the overlays in <disks> and the images in <domain>" ;;
*) t_not_ok "s1 records the overlays in <disks> and the images in <domain>"; t_diag "$tmp/out" ;;
esac
run snapshot-info vm s1
case $(out) in *"Location:       external"*) t_ok "snapshot-info: external" ;;
*) t_not_ok "snapshot-info: external"; t_diag "$tmp/out" ;; esac

write_pattern "$tmp/disk1.s1" 0x12
write_pattern "$tmp/disk2.s1" 0x22
images="$d1 $d2 $tmp/disk1.s1 $tmp/disk2.s1"
expect_error "a raw overlay is refused" \
    "error: unsupported configuration: external snapshot format for disk vda is unsupported: raw" \
    snapshot-create-as vm bad --diskspec vda,snapshot=external,driver=raw
: >"$tmp/taken"
echo x >"$tmp/taken"
expect_error "an existing file is not overwritten" \
    "error: unsupported configuration: external snapshot file for disk vda already exists and is not a block device: $tmp/taken" \
    snapshot-create-as vm bad --diskspec "vda,snapshot=external,file=$tmp/taken" --diskspec vdb,snapshot=no
expect_error "--reuse-external of a missing file" \
    "error: missing existing file for disk vda: $tmp/nothere: No such file or directory" \
    snapshot-create-as vm bad --reuse-external --diskspec "vda,snapshot=external,file=$tmp/nothere" --diskspec vdb,snapshot=no
qemu-img create -q -f qcow2 -F qcow2 -b "$d2" "$tmp/wrongbase.qcow2"
expect_error "--reuse-external of a file on another image" \
    "error: unsupported configuration: cannot reuse '$tmp/wrongbase.qcow2' for disk vda: its backing file is '$d2', not the disk's current image '$tmp/disk1.s1'" \
    snapshot-create-as vm bad --reuse-external --diskspec "vda,snapshot=external,file=$tmp/wrongbase.qcow2" --diskspec vdb,snapshot=no
rm -f "$tmp/wrongbase.qcow2" "$tmp/taken"

qemu-img create -q -f qcow2 -F qcow2 -b "$tmp/disk1.s1" "$tmp/mine.qcow2"
expect_ok "--reuse-external of a proper overlay, vdb excluded" \
    snapshot-create-as vm s2 --reuse-external --diskspec "vda,snapshot=external,file=$tmp/mine.qcow2" --diskspec vdb,snapshot=no
t_is "vda runs on the reused file" "$(disk_src 1)" "$tmp/mine.qcow2"
t_is "vdb unchanged" "$(disk_src 2)" "$tmp/disk2.s1"
write_pattern "$tmp/mine.qcow2" 0x13

printf "<domainsnapshot><name>s3</name><disks><disk name='vda' snapshot='external'><source file='%s'/></disk></disks></domainsnapshot>\n" \
    "$tmp/custom.qcow2" >"$tmp/s3.xml"
expect_ok "snapshot-create with <disks> naming a file" snapshot-create vm "$tmp/s3.xml"
t_is "vda runs on the named file" "$(disk_src 1)" "$tmp/custom.qcow2"
t_is "vdb gets the default name (not requested: external too)" "$(disk_src 2)" "$tmp/disk2.s3"
write_pattern "$tmp/custom.qcow2" 0x14
expect_ok "check: clean" snapshot-check vm
expect_stdout "check message" "Domain 'vm': snapshot metadata and disk images agree
"

# ---- revert
run snapshot-revert vm s1 --dry-run
case $(out) in
"Plan for snapshot-revert of snapshot 's1' on domain 'vm'"*"create   $tmp/disk1."*"(qcow2 overlay on $d1)"*"write the domain definition"*) t_ok "revert --dry-run prints the plan" ;;
*) t_not_ok "revert --dry-run prints the plan"; t_diag "$tmp/out" ;;
esac
run snapshot-current vm --name
t_is "dry run left current alone" "$(out)" "s3"

expect_ok "revert to s1 (it has children)" snapshot-revert vm s1
expect_stdout "revert message" "Domain snapshot s1 reverted
"
t_check "vda reads s1's data" read_ok "$(disk_src 1)" 0x11
t_check "vdb reads s1's data" read_ok "$(disk_src 2)" 0x21
t_is "the new vda overlay is on s1's image" "$(backing "$(disk_src 1)")" "$d1"
run snapshot-dumpxml vm s1
case $(out) in *"<revertDisks>"*) t_ok "s1 records its revert overlays" ;;
*) t_not_ok "s1 records its revert overlays"; t_diag "$tmp/out" ;; esac
expect_ok "revert to s3 (a leaf)" snapshot-revert vm s3
t_is "s3's own overlay again" "$(disk_src 1)" "$tmp/custom.qcow2"
t_check "vda reads s3's data (0x13, written before s3)" read_ok "$tmp/custom.qcow2" 0x13
expect_ok "check after reverts: clean" snapshot-check vm

# ---- delete
run snapshot-delete vm s2 --dry-run
case $(out) in
"Plan for snapshot-delete of snapshot 's2' on domain 'vm'"*"commit   "*) t_ok "delete --dry-run prints the plan" ;;
*) t_not_ok "delete --dry-run prints the plan"; t_diag "$tmp/out" ;;
esac
t_check "dry run kept s2" "$VSNAP" -d "$meta" snapshot-info vm s2
expect_ok "delete s2 (inner, on the domain's chain)" snapshot-delete vm s2
expect_stdout "delete message" "Domain snapshot s2 deleted
"
run -q snapshot-parent vm s3
t_is "s3's parent is s1" "$(out)" "s1"
t_check "vda still reads 0x13" read_ok "$(disk_src 1)" 0x13
t_check "the reused file is merged away" test ! -e "$tmp/mine.qcow2"
expect_ok "check after delete: clean" snapshot-check vm
expect_ok "delete s1 with --children" snapshot-delete vm s1 --children
t_is "vda back on the original image" "$(disk_src 1)" "$d1"
t_is "vdb back on the original image" "$(disk_src 2)" "$d2"
t_check "disk1 keeps the live data" read_ok "$d1" 0x13
t_check "disk2 keeps the live data" read_ok "$d2" 0x22
run ls "$tmp"
t_is "only the original images are left" "$(cd "$tmp" && ls ./*.qcow2 ./*.s? 2>/dev/null | tr '\n' ' ')" "./disk1.qcow2 ./disk2.qcow2 "
expect_ok "check at the end: clean" snapshot-check vm

# ---- snapshot-check findings, the journal
qemu-img create -q -f qcow2 "$tmp/stray.qcow2" 1M
run snapshot-check vm
t_is "check: status 1 with a stray image" "$rc" 1
expect_stdout "check: the stray image" "unreferenced: '$tmp/stray.qcow2' is an image file that no snapshot, no backing chain and no vsnap domain refers to
"
t_is "check: the error line" "$(err)" "error: snapshot-check found 1 problem in domain 'vm'"
rm -f "$tmp/stray.qcow2"

printf '%s' '{"vsnap-journal":1,"operation":"snapshot-delete","domain":"vm","snapshot":"x","phase":"prepared","commit":1,"done":0,"steps":[{"kind":"create-image","path":"'"$tmp"'/j.tmp","fmt":"qcow2","backing":"'"$d1"'","backing_fmt":"qcow2"}]}' >"$meta/vm/journal"
: >"$tmp/j.tmp"
expect_error "a journal stops the next command that changes the domain" \
    "error: operation failed: domain 'vm' has an interrupted snapshot-delete of snapshot 'x' (not committed: it will be rolled back); run 'vsnap snapshot-check vm --repair' to finish or roll it back" \
    snapshot-create-as vm y --disk-only
run snapshot-list vm
t_is "a command that only reads works, with a warning" "$rc:$(err)" \
    "0:warning: domain 'vm' has an interrupted snapshot-delete of snapshot 'x' (not committed: it will be rolled back); what vsnap shows may be half changed: run 'vsnap snapshot-check vm --repair' to finish or roll it back"
run snapshot-check vm
t_is "check reports the journal" "$(out)" "journal: interrupted snapshot-delete of snapshot 'x' (not committed: it will be rolled back); --repair finishes or rolls it back"
expect_ok "check --repair" snapshot-check vm --repair
expect_stdout "repair says what it did" "repaired: rolled back the interrupted snapshot-delete of snapshot 'x' (not committed: it will be rolled back)
Domain 'vm': snapshot metadata and disk images agree
"
t_check "the rollback removed the file step 1 made" test ! -e "$tmp/j.tmp"
expect_ok "commands work again" snapshot-list vm

# ---- mixed internal and external
images="$d1 $d2"
write_pattern "$d1" 0x41
expect_ok "internal snapshot i1" snapshot-create-as vm i1
write_pattern "$d1" 0x42
expect_ok "external snapshot e1 on top" snapshot-create-as vm e1 --disk-only
write_pattern "$(disk_src 1)" 0x43
images="$d1 $d2 $(disk_src 1) $(disk_src 2)"
expect_error "revert to i1 would destroy e1: refused" \
    "error: Failed to revert snapshot i1
error: Requested operation is not valid: cannot revert to internal snapshot 'i1': image '$d1' of disk 'vda' is also the base of external snapshots or overlays, and applying the internal snapshot in place would change them; delete those external snapshots first" \
    snapshot-revert vm i1
expect_ok "delete e1 (its parent is internal)" snapshot-delete vm e1
t_is "i1 is still in the image" "$(tags "$d1")" "i1"
t_check "live data kept (0x43)" read_ok "$(disk_src 1)" 0x43
expect_ok "now i1 can be reverted to" snapshot-revert vm i1
t_check "disk1 reads i1's data" pattern_ok "$d1" 0x41
t_is "vda back on the original image" "$(disk_src 1)" "$d1"
expect_ok "check of the mixed domain: clean" snapshot-check vm
t_check "disk1 passes qemu-img check" image_clean "$d1"
t_check "disk2 passes qemu-img check" image_clean "$d2"
t_done
