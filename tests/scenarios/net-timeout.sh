#!/bin/bash
# A network server that accepts and never answers: every qemu-img call vsnap
# makes on an image it serves is bounded by VSNAP_NETWORK_TIMEOUT (one line
# naming the server, nothing changed). The silent server is a FAKE
# (tests/fake-qmp-peer silent: it accepts on a unix socket and never sends a
# byte, as an NBD server whose host hangs would); a real qemu-nbd serves the
# base before it goes silent, for the commit case.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
command -v qemu-nbd >/dev/null || { echo "1..0 # SKIP qemu-nbd not found (install qemu-utils)"; exit 0; }
FAKE=${top_builddir:-.}/tests/fake-qmp-peer
[ -x "$FAKE" ] || t_bail "$FAKE is not built (make check builds it)"

pids=""
net_cleanup() {
    local p
    for p in $pids; do
        { kill -9 "$p" && wait "$p"; } 2>/dev/null
    done
    rm -rf "$tmp"
}
trap net_cleanup EXIT

# silent NAME: the fake on $tmp/NAME.sock
silent() {
    rm -f "$tmp/$1.sock"
    "$FAKE" silent "$tmp/$1.sock" &
    pids="$pids $!"
    local i
    for i in $(seq 100); do [ -S "$tmp/$1.sock" ] && return 0; sleep 0.02; done
    t_bail "the fake server did not start for $1"
}
url() { echo "nbd+unix:///$1?socket=$tmp/$1.sock"; }
srv() { echo "the NBD server unix:$tmp/$1.sock"; }

# timed DESC WANT_SECONDS_AT_MOST ARGS...: run, and check it ended in time
timed() {
    local desc=$1 most=$2 t0 t1
    shift 2
    t0=$(date +%s)
    run "$@"
    t1=$(date +%s)
    t_check "$desc: it ends within $most s (took $((t1 - t0)) s)" test $((t1 - t0)) -le "$most"
}

export VSNAP_NETWORK_TIMEOUT=1

# ---- an overlay in an export that never answers (qemu-img create)
make_image "$tmp/local.qcow2"
write_pattern "$tmp/local.qcow2" 0x41
define_domain t1 11111111-2222-3333-4444-0000000000f1 "vda:$tmp/local.qcow2"
silent dead
images="$tmp/local.qcow2"
timed "an overlay in a silent export" 10 \
    snapshot-create-as t1 s1 --disk-only --diskspec "vda,stype=network,file=$(url dead)"
t_is "... fails" "$rc" 1
t_is "... with one line naming the server" "$(err)" \
    "error: operation timed out: failed to create overlay '$(url dead)' on '$tmp/local.qcow2': no answer from $(srv dead) within 1 s (qemu-img stopped; VSNAP_NETWORK_TIMEOUT sets the bound)"
t_check "... nothing changed: no snapshot" test ! -e "$meta/t1/snapshots/s1.xml"
t_check "... the disk is still the local image" sh -c "'$VSNAP' -d '$meta' domblklist t1 | grep -q 'vda *$tmp/local.qcow2\$'"
t_check "... no journal left" test ! -e "$meta/t1/journal"

# ---- a base in an export that never answers (qemu-img info)
nbd_xml t2 11111111-2222-3333-4444-0000000000f2 dead raw >"$tmp/t2.xml"
must define "$tmp/t2.xml"
timed "a local overlay over a base in a silent export" 10 \
    snapshot-create-as t2 s1 --disk-only --diskspec "vda,file=$tmp/t2-s1.qcow2"
t_is "... fails" "$rc" 1
t_check "... with one line naming the server and the bound" \
    grep -qx "error: operation timed out: .*no answer from $(srv dead) within 1 s (qemu-img stopped; VSNAP_NETWORK_TIMEOUT sets the bound)" "$tmp/err"
[ "$rc" = 1 ] || t_diag "$tmp/err"
t_is "... on one line" "$(wc -l <"$tmp/err")" 1
t_check "... nothing changed: no overlay, no snapshot" test ! -e "$tmp/t2-s1.qcow2" -a ! -e "$meta/t2/snapshots/s1.xml"

# ---- a commit into a base whose server stopped answering (qemu-img commit)
qemu-img create -q -f raw "$tmp/base.raw" 16M
qemu-io -f raw -c "write -P 0x51 0 64k" "$tmp/base.raw" >/dev/null
qemu-nbd -f raw -x live -k "$tmp/live.sock" --persistent --shared=8 -t "$tmp/base.raw" &
nbd_pid=$!
pids="$pids $nbd_pid"
for i in $(seq 100); do [ -S "$tmp/live.sock" ] && break; sleep 0.02; done
nbd_xml t3 11111111-2222-3333-4444-0000000000f3 live raw >"$tmp/t3.xml"
must define "$tmp/t3.xml"
expect_ok "a local overlay over a base in a live export" \
    snapshot-create-as t3 s1 --disk-only --diskspec "vda,file=$tmp/t3-s1.qcow2"
write_pattern "$tmp/t3-s1.qcow2" 0x52
kill "$nbd_pid"; wait "$nbd_pid" 2>/dev/null
silent live
sum=$(sha256sum <"$tmp/t3-s1.qcow2")
timed "deleting the snapshot (a commit into the export, now silent)" 10 snapshot-delete t3 s1
t_is "... fails" "$rc" 1
t_check "... naming the server" grep -q "no answer from $(srv live) within 1 s" "$tmp/err"
[ "$rc" = 1 ] || t_diag "$tmp/err"
t_check "... the overlay is untouched" test "$(sha256sum <"$tmp/t3-s1.qcow2")" = "$sum"
t_check "... the snapshot is still there" test -e "$meta/t3/snapshots/s1.xml"
t_check "... the base is untouched" sh -c "qemu-io -r -f raw -c 'read -P 0x51 0 64k' '$tmp/base.raw' | grep -q '^read 65536/65536'"

# ---- the variable
VSNAP_NETWORK_TIMEOUT=soon run snapshot-create-as t1 s1 --disk-only --diskspec "vda,stype=network,file=$(url dead)"
t_is "a VSNAP_NETWORK_TIMEOUT that is no number of seconds is refused" "$(err)" \
    "error: invalid argument: VSNAP_NETWORK_TIMEOUT must be a number of seconds from 0 to 86400, not 'soon'"
t_done
