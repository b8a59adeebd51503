#!/bin/bash
# External disk-only snapshots of a running domain against a real
# qemu-system-x86_64 (TCG, 32 MiB, no guest OS): --disk-only with libvirt's
# default names, --diskspec (a file, snapshot=no, driver), --atomic,
# --no-metadata, --reuse-external, the refusals of virsh's transcript 02,
# and a failure after the transaction that puts every disk back on its
# image. The overlays are made and opened by QEMU (blockdev-create,
# blockdev-add) and every disk moves in one transaction. State is proven:
# which image QEMU writes to (query-block), what the images under the
# overlays hold (read with qemu-io, they no longer change), what the guest
# reads through QEMU. --quiesce is tested against a FAKE guest agent
# (tests/fake-qmp-peer agent): no guest OS runs, so no real agent answers;
# it logs what it was asked, so the test sees the freeze and the thaw on
# every path.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
. "${top_srcdir:-.}/tests/scenarios/live-lib.sh"
FAKE=${top_builddir:-.}/tests/fake-qmp-peer
fake_pids=""
cleanup_fakes() { local p; for p in $fake_pids; do kill "$p" 2>/dev/null; done; }

a=$tmp/a.qcow2
b=$tmp/b.qcow2
data=$tmp/data
mkdir -p "$data"
make_image "$a"
make_image "$b"
live_define vm 5a6b7c8d-1e2f-4a3b-9c4d-5e6f7a8b9c0d "vda:$a" "vdb:$b"

# active DOMAIN TARGET: the image QEMU writes the disk to (HMP info block)
active() {
    "$VSNAP_TOOL" -d "$meta" qemu-monitor-command "$1" --hmp 'info block' | tr -d '\r' |
        awk -v t="$2" '/^[^ ].*: .* \(/ { f = $2 }
            /Attached to:/ && ($3 == t || index($3, "/" t "/")) { print f }'
}
# chain IMAGE: the image and its backing files, one a line
chain() { qemu-img info -U --backing-chain "$1" | sed -n 's/^image: //p'; }
# holds_u IMAGE "B0 B1": an image QEMU no longer writes, read directly
holds_u() {
    local i=0 b o
    for b in $2; do
        o=$(qemu-io -r -U -f qcow2 -c "read -P $b $((i * 65536)) 64k" "$1" 2>&1) || return 1
        case $o in *"failed"*) return 1 ;; esac
        i=$((i + 1))
    done
}

expect_ok "start" start vm
vm_write vm vda "0x11 0x11"
vm_write vm vdb "0x21 0x21"

# ---- --disk-only: default names, both disks at once -------------------------------
t0=$(date +%s%N)
expect_ok "snapshot-create-as --disk-only of a running domain" snapshot-create-as vm e1 --disk-only
echo "# create took $((($(date +%s%N) - t0) / 1000000)) ms"
expect_stdout "... virsh's line" "Domain snapshot e1 created"
run domblklist vm
t_is "the disks are on the new overlays (libvirt's names)" "$(out | awk 'NR > 2 && NF {print $1, $2}' | tr '\n' ' ')" "vda $tmp/a.e1 vdb $tmp/b.e1 "
t_is "QEMU writes vda to its overlay" "$(active vm vda)" "$tmp/a.e1"
t_is "... and vdb to its" "$(active vm vdb)" "$tmp/b.e1"
t_is "the overlay is on the image" "$(chain "$tmp/a.e1" | tr '\n' ' ')" "$tmp/a.e1 $a "
t_is "the overlays are private" "$(stat -c %a "$tmp/a.e1") $(stat -c %a "$tmp/b.e1")" "600 600"
t_is "the guest runs on" "$(state vm)" "running (booted)"
run snapshot-dumpxml vm e1 --xpath '/domainsnapshot/state|/domainsnapshot/memory|/domainsnapshot/disks'
expect_stdout "state disk-snapshot, memory no, both disks external" "<state>disk-snapshot</state>
<memory snapshot=\"no\"/>
<disks>
  <disk name=\"vda\" snapshot=\"external\" type=\"file\">
    <driver type=\"qcow2\"/>
    <source file=\"$tmp/a.e1\"/>
  </disk>
  <disk name=\"vdb\" snapshot=\"external\" type=\"file\">
    <driver type=\"qcow2\"/>
    <source file=\"$tmp/b.e1\"/>
  </disk>
</disks>
"
run snapshot-dumpxml vm e1
t_check "its <domain> is the one QEMU ran, on the images" grep -q "<source file='$a'/>" "$tmp/out"
run dumpxml vm
t_check "the persistent definition is on the overlays" grep -q "<source file='$tmp/a.e1'/>" "$tmp/out"
vm_write vm vda "0x12"
vm_write vm vdb "0x22"
t_check "the guest reads what it wrote since" vm_holds vm vda "0x12 0x11"
t_check "the image under the overlay keeps the snapshot's content" holds_u "$a" "0x11 0x11"
t_check "... vdb's too" holds_u "$b" "0x21 0x21"

# ---- --diskspec: a file of our own, snapshot=no ----------------------------------------
expect_ok "--diskspec vda,file=... --diskspec vdb,snapshot=no" snapshot-create-as vm e2 --disk-only --diskspec "vda,file=$data/e2-a.qcow2" --diskspec vdb,snapshot=no
t_is "vda moved" "$(active vm vda)" "$data/e2-a.qcow2"
t_is "vdb did not" "$(active vm vdb)" "$tmp/b.e1"
expect_ok "--atomic, driver=qcow2" snapshot-create-as vm e3 --disk-only --atomic --diskspec "vda,snapshot=external,file=$data/e3-a.qcow2" --diskspec "vdb,snapshot=external,file=$data/e3-b.qcow2,driver=qcow2"
t_is "both moved" "$(active vm vda) $(active vm vdb)" "$data/e3-a.qcow2 $data/e3-b.qcow2"
expect_ok "--no-metadata" snapshot-create-as vm e4 --disk-only --no-metadata --diskspec "vda,file=$data/e4-a.qcow2" --diskspec "vdb,file=$data/e4-b.qcow2"
t_is "... the disks moved" "$(active vm vda) $(active vm vdb)" "$data/e4-a.qcow2 $data/e4-b.qcow2"
run snapshot-list vm --name
expect_stdout "... and no snapshot was recorded" "e1
e2
e3
"

# ---- the refusals of virsh's transcript 02 -----------------------------------------------
images="$data/e4-a.qcow2 $data/e4-b.qcow2"
expect_error "--quiesce without a guest agent" "error: argument unsupported: QEMU guest agent is not configured" snapshot-create-as vm e5 --disk-only --quiesce
expect_error "--quiesce --atomic too" "error: argument unsupported: QEMU guest agent is not configured" snapshot-create-as vm e5 --disk-only --quiesce --atomic
expect_error "a file that exists" "error: unsupported configuration: external snapshot file for disk vda already exists and is not a block device: $data/e3-a.qcow2" snapshot-create-as vm e6 --disk-only --diskspec "vda,file=$data/e3-a.qcow2" --diskspec vdb,snapshot=no
# (virsh: "active qemu domains require external disk snapshots; disk vda
# requested internal"; vsnap takes internal snapshots of a running domain's
# disks, seed-table-live.sh, but not with vdb external in the same snapshot)
expect_error "an internal disk next to an external one with --disk-only" "error: unsupported configuration: mixing internal and external targets for a snapshot is not yet supported" snapshot-create-as vm e7 --disk-only --diskspec vda,snapshot=internal
expect_error "an external disk without --disk-only" "error: unsupported configuration: disk 'vda' must use snapshot mode 'internal'" snapshot-create-as vm e8 --diskspec "vda,snapshot=external,file=$data/e8-a.qcow2"
expect_error "nothing selected" "error: unsupported configuration: nothing selected for snapshot" snapshot-create-as vm e9 --disk-only --diskspec vda,snapshot=no --diskspec vdb,snapshot=no
images=""
t_is "no overlay was left behind" "$(ls "$data" | tr '\n' ' ')" "e2-a.qcow2 e3-a.qcow2 e3-b.qcow2 e4-a.qcow2 e4-b.qcow2 "
expect_ok "--memspec snapshot=no with --disk-only" snapshot-create-as vm e10 --disk-only --memspec snapshot=no
t_is "default names from the disks' present images" "$(active vm vda) $(active vm vdb)" "$data/e4-a.e10 $data/e4-b.e10"
run snapshot-parent vm e10
expect_stdout "e10's parent is e3 (e4 has no metadata)" "e3"

# ---- --reuse-external ---------------------------------------------------------------------
qemu-img create -q -f qcow2 -u -b "$data/e4-a.e10" -F qcow2 "$data/r-a.qcow2" 16M || t_bail "qemu-img create"
expect_ok "--reuse-external takes a prepared overlay" snapshot-create-as vm r1 --disk-only --reuse-external --diskspec "vda,file=$data/r-a.qcow2" --diskspec vdb,snapshot=no
t_is "... vda is on it" "$(active vm vda)" "$data/r-a.qcow2"
qemu-img create -q -f qcow2 -u -b "$a" -F qcow2 "$data/wrong.qcow2" 16M
images="$data/wrong.qcow2"
expect_error "--reuse-external of a file on another image" "error: unsupported configuration: cannot reuse '$data/wrong.qcow2' for disk vda: its backing file is '$a', not the disk's current image '$data/r-a.qcow2'" snapshot-create-as vm r2 --disk-only --reuse-external --diskspec "vda,file=$data/wrong.qcow2" --diskspec vdb,snapshot=no
images=""
vm_write vm vda "- - 0x13"
t_check "every layer reads through: the guest sees all it wrote" vm_holds vm vda "0x12 0x11 0x13"

# ---- a failure after the transaction: every disk goes back, with its data ---------------------
if grep -q '^#define VSNAP_FAILPOINTS 1' "${top_builddir:-.}/config.h" 2>/dev/null; then
    VSNAP_FAILPOINT=plan-step:4 run snapshot-create-as vm f1 --disk-only
    t_is "a failure after the disks moved: status 1" "$rc" 1
    t_is "... the disks are back on their images" "$(active vm vda) $(active vm vdb)" "$data/r-a.qcow2 $data/e4-b.e10"
    t_check "... the overlays are gone" test ! -e "$data/r-a.f1" -a ! -e "$data/e4-b.f1"
    t_check "... no metadata, no journal" test ! -e "$meta/vm/snapshots/f1.xml" -a ! -e "$meta/vm/journal"
    t_check "... the guest's data is whole" vm_holds vm vda "0x12 0x11 0x13"
    t_is "... and it runs" "$(state vm)" "running (booted)"
else
    t_ok "# SKIP failpoints are not compiled in"
fi
rm -f "$data/wrong.qcow2"
run snapshot-check vm
# (--no-metadata left e3's overlays with no owner: a delete would merge them)
t_check "snapshot-check of the running domain: only what a delete would merge" \
    test "$(out | grep -v '^$' | grep -vc '^unneeded: .*(--repair does it)$')" = 0
expect_ok "snapshot-check --repair merges it through QEMU" snapshot-check vm --repair
t_check "... the guest's data is whole" vm_holds vm vda "0x12 0x11 0x13"
run snapshot-check vm
t_is "... and then the metadata and the images agree" "$rc $(out | head -1)" "0 Domain 'vm': snapshot metadata and disk images agree"

# ---- --halt: the domain stops after the snapshot --------------------------------------------------
expect_ok "--disk-only --halt" snapshot-create-as vm h1 --disk-only
expect_ok "... (delete it again while running)" snapshot-delete vm h1
expect_ok "--disk-only --halt" snapshot-create-as vm h2 --disk-only --halt
t_is "shut off (from snapshot) after the disks moved" "$(state vm)" "shut off (from snapshot)"
run domblklist vm
t_check "... the definition is on h2's overlays" grep -q "vda *$data/r-a.h2\$" "$tmp/out"
expect_ok "start again" start vm
expect_ok "delete h2 (its overlay is the active layer)" snapshot-delete vm h2

# ---- revert to a disk-only snapshot while running -----------------------------------------------
expect_ok "revert to e3 while running (no memory: QEMU stops)" snapshot-revert vm e3
t_is "shut off (from snapshot)" "$(state vm)" "shut off (from snapshot)"
t_check "... the image of e3 holds e3's data" holds_u "$data/e3-a.qcow2" "0x12 0x11"
expect_ok "revert to e3 --paused" snapshot-revert vm e3 --paused
t_is "started paused on new overlays" "$(state vm)" "paused (from snapshot)"
t_check "... e3's data is what the guest reads (not what came later)" vm_holds vm vda "0x12 0x11 0x00"
expect_ok "resume" resume vm

# ---- --quiesce through a FAKE guest agent ---------------------------------------------------------
expect_ok "destroy" destroy vm
c=$tmp/c.qcow2
make_image "$c"
live_xml qv 6b7c8d9e-2f3a-4b4c-8d5e-6f7a8b9c0d1e "vda:$c" |
    sed "s|</uuid>|</uuid>\n  <metadata><vsnap:runtime xmlns:vsnap='https://vsnap.dev/xmlns/runtime/1' agent='$tmp/agent.sock'/></metadata>|" |
    sed "s|mem-path=$ram|mem-path=$tmp/ram2|" >"$tmp/qv.xml"
must define "$tmp/qv.xml"
must start qv
FAKE_AGENT_LOG=$tmp/agent.log "$FAKE" agent "$tmp/agent.sock" & fake_pids="$fake_pids $!"
trap 'cleanup_fakes; live_cleanup' EXIT
while [ ! -S "$tmp/agent.sock" ]; do sleep 0.01; done
expect_ok "--quiesce (FAKE agent)" snapshot-create-as qv q1 --disk-only --quiesce
t_is "... frozen, then thawed" "$(grep fsfreeze "$tmp/agent.log" | tr '\n' ' ')" "guest-fsfreeze-freeze guest-fsfreeze-thaw "
t_is "... and the disk moved" "$(active qv vda)" "$tmp/c.q1"
: >"$tmp/agent.log"
expect_ok "--quiesce with the disk's internal snapshot (FAKE agent)" snapshot-create-as qv qi --disk-only --quiesce --diskspec vda,snapshot=internal
t_is "... frozen, then thawed" "$(grep fsfreeze "$tmp/agent.log" | tr '\n' ' ')" "guest-fsfreeze-freeze guest-fsfreeze-thaw "
t_is "... the internal snapshot is in the overlay QEMU writes" "$(tags_u "$tmp/c.q1")" "qi"
: >"$tmp/agent.log"
if grep -q '^#define VSNAP_FAILPOINTS 1' "${top_builddir:-.}/config.h" 2>/dev/null; then
    VSNAP_FAILPOINT=plan-step:3 run snapshot-create-as qv q2 --disk-only --quiesce
    t_is "a failure while frozen: status 1" "$rc" 1
    t_is "... thawed all the same (undo and finally)" "$(grep -c fsfreeze-thaw "$tmp/agent.log" | tr -d ' ')" 2
    t_is "... the guest's file systems are thawed" "$(tail -1 "$tmp/agent.log")" "guest-fsfreeze-thaw"
    : >"$tmp/agent.log"
    VSNAP_FAILPOINT=plan-step:3:kill run snapshot-create-as qv q3 --disk-only --quiesce
    t_is "vsnap killed while the guest is frozen" "$(grep fsfreeze "$tmp/agent.log" | tr '\n' ' ')" "guest-fsfreeze-freeze "
    expect_ok "snapshot-check --repair" snapshot-check qv --repair
    t_is "... thaws it" "$(grep fsfreeze "$tmp/agent.log" | tail -1)" "guest-fsfreeze-thaw"
    t_is "... and rolled the snapshot back" "$(active qv vda)" "$tmp/c.q1"
else
    t_ok "# SKIP failpoints are not compiled in"
fi
# an agent that never answers the freeze: bounded, and nothing changed
kill $fake_pids 2>/dev/null
wait 2>/dev/null
rm -f "$tmp/agent.sock"
FAKE_AGENT_LOG=$tmp/agent.log "$FAKE" agent-hang "$tmp/agent.sock" & fake_pids="$fake_pids $!"
while [ ! -S "$tmp/agent.sock" ]; do sleep 0.01; done
t0=$(date +%s)
VSNAP_AGENT_TIMEOUT=2 run snapshot-create-as qv q4 --disk-only --quiesce
t_is "a freeze that never ends fails" "$rc" 1
t_check "... within the agent's timeout (VSNAP_AGENT_TIMEOUT=2)" test $(($(date +%s) - t0)) -le 8
t_is "... the disk did not move" "$(active qv vda)" "$tmp/c.q1"
expect_ok "destroy" destroy qv
t_check "every image is clean" sh -c "for f in '$a' '$b' '$tmp/a.e1' '$data'/*.qcow2; do qemu-img check -q \"\$f\" || exit 1; done"
t_done
