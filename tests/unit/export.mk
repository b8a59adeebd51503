# tests/unit fragment: snapshot-export / snapshot-import below the command
# line (lib/snapshot_export.c, path.c's batch of writes, the store's grouped
# snapshot writes)
check_PROGRAMS += tests/unit/test_export
tests_unit_test_export_SOURCES = tests/unit/test_export.c tests/tap.h
tests_unit_test_export_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_export
