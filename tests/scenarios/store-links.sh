#!/bin/bash
# The store never follows a planted link (issue 8): every file and directory
# of a domain's layout, a snapshot file and the domain directory itself, each
# replaced by a symbolic link to something outside the store, for every
# command that reads, writes, locks or removes it. Each must fail with error
# lines only, one of them naming the link, exit 1, and leave the link's
# target, the store and the image as they were. Also: `list --all` leaves a
# linked domain out with one warning; `-d` / $VSNAP_DIR naming a directory
# that does not exist (or a file) is an error for every command but define;
# the default root may be absent; siblings created in one second list in
# creation order in every fresh store.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"

img=$tmp/vm.qcow2
make_image "$img"
images=$img
out_dir=$tmp/outside
mkdir "$out_dir"

define_domain vm 6f1c2c6e-0000-4000-8000-0000000000a1 "vda:$img"
must snapshot-create-as vm s1
must snapshot-create-as vm s2
must snapshot-current vm s1
must snapshot-list vm      # writes the index
printf '/nonexistent/vm.old\n' >"$meta/vm/overlays"

# fingerprint PATH: content and inode data of PATH (a file or a directory
# tree), without following a link at PATH itself.
fingerprint() {
    if [ -d "$1" ] && [ ! -L "$1" ]; then
        (cd "$1" && find . -print0 | sort -z | xargs -0r stat -c '%n %i %s %Y %a' &&
            find . -type f -print0 | sort -z | xargs -0r sha256sum)
    elif [ -e "$1" ]; then
        stat -c '%i %s %Y %a' "$1"
        sha256sum <"$1"
    else
        echo missing
    fi
}

# link_errors DESC LINK ARGS...: run; status 1, only error lines on stderr (at
# most two for define and undefine: virsh's "Failed to define domain" or
# "Failed to undefine domain" header when the operation itself refuses, and
# the reason; one for every other command), one of them the link message for LINK; stdout at most virsh's
# empty line; store, image and the link's target unchanged.
link_errors() {
    local desc=$1 link=$2 target
    shift 2
    target=$(readlink "$link")
    fingerprint "$target" >"$tmp/t_before"
    snap_state >"$tmp/before"
    tags "$img" >"$tmp/tags_before"
    run "$@"
    fingerprint "$target" >"$tmp/t_after"
    snap_state >"$tmp/after"
    tags "$img" >"$tmp/tags_after"
    local good=1 want="error: '$link' is a symbolic link; vsnap does not follow links inside its metadata directory"
    [ "$rc" = 1 ] || { good=0; echo "# status $rc, expected 1"; }
    if [ -s "$tmp/out" ] && [ "$(cat "$tmp/out")" != "" ]; then
        good=0
        echo "# unexpected stdout:"
        t_diag "$tmp/out"
    fi
    if grep -qv '^error: ' "$tmp/err" || [ "$(wc -l <"$tmp/err")" -gt 2 ] ||
        ! grep -qxF "$want" "$tmp/err"; then
        good=0
        echo "# stderr (wanted: $want):"
        t_diag "$tmp/err"
    fi
    if [ "$(wc -l <"$tmp/err")" = 2 ]; then
        case $1:$(head -1 "$tmp/err") in
        "define:error: Failed to define domain from $2" | "undefine:error: Failed to undefine domain '$2'") ;;
        *) good=0; echo "# two error lines from $1" ;;
        esac
    fi
    if ! cmp -s "$tmp/t_before" "$tmp/t_after"; then
        good=0
        echo "# the link's target changed:"
        diff -u "$tmp/t_before" "$tmp/t_after" | t_diag
    fi
    if ! cmp -s "$tmp/before" "$tmp/after" || ! cmp -s "$tmp/tags_before" "$tmp/tags_after"; then
        good=0
        echo "# the store or the image changed:"
        diff -u "$tmp/before" "$tmp/after" | t_diag
    fi
    [ -L "$link" ] || { good=0; echo "# the link itself is gone"; }
    if [ "$good" = 1 ]; then t_ok "$desc"; else t_not_ok "$desc"; fi
}

# The commands that read, write, lock or remove something of the domain.
commands=(
    "snapshot-list vm"
    "snapshot-info vm s1"
    "snapshot-current vm --name"
    "snapshot-create-as vm s3"
    "snapshot-delete vm s1"
    "undefine vm --snapshots-metadata"
    "dumpxml vm"
    "define $tmp/vm.xml"
    "domstate vm"
    "start vm"
)

# 1. every entry of the layout replaced by a link
for entry in domain.xml snapshots current index lock journal overlays managed.save autostart run; do
    e=$meta/vm/$entry
    aside=$tmp/aside.$entry
    [ -e "$e" ] && mv "$e" "$aside"
    if [ "$entry" = snapshots ]; then
        mkdir "$out_dir/$entry"
        cp "$aside/s2.xml" "$out_dir/$entry/s2.xml"
    elif [ "$entry" = run ]; then
        # what a running domain's run/ holds
        mkdir "$out_dir/$entry"
        echo "running booted $$" >"$out_dir/$entry/state"
        echo "$$" >"$out_dir/$entry/pid"
    elif [ "$entry" = domain.xml ]; then
        cp "$aside" "$out_dir/$entry"
    else
        echo "outside $entry" >"$out_dir/$entry"
    fi
    ln -s "$out_dir/$entry" "$e"
    for c in "${commands[@]}"; do
        # shellcheck disable=SC2086
        link_errors "$entry is a link: $c" "$e" $c
    done
    rm "$e"
    rm -rf "${out_dir:?}/$entry"
    [ -e "$aside" ] && mv "$aside" "$e"
done
expect_ok "with the links gone, the domain works again" snapshot-list vm

# 1b. files inside a real run/ replaced by links: never read, written or
# removed through; the domain is shut off as far as vsnap can tell
mkdir -m 0700 "$meta/vm/run"
for f in state pid domain.xml monitor.sock; do
    echo "outside run/$f" >"$out_dir/run-$f"
    ln -s "$out_dir/run-$f" "$meta/vm/run/$f"
done
before=$(cd "$out_dir" && cat run-*)
run domstate vm
t_is "run/ holds links: domstate says shut off" "$(out)" "shut off"
run list --all
t_is "run/ holds links: list --all shows it shut off" "$(out | awk '$2 == "vm" {print $3, $4}')" "shut off"
t_is "run/ holds links: their targets are untouched" "$(cd "$out_dir" && cat run-*)" "$before"
t_is "... and still there" "$(ls "$out_dir" | grep -c '^run-')" 4
rm -rf "$meta/vm/run" "$out_dir"/run-*

# 2. a snapshot file replaced by a link
cp "$meta/vm/snapshots/s2.xml" "$out_dir/s2.xml"
mv "$meta/vm/snapshots/s2.xml" "$tmp/s2.aside"
ln -s "$out_dir/s2.xml" "$meta/vm/snapshots/s2.xml"
link_errors "snapshots/s2.xml is a link: snapshot-info" "$meta/vm/snapshots/s2.xml" snapshot-info vm s2
link_errors "snapshots/s2.xml is a link: snapshot-dumpxml" "$meta/vm/snapshots/s2.xml" snapshot-dumpxml vm s2
link_errors "snapshots/s2.xml is a link: snapshot-delete" "$meta/vm/snapshots/s2.xml" snapshot-delete vm s2
link_errors "snapshots/s2.xml is a link: undefine" "$meta/vm/snapshots/s2.xml" undefine vm --snapshots-metadata
run -q snapshot-list vm --name
t_is "snapshots/s2.xml is a link: the listing leaves it out" "$(out)" "s1"
rm "$meta/vm/snapshots/s2.xml"
mv "$tmp/s2.aside" "$meta/vm/snapshots/s2.xml"

# 3. the domain directory itself is a link (to a copy of a real one)
cp -a "$meta/vm" "$out_dir/evil"
rm -f "$out_dir/evil/lock"
ln -s "$out_dir/evil" "$meta/evil"
sed 's/<name>vm</<name>evil</; s/0000000000a1/0000000000a2/' "$tmp/vm.xml" >"$tmp/evil.xml"
for c in "snapshot-list evil" "snapshot-create-as evil s3" "snapshot-delete evil s1" \
    "snapshot-current evil --name" "dumpxml evil" "undefine evil --snapshots-metadata" \
    "define $tmp/evil.xml"; do
    # shellcheck disable=SC2086
    link_errors "the domain directory is a link: $c" "$meta/evil" $c
done
t_is "... and no lock was taken there" "$(ls "$out_dir/evil")" "$(ls "$meta/vm" | grep -v lock)"
run list --all
t_is "list --all: the linked domain is left out" "$(out)" \
    "$(printf ' Id   Name   State\n-----------------------\n -    vm     shut off\n')"
t_is "... with one warning naming it" "$(err)" \
    "warning: '$meta/evil' is a symbolic link; vsnap does not follow links inside its metadata directory; not listed"
t_is "... and status 0" "$rc" 0
rm "$meta/evil"

# 4. -d and $VSNAP_DIR that do not exist, or name a file
vs() { "$VSNAP" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null; rc=$?; }
for c in "list --all" "snapshot-list vm" "dumpxml vm" "undefine vm" "domstate vm"; do
    # shellcheck disable=SC2086
    vs -d "$tmp/typo" $c
    t_is "-d that does not exist: $c fails" "$rc:$(err)" \
        "1:error: metadata directory '$tmp/typo' does not exist; only define creates it"
done
[ -e "$tmp/typo" ] && t_not_ok "... and nothing was created" || t_ok "... and nothing was created"
VSNAP_DIR=$tmp/typo vs list --all
t_is "\$VSNAP_DIR that does not exist: an error too" "$rc:$(err)" \
    "1:error: metadata directory '$tmp/typo' does not exist; only define creates it"
vs -d "$img" list --all
t_is "-d naming a file says so" "$rc:$(err)" "1:error: metadata directory '$img' is not a directory"
vs -d "$tmp/typo" help help
t_is "help needs no metadata directory" "$rc" 0
vs -d "$tmp/new" "define $tmp/vm.xml; list --all --name"
t_is "define creates the directory, the next command sees it" "$rc:$(out)" \
    "0:$(printf "Domain 'vm' defined from %s\n\nvm\n" "$tmp/vm.xml")"
t_is "... mode 0700" "$(stat -c %a "$tmp/new")" 700
ln -s "$meta" "$tmp/metalink"
vs -d "$tmp/metalink" -q snapshot-list vm --name
t_is "the top directory itself may be a link (the admin's choice): it is followed" "$rc:$(out)" "0:s1
s2"
VSNAP_DIR=$tmp/metalink vs -q snapshot-current vm --name
t_is "... through \$VSNAP_DIR too" "$rc:$(out)" "0:s1"
mkdir "$tmp/home"
(unset VSNAP_DIR XDG_DATA_HOME; HOME=$tmp/home "$VSNAP" list --all >"$tmp/out" 2>"$tmp/err" </dev/null; echo $? >"$tmp/rc")
t_is "the default root absent (a new user): list --all prints an empty table" \
    "$(cat "$tmp/rc"):$(out):$(err)" "0:$(printf ' Id   Name   State\n--------------------\n'):"
t_is "... and creates nothing" "$(ls -A "$tmp/home")" ""

# 5. siblings created in one command string list in creation order, the same
# in every fresh store (virsh: newest first), not by name
want="root
beta
mid
alpha
zeta"
good=1
for k in 1 2 3 4 5; do
    m=$tmp/order$k
    make_image "$tmp/order$k.qcow2"
    sed "s|$img|$tmp/order$k.qcow2|" "$tmp/vm.xml" >"$tmp/order$k.xml"
    "$VSNAP" -q -d "$m" "define $tmp/order$k.xml; snapshot-create-as vm root; \
        snapshot-create-as vm zeta; snapshot-current vm root; snapshot-create-as vm alpha; \
        snapshot-current vm root; snapshot-create-as vm mid; snapshot-current vm root; \
        snapshot-create-as vm beta" >/dev/null 2>"$tmp/err" </dev/null || { good=0; t_diag "$tmp/err"; }
    got=$("$VSNAP" -q -d "$m" snapshot-list vm --topological --name 2>&1)
    if [ "$got" != "$want" ]; then
        good=0
        printf '#   store %s: got [%s]\n' "$k" "$(echo $got)"
    fi
done
if [ "$good" = 1 ]; then t_ok "five fresh stores: siblings in creation order, newest first"; else
    t_not_ok "five fresh stores: siblings in creation order, newest first"; fi
"$VSNAP" -q -d "$tmp/order1" "snapshot-create-as vm p1; snapshot-dumpxml vm p1" >"$tmp/out" 2>&1
if grep -q vsnap-seq "$tmp/out" || ! head -1 "$tmp/out" | grep -q '^<domainsnapshot>$'; then
    t_not_ok "snapshot-dumpxml never shows the sequence number"
    t_diag "$tmp/out"
else
    t_ok "snapshot-dumpxml never shows the sequence number"
fi
if head -1 "$tmp/order1/vm/snapshots/p1.xml" | grep -qx '<?vsnap-seq [0-9]*?>'; then
    t_ok "... the store file records it"
else
    t_not_ok "... the store file records it"
fi

t_done
