#!/bin/bash
# Golden tests of the commands of a running domain against the expectations
# written from virsh's live transcripts:
#  - running-golden.expected, transcript 01: the lifecycle (start, domstate
#    [--reason], list, suspend, resume, destroy) and every snapshot command
#    (internal full-system snapshots taken while running and paused, every
#    snapshot-list filter, snapshot-info, snapshot-dumpxml, revert while
#    running, with --running, --paused, from shut off, delete in every form,
#    --halt, the --live error);
#  - running-golden-02.expected, transcript 02 steps 2-43: external disk-only
#    snapshots of a running domain (default names, --diskspec, --atomic,
#    --no-metadata, domblklist, and virsh's refusals), then external
#    full-system snapshots (--memspec: plain, --live, --halt) and the listings
#    and infos of the tree they make.
# stdout, stderr and exit status of each step byte for byte, apart from the
# Id column of list, creation times, the epoch name of `snapshot-create` and
# the widths of domblklist's table. The domain is the transcript's own
# definition (taken from the expectation of one of its dumps). When the
# reference material is present, each expected step is also checked against
# the virsh transcript it came from, so the in-tree copy cannot drift from
# virsh; steps marked "# vsnap:" are vsnap's on purpose and say why.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"

command -v qemu-system-x86_64 >/dev/null || { echo "1..0 # SKIP qemu-system-x86_64 not found"; exit 0; }
cleanup() {
    local f
    for f in "$tmp"/*/meta/anchor/run/pid; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
export LC_ALL=C TZ=UTC

# normalize COMMAND: what differs between runs by nature. The Id column of
# list (a number or "-" in the first column of its rows) and the widths it
# causes; domblklist's widths (its paths are the test's); creation times; the
# epoch-second name of an unnamed snapshot.
normalize() {
    local sq=cat
    case $1 in list*|domblklist*) sq="sed -E s/^-+$/-----/;s/\\s+/\\x20/g" ;; esac
    sed -E -e 's/^ [0-9]+ +/ ID /; s/^ - +/ - /' \
        -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} \+0000/DATE/g' \
        -e 's/<creationTime>[0-9]+</<creationTime>TIME</' \
        -e 's/(^|[^0-9])1[0-9]{9}($|[^0-9])/\1EPOCH\2/g' | $sq
}
# virsh's live domain XML has things vsnap does not put there (see the
# headers of the expectations): drop them from virsh's side only.
virsh_only() {
    sed -e '/^ *<resource>$/,/^ *<\/resource>$/d' -e '/^ *<cookie>$/,/^ *<\/cookie>$/d' \
        -e '/^ *<backingStore\/>$/d' -e "s|/tmp/live-ref/libvirt-root/images|@IMAGES@|g" \
        -e "s|/tmp/live-ref/data|@DATA@|g"
}

# steps FILE: "N<TAB>COMMAND" for each step.
steps() { sed -n 's/^==> \[\([0-9]*\)\] virsh # \(.*\)$/\1\t\2/p' "$1"; }
# block FILE N: the step's stdout/stderr/status lines.
block() {
    awk -v h="==> [$2] " 'index($0, h) == 1 { p = 1; next } /^==> |^# source:|^# vsnap:/ { p = 0 } p' "$1" |
        sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}
# ours FILE N: whether the step is marked as vsnap's on purpose
ours() { grep -B1 "^==> \[$2\] " "$1" | grep -q '^# vsnap:'; }

# golden EXPECTATION TRANSCRIPT DUMP-STEP: run every step of it in a fresh
# store, the domain taken from the <inactiveDomain> of step DUMP-STEP's dump.
golden() {
    local exp=$1 transcript=${VSNAP_REFERENCE:-}/virsh-live/transcripts/$2 dump=$3
    local w=$tmp/$2 n cmd
    local img=$w/images data=$w/data
    mkdir -p "$img" "$data"
    meta=$w/meta
    qemu-img create -q -f qcow2 "$img/anchor-a.qcow2" 1G || t_bail "qemu-img create"
    qemu-img create -q -f qcow2 "$img/anchor-b.qcow2" 1G || t_bail "qemu-img create"
    block "$exp" "$dump" | sed -n '/^  <inactiveDomain /,/^  <\/inactiveDomain>/p' |
        sed -e 's/^  //' -e 's/inactiveDomain/domain/' -e "s|@IMAGES@|$img|g" >"$w/anchor.xml"
    must define "$w/anchor.xml"
    while IFS=$'\t' read -r n cmd; do
        cmd=${cmd//@IMAGES@/$img}
        cmd=${cmd//@DATA@/$data}
        "$VSNAP" -d "$meta" "$cmd" >"$tmp/out" 2>"$tmp/err" </dev/null
        rc=$?
        { echo "--- stdout ---"; cat "$tmp/out"; echo "--- stderr ---"; cat "$tmp/err"
          echo "--- status: $rc ---"; } | sed -e "s|$img|@IMAGES@|g" -e "s|$data|@DATA@|g" |
            normalize "$cmd" >"$tmp/got"
        block "$exp" "$n" | normalize "$cmd" >"$tmp/want"
        if cmp -s "$tmp/got" "$tmp/want"; then
            t_ok "$2 step $n: $cmd"
        else
            t_not_ok "$2 step $n: $cmd"
            diff -u "$tmp/want" "$tmp/got" | t_diag
        fi
        if [ -n "${VSNAP_REFERENCE:-}" ] && [ -f "$transcript" ] && ! ours "$exp" "$n"; then
            block "$transcript" "$n" | virsh_only | normalize "$cmd" >"$tmp/virsh"
            if cmp -s "$tmp/virsh" "$tmp/want"; then
                t_ok "$2 step $n: the expectation is virsh's"
            else
                t_not_ok "$2 step $n: the expectation is virsh's"
                diff -u "$tmp/virsh" "$tmp/want" | t_diag
            fi
        fi
        # the internal snapshots of transcript 01's steps are in both images
        if [ "$2" = 01-running-internal.txt ] && [ "$n" = 32 ]; then
            t_is "s1 and s2 in vda's image" "$(qemu-img snapshot -U -l "$img/anchor-a.qcow2" | awk 'NR > 2 {printf "%s ", $2}')" "s1 s2 "
            t_is "... and in vdb's" "$(qemu-img snapshot -U -l "$img/anchor-b.qcow2" | awk 'NR > 2 {printf "%s ", $2}')" "s1 s2 "
        fi
        if [ "$2" = 01-running-internal.txt ] && [ "$n" = 76 ]; then
            t_is "--metadata left s5 in the image" "$(qemu-img snapshot -U -l "$img/anchor-a.qcow2" | awk 'NR > 2 {printf "%s ", $2}')" "s2 s5 "
        fi
    done < <(steps "$exp")
    if [ "$2" = 02-running-external.txt ]; then
        t_is "the overlays QEMU made are the transcript's" "$(cd "$img" && ls | tr '\n' ' ')$(cd "$data" && ls | tr '\n' ' ')" \
            "anchor-a.e1 anchor-a.qcow2 anchor-b.e1 anchor-b.qcow2 e2-a.qcow2 e3-a.qcow2 e3-b.qcow2 e4-a.e10 e4-a.qcow2 e4-b.e10 e4-b.qcow2 m1-a.m2 m1-a.qcow2 m1-b.m2 m1-b.qcow2 m1.mem m2.mem m3-a.qcow2 m3-b.qcow2 m3.mem "
        local f
        for f in m1 m2 m3; do
            t_is "02: $f.mem is a complete save image, mode 0600" \
                "$(head -c 16 "$data/$f.mem") $(stat -c %a "$data/$f.mem")" "LibvirtQemudSave 600"
        done
    fi
    "$VSNAP" -q -d "$meta" destroy anchor >/dev/null 2>&1
}

golden "${top_srcdir:-.}/tests/scenarios/running-golden.expected" 01-running-internal.txt 31
golden "${top_srcdir:-.}/tests/scenarios/running-golden-02.expected" 02-running-external.txt 5
[ -n "${VSNAP_REFERENCE:-}" ] && [ -f "$VSNAP_REFERENCE/virsh-live/transcripts/01-running-internal.txt" ] ||
    echo "# the cross-check against virsh's transcripts is skipped: no reference material"
t_done
