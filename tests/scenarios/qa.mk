# tests/scenarios fragment: adversarial QA scenarios
TESTS += tests/scenarios/qa-store.sh tests/scenarios/qa-edit-lock.sh \
	tests/scenarios/qa-alias.sh tests/scenarios/qa-delete-perm.sh
EXTRA_DIST += tests/scenarios/qa-store.sh tests/scenarios/qa-edit-lock.sh \
	tests/scenarios/qa-alias.sh tests/scenarios/qa-delete-perm.sh
# qa-alias.sh (one image named by two paths gets one internal snapshot) and
# qa-delete-perm.sh (an unwritable snapshots/ fails the delete before any
# image changes) guard fixes in lib/snapshot_create.c and lib/snapshot_delete.c.
# store-links.sh: no file or directory of the store is followed through a
# planted symbolic link; -d that does not exist; sibling creation order.
TESTS += tests/scenarios/store-links.sh
EXTRA_DIST += tests/scenarios/store-links.sh
