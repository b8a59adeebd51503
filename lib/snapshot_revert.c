/* snapshot-revert for a shut-off domain and internal snapshots
 * (virsh-behaviour.md A.9, B.6, C.3). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "failpoint.h"
#include "mem.h"
#include "qemu_img.h"
#include "snapshot_external.h"
#include "snapshot_ops.h"

/* The snapshot's definition keeps the domain's name even if the domain was
 * known by another name when the snapshot was taken. */
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

/* States whose snapshot holds no memory: reverting leaves the domain shut off. */
static bool
state_offline(vs_snap_state s)
{
    return s == VS_STATE_SHUTOFF || s == VS_STATE_SHUTDOWN || s == VS_STATE_CRASHED ||
           s == VS_STATE_DISK_SNAPSHOT || s == VS_STATE_NOSTATE;
}

int
vs_snapshot_revert(vs_dom *d, const char *name, unsigned flags, vs_error *err)
{
    vs_snapshot_def *def;
    vs_domain_def *newdef = NULL;
    vs_snap_image *images = NULL;
    size_t nimages = 0, i;
    int ret = -1;

    /* virsh looks the snapshot up before the library checks flags. */
    if (!(def = vs_dom_read_snapshot(d, name, err)))
        return -1;
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
    /* External snapshots share images: snapshot_external.c plans around them. */
    if (vs_snapshot_def_is_external(def) || vs_ext_domain_has_external(d)) {
        vs_snapshot_def_free(def);
        return vs_ext_revert(d, name, flags, NULL, err);
    }
    if (def->state == VS_STATE_PMSUSPENDED) {
        vs_error_set(err, VS_ERR_NO_SUPPORT,
                     "qemu doesn't support reversion of snapshot taken in PMSUSPENDED state");
        goto out;
    }
    if (!state_offline(def->state)) {
        vs_error_set(err, VS_ERR_NO_SUPPORT,
                     "vsnap cannot start domains yet; snapshot '%s' holds the memory of a %s domain",
                     def->name, vs_snap_state_name(def->state));
        goto out;
    }

    /* Everything that can be checked is checked before the first image
     * changes: an apply cannot be undone. */
    if (vs_snapshot_images(def, def->dom, false, &images, &nimages, err) < 0)
        goto out;
    if (vs_snapshot_images_probe(images, nimages, def->name, err) < 0)
        goto out;
    for (i = 0; i < nimages; i++) {
        if (!images[i].has_tag) {
            vs_error_set(err, VS_ERR_OPERATION_FAILED,
                         "image of disk '%s' does not have internal snapshot '%s'",
                         images[i].target, def->name);
            goto out;
        }
    }
    newdef = vs_domain_def_copy(def->dom);
    set_domain_name(newdef, d->name);

    for (i = 0; i < nimages; i++) {
        if (i > 0 && vs_failpoint("revert-between-images")) {
            vs_error_set(err, VS_ERR_INTERNAL, "failpoint revert-between-images");
            goto out;
        }
        if (vs_qemu_img_snapshot_apply(images[i].path, def->name, err) < 0)
            goto out;
    }
    /* The definition first, then current: after a crash in between the
     * domain matches its images and only `current` is stale. */
    if (vs_dom_save_def(d, newdef, err) < 0)
        goto out;
    if (vs_dom_set_current(d, def->name, err) < 0)
        goto out;
    ret = 0;
 out:
    vs_snap_images_free(images, nimages);
    vs_domain_def_free(newdef);
    vs_snapshot_def_free(def);
    return ret;
}
