# tests/unit fragment: the base layer (error, mem, buf, path, lock, spawn, xml, qemu_img)
check_PROGRAMS += tests/unit/test_base tests/unit/test_base_spawn tests/unit/test_xml \
	tests/unit/test_qemu_img
tests_unit_test_base_SOURCES = tests/unit/test_base.c tests/tap.h
tests_unit_test_base_LDADD = $(VSNAP_LIBS)
tests_unit_test_base_spawn_SOURCES = tests/unit/test_base_spawn.c tests/tap.h
tests_unit_test_base_spawn_LDADD = $(VSNAP_LIBS)
tests_unit_test_xml_SOURCES = tests/unit/test_xml.c tests/tap.h tests/testenv.h
tests_unit_test_xml_LDADD = $(VSNAP_LIBS)
tests_unit_test_qemu_img_SOURCES = tests/unit/test_qemu_img.c tests/tap.h
tests_unit_test_qemu_img_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_base tests/unit/test_base_spawn tests/unit/test_xml \
	tests/unit/test_qemu_img
