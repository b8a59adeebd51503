#!/bin/bash
# QA: the metadata store at its limits. A 255-byte domain name must be
# undefinable; a snapshot whose metadata would exceed what vsnap reads back
# must be refused (not created unreadable); a snapshot file no listing shows
# must not make create claim the name exists; an undefine that cannot remove
# the directory must leave the domain as it was.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"

img=$tmp/a.qcow2
make_image "$img"

# 1. the longest domain name: define, snapshot, undefine
long=$(printf 'd%.0s' $(seq 255))
domain_xml "$long" 6f1c2c6e-0000-4000-8000-000000000001 "vda:$img" >"$tmp/long.xml"
must define "$tmp/long.xml"
must snapshot-create-as "$long" s1
expect_ok "undefine a domain with a 255-byte name" undefine "$long" --snapshots-metadata
t_is "its directory is gone, no leftover" "$(ls -A "$meta")" ""

# 2. metadata that would exceed the 10 MiB read cap
define_domain big 6f1c2c6e-0000-4000-8000-000000000002 "vda:$img"
must snapshot-create-as big base
# '>' is one byte in the input and four ('&gt;') in the stored file.
{
    printf '<domainsnapshot><name>huge</name><description>'
    head -c $((3 * 1024 * 1024)) /dev/zero | tr '\0' '>'
    printf '</description></domainsnapshot>'
} >"$tmp/huge.xml"
tags_before=$(tags "$img")
expect_one_error "metadata larger than the read cap is refused" snapshot-create big "$tmp/huge.xml"
t_is "the image holds no 'huge' snapshot" "$(tags "$img")" "$tags_before"
run snapshot-list big --name
t_is "listing unchanged" "$(out)" "base"
run snapshot-current big --name
t_is "current unchanged" "$(out)" "base"

# 3. a snapshot file that no listing shows does not block its name
echo 'not xml' >"$meta/big/snapshots/junk.xml"
run -q snapshot-info big junk
t_is "an unparseable snapshot file is not a snapshot" "$rc" 1
expect_ok "creating that name succeeds, as libvirt would" snapshot-create-as big junk
run -q snapshot-list big --name
t_is "and it is listed" "$(out | tr '\n' ' ')" "base junk "

# 4. undefine that cannot remove the directory changes nothing (needs a
# user that permissions apply to: not root; as root, run as nobody)
as_user=()
if [ "$(id -u)" = 0 ]; then
    if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
        as_user=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups)
    fi
fi
if [ "$(id -u)" = 0 ] && { [ ${#as_user[@]} = 0 ] || ! "${as_user[@]}" test -x "$VSNAP"; }; then
    t_ok "# SKIP undefine without permission: no unprivileged user can run $VSNAP"
    t_ok "# SKIP"
else
    u=$tmp/u
    mkdir "$u"
    cp "$img" "$u/u.qcow2"
    domain_xml perm 6f1c2c6e-0000-4000-8000-000000000003 "vda:$u/u.qcow2" >"$u/perm.xml"
    [ ${#as_user[@]} = 0 ] || chown -R nobody "$u"
    chmod 755 "$tmp"
    uv() { "${as_user[@]}" "$VSNAP" -d "$u/meta" "$@" </dev/null; }
    uv -q define "$u/perm.xml" && uv -q snapshot-create-as perm p1 || t_bail "setup as user failed"
    chmod 500 "$u/meta/perm"
    uv undefine perm --snapshots-metadata >"$tmp/out" 2>"$tmp/err"
    rc=$?
    chmod 700 "$u/meta/perm"
    if [ "$rc" = 1 ] && grep -q '^error: ' "$tmp/err"; then t_ok "undefine without permission fails"; else
        t_not_ok "undefine without permission fails"; echo "# rc=$rc"; t_diag "$tmp/err"; fi
    t_is "the domain and its snapshot are still there" "$(uv -q snapshot-list perm --name 2>&1)" "p1"
fi

t_done
