# tests/unit fragment: the retention planner (lib/retention.c), table-driven,
# with TZ set per case (Europe/Berlin, America/New_York, Asia/Kolkata).
check_PROGRAMS += tests/unit/test_retention
tests_unit_test_retention_SOURCES = tests/unit/test_retention.c tests/tap.h
tests_unit_test_retention_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_retention
