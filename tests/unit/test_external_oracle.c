/*
 * The content oracle for external snapshots. A domain with two qcow2 disks;
 * before every snapshot a distinct pattern goes to each disk (qemu-io, one
 * byte per 64 KiB region). A random tree of 10 to 30 snapshots is built from
 * creates and reverts, then a random sequence of reverts, deletes (plain,
 * --children, --children-only, any tree shape), creates and writes runs.
 * After each step: every remaining snapshot's images read back exactly its
 * own patterns, the domain's disks read back the live data, every image
 * passes `qemu-img check`, snapshot-check finds nothing (no image left that
 * nothing refers to, no missing file, chains as the metadata says), and
 * parent links and the current snapshot are what B.6 says. At the end of each
 * seed the domain is reverted to every remaining snapshot and read back.
 *
 * A fifth of the snapshots (VSNAP_ORACLE_MIXED percent) are internal, so the
 * trees mix both kinds: their data is in the images' snapshot tables (read
 * with `qemu-img convert -l snapshot.name=...`); the one refusal allowed is a
 * revert to an internal snapshot whose image external snapshots have since
 * been built on.
 *
 * Environment: VSNAP_ORACLE_SEEDS ("7", "1-50"; default 7), VSNAP_ORACLE_STEPS
 * (steps after the tree is built; default 24), VSNAP_ORACLE_MIXED (default 20).
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "journal.h"
#include "snapshot_ops.h"
#include "../tap.h"
#include "ext_util.h"

#define MAXSNAP 128

typedef struct osnap {
    char name[16];
    int parent;                      /* index, -1 = root */
    bool alive;
    bool internal;                   /* its data is in the images' snapshot tables */
    unsigned char reg[NDISKS][NREG];
} osnap;

static osnap snaps[MAXSNAP];
static int nsnaps, current;
static unsigned char live[NDISKS][NREG];
static unsigned char next_pat;
static uint64_t rng;
static vs_dom *d;
static unsigned long seed;
static int step_no;

static uint64_t
rnd(void)
{
    /* xorshift64*: reproducible from the seed alone */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ULL;
}

static int
pick(int n)
{
    return (int)(rnd() % (uint64_t)n);
}

static int
pick_alive(void)
{
    int alive[MAXSNAP], n = 0, i;

    for (i = 0; i < nsnaps; i++)
        if (snaps[i].alive)
            alive[n++] = i;
    return n ? alive[pick(n)] : -1;
}

static int
count_alive(void)
{
    int i, n = 0;

    for (i = 0; i < nsnaps; i++)
        n += snaps[i].alive;
    return n;
}

static bool fail(const char *fmt, ...) VS_PRINTF(1, 2);

static bool
fail(const char *fmt, ...)
{
    va_list ap;

    printf("#   seed %lu step %d: ", seed, step_no);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    return false;
}

static bool
write_live(void)
{
    vs_domain_def *def = vs_dom_def(d, NULL);
    int k, r = pick(NREG);

    for (k = 0; k < NDISKS; k++) {
        unsigned char p = (unsigned char)(1 + next_pat++ % 250);

        if (ext_write(def->disks[k].source, def->disks[k].format, r, p) < 0)
            return fail("write to %s failed", def->disks[k].source);
        live[k][r] = p;
    }
    return true;
}

static bool
do_create(bool internal)
{
    osnap *s = &snaps[nsnaps];
    char *xml, *name = NULL;
    vs_error err;
    int rc;

    if (nsnaps >= MAXSNAP)
        return true;
    if (!write_live())
        return false;
    snprintf(s->name, sizeof(s->name), "%c%d", internal ? 'i' : 's', nsnaps);
    xml = vs_xasprintf("<domainsnapshot><name>%s</name></domainsnapshot>", s->name);
    vs_error_clear(&err);
    rc = vs_snapshot_create(d, xml, strlen(xml), "(oracle)",
                            internal ? 0 : VS_CREATE_DISK_ONLY, &name, &err);
    free(xml);
    free(name);
    if (rc < 0)
        return fail("create %s: %s", s->name, err.msg);
    s->parent = current;
    s->alive = true;
    s->internal = internal;
    memcpy(s->reg, live, sizeof(live));
    current = nsnaps++;
    /* the next writes land above the new snapshot */
    return write_live();
}

static int refused;

static bool
do_revert(int i)
{
    vs_error err;

    vs_error_clear(&err);
    if (vs_snapshot_revert(d, snaps[i].name, 0, &err) < 0) {
        /* the one refusal a mixed tree may give, leaving everything as it was */
        if (snaps[i].internal && strstr(err.msg, "cannot revert to internal snapshot")) {
            refused++;
            return true;
        }
        return fail("revert to %s: %s", snaps[i].name, err.msg);
    }
    memcpy(live, snaps[i].reg, sizeof(live));
    current = i;
    return true;
}

static bool
is_descendant(int i, int anc)
{
    int steps = 0;

    for (i = snaps[i].parent; i >= 0 && steps++ < MAXSNAP; i = snaps[i].parent)
        if (i == anc)
            return true;
    return false;
}

static bool
do_delete(int i, unsigned flags)
{
    vs_error err;
    int j, up = snaps[i].parent;
    bool cur_gone = false;

    vs_error_clear(&err);
    if (vs_snapshot_delete(d, snaps[i].name, flags, &err) < 0)
        return fail("delete %s: %s", snaps[i].name, err.msg);
    if (flags & (VS_DELETE_CHILDREN | VS_DELETE_CHILDREN_ONLY)) {
        for (j = 0; j < nsnaps; j++)
            if (snaps[j].alive && is_descendant(j, i)) {
                cur_gone |= j == current;
                snaps[j].alive = false;
            }
    }
    if (!(flags & VS_DELETE_CHILDREN_ONLY)) {
        for (j = 0; j < nsnaps; j++)
            if (snaps[j].alive && snaps[j].parent == i)
                snaps[j].parent = up;
        cur_gone |= i == current;
        snaps[i].alive = false;
        if (cur_gone)
            current = up;
    } else if (cur_gone) {
        current = i;
    }
    return true;
}

static bool
verify(bool deep)
{
    vs_domain_def *def = vs_dom_def(d, NULL);
    vs_check_report rep;
    vs_error err;
    bool good = true;
    char *cur;
    size_t n;
    int i, k;

    for (k = 0; k < NDISKS; k++)
        if (ext_verify(def->disks[k].source, def->disks[k].format, live[k]) < 0)
            good = fail("the domain's disk %s does not hold the live data",
                        def->disks[k].target);
    cur = vs_dom_current(d);
    if ((current < 0) != (cur == NULL) || (cur && strcmp(cur, snaps[current].name) != 0))
        good = fail("current is %s, expected %s", cur ? cur : "-",
                    current >= 0 ? snaps[current].name : "-");
    free(cur);
    for (i = 0; i < nsnaps; i++) {
        vs_snapshot_def *sd;

        if (!snaps[i].alive) {
            if (vs_dom_has_snapshot(d, snaps[i].name))
                good = fail("%s should be gone", snaps[i].name);
            continue;
        }
        if (!(sd = vs_dom_read_snapshot(d, snaps[i].name, NULL)) || !sd->dom) {
            good = fail("%s cannot be read", snaps[i].name);
            vs_snapshot_def_free(sd);
            continue;
        }
        if ((snaps[i].parent < 0) != (sd->parent == NULL) ||
            (sd->parent && strcmp(sd->parent, snaps[snaps[i].parent].name) != 0))
            good = fail("parent of %s is wrong (%s)", snaps[i].name, sd->parent ? sd->parent : "-");
        for (k = 0; k < NDISKS && snaps[i].internal; k++) {
            const vs_domain_disk *dd = &sd->dom->disks[k];

            if (ext_verify_tag(dd->source, snaps[i].name, snaps[i].reg[k]) < 0)
                good = fail("%s: the internal snapshot in %s does not hold its data",
                            snaps[i].name, dd->source);
        }
        for (k = 0; k < NDISKS && !snaps[i].internal; k++) {
            const vs_domain_disk *dd = &sd->dom->disks[k];

            if (ext_verify(dd->source, dd->format ? dd->format : "raw", snaps[i].reg[k]) < 0)
                good = fail("%s: its image %s does not hold its data", snaps[i].name, dd->source);
        }
        vs_snapshot_def_free(sd);
    }
    memset(&rep, 0, sizeof(rep));
    vs_error_clear(&err);
    if (vs_snapshot_check(d, deep ? 0 : VS_CHECK_NO_QEMU, &rep, &err) < 0)
        good = fail("snapshot-check: %s", err.msg);
    for (n = 0; n < rep.n; n++)
        good = fail("snapshot-check: %s: %s", vs_check_kind_name(rep.items[n].kind),
                    rep.items[n].text);
    vs_check_report_clear(&rep);
    if (vs_journal_exists(d))
        good = fail("a journal is left");
    return good;
}

static int mixed;   /* percent of creates that are internal */

static bool
run_seed(unsigned long s, int steps)
{
    int target, i, fails = 0;
    vs_error err;
    bool good = true;

    seed = s;
    rng = s * 0x9e3779b97f4a7c15ULL + 1;
    memset(snaps, 0, sizeof(snaps));
    memset(live, 0, sizeof(live));
    nsnaps = 0;
    refused = 0;
    current = -1;
    next_pat = (unsigned char)s;
    if (ext_setup("vsnap-oracle") < 0)
        return fail("setup failed");
    vs_error_clear(&err);
    if (!(d = vs_dom_open(ext_st, "vm", VS_LOCK_EXCLUSIVE, &err))) {
        ext_teardown();
        return fail("open: %s", err.msg);
    }

    /* a random tree of 10 to 30 snapshots, branching through reverts */
    target = 10 + pick(21);
    step_no = 0;
    good = write_live();
    while (good && nsnaps < target) {
        if (nsnaps > 1 && pick(10) < 3)
            good = do_revert(pick_alive()) && write_live();
        else
            good = do_create(pick(100) < mixed);
    }
    good = good && verify(true);
    ok(good, "seed %lu: a tree of %d snapshots built and consistent", s, nsnaps);

    for (step_no = 1; good && step_no <= steps; step_no++) {
        int r = pick(100), i2 = pick_alive();
        const char *what;

        if (i2 < 0 || r < 15) {
            what = "create";
            good = do_create(pick(100) < mixed);
        } else if (r < 40) {
            what = "revert";
            good = do_revert(i2) && write_live();
        } else if (r < 48) {
            what = "write";
            good = write_live();
        } else if (r < 58) {
            what = "delete --children";
            good = do_delete(i2, VS_DELETE_CHILDREN);
        } else if (r < 68) {
            what = "delete --children-only";
            good = do_delete(i2, VS_DELETE_CHILDREN_ONLY);
        } else {
            what = "delete";
            good = do_delete(i2, 0);
        }
        good = good && verify(true);
        if (!good)
            fails++;
        ok(good, "seed %lu step %d: %s%s%s, %d snapshots left", s, step_no, what,
           i2 >= 0 && strcmp(what, "create") && strcmp(what, "write") ? " " : "",
           i2 >= 0 && strcmp(what, "create") && strcmp(what, "write") ? snaps[i2].name : "",
           count_alive());
    }

    /* the last word: revert to every snapshot left and read it back (an
     * internal one under external snapshots may be refused, nothing else) */
    if (good) {
        for (i = 0; i < nsnaps && good; i++) {
            if (!snaps[i].alive)
                continue;
            good = do_revert(i) && verify(false);
        }
        ok(good, "seed %lu: every remaining snapshot reverts to its own data (%d refused "
           "reverts to internal snapshots under external ones)", s, refused);
    }
    vs_dom_close(d);
    d = NULL;
    if (good || !getenv("VSNAP_KEEP_SCRATCH"))
        ext_teardown();
    else
        printf("# scratch kept in %s\n", ext_scratch);
    return good;
}

int
main(void)
{
    const char *seeds = getenv("VSNAP_ORACLE_SEEDS");
    const char *st = getenv("VSNAP_ORACLE_STEPS");
    const char *mx = getenv("VSNAP_ORACLE_MIXED");
    unsigned long a = 7, b = 7, s;
    int steps = st ? atoi(st) : 24;

    mixed = mx ? atoi(mx) : 20;
    char *dash;

    if (seeds && *seeds) {
        a = strtoul(seeds, &dash, 10);
        b = *dash == '-' ? strtoul(dash + 1, NULL, 10) : a;
    }
    for (s = a; s <= b; s++)
        run_seed(s, steps);
    return tap_done();
}
