/*
 * Snapshots of a running domain: each vsnap command against its floor, the
 * same QMP calls vsnap makes for it sent directly to the same QEMU in the
 * same run (a connection, qmp_capabilities, the queries, the job and its
 * end), so that the difference is vsnap itself: process start, planning,
 * the journal and the metadata written durably. The domain (64 MiB, two
 * qcow2 disks vda/vdb, TCG, no guest OS: zero RAM) runs all along. In each
 * run vsnap and the floor take turns going first, each timed from a synced
 * file system; the floor cleans up after itself
 * and never changes what vsnap's metadata says.
 *
 *   bench/live VSNAP META DOMAIN IMAGE_VDA IMAGE_VDB RUNS
 *
 * Rows (issue 9; libvirt 9.0 on this machine in parentheses):
 *   internal snapshot, running     target: floor + 10 ms   (73 ms)
 *   internal revert, running       target: < 50 ms         (763 ms)
 *   internal delete, running       target: < 20 ms         (45 ms)
 *   external disk-only, 2 disks    target: < 25 ms         (96 ms)
 *   external delete (active), 2    target: < 25 ms         (84 ms)
 *   save (issue 10)                target: < 60 ms         (259 ms)
 *   restore (issue 10)             target: < 120 ms        (410 ms)
 * and, given RDOMAIN (the same with 40 MiB of random data in guest RAM) and
 * MEMDIR (where memory files go), the external memory rows (issue 10), the
 * memory alone (disks snapshot=no) against the save floor below:
 *   external memory snapshot, zero RAM  target: < 40 ms     (98 ms)
 *   the same, 40 MiB of random RAM      target: <= 1.2 x floor
 *   revert to an external full-system snapshot (floor: the restore floor)
 *                                       target: < 150 ms    (refused)
 *
 *   bench/live VSNAP META DOMAIN IMAGE_VDA IMAGE_VDB RUNS [RDOMAIN MEMDIR]
 * The save floor is stop, migrate into a file, fdatasync, cont on the domain's QEMU;
 * the restore floor starts a QEMU of its own with the same command line
 * (captured from /proc after a vsnap restore: with -incoming defer) and
 * feeds it with migrate-incoming, then cont.
 * Prints every time and the medians; exits 1 when a target is missed.
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "mem.h"
#include "path.h"
#include "qmp.h"
#include "spawn.h"

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/*
 * The clock of one timed command starts once the file system has settled:
 * the earlier commands' writes and deletions (discarded on this file system
 * at its next journal commit) are flushed first, so that neither vsnap nor
 * its floor pays for what the other left behind.
 */
static double
start_clock(void)
{
    sync();
    return now_ms();
}

/* row's vsnap and floor times of run k, the one that goes first by turns */
#define PAIR(row, v, f)                   \
    do {                                  \
        if (vsnap_first) {                \
            rows[row].vsnap[k] = (v);     \
            rows[row].floor[k] = (f);     \
        } else {                          \
            rows[row].floor[k] = (f);     \
            rows[row].vsnap[k] = (v);     \
        }                                 \
    } while (0)

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *vsnap_bin, *meta, *dom;
static char *sock;

static void
die(const char *what, const vs_error *err)
{
    fprintf(stderr, "bench/live: %s: %s\n", what, err ? err->msg : "failed");
    exit(2);
}

/* One vsnap command, timed. */
static double
vsnap(const char *const *args)
{
    const char *argv[16] = { vsnap_bin, "-q", "-d", meta };
    vs_error err;
    double t0;
    size_t i;

    for (i = 0; args[i] && i < 11; i++)
        argv[4 + i] = args[i];
    argv[4 + i] = NULL;
    vs_error_clear(&err);
    t0 = start_clock();
    if (vs_spawn_check(argv, NULL, &err) < 0)
        die(args[0], &err);
    return now_ms() - t0;
}

/* ---- the floor: QMP calls made directly --------------------------------- */

static vs_qmp *
connect_monitor(void)
{
    vs_error err;
    vs_qmp *q;

    vs_error_clear(&err);
    if (!(q = vs_qmp_connect(sock, 30000, NULL, &err)))
        die("connect", &err);
    return q;
}

static void
cmd(vs_qmp *q, const char *c, json_object *args, json_object **ret)
{
    vs_error err;

    vs_error_clear(&err);
    if (vs_qmp_command(q, c, args, ret, &err) < 0)
        die(c, &err);
}

static json_object *
obj(void)
{
    return json_object_new_object();
}

static void
put_s(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}

static void
job(vs_qmp *q, const char *c, json_object *args, const char *id)
{
    vs_error err;

    vs_error_clear(&err);
    if (vs_qmp_job_run(q, c, args, id, 600000, &err) < 0)
        die(c, &err);
}

/* The format node of each disk's active layer (query-block, as vsnap asks). */
static void
nodes(vs_qmp *q, char *node[2])
{
    json_object *r = NULL, *in, *n;
    size_t i;

    cmd(q, "query-block", NULL, &r);
    for (i = 0; i < 2 && i < json_object_array_length(r); i++) {
        json_object *b = json_object_array_get_idx(r, i);

        if (!json_object_object_get_ex(b, "inserted", &in) ||
            !json_object_object_get_ex(in, "node-name", &n))
            die("query-block", NULL);
        node[i] = vs_xstrdup(json_object_get_string(n));
    }
    json_object_put(r);
}

static json_object *
devices(char *node[2])
{
    json_object *a = json_object_new_array();

    json_object_array_add(a, json_object_new_string(node[0]));
    json_object_array_add(a, json_object_new_string(node[1]));
    return a;
}

/* snapshot-save (or -load) of tag, paused around it, as vsnap does. */
static double
floor_save_load(const char *c, const char *tag)
{
    double t0 = start_clock(), t;
    vs_qmp *q = connect_monitor();
    json_object *a = obj();
    char *node[2] = { NULL, NULL };

    cmd(q, "query-status", NULL, NULL);
    cmd(q, "query-jobs", NULL, NULL);
    cmd(q, "query-status", NULL, NULL);
    cmd(q, "stop", NULL, NULL);
    nodes(q, node);
    put_s(a, "job-id", "floor");
    put_s(a, "tag", tag);
    put_s(a, "vmstate", node[0]);
    json_object_object_add(a, "devices", devices(node));
    job(q, c, a, "floor");
    cmd(q, "query-status", NULL, NULL);
    cmd(q, "cont", NULL, NULL);
    t = now_ms() - t0;
    vs_qmp_free(q);
    free(node[0]);
    free(node[1]);
    return t;
}

static double
floor_delete(const char *tag)
{
    double t0 = start_clock(), t;
    vs_qmp *q = connect_monitor();
    json_object *a = obj();
    char *node[2] = { NULL, NULL };

    cmd(q, "query-status", NULL, NULL);
    cmd(q, "query-jobs", NULL, NULL);
    nodes(q, node);
    put_s(a, "job-id", "floor");
    put_s(a, "tag", tag);
    json_object_object_add(a, "devices", devices(node));
    job(q, "snapshot-delete", a, "floor");
    t = now_ms() - t0;
    vs_qmp_free(q);
    free(node[0]);
    free(node[1]);
    return t;
}

/* blockdev-create of overlays on both disks, opened, one transaction. */
static double
floor_disk_only(const char *image[2], const char *ovl[2])
{
    static const char *const target[2] = { "vda", "vdb" };
    double t0 = start_clock(), t;
    vs_qmp *q = connect_monitor();
    char *node[2] = { NULL, NULL }, sn[2][64], fn[2][64], id[2][16];
    json_object *acts = json_object_new_array(), *a, *o;
    vs_error err;
    int i, fd;

    cmd(q, "query-status", NULL, NULL);
    cmd(q, "query-jobs", NULL, NULL);
    nodes(q, node);
    cmd(q, "query-named-block-nodes", NULL, NULL);
    for (i = 0; i < 2; i++) {
        snprintf(sn[i], sizeof(sn[i]), "floor-%s-storage", target[i]);
        snprintf(fn[i], sizeof(fn[i]), "floor-%s-format", target[i]);
        snprintf(id[i], sizeof(id[i]), "floor%d", i);
        if ((fd = open(ovl[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
            die(ovl[i], NULL);
        close(fd);
        a = obj();
        put_s(a, "driver", "file");
        put_s(a, "filename", ovl[i]);
        put_s(a, "node-name", sn[i]);
        cmd(q, "blockdev-add", a, NULL);
    }
    for (i = 0; i < 2; i++) {
        o = obj();
        put_s(o, "driver", "qcow2");
        put_s(o, "file", sn[i]);
        json_object_object_add(o, "size", json_object_new_int64(1LL << 30));
        put_s(o, "backing-file", image[i]);
        put_s(o, "backing-fmt", "qcow2");
        a = obj();
        put_s(a, "job-id", id[i]);
        json_object_object_add(a, "options", o);
        cmd(q, "blockdev-create", a, NULL);
    }
    vs_error_clear(&err);
    for (i = 0; i < 2; i++) {
        json_object *d = obj();

        if (vs_qmp_job_wait(q, id[i], "concluded", 60000, &err) < 0)
            die("blockdev-create", &err);
        cmd(q, "query-jobs", NULL, NULL);
        put_s(d, "id", id[i]);
        cmd(q, "job-dismiss", d, NULL);
    }
    for (i = 0; i < 2; i++) {
        a = obj();
        put_s(a, "node-name", fn[i]);
        put_s(a, "driver", "qcow2");
        put_s(a, "file", sn[i]);
        json_object_object_add(a, "backing", NULL);
        cmd(q, "blockdev-add", a, NULL);
        o = obj();
        put_s(o, "node", node[i]);
        put_s(o, "overlay", fn[i]);
        a = obj();
        put_s(a, "type", "blockdev-snapshot");
        json_object_object_add(a, "data", o);
        json_object_array_add(acts, a);
    }
    a = obj();
    json_object_object_add(a, "actions", acts);
    cmd(q, "transaction", a, NULL);
    t = now_ms() - t0;
    vs_qmp_free(q);
    free(node[0]);
    free(node[1]);
    return t;
}

/* Both disks' active layers committed down (block-commit, job-complete),
 * their nodes closed, the files removed. */
static double
floor_commit(const char *ovl[2])
{
    double t0 = start_clock(), t;
    vs_qmp *q = connect_monitor();
    char *node[2] = { NULL, NULL }, id[2][16], base[2][32];
    json_object *r = NULL;
    vs_error err;
    size_t i, k;

    cmd(q, "query-status", NULL, NULL);
    cmd(q, "query-jobs", NULL, NULL);
    nodes(q, node);
    cmd(q, "query-named-block-nodes", NULL, &r);
    for (i = 0; i < 2; i++) {
        /* the node below: the one whose file is the image under the overlay */
        const char *want = i == 0 ? "vda-0-format" : "vdb-0-format";

        base[i][0] = '\0';
        for (k = 0; k < json_object_array_length(r); k++) {
            json_object *n, *o = json_object_array_get_idx(r, k);

            if (json_object_object_get_ex(o, "node-name", &n) && strstr(json_object_get_string(n), want))
                snprintf(base[i], sizeof(base[i]), "%s", json_object_get_string(n));
        }
        if (!base[i][0])
            die("no base node", NULL);
    }
    json_object_put(r);
    for (i = 0; i < 2; i++) {
        json_object *a = obj();

        snprintf(id[i], sizeof(id[i]), "floorc%zu", i);
        put_s(a, "job-id", id[i]);
        put_s(a, "device", node[i]);
        put_s(a, "top-node", node[i]);
        put_s(a, "base-node", base[i]);
        json_object_object_add(a, "auto-dismiss", json_object_new_boolean(0));
        cmd(q, "block-commit", a, NULL);
    }
    vs_error_clear(&err);
    for (i = 0; i < 2; i++) {
        json_object *c = obj();

        if (vs_qmp_job_wait(q, id[i], "ready", 60000, &err) < 0)
            die("block-commit", &err);
        put_s(c, "id", id[i]);
        cmd(q, "job-complete", c, NULL);
    }
    for (i = 0; i < 2; i++) {
        json_object *d = obj(), *a = obj(), *b = obj();
        char sn[64];

        if (vs_qmp_job_wait(q, id[i], "concluded", 60000, &err) < 0)
            die("block-commit", &err);
        cmd(q, "query-jobs", NULL, NULL);
        put_s(d, "id", id[i]);
        cmd(q, "job-dismiss", d, NULL);
        cmd(q, "query-named-block-nodes", NULL, NULL);
        put_s(a, "node-name", node[i]);
        cmd(q, "blockdev-del", a, NULL);
        snprintf(sn, sizeof(sn), "%.*s-storage", (int)(strlen(node[i]) - strlen("-format")), node[i]);
        put_s(b, "node-name", sn);
        cmd(q, "blockdev-del", b, NULL);
        unlink(ovl[i]);
    }
    t = now_ms() - t0;
    vs_qmp_free(q);
    free(node[0]);
    free(node[1]);
    return t;
}

/* ---- save and restore (issue 10) ---------------------------------------------------- */

static bool
match_done(json_object *data, void *opaque)
{
    json_object *v;
    const char *st;

    (void)opaque;
    if (!data || !json_object_object_get_ex(data, "status", &v))
        return false;
    st = json_object_get_string(v);
    return !strcmp(st, "completed") || !strcmp(st, "failed") || !strcmp(st, "cancelled");
}

static void
wait_migration(vs_qmp *q)
{
    json_object *d = NULL, *v;
    vs_error err;

    vs_error_clear(&err);
    if (vs_qmp_event_wait(q, "MIGRATION", match_done, NULL, 600000, &d, &err) != 1)
        die("MIGRATION", &err);
    json_object_object_get_ex(d, "status", &v);
    if (strcmp(json_object_get_string(v), "completed") != 0)
        die("migration failed", NULL);
    json_object_put(d);
}

static void
migrate_fd(vs_qmp *q, const char *c, int fd)
{
    vs_error err;
    json_object *a = obj();

    vs_error_clear(&err);
    if (vs_qmp_getfd(q, fd, "floor", &err) < 0)
        die("getfd", &err);
    put_s(a, "uri", "fd:floor");
    cmd(q, c, a, NULL);
    wait_migration(q);
}

static void
settle(vs_qmp *q, const char *transient)
{
    char *st = NULL;
    vs_error err;

    vs_error_clear(&err);
    for (;;) {
        if (vs_qmp_query_status(q, &st, NULL, &err) < 0)
            die("query-status", &err);
        if (strcmp(st, transient) != 0)
            break;
        free(st);
    }
    free(st);
}

/* save's QMP calls: stop, the stream into a file, cont (the guest keeps
 * running; vsnap's save ends QEMU instead). */
static double
floor_save(const char *file)
{
    double t0 = start_clock(), t;
    vs_qmp *q = connect_monitor();
    json_object *a = obj(), *caps = json_object_new_array(), *c = obj();
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0)
        die(file, NULL);
    cmd(q, "query-status", NULL, NULL);
    cmd(q, "query-memory-size-summary", NULL, NULL);
    cmd(q, "stop", NULL, NULL);
    put_s(c, "capability", "events");
    json_object_object_add(c, "state", json_object_new_boolean(1));
    json_object_array_add(caps, c);
    json_object_object_add(a, "capabilities", caps);
    cmd(q, "migrate-set-capabilities", a, NULL);
    a = obj();
    json_object_object_add(a, "max-bandwidth", json_object_new_int64(9223372036853727232LL));
    cmd(q, "migrate-set-parameters", a, NULL);
    migrate_fd(q, "migrate", fd);
    fdatasync(fd);
    close(fd);
    settle(q, "finish-migrate");
    cmd(q, "cont", NULL, NULL);
    t = now_ms() - t0;
    vs_qmp_free(q);
    return t;
}

static char **qemu_argv;     /* the domain's QEMU command line, -pidfile moved */

/* The running QEMU's command line (started by `vsnap restore`, so with
 * -incoming defer), for the floor's own QEMU. */
static void
capture_argv(const char *w)
{
    char *pidf = vs_xasprintf("%s/%s/run/pid", meta, dom), *data = NULL, *path, *p;
    size_t len = 0, n = 0;
    vs_error err;

    vs_error_clear(&err);
    if (vs_file_read(pidf, 64, &data, &len, &err) < 0)
        die(pidf, &err);
    path = vs_xasprintf("/proc/%ld/cmdline", strtol(data, NULL, 10));
    free(data);
    data = NULL;
    if (vs_file_read(path, 1 << 20, &data, &len, &err) < 0)
        die(path, &err);
    qemu_argv = vs_xcalloc(256, sizeof(char *));
    for (p = data; p < data + len && n < 254; p += strlen(p) + 1) {
        bool pid_arg = n > 0 && strcmp(qemu_argv[n - 1], "-pidfile") == 0;

        qemu_argv[n++] = pid_arg ? vs_xasprintf("%s/floor.pid", w) : vs_xstrdup(p);
    }
    free(data);
    free(path);
    free(pidf);
}

/* restore's work: QEMU started with -incoming defer (the same command
 * line), the stream fed with migrate-incoming, cont; then QEMU quits (not
 * counted). */
static double
floor_restore(const char *w, const char *file)
{
    char *fsock = vs_xasprintf("%s/floor.sock", w);
    struct sockaddr_un sa;
    double t0, t;
    vs_error err;
    vs_qmp *q;
    pid_t pid;
    int lfd, fd, keep[1], logfd = open("/dev/null", O_WRONLY | O_CLOEXEC);

    vs_error_clear(&err);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fsock);
    unlink(fsock);
    t0 = start_clock();
    if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0)
        die("floor socket", NULL);
    keep[0] = lfd;
    if (vs_spawn_daemon((const char *const *)qemu_argv, NULL, logfd, keep, 1, &pid, &err) < 0)
        die("floor QEMU", &err);
    close(lfd);
    if (!(q = vs_qmp_connect(fsock, 30000, NULL, &err)))
        die("floor monitor", &err);
    if (vs_qmp_migration_events(q, &err) < 0)
        die("events", &err);
    if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
        die(file, NULL);
    migrate_fd(q, "migrate-incoming", fd);
    close(fd);
    settle(q, "inmigrate");
    cmd(q, "cont", NULL, NULL);
    t = now_ms() - t0;
    vs_qmp_command(q, "quit", NULL, NULL, &err);
    vs_qmp_free(q);
    while (kill(pid, 0) == 0) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    close(logfd);
    unlink(fsock);
    free(fsock);
    return t;
}

/* ---- the rows ------------------------------------------------------------------ */

typedef struct row {
    const char *name;
    double *floor, *vsnap;
    double target_abs;       /* < this, or 0 */
    double target_over;      /* <= floor + this, or 0 */
    const char *libvirt;
    double target_factor;    /* <= floor x this, or 0 */
} row;

int
main(int argc, char **argv)
{
    enum { ICREATE, IREVERT, IDELETE, ECREATE, EDELETE, SAVE, RESTORE, MCREATE, MRANDOM,
           MREVERT, NROWS };
    row rows[NROWS] = {
        { "internal snapshot, running, zero RAM", NULL, NULL, 0, 10, "73 ms", 0 },
        { "internal revert, running", NULL, NULL, 50, 0, "763 ms", 0 },
        { "internal delete, running", NULL, NULL, 20, 0, "45 ms", 0 },
        { "external disk-only create, 2 disks", NULL, NULL, 25, 0, "96 ms", 0 },
        { "external delete (active layer commit), 2 disks", NULL, NULL, 25, 0, "84 ms", 0 },
        { "save, zero RAM (vsnap also ends QEMU)", NULL, NULL, 60, 0, "259 ms", 0 },
        { "restore, zero RAM (QEMU start + incoming)", NULL, NULL, 120, 0, "410 ms", 0 },
        { "external memory snapshot, 64 MiB zero RAM", NULL, NULL, 40, 0, "98 ms", 0 },
        { "the same, 40 MiB of random RAM", NULL, NULL, 0, 0, "-", 1.2 },
        { "revert to an external full-system snapshot", NULL, NULL, 150, 0, "refused", 0 },
    };
    const char *rdom = NULL, *memdir = NULL, *dom0;
    char *rsock = NULL, *sock0;
    int nrows = NROWS;
    char *w = vs_path_dir(argv[2]), *sfile, *ffile;
    const char *image[2], *fovl[2];
    char *name, *img_a, *img_b, *fo_a, *fo_b;
    int runs, i, r, failed = 0;

    if (argc != 7 && argc != 9) {
        fprintf(stderr, "usage: live VSNAP META DOMAIN IMAGE_VDA IMAGE_VDB RUNS [RDOMAIN MEMDIR]\n");
        return 2;
    }
    if (argc == 9) {
        rdom = argv[7];
        memdir = argv[8];
    } else {
        nrows = MCREATE;
    }
    vsnap_bin = argv[1];
    meta = argv[2];
    dom = argv[3];
    img_a = argv[4];
    img_b = argv[5];
    runs = atoi(argv[6]) > 0 ? atoi(argv[6]) : 1;
    sock = vs_xasprintf("%s/%s/run/monitor.sock", meta, dom);
    dom0 = dom;
    sock0 = sock;
    if (rdom)
        rsock = vs_xasprintf("%s/%s/run/monitor.sock", meta, rdom);
    image[0] = img_a;
    image[1] = img_b;
    fo_a = vs_xasprintf("%s.floor-ovl", img_a);
    fo_b = vs_xasprintf("%s.floor-ovl", img_b);
    fovl[0] = fo_a;
    fovl[1] = fo_b;
    for (r = 0; r < NROWS; r++) {
        rows[r].floor = vs_xcalloc((size_t)runs + 1, sizeof(double));
        rows[r].vsnap = vs_xcalloc((size_t)runs + 1, sizeof(double));
    }
    {
        const char *base[] = { "snapshot-create-as", dom, "bench-base", NULL };
        vsnap(base);
    }
    sfile = vs_xasprintf("%s/bench.save", w);
    ffile = vs_xasprintf("%s/floor.stream", w);
    {
        const char *sv[] = { "save", dom, sfile, NULL }, *rs[] = { "restore", sfile, NULL };

        vsnap(sv);
        vsnap(rs);
        capture_argv(w);
        floor_save(ffile);
    }
    if (memdir) {
        char *f = vs_xasprintf("file=%s/mbase.mem", memdir);
        const char *mb[] = { "snapshot-create-as", dom, "bench-mbase", "--memspec", f,
                             "--diskspec", "vda,snapshot=no", "--diskspec", "vdb,snapshot=no",
                             NULL };

        vsnap(mb);
        free(f);
    }
    /* run 0 warms caches and is not counted */
    for (i = -1; i < runs; i++) {
        int k = i < 0 ? runs : i;
        /* vsnap and its floor take turns going first: the first command after
         * the save and restore above meets a QEMU that has just started */
        bool vsnap_first = (i & 1) == 0;
        const char *ic[] = { "snapshot-create-as", dom, NULL, NULL };
        const char *iv[] = { "snapshot-revert", dom, "bench-base", NULL };
        const char *id[] = { "snapshot-delete", dom, NULL, NULL };
        const char *ec[] = { "snapshot-create-as", dom, NULL, "--disk-only", NULL };
        const char *ed[] = { "snapshot-delete", dom, NULL, NULL };

        name = vs_xasprintf("bench-i%d", i + 1);
        ic[2] = id[2] = name;
        PAIR(ICREATE, vsnap(ic), floor_save_load("snapshot-save", "floor-tag"));
        PAIR(IREVERT, vsnap(iv), floor_save_load("snapshot-load", "bench-base"));
        PAIR(IDELETE, vsnap(id), floor_delete("floor-tag"));
        free(name);
        name = vs_xasprintf("bench-e%d", i + 1);
        ec[2] = ed[2] = name;
        if (!vsnap_first) {
            rows[ECREATE].floor[k] = floor_disk_only(image, fovl);
            rows[EDELETE].floor[k] = floor_commit(fovl);
        }
        rows[ECREATE].vsnap[k] = vsnap(ec);
        rows[EDELETE].vsnap[k] = vsnap(ed);
        if (vsnap_first) {
            rows[ECREATE].floor[k] = floor_disk_only(image, fovl);
            rows[EDELETE].floor[k] = floor_commit(fovl);
        }
        free(name);
        {
            const char *sv[] = { "save", dom, sfile, NULL }, *rs[] = { "restore", sfile, NULL };

            rows[SAVE].vsnap[k] = vsnap(sv);
            rows[RESTORE].floor[k] = floor_restore(w, ffile);
            rows[RESTORE].vsnap[k] = vsnap(rs);
            rows[SAVE].floor[k] = floor_save(ffile);
        }
        if (memdir) {
            /* the memory alone (the disks left out): vsnap's part against the copy */
            int m;

            for (m = 0; m < 2; m++) {
                char *mf = vs_xasprintf("file=%s/m%d-%d.mem", memdir, m, i + 1);
                char *ff = vs_xasprintf("%s/floor.mem", memdir);
                char *mn = vs_xasprintf("bench-m%d-%d", m, i + 1);
                const char *mc[] = { "snapshot-create-as", m ? rdom : dom0, mn, "--memspec", mf,
                                     "--diskspec", "vda,snapshot=no", "--diskspec",
                                     "vdb,snapshot=no", NULL };
                const char *md[] = { "snapshot-delete", m ? rdom : dom0, mn, NULL };

                dom = m ? rdom : dom0;
                sock = m ? rsock : sock0;
                PAIR(m ? MRANDOM : MCREATE, vsnap(mc), floor_save(ff));
                unlink(ff);
                vsnap(md);
                free(mf);
                free(ff);
                free(mn);
            }
            dom = dom0;
            sock = sock0;
            {
                const char *mv[] = { "snapshot-revert", dom, "bench-mbase", NULL };

                rows[MREVERT].vsnap[k] = vsnap(mv);
                /* QEMU start + incoming: the restore floor of this run (a QEMU of
                 * the floor's own cannot lock the images the domain's QEMU holds) */
                rows[MREVERT].floor[k] = rows[RESTORE].floor[k];
            }
            if (i >= 0)
                printf("        %6.1f/%6.1f  %6.1f/%6.1f  %6.1f/%6.1f (memory: zero RAM, random "
                       "RAM, revert)\n", rows[MCREATE].vsnap[k], rows[MCREATE].floor[k],
                       rows[MRANDOM].vsnap[k], rows[MRANDOM].floor[k], rows[MREVERT].vsnap[k],
                       rows[MREVERT].floor[k]);
        }
        if (i >= 0)
            printf("run %2d: %6.1f/%6.1f  %6.1f/%6.1f  %6.1f/%6.1f  %6.1f/%6.1f  %6.1f/%6.1f "
                   "(vsnap/floor ms: create, revert, delete, disk-only, active commit)\n", i + 1,
                   rows[0].vsnap[k], rows[0].floor[k], rows[1].vsnap[k], rows[1].floor[k],
                   rows[2].vsnap[k], rows[2].floor[k], rows[3].vsnap[k], rows[3].floor[k],
                   rows[4].vsnap[k], rows[4].floor[k]);
        if (i >= 0)
            printf("        %6.1f/%6.1f  %6.1f/%6.1f (vsnap/floor ms: save, restore)\n",
                   rows[SAVE].vsnap[k], rows[SAVE].floor[k], rows[RESTORE].vsnap[k],
                   rows[RESTORE].floor[k]);
    }
    printf("\nmedians of %d runs\n", runs);
    printf("%-48s %9s %9s %18s %12s\n", "operation", "floor", "vsnap", "target", "libvirt 9.0");
    for (r = 0; r < NROWS; r++) {
        double mf = r < nrows ? median(rows[r].floor, runs) : 0;
        double mv = r < nrows ? median(rows[r].vsnap, runs) : 0;
        char target[32];
        bool ok = rows[r].target_abs ? mv < rows[r].target_abs
                  : rows[r].target_factor ? mv <= mf * rows[r].target_factor
                  : mv <= mf + rows[r].target_over;

        if (r >= nrows) {
            free(rows[r].floor);
            free(rows[r].vsnap);
            continue;
        }
        if (rows[r].target_abs)
            snprintf(target, sizeof(target), "< %.0f ms", rows[r].target_abs);
        else if (rows[r].target_factor)
            snprintf(target, sizeof(target), "<= %.1f x floor", rows[r].target_factor);
        else
            snprintf(target, sizeof(target), "<= floor + %.0f ms", rows[r].target_over);
        printf("%-48s %6.1f ms %6.1f ms %18s %12s %s\n", rows[r].name, mf, mv, target,
               rows[r].libvirt, ok ? "ok" : "MISSED");
        if (!ok)
            failed = 1;
        free(rows[r].floor);
        free(rows[r].vsnap);
    }
    free(fo_a);
    free(fo_b);
    free(sock0);
    free(rsock);
    free(sfile);
    free(ffile);
    free(w);
    vs_strv_free(qemu_argv);
    return failed;
}
