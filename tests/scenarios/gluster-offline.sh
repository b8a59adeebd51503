#!/usr/bin/env bash
# Offline external snapshots of domains on a real GlusterFS volume (issue 13):
# a local overlay on a gluster base, and overlays on the volume over a file
# base; revert, delete with a commit into the gluster base, snapshot-check.
# Guest data is written and read from the files themselves (the brick), so
# what is checked is what vsnap made through gluster. Part of make check-gluster.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
. "$top_srcdir/tests/scenarios/gluster-lib.sh"

gluster_start gv0
B=$gl_brick

# --- A: a gluster base under a local overlay
make_image "$B/a-base.qcow2"
brick_write 0x11 0 "$B/a-base.qcow2"
gl_define ga 11111111-0000-0000-0000-00000000000a a-base.qcow2
images="$B/a-base.qcow2"

expect_ok "A: external snapshot of a gluster disk into a local overlay" \
    snapshot-create-as ga s1 --disk-only --diskspec "vda,snapshot=external,file=$tmp/a-s1.qcow2"
t_is "A: the local overlay's backing is the gluster image" "$(backing_of "$tmp/a-s1.qcow2")" "$(gl_url a-base.qcow2)"
t_is "A: the domain's disk is the local overlay" "$(disk_xml ga)" \
    "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$tmp/a-s1.qcow2'/><target dev='vda' bus='virtio'/></disk>"
run snapshot-dumpxml ga s1
t_check "A: the snapshot keeps the gluster source of the disk it was taken of" \
    grep -q "<source protocol='gluster' name='gv0/a-base.qcow2'>" "$tmp/out"
brick_write 0x22 1 "$tmp/a-s1.qcow2" "$B/a-base.qcow2"
t_check "A: the gluster base is untouched by the guest's write" brick_holds "0x11 0x00" "$B/a-base.qcow2"

expect_ok "A: deleting the snapshot commits the overlay into the gluster base" snapshot-delete ga s1
t_check "A: the base on the brick holds the overlay's data" brick_holds "0x11 0x22" "$B/a-base.qcow2"
t_is "A: the domain's disk is the gluster image again" "$(disk_xml ga)" \
    "<disk type='network' device='disk'><driver name='qemu' type='qcow2'/><source protocol='gluster' name='gv0/a-base.qcow2'><host name='$gl_host' port='24007'/></source><target dev='vda' bus='virtio'/></disk>"
t_check "A: the local overlay is removed" test ! -e "$tmp/a-s1.qcow2"
t_check "A: the base on the brick is a clean qcow2" image_clean "$B/a-base.qcow2"

# --- B: overlays on the volume over a local base
make_image "$tmp/b-base.qcow2"
brick_write 0x44 0 "$tmp/b-base.qcow2"
define_domain gb 11111111-0000-0000-0000-00000000000b "vda:$tmp/b-base.qcow2"

expect_ok "B: external snapshot of a file disk into an overlay on the volume" \
    snapshot-create-as gb s1 --disk-only --diskspec "vda,snapshot=external,stype=network,file=$(gl_url b-s1.qcow2)"
t_is "B: the overlay on the brick has the local base as backing" "$(backing_of "$B/b-s1.qcow2")" "$tmp/b-base.qcow2"
t_is "B: the domain's disk is the overlay on the volume" "$(disk_xml gb)" \
    "<disk type='network' device='disk'><driver name='qemu' type='qcow2'/><source protocol='gluster' name='gv0/b-s1.qcow2'><host name='$gl_host' port='24007'/></source><target dev='vda' bus='virtio'/></disk>"
brick_write 0x55 1 "$B/b-s1.qcow2" "$tmp/b-base.qcow2"

expect_ok "B: a second snapshot: an overlay on the volume over one on the volume" \
    snapshot-create-as gb s2 --disk-only --diskspec "vda,snapshot=external,stype=network,file=$(gl_url b-s2.qcow2)"
t_is "B: its backing is the first overlay's gluster URL" "$(backing_of "$B/b-s2.qcow2")" "$(gl_url b-s1.qcow2)"
brick_write 0x66 2 "$B/b-s2.qcow2" "$B/b-s1.qcow2" "$tmp/b-base.qcow2"
sha256sum "$B/b-s1.qcow2" "$B/b-s2.qcow2" "$tmp/b-base.qcow2" >"$tmp/b.sums"

images="$B/b-s1.qcow2 $B/b-s2.qcow2 $tmp/b-base.qcow2"
# s2's chain has no local image: the new overlay goes on the volume, beside
# s2's image (the naming rule of files: the name without its suffix, a dot,
# the unix time); a network image is never looked up as a path.
expect_ok "B: revert to s2 (no local image in its chain): a new overlay on the volume" \
    snapshot-revert gb s2
run dumpxml gb
rv=$(sed -n "s|.*<source protocol='gluster' name='gv0/\(b-s1\.[0-9]*\)'>.*|\1|p" "$tmp/out")
t_check "B: the disk is a network disk on a new file of the volume beside s2's image" test -n "$rv"
t_check "B: the new overlay is on the brick" test -s "$B/$rv"
t_is "B: its backing is s2's image on the volume" "$(backing_of "$B/$rv")" "$(gl_url b-s1.qcow2)"
t_check "B: the guest sees s2's data (not what was written after it)" \
    brick_holds "0x44 0x55 0x00" "$B/$rv" "$B/b-s1.qcow2" "$tmp/b-base.qcow2"
run snapshot-dumpxml gb s2
t_check "B: s2 records the new overlay as its revert disk" \
    grep -q "<source protocol='gluster' name='gv0/$rv'>" "$tmp/out"
t_check "B: the images below are unchanged" sha256sum -c --quiet "$tmp/b.sums"
brick_write 0x77 3 "$B/$rv" "$B/b-s1.qcow2" "$tmp/b-base.qcow2"

expect_ok "B: revert to s1 (a new local overlay over the file base)" snapshot-revert gb s1
top=$("$VSNAP_REAL_OR" -d "$meta" domblklist gb | awk '$1 == "vda" { print $2 }')
t_check "B: the reverted disk is a new local image" test -f "$top" -a "$top" != "$tmp/b-base.qcow2"
t_is "B: the new image's backing is s1's base" "$(backing_of "$top")" "$tmp/b-base.qcow2"
t_check "B: the guest sees s1's data (not what was written after it)" \
    brick_holds "0x44 0x00 0x00" "$top" "$tmp/b-base.qcow2"
t_check "B: the images below and on the volume are unchanged" sha256sum -c --quiet "$tmp/b.sums"
t_check "B: s2's chain on the brick still holds its data" \
    brick_holds "0x44 0x55 0x66" "$B/b-s2.qcow2" "$B/b-s1.qcow2" "$tmp/b-base.qcow2"

expect_ok "B: snapshot-check: metadata and images (on the volume too) agree" snapshot-check gb

# Deletes: images on the network are never removed or merged away by vsnap.
expect_ok "B: delete s2 (its overlay on the volume is no disk's image now)" snapshot-delete gb s2
expect_ok "B: delete s1" snapshot-delete gb s1
run snapshot-list gb --name
t_is "B: no snapshot is left" "$(out | sed '/^$/d')" ""
# the revert's overlay held no data of its own: vsnap merged it away
t_is "B: the disk is the file base again" \
    "$("$VSNAP_REAL_OR" -d "$meta" domblklist gb | awk '$1 == "vda" { print $2 }')" "$tmp/b-base.qcow2"
t_check "B: the guest still sees s1's data" brick_holds "0x44 0x00 0x00" "$tmp/b-base.qcow2"
t_check "B: the overlays on the volume are left as they were" sha256sum -c --quiet "$tmp/b.sums"
t_done
