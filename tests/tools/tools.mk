# tests/tools fragment: helpers the shell tests run (not tests themselves).
# jsonflat flattens a JSON document into PATH=VALUE lines (tests of --json).
check_PROGRAMS += tests/tools/jsonflat
tests_tools_jsonflat_SOURCES = tests/tools/jsonflat.c
tests_tools_jsonflat_LDADD = $(VSNAP_LIBS)
