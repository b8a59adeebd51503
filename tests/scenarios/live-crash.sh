#!/bin/bash
# Crashes during live snapshot operations, against a real qemu-system-x86_64
# (TCG, 32 MiB, no guest OS). vsnap is killed with SIGKILL at every step
# boundary (the failpoint plan-step) of an internal snapshot's create,
# revert and delete and of an external disk-only snapshot's create and
# delete while the domain runs; and QEMU is killed (the failpoint
# qemu-kill: vsnap kills it with SIGKILL) while a snapshot-save job runs,
# around the transaction that moves the disks onto their overlays, and while
# block-commit runs. After each, `snapshot-check --repair` must leave no
# journal, metadata and images that agree, and the guest running (with
# either the state before or the one after, never a mix: guest RAM and disk
# patterns are read back) or shut off, never paused; after QEMU died, the
# images hold every byte the guest wrote.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
if ! grep -q '^#define VSNAP_FAILPOINTS 1' "${top_builddir:-.}/config.h" 2>/dev/null; then
    echo "1..0 # SKIP failpoints are not compiled in (configure --enable-failpoints)"
    exit 0
fi
if [ -n "${VSNAP_REAL:-}" ] && [ "$VSNAP" != "$VSNAP_REAL" ]; then
    echo "1..0 # SKIP not under a wrapper such as valgrind (make check-valgrind)"
    exit 0
fi
. "${top_srcdir:-.}/tests/scenarios/live-lib.sh"

a=$tmp/a.qcow2
b=$tmp/b.qcow2
make_image "$a"
make_image "$b"
live_define vm 8e9f0a1b-2c3d-4e5f-8a6b-7c8d9e0f1a2b "vda:$a" "vdb:$b"
must start vm
vm_write vm vda "0x11"
vm_write vm vdb "0x21"
ram_put A
must snapshot-create-as vm s0
vm_write vm vda "0x12"
vm_write vm vdb "0x22"
ram_put B

# ---- an internal snapshot ------------------------------------------------------------
prep_create() { has_snap c1 && must snapshot-delete vm c1; true; }
check_create() {
    vm_holds vm vda "0x12" && ram_is vm B || return 1
    if has_snap c1; then
        case " $(tags_u "$a") $(tags_u "$b") " in *" c1 "*" c1 "*) echo taken ;; *) return 1 ;; esac
    else
        case " $(tags_u "$a") $(tags_u "$b") " in *" c1 "*) return 1 ;; *) echo none ;; esac
    fi
}
crash_each "create (internal, running)" prep_create check_create snapshot-create-as vm c1

prep_revert() { vm_write vm vda "0x12"; vm_write vm vdb "0x22"; ram_put B; }
check_revert() {
    if ram_is vm A; then
        vm_holds vm vda "0x11" && vm_holds vm vdb "0x21" && echo reverted
    else
        ram_is vm B && vm_holds vm vda "0x12" && vm_holds vm vdb "0x22" && echo as-before
    fi
}
crash_each "revert (internal, in the running QEMU)" prep_revert check_revert snapshot-revert vm s0
prep_revert

prep_delete() { has_snap c1 || must snapshot-create-as vm c1; }
check_delete() {
    if has_snap c1; then
        case " $(tags_u "$a") $(tags_u "$b") " in *" c1 "*" c1 "*) echo kept ;; *) return 1 ;; esac
    else
        case " $(tags_u "$a") $(tags_u "$b") " in *" c1 "*) return 1 ;; *) echo deleted ;; esac
    fi
}
crash_each "delete (internal, running)" prep_delete check_delete snapshot-delete vm c1

# ---- an external disk-only snapshot -------------------------------------------------------
prep_ecreate() { has_snap e1 && must snapshot-delete vm e1; true; }
check_ecreate() {
    vm_holds vm vda "0x12" && vm_holds vm vdb "0x22" || return 1
    if has_snap e1; then
        [ "$(active vda) $(active vdb)" = "$tmp/a.e1 $tmp/b.e1" ] && echo taken
    else
        [ "$(active vda) $(active vdb)" = "$a $b" ] && [ ! -e "$tmp/a.e1" ] && [ ! -e "$tmp/b.e1" ] &&
            echo none
    fi
}
crash_each "create (external disk-only, running)" prep_ecreate check_ecreate snapshot-create-as vm e1 --disk-only

prep_edelete() {
    if ! has_snap e1; then
        must snapshot-create-as vm e1 --disk-only
    fi
    vm_write vm vda "- 0x13"
    vm_write vm vdb "- 0x23"
}
check_edelete() {
    vm_holds vm vda "0x12 0x13" && vm_holds vm vdb "0x22 0x23" || return 1
    if has_snap e1; then
        [ "$(active vda) $(active vdb)" = "$tmp/a.e1 $tmp/b.e1" ] && echo kept
    else
        [ "$(active vda) $(active vdb)" = "$a $b" ] && [ ! -e "$tmp/a.e1" ] && echo merged
    fi
}
crash_each "delete (external, the active layer committed)" prep_edelete check_edelete snapshot-delete vm e1
t_check "the guest ran through all of it" test "$(state vm | cut -d' ' -f1)" = running

# ---- QEMU killed in the middle --------------------------------------------------------------
# the images must then hold what the guest wrote: read them directly
holds_img() {
    local i=0 x o
    for x in $2; do
        if [ "$x" != - ]; then
            o=$(qemu-io -r -f qcow2 -c "read -P $x $((i * 65536)) 64k" "$1" 2>&1) || return 1
            case $o in *"failed"*) return 1 ;; esac
        fi
        i=$((i + 1))
    done
}
restart() {
    run domstate vm
    case $(out) in "shut off"*) must start vm ;; esac
}

has_snap e1 && must snapshot-delete vm e1
VSNAP_FAILPOINT=qemu-kill:1 run snapshot-create-as vm c2
t_is "QEMU killed while snapshot-save runs: the create fails" "$rc" 1
expect_ok "... snapshot-check --repair" snapshot-check vm --repair
t_check "... metadata and images agree, the domain is shut off" after "snapshot-save"
t_is "... shut off (crashed)" "$(state vm)" "shut off (crashed)"
t_check "... no snapshot c2" sh -c "! test -e '$meta/vm/snapshots/c2.xml'"
case " $(tags_u "$a") $(tags_u "$b") " in *" c2 "*) t_not_ok "... and no internal snapshot c2" ;; *) t_ok "... and no internal snapshot c2" ;; esac
t_check "... the disks hold what the guest wrote" sh -c "$(declare -f holds_img); holds_img '$a' '0x12 0x13' && holds_img '$b' '0x22 0x23'"

restart
VSNAP_FAILPOINT=qemu-kill:1 run snapshot-create-as vm e2 --disk-only
t_is "QEMU killed as the transaction is sent: the create fails" "$rc" 1
run snapshot-check vm --repair
t_check "... metadata and images agree, the domain is shut off" after "transaction sent"
t_check "... no snapshot e2, no overlay left" sh -c "! test -e '$meta/vm/snapshots/e2.xml' && ! test -e '$tmp/a.e2' && ! test -e '$tmp/b.e2'"
t_check "... the disks hold what the guest wrote" sh -c "$(declare -f holds_img); holds_img '$a' '0x12 0x13' && holds_img '$b' '0x22 0x23'"

restart
vm_write vm vda "- - 0x14"
VSNAP_FAILPOINT=qemu-kill:2 run snapshot-create-as vm e3 --disk-only
run snapshot-check vm --repair
t_check "QEMU killed after the transaction: metadata and images agree" after "transaction done"
if has_snap e3; then
    run domblklist vm
    t_check "... the snapshot stands, the domain on its overlays" grep -q "vda *$tmp/a.e3\$" "$tmp/out"
    t_check "... the overlay and the image hold what the guest wrote" sh -c "$(declare -f holds_img); holds_img '$tmp/a.e3' '0x12 0x13 0x14'"
else
    t_check "... rolled back: no overlay left" sh -c "! test -e '$tmp/a.e3'"
    t_check "... the image holds what the guest wrote" sh -c "$(declare -f holds_img); holds_img '$a' '0x12 0x13 0x14'"
fi

restart
has_snap e3 || must snapshot-create-as vm e3 --disk-only
vm_write vm vda "- - - 0x15"
VSNAP_FAILPOINT=qemu-kill:1 run snapshot-delete vm e3
t_is "QEMU killed while block-commit runs: the delete stops" "$rc" 1
expect_ok "... snapshot-check --repair finishes it with qemu-img" snapshot-check vm --repair
t_check "... metadata and images agree" after "block-commit"
t_check "... e3 is gone, its overlays merged" sh -c "! test -e '$meta/vm/snapshots/e3.xml' && ! test -e '$tmp/a.e3' && ! test -e '$tmp/b.e3'"
run domblklist vm
t_check "... the domain is on its images" grep -q "vda *$a\$" "$tmp/out"
t_check "... which hold every byte the guest wrote" sh -c "$(declare -f holds_img); holds_img '$a' '0x12 0x13 0x14 0x15' && holds_img '$b' '0x22 0x23'"
t_check "... and are clean" sh -c "qemu-img check -q '$a' && qemu-img check -q '$b'"
restart
expect_ok "s0 still reverts" snapshot-revert vm s0
s0_back() { ram_is vm A && vm_holds vm vda 0x11; }
t_check "... to its memory and disks" s0_back
t_done
