# tests/scenarios fragment: made for cron and scripts (issue 11): retention,
# --json, locks that say who is busy, progress through a terminal, the
# shipped timer and cron example.
TESTS += tests/scenarios/prune.sh tests/scenarios/json.sh
EXTRA_DIST += tests/scenarios/prune.sh tests/scenarios/json.sh tests/scenarios/fake-qemu-img-slow
