# tests/unit fragment: lib/saveimage.c, libvirt's save-image codec, against
# in-tree copies of real libvirt 9.0 images (tests/unit/data/saveimage/, from
# the reference's virsh-live/save-images) and, with $VSNAP_REFERENCE, the
# reference's files themselves.
check_PROGRAMS += tests/unit/test_saveimage
tests_unit_test_saveimage_SOURCES = tests/unit/test_saveimage.c tests/tap.h tests/testenv.h
tests_unit_test_saveimage_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_saveimage
EXTRA_DIST += tests/unit/data/saveimage/save-running.bin tests/unit/data/saveimage/save-running.xml \
	tests/unit/data/saveimage/save-running.cookie.xml tests/unit/data/saveimage/save-paused-flag.bin \
	tests/unit/data/saveimage/save-paused-flag.xml tests/unit/data/saveimage/save-paused-flag.cookie.xml
# lib/memory_transfer.c with a real QEMU (TCG, 32 MiB, no guest OS): save,
# overwrite RAM, start from the image, the RAM back.
check_PROGRAMS += tests/unit/test_memory_transfer
tests_unit_test_memory_transfer_SOURCES = tests/unit/test_memory_transfer.c tests/tap.h
tests_unit_test_memory_transfer_LDADD = $(VSNAP_LIBS)
TESTS += tests/unit/test_memory_transfer
