# tests/unit fragment: plans, the journal, external snapshots and snapshot-check
# (lib/plan.c, journal.c, qcow2.c, snapshot_external.c, check.c) against real
# qemu-img and qemu-io in a scratch directory, and the content oracle (one
# fixed seed here; `make check-long` runs many).
check_PROGRAMS += tests/unit/test_external tests/unit/test_external_oracle
tests_unit_test_external_SOURCES = tests/unit/test_external.c tests/unit/ext_util.h tests/tap.h
tests_unit_test_external_LDADD = $(VSNAP_LIBS)
tests_unit_test_external_oracle_SOURCES = tests/unit/test_external_oracle.c tests/unit/ext_util.h \
	tests/tap.h
tests_unit_test_external_oracle_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_external tests/unit/test_external_oracle

# The step table, the journal codec, the executors' observations, finally actions.
check_PROGRAMS += tests/unit/test_plan
tests_unit_test_plan_SOURCES = tests/unit/test_plan.c tests/unit/ext_util.h tests/tap.h
tests_unit_test_plan_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_plan

# The image graph and the reclaim decisions on models built in memory.
check_PROGRAMS += tests/unit/test_reclaim
tests_unit_test_reclaim_SOURCES = tests/unit/test_reclaim.c tests/tap.h
tests_unit_test_reclaim_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_reclaim

# The oracle with many seeds (VSNAP_ORACLE_SEEDS=FIRST-LAST, VSNAP_ORACLE_STEPS=N).
ORACLE_SEEDS ?= 1-40
ORACLE_STEPS ?= 40
check-long: tests/unit/test_external_oracle
	VSNAP_ORACLE_SEEDS='$(ORACLE_SEEDS)' VSNAP_ORACLE_STEPS='$(ORACLE_STEPS)' \
	  ./tests/unit/test_external_oracle
.PHONY: check-long
