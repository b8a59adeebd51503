#!/bin/bash
# QA: a snapshot-delete that cannot change the metadata must not change the
# images either. With snapshots/ unwritable, vsnap used to run `qemu-img snapshot -d`
# on every image first and only then fail to remove the metadata file: the
# command reported an error but the internal snapshot was gone from the images.
# lib/snapshot_delete.c now checks that the metadata can be changed before
# any image is touched.
# Permissions do not apply to root: as root the test runs vsnap as nobody.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"

as_user=()
if [ "$(id -u)" = 0 ]; then
    if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1 &&
        setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups test -x "$VSNAP"; then
        as_user=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups)
    else
        echo "1..0 # SKIP no unprivileged user can run $VSNAP"
        exit 0
    fi
fi
chmod 755 "$tmp"
u=$tmp/u
mkdir "$u"
img=$u/a.qcow2
make_image "$img"
domain_xml dom 6f1c2c6e-0000-4000-8000-0000000000c1 "vda:$img" >"$u/dom.xml"
[ ${#as_user[@]} = 0 ] || chown -R nobody "$u"
uv() { "${as_user[@]}" "$VSNAP" -d "$u/meta" "$@" </dev/null; }
uv -q define "$u/dom.xml" && uv -q snapshot-create-as dom s1 && uv -q snapshot-create-as dom s2 ||
    t_bail "setup failed"

chmod 500 "$u/meta/dom/snapshots"
uv snapshot-delete dom s2 >"$tmp/out" 2>"$tmp/err"
rc=$?
chmod 700 "$u/meta/dom/snapshots"
t_is "delete without permission fails" "$rc" 1
t_is "the images still hold both snapshots" "$(tags "$img")" "s1 s2"
t_is "the metadata still lists both" "$(uv -q snapshot-list dom --name | tr '\n' ' ')" "s1 s2 "

t_done
