#!/bin/bash
# Golden test of the lifecycle commands (start, domstate [--reason], list
# [--all | --state-running --name], suspend, resume, destroy) against
# tests/scenarios/running-golden.expected: stdout, stderr and exit status of
# each step byte for byte, the Id column of list aside. When the reference
# material is present, each expected step is also checked against the virsh
# transcript it came from, so the in-tree copy cannot drift from virsh.
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

# The Id column (a number or "-" in the first column of list's rows) and the
# widths it causes are not compared.
normalize() {
    sed -E 's/^ [0-9]+ +/ ID /; s/^ - +/ - /; s/^-+$/-----/; s/ +/ /g'
}

# steps FILE: "N<TAB>COMMAND" for each step.
steps() { sed -n 's/^==> \[\([0-9]*\)\] virsh # \(.*\)$/\1\t\2/p' "$1"; }
# block FILE N: the step's stdout/stderr/status lines.
block() {
    awk -v h="==> [$2] " 'index($0, h) == 1 { p = 1; next } /^==> |^# source:/ { p = 0 } p' "$1" |
        sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}

make_image "$tmp/a.qcow2"
make_image "$tmp/b.qcow2"
define_domain anchor 11111111-2222-3333-4444-555555555555 "vda:$tmp/a.qcow2" "vdb:$tmp/b.qcow2"

while IFS=$'\t' read -r n cmd; do
    "$VSNAP" -d "$meta" "$cmd" >"$tmp/out" 2>"$tmp/err" </dev/null
    rc=$?
    { echo "--- stdout ---"; cat "$tmp/out"; echo "--- stderr ---"; cat "$tmp/err"
      echo "--- status: $rc ---"; } | normalize >"$tmp/got"
    block "$EXP" "$n" | normalize >"$tmp/want"
    if cmp -s "$tmp/got" "$tmp/want"; then
        t_ok "step $n: $cmd"
    else
        t_not_ok "step $n: $cmd"
        diff -u "$tmp/want" "$tmp/got" | t_diag
    fi
    if [ -n "${VSNAP_REFERENCE:-}" ] && [ -f "$TRANSCRIPT" ]; then
        block "$TRANSCRIPT" "$n" | normalize >"$tmp/virsh"
        if cmp -s "$tmp/virsh" "$tmp/want"; then
            t_ok "step $n: the expectation is virsh's"
        else
            t_not_ok "step $n: the expectation is virsh's"
            diff -u "$tmp/virsh" "$tmp/want" | t_diag
        fi
    fi
done < <(steps "$EXP")
[ -n "${VSNAP_REFERENCE:-}" ] && [ -f "$TRANSCRIPT" ] ||
    echo "# the cross-check against virsh's transcript is skipped: no reference material"
t_done
