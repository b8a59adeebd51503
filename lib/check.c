#include "config.h"

#include <fcntl.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "memory_transfer.h"
#include "saveimage.h"
#include "disk_source.h"
#include "domain_run.h"
#include "image_graph.h"
#include "image_id.h"
#include "journal.h"
#include "live_plan.h"
#include "mem.h"
#include "model.h"
#include "path.h"
#include "plan_run.h"
#include "qcow2.h"
#include "qemu_img.h"
#include "reclaim.h"
#include "saveimage.h"
#include "snapshot_def.h"
#include "snapshot_tree.h"

#define MAX_CHAIN 200

static const char *const kind_names[] = {
    [VS_CHECK_JOURNAL] = "journal",
    [VS_CHECK_METADATA] = "metadata",
    [VS_CHECK_MISSING] = "missing",
    [VS_CHECK_CHAIN] = "chain",
    [VS_CHECK_INTERNAL] = "internal",
    [VS_CHECK_IMAGE] = "image",
    [VS_CHECK_UNREFERENCED] = "unreferenced",
    [VS_CHECK_UNNEEDED] = "unneeded",
};

const char *
vs_check_kind_name(vs_check_kind kind)
{
    return (size_t)kind < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[kind] : "?";
}

void
vs_check_report_clear(vs_check_report *rep)
{
    size_t i;

    if (!rep)
        return;
    for (i = 0; i < rep->n; i++)
        free(rep->items[i].text);
    free(rep->items);
    vs_strv_free(rep->repaired);
    memset(rep, 0, sizeof(*rep));
}

static void
report(vs_check_report *rep, vs_check_kind kind, const char *fmt, ...) VS_PRINTF(3, 4);

static void
report(vs_check_report *rep, vs_check_kind kind, const char *fmt, ...)
{
    va_list ap;
    char *text;

    va_start(ap, fmt);
    if (vasprintf(&text, fmt, ap) < 0)
        abort();
    va_end(ap);
    vs_xgrow(&rep->items, &rep->cap, rep->n, sizeof(*rep->items));
    rep->items[rep->n].kind = kind;
    rep->items[rep->n].text = text;
    rep->n++;
}

/* ---- the images the metadata names --------------------------------------- */

typedef struct cimg {
    char *path;              /* normalised */
    char *meta_fmt;          /* the format the metadata gives, if any */
    char *who;               /* the first reference, for messages */
    bool own;                /* named by this domain (not only by another one) */
    bool probed, exists, regular, magic;
    vs_image_info info;      /* for images with a qcow2/QED header */
    bool chain;              /* reached only through a backing chain */
    vs_file_id id;           /* the file, when it exists (image_id.h) */
} cimg;

typedef struct cset {
    cimg *v;
    size_t n, cap;
} cset;

/* path is normalised; another spelling of an existing file is found by its
 * device and inode (image_id.h: one definition of the same image). */
static long
cset_find(const cset *s, const char *path)
{
    vs_file_id id;
    size_t i;

    for (i = 0; i < s->n; i++)
        if (strcmp(s->v[i].path, path) == 0)
            return (long)i;
    vs_file_id_get(path, &id);
    for (i = 0; id.exists && i < s->n; i++)
        if (vs_file_id_same(&id, &s->v[i].id))
            return (long)i;
    return -1;
}

static long
cset_add(cset *s, const char *path, const char *fmt, const char *who, bool own)
{
    char *n = vs_path_is_network(path) ? vs_net_locator_normalise(path) : NULL;
    long i;

    if (!n)
        n = vs_path_absolute(path);
    i = cset_find(s, n);
    cimg *c;

    if (i >= 0) {
        free(n);
        c = &s->v[i];
        if (!c->meta_fmt && fmt)
            c->meta_fmt = vs_xstrdup(fmt);
        if (own && !c->own) {
            c->own = true;
            free(c->who);
            c->who = vs_xstrdup(who);
        }
        return i;
    }
    vs_xgrow(&s->v, &s->cap, s->n, sizeof(*s->v));
    c = &s->v[s->n];
    memset(c, 0, sizeof(*c));
    c->path = n;
    vs_file_id_get(n, &c->id);
    c->meta_fmt = vs_xstrdup(fmt);
    c->who = vs_xstrdup(who);
    c->own = own;
    return (long)s->n++;
}

static void
cset_free(cset *s)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        free(s->v[i].path);
        free(s->v[i].meta_fmt);
        free(s->v[i].who);
        vs_image_info_clear(&s->v[i].info);
    }
    free(s->v);
}

static int
probe(cimg *c, vs_error *err)
{
    struct stat sb;
    int rc;

    if (c->probed)
        return 0;
    c->probed = true;
    if (vs_path_is_network(c->path)) {
        /* never stat'ed: its server answers (a server that does not is a
         * missing image) */
        if (vs_qemu_img_info(c->path, true, &c->info, NULL) < 0)
            return 0;
        c->exists = true;
        c->magic = c->info.format && strcmp(c->info.format, "raw") != 0;
        return 0;
    }
    if (stat(c->path, &sb) < 0)
        return 0;
    c->exists = true;
    c->regular = S_ISREG(sb.st_mode);
    rc = vs_qcow2_probe(c->path, &c->info, err);
    if (rc < 0)
        return -1;
    if (rc == 0 && vs_image_has_magic(c->path)) {
        if (vs_qemu_img_info(c->path, true, &c->info, err) < 0)
            return -1;
        rc = 1;
    }
    c->magic = rc == 1;
    return 0;
}

static bool
local(const vs_domain_disk *dd)
{
    return vs_disk_is_local(dd);
}

static void
add_dom(cset *s, const vs_domain_def *dom, const char *owner, bool own)
{
    size_t i;

    for (i = 0; dom && i < dom->ndisks; i++) {
        const vs_domain_disk *dd = &dom->disks[i];
        char *who;

        if (!local(dd))
            continue;
        who = vs_xasprintf("%s, disk %s", owner, dd->target ? dd->target : "?");
        cset_add(s, dd->source, dd->format, who, own);
        free(who);
    }
}

static void
add_entries(cset *s, const vs_snap_disk *disks, size_t n, const char *owner, const char *what,
            bool own)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const vs_snap_disk *e = &disks[i];
        char *who;

        if (e->snapshot != VS_LOC_EXTERNAL || !e->source ||
            (e->type != VS_STORAGE_FILE && e->type != VS_STORAGE_BLOCK &&
             !(e->type == VS_STORAGE_NETWORK && vs_path_is_network(e->source))))
            continue;
        who = vs_xasprintf("%s, %s of disk %s", owner, what, e->name ? e->name : "?");
        cset_add(s, e->source, e->format ? e->format : "qcow2", who, own);
        free(who);
    }
}

static void
add_snapshot(cset *s, const char *name, const vs_snapshot_def *def, bool own)
{
    char *owner = vs_xasprintf("snapshot '%s'", name);

    add_dom(s, def->dom, owner, own);
    add_dom(s, def->inactive_dom, owner, own);
    add_entries(s, def->disks, def->ndisks, owner, "overlay", own);
    add_entries(s, def->revert_disks, def->nrevert_disks, owner, "revert overlay", own);
    free(owner);
}

/* ---- loading definitions ---------------------------------------------- */

/* What the checks keep of one snapshot: its name and parent as its file
 * says, and a definition with what it says about images, shared by the
 * snapshots alike in that (model.h's vs_snap_shapes: its name is the first
 * one's, never this snapshot's). Files are read one at a time, so memory
 * grows with the number of snapshots by these few bytes only. */
typedef struct csnap {
    const char *name;
    const char *parent;      /* NULL for a root */
    const vs_snapshot_def *def;
} csnap;

typedef struct defs {
    csnap *v;                /* sorted by name */
    size_t n, cap;
    vs_snapshot_def **kept;  /* the definitions v shares */
    size_t nkept, capkept;
    char **chunks;           /* storage of the names */
    size_t nchunks, capchunks, left;
} defs;

#define CHUNK (64 * 1024)

static const char *
defs_strdup(defs *ds, const char *str)
{
    size_t n;
    char *p;

    if (!str)
        return NULL;
    n = strlen(str) + 1;
    if (n > CHUNK / 4) {
        vs_xgrow(&ds->chunks, &ds->capchunks, ds->nchunks, sizeof(*ds->chunks));
        p = ds->chunks[ds->nchunks++] = vs_xstrdup(str);
        /* the current chunk stays the one before (now at nchunks - 2) */
        if (ds->nchunks >= 2) {
            char *cur = ds->chunks[ds->nchunks - 2];

            ds->chunks[ds->nchunks - 2] = p;
            ds->chunks[ds->nchunks - 1] = cur;
        } else {
            ds->left = 0;
        }
        return p;
    }
    if (n > ds->left) {
        vs_xgrow(&ds->chunks, &ds->capchunks, ds->nchunks, sizeof(*ds->chunks));
        ds->chunks[ds->nchunks++] = vs_xmalloc(CHUNK);
        ds->left = CHUNK;
    }
    p = ds->chunks[ds->nchunks - 1] + (CHUNK - ds->left);
    memcpy(p, str, n);
    ds->left -= n;
    return p;
}

static void
defs_free(defs *ds)
{
    size_t i;

    for (i = 0; i < ds->nkept; i++)
        vs_snapshot_def_free(ds->kept[i]);
    free(ds->kept);
    for (i = 0; i < ds->nchunks; i++)
        free(ds->chunks[i]);
    free(ds->chunks);
    free(ds->v);
    memset(ds, 0, sizeof(*ds));
}

static int
cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
report_damaged(vs_check_report *rep, vs_dom *d, const char *file, const char *why)
{
    size_t n = strlen(file);
    char *name = vs_xstrndup(file, n > 4 && strcmp(file + n - 4, ".xml") == 0 ? n - 4 : n);

    report(rep, VS_CHECK_METADATA,
           "snapshot file '%s/snapshots/%s' cannot be used: %s; until it is mended no snapshot "
           "of the domain can be created, reverted or deleted: restore it from a backup, "
           "replace it with 'vsnap snapshot-create %s FILE --redefine', or forget it with "
           "'vsnap snapshot-delete %s %s --metadata' (its images stay as they are)",
           d->dir, file, why, d->name, d->name, name);
    free(name);
}

/* Every snapshot file of d, through the store (which never follows a link):
 * the ones it can use, and, reported when rep != NULL, the ones it cannot. */
static int
load_defs(vs_dom *d, defs *ds, vs_check_report *rep, vs_error *err)
{
    const vs_snap_damage *dmg;
    vs_snap_shapes *sh;
    vs_snap_tree *t;
    char **names = NULL;
    size_t nd, i;

    memset(ds, 0, sizeof(*ds));
    if (!(t = vs_dom_tree(d, err)) || vs_dom_damaged(d, &dmg, &nd, err) < 0)
        return -1;
    for (i = 0; rep && i < nd; i++)
        report_damaged(rep, d, dmg[i].file, dmg[i].reason);
    if (!(t = vs_dom_tree(d, err)))
        return -1;
    names = vs_xcalloc(t->n + 1, sizeof(*names));
    for (i = 0; i < t->n; i++)
        names[i] = vs_xstrdup(t->e[i].name);
    qsort(names, t->n, sizeof(*names), cmp_name);
    sh = vs_snap_shapes_new();
    for (i = 0; names && names[i]; i++) {
        const vs_snapshot_def *alike;
        vs_snapshot_def *def;
        vs_error e;
        csnap *c;

        vs_error_clear(&e);
        if (!(def = vs_dom_read_snapshot(d, names[i], &e))) {
            if (rep) {
                char *file = vs_xasprintf("%s.xml", names[i]);

                report_damaged(rep, d, file, e.msg);
                free(file);
            }
            continue;
        }
        vs_xgrow(&ds->v, &ds->cap, ds->n, sizeof(*ds->v));
        c = &ds->v[ds->n++];
        c->name = defs_strdup(ds, def->name);
        c->parent = defs_strdup(ds, def->parent);
        if ((alike = vs_snap_shapes_add(sh, def))) {
            c->def = alike;
            vs_snapshot_def_free(def);
        } else {
            c->def = def;
            vs_xgrow(&ds->kept, &ds->capkept, ds->nkept, sizeof(*ds->kept));
            ds->kept[ds->nkept++] = def;
        }
    }
    vs_snap_shapes_free(sh);
    vs_strv_free(names);
    return 0;
}

static int
cmp_csnap(const void *key, const void *elem)
{
    return strcmp(key, ((const csnap *)elem)->name);
}

static const csnap *
defs_find(const defs *ds, const char *name)
{
    if (!name || !ds->n)
        return NULL;
    return bsearch(name, ds->v, ds->n, sizeof(*ds->v), cmp_csnap);
}

/* The store's other domains: the files their metadata and open journals
 * name are not strays, and their uuids tell whose a temporary image is.
 * *uuids gets "uuid name" pairs (caller frees). */
static void
add_other_domains(vs_dom *d, cset *s, char ***uuids)
{
    char **names = NULL, **nm, **files;
    size_t i;

    if (vs_store_list_domains(d->store, &names, NULL) < 0)
        return;
    for (nm = names; nm && *nm; nm++) {
        vs_journal_state st;
        vs_plan *jp = NULL;
        vs_dom *o;
        defs ds;
        vs_domain_def *def;

        if (strcmp(*nm, d->name) == 0 || !(o = vs_dom_open(d->store, *nm, VS_LOCK_NONE, NULL)))
            continue;
        if ((def = vs_dom_def(o, NULL))) {
            char *pair = vs_xasprintf("%s %s", def->uuid ? def->uuid : "-", *nm);

            add_dom(s, def, "another domain", false);
            vs_strv_push(uuids, pair);
            free(pair);
        }
        if (load_defs(o, &ds, NULL, NULL) == 0) {
            for (i = 0; i < ds.n; i++)
                add_snapshot(s, ds.v[i].name, ds.v[i].def, false);
            defs_free(&ds);
        }
        if (vs_plan_load_journal(o, &jp, &st, NULL) == 0 && jp) {
            files = vs_journal_files(jp);
            for (i = 0; files[i]; i++)
                cset_add(s, files[i], NULL, "an interrupted operation of another domain", false);
            vs_strv_free(files);
            vs_journal_state_clear(&st);
            vs_plan_free(jp);
        }
        vs_dom_close(o);
    }
    vs_strv_free(names);
}

/* The name of the domain with this uuid, from add_other_domains' pairs. */
static const char *
domain_of(char *const *uuids, const char *uuid)
{
    size_t n = strlen(uuid), i;

    for (i = 0; uuids && uuids[i]; i++)
        if (strncmp(uuids[i], uuid, n) == 0 && uuids[i][n] == ' ')
            return uuids[i] + n + 1;
    return NULL;
}

/* ---- the checks ----------------------------------------------------------- */

static bool
fmt_matches(const cimg *c)
{
    const char *actual = c->magic ? (c->info.format ? c->info.format : "qcow2") : NULL;

    if (!c->meta_fmt)
        return true;
    if (actual)
        return strcmp(actual, c->meta_fmt) == 0;
    /* no header vsnap knows: anything but qcow2/qed may be right */
    return strcmp(c->meta_fmt, "qcow2") != 0 && strcmp(c->meta_fmt, "qed") != 0;
}

static const vs_domain_disk *
dom_disk(const vs_domain_def *dom, const char *target)
{
    int k;

    if (!dom || !target || (k = vs_domain_def_disk_index(dom, target)) < 0)
        return NULL;
    return &dom->disks[k];
}

static bool
is_internal_on(const vs_snapshot_def *def, const vs_domain_disk *dd)
{
    size_t i;

    for (i = 0; i < def->ndisks; i++)
        if (def->disks[i].name && dd->target && strcmp(def->disks[i].name, dd->target) == 0)
            return def->disks[i].snapshot == VS_LOC_INTERNAL;
    /* no entries: an internal snapshot of every writable disk */
    return def->ndisks == 0 && !vs_snapshot_def_is_external(def) && !dd->readonly &&
           dd->snapshot != VS_LOC_NO && dd->snapshot != VS_LOC_EXTERNAL &&
           dd->snapshot != VS_LOC_MANUAL && dd->device && strcmp(dd->device, "disk") == 0;
}

static bool
img_tag(const cimg *c, const char *tag)
{
    char **t;

    for (t = c->info.snapshot_tags; t && *t; t++)
        if (strcmp(*t, tag) == 0)
            return true;
    return false;
}

static void
check_overlays(cset *s, const char *name, const vs_snapshot_def *def, const vs_snap_disk *disks,
               size_t n,
               const char *what, vs_check_report *rep)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const vs_snap_disk *e = &disks[i];
        const vs_domain_disk *base = dom_disk(def->dom, e->name);
        char *np;
        long k;
        cimg *c;

        if (e->snapshot != VS_LOC_EXTERNAL || !e->source || !base || !local(base))
            continue;
        np = vs_path_absolute(e->source);
        k = cset_find(s, np);
        free(np);
        if (k < 0)
            continue;
        c = &s->v[k];
        if (!c->exists || !c->magic)
            continue;
        if (!c->info.full_backing_filename) {
            report(rep, VS_CHECK_CHAIN,
                   "snapshot '%s', %s of disk %s: '%s' has no backing file, but the snapshot "
                   "recorded '%s' under it", name, what, e->name, c->path, base->source);
        } else {
            char *a = vs_path_absolute(c->info.full_backing_filename);
            char *b = vs_path_absolute(base->source);

            if (!vs_same_image(a, b))
                report(rep, VS_CHECK_CHAIN,
                       "snapshot '%s', %s of disk %s: '%s' is based on '%s', but the snapshot "
                       "recorded '%s'", name, what, e->name, c->path, a, b);
            else if (c->info.backing_format && base->format &&
                     strcmp(c->info.backing_format, base->format) != 0)
                report(rep, VS_CHECK_CHAIN,
                       "snapshot '%s', %s of disk %s: '%s' names its backing file as '%s', but "
                       "the snapshot recorded a '%s' image", name, what, e->name, c->path,
                       c->info.backing_format, base->format);
            free(a);
            free(b);
        }
    }
}

static int
scan_dir(vs_dom *d, const char *dir, cset *s, char *const *uuids, unsigned flags,
         vs_check_report *rep)
{
    const char *mine = vs_dom_def(d, NULL) ? vs_dom_def(d, NULL)->uuid : NULL;
    struct dirent **ents = NULL;
    int n, i;

    n = scandir(dir, &ents, NULL, alphasort);
    if (n < 0)
        return 0;   /* an unreadable directory holds nothing vsnap can judge */
    for (i = 0; i < n; i++) {
        const char *fn = ents[i]->d_name;
        char *path = vs_path_join(dir, fn);
        char *owner = vs_tmp_image_owner(fn);
        const char *other = owner && *owner && (!mine || strcmp(owner, mine) != 0)
                            ? domain_of(uuids, owner) : NULL;

        if (strcmp(fn, ".") != 0 && strcmp(fn, "..") != 0 && vs_is_regular_file(path) &&
            cset_find(s, path) < 0 && (owner || vs_image_has_magic(path))) {
            if (other) {
                /* another domain's: only its own repair may take it */
                report(rep, VS_CHECK_UNREFERENCED,
                       "'%s' was left behind by an interrupted operation of domain '%s' "
                       "('vsnap snapshot-check %s --repair' removes it)", path, other, other);
            } else if (owner && (flags & VS_CHECK_REPAIR)) {
                vs_error e;

                vs_error_clear(&e);
                if (vs_file_remove(path, &e) == 0) {
                    char *line = vs_xasprintf("removed '%s', left behind by an interrupted "
                                              "operation", path);

                    vs_strv_push(&rep->repaired, line);
                    free(line);
                } else {
                    report(rep, VS_CHECK_UNREFERENCED, "'%s' cannot be removed: %s", path, e.msg);
                }
            } else if (owner) {
                report(rep, VS_CHECK_UNREFERENCED,
                       "'%s' was left behind by an interrupted operation (--repair removes it)",
                       path);
            } else {
                report(rep, VS_CHECK_UNREFERENCED,
                       "'%s' is an image file that no snapshot, no backing chain and no vsnap "
                       "domain refers to", path);
            }
        }
        free(owner);
        free(path);
        free(ents[i]);
    }
    free(ents);
    return 0;
}

/*
 * Images vsnap made that nothing needs any more: what a delete would have
 * merged or removed (a domain left on an overlay of its original image once
 * the last snapshot is gone, an overlay nothing refers to, a registry entry
 * whose file is gone). Reported as the steps --repair runs; with --repair
 * they run as a plan of their own.
 */
static int
check_unneeded(vs_dom *d, unsigned flags, vs_check_report *rep, vs_error *err)
{
    vs_plan *p = NULL;
    vs_model m;
    vs_error e;
    size_t i;
    bool later = false;
    int ret = 0, pass;

    memset(&m, 0, sizeof(m));
    /* First with one snapshot of each kind (model.h: VS_MODEL_DISTINCT),
     * which tells in little memory whether there is anything to do (the
     * usual answer: no); only then again with every snapshot, for the
     * plan itself. */
    for (pass = 0;; pass++) {
        vs_error_clear(&e);
        /* a model that cannot load was reported above (damaged files, chains) */
        if (vs_model_load(&m, d, VS_MODEL_IMAGES | VS_MODEL_LIVE |
                          (pass == 0 ? VS_MODEL_DISTINCT : 0), &e) < 0)
            goto out;
        p = vs_plan_new("snapshot-check --repair", d->name, m.dom->uuid, NULL);
        if (vs_reclaim_plan(&m, p, NULL, false, &e) < 0)
            goto out;
        /* a running domain: what QEMU holds waits until it is shut off */
        later = vs_live_adapt(&m, p, &e) < 0;
        /* only when images are involved or the registry names files that are
         * gone: a registry that merely lists overlays the metadata names too is
         * how earlier releases wrote it */
        for (i = 0; i < p->n; i++)
            if (vs_step_info(p->steps[i].kind)->mech != VS_MECH_STORE)
                break;
        if (i == p->n) {
            for (i = 0; m.registry && m.registry[i]; i++)
                if (!vs_file_exists(m.registry[i]))
                    break;
            if (!m.registry || !m.registry[i])
                goto out;
        }
        if (pass > 0)
            break;
        vs_plan_free(p);
        p = NULL;
        vs_model_release(&m);
    }
    if ((flags & VS_CHECK_REPAIR) && !later) {
        if ((ret = vs_plan_execute(p, d, err)) < 0)
            goto out;
        for (i = 0; i < p->n; i++) {
            vs_buf b = VS_BUF_INIT;

            vs_step_format(&p->steps[i], &b);
            vs_strv_push(&rep->repaired, vs_buf_str(&b));
            vs_buf_reset(&b);
        }
        vs_dom_forget(d);
    } else {
        for (i = 0; i < p->n; i++) {
            vs_buf b = VS_BUF_INIT;

            vs_step_format(&p->steps[i], &b);
            report(rep, VS_CHECK_UNNEEDED, "%s (--repair does it%s)", vs_buf_str(&b),
                   later ? " once the domain is shut off" : "");
            vs_buf_reset(&b);
        }
    }
 out:
    vs_plan_free(p);
    vs_model_release(&m);
    return ret;
}

/* <domain>/managed.save must be a complete save image (a start would fail
 * on anything else), and its temporary (memory_transfer.h) is only there
 * while a managedsave runs: one left with no journal is a leftover. */
static int
check_managed_save(vs_dom *d, unsigned flags, vs_check_report *rep, vs_error *err)
{
    const char *name;
    int dirfd = vs_dom_entry_at(d, VS_DOM_MANAGED_SAVE, &name), fd;
    char *shown = vs_dom_entry_path(d, VS_DOM_MANAGED_SAVE), *tmp, *tmp_shown;
    struct stat sb;
    vs_saveimage img;
    vs_error e;
    int ret = 0;

    tmp = vs_xasprintf(".%s" VS_MEM_TEMP_SUFFIX, name);
    tmp_shown = vs_mem_temp_path(shown);
    if (fstatat(dirfd, tmp, &sb, AT_SYMLINK_NOFOLLOW) == 0 && !vs_dom_journal_exists(d)) {
        if (!(flags & VS_CHECK_REPAIR)) {
            report(rep, VS_CHECK_UNREFERENCED, "'%s' is the partial image of an interrupted "
                   "managedsave; --repair removes it", tmp_shown);
        } else if (unlinkat(dirfd, tmp, 0) < 0 || fsync(dirfd) < 0) {
            ret = vs_error_sys(err, errno, "cannot remove '%s'", tmp_shown);
            goto out;
        } else {
            char *line = vs_xasprintf("removed '%s', the partial image of an interrupted "
                                      "managedsave", tmp_shown);
            vs_strv_push(&rep->repaired, line);
            free(line);
        }
    }
    if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
        goto out;
    vs_error_clear(&e);
    fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        vs_error_sys(&e, errno, "cannot open it");
    if (fd < 0 || vs_saveimage_read_fd(fd, shown, false, &img, &e) < 0) {
        if (!(flags & VS_CHECK_REPAIR)) {
            report(rep, VS_CHECK_METADATA, "the managed-save image '%s' cannot be used (%s); "
                   "--repair removes it, and start then boots", shown, e.msg);
        } else if (vs_dom_managed_save_remove(d, err) < 0) {
            ret = -1;
        } else {
            char *line = vs_xasprintf("removed the managed-save image '%s', which could not be "
                                      "used (%s)", shown, e.msg);
            vs_strv_push(&rep->repaired, line);
            free(line);
        }
    } else {
        vs_saveimage_clear(&img);
    }
    if (fd >= 0)
        close(fd);
 out:
    free(tmp);
    free(tmp_shown);
    free(shown);
    return ret;
}

int
vs_snapshot_check(vs_dom *d, unsigned flags, vs_check_report *rep, vs_error *err)
{
    vs_domain_def *dom;
    vs_snap_tree *t;
    cset s = { NULL, 0, 0 };
    defs ds;
    char **dirs = NULL, **uuids = NULL;
    size_t i, j, own_n;
    bool live = false;
    int ret = -1;

    memset(&ds, 0, sizeof(ds));
    /* 1. the journal */
    if (vs_dom_journal_exists(d)) {
        if (flags & VS_CHECK_REPAIR) {
            vs_buf done = VS_BUF_INIT;
            char *lines, *line, *save = NULL;

            if (vs_plan_repair(d, &done, err) < 0) {
                vs_buf_reset(&done);
                return -1;
            }
            lines = vs_buf_steal(&done);
            for (line = lines ? strtok_r(lines, "\n", &save) : NULL; line;
                 line = strtok_r(NULL, "\n", &save))
                vs_strv_push(&rep->repaired, line);
            free(lines);
            /* what the repair wrote is what the checks below must see */
            vs_dom_forget(d);
        } else {
            vs_journal_state st;
            vs_plan *jp = NULL;
            vs_error e;

            vs_error_clear(&e);
            if (vs_plan_load_journal(d, &jp, &st, &e) < 0 || !jp) {
                report(rep, VS_CHECK_JOURNAL, "%s; --repair finishes or rolls it back",
                       e.msg[0] ? e.msg : "unreadable journal");
            } else {
                char *what = vs_journal_describe_state(jp, &st);

                report(rep, VS_CHECK_JOURNAL, "%s; --repair finishes or rolls it back", what);
                free(what);
                vs_journal_state_clear(&st);
                vs_plan_free(jp);
            }
        }
    }

    /* 1b. the managed save: a complete image, and no partial one left */
    if (check_managed_save(d, flags, rep, err) < 0)
        return -1;

    /* 2. the metadata itself */
    if (!(dom = vs_dom_def(d, err)) || !(t = vs_dom_tree(d, err)))
        goto out;
    {
        vs_run_info run;

        if (vs_domain_run_info(d, &run, err) < 0)
            goto out;
        live = run.state != VS_RUN_SHUTOFF;
    }
    if (t->inconsistent)
        report(rep, VS_CHECK_METADATA,
               "the snapshots' parent links name missing snapshots or form a cycle");
    if (load_defs(d, &ds, rep, err) < 0)
        goto out;
    for (i = 0; i < ds.n; i++)
        if (ds.v[i].parent && !defs_find(&ds, ds.v[i].parent))
            report(rep, VS_CHECK_METADATA, "snapshot '%s' names parent '%s', which does not exist",
                   ds.v[i].name, ds.v[i].parent);

    /* 3. every image the metadata names */
    add_dom(&s, dom, "the domain", true);
    for (i = 0; i < ds.n; i++)
        add_snapshot(&s, ds.v[i].name, ds.v[i].def, true);
    own_n = s.n;
    for (i = 0; i < own_n; i++) {
        cimg *c = &s.v[i];

        if (probe(c, err) < 0)
            goto out;
        if (!c->exists) {
            report(rep, VS_CHECK_MISSING, "%s: image '%s' does not exist", c->who, c->path);
            continue;
        }
        if (!fmt_matches(c))
            report(rep, VS_CHECK_CHAIN, "%s: image '%s' is %s%s, not '%s' as the metadata says",
                   c->who, c->path, c->magic ? "a " : "not a qcow2 image",
                   c->magic ? (c->info.format ? c->info.format : "qcow2") : "", c->meta_fmt);
    }

    /* 3b. memory state files: a snapshot whose file is gone or unusable
     * cannot be reverted to */
    for (i = 0; i < ds.n; i++) {
        const vs_snapshot_def *def = ds.v[i].def;
        const char *name = ds.v[i].name;
        vs_saveimage img;
        vs_error e;
        int fd;

        if (def->memory != VS_LOC_EXTERNAL || !def->memory_file)
            continue;
        memset(&img, 0, sizeof(img));
        vs_error_clear(&e);
        if (!vs_file_exists(def->memory_file)) {
            report(rep, VS_CHECK_MISSING,
                   "snapshot '%s': memory state file '%s' does not exist (the snapshot cannot "
                   "be reverted to)", name, def->memory_file);
        } else if ((fd = vs_saveimage_open(def->memory_file, O_RDONLY, &img, &e)) < 0) {
            report(rep, VS_CHECK_IMAGE,
                   "snapshot '%s': memory state file '%s' cannot be used (%s): the snapshot "
                   "cannot be reverted to", name, def->memory_file, e.msg);
        } else {
            close(fd);
        }
        vs_saveimage_clear(&img);
    }

    /* 4. backing chains: every backing file exists */
    for (i = 0; i < s.n; i++) {
        cimg *c = &s.v[i];
        size_t depth = 0;
        long k = (long)i;

        if (!c->own)
            continue;
        while (k >= 0 && depth++ < MAX_CHAIN) {
            cimg *cur = &s.v[k];
            const char *b;
            char *who;
            long nk;

            if (probe(cur, err) < 0)
                goto out;
            if (!cur->exists || !cur->magic || !(b = cur->info.full_backing_filename))
                break;
            who = vs_xasprintf("backing file of '%s'", cur->path);
            nk = cset_add(&s, b, cur->info.backing_format, who, false);
            free(who);
            c = &s.v[i];   /* the array may have moved */
            cur = &s.v[k];
            if (!s.v[nk].probed) {
                s.v[nk].chain = true;
                if (probe(&s.v[nk], err) < 0)
                    goto out;
                if (!s.v[nk].exists)
                    report(rep, VS_CHECK_CHAIN, "image '%s' is based on '%s', which does not exist",
                           cur->path, s.v[nk].path);
            }
            if (nk == k)
                break;
            k = nk;
        }
    }

    /* 5. overlays against the images the snapshots recorded */
    for (i = 0; i < ds.n; i++) {
        const vs_snapshot_def *def = ds.v[i].def;

        check_overlays(&s, ds.v[i].name, def, def->disks, def->ndisks, "overlay", rep);
        check_overlays(&s, ds.v[i].name, def, def->revert_disks, def->nrevert_disks,
                       "revert overlay", rep);
    }

    /* 6. internal snapshot tables */
    for (i = 0; i < ds.n; i++) {
        const vs_snapshot_def *def = ds.v[i].def;
        const char *name = ds.v[i].name;

        for (j = 0; def->dom && j < def->dom->ndisks; j++) {
            const vs_domain_disk *dd = &def->dom->disks[j];
            char *np;
            long k;

            if (!local(dd) || !is_internal_on(def, dd))
                continue;
            np = vs_path_absolute(dd->source);
            k = cset_find(&s, np);
            free(np);
            if (k < 0 || !s.v[k].exists)
                continue;
            if (!s.v[k].magic)
                report(rep, VS_CHECK_INTERNAL,
                       "snapshot '%s', disk %s: image '%s' cannot hold internal snapshots",
                       name, dd->target, s.v[k].path);
            else if (!img_tag(&s.v[k], name))
                report(rep, VS_CHECK_INTERNAL,
                       "snapshot '%s', disk %s: image '%s' has no internal snapshot '%s'",
                       name, dd->target, s.v[k].path, name);
        }
    }
    for (i = 0; i < s.n; i++) {
        char **tag;

        if (!s.v[i].own || !s.v[i].magic)
            continue;
        for (tag = s.v[i].info.snapshot_tags; tag && *tag; tag++) {
            const csnap *cs = defs_find(&ds, *tag);
            const vs_snapshot_def *def = cs ? cs->def : NULL;
            bool placed = false;

            for (j = 0; def && def->dom && j < def->dom->ndisks; j++) {
                const vs_domain_disk *dd = &def->dom->disks[j];
                char *np;

                if (!local(dd) || !is_internal_on(def, dd))
                    continue;
                np = vs_path_absolute(dd->source);
                if (vs_same_image(np, s.v[i].path))
                    placed = true;
                free(np);
            }
            if (!placed)
                report(rep, VS_CHECK_INTERNAL,
                       "image '%s' holds internal snapshot '%s', which no snapshot's metadata "
                       "places there", s.v[i].path, *tag);
        }
    }

    /* 7. qemu-img check of every image vsnap relies on, unless QEMU has them
     * open (and writes to them: what qemu-img read would not be reliable) */
    if (!(flags & VS_CHECK_NO_QEMU) && !live) {
        for (i = 0; i < s.n; i++) {
            vs_image_check ck;
            vs_error e;
            const char *fmt;

            if (!s.v[i].exists || !s.v[i].magic)
                continue;
            fmt = s.v[i].info.format ? s.v[i].info.format : "qcow2";
            vs_error_clear(&e);
            if (vs_qemu_img_check(s.v[i].path, fmt, &ck, &e) < 0) {
                report(rep, VS_CHECK_IMAGE, "%s", e.msg);
                continue;
            }
            if (!ck.clean)
                report(rep, VS_CHECK_IMAGE, "image '%s': qemu-img check reports %s", s.v[i].path,
                       ck.detail ? ck.detail : "problems");
            vs_image_check_clear(&ck);
        }
    }

    /* 8. image files beside the domain's images that nothing uses */
    for (i = 0; i < own_n; i++) {
        char *dir = vs_xstrdup(s.v[i].path), *slash = strrchr(dir, '/');
        char **dd;
        bool seen = false;

        if (slash)
            *(slash == dir ? slash + 1 : slash) = '\0';
        for (dd = dirs; dd && *dd; dd++)
            if (strcmp(*dd, dir) == 0)
                seen = true;
        if (!seen)
            vs_strv_push(&dirs, dir);
        free(dir);
    }
    if (dirs) {
        add_other_domains(d, &s, &uuids);
        /* and their chains */
        for (i = 0; i < s.n; i++) {
            size_t depth = 0;
            long k = (long)i;

            if (s.v[i].own)
                continue;
            while (k >= 0 && depth++ < MAX_CHAIN) {
                long nk;

                if (probe(&s.v[k], err) < 0)
                    goto out;
                if (!s.v[k].exists || !s.v[k].magic || !s.v[k].info.full_backing_filename)
                    break;
                nk = cset_add(&s, s.v[k].info.full_backing_filename, NULL, "chain", false);
                if (nk == k)
                    break;
                k = nk;
            }
        }
        for (i = 0; dirs[i]; i++)
            if (scan_dir(d, dirs[i], &s, uuids, flags, rep) < 0)
                goto out;
    }
    /* 9. what vsnap made that nothing needs any more (the snapshots' facts
     * above are not needed for it) */
    defs_free(&ds);
    if (!vs_dom_journal_exists(d) && check_unneeded(d, flags, rep, err) < 0)
        goto out;
    ret = 0;
 out:
    vs_strv_free(uuids);
    vs_strv_free(dirs);
    defs_free(&ds);
    cset_free(&s);
    return ret;
}
