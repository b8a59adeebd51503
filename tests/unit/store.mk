# tests/unit fragment: the snapshot tree (lib/snapshot_tree.c) and the metadata
# store with its derived index and locking (lib/store.c).
check_PROGRAMS += tests/unit/test_snapshot_tree
tests_unit_test_snapshot_tree_SOURCES = tests/unit/test_snapshot_tree.c tests/tap.h tests/testenv.h cmd/print.c
tests_unit_test_snapshot_tree_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_snapshot_tree

check_PROGRAMS += tests/unit/test_store
tests_unit_test_store_SOURCES = tests/unit/test_store.c tests/tap.h
tests_unit_test_store_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_store
