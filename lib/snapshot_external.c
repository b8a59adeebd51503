/* External snapshots: plans for create, revert and delete on shut-off
 * domains (see snapshot_external.h for the model). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libxml/tree.h>

#include "disk_align.h"
#include "journal.h"
#include "mem.h"
#include "path.h"
#include "plan.h"
#include "qcow2.h"
#include "qemu_img.h"
#include "snapshot_external.h"
#include "snapshot_ops.h"
#include "snapshot_tree.h"

#define MAX_CHAIN 200          /* libvirt's limit on backing chain depth */
#define TMP_SUFFIX ".vsnap-new"

/* ======================================================================== */
/* The model: every snapshot's definition, the domain definition, and every */
/* image they refer to, with what each image's header says.                 */

typedef struct snap {
    vs_snapshot_def *def;
    bool removed;
    int removed_order;       /* 1, 2, ...: the order simulate_delete removed it in */
    bool dirty;              /* its file must be written */
} snap;

typedef struct image {
    char *path;              /* normalised absolute path */
    char *fmt;               /* format: the header's, else the metadata's, else raw */
    char *backing;           /* normalised backing path, NULL when none */
    char *backing_fmt;
    char **tags;             /* internal snapshots in it (NULL-terminated) */
    bool exists, regular;
    bool gone;               /* the plan removes it */
    bool reset;              /* the plan recreates it empty */
    bool released;           /* something that referred to it went away */
    bool registered;         /* in the overlay registry (plan.h) */
    /* references before the operation */
    bool was_content, was_domain, was_overlay, was_revert;
    /* references now (recount) */
    int r_domain, r_content, r_content_ext, r_content_int, r_overlay, r_revert;
    long overlay_snap;       /* a snapshot whose <disks> names it (-1 none) */
    char *overlay_target;    /* that entry's disk target (owned copy) */
    int depth;
} image;

typedef struct model {
    vs_dom *d;
    vs_domain_def *dom;      /* the domain definition as the plan leaves it */
    bool dom_dirty;
    snap *snaps;
    size_t nsnaps;
    char *current;           /* current snapshot as the plan leaves it */
    char *current_before;
    char **registry;         /* the overlay registry as read */
    int nremoved;
    image *imgs;
    size_t nimgs, imgs_cap;
    /* plan pieces, assembled by the operation */
    vs_plan *pre;            /* undoable steps before the commit point */
    vs_plan *tags;           /* internal snapshot steps */
    vs_plan *merge;          /* commits and rebases */
    vs_plan *tail;           /* removals and resets, after the metadata */
    long now;
} model;

static char *
norm(const char *p)
{
    return p ? vs_path_absolute(p) : NULL;
}

static bool
same_path(const char *a, const char *b)
{
    char *na, *nb;
    bool eq;

    if (!a || !b)
        return false;
    if (strcmp(a, b) == 0)
        return true;
    na = norm(a);
    nb = norm(b);
    eq = strcmp(na, nb) == 0;
    free(na);
    free(nb);
    return eq;
}

static bool
local_disk(const vs_domain_disk *dd)
{
    return (dd->type == VS_STORAGE_FILE || dd->type == VS_STORAGE_BLOCK) && dd->source;
}

static void
model_free(model *m)
{
    size_t i;

    for (i = 0; i < m->nsnaps; i++)
        vs_snapshot_def_free(m->snaps[i].def);
    free(m->snaps);
    for (i = 0; i < m->nimgs; i++) {
        free(m->imgs[i].path);
        free(m->imgs[i].fmt);
        free(m->imgs[i].backing);
        free(m->imgs[i].backing_fmt);
        free(m->imgs[i].overlay_target);
        vs_strv_free(m->imgs[i].tags);
    }
    free(m->imgs);
    vs_domain_def_free(m->dom);
    vs_strv_free(m->registry);
    free(m->current);
    free(m->current_before);
    vs_plan_free(m->pre);
    vs_plan_free(m->tags);
    vs_plan_free(m->merge);
    vs_plan_free(m->tail);
}

static long
snap_find(const model *m, const char *name)
{
    size_t i;

    for (i = 0; name && i < m->nsnaps; i++)
        if (!m->snaps[i].removed && strcmp(m->snaps[i].def->name, name) == 0)
            return (long)i;
    return -1;
}

/* The entry of def->disks (or revertDisks) for the disk with `target`. */
static vs_snap_disk *
entry_for(vs_snap_disk *disks, size_t n, const char *target)
{
    size_t i;

    for (i = 0; target && i < n; i++)
        if (disks[i].name && strcmp(disks[i].name, target) == 0)
            return &disks[i];
    return NULL;
}

/* Where snapshot def keeps disk `target`: its entry's location, or what a
 * definition without entries means (C.2's rule for internal snapshots). */
static vs_snap_location
disk_location(const vs_snapshot_def *def, const vs_domain_disk *dd)
{
    vs_snap_disk *e = entry_for(def->disks, def->ndisks, dd->target);

    if (e)
        return e->snapshot == VS_LOC_DEFAULT ? VS_LOC_NO : e->snapshot;
    if (def->ndisks == 0 && !vs_snapshot_def_is_external(def))
        return dd->readonly || dd->snapshot == VS_LOC_NO || dd->snapshot == VS_LOC_EXTERNAL ||
               dd->snapshot == VS_LOC_MANUAL ? VS_LOC_NO : VS_LOC_INTERNAL;
    return VS_LOC_NO;
}

static int
model_load(model *m, vs_dom *d, vs_error *err)
{
    vs_snap_tree *t;
    vs_domain_def *dom;
    size_t i;

    memset(m, 0, sizeof(*m));
    m->d = d;
    m->now = (long)time(NULL);
    m->pre = vs_plan_new("pre", d->name, NULL);
    m->tags = vs_plan_new("tags", d->name, NULL);
    m->merge = vs_plan_new("merge", d->name, NULL);
    m->tail = vs_plan_new("tail", d->name, NULL);
    if (!(dom = vs_dom_def(d, err)) || !(t = vs_dom_tree(d, err)))
        return -1;
    m->dom = vs_domain_def_copy(dom);
    m->snaps = vs_xcalloc(t->n ? t->n : 1, sizeof(*m->snaps));
    for (i = 0; i < t->n; i++) {
        char *name = vs_xstrdup(t->e[i].name);
        vs_snapshot_def *def = vs_dom_read_snapshot(d, name, err);

        free(name);
        if (!def)
            return -1;
        m->snaps[m->nsnaps++].def = def;
        /* the tree may have been reloaded by the read; its entries stay valid */
        if (!(t = vs_dom_tree(d, err)))
            return -1;
    }
    m->current = vs_dom_current(d);
    if (m->current && snap_find(m, m->current) < 0) {
        free(m->current);
        m->current = NULL;
    }
    m->current_before = vs_xstrdup(m->current);
    return vs_dom_registry_load(d, &m->registry, err);
}

/* ---- images ----------------------------------------------------------- */

static long
img_find(const model *m, const char *path)
{
    size_t i;
    char *n;

    if (!path)
        return -1;
    for (i = 0; i < m->nimgs; i++)
        if (strcmp(m->imgs[i].path, path) == 0)
            return (long)i;
    n = norm(path);
    for (i = 0; i < m->nimgs; i++)
        if (strcmp(m->imgs[i].path, n) == 0) {
            free(n);
            return (long)i;
        }
    free(n);
    return -1;
}

static long
img_add(model *m, const char *path, const char *fmt)
{
    long i = img_find(m, path);
    image *im;

    if (i >= 0) {
        if (!m->imgs[i].fmt && fmt)
            m->imgs[i].fmt = vs_xstrdup(fmt);
        return i;
    }
    vs_xgrow(&m->imgs, &m->imgs_cap, m->nimgs, sizeof(*m->imgs));
    im = &m->imgs[m->nimgs];
    memset(im, 0, sizeof(*im));
    im->path = norm(path);
    im->fmt = vs_xstrdup(fmt);
    im->overlay_snap = -1;
    im->depth = -1;
    return (long)m->nimgs++;
}

/* Fill exists/fmt/backing/tags of image i from its header. */
static int
img_probe(model *m, long i, vs_error *err)
{
    image *im = &m->imgs[i];
    vs_image_info info;
    struct stat sb;
    int rc;

    if (stat(im->path, &sb) < 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            return vs_error_sys(err, errno, "cannot stat image '%s'", im->path);
        im->exists = false;
        if (!im->tags)
            im->tags = vs_xcalloc(1, sizeof(char *));
        return 0;
    }
    im->exists = true;
    im->regular = S_ISREG(sb.st_mode);
    rc = vs_qcow2_probe(im->path, &info, err);
    if (rc < 0)
        return -1;
    if (rc == 0 && vs_image_has_magic(im->path)) {
        /* QED: only qemu-img knows it */
        if (vs_qemu_img_info(im->path, false, &info, err) < 0)
            return -1;
        rc = 1;
    }
    if (rc == 1) {
        free(im->fmt);
        im->fmt = vs_xstrdup(info.format ? info.format : "qcow2");
        free(im->backing);
        im->backing = info.full_backing_filename ? norm(info.full_backing_filename) :
                      info.backing_filename ? norm(info.backing_filename) : NULL;
        free(im->backing_fmt);
        im->backing_fmt = vs_xstrdup(info.backing_format);
        vs_strv_free(im->tags);
        im->tags = info.snapshot_tags;
        info.snapshot_tags = NULL;
        vs_image_info_clear(&info);
    } else {
        /* raw, or a format vsnap does not look into: no backing file, no tags */
        if (!im->fmt)
            im->fmt = vs_xstrdup("raw");
    }
    if (!im->tags)
        im->tags = vs_xcalloc(1, sizeof(char *));
    return 0;
}

static bool
has_tags(const image *im)
{
    return im->tags && im->tags[0];
}

static bool
img_has_tag(const image *im, const char *tag)
{
    char **t;

    for (t = im->tags; t && *t; t++)
        if (strcmp(*t, tag) == 0)
            return true;
    return false;
}

static void
img_drop_tag(image *im, const char *tag)
{
    size_t i, j;

    for (i = j = 0; im->tags && im->tags[i]; i++) {
        if (strcmp(im->tags[i], tag) == 0)
            free(im->tags[i]);
        else
            im->tags[j++] = im->tags[i];
    }
    if (im->tags)
        im->tags[j] = NULL;
}

static const char *
snap_disk_fmt(const vs_snap_disk *e)
{
    return e->format ? e->format : "qcow2";
}

/* Every file reference in the metadata, as the plan leaves it. */
typedef enum { REF_DOMAIN, REF_CONTENT, REF_OVERLAY, REF_REVERT } ref_kind;
typedef void (*ref_fn)(model *m, const char *path, const char *fmt, ref_kind kind, long snap,
                       const char *target, vs_snap_location loc, void *ctx);

static void
dom_refs(model *m, const vs_domain_def *dom, ref_kind kind, long s, const vs_snapshot_def *def,
         ref_fn fn, void *ctx)
{
    size_t i;

    for (i = 0; dom && i < dom->ndisks; i++) {
        const vs_domain_disk *dd = &dom->disks[i];

        if (local_disk(dd))
            fn(m, dd->source, dd->format, kind, s, dd->target,
               def ? disk_location(def, dd) : VS_LOC_DEFAULT, ctx);
    }
}

static void
for_each_ref(model *m, ref_fn fn, void *ctx)
{
    size_t s, k;

    dom_refs(m, m->dom, REF_DOMAIN, -1, NULL, fn, ctx);
    for (s = 0; s < m->nsnaps; s++) {
        vs_snapshot_def *def = m->snaps[s].def;

        if (m->snaps[s].removed)
            continue;
        dom_refs(m, def->dom, REF_CONTENT, (long)s, def, fn, ctx);
        dom_refs(m, def->inactive_dom, REF_CONTENT, (long)s, def, fn, ctx);
        for (k = 0; k < def->ndisks; k++) {
            vs_snap_disk *e = &def->disks[k];

            if (e->snapshot == VS_LOC_EXTERNAL && e->source &&
                (e->type == VS_STORAGE_FILE || e->type == VS_STORAGE_BLOCK))
                fn(m, e->source, snap_disk_fmt(e), REF_OVERLAY, (long)s, e->name,
                   VS_LOC_EXTERNAL, ctx);
        }
        for (k = 0; k < def->nrevert_disks; k++) {
            vs_snap_disk *e = &def->revert_disks[k];

            if (e->snapshot == VS_LOC_EXTERNAL && e->source &&
                (e->type == VS_STORAGE_FILE || e->type == VS_STORAGE_BLOCK))
                fn(m, e->source, snap_disk_fmt(e), REF_REVERT, (long)s, e->name,
                   VS_LOC_EXTERNAL, ctx);
        }
    }
}

static void
add_ref_initial(model *m, const char *path, const char *fmt, ref_kind kind, long s,
                const char *target, vs_snap_location loc, void *ctx)
{
    long i = img_add(m, path, fmt);

    (void)s;
    (void)target;
    (void)loc;
    (void)ctx;
    switch (kind) {
    case REF_DOMAIN: m->imgs[i].was_domain = true; break;
    case REF_CONTENT: m->imgs[i].was_content = true; break;
    case REF_OVERLAY: m->imgs[i].was_overlay = true; break;
    case REF_REVERT: m->imgs[i].was_revert = true; break;
    }
}

static int
compute_depth(model *m, long i)
{
    long j = i;
    int steps = 0;

    while (j >= 0 && steps <= MAX_CHAIN + 1) {
        if (m->imgs[j].depth >= 0) {
            steps += m->imgs[j].depth;
            break;
        }
        j = img_find(m, m->imgs[j].backing);
        if (j >= 0)
            steps++;
    }
    m->imgs[i].depth = steps;
    return steps;
}

/* Every image the metadata refers to, and their backing chains. */
static int
graph_load(model *m, vs_error *err)
{
    size_t i;

    for_each_ref(m, add_ref_initial, NULL);
    for (i = 0; i < m->nimgs; i++) {
        if (img_probe(m, (long)i, err) < 0)
            return -1;
        if (m->imgs[i].backing && img_find(m, m->imgs[i].backing) < 0) {
            if (m->nimgs > 100000)
                return vs_error_set(err, VS_ERR_OPERATION_FAILED, "too many images");
            img_add(m, m->imgs[i].backing, m->imgs[i].backing_fmt);
        }
    }
    for (i = 0; m->registry && m->registry[i]; i++) {
        long k = img_find(m, m->registry[i]);

        if (k >= 0)
            m->imgs[k].registered = true;
    }
    for (i = 0; i < m->nimgs; i++)
        if (compute_depth(m, (long)i) > MAX_CHAIN)
            return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                                "the backing chain of image '%s' is longer than %d images or loops",
                                m->imgs[i].path, MAX_CHAIN);
    return 0;
}

static void
add_ref_count(model *m, const char *path, const char *fmt, ref_kind kind, long s,
              const char *target, vs_snap_location loc, void *ctx)
{
    long i = img_find(m, path);
    image *im;

    (void)fmt;
    (void)ctx;
    if (i < 0)
        return;
    im = &m->imgs[i];
    switch (kind) {
    case REF_DOMAIN:
        im->r_domain++;
        break;
    case REF_CONTENT:
        im->r_content++;
        if (loc == VS_LOC_EXTERNAL)
            im->r_content_ext++;
        else if (loc == VS_LOC_INTERNAL)
            im->r_content_int++;
        break;
    case REF_OVERLAY:
        im->r_overlay++;
        if (im->overlay_snap < 0) {
            im->overlay_snap = s;
            free(im->overlay_target);
            im->overlay_target = vs_xstrdup(target);
        }
        break;
    case REF_REVERT:
        im->r_revert++;
        break;
    }
}

static void
recount(model *m)
{
    size_t i;

    for (i = 0; i < m->nimgs; i++) {
        image *im = &m->imgs[i];

        im->r_domain = im->r_content = im->r_content_ext = im->r_content_int = 0;
        im->r_overlay = im->r_revert = 0;
        im->overlay_snap = -1;
        free(im->overlay_target);
        im->overlay_target = NULL;
    }
    for_each_ref(m, add_ref_count, NULL);
}

/* Images (still there) whose backing file is image i; *out caller frees. */
static size_t
uppers(const model *m, long i, long **out)
{
    size_t j, n = 0;

    *out = vs_xcalloc(m->nimgs + 1, sizeof(**out));
    for (j = 0; j < m->nimgs; j++) {
        const image *u = &m->imgs[j];

        if ((long)j != i && !u->gone && u->exists && u->backing &&
            strcmp(u->backing, m->imgs[i].path) == 0)
            (*out)[n++] = (long)j;
    }
    return n;
}

/* An overlay vsnap (or libvirt) made: it has a backing file, and it was a
 * snapshot's overlay, or its backing file holds a snapshot's content. A
 * user's base image (no backing file, or a backing file no snapshot
 * recorded) is never one. */
static bool
vsnap_made(const model *m, const image *im)
{
    long b;

    if (!im->backing)
        return false;
    if (im->was_overlay || im->was_revert || im->registered)
        return true;
    b = img_find(m, im->backing);
    return b >= 0 && m->imgs[b].was_content;
}

/* Images whose data vsnap may move: ones the metadata referred to, or made. */
static bool
ours(const model *m, const image *im)
{
    return im->was_content || im->was_domain || im->was_overlay || im->was_revert ||
           vsnap_made(m, im);
}

static void
mark_released(model *m, const vs_domain_def *dom)
{
    size_t i;

    for (i = 0; dom && i < dom->ndisks; i++) {
        long k;

        if (local_disk(&dom->disks[i]) && (k = img_find(m, dom->disks[i].source)) >= 0)
            m->imgs[k].released = true;
    }
}

static void
mark_released_snap(model *m, const vs_snapshot_def *def)
{
    size_t k;
    long i;

    mark_released(m, def->dom);
    mark_released(m, def->inactive_dom);
    for (k = 0; k < def->ndisks; k++)
        if (def->disks[k].source && (i = img_find(m, def->disks[k].source)) >= 0)
            m->imgs[i].released = true;
    for (k = 0; k < def->nrevert_disks; k++)
        if (def->revert_disks[k].source && (i = img_find(m, def->revert_disks[k].source)) >= 0)
            m->imgs[i].released = true;
}

static void
clear_revert_disks(vs_snapshot_def *def)
{
    size_t k;

    for (k = 0; k < def->nrevert_disks; k++)
        vs_snap_disk_clear(&def->revert_disks[k]);
    free(def->revert_disks);
    def->revert_disks = NULL;
    def->nrevert_disks = 0;
}

/* Every reference to image `from` now names image `to` (same content). */
static int
rename_refs(model *m, const image *from, const image *to, vs_error *err)
{
    size_t s, k;

    for (k = 0; k < m->dom->ndisks; k++) {
        vs_domain_disk *dd = &m->dom->disks[k];

        if (local_disk(dd) && same_path(dd->source, from->path)) {
            if (vs_domain_def_set_disk_source(m->dom, k, dd->type, to->path, to->fmt, err) < 0)
                return -1;
            m->dom_dirty = true;
        }
    }
    for (s = 0; s < m->nsnaps; s++) {
        vs_snapshot_def *def = m->snaps[s].def;
        vs_domain_def *doms[2] = { def->dom, def->inactive_dom };
        size_t j;

        if (m->snaps[s].removed)
            continue;
        for (j = 0; j < 2; j++) {
            for (k = 0; doms[j] && k < doms[j]->ndisks; k++) {
                vs_domain_disk *dd = &doms[j]->disks[k];

                if (local_disk(dd) && same_path(dd->source, from->path)) {
                    if (vs_domain_def_set_disk_source(doms[j], k, dd->type, to->path, to->fmt,
                                                      err) < 0)
                        return -1;
                    m->snaps[s].dirty = true;
                }
            }
        }
        for (k = 0; k < def->ndisks + def->nrevert_disks; k++) {
            vs_snap_disk *e = k < def->ndisks ? &def->disks[k] : &def->revert_disks[k - def->ndisks];

            if (e->source && same_path(e->source, from->path)) {
                free(e->source);
                e->source = vs_xstrdup(to->path);
                free(e->format);
                e->format = vs_xstrdup(to->fmt);
                e->source_node = NULL;
                m->snaps[s].dirty = true;
            }
        }
    }
    return 0;
}

/* The image snapshot s recorded for disk `target`, or NULL. */
static const vs_domain_disk *
snap_disk(const model *m, long s, const char *target)
{
    const vs_domain_def *dom = m->snaps[s].def->dom;
    int k;

    if (!dom || !target || (k = vs_domain_def_disk_index(dom, target)) < 0)
        return NULL;
    return local_disk(&dom->disks[k]) ? &dom->disks[k] : NULL;
}

static int
missing_image(vs_error *err, const image *im, const char *what)
{
    return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                        "image '%s' is missing, so %s; run 'vsnap snapshot-check' on the domain",
                        im->path, what);
}

/* Plan the recreation of overlay i, empty on its backing file: the data
 * written above a snapshot since it was taken is discarded. */
static void
plan_reset(model *m, long i, const char *base, const char *base_fmt, const char *why)
{
    image *im = &m->imgs[i];
    char *tmp = vs_xasprintf("%s%s", im->path, TMP_SUFFIX);

    vs_plan_create_image(m->tail, tmp, im->fmt ? im->fmt : "qcow2", base, base_fmt, false, why);
    vs_plan_replace_image(m->tail, tmp, im->path, why);
    free(tmp);
    im->reset = true;
    vs_strv_free(im->tags);
    im->tags = vs_xcalloc(1, sizeof(char *));
}

static int
by_depth_desc(const void *a, const void *b, void *ctx)
{
    const model *m = ctx;
    int da = m->imgs[*(const long *)a].depth, db = m->imgs[*(const long *)b].depth;

    return da != db ? db - da : (*(const long *)a > *(const long *)b) - (*(const long *)a < *(const long *)b);
}

static long *
depth_order(model *m, bool desc)
{
    long *o = vs_xcalloc(m->nimgs + 1, sizeof(*o));
    size_t i;

    for (i = 0; i < m->nimgs; i++)
        o[i] = (long)i;
    qsort_r(o, m->nimgs, sizeof(*o), by_depth_desc, m);
    if (!desc) {
        for (i = 0; i < m->nimgs / 2; i++) {
            long t = o[i];

            o[i] = o[m->nimgs - 1 - i];
            o[m->nimgs - 1 - i] = t;
        }
    }
    return o;
}

/* One garbage pass: images nothing refers to any more go (or, if a
 * snapshot's <disks> names them, are recreated empty). True if anything
 * changed the graph. */
static bool
gc_garbage(model *m)
{
    long *order = depth_order(m, true), *up;
    bool changed = false;
    size_t n, k, s;

    for (n = 0; n < m->nimgs; n++) {
        long i = order[n];
        image *im = &m->imgs[i];
        size_t nup;

        if (im->gone || !im->exists || !ours(m, im))
            continue;
        if (im->r_domain || im->r_content || has_tags(im))
            continue;
        nup = uppers(m, i, &up);
        free(up);
        if (nup)
            continue;
        if (im->r_overlay) {
            const vs_domain_disk *base = snap_disk(m, im->overlay_snap, im->overlay_target);

            if (im->released && !im->reset && im->regular && base &&
                im->backing && same_path(im->backing, base->source)) {
                char *why = vs_xasprintf("overlay of snapshot '%s', emptied",
                                         m->snaps[im->overlay_snap].def->name);

                plan_reset(m, i, base->source, base->format ? base->format : "raw", why);
                free(why);
            }
            continue;
        }
        if (im->r_revert) {
            /* A revert overlay left behind: its <revertDisks> go with it. */
            for (s = 0; s < m->nsnaps; s++) {
                vs_snapshot_def *def = m->snaps[s].def;

                if (m->snaps[s].removed)
                    continue;
                for (k = 0; k < def->nrevert_disks; k++)
                    if (def->revert_disks[k].source &&
                        same_path(def->revert_disks[k].source, im->path)) {
                        clear_revert_disks(def);
                        m->snaps[s].dirty = true;
                        break;
                    }
            }
            recount(m);
            if (im->r_overlay || im->r_revert)
                continue;
        }
        if (!vsnap_made(m, im) || !im->regular)
            continue;
        vs_plan_remove_image(m->tail, im->path, "no snapshot and not the domain refers to it");
        im->gone = true;
        changed = true;
    }
    free(order);
    return changed;
}

static bool
mergeable(const model *m, const image *u)
{
    return u->exists && u->regular && !u->gone && !has_tags(u) && u->r_content_int == 0 &&
           vsnap_made(m, u);
}

/* One merge: the lowest image that nothing owns but other images are built
 * on. Returns 1 if it planned one, 0 if there was none, -1 on error. */
static int
gc_merge(model *m, vs_error *err)
{
    long *order = depth_order(m, false), *up = NULL, *up2 = NULL;
    size_t n, nup, k;
    int ret = 0;

    for (n = 0; n < m->nimgs && ret == 0; n++) {
        long i = order[n], b;
        image *im = &m->imgs[i];

        if (im->gone || !im->exists || !ours(m, im))
            continue;
        /* Its present state is the domain's, or an external snapshot's. The
         * state of an image with internal snapshots only is nobody's: they
         * live in its snapshot table, which a commit leaves alone. */
        if (im->r_domain || im->r_content_ext)
            continue;
        free(up);
        nup = uppers(m, i, &up);
        if (nup == 0)
            continue;
        if (nup == 1 && mergeable(m, &m->imgs[up[0]]) && im->regular) {
            image *u = &m->imgs[up[0]];
            size_t nup2;
            char *why = vs_xasprintf("nothing else relies on %s", im->path);

            /* The upper layer's data goes down into this one, and this
             * file takes the upper's place wherever it was named. An upper
             * that holds no data needs no commit. */
            if (!(u->fmt && strcmp(u->fmt, "qcow2") == 0 && vs_qcow2_is_empty(u->path, NULL) == 1))
                vs_plan_commit_image(m->merge, u->path, u->fmt, im->path, why);
            free(why);
            nup2 = uppers(m, up[0], &up2);
            for (k = 0; k < nup2; k++) {
                image *v = &m->imgs[up2[k]];

                vs_plan_retarget_image(m->merge, v->path, v->fmt, im->path, im->fmt,
                                       "its backing file was merged down");
                free(v->backing);
                v->backing = vs_xstrdup(im->path);
                free(v->backing_fmt);
                v->backing_fmt = vs_xstrdup(im->fmt);
            }
            free(up2);
            up2 = NULL;
            if (rename_refs(m, u, im, err) < 0) {
                ret = -1;
                break;
            }
            vs_plan_remove_image(m->tail, u->path, "its data was committed into its backing file");
            u->gone = true;
            im->released = im->released || u->released;
            ret = 1;
            break;
        }
        /* Rebasing every upper onto the layer below frees this one, which
         * then goes: only when nothing else needs the file. */
        b = img_find(m, im->backing);
        if (b >= 0 && m->imgs[b].exists && !m->imgs[b].gone && vsnap_made(m, im) &&
            im->regular && !im->r_content && !has_tags(im)) {
            image *base = &m->imgs[b];

            /* A rebased image's internal snapshots would read through the new
             * backing file and change: only images without any are rebased. */
            for (k = 0; k < nup; k++) {
                image *u = &m->imgs[up[k]];

                if (!u->regular || has_tags(u))
                    break;
            }
            if (k < nup)
                continue;
            for (k = 0; k < nup; k++) {
                image *u = &m->imgs[up[k]];

                vs_plan_rebase_image(m->merge, u->path, u->fmt, base->path, base->fmt,
                                     im->path, im->fmt,
                                     "the layer below is shared and nothing owns it any more");
                free(u->backing);
                u->backing = vs_xstrdup(base->path);
                free(u->backing_fmt);
                u->backing_fmt = vs_xstrdup(base->fmt);
            }
            ret = 1;
        }
    }
    free(up);
    free(order);
    return ret;
}

static int
gc(model *m, bool allow_merge, vs_error *err)
{
    int rc, rounds = 0;

    for (;;) {
        size_t i;

        if (++rounds > 100000)
            return vs_error_set(err, VS_ERR_INTERNAL, "image clean-up does not converge");
        /* merges shorten chains: order by the chains as they are now */
        for (i = 0; i < m->nimgs; i++)
            m->imgs[i].depth = m->imgs[i].gone ? 0 : -1;
        for (i = 0; i < m->nimgs; i++)
            if (m->imgs[i].depth < 0)
                compute_depth(m, (long)i);
        recount(m);
        if (gc_garbage(m))
            continue;
        if (!allow_merge)
            return 0;
        recount(m);
        if ((rc = gc_merge(m, err)) < 0)
            return -1;
        if (rc == 0)
            return 0;
    }
}

/* Images a merge or removal touches must exist: check before planning. */
static int
check_plan_images(model *m, vs_error *err)
{
    size_t i, k;
    vs_plan *parts[2] = { m->merge, m->tail };

    for (k = 0; k < 2; k++) {
        for (i = 0; i < parts[k]->n; i++) {
            const vs_step *s = &parts[k]->steps[i];
            long j;

            if (s->kind != VS_STEP_COMMIT_IMAGE && s->kind != VS_STEP_REBASE_IMAGE &&
                s->kind != VS_STEP_RETARGET_IMAGE)
                continue;
            if ((j = img_find(m, s->path)) >= 0 && !m->imgs[j].exists)
                return missing_image(err, &m->imgs[j], "it cannot be merged");
        }
    }
    return 0;
}

/* ---- assembling ---------------------------------------------------------- */

static void
copy_step(vs_plan *dst, const vs_step *s)
{
    vs_step *c;

    vs_xgrow(&dst->steps, &dst->cap, dst->n, sizeof(*dst->steps));
    c = &dst->steps[dst->n++];
    c->kind = s->kind;
    c->path = vs_xstrdup(s->path);
    c->from = vs_xstrdup(s->from);
    c->fmt = vs_xstrdup(s->fmt);
    c->backing = vs_xstrdup(s->backing);
    c->backing_fmt = vs_xstrdup(s->backing_fmt);
    c->old_backing = vs_xstrdup(s->old_backing);
    c->old_backing_fmt = vs_xstrdup(s->old_backing_fmt);
    c->name = vs_xstrdup(s->name);
    c->text = vs_xstrdup(s->text);
    c->why = vs_xstrdup(s->why);
    c->keep_on_undo = s->keep_on_undo;
}

static void
copy_steps(vs_plan *dst, const vs_plan *src, size_t from)
{
    size_t i;

    for (i = from; i < src->n; i++)
        copy_step(dst, &src->steps[i]);
}

static char *
format_snapshot(const vs_snapshot_def *def)
{
    return vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);
}

static char *
format_domain(const vs_domain_def *def)
{
    vs_buf b = VS_BUF_INIT;

    vs_domain_def_format(&b, def, 0, true, NULL);
    vs_buf_addc(&b, '\n');
    return vs_buf_steal(&b);
}

static int
cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The overlays vsnap made that survive the plan, so that one a snapshot no
 * longer names is still known as vsnap's once its snapshot is gone. */
static void
plan_registry(model *m, vs_plan *p)
{
    char **now = vs_xcalloc(1, sizeof(*now));
    vs_buf b = VS_BUF_INIT;
    size_t i, n, old_n;
    bool same;

    for (i = 0; i < m->nimgs; i++) {
        const image *im = &m->imgs[i];

        if (!im->gone && im->exists && im->backing &&
            (im->registered || im->was_overlay || im->was_revert))
            vs_strv_push(&now, im->path);
    }
    /* entries the metadata does not reach stay while their file does */
    for (i = 0; m->registry && m->registry[i]; i++)
        if (img_find(m, m->registry[i]) < 0 && vs_file_exists(m->registry[i]))
            vs_strv_push(&now, m->registry[i]);
    n = vs_strv_len(now);
    qsort(now, n, sizeof(*now), cmp_strp);
    old_n = vs_strv_len(m->registry);
    qsort(m->registry, old_n, sizeof(*m->registry), cmp_strp);
    same = n == old_n;
    for (i = 0; same && i < n; i++)
        same = strcmp(now[i], m->registry[i]) == 0;
    if (!same) {
        for (i = 0; i < n; i++)
            vs_buf_addf(&b, "%s\n", now[i]);
        vs_plan_write_registry(p, vs_buf_str(&b), NULL);
        vs_buf_reset(&b);
    }
    vs_strv_free(now);
}

/* The metadata steps: snapshot files rewritten, the domain, current, and
 * removed snapshot files last (no file ever names a parent that is gone). */
static void
plan_metadata(model *m, vs_plan *p, const char *first)
{
    size_t s;
    int k;
    long f = snap_find(m, first);

    if (f >= 0 && m->snaps[f].dirty) {
        char *text = format_snapshot(m->snaps[f].def);

        vs_plan_write_snapshot(p, first, text, NULL);
        free(text);
    }
    for (s = 0; s < m->nsnaps; s++) {
        char *text;

        if (m->snaps[s].removed || !m->snaps[s].dirty || (long)s == f)
            continue;
        text = format_snapshot(m->snaps[s].def);
        vs_plan_write_snapshot(p, m->snaps[s].def->name, text, NULL);
        free(text);
    }
    if (m->dom_dirty) {
        char *text = format_domain(m->dom);

        vs_plan_write_domain(p, text, NULL);
        free(text);
    }
    if ((m->current == NULL) != (m->current_before == NULL) ||
        (m->current && strcmp(m->current, m->current_before) != 0))
        vs_plan_set_current(p, m->current, NULL);
    plan_registry(m, p);
    /* in the order they were deleted: children before their parents */
    for (k = 1; k <= m->nremoved; k++)
        for (s = 0; s < m->nsnaps; s++)
            if (m->snaps[s].removed && m->snaps[s].removed_order == k)
                vs_plan_remove_snapshot(p, m->snaps[s].def->name, NULL);
}

/* pre, commit point, tags, merges, metadata, tail. Leading safe rebases of
 * the merges can be undone, so they go before the commit point. */
static vs_plan *
assemble(model *m, const char *operation, const char *snapshot, const char *first)
{
    vs_plan *p = vs_plan_new(operation, m->d->name, snapshot);
    size_t lead = 0;

    copy_steps(p, m->pre, 0);
    while (lead < m->merge->n && m->merge->steps[lead].kind == VS_STEP_REBASE_IMAGE)
        copy_step(p, &m->merge->steps[lead++]);
    vs_plan_commit_point(p);
    copy_steps(p, m->tags, 0);
    copy_steps(p, m->merge, lead);
    plan_metadata(m, p, first);
    copy_steps(p, m->tail, 0);
    return p;
}

static int
run_or_return(model *m, vs_plan *p, vs_plan **dry, vs_error *err)
{
    int ret;

    if (dry) {
        *dry = p;
        return 0;
    }
    ret = vs_plan_execute(p, m->d, err);
    vs_plan_free(p);
    return ret;
}

/* ======================================================================== */
/* Create                                                                   */

bool
vs_ext_create_wanted(const vs_snapshot_def *def, unsigned flags)
{
    size_t i;

    if (flags & VS_CREATE_DISK_ONLY)
        return true;
    for (i = 0; i < def->ndisks; i++)
        if (def->disks[i].snapshot == VS_LOC_EXTERNAL ||
            (def->disks[i].snapshot == VS_LOC_DEFAULT && def->disks[i].source))
            return true;
    return false;
}

bool
vs_ext_domain_has_external(vs_dom *d)
{
    vs_snap_tree *t = vs_dom_tree(d, NULL);
    size_t i;

    for (i = 0; t && i < t->n; i++)
        if (t->e[i].external)
            return true;
    return false;
}

static bool
storage_local(vs_storage_type t)
{
    return t == VS_STORAGE_FILE || t == VS_STORAGE_BLOCK;
}

/* C.1 step 6 for one external entry of a shut-off domain. */
static int
prepare_external_disk(vs_snap_disk *e, const vs_domain_disk *dd, unsigned flags, vs_error *err)
{
    bool reuse = (flags & VS_CREATE_REUSE_EXT) != 0;
    struct stat sb;
    const char *fmt;

    if (!e->format)
        e->format = vs_xstrdup("qcow2");
    fmt = e->format;
    if (strcmp(fmt, "qcow2") != 0 && strcmp(fmt, "qed") != 0)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "external snapshot format for disk %s is unsupported: %s",
                            e->name, fmt);
    if (e->has_metadata_cache && strcmp(fmt, "qcow2") != 0)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "metadata cache max size control is supported only with qcow2 images");
    if (!storage_local(dd->type))
        return vs_error_set(err, VS_ERR_INTERNAL,
                            "external inactive snapshots are not supported on '%s' disks",
                            vs_storage_type_name(dd->type));
    if (!storage_local(e->type))
        return vs_error_set(err, VS_ERR_INTERNAL,
                            "external inactive snapshots are not supported on '%s' disks",
                            vs_storage_type_name(e->type));
    if (!e->source)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "external snapshot of disk '%s' needs a file name", e->name);
    if (e->source[0] != '/')
        return vs_error_set(err, VS_ERR_XML, "disk snapshot image path '%s' must be absolute",
                            e->source);
    if (stat(e->source, &sb) < 0) {
        if (errno != ENOENT)
            return vs_error_sys(err, errno, "unable to stat for disk %s: %s", e->name, e->source);
        if (reuse)
            return vs_error_sys(err, errno, "missing existing file for disk %s: %s", e->name,
                                e->source);
        if (e->type == VS_STORAGE_BLOCK)
            return vs_error_set(err, VS_ERR_NO_SUPPORT,
                                "block device snapshot target '%s' doesn't exist", e->source);
    } else {
        if ((e->type == VS_STORAGE_BLOCK) != (S_ISBLK(sb.st_mode) != 0))
            return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                                "mismatch between configured type for snapshot disk '%s' and the "
                                "type of existing file '%s'", e->name, e->source);
        if (!reuse && S_ISREG(sb.st_mode) && sb.st_size > 0)
            return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                                "external snapshot file for disk %s already exists and is not a "
                                "block device: %s", e->name, e->source);
    }
    /* An overlay without a backing format makes qemu probe it, which is how
     * raw images get misread; libvirt refuses such chains (user-pains 7). */
    if (!dd->format)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "disk '%s' has no format (<driver type=...>) in the domain "
                            "definition; set it before taking an external snapshot", e->name);
    if (same_path(e->source, dd->source))
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "external snapshot file for disk %s is the disk's current image: %s",
                            e->name, e->source);
    if (reuse) {
        vs_image_info info;
        int rc;
        bool ok;

        rc = vs_qcow2_probe(e->source, &info, err);
        if (rc < 0)
            return -1;
        if (rc == 0 && strcmp(fmt, "qed") == 0 && vs_image_has_magic(e->source)) {
            if (vs_qemu_img_info(e->source, false, &info, err) < 0)
                return -1;
            rc = 1;
        }
        if (rc == 0 || !info.format || strcmp(info.format, fmt) != 0) {
            vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                         "cannot reuse '%s' for disk %s: it is not a %s image", e->source,
                         e->name, fmt);
            vs_image_info_clear(&info);
            return -1;
        }
        ok = info.full_backing_filename && same_path(info.full_backing_filename, dd->source);
        if (!ok) {
            vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                         "cannot reuse '%s' for disk %s: its backing file is %s%s%s, not the "
                         "disk's current image '%s'", e->source, e->name,
                         info.full_backing_filename ? "'" : "",
                         info.full_backing_filename ? info.full_backing_filename : "not set",
                         info.full_backing_filename ? "'" : "", dd->source);
            vs_image_info_clear(&info);
            return -1;
        }
        if (info.backing_format && strcmp(info.backing_format, dd->format) != 0) {
            vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                         "cannot reuse '%s' for disk %s: it names its backing file as a '%s' "
                         "image, but the disk's image is '%s'", e->source, e->name,
                         info.backing_format, dd->format);
            vs_image_info_clear(&info);
            return -1;
        }
        vs_image_info_clear(&info);
    }
    return 0;
}

int
vs_ext_create(vs_dom *d, vs_snapshot_def *def, unsigned flags, vs_plan **dry, vs_error *err)
{
    bool no_meta = (flags & VS_CREATE_NO_METADATA) != 0;
    bool reuse = (flags & VS_CREATE_REUSE_EXT) != 0;
    vs_domain_def *dom, *newdom = NULL;
    vs_snapshot_def *cur = NULL;
    vs_plan *p = NULL;
    bool any_ext = false, any_int = false;
    char *current = NULL, *text;
    size_t i, j;
    int ret = -1;

    if (dry)
        *dry = NULL;
    if (!(dom = vs_dom_def(d, err)))
        return -1;
    if (!def->dom) {
        def->dom = vs_domain_def_copy(dom);
    }
    if (vs_disk_align(def, def->dom, VS_LOC_EXTERNAL, true, false, err) < 0)
        return -1;
    for (i = 0; i < def->ndisks && i < def->dom->ndisks; i++) {
        vs_snap_disk *e = &def->disks[i];

        if (e->snapshot == VS_LOC_EXTERNAL) {
            if (prepare_external_disk(e, &def->dom->disks[i], flags, err) < 0)
                return -1;
            any_ext = true;
        } else if (e->snapshot == VS_LOC_INTERNAL) {
            any_int = true;
        }
    }
    if (!any_ext && !any_int)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED, "nothing selected for snapshot");
    if (!any_ext)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "disk-only snapshots require at least one disk to be selected for "
                            "snapshot");
    if (any_int)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "mixing internal and external targets for a snapshot is not yet "
                            "supported");
    for (i = 0; i < def->ndisks; i++)
        for (j = i + 1; j < def->ndisks; j++)
            if (def->disks[i].snapshot == VS_LOC_EXTERNAL &&
                def->disks[j].snapshot == VS_LOC_EXTERNAL &&
                same_path(def->disks[i].source, def->disks[j].source))
                return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                                    "disks '%s' and '%s' cannot use the same external snapshot "
                                    "file '%s'", def->disks[i].name, def->disks[j].name,
                                    def->disks[i].source);

    def->state = VS_STATE_SHUTOFF;
    if (flags & VS_CREATE_DISK_ONLY)
        def->memory = VS_LOC_NO;
    if (!no_meta) {
        /* (the file, not the tree: a damaged file holds the name too) */
        if (vs_dom_snapshot_file_exists(d, def->name))
            return vs_error_set(err, VS_ERR_OPERATION_FAILED, "domain moment %s already exists",
                                def->name);
        current = vs_dom_current(d);
        free(def->parent);
        def->parent = vs_xstrdup(current);
        if (current && !(cur = vs_dom_read_snapshot(d, current, err)))
            goto out;
    }

    p = vs_plan_new("snapshot-create", d->name, def->name);
    newdom = vs_domain_def_copy(dom);
    for (i = 0; i < def->ndisks && i < newdom->ndisks; i++) {
        vs_snap_disk *e = &def->disks[i];
        const vs_domain_disk *dd = &dom->disks[i];

        if (e->snapshot != VS_LOC_EXTERNAL)
            continue;
        if (!reuse) {
            char *why = vs_xasprintf("new overlay of disk %s", e->name);

            vs_plan_create_image(p, e->source, e->format, dd->source, dd->format,
                                 e->type == VS_STORAGE_BLOCK, why);
            free(why);
        }
        if (vs_domain_def_set_disk_source(newdom, i, e->type, e->source, e->format, err) < 0)
            goto out;
    }
    /* No commit point after the new overlays: a crash anywhere finishes the
     * snapshot (creating an overlay again gives the same empty overlay, and
     * nothing writes to the domain's disks while a journal is there), which
     * saves a journal write; a failure to create one still undoes the others
     * (vs_plan_execute). */
    vs_plan_commit_point(p);
    p->commit = 0;
    if (!no_meta) {
        text = format_snapshot(def);
        vs_plan_write_snapshot(p, def->name, text, "the new snapshot, with the images as they were");
        free(text);
        /* The overlays a revert made now hold the new snapshot's content. */
        if (cur && cur->nrevert_disks) {
            char **reg = NULL;
            vs_buf b = VS_BUF_INIT;

            /* Named by no <revertDisks> any more: keep them known as vsnap's. */
            if (vs_dom_registry_load(d, &reg, err) < 0)
                goto out;
            for (i = 0; i < cur->nrevert_disks; i++)
                if (cur->revert_disks[i].source && cur->revert_disks[i].snapshot == VS_LOC_EXTERNAL)
                    vs_strv_push(&reg, cur->revert_disks[i].source);
            for (i = 0; reg[i]; i++)
                vs_buf_addf(&b, "%s\n", reg[i]);
            vs_plan_write_registry(p, vs_buf_str(&b), NULL);
            vs_buf_reset(&b);
            vs_strv_free(reg);
            clear_revert_disks(cur);
            text = format_snapshot(cur);
            vs_plan_write_snapshot(p, cur->name, text, "its revert overlays now belong to the new snapshot");
            free(text);
        }
    }
    text = format_domain(newdom);
    vs_plan_write_domain(p, text, "the disks switch to the new overlays");
    free(text);
    if (!no_meta)
        vs_plan_set_current(p, def->name, NULL);

    if (dry) {
        *dry = p;
        p = NULL;
        ret = 0;
    } else {
        ret = vs_plan_execute(p, d, err);
    }
 out:
    vs_plan_free(p);
    vs_domain_def_free(newdom);
    vs_snapshot_def_free(cur);
    free(current);
    return ret;
}

/* ======================================================================== */
/* Revert                                                                   */

static void
set_domain_name(vs_domain_def *def, const char *name)
{
    xmlNodePtr root, n;

    if (def->name && strcmp(def->name, name) == 0)
        return;
    root = xmlDocGetRootElement(def->doc);
    for (n = root ? root->children : NULL; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST "name")) {
            xmlNodeSetContent(n, NULL);
            xmlNodeAddContent(n, BAD_CAST name);
            break;
        }
    }
    free(def->name);
    def->name = vs_xstrdup(name);
}

static bool
state_offline(vs_snap_state s)
{
    return s == VS_STATE_SHUTOFF || s == VS_STATE_SHUTDOWN || s == VS_STATE_CRASHED ||
           s == VS_STATE_DISK_SNAPSHOT || s == VS_STATE_NOSTATE;
}

static bool
has_children(const model *m, const char *name)
{
    size_t s;

    for (s = 0; s < m->nsnaps; s++)
        if (!m->snaps[s].removed && m->snaps[s].def->parent &&
            strcmp(m->snaps[s].def->parent, name) == 0)
            return true;
    return false;
}

static bool
planned_path(const vs_plan *p, const char *path)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        if (p->steps[i].path && same_path(p->steps[i].path, path))
            return true;
    return false;
}

/* "<image minus suffix>.<unix time>", made unique. Caller frees. */
static char *
revert_overlay_name(model *m, const char *src)
{
    char *stamp = vs_xasprintf("%ld", m->now), *base = vs_disk_external_name(src, stamp);
    char *name = vs_xstrdup(base);
    int k;

    for (k = 1; vs_file_exists(name) || img_find(m, name) >= 0 || planned_path(m->pre, name);
         k++) {
        free(name);
        name = vs_xasprintf("%s-%d", base, k);
    }
    free(stamp);
    free(base);
    return name;
}

/* Disk i of the snapshot's definition and what reverting does with it. */
typedef enum { RV_KEEP, RV_OVERLAY, RV_APPLY } rv_action;

int
vs_ext_revert(vs_dom *d, const char *name, unsigned flags, vs_plan **dry, vs_error *err)
{
    model m;
    vs_snapshot_def *def;
    vs_domain_def *newdom = NULL;
    rv_action *act = NULL;
    bool reuse, is_ext;
    vs_plan *p = NULL;
    long si;
    size_t i, s;
    int ret = -1;

    if (dry)
        *dry = NULL;
    if (model_load(&m, d, err) < 0)
        goto out;
    if ((si = snap_find(&m, name)) < 0) {
        vs_error_set(err, VS_ERR_NO_SNAPSHOT, "no domain snapshot with matching name '%s'", name);
        goto out;
    }
    def = m.snaps[si].def;
    if ((flags & VS_REVERT_RUNNING) && (flags & VS_REVERT_PAUSED)) {
        vs_error_set(err, VS_ERR_PLAIN, "Flags '%s' and '%s' are mutually exclusive",
                     "VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING", "VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED");
        goto out;
    }
    if (flags & (VS_REVERT_RUNNING | VS_REVERT_PAUSED)) {
        vs_error_set(err, VS_ERR_NO_SUPPORT,
                     "vsnap cannot start domains yet; revert without --running/--paused");
        goto out;
    }
    if (!def->dom) {
        vs_error_set(err, VS_ERR_REVERT_FORCE, "snapshot '%s' lacks domain '%s' rollback info",
                     def->name, d->name);
        goto out;
    }
    if (def->state == VS_STATE_PMSUSPENDED) {
        vs_error_set(err, VS_ERR_NO_SUPPORT,
                     "qemu doesn't support reversion of snapshot taken in PMSUSPENDED state");
        goto out;
    }
    if (!state_offline(def->state) || def->memory == VS_LOC_EXTERNAL ||
        def->memory == VS_LOC_INTERNAL) {
        vs_error_set(err, VS_ERR_NO_SUPPORT,
                     "vsnap cannot start domains yet; snapshot '%s' holds the memory of a %s domain",
                     def->name, vs_snap_state_name(def->state));
        goto out;
    }
    is_ext = vs_snapshot_def_is_external(def);
    if (graph_load(&m, err) < 0)
        goto out;
    recount(&m);

    newdom = vs_domain_def_copy(def->dom);
    set_domain_name(newdom, d->name);
    act = vs_xcalloc(newdom->ndisks + 1, sizeof(*act));
    reuse = !has_children(&m, def->name);
    for (i = 0; i < newdom->ndisks; i++) {
        const vs_domain_disk *dd = &newdom->disks[i];
        vs_snap_location loc = disk_location(def, dd);
        long k;
        image *im;
        long *up;
        size_t nup;

        act[i] = RV_KEEP;
        if (!dd->source || dd->type == VS_STORAGE_NETWORK)
            continue;
        if (loc == VS_LOC_EXTERNAL && dd->type != VS_STORAGE_FILE) {
            vs_error_set(err, VS_ERR_NO_SUPPORT,
                         "source disk for '%s' is not a regular file, reverting to snapshot is "
                         "not supported", dd->target);
            goto out;
        }
        if (!local_disk(dd))
            continue;
        k = img_find(&m, dd->source);
        im = &m.imgs[k];
        if (!im->exists && (loc == VS_LOC_EXTERNAL || loc == VS_LOC_INTERNAL)) {
            vs_error_set(err, VS_ERR_OPERATION_FAILED,
                         "cannot revert to snapshot '%s': the image '%s' it recorded for disk "
                         "'%s' is missing", def->name, im->path, dd->target);
            goto out;
        }
        if (loc == VS_LOC_EXTERNAL) {
            act[i] = RV_OVERLAY;
        } else if (loc == VS_LOC_INTERNAL) {
            if (!dd->device || strcmp(dd->device, "disk") != 0)
                continue;
            if (!dd->format || strcmp(dd->format, "qcow2") != 0) {
                vs_error_set(err, VS_ERR_OPERATION_INVALID,
                             "Disk device '%s' does not support snapshotting", dd->target);
                goto out;
            }
            if (!img_has_tag(im, def->name)) {
                vs_error_set(err, VS_ERR_OPERATION_FAILED,
                             "image of disk '%s' does not have internal snapshot '%s'",
                             dd->target, def->name);
                goto out;
            }
            act[i] = RV_APPLY;
        } else if (!dd->readonly && im->exists) {
            /* A disk the snapshot left out keeps its image, unless that image
             * is now the base of other images: then writing to it would change
             * them, and it gets an overlay too. */
            nup = uppers(&m, k, &up);
            free(up);
            if (nup || im->r_content_ext) {
                if (!is_ext) {
                    vs_error_set(err, VS_ERR_OPERATION_INVALID,
                                 "cannot revert to internal snapshot '%s': disk '%s' was not part "
                                 "of it and its image '%s' is now the base of other images",
                                 def->name, dd->target, im->path);
                    goto out;
                }
                act[i] = RV_OVERLAY;
            }
        }
        if (act[i] == RV_OVERLAY) {
            vs_snap_disk *e = entry_for(def->disks, def->ndisks, dd->target);
            long o;

            if (!e || e->snapshot != VS_LOC_EXTERNAL || !e->source ||
                e->type != VS_STORAGE_FILE) {
                reuse = false;
            } else if ((o = img_find(&m, e->source)) >= 0) {
                image *ov = &m.imgs[o];

                /* Its own overlay can serve again only if nothing else uses it. */
                if (ov->r_content || ov->r_revert || ov->r_overlay > 1 || has_tags(ov) ||
                    (ov->exists && (!ov->regular || !ov->backing ||
                                    !same_path(ov->backing, im->path)))) {
                    reuse = false;
                } else {
                    nup = uppers(&m, o, &up);
                    free(up);
                    if (nup)
                        reuse = false;
                }
            }
        }
    }

    /* Overlays: the snapshot's own (recreated empty) or fresh revert overlays. */
    for (i = 0; i < newdom->ndisks; i++) {
        vs_domain_disk *dd = &newdom->disks[i];
        char *src, *srcfmt, *why;

        if (act[i] != RV_OVERLAY)
            continue;
        src = vs_xstrdup(dd->source);
        srcfmt = vs_xstrdup(dd->format ? dd->format : "raw");
        if (reuse) {
            vs_snap_disk *e = entry_for(def->disks, def->ndisks, dd->target);
            char *tmp = vs_xasprintf("%s%s", e->source, TMP_SUFFIX);

            why = vs_xasprintf("overlay of snapshot '%s' for disk %s, recreated empty",
                               def->name, dd->target);
            vs_plan_create_image(m.pre, tmp, snap_disk_fmt(e), src, srcfmt, false, why);
            vs_plan_replace_image(m.tail, tmp, e->source, why);
            if (vs_domain_def_set_disk_source(newdom, i, VS_STORAGE_FILE, e->source,
                                              snap_disk_fmt(e), err) < 0) {
                free(tmp);
                free(why);
                free(src);
                free(srcfmt);
                goto out;
            }
            free(tmp);
        } else {
            char *path = revert_overlay_name(&m, src);

            why = vs_xasprintf("new overlay of disk %s on the image of snapshot '%s'",
                               dd->target, def->name);
            vs_plan_create_image(m.pre, path, "qcow2", src, srcfmt, false, why);
            if (vs_domain_def_set_disk_source(newdom, i, VS_STORAGE_FILE, path, "qcow2",
                                              err) < 0) {
                free(path);
                free(why);
                free(src);
                free(srcfmt);
                goto out;
            }
            free(path);
        }
        free(why);
        free(src);
        free(srcfmt);
    }

    /* The metadata as it will be. */
    mark_released(&m, m.dom);
    for (s = 0; s < m.nsnaps; s++) {
        vs_snapshot_def *o = m.snaps[s].def;

        if (m.snaps[s].removed || !o->nrevert_disks)
            continue;
        /* <revertDisks> describe the domain's disks only while that snapshot
         * is current; the state they describe is being left. */
        mark_released_snap(&m, o);
        clear_revert_disks(o);
        m.snaps[s].dirty = true;
    }
    if (!reuse && m.pre->n > 0) {
        /* The target keeps its <disks> for its children and records the new
         * overlays as <revertDisks>, one entry per disk. */
        def->revert_disks = vs_xcalloc(newdom->ndisks, sizeof(*def->revert_disks));
        def->nrevert_disks = newdom->ndisks;
        for (i = 0; i < newdom->ndisks; i++) {
            vs_snap_disk *e = &def->revert_disks[i];

            e->name = vs_xstrdup(newdom->disks[i].target);
            e->type = VS_STORAGE_FILE;
            if (act[i] == RV_OVERLAY) {
                e->snapshot = VS_LOC_EXTERNAL;
                e->source = vs_xstrdup(newdom->disks[i].source);
                e->format = vs_xstrdup("qcow2");
            } else {
                e->snapshot = VS_LOC_NO;
            }
        }
        m.snaps[si].dirty = true;
    }
    vs_domain_def_free(m.dom);
    m.dom = newdom;
    newdom = NULL;
    m.dom_dirty = true;
    free(m.current);
    m.current = vs_xstrdup(def->name);
    /* What the state being left leaves behind (no merges: a revert only
     * discards). */
    if (gc(&m, false, err) < 0)
        goto out;
    recount(&m);

    /* Internal snapshots are applied in place: only where no other image or
     * snapshot relies on the image's present state. */
    for (i = 0; i < m.dom->ndisks; i++) {
        long k, *up;
        size_t nup;
        image *im;

        if (act[i] != RV_APPLY)
            continue;
        k = img_find(&m, m.dom->disks[i].source);
        im = &m.imgs[k];
        nup = uppers(&m, k, &up);
        free(up);
        if (nup || im->r_content_ext) {
            vs_error_set(err, VS_ERR_OPERATION_INVALID,
                         "cannot revert to internal snapshot '%s': image '%s' of disk '%s' is "
                         "also the base of external snapshots or overlays, and applying the "
                         "internal snapshot in place would change them; delete those external "
                         "snapshots first", def->name, im->path, m.dom->disks[i].target);
            goto out;
        }
        vs_plan_tag(m.tags, VS_STEP_TAG_APPLY, im->path, def->name, NULL);
    }

    p = assemble(&m, "snapshot-revert", def->name, def->name);
    ret = run_or_return(&m, p, dry, err);
    p = NULL;
 out:
    free(act);
    vs_domain_def_free(newdom);
    model_free(&m);
    return ret;
}

/* ======================================================================== */
/* Delete                                                                   */

/* Remove snapshot s from the model as B.6 deletes one snapshot. */
static void
simulate_delete(model *m, long s)
{
    vs_snapshot_def *def = m->snaps[s].def;
    size_t k, c;

    for (c = 0; c < m->nsnaps; c++) {
        vs_snapshot_def *kid = m->snaps[c].def;

        if (m->snaps[c].removed || (long)c == s || !kid->parent ||
            strcmp(kid->parent, def->name) != 0)
            continue;
        free(kid->parent);
        kid->parent = vs_xstrdup(def->parent);
        m->snaps[c].dirty = true;
    }
    if (m->current && strcmp(m->current, def->name) == 0) {
        free(m->current);
        m->current = vs_xstrdup(def->parent);
    }
    /* Its internal snapshots go from every image that holds them. */
    for (k = 0; def->dom && k < def->dom->ndisks; k++) {
        const vs_domain_disk *dd = &def->dom->disks[k];
        long i;

        if (!local_disk(dd) || disk_location(def, dd) != VS_LOC_INTERNAL)
            continue;
        if ((i = img_find(m, dd->source)) < 0 || !m->imgs[i].exists ||
            !img_has_tag(&m->imgs[i], def->name))
            continue;
        vs_plan_tag(m->tags, VS_STEP_TAG_DELETE, m->imgs[i].path, def->name, NULL);
        img_drop_tag(&m->imgs[i], def->name);
    }
    mark_released_snap(m, def);
    m->snaps[s].removed = true;
    m->snaps[s].removed_order = ++m->nremoved;
}

int
vs_ext_delete(vs_dom *d, const char *name, unsigned flags, vs_plan **dry, vs_error *err)
{
    bool metadata_only = (flags & VS_DELETE_METADATA_ONLY) != 0;
    model m;
    vs_snap_tree *t;
    long si, idx, *desc = NULL;
    size_t ndesc = 0, i, k;
    char **names = NULL;
    vs_plan *p;
    int ret = -1;

    if (dry)
        *dry = NULL;
    if (model_load(&m, d, err) < 0)
        goto out;
    if ((si = snap_find(&m, name)) < 0) {
        vs_error_set(err, VS_ERR_NO_SNAPSHOT, "no domain snapshot with matching name '%s'", name);
        goto out;
    }
    if ((flags & VS_DELETE_CHILDREN) && (flags & VS_DELETE_CHILDREN_ONLY)) {
        vs_error_set(err, VS_ERR_PLAIN, "Flags '%s' and '%s' are mutually exclusive",
                     "VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN",
                     "VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY");
        goto out;
    }
    if (!(t = vs_dom_tree(d, err)))
        goto out;
    if ((idx = vs_snap_tree_find(t, name)) < 0) {
        vs_error_set(err, VS_ERR_NO_SNAPSHOT, "no domain snapshot with matching name '%s'", name);
        goto out;
    }
    /* Deepest first, then the snapshot itself (as delete in snapshot_delete.c). */
    if (flags & (VS_DELETE_CHILDREN | VS_DELETE_CHILDREN_ONLY)) {
        ndesc = vs_snap_tree_collect_descendants(t, idx, &desc);
        for (i = ndesc; i-- > 0;)
            vs_strv_push(&names, t->e[desc[i]].name);
    }
    if (!(flags & VS_DELETE_CHILDREN_ONLY))
        vs_strv_push(&names, name);

    for (i = 0; names && names[i]; i++) {
        long s = snap_find(&m, names[i]);
        vs_snapshot_def *def = s >= 0 ? m.snaps[s].def : NULL;

        for (k = 0; def && k < def->ndisks; k++)
            if (def->disks[k].delete_in_progress && !metadata_only) {
                vs_error_set(err, VS_ERR_OPERATION_INVALID,
                             "snapshot disk '%s' was target of not completed snapshot delete",
                             def->disks[k].name);
                goto out;
            }
    }
    if (!metadata_only) {
        if (graph_load(&m, err) < 0)
            goto out;
    }
    for (i = 0; names && names[i]; i++) {
        long s = snap_find(&m, names[i]);

        if (s >= 0)
            simulate_delete(&m, s);
    }
    if (metadata_only) {
        vs_plan_free(m.tags);
        m.tags = vs_plan_new("tags", d->name, NULL);
    } else {
        if (gc(&m, true, err) < 0)
            goto out;
        if (check_plan_images(&m, err) < 0)
            goto out;
    }
    p = assemble(&m, "snapshot-delete", name, NULL);
    ret = run_or_return(&m, p, dry, err);
 out:
    vs_strv_free(names);
    free(desc);
    model_free(&m);
    return ret;
}

/* ======================================================================== */
/* --dry-run for revert and delete (snapshot_ops.h)                         */

int
vs_snapshot_revert_plan(vs_dom *d, const char *name, unsigned flags, vs_plan **plan,
                        vs_error *err)
{
    *plan = NULL;
    return vs_ext_revert(d, name, flags, plan, err);
}

int
vs_snapshot_delete_plan(vs_dom *d, const char *name, unsigned flags, vs_plan **plan,
                        vs_error *err)
{
    *plan = NULL;
    return vs_ext_delete(d, name, flags, plan, err);
}
