#!/usr/bin/env bash
# The manual page against the command table, both ways: every command `vsnap help`
# lists and every option its help shows must have an entry in man/vsnap.1, and
# every command and option the page documents must exist. The page must also
# render without groff warnings.
#
# The page's conventions (see its header comment): a command entry is a line
# ".B name" right after ".PP" in the COMMANDS section; an option is a ".TP" whose
# tag line names it as \-\-option.
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

# --- what the program says
help_cmds() {
    "$VSNAP" help </dev/null | sed -n 's/^    \([a-z][a-z0-9-]*\)\( .*\)\{0,1\}$/\1/p'
}
# Option names in the OPTIONS section of `vsnap help CMD`, one per line.
help_opts() {
    "$VSNAP" help "$1" </dev/null | awk '
        /^ ? ?[A-Z]+$/ { sect = $1; next }   # NAME, SYNOPSIS, ..., OPTIONS
        sect == "OPTIONS" && match($0, /^ +\[?--[a-z0-9-]+/) {
            s = substr($0, RSTART, RLENGTH); sub(/^ +\[?--/, "", s); print s
        }'
}

# --- what the page says: "cmd" lines, then "cmd opt" lines
awk '
    /^\.SH / { in_cmds = ($2 == "COMMANDS"); cmd = ""; next }
    !in_cmds { prev = $0; next }
    prev == ".PP" && /^\.B [a-z][a-z\\-]*$/ {
        cmd = $2; gsub(/\\-/, "-", cmd); print "C " cmd
    }
    prev == ".TP" && cmd != "" {
        line = $0; gsub(/\\-/, "-", line)
        if (match(line, /--[a-z0-9-]+/)) print "O " cmd " " substr(line, RSTART + 2, RLENGTH - 2)
    }
    { prev = $0 }
' "$page" >"$scratch/page"
sed -n 's/^C //p' "$scratch/page" | sort -u >"$scratch/page-cmds"
sed -n 's/^O //p' "$scratch/page" | sort -u >"$scratch/page-opts"

help_cmds | sort -u >"$scratch/cmds"
check "vsnap help lists commands" test -s "$scratch/cmds"
check "the manual page has command entries" test -s "$scratch/page-cmds"

: >"$scratch/opts"
while read -r cmd; do
    if grep -qx -- "$cmd" "$scratch/page-cmds"; then
        ok "man page documents command $cmd"
    else
        not_ok "man page documents command $cmd (no '.B $cmd' entry under COMMANDS)"
    fi
    help_opts "$cmd" | sort -u | sed "s/^/$cmd /" >>"$scratch/opts"
done <"$scratch/cmds"
check "vsnap help shows options" test -s "$scratch/opts"

while read -r cmd opt; do
    if grep -qx -- "$cmd $opt" "$scratch/page-opts"; then
        ok "man page documents $cmd --$opt"
    else
        not_ok "man page documents $cmd --$opt (no .TP entry in its section)"
    fi
done <"$scratch/opts"

# The other way: nothing documented that the program does not have.
while read -r cmd; do
    if grep -qx -- "$cmd" "$scratch/cmds" || "$VSNAP" help "$cmd" </dev/null >/dev/null 2>&1; then
        ok "documented command $cmd exists"
    else
        not_ok "documented command $cmd exists (vsnap help $cmd fails)"
    fi
done <"$scratch/page-cmds"

while read -r cmd opt; do
    if grep -qx -- "$cmd $opt" "$scratch/opts" ||
        { ! grep -qx -- "$cmd" "$scratch/cmds" && help_opts "$cmd" | grep -qx -- "$opt"; }; then
        ok "documented option $cmd --$opt exists"
    else
        not_ok "documented option $cmd --$opt exists (not in vsnap help $cmd)"
    fi
done <"$scratch/page-opts"

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
    # Every section a manual page of a command is expected to have.
    for s in NAME SYNOPSIS DESCRIPTION "GLOBAL OPTIONS" "COMMAND STRINGS" COMMANDS \
        ENVIRONMENT FILES "EXIT STATUS" EXAMPLES "SEE ALSO"; do
        check "man page has section $s" grep -q "^\.SH \"\{0,1\}$s\"\{0,1\}\$" "$page"
    done
else
    ok "groff renders the page without warnings # SKIP groff not installed"
fi

echo "1..$n"
exit "$failed"
