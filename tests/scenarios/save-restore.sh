#!/bin/bash
# save, restore, managedsave, managedsave-remove, start from a managed save,
# save-image-dumpxml/-define, list's managed-save filters, against a real
# qemu-system-x86_64 (TCG, 32 MiB, no guest OS), with virsh's output
# (../shared/reference/virsh-live/transcripts/03-save-restore.txt). Memory
# is proven, not exit codes: a pattern goes into guest RAM (its backing
# file), the state is saved, the RAM overwritten, and after restore QEMU's
# own view of it (pmemsave) holds the pattern again. The header of every
# image vsnap writes is checked field by field against libvirt's layout.
# Then the failures: a full disk during the copy (a small tmpfs; skipped
# when mount is not permitted), vsnap and QEMU killed with SIGKILL during
# the copy (failpoints), each leaving no image that looks complete, the
# guest running again (or shut off when QEMU died) and nothing
# snapshot-check --repair cannot make consistent.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
. "${top_srcdir:-.}/tests/scenarios/live-lib.sh"

failpoints=0
grep -q '^#define VSNAP_FAILPOINTS 1' "${top_builddir:-.}/config.h" 2>/dev/null && failpoints=1
[ -n "${VSNAP_REAL:-}" ] && [ "$VSNAP" != "$VSNAP_REAL" ] && failpoints=0

a=$tmp/a.qcow2
make_image "$a"
live_define vm 5b2e7c1d-9a8b-4c3d-8e2f-1a2b3c4d5e6f "vda:$a"
f=$tmp/vm.save
ms=$meta/vm/managed.save

# u32 FILE OFFSET: the little-endian 32-bit word there
u32() { od -An -tu4 -j "$2" -N 4 "$1" | tr -d ' '; }

# header_ok FILE WAS_RUNNING [defined]: libvirt's layout, field by field
# (after save-image-define the room after the XML is what is left of it)
header_ok() {
    local file=$1 running=$2 defined=${3:-} dl co xl cl bad=0
    [ "$(head -c 16 "$file")" = LibvirtQemudSave ] || { echo "# magic: $(head -c 16 "$file")"; bad=1; }
    [ "$(u32 "$file" 16)" = 2 ] || { echo "# version $(u32 "$file" 16)"; bad=1; }
    dl=$(u32 "$file" 20)
    [ "$(u32 "$file" 24)" = "$running" ] || { echo "# was_running $(u32 "$file" 24)"; bad=1; }
    [ "$(u32 "$file" 28)" = 0 ] || { echo "# compressed $(u32 "$file" 28)"; bad=1; }
    co=$(u32 "$file" 32)
    [ "$(head -c 92 "$file" | tail -c 56 | tr -d '\0' | wc -c)" = 0 ] || { echo "# unused words not zero"; bad=1; }
    # the XML ends in its NUL at cookieOffset - 1; the cookie is <cookie>..</cookie>\n + NUL
    xl=$(head -c $((92 + co)) "$file" | tail -c +93 | tr -d '\0' | wc -c)
    [ "$xl" = $((co - 1)) ] || { echo "# XML length $xl, cookieOffset $co"; bad=1; }
    head -c $((92 + co)) "$file" | tail -c +93 | grep -q "<domain" || { echo "# no domain XML"; bad=1; }
    cl=$(tail -c +$((93 + co)) "$file" | head -c 4096 | tr '\0\n' '\n\1' | head -1 | wc -c)
    [ "$(tail -c +$((93 + co)) "$file" | head -c 8)" = "<cookie>" ] || { echo "# no cookie"; bad=1; }
    [ -n "$defined" ] || [ "$dl" = $((co + cl + 65536)) ] ||
        { echo "# data_len $dl != xml+1 + cookie+1 + 65536 ($co + $cl)"; bad=1; }
    [ "$(tail -c +$((93 + co + cl)) "$file" | head -c $((dl - co - cl)) | tr -d '\0' | wc -c)" = 0 ] ||
        { echo "# padding not zero"; bad=1; }
    [ "$(tail -c +$((93 + dl)) "$file" | head -c 4)" = QEVM ] || { echo "# no QEVM stream at 0x5c + data_len"; bad=1; }
    [ "$(stat -c %a "$file")" = 600 ] || { echo "# mode $(stat -c %a "$file")"; bad=1; }
    return $bad
}
# the metadata a failed save must leave: everything but the lock, the index
# and the runtime state under run/
meta_cold() { (cd "$meta" && find . -path ./vm/run -prune -o -type f ! -name lock ! -name index -print0 |
    sort -z | xargs -0r sha256sum); }
no_temp() { ! ls -a "$1" | grep -q 'vsnap-part'; }

# ---- save ------------------------------------------------------------------------------
expect_error "save of a shut-off domain" "error: Failed to save domain 'vm' to $f
error: Requested operation is not valid: domain is not running" save vm "$f"
t_check "... no file" test ! -e "$f"
expect_ok "start" start vm
pid=$(qemu_pid vm)
ram_put A
t_check "RAM holds A" ram_is vm A
expect_ok "save" save vm "$f"
expect_stdout "... virsh's lines" $'\n'"Domain 'vm' saved to $f"$'\n'
t_is "shut off (saved)" "$(state vm)" "shut off (saved)"
t_check "QEMU is gone" gone "$pid"
t_check "the image: libvirt's header field by field, was_running 1" header_ok "$f" 1
t_check "no temporary file left" no_temp "$tmp"
run dumpxml vm --security-info
cp "$tmp/out" "$tmp/def.xml"
expect_ok "save-image-dumpxml" save-image-dumpxml "$f"
t_check "... the domain's XML" cmp -s "$tmp/out" "$tmp/def.xml"
expect_error "save-image-dumpxml of no file" \
    "error: Failed to open file '$tmp/nosuch.save': No such file or directory" save-image-dumpxml "$tmp/nosuch.save"

# ---- restore -----------------------------------------------------------------------------
ram_put B
t_check "RAM file overwritten (B)" sh -c "dd if='$ram' bs=65536 skip=$((RAM_OFF / 65536)) count=1 status=none | tr -d B | wc -c | grep -qx 0"
expect_ok "restore" restore "$f"
expect_stdout "... virsh's line" "Domain restored from $f"$'\n'
t_is "running (restored)" "$(state vm)" "running (restored)"
t_check "RAM holds A again" ram_is vm A
expect_error "restore of an active domain" "error: Failed to restore domain from $f
error: Requested operation is not valid: domain 'vm' is already active" restore "$f"
t_check "the image stays" test -s "$f"

expect_ok "save --paused" save vm "$f" --paused
t_check "... was_running 0" header_ok "$f" 0
expect_ok "restore of a paused image" restore "$f"
t_is "paused (migrating)" "$(state vm)" "paused (migrating)"
t_check "RAM holds A" ram_is vm A
expect_ok "save (a paused guest)" save vm "$f"
t_check "... was_running 0: it was paused" header_ok "$f" 0
expect_ok "restore --running" restore "$f" --running
t_is "running (restored)" "$(state vm)" "running (restored)"
expect_ok "save" save vm "$f"
expect_ok "restore --paused" restore "$f" --paused
t_is "paused (migrating)" "$(state vm)" "paused (migrating)"
expect_ok "resume" resume vm
expect_error "restore --running --paused" "error: Failed to restore domain from $f
error: Flags 'VIR_DOMAIN_SAVE_RUNNING' and 'VIR_DOMAIN_SAVE_PAUSED' are mutually exclusive" \
    restore "$f" --running --paused

# ---- save-image-define ------------------------------------------------------------------
expect_ok "save" save vm "$f"
sed 's|</devices>|</devices>\n  <description>edited</description>|' "$tmp/def.xml" >"$tmp/new.xml"
size=$(stat -c %s "$f")
stream=$(tail -c +$((93 + $(u32 "$f" 20))) "$f" | sha256sum)
expect_ok "save-image-define --paused" save-image-define "$f" "$tmp/new.xml" --paused
expect_stdout "... virsh's line" "State file $f updated."$'\n'
run save-image-dumpxml "$f"
t_check "... the new XML is in the image" grep -q "<description>edited</description>" "$tmp/out"
t_check "... was_running 0, layout intact" header_ok "$f" 0 defined
t_is "... same size" "$(stat -c %s "$f")" "$size"
t_is "... the stream untouched" "$(tail -c +$((93 + $(u32 "$f" 20))) "$f" | sha256sum)" "$stream"
{ head -c 70000 /dev/zero | tr '\0' x | sed 's/^/<!--/; s/$/-->/'; } >"$tmp/pad"
sed "s|</devices>|</devices>\n$(cat "$tmp/pad")|" "$tmp/def.xml" >"$tmp/big.xml"
images="$f"
expect_error "save-image-define of an XML that does not fit" "error: Failed to update $f
error: operation failed: new xml too large to fit in file" save-image-define "$f" "$tmp/big.xml"
images=""
sed 's|<name>vm</name>|<name>other</name>|' "$tmp/def.xml" >"$tmp/other.xml"
expect_error "save-image-define of another domain" "error: Failed to update $f
error: unsupported configuration: Target domain name 'other' does not match source 'vm'" \
    save-image-define "$f" "$tmp/other.xml"
EDITOR="sed -i s/>edited</>edited-again</" run save-image-edit "$f" --running
t_is "save-image-edit (\$EDITOR)" "$rc" 0
expect_stdout "... virsh's line" "State file $f edited."$'\n'
run save-image-dumpxml "$f"
t_check "... the edit is in the image" grep -q "<description>edited-again</description>" "$tmp/out"
t_check "... and --running: was_running 1" header_ok "$f" 1 defined
EDITOR=true run save-image-edit "$f"
expect_stdout "save-image-edit without a change" "Saved image $f XML configuration not changed."$'\n'
expect_ok "restore of the edited image" restore "$f"
t_check "RAM holds A" ram_is vm A
run dumpxml vm
t_check "the persistent definition is not the image's" sh -c "! grep -q edited '$tmp/out'"
run save vm "$f" --verbose
t_check "save --verbose: virsh's progress on stderr" grep -q "Save: \[100 %\]" "$tmp/err"
sed 's|<name>vm</name>|<name>ghost</name>|; s|<uuid>.*</uuid>||' "$tmp/def.xml" >"$tmp/ghost.xml"
cp "$f" "$tmp/ghost.save"
run save-image-define "$tmp/ghost.save" "$tmp/ghost.xml"
t_is "an image of another domain cannot be made by define" "$rc" 1
expect_error "restore into a missing directory's file" "error: Failed to restore domain from $tmp/nodir/x.save
error: Failed to open file '$tmp/nodir/x.save': No such file or directory" restore "$tmp/nodir/x.save"
expect_ok "restore" restore "$f" --running

# ---- managedsave --------------------------------------------------------------------------
ram_put D
expect_ok "managedsave" managedsave vm
expect_stdout "... virsh's lines" $'\n'"Domain 'vm' state saved by libvirt"$'\n'
t_is "shut off (saved)" "$(state vm)" "shut off (saved)"
t_check "managed.save in the domain's directory: libvirt's layout" header_ok "$ms" 1
t_check "... no temporary file" no_temp "$meta/vm"
run list --all
expect_stdout "list --all: shut off" " Id   Name   State
-----------------------
 -    vm     shut off
"
run list --all --managed-save
expect_stdout "list --all --managed-save: saved" " Id   Name   State
--------------------
 -    vm     saved
"
run list --with-managed-save --name
expect_stdout "list --with-managed-save (active only): none" ""
run list --all --with-managed-save --name
expect_stdout "list --all --with-managed-save" "vm
"
run list --all --without-managed-save --name
expect_stdout "list --all --without-managed-save" ""
ram_put E
expect_ok "start resumes from the managed save" start vm
t_is "running (restored)" "$(state vm)" "running (restored)"
t_check "RAM holds D" ram_is vm D
t_check "the managed save is gone" test ! -e "$ms"
expect_ok "managedsave --paused" managedsave vm --paused
t_check "... was_running 0" header_ok "$ms" 0
expect_ok "start" start vm
t_is "paused (migrating)" "$(state vm)" "paused (migrating)"
expect_ok "resume" resume vm
expect_ok "managedsave" managedsave vm
expect_ok "start --force-boot" start vm --force-boot
t_is "running (booted)" "$(state vm)" "running (booted)"
t_check "the managed save was discarded" test ! -e "$ms"
expect_ok "managedsave" managedsave vm
expect_ok "managedsave-remove" managedsave-remove vm
expect_stdout "... virsh's line, no blank line" "Removed managedsave image for domain 'vm'"
t_check "... gone" test ! -e "$ms"
expect_ok "managedsave-remove without one" managedsave-remove vm
expect_stdout "... virsh's line" "Domain 'vm' has no manage save image; removal skipped"
expect_error "managedsave of a shut-off domain" "error: Failed to save domain 'vm' state
error: Requested operation is not valid: domain is not running" managedsave vm

# ---- interoperability: libvirt's images ---------------------------------------------------
ref=${VSNAP_REFERENCE:-}
if [ -n "$ref" ] && [ -d "$ref/virsh-live/save-images" ]; then
    for n in save-running save-paused-flag extmem-snapshot-m1; do
        run save-image-dumpxml "$ref/virsh-live/save-images/$n.header-and-xml.bin" --security-info
        { cat "$ref/virsh-live/save-images/$n.xml"; echo; } >"$tmp/want"
        t_check "libvirt's $n: save-image-dumpxml prints its XML" cmp -s "$tmp/out" "$tmp/want"
    done
    # restore reads libvirt's header and XML: what stops it is only that its
    # domain (anchor) is not defined here
    r=$ref/virsh-live/save-images/save-running.header-and-xml.bin
    expect_error "restore of libvirt's image reads its header and names its domain" \
        "error: Failed to restore domain from $r
error: Domain not found: no domain with matching name 'anchor' (vsnap restores defined domains only: 'vsnap define' its XML first)" \
        restore "$r"
else
    t_ok "# SKIP cross-check with libvirt's images: \$VSNAP_REFERENCE not set"
fi

# ---- a full disk during the copy -------------------------------------------------------------
must start vm
small=$tmp/small
mkdir -p "$small"
if mount -t tmpfs -o size=8m tmpfs "$small" 2>/dev/null; then
    trap 'umount "$small" 2>/dev/null; live_cleanup' EXIT
    meta_cold >"$tmp/cold.before"
    run save vm "$small/vm.save"
    t_check "no room for 32 MiB of RAM: refused first" \
        grep -q "^error: operation failed: not enough free space in '$small' to save" "$tmp/err"
    t_check "... nothing written" no_temp "$small"
    t_is "... the guest runs" "$(state vm | cut -d' ' -f1)" "running"
    if [ "$failpoints" = 1 ]; then
        # 16 MiB of random RAM: more than the 8 MiB there are
        dd if=/dev/urandom of="$ram" bs=1M count=16 conv=notrunc status=none
        ram_put F
        VSNAP_FAILPOINT=mem-space-unchecked run save vm "$small/vm.save"
        t_is "the copy meets the full disk: fails" "$rc" 1
        t_check "... with QEMU's reason" grep -q "No space left on device\|could not save" "$tmp/err"
        t_check "... no file left, no temporary" sh -c "[ -z \"\$(ls -A '$small')\" ]"
        t_is "... the guest runs again" "$(state vm | cut -d' ' -f1)" "running"
        t_check "... its RAM as it was" ram_is vm F
        meta_cold >"$tmp/cold.after"
        t_check "... metadata unchanged" cmp -s "$tmp/cold.before" "$tmp/cold.after"
        t_check "... no journal" test ! -e "$meta/vm/journal"
    else
        t_ok "# SKIP the copy meeting a full disk: failpoints not compiled in"
    fi
    umount "$small"
else
    t_ok "# SKIP a full disk during the copy: mount of a tmpfs not permitted"
fi

# ---- SIGKILL of vsnap and of QEMU during the copy -------------------------------------------
if [ "$failpoints" = 1 ]; then
    ram_put G
    VSNAP_FAILPOINT=mem-copy:1:kill run save vm "$f.2"
    t_is "vsnap killed during the copy" "$rc" 137
    t_check "... no image that looks complete" sh -c "[ ! -e '$f.2' ] && ! head -c 16 '$tmp/.vm.save.2.vsnap-part' 2>/dev/null | grep -q LibvirtQemudSave"
    t_check "... a journal is left" test -e "$meta/vm/journal"
    expect_ok "snapshot-check --repair" snapshot-check vm --repair
    t_check "... the temporary image is gone" no_temp "$tmp"
    t_check "... no journal" test ! -e "$meta/vm/journal"
    t_is "... the guest runs again" "$(state vm | cut -d' ' -f1)" "running"
    t_check "... its RAM as it was" ram_is vm G
    VSNAP_FAILPOINT=mem-copy:1:kill run managedsave vm
    t_is "vsnap killed during a managedsave" "$rc" 137
    expect_ok "snapshot-check --repair" snapshot-check vm --repair
    t_check "... no managed save, no temporary" sh -c "[ ! -e '$ms' ] && ! ls -a '$meta/vm' | grep -q vsnap-part"
    t_is "... the guest runs" "$(state vm | cut -d' ' -f1)" "running"

    # vsnap killed at every step boundary of save and of start from a
    # managed save: the repair leaves one of the two states, never a mix
    ram_put H
    k=1
    while :; do
        VSNAP_FAILPOINT=plan-step:$k:kill run save vm "$f.4"
        [ "$rc" = 137 ] || break
        run snapshot-check vm --repair
        st=$(state vm)
        if [ -e "$f.4" ]; then
            t_check "save killed at boundary $k, repaired: finished (shut off, a complete image)" \
                sh -c "[ '$st' = 'shut off (saved)' ] && head -c 16 '$f.4' | grep -q LibvirtQemudSave"
            run restore "$f.4"
        else
            t_check "save killed at boundary $k, repaired: rolled back (running, RAM H)" \
                sh -c "[ '${st%% *}' = running ] && [ ! -e '$meta/vm/journal' ]"
            t_check "... RAM H" ram_is vm H
        fi
        t_check "... no temporary" no_temp "$tmp"
        rm -f "$f.4"
        k=$((k + 1))
    done
    t_check "save: every boundary reached ($((k - 1)))" test "$k" -gt 3
    # (the run past the last boundary saved: back to running)
    [ -e "$f.4" ] && run restore "$f.4"
    rm -f "$f.4"
    must managedsave vm
    k=1
    while :; do
        VSNAP_FAILPOINT=plan-step:$k:kill run start vm
        [ "$rc" = 137 ] || break
        run snapshot-check vm --repair
        st=$(state vm)
        if [ -e "$ms" ]; then
            t_is "start killed at boundary $k, repaired: rolled back (shut off, the managed save kept)" \
                "${st%% (*}" "shut off"
        else
            t_is "start killed at boundary $k, repaired: finished (running)" "${st%% *}" running
            t_check "... RAM H" ram_is vm H
            must managedsave vm
        fi
        k=$((k + 1))
    done
    t_check "start: every boundary reached ($((k - 1)))" test "$k" -gt 2
    t_is "start after them: running" "$(state vm | cut -d' ' -f1)" running
    t_check "... RAM H" ram_is vm H
    t_check "... the managed save used up" test ! -e "$ms"

    pid=$(qemu_pid vm)
    VSNAP_FAILPOINT=mem-kill-qemu run save vm "$f.3"
    t_is "QEMU killed during the copy: save fails" "$rc" 1
    t_check "... QEMU is gone" gone "$pid"
    t_check "... no image, no temporary" sh -c "[ ! -e '$f.3' ] && ! ls -a '$tmp' | grep -q vsnap-part"
    t_is "... the domain is shut off" "$(state vm | cut -d' ' -f1-2)" "shut off"
    run snapshot-check vm
    t_is "... snapshot-check finds nothing to repair" "$rc" 0
    t_check "... no journal" test ! -e "$meta/vm/journal"
else
    t_ok "# SKIP SIGKILL during the copy: failpoints not compiled in (or under valgrind)"
fi

# ---- snapshot-check knows the managed save ----------------------------------------------------
run destroy vm
printf 'LibvirtQemudPart' >"$meta/vm/.managed.save.vsnap-part"
printf 'not an image at all' >"$ms"
run snapshot-check vm
t_is "snapshot-check: findings" "$rc" 1
t_check "... the partial image of an interrupted managedsave" grep -q "managed.save.vsnap-part' is the partial image" "$tmp/out" "$tmp/err"
t_check "... a managed save that cannot be used" grep -q "managed-save image '$ms' cannot be used" "$tmp/out" "$tmp/err"
run snapshot-check vm --repair
t_check "--repair removes both" sh -c "[ ! -e '$ms' ] && [ ! -e '$meta/vm/.managed.save.vsnap-part' ]"
expect_ok "then start boots" start vm
t_is "running (booted)" "$(state vm)" "running (booted)"
run destroy vm
printf 'LibvirtQemudPart and the rest' >"$ms"
expect_ok "start with an incomplete managed save: boots, as libvirt" start vm
t_is "running (booted)" "$(state vm)" "running (booted)"
t_check "... the image is removed" test ! -e "$ms"
run destroy vm
t_done
