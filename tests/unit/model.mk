# tests/unit fragment: the <domainsnapshot> model (lib/snapshot_def.c, lib/snapshot_args.c)

check_PROGRAMS += tests/unit/test_snapshot_def
tests_unit_test_snapshot_def_SOURCES = tests/unit/test_snapshot_def.c tests/tap.h tests/testenv.h tests/unit/corpus.h
tests_unit_test_snapshot_def_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_snapshot_def

check_PROGRAMS += tests/unit/test_snapshot_args
tests_unit_test_snapshot_args_SOURCES = tests/unit/test_snapshot_args.c tests/tap.h tests/testenv.h
tests_unit_test_snapshot_args_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_snapshot_args

check_PROGRAMS += tests/unit/test_snapshot_scan
tests_unit_test_snapshot_scan_SOURCES = tests/unit/test_snapshot_scan.c tests/tap.h
tests_unit_test_snapshot_scan_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_snapshot_scan
