# The GlusterFS tier (make check-gluster): a real one-brick volume that the
# test starts and stops itself. Source after lib.sh (and live-lib.sh when the
# test runs QEMU):
#     gluster_start VOLUME   glusterd, the volume, its brick process and a
#                            keepalive client; $gl_host, $gl_brick set
#     gl_url PATH            gluster://HOST:24007/VOLUME/PATH
#     gl_file PATH           the brick's file behind PATH (the test reads what
#                            vsnap wrote there without going through gluster)
# glusterd's state (working directory, run directory, logs) lives under
# $tmp/gluster; only the brick's control socket is in /var/run/gluster (its
# directory is fixed in glusterd), removed again at exit. glusterd must listen
# on 24007: the brick process it starts asks that port for its volfile. One
# tier runs at a time (a lock in /run/lock), and the EXIT trap stops what
# gluster_start started (QEMU first, with SIGKILL: a gluster client that
# closes waits about 10 s in glfs_fini).
#
# The test reports a TAP skip only when glusterd cannot start (not installed,
# not root, port 24007 taken, or it does not answer); anything after that
# which fails is a failure.
# shellcheck shell=bash

gl_dir=$tmp/gluster
gl_pids=""
gl_brick_socks=""

gluster_cleanup() {
    local p f
    if declare -F live_cleanup >/dev/null; then
        for f in "$meta"/*/run/pid; do
            [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
        done
    fi
    # Brick processes (their pid files name them), the keepalive, glusterd.
    for f in "$gl_dir"/run/vols/*/*.pid; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
    done
    for p in $gl_pids; do
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    for f in $gl_brick_socks; do
        rm -f "$f"
    done
    rm -rf "$tmp"
}
trap gluster_cleanup EXIT

gl_skip() {
    echo "1..0 # SKIP glusterd cannot start: $*"
    exit 0
}

# gl ARGS...: the gluster CLI against the test's glusterd
gl() {
    gluster --mode=script --glusterd-sock="$gl_dir/run/glusterd.socket" \
        --log-file="$gl_dir/log/cli.log" "$@" >"$gl_dir/cli.out" 2>&1
}

gl_host=${VSNAP_GLUSTER_HOST:-$(hostname)}

# gl_glusterd: glusterd in the foreground (a child of this shell), answering
# the CLI; skips the test when it cannot start.
gl_glusterd() {
    local i
    command -v glusterd >/dev/null || gl_skip "glusterd not installed (Debian: glusterfs-server)"
    command -v gluster >/dev/null || gl_skip "the gluster CLI is not installed (glusterfs-cli)"
    [ "$(id -u)" = 0 ] || gl_skip "not root (glusterd runs as root)"
    exec 9>"${VSNAP_GLUSTER_LOCK:-/run/lock/vsnap-gluster.lock}" ||
        gl_skip "cannot open the tier's lock file"
    flock -w 900 9 || gl_skip "another gluster tier held its lock for 15 minutes"
    if (exec 3<>/dev/tcp/127.0.0.1/24007) 2>/dev/null; then
        gl_skip "port 24007 is taken (another glusterd?): $(ss -ltnpH 'sport = :24007' 2>/dev/null)"
    fi
    mkdir -p "$gl_dir/wd" "$gl_dir/run" "$gl_dir/log" || t_bail "mkdir $gl_dir"
    cat >"$gl_dir/glusterd.vol" <<EOF
volume management
    type mgmt/glusterd
    option working-directory $gl_dir/wd
    option run-directory $gl_dir/run
    option logging-directory $gl_dir/log
    option glusterd-sockfile $gl_dir/run/glusterd.socket
    option transport-type socket
    option transport.address-family inet
    option transport.socket.read-fail-log off
    option ping-timeout 0
    option event-threads 1
end-volume
EOF
    glusterd -N -f "$gl_dir/glusterd.vol" -l "$gl_dir/log/glusterd.log" \
        -p "$gl_dir/glusterd.pid" >"$gl_dir/glusterd.out" 2>&1 </dev/null &
    gl_pids="$gl_pids $!"
    for i in $(seq 100); do
        if [ -S "$gl_dir/run/glusterd.socket" ] && gl volume list; then
            return 0
        fi
        kill -0 "$!" 2>/dev/null || break
        sleep 0.1
    done
    echo "# glusterd did not answer; its log:"
    tail -n 20 "$gl_dir/log/glusterd.log" "$gl_dir/glusterd.out" 2>/dev/null | t_diag
    gl_skip "glusterd did not answer within 10 s (see the log above)"
}

# gluster_start VOLUME: glusterd, a one-brick volume, a keepalive client.
gluster_start() {
    local vol=$1 i f s
    gl_glusterd
    gl_vol=$vol
    gl_brick=$gl_dir/brick-$vol
    mkdir -p "$gl_brick"
    # The brick's host is this machine by name: gluster refuses localhost
    # and 127.0.0.1, and checks that the name resolves to a local address.
    getent hosts "$gl_host" >/dev/null ||
        t_bail "the brick host $gl_host does not resolve (set VSNAP_GLUSTER_HOST to a name of this machine)"
    # force: the brick is on the root file system.
    gl volume create "$vol" "$gl_host:$gl_brick" force ||
        { t_diag "$gl_dir/cli.out"; t_bail "gluster volume create $vol failed"; }
    gl volume start "$vol" ||
        { t_diag "$gl_dir/cli.out"; tail -n 20 "$gl_dir"/log/bricks/*.log | t_diag; t_bail "gluster volume start $vol failed"; }
    for f in "$gl_dir"/run/vols/"$vol"/*.pid; do
        [ -f "$f" ] || continue
        s=$(tr '\0' '\n' <"/proc/$(cat "$f")/cmdline" 2>/dev/null | sed -n '/^-S$/{n;p;}')
        [ -n "$s" ] && gl_brick_socks="$gl_brick_socks $s"
    done
    for i in $(seq 50); do
        gl volume status "$vol" --xml && grep -q "<status>1</status>" "$gl_dir/cli.out" && break
        sleep 0.2
    done
    grep -q "<status>1</status>" "$gl_dir/cli.out" ||
        { t_diag "$gl_dir/cli.out"; t_bail "the brick of $vol is not online"; }
    # One client stays connected for the test's duration (qemu-io on a file
    # of the volume, its stdin a fifo this shell holds open).
    qemu-img create -q -f raw "$gl_brick/.keepalive" 64k || t_bail "keepalive image"
    mkfifo "$gl_dir/keepalive.fifo"
    qemu-io -f raw "$(gl_url .keepalive)" <"$gl_dir/keepalive.fifo" >"$gl_dir/keepalive.out" 2>&1 &
    gl_pids="$!$gl_pids"
    exec 8>"$gl_dir/keepalive.fifo"
}

gl_url() { echo "gluster://$gl_host:24007/$gl_vol/$1"; }
gl_file() { echo "$gl_brick/$1"; }

# gl_source PATH: the <source> of a disk on the volume, as the issue's XML has it
gl_source() {
    printf "<source protocol='gluster' name='%s/%s'>\n        <host name='%s' port='24007'/>\n      </source>" \
        "$gl_vol" "$1" "$gl_host"
}

# chain_json IMAGE [BACKING...]: a qemu json: filename opening the qcow2
# chain IMAGE over BACKING... (top first) from the files themselves (brick
# files and local ones, not through gluster), whatever backing names the
# images hold.
chain_json() {
    local json="" spec i
    local -a chain=("$@")
    for ((i = ${#chain[@]} - 1; i >= 0; i--)); do
        spec="{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\",\"filename\":\"${chain[$i]}\"}"
        json="$spec,\"backing\":${json:-null}}"
    done
    echo "json:$json"
}

# brick_holds "B0 B1 ..." IMAGE [BACKING...]: the guest data of that chain
# holds byte Bi in its 64 KiB region i ("-" skips a region).
brick_holds() {
    local want=$1 i=0 b o j
    shift
    j=$(chain_json "$@")
    for b in $want; do
        if [ "$b" != - ]; then
            o=$(qemu-io -r -U -c "read -P $b $((i * 65536)) 64k" "$j" 2>&1)
            case $o in
            *"Pattern verification failed"* | *rror*) echo "# region $i of $1: not $b: $o"; return 1 ;;
            "read 65536/65536 bytes"*) ;;
            *) echo "# region $i of $1: $o"; return 1 ;;
            esac
        fi
        i=$((i + 1))
    done
}

# brick_write BYTE REGION IMAGE [BACKING...]: a guest write into the top of
# that chain (as a guest of the shut-off domain would have made it)
brick_write() {
    local b=$1 r=$2
    shift 2
    qemu-io -c "write -P $b $((r * 65536)) 64k" "$(chain_json "$@")" >/dev/null ||
        t_bail "qemu-io write into $1 failed"
}

# backing_of IMAGE: the backing file name written in a qcow2 file
backing_of() {
    qemu-img info -U --output=json "$1" | sed -n 's/^ *"backing-filename": "\(.*\)",\{0,1\}$/\1/p'
}

# gl_define NAME UUID PATH: define it (bails out on failure)
gl_define() {
    gl_xml "$@" >"$tmp/$1.xml"
    must define "$tmp/$1.xml"
}

# disk_xml DOMAIN: the <disk> element of the domain's vda, on one line
disk_xml() {
    "$VSNAP_REAL_OR" -d "$meta" dumpxml "$1" | tr -d '\n' | sed 's/.*\(<disk .*<\/disk>\).*/\1/; s/>  */>/g'
}
VSNAP_REAL_OR=${VSNAP_REAL:-$VSNAP}

# gl_xml NAME UUID PATH: a domain whose vda is the qcow2 image PATH on the
# volume, a <disk type='network'> as in issue 13 (32 MiB, no guest OS)
gl_xml() {
    net_xml "$1" "$2" qcow2 "$(gl_source "$3")"
}
