#!/usr/bin/env bash
# Live snapshots of a domain whose disk is on a real GlusterFS volume (issue
# 13): qemu-system-x86_64 (TCG, no guest OS) opens the gluster image itself;
# live external snapshots into overlays on the volume (QEMU creates the file
# with blockdev-create of the gluster driver, formats it as qcow2 and opens
# it; --reuse-external opens one made before; a failure after the
# transaction closes the nodes), local overlays over them, deletes that
# block-commit into the gluster overlays while the guest runs, and a revert
# whose new overlay goes on the volume beside the snapshot's image. The
# guest's data is written and read through the running QEMU (HMP qemu-io) and
# read from the brick after every step. Part of make check-gluster.
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

# 1. live snapshots into overlays on the volume
spec="vda,snapshot=external,stype=network,file=$(gl_url s0.qcow2)"
run snapshot-create-as gl s0 --disk-only --dry-run --diskspec "$spec"
t_check "the plan: QEMU makes the overlay on the volume and opens it, then one transaction" \
    sh -c "grep -q '1. QEMU: create $(gl_url s0.qcow2) (qcow2 overlay on $(gl_url base.qcow2)) and open it' '$tmp/out' &&
           grep -q '2. QEMU: in one transaction, vda moves onto $(gl_url s0.qcow2)' '$tmp/out'" ||
    t_diag "$tmp/out"
if grep -q '^#define VSNAP_FAILPOINTS 1' "${top_builddir:-.}/config.h" 2>/dev/null; then
    VSNAP_FAILPOINT=plan-step:3 run snapshot-create-as gl s0 --disk-only --diskspec "$spec"
    t_is "a failure after the transaction: status 1" "$rc" 1
    t_is "... the disk is back on its gluster image" "$(disk_xml gl)" \
        "<disk type='network' device='disk'><driver name='qemu' type='qcow2'/><source protocol='gluster' name='gv0/base.qcow2'><host name='$gl_host' port='24007'/></source><target dev='vda' bus='virtio'/></disk>"
    hmp gl "info block -n"
    t_check "... QEMU closed both nodes of the overlay" \
        sh -c "grep -q 'base.qcow2' '$tmp/hmp.out' && ! grep -q 's0.qcow2' '$tmp/hmp.out'"
    t_check "... the file QEMU made on the volume is left there" test -e "$B/s0.qcow2"
    t_check "... no metadata, no journal" test ! -e "$meta/gl/snapshots/s0.xml" -a ! -e "$meta/gl/journal"
    t_is "... and it runs" "$(state gl)" "running (booted)"
    t_check "... on the base, as before" vm_holds gl vda "0x11 0x22"
else
    t_ok "# SKIP failpoints are not compiled in"
fi
# (the XML form: a <disk type='network'> with the gluster <source>)
cat >"$tmp/s0.xml" <<EOX
<domainsnapshot>
  <name>s0</name>
  <disks>
    <disk name='vda' snapshot='external' type='network'>
      $(gl_source s0.qcow2)
    </disk>
  </disks>
</domainsnapshot>
EOX
expect_ok "a live snapshot into an overlay on the volume, from XML (QEMU creates, formats and opens it)" \
    snapshot-create gl "$tmp/s0.xml" --disk-only
t_is "the domain still runs" "$(state gl)" "running (booted)"
t_is "the overlay on the brick has the gluster base as backing" "$(backing_of "$B/s0.qcow2")" "$(gl_url base.qcow2)"
t_is "the domain's disk is the overlay on the volume" "$(disk_xml gl)" \
    "<disk type='network' device='disk'><driver name='qemu' type='qcow2'/><source protocol='gluster' name='gv0/s0.qcow2'><host name='$gl_host' port='24007'/></source><target dev='vda' bus='virtio'/></disk>"
vm_write gl vda "- - 0x33"
t_check "the guest reads old and new data through the overlay" vm_holds gl vda "0x11 0x22 0x33"
t_check "the new write is in the overlay on the brick" brick_holds "- - 0x33" "$B/s0.qcow2" "$B/base.qcow2"
t_check "the base on the brick does not have it" brick_holds "0x11 0x22 0x00" "$B/base.qcow2"
expect_ok "snapshot-check agrees while it runs" snapshot-check gl
[ "$rc" = 0 ] || t_diag "$tmp/out"

# --reuse-external: a file on the volume that is no overlay of the disk's
# image is refused; one that is, is opened as it is
# (made through gluster: a file written into the brick behind the volume's
# back is not always read back whole through it)
qemu-img create -q -f qcow2 "$(gl_url r1.qcow2)" 32M 2>"$tmp/qi.err" || t_bail "qemu-img create on the volume"
images="$B/s0.qcow2 $B/base.qcow2 $B/r1.qcow2"
expect_error "--reuse-external of a file on the volume that is no overlay of the disk: refused" \
    "error: unsupported configuration: cannot reuse '$(gl_url r1.qcow2)' for disk vda: its backing file is not set, not the disk's current image '$(gl_url s0.qcow2)'" \
    snapshot-create-as gl s1 --disk-only --reuse-external --diskspec "vda,snapshot=external,stype=network,file=$(gl_url r1.qcow2)"
images=""
qemu-img create -q -f qcow2 -u -b "$(gl_url s0.qcow2)" -F qcow2 "$(gl_url r1.qcow2)" 32M 2>"$tmp/qi.err" ||
    t_bail "qemu-img create on the volume"
expect_ok "--reuse-external: the file on the volume already is an overlay of the disk's image" \
    snapshot-create-as gl s1 --disk-only --reuse-external --diskspec "vda,snapshot=external,stype=network,file=$(gl_url r1.qcow2)"
vm_write gl vda "- - - 0x44"
t_check "the new write is in the reused overlay" brick_holds "- - - 0x44" "$B/r1.qcow2" "$B/s0.qcow2" "$B/base.qcow2"
t_check "... and not in the one below" brick_holds "- - 0x33 0x00" "$B/s0.qcow2" "$B/base.qcow2"
t_check "the guest reads the whole chain on the volume" vm_holds gl vda "0x11 0x22 0x33 0x44"

# 2. live external snapshots into local overlays over the gluster overlay
expect_ok "live external snapshot into a local overlay over the gluster overlay" \
    snapshot-create-as gl s2 --disk-only --diskspec "vda,snapshot=external,file=$tmp/s2.qcow2"
t_is "the domain still runs" "$(state gl)" "running (booted)"
t_is "the local overlay's backing is the gluster overlay's URL" "$(backing_of "$tmp/s2.qcow2")" "$(gl_url r1.qcow2)"
vm_write gl vda "- - - - 0x55"
t_check "the guest reads old and new data through the local overlay" vm_holds gl vda "0x11 0x22 0x33 0x44 0x55"
t_check "the new write is in the local overlay" \
    brick_holds "- - - - 0x55" "$tmp/s2.qcow2" "$B/r1.qcow2" "$B/s0.qcow2" "$B/base.qcow2"

expect_ok "a second live snapshot over the first" \
    snapshot-create-as gl s3 --disk-only --diskspec "vda,snapshot=external,file=$tmp/s3.qcow2"
vm_write gl vda "- - - - - 0x66"
t_check "the guest reads the whole chain (two local overlays, three on the volume)" \
    vm_holds gl vda "0x11 0x22 0x33 0x44 0x55 0x66"

# 3. deletes while running: block-commit into the overlay QEMU made on the volume
expect_ok "delete s2 while running: its overlay is committed into the gluster overlay" snapshot-delete gl s2
t_is "the domain still runs" "$(state gl)" "running (booted)"
t_check "the first local overlay is gone" test ! -e "$tmp/s2.qcow2"
t_is "the second local overlay's backing is the gluster overlay again" "$(backing_of "$tmp/s3.qcow2")" "$(gl_url r1.qcow2)"
t_check "the gluster overlay on the brick holds the committed data" \
    brick_holds "- - - 0x44 0x55 0x00" "$B/r1.qcow2" "$B/s0.qcow2" "$B/base.qcow2"
t_check "the guest still reads everything" vm_holds gl vda "0x11 0x22 0x33 0x44 0x55 0x66"

expect_ok "delete s3 while running: the active overlay is committed into the gluster overlay" snapshot-delete gl s3
t_check "the second local overlay is gone" test ! -e "$tmp/s3.qcow2"
run domblklist gl
t_check "the domain's disk is the reused overlay on the volume again" grep -q "gv0/r1.qcow2" "$tmp/out"
t_check "the gluster overlay holds everything the guest wrote" \
    brick_holds "0x11 0x22 0x33 0x44 0x55 0x66" "$B/r1.qcow2" "$B/s0.qcow2" "$B/base.qcow2"
t_check "the overlays below are as they were" brick_holds "0x11 0x22 0x33 0x00 0x00 0x00" "$B/s0.qcow2" "$B/base.qcow2"
expect_ok "delete s1 while running: the disk stays on its overlay on the volume (never merged away)" \
    snapshot-delete gl s1
run domblklist gl
t_check "... still the reused overlay" grep -q "gv0/r1.qcow2" "$tmp/out"
t_check "the guest still reads everything" vm_holds gl vda "0x11 0x22 0x33 0x44 0x55 0x66"

# 4. revert to s0 (its image, the base, is on the volume; so is its overlay):
# a new overlay on the volume beside the base, QEMU started on it
expect_ok "revert to s0 --running: a new overlay on the volume beside s0's image" \
    snapshot-revert gl s0 --running
t_is "the domain runs" "$(state gl)" "running (from snapshot)"
rv=$(disk_xml gl | sed -n "s|.*<source protocol='gluster' name='gv0/\(base\.[0-9]*\)'>.*|\1|p")
t_check "the disk is a new file on the volume beside the base" test -n "$rv" -a -s "$B/$rv"
t_is "its backing is the gluster base" "$(backing_of "$B/$rv")" "$(gl_url base.qcow2)"
t_check "the guest sees s0's data, not what was written after it" vm_holds gl vda "0x11 0x22 0x00 0x00"
vm_write gl vda "- - - - - - 0x77"
t_check "its writes go into the new overlay on the brick" \
    brick_holds "0x11 0x22 0x00 0x00 0x00 0x00 0x77" "$B/$rv" "$B/base.qcow2"
t_check "the base is unchanged" brick_holds "0x11 0x22 0x00" "$B/base.qcow2"
t_check "the overlays left behind on the volume keep their data" \
    brick_holds "0x11 0x22 0x33 0x44 0x55 0x66" "$B/r1.qcow2" "$B/s0.qcow2" "$B/base.qcow2"
expect_ok "delete s0 while running" snapshot-delete gl s0
t_is "the domain still runs" "$(state gl)" "running (from snapshot)"
t_check "the guest still reads its data" vm_holds gl vda "0x11 0x22 0x00 0x00 0x00 0x00 0x77"
t_is "the disk stays on the revert's overlay on the volume (never merged away)" \
    "$(disk_xml gl | sed -n "s|.*<source protocol='gluster' name='gv0/\([^']*\)'>.*|\1|p")" "$rv"
t_check "which holds the guest's data on the brick" \
    brick_holds "0x11 0x22 0x00 0x00 0x00 0x00 0x77" "$B/$rv" "$B/base.qcow2"
run snapshot-list gl --name
t_is "no snapshot is left" "$(out | sed '/^$/d')" ""
# QEMU is ended with SIGKILL by the EXIT trap: a clean quit would wait in
# glfs_fini (about 10 s) for nothing the test checks.
t_done
