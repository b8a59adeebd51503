# tests/unit fragment: snapshot operations (lib/snapshot_{create,revert,delete,edit}.c)
# against real qcow2 images; the rollback case uses the named fake
# tests/scenarios/fake-qemu-img-fail-second (found through $top_srcdir).
check_PROGRAMS += tests/unit/test_ops
tests_unit_test_ops_SOURCES = tests/unit/test_ops.c tests/tap.h
tests_unit_test_ops_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_ops
