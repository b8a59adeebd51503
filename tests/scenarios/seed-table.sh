#!/usr/bin/env bash
# The offline rows of the seed's memory/disk combination table
# (shared/seed/commit-notes.md), each performed or refused with its own
# message. vsnap follows libvirt's present decision procedure (C.1): --disk-only
# always means external, and an explicit snapshot='no' next to the uniform
# internal default is refused by disk alignment (B.3). A refused row changes
# neither the metadata nor the image. A performed internal row leaves a
# shutoff snapshot with memory 'no' and the disk internal in the image; a
# performed external row leaves a shutoff snapshot whose vda entry names a new
# qcow2 overlay on the image, and the domain running on that overlay (the row
# is then deleted again, which merges the overlay back into the image).
#
#   domain  memory   disk   disk-only | seed result
#   offline omit     omit   any       | memory=no disk=int, via qemu-img
#   offline no       omit   any       | memory=no disk=int, via qemu-img
#   offline omit/no  no     any       | invalid combination (nothing to snapshot)
#   offline omit/no  int    any       | memory=no disk=int, via qemu-img
#   offline omit/no  ext    any       | memory=no disk=ext, via qemu-img
#   offline int/ext  any    any       | invalid combination (no memory to save)
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"

d1=$tmp/disk1.qcow2
make_image "$d1"
define_domain vm 3e9c7b1a-0d64-4f1e-b1f2-6c0a5d8e7f01 "vda:$d1"
images=$d1

ONLYINT="error: unsupported configuration: disk-only snapshots require at least one disk to be selected for snapshot"
NOMEM="error: XML error: memory state cannot be saved with offline or disk-only snapshot"
MUSTINT="error: unsupported configuration: disk 'vda' must use snapshot mode 'internal'"
NOTHING="error: unsupported configuration: nothing selected for snapshot"

mem_xml() {
    case $1 in
    omit) ;;
    no) printf "<memory snapshot='no'/>" ;;
    int) printf "<memory snapshot='internal'/>" ;;
    ext) printf "<memory snapshot='external' file='%s'/>" "$tmp/mem.save" ;;
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

# The checks of a performed external row named $1 whose overlay is $2 and
# whose <memory> element is $3 ("" for none).
external_done() {
    local name=$1 ovl=$2 memline=$3 desc=$4 x
    run snapshot-dumpxml vm "$name"
    x=$(out)
    case $x in
    *"<state>shutoff</state>"*"<disk name='vda' snapshot='external' type='file'>"*"<source file='$ovl'/>"*)
        t_ok "$desc: shutoff, vda external on $ovl" ;;
    *)
        t_not_ok "$desc: shutoff, vda external on $ovl"
        t_diag "$tmp/out" ;;
    esac
    case $x in
    *"<memory snapshot="*) got="$(grep -o "<memory snapshot='[a-z]*'/>" "$tmp/out")" ;;
    *) got="" ;;
    esac
    t_is "$desc: memory element" "$got" "$memline"
    run dumpxml vm
    case $(out) in
    *"<source file='$ovl'/>"*) t_ok "$desc: the domain uses the overlay" ;;
    *) t_not_ok "$desc: the domain uses the overlay" ;;
    esac
    if qemu-img info --output=json "$ovl" 2>/dev/null | grep -q "\"full-backing-filename\": \"$d1\""; then
        t_ok "$desc: the overlay is based on the image"
    else
        t_not_ok "$desc: the overlay is based on the image"
    fi
    expect_ok "$desc: deleted again" snapshot-delete vm "$name"
    t_check "$desc: overlay merged and removed" test ! -e "$ovl"
    run dumpxml vm
    case $(out) in
    *"<source file='$d1'/>"*) t_ok "$desc: the domain is back on the image" ;;
    *) t_not_ok "$desc: the domain is back on the image" ;;
    esac
}

# row MEMORY DISK DISK-ONLY EXPECTED: EXPECTED is "performed", "external" or the error line.
i=0
row() {
    local mem=$1 disk=$2 donly=$3 want=$4 name flags=()
    i=$((i + 1))
    name=row$i
    printf '<domainsnapshot><name>%s</name>%s%s</domainsnapshot>\n' \
        "$name" "$(mem_xml "$mem")" "$(disk_xml "$disk")" >"$tmp/$name.xml"
    [ "$donly" = on ] && flags=(--disk-only)
    local desc="memory=$mem disk=$disk disk-only=$donly"
    if [ "$want" = external ]; then
        local ovl memline="<memory snapshot='no'/>"
        # (without <memory> in the request the stored snapshot of a shut-off
        # domain reads back as memory 'no', as libvirt's does)
        if [ "$disk" = ext ]; then ovl=$tmp/overlay-$name.qcow2; else ovl=${d1%.qcow2}.$name; fi
        expect_ok "$desc: performed" snapshot-create vm "$tmp/$name.xml" "${flags[@]}"
        external_done "$name" "$ovl" "$memline" "$desc"
        return
    fi
    if [ "$want" = performed ]; then
        expect_ok "$desc: performed" snapshot-create vm "$tmp/$name.xml" "${flags[@]}"
        run snapshot-dumpxml vm "$name"
        local x
        x=$(out)
        case $x in
        *"<state>shutoff</state>"*"<memory snapshot='no'/>"*"<disk name='vda' snapshot='internal'/>"*)
            t_ok "$desc: shutoff, memory no, vda internal" ;;
        *)
            t_not_ok "$desc: shutoff, memory no, vda internal"
            t_diag "$tmp/out" ;;
        esac
        case " $(tags "$d1") " in
        *" $name "*) t_ok "$desc: internal snapshot in the image" ;;
        *) t_not_ok "$desc: internal snapshot in the image" ;;
        esac
    else
        expect_error "$desc: refused" "$want" snapshot-create vm "$tmp/$name.xml" "${flags[@]}"
    fi
    if [ -e "$tmp/overlay-$name.qcow2" ] || [ -e "${d1%.qcow2}.$name" ] || [ -e "$tmp/mem.save" ]; then
        t_not_ok "$desc: no external file appeared"
    fi
}

for donly in off on; do
    # offline, memory omit or no, disks omit: memory=no disk=int via qemu-img
    for mem in omit no; do
        if [ $donly = off ]; then
            row $mem omit $donly performed
        else
            row $mem omit $donly external
        fi
    done
    # offline, memory omit/no, disks no: nothing to snapshot
    for mem in omit no; do
        if [ $donly = off ]; then
            row $mem no $donly "$MUSTINT"
        else
            row $mem no $donly "$NOTHING"
        fi
    done
    # offline, memory omit/no, disks int: memory=no disk=int via qemu-img
    for mem in omit no; do
        if [ $donly = off ]; then
            row $mem int $donly performed
        else
            row $mem int $donly "$ONLYINT"
        fi
    done
    # offline, memory omit/no, disks ext: memory=no disk=ext via qemu-img
    for mem in omit no; do
        row $mem ext $donly external
    done
    # offline, memory int/ext, any disks: no memory to save
    for mem in int ext; do
        for disk in omit no int ext; do
            row $mem $disk $donly "$NOMEM"
        done
    done
done

# "nothing to snapshot" as the seed means it: a domain whose every disk is
# excluded (snapshot='no' in the domain), so nothing is left to take.
d2=$tmp/disk2.qcow2
make_image "$d2"
define_domain vmno 3e9c7b1a-0d64-4f1e-b1f2-6c0a5d8e7f02 "vda:$d2:qcow2:no"
images="$d1 $d2"
printf '<domainsnapshot><name>n1</name></domainsnapshot>\n' >"$tmp/n1.xml"
printf "<domainsnapshot><name>n2</name><memory snapshot='no'/></domainsnapshot>\n" >"$tmp/n2.xml"
expect_error "memory=omit, every domain disk snapshot='no': nothing to snapshot" "$NOTHING" \
    snapshot-create vmno "$tmp/n1.xml"
expect_error "memory=no, every domain disk snapshot='no': nothing to snapshot" "$NOTHING" \
    snapshot-create vmno "$tmp/n2.xml"
expect_error "disk-only, every domain disk snapshot='no'" "$NOTHING" \
    snapshot-create vmno "$tmp/n1.xml" --disk-only

# snapshot-create-as spelling of the same rows
expect_ok "create-as: memory omit, disks omit" snapshot-create-as vm ca1
expect_error "create-as: --memspec external" "$NOMEM" \
    snapshot-create-as vm ca2 --memspec "file=$tmp/mem.save,snapshot=external"
expect_ok "create-as: --diskspec vda,snapshot=external" \
    snapshot-create-as vm ca3 --diskspec "vda,snapshot=external,file=$tmp/overlay-ca3.qcow2"
external_done ca3 "$tmp/overlay-ca3.qcow2" "<memory snapshot='no'/>" "create-as: --diskspec vda,snapshot=external"
expect_ok "create-as: --disk-only" snapshot-create-as vm ca4 --disk-only
external_done ca4 "${d1%.qcow2}.ca4" "<memory snapshot='no'/>" "create-as: --disk-only"

t_check "the image passes qemu-img check" image_clean "$d1"
t_done
