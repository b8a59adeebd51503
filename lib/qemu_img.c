#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "disk_source.h"
#include "mem.h"
#include "path.h"
#include "progress.h"
#include "qcow2.h"
#include "qemu_img.h"
#include "spawn.h"

const char *
vs_qemu_img_prog(void)
{
    const char *p = getenv("VSNAP_QEMU_IMG");

    return p && *p ? p : VSNAP_QEMU_IMG;
}

/*
 * qemu-img takes "json:{...}", "proto:..." and "-opt" forms for what looks
 * like a file name. An absolute path is always a plain file to it.
 */
static char *
safe_image_arg(const char *image)
{
    return vs_path_absolute(image);
}

static char *last_line(const char *s);

/* ---- network images: a bounded time ------------------------------------------- */

/* The defaults: NBD answers at once; every gluster client takes about 10 s
 * to close (glfs_fini), and one qemu-img call may open the volume three
 * times (an overlay created over a gluster backing file). */
#define NETWORK_TIMEOUT_NBD      30
#define NETWORK_TIMEOUT_GLUSTER 120

/* VSNAP_NETWORK_TIMEOUT: the seconds a qemu-img call that opens network
 * image `image` may take (0: no bound); unless set, the protocol's default. */
static int
network_timeout(const char *image, int *seconds, vs_error *err)
{
    const char *v = getenv("VSNAP_NETWORK_TIMEOUT");
    char *end;
    long n;

    *seconds = strncmp(image, "nbd", 3) == 0 ? NETWORK_TIMEOUT_NBD : NETWORK_TIMEOUT_GLUSTER;
    if (!v || !*v)
        return 0;
    n = strtol(v, &end, 10);
    if (*end || n < 0 || n > 86400)
        return vs_error_set(err, VS_ERR_INVALID_ARG,
                            "VSNAP_NETWORK_TIMEOUT must be a number of seconds from 0 to 86400, "
                            "not '%s'", v);
    *seconds = (int)n;
    return 0;
}

/* The first network image argv names (the image, a -b backing file), NULL
 * when it names none. */
static const char *
network_arg(const char *const argv[])
{
    size_t i;

    for (i = 1; argv[i]; i++)
        if (vs_path_is_network(argv[i]))
            return argv[i];
    return NULL;
}

/* "the NBD server unix:/run/nbd.sock", "the gluster server host:24007" */
static char *
server_of(const char *locator)
{
    vs_net_source ns = { 0 };
    char *s;

    if (vs_net_source_from_locator(locator, &ns, NULL) < 0 || !ns.nhosts) {
        vs_net_source_clear(&ns);
        return vs_xasprintf("the server of '%s'", locator);
    }
    if (ns.hosts[0].socket)
        s = vs_xasprintf("the %s server unix:%s", strcmp(ns.protocol, "nbd") == 0 ? "NBD" : ns.protocol,
                         ns.hosts[0].socket);
    else
        s = vs_xasprintf("the %s server %s:%s", strcmp(ns.protocol, "nbd") == 0 ? "NBD" : ns.protocol,
                         ns.hosts[0].name,
                         ns.hosts[0].port ? ns.hosts[0].port
                                          : strcmp(ns.protocol, "nbd") == 0 ? "10809" : "24007");
    vs_net_source_clear(&ns);
    return s;
}

/* The bound, in ms, of a qemu-img call with argv (0: none): only one that
 * opens a network image. */
static int
bound_of(const char *const argv[], vs_error *err)
{
    const char *net = network_arg(argv);
    size_t i;
    int t;

    if (!net)
        return 0;
    /* (the longest default of the protocols it opens) */
    for (i = 1; argv[i]; i++)
        if (vs_path_is_network(argv[i]) && strncmp(argv[i], "nbd", 3) != 0)
            net = argv[i];
    if (network_timeout(net, &t, err) < 0)
        return -1;
    return t * 1000;
}

static int
timed_out(vs_error *err, const char *what, const char *const argv[], int ms)
{
    char *srv = server_of(network_arg(argv));

    vs_error_set(err, VS_ERR_TIMEOUT,
                 "%s: no answer from %s within %d s (qemu-img stopped; "
                 "VSNAP_NETWORK_TIMEOUT sets the bound)", what, srv, ms / 1000);
    free(srv);
    return -1;
}

/* The call on a network image: bounded; the error as run_qemu_img words it. */
static int
run_qemu_img_net(const char *const argv[], int ms, char **out, vs_error *err, const char *what)
{
    vs_spawn_result r;
    char *line;
    int ret = -1;

    if (vs_spawn_timed(argv, ms, &r, err) < 0)
        return -1;
    if (r.timed_out) {
        timed_out(err, what, argv, ms);
    } else if (r.status == 0) {
        if (out) {
            *out = r.out;
            r.out = NULL;
        }
        ret = 0;
    } else if ((line = last_line(r.err))) {
        vs_error_set(err, VS_ERR_OPERATION_FAILED, "%s: %s", what, line);
        free(line);
    } else {
        vs_error_set(err, VS_ERR_OPERATION_FAILED, "%s: exited with status %d", what, r.status);
    }
    vs_spawn_result_free(&r);
    return ret;
}

/* vs_spawn, bounded when argv opens a network image (the error named as
 * what says) */
static int
spawn_bounded(const char *const argv[], vs_spawn_result *r, const char *what, vs_error *err)
{
    int ms = bound_of(argv, err);

    if (ms < 0 || vs_spawn_timed(argv, ms, r, err) < 0)
        return -1;
    if (r->timed_out) {
        vs_spawn_result_free(r);
        return timed_out(err, what, argv, ms);
    }
    return 0;
}

int
vs_qemu_img_probe(const char *image, vs_error *err)
{
    vs_image_info info;

    if (!image || !vs_path_is_network(image))
        return 0;
    if (vs_qemu_img_info(image, true, &info, err) < 0)
        return -1;
    vs_image_info_clear(&info);
    return 0;
}

/*
 * Run qemu-img; on failure restate the error so it names the image and the
 * step ("operation failed: failed to ... image '/x': <qemu-img's reason>").
 * A program that cannot be started keeps spawn's message. A call that opens
 * a network image is bounded (VSNAP_NETWORK_TIMEOUT).
 */
static int
run_qemu_img(const char *const argv[], char **out, vs_error *err, const char *what)
{
    vs_error local;
    const char *detail, *prog;
    char *head;
    int ms = bound_of(argv, err);

    if (ms < 0)
        return -1;
    if (ms > 0)
        return run_qemu_img_net(argv, ms, out, err, what);
    vs_error_clear(&local);
    if (vs_spawn_check(argv, out, &local) == 0)
        return 0;
    if (local.code != VS_ERR_OPERATION_FAILED) {
        if (err)
            *err = local;
        return -1;
    }
    /* local.msg: "operation failed: qemu-img snapshot failed: qemu-img: DETAIL" */
    prog = strrchr(argv[0], '/');
    prog = prog ? prog + 1 : argv[0];
    head = vs_xasprintf("%s%s %s failed: ", vs_error_prefix(VS_ERR_OPERATION_FAILED),
                        prog, argv[1]);
    detail = local.msg;
    if (strncmp(detail, head, strlen(head)) == 0)
        detail += strlen(head);
    free(head);
    if (strncmp(detail, prog, strlen(prog)) == 0 && strncmp(detail + strlen(prog), ": ", 2) == 0)
        detail += strlen(prog) + 2;
    vs_error_set(err, VS_ERR_OPERATION_FAILED, "%s: %s", what, detail);
    return -1;
}

/* what: the step, already naming the image; owned here. */
static int run_job(const struct vs_qemu_img_job *j, vs_error *err);

int
vs_qemu_img_snapshot_create(const char *image, const char *tag, vs_error *err)
{
    vs_qemu_img_job j = { VS_QIMG_SNAPSHOT_CREATE, image, NULL, NULL, NULL, tag };

    return run_job(&j, err);
}

int
vs_qemu_img_snapshot_apply(const char *image, const char *tag, vs_error *err)
{
    vs_qemu_img_job j = { VS_QIMG_SNAPSHOT_APPLY, image, NULL, NULL, NULL, tag };

    return run_job(&j, err);
}

int
vs_qemu_img_snapshot_delete(const char *image, const char *tag, vs_error *err)
{
    vs_qemu_img_job j = { VS_QIMG_SNAPSHOT_DELETE, image, NULL, NULL, NULL, tag };

    return run_job(&j, err);
}

static char *
json_str(json_object *o, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return vs_xstrdup(json_object_get_string(v));
}

static unsigned long long
json_u64(json_object *o, const char *key)
{
    json_object *v;
    int64_t n;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return 0;
    n = json_object_get_int64(v);
    return n < 0 ? 0 : (unsigned long long)n;
}

static void
info_from_json(json_object *o, vs_image_info *info)
{
    json_object *snaps;
    size_t k, n;

    memset(info, 0, sizeof(*info));
    info->filename = json_str(o, "filename");
    info->format = json_str(o, "format");
    info->virtual_size = json_u64(o, "virtual-size");
    info->actual_size = json_u64(o, "actual-size");
    info->backing_filename = json_str(o, "backing-filename");
    info->full_backing_filename = json_str(o, "full-backing-filename");
    info->backing_format = json_str(o, "backing-filename-format");
    info->snapshot_tags = vs_xcalloc(1, sizeof(char *));
    if (json_object_object_get_ex(o, "snapshots", &snaps) &&
        json_object_is_type(snaps, json_type_array)) {
        n = json_object_array_length(snaps);
        for (k = 0; k < n; k++) {
            json_object *s = json_object_array_get_idx(snaps, k), *name;

            if (s && json_object_object_get_ex(s, "name", &name) &&
                json_object_is_type(name, json_type_string))
                vs_strv_push(&info->snapshot_tags, json_object_get_string(name));
        }
    }
}

int
vs_qemu_img_info(const char *image, bool force_share, vs_image_info *info, vs_error *err)
{
    char *img = safe_image_arg(image);
    const char *argv[6];
    char *out = NULL;
    json_object *root = NULL;
    enum json_tokener_error jerr;
    size_t i = 0;
    char *what = NULL;
    int ret = -1;

    memset(info, 0, sizeof(*info));
    argv[i++] = vs_qemu_img_prog();
    argv[i++] = "info";
    argv[i++] = "--output=json";
    if (force_share)
        argv[i++] = "-U";
    argv[i++] = img;
    argv[i] = NULL;
    what = vs_xasprintf("failed to query image '%s'", image);
    if (run_qemu_img(argv, &out, err, what) < 0)
        goto out;
    root = json_tokener_parse_verbose(out, &jerr);
    if (!root || !json_object_is_type(root, json_type_object)) {
        vs_error_set(err, VS_ERR_INTERNAL, "cannot parse qemu-img info output for image '%s'",
                     image);
        goto out;
    }
    info_from_json(root, info);
    ret = 0;
 out:
    if (ret < 0)
        vs_image_info_clear(info);
    json_object_put(root);
    free(what);
    free(out);
    free(img);
    return ret;
}

int
vs_qemu_img_snapshot_list(const char *image, char ***tags, vs_error *err)
{
    vs_image_info info;

    *tags = NULL;
    /* The JSON of "info" is stable; the "snapshot -l" table is meant for people. */
    if (vs_qemu_img_info(image, false, &info, err) < 0)
        return -1;
    *tags = info.snapshot_tags;
    info.snapshot_tags = NULL;
    vs_image_info_clear(&info);
    return 0;
}

void
vs_image_info_clear(vs_image_info *info)
{
    if (!info)
        return;
    free(info->filename);
    free(info->format);
    free(info->backing_filename);
    free(info->full_backing_filename);
    free(info->backing_format);
    vs_strv_free(info->snapshot_tags);
    memset(info, 0, sizeof(*info));
}

/* ---- overlays, merges and checks -------------------------------------- */

/* An argv for one of the calls below, with the strings it owns. */
typedef struct qargv {
    const char *argv[14];
    char *img;
    char *what;
} qargv;

static void
qargv_clear(qargv *q)
{
    free(q->img);
    free(q->what);
}

/* Long work reports progress when someone shows it (progress.h): commits
 * and safe rebases copy data; the rest only writes headers. */
static bool
with_progress(vs_qimg_op op)
{
    return (op == VS_QIMG_COMMIT || op == VS_QIMG_REBASE) && vs_progress_wanted();
}

static void
build_job(const vs_qemu_img_job *j, qargv *q)
{
    size_t i = 0;
    bool none;

    memset(q, 0, sizeof(*q));
    q->img = safe_image_arg(j->image);
    q->argv[i++] = vs_qemu_img_prog();
    switch (j->op) {
    case VS_QIMG_SNAPSHOT_CREATE:
    case VS_QIMG_SNAPSHOT_APPLY:
    case VS_QIMG_SNAPSHOT_DELETE:
        q->what = j->op == VS_QIMG_SNAPSHOT_CREATE
                  ? vs_xasprintf("failed to create internal snapshot '%s' of image '%s'", j->tag,
                                 j->image)
                  : j->op == VS_QIMG_SNAPSHOT_APPLY
                  ? vs_xasprintf("failed to revert image '%s' to internal snapshot '%s'",
                                 j->image, j->tag)
                  : vs_xasprintf("failed to delete internal snapshot '%s' of image '%s'", j->tag,
                                 j->image);
        q->argv[i++] = "snapshot";
        q->argv[i++] = j->op == VS_QIMG_SNAPSHOT_CREATE ? "-c"
                       : j->op == VS_QIMG_SNAPSHOT_APPLY ? "-a" : "-d";
        q->argv[i++] = j->tag;
        break;
    case VS_QIMG_CREATE_OVERLAY:
        /* qemu-img create takes a URL, not a json: pseudo-filename (a gluster
         * source with several hosts is created through its first) */
        if (strncmp(q->img, "json:", 5) == 0) {
            char *url = vs_net_locator_normalise(q->img);

            if (url) {
                free(q->img);
                q->img = url;
            }
        }
        q->what = vs_xasprintf("failed to create overlay '%s' on '%s'", j->image, j->backing);
        q->argv[i++] = "create";
        q->argv[i++] = "-q";
        q->argv[i++] = "-f";
        q->argv[i++] = j->fmt;
        q->argv[i++] = "-F";
        q->argv[i++] = j->backing_fmt;
        q->argv[i++] = "-b";
        q->argv[i++] = j->backing;
        break;
    case VS_QIMG_COMMIT:
        q->what = j->backing ? vs_xasprintf("failed to commit image '%s' into '%s'", j->image,
                                            j->backing)
                             : vs_xasprintf("failed to commit image '%s' into its backing file",
                                            j->image);
        q->argv[i++] = "commit";
        q->argv[i++] = with_progress(j->op) ? "-p" : "-q";
        q->argv[i++] = "-f";
        q->argv[i++] = j->fmt;
        /* -d: the image is removed by the caller once every reference moved,
         * so emptying it would only cost time (and a replay needs its data). */
        q->argv[i++] = "-d";
        if (j->backing) {
            q->argv[i++] = "-b";
            q->argv[i++] = j->backing;
        }
        break;
    case VS_QIMG_REBASE:
    case VS_QIMG_REBASE_UNSAFE:
        none = !j->backing || !*j->backing;
        q->what = none ? vs_xasprintf("failed to remove the backing file of image '%s'", j->image)
                       : vs_xasprintf("failed to rebase image '%s' onto '%s'", j->image,
                                      j->backing);
        q->argv[i++] = "rebase";
        q->argv[i++] = with_progress(j->op) ? "-p" : "-q";
        q->argv[i++] = "-f";
        q->argv[i++] = j->fmt;
        if (j->op == VS_QIMG_REBASE_UNSAFE)
            q->argv[i++] = "-u";
        q->argv[i++] = "-b";
        q->argv[i++] = none ? "" : j->backing;
        if (!none) {
            q->argv[i++] = "-F";
            q->argv[i++] = j->backing_fmt;
        }
        break;
    }
    q->argv[i++] = q->img;
    q->argv[i] = NULL;
}

static int run_many(const vs_qemu_img_job *jobs, size_t n, vs_error *err);

/* Commits and safe rebases copy data: as long as it takes, not bounded;
 * their network images are probed first (bounded), so that a server that
 * does not answer stops them before they start. */
static bool
copies_data(vs_qimg_op op)
{
    return op == VS_QIMG_COMMIT || op == VS_QIMG_REBASE;
}

static int
run_job(const vs_qemu_img_job *j, vs_error *err)
{
    qargv q;
    int ret;

    if (with_progress(j->op))
        return run_many(j, 1, err);
    if (copies_data(j->op) && (vs_qemu_img_probe(j->image, err) < 0 ||
                               vs_qemu_img_probe(j->backing, err) < 0))
        return -1;
    build_job(j, &q);
    ret = run_qemu_img(q.argv, NULL, err, q.what);
    qargv_clear(&q);
    return ret;
}

int
vs_qemu_img_create_overlay(const char *image, const char *fmt, const char *backing,
                           const char *backing_fmt, vs_error *err)
{
    vs_qemu_img_job j = { VS_QIMG_CREATE_OVERLAY, image, fmt, backing, backing_fmt, NULL };

    return run_job(&j, err);
}

int
vs_qemu_img_commit(const char *image, const char *fmt, const char *base, vs_error *err)
{
    vs_qemu_img_job j = { VS_QIMG_COMMIT, image, fmt, base, NULL, NULL };

    return run_job(&j, err);
}

int
vs_qemu_img_rebase(const char *image, const char *fmt, const char *backing,
                   const char *backing_fmt, bool unsafe, vs_error *err)
{
    vs_qemu_img_job j = { unsafe ? VS_QIMG_REBASE_UNSAFE : VS_QIMG_REBASE, image, fmt, backing,
                          backing_fmt, NULL };

    return run_job(&j, err);
}

/* The last non-empty line of s, without "qemu-img: " (caller frees). */
static char *
last_line(const char *s)
{
    const char *end, *start;

    if (!s)
        return NULL;
    end = s + strlen(s);
    while (end > s && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
        end--;
    start = end;
    while (start > s && start[-1] != '\n')
        start--;
    if (start == end)
        return NULL;
    if ((size_t)(end - start) > 10 && strncmp(start, "qemu-img: ", 10) == 0)
        start += 10;
    return vs_xstrndup(start, (size_t)(end - start));
}

/* What qemu-img -p writes, "    (12.34/100%)\r" again and again, read as
 * it comes: the last complete figure of each job, and their mean reported. */
typedef struct meter {
    size_t n;
    double *pct;
    char (*tail)[32];        /* the end of each job's output so far */
    char *what;
    int shown;               /* the whole percent last reported, -1 none */
} meter;

static void
meter_watch(void *ctx, size_t job, const char *data, size_t len)
{
    meter *m = ctx;
    char buf[96], *end, *open;
    size_t keep = strlen(m->tail[job]), take = len < 63 ? len : 63;
    double sum = 0;
    size_t i;

    /* the previous tail and the newest bytes: a figure split over two reads is whole */
    memcpy(buf, m->tail[job], keep);
    memcpy(buf + keep, data + len - take, take);
    buf[keep + take] = '\0';
    if ((end = strstr(buf, "/100%)"))) {
        char *last = end;

        while ((end = strstr(end + 1, "/100%)")))
            last = end;
        *last = '\0';
        if ((open = strrchr(buf, '(')))
            m->pct[job] = strtod(open + 1, NULL);
        *last = '/';
    }
    keep = strlen(buf);
    take = keep < 31 ? keep : 31;
    memcpy(m->tail[job], buf + keep - take, take);
    m->tail[job][take] = '\0';
    for (i = 0; i < m->n; i++)
        sum += m->pct[i];
    if ((int)(sum / (double)m->n) != m->shown) {
        m->shown = (int)(sum / (double)m->n);
        vs_progress_report(m->what, sum / (double)m->n, false);
    }
}

static char *
meter_what(const vs_qemu_img_job *jobs, size_t n)
{
    bool commit = jobs[0].op == VS_QIMG_COMMIT;

    if (n > 1)
        return vs_xasprintf("%s %zu images", commit ? "committing" : "rebasing", n);
    if (commit)
        return vs_xasprintf("committing '%s' into %s", jobs[0].image,
                            jobs[0].backing ? jobs[0].backing : "its backing file");
    return vs_xasprintf("rebasing '%s'", jobs[0].image);
}

int
vs_qemu_img_run_jobs(const vs_qemu_img_job *jobs, size_t n, vs_error *err)
{
    if (n == 1)
        return run_job(&jobs[0], err);
    return run_many(jobs, n, err);
}

static int
run_many(const vs_qemu_img_job *jobs, size_t n, vs_error *err)
{
    qargv *q;
    const char *const **argvs;
    vs_spawn_result *res;
    int *bounds;
    meter m;
    size_t i;
    int ret;

    memset(&m, 0, sizeof(m));
    if (with_progress(jobs[0].op)) {
        m.n = n;
        m.pct = vs_xcalloc(n, sizeof(*m.pct));
        m.tail = vs_xcalloc(n, sizeof(*m.tail));
        m.what = meter_what(jobs, n);
        /* shown at once: qemu-img's first and last figures may come in one read */
        m.shown = 0;
        vs_progress_report(m.what, 0, false);
    }
    for (i = 0; i < n; i++)
        if (copies_data(jobs[i].op) && (vs_qemu_img_probe(jobs[i].image, err) < 0 ||
                                        vs_qemu_img_probe(jobs[i].backing, err) < 0)) {
            free(m.what);
            free(m.pct);
            free(m.tail);
            return -1;
        }
    q = vs_xcalloc(n + 1, sizeof(*q));
    argvs = vs_xcalloc(n + 1, sizeof(*argvs));
    res = vs_xcalloc(n + 1, sizeof(*res));
    bounds = vs_xcalloc(n + 1, sizeof(*bounds));
    ret = 0;
    for (i = 0; i < n; i++) {
        build_job(&jobs[i], &q[i]);
        argvs[i] = q[i].argv;
        if (!copies_data(jobs[i].op) && (bounds[i] = bound_of(argvs[i], err)) < 0)
            ret = -1;
    }
    if (ret == 0)
        ret = vs_spawn_all_timed(argvs, n, bounds, res, m.what ? meter_watch : NULL, &m, err);
    if (m.what) {
        vs_progress_report(m.what, 100, true);
        free(m.what);
        free(m.pct);
        free(m.tail);
    }
    for (i = 0; ret == 0 && i < n; i++) {
        if (res[i].timed_out) {
            ret = timed_out(err, q[i].what, argvs[i], bounds[i]);
        } else if (res[i].status != 0) {
            char *line = last_line(res[i].err);

            if (line)
                vs_error_set(err, VS_ERR_OPERATION_FAILED, "%s: %s", q[i].what, line);
            else
                vs_error_set(err, VS_ERR_OPERATION_FAILED, "%s: qemu-img exited with status %d",
                             q[i].what, res[i].status);
            free(line);
            ret = -1;
        }
    }
    for (i = 0; i < n; i++) {
        vs_spawn_result_free(&res[i]);
        qargv_clear(&q[i]);
    }
    free(res);
    free(argvs);
    free(bounds);
    free(q);
    return ret;
}

void
vs_image_check_clear(vs_image_check *res)
{
    if (!res)
        return;
    free(res->detail);
    memset(res, 0, sizeof(*res));
}

int
vs_qemu_img_repair_leaks(const char *image, vs_error *err)
{
    char *img = safe_image_arg(image);
    const char *argv[] = { vs_qemu_img_prog(), "check", "-q", "-r", "leaks", "-f", "qcow2", img,
                           NULL };
    vs_spawn_result r;
    char *what;
    int ret = 0, rc;

    if (!vs_image_has_magic(image)) {
        free(img);
        return 0;
    }
    what = vs_xasprintf("failed to repair image '%s'", image);
    rc = spawn_bounded(argv, &r, what, err);
    free(what);
    if (rc < 0) {
        free(img);
        return -1;
    }
    /* 0: clean (or repaired), 2: corruptions that -r leaks does not touch */
    if (r.status != 0 && r.status != 2) {
        char *line = last_line(r.err);

        ret = vs_error_set(err, VS_ERR_OPERATION_FAILED, "failed to repair image '%s': %s",
                           image, line ? line : "qemu-img check -r leaks failed");
        free(line);
    }
    vs_spawn_result_free(&r);
    free(img);
    return ret;
}

int
vs_qemu_img_check(const char *image, const char *fmt, vs_image_check *res, vs_error *err)
{
    char *img = safe_image_arg(image);
    const char *argv[] = { vs_qemu_img_prog(), "check", "--output=json", "-f", fmt, img, NULL };
    vs_spawn_result r;
    json_object *root = NULL;
    char *what;
    int ret = -1, rc;

    memset(res, 0, sizeof(*res));
    what = vs_xasprintf("failed to check image '%s'", image);
    rc = spawn_bounded(argv, &r, what, err);
    free(what);
    if (rc < 0) {
        free(img);
        return -1;
    }
    /* 0 clean, 2 corruptions, 3 leaks: all come with a JSON report. 63: the
     * format (raw) has nothing to check. 1 and the rest: could not check. */
    if (r.status == 63) {
        res->clean = true;
        ret = 0;
        goto out;
    }
    if ((r.status == 0 || r.status == 2 || r.status == 3) &&
        (root = json_tokener_parse(r.out)) && json_object_is_type(root, json_type_object)) {
        res->corruptions = json_u64(root, "corruptions");
        res->leaks = json_u64(root, "leaks");
        res->check_errors = json_u64(root, "check-errors");
        res->clean = res->corruptions == 0 && res->leaks == 0 && res->check_errors == 0 &&
                     r.status == 0;
        if (!res->clean)
            res->detail = vs_xasprintf("%llu corruptions, %llu leaked clusters, %llu check errors",
                                       res->corruptions, res->leaks, res->check_errors);
        ret = 0;
        goto out;
    }
    {
        char *line = last_line(r.err);

        vs_error_set(err, VS_ERR_OPERATION_FAILED, "failed to check image '%s': %s", image,
                     line ? line : "qemu-img check failed");
        free(line);
    }
 out:
    json_object_put(root);
    vs_spawn_result_free(&r);
    free(img);
    return ret;
}

void
vs_image_chain_free(vs_image_info *chain, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        vs_image_info_clear(&chain[i]);
    free(chain);
}

int
vs_qemu_img_info_chain(const char *image, bool force_share, vs_image_info **chain,
                       size_t *n, vs_error *err)
{
    char *img = safe_image_arg(image);
    char *what = vs_xasprintf("failed to query the backing chain of image '%s'", image);
    const char *argv[7];
    char *out = NULL;
    json_object *root = NULL;
    size_t i = 0, k, len;
    int ret = -1;

    *chain = NULL;
    *n = 0;
    argv[i++] = vs_qemu_img_prog();
    argv[i++] = "info";
    argv[i++] = "--output=json";
    argv[i++] = "--backing-chain";
    if (force_share)
        argv[i++] = "-U";
    argv[i++] = img;
    argv[i] = NULL;
    if (run_qemu_img(argv, &out, err, what) < 0)
        goto out;
    root = json_tokener_parse(out);
    if (!root || !json_object_is_type(root, json_type_array)) {
        vs_error_set(err, VS_ERR_INTERNAL, "cannot parse qemu-img info output for image '%s'",
                     image);
        goto out;
    }
    len = json_object_array_length(root);
    *chain = vs_xcalloc(len ? len : 1, sizeof(**chain));
    for (k = 0; k < len; k++) {
        json_object *o = json_object_array_get_idx(root, k);

        if (o && json_object_is_type(o, json_type_object))
            info_from_json(o, &(*chain)[(*n)++]);
    }
    ret = 0;
 out:
    json_object_put(root);
    free(out);
    free(what);
    free(img);
    return ret;
}
