/*
 * bench/driver: time library calls on a fixture made by bench/gen, without
 * the CLI around them (process start-up, option parsing, printing).
 *
 *   driver ROOT DOMAIN MODE [NAME] [RUNS]
 *
 * MODE:
 *   load     open (shared lock) + vs_dom_tree from the index + close
 *   list     load + sorted selection of every snapshot (snapshot-list)
 *   tree     load + --tree rendering of the whole tree into a buffer
 *   names    load + sorted selection + names into a buffer (--name)
 *   info     load + read NAME's file + descendant count (snapshot-info)
 *   rebuild  remove the index, then load (every file parsed)
 *   delete   vs_snapshot_delete(NAME, metadata only), one run: the caller
 *            restores the fixture between runs
 *
 *   driver DIR - floor-writes N
 *            the floor of a bulk redefine: N files of 1.7 KB written
 *            durably one by one into DIR (temporary file, fsync, rename,
 *            fsync of the directory, as every metadata write), one run
 *   driver DIR - floor-batch N
 *            the floor of an import: the same N files written as one batch
 *            (path.h: vs_file_batch, one sync of the file system, the
 *            renames, one fsync of the directory), one run
 *
 * Prints "MODE median_ms=X min_ms=Y runs=R maxrss_kb=K".
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "path.h"
#include "snapshot_ops.h"
#include "store.h"
#include "../cmd/print.h"

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void
fail(const char *what, const vs_error *err)
{
    fprintf(stderr, "driver: %s: %s\n", what, err->msg);
    exit(1);
}

/* One timed run of a read-only mode. */
static double
run_once(vs_store *st, const char *dom, const char *mode, const char *name)
{
    vs_error err;
    double t0 = now_ms();
    vs_dom *d;
    vs_snap_tree *t;
    vs_buf b = VS_BUF_INIT;
    long *sel = NULL;
    size_t n, i;

    if (strcmp(mode, "rebuild") == 0) {
        char *ip = vs_xasprintf("%s/%s/index", st->root, dom);

        unlink(ip);
        free(ip);
        t0 = now_ms();
    }
    if (!(d = vs_dom_open(st, dom, VS_LOCK_SHARED, &err)))
        fail("open", &err);
    if (!(t = vs_dom_tree(d, &err)))
        fail("tree", &err);
    if (strcmp(mode, "load") == 0 || strcmp(mode, "rebuild") == 0) {
        /* nothing more */
    } else if (strcmp(mode, "list") == 0 || strcmp(mode, "names") == 0) {
        n = vs_snap_tree_select(t, -1, 0, &sel);
        if (strcmp(mode, "names") == 0)
            for (i = 0; i < n; i++) {
                vs_buf_add(&b, t->e[sel[i]].name);
                vs_buf_addc(&b, '\n');
            }
    } else if (strcmp(mode, "tree") == 0) {
        /* as snapshot-list --tree: the whole selection drawn (cmd/print.c) */
        const char **nm;
        long *up;

        n = vs_snap_tree_select(t, -1, 0, &sel);
        nm = vs_xcalloc(n + 1, sizeof(*nm));
        up = vs_xmalloc((n + 1) * sizeof(*up));
        vs_snap_tree_selection_parents(t, sel, n, up);
        for (i = 0; i < n; i++)
            nm[i] = t->e[sel[i]].name;
        vs_tree_draw(nm, up, n, &b, NULL);
        free(nm);
        free(up);
    } else if (strcmp(mode, "info") == 0) {
        vs_snapshot_def *def = vs_dom_read_snapshot(d, name, &err);
        long idx = vs_snap_tree_find(t, name);

        if (!def || idx < 0)
            fail("info", &err);
        vs_buf_addf(&b, "%zu %zu", t->e[idx].nchildren, vs_snap_tree_descendants(t, idx));
        vs_snapshot_def_free(def);
    } else {
        fprintf(stderr, "driver: unknown mode %s\n", mode);
        exit(2);
    }
    /* time the flush too when there is one: the CLI pays for it */
    if (strcmp(mode, "rebuild") == 0) {
        double t1 = now_ms();

        vs_dom_close(d);
        free(sel);
        vs_buf_reset(&b);
        return t1 - t0;
    }
    vs_dom_close(d);
    free(sel);
    vs_buf_reset(&b);
    return now_ms() - t0;
}

int
main(int argc, char **argv)
{
    const char *root, *dom, *mode, *name = NULL;
    int runs = 20, i;
    vs_error err;
    vs_store *st;
    double *ms;
    struct rusage ru;

    if (argc < 4) {
        fprintf(stderr, "usage: driver ROOT DOMAIN MODE [NAME] [RUNS]\n");
        return 2;
    }
    root = argv[1];
    dom = argv[2];
    mode = argv[3];
    if (argc > 4)
        name = argv[4];
    if (argc > 5)
        runs = atoi(argv[5]);
    if (runs < 1)
        runs = 1;
    if (strcmp(mode, "floor-writes") == 0 || strcmp(mode, "floor-batch") == 0) {
        bool batch = strcmp(mode, "floor-batch") == 0;
        vs_file_batch b;
        long k, count = name ? atol(name) : 500;
        char text[1700], file[32];
        double t0;
        int dfd;

        memset(text, 'x', sizeof(text) - 1);
        text[sizeof(text) - 1] = '\n';
        if ((dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
            perror(root);
            return 1;
        }
        t0 = now_ms();
        vs_file_batch_init(&b, dfd, root);
        for (k = 0; k < count; k++) {
            char *shown;

            snprintf(file, sizeof(file), "f%05ld.xml", k);
            shown = vs_path_join(root, file);
            if (batch ? vs_file_batch_add(&b, file, text, sizeof(text), 0600, &err) < 0
                      : vs_file_write_atomic_at(dfd, file, shown, text, sizeof(text), 0600, &err) < 0)
                fail("write", &err);
            free(shown);
        }
        if (batch && vs_file_batch_commit(&b, VS_SYNC_ALL, &err) < 0)
            fail("sync", &err);
        vs_file_batch_clear(&b);
        printf("%s median_ms=%.2f runs=1 files=%ld\n", mode, now_ms() - t0, count);
        close(dfd);
        return 0;
    }
    if (!(st = vs_store_open(root, 0, &err)))
        fail("store", &err);

    if (strcmp(mode, "delete") == 0) {
        double t0 = now_ms(), t1;
        vs_dom *d;

        if (!name) {
            fprintf(stderr, "driver: delete needs NAME\n");
            return 2;
        }
        if (!(d = vs_dom_open(st, dom, VS_LOCK_EXCLUSIVE, &err)))
            fail("open", &err);
        if (vs_snapshot_delete(d, name, VS_DELETE_METADATA_ONLY, &err) < 0)
            fail("delete", &err);
        vs_dom_close(d);
        t1 = now_ms();
        getrusage(RUSAGE_SELF, &ru);
        printf("delete median_ms=%.2f min_ms=%.2f runs=1 maxrss_kb=%ld\n", t1 - t0, t1 - t0, ru.ru_maxrss);
        vs_store_free(st);
        return 0;
    }

    ms = vs_xmalloc((size_t)runs * sizeof(*ms));
    run_once(st, dom, mode, name);   /* warm the page cache */
    for (i = 0; i < runs; i++)
        ms[i] = run_once(st, dom, mode, name);
    qsort(ms, (size_t)runs, sizeof(*ms), cmp_double);
    getrusage(RUSAGE_SELF, &ru);
    printf("%s median_ms=%.2f min_ms=%.2f runs=%d maxrss_kb=%ld\n", mode,
           runs % 2 ? ms[runs / 2] : (ms[runs / 2 - 1] + ms[runs / 2]) / 2, ms[0], runs, ru.ru_maxrss);
    free(ms);
    vs_store_free(st);
    return 0;
}
