# tests/unit fragment: snapshot-create --redefine against a real store, from the
# project's corpus tests/corpus/redefine (virsh-behaviour.md B.4)
check_PROGRAMS += tests/unit/test_redefine
tests_unit_test_redefine_SOURCES = tests/unit/test_redefine.c tests/tap.h tests/unit/corpus.h
tests_unit_test_redefine_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_redefine
