#!/bin/sh
# Snapshots of a running domain (bench/live.c): vsnap against the same QMP
# calls made directly, in the same run. A domain of 64 MiB with two 1 GiB
# qcow2 disks, TCG, no guest OS (zero RAM), started with `vsnap start`.
# BENCH_RUNS runs.
set -eu
: "${VSNAP:?}" "${BENCH_LIVE:?}"
runs=${BENCH_RUNS:-20}
w=$(mktemp -d "${TMPDIR:-/tmp}/vsnap-bench-live.XXXXXX")
trap '"$VSNAP" -q -d "$w/meta" destroy bench >/dev/null 2>&1; rm -rf "$w"' EXIT
qemu-img create -q -f qcow2 "$w/a.qcow2" 1G
qemu-img create -q -f qcow2 "$w/b.qcow2" 1G
cat >"$w/bench.xml" <<XML
<domain type='qemu'>
  <name>bench</name>
  <memory unit='KiB'>65536</memory>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$w/a.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$w/b.qcow2'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
  </devices>
</domain>
XML
"$VSNAP" -q -d "$w/meta" define "$w/bench.xml"
"$VSNAP" -q -d "$w/meta" start bench
# the same with 40 MiB of random data loaded into guest RAM (-device loader)
# for the external memory rows, and a directory for the memory files
trap '"$VSNAP" -q -d "$w/meta" destroy bench >/dev/null 2>&1; "$VSNAP" -q -d "$w/meta" destroy benchr >/dev/null 2>&1; rm -rf "$w"' EXIT
head -c $((40 * 1024 * 1024)) /dev/urandom >"$w/ramfill.bin"
qemu-img create -q -f qcow2 "$w/ra.qcow2" 1G
qemu-img create -q -f qcow2 "$w/rb.qcow2" 1G
sed -e "s|<domain type='qemu'>|<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>|" \
    -e 's|<name>bench</name>|<name>benchr</name>|' -e "s|$w/a.qcow2|$w/ra.qcow2|" -e "s|$w/b.qcow2|$w/rb.qcow2|" \
    -e "s|</devices>|</devices><qemu:commandline><qemu:arg value='-device'/><qemu:arg value='loader,file=$w/ramfill.bin,addr=0x1000000,force-raw=on'/></qemu:commandline>|" \
    "$w/bench.xml" >"$w/benchr.xml"
"$VSNAP" -q -d "$w/meta" define "$w/benchr.xml"
"$VSNAP" -q -d "$w/meta" start benchr
mkdir -p "$w/mem"
"$BENCH_LIVE" "$VSNAP" "$w/meta" bench "$w/a.qcow2" "$w/b.qcow2" "$runs" benchr "$w/mem"
