# tests/scenarios fragment: snapshot-export / snapshot-import (issue 13): a
# 1,000-snapshot tree moved between stores, clashes, damaged documents, '-',
# hostile names, failures part-way (with --enable-failpoints)
TESTS += tests/scenarios/export.sh
EXTRA_DIST += tests/scenarios/export.sh
# autostart, dominfo (golden: autostart-dominfo.expected), list
# --autostart, and start-autostarted (the boot unit's command) against real
# QEMU under TCG
TESTS += tests/scenarios/autostart.sh
EXTRA_DIST += tests/scenarios/autostart.sh tests/scenarios/autostart-dominfo.expected
