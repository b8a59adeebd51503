/* snapshot-create / snapshot-create-as / snapshot-current NAME: new offline
 * internal snapshots and redefinitions (virsh-behaviour.md A.1, B.4, B.6, C.1, C.2). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "disk_align.h"
#include "failpoint.h"
#include "mem.h"
#include "path.h"
#include "plan.h"
#include "qemu_img.h"
#include "snapshot_external.h"
#include "snapshot_ops.h"

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

/* Whether paths a and b name one file: two spellings (a symlink, "/./", a
 * hard link) share one snapshot table, so comparing strings is not enough.
 * A path that cannot be stat'ed (missing image) falls back to the string, and
 * the later `qemu-img info` reports it. */
static bool
same_file(const char *a, const char *b)
{
    struct stat sa, sb;

    if (strcmp(a, b) == 0)
        return true;
    if (stat(a, &sa) < 0 || stat(b, &sb) < 0)
        return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
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
            if (same_file(out[j].path, dd->source))
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

    *tags = NULL;
    if (vs_qemu_img_info(img->path, false, &info, err) < 0)
        return -1;
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
vs_snapshot_redefine_prep(vs_dom *d, vs_snapshot_def *def, unsigned flags, vs_error *err)
{
    vs_domain_def *dom;
    vs_snap_tree *t;
    vs_snapshot_def *old = NULL;
    vs_snap_location loc;
    int ret = -1;

    if (!(dom = vs_dom_def(d, err)) || !(t = vs_dom_tree(d, err)))
        return -1;
    if (check_parent(t, def, err) < 0)
        return -1;
    if ((flags & VS_CREATE_DISK_ONLY) && def->state != VS_STATE_DISK_SNAPSHOT)
        return vs_error_set(err, VS_ERR_INVALID_ARG,
                            "disk-only flag for snapshot %s requires disk-snapshot state",
                            def->name);
    if (def->dom && def->dom->uuid && dom->uuid && strcmp(def->dom->uuid, dom->uuid) != 0)
        return vs_error_set(err, VS_ERR_INVALID_ARG,
                            "definition for snapshot %s must use uuid %s", def->name, dom->uuid);
    if (vs_snap_tree_find(t, def->name) >= 0) {
        if (!(old = vs_dom_read_snapshot(d, def->name, err)))
            return -1;
        if (state_online(old->state) != state_online(def->state)) {
            vs_error_set(err, VS_ERR_INVALID_ARG,
                         "cannot change between online and offline snapshot state in snapshot %s",
                         def->name);
            goto out;
        }
        if ((old->state == VS_STATE_DISK_SNAPSHOT) != (def->state == VS_STATE_DISK_SNAPSHOT)) {
            vs_error_set(err, VS_ERR_INVALID_ARG,
                         "cannot change between disk only and full system in snapshot %s",
                         def->name);
            goto out;
        }
        if (!def->dom && old->dom)
            def->dom = vs_domain_def_copy(old->dom);
    }
    loc = (def->state == VS_STATE_DISK_SNAPSHOT || vs_snapshot_def_is_external(def))
          ? VS_LOC_EXTERNAL : VS_LOC_INTERNAL;
    if (vs_disk_align(def, NULL, loc, true, false, err) < 0)
        goto out;
    ret = 0;
 out:
    vs_snapshot_def_free(old);
    return ret;
}

static int
redefine(vs_dom *d, vs_snapshot_def *def, unsigned flags, vs_error *err)
{
    vs_snapshot_def *old = NULL;
    vs_error undo;
    int ret = -1;

    if (vs_snapshot_redefine_prep(d, def, flags, err) < 0)
        return -1;
    if (vs_dom_has_snapshot(d, def->name) && !(old = vs_dom_read_snapshot(d, def->name, err)))
        return -1;
    if (vs_dom_write_snapshot(d, def, err) < 0)
        goto out;
    if ((flags & VS_CREATE_CURRENT) &&
        (vs_failpoint("redefine-current") ?
         vs_error_set(err, VS_ERR_INTERNAL, "failpoint redefine-current") :
         vs_dom_set_current(d, def->name, err)) < 0) {
        /* Put the metadata back as it was. */
        vs_error_clear(&undo);
        if (old)
            vs_dom_write_snapshot(d, old, &undo);
        else
            vs_dom_remove_snapshot(d, def->name, &undo);
        goto out;
    }
    ret = 0;
 out:
    vs_snapshot_def_free(old);
    return ret;
}

/* ---- a new offline internal snapshot ----------------------------------- */

/* C.1 step 6 for a shut-off domain and internal entries. */
static int
prepare_internal(const vs_snapshot_def *def, vs_error *err)
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
    if (forbid_internal)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "internal and full system snapshots require all disks to be selected for snapshot");
    return 0;
}

static int
create_offline(vs_dom *d, vs_snapshot_def *def, unsigned flags, vs_plan **dry, vs_error *err)
{
    vs_domain_def *dom;
    vs_snap_tree *t;
    vs_snap_image *images = NULL;
    size_t nimages = 0, i;
    vs_plan *p;
    char *text;
    int ret = -1;

    if (flags & VS_CREATE_LIVE)
        return vs_error_set(err, VS_ERR_NO_SUPPORT,
                            "live snapshot creation is supported only during full system snapshots");
    if (flags & VS_CREATE_QUIESCE)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "--quiesce requires a running domain with a guest agent");
    if (!(dom = vs_dom_def(d, err)))
        return -1;

    vs_domain_def_free(def->dom);
    def->dom = vs_domain_def_copy(dom);

    /* C.1 step 4: --disk-only, or a shut-off domain with an external disk
     * request, makes an external snapshot (snapshot_external.c). */
    if (vs_ext_create_wanted(def, flags))
        return vs_ext_create(d, def, flags, dry, err);

    def->state = VS_STATE_SHUTOFF;
    def->memory = VS_LOC_NO;
    if (vs_disk_align(def, def->dom, VS_LOC_INTERNAL, true, false, err) < 0)
        return -1;
    if (prepare_internal(def, err) < 0)
        return -1;
    if (vs_snapshot_images(def, def->dom, false, &images, &nimages, err) < 0)
        return -1;

    if (!(flags & VS_CREATE_NO_METADATA) && vs_dom_has_snapshot(d, def->name)) {
        vs_error_set(err, VS_ERR_OPERATION_FAILED, "domain moment %s already exists", def->name);
        goto out;
    }
    /* qcow2 allows two snapshots with one tag; -a and -d would then pick
     * either. Refuse, so that a name always means one snapshot. */
    if (vs_snapshot_images_probe(images, nimages, def->name, err) < 0)
        goto out;
    for (i = 0; i < nimages; i++) {
        if (images[i].has_tag) {
            vs_error_set(err, VS_ERR_OPERATION_FAILED,
                         "image '%s' of disk '%s' already holds an internal snapshot named '%s'",
                         images[i].path, images[i].target, def->name);
            goto out;
        }
    }

    if (!(flags & VS_CREATE_NO_METADATA)) {
        if (!(t = vs_dom_tree(d, err)))
            goto out;
        free(def->parent);
        def->parent = t->current >= 0 ? vs_xstrdup(t->e[t->current].name) : NULL;
    }

    /* The same plan runs that --dry-run prints, journaled: the tags can be
     * undone, so a failure or crash before the metadata is written deletes
     * them again; after that `snapshot-check --repair` finishes the
     * metadata. */
    p = vs_plan_new("snapshot-create", d->name, def->name);
    for (i = 0; i < nimages; i++)
        vs_plan_tag(p, VS_STEP_TAG_CREATE, images[i].path, def->name, NULL);
    vs_plan_commit_point(p);
    if (!(flags & VS_CREATE_NO_METADATA)) {
        text = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);
        vs_plan_write_snapshot(p, def->name, text, "the new snapshot");
        free(text);
        vs_plan_set_current(p, def->name, NULL);
    }
    if (dry) {
        *dry = p;
        ret = 0;
        goto out;
    }
    ret = vs_plan_execute(p, d, err);
    vs_plan_free(p);
 out:
    vs_snap_images_free(images, nimages);
    return ret;
}

/* --dry-run of a redefinition: the metadata it would write. */
static int
redefine_plan(vs_dom *d, vs_snapshot_def *def, unsigned flags, vs_plan **dry, vs_error *err)
{
    vs_plan *p;
    char *text;

    if (vs_snapshot_redefine_prep(d, def, flags, err) < 0)
        return -1;
    p = vs_plan_new("snapshot-create --redefine", d->name, def->name);
    vs_plan_commit_point(p);
    text = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);
    vs_plan_write_snapshot(p, def->name, text, NULL);
    free(text);
    if (flags & VS_CREATE_CURRENT)
        vs_plan_set_current(p, def->name, NULL);
    *dry = p;
    return 0;
}

static int
create_common(vs_dom *d, const char *xml, size_t len, const char *what,
              unsigned flags, char **name, vs_plan **dry, vs_error *err)
{
    bool redef = (flags & VS_CREATE_REDEFINE) != 0;
    unsigned pflags;
    vs_snapshot_def *def;
    int ret;

    if (name)
        *name = NULL;
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
     * a shut-off domain is offline (C.1 step 1). */
    pflags = redef ? VS_SNAP_PARSE_REDEFINE : VS_SNAP_PARSE_OFFLINE;
    if (flags & VS_CREATE_VALIDATE)
        pflags |= VS_SNAP_PARSE_VALIDATE;
    if (!(def = vs_snapshot_def_parse(xml, len, what, pflags, (long long)time(NULL), err)))
        return -1;
    if (vs_name_check("snapshot", def->name, err) < 0) {
        vs_snapshot_def_free(def);
        return -1;
    }
    if (redef)
        ret = dry ? redefine_plan(d, def, flags, dry, err) : redefine(d, def, flags, err);
    else
        ret = create_offline(d, def, flags, dry, err);
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
    *plan = NULL;
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
