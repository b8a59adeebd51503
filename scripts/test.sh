#!/usr/bin/env bash
# Build vsnap and run every test, the way CI does.
#
#   sudo ./scripts/test.sh
#
# 1. install the packages (scripts/install-deps.sh);
# 2. build in the source tree with --enable-werror and run `make check`;
# 3. build again out of tree with --enable-sanitizers --enable-werror and run
#    `make check` under AddressSanitizer and UBSan;
# 4. `make distcheck` (skip with VSNAP_SKIP_DISTCHECK=1).
# After step 2 the concurrency test runs (`make check-concurrency`: 16
# processes on one domain), the GlusterFS tier (`make check-gluster`: a real
# one-brick volume; skip with VSNAP_SKIP_GLUSTER=1), then the CLI tests again under valgrind (`make
# check-valgrind`; skip with VSNAP_SKIP_VALGRIND=1).
# The last line is "N passed, N failed", summed over the test-suite summaries of
# every run (ERROR and XPASS count as failed); the exit status is 1 when a test
# or a step failed. VSNAP_REFERENCE=DIR names the shared reference material
# (libvirt corpus, virsh transcripts) when it is not at SRCDIR/../shared/reference;
# the tests only cross-check against it, and skip those checks without it.
#
# The in-tree build is cleaned (make distclean) before step 3, because automake
# refuses an out-of-tree build of a configured source tree; run make or
# scripts/demo.sh afterwards to get ./vsnap back.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top" || exit 1

export AM_COLOR_TESTS=no
jobs=${VSNAP_JOBS:-2}
work=$(mktemp -d "${TMPDIR:-/tmp}/vsnap-test.XXXXXX")
asan_build=$work/build-asan
failed_steps=()
total_pass=0
total_fail=0
total_skip=0

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    # Logs stay behind when something failed; the summary names the directory.
    [ ${#failed_steps[@]} -eq 0 ] && [ "$total_fail" -eq 0 ] && rm -rf "$work"
}
trap cleanup EXIT

step() {
    printf '\n==== %s\n' "$*"
}

# Run a command, log it under a name, remember the failure.
run_step() {
    local name=$1
    shift
    step "$name: $*"
    if ! "$@"; then
        echo "==== FAILED: $name"
        failed_steps+=("$name")
        return 1
    fi
}

# Add one log's test-suite summaries to the totals. Fails when a test failed.
count_results() {
    local log=$1 pass fail skip
    read -r pass fail skip < <(sed 's/\x1b\[[0-9;]*m//g' "$log" | awk '
        /^# PASS:/  { p += $3 }
        /^# XFAIL:/ { p += $3 }
        /^# FAIL:/  { f += $3 }
        /^# XPASS:/ { f += $3 }
        /^# ERROR:/ { f += $3 }
        /^# SKIP:/  { s += $3 }
        END { printf "%d %d %d\n", p, f, s }')
    total_pass=$((total_pass + pass))
    total_fail=$((total_fail + fail))
    total_skip=$((total_skip + skip))
    echo "==== $(basename "$log" .log): $pass passed, $fail failed, $skip skipped"
    [ "$fail" -eq 0 ]
}

# `make check` (or distcheck) in a build directory: output to the terminal and a log.
run_check() {
    local name=$1 dir=$2 target=${3:-check} log=$work/$1.log status
    step "$name: make $target in $dir"
    : >"$log.start"
    # The full output goes to the log; the terminal is spared the thousands of
    # PASS lines (failures, skips and the summaries still show).
    (cd "$dir" && make -j"$jobs" "$target") 2>&1 | tee "$log" | grep -v '^PASS: '
    status=${PIPESTATUS[0]}
    if count_results "$log" && [ "$status" -ne 0 ]; then
        # No test failed, yet make did: a build error or a broken harness.
        # Count it so the summary line cannot read as a success.
        total_fail=$((total_fail + 1))
    fi
    if [ "$status" -ne 0 ]; then
        failed_steps+=("$name")
        find "$dir" -name test-suite.log -newer "$log.start" 2>/dev/null | while read -r f; do
            step "$f"
            cat "$f"
        done
    fi
}

# shellcheck disable=SC2317  # called through run_step
in_dir() {
    (cd "$1" && shift && "$@")
}

# Configure and build a tree; on failure the caller skips its check and counts it.
build_tree() {
    local name=$1 dir=$2
    shift 2
    mkdir -p "$dir"
    run_step "$name configure" in_dir "$dir" "$@" &&
        run_step "$name build" make -C "$dir" -j"$jobs"
}

# Cross-checks with libvirt's corpus and virsh's transcripts read them from the
# reference directory; configure guesses SRCDIR/../shared/reference, and
# VSNAP_REFERENCE in the environment points elsewhere. Nothing else needs it.
ref_flags=()
if [ -n "${VSNAP_REFERENCE:-}" ]; then
    ref_flags=(--with-reference="$VSNAP_REFERENCE")
fi

# --- 1. packages
if [ "$(id -u)" -eq 0 ]; then
    run_step "install-deps" sh scripts/install-deps.sh || true
else
    run_step "install-deps (not root: checking only)" sh scripts/install-deps.sh || true
fi

# --- 2. in-tree build with -Werror
mkdir -p m4   # git does not keep the empty directory configure.ac names
if [ ! -x configure ] || [ ! -f build-aux/tap-driver.sh ] || [ configure.ac -nt configure ]; then
    run_step "autoreconf" autoreconf -fi || true
fi
# --enable-failpoints: test builds carry the crash points tests/scenarios/external-crash.sh
# kills vsnap at (release builds, and distcheck, leave them out and that test skips).
if build_tree werror "$top" ./configure --enable-werror --enable-failpoints "${ref_flags[@]}"; then
    run_check werror "$top"
    # 16 processes creating, listing and pruning one domain's snapshots at once.
    run_check concurrency "$top" check-concurrency
    # A real one-brick GlusterFS volume per test (skipped only when glusterd
    # cannot start; VSNAP_SKIP_GLUSTER=1 leaves the tier out).
    if [ "${VSNAP_SKIP_GLUSTER:-0}" = 1 ]; then
        step "gluster tier skipped (VSNAP_SKIP_GLUSTER=1)"
    else
        run_check gluster "$top" check-gluster
    fi
    # The CLI tests once more with every vsnap under valgrind's memcheck.
    if [ "${VSNAP_SKIP_VALGRIND:-0}" = 1 ]; then
        step "valgrind skipped (VSNAP_SKIP_VALGRIND=1)"
    else
        run_check valgrind "$top" check-valgrind
    fi
else
    total_fail=$((total_fail + 1))
fi

# --- 3. out-of-tree build with sanitizers
if [ -f Makefile ]; then
    make distclean >/dev/null 2>&1
fi
rm -f config.status
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if build_tree sanitizers "$asan_build" "$top/configure" --enable-sanitizers --enable-werror --enable-failpoints \
    "${ref_flags[@]}"; then
    run_check sanitizers "$asan_build"
else
    total_fail=$((total_fail + 1))
fi

# --- 4. distcheck: the tarball builds and passes from a read-only source tree
if [ "${VSNAP_SKIP_DISTCHECK:-0}" = 1 ]; then
    step "distcheck skipped (VSNAP_SKIP_DISTCHECK=1)"
elif [ -f "$asan_build/Makefile" ]; then
    # distcheck configures its own plain build from the tarball.
    unset ASAN_OPTIONS UBSAN_OPTIONS
    run_check distcheck "$asan_build" distcheck
else
    step "distcheck: no configured tree to run it from"
    failed_steps+=("distcheck")
    total_fail=$((total_fail + 1))
fi

echo
for s in "${failed_steps[@]}"; do
    echo "failed step: $s"
done
if [ ${#failed_steps[@]} -ne 0 ] || [ "$total_fail" -ne 0 ]; then
    echo "logs kept in $work"
fi
if [ "$total_skip" -ne 0 ]; then
    echo "($total_skip skipped)"
fi
echo "$total_pass passed, $total_fail failed"
if [ "$total_fail" -ne 0 ] || [ ${#failed_steps[@]} -ne 0 ]; then
    exit 1
fi
exit 0
