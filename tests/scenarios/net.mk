# tests/scenarios fragment: block and network (NBD over unix sockets, real
# qemu-nbd) snapshot targets, shut off and running; net-timeout.sh: a fake
# NBD server that never answers (VSNAP_NETWORK_TIMEOUT).
TESTS += tests/scenarios/net-nbd.sh tests/scenarios/net-timeout.sh tests/scenarios/foreign-qemu.sh
EXTRA_DIST += tests/scenarios/net-nbd.sh tests/scenarios/net-timeout.sh \
	tests/scenarios/foreign-qemu.sh
