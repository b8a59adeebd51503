# Shared by the live snapshot scenarios (live-*.sh): a running domain whose
# disk content and guest RAM the test can set and read back while QEMU runs.
#   - disk: patterns written through the running QEMU (HMP qemu-io on the
#     guest device), read back through it (QEMU 7.2 prints qemu-io's output
#     to its log, run/qemu.log), one byte per 64 KiB region;
#   - RAM: the guest's memory is a shared file ($ram, through
#     <qemu:commandline> -object memory-backend-file,share=on), so the test
#     writes a pattern into guest RAM with dd and reads QEMU's view of it with
#     pmemsave; a snapshot with memory must bring it back.
# Source after lib.sh. live_define NAME UUID TARGET:IMAGE... defines it.
# shellcheck shell=bash

command -v qemu-system-x86_64 >/dev/null || { echo "1..0 # SKIP qemu-system-x86_64 not found"; exit 0; }
# The helpers that only look (through QEMU's monitor) run the plain binary
# even under make check-valgrind: the commands tested run $VSNAP.
VSNAP_TOOL=${VSNAP_REAL:-$VSNAP}

ram=$tmp/ram
RAM_OFF=$((16 * 1024 * 1024))   # 16 MiB into a 32 MiB guest: no firmware uses it

live_cleanup() {
    local f
    for f in "$meta"/*/run/pid; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap live_cleanup EXIT

# live_xml NAME UUID TARGET:IMAGE...: the definition on stdout
live_xml() {
    local name=$1 uuid=$2 spec target path
    shift 2
    printf "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
    printf "  <name>%s</name>\n  <uuid>%s</uuid>\n" "$name" "$uuid"
    printf "  <memory unit='KiB'>32768</memory>\n  <os>\n    <type arch='x86_64'>hvm</type>\n  </os>\n"
    printf "  <devices>\n"
    for spec in "$@"; do
        IFS=: read -r target path <<<"$spec"
        printf "    <disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n"
        printf "      <source file='%s'/>\n      <target dev='%s' bus='virtio'/>\n    </disk>\n" \
            "$path" "$target"
    done
    printf "  </devices>\n  <qemu:commandline>\n"
    printf "    <qemu:arg value='-object'/>\n"
    printf "    <qemu:arg value='memory-backend-file,id=testram,size=32M,mem-path=%s,share=on'/>\n" "$ram"
    printf "    <qemu:arg value='-machine'/>\n    <qemu:arg value='memory-backend=testram'/>\n"
    printf "  </qemu:commandline>\n</domain>\n"
}

live_define() {
    live_xml "$@" >"$tmp/$1.xml"
    must define "$tmp/$1.xml"
}

# state DOMAIN: domstate --reason's line
state() { run domstate "$1" --reason; out | head -1; }
qemu_pid() { cat "$meta/$1/run/pid" 2>/dev/null; }
# gone PID: no such process (or only its zombie)
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

hmp() { "$VSNAP_TOOL" -d "$meta" qemu-monitor-command "$1" --hmp "$2" >"$tmp/hmp.out" 2>&1; }

dev_of() {
    case $1 in vd*) echo "$1/virtio-backend" ;; *) echo "$1" ;; esac
}

# vm_write DOMAIN TARGET "B0 B1 ...": region i of the disk gets byte Bi ("-" skips),
# then flushed, as a guest's fsync would (what is not flushed a crash may lose)
vm_write() {
    local i=0 b
    for b in $3; do
        if [ "$b" != - ]; then
            hmp "$1" "qemu-io -d $(dev_of "$2") \"write -P $b $((i * 65536)) 64k\"" ||
                t_bail "write through QEMU failed: $(cat "$tmp/hmp.out")"
        fi
        i=$((i + 1))
    done
    hmp "$1" "qemu-io -d $(dev_of "$2") \"flush\"" || t_bail "flush through QEMU failed"
}

# vm_holds DOMAIN TARGET "B0 B1 ...": every region reads back its byte, through QEMU
vm_holds() {
    local log=$meta/$1/run/qemu.log i=0 b size n new
    for b in $3; do
        size=$(stat -c %s "$log")
        hmp "$1" "qemu-io -d $(dev_of "$2") \"read -P $b $((i * 65536)) 64k\"" || return 1
        for n in $(seq 1000); do
            new=$(tail -c +$((size + 1)) "$log")
            case $new in *"read 65536/65536 bytes"*) break ;; esac
            sleep 0.01
        done
        case $new in
        *"Pattern verification failed"*) echo "# $2 region $i: not $b"; return 1 ;;
        *"read 65536/65536 bytes"*) ;;
        *) echo "# $2 region $i: no answer from qemu-io"; return 1 ;;
        esac
        i=$((i + 1))
    done
}

# ram_put CHAR: 64 KiB of CHAR into guest RAM at RAM_OFF (the shared file)
ram_put() {
    head -c 65536 /dev/zero | tr '\0' "$1" |
        dd of="$ram" bs=65536 seek=$((RAM_OFF / 65536)) conv=notrunc status=none
}

# ram_is DOMAIN CHAR: QEMU's view of that RAM (pmemsave) holds CHAR only
ram_is() {
    rm -f "$tmp/pmem"
    "$VSNAP_TOOL" -d "$meta" qemu-monitor-command "$1" \
        "{\"execute\":\"pmemsave\",\"arguments\":{\"val\":$RAM_OFF,\"size\":65536,\"filename\":\"$tmp/pmem\"}}" \
        >/dev/null 2>&1 || return 1
    head -c 65536 /dev/zero | tr '\0' "$2" >"$tmp/pmem.want"
    cmp -s "$tmp/pmem" "$tmp/pmem.want"
}

# tags_u IMAGE: the internal snapshot names of an image QEMU may hold (-U)
tags_u() {
    qemu-img snapshot -U -l "$1" | awk 'NR > 2 { printf "%s%s", sep, $2; sep = " " }'
}

# ---- crash tests (live-crash.sh, live-memory-crash.sh): domain "vm" -------------
has_snap() { [ -e "$meta/vm/snapshots/$1.xml" ]; }
active() {
    "$VSNAP" -d "$meta" qemu-monitor-command vm --hmp 'info block' | tr -d '\r' |
        awk -v t="$1" '/^[^ ].*: .* \(/ { f = $2 }
            /Attached to:/ && ($3 == t || index($3, "/" t "/")) { print f }'
}

# after DESC: what every repair must leave: no journal, metadata and images
# that agree, the guest running or shut off, not paused
after() {
    local st
    st=$(state vm)
    if [ ! -e "$meta/vm/journal" ] && "$VSNAP" -d "$meta" snapshot-check vm >/dev/null 2>&1 &&
       case $st in running*|"shut off"*) true ;; *) false ;; esac; then
        return 0
    fi
    echo "# $1: journal $(test -e "$meta/vm/journal" && echo left), state '$st'"
    "$VSNAP" -d "$meta" snapshot-check vm 2>&1 | sed 's/^/# /'
    return 1
}

# crash_each DESC PREPARE CHECK ARGS...: run vsnap ARGS killed at boundary
# 1, 2, ... until it runs through; PREPARE sets the state up before each
# run, CHECK says whether the state after the repair is the one before or
# the one after (it prints which, or fails).
crash_each() {
    local desc=$1 prepare=$2 check=$3 k bad=0 seen=""
    shift 3
    for k in $(seq 1 30); do
        $prepare
        VSNAP_FAILPOINT=plan-step:$k:kill run "$@"
        if [ "$rc" = 0 ]; then
            seen="$seen done"
            break
        fi
        if [ "$rc" != 137 ]; then
            echo "# $desc, boundary $k: status $rc"; t_diag "$tmp/err"; bad=1; break
        fi
        run snapshot-check vm --repair
        after "$desc, boundary $k" || bad=1
        seen="$seen $($check)" || { echo "# $desc, boundary $k: $seen"; bad=1; }
    done
    if [ "$bad" = 0 ]; then t_ok "$desc: killed at every step boundary ($((k - 1))), repaired:$seen"
    else t_not_ok "$desc: killed at every step boundary, repaired"; fi
}

