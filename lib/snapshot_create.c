/* snapshot-create / snapshot-create-as / snapshot-current NAME: the planner
 * of new snapshots (internal and external) and of redefinitions
 * (virsh-behaviour.md A.1, B.4, B.6, C.1, C.2). Every check is made here,
 * before the plan; the plan that runs is the plan --dry-run prints. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "disk_align.h"
#include "disk_source.h"
#include "domain_run.h"
#include "image_id.h"
#include "mem.h"
#include "model.h"
#include "path.h"
#include "plan.h"
#include "plan_run.h"
#include "qcow2.h"
#include "qemu_img.h"
#include "snapshot_ops.h"
#include "xml.h"

#define F_REDEFINE    "VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE"
#define F_CURRENT     "VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT"
#define F_NO_METADATA "VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA"
#define F_HALT        "VIR_DOMAIN_SNAPSHOT_CREATE_HALT"
#define F_DISK_ONLY   "VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY"
#define F_QUIESCE     "VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE"
#define F_LIVE        "VIR_DOMAIN_SNAPSHOT_CREATE_LIVE"

/* ---- helpers shared with revert, delete and edit ---------------------- */

void
vs_snap_images_free(vs_snap_image *images, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(images[i].target);
        free(images[i].path);
    }
    free(images);
}

static const vs_snap_disk *
find_entry(const vs_snapshot_def *def, const vs_domain_disk *dd)
{
    size_t i;

    for (i = 0; i < def->ndisks; i++) {
        const char *n = def->disks[i].name;

        if (!n)
            continue;
        if (dd->target && strcmp(n, dd->target) == 0)
            return &def->disks[i];
        if (n[0] == '/' && dd->source && strcmp(n, dd->source) == 0)
            return &def->disks[i];
    }
    return NULL;
}

/* Whether domain disk dd takes part in def's internal snapshot. */
static bool
disk_is_internal(const vs_snapshot_def *def, const vs_domain_disk *dd)
{
    const vs_snap_disk *e;

    if (def->ndisks == 0) {
        /* A definition without <disks> (hand-written, imported): the defaults
         * B.3 would give such a disk. */
        return !dd->readonly && dd->snapshot != VS_LOC_NO &&
               dd->snapshot != VS_LOC_EXTERNAL && dd->snapshot != VS_LOC_MANUAL;
    }
    e = find_entry(def, dd);
    return e && e->snapshot == VS_LOC_INTERNAL;
}

int
vs_snapshot_images(const vs_snapshot_def *def, const vs_domain_def *dom,
                   bool skip_unsupported, vs_snap_image **images, size_t *n,
                   vs_error *err)
{
    vs_snap_image *out = NULL;
    size_t cap = 0, count = 0, i, j;

    *images = NULL;
    *n = 0;
    for (i = 0; i < dom->ndisks; i++) {
        const vs_domain_disk *dd = &dom->disks[i];
        const char *target = dd->target ? dd->target : "";
        bool dup = false;

        if (!disk_is_internal(def, dd))
            continue;
        if (!dd->device || strcmp(dd->device, "disk") != 0)
            continue;
        if (dd->type != VS_STORAGE_FILE && dd->type != VS_STORAGE_BLOCK) {
            if (skip_unsupported)
                continue;
            vs_snap_images_free(out, count);
            return vs_error_set(err, VS_ERR_OPERATION_INVALID,
                                "can't manipulate inactive snapshots of disk '%s'", target);
        }
        if (!dd->source)
            continue;
        if (!dd->format || strcmp(dd->format, "qcow2") != 0) {
            if (skip_unsupported)
                continue;
            vs_snap_images_free(out, count);
            return vs_error_set(err, VS_ERR_OPERATION_INVALID,
                                "Disk device '%s' does not support snapshotting", target);
        }
        /* Two disks on one file share one snapshot table: act on it once. */
        for (j = 0; j < count; j++)
            if (vs_same_image(out[j].path, dd->source))
                dup = true;
        if (dup)
            continue;
        vs_xgrow(&out, &cap, count, sizeof(*out));
        out[count].target = vs_xstrdup(target);
        out[count].path = vs_xstrdup(dd->source);
        out[count].has_tag = false;
        count++;
    }
    *images = out;
    *n = count;
    return 0;
}

int
vs_snapshot_image_tags(const vs_snap_image *img, char ***tags, vs_error *err)
{
    vs_image_info info;
    int rc;

    *tags = NULL;
    /* the header, read directly; qemu-img only to name another format */
    if ((rc = vs_qcow2_probe(img->path, &info, NULL)) != 1) {
        if (vs_qemu_img_info(img->path, true, &info, err) < 0)
            return -1;
    }
    if (!info.format || strcmp(info.format, "qcow2") != 0) {
        vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                     "image '%s' of disk '%s' is in '%s' format; internal snapshots need qcow2",
                     img->path, img->target, info.format ? info.format : "unknown");
        vs_image_info_clear(&info);
        return -1;
    }
    *tags = info.snapshot_tags;
    info.snapshot_tags = NULL;
    vs_image_info_clear(&info);
    if (!*tags)
        *tags = vs_xcalloc(1, sizeof(char *));
    return 0;
}

int
vs_snapshot_images_probe(vs_snap_image *images, size_t n, const char *tag, vs_error *err)
{
    size_t i;
    char **tags, **t;

    for (i = 0; i < n; i++) {
        if (vs_snapshot_image_tags(&images[i], &tags, err) < 0)
            return -1;
        images[i].has_tag = false;
        for (t = tags; *t; t++)
            if (strcmp(*t, tag) == 0)
                images[i].has_tag = true;
        vs_strv_free(tags);
    }
    return 0;
}

/* qcow2 allows two snapshots with one tag; -a and -d would then pick
 * either. Refuse, so that a name always means one snapshot. */
static int
refuse_taken_tag(vs_snap_image *images, size_t n, const char *tag, vs_error *err)
{
    size_t i;

    if (vs_snapshot_images_probe(images, n, tag, err) < 0)
        return -1;
    for (i = 0; i < n; i++)
        if (images[i].has_tag)
            return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                                "image '%s' of disk '%s' already holds an internal snapshot "
                                "named '%s'", images[i].path, images[i].target, tag);
    return 0;
}

/* The plan's operation name and domain identity. */
static vs_plan *
new_plan(vs_dom *d, const char *operation, const char *snapshot, vs_error *err)
{
    vs_domain_def *dom = vs_dom_def(d, err);

    if (!dom)
        return NULL;
    return vs_plan_new(operation, d->name, dom->uuid, snapshot);
}

/* ---- redefine ---------------------------------------------------------- */

static bool
state_online(vs_snap_state s)
{
    return s == VS_STATE_RUNNING || s == VS_STATE_PAUSED;
}

/* B.6: the parent must exist, must not be the snapshot itself, and the
 * snapshot must not be one of the parent's ancestors. */
static int
check_parent(vs_snap_tree *t, const vs_snapshot_def *def, vs_error *err)
{
    long idx;
    size_t steps = 0;

    if (!def->parent)
        return 0;
    if (strcmp(def->parent, def->name) == 0)
        return vs_error_set(err, VS_ERR_INVALID_ARG,
                            "cannot set moment %s as its own parent", def->name);
    idx = vs_snap_tree_find(t, def->parent);
    if (idx < 0)
        return vs_error_set(err, VS_ERR_INVALID_ARG, "parent %s for moment %s not found",
                            def->parent, def->name);
    /* Walk by names, not links: the stored relations may already be broken,
     * and the step limit keeps an existing cycle from trapping us. */
    while (idx >= 0 && steps++ <= t->n) {
        const char *p = t->e[idx].parent;

        if (!p)
            break;
        if (strcmp(p, def->name) == 0)
            return vs_error_set(err, VS_ERR_INVALID_ARG, "parent %s would create cycle to %s",
                                def->parent, def->name);
        idx = vs_snap_tree_find(t, p);
    }
    return 0;
}

int
vs_snapshot_check_parent(vs_snap_tree *t, const char *name, const char *parent, vs_error *err)
{
    vs_snapshot_def probe;

    memset(&probe, 0, sizeof(probe));
    probe.name = (char *)name;
    probe.parent = (char *)parent;
    return check_parent(t, &probe, err);
}

int
vs_snapshot_redefine_check(vs_snap_tree *t, const vs_domain_def *dom,
                           const vs_snapshot_def *old, vs_snapshot_def *def, unsigned flags,
                           vs_error *err)
{
    vs_snap_location loc;

    if (check_parent(t, def, err) < 0)
        return -1;
    if ((flags & VS_CREATE_DISK_ONLY) && def->state != VS_STATE_DISK_SNAPSHOT)
        return vs_error_set(err, VS_ERR_INVALID_ARG,
                            "disk-only flag for snapshot %s requires disk-snapshot state",
                            def->name);
    if (def->dom && def->dom->uuid && dom->uuid && strcmp(def->dom->uuid, dom->uuid) != 0)
        return vs_error_set(err, VS_ERR_INVALID_ARG,
                            "definition for snapshot %s must use uuid %s", def->name, dom->uuid);
    if (old) {
        if (state_online(old->state) != state_online(def->state))
            return vs_error_set(err, VS_ERR_INVALID_ARG,
                                "cannot change between online and offline snapshot state in "
                                "snapshot %s", def->name);
        if ((old->state == VS_STATE_DISK_SNAPSHOT) != (def->state == VS_STATE_DISK_SNAPSHOT))
            return vs_error_set(err, VS_ERR_INVALID_ARG,
                                "cannot change between disk only and full system in snapshot %s",
                                def->name);
        if (!def->dom && old->dom)
            def->dom = vs_domain_def_copy(old->dom);
    }
    loc = (def->state == VS_STATE_DISK_SNAPSHOT || vs_snapshot_def_is_external(def))
          ? VS_LOC_EXTERNAL : VS_LOC_INTERNAL;
    return vs_disk_align(def, NULL, loc, true, false, err);
}

int
vs_snapshot_redefine_prep(vs_dom *d, vs_snapshot_def *def, unsigned flags, vs_error *err)
{
    vs_domain_def *dom;
    vs_snap_tree *t;
    vs_snapshot_def *old = NULL;
    int ret;

    if (!(dom = vs_dom_def(d, err)) || !(t = vs_dom_tree(d, err)))
        return -1;
    if (vs_snap_tree_find(t, def->name) >= 0 && !(old = vs_dom_read_snapshot(d, def->name, err)))
        return -1;
    ret = vs_snapshot_redefine_check(t, dom, old, def, flags, err);
    vs_snapshot_def_free(old);
    return ret;
}

/* A redefinition is a metadata plan: the file (with the one it replaces, if
 * any, for the undo) and, with --current, current. */
static int
plan_redefine(vs_dom *d, vs_snapshot_def *def, unsigned flags, vs_plan **dry, vs_error *err)
{
    vs_snapshot_def *old = NULL;
    char *text, *old_text = NULL, *cur;
    vs_plan *p;

    if (vs_snapshot_redefine_prep(d, def, flags, err) < 0)
        return -1;
    if (vs_dom_has_snapshot(d, def->name)) {
        if (!(old = vs_dom_read_snapshot(d, def->name, err)))
            return -1;
        old_text = vs_snapshot_def_format_str(old, VS_SNAP_FORMAT_SECURE);
        vs_snapshot_def_free(old);
    }
    if (!(p = new_plan(d, "snapshot-create --redefine", def->name, err))) {
        free(old_text);
        return -1;
    }
    text = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);
    vs_plan_write_snapshot(p, def->name, text, old_text, NULL);
    free(text);
    free(old_text);
    if (flags & VS_CREATE_CURRENT) {
        cur = vs_dom_current(d);
        vs_plan_set_current(p, def->name, cur, NULL);
        free(cur);
    }
    vs_plan_commit_point(p);
    return vs_plan_run_or_dry(p, d, dry, err);
}

/* ---- a new offline internal snapshot ----------------------------------- */

static bool storage_local(vs_storage_type t);

/* C.1 step 6 for internal entries (live: of a running domain; every_disk:
 * a disk left out is refused, as a full system snapshot needs). */
static int
prepare_internal(const vs_snapshot_def *def, bool live, bool every_disk, vs_error *err)
{
    const vs_domain_def *dom = def->dom;
    bool found_internal = false, forbid_internal = false;
    size_t i;

    for (i = 0; i < def->ndisks && i < dom->ndisks; i++) {
        const vs_snap_disk *e = &def->disks[i];
        const vs_domain_disk *dd = &dom->disks[i];
        const char *fmt;

        switch (e->snapshot) {
        case VS_LOC_INTERNAL:
            found_internal = true;
            if (live && !storage_local(dd->type))
                return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                                    "internal snapshot of disk %s is not supported on '%s' "
                                    "disks of a running domain", e->name,
                                    vs_storage_type_name(dd->type));
            if (dd->type == VS_STORAGE_NETWORK)
                return vs_error_set(err, VS_ERR_INTERNAL,
                                    "internal inactive snapshots are not supported on 'network' disks using '%s' protocol",
                                    dd->protocol ? dd->protocol : "");
            if (dd->type != VS_STORAGE_FILE && dd->type != VS_STORAGE_BLOCK)
                return vs_error_set(err, VS_ERR_INTERNAL,
                                    "internal inactive snapshots are not supported on '%s' disks",
                                    vs_storage_type_name(dd->type));
            /* qemu treats a disk without a format as raw. */
            fmt = dd->format ? dd->format : "raw";
            if (strcmp(fmt, "qcow2") != 0)
                return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                                    "internal snapshot for disk %s unsupported for storage type %s",
                                    e->name, fmt);
            break;
        case VS_LOC_NO:
            if ((dd->source || dd->type == VS_STORAGE_NETWORK) && !dd->readonly)
                forbid_internal = true;
            break;
        case VS_LOC_EXTERNAL:
        case VS_LOC_MANUAL:
        case VS_LOC_DEFAULT:
            break;
        }
    }
    if (!found_internal)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED, "nothing selected for snapshot");
    if (forbid_internal && every_disk)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "internal and full system snapshots require all disks to be selected for snapshot");
    return 0;
}

static int
plan_internal(vs_dom *d, vs_snapshot_def *def, unsigned flags, vs_plan **dry, vs_error *err)
{
    vs_snap_image *images = NULL;
    size_t nimages = 0, i;
    vs_plan *p = NULL;
    char *text, *cur = NULL;
    int ret = -1;

    def->state = VS_STATE_SHUTOFF;
    def->memory = VS_LOC_NO;
    if (vs_disk_align(def, def->dom, VS_LOC_INTERNAL, true, false, err) < 0)
        return -1;
    if (prepare_internal(def, false, true, err) < 0)
        return -1;
    if (vs_snapshot_images(def, def->dom, false, &images, &nimages, err) < 0)
        return -1;
    if (!(flags & VS_CREATE_NO_METADATA) && vs_dom_has_snapshot(d, def->name)) {
        vs_error_set(err, VS_ERR_OPERATION_FAILED, "domain moment %s already exists", def->name);
        goto out;
    }
    if (refuse_taken_tag(images, nimages, def->name, err) < 0)
        goto out;
    if (!(flags & VS_CREATE_NO_METADATA)) {
        cur = vs_dom_current(d);
        free(def->parent);
        def->parent = vs_xstrdup(cur);
    }

    /* All or nothing: the tags and the metadata all come before the commit
     * point, so a failure or crash anywhere deletes the tags again. */
    if (!(p = new_plan(d, "snapshot-create", def->name, err)))
        goto out;
    for (i = 0; i < nimages; i++)
        vs_plan_tag(p, VS_STEP_TAG_CREATE, images[i].path, def->name, NULL);
    if (!(flags & VS_CREATE_NO_METADATA)) {
        text = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);
        vs_plan_write_snapshot(p, def->name, text, NULL, "the new snapshot");
        free(text);
        vs_plan_set_current(p, def->name, cur, NULL);
    }
    vs_plan_commit_point(p);
    ret = vs_plan_run_or_dry(p, d, dry, err);
    p = NULL;
 out:
    vs_plan_free(p);
    free(cur);
    vs_snap_images_free(images, nimages);
    return ret;
}

/* ---- a new offline external snapshot ------------------------------------ */

/* Whether a new, not redefined snapshot is external: --disk-only, or some
 * entry of def->disks asks for 'external' (or names a file). Decided before
 * alignment, as C.1 step 4 does. */
static bool
external_wanted(const vs_snapshot_def *def, unsigned flags)
{
    size_t i;

    if (flags & VS_CREATE_DISK_ONLY)
        return true;
    for (i = 0; i < def->ndisks; i++)
        if (def->disks[i].snapshot == VS_LOC_EXTERNAL ||
            (def->disks[i].snapshot == VS_LOC_DEFAULT && def->disks[i].source))
            return true;
    return false;
}

static bool
storage_local(vs_storage_type t)
{
    return t == VS_STORAGE_FILE || t == VS_STORAGE_BLOCK;
}

/* Whether e is an overlay QEMU can make and open on the network while the
 * domain runs: one in an NBD export, or a file on a gluster volume (made by
 * a blockdev-create job of the gluster driver first). */
static bool
live_net_overlay(const vs_snap_disk *e)
{
    vs_net_source ns = { 0 };
    bool ok;

    if (e->type != VS_STORAGE_NETWORK || !e->source ||
        vs_net_source_from_locator(e->source, &ns, NULL) < 0) {
        vs_net_source_clear(&ns);
        return false;
    }
    ok = ns.protocol && (strcmp(ns.protocol, "nbd") == 0 || strcmp(ns.protocol, "gluster") == 0);
    vs_net_source_clear(&ns);
    return ok;
}

/* --reuse-external: the file must be an overlay of the disk's image. */
static int
check_reuse(const vs_snap_disk *e, const vs_domain_disk *dd, vs_error *err)
{
    const char *fmt = e->format;
    vs_image_info info;
    int rc;

    if (vs_path_is_network(e->source)) {
        if (vs_qemu_img_info(e->source, true, &info, err) < 0)
            return -1;
        rc = 1;
    } else {
        rc = vs_qcow2_probe(e->source, &info, err);
    }
    if (rc < 0)
        return -1;
    if (rc == 0 && strcmp(fmt, "qed") == 0 && vs_image_has_magic(e->source)) {
        if (vs_qemu_img_info(e->source, false, &info, err) < 0)
            return -1;
        rc = 1;
    }
    if (rc == 0 || !info.format || strcmp(info.format, fmt) != 0) {
        vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                     "cannot reuse '%s' for disk %s: it is not a %s image", e->source, e->name,
                     fmt);
        vs_image_info_clear(&info);
        return -1;
    }
    if (!info.full_backing_filename || !vs_same_image(info.full_backing_filename, dd->source)) {
        vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                     "cannot reuse '%s' for disk %s: its backing file is %s%s%s, not the "
                     "disk's current image '%s'", e->source, e->name,
                     info.full_backing_filename ? "'" : "",
                     info.full_backing_filename ? info.full_backing_filename : "not set",
                     info.full_backing_filename ? "'" : "", dd->source);
        vs_image_info_clear(&info);
        return -1;
    }
    if (info.backing_format && strcmp(info.backing_format, dd->format) != 0) {
        vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                     "cannot reuse '%s' for disk %s: it names its backing file as a '%s' "
                     "image, but the disk's image is '%s'", e->source, e->name,
                     info.backing_format, dd->format);
        vs_image_info_clear(&info);
        return -1;
    }
    vs_image_info_clear(&info);
    return 0;
}

/* C.1 step 6 for one external entry (live: of a running domain). */
static int
prepare_external_disk(vs_snap_disk *e, const vs_domain_disk *dd, unsigned flags, bool live,
                      vs_error *err)
{
    bool reuse = (flags & VS_CREATE_REUSE_EXT) != 0;
    struct stat sb, lsb;
    const char *fmt;

    if (!e->format)
        e->format = vs_xstrdup("qcow2");
    fmt = e->format;
    if (strcmp(fmt, "qcow2") != 0 && strcmp(fmt, "qed") != 0)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "external snapshot format for disk %s is unsupported: %s",
                            e->name, fmt);
    if (e->has_metadata_cache && strcmp(fmt, "qcow2") != 0)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "metadata cache max size control is supported only with qcow2 images");
    /* running: a local overlay, or one in an NBD export or on a gluster
     * volume (made by QEMU with blockdev-create on the network node), on a
     * local or a network image */
    if (live && ((!storage_local(dd->type) && !vs_disk_is_local(dd)) ||
                 (!storage_local(e->type) && !live_net_overlay(e))))
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "external snapshots of a running domain are not supported on '%s' "
                            "disks", vs_storage_type_name(storage_local(dd->type) ? e->type
                                                                                  : dd->type));
    /* Beyond libvirt: NBD and gluster images (by their locator) on either side. */
    if ((!storage_local(dd->type) && !vs_disk_is_local(dd)) ||
        (!storage_local(e->type) && !(e->type == VS_STORAGE_NETWORK && e->source)))
        return vs_error_set(err, VS_ERR_INTERNAL,
                            "external inactive snapshots are not supported on '%s' disks",
                            vs_storage_type_name(storage_local(dd->type) ? e->type : dd->type));
    if (!e->source)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "external snapshot of disk '%s' needs a file name", e->name);
    /* An overlay on the network is written into the export or volume file
     * as qemu-img finds it (formatted, as a block device is); with
     * --reuse-external it must already be the disk's overlay. It is never
     * looked up as a path. */
    if (e->type == VS_STORAGE_NETWORK)
        goto checked;
    if (e->source[0] != '/')
        return vs_error_set(err, VS_ERR_XML, "disk snapshot image path '%s' must be absolute",
                            e->source);
    /* A link whose target does not exist would be created at its target:
     * refused as an existing file is. */
    if (lstat(e->source, &lsb) == 0 && S_ISLNK(lsb.st_mode) && stat(e->source, &sb) < 0)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "external snapshot file for disk %s is a symbolic link to a file "
                            "that does not exist: %s", e->name, e->source);
    if (stat(e->source, &sb) < 0) {
        if (errno != ENOENT)
            return vs_error_sys(err, errno, "unable to stat for disk %s: %s", e->name, e->source);
        if (reuse)
            return vs_error_sys(err, errno, "missing existing file for disk %s: %s", e->name,
                                e->source);
        if (e->type == VS_STORAGE_BLOCK)
            return vs_error_set(err, VS_ERR_NO_SUPPORT,
                                "block device snapshot target '%s' doesn't exist", e->source);
    } else {
        /* type='block': a block device, or a regular file given as one
         * (vsnap treats it as a device: never created, removed or merged away) */
        if (e->type == VS_STORAGE_BLOCK ? !S_ISBLK(sb.st_mode) && !S_ISREG(sb.st_mode)
                                        : S_ISBLK(sb.st_mode) != 0)
            return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                                "mismatch between configured type for snapshot disk '%s' and the "
                                "type of existing file '%s'", e->name, e->source);
        if (!reuse && S_ISREG(sb.st_mode) && sb.st_size > 0)
            return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                                "external snapshot file for disk %s already exists and is not a "
                                "block device: %s", e->name, e->source);
    }
checked:
    /* An overlay without a backing format makes qemu probe it, which is how
     * raw images get misread; libvirt refuses such chains (user-pains 7). */
    if (!dd->format)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "disk '%s' has no format (<driver type=...>) in the domain "
                            "definition; set it before taking an external snapshot", e->name);
    if (vs_same_image(e->source, dd->source))
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "external snapshot file for disk %s is the disk's current image: %s",
                            e->name, e->source);
    return reuse ? check_reuse(e, dd, err) : 0;
}

/*
 * An external snapshot: shut off, each disk's overlay made with qemu-img;
 * running (run not NULL), made and opened by QEMU and every disk moved onto
 * its overlay in one transaction, the guest's file systems frozen around it
 * with --quiesce. Either way every step can be undone (running: the disks
 * committed back from their overlays), so the snapshot is all or nothing.
 */
/* An external memory file: absolute (the parser checked), in a directory
 * that exists, new (nothing is ever written over), and no disk's image. */
static int
check_memory_file(const vs_snapshot_def *def, vs_error *err)
{
    const char *f = def->memory_file;
    char *dir = vs_xstrdup(f), *slash = strrchr(dir, '/');
    struct stat sb;
    size_t i;

    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        vs_error_sys(err, errno ? errno : ENOTDIR,
                     "the directory of memory state file '%s' does not exist", f);
        free(dir);
        return -1;
    }
    free(dir);
    if (lstat(f, &sb) == 0)
        return vs_error_set(err, VS_ERR_OPERATION_INVALID,
                            "memory state file '%s' already exists: vsnap never writes over a "
                            "file; remove it or choose another name", f);
    for (i = 0; i < def->dom->ndisks; i++)
        if (def->dom->disks[i].source && vs_same_image(def->dom->disks[i].source, f))
            return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                                "memory state file '%s' is the image of disk '%s'", f,
                                def->dom->disks[i].target);
    for (i = 0; i < def->ndisks; i++)
        if (def->disks[i].snapshot == VS_LOC_EXTERNAL && def->disks[i].source &&
            strcmp(def->disks[i].source, f) == 0)
            return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                                "memory state file '%s' is also the external snapshot file of "
                                "disk %s", f, def->disks[i].name);
    return 0;
}

/* Whether the domain definition dom names image path in one of its disks. */
static bool
dom_names(const vs_domain_def *dom, const char *path)
{
    size_t i;

    for (i = 0; dom && i < dom->ndisks; i++)
        if (dom->disks[i].source && vs_same_image(dom->disks[i].source, path))
            return true;
    return false;
}

/*
 * A new overlay on the network is written into the export or the volume's
 * file as qemu-img or QEMU finds it: it cannot be stat'ed as a path, so the
 * image it names must at least be none that this domain's metadata names
 * (its disks, and every snapshot's domain, <disks> and <revertDisks>), or a
 * backing file below the disk would be formatted over.
 */
static int
refuse_named_network_target(vs_dom *d, const vs_snap_disk *e, vs_error *err)
{
    vs_model m;
    size_t i, k;
    int ret = 0;

    memset(&m, 0, sizeof(m));
    if (vs_model_load(&m, d, 0, err) < 0) {
        vs_model_release(&m);
        return -1;
    }
    for (i = 0; ret == 0 && i < m.nsnaps; i++) {
        const vs_snapshot_def *s = m.snaps[i].def;
        bool named = dom_names(s->dom, e->source) || dom_names(s->inactive_dom, e->source);

        for (k = 0; !named && k < s->ndisks; k++)
            named = s->disks[k].source && vs_same_image(s->disks[k].source, e->source);
        for (k = 0; !named && k < s->nrevert_disks; k++)
            named = s->revert_disks[k].source &&
                    vs_same_image(s->revert_disks[k].source, e->source);
        if (named)
            ret = vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                               "external snapshot file for disk %s is an image snapshot '%s' "
                               "names: %s; vsnap never writes over one", e->name, s->name,
                               e->source);
    }
    if (ret == 0 && dom_names(m.dom, e->source))
        ret = vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                           "external snapshot file for disk %s is an image of the domain: %s; "
                           "vsnap never writes over one", e->name, e->source);
    vs_model_release(&m);
    return ret;
}

static int
plan_external(vs_dom *d, vs_snapshot_def *def, unsigned flags, const vs_run_info *run,
              vs_plan **dry, vs_error *err)
{
    bool no_meta = (flags & VS_CREATE_NO_METADATA) != 0;
    bool reuse = (flags & VS_CREATE_REUSE_EXT) != 0;
    bool live = run != NULL;
    /* a full system snapshot: the memory into a file (running or paused) */
    bool memory = live && def->memory == VS_LOC_EXTERNAL;
    bool running = live && run->state == VS_RUN_RUNNING;
    vs_snap_image *images = NULL;
    size_t nimages = 0;
    vs_vm_disk *tagged = NULL;
    vs_vm_disk *moves = NULL;
    size_t nmoves = 0, cap = 0;
    vs_domain_def *dom, *newdom = NULL;
    vs_snapshot_def *cur = NULL;
    vs_plan *p = NULL;
    bool any_ext = false, any_int = false;
    char *current = NULL, *text, *old_dom = NULL;
    size_t i, j;
    int ret = -1;

    if (!(dom = vs_dom_def(d, err)))
        return -1;
    if (vs_disk_align(def, def->dom, VS_LOC_EXTERNAL, true, false, err) < 0)
        return -1;
    for (i = 0; i < def->ndisks && i < def->dom->ndisks; i++) {
        vs_snap_disk *e = &def->disks[i];

        if (e->snapshot == VS_LOC_EXTERNAL) {
            if (prepare_external_disk(e, &def->dom->disks[i], flags, live, err) < 0 ||
                (e->type == VS_STORAGE_NETWORK && !reuse &&
                 refuse_named_network_target(d, e, err) < 0))
                return -1;
            any_ext = true;
        } else if (e->snapshot == VS_LOC_INTERNAL) {
            if (live && !memory)
                return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                                    "active qemu domains require external disk snapshots; disk "
                                    "%s requested internal", e->name);
            any_int = true;
        }
    }
    if (memory && any_int && any_ext)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "mixing internal and external targets for a snapshot is not yet "
                            "supported: with external memory the disks are either all internal "
                            "snapshots or all external overlays");
    if (memory) {
        /* memory external with internal disk snapshots (libvirt refuses the
         * mix): the disks' tags in one transaction while the guest is paused */
        if (any_int && (flags & VS_CREATE_LIVE) && running)
            return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                                "--live cannot be used with internal disk snapshots: QEMU "
                                "takes them only while the guest is paused before the memory "
                                "copy; leave out --live, or use external disk snapshots");
        if (any_int && (prepare_internal(def, true, false, err) < 0 ||
                        vs_snapshot_images(def, def->dom, false, &images, &nimages, err) < 0))
            return -1;
        if (check_memory_file(def, err) < 0)
            goto out;
    } else if (!any_ext && !any_int) {
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED, "nothing selected for snapshot");
    } else if (!any_ext) {
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "disk-only snapshots require at least one disk to be selected for "
                            "snapshot");
    } else if (any_int) {
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "mixing internal and external targets for a snapshot is not yet "
                            "supported");
    }
    for (i = 0; i < def->ndisks; i++)
        for (j = i + 1; j < def->ndisks; j++)
            if (def->disks[i].snapshot == VS_LOC_EXTERNAL &&
                def->disks[j].snapshot == VS_LOC_EXTERNAL &&
                vs_same_image(def->disks[i].source, def->disks[j].source))
                return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                                    "disks '%s' and '%s' cannot use the same external snapshot "
                                    "file '%s'", def->disks[i].name, def->disks[j].name,
                                    def->disks[i].source);

    def->state = memory ? (running ? VS_STATE_RUNNING : VS_STATE_PAUSED)
                 : live ? VS_STATE_DISK_SNAPSHOT : VS_STATE_SHUTOFF;
    if (flags & VS_CREATE_DISK_ONLY)
        def->memory = VS_LOC_NO;
    if ((flags & VS_CREATE_HALT) && live && run->attached)
        return vs_error_set(err, VS_ERR_OPERATION_INVALID,
                            "domain '%s' is run by another program (<vsnap:runtime>): vsnap "
                            "does not stop its QEMU, so --halt cannot be used", d->name);
    if ((flags & VS_CREATE_QUIESCE) && live) {
        /* libvirt's check first: an agent must be there to freeze */
        vs_qmp *a = vs_domain_agent(d, 10000, err);

        if (!a)
            return -1;
        vs_qmp_free(a);
    }
    if (!no_meta) {
        /* (the file, not the tree: a create need not load the index) */
        if (vs_dom_snapshot_file_exists(d, def->name)) {
            vs_error_set(err, VS_ERR_OPERATION_FAILED, "domain moment %s already exists",
                         def->name);
            goto out;
        }
        current = vs_dom_current(d);
        free(def->parent);
        def->parent = vs_xstrdup(current);
        if (current && !(cur = vs_dom_read_snapshot(d, current, err)))
            goto out;
    }

    /* All or nothing: every step can be undone (the overlays removed, each
     * metadata file put back), so the commit point is the end. */
    if (!(p = new_plan(d, "snapshot-create", def->name, err)))
        goto out;
    if (nimages && refuse_taken_tag(images, nimages, def->name, err) < 0)
        goto out;
    if (live && (flags & VS_CREATE_QUIESCE))
        vs_plan_vm(p, VS_STEP_VM_FREEZE, NULL, "--quiesce");
    if (memory) {
        /* pause | (internal disk snapshots) | memory into the file | (the
         * overlays): all from one instant. QEMU inactivates the disks when
         * the copy ends, and takes internal snapshots only of active ones. */
        char *xml = vs_model_format_domain(def->dom);

        if (running && !(flags & VS_CREATE_LIVE))
            vs_plan_vm(p, VS_STEP_VM_PAUSE, run->reason,
                       "the guest's memory and disks are saved at one instant");
        if (nimages) {
            tagged = vs_xcalloc(nimages, sizeof(*tagged));
            for (i = 0; i < nimages; i++) {
                tagged[i].target = vs_xstrdup(images[i].target);
                tagged[i].image = vs_xstrdup(images[i].path);
            }
            vs_plan_vm_tags(p, VS_STEP_VM_TAG_DISKS, def->name, NULL, tagged, nimages,
                            "the disks' internal snapshots, at the memory's instant");
        }
        vs_plan_vm_save_memory(p, def->memory_file, xml,
                               !running ? "paused" : (flags & VS_CREATE_LIVE) ? "running live"
                                                                             : "running", NULL);
        free(xml);
    }
    newdom = vs_domain_def_copy(dom);
    for (i = 0; i < def->ndisks && i < def->dom->ndisks; i++) {
        vs_snap_disk *e = &def->disks[i];
        /* the image the disk is on now: the one QEMU runs, when it runs */
        const vs_domain_disk *dd = &def->dom->disks[i];
        int k = vs_domain_def_disk_index(newdom, dd->target);
        char *why;

        if (e->snapshot != VS_LOC_EXTERNAL)
            continue;
        why = vs_xasprintf("new overlay of disk %s", e->name);
        if (live) {
            /* a network image is never removed: kept on undo */
            if (e->type == VS_STORAGE_NETWORK)
                vs_plan_vm_overlay(p, dd->target, e->source, e->format, dd->source, dd->format,
                                   reuse, reuse ? NULL : why)->keep_on_undo = true;
            else
                vs_plan_vm_overlay(p, dd->target, e->source, e->format, dd->source, dd->format,
                                   reuse, reuse ? NULL : why);
            vs_xgrow(&moves, &cap, nmoves, sizeof(*moves));
            moves[nmoves].target = vs_xstrdup(dd->target);
            moves[nmoves].image = vs_xstrdup(dd->source);
            moves[nmoves].overlay = vs_xstrdup(e->source);
            nmoves++;
        } else if (!reuse) {
            vs_plan_create_image(p, e->source, e->format, dd->source, dd->format, why)
                ->keep_on_undo = e->type == VS_STORAGE_BLOCK || e->type == VS_STORAGE_NETWORK;
        }
        free(why);
        if (k >= 0 &&
            vs_domain_def_set_disk_source(newdom, (size_t)k, e->type, e->source, e->format,
                                          err) < 0)
            goto out;
    }
    if (live && nmoves)
        vs_plan_vm_disks(p, VS_STEP_VM_SNAPSHOT_DISKS, moves, nmoves,
                         "all at once (atomic)");
    if (!no_meta) {
        text = vs_model_format_snapshot(def);
        vs_plan_write_snapshot(p, def->name, text, NULL,
                               "the new snapshot, with the images as they were");
        free(text);
        /* The overlays a revert made now hold the new snapshot's content. */
        if (cur && cur->nrevert_disks) {
            char **reg = NULL, *reg_old, *reg_new, *cur_old;
            vs_buf b = VS_BUF_INIT;

            /* Named by no <revertDisks> any more: keep them known as vsnap's. */
            if (vs_dom_registry_load(d, &reg, err) < 0)
                goto out;
            for (i = 0; reg[i]; i++)
                vs_buf_addf(&b, "%s\n", reg[i]);
            vs_buf_addc(&b, '\0');
            reg_old = vs_buf_steal(&b);
            for (i = 0; i < cur->nrevert_disks; i++)
                if (cur->revert_disks[i].source && cur->revert_disks[i].snapshot == VS_LOC_EXTERNAL)
                    vs_strv_push(&reg, cur->revert_disks[i].source);
            for (i = 0; reg[i]; i++)
                vs_buf_addf(&b, "%s\n", reg[i]);
            reg_new = vs_buf_steal(&b);
            vs_plan_write_registry(p, reg_new, reg_old, NULL);
            free(reg_new);
            free(reg_old);
            vs_strv_free(reg);
            cur_old = vs_model_format_snapshot(cur);
            vs_model_clear_revert_disks(cur);
            text = vs_model_format_snapshot(cur);
            vs_plan_write_snapshot(p, cur->name, text, cur_old,
                                   "its revert overlays now belong to the new snapshot");
            free(text);
            free(cur_old);
        }
    }
    if (any_ext) {
        text = vs_model_format_domain(newdom);
        old_dom = vs_model_format_domain(dom);
        vs_plan_write_domain(p, text, old_dom, "the disks switch to the new overlays");
        free(text);
    }
    if (!no_meta)
        vs_plan_set_current(p, def->name, current, NULL);
    vs_plan_commit_point(p);
    if (live && (flags & VS_CREATE_HALT))
        vs_plan_vm(p, VS_STEP_VM_STOP, "from snapshot", "--halt");
    if ((live && (flags & VS_CREATE_QUIESCE)) || running)
        vs_plan_begin_finally(p);
    if (live && (flags & VS_CREATE_QUIESCE))
        vs_plan_vm(p, VS_STEP_VM_THAW, NULL, NULL);
    /* a guest that ran never stays paused (QEMU gone after --halt: nothing to do) */
    if (memory && running)
        vs_plan_vm(p, VS_STEP_VM_RESUME, "unpaused", NULL);
    ret = vs_plan_run_or_dry(p, d, dry, err);
    p = NULL;
 out:
    vs_plan_free(p);
    vs_vm_disks_free(moves, nmoves);
    vs_vm_disks_free(tagged, tagged ? nimages : 0);
    vs_snap_images_free(images, nimages);
    vs_domain_def_free(newdom);
    vs_snapshot_def_free(cur);
    free(current);
    free(old_dom);
    return ret;
}

/* ---- a running domain ------------------------------------------------------ */

/* A UEFI variables store that is not qcow2 cannot take an internal
 * snapshot with the guest's memory (vsnap runs every <nvram> raw). */
static bool
has_raw_nvram(const vs_domain_def *dom)
{
    xmlNodePtr root = xmlDocGetRootElement(dom->doc), os, nv;
    char *fmt;
    bool raw;

    os = root ? vs_xml_child(root, "os") : NULL;
    if (!os || !(nv = vs_xml_child(os, "nvram")))
        return false;
    fmt = vs_xml_prop(nv, "format");
    raw = !fmt || strcmp(fmt, "qcow2") != 0;
    free(fmt);
    return raw;
}

/*
 * An internal snapshot of a running (or paused) domain, with its memory:
 * QEMU's snapshot-save job writes the guest's state into the first disk and
 * takes the internal snapshot of every disk at the same instant. The guest
 * is paused for it (a step its undo and a finally action take back, so it
 * never stays paused) and, with --halt, stopped afterwards.
 */
static int
plan_live_internal(vs_dom *d, vs_snapshot_def *def, unsigned flags, const vs_run_info *run,
                   vs_plan **dry, vs_error *err)
{
    bool no_meta = (flags & VS_CREATE_NO_METADATA) != 0, halt = (flags & VS_CREATE_HALT) != 0;
    bool running = run->state == VS_RUN_RUNNING;
    vs_snap_image *images = NULL;
    vs_vm_disk *disks = NULL;
    size_t nimages = 0, nd = 0, i;
    vs_plan *p = NULL;
    char *text, *cur = NULL;
    int ret = -1;

    if (def->memory == VS_LOC_NO)
        return vs_error_set(err, VS_ERR_NO_SUPPORT,
                            "internal snapshot of a running VM must include the memory state");
    def->state = running ? VS_STATE_RUNNING : run->state == VS_RUN_CRASHED ? VS_STATE_CRASHED
                                                                           : VS_STATE_PAUSED;
    def->memory = VS_LOC_INTERNAL;
    if (vs_disk_align(def, def->dom, VS_LOC_INTERNAL, true, false, err) < 0)
        return -1;
    if (prepare_internal(def, true, true, err) < 0)
        return -1;
    if (has_raw_nvram(def->dom))
        return vs_error_set(err, VS_ERR_NO_SUPPORT,
                            "internal snapshots of a VM with pflash based firmware require "
                            "QCOW2 nvram format");
    if (halt && run->attached)
        return vs_error_set(err, VS_ERR_OPERATION_INVALID,
                            "domain '%s' is run by another program (<vsnap:runtime>): vsnap "
                            "does not stop its QEMU, so --halt cannot be used", d->name);
    if (vs_snapshot_images(def, def->dom, false, &images, &nimages, err) < 0)
        return -1;
    if (nimages == 0) {
        vs_error_set(err, VS_ERR_OPERATION_INVALID,
                     "this domain does not have a device to take snapshots");
        goto out;
    }
    if (!no_meta && vs_dom_has_snapshot(d, def->name)) {
        vs_error_set(err, VS_ERR_OPERATION_FAILED, "domain moment %s already exists", def->name);
        goto out;
    }
    /* (the headers, read while QEMU has the images open) */
    if (refuse_taken_tag(images, nimages, def->name, err) < 0)
        goto out;
    disks = vs_xcalloc(nimages, sizeof(*disks));
    for (i = 0; i < nimages; i++) {
        disks[i].target = vs_xstrdup(images[i].target);
        disks[i].image = vs_xstrdup(images[i].path);
        nd = i + 1;
    }
    if (!no_meta) {
        cur = vs_dom_current(d);
        free(def->parent);
        def->parent = vs_xstrdup(cur);
    }

    /* pause | snapshot-save | metadata | commit point | stop (--halt) |
     * finally: resume. A failure before the commit point deletes the
     * snapshot again and resumes the guest. */
    if (!(p = new_plan(d, "snapshot-create", def->name, err)))
        goto out;
    if (running)
        vs_plan_vm(p, VS_STEP_VM_PAUSE, run->reason, "the guest's memory and disks are saved "
                   "at one instant");
    vs_plan_vm_tags(p, VS_STEP_VM_SAVE, def->name, images[0].path, disks, nd, NULL);
    if (!no_meta) {
        text = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);
        vs_plan_write_snapshot(p, def->name, text, NULL, "the new snapshot");
        free(text);
        vs_plan_set_current(p, def->name, cur, NULL);
    }
    vs_plan_commit_point(p);
    if (halt)
        vs_plan_vm(p, VS_STEP_VM_STOP, "from snapshot", "--halt");
    if (running && !halt) {
        vs_plan_begin_finally(p);
        vs_plan_vm(p, VS_STEP_VM_RESUME, "unpaused", NULL);
    }
    ret = vs_plan_run_or_dry(p, d, dry, err);
    p = NULL;
 out:
    vs_plan_free(p);
    free(cur);
    vs_vm_disks_free(disks, nd);
    vs_snap_images_free(images, nimages);
    return ret;
}

/* Whether def asks for internal snapshots of disks, and for no external one. */
static bool
asks_internal_disks(const vs_snapshot_def *def)
{
    bool internal = false;
    size_t i;

    for (i = 0; i < def->ndisks; i++) {
        if (def->disks[i].snapshot == VS_LOC_EXTERNAL ||
            (def->disks[i].snapshot == VS_LOC_DEFAULT && def->disks[i].source))
            return false;
        if (def->disks[i].snapshot == VS_LOC_INTERNAL)
            internal = true;
    }
    return internal;
}

/*
 * The rows of the seed's table libvirt calls unsupported that QEMU can do:
 * internal snapshots of a running domain's disks without its memory
 * (--disk-only, or memory 'no', with the disks asked for internal), taken
 * in one transaction of blockdev-snapshot-internal-sync while the guest
 * runs: crash-consistent, as an external disk-only snapshot is. State
 * disk-snapshot; a revert stops QEMU and applies them, as for a snapshot
 * taken shut off.
 */
static int
plan_live_disks_internal(vs_dom *d, vs_snapshot_def *def, unsigned flags,
                         const vs_run_info *run, vs_plan **dry, vs_error *err)
{
    bool no_meta = (flags & VS_CREATE_NO_METADATA) != 0;
    vs_snap_image *images = NULL;
    vs_vm_disk *disks = NULL;
    size_t nimages = 0, nd = 0, i;
    vs_plan *p = NULL;
    char *text, *cur = NULL;
    int ret = -1;

    def->state = VS_STATE_DISK_SNAPSHOT;
    def->memory = VS_LOC_NO;
    /* (each disk on its own: not QEMU's all-or-nothing savevm rule) */
    if (vs_disk_align(def, def->dom, (flags & VS_CREATE_DISK_ONLY) ? VS_LOC_EXTERNAL
                                                                    : VS_LOC_INTERNAL,
                      false, false, err) < 0)
        return -1;
    for (i = 0; i < def->ndisks; i++)
        if (def->disks[i].snapshot == VS_LOC_EXTERNAL)
            return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                                "mixing internal and external targets for a snapshot is not yet "
                                "supported");
    if (prepare_internal(def, true, false, err) < 0)
        return -1;
    if ((flags & VS_CREATE_HALT) && run->attached)
        return vs_error_set(err, VS_ERR_OPERATION_INVALID,
                            "domain '%s' is run by another program (<vsnap:runtime>): vsnap "
                            "does not stop its QEMU, so --halt cannot be used", d->name);
    if (vs_snapshot_images(def, def->dom, false, &images, &nimages, err) < 0)
        return -1;
    if (!no_meta && vs_dom_has_snapshot(d, def->name)) {
        vs_error_set(err, VS_ERR_OPERATION_FAILED, "domain moment %s already exists", def->name);
        goto out;
    }
    if (refuse_taken_tag(images, nimages, def->name, err) < 0)
        goto out;
    disks = vs_xcalloc(nimages + 1, sizeof(*disks));
    for (nd = 0; nd < nimages; nd++) {
        disks[nd].target = vs_xstrdup(images[nd].target);
        disks[nd].image = vs_xstrdup(images[nd].path);
    }
    if (!no_meta) {
        cur = vs_dom_current(d);
        free(def->parent);
        def->parent = vs_xstrdup(cur);
    }
    if (flags & VS_CREATE_QUIESCE) {
        /* libvirt's check first: an agent must be there to freeze */
        vs_qmp *a = vs_domain_agent(d, 10000, err);

        if (!a)
            goto out;
        vs_qmp_free(a);
    }
    if (!(p = new_plan(d, "snapshot-create", def->name, err)))
        goto out;
    if (flags & VS_CREATE_QUIESCE)
        vs_plan_vm(p, VS_STEP_VM_FREEZE, NULL, "--quiesce");
    vs_plan_vm_tags(p, VS_STEP_VM_TAG_DISKS, def->name, NULL, disks, nd, NULL);
    if (!no_meta) {
        text = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);
        vs_plan_write_snapshot(p, def->name, text, NULL, "the new snapshot");
        free(text);
        vs_plan_set_current(p, def->name, cur, NULL);
    }
    vs_plan_commit_point(p);
    if (flags & VS_CREATE_HALT)
        vs_plan_vm(p, VS_STEP_VM_STOP, "from snapshot", "--halt");
    if (flags & VS_CREATE_QUIESCE) {
        vs_plan_begin_finally(p);
        vs_plan_vm(p, VS_STEP_VM_THAW, NULL, NULL);
    }
    ret = vs_plan_run_or_dry(p, d, dry, err);
    p = NULL;
 out:
    vs_plan_free(p);
    free(cur);
    vs_vm_disks_free(disks, nd);
    vs_snap_images_free(images, nimages);
    return ret;
}

/* C.1 for a domain whose QEMU runs: a full system snapshot is internal
 * (snapshot-save), --disk-only external (one transaction), disks asked for
 * internal without memory internal too (another transaction); external
 * memory into a save image first, then the disks (see below). */
static int
plan_live(vs_dom *d, vs_snapshot_def *def, unsigned flags, const vs_run_info *run,
          vs_plan **dry, vs_error *err)
{
    vs_domain_def *pers;

    if (run->state == VS_RUN_PMSUSPENDED)
        return vs_error_set(err, VS_ERR_NO_SUPPORT,
                            "qemu doesn't support taking snapshots of PMSUSPENDED guests");
    if ((flags & VS_CREATE_LIVE) && def->memory != VS_LOC_EXTERNAL)
        return vs_error_set(err, VS_ERR_NO_SUPPORT,
                            "live snapshot creation is supported only during full system snapshots");
    if (!(pers = vs_dom_def(d, err)))
        return -1;
    /* <domain> is the definition QEMU runs, <inactiveDomain> the persistent one */
    vs_domain_def_free(def->dom);
    if (!(def->dom = vs_domain_live_def(d, err)))
        return -1;
    vs_domain_def_free(def->inactive_dom);
    def->inactive_dom = vs_domain_def_copy(pers);
    if (((flags & VS_CREATE_DISK_ONLY) || def->memory == VS_LOC_NO) && asks_internal_disks(def))
        return plan_live_disks_internal(d, def, flags, run, dry, err);
    if ((flags & VS_CREATE_DISK_ONLY) || def->memory == VS_LOC_EXTERNAL)
        return plan_external(d, def, flags, run, dry, err);
    return plan_live_internal(d, def, flags, run, dry, err);
}

/* ---- the verb ------------------------------------------------------------- */

static int
plan_new(vs_dom *d, vs_snapshot_def *def, unsigned flags, const vs_run_info *run,
         vs_plan **dry, vs_error *err)
{
    vs_domain_def *dom;

    if (run->state != VS_RUN_SHUTOFF) {
        if (vs_model_check_usable(d, def->name, err) < 0)
            return -1;
        return plan_live(d, def, flags, run, dry, err);
    }
    if (flags & VS_CREATE_LIVE)
        return vs_error_set(err, VS_ERR_NO_SUPPORT,
                            "live snapshot creation is supported only during full system snapshots");
    if (flags & VS_CREATE_QUIESCE)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "--quiesce requires a running domain with a guest agent");
    if (!(dom = vs_dom_def(d, err)))
        return -1;
    if (vs_model_check_usable(d, def->name, err) < 0)
        return -1;
    vs_domain_def_free(def->dom);
    def->dom = vs_domain_def_copy(dom);
    /* C.1 step 4: --disk-only, or a shut-off domain with an external disk
     * request, makes an external snapshot. */
    if (external_wanted(def, flags))
        return plan_external(d, def, flags, NULL, dry, err);
    return plan_internal(d, def, flags, dry, err);
}

static int
create_common(vs_dom *d, const char *xml, size_t len, const char *what,
              unsigned flags, char **name, vs_plan **dry, vs_error *err)
{
    bool redef = (flags & VS_CREATE_REDEFINE) != 0;
    unsigned pflags;
    vs_snapshot_def *def;
    vs_run_info run;
    int ret;

    if (name)
        *name = NULL;
    if (dry)
        *dry = NULL;
    /* The library's own flag rules, then the qemu driver's. */
    if ((flags & VS_CREATE_CURRENT) && !redef)
        return vs_error_set(err, VS_ERR_PLAIN, "Flag '%s' is required by flag '%s'",
                            F_REDEFINE, F_CURRENT);
    if (redef && (flags & VS_CREATE_NO_METADATA))
        return vs_error_set(err, VS_ERR_PLAIN, "Flags '%s' and '%s' are mutually exclusive",
                            F_REDEFINE, F_NO_METADATA);
    if (redef && (flags & VS_CREATE_HALT))
        return vs_error_set(err, VS_ERR_PLAIN, "Flags '%s' and '%s' are mutually exclusive",
                            F_REDEFINE, F_HALT);
    if ((flags & VS_CREATE_QUIESCE) && !(flags & VS_CREATE_DISK_ONLY))
        return vs_error_set(err, VS_ERR_PLAIN, "Flag '%s' is required by flag '%s'",
                            F_DISK_ONLY, F_QUIESCE);
    if ((flags & VS_CREATE_LIVE) && redef)
        return vs_error_set(err, VS_ERR_PLAIN, "Flags '%s' and '%s' are mutually exclusive",
                            F_LIVE, F_REDEFINE);

    /* A redefinition decides offline from its own <state>; a new snapshot of
     * a shut-off domain, or a disk-only one, is offline (C.1 step 1). */
    memset(&run, 0, sizeof(run));
    if (!redef && vs_domain_run_info(d, &run, err) < 0)
        return -1;
    pflags = redef ? VS_SNAP_PARSE_REDEFINE
                   : (flags & VS_CREATE_DISK_ONLY) || run.state == VS_RUN_SHUTOFF
                     ? VS_SNAP_PARSE_OFFLINE : 0;
    if (flags & VS_CREATE_VALIDATE)
        pflags |= VS_SNAP_PARSE_VALIDATE;
    if (!(def = vs_snapshot_def_parse(xml, len, what, pflags, (long long)time(NULL), err)))
        return -1;
    if (vs_name_check("snapshot", def->name, err) < 0) {
        vs_snapshot_def_free(def);
        return -1;
    }
    ret = redef ? plan_redefine(d, def, flags, dry, err) : plan_new(d, def, flags, &run, dry, err);
    if (ret == 0 && name)
        *name = vs_xstrdup(def->name);
    vs_snapshot_def_free(def);
    return ret;
}

int
vs_snapshot_create(vs_dom *d, const char *xml, size_t len, const char *what,
                   unsigned flags, char **name, vs_error *err)
{
    return create_common(d, xml, len, what, flags, name, NULL, err);
}

int
vs_snapshot_create_plan(vs_dom *d, const char *xml, size_t len, const char *what,
                        unsigned flags, char **name, vs_plan **plan, vs_error *err)
{
    return create_common(d, xml, len, what, flags, name, plan, err);
}

int
vs_snapshot_set_current(vs_dom *d, const char *name, vs_error *err)
{
    vs_snapshot_def *def;
    int ret;

    /* Read it, so that an unknown or unreadable snapshot is never current. */
    if (!(def = vs_dom_read_snapshot(d, name, err)))
        return -1;
    ret = vs_dom_set_current(d, def->name, err);
    vs_snapshot_def_free(def);
    return ret;
}
