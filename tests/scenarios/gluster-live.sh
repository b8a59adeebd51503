#!/usr/bin/env bash
# Live snapshots of a domain whose disk is on a real GlusterFS volume (issue
# 13): qemu-system-x86_64 (TCG, no guest OS) opens the gluster image itself;
# live external snapshots into local overlays over it and deletes that
# block-commit them into the gluster base while the guest runs (an overlay on
# the volume while running is refused, nothing changed). The guest's data is written and read through the running QEMU (HMP
# qemu-io) and read from the brick after every step. Part of make check-gluster.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
. "$top_srcdir/tests/scenarios/live-lib.sh"
. "$top_srcdir/tests/scenarios/gluster-lib.sh"

gluster_start gv0
B=$gl_brick
make_image "$B/base.qcow2"
brick_write 0x11 0 "$B/base.qcow2"
gl_define gl 11111111-0000-0000-0000-0000000000c1 base.qcow2

expect_ok "a domain whose disk is on the volume starts" start gl
t_is "it runs" "$(state gl)" "running (booted)"
t_check "QEMU opened the disk through gluster" grep -q "gluster" "/proc/$(qemu_pid gl)/cmdline"
vm_write gl vda "- 0x22"
t_check "the guest reads its disk through QEMU" vm_holds gl vda "0x11 0x22"
t_check "what the guest wrote (and flushed) is on the brick" brick_holds "0x11 0x22" "$B/base.qcow2"

# 1. an overlay on the volume while running: not done yet (the overlay would
# be made by QEMU through blockdev-create on gluster); one clear error,
# nothing changed, the guest still running on its image.
images="$B/base.qcow2"
expect_error "a live snapshot into an overlay on the volume is refused, nothing changed" \
    "error: unsupported configuration: external snapshots of a running domain are not supported on 'network' disks" \
    snapshot-create-as gl s0 --disk-only --diskspec "vda,snapshot=external,stype=network,file=$(gl_url s0.qcow2)"
t_is "the domain still runs" "$(state gl)" "running (booted)"
t_check "no overlay was made on the brick" test ! -e "$B/s0.qcow2"

# 2. live external snapshots into local overlays over the gluster base
expect_ok "live external snapshot into a local overlay over the gluster disk" \
    snapshot-create-as gl s1 --disk-only --diskspec "vda,snapshot=external,file=$tmp/s1.qcow2"
t_is "the domain still runs" "$(state gl)" "running (booted)"
t_is "the overlay's backing is the base's gluster URL" "$(backing_of "$tmp/s1.qcow2")" "$(gl_url base.qcow2)"
vm_write gl vda "- - 0x33"
t_check "the guest reads old and new data through the overlay" vm_holds gl vda "0x11 0x22 0x33"
t_check "the new write is in the overlay" brick_holds "0x11 0x22 0x33" "$tmp/s1.qcow2" "$B/base.qcow2"
t_check "the base on the brick does not have it" brick_holds "0x11 0x22 0x00" "$B/base.qcow2"

expect_ok "a second live snapshot over the first" \
    snapshot-create-as gl s2 --disk-only --diskspec "vda,snapshot=external,file=$tmp/s2.qcow2"
vm_write gl vda "- - - 0x44"
t_check "the guest reads the whole chain (two local overlays, the gluster base)" vm_holds gl vda "0x11 0x22 0x33 0x44"
t_check "the second overlay holds the new write" brick_holds "- - 0x33 0x44" "$tmp/s2.qcow2" "$tmp/s1.qcow2" "$B/base.qcow2"

# 3. deletes while running: block-commit into the gluster base
expect_ok "delete s1 while running: its overlay is committed into the gluster base" snapshot-delete gl s1
t_is "the domain still runs" "$(state gl)" "running (booted)"
t_check "the first overlay is gone" test ! -e "$tmp/s1.qcow2"
t_is "the second overlay's backing is the gluster base again" "$(backing_of "$tmp/s2.qcow2")" "$(gl_url base.qcow2)"
t_check "the base on the brick holds the committed data" brick_holds "0x11 0x22 0x33 0x00" "$B/base.qcow2"
t_check "the guest still reads everything" vm_holds gl vda "0x11 0x22 0x33 0x44"

expect_ok "delete s2 while running: the active overlay is committed into the gluster base" snapshot-delete gl s2
t_is "the domain still runs" "$(state gl)" "running (booted)"
t_check "the second overlay is gone" test ! -e "$tmp/s2.qcow2"
run domblklist gl
t_check "the domain's disk is the gluster image again" grep -q "gv0/base.qcow2" "$tmp/out"
t_check "the base on the brick holds everything the guest wrote" brick_holds "0x11 0x22 0x33 0x44" "$B/base.qcow2"
vm_write gl vda "- - - - 0x55"
t_check "the guest writes into the gluster base now" brick_holds "0x11 0x22 0x33 0x44 0x55" "$B/base.qcow2"
t_check "and reads it all through QEMU" vm_holds gl vda "0x11 0x22 0x33 0x44 0x55"
run snapshot-list gl --name
t_is "no snapshot is left" "$(out | sed '/^$/d')" ""
# QEMU is ended with SIGKILL by the EXIT trap: a clean quit would wait in
# glfs_fini (about 10 s) for nothing the test checks.
t_done
