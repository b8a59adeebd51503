# tests/scenarios fragment: the interactive shell, completion, and the
# command table checked against the manual (`vsnap self-test`).
TESTS += tests/scenarios/self-test.sh tests/scenarios/bash-completion.sh tests/scenarios/shell-tmux.sh
EXTRA_DIST += tests/scenarios/self-test.sh tests/scenarios/bash-completion.sh tests/scenarios/shell-tmux.sh
