#!/bin/bash
# QA: virsh's shell built-ins `cd [DIR]` and `pwd`, in command strings and
# in the shell. libvirt's own virsh scripts use `cd DIR` so that relative
# xmlfile paths resolve there; vsnap answered "unknown command: 'cd'".
# Output and errors are virsh's: `cd` without DIR (or with an empty one)
# goes to $HOME, a failing chdir is "cd: <strerror>: <dir>", and `pwd`
# prints $PWD while it still names the working directory, else getcwd(3).
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"

img=$tmp/a.qcow2
make_image "$img"
images=$img
define_domain vm 6f1c2c6e-0000-4000-8000-0000000000e1 "vda:$img"
# pwd prints the real path: build the expectations on it
rtmp=$(cd "$tmp" && pwd -P)
work=$rtmp/work
home=$rtmp/home
mkdir -p "$work/sub/deeper" "$home"
printf '<domainsnapshot><name>from-rel</name></domainsnapshot>\n' >"$work/rel.xml"
printf '<domainsnapshot><name>from-shell</name></domainsnapshot>\n' >"$work/sub/rel2.xml"
: >"$work/plain-file"

# 1. a command string: cd, then a relative xmlfile
run "cd $work; snapshot-create vm rel.xml; pwd"
t_is "cd DIR; snapshot-create DOM rel.xml: status" "$rc" 0
# (virsh's empty line after each command: cd prints nothing else)
expect_stdout "the file is read in DIR, and pwd prints DIR" "
Domain snapshot from-rel created from 'rel.xml'
$work
"
t_is "nothing on stderr" "$(err)" ""
run -q snapshot-list vm --name
t_is "the snapshot exists" "$(out)" "from-rel"

# 2. errors, as virsh words them; the string goes on after a failing cd
here=$(pwd -P)
run -q "cd $tmp/nonexistent; pwd"
t_is "cd to a missing directory: status of the last command" "$rc" 0
t_is "cd to a missing directory: virsh's message" "$(err)" \
    "error: cd: No such file or directory: $tmp/nonexistent"
t_is "the working directory stays" "$(out)" "$here"
expect_error "cd to a missing directory alone fails" \
    "error: cd: No such file or directory: $tmp/nonexistent" -q cd "$tmp/nonexistent"
expect_error "cd to a file fails" "error: cd: Not a directory: $work/plain-file" \
    -q cd "$work/plain-file"
expect_error "cd takes one directory" "error: unexpected data 'b'" cd a b

# 3. no DIR, or an empty one: the home directory
HOME=$home run -q "cd; pwd"
t_is "cd without DIR goes to \$HOME" "$(out)" "$home"
HOME=$home run -q "cd ''; pwd"
t_is "cd '' goes to \$HOME too" "$(out)" "$home"
HOME=$home run -q "cd --dir=$work; pwd"
t_is "cd --dir=DIR" "$(out)" "$work"

# 4. pwd: $PWD while it names the working directory (a path through a link
# reads as written), the real path once cd moved away from it
ln -s "$work" "$rtmp/link"
out=$(cd "$rtmp/link" && PWD=$rtmp/link "$VSNAP" -q -d "$meta" pwd 2>&1)
t_is "pwd keeps a \$PWD that names the working directory" "$out" "$rtmp/link"
out=$(cd "$rtmp/link" && PWD=$rtmp/link "$VSNAP" -q -d "$meta" 'cd sub; pwd' 2>&1)
t_is "after cd, pwd prints the real directory" "$out" "$(cd "$work/sub" && pwd -P)"

# 5. a relative metadata directory stays where it was
out=$(cd "$tmp" && "$VSNAP" -q -d meta "cd $work/sub; snapshot-list vm --name" 2>&1)
t_is "-d with a relative path still finds the domains after cd" "$out" "from-rel"

# 6. the shell (piped input): cd, a relative xmlfile, pwd
printf '%s\n' "cd $work/sub" "snapshot-create vm rel2.xml" "pwd" "cd deeper" "pwd" |
    "$VSNAP" -q -d "$meta" >"$tmp/out" 2>"$tmp/err"
rc=$?
t_is "shell: status" "$rc" 0
expect_stdout "shell: cd, a relative xmlfile, pwd, a relative cd" "$work/sub
$work/sub/deeper"
t_is "shell: nothing on stderr" "$(err)" ""
run -q snapshot-list vm --name
t_is "shell: the snapshot exists" "$(out | tr '\n' ' ')" "from-rel from-shell "

# 7. help and completion
run help vsnap
t_check "help vsnap lists cd and pwd" eval \
    "grep -qx '    cd                             change the current directory' '$tmp/out' &&
     grep -qx '    pwd                            print the current directory' '$tmp/out'"
run help cd
t_check "help cd shows the optional DIR" grep -qx '    cd \[--dir <string>\]' "$tmp/out"
(cd "$work" && "$VSNAP" -d "$meta" complete -- cd s) >"$tmp/out" 2>&1
expect_stdout "cd completes directory names only" "sub/"
(cd "$work" && "$VSNAP" -d "$meta" complete -- snapshot-create vm s) >"$tmp/out" 2>&1
expect_stdout "(where an xmlfile completes files too)" "sub/"
(cd "$work" && "$VSNAP" -d "$meta" complete -- snapshot-create vm '') >"$tmp/out" 2>&1
t_check "(and regular files)" grep -qx 'rel.xml' "$tmp/out"
(cd "$work" && "$VSNAP" -d "$meta" complete -- cd '') >"$tmp/out" 2>&1
expect_stdout "cd '' offers the directories and --dir" "sub/
--dir"
(cd "$work" && "$VSNAP" -d "$meta" complete -- c) >"$tmp/out" 2>&1
expect_stdout "the command name completes" "cd"

t_done
