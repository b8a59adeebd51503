# tests/scenarios fragment: snapshots of running domains against a real
# qemu-system-x86_64 (TCG, 32 MiB, no guest OS).
TESTS += tests/scenarios/live-internal.sh tests/scenarios/live-external.sh tests/scenarios/live-delete.sh \
	tests/scenarios/seed-table-live.sh tests/scenarios/live-crash.sh
EXTRA_DIST += tests/scenarios/live-lib.sh tests/scenarios/live-internal.sh tests/scenarios/live-external.sh \
	tests/scenarios/live-delete.sh tests/scenarios/seed-table-live.sh tests/scenarios/live-crash.sh
