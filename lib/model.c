/* The planners' model of the store: load it whole, count references, and
 * turn what the model now says into metadata steps. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mem.h"
#include "model.h"
#include "path.h"
#include "plan_run.h"
#include "domain_run.h"
#include "journal.h"
#include "snapshot_scan.h"
#include "snapshot_tree.h"

/* ---- small rules ---------------------------------------------------------- */

bool
vs_disk_is_local(const vs_domain_disk *dd)
{
    return ((dd->type == VS_STORAGE_FILE || dd->type == VS_STORAGE_BLOCK) && dd->source) ||
           (dd->type == VS_STORAGE_NETWORK && vs_path_is_network(dd->source));
}

vs_snap_disk *
vs_model_disk_entry(const vs_snapshot_def *def, const char *target)
{
    size_t i;

    for (i = 0; target && i < def->ndisks; i++)
        if (def->disks[i].name && strcmp(def->disks[i].name, target) == 0)
            return &def->disks[i];
    return NULL;
}

vs_snap_location
vs_model_disk_location(const vs_snapshot_def *def, const vs_domain_disk *dd)
{
    vs_snap_disk *e = vs_model_disk_entry(def, dd->target);

    if (e)
        return e->snapshot == VS_LOC_DEFAULT ? VS_LOC_NO : e->snapshot;
    if (def->ndisks == 0 && !vs_snapshot_def_is_external(def))
        return dd->readonly || dd->snapshot == VS_LOC_NO || dd->snapshot == VS_LOC_EXTERNAL ||
               dd->snapshot == VS_LOC_MANUAL ? VS_LOC_NO : VS_LOC_INTERNAL;
    return VS_LOC_NO;
}

const vs_domain_disk *
vs_model_snap_disk(const vs_model *m, long s, const char *target)
{
    const vs_domain_def *dom = m->snaps[s].def->dom;
    int k;

    if (!dom || !target || (k = vs_domain_def_disk_index(dom, target)) < 0)
        return NULL;
    return vs_disk_is_local(&dom->disks[k]) ? &dom->disks[k] : NULL;
}

long
vs_model_find(const vs_model *m, const char *name)
{
    size_t i;

    for (i = 0; name && i < m->nsnaps; i++)
        if (!m->snaps[i].removed && strcmp(m->snaps[i].def->name, name) == 0)
            return (long)i;
    return -1;
}

bool
vs_model_has_children(const vs_model *m, const char *name)
{
    size_t s;

    for (s = 0; s < m->nsnaps; s++)
        if (!m->snaps[s].removed && m->snaps[s].def->parent &&
            strcmp(m->snaps[s].def->parent, name) == 0)
            return true;
    return false;
}

char *
vs_model_format_snapshot(const vs_snapshot_def *def)
{
    return vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);
}

char *
vs_model_format_domain(const vs_domain_def *def)
{
    vs_buf b = VS_BUF_INIT;

    vs_domain_def_format(&b, def, 0, true, NULL);
    vs_buf_addc(&b, '\n');
    return vs_buf_steal(&b);
}

/* ---- snapshots alike ---------------------------------------------------------- */

struct vs_snap_shapes {
    struct shape_slot { char *key; const vs_snapshot_def *def; } *slot;
    size_t n, cap;           /* cap: a power of two, or 0 */
};

static void
key_str(vs_buf *b, const char *s)
{
    if (s) {
        vs_buf_add(b, s);
        vs_buf_addc(b, '\x1f');
    } else {
        vs_buf_addc(b, '\x1e');
    }
}

static bool
key_dom(vs_buf *b, const vs_domain_def *dom)
{
    size_t i;

    if (!dom) {
        vs_buf_add(b, "-\x1d");
        return true;
    }
    vs_buf_addf(b, "%zu\x1d", dom->ndisks);
    for (i = 0; i < dom->ndisks; i++) {
        const vs_domain_disk *dd = &dom->disks[i];

        if (dd->type == VS_STORAGE_NETWORK || vs_path_is_network(dd->source))
            return false;
        key_str(b, dd->device);
        key_str(b, dd->target);
        key_str(b, dd->bus);
        key_str(b, dd->source);
        key_str(b, dd->protocol);
        key_str(b, dd->source_name);
        key_str(b, dd->driver_name);
        key_str(b, dd->format);
        vs_buf_addf(b, "%d %d %d\x1d", (int)dd->type, dd->readonly, (int)dd->snapshot);
    }
    return true;
}

static bool
key_entries(vs_buf *b, const vs_snap_disk *e, size_t n)
{
    size_t i;

    vs_buf_addf(b, "%zu\x1d", n);
    for (i = 0; i < n; i++) {
        if (e[i].type == VS_STORAGE_NETWORK || vs_path_is_network(e[i].source))
            return false;
        key_str(b, e[i].name);
        key_str(b, e[i].source);
        key_str(b, e[i].format);
        vs_buf_addf(b, "%d %d %d %llu %d\x1d", (int)e[i].snapshot, (int)e[i].type,
                    e[i].has_metadata_cache, e[i].metadata_cache_max_size,
                    e[i].delete_in_progress);
    }
    return true;
}

/* What def says about images, as a string; NULL when it is like no other. */
static char *
shape_key(const vs_snapshot_def *def)
{
    vs_buf b = VS_BUF_INIT;

    vs_buf_addf(&b, "%d %d\x1d", (int)def->state, (int)def->memory);
    key_str(&b, def->memory_file);
    if (!key_dom(&b, def->dom) || !key_dom(&b, def->inactive_dom) ||
        !key_entries(&b, def->disks, def->ndisks) ||
        !key_entries(&b, def->revert_disks, def->nrevert_disks)) {
        vs_buf_reset(&b);
        return NULL;
    }
    return vs_buf_steal(&b);
}

static size_t
shape_hash(const char *s)
{
    size_t h = 14695981039346656037ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

vs_snap_shapes *
vs_snap_shapes_new(void)
{
    return vs_xcalloc(1, sizeof(vs_snap_shapes));
}

static void
shapes_insert(vs_snap_shapes *sh, char *key, const vs_snapshot_def *def)
{
    size_t i = shape_hash(key) & (sh->cap - 1);

    while (sh->slot[i].key)
        i = (i + 1) & (sh->cap - 1);
    sh->slot[i].key = key;
    sh->slot[i].def = def;
    sh->n++;
}

const vs_snapshot_def *
vs_snap_shapes_add(vs_snap_shapes *sh, const vs_snapshot_def *def)
{
    char *key = shape_key(def);
    size_t i;

    if (!key)
        return NULL;
    if (sh->cap) {
        for (i = shape_hash(key) & (sh->cap - 1); sh->slot[i].key; i = (i + 1) & (sh->cap - 1))
            if (strcmp(sh->slot[i].key, key) == 0) {
                free(key);
                return sh->slot[i].def;
            }
    }
    if (2 * (sh->n + 1) > sh->cap) {
        struct shape_slot *old = sh->slot;
        size_t old_cap = sh->cap;

        sh->cap = sh->cap ? 2 * sh->cap : 16;
        sh->slot = vs_xcalloc(sh->cap, sizeof(*sh->slot));
        sh->n = 0;
        for (i = 0; i < old_cap; i++)
            if (old[i].key)
                shapes_insert(sh, old[i].key, old[i].def);
        free(old);
    }
    shapes_insert(sh, key, def);
    return NULL;
}

void
vs_snap_shapes_free(vs_snap_shapes *sh)
{
    size_t i;

    if (!sh)
        return;
    for (i = 0; i < sh->cap; i++)
        free(sh->slot[i].key);
    free(sh->slot);
    free(sh);
}

/* ---- loading -------------------------------------------------------------- */

static int
cannot_plan(vs_error *err, const vs_dom *d, const char *what)
{
    return vs_error_set(err, VS_ERR_OPERATION_FAILED, "cannot plan on domain '%s': %s; run "
                        "'vsnap snapshot-check %s' for the ways out", d->name, what, d->name);
}

/* Every snapshot file of o usable and the tree consistent, or an error
 * naming the first problem. */
static int
check_usable(vs_dom *planned, vs_dom *o, const char *replacing, vs_error *err)
{
    const vs_snap_damage *dmg;
    vs_snap_tree *t;
    vs_error e;
    size_t nd, i;
    char *what;
    int ret;

    vs_error_clear(&e);
    if (!(t = vs_dom_tree(o, &e))) {
        what = vs_xasprintf("the snapshots of domain '%s' cannot be listed: %s", o->name, e.msg);
        goto fail;
    }
    /* What the tree recorded is enough (a planner reads every file it relies
     * on, and so sees one damaged in place); only when it recorded damage
     * are the files looked at again, as one may have been mended in place. */
    if (vs_dom_damaged_recorded(o, &dmg, &nd, &e) < 0 ||
        (nd > 0 && vs_dom_damaged(o, &dmg, &nd, &e) < 0)) {
        what = vs_xasprintf("the snapshots of domain '%s' cannot be listed: %s", o->name, e.msg);
        goto fail;
    }
    /* the file a new snapshot of the same name replaces is no obstacle */
    for (i = 0; i < nd; i++) {
        size_t n = replacing ? strlen(replacing) : 0;

        if (replacing && strncmp(dmg[i].file, replacing, n) == 0 &&
            strcmp(dmg[i].file + n, ".xml") == 0)
            continue;
        what = vs_xasprintf("snapshot file '%s/snapshots/%s' cannot be used (%s)", o->dir,
                            dmg[i].file, dmg[i].reason);
        goto fail;
    }
    for (i = 0; i < t->n; i++)
        if (t->e[i].parent && vs_snap_tree_find(t, t->e[i].parent) < 0) {
            what = vs_xasprintf("snapshot '%s' of domain '%s' names parent '%s', which does not "
                                "exist", t->e[i].name, o->name, t->e[i].parent);
            goto fail;
        }
    if (t->inconsistent) {
        what = vs_xasprintf("the parent links of domain '%s''s snapshots form a cycle", o->name);
        goto fail;
    }
    return 0;
 fail:
    ret = cannot_plan(err, planned, what);
    free(what);
    return ret;
}

int
vs_model_check_usable(vs_dom *d, const char *replacing, vs_error *err)
{
    return check_usable(d, d, replacing, err);
}

/*
 * What a plan that removes snapshot `name` needs of it: its file's text as
 * stored (to put it back) and, when the scan vouches for its fields and it
 * names no image of its own (not external), a definition of those fields
 * only; otherwise the text parsed whole. NULL with err when it cannot be
 * used.
 */
static vs_snapshot_def *
load_gone(vs_model *m, const char *name, char **text, vs_error *err)
{
    vs_snapshot_def *def = NULL;
    vs_snap_entry e;
    char *copy;

    if (!(*text = vs_dom_read_snapshot_text(m->d, name, err)))
        return NULL;
    copy = vs_xstrdup(*text);
    if (vs_snapshot_scan(copy, strlen(copy), &e) == 1 && !e.external &&
        strcmp(e.name, name) == 0) {
        def = vs_xcalloc(1, sizeof(*def));
        def->active = -1;
        def->name = vs_xstrdup(e.name);
        def->parent = vs_xstrdup(e.parent);
        def->state = e.state;
        def->creation_time = e.creation_time;
        def->memory = VS_LOC_NO;
    } else if ((def = vs_snapshot_def_parse(*text, strlen(*text), name,
                                            VS_SNAP_PARSE_REDEFINE | VS_SNAP_PARSE_ACTIVE_OPTIONAL,
                                            0, err)) &&
               (!def->name || strcmp(def->name, name) != 0)) {
        vs_error_set(err, VS_ERR_INTERNAL, "snapshot file holds snapshot '%s'",
                     def->name ? def->name : "");
        vs_snapshot_def_free(def);
        def = NULL;
    }
    free(copy);
    if (!def) {
        free(*text);
        *text = NULL;
    }
    return def;
}

/* Read the snapshots `only` names (NULL: all of them); those in `gone`
 * (the plan removes them) as load_gone reads them. */
static int
load_snapshots(vs_model *m, char *const *only, char *const *gone, bool distinct,
               vs_error *err)
{
    vs_snap_shapes *sh = distinct ? vs_snap_shapes_new() : NULL;
    vs_snap_tree *t;
    char **names = NULL;
    unsigned char *is_gone;
    size_t i, j, n;

    if (!(t = vs_dom_tree(m->d, err))) {
        vs_snap_shapes_free(sh);
        return -1;
    }
    /* the tree's entries `only` names, each once, in the tree's order */
    names = vs_xcalloc(t->n + 1, sizeof(*names));
    is_gone = vs_xcalloc(t->n + 1, 1);
    n = 0;
    if (only) {
        unsigned char *want = vs_xcalloc(t->n ? t->n : 1, 1);
        long k;

        for (j = 0; only[j]; j++)
            if ((k = vs_snap_tree_find(t, only[j])) >= 0)
                want[k] = 1;
        for (j = 0; gone && gone[j]; j++)
            if ((k = vs_snap_tree_find(t, gone[j])) >= 0 && want[k])
                want[k] = 2;
        for (i = 0; i < t->n; i++) {
            if (want[i])
                is_gone[n] = want[i] == 2;
            if (want[i])
                names[n++] = vs_xstrdup(t->e[i].name);
        }
        free(want);
    } else {
        for (i = 0; i < t->n; i++)
            names[n++] = vs_xstrdup(t->e[i].name);
    }
    m->snaps = vs_xcalloc(n + 1, sizeof(*m->snaps));
    for (i = 0; i < n; i++) {
        vs_error e;
        vs_snapshot_def *def;
        char *text = NULL;

        vs_error_clear(&e);
        if (is_gone[i])
            def = load_gone(m, names[i], &text, &e);
        else
            def = vs_dom_read_snapshot(m->d, names[i], &e);
        if (!def) {
            char *what = vs_xasprintf("snapshot file '%s/snapshots/%s.xml' cannot be used (%s)",
                                      m->d->dir, names[i], e.msg);

            cannot_plan(err, m->d, what);
            free(what);
            vs_strv_free(names);
            free(is_gone);
            vs_snap_shapes_free(sh);
            return -1;
        }
        if (sh && vs_snap_shapes_add(sh, def)) {
            /* one alike was read before: this one adds nothing a reclaim
             * plan looks at */
            vs_snapshot_def_free(def);
            continue;
        }
        m->snaps[m->nsnaps].def = def;
        /* what the plan puts back: the text as formatted, or as stored */
        m->snaps[m->nsnaps].text = text ? text : vs_model_format_snapshot(def);
        m->nsnaps++;
    }
    vs_strv_free(names);
    free(is_gone);
    vs_snap_shapes_free(sh);
    return 0;
}

/* ---- references ------------------------------------------------------------ */

typedef enum { REF_DOMAIN, REF_CONTENT, REF_OVERLAY, REF_REVERT } ref_kind;
typedef void (*ref_fn)(vs_model *m, const char *path, const char *fmt, ref_kind kind, long snap,
                       const char *target, vs_snap_location loc);

const char *
vs_model_entry_fmt(const vs_snap_disk *e)
{
    return e->format ? e->format : "qcow2";
}

static bool
entry_local(const vs_snap_disk *e)
{
    return e->snapshot == VS_LOC_EXTERNAL && e->source &&
           (e->type == VS_STORAGE_FILE || e->type == VS_STORAGE_BLOCK ||
            (e->type == VS_STORAGE_NETWORK && vs_path_is_network(e->source)));
}

static void
dom_refs(vs_model *m, const vs_domain_def *dom, ref_kind kind, long s,
         const vs_snapshot_def *def, ref_fn fn)
{
    size_t i;

    for (i = 0; dom && i < dom->ndisks; i++) {
        const vs_domain_disk *dd = &dom->disks[i];

        if (vs_disk_is_local(dd))
            fn(m, dd->source, dd->format, kind, s, dd->target,
               def ? vs_model_disk_location(def, dd) : VS_LOC_DEFAULT);
    }
}

static void
for_each_ref(vs_model *m, ref_fn fn)
{
    size_t s, k;

    dom_refs(m, m->dom, REF_DOMAIN, -1, NULL, fn);
    for (s = 0; s < m->nsnaps; s++) {
        vs_snapshot_def *def = m->snaps[s].def;

        if (m->snaps[s].removed)
            continue;
        dom_refs(m, def->dom, REF_CONTENT, (long)s, def, fn);
        dom_refs(m, def->inactive_dom, REF_CONTENT, (long)s, def, fn);
        for (k = 0; k < def->ndisks; k++)
            if (entry_local(&def->disks[k]))
                fn(m, def->disks[k].source, vs_model_entry_fmt(&def->disks[k]), REF_OVERLAY, (long)s,
                   def->disks[k].name, VS_LOC_EXTERNAL);
        for (k = 0; k < def->nrevert_disks; k++)
            if (entry_local(&def->revert_disks[k]))
                fn(m, def->revert_disks[k].source, vs_model_entry_fmt(&def->revert_disks[k]), REF_REVERT,
                   (long)s, def->revert_disks[k].name, VS_LOC_EXTERNAL);
    }
}

static void
add_initial(vs_model *m, const char *path, const char *fmt, ref_kind kind, long s,
            const char *target, vs_snap_location loc)
{
    long i = vs_graph_add(&m->g, path, fmt);

    (void)s;
    (void)target;
    (void)loc;
    switch (kind) {
    case REF_DOMAIN: m->g.v[i].was_domain = true; break;
    case REF_CONTENT: m->g.v[i].was_content = true; break;
    case REF_OVERLAY: m->g.v[i].was_overlay = true; break;
    case REF_REVERT: m->g.v[i].was_revert = true; break;
    }
}

static void
mark_device(vs_model *m, vs_storage_type t, const char *path)
{
    long i = t == VS_STORAGE_BLOCK ? vs_graph_find(&m->g, path) : -1;

    if (i >= 0)
        m->g.v[i].device = true;
}

static void
mark_dom_devices(vs_model *m, const vs_domain_def *dom)
{
    size_t i;

    for (i = 0; dom && i < dom->ndisks; i++)
        mark_device(m, dom->disks[i].type, dom->disks[i].source);
}

/* Whatever any definition or snapshot names as type='block' is a device,
 * even a regular file given as one: never created, reset, merged away or
 * removed (image_graph.h: device). */
static void
mark_devices(vs_model *m)
{
    size_t s, k;

    mark_dom_devices(m, m->dom);
    for (s = 0; s < m->nsnaps; s++) {
        const vs_snapshot_def *def = m->snaps[s].def;

        mark_dom_devices(m, def->dom);
        mark_dom_devices(m, def->inactive_dom);
        for (k = 0; k < def->ndisks; k++)
            mark_device(m, def->disks[k].type, def->disks[k].source);
        for (k = 0; k < def->nrevert_disks; k++)
            mark_device(m, def->revert_disks[k].type, def->revert_disks[k].source);
    }
    for (k = 0; k < m->g.n; k++)
        if (m->g.v[k].device)
            m->g.v[k].regular = false;
}

void
vs_model_refs_initial(vs_model *m)
{
    size_t i;

    for_each_ref(m, add_initial);
    mark_devices(m);
    for (i = 0; m->registry && m->registry[i]; i++) {
        long k = vs_graph_find(&m->g, m->registry[i]);

        if (k >= 0)
            m->g.v[k].registered = true;
    }
}

static void
add_count(vs_model *m, const char *path, const char *fmt, ref_kind kind, long s,
          const char *target, vs_snap_location loc)
{
    long i = vs_graph_find(&m->g, path);
    vs_image *im;

    (void)fmt;
    if (i < 0)
        return;
    im = &m->g.v[i];
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

void
vs_model_recount(vs_model *m)
{
    size_t i;

    for (i = 0; i < m->g.n; i++) {
        vs_image *im = &m->g.v[i];

        im->r_domain = im->r_content = im->r_content_ext = im->r_content_int = 0;
        im->r_overlay = im->r_revert = 0;
        im->overlay_snap = -1;
        free(im->overlay_target);
        im->overlay_target = NULL;
    }
    for_each_ref(m, add_count);
}

/* ---- other domains ---------------------------------------------------------- */

static void
mark_foreign(vs_model *m, const char *path, const char *owner)
{
    long i = vs_graph_add(&m->g, path, NULL);

    if (!m->g.v[i].foreign)
        m->g.v[i].foreign = vs_xstrdup(owner);
}

static void
foreign_dom(vs_model *m, const vs_domain_def *dom, const char *owner)
{
    size_t i;

    for (i = 0; dom && i < dom->ndisks; i++)
        if (vs_disk_is_local(&dom->disks[i]))
            mark_foreign(m, dom->disks[i].source, owner);
}

static void
foreign_snapshot(vs_model *m, const vs_snapshot_def *def, const char *owner)
{
    size_t k;

    foreign_dom(m, def->dom, owner);
    foreign_dom(m, def->inactive_dom, owner);
    if (def->memory == VS_LOC_EXTERNAL && def->memory_file)
        mark_foreign(m, def->memory_file, owner);
    for (k = 0; k < def->ndisks; k++)
        if (entry_local(&def->disks[k]))
            mark_foreign(m, def->disks[k].source, owner);
    for (k = 0; k < def->nrevert_disks; k++)
        if (entry_local(&def->revert_disks[k]))
            mark_foreign(m, def->revert_disks[k].source, owner);
}

static int
load_other(vs_model *m, vs_dom *o, vs_error *err)
{
    vs_domain_def *def;
    vs_journal_state st;
    vs_plan *jp = NULL;
    vs_snap_tree *t;
    char **names = NULL, **files, *owner, *what;
    vs_error e;
    size_t i;
    int ret = -1;

    vs_error_clear(&e);
    if (!(def = vs_dom_def(o, &e))) {
        what = vs_xasprintf("the definition of domain '%s' cannot be read (%s)", o->name, e.msg);
        cannot_plan(err, m->d, what);
        free(what);
        return -1;
    }
    owner = vs_xasprintf("domain '%s' uses it", o->name);
    foreign_dom(m, def, owner);
    free(owner);
    if (check_usable(m->d, o, NULL, err) < 0 || !(t = vs_dom_tree(o, err)))
        return -1;
    names = vs_xcalloc(t->n + 1, sizeof(*names));
    for (i = 0; i < t->n; i++)
        names[i] = vs_xstrdup(t->e[i].name);
    for (i = 0; names && names[i]; i++) {
        vs_snapshot_def *sd = vs_dom_read_snapshot(o, names[i], &e);

        if (!sd) {
            what = vs_xasprintf("snapshot '%s' of domain '%s' cannot be read (%s)", names[i],
                                o->name, e.msg);
            cannot_plan(err, m->d, what);
            free(what);
            goto out;
        }
        owner = vs_xasprintf("snapshot '%s' of domain '%s' relies on it", names[i], o->name);
        foreign_snapshot(m, sd, owner);
        free(owner);
        vs_snapshot_def_free(sd);
    }
    if (vs_plan_load_journal(o, &jp, &st, &e) < 0) {
        what = vs_xasprintf("the journal of domain '%s' cannot be read (%s)", o->name, e.msg);
        cannot_plan(err, m->d, what);
        free(what);
        goto out;
    }
    if (jp) {
        owner = vs_xasprintf("an interrupted %s of domain '%s' names it (run 'vsnap "
                             "snapshot-check %s --repair')", jp->operation, o->name, o->name);
        files = vs_journal_files(jp);
        for (i = 0; files[i]; i++)
            mark_foreign(m, files[i], owner);
        vs_strv_free(files);
        free(owner);
        vs_journal_state_clear(&st);
        vs_plan_free(jp);
    }
    ret = 0;
 out:
    vs_strv_free(names);
    return ret;
}

static int
load_others(vs_model *m, vs_error *err)
{
    char **names = NULL;
    size_t i;
    int ret = 0;

    if (vs_store_list_domains(m->d->store, &names, err) < 0)
        return -1;
    for (i = 0; names[i] && ret == 0; i++) {
        vs_dom *o;
        vs_error e;

        if (strcmp(names[i], m->d->name) == 0)
            continue;
        vs_error_clear(&e);
        /* Read without its lock: every file of it is replaced atomically, and
         * waiting for another domain's operation would make two cron jobs on
         * two domains fail each other. */
        if (!(o = vs_dom_open(m->d->store, names[i], VS_LOCK_NONE, &e))) {
            if (e.code == VS_ERR_NO_DOMAIN)
                continue;   /* undefined meanwhile */
            ret = vs_error_set(err, VS_ERR_OPERATION_FAILED,
                               "cannot plan on domain '%s': domain '%s' cannot be read (%s)",
                               m->d->name, names[i], e.msg);
            break;
        }
        ret = load_other(m, o, err);
        vs_dom_close(o);
    }
    vs_strv_free(names);
    return ret;
}

/* Whatever another domain relies on, the chain below it is relied on too. */
static void
spread_foreign(vs_graph *g)
{
    size_t i;
    bool changed = true;

    while (changed) {
        changed = false;
        for (i = 0; i < g->n; i++) {
            long b;

            if (!g->v[i].foreign || (b = vs_graph_find(g, g->v[i].backing)) < 0 ||
                g->v[b].foreign)
                continue;
            g->v[b].foreign = vs_xasprintf("the backing chain of '%s' reaches it (%s)",
                                           g->v[i].path, g->v[i].foreign);
            changed = true;
        }
    }
}

static int
load_metadata(vs_model *m, vs_dom *d, char *const *only, char *const *gone, bool distinct,
              vs_error *err)
{
    vs_domain_def *dom;
    vs_snap_tree *t;

    memset(m, 0, sizeof(*m));
    m->d = d;
    m->now = (long)time(NULL);
    /* a model of some snapshots reads those whole; the others count as the
     * index last saw them */
    if (check_usable(d, d, NULL, err) < 0)
        return -1;
    if (!(dom = vs_dom_def(d, err)) || !(t = vs_dom_tree(d, err)))
        return -1;
    m->dom = vs_domain_def_copy(dom);
    m->dom_text = vs_model_format_domain(dom);
    if (load_snapshots(m, only, gone, distinct, err) < 0)
        return -1;
    m->current = vs_dom_current(d);
    if (m->current && !(t = vs_dom_tree(d, err)))
        return -1;
    if (m->current && vs_snap_tree_find(t, m->current) < 0) {
        free(m->current);
        m->current = NULL;
    }
    m->current_before = vs_xstrdup(m->current);
    return vs_dom_registry_load(d, &m->registry, err);
}

int
vs_model_load_some(vs_model *m, vs_dom *d, char *const *names, char *const *gone,
                   vs_error *err)
{
    char *none[1] = { NULL };

    return load_metadata(m, d, names ? names : none, gone, false, err);
}

static void note_held(vs_model *m);

int
vs_model_load(vs_model *m, vs_dom *d, unsigned flags, vs_error *err)
{
    if (load_metadata(m, d, NULL, NULL, (flags & VS_MODEL_DISTINCT) != 0, err) < 0)
        return -1;
    if (!(flags & VS_MODEL_IMAGES))
        return 0;
    /* qemu-img must not touch images a running QEMU holds: a plan for a
     * running domain is made knowing it (VS_MODEL_LIVE), others refuse */
    if (!(flags & VS_MODEL_LIVE)) {
        if (vs_domain_require_inactive(d, err) < 0)
            return -1;
    } else {
        if (vs_domain_run_info(d, &m->run, err) < 0)
            return -1;
        if (m->run.state != VS_RUN_SHUTOFF) {
            m->live = true;
            if (!(m->live_dom = vs_domain_live_def(d, err)))
                return -1;
            /* its images too, with their chains */
            for (size_t i = 0; i < m->live_dom->ndisks; i++)
                if (vs_disk_is_local(&m->live_dom->disks[i]))
                    vs_graph_add(&m->g, m->live_dom->disks[i].source,
                                 m->live_dom->disks[i].format);
        }
    }
    m->images = true;
    vs_model_refs_initial(m);
    if (vs_graph_close_chains(&m->g, true, err) < 0)
        return -1;
    if (load_others(m, err) < 0)
        return -1;
    if (vs_graph_close_chains(&m->g, true, err) < 0)
        return -1;
    spread_foreign(&m->g);
    note_held(m);
    /* QEMU writes to the disks' active layers, and what it has not flushed
     * is not in their files yet: they hold data, whatever the files say */
    for (size_t i = 0; m->live && i < m->live_dom->ndisks; i++) {
        long k = vs_disk_is_local(&m->live_dom->disks[i])
                 ? vs_graph_find(&m->g, m->live_dom->disks[i].source) : -1;

        if (k >= 0)
            m->g.v[k].empty = 0;
    }
    vs_model_recount(m);
    return 0;
}

struct vs_model_held {
    char *path;
    char *target;
    int how;
};

/* What QEMU holds, from the graph as loaded: each disk's image and its chain. */
static void
note_held(vs_model *m)
{
    size_t i, cap = 0;
    int depth;
    long k;

    for (i = 0; m->live_dom && i < m->live_dom->ndisks; i++) {
        const vs_domain_disk *dd = &m->live_dom->disks[i];

        if (!vs_disk_is_local(dd))
            continue;
        k = vs_graph_find(&m->g, dd->source);
        for (depth = 0; k >= 0 && depth < 256; depth++) {
            vs_xgrow(&m->held, &cap, m->nheld, sizeof(*m->held));
            m->held[m->nheld].path = vs_xstrdup(m->g.v[k].path);
            m->held[m->nheld].target = vs_xstrdup(dd->target);
            m->held[m->nheld].how = depth == 0 ? 1 : 2;
            m->nheld++;
            k = m->g.v[k].backing ? vs_graph_find(&m->g, m->g.v[k].backing) : -1;
        }
    }
}

int
vs_model_qemu_holds(const vs_model *m, const char *path, const char **target)
{
    size_t i;
    int how = 0;

    for (i = 0; path && i < m->nheld; i++)
        if ((how == 0 || m->held[i].how < how) && vs_same_image(m->held[i].path, path)) {
            how = m->held[i].how;
            if (target)
                *target = m->held[i].target;
        }
    return how;
}

void
vs_model_init_memory(vs_model *m, vs_domain_def *dom, vs_snapshot_def **defs, size_t n)
{
    size_t i;

    memset(m, 0, sizeof(*m));
    m->now = (long)time(NULL);
    m->dom = dom;
    m->dom_text = vs_model_format_domain(dom);
    m->snaps = vs_xcalloc(n + 1, sizeof(*m->snaps));
    for (i = 0; i < n; i++) {
        m->snaps[i].def = defs[i];
        m->snaps[i].text = vs_model_format_snapshot(defs[i]);
    }
    m->nsnaps = n;
    m->registry = vs_xcalloc(1, sizeof(char *));
    m->images = true;
}

void
vs_model_release(vs_model *m)
{
    size_t i;

    for (i = 0; i < m->nsnaps; i++) {
        vs_snapshot_def_free(m->snaps[i].def);
        free(m->snaps[i].text);
    }
    free(m->snaps);
    vs_graph_clear(&m->g);
    vs_domain_def_free(m->dom);
    vs_domain_def_free(m->live_dom);
    for (i = 0; i < m->nheld; i++) {
        free(m->held[i].path);
        free(m->held[i].target);
    }
    free(m->held);
    free(m->dom_text);
    vs_strv_free(m->registry);
    free(m->current);
    free(m->current_before);
    memset(m, 0, sizeof(*m));
}

/* ---- changing the model ----------------------------------------------------- */

/* Whether `path` names image im. */
static bool
names(const vs_image *im, const char *path)
{
    vs_file_id id;
    char *n;
    bool yes;

    if (!path)
        return false;
    if (strcmp(path, im->path) == 0)
        return true;
    n = vs_path_absolute(path);
    yes = strcmp(n, im->path) == 0;
    free(n);
    if (yes || !im->id.exists)
        return yes;
    vs_file_id_get(path, &id);
    return vs_file_id_same(&id, &im->id);
}

int
vs_model_rename_refs(vs_model *m, const vs_image *from, const vs_image *to, vs_error *err)
{
    size_t s, k;

    for (k = 0; k < m->dom->ndisks; k++) {
        vs_domain_disk *dd = &m->dom->disks[k];

        if (vs_disk_is_local(dd) && names(from, dd->source)) {
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

                if (!vs_disk_is_local(dd) || !names(from, dd->source))
                    continue;
                if (vs_domain_def_set_disk_source(doms[j], k, dd->type, to->path, to->fmt,
                                                  err) < 0)
                    return -1;
                m->snaps[s].dirty = true;
            }
        }
        for (k = 0; k < def->ndisks + def->nrevert_disks; k++) {
            vs_snap_disk *e = k < def->ndisks ? &def->disks[k] : &def->revert_disks[k - def->ndisks];

            if (!names(from, e->source))
                continue;
            free(e->source);
            e->source = vs_xstrdup(to->path);
            if (to->network)
                e->type = VS_STORAGE_NETWORK;
            else if (e->type == VS_STORAGE_NETWORK)
                e->type = VS_STORAGE_FILE;
            free(e->format);
            e->format = vs_xstrdup(to->fmt);
            e->source_node = NULL;
            m->snaps[s].dirty = true;
        }
    }
    return 0;
}

void
vs_model_clear_revert_disks(vs_snapshot_def *def)
{
    size_t k;

    for (k = 0; k < def->nrevert_disks; k++)
        vs_snap_disk_clear(&def->revert_disks[k]);
    free(def->revert_disks);
    def->revert_disks = NULL;
    def->nrevert_disks = 0;
}

void
vs_model_release_dom(vs_model *m, const vs_domain_def *dom)
{
    size_t i;

    for (i = 0; dom && i < dom->ndisks; i++) {
        long k;

        if (vs_disk_is_local(&dom->disks[i]) && (k = vs_graph_find(&m->g, dom->disks[i].source)) >= 0)
            m->g.v[k].released = true;
    }
}

void
vs_model_release_snap(vs_model *m, const vs_snapshot_def *def)
{
    size_t k;
    long i;

    vs_model_release_dom(m, def->dom);
    vs_model_release_dom(m, def->inactive_dom);
    for (k = 0; k < def->ndisks; k++)
        if (def->disks[k].source && (i = vs_graph_find(&m->g, def->disks[k].source)) >= 0)
            m->g.v[i].released = true;
    for (k = 0; k < def->nrevert_disks; k++)
        if (def->revert_disks[k].source &&
            (i = vs_graph_find(&m->g, def->revert_disks[k].source)) >= 0)
            m->g.v[i].released = true;
}

/* ---- metadata steps ---------------------------------------------------------- */

static int
cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
lines(char **v)
{
    vs_buf b = VS_BUF_INIT;
    size_t i;

    for (i = 0; v && v[i]; i++)
        vs_buf_addf(&b, "%s\n", v[i]);
    vs_buf_addc(&b, '\0');
    return vs_buf_steal(&b);
}

/* The overlays vsnap made that survive the plan and that no snapshot's
 * <disks> or <revertDisks> names any more, so that they are still known as
 * vsnap's once the snapshot that made them is gone. */
static void
plan_registry(vs_model *m, vs_plan *p)
{
    char **now = vs_xcalloc(1, sizeof(*now)), **before;
    char *old_text, *new_text;
    size_t i, n, old_n;
    bool same;

    for (i = 0; m->images && i < m->g.n; i++) {
        const vs_image *im = &m->g.v[i];

        /* an overlay the metadata still names as one is known without it */
        if (!im->gone && im->exists && im->backing && !im->foreign &&
            (im->registered || im->was_overlay || im->was_revert) &&
            im->r_overlay == 0 && im->r_revert == 0)
            vs_strv_push(&now, im->path);
    }
    /* entries the metadata does not reach stay while their file does */
    for (i = 0; m->registry && m->registry[i]; i++)
        if ((!m->images || vs_graph_find(&m->g, m->registry[i]) < 0) &&
            vs_file_exists(m->registry[i]))
            vs_strv_push(&now, m->registry[i]);
    /* without the graph (a metadata-only plan): the overlays the removed
     * snapshots named stay known as vsnap's */
    for (i = 0; !m->images && i < m->nsnaps; i++) {
        const vs_snapshot_def *def = m->snaps[i].def;
        size_t k, j;

        if (!m->snaps[i].removed)
            continue;
        for (k = 0; k < def->ndisks + def->nrevert_disks; k++) {
            const vs_snap_disk *e = k < def->ndisks ? &def->disks[k]
                                                    : &def->revert_disks[k - def->ndisks];
            char *path;

            if (!entry_local(e) || !vs_file_exists(e->source))
                continue;
            path = vs_path_absolute(e->source);
            for (j = 0; now[j] && strcmp(now[j], path) != 0; j++)
                ;
            if (!now[j])
                vs_strv_push(&now, path);
            free(path);
        }
    }
    n = vs_strv_len(now);
    qsort(now, n, sizeof(*now), cmp_strp);
    before = vs_xcalloc(1, sizeof(*before));
    for (i = 0; m->registry && m->registry[i]; i++)
        vs_strv_push(&before, m->registry[i]);
    old_n = vs_strv_len(before);
    old_text = lines(before);
    qsort(before, old_n, sizeof(*before), cmp_strp);
    same = n == old_n;
    for (i = 0; same && i < n; i++)
        same = strcmp(now[i], before[i]) == 0;
    if (!same) {
        new_text = lines(now);
        vs_plan_write_registry(p, new_text, old_text, NULL);
        free(new_text);
    }
    free(old_text);
    vs_strv_free(before);
    vs_strv_free(now);
}

void
vs_model_plan_metadata(vs_model *m, vs_plan *p, const char *first)
{
    size_t s;
    int k;
    long f = vs_model_find(m, first);

    if (f >= 0 && m->snaps[f].dirty) {
        char *text = vs_model_format_snapshot(m->snaps[f].def);

        vs_plan_write_snapshot(p, first, text, m->snaps[f].text, NULL);
        free(text);
    }
    for (s = 0; s < m->nsnaps; s++) {
        char *text;

        if (m->snaps[s].removed || !m->snaps[s].dirty || (long)s == f)
            continue;
        text = vs_model_format_snapshot(m->snaps[s].def);
        if (strcmp(text, m->snaps[s].text) != 0)
            vs_plan_write_snapshot(p, m->snaps[s].def->name, text, m->snaps[s].text, NULL);
        free(text);
    }
    if (m->dom_dirty) {
        char *text = vs_model_format_domain(m->dom);

        if (strcmp(text, m->dom_text) != 0)
            vs_plan_write_domain(p, text, m->dom_text, NULL);
        free(text);
    }
    if ((m->current == NULL) != (m->current_before == NULL) ||
        (m->current && strcmp(m->current, m->current_before) != 0))
        vs_plan_set_current(p, m->current, m->current_before, NULL);
    plan_registry(m, p);
    /* in the order they were deleted: children before their parents */
    {
        size_t nrem = 0, *order = vs_xcalloc(m->nsnaps + 1, sizeof(*order)), i;
        int top = 0;

        for (s = 0; s < m->nsnaps; s++)
            if (m->snaps[s].removed && m->snaps[s].removed_order > top)
                top = m->snaps[s].removed_order;
        /* orders are small and dense: a counting sort keeps this linear */
        {
            size_t *count = vs_xcalloc((size_t)top + 2, sizeof(*count));

            for (s = 0; s < m->nsnaps; s++)
                if (m->snaps[s].removed)
                    count[m->snaps[s].removed_order]++;
            for (k = 1; k <= top + 1; k++)
                count[k] += count[k - 1];
            for (s = m->nsnaps; s-- > 0;)
                if (m->snaps[s].removed)
                    order[--count[m->snaps[s].removed_order]] = s;
            for (s = 0; s < m->nsnaps; s++)
                nrem += m->snaps[s].removed;
            free(count);
        }
        for (i = 0; i < nrem; i++)
            if (m->snaps[order[i]].removed_order >= 1)
                vs_plan_remove_snapshot(p, m->snaps[order[i]].def->name,
                                        m->snaps[order[i]].text, NULL);
        free(order);
    }
}
