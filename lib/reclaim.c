/* Reclaim: removals and merges of images nothing needs any more. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "reclaim.h"

bool
vs_reclaim_made_by_vsnap(const vs_model *m, const vs_image *im)
{
    long b;

    if (!im->backing)
        return false;
    if (im->was_overlay || im->was_revert || im->registered)
        return true;
    b = vs_graph_find(&m->g, im->backing);
    return b >= 0 && m->g.v[b].was_content;
}

/* Images whose data vsnap may move: ones the metadata referred to, or made,
 * and the image an overlay vsnap made sits on (the disk's original image,
 * once the snapshots that recorded it are gone: deleting the last snapshot
 * merges everything back into it, in whatever order they were deleted). */
static bool
ours(const vs_model *m, const vs_image *im)
{
    size_t j;

    if (im->was_content || im->was_domain || im->was_overlay || im->was_revert ||
        vs_reclaim_made_by_vsnap(m, im))
        return true;
    for (j = 0; j < m->g.n; j++) {
        const vs_image *u = &m->g.v[j];

        if (u != im && !u->gone && u->exists && u->backing &&
            strcmp(u->backing, im->path) == 0 && vs_reclaim_made_by_vsnap(m, u))
            return true;
    }
    return false;
}

void
vs_reclaim_reset(vs_model *m, long i, const char *base, const char *base_fmt, vs_plan *tail,
                 const char *why)
{
    vs_image *im = &m->g.v[i];
    const char *uuid = m->dom ? m->dom->uuid : NULL;
    char *tmp = vs_tmp_image_name(im->path, uuid);
    const char *fmt = im->fmt ? im->fmt : "qcow2";

    vs_plan_create_image(tail, tmp, fmt, base, base_fmt, why);
    vs_plan_replace_image(tail, tmp, im->path, fmt, base, base_fmt, why);
    free(tmp);
    im->reset = true;
    vs_strv_free(im->tags);
    im->tags = vs_xcalloc(1, sizeof(char *));
}

static void
keep_note(vs_plan *notes, const vs_image *im)
{
    if (notes && im->foreign)
        vs_plan_note(notes, "keeps %s: %s", im->path, im->foreign);
}

/* Drop every <revertDisks> that names image im (a revert overlay left behind). */
static void
forget_revert_overlay(vs_model *m, const vs_image *im)
{
    size_t s, k;

    for (s = 0; s < m->nsnaps; s++) {
        vs_snapshot_def *def = m->snaps[s].def;

        if (m->snaps[s].removed)
            continue;
        for (k = 0; k < def->nrevert_disks; k++) {
            long j = vs_graph_find(&m->g, def->revert_disks[k].source);

            if (def->revert_disks[k].source && j >= 0 && &m->g.v[j] == im) {
                vs_model_clear_revert_disks(def);
                m->snaps[s].dirty = true;
                break;
            }
        }
    }
}

/* One garbage pass: images nothing refers to any more go (or, if a
 * snapshot's <disks> names them, are recreated empty). True if anything
 * changed the graph. */
static bool
gc_garbage(vs_model *m, vs_plan *tail, vs_plan *notes)
{
    long *order = vs_graph_depth_order(&m->g, true), *up;
    bool changed = false;
    size_t n;

    for (n = 0; n < m->g.n; n++) {
        long i = order[n];
        vs_image *im = &m->g.v[i];
        size_t nup;

        if (im->gone || !im->exists || !ours(m, im))
            continue;
        if (im->r_domain || im->r_content || vs_image_has_tags(im))
            continue;
        nup = vs_graph_uppers(&m->g, i, &up);
        free(up);
        if (nup)
            continue;
        if (im->r_overlay) {
            const vs_domain_disk *base = vs_model_snap_disk(m, im->overlay_snap, im->overlay_target);

            if (im->released && !im->reset && im->regular && base && im->backing &&
                vs_graph_find(&m->g, base->source) >= 0 &&
                strcmp(m->g.v[vs_graph_find(&m->g, base->source)].path, im->backing) == 0) {
                char *why;

                if (im->foreign) {
                    keep_note(notes, im);
                    continue;
                }
                why = vs_xasprintf("overlay of snapshot '%s', emptied",
                                   m->snaps[im->overlay_snap].def->name);
                vs_reclaim_reset(m, i, base->source, base->format ? base->format : "raw", tail,
                                 why);
                free(why);
            }
            continue;
        }
        if (im->r_revert) {
            /* A revert overlay left behind: its <revertDisks> go with it. */
            forget_revert_overlay(m, im);
            vs_model_recount(m);
            im = &m->g.v[i];
            if (im->r_overlay || im->r_revert)
                continue;
        }
        if (im->device || im->network) {
            /* A device or a network image nothing names any more: vsnap
             * lets go of it (it stays as it is, never removed), so that
             * what it was based on can be merged as if it were gone. */
            if (!im->released)
                continue;
            im->gone = true;
            changed = true;
            continue;
        }
        if (!vs_reclaim_made_by_vsnap(m, im) || !im->regular)
            continue;
        if (im->foreign) {
            keep_note(notes, im);
            continue;
        }
        vs_plan_remove_image(tail, im->path, "no snapshot and not the domain refers to it");
        im->gone = true;
        changed = true;
    }
    free(order);
    return changed;
}

static bool
mergeable(const vs_model *m, const vs_image *u)
{
    return u->exists && u->regular && !u->gone && !vs_image_has_tags(u) &&
           u->r_content_int == 0 && !u->foreign && vs_reclaim_made_by_vsnap(m, u);
}

/* Whether committing upper u into im can be skipped: u holds no data and
 * does not make the disk larger (a commit of a grown overlay grows im). */
static bool
commit_needless(const vs_image *u, const vs_image *im)
{
    return u->fmt && strcmp(u->fmt, "qcow2") == 0 && u->empty == 1 && u->vsize > 0 &&
           im->vsize > 0 && u->vsize <= im->vsize;
}

/* Merge the single upper u of layer i down into it. */
static int
merge_down(vs_model *m, long i, long ui, vs_plan *merge, vs_plan *tail, vs_error *err)
{
    vs_image *im = &m->g.v[i], *u = &m->g.v[ui];
    long *up2 = NULL;
    size_t nup2, k;
    char *why;
    bool skip = commit_needless(u, im);

    why = vs_xasprintf("nothing else relies on %s", im->path);
    if (!skip)
        vs_plan_commit_image(merge, u->path, u->fmt, im->path, why);
    free(why);
    nup2 = vs_graph_uppers(&m->g, ui, &up2);
    for (k = 0; k < nup2; k++) {
        vs_image *v = &m->g.v[up2[k]];

        vs_plan_retarget_image(merge, v->path, v->fmt, im->path, im->fmt, u->path, u->fmt,
                               "its backing file was merged down");
        free(v->backing);
        v->backing = vs_xstrdup(im->path);
        free(v->backing_fmt);
        v->backing_fmt = vs_xstrdup(im->fmt);
    }
    free(up2);
    if (vs_model_rename_refs(m, u, im, err) < 0)
        return -1;
    why = skip ? vs_xasprintf("it held no data of its own, so %s takes its place without a "
                              "commit", im->path)
               : vs_xasprintf("its data was committed into %s", im->path);
    vs_plan_remove_image(tail, u->path, why);
    free(why);
    u->gone = true;
    im->released = im->released || u->released;
    return 0;
}

/* One merge: the lowest image that nothing owns but other images are built
 * on. Returns 1 if it planned one, 0 if there was none, -1 on error. */
static int
gc_merge(vs_model *m, vs_plan *merge, vs_plan *tail, vs_plan *notes, vs_error *err)
{
    long *order = vs_graph_depth_order(&m->g, false), *up = NULL;
    size_t n, nup, k;
    int ret = 0;

    for (n = 0; n < m->g.n && ret == 0; n++) {
        long i = order[n], b;
        vs_image *im = &m->g.v[i];

        if (im->gone || !im->exists || !ours(m, im))
            continue;
        /* Its present state is the domain's, or an external snapshot's. The
         * state of an image with internal snapshots only is nobody's: they
         * live in its snapshot table, which a commit leaves alone. */
        if (im->r_domain || im->r_content_ext)
            continue;
        free(up);
        nup = vs_graph_uppers(&m->g, i, &up);
        if (nup == 0)
            continue;
        if (im->foreign) {
            /* another domain reads through it: its data stays as it is */
            keep_note(notes, im);
            continue;
        }
        /* a network base takes the commit as a file does (it is never removed) */
        if (nup == 1 && mergeable(m, &m->g.v[up[0]]) && (im->regular || im->network)) {
            ret = merge_down(m, i, up[0], merge, tail, err) < 0 ? -1 : 1;
            break;
        }
        /* Rebasing every upper onto the layer below frees this one, which
         * then goes: only when nothing else needs the file. */
        b = vs_graph_find(&m->g, im->backing);
        if (b >= 0 && m->g.v[b].exists && !m->g.v[b].gone &&
            vs_reclaim_made_by_vsnap(m, im) && im->regular && !im->r_content &&
            !vs_image_has_tags(im)) {
            vs_image *base = &m->g.v[b];

            /* A rebased image's internal snapshots would read through the
             * new backing file and change: only images without any, and only
             * this domain's, are rebased. */
            for (k = 0; k < nup; k++) {
                vs_image *u = &m->g.v[up[k]];

                if (!u->regular || vs_image_has_tags(u) || u->foreign)
                    break;
            }
            if (k < nup) {
                if (m->g.v[up[k]].foreign)
                    keep_note(notes, &m->g.v[up[k]]);
                continue;
            }
            for (k = 0; k < nup; k++) {
                vs_image *u = &m->g.v[up[k]];

                vs_plan_rebase_image(merge, u->path, u->fmt, base->path, base->fmt, im->path,
                                     im->fmt,
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

int
vs_reclaim(vs_model *m, bool allow_merge, vs_plan *merge, vs_plan *tail, vs_plan *notes,
           vs_error *err)
{
    int rc, rounds = 0;

    for (;;) {
        if (++rounds > 100000)
            return vs_error_set(err, VS_ERR_INTERNAL, "image clean-up does not converge");
        /* merges shorten chains: order by the chains as they are now */
        vs_graph_depths(&m->g);
        vs_model_recount(m);
        if (gc_garbage(m, tail, notes))
            continue;
        if (!allow_merge)
            return 0;
        vs_model_recount(m);
        if ((rc = gc_merge(m, merge, tail, notes, err)) < 0)
            return -1;
        if (rc == 0)
            return 0;
    }
}

int
vs_reclaim_check_images(const vs_model *m, const vs_plan *merge, vs_error *err)
{
    size_t i;

    for (i = 0; i < merge->n; i++) {
        const vs_step *s = &merge->steps[i];
        long j;

        if (vs_step_info(s->kind)->mech != VS_MECH_QEMU_IMG)
            continue;
        if ((j = vs_graph_find(&m->g, s->path)) >= 0 && !m->g.v[j].exists)
            return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                                "image '%s' is missing, so it cannot be merged; run 'vsnap "
                                "snapshot-check' on the domain", m->g.v[j].path);
    }
    return 0;
}

int
vs_reclaim_plan(vs_model *m, vs_plan *p, const vs_plan *tags, bool metadata_only,
                vs_error *err)
{
    vs_plan *merge = vs_plan_new("merge", NULL, NULL, NULL);
    vs_plan *tail = vs_plan_new("tail", NULL, NULL, NULL);
    size_t i, lead = 0;
    int ret = -1;

    if (!metadata_only &&
        (vs_reclaim(m, true, merge, tail, p, err) < 0 || vs_reclaim_check_images(m, merge, err) < 0))
        goto out;
    while (lead < merge->n && vs_step_info(merge->steps[lead].kind)->undoable)
        vs_plan_add_copy(p, &merge->steps[lead++]);
    if (!metadata_only)
        vs_plan_commit_point(p);
    for (i = 0; tags && i < tags->n; i++)
        vs_plan_add_copy(p, &tags->steps[i]);
    for (i = lead; i < merge->n; i++)
        vs_plan_add_copy(p, &merge->steps[i]);
    vs_model_plan_metadata(m, p, NULL);
    for (i = 0; i < tail->n; i++)
        vs_plan_add_copy(p, &tail->steps[i]);
    if (metadata_only)
        vs_plan_commit_point(p);
    ret = 0;
 out:
    vs_plan_free(merge);
    vs_plan_free(tail);
    return ret;
}
