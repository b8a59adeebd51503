/* The QMP executor: the steps that act on the domain's running QEMU
 * (pause, resume, internal snapshots taken, loaded and deleted by QEMU's
 * snapshot jobs, start, stop). One monitor connection serves every step of
 * a plan's run (QEMU takes one client at a time); a step that fails drops
 * it, so the next one looks again and may find QEMU gone.
 *
 * A QEMU that is gone is an observation too: the guest is shut off, its
 * images are free again, and the image steps are carried out (or undone)
 * with qemu-img on the images the step names, so that a repair after QEMU
 * was killed still leaves the images as the plan says. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "domain_run.h"
#include "exec.h"
#include "image_id.h"
#include "mem.h"
#include "qemu_img.h"
#include "qmp.h"

/* Snapshot jobs carry vsnap's ids ("vsnap-snapshot-save-3"), new for each
 * job of a process: the events of a job dismissed before may still be
 * queued under the old one. One runs at a time (the domain lock). */
#define JOB_SAVE    "snapshot-save"
#define JOB_LOAD    "snapshot-load"
#define JOB_DELETE  "snapshot-delete"
#define JOB_PREFIX  "vsnap-"

/* How long QEMU may take: writing or reading the guest's memory state
 * scales with its RAM; a delete only rewrites snapshot tables. */
#define SAVE_TIMEOUT_MS    (60 * 60 * 1000)
#define DELETE_TIMEOUT_MS  (10 * 60 * 1000)

/* ---- the connection ---------------------------------------------------------- */

static void
drop(vs_exec_ctx *x)
{
    vs_qmp_free(x->qmp);
    x->qmp = NULL;
}

/* A step's failure (or a start or stop) makes the next step look again. */
static int
failed(vs_exec_ctx *x)
{
    drop(x);
    return -1;
}

/* Wait out and dismiss jobs an earlier, interrupted vsnap left behind, so
 * that what a step sees is settled and its job id is free. */
static int
settle_jobs(vs_qmp *q, vs_error *err)
{
    json_object *r = NULL;
    size_t i, n;
    int ret = 0;

    if (vs_qmp_command(q, "query-jobs", NULL, &r, err) < 0)
        return -1;
    n = r && json_object_is_type(r, json_type_array) ? json_object_array_length(r) : 0;
    for (i = 0; i < n && ret == 0; i++) {
        json_object *j = json_object_array_get_idx(r, i), *v;
        const char *id, *status;
        json_object *args;

        if (!json_object_object_get_ex(j, "id", &v) ||
            strncmp((id = json_object_get_string(v)), JOB_PREFIX, strlen(JOB_PREFIX)) != 0)
            continue;
        status = json_object_object_get_ex(j, "status", &v) ? json_object_get_string(v) : "";
        if (strcmp(status, "concluded") != 0 &&
            vs_qmp_job_wait(q, id, "concluded", SAVE_TIMEOUT_MS, err) < 0) {
            ret = -1;
            break;
        }
        args = json_object_new_object();
        json_object_object_add(args, "id", json_object_new_string(id));
        ret = vs_qmp_command(q, "job-dismiss", args, NULL, err);
    }
    json_object_put(r);
    return ret;
}

/*
 * The monitor of the domain's QEMU: 1 with *q, 0 when QEMU is gone (the
 * domain is shut off), -1 on error (QEMU runs but cannot be talked to).
 */
static int
monitor(vs_exec_ctx *x, vs_qmp **q, vs_error *err)
{
    vs_run_info info;
    vs_error e;

    *q = NULL;
    if (x->qmp) {
        *q = x->qmp;
        return 1;
    }
    vs_error_clear(&e);
    if (!(x->qmp = vs_domain_monitor(x->d, &info, &e))) {
        if (e.code == VS_ERR_OPERATION_INVALID && info.state == VS_RUN_SHUTOFF)
            return 0;
        if (err)
            *err = e;
        return -1;
    }
    if (settle_jobs(x->qmp, err) < 0)
        return failed(x);
    *q = x->qmp;
    return 1;
}

static void
finish(vs_exec_ctx *x)
{
    drop(x);
}

/* ---- block devices ---------------------------------------------------------- */

/* A disk QEMU has, as query-block tells it. */
typedef struct dev {
    char *target;      /* the guest device's id (qdev), "vda" */
    char *node;        /* the format node of its active layer */
    char *file;        /* that layer's image */
    bool ro;
    char **tags;       /* its internal snapshots (NULL-terminated, never NULL) */
} dev;

static void
devs_free(dev *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(v[i].target);
        free(v[i].node);
        free(v[i].file);
        vs_strv_free(v[i].tags);
    }
    free(v);
}

static const char *
str_of(json_object *o, const char *key)
{
    json_object *v;

    return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
           ? json_object_get_string(v) : NULL;
}

/* "/machine/peripheral/vda/virtio-backend" or "sda" -> "vda", "sda". */
static char *
qdev_target(const char *qdev)
{
    const char *p = "/machine/peripheral/", *e;

    if (!qdev || !*qdev)
        return NULL;
    if (strncmp(qdev, p, strlen(p)) == 0) {
        qdev += strlen(p);
        e = strchr(qdev, '/');
        return e ? vs_xstrndup(qdev, (size_t)(e - qdev)) : vs_xstrdup(qdev);
    }
    return qdev[0] == '/' ? NULL : vs_xstrdup(qdev);
}

static int
query_devs(vs_qmp *q, dev **out, size_t *nout, vs_error *err)
{
    json_object *r = NULL;
    dev *v;
    size_t i, n, k = 0;

    *out = NULL;
    *nout = 0;
    if (vs_qmp_command(q, "query-block", NULL, &r, err) < 0)
        return -1;
    n = r && json_object_is_type(r, json_type_array) ? json_object_array_length(r) : 0;
    v = vs_xcalloc(n + 1, sizeof(*v));
    for (i = 0; i < n; i++) {
        json_object *b = json_object_array_get_idx(r, i), *in, *ro, *img, *snaps;
        char *target = qdev_target(str_of(b, "qdev"));
        size_t j, ns;

        if (!target || !json_object_object_get_ex(b, "inserted", &in) || !str_of(in, "node-name")) {
            free(target);
            continue;
        }
        v[k].target = target;
        v[k].node = vs_xstrdup(str_of(in, "node-name"));
        v[k].file = vs_xstrdup(str_of(in, "file"));
        v[k].ro = json_object_object_get_ex(in, "ro", &ro) && json_object_get_boolean(ro);
        v[k].tags = vs_xcalloc(1, sizeof(char *));
        if (json_object_object_get_ex(in, "image", &img) &&
            json_object_object_get_ex(img, "snapshots", &snaps) &&
            json_object_is_type(snaps, json_type_array)) {
            ns = json_object_array_length(snaps);
            for (j = 0; j < ns; j++) {
                const char *t = str_of(json_object_array_get_idx(snaps, j), "name");

                if (t)
                    vs_strv_push(&v[k].tags, t);
            }
        }
        k++;
    }
    json_object_put(r);
    *out = v;
    *nout = k;
    return 0;
}

static const dev *
dev_find(const dev *v, size_t n, const char *target)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(v[i].target, target) == 0)
            return &v[i];
    return NULL;
}

static bool
dev_has_tag(const dev *v, const char *tag)
{
    char **t;

    for (t = v->tags; t && *t; t++)
        if (strcmp(*t, tag) == 0)
            return true;
    return false;
}

/* The device of each disk of the step, which must still have the image the
 * plan saw open: a plan never acts on another image than it planned. */
static int
resolve(const dev *v, size_t n, const vs_vm_disk *disks, size_t nd, const dev **out,
        vs_error *err)
{
    size_t i;

    for (i = 0; i < nd; i++) {
        const dev *dv = dev_find(v, n, disks[i].target);

        if (!dv)
            return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                                "the running QEMU has no disk '%s'", disks[i].target);
        if (!dv->file || !vs_same_image(dv->file, disks[i].image))
            return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                                "disk '%s' of the running QEMU uses image '%s', not '%s' as "
                                "planned; nothing was done", disks[i].target,
                                dv->file ? dv->file : "(none)", disks[i].image);
        out[i] = dv;
    }
    return 0;
}

static int
step_disks(const vs_step *s, vs_vm_disk **disks, size_t *n, vs_error *err)
{
    if (vs_vm_disks_parse(s->text, disks, n) < 0)
        return vs_error_set(err, VS_ERR_INTERNAL, "step %s names no disks it can read",
                            vs_step_info(s->kind)->name);
    return 0;
}

/* ---- jobs ----------------------------------------------------------------------- */

static json_object *
nodes_array(const dev *const *dv, size_t n)
{
    json_object *a = json_object_new_array();
    size_t i;

    for (i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string(dv[i]->node));
    return a;
}

/* snapshot-save / -load / -delete of `tag` on devices dv (vmstate: the one
 * holding the memory state, NULL for a delete). */
static int
snapshot_job(vs_qmp *q, const char *cmd, const char *id, const char *tag, const dev *vmstate,
             const dev *const *dv, size_t n, int timeout_ms, vs_error *err)
{
    static unsigned serial;
    json_object *args = json_object_new_object();
    char *jid = vs_xasprintf(JOB_PREFIX "%s-%u", id, ++serial);
    int ret;

    json_object_object_add(args, "job-id", json_object_new_string(jid));
    json_object_object_add(args, "tag", json_object_new_string(tag));
    if (vmstate)
        json_object_object_add(args, "vmstate", json_object_new_string(vmstate->node));
    json_object_object_add(args, "devices", nodes_array(dv, n));
    ret = vs_qmp_job_run(q, cmd, args, jid, timeout_ms, err);
    free(jid);
    return ret;
}

/* ---- run state -------------------------------------------------------------------- */

static int
status(vs_qmp *q, char **st, vs_error *err)
{
    return vs_qmp_query_status(q, st, NULL, err);
}

/* Not running: paused by someone, stopped in a snapshot job, a failed load
 * ("restore-vm"), or before the first `cont`. */
static bool
stopped_status(const char *st)
{
    return strcmp(st, "running") != 0;
}

static int
cont(vs_exec_ctx *x, vs_qmp *q, const char *reason, vs_error *err)
{
    char *st = NULL;
    int ret;

    if (status(q, &st, err) < 0)
        return failed(x);
    ret = stopped_status(st) ? vs_qmp_command(q, "cont", NULL, NULL, err) : 0;
    free(st);
    if (ret < 0)
        return failed(x);
    return reason ? vs_domain_record_state(x->d, VS_RUN_RUNNING, reason, err) : 0;
}

/* ---- images, with QEMU gone ------------------------------------------------------ */

/* Delete (or apply) tag in every disk image of the step that holds it. */
static int
images_tag(const vs_vm_disk *disks, size_t n, const char *tag, bool apply, vs_error *err)
{
    size_t i;
    int rc;

    for (i = 0; i < n; i++) {
        if ((rc = vs_exec_image_has_tag(disks[i].image, tag, err)) < 0)
            return -1;
        if (rc == 0) {
            if (apply)
                return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                                    "image '%s' of disk '%s' has no internal snapshot '%s'",
                                    disks[i].image, disks[i].target, tag);
            continue;
        }
        if ((apply ? vs_qemu_img_snapshot_apply(disks[i].image, tag, err)
                   : vs_qemu_img_snapshot_delete(disks[i].image, tag, err)) < 0)
            return -1;
    }
    return 0;
}

/* How many of the step's disks hold tag: from QEMU when it runs, else from
 * the images. -1 when it cannot tell. */
static long
count_tagged(vs_exec_ctx *x, const vs_vm_disk *disks, size_t n, const char *tag)
{
    vs_qmp *q;
    dev *v = NULL;
    size_t nv = 0, i;
    long count = 0;
    int rc;

    if ((rc = monitor(x, &q, NULL)) < 0)
        return -1;
    if (rc == 0) {
        for (i = 0; i < n; i++) {
            if ((rc = vs_exec_image_has_tag(disks[i].image, tag, NULL)) < 0)
                return -1;
            count += rc;
        }
        return count;
    }
    if (query_devs(q, &v, &nv, NULL) < 0) {
        failed(x);
        return -1;
    }
    for (i = 0; i < n; i++) {
        const dev *dv = dev_find(v, nv, disks[i].target);

        if (dv && dv->file && vs_same_image(dv->file, disks[i].image) && dev_has_tag(dv, tag))
            count++;
    }
    devs_free(v, nv);
    return count;
}

/* ---- the steps ---------------------------------------------------------------------- */

static int
run_save(vs_exec_ctx *x, vs_qmp *q, const vs_step *s, const vs_vm_disk *disks, size_t n,
         vs_error *err)
{
    dev *v = NULL;
    const dev **dv = vs_xcalloc(n + 1, sizeof(*dv)), *vm = NULL;
    size_t nv = 0, i, k;
    int ret = -1;

    if (query_devs(q, &v, &nv, err) < 0 || resolve(v, nv, disks, n, dv, err) < 0)
        goto out;
    /* snapshot-save leaves out a writable disk it is not given, silently:
     * every one QEMU has must be in the plan */
    for (i = 0; i < nv; i++) {
        for (k = 0; k < n && dv[k] != &v[i]; k++)
            ;
        if (k == n && !v[i].ro) {
            vs_error_set(err, VS_ERR_OPERATION_FAILED,
                         "the running QEMU has writable disk '%s' (image '%s') that the domain "
                         "definition does not name; an internal snapshot would leave it out, "
                         "so none was taken", v[i].target, v[i].file ? v[i].file : "?");
            goto out;
        }
    }
    for (i = 0; i < n; i++) {
        if (dev_has_tag(dv[i], s->name)) {
            vs_error_set(err, VS_ERR_OPERATION_FAILED,
                         "image '%s' of disk '%s' already holds an internal snapshot named '%s'",
                         dv[i]->file, dv[i]->target, s->name);
            goto out;
        }
        if (vs_same_image(dv[i]->file, s->path) && !vm)
            vm = dv[i];
    }
    if (!vm) {
        vs_error_set(err, VS_ERR_INTERNAL, "no disk of the snapshot holds image '%s' for the "
                     "memory state", s->path);
        goto out;
    }
    ret = snapshot_job(q, "snapshot-save", JOB_SAVE, s->name, vm, dv, n, SAVE_TIMEOUT_MS, err);
 out:
    devs_free(v, nv);
    free(dv);
    return ret;
}

static int
run_load(vs_exec_ctx *x, vs_qmp *q, const vs_step *s, const vs_vm_disk *disks, size_t n,
         vs_error *err)
{
    dev *v = NULL;
    const dev **dv = vs_xcalloc(n + 1, sizeof(*dv)), *vm = NULL;
    size_t nv = 0, i;
    int ret = -1;

    if (query_devs(q, &v, &nv, err) < 0 || resolve(v, nv, disks, n, dv, err) < 0)
        goto out;
    /* a load that fails leaves QEMU in "restore-vm" with the guest half
     * loaded: make sure first that every disk has the snapshot */
    for (i = 0; i < n; i++) {
        if (!dev_has_tag(dv[i], s->name)) {
            vs_error_set(err, VS_ERR_OPERATION_FAILED,
                         "image of disk '%s' does not have internal snapshot '%s'",
                         dv[i]->target, s->name);
            goto out;
        }
        if (vs_same_image(dv[i]->file, s->path) && !vm)
            vm = dv[i];
    }
    if (!vm) {
        vs_error_set(err, VS_ERR_INTERNAL, "no disk of the snapshot holds image '%s' with the "
                     "memory state", s->path);
        goto out;
    }
    if (snapshot_job(q, "snapshot-load", JOB_LOAD, s->name, vm, dv, n, SAVE_TIMEOUT_MS,
                     err) < 0)
        goto out;
    ret = vs_domain_record_state(x->d, VS_RUN_PAUSED, "from snapshot", err);
 out:
    devs_free(v, nv);
    free(dv);
    return ret;
}

/* snapshot-delete of tag on those of the step's disks that hold it: QEMU
 * reports deleting a snapshot that is not there as success, so only disks
 * that have it are given, and none means there is nothing to do. */
static int
run_tag_delete(vs_qmp *q, const char *tag, const vs_vm_disk *disks, size_t n, vs_error *err)
{
    dev *v = NULL;
    const dev **dv = vs_xcalloc(n + 1, sizeof(*dv)), **with = vs_xcalloc(n + 1, sizeof(*with));
    size_t nv = 0, i, k = 0;
    int ret = -1;

    if (query_devs(q, &v, &nv, err) < 0 || resolve(v, nv, disks, n, dv, err) < 0)
        goto out;
    for (i = 0; i < n; i++)
        if (dev_has_tag(dv[i], tag))
            with[k++] = dv[i];
    ret = k ? snapshot_job(q, "snapshot-delete", JOB_DELETE, tag, NULL, with, k,
                           DELETE_TIMEOUT_MS, err) : 0;
 out:
    devs_free(v, nv);
    free(dv);
    free(with);
    return ret;
}

static int
run(vs_exec_ctx *x, const vs_step *s, vs_error *err)
{
    vs_vm_disk *disks = NULL;
    size_t n = 0;
    vs_qmp *q = NULL;
    char *st = NULL;
    int rc, ret = -1;

    if ((s->kind == VS_STEP_VM_SAVE || s->kind == VS_STEP_VM_LOAD ||
         s->kind == VS_STEP_VM_TAG_DELETE) && step_disks(s, &disks, &n, err) < 0)
        return -1;
    if ((rc = monitor(x, &q, err)) < 0)
        goto out;
    switch (s->kind) {
    case VS_STEP_VM_PAUSE:
        if (rc == 0) {
            ret = vs_error_set(err, VS_ERR_OPERATION_INVALID, "domain is not running");
            break;
        }
        if (status(q, &st, err) < 0 ||
            (!stopped_status(st) && vs_qmp_command(q, "stop", NULL, NULL, err) < 0))
            break;
        ret = 0;
        break;
    case VS_STEP_VM_RESUME:
        /* QEMU gone: the guest is shut off, and nothing is left to resume */
        ret = rc == 0 ? 0 : cont(x, q, s->name, err);
        break;
    case VS_STEP_VM_SAVE:
        if (rc == 0)
            ret = vs_error_set(err, VS_ERR_OPERATION_FAILED,
                               "QEMU of domain '%s' is gone: no snapshot of its memory can be "
                               "taken", x->d->name);
        else
            ret = run_save(x, q, s, disks, n, err);
        break;
    case VS_STEP_VM_LOAD:
        /* QEMU gone (killed, say, while it loaded): the disks go back to the
         * snapshot all the same, and the domain stays shut off */
        if (rc == 0)
            ret = images_tag(disks, n, s->name, true, err);
        else
            ret = run_load(x, q, s, disks, n, err);
        break;
    case VS_STEP_VM_TAG_DELETE:
        ret = rc == 0 ? images_tag(disks, n, s->name, false, err)
                      : run_tag_delete(q, s->name, disks, n, err);
        break;
    case VS_STEP_VM_START:
        if (rc == 1) {
            ret = vs_domain_record_state(x->d, VS_RUN_PAUSED, s->name, err);
            break;
        }
        /* the plan may have written the definition just now */
        vs_dom_forget(x->d);
        if (vs_domain_start(x->d, true, err) < 0 ||
            vs_domain_record_state(x->d, VS_RUN_PAUSED, s->name, err) < 0)
            break;
        ret = 0;
        break;
    case VS_STEP_VM_STOP:
        drop(x);
        q = NULL;
        ret = vs_domain_stop(x->d, s->name, err);
        break;
    default:
        ret = vs_error_set(err, VS_ERR_INTERNAL, "the QMP executor cannot run a %s step",
                           vs_step_info(s->kind)->name);
        break;
    }
 out:
    free(st);
    vs_vm_disks_free(disks, n);
    if (ret < 0)
        drop(x);
    return ret;
}

static vs_seen
observe(vs_exec_ctx *x, const vs_step *s, char **why)
{
    vs_vm_disk *disks = NULL;
    size_t n = 0;
    vs_qmp *q;
    char *st = NULL;
    long count;
    int rc;
    vs_seen seen = VS_SEEN_UNKNOWN;

    if (why)
        *why = NULL;
    if ((rc = monitor(x, &q, NULL)) < 0)
        return VS_SEEN_UNKNOWN;
    switch (s->kind) {
    case VS_STEP_VM_PAUSE:
    case VS_STEP_VM_RESUME:
        if (rc == 0) {
            /* shut off: nothing is paused, nothing needs resuming */
            seen = s->kind == VS_STEP_VM_PAUSE ? VS_SEEN_NOT_DONE : VS_SEEN_DONE;
            if (why && s->kind == VS_STEP_VM_RESUME)
                *why = vs_xasprintf("QEMU of domain '%s' is gone: the domain is shut off",
                                    x->d->name);
            break;
        }
        if (status(q, &st, NULL) < 0) {
            drop(x);
            break;
        }
        if (s->kind == VS_STEP_VM_PAUSE)
            seen = stopped_status(st) ? VS_SEEN_DONE : VS_SEEN_NOT_DONE;
        else
            seen = stopped_status(st) ? VS_SEEN_NOT_DONE : VS_SEEN_DONE;
        break;
    case VS_STEP_VM_SAVE:
    case VS_STEP_VM_TAG_DELETE:
        if (vs_vm_disks_parse(s->text, &disks, &n) < 0)
            break;
        count = count_tagged(x, disks, n, s->name);
        if (count < 0)
            break;
        if (s->kind == VS_STEP_VM_SAVE)
            seen = (size_t)count == n ? VS_SEEN_DONE : count == 0 ? VS_SEEN_NOT_DONE
                                                                   : VS_SEEN_UNKNOWN;
        else
            seen = count == 0 ? VS_SEEN_DONE : VS_SEEN_NOT_DONE;
        break;
    case VS_STEP_VM_LOAD:
        seen = VS_SEEN_UNKNOWN;   /* a guest's memory cannot be compared: load again */
        break;
    case VS_STEP_VM_START:
        seen = rc == 1 ? VS_SEEN_DONE : VS_SEEN_NOT_DONE;
        break;
    case VS_STEP_VM_STOP:
        seen = rc == 0 ? VS_SEEN_DONE : VS_SEEN_NOT_DONE;
        break;
    default:
        break;
    }
    free(st);
    vs_vm_disks_free(disks, n);
    return seen;
}

static int
undo(vs_exec_ctx *x, const vs_step *s, vs_error *err)
{
    vs_vm_disk *disks = NULL;
    size_t n = 0;
    vs_qmp *q;
    int rc, ret = -1;

    if ((rc = monitor(x, &q, err)) < 0)
        return -1;
    switch (s->kind) {
    case VS_STEP_VM_PAUSE:
        /* the guest runs again, with the reason it had */
        ret = rc == 0 ? 0 : cont(x, q, s->old_name ? s->old_name : "unpaused", err);
        break;
    case VS_STEP_VM_SAVE:
        /* the tag goes from every disk that has it, whether the save ran
         * whole, in part (QEMU leaves the disks it did) or not at all */
        if (step_disks(s, &disks, &n, err) < 0)
            break;
        ret = rc == 0 ? images_tag(disks, n, s->name, false, err)
                      : run_tag_delete(q, s->name, disks, n, err);
        break;
    case VS_STEP_VM_START:
        drop(x);
        ret = rc == 0 ? 0 : vs_domain_stop(x->d, "failed", err);
        break;
    default:
        ret = vs_error_set(err, VS_ERR_INTERNAL, "a %s step cannot be undone",
                           vs_step_info(s->kind)->name);
        break;
    }
    vs_vm_disks_free(disks, n);
    if (ret < 0)
        drop(x);
    return ret;
}

const vs_executor vs_exec_qmp = {
    .mech = VS_MECH_QMP,
    .run = run,
    .run_group = NULL,
    .undo = undo,
    .observe = observe,
    .finish = finish,
};
