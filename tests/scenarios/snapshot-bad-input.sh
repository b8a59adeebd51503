#!/usr/bin/env bash
# Bad input never changes anything: every case below must fail with status 1,
# print its error on stderr (one "error: " line, or virsh's exact two lines
# where virsh prints two, marked TWO-LINE), and leave the metadata directory
# (every file but the lock and the derived index) and every image byte for
# byte as it was. The one exception, marked IMAGE-TABLE, is qemu-img failing
# on the second disk: creating and removing the first disk's internal snapshot
# rewrites qcow2 tables, so there the snapshot tables, the guest data and
# qemu-img check are compared instead of the bytes.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"

d1=$tmp/disk1.qcow2
d2=$tmp/disk2.qcow2
make_image "$d1"
make_image "$d2"
write_pattern "$d1" 0x41
write_pattern "$d2" 0x42
define_domain vm 5d0f6c38-91a4-4a8e-8f7e-2d6a4b9c0e01 "vda:$d1" "vdb:$d2"
must snapshot-create-as vm s1 "the first"
must snapshot-create-as vm s2 "the second"
images="$d1 $d2"

xml() { printf '%s\n' "$2" >"$tmp/$1"; }

# ---- XML -------------------------------------------------------------------
xml malformed.xml '<domainsnapshot><name>m1</name>'
expect_one_error "malformed XML" snapshot-create vm "$tmp/malformed.xml"
xml notxml.xml 'this is not XML at all'
expect_one_error "not XML at all" snapshot-create vm "$tmp/notxml.xml"
xml wrongroot.xml '<snapshot><name>w</name></snapshot>'
expect_error "wrong root element" \
    "error: XML error: expecting root element of 'domainsnapshot', not 'snapshot'" \
    snapshot-create vm "$tmp/wrongroot.xml"
expect_one_error "missing XML file" snapshot-create vm "$tmp/does-not-exist.xml"

# An external entity must never be read: its content would become the
# description. Look for it everywhere afterwards.
secret="vsnap-secret-$$-$RANDOM"
printf '%s\n' "$secret" >"$tmp/secret.txt"
xml dtd.xml "<!DOCTYPE domainsnapshot [
<!ENTITY leak SYSTEM \"file://$tmp/secret.txt\">
]>
<domainsnapshot><name>x1</name><description>&leak;</description></domainsnapshot>"
expect_one_error "XML with an external entity" snapshot-create vm "$tmp/dtd.xml"
xml dtd2.xml "<!DOCTYPE domainsnapshot SYSTEM \"file://$tmp/secret.txt\">
<domainsnapshot><name>x2</name></domainsnapshot>"
expect_one_error "XML with an external DTD" snapshot-create vm "$tmp/dtd2.xml"
xml dtd3.xml '<!DOCTYPE domainsnapshot [
<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
]>
<domainsnapshot><name>x3</name><description>&c;</description></domainsnapshot>'
expect_one_error "XML with an internal entity expansion" snapshot-create vm "$tmp/dtd3.xml"
xml dtdredef.xml "<!DOCTYPE domainsnapshot [
<!ENTITY leak SYSTEM \"file://$tmp/secret.txt\">
]>
<domainsnapshot><name>s1</name><state>shutoff</state><creationTime>1</creationTime><description>&leak;</description></domainsnapshot>"
expect_one_error "redefine with an external entity" snapshot-create vm "$tmp/dtdredef.xml" --redefine
run snapshot-dumpxml vm s1 --security-info
if grep -rqF "$secret" "$meta" "$tmp/out" "$tmp/err"; then
    t_not_ok "the entity's file content appears nowhere"
else
    t_ok "the entity's file content appears nowhere"
fi

# ---- names -----------------------------------------------------------------
long=$(printf 'n%.0s' {1..256})
for bad in 'a/b' '.hidden' '..' $'a\tb' "$long"; do
    label=$(printf '%q' "$bad" | cut -c1-24)
    expect_one_error "snapshot name $label" snapshot-create-as vm "$bad"
    xml badname.xml "<domainsnapshot><name>$bad</name></domainsnapshot>"
    expect_one_error "snapshot name $label in XML" snapshot-create vm "$tmp/badname.xml"
    expect_one_error "snapshot lookup $label" snapshot-revert vm "$bad"
    expect_one_error "domain lookup $label" snapshot-create-as "$bad" s9
    domain_xml "$bad" 5d0f6c38-91a4-4a8e-8f7e-2d6a4b9c0eff "vda:$d1" >"$tmp/baddom.xml"
    # TWO-LINE: virsh's define says which file failed, then why
    expect_error "define domain $label (TWO-LINE)" \
        "error: Failed to define domain from $tmp/baddom.xml
error: *" define "$tmp/baddom.xml"
done

# ---- existence -------------------------------------------------------------
expect_error "duplicate snapshot name" \
    "error: operation failed: domain moment s1 already exists" snapshot-create-as vm s1
expect_one_error "unknown domain" snapshot-create-as nosuchdom s9
expect_one_error "unknown domain (delete)" snapshot-delete nosuchdom s1
expect_error "unknown snapshot (revert)" \
    "error: Domain snapshot not found: no domain snapshot with matching name 'nosuch'" \
    snapshot-revert vm nosuch
expect_error "unknown snapshot (delete)" \
    "error: Domain snapshot not found: no domain snapshot with matching name 'nosuch'" \
    snapshot-delete vm nosuch
expect_error "unknown snapshot (set current)" \
    "error: Domain snapshot not found: no domain snapshot with matching name 'nosuch'" \
    snapshot-current vm nosuch

# ---- redefine --------------------------------------------------------------
run snapshot-dumpxml vm s1 --security-info
cp "$tmp/out" "$tmp/s1.xml"
sed -e 's|<name>s1</name>|<name>orphan</name>|' \
    -e 's|<creationTime>|<parent>\n    <name>ghost</name>\n  </parent>\n  <creationTime>|' \
    "$tmp/s1.xml" >"$tmp/orphan.xml"
expect_error "redefine with a missing parent" \
    "error: invalid argument: parent ghost for moment orphan not found" \
    snapshot-create vm "$tmp/orphan.xml" --redefine
sed -e 's|<creationTime>|<parent>\n    <name>s2</name>\n  </parent>\n  <creationTime>|' \
    "$tmp/s1.xml" >"$tmp/cycle.xml"
expect_error "redefine creating a cycle" \
    "error: invalid argument: parent s2 would create cycle to s1" \
    snapshot-create vm "$tmp/cycle.xml" --redefine
expect_error "--current without --redefine" \
    "error: Flag 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' is required by flag 'VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT'" \
    snapshot-create vm "$tmp/orphan.xml" --current
expect_error "--redefine --no-metadata" \
    "error: Flags 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' and 'VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA' are mutually exclusive" \
    snapshot-create vm "$tmp/orphan.xml" --redefine --no-metadata

# ---- disks -----------------------------------------------------------------
expect_error "a disk named twice" \
    "error: unsupported configuration: disk 'vda' specified twice" \
    snapshot-create-as vm s9 --diskspec vda --diskspec vda
expect_error "a disk named twice (target and path)" \
    "error: unsupported configuration: disk '$d1' specified twice" \
    snapshot-create-as vm s9 --diskspec vda --diskspec "$d1"
expect_error "a disk not in the domain" \
    "error: unsupported configuration: no disk named 'vdz'" \
    snapshot-create-as vm s9 --diskspec vdz

# ---- TWO-LINE: virsh prints "Failed to ... NAME" before the library's error ---
expect_error "delete --children --children-only (TWO-LINE)" \
    "error: Failed to delete snapshot s1
error: Flags 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN' and 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY' are mutually exclusive" \
    snapshot-delete vm s1 --children --children-only
expect_error "revert --running --paused (TWO-LINE)" \
    "error: Failed to revert snapshot s1
error: Flags 'VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING' and 'VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED' are mutually exclusive" \
    snapshot-revert vm s1 --running --paused

# ---- IMAGE-TABLE: qemu-img fails on the second of two disks ------------------
cp "$d1" "$tmp/d1.before"
tables_before="$(tags "$d1")|$(tags "$d2")"
images=""
VSNAP_QEMU_IMG=$top_srcdir/tests/scenarios/fake-qemu-img-fail-second \
    expect_one_error "qemu-img fails on the second disk (IMAGE-TABLE)" snapshot-create-as vm s9
t_is "the first disk's new internal snapshot is removed again" \
    "$(tags "$d1")|$(tags "$d2")" "$tables_before"
t_check "the first disk's guest data is unchanged" \
    qemu-img compare -q -f qcow2 -F qcow2 "$tmp/d1.before" "$d1"
t_check "the first disk passes qemu-img check" image_clean "$d1"
images="$d1 $d2"

# ---- snapshot-edit with an editor that writes garbage -----------------------
# TWO-LINE: the cause, then "Failed to update NAME" (virsh 9.0 crashes here,
# transcript 11; vsnap keeps the old snapshot).
cat >"$tmp/editor.sh" <<'EOF'
#!/bin/sh
printf 'this is <not> xml & never was\n' >"$1"
EOF
chmod +x "$tmp/editor.sh"
run snapshot-dumpxml vm s1 --security-info
cp "$tmp/out" "$tmp/s1.before"
VISUAL= EDITOR=$tmp/editor.sh expect_error "snapshot-edit writing invalid XML (TWO-LINE)" \
    "error: *
error: Failed to update s1" snapshot-edit vm s1
run snapshot-dumpxml vm s1 --security-info
t_check "the old snapshot is kept" cmp -s "$tmp/s1.before" "$tmp/out"
cat >"$tmp/editor2.sh" <<'EOF'
#!/bin/sh
sed -i 's|<name>s1</name>|<name>s1-new</name>|' "$1"
EOF
chmod +x "$tmp/editor2.sh"
VISUAL= EDITOR=$tmp/editor2.sh expect_error "snapshot-edit changing the name without --rename/--clone (TWO-LINE)" \
    "error: Must use --rename or --clone to change s1 to s1-new
error: Failed to update s1" snapshot-edit vm s1

t_done
