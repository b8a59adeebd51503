#!/bin/sh
# Golden tests: vsnap's snapshot commands against real virsh transcripts.
#
# For each tests/golden/expected/*.txt (written by convert.sh from the virsh
# 9.0.0 transcripts) a domain "test" with two small qcow2 disks (vda, vdb) is
# defined in a fresh metadata directory, then every command of the scenario
# runs as its own vsnap process (`vsnap -d META 'COMMAND STRING'`). stdout,
# stderr and the exit status are normalised as the transcripts were
# (normalize.awk) and compared byte for byte: one TAP line per command.
# Printed snapshot XML is also validated against libvirt's
# domainsnapshot.rng from $VSNAP_SCHEMAS (configure finds the installed
# schemas, or the reference's copy when ../shared/reference is there), and
# the <domain> embedded in a snapshot dump is compared with `vsnap dumpxml test`.
# Nothing here needs ../shared: the expectations are in tests/golden/expected.
#
# Environment: VSNAP (the binary), top_srcdir, VSNAP_SCHEMAS.
# GOLDEN_ONLY=NAME limits the run to the scenarios whose name starts with NAME.
set -u

: "${VSNAP:?VSNAP must name the vsnap binary}"
case $VSNAP in
/*) ;;
*) VSNAP=$(pwd)/$VSNAP ;;   # commands run from the scratch directory
esac
GOLDEN_DIR=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/golden
. "$GOLDEN_DIR/golden-lib.sh"
LC_ALL=C
TZ=UTC
export LC_ALL TZ
unset VISUAL EDITOR VSNAP_DIR

n=0
ok() {      # ok DESCRIPTION
    n=$((n + 1))
    echo "ok $n - $1"
}
notok() {   # notok DESCRIPTION [DIAGNOSTIC-FILE]
    n=$((n + 1))
    echo "not ok $n - $1"
    if [ $# -gt 1 ] && [ -s "$2" ]; then
        sed 's/^/# /' "$2"
    fi
}
skipped() { # skipped DESCRIPTION REASON
    n=$((n + 1))
    echo "ok $n - $1 # SKIP $2"
}

QEMU_IMG=${VSNAP_QEMU_IMG:-qemu-img}
if ! command -v "$QEMU_IMG" > /dev/null 2>&1; then
    echo "1..0 # SKIP qemu-img not found"
    exit 0
fi

RNG=
NO_RNG="no libvirt schemas (install libvirt0 or configure --with-schemas=DIR)"
if [ -n "${VSNAP_SCHEMAS:-}" ] && [ -f "$VSNAP_SCHEMAS/domainsnapshot.rng" ]; then
    RNG=$VSNAP_SCHEMAS/domainsnapshot.rng
fi
if ! command -v xmllint > /dev/null 2>&1; then
    RNG=
    NO_RNG="xmllint not found (Debian: libxml2-utils)"
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/vsnap-golden.XXXXXX") || exit 99
trap 'rm -rf "$W"' EXIT
trap 'exit 1' INT TERM HUP
mkdir "$W/tmp" "$W/exp"

# ------------------------------------------------------------ fixtures --
# The same files virsh-transcripts/regenerate.sh wrote to its scratch
# directory, which the expectations call @WORK@.
cat > "$W/editor.sh" <<'EOF'
#!/bin/sh
# $1 = the snapshot XML being edited; only the snapshot's own <name> counts.
f="$1"
if grep -q '^  <name>e1</name>' "$f"; then
  sed -i 's|<description>.*</description>|<description>edited by editor.sh</description>|' "$f"
elif grep -q '^  <name>e2</name>' "$f"; then
  sed -i 's|^  <name>e2</name>|  <name>e2-renamed</name>|' "$f"
elif grep -q '^  <name>e3</name>' "$f"; then
  sed -i 's|^  <name>e3</name>|  <name>e3-clone</name>|; s|<description>.*</description>|<description>a clone of e3</description>|' "$f"
elif grep -q '^  <name>broken</name>' "$f"; then
  sed -i 's|</domainsnapshot>|</domainsnapshot-oops>|' "$f"
fi
exit 0
EOF
chmod +x "$W/editor.sh"
printf 'this is not XML at all\n' > "$W/not-xml.xml"
printf '<snapshot>\n  <name>wrongroot</name>\n</snapshot>\n' > "$W/wrong-root.xml"
printf "<domainsnapshot>\n  <name>badmem</name>\n  <memory snapshot='bogus'/>\n</domainsnapshot>\n" > "$W/bad-memory.xml"
printf "<domainsnapshot>\n  <name>unclosed</name>\n" > "$W/truncated.xml"
cat > "$W/minimal.xml" <<'EOF'
<domainsnapshot>
  <name>from-xml</name>
  <description>created by snapshot-create from a hand-written file</description>
</domainsnapshot>
EOF
cat > "$W/orphan.xml" <<'EOF'
<domainsnapshot>
  <name>orphan</name>
  <parent>
    <name>ghost</name>
  </parent>
  <state>running</state>
  <creationTime>1700000000</creationTime>
  <memory snapshot='internal'/>
  <disks>
    <disk name='vda' snapshot='internal'/>
  </disks>
</domainsnapshot>
EOF

# subst_work STRING: @WORK@ -> the scratch directory
subst_work() {
    awk -v w="$W" 'BEGIN { s = ARGV[1]; ARGV[1] = ""
        out = ""
        while ((i = index(s, "@WORK@")) > 0) {
            out = out substr(s, 1, i - 1) w
            s = substr(s, i + 6)
        }
        print out s }' "$1"
}

# define_test IMAGE-DIR META-DIR: the test domain, named and with the uuid of
# the test driver's domain; images are created when missing.
define_test() {
    for disk in vda vdb; do
        if [ ! -f "$1/$disk.qcow2" ]; then
            "$QEMU_IMG" create -q -f qcow2 "$1/$disk.qcow2" 1M > "$W/qemu-img.err" 2>&1 || return 1
        fi
    done
    cat > "$1/test.xml" <<EOF
<domain type='qemu'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>32768</memory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$1/vda.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$1/vdb.qcow2'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
  </devices>
</domain>
EOF
    "$VSNAP" -q -d "$2" define "$1/test.xml" > "$W/define.out" 2>&1 < /dev/null
}

# ------------------------------------------------------------ scenarios --
for exp in "$GOLDEN_DIR"/expected/*.txt; do
    scn=$(basename "$exp" .txt)
    case $scn in
    "${GOLDEN_ONLY:-}"*) ;;
    *) continue ;;
    esac
    S=$W/$scn
    E=$W/exp/$scn
    mkdir -p "$S" "$E"
    meta=$S/meta
    images=$S
    # 08b is the fresh connection of 08a: a new metadata directory, the
    # same disks (their internal snapshots r1-r3 exist) and @WORK@/r*.xml.
    case $scn in
    08b-*) images=$W/08a-redefine-prep ;;
    esac
    mkdir -p "$images"
    if ! define_test "$images" "$meta"; then
        cat "$W/qemu-img.err" "$W/define.out" > "$W/diag" 2>/dev/null
        notok "$scn: define the test domain" "$W/diag"
        continue
    fi

    # One directory entry per command: K.mode, K.run, K.why, K.global,
    # K.save, K.xml, K.domain, K.tail and K.block (what is compared).
    awk -v dir="$E" '
    function put(name, text) { f = dir "/" k "." name; print text > f; close(f) }
    /^#/ && !k { next }
    /^@cmd / { k = $2; print k >> (dir "/list"); put("mode", $3); blk = ""; inblk = 0; next }
    /^@run / { put("run", substr($0, 6)); next }
    /^@why / { put("why", substr($0, 6)); next }
    /^@global / { put("global", substr($0, 9)); next }
    /^@save / { put("save", substr($0, 7)); next }
    /^@xml / { put("xml", substr($0, 6)); next }
    /^@domain / { put("domain", substr($0, 9)); next }
    /^@stderr-tail$/ { put("tail", "1"); next }
    /^@end$/ { if (inblk) { f = dir "/" k ".block"; printf "%s", blk > f; close(f) } k = ""; next }
    /^@stdout$/ { inblk = 1 }
    inblk { blk = blk $0 "\n" }
    ' "$exp"

    while read -r k; do
        mode=$(cat "$E/$k.mode")
        raw=$(cat "$E/$k.run")
        cmd=$(subst_work "$raw")
        desc="${scn}[$k] $raw"
        why=
        [ -f "$E/$k.why" ] && why=$(cat "$E/$k.why")
        if [ "$mode" = skip ]; then
            skipped "$desc" "$why"
            continue
        fi
        global=
        [ -f "$E/$k.global" ] && global=$(cat "$E/$k.global")
        # shellcheck disable=SC2086  # global options are words
        (cd "$W" && EDITOR="$W/editor.sh" TMPDIR="$W/tmp" \
            "$VSNAP" $global -d "$meta" "$cmd") > "$W/out" 2> "$W/err" < /dev/null
        status=$?
        if [ -f "$E/$k.save" ]; then
            cp "$W/out" "$W/$(cat "$E/$k.save")"
        fi
        if [ "$mode" = setup ]; then
            # Not a test: later commands show the effect of a failure.
            if [ "$status" != 0 ]; then
                echo "# setup step $desc failed with status $status:"
                sed 's/^/#   /' "$W/err"
            fi
            continue
        fi

        errfile=$W/err
        if [ -f "$E/$k.tail" ]; then
            tail -n 1 "$W/err" > "$W/err.tail"
            errfile=$W/err.tail
        fi
        golden_block "$W/out" "$errfile" "$status" "$cmd" "$W" > "$W/actual"
        if cmp -s "$E/$k.block" "$W/actual"; then
            ok "$desc"
        else
            diff -u "$E/$k.block" "$W/actual" > "$W/diff"
            notok "$desc" "$W/diff"
        fi

        if [ -f "$E/$k.xml" ]; then
            xml=$(cat "$E/$k.xml")
            case $xml in
            skip\ *)
                # printed as virsh prints it, which libvirt's schema refuses
                if [ -z "$RNG" ]; then
                    skipped "$desc: the schema refuses the printed XML" "$NO_RNG"
                elif xmllint --noout --relaxng "$RNG" "$W/out" > "$W/xmllint" 2>&1; then
                    notok "$desc: the schema refuses the printed XML (${xml#skip })" "$W/xmllint"
                else
                    ok "$desc: the schema refuses the printed XML (${xml#skip })"
                fi ;;
            *)
                if [ -z "$RNG" ]; then
                    skipped "$desc: printed XML matches the schema" "$NO_RNG"
                elif xmllint --noout --relaxng "$RNG" "$W/out" > "$W/xmllint" 2>&1; then
                    ok "$desc: printed XML matches the schema"
                else
                    notok "$desc: printed XML matches the schema" "$W/xmllint"
                fi ;;
            esac
        fi
        if [ -f "$E/$k.domain" ]; then
            awk '/^  <domain type=/ { p = 1 } p { print substr($0, 3) } /^  <\/domain>$/ { p = 0 }' \
                "$W/out" > "$W/dom.snap"
            "$VSNAP" -q -d "$meta" dumpxml test > "$W/dom.live" 2>&1 < /dev/null
            if [ -s "$W/dom.snap" ] && cmp -s "$W/dom.live" "$W/dom.snap"; then
                ok "$desc: embedded <domain> is the domain's definition"
            else
                diff -u "$W/dom.live" "$W/dom.snap" > "$W/diff"
                notok "$desc: embedded <domain> is the domain's definition" "$W/diff"
            fi
        fi
    done < "$E/list"
done

echo "1..$n"
