#!/usr/bin/env bash
# The plan spine against the ways vsnap used to lose data (issue "one plan
# spine"): a damaged snapshot file, another domain built on a frozen image,
# one domain's repair taking another's temporary file, a grown empty
# overlay; and the rest of that list: an undo that fails, a metadata write
# whose directory sync fails, overlays synced before they are named, the
# same plan for --metadata with and without --dry-run, define/undefine over
# an interrupted operation, one image under several names; and deleting
# every snapshot in any order, which must leave the domain on its images.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"

failpoints=false
grep -q '^#define VSNAP_FAILPOINTS 1' "${top_builddir:-.}/config.h" 2>/dev/null && failpoints=true
wrapped=false
[ -n "${VSNAP_REAL:-}" ] && [ "$VSNAP" != "$VSNAP_REAL" ] && wrapped=true

# disk_src DOM N: the domain's N-th disk source (1-based)
disk_src() {
    "$VSNAP" -d "$meta" dumpxml "$1" | sed -n "s/.*<source file='\([^']*\)'.*/\1/p" | sed -n "${2}p"
}
backing() {
    qemu-img info --output=json "$1" | sed -n 's/.*"full-backing-filename": "\([^"]*\)".*/\1/p'
}
vsize() {
    qemu-img info --output=json "$1" | sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p' | head -1
}
# read_ok IMAGE BYTE [OFFSET]: 64 KiB at OFFSET read back BYTE, through the chain
read_ok() {
    local o
    o=$(qemu-io -r -f qcow2 -c "read -P $2 ${3:-0} 64k" "$1" 2>&1) || return 1
    case $o in *"failed"*|*"rror"*) return 1 ;; esac
    return 0
}
skip() { t_ok "# SKIP $*"; }

# Each part keeps its images in a directory of its own: snapshot-check looks
# at the files beside a domain's images.
part() { mkdir -p "$tmp/$1"; w=$tmp/$1; }

# ---- 1. a damaged snapshot file stops every plan -----------------------
part p1
a1=$w/a1.qcow2
make_image "$a1"
define_domain vm 6f0c3f7e-58a4-4a0e-8f57-1d0c0e3a9a01 "vda:$a1"
write_pattern "$a1" 0x11
must snapshot-create-as vm A --disk-only
write_pattern "$(disk_src vm 1)" 0x12
must snapshot-create-as vm B --disk-only
write_pattern "$(disk_src vm 1)" 0x13
must snapshot-create-as vm C --disk-only
write_pattern "$(disk_src vm 1)" 0x14
b_xml=$meta/vm/snapshots/B.xml
cp "$b_xml" "$tmp/B.good"
# damaged in place (a full disk): the directory does not change
head -c 100 "$tmp/B.good" >"$b_xml"
images="$a1 $w/a1.A $w/a1.B $w/a1.C"
snap_state >"$tmp/before"
run snapshot-delete vm A
snap_state >"$tmp/after"
t_is "delete with a damaged snapshot file is refused" "$rc" 1
t_check "... and changes nothing" cmp -s "$tmp/before" "$tmp/after"
case $(err) in *"cannot plan on domain 'vm': snapshot file '$meta/vm/snapshots/B.xml' cannot be used"*"run 'vsnap snapshot-check vm'"*)
    t_ok "... the error names the file and snapshot-check" ;;
*) t_not_ok "... the error names the file and snapshot-check"; t_diag "$tmp/err" ;;
esac
t_check "... B's images are all still there" test -e "$w/a1.A" -a -e "$w/a1.B"
t_check "... B's data reads back (0x12 through its chain)" read_ok "$w/a1.A" 0x12
run snapshot-revert vm A
t_is "revert with a damaged file is refused" "$rc" 1
# damaged by an edit that replaced the file: the index sees it too
head -c 100 "$tmp/B.good" >"$tmp/B.bad" && mv "$tmp/B.bad" "$b_xml"
snap_state >"$tmp/before"
run snapshot-create-as vm D --disk-only
snap_state >"$tmp/after"
t_is "create with a damaged file is refused" "$rc" 1
t_check "... and changes nothing" cmp -s "$tmp/before" "$tmp/after"
run snapshot-delete vm A
t_is "delete too" "$rc" 1
run snapshot-check vm
case $(out) in *"B.xml' cannot be used"*"--redefine"*"snapshot-delete vm B --metadata"*)
    t_ok "snapshot-check names the damaged file and the ways out" ;;
*) t_not_ok "snapshot-check names the damaged file and the ways out"; t_diag "$tmp/out" ;;
esac
cp "$tmp/B.good" "$b_xml"
expect_ok "restored: the delete plans again" snapshot-delete vm A
run snapshot-dumpxml vm B
b_content=$(out | xmllint --xpath "string(//domain/devices/disk/source/@file)" -)
t_check "after it, B still reads its data (0x12)" read_ok "$b_content" 0x12
# the way out that forgets: a damaged C is forgotten, its images stay
head -c 50 "$tmp/B.good" >"$meta/vm/snapshots/C.xml"
images="$a1 $w/a1.A $w/a1.B $w/a1.C"
images_sum >"$tmp/before"
expect_ok "a damaged snapshot is forgotten with --metadata" snapshot-delete vm C --metadata
t_check "... its file is gone" test ! -e "$meta/vm/snapshots/C.xml"
images_sum >"$tmp/after"
t_check "... and no image changed" cmp -s "$tmp/before" "$tmp/after"
run snapshot-list vm --name
t_is "... the rest is listed" "$(out)" "B"
expect_ok "... and plans work again" snapshot-delete vm B --dry-run
expect_ok "teardown vm" undefine vm --snapshots-metadata

# ---- 2. another domain on this one's frozen image -----------------------
part p2
a=$w/a.qcow2
make_image "$a"
define_domain da 6f0c3f7e-58a4-4a0e-8f57-1d0c0e3a9a02 "vda:$a"
write_pattern "$a" 0x21
must snapshot-create-as da S1 --disk-only
write_pattern "$(disk_src da 1)" 0x22
qemu-img create -q -f qcow2 -F qcow2 -b "$a" "$w/b.qcow2"
define_domain db 6f0c3f7e-58a4-4a0e-8f57-1d0c0e3a9a03 "vda:$w/b.qcow2"
run snapshot-delete da S1 --dry-run
case $(out) in *"commit   "*) t_not_ok "the plan does not commit into the shared image"; t_diag "$tmp/out" ;;
*) t_ok "the plan does not commit into the shared image" ;; esac
case $(out) in *"note: keeps $a: domain 'db' uses it"*|*"note: keeps $a: the backing chain of '$w/b.qcow2' reaches it (domain 'db' uses it)"*)
    t_ok "... and says which domain relies on it" ;;
*) t_not_ok "... and says which domain relies on it"; t_diag "$tmp/out" ;;
esac
sum_a=$(sha256sum "$a")
expect_ok "delete S1" snapshot-delete da S1
t_is "the shared image is unchanged" "$(sha256sum "$a")" "$sum_a"
t_check "domain db still reads what it was built on (0x21)" read_ok "$w/b.qcow2" 0x21
t_check "domain da keeps its later data (0x22)" read_ok "$(disk_src da 1)" 0x22
expect_ok "teardown db" undefine db
expect_ok "teardown da" undefine da --snapshots-metadata

# ---- 4. a grown overlay that holds nothing is merged with a commit -------
part p4
g=$w/g.qcow2
make_image "$g"
define_domain dg 6f0c3f7e-58a4-4a0e-8f57-1d0c0e3a9a04 "vda:$g"
must snapshot-create-as dg G1 --disk-only
qemu-img resize -q "$(disk_src dg 1)" 32M
run snapshot-delete dg G1 --dry-run
case $(out) in *"commit   $w/g.G1 into $g"*) t_ok "a grown empty overlay is committed" ;;
*) t_not_ok "a grown empty overlay is committed"; t_diag "$tmp/out" ;; esac
expect_ok "delete G1" snapshot-delete dg G1
t_is "the domain is back on its image" "$(disk_src dg 1)" "$g"
t_is "... and the disk did not shrink" "$(vsize "$g")" $((32 * 1024 * 1024))
# an empty overlay of the same size needs no commit, and the plan says so
must snapshot-create-as dg G2 --disk-only
run snapshot-delete dg G2 --dry-run
case $(out) in *"commit   "*) t_not_ok "an empty overlay is not committed"; t_diag "$tmp/out" ;;
*"it held no data of its own, so $g takes its place without a commit"*) t_ok "an empty overlay is not committed, and the plan says so" ;;
*) t_not_ok "an empty overlay is not committed, and the plan says so"; t_diag "$tmp/out" ;; esac
expect_ok "teardown dg" undefine dg --snapshots-metadata

# ---- deleting every snapshot, in any order, ends on the original image ----
for order in "a c b" "b a c" "c b a" "a b c"; do
    part "m2-${order// /}"
    m=$w/m2.qcow2
    make_image "$m"
    define_domain m2 6f0c3f7e-58a4-4a0e-8f57-1d0c0e3a9a05 "vda:$m"
    write_pattern "$m" 0x31
    must snapshot-create-as m2 a --disk-only
    must snapshot-create-as m2 b --disk-only
    must snapshot-revert m2 a
    must snapshot-create-as m2 c --disk-only
    write_pattern "$(disk_src m2 1)" 0x32
    for s in $order; do must snapshot-delete m2 "$s"; done
    t_is "delete in order $order: the domain is on its original image" "$(disk_src m2 1)" "$m"
    t_check "... with the current content" read_ok "$m" 0x32
    t_check "... no overlay is registered" test ! -e "$meta/m2/overlays"
    t_is "... no overlay file is left" "$(ls "$w")" "m2.qcow2"
    expect_ok "... snapshot-check is clean" snapshot-check m2
    must undefine m2
done
# overlays nothing needs, left by --metadata deletes: check reports, --repair merges
part m3
m=$w/m3.qcow2
make_image "$m"
define_domain m3 6f0c3f7e-58a4-4a0e-8f57-1d0c0e3a9a06 "vda:$m"
must snapshot-create-as m3 a --disk-only
write_pattern "$(disk_src m3 1)" 0x33
must snapshot-delete m3 a --metadata
run snapshot-check m3
t_is "an overlay nothing needs is a finding" "$rc" 1
case $(out) in *"unneeded: commit   $w/m3.a into $m"*) t_ok "... reported as the merge --repair does" ;;
*) t_not_ok "... reported as the merge --repair does"; t_diag "$tmp/out" ;; esac
expect_ok "check --repair merges it" snapshot-check m3 --repair
t_is "... the domain is on its image" "$(disk_src m3 1)" "$m"
t_check "... with its data" read_ok "$m" 0x33
expect_ok "... and check is clean" snapshot-check m3
must undefine m3

# ---- the same image under several names ------------------------------------
part same
s=$w/same.qcow2
make_image "$s"
ln -s "$s" "$w/same-link.qcow2"
define_domain ds 6f0c3f7e-58a4-4a0e-8f57-1d0c0e3a9a07 "vda:$w/same-link.qcow2"
write_pattern "$s" 0x41
expect_ok "snapshot of a disk named through a link" snapshot-create-as ds L1 --disk-only
write_pattern "$(disk_src ds 1)" 0x42
expect_ok "check knows the image by its file, not its name" snapshot-check ds
expect_ok "delete merges into the file behind the link" snapshot-delete ds L1
t_check "... the data is there" read_ok "$s" 0x42
must undefine ds

# ---- a dangling link as the overlay is refused ------------------------------
part dl
make_image "$w/dl.qcow2"
define_domain dl 6f0c3f7e-58a4-4a0e-8f57-1d0c0e3a9a08 "vda:$w/dl.qcow2"
ln -s "$tmp/outside/x.qcow2" "$w/dangling"
images="$w/dl.qcow2"
expect_error "a dangling link as the overlay is refused" \
    "error: unsupported configuration: external snapshot file for disk vda is a symbolic link to a file that does not exist: $w/dangling" \
    snapshot-create-as dl x --diskspec "vda,snapshot=external,file=$w/dangling"
t_check "... nothing was created at its target" test ! -e "$tmp/outside/x.qcow2"
must undefine dl

# ---- --metadata: the plan that runs is the one --dry-run prints --------------
part md
make_image "$w/md.qcow2"
define_domain md 6f0c3f7e-58a4-4a0e-8f57-1d0c0e3a9a09 "vda:$w/md.qcow2"
must snapshot-create-as md r1
must snapshot-create-as md r2
must snapshot-create-as md r3
run snapshot-delete md r2 --metadata --dry-run
dry=$(out)
(cd "$meta/md" && find . -type f ! -name lock ! -name index -print0 | sort -z | xargs -0 sha256sum) >"$tmp/md.before"
expect_ok "delete --metadata" snapshot-delete md r2 --metadata
(cd "$meta/md" && find . -type f ! -name lock ! -name index -print0 | sort -z | xargs -0 sha256sum) >"$tmp/md.after"
changed=$(diff "$tmp/md.before" "$tmp/md.after" | sed -n 's/^[<>] [0-9a-f]*  \.\///p' | sort -u | tr '\n' ' ')
# every metadata step of the dry run, as the file it changes
planned=$(printf '%s\n' "$dry" | sed -n \
    -e "s/^  [0-9]*\. metadata: write snapshot '\(.*\)'.*/snapshots\/\1.xml/p" \
    -e "s/^  [0-9]*\. metadata: remove snapshot '\(.*\)'.*/snapshots\/\1.xml/p" \
    -e "s/^  [0-9]*\. metadata: write the domain definition.*/domain.xml/p" \
    -e "s/^  [0-9]*\. metadata: \(current snapshot\|no current\).*/current/p" \
    -e "s/^  [0-9]*\. metadata: write the list of overlays.*/overlays/p" | sort -u | tr '\n' ' ')
t_is "the files that changed are the ones the dry run named" "$changed" "$planned"
t_is "... and they are r3's (its parent moved) and r2's" "$planned" "snapshots/r2.xml snapshots/r3.xml "
must undefine md --snapshots-metadata

# ---- failures: an undo that fails, a directory sync that fails -------------
if ! $failpoints; then
    skip "failpoints are not compiled in (configure --enable-failpoints)"
elif $wrapped; then
    skip "failpoints and crashes are not run under a wrapper such as valgrind"
else
    part df
    f=$w/f1.qcow2
    f2=$w/f2.qcow2
    make_image "$f"
    make_image "$f2"
    define_domain df 6f0c3f7e-58a4-4a0e-8f57-1d0c0e3a9a0a "vda:$f" "vdb:$f2"
    # the create's second step fails, and so does the undo of the first
    VSNAP_FAILPOINT=plan-step:2,plan-undo:1 run snapshot-create-as df u1 --disk-only
    t_is "a failed create whose undo fails: status 1" "$rc" 1
    case $(err) in *"could not be undone"*"snapshot-check df --repair"*) t_ok "... says to repair" ;;
    *) t_not_ok "... says to repair"; t_diag "$tmp/err" ;; esac
    t_check "... and keeps the journal to repair from" test -e "$meta/df/journal"
    expect_ok "... the repair rolls it back" snapshot-check df --repair
    t_is "... the domain is on its images" "$(disk_src df 1) $(disk_src df 2)" "$f $f2"
    t_check "... no overlay is left" test ! -e "$w/f1.u1" -a ! -e "$w/f2.u1"
    # the domain definition is renamed into place but its directory sync fails:
    # the rollback puts the old definition back before it removes the overlays
    # (directory syncs: 1 the journal's, 2 snapshots/ after the snapshot file,
    # 3 the domain directory after the definition; the plan's metadata steps
    # share their directory syncs, made before the journal goes)
    VSNAP_FAILPOINT=file-write-dirsync:3 run snapshot-create-as df u2 --disk-only
    t_is "a create whose definition write half failed: status 1" "$rc" 1
    t_is "... the definition names the old images" "$(disk_src df 1) $(disk_src df 2)" "$f $f2"
    t_check "... the overlays are gone" test ! -e "$w/f1.u2" -a ! -e "$w/f2.u2"
    t_check "... no journal" test ! -e "$meta/df/journal"
    run snapshot-list df --name
    t_is "... no snapshot" "$(out)" ""

    # define and undefine over an interrupted operation
    VSNAP_FAILPOINT=plan-step:2:kill run snapshot-create-as df u3 --disk-only
    t_check "an interrupted create leaves its journal" test -e "$meta/df/journal"
    domain_xml df 6f0c3f7e-58a4-4a0e-8f57-1d0c0e3a9a0a "vda:$f" "vdb:$f2" >"$tmp/df.xml"
    images="$f $f2"
    for c in "define $tmp/df.xml" "undefine df --snapshots-metadata"; do
        snap_state >"$tmp/before"
        # shellcheck disable=SC2086
        run $c
        snap_state >"$tmp/after"
        t_is "${c%% *} over an interrupted operation: status 1" "$rc" 1
        case $(err) in *"interrupted snapshot-create"*"snapshot-check df --repair"*) t_ok "... says why" ;;
        *) t_not_ok "... says why"; t_diag "$tmp/err" ;; esac
        t_check "... and changes nothing" cmp -s "$tmp/before" "$tmp/after"
    done
    expect_ok "the repair" snapshot-check df --repair
    expect_ok "undefine works again" undefine df --snapshots-metadata

    # ---- 3. one domain's repair never takes another's temporary file
    part pq
    p=$w/p.qcow2
    q=$w/q.qcow2
    make_image "$p"
    make_image "$q"
    define_domain dp 6f0c3f7e-58a4-4a0e-8f57-1d0c0e3a9a0b "vda:$p"
    define_domain dq 6f0c3f7e-58a4-4a0e-8f57-1d0c0e3a9a0c "vda:$q"
    write_pattern "$q" 0x51
    must snapshot-create-as dq Q1 --disk-only
    write_pattern "$(disk_src dq 1)" 0x52
    # revert to the leaf Q1: its overlay is recreated empty beside it, then
    # moved over it; kill vsnap once the new file exists, before the move
    run snapshot-revert dq Q1 --dry-run
    nsteps=$(out | grep -c '^  [0-9]*\. ')
    killed=false
    for k in $(seq 2 $((nsteps + 1))); do
        rm -rf "$tmp/save" && mkdir "$tmp/save" && cp -a "$meta" "$w/q.qcow2" "$w/q.Q1" "$tmp/save/"
        VSNAP_FAILPOINT=plan-step:$k:kill run snapshot-revert dq Q1
        # past the commit point, the move not made yet
        if ls "$w" | grep -q '^q\.Q1\.vsnap-' &&
           grep -q '"phase":"committed"' "$meta/dq/journal" 2>/dev/null; then
            killed=true
            break
        fi
        rm -rf "$meta" && cp -a "$tmp/save/meta" "$meta" && cp -a "$tmp/save/q.qcow2" "$tmp/save/q.Q1" "$w/"
    done
    t_check "a revert of dq killed with its temporary file in place" $killed
    tmpf=$(ls "$w" | grep '^q\.Q1\.vsnap-' | head -1)
    case $tmpf in *"6f0c3f7e-58a4-4a0e-8f57-1d0c0e3a9a0c") t_ok "... the temporary file carries dq's uuid" ;;
    *) t_not_ok "... the temporary file carries dq's uuid: $tmpf" ;; esac
    run snapshot-check dp --repair
    t_check "repairing dp leaves dq's temporary file" test -e "$w/$tmpf"
    expect_ok "dq's repair finishes the revert" snapshot-check dq --repair
    t_check "... dq reads the snapshot's data (0x51)" read_ok "$(disk_src dq 1)" 0x51
    # the same with the temporary file lost: the repair makes it again
    rm -rf "$meta" && cp -a "$tmp/save/meta" "$meta" && cp -a "$tmp/save/q.qcow2" "$tmp/save/q.Q1" "$w/"
    VSNAP_FAILPOINT=plan-step:$k:kill run snapshot-revert dq Q1
    rm -f "$w"/q.Q1.vsnap-*
    expect_ok "with the temporary file lost, dq's repair still reverts" snapshot-check dq --repair
    t_check "... dq reads the snapshot's data (0x51)" read_ok "$(disk_src dq 1)" 0x51
    t_check "... and not the data it left (0x52)" eval "! read_ok '$(disk_src dq 1)' 0x52"
fi

# ---- overlays are durable before the definition names them -----------------
if ! command -v strace >/dev/null 2>&1; then
    skip "strace is not installed"
elif $wrapped; then
    skip "strace is not run under a wrapper such as valgrind"
else
    part do
    o=$w/o.qcow2
    make_image "$o"
    define_domain do 6f0c3f7e-58a4-4a0e-8f57-1d0c0e3a9a0d "vda:$o"
    strace -f -qq -e trace=openat,fsync,rename,renameat,renameat2 -o "$tmp/trace" \
        "$VSNAP" -d "$meta" snapshot-create-as do O1 --disk-only >/dev/null 2>&1
    # file descriptor -> path, then the order of the syncs and the rename
    awk -v ovl="$w/o.O1" -v dir="$w" '
        /openat\(/ { if (match($0, /"[^"]*"/)) { p = substr($0, RSTART + 1, RLENGTH - 2) }
                     if (match($0, /= [0-9]+$/)) { fd[$1 " " substr($0, RSTART + 2)] = p } }
        /fsync\(/ { if (match($0, /fsync\([0-9]+/)) { n = substr($0, RSTART + 6, RLENGTH - 6)
                     f = fd[$1 " " n]; if (f == ovl) so = NR; if (f == dir) sd = NR } }
        /rename(at2?)?\(/ && /domain\.xml"/ { rn = NR }
        END { exit !(so && sd && rn && so < rn && sd < rn) }' "$tmp/trace"
    t_is "the overlay and its directory are synced before domain.xml is replaced" "$?" 0
fi

t_done
