# tests/scenarios fragment: running domains against a real qemu-system-x86_64
# (TCG, 32 MiB, no guest OS); running.sh also uses the FAKE peer
# tests/fake-qmp-peer (garbage monitor, fake guest agent).
TESTS += tests/scenarios/running.sh tests/scenarios/running-golden.sh
EXTRA_DIST += tests/scenarios/running.sh tests/scenarios/running-golden.sh \
	tests/scenarios/running-golden.expected tests/scenarios/running-golden-02.expected
