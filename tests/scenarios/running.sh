#!/bin/bash
# Running domains through the vsnap binary, against a real
# qemu-system-x86_64 (TCG, 32 MiB, no guest OS): start, --paused, suspend,
# resume, destroy, shutdown that times out, domstate --reason, list filters,
# stale pid and socket files, QEMU killed from outside, QEMU that quit by
# itself, qemu-monitor-command (a pattern written through the running QEMU,
# read back after destroy), a QEMU started by someone else (attach), a FAKE
# monitor that sends garbage, a FAKE guest agent, undefine's refusal while
# QEMU holds the images, and a metadata path too long for a socket address.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"

command -v qemu-system-x86_64 >/dev/null || { echo "1..0 # SKIP qemu-system-x86_64 not found"; exit 0; }
FAKE=${top_builddir:-.}/tests/fake-qmp-peer
ext_pids=""
cleanup() {
    local f p
    for f in "$meta"/*/run/pid "$long"/*/*/run/pid; do
        [ -f "$f" ] && p=$(cat "$f") && kill -9 "$p" 2>/dev/null
    done
    for p in $ext_pids; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
long=$tmp/l
trap cleanup EXIT

make_image "$tmp/a.qcow2"
make_image "$tmp/b.qcow2"
images="$tmp/a.qcow2 $tmp/b.qcow2"
define_domain anchor 11111111-2222-3333-4444-555555555555 "vda:$tmp/a.qcow2" "vdb:$tmp/b.qcow2"
run_dir=$meta/anchor/run

# state DOMAIN: domstate --reason's line
state() { run domstate "$1" --reason; out | head -1; }
qemu_pid() { cat "$run_dir/pid" 2>/dev/null; }

t_is "a new domain is shut off (unknown)" "$(state anchor)" "shut off (unknown)"
must snapshot-create-as anchor before

# ---- start -------------------------------------------------------------
t0=$(date +%s%N)
expect_ok "start" start anchor
t1=$(date +%s%N)
expect_stdout "start prints virsh's line" "Domain 'anchor' started
"
echo "# start took $(((t1 - t0) / 1000000)) ms"
t_is "running (booted)" "$(state anchor)" "running (booted)"
pid=$(qemu_pid)
t_check "QEMU's pid file names a live QEMU" kill -0 "${pid:-0}"
t_is "run directory is 0700" "$(stat -c %a "$run_dir")" 700
t_is "monitor socket is 0600" "$(stat -c '%a %F' "$run_dir/monitor.sock")" "600 socket"
t_check "QEMU's command line is logged" grep -q -- "-S -no-user-config -nodefaults" "$run_dir/qemu.log"
run list
t_is "list shows the running domain with its id (QEMU's pid)" "$(out | sed -n 3p | awk '{print $1, $2, $3}')" "$pid anchor running"
run list --state-running --name
expect_stdout "list --state-running --name" "anchor
"
run list --state-paused --name
expect_stdout "list --state-paused: none" ""
run list --all --state-shutoff --name
expect_stdout "list --all --state-shutoff: none" ""
run list --inactive --name
expect_stdout "list --inactive: none" ""
expect_error "start of a running domain" "error: Domain is already active" start anchor
# A relative -d names the same store: the running QEMU is recognised (its
# command line names run/ by the absolute path), not taken for a crashed one
# whose socket and pid file are cleaned away; `cd` in a string moves nothing.
rel_state=$(cd "$(dirname "$meta")" && "$VSNAP" -d "$(basename "$meta")" domstate anchor --reason 2>&1)
t_is "a relative -d sees the running domain" "$rel_state" "running (booted)"
rel_state=$(cd "$(dirname "$meta")" && "$VSNAP" -d "$(basename "$meta")" 'cd /; domstate anchor --reason' 2>&1 | grep -v '^$' | tail -n 1)
t_is "... also after cd in a command string" "$rel_state" "running (booted)"
t_check "... and the pid file and monitor socket are still there" test -f "$run_dir/pid" -a -S "$run_dir/monitor.sock"

# ---- what stays refused while QEMU holds the images --------------------------
# (live snapshots themselves: tests/scenarios/live-internal.sh)
expect_error "undefine of a running domain is refused" "error: Failed to undefine domain 'anchor'
error: Requested operation is not valid: domain 'anchor' is running: vsnap undefines only shut-off domains; shut it down or destroy it first" undefine anchor --snapshots-metadata
t_is "the image still has only its offline snapshot" "$(qemu-img snapshot -U -l "$tmp/a.qcow2" | awk 'NR > 2 {print $2}')" "before"

# ---- the monitor -----------------------------------------------------------
expect_ok "qemu-monitor-command --hmp writes through the running QEMU" \
    qemu-monitor-command anchor --hmp 'qemu-io -d vda/virtio-backend "write -P 0x11 0 1M"'
run qemu-monitor-command anchor '{"execute":"query-status"}'
t_is "qemu-monitor-command: QMP reply as one line" "$(out | head -1 | sed 's/"id":"[^"]*"/ID/')" \
    '{"return":{"status":"running","singlestep":false,"running":true},ID}'
run qemu-monitor-command anchor --pretty query-status --return-value
expect_stdout "--pretty --return-value with a bare command name" '{
  "status": "running",
  "singlestep": false,
  "running": true
}
'
run qemu-monitor-command anchor --hmp info status
t_is "--hmp info status: HMP's text (CRLF as QEMU sends it), a newline, virsh's empty line" \
    "$(od -An -c "$tmp/out" | tr -s ' ' | tr -d '\n')" " V M s t a t u s : r u n n i n g \r \n \n \n"

# ---- suspend, resume, shutdown --------------------------------------------
expect_ok "suspend" suspend anchor
expect_stdout "suspend prints virsh's line" "Domain 'anchor' suspended
"
t_is "paused (user)" "$(state anchor)" "paused (user)"
run list --state-paused --name
expect_stdout "list --state-paused" "anchor
"
run qemu-monitor-command anchor --hmp info status
t_is "QEMU is paused" "$(out | tr -d '\r' | head -1)" "VM status: paused"
expect_ok "resume" resume anchor
expect_stdout "resume prints virsh's line" "Domain 'anchor' resumed
"
t_is "running (unpaused)" "$(state anchor)" "running (unpaused)"
expect_ok "resume of a running domain does nothing, as virsh" resume anchor

t0=$(date +%s)
run shutdown anchor --timeout 1
t_is "shutdown of a guest without an OS: status 1" "$rc" 1
expect_stdout "shutdown prints virsh's line first" "Domain 'anchor' is being shutdown
"
t_is "... then says it timed out and that destroy forces it" "$(err)" \
    "error: operation timed out: domain 'anchor' did not shut down within 1 seconds: the guest did not react to the ACPI power button (a guest without an OS, or with ACPI off, never does); 'vsnap destroy anchor' forces it off"
t_check "... within its timeout" test $(($(date +%s) - t0)) -le 3
t_is "still running" "$(state anchor)" "running (unpaused)"

# ---- destroy -----------------------------------------------------------------
expect_ok "destroy" destroy anchor
expect_stdout "destroy prints virsh's line" "Domain 'anchor' destroyed
"
t_is "shut off (destroyed)" "$(state anchor)" "shut off (destroyed)"
# gone, or a zombie of a parent that does not reap
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
t_check "QEMU is gone" gone "$pid"
t_check "no pid file or socket left" test ! -e "$run_dir/pid" -a ! -e "$run_dir/monitor.sock"
t_check "the pattern written through QEMU is in the image" pattern_ok "$tmp/a.qcow2" 0x11
for c in destroy suspend resume shutdown; do
    w=$c
    [ $c = shutdown ] && w=shutdown
    expect_error "$c of a shut-off domain" "error: Failed to $w domain 'anchor'
error: Requested operation is not valid: domain is not running" $c anchor
done
expect_error "qemu-monitor-command on a shut-off domain" \
    "error: Requested operation is not valid: domain is not running" qemu-monitor-command anchor query-status
expect_error "qemu-agent-command on a shut-off domain" \
    "error: Requested operation is not valid: domain is not running" qemu-agent-command anchor '{"execute":"guest-ping"}'

# ---- --paused ----------------------------------------------------------------
expect_ok "start --paused" start anchor --paused
t_is "paused (user) after start --paused" "$(state anchor)" "paused (user)"
run qemu-monitor-command anchor --return-value query-status
t_check "QEMU never ran the guest (prelaunch)" grep -q '"status":"prelaunch"' "$tmp/out"
expect_error "qemu-agent-command without an agent channel" \
    "error: argument unsupported: QEMU guest agent is not configured" qemu-agent-command anchor '{"execute":"guest-ping"}'
expect_ok "resume after start --paused" resume anchor
t_is "running (unpaused)" "$(state anchor)" "running (unpaused)"

# ---- QEMU killed from outside, QEMU that quit, stale files -------------------
pid=$(qemu_pid)
kill -9 "$pid"
while ! gone "$pid"; do sleep 0.01; done
t_is "QEMU killed from outside: shut off (crashed)" "$(state anchor)" "shut off (crashed)"
t_check "its pid file and socket are cleaned up" test ! -e "$run_dir/pid" -a ! -e "$run_dir/monitor.sock"
expect_ok "start again" start anchor
pid=$(qemu_pid)
run qemu-monitor-command anchor '{"execute":"quit"}'
while ! gone "$pid"; do sleep 0.01; done
t_is "QEMU that ended by itself: shut off (shutdown)" "$(state anchor)" "shut off (shutdown)"
sleep 0.01 & dead=$!
wait $dead
printf '%s\n' "$dead" >"$run_dir/pid"
: >"$run_dir/monitor.sock"
echo "running booted $dead" >"$run_dir/state"
run list --all
t_is "stale pid file and socket: list says shut off" "$(out | sed -n 3p | awk '{print $1, $2, $3, $4}')" "- anchor shut off"
t_is "stale pid file and socket: shut off (crashed)" "$(state anchor)" "shut off (crashed)"
t_check "stale files removed" test ! -e "$run_dir/pid" -a ! -e "$run_dir/monitor.sock"
expect_ok "start after stale files" start anchor
expect_ok "destroy" destroy anchor

# ---- a QEMU started by someone else (attach) ---------------------------------
make_image "$tmp/ext.qcow2"
qemu-system-x86_64 -machine pc,accel=tcg -m 32 -nodefaults -display none -no-user-config \
    -qmp "unix:$tmp/ext.qmp,server=on,wait=off" -pidfile "$tmp/ext.pid" -daemonize \
    -blockdev "{\"driver\":\"file\",\"filename\":\"$tmp/ext.qcow2\",\"node-name\":\"f0\"}" \
    -blockdev '{"driver":"qcow2","file":"f0","node-name":"q0"}' -device virtio-blk-pci,drive=q0,id=vda ||
    t_bail "external QEMU did not start"
ext=$(cat "$tmp/ext.pid")
ext_pids="$ext_pids $ext"
cat >"$tmp/ext.xml" <<EOF
<domain type='qemu'>
  <name>ext</name>
  <uuid>22222222-3333-4444-5555-666666666666</uuid>
  <metadata>
    <vsnap:runtime xmlns:vsnap="https://vsnap.dev/xmlns/runtime/1" monitor="$tmp/ext.qmp" agent="$tmp/ext.qga"/>
  </metadata>
  <memory unit='KiB'>32768</memory>
  <os>
    <type arch='x86_64'>hvm</type>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$tmp/ext.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
EOF
must define "$tmp/ext.xml"
t_is "attached QEMU: running" "$(state ext)" "running (unknown)"
run list --name
expect_stdout "list shows the attached domain" "ext
"
run list
t_is "... with its pid as id" "$(out | sed -n 3p | awk '{print $1}')" "$ext"
expect_ok "suspend an attached QEMU" suspend ext
t_is "attached: paused (user)" "$(state ext)" "paused (user)"
expect_ok "resume an attached QEMU" resume ext
expect_ok "qemu-monitor-command on an attached QEMU" qemu-monitor-command ext --hmp 'qemu-io -d vda/virtio-backend "write -P 0x22 0 64k"'
expect_error "destroy refuses to kill a QEMU vsnap did not start" "error: Failed to destroy domain 'ext'
error: Requested operation is not valid: domain 'ext' is run by another program (its monitor is '$tmp/ext.qmp', from <vsnap:runtime>): vsnap never kills a QEMU it did not start; use 'vsnap shutdown ext' or the program that started it" destroy ext
t_check "the attached QEMU still runs" kill -0 "$ext"
expect_ok "an internal snapshot through an attached QEMU" snapshot-create-as ext e1
t_is "... is in its image" "$(qemu-img snapshot -U -l "$tmp/ext.qcow2" | awk 'NR > 2 {print $2}')" "e1"
t_is "... and the attached QEMU runs on" "$(state ext)" "running (unpaused)"
expect_error "--halt is refused for a QEMU vsnap did not start" "error: Requested operation is not valid: domain 'ext' is run by another program (<vsnap:runtime>): vsnap does not stop its QEMU, so --halt cannot be used" snapshot-create-as ext e2 --halt
"$FAKE" agent "$tmp/ext.qga" & fake_agent=$!
ext_pids="$ext_pids $fake_agent"
while [ ! -S "$tmp/ext.qga" ]; do sleep 0.01; done
run qemu-agent-command ext '{"execute":"guest-info"}'
t_is "qemu-agent-command through the named agent socket (FAKE agent)" "$(out | head -1 | sed 's/"id":"[^"]*"/ID/')" '{"return":{"fake-agent":true},ID}'
kill "$fake_agent"
kill "$ext"
while ! gone "$ext"; do sleep 0.01; done
t_is "attached QEMU gone: shut off" "$(state ext)" "shut off (unknown)"
expect_error "start refuses a domain another program runs" "error: Failed to start domain 'ext'
error: Requested operation is not valid: domain 'ext' is run by another program (its monitor is '$tmp/ext.qmp', from <vsnap:runtime>): vsnap does not start it" start ext
t_check "the write through the attached QEMU reached its image" pattern_ok "$tmp/ext.qcow2" 0x22

# ---- a FAKE monitor that sends garbage -----------------------------------------
"$FAKE" garbage "$tmp/ext.qmp" & fake=$!
ext_pids="$ext_pids $fake"
while [ ! -S "$tmp/ext.qmp" ]; do sleep 0.01; done
t0=$(date +%s)
run domstate ext
t_is "garbage from the monitor: status 1" "$rc" 1
t_is "... one error line" "$(err | wc -l)" 1
t_check "... naming the monitor" grep -q "^error: internal error: cannot parse the reply from the QEMU monitor at '$tmp/ext.qmp'" "$tmp/err"
t_check "... at once" test $(($(date +%s) - t0)) -le 2
kill "$fake"

# ---- a metadata path too long for a socket address ------------------------------
deep=$long/$(printf 'd%.0s' $(seq 1 60))/$(printf 'e%.0s' $(seq 1 60))
mkdir -p "$deep"
"$VSNAP" -d "$deep" define "$tmp/anchor.xml" >/dev/null 2>&1
if "$VSNAP" -d "$deep" start anchor >"$tmp/out" 2>"$tmp/err"; then
    t_ok "start with a run directory path of $(printf '%s' "$deep/anchor/run/monitor.sock" | wc -c) bytes"
else
    t_not_ok "start with a long run directory path"
    t_diag "$tmp/err"
fi
t_is "... and it answers" "$("$VSNAP" -d "$deep" domstate anchor 2>&1 | head -1)" "running"
"$VSNAP" -d "$deep" -q destroy anchor >/dev/null 2>&1

# ---- a guest that powers off while shutdown waits ---------------------------
# No guest OS here reacts to the power button; SIGTERM makes QEMU end the way
# a powered-off guest does (a SHUTDOWN event, then exit).
expect_ok "start" start anchor
pid=$(qemu_pid)
# SIGTERM once the button was pressed (vsnap printed its line), not before
"$VSNAP" -d "$meta" shutdown anchor --timeout 60 >"$tmp/out" 2>"$tmp/err" </dev/null &
sd=$!
for i in $(seq 1 3000); do grep -q "is being shutdown" "$tmp/out" 2>/dev/null && break; sleep 0.01; done
kill -TERM "$pid"
wait $sd
rc=$?
t_is "shutdown succeeds when the guest goes off within the wait" "$rc" 0
expect_stdout "... printing virsh's line" "Domain 'anchor' is being shutdown
"
t_is "shut off (shutdown)" "$(state anchor)" "shut off (shutdown)"
expect_ok "start" start anchor
t0=$(date +%s%N)
expect_ok "shutdown --timeout 0 returns at once, as virsh" shutdown anchor --timeout 0
t_check "... without waiting (the default wait is 60 s)" test $((($(date +%s%N) - t0) / 1000000)) -lt 15000
expect_ok "destroy" destroy anchor

# ---- every translated device, in a real QEMU ---------------------------------
make_image "$tmp/s.qcow2"
make_image "$tmp/c.qcow2"
qemu-img create -q -f raw "$tmp/cd.iso" 1M
head -c 262144 /dev/zero >"$tmp/code.fd"
head -c 131072 /dev/zero >"$tmp/vars-template.fd"
cat >"$tmp/full.xml" <<EOF
<domain type='qemu'>
  <name>full</name>
  <uuid>33333333-4444-5555-6666-777777777777</uuid>
  <memory unit='MiB'>48</memory>
  <vcpu placement='static' current='1'>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <loader readonly='yes' type='pflash'>$tmp/code.fd</loader>
    <nvram template='$tmp/vars-template.fd'>$tmp/vars.fd</nvram>
    <boot dev='cdrom'/>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='forbid'>qemu64</model>
  </cpu>
  <clock offset='utc'>
    <timer name='rtc' tickpolicy='catchup'/>
  </clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='writeback' discard='unmap'/>
      <source file='$tmp/s.qcow2'/>
      <target dev='sda' bus='sata'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$tmp/c.qcow2'/>
      <target dev='sdb' bus='scsi'/>
      <serial>SCSI-1</serial>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='$tmp/cd.iso'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <controller type='usb' index='0' model='qemu-xhci'/>
    <controller type='scsi' index='0' model='virtio-scsi'/>
    <interface type='user'>
      <mac address='52:54:00:aa:bb:cc'/>
      <model type='virtio'/>
    </interface>
    <serial type='pty'>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <input type='tablet' bus='usb'/>
    <input type='mouse' bus='ps2'/>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1' passwd='pw'/>
    <video>
      <model type='vga' vram='16384' heads='1' primary='yes'/>
    </video>
    <audio id='1' type='none'/>
    <memballoon model='virtio'/>
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
    </rng>
  </devices>
</domain>
EOF
must define "$tmp/full.xml"
run start full
if [ "$rc" = 0 ]; then t_ok "a domain with every translated device starts in QEMU"; else t_not_ok "a domain with every translated device starts in QEMU"; t_diag "$tmp/err"; fi
t_check "... its NVRAM was copied from the template" cmp -s "$tmp/vars.fd" "$tmp/vars-template.fd"
run qemu-monitor-command full --return-value query-block
t_check "... its disks are the named nodes" grep -q '"node-name":"vsnap-sda-0-format"' "$tmp/out"
run qemu-monitor-command full --hmp info vnc
t_check "... VNC listens, with a password" grep -q "Auth: vnc" "$tmp/out"
t_check "... the serial console goes to its log" test -f "$meta/full/run/serial0.log"
t_is "... the agent socket is there (0600)" "$(stat -c '%a %F' "$meta/full/run/agent.sock")" "600 socket"
t0=$(date +%s)
expect_error "qemu-agent-command with no agent in the guest: not responding, within --timeout" \
    "error: Guest agent is not responding: Guest agent not available for now" \
    qemu-agent-command full --timeout 1 '{"execute":"guest-ping"}'
t_check "... in about a second" test $(($(date +%s) - t0)) -le 3
expect_ok "destroy" destroy full

# ---- snapshot-revert --reset-nvram ------------------------------------------
# Every QEMU the revert starts first re-creates the NVRAM from its template
# (libvirt's "on start"); a running domain is then restarted, not loaded in
# place; a revert that starts nothing leaves NVRAM alone.
make_image "$tmp/nv.qcow2"
head -c 131072 /dev/zero | tr '\0' '\125' >"$tmp/nv-template.fd"
nv_xml() {
    cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>32</memory>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <loader readonly='yes' type='pflash'>$tmp/code.fd</loader>
    <nvram$2>$tmp/$1-vars.fd</nvram>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$tmp/$1.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
EOF
}
nv_xml nv " template='$tmp/nv-template.fd'" >"$tmp/nv.xml"
must define "$tmp/nv.xml"
must start nv
must destroy nv
# (internal snapshots of a running pflash domain need a qcow2 NVRAM, as
# libvirt says: these are external)
must snapshot-create-as nv s1 --disk-only
# the guest's firmware changed its variables since
printf 'CHANGED' | dd of="$tmp/nv-vars.fd" conv=notrunc status=none
cp "$tmp/nv-vars.fd" "$tmp/nv-changed.fd"
run snapshot-revert nv s1 --running --reset-nvram --dry-run
t_check "--reset-nvram --dry-run says the start re-creates the NVRAM" grep -q "its NVRAM re-created from its template first" "$tmp/out"
t_check "... and changes nothing" cmp -s "$tmp/nv-vars.fd" "$tmp/nv-changed.fd"
expect_ok "revert --running without --reset-nvram" snapshot-revert nv s1 --running
t_check "... keeps the changed NVRAM" cmp -s "$tmp/nv-vars.fd" "$tmp/nv-changed.fd"
must destroy nv
expect_ok "revert --running --reset-nvram of a shut-off domain" snapshot-revert nv s1 --running --reset-nvram
t_is "... runs" "$(state nv | cut -d' ' -f1)" "running"
t_check "... on NVRAM re-created from the template" cmp -s "$tmp/nv-vars.fd" "$tmp/nv-template.fd"
nvpid=$(cat "$meta/nv/run/pid")
printf 'CHANGED' | dd of="$tmp/nv-vars.fd" conv=notrunc status=none
expect_ok "revert --running --reset-nvram of the running domain" snapshot-revert nv s1 --running --reset-nvram
t_check "... starts a new QEMU" test "$(cat "$meta/nv/run/pid")" != "$nvpid"
t_is "... which runs" "$(state nv | cut -d' ' -f1)" "running"
t_check "... on NVRAM re-created from the template" cmp -s "$tmp/nv-vars.fd" "$tmp/nv-template.fd"
# an external full-system snapshot: the new QEMU is fed the memory file
must snapshot-create-as nv m1 --memspec "file=$tmp/nv-m1.mem,snapshot=external" --diskspec "vda,snapshot=external,file=$tmp/nv-m1.qcow2"
must destroy nv
printf 'CHANGED' | dd of="$tmp/nv-vars.fd" conv=notrunc status=none
expect_ok "revert --reset-nvram to an external full-system snapshot" snapshot-revert nv m1 --reset-nvram
t_is "... runs" "$(state nv | cut -d' ' -f1)" "running"
t_check "... on NVRAM re-created from the template" cmp -s "$tmp/nv-vars.fd" "$tmp/nv-template.fd"
must destroy nv
printf 'CHANGED' | dd of="$tmp/nv-vars.fd" conv=notrunc status=none
cp "$tmp/nv-vars.fd" "$tmp/nv-changed.fd"
expect_ok "--reset-nvram on a revert that starts no QEMU" snapshot-revert nv s1 --reset-nvram
t_is "... the domain stays shut off" "$(state nv | cut -d' ' -f1,2)" "shut off"
t_check "... and its NVRAM alone (nothing starts, as libvirt)" cmp -s "$tmp/nv-vars.fd" "$tmp/nv-changed.fd"
# <nvram> without a template: refused before anything changes
make_image "$tmp/nt.qcow2"
nv_xml nt "" >"$tmp/nt.xml"
cp "$tmp/nv-template.fd" "$tmp/nt-vars.fd"
must define "$tmp/nt.xml"
must snapshot-create-as nt s1 --disk-only
cp "$tmp/nt-vars.fd" "$tmp/nt-before.fd"
expect_error "--reset-nvram without a template is refused" \
    "error: Failed to revert snapshot s1
error: Requested operation is not valid: cannot re-initialize NVRAM of domain 'nt': <nvram> names no template to re-create '$tmp/nt-vars.fd' from" \
    snapshot-revert nt s1 --running --reset-nvram
t_is "... the domain stays shut off" "$(state nt | cut -d' ' -f1,2)" "shut off"
t_check "... its NVRAM untouched" cmp -s "$tmp/nt-vars.fd" "$tmp/nt-before.fd"
t_check "... and no QEMU runs it" test ! -e "$meta/nt/run/pid"

# ---- KVM ---------------------------------------------------------------------------
sed "s/<domain type='qemu'>/<domain type='kvm'>/; s/<name>anchor</<name>k</; s/11111111-2222/11111111-9999/" \
    "$tmp/anchor.xml" >"$tmp/k.xml"
must define "$tmp/k.xml"
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    expect_ok "a kvm domain starts where /dev/kvm works" start k
    t_check "... with KVM" grep -q "accel=kvm" "$meta/k/run/qemu.log"
    expect_ok "destroy" destroy k
else
    expect_error "a kvm domain without /dev/kvm" "error: Failed to start domain 'k'
error: unsupported configuration: vsnap cannot start domain 'k': <domain type='kvm'> needs /dev/kvm, which cannot be used here; use <domain type='qemu'> for emulation (TCG)" start k
fi

t_done
