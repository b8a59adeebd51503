#!/usr/bin/env bash
# Progress of QEMU's block jobs: deleting an external snapshot of a running
# domain commits its overlay with block-commit. With stderr a terminal (a
# real pty made by script(1)) vsnap shows "committing '...' into ...: NN%"
# from query-jobs on one line it clears at the end, as for qemu-img; with
# stderr a file nothing. The data is committed either way. The memory
# copies of save and restore show "Save: NN%" and "Restore: NN%" the same way.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
. "${top_srcdir:-.}/tests/scenarios/live-lib.sh"

if ! command -v script >/dev/null 2>&1; then
    echo "1..0 # SKIP script(1) (util-linux) is not installed"
    exit 0
fi

a=$tmp/a.qcow2
make_image "$a"
images=$a
live_define vm 5c4b3a29-1807-4f6e-9d5c-4b3a29180706 "vda:$a"
must start vm

vm_write vm vda "11 11 11 11"
must snapshot-create-as vm s1 --disk-only
vm_write vm vda "22 - 22 -"
through_pty "$tmp/tty" snapshot-delete vm s1
t_is "on a terminal: the live delete succeeds" "$?" 0
tr '\r' '\n' <"$tmp/tty" >"$tmp/lines"
t_check "it shows what QEMU commits" grep -q "^committing '$tmp/a.s1' into $a: *[0-9]*%" "$tmp/lines"
t_check "... up to 100%" grep -q "^committing '$tmp/a.s1' into $a: 100%" "$tmp/lines"
t_check "... on one line that it clears at the end" grep -q "^ \{20,\}\$" "$tmp/lines"
t_check "the success message follows" grep -q '^Domain snapshot s1 deleted' "$tmp/lines"
t_check "the guest reads what it wrote" vm_holds vm vda "22 11 22 11"

must snapshot-create-as vm s2 --disk-only
vm_write vm vda "33 - - -"
run snapshot-delete vm s2
t_is "stderr not a terminal: the live delete succeeds" "$rc" 0
t_is "... and says nothing on stderr" "$(err)" ""
t_check "... and the data is committed" vm_holds vm vda "33 11 22 11"
expect_ok "snapshot-check is clean" snapshot-check vm

# the memory copy of save and restore (migrate to and from the file)
through_pty "$tmp/tty-save" save vm "$tmp/vm.save"
t_is "save on a terminal: succeeds" "$?" 0
tr '\r' '\n' <"$tmp/tty-save" >"$tmp/lines-save"
t_check "... shows the memory copy up to 100%" grep -q "^Save: 100%" "$tmp/lines-save"
t_check "... clears it before virsh's message" grep -q "^ \{10,\}\$" "$tmp/lines-save"
t_check "... which follows" grep -q "^Domain 'vm' saved to $tmp/vm.save" "$tmp/lines-save"
through_pty "$tmp/tty-restore" restore "$tmp/vm.save"
t_is "restore on a terminal: succeeds" "$?" 0
tr '\r' '\n' <"$tmp/tty-restore" >"$tmp/lines-restore"
t_check "... shows the memory load up to 100%" grep -q "^Restore: 100%" "$tmp/lines-restore"
t_check "... and virsh's message" grep -q "^Domain restored from $tmp/vm.save" "$tmp/lines-restore"
t_check "the restored guest reads what it wrote" vm_holds vm vda "33 11 22 11"
run save vm "$tmp/vm2.save"
t_is "save with stderr not a terminal: nothing on stderr" "$rc:$(err)" "0:"

t_done
