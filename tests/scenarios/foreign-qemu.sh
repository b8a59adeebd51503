#!/bin/bash
# The per-domain lock is vsnap's own flock: a QEMU vsnap did not start (on
# this host, or another host's on shared storage as far as its image locks
# show here) may have a domain's images open. A shut-off change is then
# refused with one error before anything changes; once that QEMU is gone the
# same command works.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
command -v qemu-system-x86_64 >/dev/null || { echo "1..0 # SKIP qemu-system-x86_64 not found"; exit 0; }

qpid=""
cleanup() { [ -n "$qpid" ] && kill -9 "$qpid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# foreign IMAGE [read-only]: a QEMU of its own (not vsnap's) with IMAGE open
foreign() {
    local ro=false
    [ "${2:-}" = read-only ] && ro=true
    qemu-system-x86_64 -accel tcg -m 16 -S -nodefaults -display none -monitor none \
        -blockdev "{\"driver\":\"file\",\"filename\":\"$1\",\"node-name\":\"f\",\"read-only\":$ro}" \
        -blockdev "{\"driver\":\"qcow2\",\"file\":\"f\",\"node-name\":\"q\",\"read-only\":$ro}" \
        -device virtio-blk-pci,drive=q 2>/dev/null &
    qpid=$!
    local i ino
    ino=$(stat -c %i "$1")
    for i in $(seq 200); do
        grep -q ":$ino " /proc/locks && return 0   # its image locks are there
        sleep 0.02
    done
    t_bail "the foreign QEMU did not open $1"
}
stop_foreign() { kill -9 "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null; qpid=""; }

make_image "$tmp/a.qcow2"
write_pattern "$tmp/a.qcow2" 0x11
define_domain f1 22222222-2222-3333-4444-000000000001 "vda:$tmp/a.qcow2"
images="$tmp/a.qcow2"
msg="error: Requested operation is not valid: image '$tmp/a.qcow2' is open in a program vsnap did not start (a QEMU holds its image locks): stop it, or name its monitor in the domain's <vsnap:runtime>, before changing the domain's snapshots"

foreign "$tmp/a.qcow2"
expect_error "internal snapshot refused while a foreign QEMU has the image" "$msg" snapshot-create-as f1 i1
expect_error "external snapshot refused: its backing file is open for writing" "$msg" \
    snapshot-create-as f1 e1 --disk-only --diskspec "vda,file=$tmp/a.e1"
t_check "no overlay was made" test ! -e "$tmp/a.e1"
stop_foreign
images=""

expect_ok "once it is gone, the internal snapshot works" snapshot-create-as f1 i1
expect_ok "... and an external one" snapshot-create-as f1 e1 --disk-only --diskspec "vda,file=$tmp/a.e1"

# a QEMU that only reads a base (another domain's backing file) does not stop
# a new overlay on it, but does stop a commit into it
make_image "$tmp/b.qcow2"
define_domain f2 22222222-2222-3333-4444-000000000002 "vda:$tmp/b.qcow2"
foreign "$tmp/b.qcow2" read-only
expect_ok "a new overlay on an image a foreign QEMU only reads" \
    snapshot-create-as f2 s1 --disk-only --diskspec "vda,file=$tmp/b.s1"
write_pattern "$tmp/b.s1" 0x22
images="$tmp/b.qcow2 $tmp/b.s1"
run snapshot-delete f2 s1 --dry-run
if grep -q "commit" "$tmp/out"; then
    expect_error "a commit into it is refused" \
        "error: Failed to delete snapshot s1
error: Requested operation is not valid: image '$tmp/b.qcow2' is open in a program vsnap did not start (a QEMU holds its image locks): stop it, or name its monitor in the domain's <vsnap:runtime>, before changing the domain's snapshots" \
        snapshot-delete f2 s1
else
    t_ok "# SKIP the delete plans no commit into the base"
fi
stop_foreign
images=""
t_done
