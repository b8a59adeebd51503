#!/usr/bin/env bash
# The manual page as a page: it renders without groff warnings and has the
# sections and entries a command's manual needs. Whether it documents exactly
# the commands and options of the command table is `vsnap self-test`'s job
# (tests/scenarios/self-test.sh), which reads the table itself.
set -u

: "${VSNAP:?VSNAP must name the vsnap binary}"
: "${top_srcdir:?top_srcdir must be set}"
page=$top_srcdir/man/vsnap.1

n=0
failed=0
ok() {
    n=$((n + 1))
    echo "ok $n - $*"
}
not_ok() {
    n=$((n + 1))
    failed=1
    echo "not ok $n - $*"
}
check() {   # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/vsnap-man.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# Rendering: groff's warnings (-ww) at the default width, as man(1) would show it.
if command -v groff >/dev/null 2>&1; then
    groff -man -Tutf8 -ww -z "$page" >"$scratch/groff.out" 2>&1
    status=$?
    if [ "$status" -eq 0 ] && [ ! -s "$scratch/groff.out" ]; then
        ok "groff renders the page without warnings"
    else
        sed 's/^/# /' "$scratch/groff.out"
        not_ok "groff renders the page without warnings (status $status)"
    fi
else
    ok "groff renders the page without warnings # SKIP groff not installed"
fi

# Every section a manual page of a command is expected to have.
for s in NAME SYNOPSIS DESCRIPTION "GLOBAL OPTIONS" "COMMAND STRINGS" "INTERACTIVE SHELL" \
    COMMANDS ENVIRONMENT FILES "EXIT STATUS" EXAMPLES "SEE ALSO"; do
    check "man page has section $s" grep -q "^\.SH \"\{0,1\}$s\"\{0,1\}\$" "$page"
done

# section NAME: the text of that section, roff escapes for '-' removed.
section() {
    awk -v want="$1" '
        /^\.SH / { t = $0; sub(/^\.SH +"?/, "", t); sub(/"$/, "", t); in_s = (t == want); next }
        in_s { gsub(/\\-/, "-"); print }' "$page"
}
section ENVIRONMENT >"$scratch/env"
section FILES >"$scratch/files"
section EXAMPLES >"$scratch/examples"
for v in VSNAP_DIR XDG_DATA_HOME XDG_STATE_HOME HOME INPUTRC VISUAL EDITOR TMPDIR; do
    check "ENVIRONMENT documents $v" grep -q "^\.B.* $v\( \|\$\)" "$scratch/env"
done
check "FILES documents the history file" grep -q 'vsnap/history' "$scratch/files"
check "FILES documents the bash completion script" grep -q 'completions/vsnap.bash' "$scratch/files"
check "EXAMPLES has an interactive session" grep -q '^vsnap # ' "$scratch/examples"
check "EXAMPLES has a script" grep -q '^#!/bin/sh' "$scratch/examples"
check "EXAMPLES has a cron job" grep -q '/etc/cron' "$scratch/examples"

# The version on the page is the program's.
version=$("$VSNAP" --version </dev/null | sed -n 's/^vsnap //p')
check "the page's header names vsnap $version" grep -q "^\.TH VSNAP 1 .*\"vsnap $version\"" "$page"

echo "1..$n"
exit "$failed"
