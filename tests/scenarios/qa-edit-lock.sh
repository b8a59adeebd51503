#!/bin/bash
# QA: snapshot-edit must not hold the domain lock while the editor runs.
# An admin with an editor open for minutes would otherwise make every other
# command (the nightly cron snapshot, a plain snapshot-list) wait 30 s and
# fail with "domain is busy". snapshot-edit gives the lock up while the
# editor runs and takes it again to apply the edit, where a change made
# meanwhile shows up as "The XML configuration was changed by another user."
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"

img=$tmp/a.qcow2
make_image "$img"
define_domain dom 6f1c2c6e-0000-4000-8000-0000000000b1 "vda:$img"
must snapshot-create-as dom s1

# The editor stays open until the test lets it go (at most 120 s), so the
# check does not depend on how fast vsnap runs (valgrind makes it slow).
cat >"$tmp/slow-editor" <<EOF
#!/bin/sh
: >"$tmp/editor-open"
i=0
while [ ! -e "$tmp/editor-release" ] && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i + 1)); done
EOF
chmod +x "$tmp/slow-editor"
EDITOR=$tmp/slow-editor VISUAL= "$VSNAP" -d "$meta" -q snapshot-edit dom s1 </dev/null >/dev/null 2>&1 &
editor_pid=$!
for _ in $(seq 600); do [ -e "$tmp/editor-open" ] && break; sleep 0.1; done

# Both commands must finish while the editor is still open.
"$VSNAP" -d "$meta" -q snapshot-list dom --name >/dev/null 2>&1 &
list_pid=$!
"$VSNAP" -d "$meta" -q snapshot-create-as dom s2 >/dev/null 2>&1 &
create_pid=$!
for c in list create; do
    pid=list_pid; [ $c = create ] && pid=create_pid
    if wait "${!pid}" && [ ! -e "$tmp/editor-release" ] && kill -0 "$editor_pid" 2>/dev/null; then
        t_ok "$c does not wait for the editor"
    else
        t_not_ok "$c does not wait for the editor"
    fi
done
: >"$tmp/editor-release"
wait "$editor_pid"
run -q snapshot-list dom --name
t_is "both snapshots listed" "$(out | tr '\n' ' ')" "s1 s2 "


t_done
