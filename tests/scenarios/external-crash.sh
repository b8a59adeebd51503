#!/usr/bin/env bash
# Crash safety: vsnap is killed with SIGKILL at every step boundary of
# external create, revert and delete (the failpoint plan-step, compiled in with
# ./configure --enable-failpoints), then `snapshot-check --repair` runs.
# Afterwards the next command works, snapshot-check is clean (no metadata names
# a missing file, no chain disagrees, no image is left over), the domain's
# disks hold the data they held before the operation or after it, and every
# remaining snapshot reverts to its own data.
set -u
. "${top_srcdir:-.}/tests/scenarios/lib.sh"
CRASH_SNAP_FLAGS="--disk-only"
CRASH_UUID=8a4c0e5e-2f0f-4d38-9d7e-6b1c3f0a1b03
. "${top_srcdir:-.}/tests/scenarios/crash-lib.sh"

want[s9.1]=$fixture_live1
want[s9.2]=$fixture_live2
crash "create s9" "exists s9" "$fixture_live1" "$fixture_live2" snapshot-create-as vm s9 --disk-only
crash "revert to s2 (leaf)" "current_is s2" "${want[s2.1]}" "${want[s2.2]}" snapshot-revert vm s2
crash "revert to s1 (children)" "current_is s1" "${want[s1.1]}" "${want[s1.2]}" snapshot-revert vm s1
crash "delete s3 (leaf, current)" "! exists s3" "$fixture_live1" "$fixture_live2" snapshot-delete vm s3
crash "delete s2 (leaf, not current)" "! exists s2" "$fixture_live1" "$fixture_live2" snapshot-delete vm s2
crash "delete s1 (two children)" "! exists s1" "$fixture_live1" "$fixture_live2" snapshot-delete vm s1
crash "delete s0 (root, one child)" "! exists s0" "$fixture_live1" "$fixture_live2" snapshot-delete vm s0
crash "delete s1 --children" "! exists s1" "$fixture_live1" "$fixture_live2" snapshot-delete vm s1 --children
crash "delete s1 --children-only" "! exists s3" "$fixture_live1" "$fixture_live2" snapshot-delete vm s1 --children-only
t_done
