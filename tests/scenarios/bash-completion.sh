#!/usr/bin/env bash
# Completion: `vsnap complete -- WORDS` directly, then completions/vsnap.bash
# in a real bash (COMP_* set as bash sets them, the function called, COMPREPLY
# checked), then an interactive bash in tmux where Tab edits the line.
set -u

: "${VSNAP:?VSNAP must name the vsnap binary}"
: "${top_srcdir:?top_srcdir must be set}"
script=$top_srcdir/completions/vsnap.bash

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }
diag() { sed 's/^/# /' "$@"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vsnap-bashcomp.XXXXXX")
sock=vsnap-test-$$
cleanup() {
    command -v tmux >/dev/null 2>&1 && tmux -L "$sock" kill-server 2>/dev/null
    # tmux leaves its socket file behind.
    rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$sock"
    rm -rf "$tmp"
}
trap cleanup EXIT
meta=$tmp/meta
unset VSNAP_DIR

# --- fixture: web1 with snapshots (names with a space, a quote, a colon), db1 without
vs() { "$VSNAP" -q -d "$meta" "$@" </dev/null >/dev/null 2>"$tmp/err"; }
domain_xml() {   # NAME
    qemu-img create -q -f qcow2 "$tmp/$1.qcow2" 16M || return 1
    cat >"$tmp/$1.xml" <<EOF
<domain type='qemu'>
  <name>$1</name>
  <memory unit='KiB'>32768</memory>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$tmp/$1.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
EOF
}
if ! domain_xml web1 || ! domain_xml db1 || ! vs define "$tmp/web1.xml" || ! vs define "$tmp/db1.xml"; then
    echo "Bail out! cannot define the test domains"
    diag "$tmp/err"
    exit 1
fi
for s in base "my snap" "my other" "it's" "v1:2"; do
    if ! vs snapshot-create-as web1 "$s"; then
        echo "Bail out! cannot create snapshot $s"
        diag "$tmp/err"
        exit 1
    fi
done
mkdir -p "$tmp/files/sub dir" && : >"$tmp/files/state.mem" && : >"$tmp/files/snap.xml"

# --- vsnap complete -- WORDS
# complete_is DESCRIPTION EXPECTED(newline-separated) WORDS...
complete_is() {
    local desc=$1 want=$2 rc
    shift 2
    "$VSNAP" -d "$meta" complete -- "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    rc=$?
    printf '%s' "$want" >"$tmp/want"
    [ -n "$want" ] && echo >>"$tmp/want"
    if [ "$rc" = 0 ] && [ ! -s "$tmp/err" ] && cmp -s "$tmp/want" "$tmp/out"; then
        ok "$desc"
    else
        not_ok "$desc"
        echo "# status $rc; words: $*"
        diff -u "$tmp/want" "$tmp/out" | diag
        diag "$tmp/err"
    fi
}
snapcmds=$(printf '%s\n' snapshot-check snapshot-prune snapshot-export snapshot-import snapshot-create snapshot-create-as snapshot-current snapshot-delete \
    snapshot-dumpxml snapshot-edit snapshot-info snapshot-list snapshot-parent snapshot-revert)
revert_opts=$(printf '%s\n' --current --running --paused --force --reset-nvram)
names=$(printf '%s\n' "base" "it\\'s" "my\\ other" "my\\ snap" "v1:2")

complete_is "command names by prefix" "$snapcmds" snap
"$VSNAP" -d "$meta" complete -- '' >"$tmp/out" 2>&1 </dev/null
if grep -qx define "$tmp/out" && grep -qx snapshot-revert "$tmp/out" &&
    ! grep -qx -e complete -e self-test -e echo "$tmp/out"; then
    ok "all command names, the hidden ones left out"
else
    not_ok "all command names, the hidden ones left out"
    diag "$tmp/out"
fi
complete_is "domains of a snapshot command: only those with snapshots" \
    "web1" snapshot-revert w
create_as_opts=$(printf '%s\n' --domain --name --description --print-xml --no-metadata --halt \
    --disk-only --reuse-external --quiesce --atomic --live --validate --memspec --diskspec)
complete_is "snapshot-create-as offers every domain, then its options" \
    "$(printf 'db1\nweb1')"$'\n'"$create_as_opts" snapshot-create-as ''
complete_is "snapshot names and the options left after the domain" \
    "$names"$'\n'"--snapshotname"$'\n'"$revert_opts" snapshot-revert web1 ''
complete_is "snapshot names by prefix, spaces escaped" "$(printf 'my\\ other\nmy\\ snap')" \
    snapshot-revert web1 my
complete_is "a word typed with a backslash" 'my\ snap' snapshot-revert web1 'my\ s'
complete_is "a quoted word: no escaping" "my snap" snapshot-revert web1 "'my s"
complete_is "a double-quoted word keeps its quote's escaping" "it's" snapshot-info web1 '"it'
complete_is "a single-quoted word with a quote in the name" "it'\\''s" snapshot-info web1 "'it"
complete_is "snapshot-current DOMAIN completes a snapshot name" "v1:2" snapshot-current web1 v
complete_is "--snapshotname with the domain given as --domain" "base" \
    snapshot-revert --domain web1 --snapshotname b
complete_is "--opt=value form" "--snapshotname=base" snapshot-delete --domain=web1 --snapshotname=b
complete_is "snapshot-list --from" "base" snapshot-list web1 --from b
complete_is "an unknown domain has no snapshot names" "" snapshot-revert nosuch b
complete_is "option names by prefix" "--running"$'\n'"--reset-nvram" snapshot-revert web1 base --r
complete_is "an option already given is not offered again" "--reset-nvram" \
    snapshot-revert web1 base --running --r
complete_is "a repeatable option is offered again" "--diskspec" \
    snapshot-create-as web1 --diskspec vda --disks
complete_is "--diskspec: the domain's disks" "vda" snapshot-create-as web1 --diskspec v
complete_is "--diskspec: keywords after the disk" \
    "$(printf 'vda,snapshot=\nvda,driver=\nvda,stype=\nvda,file=')" snapshot-create-as web1 --diskspec vda,
complete_is "--diskspec: snapshot= values" "vda,snapshot=external" \
    snapshot-create-as web1 --diskspec vda,snapshot=ex
complete_is "--diskspec: a keyword is offered once" "vda,snapshot=no,stype=" \
    snapshot-create-as web1 --diskspec vda,snapshot=no,s
complete_is "--diskspec: driver= and stype= values" "$(printf 'vda,driver=qcow2\nvda,driver=qed')" \
    snapshot-create-as web1 --diskspec vda,driver=q
complete_is "--diskspec given bare (positional)" "vda,stype=block" \
    snapshot-create-as web1 s1 desc vda,stype=b
complete_is "--memspec: keywords" "$(printf 'file=\nsnapshot=')" snapshot-create-as web1 --memspec ''
complete_is "--memspec: snapshot= values" "snapshot=external" snapshot-create-as web1 --memspec snapshot=e
complete_is "--memspec file= completes files" "file=$tmp/files/state.mem" \
    snapshot-create-as web1 --memspec "file=$tmp/files/st"
complete_is "--memspec=file= completes files" "--memspec=file=$tmp/files/sub\\ dir/" \
    snapshot-create-as web1 "--memspec=file=$tmp/files/su"
complete_is "snapshot-create's xmlfile completes files" "$tmp/files/snap.xml" \
    snapshot-create web1 "$tmp/files/sn"
complete_is "define FILE completes files" "$tmp/files/snap.xml" define "$tmp/files/sn"
complete_is "help completes commands and group keywords" "$(printf 'snapshot-list\n')" help snapshot-l
complete_is "no suggestions for --name" "" snapshot-create-as web1 --name ''
complete_is "after --, no option names" "" snapshot-revert web1 -- --
complete_is "an unknown command completes nothing" "" nosuch ''
complete_is "an empty line completes command names" "$(printf 'snapshot-revert')" snapshot-rev

# Silent and successful whatever it is given.
silent() {   # DESCRIPTION ARGS...
    local desc=$1 rc
    shift
    "$VSNAP" -d "$meta" complete "$@" >/dev/null 2>"$tmp/err" </dev/null
    rc=$?
    if [ "$rc" = 0 ] && [ ! -s "$tmp/err" ]; then
        ok "$desc: status 0, nothing on stderr"
    else
        not_ok "$desc: status 0, nothing on stderr (status $rc)"
        diag "$tmp/err"
    fi
}
silent "an option complete does not have" --bogus
silent "an unterminated quote" -- snapshot-revert web1 "'"
silent "a dangling backslash" -- snapshot-revert web1 'a\'
silent "an invalid domain name" -- snapshot-revert ../x ''
silent "no words" --
"$VSNAP" -d "$tmp/none" complete -- snapshot-revert web1 '' >"$tmp/out" 2>"$tmp/err" </dev/null
rc=$?
if [ "$rc" = 0 ] && [ ! -s "$tmp/err" ] && [ ! -e "$tmp/none" ] && grep -qx -- --current "$tmp/out"; then
    ok "a missing metadata directory: options only, nothing created"
else
    not_ok "a missing metadata directory: options only, nothing created"
fi

# Never waits for a lock and never takes a write lock: with a writer holding
# the domain, completion still answers at once.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$meta/web1/lock"
    flock -x 9
    start=$(date +%s%N)
    "$VSNAP" -d "$meta" complete -- snapshot-revert web1 my >"$tmp/out" 2>"$tmp/err" </dev/null 9>&-
    end=$(date +%s%N)
    exec 9>&-
    ms=$(((end - start) / 1000000))
    # (the lock wait it must not do is 30 s; under valgrind a run alone can
    # take seconds on a busy machine)
    bound=2000
    [ -n "${VSNAP_REAL:-}" ] && [ "$VSNAP" != "$VSNAP_REAL" ] && bound=15000
    if [ "$ms" -lt "$bound" ] && grep -qx 'my\\ snap' "$tmp/out"; then
        ok "completion does not wait for a domain locked by a writer (${ms} ms)"
    else
        not_ok "completion does not wait for a domain locked by a writer (${ms} ms)"
        diag "$tmp/out"
    fi
else
    ok "completion does not wait for a locked domain # SKIP flock(1) not installed"
fi

# --- completions/vsnap.bash, called as bash calls it
# bash_complete LINE: set COMP_LINE/COMP_POINT/COMP_WORDS/COMP_CWORD the way
# bash does for LINE (cursor at the end) and run _vsnap; COMPREPLY is printed
# one entry a line.
cat >"$tmp/drive.bash" <<'EOF'
line=$1
source "$SCRIPT" || exit 1
COMP_LINE=$line
COMP_POINT=${#line}
# bash's own split: blanks separate words, quotes group, and every run of
# COMP_WORDBREAKS characters is a word of its own.
COMP_WORDS=()
w='' q='' esc='' inw='' brkrun=''
for ((i = 0; i < ${#line}; i++)); do
    c=${line:i:1}
    if [[ -n $esc ]]; then w+=$c; esc=''; continue; fi
    if [[ -n $q ]]; then w+=$c; [[ $c == "$q" ]] && q=''; continue; fi
    case $c in
    ' ' | $'\t')
        [[ -n $inw ]] && COMP_WORDS+=("$w"); w='' inw='' brkrun=''; continue ;;
    \\) esc=1 ;;
    \' | \") q=$c ;;
    esac
    if [[ $c != [\'\"\\] && $COMP_WORDBREAKS == *"$c"* ]]; then
        if [[ -z $brkrun && -n $inw ]]; then COMP_WORDS+=("$w"); w=''; fi
        brkrun=1
    elif [[ -n $brkrun ]]; then
        COMP_WORDS+=("$w"); w='' brkrun=''
    fi
    w+=$c; inw=1
done
COMP_WORDS+=("$w")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_TYPE=9 COMP_KEY=9
COMPREPLY=()
_vsnap
printf '%s\n' "${COMPREPLY[@]}"
EOF
reply_is() {   # DESCRIPTION EXPECTED LINE
    local want=$2
    bash --norc --noprofile "$tmp/drive.bash" "$3" >"$tmp/out" 2>"$tmp/err"
    printf '%s\n' "$want" >"$tmp/want"
    [ -z "$want" ] && : >"$tmp/want" && sed -i '/^$/d' "$tmp/out"
    if cmp -s "$tmp/want" "$tmp/out" && [ ! -s "$tmp/err" ]; then
        ok "$1"
    else
        not_ok "$1"
        echo "# line: $3"
        diff -u "$tmp/want" "$tmp/out" | diag
        diag "$tmp/err"
    fi
}
export SCRIPT=$script
V=$VSNAP
reply_is "bash: command names" "$snapcmds" "$V -d $meta snap"
reply_is "bash: -d DIR before the command is passed on" "web1" "$V -d $meta snapshot-info w"
reply_is "bash: --dir=DIR too" "web1" "$V --dir=$meta snapshot-info w"
reply_is "bash: snapshot names with spaces, escaped" "$(printf 'my\\ other\nmy\\ snap')" \
    "$V -d $meta snapshot-revert web1 my"
reply_is "bash: inside a backslash-escaped word" 'my\ snap' "$V -d $meta snapshot-revert web1 my\\ s"
reply_is "bash: inside quotes, no escaping" "my snap" "$V -d $meta snapshot-revert web1 'my s"
reply_is "bash: a name with ':' (a bash word break)" "2" "$V -d $meta snapshot-revert web1 v1:"
reply_is "bash: options" "--running"$'\n'"--reset-nvram" "$V -d $meta snapshot-revert web1 base --r"
reply_is "bash: domain names, then options" "$(printf 'db1\nweb1')"$'\n'"$create_as_opts" \
    "$V -d $meta snapshot-create-as "
reply_is "bash: --memspec=file= after bash's '=' word break" "$tmp/files/state.mem" \
    "$V -d $meta snapshot-create-as web1 --memspec=file=$tmp/files/st"
reply_is "bash: --diskspec value with '='" "external" \
    "$V -d $meta snapshot-create-as web1 --diskspec vda,snapshot=ext"
reply_is "bash: global options" "--quiet" "$V --qu"
reply_is "bash: -d completes directories" "$tmp/files" "$V -d $tmp/fi"
reply_is "bash: nothing for an unknown command" "" "$V -d $meta nosuch "

# --- an interactive bash in a terminal: Tab edits the line
# bash finds the completion by the program's name, so this part needs $VSNAP
# to be called vsnap (under make check-valgrind it is a wrapper).
if [ "$(basename "$V")" != vsnap ]; then
    ok "interactive bash in a terminal # SKIP \$VSNAP is not named vsnap"
elif command -v tmux >/dev/null 2>&1; then
    T() { tmux -L "$sock" "$@"; }
    screen() { T capture-pane -p -t t; }
    wait_for() {   # PATTERN: wait until the screen shows it (grep -E)
        local i
        for ((i = 0; i < 100; i++)); do
            screen | grep -qE -- "$1" && return 0
            sleep 0.1
        done
        return 1
    }
    cat >"$tmp/bashrc" <<EOF
PS1='READY\$ '
source '$script'
cd '$tmp'
EOF
    T -f /dev/null new-session -d -s t -x 200 -y 40 "env -u VSNAP_DIR HISTFILE=/dev/null bash --noprofile --rcfile '$tmp/bashrc' -i"
    if wait_for 'READY\$'; then
        # capture-pane drops trailing blanks: a '#' typed after Tab shows
        # whether a space was appended (and bash takes it as a comment).
        tab_then() {   # TEXT PATTERN DESCRIPTION
            T send-keys -t t C-u "$1" Tab
            wait_for "${2% }"'$' >/dev/null
            T send-keys -t t '#'
            if wait_for "$2"'#$'; then
                ok "$3"
            else
                not_ok "$3"
                screen | grep -v '^$' | diag
            fi
        }
        tab_then "$V -d meta snapshot-revert web1 my\\ s" 'snapshot-revert web1 my\\ snap ' \
            "interactive bash: Tab completes a snapshot name with a space"
        T send-keys -t t Enter
        if wait_for 'Domain snapshot my snap reverted'; then
            ok "interactive bash: the completed line runs"
        else
            not_ok "interactive bash: the completed line runs"
            screen | grep -v '^$' | diag
        fi
        tab_then "$V -d meta snapshot-create-as web1 --diskspec=vda,snapshot=ext" \
            'diskspec=vda,snapshot=external ' "interactive bash: a value after bash's '=' word break"
        tab_then "$V -d meta snapshot-create-as web1 --memspec=file=fi" 'memspec=file=files/' \
            "interactive bash: a directory after '=', no space appended"
        tab_then "$V -d meta snapshot-info web1 'it" "snapshot-info web1 'it'\\\\''s' " \
            "interactive bash: a quoted name with a quote in it"
    else
        not_ok "interactive bash starts in tmux"
        screen | diag
    fi
    T kill-server 2>/dev/null
else
    ok "interactive bash in a terminal # SKIP tmux not installed"
fi

echo "1..$n"
exit "$failed"
