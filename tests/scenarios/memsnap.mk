# tests/scenarios fragment: external full-system snapshots (memory into a
# save-image file), their revert and delete, against a real QEMU (TCG).
TESTS += tests/scenarios/live-memory.sh tests/scenarios/live-memory-crash.sh
EXTRA_DIST += tests/scenarios/live-memory.sh tests/scenarios/live-memory-crash.sh
