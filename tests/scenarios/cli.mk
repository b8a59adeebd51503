# tests/scenarios fragment: what a new user meets first (issue 8): names with
# control characters, messages, read-only commands after an interrupted
# operation, cd/pwd.
TESTS += tests/scenarios/qa-names.sh tests/scenarios/qa-interrupted.sh \
	tests/scenarios/qa-cd.sh
EXTRA_DIST += tests/scenarios/qa-names.sh tests/scenarios/qa-interrupted.sh \
	tests/scenarios/qa-cd.sh
