/* The domain lifecycle (see domain_run.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "domain_run.h"
#include "mem.h"
#include "memory_transfer.h"
#include "path.h"
#include "qemu_argv.h"
#include "snapshot_ops.h"
#include "spawn.h"
#include "xml.h"

#define START_TIMEOUT_MS   30000   /* QEMU start until QMP answers */
#define QUERY_TIMEOUT_MS   10000   /* a state query */
#define KILL_GRACE_MS      10000   /* SIGTERM, then SIGKILL (as libvirt) */

#define NOT_RUNNING "domain is not running"

static const char *const state_names[] = {
    [VS_RUN_SHUTOFF] = "shut off",
    [VS_RUN_RUNNING] = "running",
    [VS_RUN_PAUSED] = "paused",
    [VS_RUN_CRASHED] = "crashed",
    [VS_RUN_PMSUSPENDED] = "pmsuspended",
};

/* The words the state file uses (no blanks). */
static const char *const state_keys[] = {
    [VS_RUN_SHUTOFF] = "shutoff",
    [VS_RUN_RUNNING] = "running",
    [VS_RUN_PAUSED] = "paused",
    [VS_RUN_CRASHED] = "crashed",
    [VS_RUN_PMSUSPENDED] = "pmsuspended",
};

const char *
vs_run_state_name(vs_run_state s)
{
    if ((unsigned)s >= sizeof(state_names) / sizeof(state_names[0]))
        return "no state";
    return state_names[s];
}


static void
sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

char *
vs_domain_run_dir(const vs_dom *d)
{
    return vs_path_join(d->dir, "run");
}

static char *
run_file(const vs_dom *d, const char *name)
{
    char *dir = vs_domain_run_dir(d), *p = vs_path_join(dir, name);

    free(dir);
    return p;
}

/*
 * run/, opened below the domain directory's descriptor with O_NOFOLLOW as
 * every entry of the store is (store.h): a link or another file in its place
 * is an error naming it, never followed. With create it is made (0700) when
 * missing. Returns the descriptor (the caller closes it), or -1 with err set;
 * without create, a missing run/ is -1 with errno ENOENT and err untouched.
 */
static int
run_dir_open(const vs_dom *d, bool create, vs_error *err)
{
    const char *name = vs_dom_layout[VS_DOM_RUN].name;
    char *shown;
    int fd, e;

    if (create && mkdirat(d->fd, name, 0700) < 0 && errno != EEXIST)
        e = errno;
    else if ((fd = openat(d->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0)
        return fd;
    else if ((e = errno) == ENOENT && !create)
        return -1;
    shown = vs_path_join(d->dir, name);
    if (e == ELOOP || e == ENOTDIR) {
        struct stat sb;

        if (fstatat(d->fd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode))
            vs_link_error(err, shown);
        else
            vs_error_set(err, VS_ERR_PLAIN, "'%s' is not a directory", shown);
    } else {
        vs_error_sys(err, e, "cannot open run directory '%s'", shown);
    }
    free(shown);
    errno = e;
    return -1;
}

/* A file of run/ read (vs_file_read_at: never through a link). */
static int
run_read(const vs_dom *d, const char *name, size_t max, char **data, size_t *len, vs_error *err)
{
    char *shown = run_file(d, name);
    int fd = run_dir_open(d, false, err), ret = -1;

    *data = NULL;
    if (fd >= 0) {
        ret = vs_file_read_at(fd, name, shown, max, data, len, err);
        close(fd);
    } else if (errno == ENOENT) {
        vs_error_sys(err, ENOENT, "Failed to open file '%s'", shown);
    }
    free(shown);
    return ret;
}

/* A socket of run/ that may be connected to: a socket, not a link to one
 * elsewhere (connect(2) follows links). */
static int
run_socket_check(const vs_dom *d, const char *name, vs_error *err)
{
    char *shown = run_file(d, name);
    int fd = run_dir_open(d, false, err), ret = 0;
    struct stat sb;

    if (fd >= 0 && fstatat(fd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(sb.st_mode))
            ret = vs_link_error(err, shown);
        else if (!S_ISSOCK(sb.st_mode))
            ret = vs_error_set(err, VS_ERR_PLAIN, "'%s' is not a socket", shown);
    } else if (fd < 0 && errno != ENOENT) {
        ret = -1;
    }
    if (fd >= 0)
        close(fd);
    free(shown);
    return ret;
}

/* A file of run/ replaced atomically (not synced: runtime state), run/
 * made when missing. */
static int
run_replace(const vs_dom *d, const char *name, const char *data, size_t len, vs_error *err)
{
    char *shown = run_file(d, name);
    int fd = run_dir_open(d, true, err), ret = -1;

    if (fd >= 0) {
        ret = vs_file_replace_at(fd, name, shown, data, len, 0600, err);
        close(fd);
    }
    free(shown);
    return ret;
}

/* ---- <vsnap:runtime monitor= agent=> ------------------------------------ */

typedef struct runtime {
    char *monitor;
    char *agent;
} runtime;

static void
runtime_clear(runtime *rt)
{
    free(rt->monitor);
    free(rt->agent);
    rt->monitor = rt->agent = NULL;
}

static void
runtime_find(const vs_domain_def *def, runtime *rt)
{
    xmlNodePtr root = xmlDocGetRootElement(def->doc), md, n;

    rt->monitor = rt->agent = NULL;
    md = root ? vs_xml_child(root, "metadata") : NULL;
    for (n = md ? md->children : NULL; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE || !n->ns || !n->ns->href ||
            !xmlStrEqual(n->ns->href, BAD_CAST VS_RUNTIME_NS) ||
            !xmlStrEqual(n->name, BAD_CAST "runtime"))
            continue;
        rt->monitor = vs_xml_prop(n, "monitor");
        rt->agent = vs_xml_prop(n, "agent");
        if (rt->monitor && !*rt->monitor) {
            free(rt->monitor);
            rt->monitor = NULL;
        }
        if (rt->agent && !*rt->agent) {
            free(rt->agent);
            rt->agent = NULL;
        }
        return;
    }
}

/* ---- the state file ------------------------------------------------------ */

typedef struct recorded {
    vs_run_state state;
    char reason[24];
    pid_t pid;
} recorded;

static void
state_read(const vs_dom *d, recorded *r)
{
    char *data = NULL, key[24], reason[24];
    size_t len;
    long pid = -1;
    size_t i;

    r->state = VS_RUN_SHUTOFF;
    snprintf(r->reason, sizeof(r->reason), "unknown");
    r->pid = -1;
    if (run_read(d, "state", 4096, &data, &len, NULL) == 0 &&
        sscanf(data, "%23s %23s %ld", key, reason, &pid) >= 2) {
        for (i = 0; i < sizeof(state_keys) / sizeof(state_keys[0]); i++) {
            if (strcmp(key, state_keys[i]) == 0) {
                r->state = (vs_run_state)i;
                snprintf(r->reason, sizeof(r->reason), "%s", reason);
                /* the file stores blanks in reasons as '_' */
                for (char *p = r->reason; *p; p++)
                    if (*p == '_')
                        *p = ' ';
                r->pid = (pid_t)pid;
            }
        }
    }
    free(data);
}

static int
state_write(const vs_dom *d, vs_run_state st, const char *reason, pid_t pid, vs_error *err)
{
    char *text, *p, *old = NULL;
    size_t len = 0;
    int ret;

    text = vs_xasprintf("%s %s %ld\n", state_keys[st], reason, (long)pid);
    /* reasons with blanks ("from snapshot") are stored with '_' */
    for (p = strchr(text, ' ') + 1; p < strrchr(text, ' '); p++)
        if (*p == ' ')
            *p = '_';
    /* (runtime state: a host that crashes takes QEMU with it); a file that
     * says so already is left as it is */
    if (run_read(d, "state", 64, &old, &len, NULL) == 0 && len == strlen(text) &&
        memcmp(old, text, len) == 0)
        ret = 0;
    else
        ret = run_replace(d, "state", text, strlen(text), err);
    free(old);
    free(text);
    return ret;
}

/* ---- QEMU's process -------------------------------------------------------- */

static pid_t
pidfile_read(const vs_dom *d, bool *present)
{
    char *data = NULL, *end;
    size_t len;
    long v;

    *present = false;
    if (run_read(d, "pid", 64, &data, &len, NULL) < 0)
        return -1;
    *present = true;
    errno = 0;
    v = strtol(data, &end, 10);
    if (errno || v <= 1 || (*end && *end != '\n'))
        v = -1;
    free(data);
    return (pid_t)v;
}

/* Is pid a live (not zombie) process whose command line has `needle`
 * (our pid file's path, unique to this domain)? */
static bool
process_is_ours(pid_t pid, const char *needle)
{
    char path[64], *data = NULL, *p;
    size_t len;
    bool found = false;
    int fd;
    char st[512];
    ssize_t n;

    if (pid <= 1 || kill(pid, 0) < 0)
        return false;
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
        n = read(fd, st, sizeof(st) - 1);
        close(fd);
        if (n > 0) {
            st[n] = '\0';
            p = strrchr(st, ')');
            if (p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
                return false;
        }
    }
    if (!needle)
        return true;
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
    /* /proc files have no size: read until the end */
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return true;   /* cannot tell: believe the pid file */
    data = vs_xmalloc(1 << 16);
    len = 0;
    while (len < (1 << 16) - 1 && (n = read(fd, data + len, (1 << 16) - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    data[len] = '\0';
    for (p = data; p < data + len; p += strlen(p) + 1)
        if (strcmp(p, needle) == 0)
            found = true;
    free(data);
    return found;
}

static bool
process_gone(pid_t pid)
{
    return !process_is_ours(pid, NULL);
}

/* Remove what a running QEMU leaves in run/ (not the state file and logs). */
static void
run_cleanup(const vs_dom *d)
{
    static const char *const names[] = { "monitor.sock", "agent.sock", "pid", "domain.xml" };
    int fd = run_dir_open(d, false, NULL);
    size_t i;

    for (i = 0; fd >= 0 && i < sizeof(names) / sizeof(names[0]); i++)
        unlinkat(fd, names[i], 0);
    if (fd >= 0)
        close(fd);
}

/* ---- probing ------------------------------------------------------------- */

static void
info_set(vs_run_info *info, vs_run_state st, const char *reason, pid_t pid)
{
    info->state = st;
    snprintf(info->reason, sizeof(info->reason), "%s", reason);
    info->pid = pid;
}

/* QEMU's run state -> libvirt's state and reason, using the recorded
 * reason when vsnap itself made that state. */
static void
map_status(vs_run_info *info, const char *status, const recorded *rec)
{
    static const struct { const char *qemu; vs_run_state st; const char *reason; } map[] = {
        { "running", VS_RUN_RUNNING, "unknown" },
        { "paused", VS_RUN_PAUSED, "user" },
        { "prelaunch", VS_RUN_PAUSED, "starting up" },
        { "inmigrate", VS_RUN_PAUSED, "migrating" },
        { "postmigrate", VS_RUN_PAUSED, "migrating" },
        { "finish-migrate", VS_RUN_PAUSED, "migrating" },
        { "save-vm", VS_RUN_PAUSED, "saving" },
        { "restore-vm", VS_RUN_PAUSED, "from snapshot" },
        { "io-error", VS_RUN_PAUSED, "I/O error" },
        { "watchdog", VS_RUN_PAUSED, "watchdog" },
        { "guest-panicked", VS_RUN_CRASHED, "panicked" },
        { "suspended", VS_RUN_PMSUSPENDED, "unknown" },
        { "shutdown", VS_RUN_SHUTOFF, "shutdown" },
        { "internal-error", VS_RUN_PAUSED, "unknown" },
        { "debug", VS_RUN_PAUSED, "unknown" },
        { "colo", VS_RUN_RUNNING, "unknown" },
    };
    size_t i;

    snprintf(info->qemu_status, sizeof(info->qemu_status), "%s", status);
    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(map[i].qemu, status) != 0)
            continue;
        info->state = map[i].st;
        snprintf(info->reason, sizeof(info->reason), "%s", map[i].reason);
        /* "paused"/"running" as vsnap left them keep vsnap's reason */
        if (rec->state == map[i].st && (strcmp(status, "running") == 0 ||
                                        strcmp(status, "paused") == 0 ||
                                        strcmp(status, "prelaunch") == 0))
            snprintf(info->reason, sizeof(info->reason), "%s", rec->reason);
        return;
    }
    info->state = VS_RUN_PAUSED;
    snprintf(info->reason, sizeof(info->reason), "unknown");
}

/* ---- the monitor connection a command keeps -------------------------------- */

/*
 * QEMU greets a new monitor client only when its main loop gets to it,
 * which with a busy guest takes milliseconds: a command that asks for the
 * state and then talks to QEMU (a snapshot plan) uses one connection. A
 * state query leaves its connection with the domain (vs_dom's runtime
 * slot, closed by vs_dom_close); the next one that needs QEMU takes it,
 * when it still talks to the QEMU the pid file names.
 */
static void
conn_free(void *c)
{
    vs_qmp_free(c);
}

static void
conn_keep(vs_dom *d, vs_qmp *q)
{
    if (!q)
        return;
    if (d->runtime && d->runtime_free)
        d->runtime_free(d->runtime);
    d->runtime = q;
    d->runtime_free = conn_free;
}

static vs_qmp *
conn_take(vs_dom *d, pid_t pid)
{
    vs_qmp *q = d->runtime_free == conn_free ? d->runtime : NULL;

    if (!q)
        return NULL;
    d->runtime = NULL;
    d->runtime_free = NULL;
    if (pid > 0 && vs_qmp_peer_pid(q) != pid) {
        vs_qmp_free(q);
        return NULL;
    }
    return q;
}

/* A kept connection, if it still answers, else a new one. */
static vs_qmp *
connect_to(vs_dom *d, const char *sock, pid_t pid, bool *refused, char **status, vs_error *err)
{
    vs_qmp *c = conn_take(d, pid);
    vs_error ignore;

    vs_error_clear(&ignore);
    if (c && vs_qmp_query_status(c, status, NULL, &ignore) == 0)
        return c;
    vs_qmp_free(c);
    if (!(c = vs_qmp_connect(sock, QUERY_TIMEOUT_MS, refused, err)))
        return NULL;
    if (vs_qmp_query_status(c, status, NULL, err) < 0) {
        vs_qmp_free(c);
        return NULL;
    }
    return c;
}

/*
 * The heart of every query: pid file and process first, then (when `q` is
 * not NULL) QMP. With q, *q is the open monitor connection of a domain that
 * runs (NULL when shut off). `write` allows cleaning up stale files.
 */
static int
probe(vs_dom *d, vs_run_info *info, vs_qmp **q, bool write, vs_error *err)
{
    vs_domain_def *def;
    runtime rt;
    recorded rec;
    char *sock = NULL, *pidpath = NULL, *status = NULL;
    bool present, refused = false;
    pid_t pid;
    vs_qmp *c = NULL;
    int ret = -1;

    memset(info, 0, sizeof(*info));
    info->pid = -1;
    if (q)
        *q = NULL;
    if (!(def = vs_dom_def(d, err)))
        return -1;
    runtime_find(def, &rt);
    state_read(d, &rec);
    info_set(info, VS_RUN_SHUTOFF, rec.state == VS_RUN_SHUTOFF ? rec.reason : "unknown", -1);

    if (rt.monitor) {
        /* Someone else's QEMU: only its socket tells. */
        info->attached = true;
        if (!q) {
            /* peek: what vsnap saw last */
            if (rec.state != VS_RUN_SHUTOFF)
                info_set(info, rec.state, rec.reason, rec.pid);
            ret = 0;
            goto out;
        }
        if (!(c = connect_to(d, rt.monitor, -1, &refused, &status, err))) {
            if (refused) {
                vs_error_clear(err);
                if (write && rec.state != VS_RUN_SHUTOFF)
                    state_write(d, VS_RUN_SHUTOFF, "unknown", -1, NULL);
                ret = 0;
            }
            goto out;
        }
        map_status(info, status, &rec);
        info->pid = vs_qmp_peer_pid(c);
        if (write && (info->state != rec.state || info->pid != rec.pid))
            state_write(d, info->state, info->reason, info->pid, NULL);
        ret = 0;
        goto out;
    }

    pidpath = run_file(d, "pid");
    pid = pidfile_read(d, &present);
    if (!present || !process_is_ours(pid, pidpath)) {
        /* Shut off. QEMU removes its pid file when it ends by itself; one
         * left behind means it died (killed, crashed). */
        if (rec.state != VS_RUN_SHUTOFF) {
            const char *why = present ? "crashed" : "shutdown";
            info_set(info, VS_RUN_SHUTOFF, why, -1);
            if (write)
                state_write(d, VS_RUN_SHUTOFF, why, -1, NULL);
        }
        if (write)
            run_cleanup(d);
        ret = 0;
        goto out;
    }
    info_set(info, rec.state != VS_RUN_SHUTOFF ? rec.state : VS_RUN_RUNNING,
             rec.state != VS_RUN_SHUTOFF ? rec.reason : "unknown", pid);
    if (!q) {
        ret = 0;
        goto out;
    }
    sock = run_file(d, "monitor.sock");
    if (run_socket_check(d, "monitor.sock", err) < 0)
        goto out;
    if (!(c = connect_to(d, sock, pid, &refused, &status, err))) {
        if (refused)
            vs_error_set(err, VS_ERR_OPERATION_FAILED,
                         "QEMU of domain '%s' runs (pid %ld) but its monitor socket '%s' does not "
                         "answer; 'vsnap destroy %s' stops it", d->name, (long)pid, sock, d->name);
        goto out;
    }
    map_status(info, status, &rec);
    info->pid = pid;
    ret = 0;
 out:
    if (ret == 0 && q && info->state != VS_RUN_SHUTOFF) {
        *q = c;
        c = NULL;
    }
    vs_qmp_free(c);
    free(status);
    free(sock);
    free(pidpath);
    runtime_clear(&rt);
    return ret;
}

int
vs_domain_run_info(vs_dom *d, vs_run_info *info, vs_error *err)
{
    vs_qmp *q = NULL;
    int ret = probe(d, info, &q, true, err);

    /* the next command of this process to the same QEMU uses it */
    conn_keep(d, q);
    return ret;
}

int
vs_domain_run_peek(vs_dom *d, vs_run_info *info, vs_error *err)
{
    return probe(d, info, NULL, false, err);
}

vs_qmp *
vs_domain_monitor(vs_dom *d, vs_run_info *info, vs_error *err)
{
    vs_run_info local;
    vs_qmp *q = NULL;

    if (!info)
        info = &local;
    if (probe(d, info, &q, true, err) < 0)
        return NULL;
    if (!q)
        vs_error_set(err, VS_ERR_OPERATION_INVALID, NOT_RUNNING);
    return q;
}

vs_domstate
vs_domain_state(vs_dom *d)
{
    vs_run_info info;
    vs_error err;

    vs_error_clear(&err);
    if (vs_domain_run_info(d, &info, &err) < 0) {
        /* QEMU is there but does not answer: it still holds the images. */
        return VS_DOMSTATE_RUNNING;
    }
    switch (info.state) {
    case VS_RUN_SHUTOFF:
        return VS_DOMSTATE_SHUTOFF;
    case VS_RUN_PAUSED:
        return VS_DOMSTATE_PAUSED;
    case VS_RUN_RUNNING:
    case VS_RUN_CRASHED:
    case VS_RUN_PMSUSPENDED:
        break;
    }
    return VS_DOMSTATE_RUNNING;
}

int
vs_domain_require_inactive(vs_dom *d, vs_error *err)
{
    vs_run_info info;

    if (vs_domain_run_info(d, &info, err) < 0)
        return -1;
    if (info.state == VS_RUN_SHUTOFF)
        return 0;
    return vs_error_set(err, VS_ERR_NO_SUPPORT,
                        "domain '%s' is %s: this changes its images with qemu-img, which must "
                        "not touch images QEMU has open; shut it off first ('vsnap shutdown %s' "
                        "or 'vsnap destroy %s')",
                        d->name, vs_run_state_name(info.state), d->name, d->name);
}

/* ---- start ---------------------------------------------------------------- */

/* A listening unix socket at dir/name (0600), bound through the directory's
 * descriptor so that the path may be longer than sockaddr_un allows. */
static int
listen_socket(int dirfd, const char *dir, const char *name, vs_error *err)
{
    struct sockaddr_un sa;
    mode_t old;
    int fd, e;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd, name);
    unlinkat(dirfd, name, 0);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return vs_error_sys(err, errno, "cannot create a socket");
    old = umask(0177);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        e = errno;
        umask(old);
        close(fd);
        return vs_error_sys(err, e, "cannot bind socket '%s/%s'", dir, name);
    }
    umask(old);
    if (listen(fd, 4) < 0) {
        e = errno;
        close(fd);
        return vs_error_sys(err, e, "cannot listen on socket '%s/%s'", dir, name);
    }
    return fd;
}

static bool
kvm_usable(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/*
 * Copy the NVRAM template when the variables file is missing, or with reset
 * (snapshot-revert --reset-nvram) over it; then *old holds what it replaced
 * (caller frees), for nvram_restore when QEMU does not start.
 */
static int
nvram_prepare(const vs_qemu_launch *l, bool reset, vs_buf *old, vs_error *err)
{
    char *data = NULL;
    size_t len;
    int ret;

    if (!l->nvram || (!reset && vs_file_exists(l->nvram)))
        return 0;
    if (!l->nvram_template)
        return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                            reset ? "cannot re-initialize NVRAM file '%s': <nvram> names no "
                                    "template to create it from"
                                  : "NVRAM file '%s' does not exist and <nvram> names no template to "
                                    "create it from", l->nvram);
    if (reset && vs_file_exists(l->nvram)) {
        if (vs_file_read(l->nvram, 256u << 20, &data, &len, err) < 0)
            return -1;
        vs_buf_addn(old, data, len);
        free(data);
        data = NULL;
    }
    if (vs_file_read(l->nvram_template, 256u << 20, &data, &len, err) < 0)
        return -1;
    ret = vs_file_write_atomic(l->nvram, data, len, 0600, err);
    free(data);
    return ret;
}

/* Put back the variables nvram_prepare replaced (best effort: QEMU did not
 * start, and the error that says so is the one to show). */
static void
nvram_restore(const vs_qemu_launch *l, const vs_buf *old)
{
    vs_error e;

    vs_error_clear(&e);
    if (l->nvram && old->data)
        vs_file_write_atomic(l->nvram, old->data, old->len, 0600, &e);
}

/* The log's header: when, and the command line (quoted where needed). */
static void
log_command(int fd, char *const *argv)
{
    vs_buf b = VS_BUF_INIT;
    time_t t = time(NULL);
    struct tm tm;
    char when[64];
    size_t i;

    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    vs_buf_addf(&b, "%s: starting up\n", when);
    for (i = 0; argv[i]; i++) {
        const char *a = argv[i];
        bool plain = *a && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789-_=,.:/+@%") == strlen(a);
        if (i)
            vs_buf_addc(&b, ' ');
        if (plain) {
            vs_buf_add(&b, a);
        } else {
            vs_buf_addc(&b, '\'');
            for (; *a; a++) {
                if (*a == '\'')
                    vs_buf_add(&b, "'\\''");
                else
                    vs_buf_addc(&b, *a);
            }
            vs_buf_addc(&b, '\'');
        }
    }
    vs_buf_addc(&b, '\n');
    if (write(fd, b.data, b.len) < 0) {
        /* a log that cannot be written does not stop the start */
    }
    vs_buf_reset(&b);
}

/* The last non-empty line QEMU wrote to the log (caller frees). */
static char *
log_last_line(const char *path)
{
    char *data = NULL, *line = NULL, *e, *s;
    size_t len;

    if (vs_file_read(path, 8u << 20, &data, &len, NULL) < 0)
        return NULL;
    e = data + len;
    while (e > data && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' '))
        e--;
    s = e;
    while (s > data && s[-1] != '\n')
        s--;
    if (e > s)
        line = vs_xstrndup(s, (size_t)(e - s));
    free(data);
    return line;
}

static int
kill_qemu(pid_t pid, const char *pidpath)
{
    long long deadline;

    if (!process_is_ours(pid, pidpath))
        return 0;
    kill(pid, SIGTERM);
    deadline = vs_clock_ms() + KILL_GRACE_MS;
    while (vs_clock_ms() < deadline) {
        if (process_gone(pid))
            return 0;
        sleep_ms(1);
    }
    kill(pid, SIGKILL);
    deadline = vs_clock_ms() + 5000;
    while (vs_clock_ms() < deadline) {
        if (process_gone(pid))
            return 0;
        sleep_ms(2);
    }
    return -1;
}

/* Start QEMU from def_in (NULL: the persistent definition); with fd >= 0
 * the guest state is loaded from it through -incoming defer. */
static int
start_qemu(vs_dom *d, const vs_domain_def *def_in, int fd, const vs_mem_opts *mo, unsigned flags,
           vs_error *err)
{
    bool paused = flags & VS_START_PAUSED;
    vs_buf nvram_old = VS_BUF_INIT;
    const vs_domain_def *def;
    vs_domain_def *pers;
    vs_run_info info;
    runtime rt;
    vs_qemu_host host;
    vs_qemu_launch l;
    char *dir = NULL, *logpath = NULL, *sock = NULL, *line = NULL;
    int dirfd = -1, mon = -1, agent = -1, logfd = -1, keep[2];
    pid_t pid = -1;
    vs_qmp *q = NULL;
    vs_error e2;
    vs_buf xml = VS_BUF_INIT;
    int ret = -1;

    memset(&l, 0, sizeof(l));
    if (!(pers = vs_dom_def(d, err)))
        return -1;
    def = def_in ? def_in : pers;
    runtime_find(pers, &rt);
    if (rt.monitor) {
        vs_error_set(err, VS_ERR_OPERATION_INVALID,
                     "domain '%s' is run by another program (its monitor is '%s', from "
                     "<vsnap:runtime>): vsnap does not start it", d->name, rt.monitor);
        runtime_clear(&rt);
        return -1;
    }
    /* (an agent of its own, agent= alone, is the guest agent's business) */
    runtime_clear(&rt);
    if (probe(d, &info, NULL, true, err) < 0)
        return -1;
    if (info.state != VS_RUN_SHUTOFF)
        return vs_error_set(err, VS_ERR_OPERATION_INVALID, "domain is already running");

    dir = vs_domain_run_dir(d);
    if ((dirfd = run_dir_open(d, true, err)) < 0)
        goto out;
    fchmod(dirfd, 0700);
    run_cleanup(d);

    memset(&host, 0, sizeof(host));
    host.run_dir = dir;
    host.monitor_fd = 3;
    host.agent_fd = 4;
    host.kvm_ok = kvm_usable();
    host.network_dir = getenv("VSNAP_LIBVIRT_NETWORK_DIR");
    host.incoming_defer = fd >= 0;
    if (vs_qemu_launch_build(def, &host, &l, err) < 0 ||
        nvram_prepare(&l, flags & VS_START_RESET_NVRAM, &nvram_old, err) < 0)
        goto out;
    if ((mon = listen_socket(dirfd, dir, "monitor.sock", err)) < 0)
        goto out;
    if (l.agent && (agent = listen_socket(dirfd, dir, "agent.sock", err)) < 0)
        goto out;
    logpath = run_file(d, "qemu.log");
    if ((logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
        vs_error_sys(err, errno, "cannot open '%s'", logpath);
        goto out;
    }
    log_command(logfd, l.argv);
    vs_domain_def_format(&xml, def, 0, true, NULL);
    vs_buf_addc(&xml, '\n');
    if (run_replace(d, "domain.xml", xml.data, xml.len, err) < 0)
        goto out;
    keep[0] = mon;
    keep[1] = agent;
    if (vs_spawn_daemon((const char *const *)l.argv, l.env, logfd, keep, l.agent ? 2 : 1, &pid,
                        err) < 0)
        goto out;
    close(mon);
    mon = -1;
    if (agent >= 0) {
        close(agent);
        agent = -1;
    }
    sock = run_file(d, "monitor.sock");
    if (!(q = vs_qmp_connect(sock, START_TIMEOUT_MS, NULL, err))) {
        line = log_last_line(logpath);
        if (line && process_gone(pid))
            vs_error_set(err, VS_ERR_INTERNAL, "qemu unexpectedly closed the monitor: %s", line);
        goto out;
    }
    if (l.vnc_password) {
        json_object *a = json_object_new_object();
        json_object_object_add(a, "protocol", json_object_new_string("vnc"));
        json_object_object_add(a, "password", json_object_new_string(l.vnc_password));
        if (vs_qmp_command(q, "set_password", a, NULL, err) < 0)
            goto out;
    }
    if (fd >= 0 && vs_mem_load(q, fd, mo, err) < 0) {
        /* QEMU says why in its log ("load of migration failed: ...") */
        struct timespec ts = { 0, 20 * 1000 * 1000 };

        nanosleep(&ts, NULL);
        if ((line = log_last_line(logpath)) && strstr(line, "migration"))
            vs_error_set(err, VS_ERR_OPERATION_FAILED, "QEMU could not load the memory state: %s",
                         line);
        goto out;
    }
    if (!paused && (fd >= 0 ? vs_mem_resume(q, err) : vs_qmp_command(q, "cont", NULL, NULL, err)) < 0)
        goto out;
    if (state_write(d, paused ? VS_RUN_PAUSED : VS_RUN_RUNNING,
                    fd >= 0 ? (paused ? "migrating" : "restored") : paused ? "user" : "booted",
                    pid, err) < 0)
        goto out;
    ret = 0;
 out:
    if (ret < 0 && pid > 0) {
        /* QEMU started but did not get ready: it goes, and start failed */
        vs_qmp_free(q);
        q = NULL;
        kill(pid, SIGKILL);
        kill_qemu(pid, NULL);
        run_cleanup(d);
        vs_error_clear(&e2);
        state_write(d, VS_RUN_SHUTOFF, "failed", -1, &e2);
    } else if (ret < 0 && dirfd >= 0) {
        run_cleanup(d);
    }
    if (ret < 0)
        nvram_restore(&l, &nvram_old);
    vs_buf_reset(&nvram_old);
    vs_qmp_free(q);
    if (mon >= 0)
        close(mon);
    if (agent >= 0)
        close(agent);
    if (logfd >= 0)
        close(logfd);
    if (dirfd >= 0)
        close(dirfd);
    vs_buf_reset(&xml);
    vs_qemu_launch_clear(&l);
    free(dir);
    free(logpath);
    free(sock);
    free(line);
    return ret;
}

int
vs_domain_start(vs_dom *d, bool paused, vs_error *err)
{
    return start_qemu(d, NULL, -1, NULL, paused ? VS_START_PAUSED : 0, err);
}

int
vs_domain_start_flags(vs_dom *d, unsigned flags, vs_error *err)
{
    return start_qemu(d, NULL, -1, NULL, flags, err);
}

int
vs_domain_start_incoming(vs_dom *d, const vs_domain_def *def, int fd, const vs_mem_opts *o,
                         unsigned flags, vs_error *err)
{
    return start_qemu(d, def, fd, o, flags, err);
}

/* ---- stop, pause ------------------------------------------------------------ */

static bool
match_any(json_object *data, void *opaque)
{
    (void)data;
    (void)opaque;
    return true;
}

int
vs_domain_shutdown(vs_dom *d, int timeout_s, void (*requested)(void *opaque), void *opaque,
                   vs_error *err)
{
    vs_run_info info;
    vs_qmp *q;
    long long deadline;
    int rc;

    if (!(q = vs_domain_monitor(d, &info, err)))
        return -1;
    if (vs_qmp_command(q, "system_powerdown", NULL, NULL, err) < 0) {
        vs_qmp_free(q);
        return -1;
    }
    if (requested)
        requested(opaque);
    if (timeout_s <= 0) {
        vs_qmp_free(q);
        return 0;
    }
    deadline = vs_clock_ms() + (long long)timeout_s * 1000;
    rc = vs_qmp_event_wait(q, "SHUTDOWN", match_any, NULL, (int)(deadline - vs_clock_ms()), NULL, err);
    vs_qmp_free(q);
    if (rc < 0 && err->code == VS_ERR_OPERATION_FAILED)
        rc = 1;     /* QEMU closed the monitor: it ended */
    if (rc < 0)
        return -1;
    if (rc == 0)
        return vs_error_set(err, VS_ERR_TIMEOUT,
                            "domain '%s' did not shut down within %d seconds: the guest did not "
                            "react to the ACPI power button (a guest without an OS, or with ACPI "
                            "off, never does); 'vsnap destroy %s' forces it off",
                            d->name, timeout_s, d->name);
    vs_error_clear(err);
    if (info.attached)
        return state_write(d, VS_RUN_SHUTOFF, "shutdown", -1, err);
    /* QEMU ends right after SHUTDOWN; wait for the process. */
    while (vs_clock_ms() < deadline + 5000 && !process_gone(info.pid))
        sleep_ms(1);
    if (!process_gone(info.pid))
        return vs_error_set(err, VS_ERR_TIMEOUT,
                            "QEMU of domain '%s' (pid %ld) shut the guest down but did not exit; "
                            "'vsnap destroy %s' ends it", d->name, (long)info.pid, d->name);
    run_cleanup(d);
    return state_write(d, VS_RUN_SHUTOFF, "shutdown", -1, err);
}

int
vs_domain_record_state(vs_dom *d, vs_run_state st, const char *reason, vs_error *err)
{
    vs_run_info info;
    vs_error ignore;

    vs_error_clear(&ignore);
    if (probe(d, &info, NULL, false, &ignore) < 0)
        info.pid = -1;
    return state_write(d, st, reason, st == VS_RUN_SHUTOFF ? -1 : info.pid, err);
}

static int
destroy(vs_dom *d, const char *reason, bool must_run, vs_error *err)
{
    vs_run_info info;
    char *pidpath;
    int rc;

    if (probe(d, &info, NULL, true, err) < 0)
        return -1;
    if (info.attached) {
        vs_domain_def *def = vs_dom_def(d, err);
        runtime rt;

        runtime_find(def, &rt);
        vs_error_set(err, VS_ERR_OPERATION_INVALID,
                     "domain '%s' is run by another program (its monitor is '%s', from "
                     "<vsnap:runtime>): vsnap never kills a QEMU it did not start; use "
                     "'vsnap shutdown %s' or the program that started it",
                     d->name, rt.monitor, d->name);
        runtime_clear(&rt);
        return -1;
    }
    if (info.state == VS_RUN_SHUTOFF) {
        if (must_run)
            return vs_error_set(err, VS_ERR_OPERATION_INVALID, NOT_RUNNING);
        return state_write(d, VS_RUN_SHUTOFF, reason, -1, err);
    }
    pidpath = run_file(d, "pid");
    rc = kill_qemu(info.pid, pidpath);
    free(pidpath);
    if (rc < 0)
        return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                            "QEMU of domain '%s' (pid %ld) did not exit after SIGKILL",
                            d->name, (long)info.pid);
    run_cleanup(d);
    return state_write(d, VS_RUN_SHUTOFF, reason, -1, err);
}

int
vs_domain_destroy(vs_dom *d, vs_error *err)
{
    return destroy(d, "destroyed", true, err);
}

int
vs_domain_stop(vs_dom *d, const char *reason, vs_error *err)
{
    return destroy(d, reason, false, err);
}

int
vs_domain_suspend(vs_dom *d, vs_error *err)
{
    vs_run_info info;
    vs_qmp *q;
    int ret = 0;

    if (!(q = vs_domain_monitor(d, &info, err)))
        return -1;
    if (info.state != VS_RUN_PAUSED)
        ret = vs_qmp_command(q, "stop", NULL, NULL, err);
    vs_qmp_free(q);
    if (ret == 0 && info.state != VS_RUN_PAUSED)
        ret = state_write(d, VS_RUN_PAUSED, "user", info.pid, err);
    return ret;
}

int
vs_domain_resume(vs_dom *d, vs_error *err)
{
    vs_run_info info;
    vs_qmp *q;
    int ret = 0;

    if (!(q = vs_domain_monitor(d, &info, err)))
        return -1;
    if (info.state == VS_RUN_PMSUSPENDED) {
        vs_qmp_free(q);
        return vs_error_set(err, VS_ERR_OPERATION_INVALID, "domain is pmsuspended");
    }
    if (info.state == VS_RUN_PAUSED || info.state == VS_RUN_CRASHED)
        ret = vs_qmp_command(q, "cont", NULL, NULL, err);
    vs_qmp_free(q);
    if (ret == 0 && info.state != VS_RUN_RUNNING)
        ret = state_write(d, VS_RUN_RUNNING, "unpaused", info.pid, err);
    return ret;
}

vs_domain_def *
vs_domain_live_def(vs_dom *d, vs_error *err)
{
    char *path = run_file(d, "domain.xml"), *data = NULL;
    vs_domain_def *def = NULL, *pers;
    vs_run_info info;
    size_t len;

    if (probe(d, &info, NULL, false, err) == 0 && info.state != VS_RUN_SHUTOFF &&
        run_read(d, "domain.xml", VS_XML_MAX_SIZE, &data, &len, NULL) == 0)
        def = vs_domain_def_parse(data, len, path, err);
    free(data);
    free(path);
    if (def)
        return def;
    if (!(pers = vs_dom_def(d, err)))
        return NULL;
    return vs_domain_def_copy(pers);
}

int
vs_domain_live_def_save(vs_dom *d, const vs_domain_def *def, vs_error *err)
{
    char *path = run_file(d, "domain.xml");
    vs_buf xml = VS_BUF_INIT;
    vs_run_info info;
    int ret = 0;

    if (probe(d, &info, NULL, false, err) < 0) {
        free(path);
        return -1;
    }
    if (!info.attached && info.state != VS_RUN_SHUTOFF && vs_file_exists(path)) {
        vs_domain_def_format(&xml, def, 0, true, NULL);
        vs_buf_addc(&xml, '\n');
        ret = run_replace(d, "domain.xml", xml.data, xml.len, err);
        vs_buf_reset(&xml);
    }
    free(path);
    return ret;
}

vs_qmp *
vs_domain_agent(vs_dom *d, int timeout_ms, vs_error *err)
{
    vs_domain_def *def;
    vs_run_info info;
    runtime rt;
    char *path = NULL;
    vs_qmp *q = NULL;
    bool refused = false;

    if (!(def = vs_dom_def(d, err)))
        return NULL;
    if (probe(d, &info, NULL, true, err) < 0)
        return NULL;
    if (info.state == VS_RUN_SHUTOFF) {
        vs_error_set(err, VS_ERR_OPERATION_INVALID, NOT_RUNNING);
        return NULL;
    }
    runtime_find(def, &rt);
    if (rt.agent) {
        path = vs_xstrdup(rt.agent);
    } else if (!rt.monitor) {
        path = run_file(d, "agent.sock");
        if (run_socket_check(d, "agent.sock", err) < 0) {
            free(path);
            runtime_clear(&rt);
            return NULL;
        }
        if (!vs_file_exists(path)) {
            free(path);
            path = NULL;
        }
    }
    runtime_clear(&rt);
    if (!path) {
        vs_error_set(err, VS_ERR_ARG_UNSUPPORTED, "QEMU guest agent is not configured");
        return NULL;
    }
    q = vs_qga_connect(path, timeout_ms, &refused, err);
    if (!q && refused)
        vs_error_set(err, VS_ERR_AGENT_UNRESPONSIVE, "QEMU guest agent is not connected");
    free(path);
    return q;
}
