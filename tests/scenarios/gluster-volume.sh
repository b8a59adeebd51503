#!/usr/bin/env bash
# The gluster tier's ground: a one-brick volume this test starts, images
# created and written by qemu-img/qemu-io through gluster:// and read back
# from the brick, and a backing chain across protocols (a local overlay on a
# gluster base) read through gluster. Part of make check-gluster.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
. "$top_srcdir/tests/scenarios/gluster-lib.sh"

qemu-img --help | grep -qw gluster || t_bail "qemu-img has no gluster driver (Debian: qemu-block-extra)"
gluster_start gv0
t_ok "glusterd, volume gv0 and its brick are up (host $gl_host)"

# Through gluster: create and write; through the brick: read.
qemu-img create -q -f qcow2 "$(gl_url base.qcow2)" 16M 2>"$tmp/e" || t_diag "$tmp/e"
t_check "qemu-img create gluster:// puts a qcow2 file on the brick" \
    test "$(qemu-img info -U --output=json "$(gl_file base.qcow2)" | sed -n 's/.*"format": "\(.*\)",/\1/p')" = qcow2
qemu-io -f qcow2 -c "write -P 0x11 0 64k" "$(gl_url base.qcow2)" >"$tmp/e" 2>&1 || t_diag "$tmp/e"
t_check "a pattern written through gluster is in the brick's file" brick_holds "0x11 0x00" "$(gl_file base.qcow2)"

# A local overlay over the gluster base, read through gluster.
qemu-img create -q -f qcow2 -F qcow2 -b "$(gl_url base.qcow2)" "$tmp/top.qcow2" 2>"$tmp/e" || t_diag "$tmp/e"
write_pattern "$tmp/top.qcow2" 0x22 2>/dev/null   # region 0, locally (its base is not opened for the write's result)
o=$(qemu-io -f qcow2 -c "read -P 0x22 0 64k" -c "read -P 0x00 64k 64k" "$tmp/top.qcow2" 2>&1)
case $o in *"Pattern verification failed"*|*rror*) t_not_ok "a local overlay over a gluster base reads through"; echo "# $o" ;;
*) t_ok "a local overlay over a gluster base reads through" ;; esac
t_is "the overlay names its base by its gluster URL" "$(backing_of "$tmp/top.qcow2")" "$(gl_url base.qcow2)"
t_check "the base on the brick is unchanged" brick_holds "0x11 0x00" "$(gl_file base.qcow2)"
t_done
