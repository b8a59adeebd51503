/* External (overlay) snapshots of shut-off domains, and revert and delete on
 * every domain whose snapshots include external ones (virsh-behaviour.md
 * B.3, C.1-C.4; design.md sections 5 and 6).
 *
 * The model. For each disk a snapshot S records in its <domain> the image
 * the disk used when S was taken: S's content. Taking an external snapshot
 * puts a new overlay on that image (S's <disks> names it) and the domain
 * writes there from then on, so the image S recorded never changes while
 * anything relies on it. Every image file is then owned by what refers to
 * it: the domain definition, the <domain> of snapshots (content), the
 * <disks> and <revertDisks> of snapshots (overlays vsnap made), internal
 * snapshots inside it, and the overlays whose backing file it is. Every
 * operation is planned (plan.h) so that no image anything still relies on
 * changes content, and no file is removed while anything refers to it.
 *
 * Revert to S puts new overlays on S's images. When S has no children its
 * own <disks> overlays are recreated empty and used again; otherwise fresh
 * overlays named "<image minus suffix>.<unix time>" are recorded in S's
 * <revertDisks>. The state being left is discarded only where nothing else
 * refers to it: an overlay named by a snapshot's <disks> is recreated empty,
 * other overlays vsnap made are removed.
 *
 * Delete removes what only the deleted snapshots used, and merges layers
 * that nothing owns any more: into the one image above with
 * `qemu-img commit` when the layer has one overlay left (the overlay's
 * references then name the layer), or into every overlay with a safe
 * `qemu-img rebase` when it has several and a backing file to rebase onto;
 * a base image without a backing file stays as the shared base. Images with
 * internal snapshots are never removed or merged away.
 */
#ifndef VSNAP_SNAPSHOT_EXTERNAL_H
#define VSNAP_SNAPSHOT_EXTERNAL_H

#include <stdbool.h>
#include "plan.h"
#include "snapshot_def.h"
#include "store.h"

/*
 * Whether a new, not redefined snapshot is external: --disk-only, or some
 * entry of def->disks asks for 'external' (or names a file). Decided before
 * alignment, as C.1 step 4 does.
 */
bool vs_ext_create_wanted(const vs_snapshot_def *def, unsigned flags);

/*
 * Create an external snapshot of the shut-off domain d from the parsed
 * (not redefined) def, with VS_CREATE_* flags: one overlay per external disk,
 * the domain definition switched to them, the snapshot recorded with the
 * images as they were. All or nothing. With dry != NULL nothing changes and
 * *dry (caller frees) is the plan. On success def is the final definition.
 */
int vs_ext_create(vs_dom *d, vs_snapshot_def *def, unsigned flags, vs_plan **dry,
                  vs_error *err);

/* Revert d to snapshot `name` (VS_REVERT_* flags), internal or external. */
int vs_ext_revert(vs_dom *d, const char *name, unsigned flags, vs_plan **dry, vs_error *err);

/* Delete `name` (VS_DELETE_* flags), its children or only its children. */
int vs_ext_delete(vs_dom *d, const char *name, unsigned flags, vs_plan **dry, vs_error *err);

/* Whether d has any external snapshot: then revert and delete go through
 * this file whatever the target is, because images are shared. */
bool vs_ext_domain_has_external(vs_dom *d);

#endif
