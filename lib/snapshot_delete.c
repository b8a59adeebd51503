/* snapshot-delete of a shut-off domain (virsh-behaviour.md A.10, B.6, C.4):
 * the checks made before anything changes, metadata-only deletion, and the
 * rest through snapshot_external.c's journaled plans. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failpoint.h"
#include "mem.h"
#include "path.h"
#include "snapshot_external.h"
#include "snapshot_ops.h"

/* What deleting one snapshot involves, checked before anything changes
 * (the plan that runs is snapshot_external.c's). */
typedef struct del_step {
    char *name;
    vs_snap_image *images;   /* has_tag set: only those are touched */
    size_t nimages;
} del_step;

/* One `qemu-img info` per image file, however many snapshots use it. */
typedef struct tag_cache {
    char **paths;
    char ***tags;
    size_t n, paths_cap, tags_cap;
} tag_cache;

static void
tag_cache_clear(tag_cache *c)
{
    size_t i;

    for (i = 0; i < c->n; i++) {
        free(c->paths[i]);
        vs_strv_free(c->tags[i]);
    }
    free(c->paths);
    free(c->tags);
}

static int
tag_cache_probe(tag_cache *c, vs_snap_image *img, const char *tag, vs_error *err)
{
    size_t i;
    char **t;

    for (i = 0; i < c->n; i++)
        if (strcmp(c->paths[i], img->path) == 0)
            break;
    if (i == c->n) {
        if (vs_snapshot_image_tags(img, &t, err) < 0)
            return -1;
        vs_xgrow(&c->paths, &c->paths_cap, c->n, sizeof(*c->paths));
        vs_xgrow(&c->tags, &c->tags_cap, c->n, sizeof(*c->tags));
        c->paths[c->n] = vs_xstrdup(img->path);
        c->tags[c->n] = t;
        c->n++;
    }
    img->has_tag = false;
    for (t = c->tags[i]; t && *t; t++)
        if (strcmp(*t, tag) == 0)
            img->has_tag = true;
    return 0;
}

static void
steps_free(del_step *steps, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(steps[i].name);
        vs_snap_images_free(steps[i].images, steps[i].nimages);
    }
    free(steps);
}

/*
 * Remove one snapshot's metadata as B.6 describes: its children move to its
 * parent, current moves to its parent. Crash order: children's files, then
 * current, then the file itself, so that no file ever names a parent that is
 * gone.
 */
static int
remove_metadata(vs_dom *d, const char *name, vs_error *err)
{
    vs_snap_tree *t;
    long idx, *kids = NULL;
    size_t nkids, i;
    char *parent = NULL, **kid_names = NULL, *cur = NULL;
    int ret = -1;

    if (!(t = vs_dom_tree(d, err)))
        return -1;
    if ((idx = vs_snap_tree_find(t, name)) < 0)
        return vs_error_set(err, VS_ERR_NO_SNAPSHOT,
                            "no domain snapshot with matching name '%s'", name);
    if (t->e[idx].parent && vs_snap_tree_find(t, t->e[idx].parent) >= 0)
        parent = vs_xstrdup(t->e[idx].parent);
    /* Indexes go stale with the first write: keep names. */
    nkids = vs_snap_tree_children(t, idx, &kids);
    for (i = 0; i < nkids; i++)
        vs_strv_push(&kid_names, t->e[kids[i]].name);
    free(kids);

    for (i = 0; i < nkids; i++) {
        vs_snapshot_def *kid;
        int rc;

        if (i > 0 && vs_failpoint("delete-reparent")) {
            vs_error_set(err, VS_ERR_INTERNAL, "failpoint delete-reparent");
            goto out;
        }
        if (!(kid = vs_dom_read_snapshot(d, kid_names[i], err)))
            goto out;
        free(kid->parent);
        kid->parent = vs_xstrdup(parent);
        rc = vs_dom_write_snapshot(d, kid, err);
        vs_snapshot_def_free(kid);
        if (rc < 0)
            goto out;
    }
    cur = vs_dom_current(d);
    if (cur && strcmp(cur, name) == 0 && vs_dom_set_current(d, parent, err) < 0)
        goto out;
    if (vs_dom_remove_snapshot(d, name, err) < 0)
        goto out;
    ret = 0;
 out:
    free(cur);
    free(parent);
    vs_strv_free(kid_names);
    return ret;
}

/* A delete writes snapshot files in snapshots/, and the journal, "current"
 * and the index in the domain directory. The images change before the
 * metadata, so a directory the metadata cannot be changed in must fail
 * before any `qemu-img snapshot -d`, or the delete would stop half-done. */
static int
check_metadata_writable(vs_dom *d, vs_error *err)
{
    return vs_dom_check_writable(d, err);
}

/* Plan the deletion of `name`: probe every image first, so that a missing
 * image or an unsupported snapshot fails before anything changes. */
static int
plan_step(vs_dom *d, const vs_snapshot_def *def, bool metadata_only, tag_cache *cache,
          del_step *step, vs_error *err)
{
    const vs_domain_def *dom;
    size_t i;

    step->name = vs_xstrdup(def->name);
    step->images = NULL;
    step->nimages = 0;
    if (metadata_only)
        return 0;
    if (vs_snapshot_def_is_external(def))
        return vs_error_set(err, VS_ERR_NO_SUPPORT,
                            "deleting external snapshot '%s' is not supported yet; "
                            "--metadata removes only its metadata", def->name);
    /* A legacy definition without <domain>: its data can only be in the
     * domain's present images, and only where the tag exists. */
    dom = def->dom;
    if (!dom && !(dom = vs_dom_def(d, err)))
        return -1;
    if (vs_snapshot_images(def, dom, true, &step->images, &step->nimages, err) < 0)
        return -1;
    for (i = 0; i < step->nimages; i++) {
        if (tag_cache_probe(cache, &step->images[i], def->name, err) < 0) {
            /* An image that is gone for good would block the delete forever. */
            if (err) {
                char *first = vs_xstrdup(err->msg);

                vs_error_set(err, VS_ERR_PLAIN,
                             "%s (snapshot-delete --metadata removes only the metadata)", first);
                free(first);
            }
            return -1;
        }
    }
    return 0;
}

int
vs_snapshot_delete(vs_dom *d, const char *name, unsigned flags, vs_error *err)
{
    bool metadata_only = (flags & VS_DELETE_METADATA_ONLY) != 0;
    vs_snapshot_def *def, *other;
    vs_snap_tree *t;
    long idx, *desc = NULL, *kids = NULL;
    size_t ndesc = 0, nkids = 0, nsteps = 0, i, j;
    char **names = NULL;
    del_step *steps = NULL;
    tag_cache cache = { NULL, NULL, 0, 0, 0 };
    int ret = -1;

    if (!(def = vs_dom_read_snapshot(d, name, err)))
        return -1;
    if ((flags & VS_DELETE_CHILDREN) && (flags & VS_DELETE_CHILDREN_ONLY)) {
        vs_error_set(err, VS_ERR_PLAIN, "Flags '%s' and '%s' are mutually exclusive",
                     "VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN",
                     "VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY");
        goto out;
    }
    if (!(t = vs_dom_tree(d, err)))
        goto out;
    if ((idx = vs_snap_tree_find(t, def->name)) < 0) {
        vs_error_set(err, VS_ERR_NO_SNAPSHOT, "no domain snapshot with matching name '%s'",
                     def->name);
        goto out;
    }
    /* External snapshots share images: snapshot_external.c merges them. */
    if (!metadata_only && vs_ext_domain_has_external(d)) {
        ret = vs_ext_delete(d, def->name, flags, NULL, err);
        goto out;
    }

    /* Descendants deepest first (reverse pre-order puts every node after all
     * of its descendants), then the snapshot itself. Deleting them one at a
     * time moves current up the tree exactly as B.6 wants. */
    if (flags & (VS_DELETE_CHILDREN | VS_DELETE_CHILDREN_ONLY)) {
        ndesc = vs_snap_tree_collect_descendants(t, idx, &desc);
        for (i = ndesc; i-- > 0;)
            vs_strv_push(&names, t->e[desc[i]].name);
    }
    if (!(flags & VS_DELETE_CHILDREN_ONLY))
        vs_strv_push(&names, def->name);
    /* A plain delete rewrites the children: make sure they can be read. */
    if (!(flags & (VS_DELETE_CHILDREN | VS_DELETE_CHILDREN_ONLY))) {
        nkids = vs_snap_tree_children(t, idx, &kids);
        for (i = 0; i < nkids; i++) {
            if (!(other = vs_dom_read_snapshot(d, t->e[kids[i]].name, err)))
                goto out;
            vs_snapshot_def_free(other);
        }
    }

    steps = vs_xcalloc(vs_strv_len(names) + 1, sizeof(*steps));
    for (i = 0; names && names[i]; i++) {
        if (strcmp(names[i], def->name) == 0) {
            other = NULL;
        } else if (!(other = vs_dom_read_snapshot(d, names[i], err))) {
            goto out;
        }
        j = nsteps++;
        if (plan_step(d, other ? other : def, metadata_only, &cache, &steps[j], err) < 0) {
            vs_snapshot_def_free(other);
            goto out;
        }
        vs_snapshot_def_free(other);
    }

    if (check_metadata_writable(d, err) < 0)
        goto out;
    /* The images are checked: snapshot_external.c's planner (the plan
     * --dry-run prints, which covers internal snapshots too) runs the delete
     * under the journal, so that a crash between two `qemu-img snapshot -d`
     * is reported by the next command and `snapshot-check --repair`
     * finishes it. */
    if (!metadata_only) {
        ret = vs_ext_delete(d, def->name, flags, NULL, err);
        goto out;
    }
    for (i = 0; i < nsteps; i++)
        if (remove_metadata(d, steps[i].name, err) < 0)
            goto out;
    ret = 0;
 out:
    tag_cache_clear(&cache);
    steps_free(steps, nsteps);
    vs_strv_free(names);
    free(desc);
    free(kids);
    vs_snapshot_def_free(def);
    return ret;
}
