# tests/scenarios fragment: the GlusterFS tier (issue 13). Each test starts a
# real one-brick volume (glusterd, as root, on port 24007) and every gluster
# client's close waits about 10 s, so the tier is its own target, not part of
# make check; scripts/test.sh runs it after make check. A test skips only
# when glusterd cannot start.
GLUSTER_TESTS = tests/scenarios/gluster-volume.sh tests/scenarios/gluster-offline.sh \
	tests/scenarios/gluster-live.sh
check-gluster: all
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(GLUSTER_TESTS)'
.PHONY: check-gluster
EXTRA_DIST += tests/scenarios/gluster-lib.sh $(GLUSTER_TESTS)
