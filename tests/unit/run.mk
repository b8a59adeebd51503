# tests/unit fragment: running domains (lib/qmp.c, lib/qemu_argv.c). test_qmp
# drives a real qemu-system-x86_64 (TCG, 16 MiB, no guest OS) and the FAKE
# peer tests/fake-qmp-peer (garbage, endless messages, silence, a fake guest
# agent); test_qemu_argv is table-driven and starts nothing; test_domain_run
# drives the lifecycle through lib/domain_run.h as the snapshot code does.
check_PROGRAMS += tests/fake-qmp-peer tests/unit/test_qmp tests/unit/test_qemu_argv \
	tests/unit/test_domain_run
tests_fake_qmp_peer_SOURCES = tests/fake-qmp-peer.c
tests_unit_test_qmp_SOURCES = tests/unit/test_qmp.c tests/tap.h
tests_unit_test_qmp_LDADD = $(VSNAP_LIBS)
tests_unit_test_qemu_argv_SOURCES = tests/unit/test_qemu_argv.c tests/tap.h
tests_unit_test_qemu_argv_LDADD = $(VSNAP_LIBS)
tests_unit_test_domain_run_SOURCES = tests/unit/test_domain_run.c tests/tap.h
tests_unit_test_domain_run_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_qmp tests/unit/test_qemu_argv tests/unit/test_domain_run
