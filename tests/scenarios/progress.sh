#!/usr/bin/env bash
# Progress of long work: deleting an external snapshot commits its overlay
# into the image (qemu-img commit). With stderr a terminal (a real pty made
# by script(1)) vsnap shows "committing '...' into its backing file: NN%"
# from qemu-img's -p, up to 100%, on one line it clears at the end; with
# stderr a file, or with -q, nothing. The data is committed either way.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"

if ! command -v script >/dev/null 2>&1; then
    echo "1..0 # SKIP script(1) (util-linux) is not installed"
    exit 0
fi

img=$tmp/vm.qcow2
qemu-img create -q -f qcow2 "$img" 32M || t_bail "qemu-img create"
define_domain vm 6b5a4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d "vda:$img"
images=$img

# round N: a snapshot whose overlay holds 8 MiB of data, deleted (committed)
round() {
    qemu-io -f qcow2 -c "write -P $1 0 8M" "$img" >/dev/null || t_bail "qemu-io"
    must snapshot-create-as vm "s$1" --disk-only
    qemu-io -f qcow2 -c "write -P $(($1 + 1)) 0 8M" "$tmp/vm.s$1" >/dev/null || t_bail "qemu-io"
}
data_ok() {
    local o
    o=$(qemu-io -r -f qcow2 -c "read -P $1 0 8M" "$img" 2>&1) || return 1
    case $o in *"failed"*) return 1 ;; esac
}

round 10
through_pty "$tmp/tty" snapshot-delete vm s10
t_is "on a terminal: the delete succeeds" "$?" 0
tr '\r' '\n' <"$tmp/tty" >"$tmp/lines"
t_check "it shows what it commits" grep -q "^committing '$tmp/vm.s10' into its backing file: *[0-9]*%" "$tmp/lines"
t_check "... up to 100%" grep -q "^committing '$tmp/vm.s10' into its backing file: 100%" "$tmp/lines"
t_check "... on one line rewritten with carriage returns" test "$(grep -c '^committing' "$tmp/lines")" -ge 2
t_check "... that it clears at the end" grep -q "^ \{20,\}\$" "$tmp/lines"
t_check "the success message follows" grep -q '^Domain snapshot s10 deleted' "$tmp/lines"
t_check "the data is committed" data_ok 11

round 20
run snapshot-delete vm s20
t_is "stderr not a terminal: the delete succeeds" "$rc" 0
t_is "... and says nothing on stderr" "$(err)" ""
t_check "... and the data is committed" data_ok 21

round 30
through_pty "$tmp/tty-q" -q snapshot-delete vm s30
t_check "-q on a terminal: no progress" test "$(grep -c committing "$tmp/tty-q")" = 0
t_check "... the data is committed" data_ok 31
expect_ok "snapshot-check is clean" snapshot-check vm

t_done
