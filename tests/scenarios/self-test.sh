#!/usr/bin/env bash
# `vsnap self-test` against man/vsnap.1, and proof that it fails when the two
# drift apart (commands, options, help groups, what is hidden from help);
# help grouped as virsh's, `CMD --help` the same as `help CMD`,
# and the hidden commands kept out of help and completion.
set -u

: "${VSNAP:?VSNAP must name the vsnap binary}"
: "${top_srcdir:?top_srcdir must be set}"
page=$top_srcdir/man/vsnap.1

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }
diag() { sed 's/^/# /' "$@"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vsnap-selftest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export VSNAP_DIR=$tmp/meta

# --- the table and the manual agree
if "$VSNAP" self-test --manpage "$page" >"$tmp/out" 2>"$tmp/err" </dev/null; then
    ok "self-test passes against man/vsnap.1 ($(grep -c '^ok' "$tmp/out") checks)"
else
    not_ok "self-test passes against man/vsnap.1"
    grep -v '^ok' "$tmp/out" | diag
    diag "$tmp/err"
fi
if grep -q '^1\.\.[1-9]' "$tmp/out" && ! grep -q '^not ok' "$tmp/out"; then
    ok "self-test prints a TAP plan and no failure"
else
    not_ok "self-test prints a TAP plan and no failure"
fi

# expect_drift DESCRIPTION PATTERN: self-test on $tmp/bad.1 must fail and
# name what is wrong.
expect_drift() {
    if "$VSNAP" self-test --manpage "$tmp/bad.1" >"$tmp/out" 2>"$tmp/err" </dev/null; then
        not_ok "$1 (self-test passed)"
    elif grep -q "^not ok .*$2" "$tmp/out" && grep -q '^error: self-test: ' "$tmp/err"; then
        ok "$1"
    else
        not_ok "$1"
        diag "$tmp/out" | grep -v '^# ok' | head -20
        diag "$tmp/err"
    fi
}

# A command the manual lost: its entry renamed.
sed 's/^\.B snapshot\\-parent$/.B snapshot\\-parents/' "$page" >"$tmp/bad.1"
expect_drift "self-test fails when a command is missing from the manual" \
    "the manual documents command snapshot-parent\$"
expect_drift "self-test fails when the manual documents a command that does not exist" \
    "documented command snapshot-parents exists"

# An option the manual lost: the tag line of --children-only loses its name.
awk '/^\.TP$/ { print; tp = 1; next }
     tp && /\\-\\-children\\-only/ { print ".B \\-\\-kinder"; tp = 0; next }
     { tp = 0; print }' "$page" >"$tmp/bad.1"
expect_drift "self-test fails when an option is missing from the manual" \
    "the manual documents snapshot-delete --children-only"
expect_drift "self-test fails when the manual documents an option that does not exist" \
    "documented option snapshot-delete --kinder exists"

# The help groups: the help entry's list lost a group (as it had lost
# 'beyond'), a subsection names the wrong keyword.
awk '/^\.B help$/ { in_help = 1 }
     in_help && /^\.B beyond$/ { skip = 3 }
     skip { skip--; next }
     { print }' "$page" >"$tmp/bad.1"
grep -q '^\.B beyond$' "$tmp/bad.1" && not_ok "test setup: the group 'beyond' was not removed"
expect_drift "self-test fails when the help entry does not list every help group" \
    "the help entry of the manual lists the help groups domain, snapshot, beyond, vsnap"
sed "s/^\.SS \"Beyond virsh (help keyword 'beyond')\"\$/.SS \"Beyond virsh (help keyword 'snapshot')\"/" \
    "$page" >"$tmp/bad.1"
expect_drift "self-test fails when a subsection names the wrong help keyword" \
    "the manual documents snapshot-check under help keyword 'beyond' (not 'snapshot')"
sed "s/^\.SS \"Beyond virsh (help keyword 'beyond')\"\$/.SS Beyond virsh/" "$page" >"$tmp/bad.1"
expect_drift "self-test fails when a subsection does not name its help keyword" \
    "the subsections of COMMANDS are the help groups"

# Hidden commands: echo's entry stops saying it is left out of help (as it
# did not say before), the help entry's list forgets one.
awk '/^\.B echo$/ { in_echo = 1 }
     in_echo && /^Internal, and left out of$/ { print "Internal, and kept out of"; next }
     /^\.RE$/ { in_echo = 0 }
     { print }' "$page" >"$tmp/bad.1"
expect_drift "self-test fails when a hidden command's entry does not say it is left out of help" \
    "the manual says that echo is left out of help"
awk '/does not list the internal commands$/ { print; getline; print ".BR complete"; getline; getline; next }
     { print }' "$page" >"$tmp/bad.1"
grep -q '^\.B echo$' "$tmp/bad.1" || not_ok "test setup: echo's entry was lost"
expect_drift "self-test fails when the help entry does not name every hidden command" \
    "the help entry of the manual says it does not list exactly the hidden commands"
# An option help leaves out, documented as if help showed it.
awk '/^\.B snapshot\\-revert$/ { in_rev = 1 }
     in_rev && /^vsnap.s own option \(not in$/ { print "vsnap'"'"'s own option (shown in"; next }
     { print }' "$page" >"$tmp/bad.1"
expect_drift "self-test fails when a hidden option's entry does not say it is not in help" \
    "the manual says that snapshot-revert --dry-run is not in help"

if "$VSNAP" self-test --manpage "$tmp/nonexistent.1" >"$tmp/out" 2>/dev/null </dev/null; then
    not_ok "self-test fails when the manual cannot be read"
else
    ok "self-test fails when the manual cannot be read"
fi

# --- help: grouped as virsh's, hidden commands left out
"$VSNAP" help >"$tmp/help" 2>&1 </dev/null
if head -1 "$tmp/help" | grep -qx 'Grouped commands:' &&
    grep -q "^ Snapshot (help keyword 'snapshot'):\$" "$tmp/help" &&
    grep -q "^ Domain Management (help keyword 'domain'):\$" "$tmp/help"; then
    ok "help lists commands grouped as virsh does"
else
    not_ok "help lists commands grouped as virsh does"
    diag "$tmp/help"
fi
hidden=0
for c in complete self-test echo; do
    grep -q "^    $c " "$tmp/help" && hidden=1
done
if [ "$hidden" = 0 ]; then
    ok "help does not list the hidden commands"
else
    not_ok "help does not list the hidden commands"
fi

# --- COMMAND --help is help COMMAND, for every command help lists
cmds=$(sed -n 's/^    \([a-z][a-z0-9-]*\) .*/\1/p' "$tmp/help")
same=1
for c in $cmds complete self-test; do
    "$VSNAP" help "$c" >"$tmp/a" 2>&1 </dev/null
    "$VSNAP" "$c" --help >"$tmp/b" 2>&1 </dev/null
    if ! cmp -s "$tmp/a" "$tmp/b" || ! grep -q "^    $c - " "$tmp/a"; then
        same=0
        echo "# $c --help differs from help $c"
        diff -u "$tmp/a" "$tmp/b" | diag
    fi
done
if [ "$same" = 1 ] && [ -n "$cmds" ]; then
    ok "COMMAND --help prints what help COMMAND prints ($(echo "$cmds" | wc -w) commands)"
else
    not_ok "COMMAND --help prints what help COMMAND prints"
fi

echo "1..$n"
exit "$failed"
