# tests/scenarios fragment: made for cron and scripts (issue 11): retention,
# --json, locks that say who is busy, progress through a terminal, the
# shipped timer and cron example.
TESTS += tests/scenarios/prune.sh tests/scenarios/json.sh tests/scenarios/locks.sh \
	tests/scenarios/progress.sh tests/scenarios/progress-live.sh tests/scenarios/schedule.sh
EXTRA_DIST += tests/scenarios/prune.sh tests/scenarios/json.sh tests/scenarios/locks.sh \
	tests/scenarios/progress.sh tests/scenarios/progress-live.sh tests/scenarios/schedule.sh \
	tests/scenarios/fake-qemu-img-slow
# concurrency.sh (16 processes x 50 rounds of create, list and prune on one
# domain) takes longer than a make check test should: its own target, which
# scripts/test.sh runs after make check.
check-concurrency: all
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='tests/scenarios/concurrency.sh'
.PHONY: check-concurrency
EXTRA_DIST += tests/scenarios/concurrency.sh
