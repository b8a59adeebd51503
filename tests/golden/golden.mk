# tests/golden fragment: vsnap against the real virsh transcripts.
# The expected files are derived by convert.sh (make golden-regen).
TESTS += tests/golden/run.sh
EXTRA_DIST += \
	tests/golden/run.sh \
	tests/golden/convert.sh \
	tests/golden/golden-lib.sh \
	tests/golden/normalize.awk \
	tests/golden/expected/00-help.txt \
	tests/golden/expected/01-create-list-info.txt \
	tests/golden/expected/02-tree-branches.txt \
	tests/golden/expected/03-print-xml.txt \
	tests/golden/expected/05-offline.txt \
	tests/golden/expected/06-revert.txt \
	tests/golden/expected/07-delete.txt \
	tests/golden/expected/08a-redefine-prep.txt \
	tests/golden/expected/08b-redefine.txt \
	tests/golden/expected/09-edit.txt \
	tests/golden/expected/10-errors.txt \
	tests/golden/expected/11-edit-invalid-crash.txt \
	tests/golden/expected/12-parse-errors.txt

# Rewrite tests/golden/expected from $(VSNAP_REFERENCE)/virsh-transcripts.
golden-regen:
	VSNAP_REFERENCE='$(VSNAP_REFERENCE)' $(SHELL) $(top_srcdir)/tests/golden/convert.sh $(top_srcdir)/tests/golden/expected
.PHONY: golden-regen
