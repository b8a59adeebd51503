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

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "disk_source.h"
#include "domain_run.h"
#include "exec.h"
#include "failpoint.h"
#include "image_id.h"
#include "mem.h"
#include "memory_transfer.h"
#include "saveimage.h"
#include "path.h"
#include "qcow2.h"
#include "qemu_img.h"
#include "qmp.h"
#include "saveimage.h"

/* Snapshot jobs carry vsnap's ids ("vsnap-snapshot-save-3"), new for each
 * job of a process: the events of a job dismissed before may still be
 * queued under the old one. One runs at a time (the domain lock). */
#define JOB_SAVE    "snapshot-save"
#define JOB_LOAD    "snapshot-load"
#define JOB_DELETE  "snapshot-delete"
#define JOB_CREATE  "create"
#define JOB_COMMIT  "commit"
#define JOB_STREAM  "stream"
#define JOB_PREFIX  "vsnap-"

/* How long QEMU may take: writing or reading the guest's memory state
 * scales with its RAM; a delete only rewrites snapshot tables. */
#define SAVE_TIMEOUT_MS    (60 * 60 * 1000)
#define DELETE_TIMEOUT_MS  (10 * 60 * 1000)
#define CREATE_TIMEOUT_MS  (60 * 1000)
/* a commit copies what the guest wrote since: as long as the data needs */
#define COMMIT_TIMEOUT_MS  (24 * 60 * 60 * 1000)
/* the guest agent: a freeze waits for the guest to flush its file systems,
 * 60 s unless $VSNAP_AGENT_TIMEOUT (seconds) says otherwise */
#define AGENT_CONNECT_MS   10000
#define FREEZE_TIMEOUT_MS  agent_timeout_ms(60000)
#define THAW_TIMEOUT_MS    agent_timeout_ms(10000)

static int
agent_timeout_ms(int dflt)
{
    const char *v = getenv("VSNAP_AGENT_TIMEOUT");
    char *end;
    long s;

    if (!v || !*v)
        return dflt;
    s = strtol(v, &end, 10);
    return *end || s <= 0 || s > 24 * 3600 ? dflt : (int)(s * 1000);
}

static char *
job_id(const char *what)
{
    static unsigned serial;

    return vs_xasprintf(JOB_PREFIX "%s-%u", what, ++serial);
}

/* Test-only (failpoints compiled in): the failpoint "qemu-kill" makes vsnap
 * kill QEMU with SIGKILL at the N-th place it is evaluated: while a
 * snapshot job runs, just before a transaction is sent or just after it
 * returned, while a commit or stream runs. A QEMU that dies there is what
 * the crash tests repair from. */
static void
maybe_kill_qemu(vs_qmp *q)
{
    struct timespec ts = { 0, 1000 * 1000 };
    char path[64], st[512];
    pid_t pid;
    int i, fd;
    ssize_t n;

    if (!vs_failpoint("qemu-kill") || (pid = vs_qmp_peer_pid(q)) <= 1)
        return;
    kill(pid, SIGKILL);
    /* dead (gone, or a zombie) before vsnap goes on: its locks are gone */
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    for (i = 0; i < 5000; i++) {
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            return;
        n = read(fd, st, sizeof(st) - 1);
        close(fd);
        if (n > 0) {
            char *p;

            st[n] = '\0';
            if ((p = strrchr(st, ')')) && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
                return;
        }
        nanosleep(&ts, NULL);
    }
}

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

static int
job_verb(vs_qmp *q, const char *verb, const char *id, vs_error *err)
{
    json_object *args = json_object_new_object();

    json_object_object_add(args, "id", json_object_new_string(id));
    return vs_qmp_command(q, verb, args, NULL, err);
}

/* The status of vsnap's job id ("" when QEMU has no such job). */
static int
job_status(vs_qmp *q, const char *id, char **status, vs_error *err)
{
    json_object *r = NULL, *v;
    size_t i, n;

    *status = vs_xstrdup("");
    if (vs_qmp_command(q, "query-jobs", NULL, &r, err) < 0)
        return -1;
    n = r && json_object_is_type(r, json_type_array) ? json_object_array_length(r) : 0;
    for (i = 0; i < n; i++) {
        json_object *j = json_object_array_get_idx(r, i);

        if (json_object_object_get_ex(j, "id", &v) && strcmp(json_object_get_string(v), id) == 0 &&
            json_object_object_get_ex(j, "status", &v)) {
            free(*status);
            *status = vs_xstrdup(json_object_get_string(v));
        }
    }
    json_object_put(r);
    return 0;
}

/*
 * Wait out and dismiss the jobs an earlier, interrupted vsnap left behind,
 * so that what a step sees is settled and no job is left half done. Each
 * is carried forward: a commit that is ready is completed (its plan wanted
 * the disk on the base, whether it went forward or rolled back), one that
 * waits to be finalized is finalized. Polled (QEMU's own events for them
 * went to the vsnap that died).
 */
static int
settle_jobs(vs_qmp *q, vs_error *err)
{
    json_object *r = NULL, *v;
    char **ids = NULL;
    size_t i, n;
    int ret = 0;

    if (vs_qmp_command(q, "query-jobs", NULL, &r, err) < 0)
        return -1;
    n = r && json_object_is_type(r, json_type_array) ? json_object_array_length(r) : 0;
    for (i = 0; i < n; i++) {
        json_object *j = json_object_array_get_idx(r, i);

        if (json_object_object_get_ex(j, "id", &v) &&
            strncmp(json_object_get_string(v), JOB_PREFIX, strlen(JOB_PREFIX)) == 0)
            vs_strv_push(&ids, json_object_get_string(v));
    }
    json_object_put(r);
    for (i = 0; ids && ids[i] && ret == 0; i++) {
        long long waited = 0;
        char *st = NULL;

        for (;;) {
            struct timespec ts = { 0, 2 * 1000 * 1000 };

            free(st);
            if ((ret = job_status(q, ids[i], &st, err)) < 0 || !*st)
                break;
            if (strcmp(st, "concluded") == 0) {
                ret = job_verb(q, "job-dismiss", ids[i], err);
                break;
            }
            if (strcmp(st, "ready") == 0 && (ret = job_verb(q, "job-complete", ids[i], err)) < 0)
                break;
            if (strcmp(st, "pending") == 0 && (ret = job_verb(q, "job-finalize", ids[i], err)) < 0)
                break;
            if ((waited += 2) > COMMIT_TIMEOUT_MS) {
                ret = vs_error_set(err, VS_ERR_TIMEOUT, "job '%s' that an interrupted vsnap "
                                   "started did not end (status %s)", ids[i], st);
                break;
            }
            nanosleep(&ts, NULL);
        }
        free(st);
    }
    vs_strv_free(ids);
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
    /* (only an interrupted run leaves a job of vsnap's in QEMU, and then
     * its journal stops every plan but the repair) */
    if (x->repairing && settle_jobs(x->qmp, err) < 0)
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
    unsigned long long vsize;  /* its virtual size */
    char **tags;       /* its internal snapshots (NULL-terminated, never NULL) */
    char **vm_tags;    /* ... those with a memory state in it */
    char **chain;      /* the images of its chain, the active layer first */
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
        vs_strv_free(v[i].vm_tags);
        vs_strv_free(v[i].chain);
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

static char *node_file(const char *file);

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

/* The disks of query-block's answer r (consumed). */
static void
devs_parse(json_object *r, dev **out, size_t *nout)
{
    dev *v;
    size_t i, n, k = 0;

    n = r && json_object_is_type(r, json_type_array) ? json_object_array_length(r) : 0;
    v = vs_xcalloc(n + 1, sizeof(*v));
    for (i = 0; i < n; i++) {
        json_object *b = json_object_array_get_idx(r, i), *in, *ro, *img = NULL, *snaps;
        char *target = qdev_target(str_of(b, "qdev"));
        size_t j, ns;

        if (!target || !json_object_object_get_ex(b, "inserted", &in) || !str_of(in, "node-name")) {
            free(target);
            continue;
        }
        v[k].target = target;
        v[k].node = vs_xstrdup(str_of(in, "node-name"));
        /* an overlay over a gluster node is a json: name around its file */
        v[k].file = node_file(str_of(in, "file"));
        if (!v[k].file)
            v[k].file = vs_xstrdup(str_of(in, "file"));
        v[k].ro = json_object_object_get_ex(in, "ro", &ro) && json_object_get_boolean(ro);
        v[k].tags = vs_xcalloc(1, sizeof(char *));
        v[k].vm_tags = vs_xcalloc(1, sizeof(char *));
        v[k].chain = vs_xcalloc(1, sizeof(char *));
        if (json_object_object_get_ex(in, "image", &img)) {
            json_object *vs, *l = img;
            int depth;

            if (json_object_object_get_ex(img, "virtual-size", &vs))
                v[k].vsize = (unsigned long long)json_object_get_int64(vs);
            for (depth = 0; l && depth < 256; depth++) {
                char *f = node_file(str_of(l, "filename"));

                if (f)
                    vs_strv_push(&v[k].chain, f);
                free(f);
                if (!json_object_object_get_ex(l, "backing-image", &l))
                    l = NULL;
            }
        }
        if (img && json_object_object_get_ex(img, "snapshots", &snaps) &&
            json_object_is_type(snaps, json_type_array)) {
            ns = json_object_array_length(snaps);
            for (j = 0; j < ns; j++) {
                json_object *sn = json_object_array_get_idx(snaps, j), *sz;
                const char *t = str_of(sn, "name");

                if (!t)
                    continue;
                vs_strv_push(&v[k].tags, t);
                if (json_object_object_get_ex(sn, "vm-state-size", &sz) &&
                    json_object_get_int64(sz) > 0)
                    vs_strv_push(&v[k].vm_tags, t);
            }
        }
        k++;
    }
    json_object_put(r);
    *out = v;
    *nout = k;
}

static int
query_devs(vs_qmp *q, dev **out, size_t *nout, vs_error *err)
{
    json_object *r = NULL;

    *out = NULL;
    *nout = 0;
    if (vs_qmp_command(q, "query-block", NULL, &r, err) < 0)
        return -1;
    devs_parse(r, out, nout);
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
strv_has(char *const *v, const char *s)
{
    for (; v && *v; v++)
        if (strcmp(*v, s) == 0)
            return true;
    return false;
}

static bool
dev_has_tag(const dev *v, const char *tag)
{
    return strv_has(v->tags, tag);
}

/* Whether image path is in the chain of device v. */
static bool
dev_uses(const dev *v, const char *path)
{
    char **f;

    for (f = v->chain; f && *f; f++)
        if (vs_same_image(*f, path))
            return true;
    return false;
}

/* ---- block nodes ---------------------------------------------------------------- */

/* A node of QEMU's block graph (query-named-block-nodes). */
typedef struct node {
    char *name;
    char *file;
    char *drv;
    char *backing;     /* its backing file as its header names it, or NULL */
} node;

static void
nodes_free(node *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].file);
        free(v[i].drv);
        free(v[i].backing);
    }
    free(v);
}

/* A node's image file: QEMU names a node it cannot give a plain file name
 * (an overlay opened with backing null, say) "json:{...,"file":{...,
 * "filename": PATH}}"; a network node's is its locator (disk_source.h). */
static char *
node_file(const char *file)
{
    json_object *o, *f, *fn;
    char *path = NULL;

    if (!file || strncmp(file, "json:", 5) != 0)
        return vs_xstrdup(file);
    if (!(o = json_tokener_parse(file + 5)))
        return NULL;
    if (json_object_object_get_ex(o, "file", &f) && json_object_is_type(f, json_type_object) &&
        json_object_object_get_ex(f, "filename", &fn) && json_object_is_type(fn, json_type_string))
        path = vs_xstrdup(json_object_get_string(fn));
    else if (json_object_object_get_ex(o, "filename", &fn) && json_object_is_type(fn, json_type_string))
        path = vs_xstrdup(json_object_get_string(fn));
    json_object_put(o);
    /* a network node (gluster: QEMU spells its servers in flattened keys) */
    if (!path && vs_net_locator_is(file))
        path = vs_net_locator_normalise(file);
    return path;
}

/* The nodes of query-named-block-nodes' answer r (consumed). */
static void
nodes_parse(json_object *r, node **out, size_t *nout)
{
    node *v;
    size_t i, n, k = 0;

    n = r && json_object_is_type(r, json_type_array) ? json_object_array_length(r) : 0;
    v = vs_xcalloc(n + 1, sizeof(*v));
    for (i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(r, i);

        if (!str_of(o, "node-name"))
            continue;
        v[k].name = vs_xstrdup(str_of(o, "node-name"));
        v[k].file = node_file(str_of(o, "file"));
        v[k].drv = vs_xstrdup(str_of(o, "drv"));
        v[k].backing = vs_xstrdup(str_of(o, "backing_file"));
        k++;
    }
    json_object_put(r);
    *out = v;
    *nout = k;
}

static json_object *
flat_args(void)
{
    json_object *args = json_object_new_object();

    json_object_object_add(args, "flat", json_object_new_boolean(1));
    return args;
}

static int
query_nodes(vs_qmp *q, node **out, size_t *nout, vs_error *err)
{
    json_object *r = NULL;

    *out = NULL;
    *nout = 0;
    if (vs_qmp_command(q, "query-named-block-nodes", flat_args(), &r, err) < 0)
        return -1;
    nodes_parse(r, out, nout);
    return 0;
}

/* query_devs and query_nodes in one round trip (both sent at once). */
static int
query_graph(vs_qmp *q, dev **dv, size_t *ndv, node **nv, size_t *nnv, vs_error *err)
{
    static const char *const cmds[] = { "query-block", "query-named-block-nodes" };
    json_object *args[2] = { NULL, flat_args() }, *r[2];

    *dv = NULL;
    *nv = NULL;
    *ndv = *nnv = 0;
    if (vs_qmp_commands(q, 2, cmds, args, r, err) < 0)
        return -1;
    devs_parse(r[0], dv, ndv);
    nodes_parse(r[1], nv, nnv);
    return 0;
}

static bool
protocol_drv(const char *drv)
{
    return drv && (strcmp(drv, "file") == 0 || strcmp(drv, "host_device") == 0 ||
                   strcmp(drv, "nbd") == 0 || strcmp(drv, "gluster") == 0);
}

/* The format node (or, format false, the protocol node) that opens image path. */
static const node *
node_of(const node *v, size_t n, const char *path, bool format)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (v[i].file && protocol_drv(v[i].drv) != format && vs_same_image(v[i].file, path))
            return &v[i];
    return NULL;
}

/* The next free layer number of disk target's vsnap node names. */
static unsigned
next_gen(const node *v, size_t n, const char *target)
{
    char *prefix = vs_xasprintf("vsnap-%s-", target);
    unsigned gen = 0, g;
    size_t i;

    for (i = 0; i < n; i++)
        if (strncmp(v[i].name, prefix, strlen(prefix)) == 0 &&
            sscanf(v[i].name + strlen(prefix), "%u-", &g) == 1 && g >= gen)
            gen = g + 1;
    free(prefix);
    return gen;
}

static int
blockdev_del(vs_qmp *q, const char *name, vs_error *err)
{
    json_object *args = json_object_new_object();

    json_object_object_add(args, "node-name", json_object_new_string(name));
    return vs_qmp_command(q, "blockdev-del", args, NULL, err);
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

static int job_end(vs_qmp *q, const char *id, int timeout_ms, vs_error *err);

/* snapshot-save / -load / -delete of `tag` on devices dv (vmstate: the one
 * holding the memory state, NULL for a delete). */
static int
snapshot_job(vs_qmp *q, const char *cmd, const char *id, const char *tag, const dev *vmstate,
             const dev *const *dv, size_t n, int timeout_ms, vs_error *err)
{
    json_object *args = json_object_new_object();
    char *jid = job_id(id);
    int ret;

    json_object_object_add(args, "job-id", json_object_new_string(jid));
    json_object_object_add(args, "tag", json_object_new_string(tag));
    if (vmstate)
        json_object_object_add(args, "vmstate", json_object_new_string(vmstate->node));
    json_object_object_add(args, "devices", nodes_array(dv, n));
    if ((ret = vs_qmp_command(q, cmd, args, NULL, err)) == 0) {
        maybe_kill_qemu(q);
        ret = job_end(q, jid, timeout_ms, err);
    }
    free(jid);
    return ret;
}

/* The end of a job that was waited for to some status: concluded, its error
 * (query-jobs), dismissed. */
static int
job_end(vs_qmp *q, const char *id, int timeout_ms, vs_error *err)
{
    if (vs_qmp_job_wait(q, id, "concluded", timeout_ms, err) < 0)
        return -1;
    return vs_qmp_job_finish(q, id, err);
}

static int close_overlay(vs_qmp *q, const char *path, vs_error *err);

/* A block job of vsnap's: started, then finished (for a commit of the
 * active layer: once ready, job-complete, which moves the disk onto the
 * base). */
typedef struct job {
    char *id;
    bool needs_complete;
} job;

/*
 * Start the commit of node `top` of the disk whose active layer is node
 * `active` into node `base`, below it. The nodes of the layers committed
 * stay open, out of the chain, for the caller to close. backing_file, when
 * not NULL, is what the layer above top then names as its backing file
 * (QEMU would write the base node's filename: for a gluster node a json:
 * pseudo-filename); only for a commit below the active layer.
 */
static int
commit_start(vs_qmp *q, const char *active, const char *top, const char *base,
             const char *backing_file, job *j, vs_error *err)
{
    json_object *args = json_object_new_object();

    j->id = job_id(JOB_COMMIT);
    j->needs_complete = strcmp(active, top) == 0;
    json_object_object_add(args, "job-id", json_object_new_string(j->id));
    json_object_object_add(args, "device", json_object_new_string(active));
    json_object_object_add(args, "top-node", json_object_new_string(top));
    json_object_object_add(args, "base-node", json_object_new_string(base));
    if (backing_file && !j->needs_complete)
        json_object_object_add(args, "backing-file", json_object_new_string(backing_file));
    json_object_object_add(args, "auto-finalize", json_object_new_boolean(1));
    json_object_object_add(args, "auto-dismiss", json_object_new_boolean(0));
    return vs_qmp_command(q, "block-commit", args, NULL, err);
}

/* Start streaming into node `top` from the layers down to node `base`
 * (NULL: all of them). */
static int
stream_start(vs_qmp *q, const char *top, const char *base, job *j, vs_error *err)
{
    json_object *args = json_object_new_object();

    j->id = job_id(JOB_STREAM);
    j->needs_complete = false;
    json_object_object_add(args, "job-id", json_object_new_string(j->id));
    json_object_object_add(args, "device", json_object_new_string(top));
    if (base)
        json_object_object_add(args, "base-node", json_object_new_string(base));
    json_object_object_add(args, "auto-finalize", json_object_new_boolean(1));
    json_object_object_add(args, "auto-dismiss", json_object_new_boolean(0));
    return vs_qmp_command(q, "block-stream", args, NULL, err);
}

static int
job_finish(vs_qmp *q, job *j, vs_error *err)
{
    vs_error ignore;

    if (j->needs_complete &&
        (vs_qmp_job_wait(q, j->id, "ready", COMMIT_TIMEOUT_MS, err) < 0 ||
         job_verb(q, "job-complete", j->id, err) < 0)) {
        /* it stays as it was: cancel it */
        vs_error_clear(&ignore);
        if (job_verb(q, "job-cancel", j->id, &ignore) == 0)
            job_end(q, j->id, COMMIT_TIMEOUT_MS, &ignore);
        return -1;
    }
    return job_end(q, j->id, COMMIT_TIMEOUT_MS, err);
}

static void
job_clear(job *j)
{
    free(j->id);
    j->id = NULL;
}

/* Commit node `top` into `base` and wait for it (see commit_start). */
static int
commit_nodes(vs_qmp *q, const char *active, const char *top, const char *base, vs_error *err)
{
    job j = { NULL, false };
    int ret = commit_start(q, active, top, base, NULL, &j, err) < 0 ? -1 : job_finish(q, &j, err);

    job_clear(&j);
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
    /* a migration that just ended: QEMU allows cont once it left finish-migrate */
    ret = !stopped_status(st) ? 0 : strcmp(st, "finish-migrate") == 0 ? vs_mem_resume(q, err)
          : vs_qmp_command(q, "cont", NULL, NULL, err);
    free(st);
    if (ret < 0)
        return failed(x);
    return reason ? vs_domain_record_state(x->d, VS_RUN_RUNNING, reason, err) : 0;
}

/*
 * QEMU inactivates the disks' images when a memory copy ends ("postmigrate")
 * and activates them again only on `cont`; QEMU 7.2 has no other way. A
 * step that writes a node (a commit, an internal snapshot, an undo) needs
 * them active: `cont` and `stop` at once, the vCPUs running for that moment.
 */
static int
reactivate(vs_exec_ctx *x, vs_qmp *q, vs_error *err)
{
    char *st = NULL;
    int ret = 0;

    if (status(q, &st, err) < 0)
        return failed(x);
    if (strcmp(st, "finish-migrate") == 0 || strcmp(st, "postmigrate") == 0) {
        if ((strcmp(st, "finish-migrate") == 0 &&
             vs_qmp_wait_status(q, "postmigrate", 10000, err) < 0) ||
            vs_qmp_command(q, "cont", NULL, NULL, err) < 0 ||
            vs_qmp_command(q, "stop", NULL, NULL, err) < 0)
            ret = failed(x);
    }
    free(st);
    return ret;
}

/* ---- memory state in save images (memory_transfer.h) ------------------------------ */

static bool
has_word(const char *words, const char *w)
{
    size_t n = strlen(w);
    const char *p = words;

    while (p && (p = strstr(p, w))) {
        if ((p == words || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
            return true;
        p += n;
    }
    return false;
}

static void
mem_opts(const vs_step *s, vs_mem_opts *o, const char *what)
{
    memset(o, 0, sizeof(*o));
    o->live = has_word(s->name, "live");
    o->bypass_cache = has_word(s->name, "bypass-cache");
    o->mark = has_word(s->name, "running") ? VS_MEM_MARK_RUNNING
              : has_word(s->name, "paused") ? VS_MEM_MARK_PAUSED : VS_MEM_MARK_AS_IS;
    o->what = what;
}

/* The image is the domain's managed.save: reached through the store. */
static bool
is_managed(vs_exec_ctx *x, const vs_step *s)
{
    char *m = vs_dom_entry_path(x->d, VS_DOM_MANAGED_SAVE);
    bool same = strcmp(m, s->path) == 0;

    free(m);
    return same;
}

static int
run_save_memory(vs_exec_ctx *x, vs_qmp *q, const vs_step *s, vs_error *err)
{
    vs_mem_opts o;
    int rc;

    mem_opts(s, &o, "Save");
    if (is_managed(x, s)) {
        const char *name;
        int dirfd = vs_dom_entry_at(x->d, VS_DOM_MANAGED_SAVE, &name);

        rc = vs_mem_save_at(q, dirfd, name, s->path, s->text, NULL, &o, NULL, err);
    } else {
        rc = vs_mem_save_file(q, s->path, s->text, NULL, &o, NULL, err);
    }
    return rc;
}

static vs_seen
observe_save_memory(const vs_step *s)
{
    vs_file_id now;
    char magic[VS_SAVEIMAGE_MAGIC_LEN];
    int fd;
    bool complete = false;

    vs_file_id_get(s->path, &now);
    if (!now.exists || vs_file_id_same(&now, &s->expect))
        return VS_SEEN_NOT_DONE;
    if ((fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
        complete = pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
                   memcmp(magic, VS_SAVEIMAGE_MAGIC, sizeof(magic)) == 0;
        close(fd);
    }
    return complete ? VS_SEEN_DONE : VS_SEEN_NOT_DONE;
}

static int
undo_save_memory(vs_exec_ctx *x, vs_qmp *q, const vs_step *s, vs_error *err)
{
    const char *name;
    int dirfd = -1;
    char *tmpname = NULL;
    vs_error ignore;

    vs_error_clear(&ignore);
    if (q) {
        /* an interrupted run may have left QEMU writing */
        char *st = NULL;

        vs_qmp_command(q, "migrate_cancel", NULL, NULL, &ignore);
        if (has_word(s->name, "live") && status(q, &st, &ignore) == 0 &&
            (strcmp(st, "postmigrate") == 0 || strcmp(st, "finish-migrate") == 0))
            vs_mem_resume(q, &ignore);
        free(st);
    }
    if (is_managed(x, s)) {
        dirfd = vs_dom_entry_at(x->d, VS_DOM_MANAGED_SAVE, &name);
        tmpname = vs_xasprintf(".%s" VS_MEM_TEMP_SUFFIX, name);
        if (unlinkat(dirfd, tmpname, 0) < 0 && errno != ENOENT) {
            vs_error_sys(err, errno, "cannot remove '%s'", s->from);
            free(tmpname);
            return -1;
        }
        free(tmpname);
        if (observe_save_memory(s) == VS_SEEN_DONE && unlinkat(dirfd, name, 0) < 0 &&
            errno != ENOENT)
            return vs_error_sys(err, errno, "cannot remove '%s'", s->path);
        return fsync(dirfd) < 0 ? vs_error_sys(err, errno, "cannot sync '%s'", s->path) : 0;
    }
    if (s->from && unlink(s->from) < 0 && errno != ENOENT)
        return vs_error_sys(err, errno, "cannot remove '%s'", s->from);
    if (observe_save_memory(s) == VS_SEEN_DONE && unlink(s->path) < 0 && errno != ENOENT)
        return vs_error_sys(err, errno, "cannot remove '%s'", s->path);
    return 0;
}

static int
run_restore(vs_exec_ctx *x, const vs_step *s, vs_error *err)
{
    vs_domain_def *def;
    vs_saveimage img;
    vs_mem_opts o;
    int fd, rc;

    drop(x);
    mem_opts(s, &o, "Restore");
    if (!(def = vs_domain_def_parse(s->text, strlen(s->text), s->path, err)))
        return -1;
    if (is_managed(x, s)) {
        const char *name;
        int dirfd = vs_dom_entry_at(x->d, VS_DOM_MANAGED_SAVE, &name);

        fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            vs_error_sys(err, errno, "Failed to open file '%s'", s->path);
        } else if (vs_saveimage_read_fd(fd, s->path, false, &img, err) < 0) {
            close(fd);
            fd = -1;
        }
    } else {
        fd = vs_saveimage_open(s->path, O_RDONLY, &img, err);
    }
    if (fd < 0) {
        vs_domain_def_free(def);
        return -1;
    }
    vs_saveimage_clear(&img);
    rc = vs_domain_start_incoming(x->d, def, fd, &o,
                                  (has_word(s->name, "paused") ? VS_START_PAUSED : 0) |
                                  (s->reset_nvram ? VS_START_RESET_NVRAM : 0), err);
    /* a revert records why the guest is there (paused or running "from snapshot") */
    if (rc == 0 && has_word(s->name, "from-snapshot"))
        rc = vs_domain_record_state(x->d, has_word(s->name, "paused") ? VS_RUN_PAUSED
                                    : VS_RUN_RUNNING, "from snapshot", err);
    close(fd);
    vs_domain_def_free(def);
    return rc;
}

/* ---- images, with QEMU gone ------------------------------------------------------ */

/* An image's format as its header says (qcow2 read directly, else what
 * qemu-img says); caller frees, NULL when it cannot be read. */
static char *
image_format(const char *path)
{
    vs_image_info info;
    char *fmt = NULL;
    /* (a network image only through qemu-img) */
    int rc = vs_path_is_network(path) ? 0 : vs_qcow2_probe(path, &info, NULL);

    if (rc != 1 && (rc < 0 || vs_qemu_img_info(path, true, &info, NULL) < 0))
        return NULL;
    fmt = vs_xstrdup(info.format ? info.format : "qcow2");
    vs_image_info_clear(&info);
    return fmt;
}

/* qemu-img commit / safe rebase of an image no process holds now. */
static int
offline_commit(const char *path, vs_error *err)
{
    char *fmt = image_format(path);
    int ret = fmt ? vs_qemu_img_commit(path, fmt, NULL, err)
                  : vs_error_set(err, VS_ERR_OPERATION_FAILED, "cannot read image '%s'", path);

    free(fmt);
    return ret;
}

static int
offline_rebase(const char *path, const char *backing, vs_error *err)
{
    char *fmt = image_format(path), *bfmt = backing && *backing ? image_format(backing) : NULL;
    int ret;

    if (!fmt || (backing && *backing && !bfmt))
        ret = vs_error_set(err, VS_ERR_OPERATION_FAILED, "cannot read image '%s'",
                           fmt ? backing : path);
    else
        ret = vs_qemu_img_rebase(path, fmt, backing, bfmt, false, err);
    free(fmt);
    free(bfmt);
    return ret;
}

/* QEMU went away while it held the step's images, maybe while it wrote to
 * them: what it left allocated and unused is freed before qemu-img works on
 * them (a file check would report it as leaked clusters). */
static int
images_settle(const vs_vm_disk *disks, size_t n, vs_error *err)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (vs_file_exists(disks[i].image) && vs_qemu_img_repair_leaks(disks[i].image, err) < 0)
            return -1;
        if (disks[i].overlay && vs_file_exists(disks[i].overlay) &&
            vs_qemu_img_repair_leaks(disks[i].overlay, err) < 0)
            return -1;
    }
    return 0;
}

/* Delete (or apply) tag in every disk image of the step that holds it. */
static int
images_tag(const vs_vm_disk *disks, size_t n, const char *tag, bool apply, vs_error *err)
{
    size_t i;
    int rc;

    if (images_settle(disks, n, err) < 0)
        return -1;
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

/* The disks' internal snapshots, without memory, in one transaction
 * (blockdev-snapshot-internal-sync): the guest runs on, and every disk is
 * taken at the same instant. */
static int
run_tag_disks(vs_qmp *q, const vs_step *s, const vs_vm_disk *disks, size_t n, vs_error *err)
{
    dev *v = NULL;
    const dev **dv = vs_xcalloc(n + 1, sizeof(*dv));
    json_object *actions = json_object_new_array(), *args;
    size_t nv = 0, i;
    int ret = -1;

    if (query_devs(q, &v, &nv, err) < 0 || resolve(v, nv, disks, n, dv, err) < 0)
        goto out;
    for (i = 0; i < n; i++) {
        json_object *a = json_object_new_object(), *data = json_object_new_object();

        if (dev_has_tag(dv[i], s->name)) {
            json_object_put(a);
            json_object_put(data);
            vs_error_set(err, VS_ERR_OPERATION_FAILED,
                         "image '%s' of disk '%s' already holds an internal snapshot named '%s'",
                         dv[i]->file, dv[i]->target, s->name);
            goto out;
        }
        json_object_object_add(data, "device", json_object_new_string(dv[i]->node));
        json_object_object_add(data, "name", json_object_new_string(s->name));
        json_object_object_add(a, "type", json_object_new_string("blockdev-snapshot-internal-sync"));
        json_object_object_add(a, "data", data);
        json_object_array_add(actions, a);
    }
    args = json_object_new_object();
    json_object_object_add(args, "actions", actions);
    actions = NULL;
    maybe_kill_qemu(q);
    ret = vs_qmp_command(q, "transaction", args, NULL, err);
 out:
    json_object_put(actions);
    devs_free(v, nv);
    free(dv);
    return ret;
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

/* ---- overlays ------------------------------------------------------------------ */

/* An overlay being made and opened (run_overlays). */
typedef struct ovl {
    const vs_step *s;
    vs_vm_disk *disk;        /* the step's disk */
    size_t ndisk;
    const dev *dv;
    char *sn, *fn, *id;      /* its node names, its blockdev-create job */
    bool done;               /* opened already */
} ovl;

/* The file of a new overlay on a gluster volume, made empty (or emptied:
 * QEMU truncates one that is there, as qemu-img create does) by a
 * blockdev-create job of the gluster driver, waited for. */
static int
create_gluster_file(vs_qmp *q, const vs_net_source *ns, vs_error *err)
{
    json_object *opt = json_object_new_object(), *args = json_object_new_object();
    json_object *loc = vs_net_source_blockdev(ns);
    char *id = job_id(JOB_CREATE);
    int ret;

    json_object_object_del(loc, "driver");   /* (BlockdevOptionsGluster has none) */
    json_object_object_add(opt, "driver", json_object_new_string("gluster"));
    json_object_object_add(opt, "location", loc);
    json_object_object_add(opt, "size", json_object_new_int64(0));
    json_object_object_add(args, "job-id", json_object_new_string(id));
    json_object_object_add(args, "options", opt);
    ret = vs_qmp_command(q, "blockdev-create", args, NULL, err);
    if (ret == 0)
        ret = job_end(q, id, CREATE_TIMEOUT_MS, err);
    free(id);
    return ret;
}

/*
 * Make (unless reused) and open the overlays of VM_OVERLAY steps, several
 * disks at once: each file created (0600, O_EXCL), opened, then every
 * blockdev-create job started, waited for, then each opened as an image with
 * no backing yet; finally the files and their directories synced.
 */
static int
run_overlays(vs_qmp *q, const vs_step *const *steps, size_t n, vs_error *err)
{
    dev *v = NULL;
    node *nv = NULL;
    size_t nd = 0, nn = 0, i, k;
    ovl *o = vs_xcalloc(n + 1, sizeof(*o));
    unsigned *gen = vs_xcalloc(n + 1, sizeof(*gen));
    char **dirs = NULL;
    json_object *args;
    struct stat sb;
    bool failed_start = false;
    int fd, ret = -1;

    if (query_graph(q, &v, &nd, &nv, &nn, err) < 0)
        goto out;
    for (i = 0; i < n; i++) {
        const vs_step *s = steps[i];
        bool blk, net;

        o[i].s = s;
        if (step_disks(s, &o[i].disk, &o[i].ndisk, err) < 0)
            goto out;
        if (o[i].ndisk != 1) {
            vs_error_set(err, VS_ERR_INTERNAL, "an overlay step names one disk");
            goto out;
        }
        if (resolve(v, nd, o[i].disk, 1, &o[i].dv, err) < 0)
            goto out;
        if ((o[i].done = node_of(nv, nn, s->path, true) != NULL))
            continue;   /* opened already */
        net = vs_net_locator_is(s->path);
        if (!net && !s->reuse && lstat(s->path, &sb) < 0) {
            /* private from the start; QEMU formats it */
            if ((fd = open(s->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
                vs_error_sys(err, errno, "cannot create '%s'", s->path);
                goto out;
            }
            close(fd);
        }
        blk = !net && stat(s->path, &sb) == 0 && S_ISBLK(sb.st_mode);
        /* the next free layer number, counting the ones this group takes */
        gen[i] = next_gen(nv, nn, o[i].disk->target);
        for (k = 0; k < i; k++)
            if (strcmp(o[k].disk->target, o[i].disk->target) == 0 && gen[k] >= gen[i])
                gen[i] = gen[k] + 1;
        o[i].sn = vs_xasprintf("vsnap-%s-%u-storage", o[i].disk->target, gen[i]);
        o[i].fn = vs_xasprintf("vsnap-%s-%u-format", o[i].disk->target, gen[i]);
        if (node_of(nv, nn, s->path, false)) {
            free(o[i].sn);
            o[i].sn = vs_xstrdup(node_of(nv, nn, s->path, false)->name);
            continue;
        }
        if (net) {
            /* an NBD export as it is, a volume's file created first (QEMU
             * opens no gluster file that is not there); QEMU formats it */
            vs_net_source ns;
            int rc = vs_net_source_from_locator(s->path, &ns, err);

            if (rc == 0 && !s->reuse && strcmp(ns.protocol, "gluster") == 0)
                rc = create_gluster_file(q, &ns, err);
            args = rc == 0 ? vs_net_source_blockdev(&ns) : NULL;
            vs_net_source_clear(&ns);
            if (rc < 0)
                goto out;
        } else {
            args = json_object_new_object();
            json_object_object_add(args, "driver",
                                   json_object_new_string(blk ? "host_device" : "file"));
            json_object_object_add(args, "filename", json_object_new_string(s->path));
        }
        json_object_object_add(args, "node-name", json_object_new_string(o[i].sn));
        json_object_object_add(args, "auto-read-only", json_object_new_boolean(1));
        json_object_object_add(args, "discard", json_object_new_string("unmap"));
        if (vs_qmp_command(q, "blockdev-add", args, NULL, err) < 0)
            goto out;
    }
    for (i = 0; i < n && !failed_start; i++) {
        json_object *opt;

        if (o[i].done || o[i].s->reuse)
            continue;
        opt = json_object_new_object();
        o[i].id = job_id(JOB_CREATE);
        json_object_object_add(opt, "driver", json_object_new_string(o[i].s->fmt));
        json_object_object_add(opt, "file", json_object_new_string(o[i].sn));
        json_object_object_add(opt, "size", json_object_new_int64((int64_t)o[i].dv->vsize));
        json_object_object_add(opt, "backing-file", json_object_new_string(o[i].s->backing));
        json_object_object_add(opt, "backing-fmt", json_object_new_string(o[i].s->backing_fmt));
        args = json_object_new_object();
        json_object_object_add(args, "job-id", json_object_new_string(o[i].id));
        json_object_object_add(args, "options", opt);
        if (vs_qmp_command(q, "blockdev-create", args, NULL, err) < 0) {
            free(o[i].id);
            o[i].id = NULL;
            failed_start = true;
        }
    }
    /* every job started is waited for and dismissed, also after a failure */
    ret = failed_start ? -1 : 0;
    for (i = 0; i < n; i++) {
        vs_error e;

        vs_error_clear(&e);
        if (o[i].id && job_end(q, o[i].id, CREATE_TIMEOUT_MS, ret == 0 ? err : &e) < 0)
            ret = -1;
    }
    if (ret < 0)
        goto fail;
    for (i = 0; i < n; i++) {
        if (o[i].done)
            continue;
        args = json_object_new_object();
        json_object_object_add(args, "node-name", json_object_new_string(o[i].fn));
        json_object_object_add(args, "driver", json_object_new_string(o[i].s->fmt));
        json_object_object_add(args, "file", json_object_new_string(o[i].sn));
        json_object_object_add(args, "read-only", json_object_new_boolean(0));
        json_object_object_add(args, "backing", NULL);
        if (vs_qmp_command(q, "blockdev-add", args, NULL, err) < 0)
            goto fail;
    }
    /* durable before the metadata names them: each file, each directory once */
    for (i = 0; i < n; i++) {
        char *dir;

        if (o[i].s->reuse || vs_net_locator_is(o[i].s->path))
            continue;   /* (a network image: QEMU flushed it with the job) */
        if ((fd = open(o[i].s->path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
            vs_error_sys(err, errno, "cannot open '%s'", o[i].s->path);
            goto fail;
        }
        if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && fchmod(fd, 0600) == 0 && fsync(fd) < 0) {
            vs_error_sys(err, errno, "cannot sync '%s'", o[i].s->path);
            close(fd);
            goto fail;
        }
        close(fd);
        dir = vs_path_dir(o[i].s->path);
        for (k = 0; dirs && dirs[k] && strcmp(dirs[k], dir) != 0; k++)
            ;
        if (!dirs || !dirs[k])
            vs_strv_push(&dirs, dir);
        free(dir);
    }
    for (k = 0; dirs && dirs[k]; k++)
        if (vs_dir_sync(dirs[k], err) < 0)
            goto fail;
    ret = 0;
    goto out;
 fail:
    ret = -1;
 out:
    for (i = 0; i < n; i++) {
        vs_vm_disks_free(o[i].disk, o[i].ndisk);
        free(o[i].sn);
        free(o[i].fn);
        free(o[i].id);
    }
    free(o);
    free(gen);
    vs_strv_free(dirs);
    nodes_free(nv, nn);
    devs_free(v, nd);
    return ret;
}

/* Close the overlay's nodes (its format node, then its protocol node). */
static int
close_overlay(vs_qmp *q, const char *path, vs_error *err)
{
    node *nv = NULL;
    size_t nn = 0;
    const node *o;
    int ret = -1;

    if (query_nodes(q, &nv, &nn, err) < 0)
        return -1;
    /* (a node QEMU named itself, "#block..", goes with what holds it) */
    if ((o = node_of(nv, nn, path, true)) && o->name[0] != '#' && blockdev_del(q, o->name, err) < 0)
        goto out;
    if ((o = node_of(nv, nn, path, false)) && o->name[0] != '#' && blockdev_del(q, o->name, err) < 0)
        goto out;
    ret = 0;
 out:
    nodes_free(nv, nn);
    return ret;
}

static int
undo_overlay(vs_exec_ctx *x, vs_qmp *q, const vs_step *s, vs_error *err)
{
    struct stat sb;

    if (q && close_overlay(q, s->path, err) < 0)
        return -1;
    (void)x;
    /* the file goes only if the plan made it (a network image never goes) */
    if (s->keep_on_undo || s->reuse || vs_net_locator_is(s->path) || lstat(s->path, &sb) < 0 ||
        !S_ISREG(sb.st_mode))
        return 0;
    return vs_file_remove(s->path, err);
}

/* Keep vsnap's record of what QEMU runs (run/domain.xml) in step with the
 * disks: each disk of the step on its overlay (or, back, on its image). */
static int
record_disks(vs_exec_ctx *x, const vs_vm_disk *disks, size_t n, bool on_overlay,
             const node *nv, size_t nn, vs_error *err)
{
    vs_domain_def *def = vs_domain_live_def(x->d, err);
    size_t i;
    int ret = 0;

    if (!def)
        return -1;
    for (i = 0; i < n && ret == 0; i++) {
        const char *path = on_overlay ? disks[i].overlay : disks[i].image;
        const node *fmt = node_of(nv, nn, path, true);
        struct stat sb;
        int k = vs_domain_def_disk_index(def, disks[i].target);

        if (k < 0)
            continue;
        ret = vs_domain_def_set_disk_source(def, (size_t)k,
                                            stat(path, &sb) == 0 && S_ISBLK(sb.st_mode)
                                            ? VS_STORAGE_BLOCK : VS_STORAGE_FILE, path,
                                            fmt && fmt->drv ? fmt->drv : def->disks[k].format,
                                            err);
    }
    if (ret == 0)
        ret = vs_domain_live_def_save(x->d, def, err);
    vs_domain_def_free(def);
    return ret;
}

/* The transaction: every disk of the step onto its overlay, at once. */
static int
run_snapshot_disks(vs_exec_ctx *x, vs_qmp *q, const vs_vm_disk *disks, size_t n, vs_error *err)
{
    dev *v = NULL;
    node *nv = NULL;
    size_t nd = 0, nn = 0, i, todo = 0;
    json_object *actions = json_object_new_array(), *args;
    int ret = -1;

    if (query_graph(q, &v, &nd, &nv, &nn, err) < 0)
        goto out;
    for (i = 0; i < n; i++) {
        const dev *dv = dev_find(v, nd, disks[i].target);
        const node *ov = node_of(nv, nn, disks[i].overlay, true);
        json_object *a, *data;

        if (dv && dv->file && vs_same_image(dv->file, disks[i].overlay))
            continue;   /* moved already */
        if (resolve(v, nd, &disks[i], 1, &dv, err) < 0)
            goto out;
        if (!ov) {
            vs_error_set(err, VS_ERR_OPERATION_FAILED, "QEMU has no node for overlay '%s' of "
                         "disk '%s'", disks[i].overlay, disks[i].target);
            goto out;
        }
        data = json_object_new_object();
        json_object_object_add(data, "node", json_object_new_string(dv->node));
        json_object_object_add(data, "overlay", json_object_new_string(ov->name));
        a = json_object_new_object();
        json_object_object_add(a, "type", json_object_new_string("blockdev-snapshot"));
        json_object_object_add(a, "data", data);
        json_object_array_add(actions, a);
        todo++;
    }
    if (todo) {
        args = json_object_new_object();
        json_object_object_add(args, "actions", actions);
        actions = NULL;
        maybe_kill_qemu(q);
        if (vs_qmp_command(q, "transaction", args, NULL, err) < 0)
            goto out;
        maybe_kill_qemu(q);
    }
    ret = record_disks(x, disks, n, true, nv, nn, err);
 out:
    json_object_put(actions);
    nodes_free(nv, nn);
    devs_free(v, nd);
    return ret;
}

/* Undo of the transaction: every disk that is on its overlay goes back
 * onto its image with what the guest wrote since (an active commit). With
 * QEMU gone, qemu-img commits the overlay. */
static int
undo_snapshot_disks(vs_exec_ctx *x, vs_qmp *q, const vs_vm_disk *disks, size_t n, vs_error *err)
{
    dev *v = NULL;
    node *nv = NULL;
    size_t nd = 0, nn = 0, i;
    int ret = -1;

    if (!q) {
        if (images_settle(disks, n, err) < 0)
            return -1;
        for (i = 0; i < n; i++)
            if ((vs_path_is_network(disks[i].overlay) || vs_file_exists(disks[i].overlay)) &&
                vs_exec_backing_is(disks[i].overlay, disks[i].image) == 1 &&
                offline_commit(disks[i].overlay, err) < 0)
                return -1;
        return 0;
    }
    if (query_graph(q, &v, &nd, &nv, &nn, err) < 0)
        goto out;
    for (i = 0; i < n; i++) {
        const dev *dv = dev_find(v, nd, disks[i].target);
        const node *base = node_of(nv, nn, disks[i].image, true);

        if (!dv || !dv->file || !vs_same_image(dv->file, disks[i].overlay))
            continue;
        if (!base) {
            vs_error_set(err, VS_ERR_OPERATION_FAILED, "QEMU has no node for image '%s' of "
                         "disk '%s' to commit its overlay into", disks[i].image, disks[i].target);
            goto out;
        }
        if (commit_nodes(q, dv->node, dv->node, base->name, err) < 0)
            goto out;
    }
    ret = record_disks(x, disks, n, false, nv, nn, err);
 out:
    nodes_free(nv, nn);
    devs_free(v, nd);
    return ret;
}

/* How many of the step's disks are on their overlays; -1 cannot tell. */
static long
count_moved(vs_exec_ctx *x, const vs_vm_disk *disks, size_t n)
{
    vs_qmp *q;
    dev *v = NULL;
    size_t nv = 0, i;
    long count = 0;

    if (monitor(x, &q, NULL) != 1)
        return -1;
    if (query_devs(q, &v, &nv, NULL) < 0) {
        failed(x);
        return -1;
    }
    for (i = 0; i < n; i++) {
        const dev *dv = dev_find(v, nv, disks[i].target);

        if (dv && dv->file && disks[i].overlay && vs_same_image(dv->file, disks[i].overlay))
            count++;
    }
    devs_free(v, nv);
    return count;
}

/* ---- merging layers ------------------------------------------------------------ */

/*
 * Start the job of layer step s (VM_COMMIT, VM_STREAM) on QEMU's devices
 * and nodes; *j->id NULL when there is nothing to do: the layer is out of
 * the disk's chain already (a commit, or a stream whose layer's backing
 * file is what the step makes it).
 */
static int
layer_start(vs_qmp *q, const vs_step *s, const dev *v, size_t nv, const node *nn, size_t nnn,
            job *j, const dev **disk, vs_error *err)
{
    vs_vm_disk *disks = NULL;
    size_t n = 0;
    const dev *dv;
    const node *top, *base = NULL;
    int ret = -1;

    j->id = NULL;
    if (step_disks(s, &disks, &n, err) < 0)
        return -1;
    if (n != 1 || !(dv = dev_find(v, nv, disks[0].target))) {
        vs_error_set(err, VS_ERR_OPERATION_FAILED, "the running QEMU has no disk '%s'",
                     n ? disks[0].target : "?");
        goto out;
    }
    *disk = dv;
    if (!dev_uses(dv, s->path)) {
        /* merged already (or, for a stream, the layer is gone: nothing to copy into) */
        if (s->kind == VS_STEP_VM_COMMIT)
            ret = 0;
        else
            ret = vs_error_set(err, VS_ERR_OPERATION_FAILED,
                               "disk '%s' of the running QEMU no longer uses image '%s'",
                               dv->target, s->path);
        goto out;
    }
    if (!(top = node_of(nn, nnn, s->path, true)) ||
        (s->backing && *s->backing && !(base = node_of(nn, nnn, s->backing, true)))) {
        vs_error_set(err, VS_ERR_OPERATION_FAILED, "QEMU has no node for image '%s' of disk '%s'",
                     top ? s->backing : s->path, dv->target);
        goto out;
    }
    if (s->kind == VS_STEP_VM_STREAM) {
        if ((!base && !top->backing) ||
            (base && top->backing && vs_same_image(top->backing, s->backing))) {
            ret = 0;   /* its backing file is that already */
            goto out;
        }
        ret = stream_start(q, top->name, base ? base->name : NULL, j, err);
        goto out;
    }
    if (!base) {
        ret = vs_error_set(err, VS_ERR_INTERNAL, "a commit needs the image it goes into");
        goto out;
    }
    /* a network base keeps its locator as the backing name above it */
    ret = commit_start(q, dv->node, top->name, base->name,
                       vs_path_is_network(s->backing) ? s->backing : NULL, j, err);
 out:
    vs_vm_disks_free(disks, n);
    return ret;
}

/* What the jobs of layer steps do, for progress (qemu_img.c's words). */
static char *
layers_what(const vs_step *const *steps, size_t n)
{
    bool commit = steps[0]->kind == VS_STEP_VM_COMMIT;

    if (n > 1)
        return vs_xasprintf("%s %zu images", commit ? "committing" : "streaming into", n);
    if (commit)
        return vs_xasprintf("committing '%s' into %s", steps[0]->path,
                            steps[0]->backing && *steps[0]->backing ? steps[0]->backing
                                                                     : "its backing file");
    return vs_xasprintf("streaming into '%s'", steps[0]->path);
}

/* Layer steps (independent ones of one kind at once): start every job,
 * then finish each; a commit of the active layer moves its disk, which
 * vsnap's record follows. */
static int
run_layers(vs_exec_ctx *x, vs_qmp *q, const vs_step *const *steps, size_t n, vs_error *err)
{
    dev *v = NULL;
    node *nn = NULL;
    size_t nv = 0, nnn = 0, i, started = 0;
    job *jobs = vs_xcalloc(n + 1, sizeof(*jobs));
    const dev **disk = vs_xcalloc(n + 1, sizeof(*disk));
    int ret = -1;

    if (query_graph(q, &v, &nv, &nn, &nnn, err) < 0)
        goto out;
    for (i = 0; i < n; i++) {
        if (layer_start(q, steps[i], v, nv, nn, nnn, &jobs[i], &disk[i], err) < 0)
            goto finish;
        started = i + 1;
    }
    maybe_kill_qemu(q);
 finish:
    ret = started == n ? 0 : -1;
    if (ret == 0) {
        char *what = layers_what(steps, n);

        vs_qmp_set_progress(q, what);
        free(what);
    }
    /* the commits of active layers completed once ready, all of them, then
     * every job waited for (each one QEMU has is ended, also after a failure) */
    for (i = 0; i < started; i++) {
        vs_error e;

        vs_error_clear(&e);
        if (jobs[i].id && jobs[i].needs_complete &&
            (vs_qmp_job_wait(q, jobs[i].id, "ready", COMMIT_TIMEOUT_MS, ret == 0 ? err : &e) < 0 ||
             job_verb(q, "job-complete", jobs[i].id, ret == 0 ? err : &e) < 0)) {
            ret = -1;
            vs_error_clear(&e);
            if (job_verb(q, "job-cancel", jobs[i].id, &e) < 0)
                continue;
        }
    }
    for (i = 0; i < started; i++) {
        vs_error e;

        vs_error_clear(&e);
        if (jobs[i].id && job_end(q, jobs[i].id, COMMIT_TIMEOUT_MS, ret == 0 ? err : &e) < 0)
            ret = -1;
    }
    vs_qmp_end_progress(q, ret == 0);
    for (i = 0; ret == 0 && i < n; i++) {
        vs_vm_disk d = { disk[i] ? disk[i]->target : NULL, NULL, (char *)steps[i]->backing };

        /* the active layer merged down: the disk is on the base now, and the
         * layer's nodes, out of the chain, are closed */
        if (steps[i]->kind == VS_STEP_VM_COMMIT && jobs[i].needs_complete && jobs[i].id &&
            ((ret = record_disks(x, &d, 1, true, nn, nnn, err)) < 0 ||
             (ret = close_overlay(q, steps[i]->path, err)) < 0))
            break;
    }
 out:
    for (i = 0; i < n; i++)
        job_clear(&jobs[i]);
    free(jobs);
    free(disk);
    nodes_free(nn, nnn);
    devs_free(v, nv);
    return ret;
}

/* A layer step with QEMU gone: the same merge with qemu-img, on images no
 * process holds now. */
static int
layer_offline(const vs_step *s, vs_error *err)
{
    if (!vs_file_exists(s->path))
        return 0;
    if (vs_qemu_img_repair_leaks(s->path, err) < 0 ||
        (s->backing && *s->backing && vs_qemu_img_repair_leaks(s->backing, err) < 0))
        return -1;
    if (s->kind == VS_STEP_VM_COMMIT) {
        if (vs_exec_backing_is(s->path, s->backing) != 1)
            return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                                "'%s' is not based on '%s' any more; it was left alone",
                                s->path, s->backing);
        return offline_commit(s->path, err);
    }
    if (vs_exec_backing_is(s->path, s->backing) == 1)
        return 0;
    return offline_rebase(s->path, s->backing, err);
}

/* Close QEMU's nodes of an image no disk uses any more. */
static int
run_close(vs_qmp *q, const char *path, vs_error *err)
{
    dev *v = NULL;
    node *nn = NULL;
    size_t nv = 0, nnn = 0, i;
    bool open_now;
    int ret = -1;

    /* closed already (a commit of the active layer closes it): one look */
    if (query_nodes(q, &nn, &nnn, err) < 0)
        return -1;
    open_now = node_of(nn, nnn, path, true) || node_of(nn, nnn, path, false);
    nodes_free(nn, nnn);
    if (!open_now)
        return 0;
    if (query_devs(q, &v, &nv, err) < 0)
        return -1;
    for (i = 0; i < nv; i++)
        if (dev_uses(&v[i], path)) {
            vs_error_set(err, VS_ERR_OPERATION_FAILED, "disk '%s' of the running QEMU still uses "
                         "image '%s'", v[i].target, path);
            goto out;
        }
    /* (nodes QEMU named itself, "#block..", go with what held them) */
    ret = close_overlay(q, path, err);
 out:
    devs_free(v, nv);
    return ret;
}

/* ---- the guest agent ------------------------------------------------------------- */

/* guest-fsfreeze-freeze / -thaw / -status. 0 with QEMU gone and
 * gone_ok (nothing to thaw: the guest is shut off). */
static int
agent_call(vs_exec_ctx *x, const char *cmd, int timeout_ms, bool gone_ok, char **status,
           vs_error *err)
{
    vs_qmp *a, *q;
    json_object *r = NULL;
    int ret;

    if (status)
        *status = NULL;
    /* (through the monitor connection the plan holds: QEMU serves one) */
    if ((ret = monitor(x, &q, err)) < 0)
        return -1;
    if (ret == 0)
        return gone_ok ? 0 : vs_error_set(err, VS_ERR_OPERATION_INVALID, "domain is not running");
    if (!(a = vs_domain_agent(x->d, timeout_ms < AGENT_CONNECT_MS ? timeout_ms : AGENT_CONNECT_MS,
                              err)))
        return -1;
    vs_qmp_set_limits(a, timeout_ms, 0);
    ret = vs_qmp_command(a, cmd, NULL, &r, err);
    if (ret == 0 && status && r && json_object_is_type(r, json_type_string))
        *status = vs_xstrdup(json_object_get_string(r));
    json_object_put(r);
    vs_qmp_free(a);
    return ret;
}

static vs_seen
observe_frozen(vs_exec_ctx *x, bool want_frozen)
{
    char *st = NULL;
    vs_qmp *q;
    vs_seen seen = VS_SEEN_UNKNOWN;

    if (monitor(x, &q, NULL) == 0)
        return want_frozen ? VS_SEEN_NOT_DONE : VS_SEEN_DONE;
    if (agent_call(x, "guest-fsfreeze-status", THAW_TIMEOUT_MS, false, &st, NULL) == 0 && st)
        seen = (strcmp(st, "frozen") == 0) == want_frozen ? VS_SEEN_DONE : VS_SEEN_NOT_DONE;
    free(st);
    return seen;
}

/* A layer step, looked at: a commit is done once the layer is out of every
 * disk's chain, a stream once its layer has the new backing file, a close
 * once QEMU has no node of the image. With QEMU gone: the files tell. */
static vs_seen
observe_layer(vs_exec_ctx *x, vs_qmp *q, int rc, const vs_step *s)
{
    dev *v = NULL;
    node *nn = NULL;
    size_t nv = 0, nnn = 0, i;
    const node *o;
    vs_seen seen = VS_SEEN_UNKNOWN;
    bool used = false;

    if (rc == 0) {
        if (s->kind == VS_STEP_VM_CLOSE || !vs_file_exists(s->path))
            return VS_SEEN_DONE;
        if (s->kind == VS_STEP_VM_STREAM)
            return vs_exec_backing_is(s->path, s->backing) == 1 ? VS_SEEN_DONE : VS_SEEN_NOT_DONE;
        return VS_SEEN_UNKNOWN;   /* a commit cannot be seen in the files: replay decides */
    }
    if (query_graph(q, &v, &nv, &nn, &nnn, NULL) < 0) {
        failed(x);
        goto out;
    }
    for (i = 0; i < nv; i++)
        used = used || dev_uses(&v[i], s->path);
    o = node_of(nn, nnn, s->path, true);
    if (s->kind == VS_STEP_VM_COMMIT)
        seen = used ? VS_SEEN_NOT_DONE : VS_SEEN_DONE;
    else if (s->kind == VS_STEP_VM_CLOSE)
        seen = o || node_of(nn, nnn, s->path, false) ? VS_SEEN_NOT_DONE : VS_SEEN_DONE;
    else if (!used)
        seen = VS_SEEN_UNKNOWN;
    else
        seen = o && (*s->backing ? o->backing && vs_same_image(o->backing, s->backing) : !o->backing)
               ? VS_SEEN_DONE : VS_SEEN_NOT_DONE;
 out:
    nodes_free(nn, nnn);
    devs_free(v, nv);
    return seen;
}

/* Independent commits (or streams) of several disks at once, in QEMU. */
static int
run_group(vs_exec_ctx *x, const vs_step *const *steps, size_t n, vs_error *err)
{
    vs_qmp *q;
    size_t i;
    int rc;

    if ((rc = monitor(x, &q, err)) < 0)
        return -1;
    if (rc == 1 && steps[0]->kind != VS_STEP_VM_OVERLAY && reactivate(x, q, err) < 0)
        return -1;
    if (steps[0]->kind == VS_STEP_VM_OVERLAY) {
        if (rc == 0)
            return vs_error_set(err, VS_ERR_OPERATION_INVALID, "domain is not running");
        return run_overlays(q, steps, n, err) < 0 ? failed(x) : 0;
    }
    if (rc == 0) {
        for (i = 0; i < n; i++)
            if (layer_offline(steps[i], err) < 0)
                return -1;
        return 0;
    }
    if (run_layers(x, q, steps, n, err) < 0)
        return failed(x);
    return 0;
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
         s->kind == VS_STEP_VM_TAG_DELETE || s->kind == VS_STEP_VM_OVERLAY ||
         s->kind == VS_STEP_VM_SNAPSHOT_DISKS || s->kind == VS_STEP_VM_TAG_DISKS) &&
        step_disks(s, &disks, &n, err) < 0)
        return -1;
    /* the agent has a connection of its own */
    if (s->kind == VS_STEP_VM_FREEZE || s->kind == VS_STEP_VM_THAW)
        return agent_call(x, s->kind == VS_STEP_VM_FREEZE ? "guest-fsfreeze-freeze"
                                                          : "guest-fsfreeze-thaw",
                          s->kind == VS_STEP_VM_FREEZE ? FREEZE_TIMEOUT_MS : THAW_TIMEOUT_MS,
                          s->kind == VS_STEP_VM_THAW, NULL, err);
    if ((rc = monitor(x, &q, err)) < 0)
        goto out;
    if (rc == 1 && (s->kind == VS_STEP_VM_SAVE || s->kind == VS_STEP_VM_TAG_DELETE ||
                    s->kind == VS_STEP_VM_TAG_DISKS || s->kind == VS_STEP_VM_COMMIT ||
                    s->kind == VS_STEP_VM_STREAM) && reactivate(x, q, err) < 0)
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
        if (vs_domain_start_flags(x->d, VS_START_PAUSED |
                                  (s->reset_nvram ? VS_START_RESET_NVRAM : 0), err) < 0 ||
            vs_domain_record_state(x->d, VS_RUN_PAUSED, s->name, err) < 0)
            break;
        ret = 0;
        break;
    case VS_STEP_VM_STOP:
        drop(x);
        q = NULL;
        ret = vs_domain_stop(x->d, s->name, err);
        break;
    case VS_STEP_VM_OVERLAY:
        if (rc == 0)
            ret = vs_error_set(err, VS_ERR_OPERATION_INVALID, "domain is not running");
        else
            ret = run_overlays(q, &s, 1, err);
        break;
    case VS_STEP_VM_SNAPSHOT_DISKS:
        if (rc == 0)
            ret = vs_error_set(err, VS_ERR_OPERATION_FAILED,
                               "QEMU of domain '%s' is gone: its disks cannot move onto the "
                               "overlays", x->d->name);
        else
            ret = run_snapshot_disks(x, q, disks, n, err);
        break;
    case VS_STEP_VM_COMMIT:
    case VS_STEP_VM_STREAM:
        ret = rc == 0 ? layer_offline(s, err) : run_layers(x, q, &s, 1, err);
        break;
    case VS_STEP_VM_CLOSE:
        ret = rc == 0 ? 0 : run_close(q, s->path, err);
        break;
    case VS_STEP_VM_TAG_DISKS:
        if (rc == 0)
            ret = vs_error_set(err, VS_ERR_OPERATION_FAILED,
                               "QEMU of domain '%s' is gone: no snapshot of its disks can be "
                               "taken while it runs", x->d->name);
        else
            ret = run_tag_disks(q, s, disks, n, err);
        break;
    case VS_STEP_VM_SAVE_MEMORY:
        if (rc == 0)
            ret = vs_error_set(err, VS_ERR_OPERATION_INVALID, "domain is not running");
        else
            ret = run_save_memory(x, q, s, err);
        break;
    case VS_STEP_VM_RESTORE:
        if (rc == 1)
            ret = vs_error_set(err, VS_ERR_OPERATION_INVALID, "domain '%s' is already active",
                               x->d->name);
        else
            ret = run_restore(x, s, err);
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
    case VS_STEP_VM_TAG_DISKS:
    case VS_STEP_VM_TAG_DELETE:
        if (vs_vm_disks_parse(s->text, &disks, &n) < 0)
            break;
        count = count_tagged(x, disks, n, s->name);
        if (count < 0)
            break;
        if (s->kind != VS_STEP_VM_TAG_DELETE)
            seen = (size_t)count == n ? VS_SEEN_DONE : count == 0 ? VS_SEEN_NOT_DONE
                                                                   : VS_SEEN_UNKNOWN;
        else
            seen = count == 0 ? VS_SEEN_DONE : VS_SEEN_NOT_DONE;
        break;
    case VS_STEP_VM_LOAD:
        seen = VS_SEEN_UNKNOWN;   /* a guest's memory cannot be compared: load again */
        break;
    case VS_STEP_VM_OVERLAY:
        if (rc == 1) {
            node *nv = NULL;
            size_t nn = 0;

            if (query_nodes(q, &nv, &nn, NULL) == 0)
                seen = node_of(nv, nn, s->path, true) ? VS_SEEN_DONE : VS_SEEN_NOT_DONE;
            nodes_free(nv, nn);
        }
        break;
    case VS_STEP_VM_SNAPSHOT_DISKS:
        if (vs_vm_disks_parse(s->text, &disks, &n) < 0 || rc == 0)
            break;
        count = count_moved(x, disks, n);
        seen = count < 0 ? VS_SEEN_UNKNOWN : (size_t)count == n ? VS_SEEN_DONE
               : count == 0 ? VS_SEEN_NOT_DONE : VS_SEEN_UNKNOWN;
        break;
    case VS_STEP_VM_FREEZE:
    case VS_STEP_VM_THAW:
        seen = observe_frozen(x, s->kind == VS_STEP_VM_FREEZE);
        break;
    case VS_STEP_VM_COMMIT:
    case VS_STEP_VM_STREAM:
    case VS_STEP_VM_CLOSE:
        seen = observe_layer(x, q, rc, s);
        break;
    case VS_STEP_VM_START:
    case VS_STEP_VM_RESTORE:
        seen = rc == 1 ? VS_SEEN_DONE : VS_SEEN_NOT_DONE;
        break;
    case VS_STEP_VM_SAVE_MEMORY:
        seen = observe_save_memory(s);
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
    if (rc == 1 && (s->kind == VS_STEP_VM_SAVE || s->kind == VS_STEP_VM_TAG_DISKS ||
                    s->kind == VS_STEP_VM_OVERLAY || s->kind == VS_STEP_VM_SNAPSHOT_DISKS) &&
        reactivate(x, q, err) < 0)
        return -1;
    switch (s->kind) {
    case VS_STEP_VM_PAUSE:
        /* the guest runs again, with the reason it had */
        ret = rc == 0 ? 0 : cont(x, q, s->old_name ? s->old_name : "unpaused", err);
        break;
    case VS_STEP_VM_SAVE:
    case VS_STEP_VM_TAG_DISKS:
        /* the tag goes from every disk that has it, whether the save ran
         * whole, in part (QEMU leaves the disks it did) or not at all */
        if (step_disks(s, &disks, &n, err) < 0)
            break;
        ret = rc == 0 ? images_tag(disks, n, s->name, false, err)
                      : run_tag_delete(q, s->name, disks, n, err);
        break;
    case VS_STEP_VM_START:
    case VS_STEP_VM_RESTORE:
        drop(x);
        ret = rc == 0 ? 0 : vs_domain_stop(x->d, "failed", err);
        break;
    case VS_STEP_VM_SAVE_MEMORY:
        ret = undo_save_memory(x, rc == 1 ? q : NULL, s, err);
        break;
    case VS_STEP_VM_OVERLAY:
        ret = undo_overlay(x, rc == 1 ? q : NULL, s, err);
        break;
    case VS_STEP_VM_SNAPSHOT_DISKS:
        if (step_disks(s, &disks, &n, err) < 0)
            break;
        ret = undo_snapshot_disks(x, rc == 1 ? q : NULL, disks, n, err);
        break;
    case VS_STEP_VM_FREEZE:
        ret = agent_call(x, "guest-fsfreeze-thaw", THAW_TIMEOUT_MS, true, NULL, err);
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
    .run_group = run_group,
    .undo = undo,
    .observe = observe,
    .finish = finish,
};
