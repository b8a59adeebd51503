#!/bin/bash
# Crashes during external full-system snapshots (memory into a file), their
# revert and delete, against a real qemu-system-x86_64 (TCG, 32 MiB, no
# guest OS). vsnap is killed with SIGKILL at every step boundary (the
# failpoint plan-step); then, with random data in guest RAM so that the
# copy takes a while, QEMU and vsnap are each killed while the memory is
# being written (when the partial file appears). After each, `snapshot-check
# --repair` must leave no journal, metadata and images that agree, no
# memory file that looks complete without a snapshot (nor a partial one),
# and the guest running (with the state before or after: RAM and disk are
# read back) or shut off, never paused.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
if ! grep -q '^#define VSNAP_FAILPOINTS 1' "${top_builddir:-.}/config.h" 2>/dev/null; then
    echo "1..0 # SKIP failpoints are not compiled in (configure --enable-failpoints)"
    exit 0
fi
if [ -n "${VSNAP_REAL:-}" ] && [ "$VSNAP" != "$VSNAP_REAL" ]; then
    echo "1..0 # SKIP not under a wrapper such as valgrind (make check-valgrind)"
    exit 0
fi
. "${top_srcdir:-.}/tests/scenarios/live-lib.sh"

a=$tmp/a.qcow2
make_image "$a"
live_define vm 1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f "vda:$a"
must start vm
vm_write vm vda "0x11"
ram_put A
must snapshot-create-as vm m0 --memspec "file=$tmp/m0.mem" --diskspec "vda,file=$tmp/m0-a.qcow2"
vm_write vm vda "0x12"
ram_put B

# no memory file but a snapshot's, and no partial one
no_stray_memory() {
    local f
    for f in "$tmp"/*.mem "$tmp"/.*.vsnap-part; do
        [ -e "$f" ] || continue
        case $f in
        "$tmp/m0.mem") ;;
        "$tmp/x1.mem") has_snap x1 || { echo "# $f without its snapshot"; return 1; } ;;
        *) echo "# stray $f"; return 1 ;;
        esac
    done
}

prep_create() { has_snap x1 && must snapshot-delete vm x1; vm_write vm vda "0x12"; ram_put B; }
check_create() {
    no_stray_memory || return 1
    ram_is vm B && vm_holds vm vda "0x12" || return 1
    if has_snap x1; then
        [ "$(head -c 16 "$tmp/x1.mem")" = LibvirtQemudSave ] && [ "$(active vda)" = "$tmp/x1-a.qcow2" ] &&
            echo taken
    else
        [ ! -e "$tmp/x1.mem" ] && [ ! -e "$tmp/x1-a.qcow2" ] && echo none
    fi
}
crash_each "create (external memory, running)" prep_create check_create \
    snapshot-create-as vm x1 --memspec "file=$tmp/x1.mem" --diskspec "vda,file=$tmp/x1-a.qcow2"

prep_revert() { vm_write vm vda "0x13"; ram_put C; }
check_revert() {
    no_stray_memory || return 1
    if ram_is vm A; then
        vm_holds vm vda "0x11" && echo reverted
    else
        ram_is vm C && vm_holds vm vda "0x13" && echo as-before
    fi
}
crash_each "revert (external memory, running)" prep_revert check_revert snapshot-revert vm m0

prep_delete() {
    has_snap x1 || must snapshot-create-as vm x1 --memspec "file=$tmp/x1.mem" --diskspec "vda,file=$tmp/x1-a.qcow2"
}
check_delete() {
    no_stray_memory || return 1
    if has_snap x1; then
        [ -e "$tmp/x1.mem" ] && echo kept
    else
        [ ! -e "$tmp/x1.mem" ] && echo deleted
    fi
}
crash_each "delete (external memory, running)" prep_delete check_delete snapshot-delete vm x1
has_snap x1 && must snapshot-delete vm x1
t_check "the guest ran through all of it" test "$(state vm | cut -d' ' -f1)" = running

# ---- killed while the memory is written ------------------------------------------------
# 24 MiB of random data in guest RAM: the copy takes long enough to be caught
head -c $((24 * 1024 * 1024)) /dev/urandom | dd of="$ram" bs=1M conv=notrunc status=none
part=$tmp/.y1.mem.vsnap-part
# kill_when_copying PID: SIGKILL PID as soon as the partial memory file appears
kill_when_copying() {
    local end=$((SECONDS + 20))
    while [ "$SECONDS" -lt "$end" ]; do
        [ -e "$part" ] && { kill -9 "$1" 2>/dev/null; return 0; }
    done
    return 1
}

kill_when_copying "$(qemu_pid vm)" &
watcher=$!
run snapshot-create-as vm y1 --memspec "file=$tmp/y1.mem"
wait "$watcher"
t_is "QEMU killed during the copy: the create fails" "$rc" 1
run snapshot-check vm --repair
t_check "... metadata and images agree, no journal" after "QEMU killed in the copy"
t_is "... shut off (crashed)" "$(state vm)" "shut off (crashed)"
t_check "... no snapshot y1" sh -c "! test -e '$meta/vm/snapshots/y1.xml'"
t_check "... no memory file, whole or partial" test ! -e "$tmp/y1.mem" -a ! -e "$part"
must start vm

"$VSNAP" -d "$meta" snapshot-create-as vm y1 --memspec "file=$tmp/y1.mem" >"$tmp/out" 2>"$tmp/err" &
pid=$!
kill_when_copying "$pid"
caught=$?
wait "$pid"
rc=$?
t_is "vsnap killed during the copy" "$caught $rc" "0 137"
run snapshot-check vm --repair
t_check "... repaired: metadata and images agree, no journal" after "vsnap killed in the copy"
t_is "... the guest runs again" "$(state vm | cut -d' ' -f1)" running
t_check "... no snapshot y1" sh -c "! test -e '$meta/vm/snapshots/y1.xml'"
t_check "... no memory file, whole or partial" test ! -e "$tmp/y1.mem" -a ! -e "$part"

expect_ok "m0 still reverts" snapshot-revert vm m0
m0_back() { ram_is vm A && vm_holds vm vda 0x11; }
t_check "... to its memory and disk" m0_back
t_done
