#!/usr/bin/env bash
# The README's demo (scripts/demo.sh) against the built vsnap: it must run to the
# end and show the snapshot tree it builds (installed -> configured -> two
# branches), the current snapshot, and the internal snapshots inside the image.
set -u

: "${VSNAP:?VSNAP must name the vsnap binary}"
: "${top_srcdir:?top_srcdir must be set}"

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/vsnap-demo-test.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
out=$scratch/out

# demo.sh makes (and removes) its own scratch directory under TMPDIR.
mkdir "$scratch/tmp"
TMPDIR=$scratch/tmp VSNAP=$VSNAP bash "$top_srcdir/scripts/demo.sh" --no-build >"$out" 2>&1
status=$?
if [ "$status" -eq 0 ]; then
    ok "demo runs to the end"
else
    sed 's/^/# /' "$out"
    not_ok "demo runs to the end (status $status)"
fi

# The output of the command echoed as "$ ... WORDS", up to the next echoed command.
section() {
    awk -v want="$1" '
        /^\$ / { on = (index($0, want) > 0 && substr($0, length($0) - length(want) + 1) == want); next }
        /^== / { on = 0 }
        on' "$out"
}

section "snapshot-list demo --tree" >"$scratch/tree"
if [ "$(head -n 1 "$scratch/tree")" = installed ]; then
    ok "the tree's root is installed"
else
    sed 's/^/# /' "$scratch/tree"
    not_ok "the tree's root is installed"
fi
for s in configured upgrade-1 upgrade-2 experiment experiment-2; do
    if grep -Eq "^[ |]*\+- $s\$" "$scratch/tree"; then
        ok "the tree shows $s as a child"
    else
        not_ok "the tree shows $s as a child"
    fi
done

# Parents, from the --parent table (name first, parent last).
section "snapshot-list demo --parent" >"$scratch/parents"
for pair in "configured installed" "upgrade-1 configured" "upgrade-2 upgrade-1" \
    "experiment configured" "experiment-2 experiment"; do
    read -r snap parent <<<"$pair"
    if awk -v s="$snap" -v p="$parent" '$1 == s && $NF == p { found = 1 } END { exit !found }' "$scratch/parents"; then
        ok "$snap's parent is $parent"
    else
        sed 's/^/# /' "$scratch/parents"
        not_ok "$snap's parent is $parent"
    fi
done

section "snapshot-info demo --current" >"$scratch/info"
for field in "Name: *experiment-2" "Domain: *demo" "Current: *yes" "Parent: *experiment" "Children: *0"; do
    if grep -Eq "^$field\$" "$scratch/info"; then
        ok "snapshot-info --current shows ${field/: \*/: }"
    else
        sed 's/^/# /' "$scratch/info"
        not_ok "snapshot-info --current shows ${field/: \*/: }"
    fi
done

# The snapshots are internal: qemu-img sees all six inside the image.
section "system.qcow2" >"$scratch/qemu-img"
count=0
for s in installed configured upgrade-1 upgrade-2 experiment experiment-2; do
    grep -Eq "[[:space:]]${s}[[:space:]]" "$scratch/qemu-img" && count=$((count + 1))
done
if [ "$count" -eq 6 ]; then
    ok "qemu-img snapshot -l lists the six snapshots"
else
    sed 's/^/# /' "$scratch/qemu-img"
    not_ok "qemu-img snapshot -l lists the six snapshots (found $count)"
fi

if [ -z "$(ls -A "$scratch/tmp")" ]; then
    ok "demo removes its scratch directory"
else
    not_ok "demo removes its scratch directory"
fi

echo "1..$n"
exit "$failed"
