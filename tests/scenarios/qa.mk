# tests/scenarios fragment: adversarial QA scenarios
TESTS += tests/scenarios/qa-store.sh tests/scenarios/qa-edit-lock.sh
EXTRA_DIST += tests/scenarios/qa-store.sh tests/scenarios/qa-edit-lock.sh
# Failing QA tests for bugs in files owned by others, kept out of TESTS until
# fixed (see each script's header): qa-alias.sh (lib/snapshot_create.c),
# qa-delete-perm.sh (lib/snapshot_delete.c).
