#!/bin/bash
# QA: two disks of one domain naming the same image by different spellings
# (a symlink, "/./") must get one internal snapshot, not two with one tag
# (vs_snapshot_images() used to compare path strings; it now compares
# st_dev/st_ino).
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"

img=$tmp/same.qcow2
make_image "$img"
ln -s "$img" "$tmp/link.qcow2"

define_domain viadot 6f1c2c6e-0000-4000-8000-0000000000a1 "vda:$img" "vdb:$tmp/./same.qcow2"
expect_ok "snapshot of a domain whose two disks are one file (via /./)" snapshot-create-as viadot s1
t_is "the image holds s1 once" "$(tags "$img")" "s1"

define_domain vialink 6f1c2c6e-0000-4000-8000-0000000000a2 "vda:$img" "vdb:$tmp/link.qcow2"
expect_ok "snapshot of a domain whose two disks are one file (via a symlink)" snapshot-create-as vialink s2
t_is "the image holds s2 once" "$(tags "$img")" "s1 s2"

t_done
