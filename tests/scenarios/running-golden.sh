#!/bin/bash
# Golden test of the commands of a running domain against
# tests/scenarios/running-golden.expected: the lifecycle (start, domstate
# [--reason], list, suspend, resume, destroy) and every snapshot command of
# virsh-live transcript 01 (internal full-system snapshots taken while
# running and paused, every snapshot-list filter, snapshot-info,
# snapshot-dumpxml, revert while running, with --running, --paused, from shut
# off, delete in every form, --halt, the --live error): stdout, stderr and
# exit status of each step byte for byte, apart from the Id column of list,
# creation times and the epoch name of `snapshot-create`. The domain is the
# transcript's own definition (taken from the expectation of step 31). When
# the reference material is present, each expected step is also checked
# against the virsh transcript it came from, so the in-tree copy cannot drift
# from virsh.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"

command -v qemu-system-x86_64 >/dev/null || { echo "1..0 # SKIP qemu-system-x86_64 not found"; exit 0; }
EXP=${top_srcdir:-.}/tests/scenarios/running-golden.expected
TRANSCRIPT=${VSNAP_REFERENCE:-}/virsh-live/transcripts/01-running-internal.txt
cleanup() {
    [ -f "$meta/anchor/run/pid" ] && kill -9 "$(cat "$meta/anchor/run/pid")" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
export LC_ALL=C TZ=UTC
img=$tmp/images
mkdir -p "$img"

# normalize COMMAND: what differs between runs by nature. The Id column of
# list (a number or "-" in the first column of its rows) and the widths it
# causes; creation times; the epoch-second name of an unnamed snapshot.
normalize() {
    local sq=cat
    case $1 in list*) sq="sed -E s/^-+$/-----/;s/\\s+/\\x20/g" ;; esac
    sed -E -e 's/^ [0-9]+ +/ ID /; s/^ - +/ - /' \
        -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} \+0000/DATE/g' \
        -e 's/<creationTime>[0-9]+</<creationTime>TIME</' \
        -e 's/(^|[^0-9])1[0-9]{9}($|[^0-9])/\1EPOCH\2/g' | $sq
}
# virsh's live domain XML has three things vsnap does not put there (see the
# header of the expectation): drop them from virsh's side only.
virsh_only() {
    sed -e '/^ *<resource>$/,/^ *<\/resource>$/d' -e '/^ *<cookie>$/,/^ *<\/cookie>$/d' \
        -e '/^ *<backingStore\/>$/d' -e "s|/tmp/live-ref/libvirt-root/images|@IMAGES@|g"
}

# steps FILE: "N<TAB>COMMAND" for each step.
steps() { sed -n 's/^==> \[\([0-9]*\)\] virsh # \(.*\)$/\1\t\2/p' "$1"; }
# block FILE N: the step's stdout/stderr/status lines.
block() {
    awk -v h="==> [$2] " 'index($0, h) == 1 { p = 1; next } /^==> |^# source:/ { p = 0 } p' "$1" |
        sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}

# The transcript's domain: the <inactiveDomain> of step 31's dump.
qemu-img create -q -f qcow2 "$img/anchor-a.qcow2" 1G || t_bail "qemu-img create"
qemu-img create -q -f qcow2 "$img/anchor-b.qcow2" 1G || t_bail "qemu-img create"
block "$EXP" 31 | sed -n '/^  <inactiveDomain /,/^  <\/inactiveDomain>/p' |
    sed -e 's/^  //' -e 's/inactiveDomain/domain/' -e "s|@IMAGES@|$img|g" >"$tmp/anchor.xml"
must define "$tmp/anchor.xml"

while IFS=$'\t' read -r n cmd; do
    "$VSNAP" -d "$meta" "$cmd" >"$tmp/out" 2>"$tmp/err" </dev/null
    rc=$?
    { echo "--- stdout ---"; cat "$tmp/out"; echo "--- stderr ---"; cat "$tmp/err"
      echo "--- status: $rc ---"; } | sed "s|$img|@IMAGES@|g" | normalize "$cmd" >"$tmp/got"
    block "$EXP" "$n" | normalize "$cmd" >"$tmp/want"
    if cmp -s "$tmp/got" "$tmp/want"; then
        t_ok "step $n: $cmd"
    else
        t_not_ok "step $n: $cmd"
        diff -u "$tmp/want" "$tmp/got" | t_diag
    fi
    if [ -n "${VSNAP_REFERENCE:-}" ] && [ -f "$TRANSCRIPT" ]; then
        block "$TRANSCRIPT" "$n" | virsh_only | normalize "$cmd" >"$tmp/virsh"
        if cmp -s "$tmp/virsh" "$tmp/want"; then
            t_ok "step $n: the expectation is virsh's"
        else
            t_not_ok "step $n: the expectation is virsh's"
            diff -u "$tmp/virsh" "$tmp/want" | t_diag
        fi
    fi
    # after step 32 (s1 and s2 exist): the internal snapshots are in both images
    if [ "$n" = 32 ]; then
        t_is "s1 and s2 in vda's image" "$(qemu-img snapshot -U -l "$img/anchor-a.qcow2" | awk 'NR > 2 {printf "%s ", $2}')" "s1 s2 "
        t_is "... and in vdb's" "$(qemu-img snapshot -U -l "$img/anchor-b.qcow2" | awk 'NR > 2 {printf "%s ", $2}')" "s1 s2 "
    fi
    if [ "$n" = 76 ]; then
        t_is "--metadata left s5 in the image" "$(qemu-img snapshot -U -l "$img/anchor-a.qcow2" | awk 'NR > 2 {printf "%s ", $2}')" "s2 s5 "
    fi
done < <(steps "$EXP")
[ -n "${VSNAP_REFERENCE:-}" ] && [ -f "$TRANSCRIPT" ] ||
    echo "# the cross-check against virsh's transcript is skipped: no reference material"
t_done
