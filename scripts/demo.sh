#!/usr/bin/env bash
# Install what vsnap needs, build it, and show it at work on a throw-away VM.
#
#   sudo ./scripts/demo.sh            install packages, build in the source tree, run the demo
#   ./scripts/demo.sh --no-build      run the demo with the vsnap already built here
#   VSNAP=/path/to/vsnap ./scripts/demo.sh
#                                     run the demo with that binary (no install, no build)
#   --keep                            leave the scratch directory behind and print its path
#
# The demo never touches anything outside its scratch directory: the images,
# the domain XML and vsnap's metadata (-d DIR) all live there.
set -euo pipefail

usage() {
    sed -n '2,8s/^# \{0,1\}//p' "$0"
}

build=yes
keep=no
for arg in "$@"; do
    case $arg in
    --no-build) build=no ;;
    --keep) keep=yes ;;
    VSNAP=*) VSNAP=${arg#VSNAP=} ;;
    -h | --help) usage; exit 0 ;;
    *) echo "demo.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ -n "${VSNAP:-}" ]; then
    build=no
fi

if [ "$build" = yes ]; then
    echo "== installing dependencies"
    if [ "$(id -u)" -eq 0 ]; then
        sh "$top/scripts/install-deps.sh"
    else
        # Without root, carry on if everything is already there; install-deps
        # says which packages are missing otherwise.
        sh "$top/scripts/install-deps.sh" || {
            echo "demo.sh: run it as root (sudo ./scripts/demo.sh) to install them" >&2
            exit 1
        }
    fi
    echo "== building vsnap"
    cd "$top"
    # Each step only when its output is missing, so a second run goes straight to make.
    if [ ! -x configure ] || [ ! -f build-aux/tap-driver.sh ]; then
        mkdir -p m4
        autoreconf -fi
    fi
    [ -f Makefile ] || ./configure --quiet
    make -j2 --no-print-directory
    VSNAP=$top/vsnap
elif [ -z "${VSNAP:-}" ]; then
    VSNAP=$top/vsnap
fi

# The demo runs inside its scratch directory, so a relative path must be made absolute.
case $VSNAP in
/*) ;;
*/*) VSNAP=$PWD/$VSNAP ;;
*) VSNAP=$(command -v "$VSNAP" || echo "$VSNAP") ;;
esac
if [ ! -x "$VSNAP" ]; then
    echo "demo.sh: no vsnap binary at $VSNAP (build it, or run without --no-build)" >&2
    exit 1
fi
command -v qemu-img >/dev/null || {
    echo "demo.sh: qemu-img not found (apt-get install qemu-utils)" >&2
    exit 1
}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/vsnap-demo.XXXXXX")
cleanup() {
    if [ "$keep" = yes ]; then
        echo "(scratch directory kept: $scratch)"
    else
        rm -rf "$scratch"
    fi
}
trap cleanup EXIT

# Quote a word for display only when it needs it, so the echoed commands can be pasted back.
show_word() {
    case $1 in
    '' | *[!A-Za-z0-9_./=:@%+,-]*) printf "'%s'" "${1//\'/\'\\\'\'}" ;;
    *) printf '%s' "$1" ;;
    esac
}

# Echo a command as a user would type it, then run it ("vsnap" is the binary under test).
run() {
    local w
    printf '\n$'
    for w in "$@"; do
        printf ' '
        show_word "$w"
    done
    printf '\n'
    if [ "$1" = vsnap ]; then
        shift
        "$VSNAP" "$@"
    else
        "$@"
    fi
}

meta=$scratch/meta
cd "$scratch"

echo "== demo in $scratch"
run qemu-img create -q -f qcow2 "$scratch/system.qcow2" 64M
run qemu-img create -q -f qcow2 "$scratch/data.qcow2" 32M

cat >"$scratch/demo.xml" <<EOF
<domain type='qemu'>
  <name>demo</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$scratch/system.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$scratch/data.qcow2'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
  </devices>
</domain>
EOF
printf '\n(wrote %s: domain "demo", disks vda and vdb)\n' "$scratch/demo.xml"

run vsnap -d "$meta" define "$scratch/demo.xml"
run vsnap -d "$meta" list --all
run vsnap -d "$meta" domblklist demo --details

run vsnap -d "$meta" snapshot-create-as demo installed --description "fresh install"
run vsnap -d "$meta" snapshot-create-as demo configured --description "packages configured"
run vsnap -d "$meta" snapshot-create-as demo upgrade-1 --description "before the 1.0 upgrade"
run vsnap -d "$meta" snapshot-create-as demo upgrade-2 --description "before the 2.0 upgrade"
# Going back to an earlier snapshot and taking new ones makes a second branch.
run vsnap -d "$meta" snapshot-revert demo configured
run vsnap -d "$meta" snapshot-create-as demo experiment --description "trying another setup"
run vsnap -d "$meta" snapshot-create-as demo experiment-2 --description "second try"

run vsnap -d "$meta" snapshot-list demo --tree
run vsnap -d "$meta" snapshot-list demo
run vsnap -d "$meta" snapshot-list demo --parent
run vsnap -d "$meta" snapshot-info demo --current
run vsnap -d "$meta" -q snapshot-parent demo experiment
echo
run qemu-img snapshot -l "$scratch/system.qcow2"

if [ "$keep" = yes ]; then
    printf '\n== done: the snapshots are inside the qcow2 images, their metadata in %s\n' "$meta"
else
    printf '\n== done: the snapshots are inside the qcow2 images, their metadata under -d DIR (--keep keeps both)\n'
fi
