/* Reclaim: once a plan changed the metadata in the model (snapshots removed,
 * the domain moved to other images), what may now be removed or merged, and
 * how, so that nothing anything still relies on changes. Decisions only:
 * steps go into the plan pieces the caller passes; the files are not read
 * (the graph's facts are). */
#ifndef VSNAP_RECLAIM_H
#define VSNAP_RECLAIM_H

#include <stdbool.h>
#include "error.h"
#include "model.h"
#include "plan.h"

/*
 * The rules:
 *  - an image is vsnap's to move or remove only when vsnap (or libvirt) made
 *    it as an overlay: a snapshot's <disks> or <revertDisks> named it, the
 *    overlay registry lists it, or its backing file holds a snapshot's
 *    content; a user's base image never is;
 *  - nothing another domain or an open journal relies on (vs_image.foreign)
 *    is removed, merged into, rebased or recreated; nor an image with
 *    internal snapshots; nor a block device;
 *  - garbage (nothing refers to it, nothing is built on it) goes; an overlay
 *    a remaining snapshot's <disks> names is recreated empty instead;
 *  - with merges allowed, a layer nothing owns any more goes too: with one
 *    image above, that image's data is committed down into it (skipped only
 *    when the upper holds no data and is not larger than the layer) and the
 *    layer takes the upper's place; with several, each upper is rebased
 *    (safe) onto the layer below, when there is one.
 * Removals and recreations go into `tail`, commits and rebases into `merge`,
 * notes about what was kept and why into `notes` (may be the same plan).
 */
int vs_reclaim(vs_model *m, bool allow_merge, vs_plan *merge, vs_plan *tail, vs_plan *notes,
               vs_error *err);

/*
 * A plan that ends in reclaim, assembled into p: vs_reclaim with merges
 * (unless metadata_only) and vs_reclaim_check_images, then the steps in the
 * order every such planner uses: the leading merge steps that can be undone,
 * the commit point, `tags` (the internal snapshots deleted; may be NULL), the
 * other merge steps, the metadata the model now says
 * (vs_model_plan_metadata), the removals. A metadata-only plan can be undone
 * entirely, so its commit point is its end.
 */
int vs_reclaim_plan(vs_model *m, vs_plan *p, const vs_plan *tags, bool metadata_only,
                    vs_error *err);

/* Plan the recreation of overlay i, empty on base (create a temporary image
 * beside it, then move it over), into tail; the image's state in the model
 * follows. */
void vs_reclaim_reset(vs_model *m, long i, const char *base, const char *base_fmt,
                      vs_plan *tail, const char *why);

/* An image vsnap (or libvirt) made as an overlay (see the rules above). */
bool vs_reclaim_made_by_vsnap(const vs_model *m, const vs_image *im);

/* Every image a commit, rebase or removal in the pieces acts on exists;
 * otherwise "image 'P' is missing, so it cannot be merged; run 'vsnap
 * snapshot-check' on the domain". */
int vs_reclaim_check_images(const vs_model *m, const vs_plan *merge, vs_error *err);

#endif
