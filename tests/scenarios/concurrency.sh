#!/usr/bin/env bash
# 16 processes, 50 rounds each, creating, listing and pruning snapshots of one
# domain (internal snapshots in a real qcow2 image) at the same time, half of
# them with --if-busy=skip and half failing when busy, a quarter of them
# trying the lock once (--wait 0) and the rest waiting up to 2 seconds.
# Afterwards:
#  - every command either succeeded or reported busy (skipped with its note,
#    or failed with the busy message), nothing else;
#  - every snapshot a process reported created exists, unless a prune
#    reported deleting it; every snapshot that exists was reported created;
#  - snapshot-check is clean (metadata and the image's snapshot table agree)
#    and no journal is left.
# CONCURRENCY_PROCS and CONCURRENCY_ROUNDS change the sizes. make check-concurrency
# runs it; scripts/test.sh runs that after make check.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
procs=${CONCURRENCY_PROCS:-16}
rounds=${CONCURRENCY_ROUNDS:-50}

img=$tmp/web.qcow2
make_image "$img"
define_domain web 9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a "vda:$img"
must snapshot-create-as web base

# worker I: its rounds; one line per command in $tmp/log.I:
#   created NAME | deleted NAME | ok | skipped | busy | FAILED ...
worker() {
    local i=$1 r op out err rc busy_opt wait=2
    [ $((i % 2)) = 0 ] && busy_opt=--if-busy=skip || busy_opt=--if-busy=fail
    [ $((i % 4)) -lt 2 ] && wait=0
    for ((r = 1; r <= rounds; r++)); do
        op=$(( (i + r) % 3 ))
        case $op in
        0) "$VSNAP" -d "$meta" --wait $wait $busy_opt snapshot-create-as web "c$i-$r" \
               >"$tmp/o.$i" 2>"$tmp/e.$i" </dev/null ;;
        1) "$VSNAP" -d "$meta" --wait $wait $busy_opt snapshot-list web --name \
               >"$tmp/o.$i" 2>"$tmp/e.$i" </dev/null ;;
        2) "$VSNAP" -d "$meta" --wait $wait $busy_opt snapshot-prune web --match 'c*' --keep-last 6 \
               >"$tmp/o.$i" 2>"$tmp/e.$i" </dev/null ;;
        esac
        rc=$?
        out=$(cat "$tmp/o.$i")
        err=$(cat "$tmp/e.$i")
        if [ "$rc" = 0 ] && [ -z "$err" ]; then
            case $op in
            0) echo "created c$i-$r" ;;
            2) sed -n 's/^Domain snapshot \(.*\) deleted$/deleted \1/p' "$tmp/o.$i" ;;
            esac
            echo ok
        elif [ "$rc" = 0 ] && [[ $err == "note: "*" skipped: domain 'web' is busy: "* ]] &&
             [ "$(grep -c . "$tmp/e.$i")" = 1 ]; then
            echo skipped
        elif [ "$rc" = 1 ] && [[ $err == "error: domain 'web' is busy: "* ]] &&
             [ "$(grep -c . "$tmp/e.$i")" = 1 ]; then
            echo busy
        else
            echo "FAILED op $op round $r status $rc: $(echo "$err" | head -2 | tr '\n' ' ') $(echo "$out" | head -2 | tr '\n' ' ')"
        fi
    done >"$tmp/log.$i"
}

start=$(date +%s)
pids=()
for ((i = 1; i <= procs; i++)); do
    worker "$i" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
took=$(( $(date +%s) - start ))

cat "$tmp"/log.* >"$tmp/all"
total=$((procs * rounds))
t_is "every one of the $total commands reported" "$(grep -cvE '^(created|deleted) ' "$tmp/all")" "$total"
if grep -q '^FAILED' "$tmp/all"; then
    t_not_ok "every command succeeded or reported busy"
    grep '^FAILED' "$tmp/all" | head -5 | sed 's/^/# /'
else
    t_ok "every command succeeded or reported busy"
fi
echo "# $procs processes x $rounds rounds in ${took}s: $(grep -c '^ok$' "$tmp/all") done," \
     "$(grep -c '^skipped$' "$tmp/all") skipped, $(grep -c '^busy$' "$tmp/all") busy;" \
     "$(grep -c '^created ' "$tmp/all") created, $(grep -c '^deleted ' "$tmp/all") deleted"

sed -n 's/^created //p' "$tmp/all" | sort >"$tmp/created"
sed -n 's/^deleted //p' "$tmp/all" | sort >"$tmp/deleted"
t_is "no snapshot was reported deleted twice" "$(uniq -d "$tmp/deleted")" ""
comm -23 "$tmp/created" "$tmp/deleted" >"$tmp/should"
"$VSNAP" -d "$meta" snapshot-list web --name | grep '^c' | sort >"$tmp/exist"
if cmp -s "$tmp/should" "$tmp/exist"; then
    t_ok "exactly the snapshots reported created and not reported deleted exist ($(grep -c . "$tmp/exist"))"
else
    t_not_ok "exactly the snapshots reported created and not reported deleted exist"
    diff "$tmp/should" "$tmp/exist" | head -10 | t_diag
fi
t_is "every deleted snapshot had been reported created" "$(comm -13 "$tmp/created" "$tmp/deleted")" ""
expect_ok "snapshot-check is clean" snapshot-check web
t_check "no journal is left" test ! -e "$meta/web/journal"
t_is "the image holds exactly the snapshots the metadata knows" \
    "$(tags "$img" | tr ' ' '\n' | sort | tr '\n' ' ')" \
    "$("$VSNAP" -d "$meta" snapshot-list web --name | grep . | sort | tr '\n' ' ')"

t_done
