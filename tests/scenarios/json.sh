#!/usr/bin/env bash
# --json (one result model, two renderings): every listing command's JSON
# parses (tests/tools/jsonflat, json-c, strict) and says what its text says;
# snapshot-list with every filter and --tree as nested children; names with
# quotes, backslashes, blanks, shell characters and non-ASCII letters come
# back byte for byte; a chain of 2,000 nests without trouble (and is checked
# in little memory). That the text stays virsh's is the golden tests' job
# (tests/golden).
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
flat=${top_builddir:-.}/tests/tools/jsonflat

img=$tmp/web.qcow2
make_image "$img"
define_domain web 7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d "vda:$img"
images=$img

# j ARGS...: run vsnap, check that stdout is one JSON document, flatten it
# into $tmp/flat
j() {
    run "$@"
    if [ "$rc" = 0 ] && "$flat" <"$tmp/out" >"$tmp/flat" 2>"$tmp/ferr"; then
        return 0
    fi
    echo "# vsnap $* -> $rc"
    t_diag "$tmp/err"
    t_diag "$tmp/ferr"
    return 1
}
# values KEY: the values of every member KEY in $tmp/flat, one a line
values() { sed -n "s/^.*\.$1=//p" "$tmp/flat"; }

odd1='a "quoted" name'
odd2='back\slash and ünïcødé ☃'
odd3="semi;colon \$HOME 'single' \`tick\`"
# the tree: root -> {odd1 -> odd2, odd3 -> leaf}
must snapshot-create-as web root
must snapshot-create-as web "$odd1"
must snapshot-create-as web "$odd2"
must snapshot-revert web root
must snapshot-create-as web "$odd3"
must snapshot-create-as web leaf

# ---- snapshot-list
t_check "snapshot-list --json is JSON" j snapshot-list web --json
t_is "version 1 and the domain" "$(grep -E '^\.(version|domain)=' "$tmp/flat" | tr '\n' ' ')" \
    ".version=1 .domain=web "
"$VSNAP" -d "$meta" snapshot-list web --name | grep . >"$tmp/names"
values name >"$tmp/jnames"
t_check "the names survive byte for byte, in the listing's order" cmp -s "$tmp/names" "$tmp/jnames"
t_is "one current snapshot, leaf" "$(grep -B5 '\.current=true' "$tmp/flat" | sed -n 's/^.*\.name=//p')" leaf
t_is "every state is shutoff" "$(values state | sort -u)" shutoff
t_is "every location is internal" "$(values location | sort -u)" internal

# parent pairs, as --name --parent prints them, from the flat objects
pairs_from_flat() {
    awk '
        { key = substr($0, 1, index($0, "=") - 1); val = substr($0, index($0, "=") + 1) }
        key ~ /\.name$/ { sub(/\.name$/, "", key); name[key] = val }
        key ~ /\.parent$/ { sub(/\.parent$/, "", key); par[key] = val }
        END { for (k in name) if (par[k] != "null") print name[k] "\t" par[k]; else print name[k] }' \
        "$tmp/flat" | LC_ALL=C sort
}
"$VSNAP" -d "$meta" snapshot-list web --name --parent | grep . | LC_ALL=C sort >"$tmp/pairs"
pairs_from_flat >"$tmp/jpairs"
t_check "every parent as --name --parent says" cmp -s "$tmp/pairs" "$tmp/jpairs"

for f in --roots --leaves --no-leaves --metadata --inactive --internal --external --topological \
         "--from root" "--from root --descendants" --current "--current --descendants"; do
    # shellcheck disable=SC2086
    "$VSNAP" -d "$meta" snapshot-list web --name $f >"$tmp/names"
    # shellcheck disable=SC2086
    if j snapshot-list web --json $f; then
        values name >"$tmp/jnames"
        if cmp -s <(grep . "$tmp/names") "$tmp/jnames"; then t_ok "snapshot-list $f --json lists what --name lists"
        else t_not_ok "snapshot-list $f --json lists what --name lists"; diff -u "$tmp/names" "$tmp/jnames" | t_diag; fi
    else
        t_not_ok "snapshot-list $f --json lists what --name lists"
    fi
done

# ---- --tree: nested children
t_check "snapshot-list --tree --json is JSON" j snapshot-list web --tree --json
t_is "one root at the top" "$(grep -cE '^\.snapshots\[[0-9]+\]\.name=' "$tmp/flat")" 1
# the parent of each node is the node its path is nested in
nested_pairs() {
    awk '
        /\.name=/ {
            key = substr($0, 1, index($0, "=") - 1); sub(/\.name$/, "", key)
            val = substr($0, index($0, "=") + 1); name[key] = val
            up = key; sub(/\.children\[[0-9]+\]$/, "", up)
            parent[key] = (up == key) ? "" : up
        }
        END { for (k in name) if (parent[k] != "") print name[k] "\t" name[parent[k]]; else print name[k] }' \
        "$tmp/flat" | LC_ALL=C sort
}
nested_pairs >"$tmp/tpairs"
t_check "the nesting is the tree" cmp -s "$tmp/pairs" "$tmp/tpairs"
t_check "--from root --descendants --tree --json nests the same" \
    j snapshot-list web --from root --descendants --tree --json
nested_pairs >"$tmp/tpairs"
t_check "... with root at the top" cmp -s "$tmp/pairs" "$tmp/tpairs"
expect_error "--json and --name" "error: Options --json and --name are mutually exclusive" \
    snapshot-list web --json --name

# ---- snapshot-info, snapshot-current
t_check "snapshot-info --json is JSON" j snapshot-info web "$odd2" --json
t_is "snapshot-info: the fields" \
    "$(sed -n 's/^\.snapshot\.//p' "$tmp/flat" | tr '\n' '|')" \
    "name=$odd2|current=false|state=shutoff|location=internal|parent=$odd1|children=0|descendants=0|metadata=true|"
t_check "snapshot-info --current --json" j snapshot-info web --current --json
t_is "... is leaf's" "$(sed -n 's/^\.snapshot\.name=//p' "$tmp/flat")" leaf
t_check "snapshot-current --json" j snapshot-current web --json
t_is "... names the current snapshot" "$(grep -v '^\.version' "$tmp/flat" | tr '\n' ' ')" \
    ".domain=web .current=leaf "
must snapshot-delete web leaf
must snapshot-delete web "$odd3"
must snapshot-delete web --children root
t_check "snapshot-current --json without a current snapshot" j snapshot-current web --json
t_is "... says null, and succeeds" "$(values current)" null

# ---- domblklist, list, snapshot-check
t_check "domblklist --json" j domblklist web --json
t_is "... type, device, target and source" "$(sed -n 's/^\.disks\[0\]\.//p' "$tmp/flat" | tr '\n' '|')" \
    "type=file|device=disk|target=vda|source=$img|"
t_check "list --all --json" j list --all --json
t_is "... the domain, shut off, without an id" "$(sed -n 's/^\.domains\[0\]\.//p' "$tmp/flat" | tr '\n' '|')" \
    "id=null|name=web|state=shut off|"
t_check "list --json (active only)" j list --json
t_is "... none" "$(grep -v '^\.version' "$tmp/flat")" ".domains=[]"
t_check "snapshot-check --json" j snapshot-check web --json
t_is "... clean, nothing repaired, no problems" "$(grep -v '^\.version' "$tmp/flat" | tr '\n' ' ')" \
    ".domain=web .clean=true .repaired=[] .problems=[] "

# ---- a chain 2,000 deep, redefined (no disks: metadata only)
define_domain deep 0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0
domain_xml deep 0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0 >"$tmp/deep-dom.xml"
: >"$tmp/deep.cmds"
for i in $(seq 1 2000); do
    {
        printf '<domainsnapshot>\n  <name>c%d</name>\n' "$i"
        [ "$i" = 1 ] || printf '  <parent>\n    <name>c%d</name>\n  </parent>\n' $((i - 1))
        printf '  <state>shutoff</state>\n  <creationTime>%d</creationTime>\n' $((1700000000 + i))
        cat "$tmp/deep-dom.xml"
        printf '</domainsnapshot>\n'
    } >"$tmp/c$i.xml"
    printf 'snapshot-create deep %s --redefine\n' "$tmp/c$i.xml" >>"$tmp/deep.cmds"
done
"$VSNAP" -d "$meta" -q <"$tmp/deep.cmds" >/dev/null 2>"$tmp/err" || t_bail "redefining the chain failed: $(head -3 "$tmp/err")"
# Listings are made row by row as they are printed (one row held, output
# written in pieces): every row still arrives, and the table's columns are
# as wide as the widest row anywhere, not only the ones before it.
t_check "--json of 2,000 snapshots" j snapshot-list deep --json
t_is "... lists all of them" "$(grep -c '\.name=' "$tmp/flat")" 2000
run snapshot-list deep
t_is "... the table has a row for each" "$(out | sed '1,2d;/^$/d' | wc -l)" 2000
t_is "... and the first row's time starts under the header's, widths from the last rows" \
    "$(out | awk 'NR == 1 { h = index($0, "Creation Time") } NR == 3 { match($0, /[0-9][0-9][0-9][0-9]-/); print (RSTART == h) }')" 1
run snapshot-list deep --tree
t_is "... --tree draws every one" "$(out | grep -c -- '+- c\|^c1$')" 2000
t_check "--tree --json of a 2,000-deep chain" j snapshot-list deep --tree --json
t_is "... nests all of them" "$(grep -c '\.name=' "$tmp/flat")" 2000
t_is "... c2000 at the bottom" "$(grep '\.name=c2000$' "$tmp/flat" | grep -o 'children' | grep -c .)" 1999
t_check "snapshot-check --json of 2,000 snapshots" j snapshot-check deep --json
t_is "... clean" "$(values clean)" true
# snapshot-check reads the files one at a time and keeps a few facts of each
# (issue 12): its peak RSS stays near snapshot-list's, where holding every
# parsed file at once took over 10 KB a snapshot
if [ ! -x /usr/bin/time ]; then
    t_ok "# SKIP /usr/bin/time is not installed"
elif [ "$(head -c 2 "$VSNAP")" = "#!" ] || grep -q __asan_init "$VSNAP" 2>/dev/null; then
    t_ok "# SKIP \$VSNAP is a wrapper or built with sanitizers: its RSS says little"
else
    /usr/bin/time -f %M -o "$tmp/rss.list" "$VSNAP" -d "$meta" snapshot-list deep --name \
        >/dev/null 2>&1
    /usr/bin/time -f %M -o "$tmp/rss.check" "$VSNAP" -d "$meta" snapshot-check deep \
        >/dev/null 2>&1
    rss_list=$(tail -n 1 "$tmp/rss.list") rss_check=$(tail -n 1 "$tmp/rss.check")
    t_check "... in at most 6 MB more than snapshot-list ($rss_check KB, $rss_list KB)" \
        test "$rss_check" -le $((rss_list + 6144))
fi

t_done
