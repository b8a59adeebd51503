# bench fragment: listing and metadata benchmarks (bench/README.md). Not part
# of `make check`; run `make bench` from a build configured without
# --enable-sanitizers. BENCH_SIZES, BENCH_RUNS and BENCH_OUT are passed on.
# built by make check too (never run by it), so that a change that breaks a
# benchmark's build is caught where every change is tested
check_PROGRAMS += bench/gen bench/driver bench/start bench/live
bench_gen_SOURCES = bench/gen.c
bench_gen_LDADD = $(VSNAP_LIBS)
bench_driver_SOURCES = bench/driver.c cmd/print.c
bench_driver_LDADD = $(VSNAP_LIBS)
EXTRA_DIST += bench/run.sh bench/README.md

BENCH_SIZES = 200 10000
BENCH_RUNS = 20

.PHONY: bench
bench: bench/gen$(EXEEXT) bench/driver$(EXEEXT) vsnap$(EXEEXT)
	VSNAP='$(abs_top_builddir)/vsnap$(EXEEXT)' \
	BENCH_GEN='$(abs_top_builddir)/bench/gen$(EXEEXT)' \
	BENCH_DRIVER='$(abs_top_builddir)/bench/driver$(EXEEXT)' \
	BENCH_SIZES='$(BENCH_SIZES)' BENCH_RUNS='$(BENCH_RUNS)' \
	BENCH_OUT='$(BENCH_OUT)' \
	$(SHELL) $(top_srcdir)/bench/run.sh
# completion latency, `vsnap complete -- snapshot-revert DOM ''` with 10,000 snapshots (target < 20 ms)
bench: bench-complete
.PHONY: bench-complete
bench-complete: bench/gen$(EXEEXT) vsnap$(EXEEXT)
	VSNAP='$(abs_top_builddir)/vsnap$(EXEEXT)' BENCH_GEN='$(abs_top_builddir)/bench/gen$(EXEEXT)' \
	BENCH_RUNS='$(BENCH_RUNS)' $(SHELL) $(top_srcdir)/bench/complete.sh
EXTRA_DIST += bench/complete.sh
# external snapshots against raw qemu-img (issue 3): --disk-only create vs two
# `qemu-img create`, delete of a 50 MiB overlay vs `qemu-img commit` (target 1.2x)
bench: bench-external
.PHONY: bench-external
bench-external: vsnap$(EXEEXT)
	VSNAP='$(abs_top_builddir)/vsnap$(EXEEXT)' BENCH_RUNS='$(BENCH_RUNS)' BENCH_OUT='$(BENCH_OUT)' \
	$(SHELL) $(top_srcdir)/bench/external.sh
EXTRA_DIST += bench/external.sh
# start to QMP ready (issue 9): `vsnap start` against QEMU started directly
# until QMP answers, medians of BENCH_RUNS (target < 120 ms; libvirt 9.0: 577 ms)
bench: bench-start
.PHONY: bench-start
bench_start_SOURCES = bench/start.c
bench_start_LDADD = $(VSNAP_LIBS)
bench-start: bench/start$(EXEEXT) vsnap$(EXEEXT)
	VSNAP='$(abs_top_builddir)/vsnap$(EXEEXT)' BENCH_START='$(abs_top_builddir)/bench/start$(EXEEXT)' \
	BENCH_RUNS='$(BENCH_RUNS)' $(SHELL) $(top_srcdir)/bench/start.sh
EXTRA_DIST += bench/start.sh
# retention (issue 11): snapshot-prune deleting 1,000 of 10,000 metadata-only
# snapshots (target < 2 s), its --dry-run (< 100 ms), snapshot-list --json at
# 10,000 (<= 1.5x the plain listing); fails when a target is missed
check_PROGRAMS += bench/gen_prune
bench_gen_prune_SOURCES = bench/gen_prune.c
bench_gen_prune_LDADD = $(VSNAP_LIBS)
bench: bench-prune
.PHONY: bench-prune
bench-prune: bench/gen_prune$(EXEEXT) vsnap$(EXEEXT)
	VSNAP='$(abs_top_builddir)/vsnap$(EXEEXT)' \
	BENCH_GEN_PRUNE='$(abs_top_builddir)/bench/gen_prune$(EXEEXT)' \
	BENCH_RUNS='$(BENCH_RUNS)' BENCH_OUT='$(BENCH_OUT)' \
	$(SHELL) $(top_srcdir)/bench/prune.sh
EXTRA_DIST += bench/prune.sh
# issue 12's table: bulk redefine, one-snapshot lookups, listings, index
# rebuild, a 255-snapshot metadata delete and peak RSS at 1,000, 10,000 and
# 50,000 snapshots, internal and external image work on two disks, each
# against its floor in the same run (BENCH_SIZES overrides the sizes)
bench: bench-issue12
.PHONY: bench-issue12
BENCH_ISSUE12_SIZES = 1000 10000 50000
bench-issue12: bench/gen$(EXEEXT) bench/driver$(EXEEXT) vsnap$(EXEEXT)
	VSNAP='$(abs_top_builddir)/vsnap$(EXEEXT)' \
	BENCH_GEN='$(abs_top_builddir)/bench/gen$(EXEEXT)' \
	BENCH_DRIVER='$(abs_top_builddir)/bench/driver$(EXEEXT)' \
	BENCH_SIZES='$(BENCH_ISSUE12_SIZES)' BENCH_RUNS='$(BENCH_RUNS)' BENCH_OUT='$(BENCH_OUT)' \
	bash $(top_srcdir)/bench/issue12.sh
EXTRA_DIST += bench/issue12.sh
# snapshots of a running domain (issue 9): internal create, revert and delete,
# external disk-only create and active-layer delete, each against the same QMP
# calls made directly in the same run (bench/live.c has the targets)
bench: bench-live
.PHONY: bench-live
bench_live_SOURCES = bench/live.c
bench_live_LDADD = $(VSNAP_LIBS)
bench-live: bench/live$(EXEEXT) vsnap$(EXEEXT)
	VSNAP='$(abs_top_builddir)/vsnap$(EXEEXT)' BENCH_LIVE='$(abs_top_builddir)/bench/live$(EXEEXT)' \
	BENCH_RUNS='$(BENCH_RUNS)' $(SHELL) $(top_srcdir)/bench/live.sh
EXTRA_DIST += bench/live.sh
# moving a domain (issue 13): snapshot-export and snapshot-import of 10,000
# snapshots (targets: under 1 s and under 5 s), against N files written as
# one batch with one sync (bench/driver floor-batch)
bench: bench-export
.PHONY: bench-export
BENCH_EXPORT_N = 10000
bench-export: bench/gen$(EXEEXT) bench/driver$(EXEEXT) vsnap$(EXEEXT)
	VSNAP='$(abs_top_builddir)/vsnap$(EXEEXT)' \
	BENCH_GEN='$(abs_top_builddir)/bench/gen$(EXEEXT)' \
	BENCH_DRIVER='$(abs_top_builddir)/bench/driver$(EXEEXT)' \
	BENCH_EXPORT_N='$(BENCH_EXPORT_N)' BENCH_RUNS='$(BENCH_EXPORT_RUNS)' \
	bash $(top_srcdir)/bench/export.sh
BENCH_EXPORT_RUNS = 5
EXTRA_DIST += bench/export.sh
