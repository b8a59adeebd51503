/* snapshot-revert of a shut-off domain: the planner, for internal and
 * external snapshots alike (virsh-behaviour.md A.9, B.6, C.3).
 *
 * Revert to S puts new overlays on S's images. When S has no children its
 * own <disks> overlays are recreated empty and used again; otherwise fresh
 * overlays named "<image minus suffix>.<unix time>" are recorded in S's
 * <revertDisks>. Internal snapshots are applied in place, only where nothing
 * else relies on the image's present state. The state being left is
 * discarded only where nothing else refers to it (reclaim.h, no merges). */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/tree.h>

#include "disk_align.h"
#include "disk_source.h"
#include "domain_run.h"
#include "live_plan.h"
#include "mem.h"
#include "model.h"
#include "path.h"
#include "plan_run.h"
#include "qemu_argv.h"
#include "reclaim.h"
#include "saveimage.h"
#include "snapshot_ops.h"

static int reset_nvram(vs_model *m, vs_plan *p, vs_error *err);

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

static bool
state_offline(vs_snap_state s)
{
    return s == VS_STATE_SHUTOFF || s == VS_STATE_SHUTDOWN || s == VS_STATE_CRASHED ||
           s == VS_STATE_DISK_SNAPSHOT || s == VS_STATE_NOSTATE;
}


/* "<image minus suffix>.<unix time>", made unique. Caller frees. */
static char *
revert_overlay_name(vs_model *m, const vs_plan *planned, const char *src)
{
    char *stamp = vs_xasprintf("%ld", m->now), *base = vs_disk_external_name(src, stamp);
    char *name = vs_xstrdup(base);
    int k;

    /* (a name on a gluster volume is not looked up there: the images vsnap
     * knows and the unix time keep it apart from the others) */
    for (k = 1; (!vs_path_is_network(name) && vs_file_exists(name)) ||
                vs_graph_find(&m->g, name) >= 0 || vs_plan_touches(planned, name);
         k++) {
        free(name);
        name = vs_xasprintf("%s-%d", base, k);
    }
    free(stamp);
    free(base);
    return name;
}

static bool
on_gluster(const char *locator)
{
    vs_net_source ns = { 0 };
    bool yes = vs_path_is_network(locator) && vs_net_source_from_locator(locator, &ns, NULL) == 0 &&
               ns.protocol && strcmp(ns.protocol, "gluster") == 0;

    vs_net_source_clear(&ns);
    return yes;
}

/* Where a disk's new revert overlay goes beside (the naming rule of
 * revert_overlay_name), its image being src and e the snapshot's entry for
 * it: beside a local image; for a network image beside the snapshot's own
 * local overlay, else on the gluster volume beside the image, else beside
 * the snapshot's overlay on a gluster volume; NULL when there is no such
 * place (everything in NBD exports). */
static const char *
revert_anchor(const char *src, const vs_snap_disk *e)
{
    const char *own = e && e->snapshot == VS_LOC_EXTERNAL ? e->source : NULL;

    if (!vs_path_is_network(src))
        return src;
    if (own && e->type == VS_STORAGE_FILE && !vs_path_is_network(own))
        return own;
    if (on_gluster(src))
        return src;
    if (own && e->type == VS_STORAGE_NETWORK && on_gluster(own))
        return own;
    return NULL;
}

/* Disk i of the snapshot's definition and what reverting does with it. */
typedef enum { RV_KEEP, RV_OVERLAY, RV_APPLY } rv_action;

/* The checks virsh's client and libvirt make before anything else. */
static int
check_target(vs_dom *d, const vs_snapshot_def *def, unsigned flags, vs_error *err)
{
    if ((flags & VS_REVERT_RUNNING) && (flags & VS_REVERT_PAUSED))
        return vs_error_set(err, VS_ERR_PLAIN, "Flags '%s' and '%s' are mutually exclusive",
                            "VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING",
                            "VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED");
    if (!def->dom)
        return vs_error_set(err, VS_ERR_REVERT_FORCE,
                            "snapshot '%s' lacks domain '%s' rollback info", def->name, d->name);
    if (def->state == VS_STATE_PMSUSPENDED)
        return vs_error_set(err, VS_ERR_NO_SUPPORT,
                            "qemu doesn't support reversion of snapshot taken in PMSUSPENDED state");
    if (def->memory == VS_LOC_EXTERNAL && !state_offline(def->state)) {
        /* the file must be there, whole, to be loaded */
        vs_saveimage img;
        vs_error e;
        int fd;

        if (!def->memory_file)
            return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                                "snapshot '%s' names no memory state file", def->name);
        memset(&img, 0, sizeof(img));
        vs_error_clear(&e);
        if ((fd = vs_saveimage_open(def->memory_file, O_RDONLY, &img, &e)) < 0)
            return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                                "cannot revert to snapshot '%s': its memory state file '%s' "
                                "cannot be used (%s); run 'vsnap snapshot-check %s'", def->name,
                                def->memory_file, e.msg, d->name);
        close(fd);
        vs_saveimage_clear(&img);
    }
    if (!state_offline(def->state) && def->memory != VS_LOC_INTERNAL &&
        def->memory != VS_LOC_EXTERNAL)
        return vs_error_set(err, VS_ERR_NO_SUPPORT,
                            "snapshot '%s' of a %s domain records no memory state to revert to",
                            def->name, vs_snap_state_name(def->state));
    return 0;
}

/* What to do with each disk; *reuse: the snapshot's own overlays serve again. */
static int
decide(vs_model *m, long si, const vs_domain_def *newdom, bool is_ext, rv_action *act,
       bool *reuse, vs_error *err)
{
    vs_snapshot_def *def = m->snaps[si].def;
    size_t i;

    *reuse = !vs_model_has_children(m, def->name);
    for (i = 0; i < newdom->ndisks; i++) {
        const vs_domain_disk *dd = &newdom->disks[i];
        vs_snap_location loc = vs_model_disk_location(def, dd);
        vs_image *im;
        long k, *up;
        size_t nup;

        act[i] = RV_KEEP;
        if (!dd->source || (dd->type == VS_STORAGE_NETWORK && !vs_disk_is_local(dd)))
            continue;
        if (loc == VS_LOC_EXTERNAL && dd->type != VS_STORAGE_FILE && dd->type != VS_STORAGE_NETWORK)
            return vs_error_set(err, VS_ERR_NO_SUPPORT,
                                "source disk for '%s' is not a regular file, reverting to "
                                "snapshot is not supported", dd->target);
        if (!vs_disk_is_local(dd))
            continue;
        k = vs_graph_find(&m->g, dd->source);
        im = &m->g.v[k];
        if (!im->exists && (loc == VS_LOC_EXTERNAL || loc == VS_LOC_INTERNAL))
            return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                                "cannot revert to snapshot '%s': the image '%s' it recorded for "
                                "disk '%s' is missing", def->name, im->path, dd->target);
        if (loc == VS_LOC_EXTERNAL) {
            act[i] = RV_OVERLAY;
        } else if (loc == VS_LOC_INTERNAL) {
            if (!dd->device || strcmp(dd->device, "disk") != 0)
                continue;
            if (!dd->format || strcmp(dd->format, "qcow2") != 0)
                return vs_error_set(err, VS_ERR_OPERATION_INVALID,
                                    "Disk device '%s' does not support snapshotting", dd->target);
            if (!vs_image_has_tag(im, def->name))
                return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                                    "image of disk '%s' does not have internal snapshot '%s'",
                                    dd->target, def->name);
            act[i] = RV_APPLY;
        } else if (!dd->readonly && im->exists) {
            /* A disk the snapshot left out keeps its image, unless that image
             * is now the base of other images: then writing to it would change
             * them, and it gets an overlay too. */
            nup = vs_graph_uppers(&m->g, k, &up);
            free(up);
            if (nup || im->r_content_ext || im->foreign) {
                if (!is_ext)
                    return vs_error_set(err, VS_ERR_OPERATION_INVALID,
                                        "cannot revert to internal snapshot '%s': disk '%s' was "
                                        "not part of it and its image '%s' is now the base of "
                                        "other images", def->name, dd->target, im->path);
                act[i] = RV_OVERLAY;
            }
        }
        if (act[i] == RV_OVERLAY) {
            vs_snap_disk *e = vs_model_disk_entry(def, dd->target);
            long o;

            if (!e || e->snapshot != VS_LOC_EXTERNAL || !e->source ||
                e->type != VS_STORAGE_FILE) {
                *reuse = false;
            } else if ((o = vs_graph_find(&m->g, e->source)) >= 0) {
                vs_image *ov = &m->g.v[o];

                /* Its own overlay can serve again only if nothing else uses it. */
                if (ov->r_content || ov->r_revert || ov->r_overlay > 1 ||
                    vs_image_has_tags(ov) || ov->foreign ||
                    (ov->exists && (!ov->regular || !ov->backing ||
                                    strcmp(ov->backing, im->path) != 0))) {
                    *reuse = false;
                } else {
                    nup = vs_graph_uppers(&m->g, o, &up);
                    free(up);
                    if (nup)
                        *reuse = false;
                }
            }
        }
    }
    return 0;
}

int
vs_revert_plan_model(vs_model *m, long si, vs_plan *p, vs_error *err)
{
    vs_snapshot_def *def = m->snaps[si].def;
    vs_plan *pre = vs_plan_new("pre", NULL, NULL, NULL), *tags = vs_plan_new("tags", NULL, NULL, NULL),
            *tail = vs_plan_new("tail", NULL, NULL, NULL);
    /* a running domain's snapshot keeps the persistent definition apart */
    vs_domain_def *newdom = vs_domain_def_copy(def->inactive_dom && !state_offline(def->state)
                                               ? def->inactive_dom : def->dom);
    rv_action *act = vs_xcalloc(newdom->ndisks + 1, sizeof(*act));
    bool reuse, is_ext = vs_snapshot_def_is_external(def);
    size_t i, s;
    int ret = -1;

    set_domain_name(newdom, m->d ? m->d->name : newdom->name);
    if (decide(m, si, newdom, is_ext, act, &reuse, err) < 0)
        goto out;

    /* Overlays: the snapshot's own (recreated empty) or fresh revert overlays. */
    for (i = 0; i < newdom->ndisks; i++) {
        vs_domain_disk *dd = &newdom->disks[i];
        char *src, *srcfmt, *why, *path;

        if (act[i] != RV_OVERLAY)
            continue;
        src = vs_xstrdup(dd->source);
        srcfmt = vs_xstrdup(dd->format ? dd->format : "raw");
        if (reuse) {
            vs_snap_disk *e = vs_model_disk_entry(def, dd->target);
            char *tmp = vs_tmp_image_name(e->source, m->dom->uuid);

            why = vs_xasprintf("overlay of snapshot '%s' for disk %s, recreated empty",
                               def->name, dd->target);
            vs_plan_create_image(pre, tmp, vs_model_entry_fmt(e), src, srcfmt, why);
            vs_plan_replace_image(tail, tmp, e->source, vs_model_entry_fmt(e), src, srcfmt, why);
            free(tmp);
            path = vs_xstrdup(e->source);
            ret = vs_domain_def_set_disk_source(newdom, i, VS_STORAGE_FILE, path, vs_model_entry_fmt(e),
                                                err);
        } else {
            vs_snap_disk *e = vs_model_disk_entry(def, dd->target);

            /* an image in an NBD export has no directory: the new overlay
             * goes beside the snapshot's own local overlay, or on the
             * gluster volume beside the image (or the snapshot's overlay) */
            const char *anchor = revert_anchor(src, e);

            if (!anchor) {
                ret = vs_error_set(err, VS_ERR_OPERATION_INVALID,
                                   "cannot revert disk %s to snapshot '%s': its image '%s' is "
                                   "in an NBD export, where vsnap makes no new overlay, and the "
                                   "snapshot names no local file or gluster volume beside which "
                                   "one can go; give the snapshots to revert to a local overlay "
                                   "(--diskspec %s,file=/PATH) or one on a gluster volume",
                                   dd->target, def->name, src, dd->target);
                free(src);
                free(srcfmt);
                goto out;
            }
            path = revert_overlay_name(m, pre, anchor);
            why = vs_xasprintf("new overlay of disk %s on the image of snapshot '%s'",
                               dd->target, def->name);
            /* a file on a gluster volume is never removed: kept on undo */
            vs_plan_create_image(pre, path, "qcow2", src, srcfmt, why)->keep_on_undo =
                vs_path_is_network(path);
            /* (a network locator makes it a network disk) */
            ret = vs_domain_def_set_disk_source(newdom, i, VS_STORAGE_FILE, path, "qcow2", err);
        }
        free(path);
        free(why);
        free(src);
        free(srcfmt);
        if (ret < 0)
            goto out;
        ret = -1;
    }

    /* The metadata as it will be. */
    vs_model_release_dom(m, m->dom);
    for (s = 0; s < m->nsnaps; s++) {
        vs_snapshot_def *o = m->snaps[s].def;

        if (m->snaps[s].removed || !o->nrevert_disks)
            continue;
        /* <revertDisks> describe the domain's disks only while that snapshot
         * is current; the state they describe is being left. */
        vs_model_release_snap(m, o);
        vs_model_clear_revert_disks(o);
        m->snaps[s].dirty = true;
    }
    if (!reuse && pre->n > 0) {
        /* The target keeps its <disks> for its children and records the new
         * overlays as <revertDisks>, one entry per disk. */
        def->revert_disks = vs_xcalloc(newdom->ndisks, sizeof(*def->revert_disks));
        def->nrevert_disks = newdom->ndisks;
        for (i = 0; i < newdom->ndisks; i++) {
            vs_snap_disk *e = &def->revert_disks[i];

            e->name = vs_xstrdup(newdom->disks[i].target);
            e->type = act[i] == RV_OVERLAY && vs_path_is_network(newdom->disks[i].source)
                      ? VS_STORAGE_NETWORK : VS_STORAGE_FILE;
            if (act[i] == RV_OVERLAY) {
                e->snapshot = VS_LOC_EXTERNAL;
                e->source = vs_xstrdup(newdom->disks[i].source);
                e->format = vs_xstrdup("qcow2");
            } else {
                e->snapshot = VS_LOC_NO;
            }
        }
        m->snaps[si].dirty = true;
    }
    vs_domain_def_free(m->dom);
    m->dom = newdom;
    newdom = NULL;
    m->dom_dirty = true;
    free(m->current);
    m->current = vs_xstrdup(def->name);
    /* What the state being left leaves behind (no merges: a revert only
     * discards). */
    if (vs_reclaim(m, false, tail, tail, p, err) < 0)
        goto out;
    vs_model_recount(m);

    /* Internal snapshots are applied in place: only where no other image or
     * snapshot relies on the image's present state. */
    for (i = 0; i < m->dom->ndisks; i++) {
        long k, *up;
        size_t nup;
        vs_image *im;

        if (act[i] != RV_APPLY)
            continue;
        k = vs_graph_find(&m->g, m->dom->disks[i].source);
        im = &m->g.v[k];
        nup = vs_graph_uppers(&m->g, k, &up);
        free(up);
        if (nup || im->r_content_ext) {
            vs_error_set(err, VS_ERR_OPERATION_INVALID,
                         "cannot revert to internal snapshot '%s': image '%s' of disk '%s' is "
                         "also the base of external snapshots or overlays, and applying the "
                         "internal snapshot in place would change them; delete those external "
                         "snapshots first", def->name, im->path, m->dom->disks[i].target);
            goto out;
        }
        if (im->foreign) {
            vs_error_set(err, VS_ERR_OPERATION_INVALID,
                         "cannot revert to internal snapshot '%s': applying it changes image "
                         "'%s' of disk '%s', and %s", def->name, im->path,
                         m->dom->disks[i].target, im->foreign);
            goto out;
        }
        vs_plan_tag(tags, VS_STEP_TAG_APPLY, im->path, def->name, NULL);
    }

    /* pre | commit point | internal snapshots applied | metadata | tail */
    for (i = 0; i < pre->n; i++)
        vs_plan_add_copy(p, &pre->steps[i]);
    vs_plan_commit_point(p);
    for (i = 0; i < tags->n; i++)
        vs_plan_add_copy(p, &tags->steps[i]);
    vs_model_plan_metadata(m, p, def->name);
    for (i = 0; i < tail->n; i++)
        vs_plan_add_copy(p, &tail->steps[i]);
    ret = 0;
 out:
    vs_domain_def_free(newdom);
    free(act);
    vs_plan_free(pre);
    vs_plan_free(tags);
    vs_plan_free(tail);
    return ret;
}

/* ---- a domain that runs, or is to run ---------------------------------- */

/* The command line vsnap would start def with on d (domain_run.c's host
 * facts that do not change the device set left at their defaults). */
static int
command_line(vs_dom *d, const vs_domain_def *def, vs_qemu_launch *l, vs_error *err)
{
    vs_qemu_host host;
    char *dir = vs_domain_run_dir(d);
    int ret;

    memset(&host, 0, sizeof(host));
    memset(l, 0, sizeof(*l));
    host.run_dir = dir;
    host.monitor_fd = 3;
    host.agent_fd = 4;
    host.network_dir = getenv("VSNAP_LIBVIRT_NETWORK_DIR");
    ret = vs_qemu_launch_build(def, &host, l, err);
    free(dir);
    return ret;
}

/* Whether definitions a and b start the same QEMU (the same command line:
 * the same devices on the same images), so that a snapshot of one can be
 * loaded into the other's QEMU as it runs. */
static bool
same_qemu(vs_dom *d, const vs_domain_def *a, const vs_domain_def *b)
{
    vs_qemu_launch la, lb;
    bool same = false;
    size_t i;

    memset(&lb, 0, sizeof(lb));
    if (command_line(d, a, &la, NULL) == 0 && command_line(d, b, &lb, NULL) == 0) {
        for (i = 0; la.argv[i] && lb.argv[i] && strcmp(la.argv[i], lb.argv[i]) == 0; i++)
            ;
        same = !la.argv[i] && !lb.argv[i];
    }
    vs_qemu_launch_clear(&la);
    vs_qemu_launch_clear(&lb);
    return same;
}

/* The snapshot's definition must be one vsnap can start. */
static int
check_startable(vs_dom *d, const vs_domain_def *def, vs_error *err)
{
    vs_qemu_launch l;
    int ret = command_line(d, def, &l, err);

    vs_qemu_launch_clear(&l);
    return ret;
}

/* The offline plan's steps, sorted by what the live plan does with them. */
typedef struct pieces {
    vs_plan *pre;       /* before its commit point (new overlays) */
    vs_plan *apply;     /* the internal snapshots applied */
    vs_plan *meta;      /* metadata */
    vs_plan *rest;      /* the rest after its commit point (what the state left leaves) */
} pieces;

static void
pieces_split(const vs_plan *off, pieces *pc)
{
    size_t i;

    pc->pre = vs_plan_new("pre", NULL, NULL, NULL);
    pc->apply = vs_plan_new("apply", NULL, NULL, NULL);
    pc->meta = vs_plan_new("meta", NULL, NULL, NULL);
    pc->rest = vs_plan_new("rest", NULL, NULL, NULL);
    for (i = 0; i < off->n; i++) {
        const vs_step *s = &off->steps[i];
        vs_plan *to = i < off->commit ? pc->pre : s->kind == VS_STEP_TAG_APPLY ? pc->apply
                      : vs_step_info(s->kind)->mech == VS_MECH_STORE ? pc->meta : pc->rest;

        vs_plan_add_copy(to, s);
    }
}

static void
pieces_free(pieces *pc)
{
    vs_plan_free(pc->pre);
    vs_plan_free(pc->apply);
    vs_plan_free(pc->meta);
    vs_plan_free(pc->rest);
}

static void
add_all(vs_plan *p, const vs_plan *from)
{
    size_t i;

    for (i = 0; i < from->n; i++)
        vs_plan_add_copy(p, &from->steps[i]);
}

/* The disks whose internal snapshots the offline plan applies, as QEMU
 * running definition dom names them. */
static void
apply_disks(const vs_plan *apply, const vs_domain_def *dom, vs_vm_disk **disks, size_t *n)
{
    size_t i, cap = 0;

    *disks = NULL;
    *n = 0;
    for (i = 0; i < apply->n; i++)
        vs_live_disks_add(dom, apply->steps[i].path, disks, n, &cap);
}

/*
 * Revert to snapshot si when the domain runs now or is to run afterwards.
 * The offline planner decides images and metadata (off); this arranges the
 * live steps around its pieces:
 *  - a snapshot with memory, into the same QEMU (its devices unchanged):
 *    pause | commit | snapshot-load, metadata, the rest | finally resume;
 *  - a snapshot with memory, QEMU to be replaced or started: (stop) new
 *    definition, start paused | commit | snapshot-load, the rest | finally
 *    resume;
 *  - a snapshot without memory of a running domain: commit | stop, the
 *    offline plan (qemu-img, the images are free now) | start with
 *    --running/--paused | finally resume with --running.
 */
static int
plan_live(vs_model *m, long si, unsigned flags, const vs_plan *off, vs_plan *p, vs_error *err)
{
    vs_snapshot_def *def = m->snaps[si].def;
    bool memory = (def->memory == VS_LOC_INTERNAL || def->memory == VS_LOC_EXTERNAL) &&
                  !state_offline(def->state);
    bool ext_memory = memory && def->memory == VS_LOC_EXTERNAL;
    bool run_after, same = false;
    vs_vm_disk *disks = NULL;
    size_t nd = 0;
    char *xml = NULL;
    pieces pc;
    int ret = -1;

    if (memory)
        run_after = (flags & VS_REVERT_RUNNING) ||
                    (!(flags & VS_REVERT_PAUSED) && def->state == VS_STATE_RUNNING);
    else
        run_after = (flags & VS_REVERT_RUNNING) != 0;
    pieces_split(off, &pc);
    if (m->live && m->run.attached &&
        !(memory && !ext_memory && (same = same_qemu(m->d, m->live_dom, def->dom)))) {
        vs_error_set(err, VS_ERR_OPERATION_INVALID,
                     "domain '%s' is run by another program (<vsnap:runtime>): reverting to "
                     "snapshot '%s' needs its QEMU %s, which vsnap does not do",
                     m->d->name, def->name, memory ? "replaced by one with the snapshot's "
                     "devices" : "stopped");
        goto out;
    }
    /* --reset-nvram re-creates the NVRAM when QEMU starts: never in place */
    if (memory && !ext_memory && m->live && !m->run.attached && !(flags & VS_REVERT_RESET_NVRAM))
        same = same_qemu(m->d, m->live_dom, def->dom);

    if (ext_memory) {
        /* a new QEMU on the new overlays, fed the memory file: (stop) |
         * overlays | internal snapshots applied | metadata | start with
         * -incoming defer. Before the commit point where it can be undone. */
        size_t i, nrepl = 0;

        if (check_startable(m->d, m->dom, err) < 0)
            goto out;
        xml = vs_model_format_domain(m->dom);
        /* the overlays recreated empty are moved into place before QEMU opens them */
        for (i = 0; i < pc.rest->n; i++)
            nrepl += pc.rest->steps[i].kind == VS_STEP_REPLACE_IMAGE;
        if (!m->live && pc.apply->n == 0 && nrepl == 0) {
            add_all(p, pc.pre);
            add_all(p, pc.meta);
            vs_plan_vm_restore(p, def->memory_file, xml, "paused from-snapshot", NULL);
            vs_plan_commit_point(p);
        } else {
            if (!m->live)
                add_all(p, pc.pre);
            vs_plan_commit_point(p);
            if (m->live) {
                vs_plan_vm(p, VS_STEP_VM_STOP, "from snapshot",
                           "a new QEMU loads the snapshot's memory state");
                add_all(p, pc.pre);
            }
            add_all(p, pc.apply);
            add_all(p, pc.meta);
            for (i = 0; i < pc.rest->n; i++)
                if (pc.rest->steps[i].kind == VS_STEP_REPLACE_IMAGE)
                    vs_plan_add_copy(p, &pc.rest->steps[i]);
            vs_plan_vm_restore(p, def->memory_file, xml, "paused from-snapshot", NULL);
        }
        for (i = 0; i < pc.rest->n; i++)
            if (pc.rest->steps[i].kind != VS_STEP_REPLACE_IMAGE)
                vs_plan_add_copy(p, &pc.rest->steps[i]);
    } else if (memory && same) {
        /* the same QEMU loads the snapshot: its disks and its memory */
        apply_disks(pc.apply, m->live_dom, &disks, &nd);
        if (m->run.state == VS_RUN_RUNNING)
            vs_plan_vm(p, VS_STEP_VM_PAUSE, m->run.reason, NULL);
        add_all(p, pc.pre);
        vs_plan_commit_point(p);
        vs_plan_vm_tags(p, VS_STEP_VM_LOAD, def->name, nd ? disks[0].image : NULL, disks, nd,
                        NULL);
        add_all(p, pc.meta);
        add_all(p, pc.rest);
        /* what stays of the offline plan must not touch what QEMU holds */
        if (vs_live_adapt(m, p, err) < 0)
            goto out;
    } else if (memory) {
        /* a QEMU with the snapshot's devices, started paused, loads it */
        if (check_startable(m->d, m->dom, err) < 0)
            goto out;
        apply_disks(pc.apply, m->dom, &disks, &nd);
        if (m->live) {
            vs_plan_commit_point(p);
            vs_plan_vm(p, VS_STEP_VM_STOP, "from snapshot",
                       "the snapshot's devices differ from the running QEMU's");
            add_all(p, pc.pre);
            add_all(p, pc.meta);
            vs_plan_vm(p, VS_STEP_VM_START, "from snapshot", NULL);
        } else {
            add_all(p, pc.pre);
            add_all(p, pc.meta);
            vs_plan_vm(p, VS_STEP_VM_START, "from snapshot", NULL);
            vs_plan_commit_point(p);
        }
        vs_plan_vm_tags(p, VS_STEP_VM_LOAD, def->name, nd ? disks[0].image : NULL, disks, nd,
                        NULL);
        add_all(p, pc.rest);
    } else {
        /* no memory: QEMU goes, the images are reverted as offline */
        if (run_after || (flags & VS_REVERT_PAUSED))
            if (check_startable(m->d, m->dom, err) < 0)
                goto out;
        if (m->live) {
            vs_plan_commit_point(p);
            vs_plan_vm(p, VS_STEP_VM_STOP, "from snapshot", "the snapshot has no memory state");
            add_all(p, pc.pre);
        } else {
            add_all(p, pc.pre);
            vs_plan_commit_point(p);
        }
        add_all(p, pc.apply);
        add_all(p, pc.meta);
        add_all(p, pc.rest);
        if (run_after || (flags & VS_REVERT_PAUSED))
            vs_plan_vm(p, VS_STEP_VM_START, "from snapshot", NULL);
    }
    if (memory && !ext_memory && nd == 0) {
        vs_error_set(err, VS_ERR_OPERATION_FAILED,
                     "missing vmstate section when reverting active internal snapshot '%s'",
                     def->name);
        goto out;
    }
    if ((flags & VS_REVERT_RESET_NVRAM) && reset_nvram(m, p, err) < 0)
        goto out;
    if (run_after) {
        vs_plan_begin_finally(p);
        vs_plan_vm(p, VS_STEP_VM_RESUME, "from snapshot", NULL);
    }
    ret = 0;
 out:
    free(xml);
    vs_vm_disks_free(disks, nd);
    pieces_free(&pc);
    return ret;
}

/*
 * --reset-nvram: every QEMU the plan starts first re-creates the NVRAM
 * variables from their template, as libvirt does on start; refused before
 * anything changes when <nvram> names no template. A plan that starts no
 * QEMU (the domain stays shut off) leaves NVRAM alone, as libvirt.
 */
static int
reset_nvram(vs_model *m, vs_plan *p, vs_error *err)
{
    char *vars = NULL, *tmpl = NULL;
    bool starts = false;
    size_t i;
    int ret = 0;

    for (i = 0; i < p->n; i++)
        starts |= p->steps[i].kind == VS_STEP_VM_START || p->steps[i].kind == VS_STEP_VM_RESTORE;
    if (!starts)
        return 0;
    vs_qemu_nvram(m->dom, &vars, &tmpl);
    if (vars && !tmpl)
        ret = vs_error_set(err, VS_ERR_OPERATION_INVALID,
                           "cannot re-initialize NVRAM of domain '%s': <nvram> names no "
                           "template to re-create '%s' from", m->d->name, vars);
    for (i = 0; ret == 0 && vars && i < p->n; i++)
        if (p->steps[i].kind == VS_STEP_VM_START || p->steps[i].kind == VS_STEP_VM_RESTORE)
            p->steps[i].reset_nvram = true;
    free(vars);
    free(tmpl);
    return ret;
}

static int
revert_common(vs_dom *d, const char *name, unsigned flags, vs_plan **dry, vs_error *err)
{
    vs_snapshot_def *def;
    vs_model m;
    vs_plan *p = NULL, *off = NULL;
    bool memory;
    long si;
    int ret = -1;

    if (dry)
        *dry = NULL;
    /* virsh looks the snapshot up before the library checks flags. */
    if (!(def = vs_dom_read_snapshot(d, name, err)))
        return -1;
    ret = check_target(d, def, flags, err);
    memory = (def->memory == VS_LOC_INTERNAL || def->memory == VS_LOC_EXTERNAL) &&
             !state_offline(def->state);
    vs_snapshot_def_free(def);
    if (ret < 0)
        return -1;
    ret = -1;
    if (vs_model_load(&m, d, VS_MODEL_IMAGES | VS_MODEL_LIVE, err) < 0)
        goto out;
    if ((si = vs_model_find(&m, name)) < 0) {
        vs_error_set(err, VS_ERR_NO_SNAPSHOT, "no domain snapshot with matching name '%s'", name);
        goto out;
    }
    p = vs_plan_new("snapshot-revert", d->name, m.dom->uuid, name);
    if (!m.live && !memory && !(flags & (VS_REVERT_RUNNING | VS_REVERT_PAUSED))) {
        /* shut off, and it stays so: images and metadata only */
        if (vs_revert_plan_model(&m, si, p, err) < 0)
            goto out;
    } else {
        off = vs_plan_new("snapshot-revert", d->name, m.dom->uuid, name);
        if (vs_revert_plan_model(&m, si, off, err) < 0 ||
            plan_live(&m, si, flags, off, p, err) < 0)
            goto out;
        for (size_t i = 0; off->notes && off->notes[i]; i++)
            vs_plan_note(p, "%s", off->notes[i]);
    }
    ret = vs_plan_run_or_dry(p, d, dry, err);
    p = NULL;
 out:
    vs_plan_free(p);
    vs_plan_free(off);
    vs_model_release(&m);
    return ret;
}

int
vs_snapshot_revert(vs_dom *d, const char *name, unsigned flags, vs_error *err)
{
    return revert_common(d, name, flags, NULL, err);
}

int
vs_snapshot_revert_plan(vs_dom *d, const char *name, unsigned flags, vs_plan **plan,
                        vs_error *err)
{
    return revert_common(d, name, flags, plan, err);
}
