#!/usr/bin/env bash
# snapshot-prune through the vsnap binary, against real qcow2 images: the
# decisions (table, JSON), the deletions in one plan (tags gone from the
# image, children moved up, the current snapshot kept), --match, --plan,
# bad input, an external parent pruned under a kept child (its data stays),
# and snapshot-create-as --name-prefix. The planner itself is tested in
# tests/unit/test_retention.c.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
flat=${top_builddir:-.}/tests/tools/jsonflat

img=$tmp/web.qcow2
make_image "$img"
define_domain web 3f1c9d2e-7b8a-4c5d-9e0f-1a2b3c4d5e6f "vda:$img"
images=$img

# set_time SNAP EPOCH: redefine SNAP's creation time (its metadata only)
set_time() {
    must snapshot-dumpxml web "$1" --security-info
    sed "s|<creationTime>[0-9]*</creationTime>|<creationTime>$2</creationTime>|" "$tmp/out" \
        >"$tmp/re.xml"
    must snapshot-create web "$tmp/re.xml" --redefine
}
when() { TZ=UTC date -d "@$1" '+%Y-%m-%d %H:%M:%S +0000'; }

# Yesterday 12:00 UTC, whatever the time of day: days are whole days away
# from every boundary, in the past.
now=$(date +%s)
base=$(( now - now % 86400 - 86400 + 43200 ))
t0=$((base - 9 * 86400)) t1=$((base - 8 * 86400)) t2=$((base - 86400 - 7200))
t3=$((base - 86400)) t4=$((base - 3600)) t5=$base
for s in h0 h1 h2 h3 h4 h5; do
    must snapshot-create-as web "$s"
done
set_time h0 $t0; set_time h1 $t1; set_time h2 $t2; set_time h3 $t3; set_time h4 $t4
set_time h5 $t5
t_is "setup: h5 is current" "$("$VSNAP" -d "$meta" -q snapshot-current web --name)" h5

# ---- the decisions
expect_ok "--dry-run --keep-daily 2" snapshot-prune web --keep-daily 2 --dry-run
cat >"$tmp/want" <<EOF
 Name   Creation Time               Action   Reasons
------------------------------------------------------------
 h0     $(when $t0)   delete   -
 h1     $(when $t1)   delete   -
 h2     $(when $t2)   delete   -
 h3     $(when $t3)   keep     daily
 h4     $(when $t4)   delete   -
 h5     $(when $t5)   keep     daily,current

EOF
if cmp -s "$tmp/want" "$tmp/out"; then t_ok "the dry run prints each snapshot, keep or delete, and why"
else t_not_ok "the dry run prints each snapshot, keep or delete, and why"; diff -u "$tmp/want" "$tmp/out" | t_diag; fi
t_is "the dry run deleted nothing" "$("$VSNAP" -d "$meta" snapshot-list web --name | grep -c .)" 6
t_is "... and left every tag" "$(tags "$img")" "h0 h1 h2 h3 h4 h5"

run -q snapshot-prune web --keep-daily 2 --dry-run
t_is "-q leaves out the header" "$(head -1 "$tmp/out")" " h0     $(when $t0)   delete   -"

# long enough for h4 and h5, a day short of h3
run snapshot-prune web --keep-daily 2 --keep-within "$((now - t4 + 60))s" --dry-run --json
"$flat" <"$tmp/out" >"$tmp/flat" 2>&1
t_is "--json: a JSON document" "$?" 0
t_is "--json: version, domain, counts" \
    "$(grep -E '^\.(version|domain|dry_run|deleted|kept)=' "$tmp/flat" | tr '\n' ' ')" \
    ".version=1 .domain=web .dry_run=true .deleted=3 .kept=3 "
t_is "--json: h4 is kept by --keep-within" \
    "$(grep -E '^\.snapshots\[4\]\.(name|action|reasons)' "$tmp/flat" | tr '\n' ' ')" \
    ".snapshots[4].name=h4 .snapshots[4].action=keep .snapshots[4].reasons[0]=within "
t_is "--json: creation times in seconds" "$(grep '^\.snapshots\[0\]\.creation_time=' "$tmp/flat")" \
    ".snapshots[0].creation_time=$t0"

run snapshot-prune web --keep-daily 2 --dry-run --plan
case $(out) in
*" h4 "*"delete"*"Plan for snapshot-delete on domain 'web' (dry run: nothing was changed)"*"internal snapshot 'h0' deleted from $img"*"metadata: remove snapshot 'h4'"*)
    t_ok "--dry-run --plan adds the plan of the deletions" ;;
*) t_not_ok "--dry-run --plan adds the plan of the deletions"; t_diag "$tmp/out" ;;
esac

# ---- bad input: one error line, nothing changed
expect_error "no rule" \
    "error: snapshot-prune needs a retention rule: --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly or --keep-within" \
    snapshot-prune web
expect_error "a negative count" "error: --keep-daily must be 0 or more, not -1" \
    snapshot-prune web --keep-daily -1
expect_error "a count that is no number" \
    "error: Numeric value 'x' for <keep-last> option is malformed or out of range" \
    snapshot-prune web --keep-last x
expect_error "a duration without unit" \
    "error: invalid duration '7': '7' has no unit (s, m, h, d, w or y)" \
    snapshot-prune web --keep-within 7
expect_error "a duration with an unknown unit" \
    "error: invalid duration '7x': unknown unit 'x' (s, m, h, d, w or y)" \
    snapshot-prune web --keep-within 7x
expect_error "--plan without --dry-run" "error: --plan needs --dry-run" \
    snapshot-prune web --keep-last 1 --plan
expect_error "an unknown domain" "error: failed to get domain 'nosuch'" \
    snapshot-prune nosuch --keep-last 1

# ---- the prune
expect_ok "--keep-daily 2 deletes four snapshots in one plan" snapshot-prune web --keep-daily 2
expect_stdout "one line per deleted snapshot" "Domain snapshot h0 deleted
Domain snapshot h1 deleted
Domain snapshot h2 deleted
Domain snapshot h4 deleted
"
t_is "h3 and h5 are left" "$("$VSNAP" -d "$meta" snapshot-list web --name | tr '\n' ' ')" "h3 h5  "
t_is "their tags alone stay in the image" "$(tags "$img")" "h3 h5"
t_is "h5's parent is h3 now" "$("$VSNAP" -d "$meta" -q snapshot-parent web h5)" h3
t_is "h5 is still current" "$("$VSNAP" -d "$meta" -q snapshot-current web --name)" h5
expect_ok "snapshot-check is clean" snapshot-check web
t_check "no journal left" test ! -e "$meta/web/journal"
expect_ok "nothing more to prune" snapshot-prune web --keep-daily 2
expect_stdout "... and nothing is printed" ""

# ---- --match, and the current snapshot
must snapshot-create-as web manual
set_time manual $((base - 20 * 86400))
must snapshot-create-as web h6
expect_ok "--keep-last 0 --match 'h*'" snapshot-prune web --keep-last 0 --match 'h*'
t_is "every match but the current one went; the unmatched one stayed" \
    "$("$VSNAP" -d "$meta" snapshot-list web --name | tr '\n' ' ')" "h6 manual  "
t_is "h6 (current) stays" "$("$VSNAP" -d "$meta" -q snapshot-current web --name)" h6

# ---- --name-prefix: unique, sortable, in creation order
for i in 1 2 3; do
    must -q snapshot-create-as web --name-prefix hourly
done
run snapshot-list web --name
grep '^hourly-' "$tmp/out" >"$tmp/made"
t_is "three names" "$(grep -c . "$tmp/made")" 3
t_check "PREFIX-YYYYmmdd-HHMMSS[-NN]" \
    test "$(grep -cE '^hourly-[0-9]{8}-[0-9]{6}(-[0-9]{2})?$' "$tmp/made")" = 3
t_is "they sort in the order they were taken" \
    "$("$VSNAP" -d "$meta" snapshot-list web --name --topological | grep '^hourly-' | tr '\n' ' ')" \
    "$(tr '\n' ' ' <"$tmp/made")"
expect_error "--name and --name-prefix" "error: Options --name and --name-prefix are mutually exclusive" \
    snapshot-create-as web --name x --name-prefix hourly
expect_one_error "a prefix that makes a bad name" snapshot-create-as web --name-prefix a/b
case $(err) in "error: invalid snapshot name 'a/b-"*"': name can't contain '/'") t_ok "... which the error shows" ;;
*) t_not_ok "... which the error shows"; t_diag "$tmp/err" ;; esac
expect_ok "prune the hourly ones to the last one" snapshot-prune web --match 'hourly-*' --keep-last 1
t_is "the newest hourly one (current) is left" \
    "$("$VSNAP" -d "$meta" snapshot-list web --name | grep -c '^hourly-')" 1

# ---- an external parent pruned under a kept child: its data stays
ext=$tmp/ext.qcow2
make_image "$ext"
define_domain ext 5d6e7f80-1a2b-4c3d-8e9f-0a1b2c3d4e5f "vda:$ext"
images="$ext"
write_pattern "$ext" 0x31
must snapshot-create-as ext e1 --disk-only
write_pattern "$tmp/ext.e1" 0x32
must snapshot-create-as ext e2 --disk-only
write_pattern "$tmp/ext.e2" 0x33
expect_ok "prune --keep-last 1 deletes the external parent e1" snapshot-prune ext --keep-last 1
t_is "e2 is left" "$("$VSNAP" -d "$meta" snapshot-list ext --name | tr '\n' ' ')" "e2  "
expect_ok "snapshot-check is clean after the merge" snapshot-check ext
expect_ok "revert to e2" snapshot-revert ext e2
src=$("$VSNAP" -d "$meta" dumpxml ext | sed -n "s/.*<source file='\([^']*\)'.*/\1/p")
t_check "e2 still reads back what it was taken with" pattern_ok "$src" 0x32

# ---- killed at every step boundary of the one plan: the repair finishes the
# prune (a build with --enable-failpoints: the failpoint plan-step)
if grep -q '^#define VSNAP_FAILPOINTS 1' "${top_builddir:-.}/config.h" 2>/dev/null &&
    { [ -z "${VSNAP_REAL:-}" ] || [ "$VSNAP" = "$VSNAP_REAL" ]; }; then
    cimg=$tmp/chain.qcow2
    make_image "$cimg"
    define_domain chain 1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e "vda:$cimg"
    for s in a1 b1 a2 b2 a3 b3; do must snapshot-create-as chain "$s"; done
    # (the copies go elsewhere: an image file beside the domain's is a problem
    # snapshot-check reports)
    mkdir -p "$tmp/saved"
    before_list=$("$VSNAP" -d "$meta" snapshot-list chain --name --parent | grep . | tr '\n\t' ' :')
    before_tags=$(tags "$cimg")
    cp -a "$meta" "$tmp/saved/meta"
    cp "$cimg" "$tmp/saved/chain.qcow2"
    n=1
    while :; do
        rm -rf "$meta" && cp -a "$tmp/saved/meta" "$meta" && cp "$tmp/saved/chain.qcow2" "$cimg"
        ( VSNAP_FAILPOINT="plan-step:$n:kill" exec "$VSNAP" -d "$meta" snapshot-prune chain \
            --match 'a*' --keep-last 0 >"$tmp/out" 2>"$tmp/err" </dev/null ) 2>/dev/null
        st=$?
        [ "$st" = 0 ] && break
        run snapshot-check chain --repair
        good=1
        [ "$st" = 137 ] || good=0
        [ "$rc" = 0 ] || good=0
        # before the commit point the repair rolls the prune back, after it
        # the repair finishes it: one or the other, never a mix
        now_list=$("$VSNAP" -d "$meta" snapshot-list chain --name --parent | grep . | tr '\n\t' ' :')
        now_tags=$(tags "$cimg")
        { [ "$now_list" = "b1 b2:b1 b3:b2 " ] && [ "$now_tags" = "b1 b2 b3" ]; } ||
            { [ "$now_list" = "$before_list" ] && [ "$now_tags" = "$before_tags" ]; } || good=0
        "$VSNAP" -d "$meta" snapshot-check chain >/dev/null 2>&1 || good=0
        if [ "$good" = 1 ]; then t_ok "killed at step boundary $n: the repair finishes the prune or rolls it back"
        else
            t_not_ok "killed at step boundary $n: the repair finishes the prune or rolls it back (status $st, repair $rc)"
            t_diag "$tmp/err"
            "$VSNAP" -d "$meta" snapshot-list chain --name --parent | t_diag
        fi
        n=$((n + 1))
        [ "$n" -gt 20 ] && break
    done
    t_check "the step boundaries were reached ($((n - 1)) of them)" test "$n" -gt 6
fi

t_done
