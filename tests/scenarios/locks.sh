#!/usr/bin/env bash
# Locks that cron can use, through the vsnap binary: while a writer's plan
# runs image work (held there by the named fake fake-qemu-img-slow, which
# waits for a gate file before running the real qemu-img), readers get in
# at once and say nothing about the running plan's journal; another writer
# waits --wait SECONDS and then fails naming the holder's command and pid,
# or with --if-busy=skip prints one note and exits 0, changing nothing; a
# writer killed with SIGKILL is no obstacle to the next command.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
fake=${top_srcdir:-.}/tests/scenarios/fake-qemu-img-slow

img=$tmp/web.qcow2
make_image "$img"
define_domain web 2c3d4e5f-6a7b-4c8d-9e0f-a1b2c3d4e5f6 "vda:$img"
must snapshot-create-as web s0
images=$img

# start_writer NAME: snapshot-create-as web NAME in the background, held in
# its qemu-img step until release_writer; sets $writer to its pid
gate=$tmp/gate started=$tmp/started
start_writer() {
    rm -f "$gate" "$started"
    VSNAP_QEMU_IMG=$fake FAKE_QEMU_IMG_GATE=$gate FAKE_QEMU_IMG_STARTED=$started \
        "$VSNAP" -d "$meta" snapshot-create-as web "$1" >"$tmp/w.out" 2>"$tmp/w.err" </dev/null &
    writer=$!
    local i=0
    while [ ! -s "$started" ] && [ "$i" -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
    [ -s "$started" ] || t_bail "the writer never reached its qemu-img step"
}
release_writer() {
    : >"$gate"
    wait "$writer"
    writer_rc=$?
}
ms() { echo $(( $(date +%s%N) / 1000000 )); }

start_writer s1
# ---- readers: in at once, silent about the running plan
worst=0
for c in "snapshot-list web" "snapshot-info web s0" "snapshot-current web --name" \
         "snapshot-list web --tree" "snapshot-list web --json" "dumpxml web" "domblklist web"; do
    t0=$(ms)
    # shellcheck disable=SC2086
    run --wait 30 $c
    took=$(( $(ms) - t0 ))
    [ "$took" -gt "$worst" ] && worst=$took
    if [ "$rc" = 0 ] && [ ! -s "$tmp/err" ] && [ "$took" -lt 5000 ]; then
        t_ok "while a writer runs qemu-img, '$c' reads at once ($took ms), without a warning"
    else
        t_not_ok "while a writer runs qemu-img, '$c' reads at once ($took ms), without a warning"
        echo "# status $rc"
        t_diag "$tmp/err"
    fi
done
echo "# the slowest of those readers took $worst ms behind a writer held in its qemu-img step"

# ---- writers: wait, then fail naming the holder, or skip
t0=$(ms)
expect_error "a second writer waits --wait 1 and names the holder" \
    "error: domain 'web' is busy: 'vsnap snapshot-create-as' (pid $writer) held its lock for the 1 second vsnap waited; nothing was changed, it is safe to retry" \
    --wait 1 snapshot-create-as web s2
took=$(( $(ms) - t0 ))
t_check "... after about a second ($took ms)" test "$took" -ge 900 -a "$took" -lt 10000
expect_error "--wait 0 tries once" \
    "error: domain 'web' is busy: 'vsnap snapshot-create-as' (pid $writer) holds its lock; nothing was changed, it is safe to retry" \
    --wait 0 snapshot-prune web --keep-last 1
snap_state >"$tmp/before"
run --wait 0 --if-busy=skip snapshot-create-as web s2
snap_state >"$tmp/after"
t_is "--if-busy=skip: status 0" "$rc" 0
t_is "... one note" "$(err)" "note: snapshot-create-as skipped: domain 'web' is busy: 'vsnap snapshot-create-as' (pid $writer) holds its lock; nothing was changed, it is safe to retry"
t_check "... and nothing changed" cmp -s "$tmp/before" "$tmp/after"
run -q --wait 0 --if-busy=skip snapshot-prune web --keep-last 1
t_is "-q --if-busy=skip: status 0, nothing printed" "$rc:$(out)$(err)" "0:"
run --wait 0 --if-busy=skip 'snapshot-create-as web s3; snapshot-list web --name'
t_is "in a command string the skipped command does not stop the next" "$rc:$(grep -c . "$tmp/out")" "0:1"
run --wait 0 --if-busy=fail snapshot-create-as web s2
t_is "--if-busy=fail is the default: status 1" "$rc" 1
expect_error "--if-busy takes fail or skip" "error: option --if-busy takes fail or skip, not 'later'" \
    --if-busy=later snapshot-list web
expect_error "--wait takes seconds" "error: option --wait needs a number of seconds, 0 or more, not '-1'" \
    --wait=-1 snapshot-list web

release_writer
t_is "the held writer finished" "$writer_rc:$(cat "$tmp/w.out")" "0:Domain snapshot s1 created"
t_is "its record went with its lock" "$(wc -c <"$meta/web/lock" | tr -d ' ')" 0
expect_ok "the next writer goes ahead" --wait 0 snapshot-create-as web s2

# ---- a writer killed in the middle: its lock is no obstacle
start_writer s3
kill -KILL "$writer"
wait "$writer" 2>/dev/null
# and the qemu-img it started, before it runs
kill -KILL "$(cat "$started")" 2>/dev/null
t_check "the killed writer left its record behind" grep -q "pid $writer" "$meta/web/lock"
run --wait 0 snapshot-list web --name
t_is "a reader is not held up" "$rc" 0
case $(err) in *"has an interrupted snapshot-create"*"snapshot-check web --repair"*)
    t_ok "... and warns about the interrupted plan (no writer is at work now)" ;;
*) t_not_ok "... and warns about the interrupted plan (no writer is at work now)"; t_diag "$tmp/err" ;; esac
expect_ok "a writer gets the lock at once: snapshot-check --repair" --wait 0 snapshot-check web --repair
t_check "no journal left" test ! -e "$meta/web/journal"
expect_ok "snapshot-check is clean" snapshot-check web

t_done
