# tests/scenarios fragment: external snapshots through the vsnap binary.
# external-crash.sh needs a build configured with --enable-failpoints and
# reports a TAP skip otherwise.
TESTS += tests/scenarios/external.sh tests/scenarios/external-crash.sh
EXTRA_DIST += tests/scenarios/external.sh tests/scenarios/external-crash.sh
EXTRA_DIST += tests/scenarios/crash-lib.sh
# spine.sh: the plan spine against the ways vsnap used to lose data (parts
# need --enable-failpoints and strace, and report a skip without them)
TESTS += tests/scenarios/spine.sh
EXTRA_DIST += tests/scenarios/spine.sh
