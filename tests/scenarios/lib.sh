# Shared helpers for the snapshot scenario scripts (tests/scenarios/snapshot-*.sh,
# seed-table.sh). Source it from bash after `set -u`:
#     . "${top_srcdir:-.}/tests/scenarios/lib.sh"
# It prints TAP ("ok N - ...", "not ok N - ...", "1..N" from t_done), makes a
# scratch directory $tmp (removed on exit) with the metadata root $meta, and
# runs vsnap against that root. Every failing check prints its evidence as
# "# " lines.

: "${VSNAP:?VSNAP must name the vsnap binary}"
: "${top_srcdir:=.}"

t_n=0
t_failed=0

t_ok() { t_n=$((t_n + 1)); echo "ok $t_n - $*"; }
t_not_ok() { t_n=$((t_n + 1)); t_failed=$((t_failed + 1)); echo "not ok $t_n - $*"; }
t_diag() { sed 's/^/# /' "$@"; }
t_done() { echo "1..$t_n"; [ "$t_failed" = 0 ]; }
t_bail() { echo "Bail out! $*"; exit 1; }

# t_check DESC COMMAND...: ok when COMMAND succeeds.
t_check() {
    local desc=$1
    shift
    if "$@"; then t_ok "$desc"; else t_not_ok "$desc"; fi
}

# t_is DESC GOT WANT
t_is() {
    if [ "$2" = "$3" ]; then
        t_ok "$1"
    else
        t_not_ok "$1"
        printf '#   got:  [%s]\n#   want: [%s]\n' "$2" "$3"
    fi
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vsnap-scenario.XXXXXX") || t_bail "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
meta=$tmp/meta

# run ARGS...: vsnap on the scratch root; sets $rc, output in $tmp/out, $tmp/err.
run() {
    "$VSNAP" -d "$meta" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    rc=$?
}
out() { cat "$tmp/out"; }
err() { cat "$tmp/err"; }

# must ARGS...: run, and bail out of the whole script when it fails (setup steps).
must() {
    run "$@"
    if [ "$rc" != 0 ]; then
        echo "# vsnap $* -> $rc"
        t_diag "$tmp/err"
        t_bail "setup step failed: vsnap $*"
    fi
}

# expect_ok DESC ARGS...: the command succeeds with nothing on stderr.
expect_ok() {
    local desc=$1
    shift
    run "$@"
    if [ "$rc" = 0 ] && [ ! -s "$tmp/err" ]; then
        t_ok "$desc"
    else
        t_not_ok "$desc"
        echo "# status $rc"
        t_diag "$tmp/err"
    fi
}

# expect_stdout DESC TEXT: the last run printed exactly TEXT (plus a newline).
expect_stdout() {
    printf '%s\n' "$2" >"$tmp/want"
    if cmp -s "$tmp/out" "$tmp/want"; then
        t_ok "$1"
    else
        t_not_ok "$1"
        diff -u "$tmp/want" "$tmp/out" | t_diag
    fi
}

# The state a failed command must leave untouched: every metadata file but the
# lock and the derived index, and every file given in $images.
images=""
meta_sum() {
    [ -d "$meta" ] || return 0
    (cd "$meta" && find . -type f ! -name lock ! -name index -print0 | sort -z |
        xargs -0r sha256sum)
}
images_sum() {
    local f
    for f in $images; do
        sha256sum "$f"
    done
}
snap_state() { meta_sum; images_sum; }

# expect_error DESC LINES ARGS...: the command fails with status 1, prints
# nothing on stdout but virsh's per-command newline at most, prints exactly
# the given error lines (LINES is newline-separated, each "error: ..."; a
# line "error: *" matches any one error line), and changes neither the
# metadata nor the images.
expect_error() {
    local desc=$1 want=$2
    shift 2
    snap_state >"$tmp/before"
    run "$@"
    snap_state >"$tmp/after"
    local good=1
    [ "$rc" = 1 ] || { good=0; echo "# status $rc, expected 1"; }
    if [ -s "$tmp/out" ] && [ "$(cat "$tmp/out")" != "" ]; then
        good=0
        echo "# unexpected stdout:"
        t_diag "$tmp/out"
    fi
    if ! match_errors "$want" "$tmp/err"; then
        good=0
        echo "# stderr:"
        t_diag "$tmp/err"
        echo "# expected:"
        printf '%s\n' "$want" | t_diag
    fi
    if ! cmp -s "$tmp/before" "$tmp/after"; then
        good=0
        echo "# metadata or images changed:"
        diff -u "$tmp/before" "$tmp/after" | t_diag
    fi
    if [ "$good" = 1 ]; then t_ok "$desc"; else t_not_ok "$desc"; fi
}

# match_errors WANT FILE: FILE has exactly as many lines as WANT, equal line by
# line, "error: *" matching any line that starts with "error: ".
match_errors() {
    local want=$1 file=$2 w g
    local -a wl gl
    mapfile -t wl <<<"$want"
    mapfile -t gl <"$file"
    [ "${#wl[@]}" = "${#gl[@]}" ] || return 1
    local i
    for ((i = 0; i < ${#wl[@]}; i++)); do
        w=${wl[$i]}
        g=${gl[$i]}
        if [ "$w" = "error: *" ]; then
            case $g in "error: "?*) ;; *) return 1 ;; esac
        elif [ "$w" != "$g" ]; then
            return 1
        fi
    done
}

# expect_one_error DESC ARGS...: any single "error: ..." line (bad input whose
# exact wording belongs to another layer).
expect_one_error() {
    local desc=$1
    shift
    expect_error "$desc" "error: *" "$@"
}

# make_image PATH: a 16 MiB qcow2 image.
# failpoints_built: this build has the failure injection points
# (configure --enable-failpoints) and $VSNAP is that build, not a wrapper
failpoints_built() {
    grep -q '^#define VSNAP_FAILPOINTS 1' "${top_builddir:-.}/config.h" 2>/dev/null &&
        { [ -z "${VSNAP_REAL:-}" ] || [ "$VSNAP" = "$VSNAP_REAL" ]; }
}

# through_pty FILE ARGS...: vsnap ARGS with stdin, stdout and stderr on a pty
# (script(1)); what the terminal got goes to FILE
through_pty() {
    local file=$1 cmd=$VSNAP w
    shift
    for w in -d "$meta" "$@"; do cmd="$cmd $(printf '%q' "$w")"; done
    script -q -e -c "$cmd" "$file" >/dev/null 2>&1 </dev/null
}

make_image() {
    qemu-img create -q -f qcow2 "$1" 16M || t_bail "qemu-img create $1 failed"
}

# domain_xml NAME UUID DISK...: a domain definition on stdout; each DISK is
# TARGET:PATH[:FORMAT[:SNAPSHOT]] (FORMAT default qcow2, "-" for none;
# SNAPSHOT is the <disk snapshot=> attribute).
domain_xml() {
    local name=$1 uuid=$2 spec target path fmt snap
    shift 2
    printf "<domain type='qemu'>\n  <name>%s</name>\n  <uuid>%s</uuid>\n" "$name" "$uuid"
    printf "  <memory unit='KiB'>32768</memory>\n  <os>\n    <type arch='x86_64'>hvm</type>\n  </os>\n"
    printf "  <devices>\n"
    for spec in "$@"; do
        IFS=: read -r target path fmt snap <<<"$spec"
        printf "    <disk type='file' device='disk'%s>\n" "${snap:+ snapshot='$snap'}"
        [ "${fmt:-qcow2}" = - ] || printf "      <driver name='qemu' type='%s'/>\n" "${fmt:-qcow2}"
        printf "      <source file='%s'/>\n      <target dev='%s' bus='virtio'/>\n    </disk>\n" \
            "$path" "$target"
    done
    printf "  </devices>\n</domain>\n"
}

# define_domain NAME UUID DISK...: write and define it (bails out on failure).
define_domain() {
    domain_xml "$@" >"$tmp/$1.xml"
    must define "$tmp/$1.xml"
}

# tags IMAGE: the image's internal snapshot names, space-separated, in table order.
tags() {
    qemu-img snapshot -l "$1" | awk 'NR > 2 { printf "%s%s", sep, $2; sep = " " }'
}

# pattern_ok IMAGE BYTE: the first 64 KiB of the guest data all hold BYTE.
pattern_ok() {
    local o
    o=$(qemu-io -f qcow2 -c "read -P $2 0 64k" "$1" 2>&1) || return 1
    case $o in *"Pattern verification failed"*) return 1 ;; esac
    case $o in "read 65536/65536 bytes"*) return 0 ;; esac
    return 1
}

# write_pattern IMAGE BYTE
write_pattern() {
    qemu-io -f qcow2 -c "write -P $2 0 64k" "$1" >/dev/null || t_bail "qemu-io write on $1 failed"
}

# image_clean IMAGE: qemu-img check finds nothing wrong.
image_clean() {
    qemu-img check -q "$1" >/dev/null 2>&1
}

# net_xml NAME UUID FORMAT SOURCE: a domain of 32 MiB (no guest OS) whose vda
# is the network disk of <source> element SOURCE, in FORMAT
net_xml() {
    cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <uuid>$2</uuid>
  <memory unit='KiB'>32768</memory>
  <os>
    <type arch='x86_64'>hvm</type>
  </os>
  <devices>
    <disk type='network' device='disk'>
      <driver name='qemu' type='$3'/>
      $4
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
EOF
}

# nbd_xml NAME UUID EXPORT FORMAT: a domain whose vda is NBD export EXPORT
# (FORMAT raw or qcow2) served on the unix socket $tmp/EXPORT.sock
nbd_xml() {
    net_xml "$1" "$2" "$4" "<source protocol='nbd' name='$3'>
        <host transport='unix' socket='$tmp/$3.sock'/>
      </source>"
}
