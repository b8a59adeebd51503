#!/usr/bin/env bash
# snapshot-export / snapshot-import (issue 13, "Moving a domain between
# hosts"): a tree of 1,000 snapshots, hostile names among them, moves from
# one store to another and lists identically; the document holds each
# snapshot exactly as snapshot-dumpxml --security-info prints it, parents
# first; '-' is standard output and input; clashes are refused unless
# --replace; damaged or partial documents change nothing, and neither does
# a write that fails part-way (failpoints).
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"

failpoints=false
grep -q '^#define VSNAP_FAILPOINTS 1' "${top_builddir:-.}/config.h" 2>/dev/null && failpoints=true
wrapped=false
[ -n "${VSNAP_REAL:-}" ] && [ "$VSNAP" != "$VSNAP_REAL" ] && wrapped=true
skip() { t_ok "# SKIP $*"; }

N=1000
[ "$wrapped" = true ] && N=150     # valgrind: the same shapes, smaller
src=$tmp/src
dst=$tmp/dst
mkdir -p "$src" "$dst" "$tmp/x"
img=$tmp/d.qcow2
make_image "$img"
UUID=0b6f0e0e-4f6c-4d55-9a55-8c3a7b1d2e01
domain_xml web "$UUID" "vda:$img" >"$tmp/web.xml"
"$VSNAP" -d "$src" define "$tmp/web.xml" >/dev/null || t_bail "define failed"

# Names a shell, XML or a path could mistake; all valid snapshot names.
hostile=("quote'single" 'quote"double' 'amp&lt;not' '<tag>' 'semi;colon' '--dashes'
         'spa ce' 'ünïcödé' 'back\slash' '$(echo no)' '*glob?')
printf '%s\n' "${hostile[@]}" >"$tmp/hostile"
# name_of I: snapshot I's name (the hostile ones first, then s0011 ...)
name_of() {
    if [ "$1" -lt "${#hostile[@]}" ]; then printf '%s' "${hostile[$1]}"; else printf 's%04d' "$1"; fi
}

# The tree, built through vsnap's own redefinitions in one command string.
# Snapshot i's parent is an earlier one (long chains, wide nodes, several
# roots); times repeat, so that siblings are ordered by creation number.
awk -v n="$N" -v dir="$tmp/x" -v dom="$tmp/web.xml" -v hostile="$tmp/hostile" '
    function esc(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/>/, "\\&gt;", s)
                      gsub(/'"'"'/, "\\&apos;", s); gsub(/"/, "\\&quot;", s); return s }
    function name(i) { return i < nh ? h[i] : sprintf("s%04d", i) }
    BEGIN {
        while ((getline line < hostile) > 0) h[nh++] = line
        while ((getline line < dom) > 0) d = d "  " line "\n"
        for (i = 0; i < n; i++) {
            f = dir "/" i ".xml"
            printf "<domainsnapshot>\n  <name>%s</name>\n", esc(name(i)) > f
            if (i > 0 && i % 97 != 5)
                printf "  <parent>\n    <name>%s</name>\n  </parent>\n", esc(name((i * 7919 + 13) % i)) > f
            printf "  <description>snapshot %d</description>\n  <state>shutoff</state>\n", i > f
            printf "  <creationTime>%d</creationTime>\n  <memory snapshot='"'"'no'"'"'/>\n", 1700000000 + int(i / 3) > f
            printf "  <disks>\n    <disk name='"'"'vda'"'"' snapshot='"'"'internal'"'"'/>\n  </disks>\n" > f
            printf "%s</domainsnapshot>\n", d > f
            close(f)
            printf "snapshot-create web %s --redefine\n", f
        }
    }' >"$tmp/cmds"
"$VSNAP" -q -d "$src" "$(cat "$tmp/cmds")" >/dev/null 2>"$tmp/err"
[ -s "$tmp/err" ] && { t_diag "$tmp/err"; t_bail "building the tree failed"; }
"$VSNAP" -q -d "$src" snapshot-current web "$(name_of $((N / 2)))" >/dev/null || t_bail "snapshot-current"
count=$("$VSNAP" -q -d "$src" snapshot-list web --name | grep -c .)
t_is "the source tree has $N snapshots" "$count" "$N"

# ---- export ------------------------------------------------------------------
meta=$src
expect_ok "snapshot-export to a file" snapshot-export web "$tmp/web.export"
t_is "... says so" "$(out)" "Domain 'web' exported to $tmp/web.export ($N snapshots)"
t_is "... the file is 0600" "$(stat -c %a "$tmp/web.export")" 600
# (every command's output ends with virsh's empty line: sed '$d' takes it off)
"$VSNAP" -d "$src" snapshot-export web - 2>"$tmp/err" | sed '$d' >"$tmp/stdout.export"
t_check "snapshot-export web - writes the same document to stdout" cmp -s "$tmp/web.export" "$tmp/stdout.export"
t_is "... and nothing else" "$(cat "$tmp/err")" ""
t_is "the document starts with its root and the domain" "$(head -2 "$tmp/web.export")" \
    "<vsnap-export version='1'>
<domain type='qemu'>"
t_is "... and ends with the current snapshot" "$(tail -2 "$tmp/web.export")" \
    "<current name='$(name_of $((N / 2)))'/>
</vsnap-export>"
"$VSNAP" -d "$src" dumpxml web --security-info | sed '$d' >"$tmp/dom.xml"
awk '/^<domain /,/^<\/domain>/' "$tmp/web.export" >"$tmp/dom.cut"
t_check "the <domain> is dumpxml --security-info, byte for byte" cmp -s "$tmp/dom.xml" "$tmp/dom.cut"

# every <domainsnapshot> cut out is snapshot-dumpxml --security-info, and
# parents come first: one awk cuts them out and lists "name<TAB>parent" in
# document order (entities decoded)
mkdir -p "$tmp/cut"
awk -v dir="$tmp/cut" '
    function dec(s) { gsub(/&lt;/, "<", s); gsub(/&gt;/, ">", s); gsub(/&apos;/, "'"'"'", s)
                      gsub(/&quot;/, "\"", s); gsub(/&amp;/, "\\&", s); return s }
    /^<domainsnapshot>/ { k++; f = sprintf("%s/%05d.xml", dir, k); name = ""; parent = ""; inpar = 0 }
    f { print > f }
    f && /^  <name>/ { s = $0; sub(/^  <name>/, "", s); sub(/<\/name>$/, "", s); name = dec(s) }
    f && /^  <parent>/ { inpar = 1 }
    f && inpar && /^    <name>/ { s = $0; sub(/^    <name>/, "", s); sub(/<\/name>$/, "", s); parent = dec(s); inpar = 0 }
    /^<\/domainsnapshot>/ { close(f); f = ""; printf "%s\t%s\n", name, parent }
' "$tmp/web.export" >"$tmp/order"
t_is "... one <domainsnapshot> per snapshot" "$(ls "$tmp/cut" | wc -l)" "$N"
t_is "every parent comes before its children" \
    "$(awk -F '\t' '$2 != "" && !($2 in seen) { bad++ } { seen[$1] = 1 } END { print bad + 0 }' "$tmp/order")" 0
t_is "every snapshot is in the document once" "$(cut -f1 "$tmp/order" | sort -u | wc -l)" "$N"
bad=0
for k in 1 2 3 4 5 6 7 8 9 10 11 12 100 500 $N; do
    [ "$k" -le "$N" ] || continue
    n=$(sed -n "${k}p" "$tmp/order" | cut -f1)
    "$VSNAP" -d "$src" snapshot-dumpxml web "$n" --security-info 2>&1 | sed '$d' >"$tmp/one.xml"
    cmp -s "$tmp/one.xml" "$(printf '%s/%05d.xml' "$tmp/cut" "$k")" || { bad=$((bad + 1)); echo "# differs: $n"; }
done
t_is "sampled snapshots (the hostile names among them) are snapshot-dumpxml --security-info, byte for byte" "$bad" 0

# ---- import into another store -------------------------------------------------
meta=$dst
expect_ok "snapshot-import into an empty store" snapshot-import "$tmp/web.export"
t_is "... says so" "$(out)" "Domain 'web' imported from $tmp/web.export ($N snapshots)"
same() {    # same DESC ARGS...: the command prints the same in both stores
    local d=$1
    shift
    "$VSNAP" -d "$src" "$@" >"$tmp/a" 2>&1
    "$VSNAP" -d "$dst" "$@" >"$tmp/b" 2>&1
    if cmp -s "$tmp/a" "$tmp/b" && [ -s "$tmp/a" ]; then t_ok "$d"; else
        t_not_ok "$d"; diff "$tmp/a" "$tmp/b" | head -20 | t_diag; fi
}
same "snapshot-list --tree lists identically" snapshot-list web --tree
same "snapshot-list --parent lists identically" snapshot-list web --parent
same "snapshot-list --name lists identically" snapshot-list web --name
same "snapshot-list --roots lists identically" snapshot-list web --roots
same "snapshot-current --name is the same" snapshot-current web --name
same "dumpxml --security-info is the same" dumpxml web --security-info
for i in 0 1 3 6 9 10 $((N / 2)) $((N - 1)); do
    n=$(name_of $i)
    same "snapshot-dumpxml of '$n' is the same" snapshot-dumpxml web "$n" --security-info
    same "snapshot-info of '$n' is the same" snapshot-info web "$n"
done
"$VSNAP" -d "$dst" snapshot-export web - | sed '$d' >"$tmp/again.export"
t_check "the imported domain exports the same document" cmp -s "$tmp/web.export" "$tmp/again.export"
same "snapshot-check says the same of both (no image holds the tags these redefinitions name)" \
    snapshot-check web

# stdin
meta=$tmp/third
mkdir -p "$meta"
"$VSNAP" -d "$src" snapshot-export web - | "$VSNAP" -d "$meta" snapshot-import - >"$tmp/out" 2>"$tmp/err"
t_is "snapshot-export - | snapshot-import - succeeds" "$?:$(err)" "0:"
t_is "... naming standard input" "$(out)" "Domain 'web' imported from (standard input) ($N snapshots)"
"$VSNAP" -d "$meta" snapshot-export web - | sed '$d' >"$tmp/third.export"
t_check "... and rebuilds the same tree" cmp -s "$tmp/web.export" "$tmp/third.export"

# ---- clashes ---------------------------------------------------------------------
meta=$dst
expect_ok "importing the same document again changes nothing and succeeds" \
    snapshot-import "$tmp/web.export"
t_is "... saying every snapshot was already there" "$(out)" \
    "Domain 'web' imported from $tmp/web.export ($N snapshots, $N of them already there)"
victim=$(name_of 3)
sed 's|<description>snapshot 3</description>|<description>changed here</description>|' \
    "$tmp/x/3.xml" >"$tmp/changed.xml"
must snapshot-create web "$tmp/changed.xml" --redefine
expect_error "a snapshot that differs is refused, naming it" \
    "error: operation failed: domain 'web' already has a different snapshot '$victim'; use --replace to redefine it from the import" \
    snapshot-import "$tmp/web.export"
sed 's|<description>snapshot 4</description>|<description>changed too</description>|' \
    "$tmp/x/4.xml" >"$tmp/changed4.xml"
must snapshot-create web "$tmp/changed4.xml" --redefine
expect_error "several are refused, counted" \
    "error: operation failed: domain 'web' already has different snapshots of 2 of the imported names (the first: '$victim'); use --replace to redefine them from the import" \
    snapshot-import "$tmp/web.export"
expect_ok "--replace redefines them from the import" snapshot-import "$tmp/web.export" --replace
t_is "... and only they were written" "$(out)" \
    "Domain 'web' imported from $tmp/web.export ($N snapshots, $((N - 2)) of them already there)"
same "... which are the exported ones again" snapshot-dumpxml web "$victim" --security-info

# a different definition of the domain, and another uuid
meta=$tmp/other
mkdir -p "$meta"
sed 's|32768|65536|' "$tmp/web.xml" >"$tmp/web-big.xml"
must define "$tmp/web-big.xml"
expect_error "a domain defined differently is refused" \
    "error: operation failed: domain 'web' already exists with a different definition; use --replace to replace it with the imported one" \
    snapshot-import "$tmp/web.export"
expect_ok "--replace replaces the definition too" snapshot-import "$tmp/web.export" --replace
"$VSNAP" -d "$meta" snapshot-export web - | sed '$d' >"$tmp/other.export"
t_check "... and the tree is the exported one" cmp -s "$tmp/web.export" "$tmp/other.export"
meta=$tmp/uuid
mkdir -p "$meta"
sed "s|$UUID|0b6f0e0e-4f6c-4d55-9a55-8c3a7b1d2eff|" "$tmp/web.xml" >"$tmp/web-uuid.xml"
must define "$tmp/web-uuid.xml"
expect_error "a domain of the same name with another uuid is refused, even with --replace" \
    "error: operation failed: domain 'web' already exists with uuid 0b6f0e0e-4f6c-4d55-9a55-8c3a7b1d2eff" \
    snapshot-import "$tmp/web.export" --replace

# ---- damaged, partial and hostile documents change nothing ----------------------
meta=$tmp/fresh
mkdir -p "$meta"
small=$tmp/small.export
{ sed -n '1,/^<\/domain>/p' "$tmp/web.export"; cat "$tmp/cut/00001.xml" "$tmp/cut/00002.xml"
  echo "</vsnap-export>"; } >"$small"
bad=$tmp/bad.export
bad_doc() {     # bad_doc DESC ERROR: $bad is refused and nothing is defined
    expect_error "$1" "$2" snapshot-import "$bad"
    [ -z "$(ls -A "$meta")" ] || { t_not_ok "... and defines nothing"; ls -la "$meta" | t_diag; }
}
size=$(stat -c %s "$tmp/web.export")
: >"$bad"
bad_doc "an empty document is refused" "error: XML error: $bad: the document is empty"
head -c $((size / 2)) "$tmp/web.export" >"$bad"
bad_doc "a document cut in half is refused" "error: *"
head -c $((size - 3)) "$tmp/web.export" >"$bad"
bad_doc "a document missing its last bytes is refused" "error: *"
sed '$d' "$small" >"$bad"
bad_doc "a document without its end tag is refused" "error: *"
sed "s/version='1'/version='2'/" "$small" >"$bad"
bad_doc "another version is refused" \
    "error: XML error: $bad: export version '2' is not one this vsnap reads (1)"
{ echo '<!DOCTYPE x [<!ENTITY a "b">]>'; cat "$small"; } >"$bad"
bad_doc "a DOCTYPE is refused" "error: XML error: $bad: DOCTYPE and entity declarations are not allowed"
sed '/^<domain /,/^<\/domain>/d' "$small" >"$bad"
bad_doc "a document without its domain is refused" \
    "error: XML error: $bad: <domainsnapshot> before the <domain> it belongs to"
{ sed '$d' "$small"; cat "$tmp/cut/00002.xml"; echo "</vsnap-export>"; } >"$bad"
bad_doc "a snapshot twice is refused" \
    "error: XML error: $bad: snapshot 'quote\"double' is in the document twice"
{ sed -n '1,/^<\/domain>/p' "$small"; cat "$tmp/cut/00002.xml"; echo "</vsnap-export>"; } >"$bad"
bad_doc "a child before its parent is refused as a redefinition would be" \
    "error: invalid argument: parent quote'single for moment quote\"double not found"
{ sed '$d' "$small"; echo "<current name='nope'/>"; echo "</vsnap-export>"; } >"$bad"
bad_doc "a current snapshot the document lacks is refused" \
    "error: XML error: $bad: <current name='nope'/> names no snapshot of the document"
{ sed '$d' "$small"; echo "<surprise/>"; echo "</vsnap-export>"; } >"$bad"
bad_doc "an unknown element is refused" \
    "error: XML error: $bad: unexpected element <surprise> in <vsnap-export>"
{ sed -n '1,/^<\/domain>/p' "$small"; sed '2s|<name>.*</name>|<name>../up</name>|' "$tmp/cut/00001.xml"
  echo "</vsnap-export>"; } >"$bad"
bad_doc "a snapshot name that would leave its directory is refused" \
    "error: invalid snapshot name '../up': name can't contain '/'"
{ sed '$d' "$small"; sed "s|$UUID|0b6f0e0e-4f6c-4d55-9a55-8c3a7b1d2eaa|; 2s|<name>.*</name>|<name>zz</name>|" \
    "$tmp/cut/00003.xml"; echo "</vsnap-export>"; } >"$bad"
bad_doc "a snapshot of another domain's uuid is refused" \
    "error: invalid argument: definition for snapshot zz must use uuid $UUID"
# the last snapshot damaged: everything before it was valid, nothing is written
{ sed '$d' "$tmp/web.export" | sed '$d'; echo '<domainsnapshot><name>x</name></domainsnapshot>'
  echo "</vsnap-export>"; } >"$bad"
bad_doc "a document whose last snapshot is bad writes none of the others" "error: *"
meta=$dst
expect_error "a bad document changes an existing domain in nothing" "error: *" \
    snapshot-import "$tmp/bad.export" --replace
run snapshot-import "$tmp/nonexistent"
t_is "a missing file is one error" "$rc:$(err)" \
    "1:error: Failed to open file '$tmp/nonexistent': No such file or directory"

# ---- a write that fails part-way is rolled back ------------------------------------
if ! $failpoints; then
    skip "failpoints are not compiled in (configure --enable-failpoints)"
elif $wrapped; then
    skip "failpoints are not run under a wrapper such as valgrind"
else
    meta=$tmp/fail
    mkdir -p "$meta"
    VSNAP_FAILPOINT=plan-step:2 run snapshot-import "$tmp/web.export"
    t_is "an import failing after its first group of files fails" "$rc" 1
    t_is "... and leaves no domain behind (it had defined it)" "$(ls -A "$meta")" ""
    VSNAP_FAILPOINT=file-write-atomic:3 run snapshot-import "$small"
    t_is "an import whose file sync fails fails" "$rc" 1
    t_is "... and leaves nothing" "$(ls -A "$meta")" ""
    meta=$dst
    must snapshot-create web "$tmp/changed.xml" --redefine
    must snapshot-current web "$(name_of 7)"
    snap_state >"$tmp/before"
    VSNAP_FAILPOINT=plan-step:2 run snapshot-import "$tmp/web.export" --replace
    snap_state >"$tmp/after"
    t_is "a failing import into an existing domain fails" "$rc" 1
    t_check "... and puts back what it had written" cmp -s "$tmp/before" "$tmp/after"
    # killed in the middle: the journal rolls it back
    VSNAP_FAILPOINT=plan-step:2:kill run snapshot-import "$tmp/web.export" --replace
    run snapshot-check web --repair
    snap_state >"$tmp/after"
    t_check "an import killed part-way is rolled back by snapshot-check --repair" cmp -s "$tmp/before" "$tmp/after"
fi

t_done
