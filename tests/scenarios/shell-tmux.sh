#!/usr/bin/env bash
# The interactive shell driven through a real terminal (tmux): the prompt,
# Tab completion, errors that do not end the session, the command-string
# grammar, Ctrl-C, Ctrl-D, quit, and a history that survives a restart.
set -u

: "${VSNAP:?VSNAP must name the vsnap binary}"

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }
diag() { sed 's/^/# /' "$@"; }

if ! command -v tmux >/dev/null 2>&1; then
    echo "1..0 # SKIP tmux not installed"
    exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vsnap-shell.XXXXXX")
sock=vsnap-test-$$
T() { tmux -L "$sock" "$@"; }
cleanup() {
    T kill-server 2>/dev/null
    # tmux leaves its socket file behind.
    rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$sock"
    rm -rf "$tmp"
}
trap cleanup EXIT
meta=$tmp/meta
state=$tmp/state

# --- fixture: web1 with three snapshots, one name with a space
qemu-img create -q -f qcow2 "$tmp/web1.qcow2" 16M || { echo "Bail out! qemu-img create failed"; exit 1; }
cat >"$tmp/web1.xml" <<EOF
<domain type='qemu'>
  <name>web1</name>
  <memory unit='KiB'>32768</memory>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$tmp/web1.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
EOF
for args in "define $tmp/web1.xml" "snapshot-create-as web1 base" \
    "snapshot-create-as web1 'before upgrade'" "snapshot-create-as web1 after"; do
    if ! "$VSNAP" -q -d "$meta" "$args" </dev/null >/dev/null 2>"$tmp/err"; then
        echo "Bail out! fixture: vsnap $args failed"
        diag "$tmp/err"
        exit 1
    fi
done

# --- driving the terminal
screen() { T capture-pane -p -t s 2>/dev/null; }
# wait_for PATTERN: until a line of the screen matches (grep -E); 10 s at most.
wait_for() {
    local i
    for ((i = 0; i < 100; i++)); do
        screen | grep -qE -- "$1" && return 0
        sleep 0.1
    done
    return 1
}
# The session is gone once vsnap exits (the pane closes with it).
wait_gone() {
    local i
    for ((i = 0; i < 100; i++)); do
        T has-session -t s 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}
start_shell() {
    T -f /dev/null new-session -d -s s -x 160 -y 50 \
        "env XDG_STATE_HOME='$state' HOME='$tmp' '$VSNAP' -d '$meta'" &&
        T set-option -t s remain-on-exit off >/dev/null
    wait_for '^vsnap #$'
}
# check DESCRIPTION PATTERN: the screen shows PATTERN.
check() {
    if wait_for "$2"; then
        ok "$1"
    else
        not_ok "$1"
        screen | grep -v '^$' | diag
    fi
}
clear_screen() { T clear-history -t s; T send-keys -t s C-l; sleep 0.1; }

if start_shell; then
    ok "vsnap with no command shows the 'vsnap # ' prompt"
else
    not_ok "vsnap with no command shows the 'vsnap # ' prompt"
    screen | diag
    echo "Bail out! the shell did not start"
    exit 1
fi
check "the welcome banner" "^Welcome to vsnap"

# An error prints its message; the prompt comes back and the next command works.
T send-keys -t s 'snapshot-info web1 nosuch' Enter
check "an error prints its message" \
    "^error: Domain snapshot not found: no domain snapshot with matching name 'nosuch'"
T send-keys -t s 'snapshot-bogus web1' Enter
check "an unknown command prints its message" "^error: unknown command: 'snapshot-bogus'"
T send-keys -t s 'snapshot-current web1 --name' Enter
check "the session goes on after errors" '^after$'

# Tab: a command name, then a snapshot name with a space.
clear_screen
T send-keys -t s 'snapshot-rev' Tab
check "Tab completes a command name" '^vsnap # snapshot-revert$'
T send-keys -t s 'web1 bef' Tab
check "Tab completes a snapshot name (escaping its space)" \
    '^vsnap # snapshot-revert web1 before\\ upgrade$'
T send-keys -t s Enter
check "the completed command runs" '^Domain snapshot before upgrade reverted'
clear_screen
# capture-pane drops trailing blanks: the '--' typed after Tab shows the space.
T send-keys -t s "snapshot-info web1 'bef" Tab
wait_for "'before upgrade'\$" >/dev/null
T send-keys -t s -- '--'
check "Tab inside quotes closes the quote and adds a space" "^vsnap # snapshot-info web1 'before upgrade' --\$"
T send-keys -t s C-u 'snapshot-list web1 --tr' Tab
check "Tab completes an option name" '^vsnap # snapshot-list web1 --tree$'
T send-keys -t s C-u 'snapshot-create-as web1 --diskspec vda,snapshot=ext' Tab
check "Tab completes a --diskspec keyword value" \
    '^vsnap # snapshot-create-as web1 --diskspec vda,snapshot=external$'
T send-keys -t s C-u

# Ctrl-C drops the line being typed and keeps the session.
clear_screen
T send-keys -t s 'snapshot-delete web1 base'
sleep 0.2
T send-keys -t s C-c
T send-keys -t s 'snapshot-list web1 --name' Enter
check "Ctrl-C drops the line, the session goes on" '^before upgrade$'
if screen | grep -q 'Domain snapshot base deleted'; then
    not_ok "the line dropped by Ctrl-C did not run"
else
    ok "the line dropped by Ctrl-C did not run"
fi

# The command-string grammar: ';' separates, '#' comments, quotes group.
clear_screen
T send-keys -t s "echo 'one  two'; echo three # echo four" Enter
check "';' runs two commands and quoting keeps blanks" '^one  two$'
check "the second command of the line ran" '^three$'
if screen | grep -q '^four$'; then
    not_ok "'#' starts a comment"
else
    ok "'#' starts a comment"
fi

# virsh's cd and pwd: Tab offers directories; relative paths after cd
# resolve there.
mkdir -p "$tmp/xmls/inner"
"$VSNAP" -d "$meta" dumpxml web1 >"$tmp/xmls/web1.xml" </dev/null
real_xmls=$(cd "$tmp/xmls" && pwd -P)
clear_screen
T send-keys -t s "cd $tmp/xm" Tab
check "Tab completes a directory for cd" "^vsnap # cd $tmp/xmls/\$"
T send-keys -t s Enter
T send-keys -t s 'pwd' Enter
check "pwd prints the directory cd went to" "^$real_xmls\$"
T send-keys -t s 'define web1.xml' Enter
check "a relative file after cd is read there" "^Domain 'web1' defined from web1.xml\$"

# help and help COMMAND
clear_screen
T send-keys -t s 'help snapshot-parent' Enter
check "help COMMAND" '^    snapshot-parent - Get the name of the parent of a snapshot$'

# Ctrl-D ends the session.
T send-keys -t s C-d
if wait_gone; then
    ok "Ctrl-D ends the session"
else
    not_ok "Ctrl-D ends the session"
    screen | diag
fi

hist=$state/vsnap/history
if [ -f "$hist" ] && grep -qx 'snapshot-list web1 --name' "$hist"; then
    ok "history is kept in \$XDG_STATE_HOME/vsnap/history"
else
    not_ok "history is kept in \$XDG_STATE_HOME/vsnap/history"
    [ -f "$hist" ] && diag "$hist"
fi
if [ -f "$hist" ] && [ "$(stat -c %a "$hist")" = 600 ]; then
    ok "the history file is private (0600)"
else
    not_ok "the history file is private (0600)"
fi
if [ -f "$hist" ] && ! grep -q 'snapshot-delete web1 base' "$hist"; then
    ok "a line dropped with Ctrl-C is not in the history"
else
    not_ok "a line dropped with Ctrl-C is not in the history"
fi

# A new session: Up recalls the previous session's last command.
if start_shell; then
    T send-keys -t s Up
    check "Up recalls the previous session's command" '^vsnap # help snapshot-parent$'
    T send-keys -t s C-u 'quit' Enter
    if wait_gone; then
        ok "quit ends the session"
    else
        not_ok "quit ends the session"
        screen | diag
    fi
else
    not_ok "the shell starts again"
    screen | diag
fi

# The same shell reads commands from a pipe, without a prompt.
printf 'snapshot-current web1 --name\nsnapshot-info web1 nosuch\necho still here\n' |
    "$VSNAP" -d "$meta" >"$tmp/out" 2>"$tmp/err"
if grep -qx 'before upgrade' "$tmp/out" && grep -qx 'still here' "$tmp/out" &&
    grep -q "^error: Domain snapshot not found" "$tmp/err" && ! grep -q 'vsnap # ' "$tmp/out"; then
    ok "commands piped into vsnap run one a line, errors do not stop them"
else
    not_ok "commands piped into vsnap run one a line, errors do not stop them"
    diag "$tmp/out" "$tmp/err"
fi

echo "1..$n"
exit "$failed"
