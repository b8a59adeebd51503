#!/usr/bin/env bash
# --validate uses the installed schemas: vsnap reads libvirt's RelaxNG
# schemas from the directory configure compiled in (--with-schemadir,
# default /usr/share/libvirt/schemas, which Debian's libvirt0 installs), or
# from $VSNAP_SCHEMA_DIR; never from the source tree or ../shared, which a
# user does not have.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"

builtin=${VSNAP_BUILTIN_SCHEMA_DIR:-}
if [ -z "$builtin" ] || [ ! -f "$builtin/domainsnapshot.rng" ]; then
    echo "1..0 # SKIP no domainsnapshot.rng in the configured schema directory '$builtin' (install libvirt0)"
    exit 0
fi
unset VSNAP_SCHEMA_DIR VSNAP_REFERENCE VSNAP_SCHEMAS

make_image "$tmp/vda.qcow2"
define_domain test 6695eb01-f6a4-8304-79aa-97f2502e193f "vda:$tmp/vda.qcow2"
images="$tmp/vda.qcow2"

printf '<domainsnapshot>\n  <name>bad</name>\n  <bogus/>\n</domainsnapshot>\n' >"$tmp/bad.xml"
expect_error "an element the schema does not have is refused, naming the installed schema" \
    "error: XML document failed to validate against schema: Unable to validate doc against $builtin/domainsnapshot.rng Element domainsnapshot has extra content: bogus" \
    snapshot-create test "$tmp/bad.xml" --validate

mkdir "$tmp/noschemas"
VSNAP_SCHEMA_DIR=$tmp/noschemas expect_error "VSNAP_SCHEMA_DIR names another directory" \
    "error: internal error: Unable to open RNG schema '$tmp/noschemas/domainsnapshot.rng'" \
    snapshot-create test "$tmp/bad.xml" --validate

run -q snapshot-create test "$tmp/bad.xml"
t_is "without --validate the unknown element is ignored" "$rc:$(err)" "0:"

expect_ok "snapshot-create-as --validate" snapshot-create-as test v1 --description 'checked' --validate
run snapshot-dumpxml test v1 --security-info
cp "$tmp/out" "$tmp/v1.xml"
expect_ok "vsnap's own dump, with its <domain>, passes --redefine --validate" \
    snapshot-create test "$tmp/v1.xml" --redefine --validate
run snapshot-dumpxml test v1 --security-info
t_check "... and is unchanged by it" cmp -s "$tmp/out" "$tmp/v1.xml"

t_done
