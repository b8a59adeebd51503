#!/usr/bin/env bash
# Offline internal snapshots keep and restore guest data: two qcow2 disks,
# written with qemu-io between snapshots, reverted and read back, deleted, and
# checked with qemu-img (virsh-behaviour.md C.2, C.3, C.4).
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"

d1=$tmp/disk1.qcow2
d2=$tmp/disk2.qcow2
make_image "$d1"
make_image "$d2"
define_domain vm 8a4c0e5e-2f0f-4d38-9d7e-6b1c3f0a1b01 "vda:$d1" "vdb:$d2"

write_pattern "$d1" 0x11
write_pattern "$d2" 0x21
expect_ok "snapshot-create-as s1" snapshot-create-as vm s1 "first state"
expect_stdout "create message" "Domain snapshot s1 created"
t_is "s1 in disk1's table" "$(tags "$d1")" "s1"
t_is "s1 in disk2's table" "$(tags "$d2")" "s1"

write_pattern "$d1" 0x12
write_pattern "$d2" 0x22
expect_ok "snapshot-create-as s2" snapshot-create-as vm s2
write_pattern "$d1" 0x13
write_pattern "$d2" 0x23

run -q snapshot-current vm --name
t_is "s2 is current" "$(out)" "s2"
run -q snapshot-parent vm s2
t_is "s2's parent is s1" "$(out)" "s1"

expect_ok "revert to s1" snapshot-revert vm s1
expect_stdout "revert message" "Domain snapshot s1 reverted
"
t_check "disk1 reads 0x11 after revert to s1" pattern_ok "$d1" 0x11
t_check "disk2 reads 0x21 after revert to s1" pattern_ok "$d2" 0x21
run -q snapshot-current vm --name
t_is "s1 is current after revert" "$(out)" "s1"

expect_ok "revert to s2" snapshot-revert vm s2
t_check "disk1 reads 0x12 after revert to s2" pattern_ok "$d1" 0x12
t_check "disk2 reads 0x22 after revert to s2" pattern_ok "$d2" 0x22

# --current reverts to the current snapshot again, dropping new writes
write_pattern "$d1" 0x14
expect_ok "revert --current" snapshot-revert vm --current
t_check "disk1 reads 0x12 after revert --current" pattern_ok "$d1" 0x12

# a branch: back to s1, then s3 is s1's child
expect_ok "revert to s1 again" snapshot-revert vm s1
write_pattern "$d2" 0x31
expect_ok "snapshot-create-as s3" snapshot-create-as vm s3
run -q snapshot-parent vm s3
t_is "s3's parent is s1" "$(out)" "s1"
t_is "disk2's table" "$(tags "$d2")" "s1 s2 s3"

# delete an inner snapshot: data gone from both tables, children re-parented
expect_ok "delete s1" snapshot-delete vm s1
expect_stdout "delete message" "Domain snapshot s1 deleted
"
t_is "disk1's table after deleting s1" "$(tags "$d1")" "s2 s3"
t_is "disk2's table after deleting s1" "$(tags "$d2")" "s2 s3"
run -q snapshot-list vm --roots --name
t_is "s2 and s3 are roots now" "$(out)" "s2
s3"
expect_ok "revert to s3" snapshot-revert vm s3
t_check "disk2 reads 0x31 at s3" pattern_ok "$d2" 0x31
t_check "disk1 reads 0x11 at s3" pattern_ok "$d1" 0x11

# --metadata leaves the data, a normal delete of the rest removes it
expect_ok "delete s2 --metadata" snapshot-delete vm s2 --metadata
t_is "disk1 keeps s2's data" "$(tags "$d1")" "s2 s3"
expect_ok "delete s3" snapshot-delete vm s3
t_is "disk1's table at the end" "$(tags "$d1")" "s2"
t_is "disk2's table at the end" "$(tags "$d2")" "s2"
run snapshot-list vm --name
t_is "no snapshot metadata left" "$(out)" ""
run -q snapshot-current vm --name
t_is "no current snapshot" "$(err)" "error: domain 'vm' has no current snapshot"

t_check "disk1 passes qemu-img check" image_clean "$d1"
t_check "disk2 passes qemu-img check" image_clean "$d2"
t_done
