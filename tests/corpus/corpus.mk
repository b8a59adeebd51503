# tests/corpus fragment: the project's own XML corpus (see tests/corpus/README.md).
# The C unit tests read it from $(top_srcdir)/tests/corpus; every file in the
# directory is data, so the directory is distributed as a whole.
EXTRA_DIST += tests/corpus
