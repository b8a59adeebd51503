#include "config.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "check.h"
#include "journal.h"
#include "mem.h"
#include "path.h"
#include "qcow2.h"
#include "qemu_img.h"
#include "snapshot_def.h"
#include "snapshot_tree.h"

#define TMP_SUFFIX ".vsnap-new"
#define MAX_CHAIN 200

static const char *const kind_names[] = {
    [VS_CHECK_JOURNAL] = "journal",
    [VS_CHECK_METADATA] = "metadata",
    [VS_CHECK_MISSING] = "missing",
    [VS_CHECK_CHAIN] = "chain",
    [VS_CHECK_INTERNAL] = "internal",
    [VS_CHECK_IMAGE] = "image",
    [VS_CHECK_UNREFERENCED] = "unreferenced",
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
} cimg;

typedef struct cset {
    cimg *v;
    size_t n, cap;
} cset;

static long
cset_find(const cset *s, const char *path)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        if (strcmp(s->v[i].path, path) == 0)
            return (long)i;
    return -1;
}

static long
cset_add(cset *s, const char *path, const char *fmt, const char *who, bool own)
{
    char *n = vs_path_absolute(path);
    long i = cset_find(s, n);
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
    if (stat(c->path, &sb) < 0)
        return 0;
    c->exists = true;
    c->regular = S_ISREG(sb.st_mode);
    rc = vs_qcow2_probe(c->path, &c->info, err);
    if (rc < 0)
        return -1;
    if (rc == 0 && vs_image_has_magic(c->path)) {
        if (vs_qemu_img_info(c->path, false, &c->info, err) < 0)
            return -1;
        rc = 1;
    }
    c->magic = rc == 1;
    return 0;
}

static bool
local(const vs_domain_disk *dd)
{
    return (dd->type == VS_STORAGE_FILE || dd->type == VS_STORAGE_BLOCK) && dd->source;
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
            (e->type != VS_STORAGE_FILE && e->type != VS_STORAGE_BLOCK))
            continue;
        who = vs_xasprintf("%s, %s of disk %s", owner, what, e->name ? e->name : "?");
        cset_add(s, e->source, e->format ? e->format : "qcow2", who, own);
        free(who);
    }
}

static void
add_snapshot(cset *s, const vs_snapshot_def *def, bool own)
{
    char *owner = vs_xasprintf("snapshot '%s'", def->name);

    add_dom(s, def->dom, owner, own);
    add_dom(s, def->inactive_dom, owner, own);
    add_entries(s, def->disks, def->ndisks, owner, "overlay", own);
    add_entries(s, def->revert_disks, def->nrevert_disks, owner, "revert overlay", own);
    free(owner);
}

/* ---- loading definitions ---------------------------------------------- */

typedef struct defs {
    vs_snapshot_def **v;
    size_t n;
} defs;

static void
defs_free(defs *ds)
{
    size_t i;

    for (i = 0; i < ds->n; i++)
        vs_snapshot_def_free(ds->v[i]);
    free(ds->v);
}

/* Every snapshot file of d; unreadable ones are reported when rep != NULL. */
static int
load_defs(vs_dom *d, defs *ds, vs_check_report *rep, vs_error *err)
{
    char *sdir = vs_path_join(d->dir, "snapshots");
    struct dirent **ents = NULL;
    int n, i;

    ds->v = NULL;
    ds->n = 0;
    n = scandir(sdir, &ents, NULL, alphasort);
    if (n < 0) {
        int e = errno;

        if (e != ENOENT)
            vs_error_sys(err, e, "cannot list '%s'", sdir);
        free(sdir);
        return e == ENOENT ? 0 : -1;
    }
    ds->v = vs_xcalloc((size_t)n + 1, sizeof(*ds->v));
    for (i = 0; i < n; i++) {
        const char *fn = ents[i]->d_name;
        size_t len = strlen(fn);

        if (fn[0] != '.' && len > 4 && strcmp(fn + len - 4, ".xml") == 0) {
            char *name = vs_xstrndup(fn, len - 4);
            vs_error e;
            vs_snapshot_def *def;

            vs_error_clear(&e);
            def = vs_dom_read_snapshot(d, name, &e);
            if (def)
                ds->v[ds->n++] = def;
            else if (rep)
                report(rep, VS_CHECK_METADATA, "snapshot file '%s/%s' cannot be used: %s",
                       sdir, fn, e.msg);
            free(name);
        }
        free(ents[i]);
    }
    free(ents);
    free(sdir);
    return 0;
}

static const vs_snapshot_def *
defs_find(const defs *ds, const char *name)
{
    size_t i;

    for (i = 0; name && i < ds->n; i++)
        if (strcmp(ds->v[i]->name, name) == 0)
            return ds->v[i];
    return NULL;
}

/* The images of the store's other domains: their files are not strays. */
static void
add_other_domains(vs_dom *d, cset *s)
{
    char **names = NULL, **nm;

    if (vs_store_list_domains(d->store, &names, NULL) < 0)
        return;
    for (nm = names; nm && *nm; nm++) {
        vs_dom *o;
        defs ds;
        size_t i;
        vs_domain_def *def;

        if (strcmp(*nm, d->name) == 0 || !(o = vs_dom_open(d->store, *nm, VS_LOCK_NONE, NULL)))
            continue;
        if ((def = vs_dom_def(o, NULL)))
            add_dom(s, def, "another domain", false);
        if (load_defs(o, &ds, NULL, NULL) == 0) {
            for (i = 0; i < ds.n; i++)
                add_snapshot(s, ds.v[i], false);
            defs_free(&ds);
        }
        vs_dom_close(o);
    }
    vs_strv_free(names);
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
check_overlays(cset *s, const vs_snapshot_def *def, const vs_snap_disk *disks, size_t n,
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
                   "recorded '%s' under it", def->name, what, e->name, c->path, base->source);
        } else {
            char *a = vs_path_absolute(c->info.full_backing_filename);
            char *b = vs_path_absolute(base->source);

            if (strcmp(a, b) != 0)
                report(rep, VS_CHECK_CHAIN,
                       "snapshot '%s', %s of disk %s: '%s' is based on '%s', but the snapshot "
                       "recorded '%s'", def->name, what, e->name, c->path, a, b);
            else if (c->info.backing_format && base->format &&
                     strcmp(c->info.backing_format, base->format) != 0)
                report(rep, VS_CHECK_CHAIN,
                       "snapshot '%s', %s of disk %s: '%s' names its backing file as '%s', but "
                       "the snapshot recorded a '%s' image", def->name, what, e->name, c->path,
                       c->info.backing_format, base->format);
            free(a);
            free(b);
        }
    }
}

static int
scan_dir(const char *dir, cset *s, unsigned flags, vs_check_report *rep, vs_error *err)
{
    struct dirent **ents = NULL;
    int n, i;

    n = scandir(dir, &ents, NULL, alphasort);
    if (n < 0)
        return 0;   /* an unreadable directory holds nothing vsnap can judge */
    for (i = 0; i < n; i++) {
        const char *fn = ents[i]->d_name;
        char *path = vs_path_join(dir, fn);
        size_t len = strlen(fn);
        bool tmp = len > strlen(TMP_SUFFIX) &&
                   strcmp(fn + len - strlen(TMP_SUFFIX), TMP_SUFFIX) == 0;

        if (strcmp(fn, ".") != 0 && strcmp(fn, "..") != 0 && vs_is_regular_file(path) &&
            cset_find(s, path) < 0 && (tmp || vs_image_has_magic(path))) {
            if (tmp && (flags & VS_CHECK_REPAIR)) {
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
            } else if (tmp) {
                report(rep, VS_CHECK_UNREFERENCED,
                       "'%s' was left behind by an interrupted operation (--repair removes it)",
                       path);
            } else {
                report(rep, VS_CHECK_UNREFERENCED,
                       "'%s' is an image file that no snapshot, no backing chain and no vsnap "
                       "domain refers to", path);
            }
        }
        free(path);
        free(ents[i]);
    }
    free(ents);
    (void)err;
    return 0;
}

int
vs_snapshot_check(vs_dom *d, unsigned flags, vs_check_report *rep, vs_error *err)
{
    vs_domain_def *dom;
    vs_snap_tree *t;
    cset s = { NULL, 0, 0 };
    defs ds = { NULL, 0 };
    char **dirs = NULL;
    size_t i, j, own_n;
    int ret = -1;

    /* 1. the journal */
    if (vs_journal_exists(d)) {
        if (flags & VS_CHECK_REPAIR) {
            vs_buf done = VS_BUF_INIT;
            char *lines, *line, *save = NULL;

            if (vs_journal_repair(d, &done, err) < 0) {
                vs_buf_reset(&done);
                return -1;
            }
            lines = vs_buf_steal(&done);
            for (line = strtok_r(lines, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                vs_strv_push(&rep->repaired, line);
            free(lines);
        } else {
            vs_error e;
            char *what;

            vs_error_clear(&e);
            what = vs_journal_describe(d, &e);
            report(rep, VS_CHECK_JOURNAL, "%s; --repair finishes or rolls it back",
                   what ? what : e.msg);
            free(what);
        }
    }

    /* 2. the metadata itself */
    if (!(dom = vs_dom_def(d, err)) || !(t = vs_dom_tree(d, err)))
        goto out;
    if (t->inconsistent)
        report(rep, VS_CHECK_METADATA,
               "the snapshots' parent links name missing snapshots or form a cycle");
    if (load_defs(d, &ds, rep, err) < 0)
        goto out;
    for (i = 0; i < ds.n; i++)
        if (ds.v[i]->parent && !defs_find(&ds, ds.v[i]->parent))
            report(rep, VS_CHECK_METADATA, "snapshot '%s' names parent '%s', which does not exist",
                   ds.v[i]->name, ds.v[i]->parent);

    /* 3. every image the metadata names */
    add_dom(&s, dom, "the domain", true);
    for (i = 0; i < ds.n; i++)
        add_snapshot(&s, ds.v[i], true);
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
        check_overlays(&s, ds.v[i], ds.v[i]->disks, ds.v[i]->ndisks, "overlay", rep);
        check_overlays(&s, ds.v[i], ds.v[i]->revert_disks, ds.v[i]->nrevert_disks,
                       "revert overlay", rep);
    }

    /* 6. internal snapshot tables */
    for (i = 0; i < ds.n; i++) {
        const vs_snapshot_def *def = ds.v[i];

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
                       def->name, dd->target, s.v[k].path);
            else if (!img_tag(&s.v[k], def->name))
                report(rep, VS_CHECK_INTERNAL,
                       "snapshot '%s', disk %s: image '%s' has no internal snapshot '%s'",
                       def->name, dd->target, s.v[k].path, def->name);
        }
    }
    for (i = 0; i < s.n; i++) {
        char **tag;

        if (!s.v[i].own || !s.v[i].magic)
            continue;
        for (tag = s.v[i].info.snapshot_tags; tag && *tag; tag++) {
            const vs_snapshot_def *def = defs_find(&ds, *tag);
            bool placed = false;

            for (j = 0; def && def->dom && j < def->dom->ndisks; j++) {
                const vs_domain_disk *dd = &def->dom->disks[j];
                char *np;

                if (!local(dd) || !is_internal_on(def, dd))
                    continue;
                np = vs_path_absolute(dd->source);
                if (strcmp(np, s.v[i].path) == 0)
                    placed = true;
                free(np);
            }
            if (!placed)
                report(rep, VS_CHECK_INTERNAL,
                       "image '%s' holds internal snapshot '%s', which no snapshot's metadata "
                       "places there", s.v[i].path, *tag);
        }
    }

    /* 7. qemu-img check of every image vsnap relies on */
    if (!(flags & VS_CHECK_NO_QEMU)) {
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
        add_other_domains(d, &s);
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
            if (scan_dir(dirs[i], &s, flags, rep, err) < 0)
                goto out;
    }
    ret = 0;
 out:
    vs_strv_free(dirs);
    defs_free(&ds);
    cset_free(&s);
    return ret;
}
