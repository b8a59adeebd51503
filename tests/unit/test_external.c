/* Unit tests: qemu-img additions, the qcow2 header reader, plans and the
 * journal, external snapshot create/revert/delete for every tree shape,
 * crash recovery at every step boundary (simulated by running a prefix of a
 * plan and repairing), and snapshot-check. Real qemu-img and qemu-io on
 * small images in a scratch directory. */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "exec.h"
#include "image_graph.h"
#include "journal.h"
#include "plan.h"
#include "plan_run.h"
#include "qcow2.h"
#include "snapshot_ops.h"
#include "../tap.h"
#include "ext_util.h"

static vs_dom *d;

/* Expected guest data: the live state and each snapshot's. */
typedef struct content {
    char name[64];
    unsigned char reg[NDISKS][NREG];
} content;

static unsigned char live[NDISKS][NREG];
static content saved[64];
static size_t nsaved;
static unsigned char next_pattern = 1;

static void
reset_state(void)
{
    memset(live, 0, sizeof(live));
    memset(saved, 0, sizeof(saved));
    nsaved = 0;
    next_pattern = 1;
}

static int
open_dom(void)
{
    vs_error err;

    vs_error_clear(&err);
    d = vs_dom_open(ext_st, "vm", VS_LOCK_EXCLUSIVE, &err);
    if (!d)
        fprintf(stderr, "open: %s\n", err.msg);
    return d ? 0 : -1;
}

static void
close_dom(void)
{
    vs_dom_close(d);
    d = NULL;
}

/* Write plan p as d's journal, in `phase` with steps [0, done) done. */
static int
journal_put(const vs_plan *p, vs_journal_phase phase, size_t done, vs_error *err)
{
    vs_journal_state st = { phase, done, 0, NULL };
    char *text = vs_journal_encode(p, &st);
    int ret = vs_dom_journal_store(d, text, strlen(text), err);

    free(text);
    return ret;
}

static int
fresh(void)
{
    close_dom();
    ext_teardown();
    reset_state();
    if (ext_setup("vsnap-ext") < 0 || open_dom() < 0) {
        printf("Bail out! cannot set up a scratch domain\n");
        exit(1);
    }
    return 0;
}

static const char *
live_path(int k)
{
    vs_domain_def *def = vs_dom_def(d, NULL);

    return def ? def->disks[k].source : NULL;
}

static const char *
live_fmt(int k)
{
    vs_domain_def *def = vs_dom_def(d, NULL);

    return def && def->disks[k].format ? def->disks[k].format : "raw";
}

/* New data on every disk, in region r. */
static void
write_all(int r)
{
    int k;

    for (k = 0; k < NDISKS; k++) {
        unsigned char p = next_pattern++;

        if (ext_write(live_path(k), live_fmt(k), r, p) == 0)
            live[k][r] = p;
        else
            ok(0, "write region %d of disk %d", r, k);
    }
}

static content *
saved_find(const char *name)
{
    size_t i;

    for (i = 0; i < nsaved; i++)
        if (strcmp(saved[i].name, name) == 0)
            return &saved[i];
    return NULL;
}

static void
saved_drop(const char *name)
{
    content *c = saved_find(name);

    if (c)
        *c = saved[--nsaved];
}

static int
do_create(const char *name, unsigned flags, const char *disks, vs_plan **dry, vs_error *err)
{
    char *xml = vs_xasprintf("<domainsnapshot><name>%s</name>%s</domainsnapshot>", name,
                             disks ? disks : "");
    int rc;

    rc = dry ? vs_snapshot_create_plan(d, xml, strlen(xml), "(test)", flags, NULL, dry, err)
             : vs_snapshot_create(d, xml, strlen(xml), "(test)", flags, NULL, err);
    free(xml);
    return rc;
}

static void
snap(const char *name)
{
    vs_error err;

    vs_error_clear(&err);
    ok(do_create(name, VS_CREATE_DISK_ONLY, NULL, NULL, &err) == 0, "create %s (%s)", name,
       err.msg);
    snprintf(saved[nsaved].name, sizeof(saved[nsaved].name), "%s", name);
    memcpy(saved[nsaved].reg, live, sizeof(live));
    nsaved++;
}

static void
revert(const char *name)
{
    vs_error err;
    content *c = saved_find(name);

    vs_error_clear(&err);
    ok(vs_snapshot_revert(d, name, 0, &err) == 0, "revert to %s (%s)", name, err.msg);
    if (c)
        memcpy(live, c->reg, sizeof(live));
}

static void
del(const char *name, unsigned flags)
{
    vs_error err;

    vs_error_clear(&err);
    ok(vs_snapshot_delete(d, name, flags, &err) == 0, "delete %s (flags %u) (%s)", name, flags,
       err.msg);
}

static char *
current(void)
{
    char *c = vs_dom_current(d);

    return c ? c : vs_xstrdup("-");
}

static char *
parent_of(const char *name)
{
    vs_snapshot_def *def = vs_dom_read_snapshot(d, name, NULL);
    char *p;

    if (!def)
        return vs_xstrdup("(missing)");
    p = vs_xstrdup(def->parent ? def->parent : "-");
    vs_snapshot_def_free(def);
    return p;
}

/* Every snapshot's recorded images read back its own data; the domain's
 * disks read back the live data; every image is clean; nothing is left that
 * nothing refers to; snapshot-check finds nothing. */
static bool
verify_all(const char *what)
{
    bool good = true;
    size_t i;
    int k;
    vs_check_report rep;
    vs_error err;

    for (k = 0; k < NDISKS; k++)
        if (ext_verify(live_path(k), live_fmt(k), live[k]) < 0) {
            printf("#   live data of disk %d differs (%s)\n", k, live_path(k));
            good = false;
        }
    for (i = 0; i < nsaved; i++) {
        vs_snapshot_def *def = vs_dom_read_snapshot(d, saved[i].name, NULL);

        if (!def || !def->dom) {
            printf("#   snapshot %s cannot be read\n", saved[i].name);
            good = false;
            vs_snapshot_def_free(def);
            continue;
        }
        for (k = 0; k < NDISKS && (size_t)k < def->dom->ndisks; k++) {
            const vs_domain_disk *dd = &def->dom->disks[k];

            if (ext_verify(dd->source, dd->format ? dd->format : "raw", saved[i].reg[k]) < 0) {
                printf("#   snapshot %s disk %d (%s) differs\n", saved[i].name, k, dd->source);
                good = false;
            }
        }
        vs_snapshot_def_free(def);
    }
    memset(&rep, 0, sizeof(rep));
    vs_error_clear(&err);
    if (vs_snapshot_check(d, 0, &rep, &err) < 0) {
        printf("#   check failed: %s\n", err.msg);
        good = false;
    }
    for (i = 0; i < rep.n; i++) {
        printf("#   check: %s: %s\n", vs_check_kind_name(rep.items[i].kind), rep.items[i].text);
        good = false;
    }
    vs_check_report_clear(&rep);
    if (vs_dom_journal_exists(d)) {
        printf("#   a journal is left\n");
        good = false;
    }
    ok(good, "%s: every snapshot and the domain read back their own data, check is clean", what);
    return good;
}

static size_t
count_files(void)
{
    char **f = ext_img_files();
    size_t n = vs_strv_len(f);

    vs_strv_free(f);
    return n;
}

/* ---- qemu-img additions and the header reader ---------------------------- */

static void
test_qemu_img(void)
{
    char *base, *ovl, *top;
    vs_image_info info, *chain = NULL;
    vs_image_check ck;
    vs_error err;
    size_t n = 0;
    unsigned char want[NREG];

    fresh();
    base = vs_xasprintf("%s/vda.qcow2", ext_imgdir);
    ovl = vs_xasprintf("%s/ovl.qcow2", ext_imgdir);
    top = vs_xasprintf("%s/top.qcow2", ext_imgdir);
    vs_error_clear(&err);
    ok(vs_qemu_img_create_overlay(ovl, "qcow2", base, "qcow2", &err) == 0, "create overlay (%s)",
       err.msg);
    ok(vs_qcow2_probe(ovl, &info, &err) == 1, "probe finds qcow2");
    is_str(info.full_backing_filename, base, "probe: backing file");
    is_str(info.backing_format, "qcow2", "probe: backing format");
    ok(info.snapshot_tags && !info.snapshot_tags[0], "probe: no tags");
    vs_image_info_clear(&info);
    ok(vs_qemu_img_snapshot_create(base, "t1", &err) == 0 &&
       vs_qemu_img_snapshot_create(base, "second tag", &err) == 0, "two tags");
    ok(vs_qcow2_probe(base, &info, &err) == 1 && info.snapshot_tags &&
       info.snapshot_tags[0] && strcmp(info.snapshot_tags[0], "t1") == 0 &&
       info.snapshot_tags[1] && strcmp(info.snapshot_tags[1], "second tag") == 0 &&
       !info.snapshot_tags[2] && !info.backing_filename, "probe reads the snapshot table");
    vs_image_info_clear(&info);
    {
        char *raw = vs_xasprintf("%s/x.raw", ext_imgdir);

        vs_file_write_atomic(raw, "hello", 5, 0600, NULL);
        ok(vs_qcow2_probe(raw, &info, &err) == 0 && !vs_image_has_magic(raw),
           "probe: not qcow2");
        ok(vs_qcow2_probe("/nonexistent/x", &info, &err) < 0, "probe: missing file fails");
        unlink(raw);
        free(raw);
    }
    ok(vs_qemu_img_snapshot_delete(base, "t1", &err) == 0 &&
       vs_qemu_img_snapshot_delete(base, "second tag", &err) == 0, "tags removed");

    memset(want, 0, sizeof(want));
    ok(ext_write(ovl, "qcow2", 1, 7) == 0, "write into overlay");
    want[1] = 7;
    ok(vs_qemu_img_create_overlay(top, "qcow2", ovl, "qcow2", &err) == 0, "overlay of overlay");
    ok(vs_qemu_img_info_chain(top, false, &chain, &n, &err) == 0 && n == 3,
       "info --backing-chain: three images (%zu)", n);
    vs_image_chain_free(chain, n);
    ok(vs_qemu_img_rebase(top, "qcow2", base, "qcow2", false, &err) == 0, "safe rebase (%s)",
       err.msg);
    ok(ext_verify(top, "qcow2", want) == 0, "safe rebase keeps the content");
    ok(vs_qemu_img_commit(top, "qcow2", NULL, &err) == 0, "commit (%s)", err.msg);
    ok(ext_verify(base, "qcow2", want) == 0, "commit moved the data down");
    ok(ext_verify(top, "qcow2", want) == 0, "commit -d kept the committed image");
    ok(vs_qemu_img_rebase(top, "qcow2", ovl, "qcow2", true, &err) == 0, "rebase -u");
    ok(vs_qcow2_probe(top, &info, &err) == 1 && info.full_backing_filename &&
       strcmp(info.full_backing_filename, ovl) == 0, "rebase -u changed the backing name");
    vs_image_info_clear(&info);
    ok(vs_qemu_img_check(top, "qcow2", &ck, &err) == 0 && ck.clean, "check: clean");
    vs_image_check_clear(&ck);
    ok(vs_qemu_img_check("/nonexistent", "qcow2", &ck, &err) < 0 &&
       strstr(err.msg, "failed to check image '/nonexistent'"), "check: missing image fails: %s",
       err.msg);
    ok(vs_qemu_img_create_overlay(top, "qcow2", "/nonexistent/b", "qcow2", &err) < 0 &&
       strstr(err.msg, "failed to create overlay"), "create on a missing backing fails: %s",
       err.msg);
    {
        const char *a1[] = { vs_qemu_img_prog(), "--version", NULL };
        const char *a2[] = { vs_qemu_img_prog(), "info", "/nonexistent/x", NULL };
        const char *a3[] = { "/nonexistent/prog", NULL };
        const char *const *argvs[] = { a1, a2, a1 };
        const char *const *bad[] = { a1, a3 };
        vs_spawn_result res[3];
        size_t k;

        vs_error_clear(&err);
        ok(vs_spawn_all(argvs, 3, res, &err) == 0 && res[0].status == 0 &&
           res[1].status == 1 && res[2].status == 0 && strstr(res[0].out, "qemu-img") &&
           strstr(res[1].err, "/nonexistent/x"), "spawn_all: three programs at once");
        for (k = 0; k < 3; k++)
            vs_spawn_result_free(&res[k]);
        ok(vs_spawn_all(bad, 2, res, &err) < 0 && res[0].status == 0 &&
           strstr(err.msg, "cannot execute '/nonexistent/prog'"),
           "spawn_all: a program that cannot start fails, the others still run: %s", err.msg);
        for (k = 0; k < 2; k++)
            vs_spawn_result_free(&res[k]);
    }
    {
        char *o1 = vs_xasprintf("%s/j1.qcow2", ext_imgdir), *o2 = vs_xasprintf("%s/j2.qcow2", ext_imgdir);
        vs_qemu_img_job jobs[2] = {
            { VS_QIMG_CREATE_OVERLAY, o1, "qcow2", base, "qcow2", NULL },
            { VS_QIMG_CREATE_OVERLAY, o2, "qcow2", "/nonexistent/b", "qcow2", NULL },
        };

        vs_error_clear(&err);
        ok(vs_qemu_img_run_jobs(jobs, 2, &err) < 0 && vs_file_exists(o1) &&
           strstr(err.msg, "failed to create overlay '") && strstr(err.msg, "j2.qcow2"),
           "run_jobs: both run, the failure is reported: %s", err.msg);
        unlink(o1);
        jobs[1].backing = base;
        ok(vs_qemu_img_run_jobs(jobs, 2, &err) == 0 && vs_file_exists(o1) && vs_file_exists(o2),
           "run_jobs: two overlays at once");
        ok(vs_qcow2_is_empty(o1, &err) == 1, "a new overlay is empty");
        ok(ext_write(o1, "qcow2", 0, 9) == 0 && vs_qcow2_is_empty(o1, &err) == 0,
           "an overlay with data is not");
        ok(vs_qcow2_is_empty("/nonexistent/x", &err) < 0, "is_empty: missing file fails");
        unlink(o1);
        unlink(o2);
        free(o1);
        free(o2);
    }
    free(base);
    free(ovl);
    free(top);
}

/* ---- plans and the journal ------------------------------------------------ */

static void
test_plan_journal(void)
{
    vs_plan *p, *q;
    vs_buf b = VS_BUF_INIT;
    vs_journal_state st;
    vs_error err;
    char *a, *bad, *jdesc;

    fresh();
    a = vs_xasprintf("%s/a.ovl", ext_imgdir);
    bad = vs_xasprintf("%s/b.ovl", ext_imgdir);
    p = vs_plan_new("snapshot-create", "vm", NULL, "s1");
    vs_plan_create_image(p, a, "qcow2", live_path(0), "qcow2", "first");
    vs_plan_create_image(p, bad, "qcow2", "/nonexistent/base", "qcow2", NULL);
    vs_plan_commit_point(p);
    vs_plan_set_current(p, "s1", NULL, NULL);
    vs_plan_format(p, &b);
    ok(strstr(vs_buf_str(&b), "Plan for snapshot-create of snapshot 's1' on domain 'vm'") &&
       strstr(vs_buf_str(&b), "  1. create   ") && strstr(vs_buf_str(&b), "-- commit point") &&
       strstr(vs_buf_str(&b), "3. metadata: current snapshot becomes 's1'"),
       "dry-run text");
    vs_buf_reset(&b);

    vs_error_clear(&err);
    ok(journal_put(p, VS_JOURNAL_COMMITTED, 2, &err) == 0, "journal written");
    ok(vs_plan_load_journal(d, &q, &st, &err) == 0 && q && q->n == 3 &&
       st.phase == VS_JOURNAL_COMMITTED && st.done == 2 && q->commit == 2 &&
       strcmp(q->steps[0].path, a) == 0 && strcmp(q->steps[0].why, "first") == 0 &&
       strcmp(q->steps[2].name, "s1") == 0, "journal read back");
    vs_plan_free(q);
    vs_journal_state_clear(&st);
    jdesc = vs_plan_describe_interrupted(d, &err);
    is_str(jdesc, "interrupted snapshot-create of snapshot 's1' (committed; 2 of 3 steps "
           "recorded as done)", "journal description");
    free(jdesc);
    ok(vs_plan_refuse_interrupted(d, &err) < 0 &&
       strstr(err.msg, "run 'vsnap snapshot-check vm --repair'"), "journal refuses: %s", err.msg);
    ok(vs_plan_execute(p, d, &err) < 0, "a plan does not run over a journal");
    ok(vs_dom_journal_remove(d, &err) == 0 && !vs_dom_journal_exists(d), "journal cleared");
    {
        char *jp = vs_path_join(d->dir, "journal");

        vs_file_write_atomic(jp, "{\"vsnap-journal\": 9}", 20, 0600, NULL);
        ok(vs_plan_load_journal(d, &q, &st, &err) < 0 &&
           strstr(err.msg, "cannot be used"), "a damaged journal is an error: %s", err.msg);
        unlink(jp);
        free(jp);
    }

    /* The second step fails before the commit point: the first is undone. */
    vs_error_clear(&err);
    ok(vs_plan_execute(p, d, &err) < 0, "plan fails at step 2: %s", err.msg);
    ok(!vs_file_exists(a), "step 1 undone");
    ok(!vs_dom_journal_exists(d), "no journal after a rollback");
    vs_plan_free(p);

    /* A failure after the commit point keeps the journal. */
    p = vs_plan_new("snapshot-delete", "vm", NULL, "x");
    vs_plan_commit_point(p);
    vs_plan_remove_image(p, "/nonexistent/img", NULL);
    vs_plan_write_snapshot(p, "x", "<not xml", NULL, NULL);
    vs_error_clear(&err);
    ok(vs_plan_execute(p, d, &err) < 0 && strstr(err.msg, "is committed but not finished") &&
       vs_dom_journal_exists(d), "failure after the commit point keeps the journal: %s",
       err.msg);
    vs_buf_reset(&b);
    ok(vs_plan_repair(d, &b, &err) < 0 && vs_dom_journal_exists(d),
       "repair fails while the step still fails");
    vs_dom_journal_remove(d, NULL);
    vs_plan_free(p);
    vs_buf_reset(&b);
    p = vs_plan_new("snapshot-delete", "vm", NULL, "x");
    vs_plan_commit_point(p);
    vs_plan_commit_image(p, "/nonexistent/img", "qcow2", NULL, NULL);
    vs_error_clear(&err);
    ok(vs_plan_execute(p, d, &err) == 0 && !vs_dom_journal_exists(d),
       "a commit whose image is gone counts as done (%s)", err.msg);
    vs_plan_free(p);
    free(a);
    free(bad);
}

/* ---- create ------------------------------------------------------------- */

static void
test_create(void)
{
    vs_error err;
    vs_snapshot_def *def;
    vs_plan *dry = NULL;
    vs_buf b = VS_BUF_INIT;
    char *c, *vda_s1, *vdb_s1, *orig_a, *f;
    size_t nfiles;

    fresh();
    orig_a = vs_xstrdup(live_path(0));
    vda_s1 = vs_xasprintf("%s/vda.s1", ext_imgdir);
    vdb_s1 = vs_xasprintf("%s/vdb.s1", ext_imgdir);
    write_all(0);

    nfiles = count_files();
    vs_error_clear(&err);
    ok(do_create("s1", VS_CREATE_DISK_ONLY, NULL, &dry, &err) == 0 && dry, "dry run of create");
    if (dry) {
        vs_plan_format(dry, &b);
        ok(strstr(vs_buf_str(&b), vda_s1) && strstr(vs_buf_str(&b), "write the domain"),
           "dry run names the new overlay");
        vs_plan_free(dry);
        vs_buf_reset(&b);
    }
    ok(count_files() == nfiles && !vs_dom_has_snapshot(d, "s1"), "dry run changed nothing");

    snap("s1");
    is_str(live_path(0), vda_s1, "vda switched to its overlay");
    is_str(live_path(1), vdb_s1, "vdb switched to its overlay");
    is_str(live_fmt(0), "qcow2", "overlay format");
    def = vs_dom_read_snapshot(d, "s1", &err);
    ok(def && def->dom && strcmp(def->dom->disks[0].source, orig_a) == 0,
       "the snapshot records the images as they were");
    ok(def && def->ndisks == 2 && def->disks[0].snapshot == VS_LOC_EXTERNAL &&
       strcmp(def->disks[0].source, vda_s1) == 0 && def->state == VS_STATE_SHUTOFF &&
       def->memory == VS_LOC_NO, "its <disks> name the overlays; state shutoff, memory no");
    vs_snapshot_def_free(def);
    c = current();
    is_str(c, "s1", "current is s1");
    free(c);

    write_all(1);
    /* a file that is there already */
    f = vs_xasprintf("%s/vda.s2", ext_imgdir);
    vs_file_write_atomic(f, "x", 1, 0600, NULL);
    nfiles = count_files();
    vs_error_clear(&err);
    ok(do_create("s2", VS_CREATE_DISK_ONLY, NULL, NULL, &err) < 0, "existing file refused");
    ok(strncmp(err.msg, "unsupported configuration: external snapshot file for disk vda already "
               "exists and is not a block device: ", 99) == 0, "...message: %s", err.msg);
    unlink(f);
    free(f);
    ok(count_files() == nfiles - 1 && !vs_dom_has_snapshot(d, "s2"), "nothing created");

    vs_error_clear(&err);
    ok(do_create("s2", VS_CREATE_DISK_ONLY,
                 "<disks><disk name='vda'><driver type='raw'/></disk></disks>", NULL, &err) < 0,
       "raw overlay refused");
    is_str(err.msg, "unsupported configuration: external snapshot format for disk vda is "
           "unsupported: raw", "...message");
    vs_error_clear(&err);
    ok(do_create("s2", 0, "<disks><disk name='vda' snapshot='external'/>"
                          "<disk name='vdb' snapshot='internal'/></disks>", NULL, &err) < 0 &&
       strcmp(err.msg, "unsupported configuration: mixing internal and external targets for a "
              "snapshot is not yet supported") == 0, "mixing refused: %s", err.msg);
    vs_error_clear(&err);
    ok(do_create("s1", VS_CREATE_DISK_ONLY, "<disks><disk name='vda' snapshot='external'>"
                 "<source file='/nonexistent-dir/x'/></disk><disk name='vdb' snapshot='no'/>"
                 "</disks>", NULL, &err) < 0 &&
       strcmp(err.msg, "operation failed: domain moment s1 already exists") == 0,
       "duplicate name: %s", err.msg);

    /* --reuse-external */
    f = vs_xasprintf("%s/reuse.qcow2", ext_imgdir);
    {
        char *xml = vs_xasprintf("<disks><disk name='vda' snapshot='external'><source file='%s'/>"
                                 "</disk><disk name='vdb' snapshot='no'/></disks>", f);

        vs_error_clear(&err);
        ok(do_create("r1", VS_CREATE_DISK_ONLY | VS_CREATE_REUSE_EXT, xml, NULL, &err) < 0,
           "reuse of a missing file refused");
        ok(strstr(err.msg, "missing existing file for disk vda: ") &&
           strstr(err.msg, "No such file or directory"), "...message: %s", err.msg);
        vs_qemu_img_create_overlay(f, "qcow2", orig_a, "qcow2", NULL);
        vs_error_clear(&err);
        ok(do_create("r1", VS_CREATE_DISK_ONLY | VS_CREATE_REUSE_EXT, xml, NULL, &err) < 0 &&
           strstr(err.msg, "its backing file is '") && strstr(err.msg, "not the disk's current image"),
           "reuse of a file on another image refused: %s", err.msg);
        unlink(f);
        vs_qemu_img_create_overlay(f, "qcow2", live_path(0), "qcow2", NULL);
        vs_error_clear(&err);
        ok(do_create("r1", VS_CREATE_DISK_ONLY | VS_CREATE_REUSE_EXT, xml, NULL, &err) == 0,
           "reuse of a proper overlay (%s)", err.msg);
        is_str(live_path(0), f, "domain uses the reused file");
        is_str(live_path(1), vdb_s1, "vdb (snapshot='no') unchanged");
        snprintf(saved[nsaved].name, sizeof(saved[nsaved].name), "r1");
        memcpy(saved[nsaved].reg, live, sizeof(live));
        nsaved++;
        free(xml);
    }
    free(f);
    write_all(2);
    /* the 'no' disk keeps being written; r1 only promises vda */
    saved_find("r1")->reg[1][2] = live[1][2];
    c = parent_of("r1");
    is_str(c, "s1", "parent of r1");
    free(c);
    verify_all("after create");
    free(vda_s1);
    free(vdb_s1);
    free(orig_a);
}

/* ---- revert ------------------------------------------------------------- */

static void
test_revert(void)
{
    vs_snapshot_def *def;
    vs_error err;
    vs_plan *dry = NULL;
    size_t nfiles;
    char *c, *own;

    fresh();
    write_all(0);
    snap("s1");
    write_all(1);
    snap("s2");
    write_all(2);
    own = vs_xstrdup(live_path(0));

    /* to the current leaf: its own overlay, recreated empty */
    revert("s2");
    is_str(live_path(0), own, "leaf revert uses the snapshot's own overlay again");
    verify_all("revert to the current leaf");

    /* to a snapshot with children: fresh overlays, in <revertDisks> */
    write_all(3);
    nfiles = count_files();
    vs_error_clear(&err);
    ok(vs_snapshot_revert_plan(d, "s1", 0, &dry, &err) == 0 && dry, "dry run of revert");
    vs_plan_free(dry);
    ok(count_files() == nfiles, "dry run changed nothing");
    revert("s1");
    def = vs_dom_read_snapshot(d, "s1", NULL);
    ok(def && def->nrevert_disks == 2 && def->revert_disks[0].source &&
       strcmp(def->revert_disks[0].source, live_path(0)) == 0,
       "revertDisks record the new overlays");
    vs_snapshot_def_free(def);
    ok(strcmp(live_path(0), own) != 0, "new overlay is another file");
    c = current();
    is_str(c, "s1", "current s1");
    free(c);
    verify_all("revert to a snapshot with children");

    /* again, while at it: the previous revert overlays go */
    write_all(4);
    revert("s1");
    verify_all("revert to the current snapshot with children");

    /* to the leaf, away from revert overlays */
    revert("s2");
    def = vs_dom_read_snapshot(d, "s1", NULL);
    ok(def && def->nrevert_disks == 0, "revertDisks of s1 cleared when leaving it");
    vs_snapshot_def_free(def);
    verify_all("revert back to the leaf");

    /* a child of s1 from its revert state */
    revert("s1");
    write_all(5);
    snap("s3");
    def = vs_dom_read_snapshot(d, "s1", NULL);
    ok(def && def->nrevert_disks == 0, "a new snapshot takes over the revert overlays");
    vs_snapshot_def_free(def);
    c = parent_of("s3");
    is_str(c, "s1", "s3 is a child of s1");
    free(c);
    write_all(6);
    verify_all("snapshot from a revert state");
    revert("s2");
    verify_all("revert from the new branch to the old one");

    vs_error_clear(&err);
    ok(vs_snapshot_revert(d, "nope", 0, &err) < 0 &&
       strcmp(err.msg, "Domain snapshot not found: no domain snapshot with matching name 'nope'") == 0,
       "unknown snapshot");
    free(own);
}

/* ---- delete, every shape --------------------------------------------------- */

/*
 * s0 -> s1 -> s2 -> s3
 *          \-> s4 (current; the domain runs on top of it)
 */
static void
build_tree(void)
{
    fresh();
    write_all(0);
    snap("s0");
    write_all(1);
    snap("s1");
    write_all(2);
    snap("s2");
    write_all(3);
    snap("s3");
    write_all(4);
    revert("s1");
    write_all(5);
    snap("s4");
    write_all(6);
}

static void
expect_current(const char *want)
{
    char *c = current();

    is_str(c, want, "current is %s", want);
    free(c);
}

static void
expect_parent(const char *name, const char *want)
{
    char *p = parent_of(name);

    is_str(p, want, "parent of %s is %s", name, want);
    free(p);
}

static void
test_delete_shapes(void)
{
    size_t before;

    build_tree();
    verify_all("tree built");

    /* leaf, current */
    del("s4", 0);
    saved_drop("s4");
    expect_current("s1");
    verify_all("delete leaf current");

    build_tree();
    del("s3", 0);
    saved_drop("s3");
    expect_current("s4");
    verify_all("delete leaf not current");

    build_tree();
    del("s2", 0);
    saved_drop("s2");
    expect_parent("s3", "s1");
    verify_all("delete inner off the active chain");

    build_tree();
    revert("s3");
    write_all(7);
    del("s2", 0);
    saved_drop("s2");
    expect_parent("s3", "s1");
    expect_current("s3");
    verify_all("delete inner on the active chain");

    build_tree();
    del("s1", 0);
    saved_drop("s1");
    expect_parent("s2", "s0");
    expect_parent("s4", "s0");
    verify_all("delete with several children");

    build_tree();
    del("s0", 0);
    saved_drop("s0");
    expect_parent("s1", "-");
    verify_all("delete the root (one child)");
    del("s1", 0);
    saved_drop("s1");
    verify_all("delete a root with several children");

    build_tree();
    before = count_files();
    del("s1", VS_DELETE_CHILDREN);
    saved_drop("s1");
    saved_drop("s2");
    saved_drop("s3");
    saved_drop("s4");
    expect_current("s0");
    ok(count_files() < before, "--children removed images (%zu -> %zu)", before, count_files());
    verify_all("delete --children");

    build_tree();
    del("s1", VS_DELETE_CHILDREN_ONLY);
    saved_drop("s2");
    saved_drop("s3");
    saved_drop("s4");
    expect_current("s1");
    verify_all("delete --children-only");
    del("s0", VS_DELETE_CHILDREN);
    saved_drop("s0");
    saved_drop("s1");
    expect_current("-");
    ok(count_files() == NDISKS, "deleting every snapshot leaves the original images (%zu)",
       count_files());
    verify_all("delete everything");

    build_tree();
    before = count_files();
    del("s2", VS_DELETE_METADATA_ONLY);
    ok(count_files() == before, "--metadata touches no image");
    expect_parent("s3", "s1");
}

/* ---- crash at every step boundary ---------------------------------------- */

typedef int (*plan_fn)(vs_plan **dry, vs_error *err);

static const char *shape_target;
static unsigned shape_flags;

static int
plan_delete(vs_plan **dry, vs_error *err)
{
    return vs_snapshot_delete_plan(d, shape_target, shape_flags, dry, err);
}

static int
plan_revert(vs_plan **dry, vs_error *err)
{
    return vs_snapshot_revert_plan(d, shape_target, 0, dry, err);
}

static int
plan_create(vs_plan **dry, vs_error *err)
{
    return do_create(shape_target, VS_CREATE_DISK_ONLY, NULL, dry, err);
}

/*
 * For every prefix of the plan: run the prefix, leave the journal a crash
 * would leave, repair, and check that the domain ended as before (crash
 * before the commit point) or as after (crash after it).
 */
static unsigned char saved_live[NDISKS][NREG];
static content saved_saved[64];
static size_t saved_nsaved;

/* Keep the fixture as built, to start each crash from it again. */
static void
fixture_save(const char *copy)
{
    close_dom();
    ext_rm_rf(copy);
    ext_copy_tree(ext_scratch, copy);
    memcpy(saved_live, live, sizeof(live));
    memcpy(saved_saved, saved, sizeof(saved));
    saved_nsaved = nsaved;
    open_dom();
}

static void
fixture_restore(const char *copy)
{
    close_dom();
    ext_rm_rf(ext_scratch);
    ext_copy_tree(copy, ext_scratch);
    memcpy(live, saved_live, sizeof(live));
    memcpy(saved, saved_saved, sizeof(saved));
    nsaved = saved_nsaved;
    open_dom();
}

static void
crash_everywhere(const char *what, void (*build)(void), plan_fn fn, void (*after)(void))
{
    vs_plan *p = NULL;
    vs_error err;
    size_t n, k, again;
    char *copy;

    build();
    copy = vs_xasprintf("%s.fixture", ext_scratch);
    fixture_save(copy);
    vs_error_clear(&err);
    if (fn(&p, &err) < 0 || !p) {
        ok(0, "%s: plan (%s)", what, err.msg);
        return;
    }
    n = p->n;
    vs_plan_free(p);
    for (k = 0; k <= n; k++) {
        for (again = 0; again < 2; again++) {
            vs_buf rep = VS_BUF_INIT;
            bool committed;
            size_t i;
            bool good = true;

            /* again = 1: step k also ran (perhaps only partly) and is replayed */
            if (again && k == n)
                continue;
            fixture_restore(copy);
            vs_error_clear(&err);
            p = NULL;
            if (fn(&p, &err) < 0 || !p) {
                ok(0, "%s: plan (%s)", what, err.msg);
                return;
            }
            committed = p->commit == 0 ? true : k >= p->commit;
            for (i = 0; i < k + again && good; i++) {
                vs_exec_ctx x = { d, p, NULL, NULL, false };

                if (vs_executor_for(p->steps[i].kind)->run(&x, &p->steps[i], &err) < 0) {
                    printf("#   step %zu failed: %s\n", i + 1, err.msg);
                    good = false;
                }
            }
            if (journal_put(p, committed ? VS_JOURNAL_COMMITTED : VS_JOURNAL_PREPARED, k,
                            &err) < 0)
                good = false;
            vs_plan_free(p);
            if (vs_plan_repair(d, &rep, &err) < 0) {
                printf("#   repair: %s\n", err.msg);
                good = false;
            }
            vs_buf_reset(&rep);
            if (committed)
                after();
            ok(good, "%s: crash before step %zu%s: repair ran", what, k + 1,
               again ? " (replayed)" : "");
            verify_all(what);
        }
    }
    ext_rm_rf(copy);
    free(copy);
}

static void
build_chain(void)
{
    fresh();
    write_all(0);
    snap("s1");
    write_all(1);
    snap("s2");
    write_all(2);
    revert("s1");
    write_all(3);
    snap("s3");
    write_all(4);
}

static void
after_delete_s1(void)
{
    saved_drop("s1");
}

static void
after_revert_s2(void)
{
    memcpy(live, saved_find("s2")->reg, sizeof(live));
}

static void
after_create_s9(void)
{
    snprintf(saved[nsaved].name, sizeof(saved[nsaved].name), "s9");
    memcpy(saved[nsaved].reg, live, sizeof(live));
    nsaved++;
}

static void
after_delete_s3(void)
{
    saved_drop("s3");
}

static void
test_crashes(void)
{
    shape_target = "s1";
    shape_flags = 0;
    crash_everywhere("delete with two children", build_chain, plan_delete, after_delete_s1);
    shape_target = "s3";
    crash_everywhere("delete leaf current", build_chain, plan_delete, after_delete_s3);
    shape_target = "s2";
    crash_everywhere("revert to a leaf", build_chain, plan_revert, after_revert_s2);
    shape_target = "s9";
    crash_everywhere("create", build_chain, plan_create, after_create_s9);
}

/* ---- mixed internal and external ------------------------------------------ */

static void
test_mixed(void)
{
    vs_error err;
    char *name = NULL;
    const char *xml = "<domainsnapshot><name>i1</name></domainsnapshot>";

    fresh();
    write_all(0);
    vs_error_clear(&err);
    ok(vs_snapshot_create(d, xml, strlen(xml), "(test)", 0, &name, &err) == 0,
       "internal snapshot i1 (%s)", err.msg);
    free(name);
    snprintf(saved[nsaved].name, sizeof(saved[nsaved].name), "i1");
    memcpy(saved[nsaved].reg, live, sizeof(live));
    nsaved++;
    write_all(1);
    snap("e1");
    write_all(2);
    vs_error_clear(&err);
    ok(vs_snapshot_revert(d, "i1", 0, &err) < 0 &&
       strstr(err.msg, "cannot revert to internal snapshot 'i1'"),
       "revert to an internal snapshot under an external one refused: %s", err.msg);
    /* i1's data lives in a tag: verify_all reads current images, so forget it */
    saved_drop("i1");
    verify_all("mixed tree");
    del("e1", 0);
    saved_drop("e1");
    verify_all("external child of an internal snapshot deleted");
    vs_error_clear(&err);
    ok(vs_snapshot_revert(d, "i1", 0, &err) == 0, "now i1 can be reverted to (%s)", err.msg);
    live[0][0] = 1;
    live[1][0] = 2;
    live[0][1] = live[1][1] = live[0][2] = live[1][2] = 0;
    verify_all("after the internal revert");
    ok(count_files() == NDISKS, "only the original images are left");
}

/* ---- snapshot-check ------------------------------------------------------- */

static void
test_check(void)
{
    vs_check_report rep;
    vs_error err;
    char *stray, *tmp, *jp;
    vs_snapshot_def *def;
    bool missing = false, unref = false, tmpf = false, tag = false, journal = false;
    size_t i;

    fresh();
    write_all(0);
    snap("s1");
    write_all(1);
    snap("s2");
    stray = vs_xasprintf("%s/stray.qcow2", ext_imgdir);
    {
        vs_domain_def *dd = vs_dom_def(d, NULL);

        char *ov = vs_xasprintf("%s/vda.s1", ext_imgdir);

        tmp = vs_tmp_image_name(ov, dd->uuid);
        free(ov);
    }
    vs_qemu_img_create_overlay(stray, "qcow2", live_path(0), "qcow2", NULL);
    vs_file_write_atomic(tmp, "x", 1, 0600, NULL);
    def = vs_dom_read_snapshot(d, "s1", NULL);
    vs_qemu_img_snapshot_create(def->dom->disks[1].source, "ghost", NULL);
    unlink(def->dom->disks[0].source);
    jp = vs_path_join(d->dir, "journal");
    {
        const char *j = "{\"vsnap-journal\":1,\"operation\":\"snapshot-delete\","
                        "\"domain\":\"vm\",\"snapshot\":\"s1\",\"phase\":\"prepared\","
                        "\"commit\":0,\"done\":0,\"steps\":[]}";

        vs_file_write_atomic(jp, j, strlen(j), 0600, NULL);
    }
    memset(&rep, 0, sizeof(rep));
    vs_error_clear(&err);
    ok(vs_snapshot_check(d, 0, &rep, &err) == 0, "check runs (%s)", err.msg);
    for (i = 0; i < rep.n; i++) {
        const char *t = rep.items[i].text;

        printf("# %s: %s\n", vs_check_kind_name(rep.items[i].kind), t);
        if (rep.items[i].kind == VS_CHECK_MISSING && strstr(t, def->dom->disks[0].source))
            missing = true;
        if (rep.items[i].kind == VS_CHECK_UNREFERENCED && strstr(t, stray))
            unref = true;
        if (rep.items[i].kind == VS_CHECK_UNREFERENCED && strstr(t, tmp))
            tmpf = true;
        if (rep.items[i].kind == VS_CHECK_INTERNAL && strstr(t, "'ghost'"))
            tag = true;
        if (rep.items[i].kind == VS_CHECK_JOURNAL)
            journal = true;
    }
    ok(missing, "check: missing image");
    ok(unref, "check: unreferenced image file");
    ok(tmpf, "check: leftover temporary file");
    ok(tag, "check: internal snapshot nobody knows");
    ok(journal, "check: interrupted operation");
    ok(vs_file_exists(jp) && vs_file_exists(tmp), "check without --repair changes nothing");
    vs_check_report_clear(&rep);
    memset(&rep, 0, sizeof(rep));
    ok(vs_snapshot_check(d, VS_CHECK_REPAIR | VS_CHECK_NO_QEMU, &rep, &err) == 0 &&
       !vs_file_exists(jp) && !vs_file_exists(tmp) && rep.repaired &&
       vs_strv_len(rep.repaired) == 2, "repair: journal rolled back, leftover removed");
    vs_check_report_clear(&rep);
    vs_snapshot_def_free(def);
    free(jp);
    free(stray);
    free(tmp);
}

int
main(void)
{
    test_qemu_img();
    test_plan_journal();
    test_create();
    test_revert();
    test_delete_shapes();
    test_mixed();
    test_check();
    test_crashes();
    close_dom();
    ext_teardown();
    return tap_done();
}
