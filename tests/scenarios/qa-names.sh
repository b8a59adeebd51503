#!/bin/bash
# QA: a name with a control character is refused on every path a name comes
# in, with one error that shows the byte, and nothing changes. Before the fix
# snapshot-create-as dropped the bytes XML cannot carry ('a\x01b' became
# 'ab', '\x01\x02' an empty name and so a time-stamp name, 'a\x07b' "already
# exists") and reported CR as \x0a. Also: --disk-only on a disk whose image
# is missing says that the file does not exist, and names it.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"

img=$tmp/a.qcow2
make_image "$img"
images=$img
define_domain vm 6f1c2c6e-0000-4000-8000-0000000000c1 "vda:$img"
must snapshot-create-as vm ab

ctl() { printf '%b' "$1"; }
refused() { printf "error: invalid %s name '%s': name can't contain control characters" "$1" "$2"; }

# 1. snapshot-create-as: positional name, --name, --print-xml
for spec in 'a\001b|a\\x01b' '\001\002|\\x01\\x02' 'a\007b|a\\x07b' 'a\rb|a\\x0db' \
            'a\nb|a\\x0ab' 'a\tb|a\\x09b' 'a\177b|a\\x7fb' 'a\033[1mb|a\\x1b[1mb' \
            'a\302\233b|a\\xc2\\x9bb'; do
    raw=${spec%%|*}
    shown=$(printf '%b' "${spec#*|}")
    name=$(ctl "$raw")
    expect_error "snapshot-create-as '$shown' is refused" "$(refused snapshot "$shown")" \
        -q snapshot-create-as vm "$name"
    expect_error "snapshot-create-as --name '$shown' is refused" "$(refused snapshot "$shown")" \
        -q snapshot-create-as vm --name "$name" --description d
    expect_error "snapshot-create-as --print-xml '$shown' is refused" \
        "$(refused snapshot "$shown")" -q snapshot-create-as vm "$name" --print-xml
done
run -q snapshot-list vm --name
t_is "no snapshot was made under another name" "$(out)" "ab"
expect_ok "a name with other non-ASCII characters is fine" \
    -q snapshot-create-as vm "$(printf 'caf\303\251\302\240x')"
must -q snapshot-delete vm "$(printf 'caf\303\251\302\240x')"

# 2. snapshot-create from XML: a character reference XML allows, and bytes
# and references XML 1.0 forbids (the parser refuses the document)
snapxml() { printf '<domainsnapshot><name>%s</name></domainsnapshot>\n' "$1" >"$tmp/s.xml"; }
snapxml 'a&#13;b'
expect_error "snapshot-create <name>a&#13;b</name> shows CR as \\x0d" \
    "$(refused snapshot 'a\x0db')" -q snapshot-create vm "$tmp/s.xml"
snapxml 'a&#x9b;b'
expect_error "snapshot-create <name> with a C1 control is refused" \
    "$(refused snapshot 'a\xc2\x9bb')" -q snapshot-create vm "$tmp/s.xml"
snapxml 'a&#127;b'
expect_error "snapshot-create <name> with DEL is refused" \
    "$(refused snapshot 'a\x7fb')" -q snapshot-create vm "$tmp/s.xml"
snapxml 'a&#1;b'
expect_one_error "snapshot-create <name>a&#1;b</name>: the document is refused" \
    -q snapshot-create vm "$tmp/s.xml"
snapxml "$(ctl 'a\001b')"
expect_one_error "snapshot-create <name> with a raw \\x01: the document is refused" \
    -q snapshot-create vm "$tmp/s.xml"

# 3. --redefine and snapshot-edit
run -q snapshot-dumpxml vm ab --security-info
sed 's|<name>ab</name>|<name>a\&#13;b</name>|' "$tmp/out" >"$tmp/r.xml"
grep -q 'a&#13;b' "$tmp/r.xml" || t_bail "could not prepare the redefine document"
expect_error "snapshot-create --redefine with a CR in <name> is refused" \
    "$(refused snapshot 'a\x0db')" -q snapshot-create vm "$tmp/r.xml" --redefine
cat >"$tmp/editor" <<'EOF'
#!/bin/sh
sed -i 's|<name>ab</name>|<name>a\&#x9b;b</name>|' "$1"
EOF
chmod +x "$tmp/editor"
EDITOR=$tmp/editor VISUAL='' expect_error \
    "snapshot-edit to a name with a C1 control is refused (with virsh's 'Failed to update')" \
    "$(refused snapshot 'a\xc2\x9bb')
error: Failed to update ab" -q snapshot-edit vm ab --rename
run -q snapshot-list vm --name
t_is "the snapshot keeps its name" "$(out)" "ab"

# 4. define: <name> of a domain
domain_xml 'd&#13;x' 6f1c2c6e-0000-4000-8000-0000000000c2 "vda:$img" >"$tmp/d.xml"
expect_error "define with a CR in <name> is refused (virsh's two lines)" \
    "error: Failed to define domain from $tmp/d.xml
$(refused domain 'd\x0dx')" -q define "$tmp/d.xml"
domain_xml 'd&#x85;x' 6f1c2c6e-0000-4000-8000-0000000000c2 "vda:$img" >"$tmp/d.xml"
expect_error "define with a C1 control (NEL) in <name> is refused" \
    "error: Failed to define domain from $tmp/d.xml
$(refused domain 'd\xc2\x85x')" -q define "$tmp/d.xml"
run -q list --all --name
t_is "no domain was defined" "$(out)" "vm"

# 5. a domain name on the command line
expect_error "a domain name with a control character is refused" \
    "$(refused domain 'v\x01m')" -q snapshot-list "$(ctl 'v\001m')"

# 6. --disk-only on a disk whose image does not exist
domain_xml gone 6f1c2c6e-0000-4000-8000-0000000000c3 "vda:$tmp/missing.qcow2" >"$tmp/g.xml"
must define "$tmp/g.xml"
expect_error "--disk-only on a missing image says so and names it" \
    "error: operation failed: source file '$tmp/missing.qcow2' of disk 'vda' does not exist" \
    -q snapshot-create-as gone s1 --disk-only
t_check "no overlay was created" test ! -e "$tmp/missing.s1"

t_done
