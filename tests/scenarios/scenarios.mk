# tests/scenarios fragment
TESTS += tests/scenarios/man-check.sh tests/scenarios/demo.sh
EXTRA_DIST += tests/scenarios/man-check.sh tests/scenarios/demo.sh scripts/test.sh completions/vsnap.bash
TESTS += tests/scenarios/cli-parse.sh tests/scenarios/domain-cmds.sh
EXTRA_DIST += tests/scenarios/cli-parse.sh tests/scenarios/domain-cmds.sh
TESTS += tests/scenarios/snapshot-data.sh
EXTRA_DIST += tests/scenarios/snapshot-data.sh
TESTS += tests/scenarios/snapshot-bad-input.sh
EXTRA_DIST += tests/scenarios/snapshot-bad-input.sh
TESTS += tests/scenarios/seed-table.sh
EXTRA_DIST += tests/scenarios/seed-table.sh
EXTRA_DIST += tests/scenarios/lib.sh
EXTRA_DIST += tests/scenarios/fake-qemu-img-fail-second
# internal-crash.sh: crash safety of internal snapshots (needs
# --enable-failpoints, skips otherwise)
TESTS += tests/scenarios/internal-crash.sh
EXTRA_DIST += tests/scenarios/internal-crash.sh
# validate.sh: --validate reads the installed schemas (the configured directory)
TESTS += tests/scenarios/validate.sh
EXTRA_DIST += tests/scenarios/validate.sh
