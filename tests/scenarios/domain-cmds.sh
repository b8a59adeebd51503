#!/usr/bin/env bash
# Domain commands: define, list, dumpxml, domstate, domblklist, undefine;
# bad names, unknown domains, malformed XML, DOCTYPE and external entities.
set -u

: "${VSNAP:?VSNAP must name the vsnap binary}"

n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; }
diag() { sed 's/^/# /' "$@"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vsnap-dom.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
meta=$tmp/meta

run() {
    "$VSNAP" -d "$meta" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    rc=$?
}

expect() {
    local desc=$1 erc=$2
    printf '%s' "$3" >"$tmp/eout"
    printf '%s' "$4" >"$tmp/eerr"
    if [ "$rc" = "$erc" ] && cmp -s "$tmp/out" "$tmp/eout" && cmp -s "$tmp/err" "$tmp/eerr"; then
        ok "$desc"
    else
        not_ok "$desc"
        echo "# status $rc, expected $erc"
        diff -u "$tmp/eout" "$tmp/out" | diag
        diff -u "$tmp/eerr" "$tmp/err" | diag
    fi
}

# expect_fail DESC FIRST-STDERR-LINE: status 1, stderr starts with that line
expect_fail() {
    if [ "$rc" = 1 ] && [ "$(head -1 "$tmp/err")" = "$2" ]; then
        ok "$1"
    else
        not_ok "$1"
        echo "# status $rc"
        diag "$tmp/err"
    fi
}

if ! qemu-img create -q -f qcow2 "$tmp/web1.qcow2" 16M ||
   ! qemu-img create -q -f qcow2 "$tmp/web1-data.qcow2" 16M; then
    echo "Bail out! qemu-img create failed"
    exit 1
fi

# Written as libvirt formats a definition, so dumpxml --security-info must
# give back exactly these bytes.
cat >"$tmp/web1.xml" <<EOF
<domain type='qemu'>
  <name>web1</name>
  <uuid>0d4c2a70-9b7e-4d55-8f3c-2f0a1b6c7d8e</uuid>
  <memory unit='KiB'>32768</memory>
  <currentMemory unit='KiB'>32768</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$tmp/web1.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$tmp/web1-data.qcow2'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
    <graphics type='vnc' port='-1' autoport='yes' passwd='s3cret'/>
  </devices>
</domain>
EOF

# --- nothing defined yet (an empty metadata directory: one that -d names
# must exist, see store-links.sh)
mkdir -m 700 "$meta"
run list --all
expect "list --all of an empty store" 0 $' Id   Name   State\n--------------------\n\n' ""
run dumpxml web1
expect "dumpxml of an unknown domain" 1 $'\n' "error: failed to get domain 'web1'"$'\n'
for c in domstate domblklist undefine snapshot-list snapshot-info; do
    run -q "$c" web1
    expect_fail "$c of an unknown domain" "error: failed to get domain 'web1'"
done

# --- define
run define "$tmp/web1.xml"
expect "define" 0 "Domain 'web1' defined from $tmp/web1.xml"$'\n\n' ""
if [ -f "$meta/web1/domain.xml" ] && [ "$(stat -c %a "$meta/web1/domain.xml")" = 600 ] &&
   [ "$(stat -c %a "$meta/web1")" = 700 ]; then
    ok "the definition is stored privately"
else
    not_ok "the definition is stored privately"
fi
run -q define "$tmp/web1.xml"
expect "define again (update) succeeds quietly" 0 "" ""

# --- list
run list
expect "list shows only running domains: none" 0 $' Id   Name   State\n--------------------\n\n' ""
run list --all
expect "list --all" 0 $' Id   Name   State\n-----------------------\n -    web1   shut off\n\n' ""
run list --all --name
expect "list --all --name" 0 $'web1\n\n' ""
run -q list --name
expect "list --name without --all" 0 "" ""

# --- dumpxml
run -q dumpxml --security-info web1
if [ "$rc" = 0 ] && cmp -s "$tmp/out" "$tmp/web1.xml"; then
    ok "dumpxml --security-info gives back the defined XML byte for byte"
else
    not_ok "dumpxml --security-info gives back the defined XML byte for byte"
    diff -u "$tmp/web1.xml" "$tmp/out" | diag
fi
run -q dumpxml web1
sed "s/ passwd='s3cret'//" "$tmp/web1.xml" >"$tmp/web1-public.xml"
if [ "$rc" = 0 ] && cmp -s "$tmp/out" "$tmp/web1-public.xml"; then
    ok "dumpxml without --security-info leaves the password out"
else
    not_ok "dumpxml without --security-info leaves the password out"
    diff -u "$tmp/web1-public.xml" "$tmp/out" | diag
fi
run dumpxml web1
{ cat "$tmp/web1-public.xml"; echo; } >"$tmp/want"
if [ "$rc" = 0 ] && cmp -s "$tmp/out" "$tmp/want"; then
    ok "dumpxml without -q ends with virsh's empty line"
else
    not_ok "dumpxml without -q ends with virsh's empty line"
fi
cp "$tmp/web1-public.xml" "$tmp/again.xml"
run -q 'define '"$tmp/again.xml"'; dumpxml web1'
if [ "$rc" = 0 ] && cmp -s "$tmp/out" "$tmp/web1-public.xml"; then
    ok "dumpxml output defines the same domain again"
else
    not_ok "dumpxml output defines the same domain again"; diag "$tmp/err"
fi
run -q define "$tmp/web1.xml"

# --- domstate, domblklist
run domstate web1
expect "domstate" 0 $'shut off\n\n' ""
# the separator is sum(column width + 3); the longest source sets the last width
longest=$tmp/web1-data.qcow2
srcw=${#longest}
dashes() { printf '%*s' "$1" '' | tr ' ' -; }
run domblklist web1
expect "domblklist" 0 " Target   Source
$(dashes $((9 + srcw + 3)))
 vda      $tmp/web1.qcow2
 vdb      $tmp/web1-data.qcow2
 sda      -

" ""
run domblklist web1 --details
expect "domblklist --details" 0 " Type   Device   Target   Source
$(dashes $((7 + 9 + 9 + srcw + 3)))
 file   disk     vda      $tmp/web1.qcow2
 file   disk     vdb      $tmp/web1-data.qcow2
 file   cdrom    sda      -

" ""
run -q domblklist web1
expect "domblklist -q drops the header" 0 " vda      $tmp/web1.qcow2
 vdb      $tmp/web1-data.qcow2
 sda      -
" ""

# --- names
sed "s|<name>web1</name>|<name>a/b</name>|; s|<uuid>.*</uuid>||" "$tmp/web1.xml" >"$tmp/slash.xml"
run define "$tmp/slash.xml"
expect_fail "a domain name with '/' is refused" "error: Failed to define domain from $tmp/slash.xml"
sed "s|<name>web1</name>|<name>..</name>|; s|<uuid>.*</uuid>||" "$tmp/web1.xml" >"$tmp/dots.xml"
run define "$tmp/dots.xml"
expect_fail "a domain named '..' is refused" "error: Failed to define domain from $tmp/dots.xml"
if [ ! -e "$tmp/domain.xml" ] && [ "$(ls -A "$meta")" = web1 ]; then
    ok "refused names left nothing behind"
else
    not_ok "refused names left nothing behind"; find "$meta" "$tmp" -maxdepth 1 | diag
fi
run dumpxml ../web1
if [ "$rc" = 1 ] && grep -q "^error: invalid domain name '../web1'" "$tmp/err" &&
   [ "$(cat "$tmp/out")" = "" ]; then
    ok "a domain name with a path is refused by dumpxml"
else
    not_ok "a domain name with a path is refused by dumpxml"; diag "$tmp/out" "$tmp/err"
fi
sed "s|<uuid>0d4c2a70-9b7e-4d55-8f3c-2f0a1b6c7d8e</uuid>|<uuid>11111111-2222-3333-4444-555555555555</uuid>|" \
    "$tmp/web1.xml" >"$tmp/other-uuid.xml"
run define "$tmp/other-uuid.xml"
expect_fail "the same name with another uuid is refused" \
    "error: Failed to define domain from $tmp/other-uuid.xml"

# --- malformed input
run define "$tmp/missing.xml"
expect "define of a missing file" 1 $'\n' \
    "error: Failed to open file '$tmp/missing.xml': No such file or directory"$'\n'
printf '<domain type="qemu"><name>broken</name>\n' >"$tmp/broken.xml"
run define "$tmp/broken.xml"
expect_fail "malformed XML is refused" "error: Failed to define domain from $tmp/broken.xml"
if [ "$(wc -l <"$tmp/err")" = 2 ] && sed -n 2p "$tmp/err" | grep -q '^error: '; then
    ok "... with the parser's message on a second line"
else
    not_ok "... with the parser's message on a second line"; diag "$tmp/err"
fi
printf '<snapshot><name>x</name></snapshot>\n' >"$tmp/wrongroot.xml"
run define "$tmp/wrongroot.xml"
if [ "$rc" = 1 ] && grep -qx "error: XML error: expecting root element of 'domain', not 'snapshot'" "$tmp/err"; then
    ok "a wrong root element is refused with libvirt's message"
else
    not_ok "a wrong root element is refused with libvirt's message"; diag "$tmp/err"
fi
printf '<domain type="qemu"><uuid>0d4c2a70-9b7e-4d55-8f3c-2f0a1b6c7d8e</uuid></domain>\n' >"$tmp/noname.xml"
run define "$tmp/noname.xml"
if [ "$rc" = 1 ] && grep -qx "error: XML error: missing name in domain" "$tmp/err"; then
    ok "a domain without a name is refused"
else
    not_ok "a domain without a name is refused"; diag "$tmp/err"
fi

# --- DOCTYPE and external entities: refused, the referenced file never read.
# The entity points at a FIFO: opening it for reading would block, so a
# reader shows up as a timeout; the secret must not appear anywhere either.
mkfifo "$tmp/secret.fifo"
echo "TOPSECRET" >"$tmp/secret.txt"
cat >"$tmp/xxe.xml" <<EOF
<?xml version="1.0"?>
<!DOCTYPE domain [
  <!ENTITY fifo SYSTEM "file://$tmp/secret.fifo">
  <!ENTITY secret SYSTEM "file://$tmp/secret.txt">
]>
<domain type='qemu'>
  <name>xxe</name>
  <description>&secret;&fifo;</description>
</domain>
EOF
timeout 20 "$VSNAP" -d "$meta" define "$tmp/xxe.xml" >"$tmp/out" 2>"$tmp/err" </dev/null
rc=$?
if [ "$rc" = 1 ] && grep -q "^error: Failed to define domain from $tmp/xxe.xml" "$tmp/err" &&
   ! grep -q TOPSECRET "$tmp/out" "$tmp/err"; then
    ok "a document with a DOCTYPE and external entities is refused"
else
    not_ok "a document with a DOCTYPE and external entities is refused (status $rc)"; diag "$tmp/err"
fi
if [ ! -e "$meta/xxe" ] && ! grep -rq TOPSECRET "$meta"; then
    ok "... nothing was stored and the entity file was not read"
else
    not_ok "... nothing was stored and the entity file was not read"
fi
cat >"$tmp/dtd.xml" <<EOF
<!DOCTYPE domain SYSTEM "file://$tmp/secret.fifo">
<domain type='qemu'><name>dtd</name></domain>
EOF
timeout 20 "$VSNAP" -d "$meta" define "$tmp/dtd.xml" >"$tmp/out" 2>"$tmp/err" </dev/null
rc=$?
expect_fail "an external DTD is refused without being loaded" \
    "error: Failed to define domain from $tmp/dtd.xml"

# --- undefine
run -q snapshot-create-as web1 s1
if [ "$rc" = 0 ]; then
    run undefine web1
    expect "undefine refuses a domain with snapshots" 1 $'\n' \
        "error: Failed to undefine domain 'web1'
error: Requested operation is not valid: cannot delete inactive domain with 1 snapshots
"
    run -q domstate web1
    expect "... and the domain is still there" 0 $'shut off\n' ""
    run undefine web1 --snapshots-metadata
    expect "undefine --snapshots-metadata" 0 "Domain 'web1' has been undefined"$'\n\n' ""
else
    not_ok "snapshot-create-as web1 s1 (needed for the undefine tests)"; diag "$tmp/err"
    run -q undefine web1 --snapshots-metadata
fi
run -q list --all --name
expect "the domain is gone" 0 "" ""
if [ -z "$(ls -A "$meta")" ]; then
    ok "undefine left no directory behind"
else
    not_ok "undefine left no directory behind"; find "$meta" | diag
fi
run undefine web1
expect "undefine of an unknown domain" 1 $'\n' "error: failed to get domain 'web1'"$'\n'
run -q define "$tmp/web1.xml"
run undefine web1
expect "undefine of a domain without snapshots" 0 "Domain 'web1' has been undefined"$'\n\n' ""

echo "1..$n"
exit 0
