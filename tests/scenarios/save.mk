# tests/scenarios fragment: save, restore, managed save and the save-image
# commands against a real qemu-system-x86_64 (TCG, 32 MiB, no guest OS).
TESTS += tests/scenarios/save-restore.sh
EXTRA_DIST += tests/scenarios/save-restore.sh
