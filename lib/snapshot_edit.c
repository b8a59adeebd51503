/* snapshot-edit's second half: apply the edited XML (virsh-behaviour.md A.4). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "plan_run.h"
#include "mem.h"
#include "path.h"
#include "snapshot_ops.h"

#define EDIT_WHAT "(domain_snapshot)"

/* The flags virsh adds for a redefinition of edited text. */
static unsigned
redefine_flags(const vs_snapshot_def *def, bool make_current)
{
    unsigned flags = VS_CREATE_REDEFINE;

    if (make_current)
        flags |= VS_CREATE_CURRENT;
    if (def->state == VS_STATE_DISK_SNAPSHOT)
        flags |= VS_CREATE_DISK_ONLY;
    return flags;
}

/*
 * qemu-img cannot rename an internal snapshot, so renaming the metadata of one
 * whose data is still in the images would leave a snapshot that can neither
 * be reverted to nor deleted with its data. Refuse that.
 */
static int
check_renamable(vs_dom *d, const vs_snapshot_def *old, vs_error *err)
{
    const vs_domain_def *dom = old->dom;
    vs_snap_image *images = NULL;
    size_t n = 0, i;
    int ret = -1;

    if (vs_snapshot_def_is_external(old))
        return 0;
    if (!dom && !(dom = vs_dom_def(d, err)))
        return -1;
    if (vs_snapshot_images(old, dom, true, &images, &n, err) < 0)
        return -1;
    if (vs_snapshot_images_probe(images, n, old->name, err) < 0)
        goto out;
    for (i = 0; i < n; i++) {
        if (images[i].has_tag) {
            vs_error_set(err, VS_ERR_NO_SUPPORT,
                         "cannot rename snapshot '%s': image '%s' holds its data as internal "
                         "snapshot '%s' and qemu-img cannot rename internal snapshots",
                         old->name, images[i].path, old->name);
            goto out;
        }
    }
    ret = 0;
 out:
    vs_snap_images_free(images, n);
    return ret;
}

/*
 * Rename: the new definition takes the old one's place in the tree (its
 * children follow it, and current too), then the old file goes. One plan,
 * every step undoable, so a failure or crash anywhere puts it all back.
 */
static int
rename_snapshot(vs_dom *d, const vs_snapshot_def *old, vs_snapshot_def *def,
                bool make_current, vs_error *err)
{
    vs_snap_tree *t;
    vs_domain_def *dom;
    long idx, pidx, oidx, *kids = NULL;
    size_t nkids = 0, i;
    char **kid_names = NULL, *cur = NULL, *text;
    vs_plan *p = NULL;
    int ret = -1;

    if (check_renamable(d, old, err) < 0)
        return -1;
    if (vs_snapshot_redefine_prep(d, def, redefine_flags(def, make_current), err) < 0)
        return -1;
    if (!(dom = vs_dom_def(d, err)) || !(t = vs_dom_tree(d, err)))
        return -1;
    /* The old snapshot's subtree becomes the new one's: its parent may not
     * come from there. */
    if (def->parent && (oidx = vs_snap_tree_find(t, old->name)) >= 0 &&
        (pidx = vs_snap_tree_find(t, def->parent)) >= 0 &&
        vs_snap_tree_is_ancestor(t, oidx, pidx))
        return vs_error_set(err, VS_ERR_INVALID_ARG, "parent %s would create cycle to %s",
                            def->parent, def->name);
    if ((idx = vs_snap_tree_find(t, old->name)) >= 0) {
        nkids = vs_snap_tree_children(t, idx, &kids);
        for (i = 0; i < nkids; i++)
            vs_strv_push(&kid_names, t->e[kids[i]].name);
        free(kids);
    }
    cur = vs_dom_current(d);

    p = vs_plan_new("snapshot-edit --rename", d->name, dom->uuid, old->name);
    text = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);
    vs_plan_write_snapshot(p, def->name, text, NULL, "the snapshot under its new name");
    free(text);
    for (i = 0; i < nkids; i++) {
        vs_snapshot_def *kid = vs_dom_read_snapshot(d, kid_names[i], err);
        char *before;

        if (!kid)
            goto out;
        before = vs_snapshot_def_format_str(kid, VS_SNAP_FORMAT_SECURE);
        free(kid->parent);
        kid->parent = vs_xstrdup(def->name);
        text = vs_snapshot_def_format_str(kid, VS_SNAP_FORMAT_SECURE);
        vs_plan_write_snapshot(p, kid->name, text, before, "its parent has a new name");
        free(text);
        free(before);
        vs_snapshot_def_free(kid);
    }
    if (make_current || (cur && strcmp(cur, old->name) == 0))
        vs_plan_set_current(p, def->name, cur, NULL);
    text = vs_snapshot_def_format_str(old, VS_SNAP_FORMAT_SECURE);
    vs_plan_remove_snapshot(p, old->name, text, "the old name goes");
    free(text);
    vs_plan_commit_point(p);
    ret = vs_plan_execute(p, d, err);
 out:
    vs_plan_free(p);
    free(cur);
    vs_strv_free(kid_names);
    return ret;
}

int
vs_snapshot_edit_apply(vs_dom *d, const char *name, const char *xml, size_t len,
                       bool rename, bool clone, bool make_current,
                       vs_edit_result *result, char **new_name, vs_error *err)
{
    vs_snapshot_def *old = NULL, *def = NULL;
    char *created = NULL;
    int ret = -1;

    *new_name = NULL;
    if (rename && clone)
        return vs_error_set(err, VS_ERR_PLAIN, "Options --rename and --clone are mutually exclusive");
    if (!(old = vs_dom_read_snapshot(d, name, err)))
        return -1;
    /* Parse once up front: broken text changes nothing (virsh 9 crashes here). */
    if (!(def = vs_snapshot_def_parse(xml, len, EDIT_WHAT, VS_SNAP_PARSE_REDEFINE, 0, err)))
        goto out;
    if (vs_name_check("snapshot", def->name, err) < 0)
        goto out;

    if (strcmp(def->name, old->name) == 0) {
        if (vs_snapshot_create(d, xml, len, EDIT_WHAT, redefine_flags(def, make_current),
                               &created, err) < 0)
            goto out;
        *result = VS_EDIT_EDITED;
    } else if (!rename && !clone) {
        vs_error_set(err, VS_ERR_PLAIN, "Must use --rename or --clone to change %s to %s",
                     old->name, def->name);
        goto out;
    } else if (vs_dom_has_snapshot(d, def->name)) {
        /* libvirt would overwrite the other snapshot's metadata. */
        vs_error_set(err, VS_ERR_OPERATION_FAILED, "domain moment %s already exists", def->name);
        goto out;
    } else if (clone) {
        if (vs_snapshot_create(d, xml, len, EDIT_WHAT, redefine_flags(def, make_current),
                               &created, err) < 0)
            goto out;
        *result = VS_EDIT_CLONED;
    } else {
        if (rename_snapshot(d, old, def, make_current, err) < 0)
            goto out;
        *result = VS_EDIT_RENAMED;
    }
    *new_name = vs_xstrdup(def->name);
    ret = 0;
 out:
    free(created);
    vs_snapshot_def_free(def);
    vs_snapshot_def_free(old);
    return ret;
}
