/* snapshot-export and snapshot-import (snapshot_export.h): the document
 * written from a domain's store, read and checked whole, and imported as
 * one metadata plan. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "path.h"
#include "plan.h"
#include "plan_run.h"
#include "snapshot_export.h"
#include "snapshot_ops.h"
#include "snapshot_scan.h"
#include "xml.h"

/* doc->kind bits */
#define KIND_ONLINE 1
#define KIND_DISK_ONLY 2

/* ---- export --------------------------------------------------------------- */

/*
 * A snapshot's XML as snapshot-dumpxml --security-info prints it: a file
 * the store wrote holds the formatter's output (which parsing and
 * formatting again gives back byte for byte), copied when the scan finds
 * it of that shape and naming this snapshot; any other file (libvirt's,
 * edited by hand) is parsed and formatted as snapshot-dumpxml does.
 */
static int
add_snapshot(vs_dom *d, const char *name, vs_buf *out, vs_error *err)
{
    vs_snapshot_def *def;
    vs_snap_entry e;
    bool numbered = false;
    char *text = vs_dom_read_snapshot_stored(d, name, &numbered, err), *scan;

    if (!text)
        return -1;
    scan = vs_xstrdup(text);
    if (numbered && vs_snapshot_scan(scan, strlen(scan), &e) == 1 && strcmp(e.name, name) == 0 &&
        !strstr(text, "<active>")) {
        vs_buf_add(out, text);
        free(scan);
        free(text);
        return 0;
    }
    free(scan);
    free(text);
    if (!(def = vs_dom_read_snapshot(d, name, err)))
        return -1;
    vs_snapshot_def_format(out, def, VS_SNAP_FORMAT_SECURE);
    vs_snapshot_def_free(def);
    return 0;
}

int
vs_snapshot_export(vs_dom *d, vs_buf *out, size_t *count, vs_error *err)
{
    const vs_snap_damage *damage;
    vs_domain_def *dom;
    vs_snap_tree *t;
    vs_buf b = VS_BUF_INIT;
    long *stack = NULL, c;
    size_t ndamage, sp = 0, n = 0;
    int ret = -1;

    if (count)
        *count = 0;
    if (vs_plan_refuse_interrupted(d, err) < 0 || !(dom = vs_dom_def(d, err)))
        return -1;
    if (vs_dom_damaged(d, &damage, &ndamage, err) < 0 || !(t = vs_dom_tree(d, err)))
        return -1;
    if (ndamage)
        return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                            "cannot export domain '%s': %s; the export would leave that "
                            "snapshot out: see 'vsnap snapshot-check %s'",
                            d->name, damage[0].reason, d->name);
    if (t->inconsistent)
        return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                            "cannot export domain '%s': the parent links of its snapshots are "
                            "broken (a missing parent or a cycle), so no order rebuilds the "
                            "tree: see 'vsnap snapshot-check %s'", d->name, d->name);

    vs_buf_add(&b, "<" VS_EXPORT_ROOT " version='" VS_EXPORT_VERSION "'>\n");
    vs_domain_def_format(&b, dom, 0, true, NULL);
    vs_buf_addc(&b, '\n');
    /* Parents first; siblings oldest first (the reverse of the listing
     * order), so that an import numbering them in document order lists
     * them as here. A stack popped in that order: push in listing order. */
    stack = vs_xcalloc(t->n + 1, sizeof(*stack));
    for (c = t->first_root; c >= 0; c = t->e[c].next_sibling)
        stack[sp++] = c;
    while (sp > 0) {
        long i = stack[--sp];

        if (add_snapshot(d, t->e[i].name, &b, err) < 0)
            goto out;
        n++;
        for (c = t->e[i].first_child; c >= 0; c = t->e[c].next_sibling)
            stack[sp++] = c;
    }
    if (n != t->n) {
        vs_error_set(err, VS_ERR_INTERNAL, "the tree of domain '%s' has %zu snapshots, %zu "
                     "reached from its roots", d->name, t->n, n);
        goto out;
    }
    if (t->current >= 0) {
        vs_buf_add(&b, "<current name='");
        vs_buf_add_xml_escaped(&b, t->e[t->current].name);
        vs_buf_add(&b, "'/>\n");
    }
    vs_buf_add(&b, "</" VS_EXPORT_ROOT ">\n");
    vs_buf_addn(out, b.data, b.len);
    if (count)
        *count = n;
    ret = 0;
 out:
    free(stack);
    vs_buf_reset(&b);
    return ret;
}

/* ---- reading a document --------------------------------------------------- */

typedef struct reader {
    vs_export_doc *doc;
    const char *what;
    vs_snap_tree *seen;      /* the document's snapshots so far (names, parents) */
    bool have_current;
} reader;

static void
doc_push(vs_export_doc *doc, const vs_snapshot_def *def, char *text)
{
    if (doc->n == doc->cap) {
        doc->cap = doc->cap ? 2 * doc->cap : 256;
        doc->names = vs_xreallocarray(doc->names, doc->cap, sizeof(*doc->names));
        doc->parents = vs_xreallocarray(doc->parents, doc->cap, sizeof(*doc->parents));
        doc->texts = vs_xreallocarray(doc->texts, doc->cap, sizeof(*doc->texts));
        doc->kind = vs_xreallocarray(doc->kind, doc->cap, sizeof(*doc->kind));
    }
    doc->names[doc->n] = vs_xstrdup(def->name);
    doc->parents[doc->n] = vs_xstrdup(def->parent);
    doc->texts[doc->n] = text;
    doc->kind[doc->n] = (def->state == VS_STATE_RUNNING || def->state == VS_STATE_PAUSED
                         ? KIND_ONLINE : 0) |
                        (def->state == VS_STATE_DISK_SNAPSHOT ? KIND_DISK_ONLY : 0);
    doc->n++;
}

static int
read_snapshot(reader *r, xmlNodePtr node, vs_error *err)
{
    vs_export_doc *doc = r->doc;
    vs_snapshot_def *def;
    vs_snap_entry e;
    char *parent;
    bool outside;
    int ret = -1;

    if (!doc->dom)
        return vs_error_set(err, VS_ERR_XML, "%s: <domainsnapshot> before the <domain> it "
                            "belongs to", r->what);
    if (!(def = vs_snapshot_def_parse_node(node, VS_SNAP_PARSE_REDEFINE, 0, err)))
        return -1;
    if (vs_name_check("snapshot", def->name, err) < 0)
        goto out;
    if (vs_snap_tree_find(r->seen, def->name) >= 0) {
        vs_error_set(err, VS_ERR_XML, "%s: snapshot '%s' is in the document twice", r->what,
                     def->name);
        goto out;
    }
    /* A parent that is not earlier in the document must be in the store
     * (checked on import); the rest is what a redefinition checks. */
    outside = def->parent && vs_snap_tree_find(r->seen, def->parent) < 0;
    parent = def->parent;
    if (outside)
        def->parent = NULL;
    ret = vs_snapshot_redefine_check(r->seen, doc->dom, NULL, def, 0, err);
    def->parent = parent;
    if (ret < 0)
        goto out;
    memset(&e, 0, sizeof(e));
    e.name = def->name;
    e.parent = def->parent;
    vs_snap_tree_add(r->seen, &e);
    doc_push(doc, def, vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE));
    ret = 0;
 out:
    vs_snapshot_def_free(def);
    return ret;
}

static int
read_element(xmlNodePtr node, int depth, void *ctx, vs_error *err)
{
    reader *r = ctx;
    const char *name = (const char *)node->name;
    char *v;
    int ret = 0;

    if (depth == 0) {
        v = vs_xml_prop(node, "version");
        if (!v || strcmp(v, VS_EXPORT_VERSION) != 0)
            ret = vs_error_set(err, VS_ERR_XML, "%s: export version '%s' is not one this vsnap "
                               "reads (%s)", r->what, v ? v : "", VS_EXPORT_VERSION);
        free(v);
        return ret;
    }
    if (node->ns)
        return vs_error_set(err, VS_ERR_XML, "%s: unexpected element <%s:%s> in <%s>", r->what,
                            (const char *)node->ns->prefix, name, VS_EXPORT_ROOT);
    if (strcmp(name, "domain") == 0) {
        if (r->doc->dom || r->doc->n)
            return vs_error_set(err, VS_ERR_XML, "%s: a second <domain>, or one after the "
                                "snapshots", r->what);
        if (!(r->doc->dom = vs_domain_def_parse_node(node, 0, err)))
            return -1;
        return 0;
    }
    if (strcmp(name, "domainsnapshot") == 0) {
        if (r->have_current)
            return vs_error_set(err, VS_ERR_XML, "%s: <domainsnapshot> after <current/>",
                                r->what);
        return read_snapshot(r, node, err);
    }
    if (strcmp(name, "current") == 0) {
        if (r->have_current)
            return vs_error_set(err, VS_ERR_XML, "%s: a second <current/>", r->what);
        r->have_current = true;
        if (!(v = vs_xml_prop(node, "name")) || vs_snap_tree_find(r->seen, v) < 0)
            ret = vs_error_set(err, VS_ERR_XML, "%s: <current name='%s'/> names no snapshot of "
                               "the document", r->what, v ? v : "");
        if (ret == 0)
            r->doc->current = v;
        else
            free(v);
        return ret;
    }
    return vs_error_set(err, VS_ERR_XML, "%s: unexpected element <%s> in <%s>", r->what, name,
                        VS_EXPORT_ROOT);
}

int
vs_export_doc_read(const char *data, size_t len, const char *what, vs_export_doc *doc,
                   vs_error *err)
{
    reader r = { doc, what, vs_snap_tree_new(), false };
    int ret;

    memset(doc, 0, sizeof(*doc));
    ret = vs_xml_parse_stream(data, len, VS_EXPORT_MAX_SIZE, what, VS_EXPORT_ROOT,
                              read_element, &r, err);
    if (ret == 0 && !doc->dom)
        ret = vs_error_set(err, VS_ERR_XML, "%s: no <domain> in the document", what);
    vs_snap_tree_free(r.seen);
    if (ret < 0)
        vs_export_doc_clear(doc);
    return ret;
}

void
vs_export_doc_clear(vs_export_doc *doc)
{
    size_t i;

    for (i = 0; i < doc->n; i++) {
        free(doc->names[i]);
        free(doc->parents[i]);
        free(doc->texts[i]);
    }
    free(doc->names);
    free(doc->parents);
    free(doc->texts);
    free(doc->kind);
    free(doc->current);
    vs_domain_def_free(doc->dom);
    memset(doc, 0, sizeof(*doc));
}

/* ---- import ----------------------------------------------------------------- */

static char *
domain_text(const vs_domain_def *def)
{
    vs_buf b = VS_BUF_INIT;

    vs_domain_def_format(&b, def, 0, true, NULL);
    vs_buf_addc(&b, '\n');
    return vs_buf_steal(&b);
}

/* The redefinition rules for an existing snapshot replaced by the import
 * (B.4): online and offline, disk-only and full system do not swap. */
static int
check_replace(const vs_export_doc *doc, size_t i, const vs_snapshot_def *old, vs_error *err)
{
    bool online = old->state == VS_STATE_RUNNING || old->state == VS_STATE_PAUSED;
    bool disk_only = old->state == VS_STATE_DISK_SNAPSHOT;

    if (online != ((doc->kind[i] & KIND_ONLINE) != 0))
        return vs_error_set(err, VS_ERR_INVALID_ARG,
                            "cannot change between online and offline snapshot state in "
                            "snapshot %s", doc->names[i]);
    if (disk_only != ((doc->kind[i] & KIND_DISK_ONLY) != 0))
        return vs_error_set(err, VS_ERR_INVALID_ARG,
                            "cannot change between disk only and full system in snapshot %s",
                            doc->names[i]);
    return 0;
}

/* The plan of the import into d (its lock held), checked against it. */
static int
plan_import(vs_dom *d, const vs_export_doc *doc, unsigned flags, vs_import_result *res,
            vs_plan **out, vs_error *err)
{
    vs_domain_def *cur_def;
    vs_snap_tree *t, *merged = NULL;
    vs_plan *p = NULL;
    char *new_text = NULL, *old_text = NULL, *cur = NULL;
    const char *first_clash = NULL;
    size_t i, nclash = 0;
    int ret = -1;

    *out = NULL;
    if (vs_plan_refuse_interrupted(d, err) < 0 || !(cur_def = vs_dom_def(d, err)) ||
        !(t = vs_dom_tree(d, err)))
        return -1;
    if (cur_def->uuid && doc->dom->uuid && strcasecmp(cur_def->uuid, doc->dom->uuid) != 0)
        return vs_error_set(err, VS_ERR_OPERATION_FAILED, "domain '%s' already exists with "
                            "uuid %s", d->name, cur_def->uuid);
    p = vs_plan_new("snapshot-import", d->name, doc->dom->uuid, NULL);
    new_text = domain_text(doc->dom);
    old_text = domain_text(cur_def);
    if (strcmp(new_text, old_text) != 0) {
        if (!res->created && !(flags & VS_IMPORT_REPLACE)) {
            vs_error_set(err, VS_ERR_OPERATION_FAILED,
                         "domain '%s' already exists with a different definition; use "
                         "--replace to replace it with the imported one", d->name);
            goto out;
        }
        vs_plan_write_domain(p, new_text, old_text, "the imported definition");
        res->replaced_def = !res->created;
    }

    /* The tree as each redefinition in turn sees it: the domain's, with
     * the document's snapshots added one by one. */
    merged = vs_snap_tree_new();
    for (i = 0; i < t->n; i++)
        vs_snap_tree_add(merged, &t->e[i]);
    for (i = 0; i < doc->n; i++) {
        vs_snap_entry e;
        char *have = NULL;

        if (vs_snap_tree_find(t, doc->names[i]) >= 0) {
            vs_snapshot_def *old;

            if (!(have = vs_dom_read_snapshot_text(d, doc->names[i], err)))
                goto out;
            if (!(old = vs_dom_read_snapshot(d, doc->names[i], err))) {
                free(have);
                goto out;
            }
            free(have);
            have = vs_snapshot_def_format_str(old, VS_SNAP_FORMAT_SECURE);
            if (strcmp(have, doc->texts[i]) == 0) {
                res->unchanged++;
                vs_snapshot_def_free(old);
                free(have);
                continue;
            }
            if (!first_clash)
                first_clash = doc->names[i];
            nclash++;
            if (check_replace(doc, i, old, err) < 0) {
                vs_snapshot_def_free(old);
                free(have);
                goto out;
            }
            vs_snapshot_def_free(old);
        }
        /* own parent, missing parent, cycle: as a redefinition */
        if (vs_snapshot_check_parent(merged, doc->names[i], doc->parents[i], err) < 0) {
            free(have);
            goto out;
        }
        memset(&e, 0, sizeof(e));
        e.name = doc->names[i];
        e.parent = doc->parents[i];
        vs_snap_tree_update(merged, &e);
        vs_plan_write_snapshot(p, doc->names[i], doc->texts[i], have, NULL);
        if (have)
            res->replaced++;
        res->written++;
        free(have);
    }
    if (nclash && !(flags & VS_IMPORT_REPLACE)) {
        if (nclash == 1)
            vs_error_set(err, VS_ERR_OPERATION_FAILED,
                         "domain '%s' already has a different snapshot '%s'; use --replace "
                         "to redefine it from the import", d->name, first_clash);
        else
            vs_error_set(err, VS_ERR_OPERATION_FAILED,
                         "domain '%s' already has different snapshots of %zu of the imported "
                         "names (the first: '%s'); use --replace to redefine them from the "
                         "import", d->name, nclash, first_clash);
        goto out;
    }
    if (doc->current) {
        cur = vs_dom_current(d);
        if (!cur || strcmp(cur, doc->current) != 0)
            vs_plan_set_current(p, doc->current, cur, NULL);
    }
    /* all or nothing: every step before the commit point */
    vs_plan_commit_point(p);
    *out = p;
    p = NULL;
    ret = 0;
 out:
    vs_plan_free(p);
    vs_snap_tree_free(merged);
    free(new_text);
    free(old_text);
    free(cur);
    return ret;
}

int
vs_snapshot_import(vs_store *st, const vs_export_doc *doc, unsigned flags,
                   vs_import_result *res, vs_error *err)
{
    const char *name = doc->dom ? doc->dom->name : NULL;
    vs_plan *p = NULL;
    vs_dom *d;
    vs_error e;
    int ret = -1;

    memset(res, 0, sizeof(*res));
    if (!name)
        return vs_error_set(err, VS_ERR_INTERNAL, "an export document without its domain");
    vs_error_clear(&e);
    if (!(d = vs_dom_open(st, name, VS_LOCK_NONE, &e))) {
        if (e.code != VS_ERR_NO_DOMAIN) {
            if (err)
                *err = e;
            return -1;
        }
        /* Everything that can be checked without the domain was (the
         * document is whole); define takes its own lock. */
        if (vs_store_define(st, doc->dom, &res->created, err) < 0)
            return -1;
    } else {
        vs_dom_close(d);
    }
    if (!(d = vs_dom_open(st, name, VS_LOCK_EXCLUSIVE, err)))
        goto undefine;
    if (plan_import(d, doc, flags, res, &p, err) == 0)
        ret = p->n ? vs_plan_execute(p, d, err) : 0;
    vs_plan_free(p);
    vs_dom_close(d);
 undefine:
    if (ret < 0 && res->created)
        vs_store_undefine(st, name, false, NULL);
    if (ret < 0) {
        res->written = res->replaced = res->unchanged = 0;
        res->replaced_def = false;
    }
    return ret;
}
