#!/bin/sh
# Installs every Debian package vsnap needs to build, run and test.
# Idempotent: packages already present are skipped by apt-get.
set -eu
PKGS="gcc make autoconf automake libtool pkg-config libxml2-dev libxml2-utils \
libpopt-dev libreadline-dev libjson-c-dev qemu-utils qemu-system-x86 \
valgrind tmux bash-completion hyperfine time ca-certificates \
libvirt0 groff-base glusterfs-server qemu-block-extra"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: need root to install:$missing" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing
fi
