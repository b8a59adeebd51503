#!/bin/bash
# Internal full-system snapshots of a running domain against a real
# qemu-system-x86_64 (TCG, 32 MiB, no guest OS): snapshot-create of a
# running and of a paused domain (QEMU's snapshot-save job, every disk and
# the memory), revert while running in the same QEMU (snapshot-load: the pid
# stays), --running and --paused, revert from shut off (QEMU started and
# loaded), revert to a snapshot without memory (QEMU stops), a changed device
# set (QEMU replaced), delete while running (snapshot-delete job), --halt,
# the refusals, and a failure in the middle that is undone with the guest
# running again. State is proven, not exit codes: disk patterns written and
# read through the running QEMU, guest RAM set through its backing file and
# read back with pmemsave, the images' snapshot tables, the QEMU pid.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
. "${top_srcdir:-.}/tests/scenarios/live-lib.sh"

a=$tmp/a.qcow2
b=$tmp/b.qcow2
make_image "$a"
make_image "$b"
live_define vm 7c1d2e3f-4a5b-4c6d-8e7f-901234567890 "vda:$a" "vdb:$b"
must snapshot-create-as vm off1 --description "taken shut off"

# ---- a running domain: snapshot, change, snapshot while paused ---------------
expect_ok "start" start vm
pid=$(qemu_pid vm)
vm_write vm vda "0x11 0x11"
vm_write vm vdb "0x21 0x21"
ram_put A
t_check "RAM holds A (pmemsave)" ram_is vm A

expect_ok "snapshot-create-as of a running domain" snapshot-create-as vm s1 --description "first, running"
expect_stdout "... prints virsh's line" "Domain snapshot s1 created"
t_is "the guest runs again (unpaused)" "$(state vm)" "running (unpaused)"
t_is "vda holds s1 (and off1)" "$(tags_u "$a")" "off1 s1"
t_is "vdb holds s1 too: every disk is listed" "$(tags_u "$b")" "off1 s1"
t_check "the memory state is in vda" sh -c "qemu-img snapshot -U -l '$a' | awk '\$2 == \"s1\" && \$3 != \"0\"' | grep -q s1"
run snapshot-dumpxml vm s1
t_check "state running, memory internal, both disks internal" \
    grep -qz "<state>running</state>.*<memory snapshot='internal'/>.*<disk name='vda' snapshot='internal'/>.*<disk name='vdb' snapshot='internal'/>" "$tmp/out"
t_check "<domain> and <inactiveDomain>" grep -qz "<domain type='qemu'[^>]*>.*</domain>.*<inactiveDomain type='qemu'[^>]*>.*</inactiveDomain>" "$tmp/out"

vm_write vm vda "0x12"
vm_write vm vdb "0x22"
ram_put B
expect_ok "suspend" suspend vm
expect_ok "snapshot of a paused domain" snapshot-create-as vm s2
t_is "it stays paused" "$(state vm)" "paused (user)"
run snapshot-dumpxml vm s2 --xpath '/domainsnapshot/state|/domainsnapshot/memory'
expect_stdout "s2: state paused, memory internal" '<state>paused</state>
<memory snapshot="internal"/>
'
expect_ok "resume" resume vm
vm_write vm vda "0x13 0x13"
ram_put C

run snapshot-list vm --active --name
expect_stdout "--active: the snapshots with memory" "s1
s2
"
run snapshot-list vm --inactive --name
expect_stdout "--inactive: the one taken shut off" "off1
"
run snapshot-info vm s1
t_check "snapshot-info: State running, Location internal" grep -qz "State:          running.*Location:       internal" "$tmp/out"

# ---- revert while running: the same QEMU loads the snapshot -------------------
t0=$(date +%s%N)
expect_ok "revert to s1 while running" snapshot-revert vm s1
echo "# revert took $((($(date +%s%N) - t0) / 1000000)) ms"
t_is "running (from snapshot)" "$(state vm)" "running (from snapshot)"
t_is "the same QEMU (no restart)" "$(qemu_pid vm)" "$pid"
t_check "RAM is s1's (A)" ram_is vm A
t_check "vda is s1's" vm_holds vm vda "0x11 0x11"
t_check "vdb is s1's" vm_holds vm vdb "0x21 0x21"
run snapshot-current vm --name
expect_stdout "current is s1" "s1"

expect_ok "revert to s2 (taken paused)" snapshot-revert vm s2
t_is "paused (from snapshot), as s2 was" "$(state vm)" "paused (from snapshot)"
t_check "RAM is s2's (B)" ram_is vm B
t_check "vda is s2's" vm_holds vm vda "0x12 0x11"
t_check "vdb is s2's" vm_holds vm vdb "0x22 0x21"
expect_ok "revert to s2 --running" snapshot-revert vm s2 --running
t_is "--running runs it" "$(state vm)" "running (from snapshot)"
expect_ok "revert to s1 --paused" snapshot-revert vm s1 --paused
t_is "--paused pauses it" "$(state vm)" "paused (from snapshot)"
t_check "RAM is s1's (A) again" ram_is vm A
expect_error "--running and --paused together" "error: Failed to revert snapshot s1
error: Flags 'VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING' and 'VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED' are mutually exclusive" snapshot-revert vm s1 --running --paused
expect_ok "resume" resume vm
t_is "the same QEMU all along" "$(qemu_pid vm)" "$pid"

# ---- the refusals -----------------------------------------------------------------
images="$a $b"
expect_error "--live without external memory" "error: Operation not supported: live snapshot creation is supported only during full system snapshots" snapshot-create-as vm x --live
expect_error "memory 'no' while running" "error: Operation not supported: internal snapshot of a running VM must include the memory state" snapshot-create-as vm x --memspec snapshot=no
expect_error "an external disk without --disk-only" "error: unsupported configuration: disk 'vda' must use snapshot mode 'internal'" snapshot-create-as vm x --diskspec vda,snapshot=external,file=$tmp/x.qcow2
expect_error "a name that exists" "error: operation failed: domain moment s1 already exists" snapshot-create-as vm s1
touch "$tmp/x.mem"
expect_error "external memory into an existing file (live-memory.sh tests the rest)" "error: Requested operation is not valid: memory state file '$tmp/x.mem' already exists: vsnap never writes over a file; remove it or choose another name" snapshot-create-as vm x --memspec file=$tmp/x.mem,snapshot=external
rm -f "$tmp/x.mem"
images=""
t_is "the guest still runs" "$(state vm)" "running (unpaused)"

# ---- a failure after the snapshot was taken is undone, the guest runs ---------------
ram_put D
run snapshot-create-as vm sfail
# (no failpoints compiled in: the step above just succeeded)
if grep -q '^#define VSNAP_FAILPOINTS 1' "${top_builddir:-.}/config.h" 2>/dev/null; then
    must snapshot-delete vm sfail
    VSNAP_FAILPOINT=plan-step:3 run snapshot-create-as vm sfail
    t_is "a failure before the commit point: status 1" "$rc" 1
    t_is "... the snapshot taken is deleted again" "$(tags_u "$a")" "off1 s1 s2"
    t_is "... from every disk" "$(tags_u "$b")" "off1 s1 s2"
    t_is "... the guest runs again" "$(state vm)" "running (unpaused)"
    run snapshot-list vm --name
    t_check "... no metadata" test "$(out | grep -c sfail)" = 0
    t_check "... no journal" test ! -e "$meta/vm/journal"
else
    t_ok "# SKIP failpoints are not compiled in"
    must snapshot-delete vm sfail
fi

# ---- delete while running ---------------------------------------------------------------
expect_ok "delete s2 while running" snapshot-delete vm s2
expect_stdout "... virsh's line" "Domain snapshot s2 deleted
"
t_is "s2 is gone from vda" "$(tags_u "$a")" "off1 s1"
t_is "... and from vdb" "$(tags_u "$b")" "off1 s1"
t_is "the guest runs on" "$(state vm)" "running (unpaused)"
t_check "s1 is still whole: revert" vm_holds vm vda "0x11 0x11"
expect_ok "--metadata while running touches no image" snapshot-create-as vm s3
expect_ok "... delete s3 --metadata" snapshot-delete vm s3 --metadata
t_is "... s3 stays in the image" "$(tags_u "$a")" "off1 s1 s3"
hmp vm 'delvm s3'
expect_ok "snapshot-check of a running domain" snapshot-check vm

# ---- --halt, then revert from shut off ---------------------------------------------------
vm_write vm vda "0x14"
ram_put E
expect_ok "snapshot --halt" snapshot-create-as vm sh --halt
t_is "shut off (from snapshot)" "$(state vm)" "shut off (from snapshot)"
t_check "QEMU is gone" gone "$pid"
ram_put F
expect_ok "revert to sh from shut off" snapshot-revert vm sh
t_is "QEMU started and loaded it: running (from snapshot)" "$(state vm)" "running (from snapshot)"
t_check "RAM is sh's (E)" ram_is vm E
t_check "vda is sh's" vm_holds vm vda "0x14 0x11"
expect_ok "destroy" destroy vm
expect_ok "revert to s1 --paused from shut off" snapshot-revert vm s1 --paused
t_is "paused (from snapshot)" "$(state vm)" "paused (from snapshot)"
t_check "RAM is s1's (A)" ram_is vm A
t_check "vda is s1's" vm_holds vm vda "0x11 0x11"
expect_ok "resume" resume vm

# ---- a snapshot without memory: QEMU stops ---------------------------------------------------
pid=$(qemu_pid vm)
expect_ok "revert to off1 (taken shut off) while running" snapshot-revert vm off1
t_is "shut off (from snapshot)" "$(state vm)" "shut off (from snapshot)"
t_check "QEMU is gone" gone "$pid"
t_check "vda is off1's (empty)" pattern_ok "$a" 0x00
expect_ok "revert to off1 --running" snapshot-revert vm off1 --running
t_is "... started: running (from snapshot)" "$(state vm)" "running (from snapshot)"

# ---- the device set changed: QEMU is replaced ------------------------------------------------
expect_ok "destroy" destroy vm
c=$tmp/c.qcow2
make_image "$c"
live_define vm 7c1d2e3f-4a5b-4c6d-8e7f-901234567890 "vda:$a" "vdb:$b" "vdc:$c"
expect_ok "start with a third disk" start vm
pid=$(qemu_pid vm)
expect_ok "revert to s1 (two disks)" snapshot-revert vm s1
t_is "running (from snapshot)" "$(state vm)" "running (from snapshot)"
t_check "a new QEMU" test "$(qemu_pid vm)" != "$pid"
t_check "RAM is s1's (A)" ram_is vm A
t_check "vda is s1's" vm_holds vm vda "0x11 0x11"
run domblklist vm
t_check "the definition is s1's again: no vdc" sh -c "! grep -q vdc '$tmp/out'"
expect_ok "destroy" destroy vm
t_check "every image is clean" sh -c "qemu-img check -q '$a' && qemu-img check -q '$b'"
t_done
