#!/bin/bash
# The online rows of the seed's memory/disk combination table
# (shared/seed/commit-notes.md), each one a test against a running QEMU
# (TCG, 32 MiB, no guest OS; one qcow2 disk vda). vsnap follows libvirt's
# present decision procedure (C.1) with its messages, and performs the rows
# libvirt calls "unsupported for now" where QEMU can:
#
#   memory   disk     disk-only | seed result                   | vsnap
#   omit     omit     off       | memory=int disk=int, savevm   | snapshot-save job
#   omit     omit     on        | memory=no disk=ext, transact. | overlay + transaction
#   omit     no/ext   off       | unsupported for now           | refused: a full-system
#                                                                 snapshot needs every disk
#   omit     no       on        | nothing to snapshot           | refused
#   omit     ext      on        | memory=no disk=ext            | overlay + transaction
#   omit     int      off       | memory=int disk=int, savevm   | snapshot-save job
#   omit     int      on        | unsupported for now           | performed: the disks'
#                                                                 internal snapshots in one
#                                                                 transaction, no memory
#   no       omit/ext off       | memory=no disk=ext, transact. | refused (libvirt today)
#   no       omit/ext on        | memory=no disk=ext, transact. | overlay + transaction
#   no       no       any       | nothing to snapshot           | refused
#   no       int      any       | unsupported for now           | performed as omit/int/on
#   int/ext  any      on        | invalid (disk-only vs memory) | refused
#   int      omit/int off       | memory=int disk=int, savevm   | snapshot-save job
#   int      no/ext   off       | unsupported for now           | refused (as omit/no, ext)
#   ext      omit     off       | memory=ext disk=default       | memory file + overlays
#   ext      no       off       | memory=ext disk=no, migrate   | memory file only
#   ext      int      off       | unsupported for now           | performed: memory file,
#                                                                 then the disk's internal
#                                                                 snapshot (no memory in it)
#                                                                 while the guest is paused
#   ext      ext      off       | memory=ext disk=ext           | memory file + overlay
#
# A refused row changes neither the metadata nor the image; a performed one
# is checked in the snapshot's XML and the image (its internal snapshot, or
# the overlay QEMU writes to), then deleted again while the domain runs.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
. "${top_srcdir:-.}/tests/scenarios/live-lib.sh"

d1=$tmp/disk1.qcow2
make_image "$d1"
live_define vm 4f0d8c2b-1e75-4a2f-b3c3-7d1b6e9f8a02 "vda:$d1"
must start vm

MUSTINT="error: unsupported configuration: disk 'vda' must use snapshot mode 'internal'"
NOTHING="error: unsupported configuration: nothing selected for snapshot"
NOMEM="error: XML error: memory state cannot be saved with offline or disk-only snapshot"
MEMNO="error: Operation not supported: internal snapshot of a running VM must include the memory state"

mem_xml() {
    case $1 in
    omit) ;;
    no) printf "<memory snapshot='no'/>" ;;
    int) printf "<memory snapshot='internal'/>" ;;
    ext) printf "<memory snapshot='external' file='%s'/>" "$tmp/mem-$name.save" ;;
    esac
}
disk_xml() {
    case $1 in
    omit) ;;
    no) printf "<disks><disk name='vda' snapshot='no'/></disks>" ;;
    int) printf "<disks><disk name='vda' snapshot='internal'/></disks>" ;;
    ext) printf "<disks><disk name='vda' snapshot='external'><source file='%s'/></disk></disks>" \
        "$tmp/overlay-$name.qcow2" ;;
    esac
}
active_file() {
    "$VSNAP_TOOL" -d "$meta" qemu-monitor-command vm --hmp 'info block' | tr -d '\r' |
        awk '/^[^ ].*: .* \(/ { print $2; exit }'
}

# row MEMORY DISK DISK-ONLY EXPECTED: EXPECTED is "full" (memory and disk
# internal), "disks" (the disk internal, no memory), "external", or the
# error line.
i=0
row() {
    local mem=$1 disk=$2 donly=$3 want=$4 name flags=() x
    i=$((i + 1))
    name=row$i
    printf '<domainsnapshot><name>%s</name>%s%s</domainsnapshot>\n' \
        "$name" "$(mem_xml "$mem")" "$(disk_xml "$disk")" >"$tmp/$name.xml"
    [ "$donly" = on ] && flags=(--disk-only)
    local desc="online memory=$mem disk=$disk disk-only=$donly"
    case $want in
    full|disks)
        expect_ok "$desc: performed" snapshot-create vm "$tmp/$name.xml" "${flags[@]}"
        run snapshot-dumpxml vm "$name" --xpath '/domainsnapshot/state|/domainsnapshot/memory|/domainsnapshot/disks'
        if [ "$want" = full ]; then
            expect_stdout "$desc: running, memory and disk internal" '<state>running</state>
<memory snapshot="internal"/>
<disks>
  <disk name="vda" snapshot="internal"/>
</disks>
'
        else
            expect_stdout "$desc: disk-snapshot, the disk internal, no memory" '<state>disk-snapshot</state>
<memory snapshot="no"/>
<disks>
  <disk name="vda" snapshot="internal"/>
</disks>
'
        fi
        case " $(tags_u "$d1") " in
        *" $name "*) t_ok "$desc: the internal snapshot is in the image" ;;
        *) t_not_ok "$desc: the internal snapshot is in the image" ;;
        esac
        x=$(qemu-img snapshot -U -l "$d1" | awk -v n="$name" '$2 == n { print $3 }')
        if [ "$want" = full ]; then t_check "$desc: with the memory state" test "$x" != 0
        else t_is "$desc: without memory state" "$x" 0; fi
        t_is "$desc: the guest runs on" "$(state vm | cut -d' ' -f1)" running
        expect_ok "$desc: deleted again while running" snapshot-delete vm "$name"
        case " $(tags_u "$d1") " in
        *" $name "*) t_not_ok "$desc: ... from the image too" ;;
        *) t_ok "$desc: ... from the image too" ;;
        esac
        ;;
    external)
        local ovl
        if [ "$disk" = ext ]; then ovl=$tmp/overlay-$name.qcow2; else ovl=${d1%.qcow2}.$name; fi
        expect_ok "$desc: performed" snapshot-create vm "$tmp/$name.xml" "${flags[@]}"
        run snapshot-dumpxml vm "$name" --xpath '/domainsnapshot/state|/domainsnapshot/memory'
        expect_stdout "$desc: disk-snapshot, memory no" '<state>disk-snapshot</state>
<memory snapshot="no"/>
'
        t_is "$desc: QEMU writes to the overlay" "$(active_file)" "$ovl"
        expect_ok "$desc: deleted again while running" snapshot-delete vm "$name"
        t_is "$desc: ... the disk is back on its image" "$(active_file)" "$d1"
        t_check "$desc: ... the overlay is gone" test ! -e "$ovl"
        ;;
    memory)
        local mf=$tmp/mem-$name.save ovl="" loc
        case $disk in omit) ovl=${d1%.qcow2}.$name ;; ext) ovl=$tmp/overlay-$name.qcow2 ;; esac
        expect_ok "$desc: performed" snapshot-create vm "$tmp/$name.xml" "${flags[@]}"
        run snapshot-dumpxml vm "$name" --xpath '/domainsnapshot/state|/domainsnapshot/memory|/domainsnapshot/disks/disk/@snapshot'
        case $disk in omit|ext) loc=external ;; no) loc=no ;; int) loc=internal ;; esac
        expect_stdout "$desc: running, memory external, the disk $loc" "<state>running</state>
<memory snapshot=\"external\" file=\"$mf\"/>
 snapshot=\"$loc\"
"
        t_is "$desc: the memory file is a complete save image, mode 0600" \
            "$(head -c 16 "$mf" 2>/dev/null) $(stat -c %a "$mf" 2>/dev/null)" "LibvirtQemudSave 600"
        if [ -n "$ovl" ]; then
            t_is "$desc: QEMU writes to the overlay" "$(active_file)" "$ovl"
        else
            t_is "$desc: QEMU writes to the image" "$(active_file)" "$d1"
        fi
        x=$(qemu-img snapshot -U -l "$d1" | awk -v n="$name" '$2 == n { print $3 }')
        if [ "$disk" = int ]; then t_is "$desc: the internal snapshot, without memory state" "$x" 0
        else t_is "$desc: no internal snapshot" "$x" ""; fi
        t_is "$desc: the guest runs on" "$(state vm | cut -d' ' -f1)" running
        expect_ok "$desc: deleted again while running" snapshot-delete vm "$name"
        t_check "$desc: ... the memory file is gone" test ! -e "$mf"
        t_is "$desc: ... the disk is back on its image" "$(active_file)" "$d1"
        [ -n "$ovl" ] && t_check "$desc: ... the overlay is gone" test ! -e "$ovl"
        t_is "$desc: ... no internal snapshot left" "$(qemu-img snapshot -U -l "$d1" | awk -v n="$name" '$2 == n')" ""
        ;;
    *)
        images=$d1
        expect_error "$desc: refused" "$want" snapshot-create vm "$tmp/$name.xml" "${flags[@]}"
        images=""
        if [ -e "$tmp/overlay-$name.qcow2" ] || [ -e "${d1%.qcow2}.$name" ] || [ -e "$tmp/mem-$name.save" ]; then
            t_not_ok "$desc: no file appeared"
        fi
        ;;
    esac
}

row omit omit off full
row omit omit on external
row omit no off "$MUSTINT"
row omit ext off "$MUSTINT"
row omit no on "$NOTHING"
row omit ext on external
row omit int off full
row omit int on disks
row no omit off "$MEMNO"
row no ext off "$MEMNO"
row no omit on external
row no ext on external
row no no off "$MEMNO"
row no no on "$NOTHING"
row no int off disks
row no int on disks
for disk in omit no int ext; do
    row int $disk on "$NOMEM"
    row ext $disk on "$NOMEM"
done
row int omit off full
row int int off full
row int no off "$MUSTINT"
row int ext off "$MUSTINT"
for disk in omit no int ext; do
    row ext $disk off memory
done
# the disks both internal and external with the memory in a file: refused, saying why
MIXED="error: unsupported configuration: mixing internal and external targets for a snapshot is not yet supported: with external memory the disks are either all internal snapshots or all external overlays"
d2=$tmp/disk2.qcow2
make_image "$d2"
expect_ok "destroy, for a second disk" destroy vm
live_define vm 4f0d8c2b-1e75-4a2f-b3c3-7d1b6e9f8a02 "vda:$d1" "vdb:$d2"
must start vm
printf "<domainsnapshot><name>mixed</name><memory snapshot='external' file='%s'/><disks><disk name='vda' snapshot='internal'/><disk name='vdb' snapshot='external'><source file='%s'/></disk></disks></domainsnapshot>\n" \
    "$tmp/mem-mixed.save" "$tmp/overlay-mixed.qcow2" >"$tmp/mixed.xml"
images="$d1 $d2"
expect_error "online memory=ext, disks int and ext: refused" "$MIXED" snapshot-create vm "$tmp/mixed.xml"
images=""
t_check "... no file appeared" test ! -e "$tmp/mem-mixed.save" -a ! -e "$tmp/overlay-mixed.qcow2"
t_is "the guest ran through all of it" "$(state vm | cut -d' ' -f1)" running
run snapshot-list vm --name
expect_stdout "every performed row was deleted again" ""
expect_ok "destroy" destroy vm
t_check "the image passes qemu-img check" image_clean "$d1"
t_done
