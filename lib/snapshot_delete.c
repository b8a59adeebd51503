/* snapshot-delete of a shut-off domain: the planner, for internal and
 * external snapshots and for a set of snapshots in one plan
 * (virsh-behaviour.md A.10, B.6, C.4).
 *
 * Delete removes what only the deleted snapshots used: their internal
 * snapshots from every image holding them, then (reclaim.h) the images
 * nothing refers to any more, merging layers nothing owns any more. Each
 * deleted snapshot's children move to its parent, current moves up. With
 * --metadata no image is touched. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "live_plan.h"
#include "mem.h"
#include "model.h"
#include "path.h"
#include "plan_run.h"
#include "reclaim.h"
#include "snapshot_ops.h"
#include "snapshot_tree.h"

/* A delete writes snapshot files in snapshots/, and the journal, "current"
 * and the index in the domain directory. The images change before the
 * metadata, so a directory the metadata cannot be changed in must fail
 * before any image changes, or the delete would stop half-done. */
static int
check_metadata_writable(vs_dom *d, vs_error *err)
{
    return vs_dom_check_writable(d, err);
}

/* The images that hold snapshot def's internal snapshot must be there and
 * be qcow2, or the delete would stop half-way; --metadata is the way out. */
static int
check_internal_images(vs_model *m, const vs_snapshot_def *def, vs_error *err)
{
    const vs_domain_def *dom = def->dom ? def->dom : m->dom;
    vs_snap_image *images = NULL;
    size_t n = 0, i;
    int ret = 0;

    if (vs_snapshot_def_is_external(def))
        return 0;
    if (vs_snapshot_images(def, dom, true, &images, &n, err) < 0)
        return -1;
    for (i = 0; i < n && ret == 0; i++) {
        long k = vs_graph_find(&m->g, images[i].path);
        const vs_image *im = k >= 0 ? &m->g.v[k] : NULL;

        if (!im || !im->exists)
            ret = vs_error_set(err, VS_ERR_OPERATION_FAILED,
                               "image '%s' of disk '%s' does not exist (snapshot-delete "
                               "--metadata removes only the metadata)", images[i].path,
                               images[i].target);
        else if (!im->fmt || strcmp(im->fmt, "qcow2") != 0)
            ret = vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                               "image '%s' of disk '%s' is in '%s' format; internal snapshots "
                               "need qcow2 (snapshot-delete --metadata removes only the "
                               "metadata)", images[i].path, images[i].target,
                               im->fmt ? im->fmt : "unknown");
    }
    vs_snap_images_free(images, n);
    return ret;
}

/* Remove snapshot s from the model as B.6 deletes one snapshot, the
 * order-th deletion of the plan (1, 2, ...). */
static void
simulate_delete(vs_model *m, long s, int order, vs_plan *tags)
{
    vs_snapshot_def *def = m->snaps[s].def;
    const vs_domain_def *dom = def->dom ? def->dom : m->dom;
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
    for (k = 0; tags && m->images && k < dom->ndisks; k++) {
        const vs_domain_disk *dd = &dom->disks[k];
        long i;

        if (!vs_disk_is_local(dd) || vs_model_disk_location(def, dd) != VS_LOC_INTERNAL)
            continue;
        if ((i = vs_graph_find(&m->g, dd->source)) < 0 || !m->g.v[i].exists ||
            !vs_image_has_tag(&m->g.v[i], def->name))
            continue;
        vs_plan_tag(tags, VS_STEP_TAG_DELETE, m->g.v[i].path, def->name, NULL);
        vs_image_drop_tag(&m->g.v[i], def->name);
    }
    vs_model_release_snap(m, def);
    m->snaps[s].removed = true;
    m->snaps[s].removed_order = order;
}

/* The names a delete of `name` removes, deepest first then name itself (as
 * B.6 deletes them one at a time, which moves current up the tree). */
static int
collect(vs_dom *d, const char *name, unsigned flags, char ***names, vs_error *err)
{
    vs_snap_tree *t;
    long idx, *desc = NULL;
    size_t n, i, have;

    if (!(t = vs_dom_tree(d, err)))
        return -1;
    if ((idx = vs_snap_tree_find(t, name)) < 0)
        return vs_error_set(err, VS_ERR_NO_SNAPSHOT,
                            "no domain snapshot with matching name '%s'", name);
    n = 0;
    if (flags & (VS_DELETE_CHILDREN | VS_DELETE_CHILDREN_ONLY))
        n = vs_snap_tree_collect_descendants(t, idx, &desc);
    /* appended at once: pushing one at a time is quadratic */
    have = vs_strv_len(*names);
    *names = vs_xreallocarray(*names, have + n + 2, sizeof(**names));
    for (i = n; i-- > 0;)
        (*names)[have++] = vs_xstrdup(t->e[desc[i]].name);
    free(desc);
    if (!(flags & VS_DELETE_CHILDREN_ONLY))
        (*names)[have++] = vs_xstrdup(name);
    (*names)[have] = NULL;
    return 0;
}

/* The snapshots a metadata-only delete reads: the deleted ones and the
 * children it moves (not the whole domain). */
static char **
involved(vs_dom *d, char *const *names)
{
    vs_snap_tree *t = vs_dom_tree(d, NULL);
    char **v;
    size_t i, n = 0, cap = 0;
    long idx, c;

    for (i = 0; names && names[i]; i++)
        cap += 1 + (t && (idx = vs_snap_tree_find(t, names[i])) >= 0 ? t->e[idx].nchildren : 0);
    v = vs_xcalloc(cap + 1, sizeof(*v));
    for (i = 0; names && names[i]; i++) {
        v[n++] = vs_xstrdup(names[i]);
        if (!t || (idx = vs_snap_tree_find(t, names[i])) < 0)
            continue;
        for (c = t->e[idx].first_child; c >= 0 && n < cap; c = t->e[c].next_sibling)
            v[n++] = vs_xstrdup(t->e[c].name);
    }
    return v;
}

int
vs_delete_plan_model(vs_model *m, char *const *names, unsigned flags, vs_plan *p,
                     vs_error *err)
{
    bool metadata_only = (flags & VS_DELETE_METADATA_ONLY) != 0;
    vs_plan *tags = vs_plan_new("tags", NULL, NULL, NULL);
    size_t i, k;
    int ret = -1;

    for (i = 0; names[i]; i++) {
        long s = vs_model_find(m, names[i]);
        vs_snapshot_def *def = s >= 0 ? m->snaps[s].def : NULL;

        for (k = 0; def && k < def->ndisks && !metadata_only; k++)
            if (def->disks[k].delete_in_progress) {
                vs_error_set(err, VS_ERR_OPERATION_INVALID,
                             "snapshot disk '%s' was target of not completed snapshot delete",
                             def->disks[k].name);
                goto out;
            }
        if (def && !metadata_only && check_internal_images(m, def, err) < 0)
            goto out;
    }
    for (i = 0, k = 0; names[i]; i++) {
        long s = vs_model_find(m, names[i]);

        if (s >= 0)
            simulate_delete(m, s, (int)++k, metadata_only ? NULL : tags);
    }
    if (vs_reclaim_plan(m, p, tags, metadata_only, err) < 0)
        goto out;
    ret = 0;
 out:
    vs_plan_free(tags);
    return ret;
}

/* The way out of a damaged snapshot file: forget it. Its children become
 * roots, and it stops being current; no image is touched. */
static int
plan_forget_damaged(vs_dom *d, const char *name, vs_plan **dry, vs_error *err)
{
    vs_snap_tree *t;
    vs_domain_def *dom;
    vs_plan *p;
    char *cur;
    size_t i;

    if (!(dom = vs_dom_def(d, err)) || !(t = vs_dom_tree(d, err)))
        return -1;
    p = vs_plan_new("snapshot-delete --metadata", d->name, dom->uuid, name);
    for (i = 0; i < t->n; i++) {
        vs_snapshot_def *kid;
        char *old, *text;

        if (!t->e[i].parent || strcmp(t->e[i].parent, name) != 0)
            continue;
        if (!(kid = vs_dom_read_snapshot(d, t->e[i].name, err))) {
            vs_plan_free(p);
            return -1;
        }
        old = vs_model_format_snapshot(kid);
        free(kid->parent);
        kid->parent = NULL;
        text = vs_model_format_snapshot(kid);
        vs_plan_write_snapshot(p, kid->name, text, old, "its parent's file cannot be read");
        free(old);
        free(text);
        vs_snapshot_def_free(kid);
    }
    cur = vs_dom_current(d);
    if (cur && strcmp(cur, name) == 0)
        vs_plan_set_current(p, NULL, cur, NULL);
    free(cur);
    vs_plan_commit_point(p);
    vs_plan_remove_snapshot(p, name, NULL, "its file cannot be read, so it is forgotten");
    return vs_plan_run_or_dry(p, d, dry, err);
}

/* Whether snapshot def names an image: a local disk of the domain it
 * recorded (the domain's own definition when it recorded none, as C.2
 * reads it), or a file in its <disks> or <revertDisks>. */
static bool
names_images(const vs_model *m, const vs_snapshot_def *def)
{
    const vs_domain_def *doms[2] = { def->dom ? def->dom : m->dom, def->inactive_dom };
    size_t i, k;

    for (i = 0; i < 2; i++)
        for (k = 0; doms[i] && k < doms[i]->ndisks; k++)
            if (vs_disk_is_local(&doms[i]->disks[k]))
                return true;
    for (k = 0; k < def->ndisks; k++)
        if (def->disks[k].source)
            return true;
    for (k = 0; k < def->nrevert_disks; k++)
        if (def->revert_disks[k].source)
            return true;
    /* a memory state file goes only when nothing in the store needs it */
    return def->memory == VS_LOC_EXTERNAL && def->memory_file;
}

/*
 * The model a delete of `names` plans on. Deleting snapshots that name no
 * image changes no image and frees none, so the snapshots they are and the
 * children they move are all it reads (a prune of a thousand metadata-only
 * snapshots among ten thousand reads two thousand files, not ten); as soon
 * as one names an image, the whole store (vs_model_load), as every image
 * plan needs. The rules about the domain's other snapshot files hold either
 * way (vs_model_load_some checks them without reading).
 */
static int
load_for_delete(vs_model *m, vs_dom *d, char *const *names, bool metadata_only, vs_error *err)
{
    char **load = involved(d, names);
    size_t i;
    int ret;

    /* the snapshots it removes as they are stored: their text is what an
     * undo puts back */
    ret = vs_model_load_some(m, d, load, names, err);
    vs_strv_free(load);
    if (ret < 0 || metadata_only)
        return ret;
    for (i = 0; names[i]; i++) {
        long s = vs_model_find(m, names[i]);

        if (s >= 0 && names_images(m, m->snaps[s].def))
            break;
    }
    if (!names[i])
        return 0;
    vs_model_release(m);
    return vs_model_load(m, d, VS_MODEL_IMAGES | VS_MODEL_LIVE, err);
}

/* Whether snapshot `name` has a file that cannot be used: one the tree
 * skipped, or one that no longer parses since the tree was made. */
static bool
is_damaged(vs_dom *d, const char *name)
{
    vs_snapshot_def *def;
    vs_error e;

    vs_error_clear(&e);
    if ((def = vs_dom_read_snapshot(d, name, &e))) {
        vs_snapshot_def_free(def);
        return false;
    }
    /* "not found" for a name with no file at all; the store says why else */
    return vs_dom_snapshot_file_exists(d, name);
}

int
vs_snapshot_delete_set(vs_dom *d, char *const *targets, unsigned flags, vs_plan **dry,
                       vs_error *err)
{
    bool metadata_only = (flags & VS_DELETE_METADATA_ONLY) != 0;
    char **names = NULL;
    vs_plan *p = NULL;
    vs_model m;
    size_t i;
    int ret = -1;

    memset(&m, 0, sizeof(m));
    if (dry)
        *dry = NULL;
    for (i = 0; targets[i]; i++)
        if (collect(d, targets[i], flags, &names, err) < 0)
            goto out;
    if (load_for_delete(&m, d, names, metadata_only, err) < 0)
        goto out;
    if (check_metadata_writable(d, err) < 0)
        goto out;
    p = vs_plan_new(metadata_only ? "snapshot-delete --metadata" : "snapshot-delete", d->name,
                    m.dom->uuid, targets[0] && !targets[1] ? targets[0] : NULL);
    if (vs_delete_plan_model(&m, names, flags, p, err) < 0)
        goto out;
    /* a running domain: what QEMU holds changes through QEMU */
    if (vs_live_adapt(&m, p, err) < 0)
        goto out;
    ret = vs_plan_run_or_dry(p, d, dry, err);
    p = NULL;
 out:
    vs_plan_free(p);
    vs_model_release(&m);
    vs_strv_free(names);
    return ret;
}

static int
delete_common(vs_dom *d, const char *name, unsigned flags, vs_plan **dry, vs_error *err)
{
    char *one[2] = { (char *)name, NULL };
    vs_snapshot_def *def;

    if (dry)
        *dry = NULL;
    if ((flags & VS_DELETE_METADATA_ONLY) && !(flags & (VS_DELETE_CHILDREN |
                                                        VS_DELETE_CHILDREN_ONLY)) &&
        is_damaged(d, name))
        return plan_forget_damaged(d, name, dry, err);
    /* virsh looks the snapshot up before the library checks flags. */
    if (!(def = vs_dom_read_snapshot(d, name, err)))
        return -1;
    vs_snapshot_def_free(def);
    if ((flags & VS_DELETE_CHILDREN) && (flags & VS_DELETE_CHILDREN_ONLY))
        return vs_error_set(err, VS_ERR_PLAIN, "Flags '%s' and '%s' are mutually exclusive",
                            "VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN",
                            "VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY");
    return vs_snapshot_delete_set(d, one, flags, dry, err);
}

int
vs_snapshot_delete(vs_dom *d, const char *name, unsigned flags, vs_error *err)
{
    return delete_common(d, name, flags, NULL, err);
}

int
vs_snapshot_delete_plan(vs_dom *d, const char *name, unsigned flags, vs_plan **plan,
                        vs_error *err)
{
    return delete_common(d, name, flags, plan, err);
}
