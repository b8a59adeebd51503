# tests/unit fragment: network disk sources (disk_source.c), no server needed
check_PROGRAMS += tests/unit/test_disk_source
tests_unit_test_disk_source_SOURCES = tests/unit/test_disk_source.c tests/tap.h
tests_unit_test_disk_source_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_disk_source
