#!/bin/bash
# QA: after an interrupted operation (vsnap killed with a <domain>/journal
# left behind) the commands that only read keep working, each with one
# warning line on stderr that names `vsnap snapshot-check DOMAIN --repair`;
# completion keeps completing and stays silent; every command that changes
# the domain (define and undefine too) refuses. Before the fix the read-only
# commands refused as well, so a user could not even look at what happened.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"

if ! grep -q '^#define VSNAP_FAILPOINTS 1' "${top_builddir:-.}/config.h" 2>/dev/null; then
    echo "1..0 # SKIP failpoints are not compiled in (configure --enable-failpoints)"
    exit 0
fi

img=$tmp/a.qcow2
other=$tmp/b.qcow2
make_image "$img"
make_image "$other"
define_domain vm 6f1c2c6e-0000-4000-8000-0000000000d1 "vda:$img"
define_domain calm 6f1c2c6e-0000-4000-8000-0000000000d2 "vda:$other"
must snapshot-create-as vm s1
must snapshot-create-as vm s2
must snapshot-current vm s1

# What the read-only commands print before anything is interrupted.
readers=(
    "snapshot-list vm"
    "snapshot-list vm --tree"
    "snapshot-list vm --name --parent"
    "snapshot-info vm s2"
    "snapshot-dumpxml vm s1"
    "snapshot-current vm --name"
    "snapshot-current vm"
    "snapshot-parent vm s2"
    "snapshot-create-as vm s9 --print-xml"
    "dumpxml vm"
    "domblklist vm --details"
    "domstate vm"
    "list --all"
)
declare -A before
for c in "${readers[@]}"; do
    run $c
    [ "$rc" = 0 ] || t_bail "setup: $c failed"
    before[$c]=$(out)
done
run complete -- snapshot-info vm ''
before_complete=$(out)

# Kill vsnap at the first step boundary of an external create: the journal
# stays, nothing else has changed yet.
{
    VSNAP_FAILPOINT=plan-step:1:kill "$VSNAP" -d "$meta" snapshot-create-as vm s3 --disk-only \
        >/dev/null 2>&1 </dev/null
    rc=$?
} 2>/dev/null
t_is "vsnap was killed in the middle of the create" "$rc" 137
t_check "the journal is left" test -e "$meta/vm/journal"
images=$img

# warned: exactly one line, "warning: domain 'vm' has an interrupted ... run
# 'vsnap snapshot-check vm --repair' ..."
warned() {
    [ "$(wc -l <"$tmp/err")" = 1 ] &&
        grep -q "^warning: domain 'vm' has an interrupted snapshot-create of snapshot 's3' (.*)" \
            "$tmp/err" &&
        grep -q "run 'vsnap snapshot-check vm --repair' to finish or roll it back\$" "$tmp/err"
}

snap_state >"$tmp/state0"
for c in "${readers[@]}"; do
    run $c
    if [ "$rc" = 0 ] && warned && [ "$(out)" = "${before[$c]}" ]; then
        t_ok "$c works, with one warning"
    else
        t_not_ok "$c works, with one warning"
        echo "# status $rc"
        t_diag "$tmp/err"
        diff <(printf '%s\n' "${before[$c]}") "$tmp/out" | t_diag
    fi
done
run -q snapshot-current vm --name
t_check "-q keeps the warning (stdout stays the bare name)" \
    eval 'warned && [ "$(out)" = s1 ]'
run 'snapshot-list vm --name; domstate calm'
t_is "a command string warns once, for the interrupted domain's command only" \
    "$(grep -c '^warning: ' "$tmp/err")" 1
run domstate calm
t_is "another domain is not affected" "$(err)" ""

"$VSNAP" -d "$meta" complete -- snapshot-info vm '' >"$tmp/out" 2>"$tmp/err" </dev/null
rc=$?
t_check "completion still completes, silently" \
    eval '[ "$rc" = 0 ] && [ ! -s "$tmp/err" ] && [ "$(out)" = "$before_complete" ]'
printf '%s\n' "$before_complete" | grep -qx s1 || t_not_ok "completion baseline lists s1"

snap_state >"$tmp/state1"
t_check "reading changed nothing" cmp -s "$tmp/state0" "$tmp/state1"

# Commands that change the domain refuse, with the repair in the message.
refusal="error: operation failed: domain 'vm' has an interrupted snapshot-create of snapshot 's3'"
refused() {
    grep -q "^$refusal (.*); run 'vsnap snapshot-check vm --repair' to finish or roll it back\$" \
        "$tmp/err"
}
for c in "snapshot-create-as vm s4" "snapshot-create vm" "snapshot-current vm s2" \
         "snapshot-revert vm s2" "snapshot-delete vm s2" "snapshot-delete vm s2 --metadata" \
         "snapshot-create-as vm s4 --dry-run"; do
    run $c
    if [ "$rc" = 1 ] && refused && [ "$(wc -l <"$tmp/err")" = 1 ]; then
        t_ok "$c refuses"
    else
        t_not_ok "$c refuses"
        echo "# status $rc"
        t_diag "$tmp/err"
    fi
done
run undefine vm --snapshots-metadata
t_check "undefine refuses (virsh's two lines)" \
    eval '[ "$rc" = 1 ] && [ "$(head -n1 "$tmp/err")" = "error: Failed to undefine domain '"'vm'"'" ] && refused'
run define "$tmp/vm.xml"
t_check "define of the domain again refuses" \
    eval '[ "$rc" = 1 ] && [ "$(head -n1 "$tmp/err")" = "error: Failed to define domain from $tmp/vm.xml" ] && refused'
snap_state >"$tmp/state2"
t_check "the refusals changed nothing" cmp -s "$tmp/state0" "$tmp/state2"

# snapshot-check reports it; --repair fixes it; then no more warnings.
run snapshot-check vm
t_check "snapshot-check reports the interrupted operation" \
    eval '[ "$rc" = 1 ] && grep -q "^journal: " "$tmp/out"'
run snapshot-check vm --repair
t_is "snapshot-check --repair succeeds" "$rc" 0
expect_ok "after the repair, snapshot-list has nothing to warn about" snapshot-list vm
expect_ok "and the domain can be changed again" snapshot-create-as vm s4

t_done
