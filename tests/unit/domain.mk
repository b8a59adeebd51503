# domain fragment: domain XML (lib/domain_def.c) and disk alignment (lib/disk_align.c)
check_PROGRAMS += tests/unit/test_domain_def
tests_unit_test_domain_def_SOURCES = tests/unit/test_domain_def.c tests/tap.h tests/testenv.h
tests_unit_test_domain_def_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_domain_def

check_PROGRAMS += tests/unit/test_disk_align
tests_unit_test_disk_align_SOURCES = tests/unit/test_disk_align.c tests/tap.h tests/unit/corpus.h
tests_unit_test_disk_align_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_disk_align

EXTRA_DIST += \
	tests/unit/data/domain/disks.xml \
	tests/unit/data/domain/nouuid.xml \
	tests/unit/data/domain/odd.xml
