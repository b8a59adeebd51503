#!/bin/bash
# Network and block snapshot targets against real servers: qemu-nbd exports
# over unix sockets (a raw base on NBD under local overlays; an overlay that
# lives in an NBD export), commit, delete, revert, QEMU running on an NBD disk
# with a live snapshot and block-commit into the export; a running domain on a
# local base taking its overlay in an NBD export (QEMU formats the export), its
# failure and crash paths; a regular file given as type='block'. Content is checked with qemu-io on the files behind the
# exports and through the running QEMU.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
command -v qemu-nbd >/dev/null || { echo "1..0 # SKIP qemu-nbd not found (install qemu-utils)"; exit 0; }
. "${top_srcdir:-.}/tests/scenarios/live-lib.sh"

nbd_pids=""
lo=""
net_cleanup() {
    local p
    for p in $nbd_pids; do kill "$p" 2>/dev/null; done
    [ -n "$lo" ] && [ -b "$lo" ] && losetup -j "$tmp/devs/loop.raw" | grep -q . && losetup -d "$lo"
    live_cleanup
}
trap net_cleanup EXIT

# serve NAME FILE: export FILE as raw NAME on $tmp/NAME.sock (several clients:
# vsnap reads an image's header while QEMU has it open)
serve() {
    qemu-nbd -f raw -x "$1" -k "$tmp/$1.sock" --persistent --shared=8 -t "$2" &
    nbd_pids="$nbd_pids $!"
    local i
    for i in $(seq 500); do [ -S "$tmp/$1.sock" ] && return 0; sleep 0.02; done
    t_bail "qemu-nbd did not start for $1"
}
url() { echo "nbd+unix:///$1?socket=$tmp/$1.sock"; }

# raw_has FILE BYTE / qcow_has IMAGE BYTE: the first 64 KiB hold BYTE
raw_has() {
    local o
    o=$(qemu-io -r -U -f raw -c "read -P $2 0 64k" "$1" 2>&1) || return 1
    case $o in *"Pattern verification failed"*) return 1 ;; "read 65536/65536"*) return 0 ;; esac
    return 1
}
url_has() {   # url_has IMAGE|URL BYTE (-U: QEMU may hold it)
    local o
    o=$(qemu-io -r -U -c "read -P $2 0 64k" "$1" 2>&1) || return 1
    case $o in *"Pattern verification failed"*) return 1 ;; "read 65536/65536"*) return 0 ;; esac
    return 1
}

schemas=${VSNAP_BUILTIN_SCHEMA_DIR:-}
valid() {   # valid SCHEMA: the last output validates (skipped without schemas)
    [ -n "$schemas" ] && [ -f "$schemas/$1" ] || return 0
    xmllint --noout --relaxng "$schemas/$1" "$tmp/out" 2>"$tmp/xmllint.err" || { t_diag "$tmp/xmllint.err"; return 1; }
}

# ---- a raw base on NBD under local overlays (shut off) ----------------------
qemu-img create -q -f raw "$tmp/base.raw" 16M
qemu-io -f raw -c "write -P 0x11 0 64k" "$tmp/base.raw" >/dev/null
serve base "$tmp/base.raw"
nbd_xml n1 11111111-2222-3333-4444-000000000001 base raw >"$tmp/n1.xml"
must define "$tmp/n1.xml"
run dumpxml n1
t_check "an NBD disk's definition validates" valid domain.rng
run domblklist n1
expect_stdout "domblklist shows the export's name" " Target   Source
------------------
 vda      base
"

images="$tmp/base.raw"
expect_error "an internal snapshot of an NBD disk: one error, nothing changed" \
    "error: internal error: internal inactive snapshots are not supported on 'network' disks using 'nbd' protocol" \
    snapshot-create-as n1 bad
expect_error "a bad network URL in --diskspec: one error, nothing changed" \
    "error: invalid argument: cannot read the network image URL 'nbd:///x' (nbd://HOST[:PORT]/EXPORT, nbd+unix:///EXPORT?socket=PATH, gluster://HOST[:PORT]/VOLUME/PATH, gluster+unix:///VOLUME/PATH?socket=PATH)" \
    snapshot-create-as n1 bad --disk-only --diskspec "vda,stype=network,file=nbd:///x"

expect_error "no overlay name for a network disk: one error, nothing changed" \
    "error: unsupported configuration: source for disk 'vda' is not a regular file; refusing to generate external snapshot name" \
    snapshot-create-as n1 bad --disk-only
images=""
expect_ok "offline external snapshot: a local overlay on the NBD base" \
    snapshot-create-as n1 s1 --disk-only --diskspec "vda,file=$tmp/ov1.qcow2"
t_is "the overlay's backing file is the export's URL" \
    "$(qemu-img info --output=json "$tmp/ov1.qcow2" | sed -n 's/.*"backing-filename": "\(.*\)",*/\1/p')" "$(url base)"
run snapshot-dumpxml n1 s1
t_check "snapshot-dumpxml validates" valid domainsnapshot.rng
t_check "the snapshot's domain keeps the NBD source" grep -q "<source protocol='nbd' name='base'>" "$tmp/out"
write_pattern "$tmp/ov1.qcow2" 0x22
t_check "the base on NBD keeps its content under the overlay" raw_has "$tmp/base.raw" 0x11
expect_ok "second snapshot" snapshot-create-as n1 s2 --disk-only --diskspec "vda,file=$tmp/ov2.qcow2"
write_pattern "$tmp/ov2.qcow2" 0x33
expect_ok "revert to s1: a new overlay on the NBD base" snapshot-revert n1 s1
run domblklist n1
cur=$(awk '$1 == "vda" { print $2 }' "$tmp/out")
t_check "the new overlay sits beside the snapshot's own ($cur)" test "${cur%.*}" = "$tmp/ov1"
t_check "after revert the disk reads the snapshot's content" pattern_ok "$cur" 0x11
expect_ok "delete s2 (its overlay goes)" snapshot-delete n1 s2
t_check "s2's overlay was removed" test ! -e "$tmp/ov2.qcow2"
expect_ok "delete s1" snapshot-delete n1 s1
run dumpxml n1
t_check "the domain is back on the export" grep -q "<source protocol='nbd' name='base'>" "$tmp/out"
t_check "... and its definition validates" valid domain.rng
t_check "the export's file is still there, its content intact" raw_has "$tmp/base.raw" 0x11
expect_ok "snapshot-check agrees (no network image stat'ed as a path)" snapshot-check n1

# ---- an overlay in an NBD export over a local base (shut off) ---------------
make_image "$tmp/local.qcow2"
write_pattern "$tmp/local.qcow2" 0x41
mkdir "$tmp/srv"   # the server's files: not beside the domain's images
qemu-img create -q -f raw "$tmp/srv/ovexp.raw" 32M
serve ovl "$tmp/srv/ovexp.raw"
define_domain n2 11111111-2222-3333-4444-000000000002 "vda:$tmp/local.qcow2"
expect_ok "an overlay on the network (--diskspec stype=network)" \
    snapshot-create-as n2 t1 --disk-only --diskspec "vda,stype=network,file=$(url ovl)"
t_is "the export now holds a qcow2 overlay on the local base" \
    "$(qemu-img info -U --output=json "$tmp/srv/ovexp.raw" | tr -d ' \n' | grep -o '"format":"qcow2"\|"backing-filename":"[^"]*"' | tr '\n' ' ')" \
    "\"format\":\"qcow2\" \"backing-filename\":\"$tmp/local.qcow2\" "
run snapshot-dumpxml n2 t1
t_check "its <disks> entry is libvirt's network source" \
    grep -q "<disk name='vda' snapshot='external' type='network'>" "$tmp/out"
t_check "snapshot-dumpxml validates" valid domainsnapshot.rng
run dumpxml n2
t_check "the domain disk moved onto the export" grep -q "<source protocol='nbd' name='ovl'>" "$tmp/out"
t_check "... and its definition validates" valid domain.rng
qemu-io -c "write -P 0x42 0 64k" "$(url ovl)" >/dev/null
t_check "writes land in the export, the local base is unchanged" pattern_ok "$tmp/local.qcow2" 0x41
expect_ok "a local overlay on the network overlay" \
    snapshot-create-as n2 t2 --disk-only --diskspec "vda,file=$tmp/top.qcow2"
write_pattern "$tmp/top.qcow2" 0x43
# the export under the disk named as a new overlay: it would be formatted
# over (a network image cannot be stat'ed), so a snapshot naming it refuses
before=$(meta_sum)
run snapshot-create-as n2 bad2 --disk-only --diskspec "vda,stype=network,file=$(url ovl)"
t_is "an overlay into an export that a snapshot names: refused" "$rc" 1
t_is "... saying so" "$(err)" \
    "error: unsupported configuration: external snapshot file for disk vda is an image snapshot 't1' names: $(url ovl); vsnap never writes over one"
t_is "... metadata unchanged" "$(meta_sum)" "$before"
t_check "... the export still holds its overlay's data" url_has "$(url ovl)" 0x42
run snapshot-delete n2 t2 --dry-run
t_check "deleting t2 commits the local overlay into the network one" \
    grep -q "commit   $tmp/top.qcow2 into $(url ovl)" "$tmp/out"
expect_ok "delete t2" snapshot-delete n2 t2
t_check "the export holds the committed content" url_has "$(url ovl)" 0x43
t_check "the committed local overlay is gone" test ! -e "$tmp/top.qcow2"
t_check "the export's file is never removed" test -s "$tmp/srv/ovexp.raw"
expect_ok "snapshot-check agrees" snapshot-check n2
expect_ok "delete t1" snapshot-delete n2 t1
t_check "the export's file is still there" test -s "$tmp/srv/ovexp.raw"
t_check "the local base still holds its content" pattern_ok "$tmp/local.qcow2" 0x41

# ---- a regular file given as type='block' -----------------------------------
make_image "$tmp/b0.qcow2"
write_pattern "$tmp/b0.qcow2" 0x51
mkdir "$tmp/devs"; : >"$tmp/devs/dev.img"   # a "device" lives outside the images directory
define_domain n3 11111111-2222-3333-4444-000000000003 "vda:$tmp/b0.qcow2"
cat >"$tmp/n3-s.xml" <<EOF
<domainsnapshot>
  <name>b1</name>
  <disks>
    <disk name='vda' snapshot='external' type='block'>
      <source dev='$tmp/devs/dev.img'/>
    </disk>
  </disks>
</domainsnapshot>
EOF
expect_ok "an external snapshot onto a file given as a block device" \
    snapshot-create n3 "$tmp/n3-s.xml" --disk-only
run dumpxml n3
t_check "the domain disk is type='block' with dev=" grep -q "<source dev='$tmp/devs/dev.img'/>" "$tmp/out"
write_pattern "$tmp/devs/dev.img" 0x52
expect_ok "revert to b1 (the block overlay is not recreated)" snapshot-revert n3 b1
expect_ok "delete b1" snapshot-delete n3 b1
t_check "the block target is never removed" test -s "$tmp/devs/dev.img"
t_check "... nor emptied" pattern_ok "$tmp/devs/dev.img" 0x52
expect_ok "snapshot-check agrees" snapshot-check n3
[ "$rc" = 0 ] || t_diag "$tmp/out"
if [ -e /dev/loop-control ] && command -v losetup >/dev/null && lo=$(losetup -f 2>/dev/null) &&
   qemu-img create -q -f raw "$tmp/devs/loop.raw" 32M && losetup "$lo" "$tmp/devs/loop.raw" 2>/dev/null; then
    define_domain n4 11111111-2222-3333-4444-000000000004 "vda:$tmp/b0.qcow2"
    expect_ok "a real block device ($lo) as the overlay" \
        snapshot-create-as n4 l1 --disk-only --diskspec "vda,stype=block,file=$lo"
    expect_ok "delete it" snapshot-delete n4 l1
    t_check "the device is still there" test -b "$lo"
    losetup -d "$lo"
    lo=""
else
    lo=""
    t_ok "# SKIP no loop device on this machine (a regular file stood for one above)"
fi

# ---- QEMU running on an NBD disk: live snapshot, block-commit into the export
qemu-img create -q -f raw "$tmp/lbase.raw" 16M
qemu-io -f raw -c "write -P 0x61 0 64k" "$tmp/lbase.raw" >/dev/null
serve lbase "$tmp/lbase.raw"
nbd_xml n5 11111111-2222-3333-4444-000000000005 lbase raw >"$tmp/n5.xml"
must define "$tmp/n5.xml"
expect_ok "start a domain whose disk is an NBD export" start n5
t_check "QEMU reads the export" vm_holds n5 vda "0x61"
expect_ok "live external snapshot: a local overlay on the export" \
    snapshot-create-as n5 l1 --disk-only --diskspec "vda,file=$tmp/lov.qcow2"
vm_write n5 vda "0x62"
t_check "the guest's write went to the overlay" url_has "$tmp/lov.qcow2" 0x62
t_check "... not to the export" raw_has "$tmp/lbase.raw" 0x61
expect_ok "live delete: block-commit into the export" snapshot-delete n5 l1
t_check "the export holds the guest's write" raw_has "$tmp/lbase.raw" 0x62
t_check "the overlay is gone" test ! -e "$tmp/lov.qcow2"
t_check "QEMU still reads it" vm_holds n5 vda "0x62"
run dumpxml n5
t_check "the domain is back on the export" grep -q "<source protocol='nbd' name='lbase'>" "$tmp/out"
expect_ok "destroy" destroy n5

# ---- running on a file base under a network overlay: block-commit into the export
make_image "$tmp/fbase.qcow2"
write_pattern "$tmp/fbase.qcow2" 0x71
qemu-img create -q -f raw "$tmp/srv/fov.raw" 32M
serve fov "$tmp/srv/fov.raw"
define_domain n7 11111111-2222-3333-4444-000000000007 "vda:$tmp/fbase.qcow2"
expect_ok "an overlay on the network over a local base (shut off)" \
    snapshot-create-as n7 f1 --disk-only --diskspec "vda,stype=network,file=$(url fov)"
expect_ok "start on the network overlay (its backing file is local)" start n7
t_check "QEMU reads the local base through the export" vm_holds n7 vda "0x71"
vm_write n7 vda "0x72"
expect_ok "live: a local overlay on the network overlay" \
    snapshot-create-as n7 f2 --disk-only --diskspec "vda,file=$tmp/ftop.qcow2"
vm_write n7 vda "- 0x73"
expect_ok "live delete of f2: block-commit into the export" snapshot-delete n7 f2
t_check "the export holds both writes" url_has "$(url fov)" 0x72
t_check "... the second one too" \
    sh -c "qemu-io -r -U -c 'read -P 0x73 65536 64k' '$(url fov)' | grep -q '^read 65536/65536'"
t_check "the local overlay is gone" test ! -e "$tmp/ftop.qcow2"
t_check "the local base is unchanged" url_has "$tmp/fbase.qcow2" 0x71
expect_ok "snapshot-check agrees while it runs" snapshot-check n7
[ "$rc" = 0 ] || t_diag "$tmp/out"
expect_ok "destroy" destroy n7

# ---- a network base under a network overlay: revert has nowhere local to go
qemu-img create -q -f raw "$tmp/srv/ov3.raw" 32M
serve ov3 "$tmp/srv/ov3.raw"
expect_ok "an overlay on the network over a network base" \
    snapshot-create-as n5 x1 --disk-only --diskspec "vda,stype=network,file=$(url ov3)"
images="$tmp/lbase.raw $tmp/srv/ov3.raw"
expect_error "revert refused with the reason, nothing changed" \
    "error: Failed to revert snapshot x1
error: Requested operation is not valid: cannot revert disk vda to snapshot 'x1': its image '$(url lbase)' is in an NBD export, where vsnap makes no new overlay, and the snapshot names no local file or gluster volume beside which one can go; give the snapshots to revert to a local overlay (--diskspec vda,file=/PATH) or one on a gluster volume" \
    snapshot-revert n5 x1
images=""
expect_ok "deleting it leaves both exports as they are" snapshot-delete n5 x1
t_check "the network overlay's file is still there" test -s "$tmp/srv/ov3.raw"
t_check "the base still holds the committed write" raw_has "$tmp/lbase.raw" 0x62

# ---- running on a local base: a live overlay in an NBD export --------------
make_image "$tmp/rbase.qcow2"
write_pattern "$tmp/rbase.qcow2" 0x31
qemu-img create -q -f raw "$tmp/srv/rov.raw" 32M
serve rov "$tmp/srv/rov.raw"
define_domain n8 11111111-2222-3333-4444-000000000008 "vda:$tmp/rbase.qcow2"
expect_ok "start on a local base" start n8
images="$tmp/rbase.qcow2 $tmp/srv/rov.raw"
expect_error "--reuse-external of an export that is no overlay: one error, nothing changed" \
    "error: unsupported configuration: cannot reuse '$(url rov)' for disk vda: it is not a qcow2 image" \
    snapshot-create-as n8 r0 --disk-only --reuse-external --diskspec "vda,snapshot=external,stype=network,file=$(url rov)"
images=""
run snapshot-create-as n8 r1 --disk-only --dry-run --diskspec "vda,snapshot=external,stype=network,file=$(url rov)"
t_check "the plan: QEMU formats the export and opens it, then one transaction" \
    sh -c "grep -q '1. QEMU: create $(url rov) (qcow2 overlay on $tmp/rbase.qcow2) and open it' '$tmp/out' &&
           grep -q '2. QEMU: in one transaction, vda moves onto $(url rov)' '$tmp/out'"
if grep -q '^#define VSNAP_FAILPOINTS 1' "${top_builddir:-.}/config.h" 2>/dev/null; then
    VSNAP_FAILPOINT=plan-step:3 run snapshot-create-as n8 r1 --disk-only --diskspec "vda,snapshot=external,stype=network,file=$(url rov)"
    t_is "a failure after the transaction: status 1" "$rc" 1
    run dumpxml n8
    t_check "... the disk is back on its base" grep -q "<source file='$tmp/rbase.qcow2'" "$tmp/out"
    hmp n8 "info block -n"
    t_check "... QEMU closed both of the export's nodes" sh -c "grep -q 'rbase' '$tmp/hmp.out' && ! grep -q 'rov' '$tmp/hmp.out'"
    t_check "... the export's file is kept" test -s "$tmp/srv/rov.raw"
    t_check "... no metadata, no journal" test ! -e "$meta/n8/snapshots/r1.xml" -a ! -e "$meta/n8/journal"
    t_is "... and it runs" "$(state n8)" "running (booted)"
else
    t_ok "# SKIP failpoints are not compiled in"
fi
if grep -q '^#define VSNAP_FAILPOINTS 1' "${top_builddir:-.}/config.h" 2>/dev/null; then
    vm_write n8 vda "- - - 0x3a"
    VSNAP_FAILPOINT=qemu-kill:1 run snapshot-create-as n8 r1 --disk-only --diskspec "vda,snapshot=external,stype=network,file=$(url rov)"
    t_is "QEMU killed as the transaction is sent: the create fails" "$rc" 1
    expect_ok "... snapshot-check --repair rolls it back" snapshot-check n8 --repair
    [ "$rc" = 0 ] || t_diag "$tmp/out"
    t_is "... the domain is shut off" "$(state n8)" "shut off (crashed)"
    run dumpxml n8
    t_check "... the disk is on its base" grep -q "<source file='$tmp/rbase.qcow2'" "$tmp/out"
    t_check "... no snapshot r1" test ! -e "$meta/n8/snapshots/r1.xml"
    t_check "... the base holds what the guest wrote" \
        sh -c "qemu-io -r -U -c 'read -P 0x3a 196608 64k' '$tmp/rbase.qcow2' | grep -q '^read 65536/65536'"
    t_check "... the export's file is kept" test -s "$tmp/srv/rov.raw"
    t_check "... no journal" test ! -e "$meta/n8/journal"
    expect_ok "... start again" start n8
else
    t_ok "# SKIP failpoints are not compiled in"
fi
expect_ok "live external snapshot into an overlay in an NBD export" \
    snapshot-create-as n8 r1 --disk-only --diskspec "vda,snapshot=external,stype=network,file=$(url rov)"
t_is "it still runs" "$(state n8)" "running (booted)"
t_is "the export holds a qcow2 overlay on the local base" \
    "$(qemu-img info -U --output=json "$(url rov)" | tr -d ' \n' | grep -o '"format":"qcow2"\|"backing-filename":"[^"]*"' | tr '\n' ' ')" \
    "\"format\":\"qcow2\" \"backing-filename\":\"$tmp/rbase.qcow2\" "
run dumpxml n8
t_check "the domain disk is on the export" grep -q "<source protocol='nbd' name='rov'>" "$tmp/out"
vm_write n8 vda "0x33"
t_check "the guest's write is in the export" url_has "$(url rov)" 0x33
t_check "... read as qcow2 from the file behind it" \
    sh -c "qemu-io -r -U -f qcow2 -c 'read -P 0x33 0 64k' '$tmp/srv/rov.raw' | grep -q '^read 65536/65536'"
t_check "the local base is unchanged" url_has "$tmp/rbase.qcow2" 0x31
expect_ok "snapshot-check agrees while it runs" snapshot-check n8
[ "$rc" = 0 ] || t_diag "$tmp/out"
expect_ok "live: a local overlay on the network overlay" \
    snapshot-create-as n8 r2 --disk-only --diskspec "vda,file=$tmp/rtop.qcow2"
vm_write n8 vda "- 0x35"
expect_ok "live delete of r2: block-commit of the local overlay into the network one" \
    snapshot-delete n8 r2
t_check "the export holds the second write" \
    sh -c "qemu-io -r -U -c 'read -P 0x35 65536 64k' '$(url rov)' | grep -q '^read 65536/65536'"
t_check "the local overlay is gone" test ! -e "$tmp/rtop.qcow2"
expect_ok "live delete of r1: the disk stays on its network overlay (never merged away)" \
    snapshot-delete n8 r1
t_check "QEMU reads both writes" vm_holds n8 vda "0x33 0x35"
t_check "the export still holds them" url_has "$(url rov)" 0x33
t_check "the local base is unchanged" url_has "$tmp/rbase.qcow2" 0x31
t_check "the export's file was never removed" test -s "$tmp/srv/rov.raw"
run dumpxml n8
t_check "the domain is on the export" grep -q "<source protocol='nbd' name='rov'>" "$tmp/out"
# --reuse-external: a second export already formatted as an overlay of the disk's image
qemu-img create -q -f raw "$tmp/srv/rov2.raw" 32M
serve rov2 "$tmp/srv/rov2.raw"
qemu-img create -q -f qcow2 -u -b "$(url rov)" -F qcow2 "$(url rov2)" 16M
expect_ok "--reuse-external: the export already holds an overlay of the disk's image" \
    snapshot-create-as n8 r3 --disk-only --reuse-external --diskspec "vda,snapshot=external,stype=network,file=$(url rov2)"
vm_write n8 vda "- - 0x36"
t_check "the new write is in the reused export" \
    sh -c "qemu-io -r -U -c 'read -P 0x36 131072 64k' '$(url rov2)' | grep -q '^read 65536/65536'"
t_check "... and not in the one below" \
    sh -c "qemu-io -r -U -c 'read -P 0 131072 64k' '$(url rov)' | grep -q '^read 65536/65536'"
t_check "QEMU reads the whole chain" vm_holds n8 vda "0x33 0x35 0x36"
expect_ok "live delete of r3" snapshot-delete n8 r3
t_check "both exports' files are still there" test -s "$tmp/srv/rov.raw" -a -s "$tmp/srv/rov2.raw"
t_check "QEMU still reads it all" vm_holds n8 vda "0x33 0x35 0x36"
expect_ok "snapshot-check agrees" snapshot-check n8
[ "$rc" = 0 ] || t_diag "$tmp/out"
expect_ok "destroy" destroy n8

# ---- one transaction: a file overlay and an overlay in an NBD export --------
make_image "$tmp/m1.qcow2"; write_pattern "$tmp/m1.qcow2" 0x81
make_image "$tmp/m2.qcow2"; write_pattern "$tmp/m2.qcow2" 0x82
qemu-img create -q -f raw "$tmp/srv/mov.raw" 32M
serve mov "$tmp/srv/mov.raw"
define_domain n9 11111111-2222-3333-4444-000000000009 "vda:$tmp/m1.qcow2" "vdb:$tmp/m2.qcow2"
expect_ok "start with two disks" start n9
expect_ok "live: vda into an NBD export, vdb into a local file, at once" \
    snapshot-create-as n9 m --disk-only --diskspec "vda,snapshot=external,stype=network,file=$(url mov)" \
    --diskspec "vdb,snapshot=external,file=$tmp/m2.m"
run domblklist n9
t_check "both disks moved" sh -c "grep -q 'vda *mov\$' '$tmp/out' && grep -q 'vdb *$tmp/m2.m\$' '$tmp/out'"
vm_write n9 vda "- 0x83"
vm_write n9 vdb "- 0x84"
t_check "vda's write is in the export" \
    sh -c "qemu-io -r -U -c 'read -P 0x83 65536 64k' '$(url mov)' | grep -q '^read 65536/65536'"
t_check "vdb's write is in its file overlay" \
    sh -c "qemu-io -r -U -c 'read -P 0x84 65536 64k' '$tmp/m2.m' | grep -q '^read 65536/65536'"
t_check "both bases are unchanged" sh -c "$(declare -f url_has); url_has '$tmp/m1.qcow2' 0x81 && url_has '$tmp/m2.qcow2' 0x82"
t_check "QEMU reads vda through the export" vm_holds n9 vda "0x81 0x83"
t_check "... and vdb through its file" vm_holds n9 vdb "0x82 0x84"
expect_ok "destroy" destroy n9

t_done
