# tests/scenarios fragment: block and network (NBD over unix sockets, real
# qemu-nbd) snapshot targets, shut off and running.
TESTS += tests/scenarios/net-nbd.sh tests/scenarios/foreign-qemu.sh
EXTRA_DIST += tests/scenarios/net-nbd.sh tests/scenarios/foreign-qemu.sh
