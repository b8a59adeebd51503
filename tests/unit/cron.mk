# tests/unit fragment: made for cron and scripts (issue 11): the retention
# planner (lib/retention.c), table-driven, with TZ set per case (Europe/Berlin,
# America/New_York, Asia/Kolkata); the writer and metadata locks and the
# holder's record (lib/lock.c), with real processes holding them.
check_PROGRAMS += tests/unit/test_retention tests/unit/test_lock
tests_unit_test_retention_SOURCES = tests/unit/test_retention.c tests/tap.h
tests_unit_test_retention_LDADD = $(VSNAP_LIBS)
tests_unit_test_lock_SOURCES = tests/unit/test_lock.c tests/tap.h
tests_unit_test_lock_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_retention tests/unit/test_lock
