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

printf '#!/bin/sh\nsleep 3\n' >"$tmp/slow-editor"
chmod +x "$tmp/slow-editor"
EDITOR=$tmp/slow-editor VISUAL= "$VSNAP" -d "$meta" -q snapshot-edit dom s1 </dev/null >/dev/null 2>&1 &
editor_pid=$!
sleep 0.5

timed() {
    local start
    start=$(date +%s%N)
    "$VSNAP" -d "$meta" -q "$@" >/dev/null 2>&1
    echo $((($(date +%s%N) - start) / 1000000))
}
timed snapshot-list dom --name >"$tmp/t-list" &
timed snapshot-create-as dom s2 >"$tmp/t-create" &
wait %2 %3 2>/dev/null
wait "$editor_pid"
for c in list create; do
    took=$(cat "$tmp/t-$c")
    if [ "$took" -lt 1500 ]; then t_ok "$c does not wait for the editor (${took} ms)"; else
        t_not_ok "$c does not wait for the editor (${took} ms)"; fi
done
run -q snapshot-list dom --name
t_is "both snapshots listed" "$(out | tr '\n' ' ')" "s1 s2 "


t_done
