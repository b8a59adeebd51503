# tests/scenarios fragment: adversarial QA scenarios
TESTS += tests/scenarios/qa-store.sh
EXTRA_DIST += tests/scenarios/qa-store.sh
# Failing QA tests for bugs in files owned by others, kept out of TESTS until
# fixed (see each script's header): qa-alias.sh (lib/snapshot_create.c),
# qa-delete-perm.sh (lib/snapshot_delete.c), qa-edit-lock.sh (cmd/main.c,
# cmd/cmd_snapshot.c).
