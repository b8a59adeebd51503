/* Memory state between QEMU and a save-image file (see memory_transfer.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "clock.h"
#include "failpoint.h"
#include "mem.h"
#include "memory_transfer.h"
#include "path.h"
#include "progress.h"
#include "saveimage.h"

#define FDNAME          "vsnap-migrate"
#define SLICE_MS        100          /* between progress reports and signal checks */
#define SETTLE_MS       10000        /* finish-migrate -> postmigrate */
/* libvirt's "unlimited" (QEMU's default is 32 MiB/s) */
#define UNLIMITED_BW    9223372036853727232LL


char *
vs_mem_temp_path(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = vs_path_dir(path), *name, *p;

    name = vs_xasprintf(".%s" VS_MEM_TEMP_SUFFIX, slash ? slash + 1 : path);
    p = slash ? vs_path_join(dir, name) : vs_xstrdup(name);
    free(name);
    free(dir);
    return p;
}

/* ---- interrupts during a copy ------------------------------------------------ */

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
    interrupted = sig;
}

typedef struct sig_guard {
    struct sigaction old_int, old_term;
} sig_guard;

static void
guard_on(sig_guard *g)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &g->old_int);
    sigaction(SIGTERM, &sa, &g->old_term);
}

static void
guard_off(sig_guard *g)
{
    sigaction(SIGINT, &g->old_int, NULL);
    sigaction(SIGTERM, &g->old_term, NULL);
}

/* ---- QEMU facts ------------------------------------------------------------ */

/* The guest's RAM in bytes (0 when QEMU does not say). */
static int
ram_size(vs_qmp *q, uint64_t *bytes, vs_error *err)
{
    json_object *r = NULL, *v;

    *bytes = 0;
    if (vs_qmp_command(q, "query-memory-size-summary", NULL, &r, err) < 0)
        return -1;
    if (r && json_object_object_get_ex(r, "base-memory", &v))
        *bytes += (uint64_t)json_object_get_int64(v);
    if (r && json_object_object_get_ex(r, "plugged-memory", &v))
        *bytes += (uint64_t)json_object_get_int64(v);
    json_object_put(r);
    return 0;
}

int
vs_mem_space_check(vs_qmp *q, const char *dir, uint64_t extra, uint64_t *estimate,
                   vs_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;

    if (fd < 0)
        return vs_error_sys(err, errno, "cannot tell the free space in '%s'", dir);
    ret = vs_mem_space_check_fd(q, fd, dir, extra, estimate, err);
    close(fd);
    return ret;
}

int
vs_mem_space_check_fd(vs_qmp *q, int dirfd, const char *dir, uint64_t extra,
                      uint64_t *estimate, vs_error *err)
{
    struct statvfs sv;
    uint64_t ram, need, avail;

    if (ram_size(q, &ram, err) < 0)
        return -1;
    need = ram + extra + (1u << 20);
    if (estimate)
        *estimate = need;
    if (fstatvfs(dirfd, &sv) < 0)
        return vs_error_sys(err, errno, "cannot tell the free space in '%s'", dir);
    avail = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
    /* Test-only: the check believes there is room, so that the copy itself
     * meets the full disk. */
    if (vs_failpoint("mem-space-unchecked"))
        return 0;
    if (avail < need)
        return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                            "not enough free space in '%s' to save the memory of a guest with "
                            "%llu MiB of RAM: %llu MiB needed, %llu MiB available",
                            dir, (unsigned long long)(ram >> 20),
                            (unsigned long long)((need + (1u << 20) - 1) >> 20),
                            (unsigned long long)(avail >> 20));
    return 0;
}

/* ---- migration settings ------------------------------------------------------- */

static int
set_bandwidth(vs_qmp *q, long long bw, vs_error *err)
{
    json_object *a = json_object_new_object();

    json_object_object_add(a, "max-bandwidth", json_object_new_int64(bw));
    return vs_qmp_command(q, "migrate-set-parameters", a, NULL, err);
}

static int
get_bandwidth(vs_qmp *q, long long *bw, vs_error *err)
{
    json_object *r = NULL, *v;

    *bw = -1;
    if (vs_qmp_command(q, "query-migrate-parameters", NULL, &r, err) < 0)
        return -1;
    if (r && json_object_object_get_ex(r, "max-bandwidth", &v))
        *bw = json_object_get_int64(v);
    json_object_put(r);
    return 0;
}

/* QEMU's reason a migration failed (caller frees). */
static char *
migration_error(vs_qmp *q)
{
    json_object *r = NULL, *v;
    vs_error ignore;
    char *msg = NULL;

    vs_error_clear(&ignore);
    if (vs_qmp_command(q, "query-migrate", NULL, &r, &ignore) == 0 && r &&
        json_object_object_get_ex(r, "error-desc", &v))
        msg = vs_xstrdup(json_object_get_string(v));
    json_object_put(r);
    return msg ? msg : vs_xstrdup("QEMU gave no reason");
}

static bool
match_final(json_object *data, void *opaque)
{
    json_object *v;
    const char *s;

    (void)opaque;
    if (!data || !json_object_object_get_ex(data, "status", &v))
        return false;
    s = json_object_get_string(v);
    return strcmp(s, "completed") == 0 || strcmp(s, "failed") == 0 ||
           strcmp(s, "cancelled") == 0;
}

/* Bytes moved so far: the file offset QEMU shares with fd. */
static void
report(const char *what, int fd, off_t start, uint64_t total)
{
    off_t pos;

    if (!what || !vs_progress_wanted() || total == 0)
        return;
    pos = lseek(fd, 0, SEEK_CUR);
    if (pos < start)
        return;
    vs_progress_report(what, 100.0 * (double)(pos - start) / (double)total, false);
}

/* The copy ended: 100% once when it succeeded (a copy faster than the
 * first report shows that alone), then the line is cleared. */
static void
progress_end(const vs_mem_opts *o, bool succeeded)
{
    if (!o->what || !vs_progress_wanted())
        return;
    if (succeeded)
        vs_progress_report(o->what, 100, false);
    vs_progress_report(o->what, 100, true);
}

/*
 * Wait for the MIGRATION event that ends the migration. 1: completed,
 * 0: failed or cancelled (err says why), -1: error / timeout / interrupt
 * (err set; the migration may still run).
 */
static int
wait_migration(vs_qmp *q, int fd, const vs_mem_opts *o, uint64_t total, const char *dir,
               vs_error *err)
{
    long long deadline = vs_clock_ms() + (o->timeout_ms > 0 ? o->timeout_ms : VS_MEM_TIMEOUT_MS);
    off_t start = lseek(fd, 0, SEEK_CUR);

    for (;;) {
        json_object *data = NULL, *v;
        long long left = deadline - vs_clock_ms();
        int rc;

        if (interrupted)
            return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                                "the memory copy was interrupted (signal %d)", (int)interrupted);
        if (left <= 0)
            return vs_error_set(err, VS_ERR_TIMEOUT, "the memory copy did not end within %d s",
                                (o->timeout_ms > 0 ? o->timeout_ms : VS_MEM_TIMEOUT_MS) / 1000);
        rc = vs_qmp_event_wait(q, "MIGRATION", match_final, NULL,
                               (int)(left < SLICE_MS ? left : SLICE_MS), &data, err);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            report(o->what, fd, start, total);
            continue;
        }
        json_object_object_get_ex(data, "status", &v);
        if (strcmp(json_object_get_string(v), "completed") == 0) {
            json_object_put(data);
            return 1;
        }
        json_object_put(data);
        {
            char *why = migration_error(q);

            vs_error_set(err, VS_ERR_OPERATION_FAILED, "QEMU could not %s the memory state: %s",
                         dir, why);
            free(why);
        }
        return 0;
    }
}

/* Wait until QEMU's run state is no longer `transient` (e.g. "finish-migrate"). */
static int
settle(vs_qmp *q, const char *transient, char **status, vs_error *err)
{
    long long deadline = vs_clock_ms() + SETTLE_MS;
    struct timespec ts = { 0, 1000 * 1000 };

    for (;;) {
        if (vs_qmp_query_status(q, status, NULL, err) < 0)
            return -1;
        if (strcmp(*status, transient) != 0)
            return 0;
        if (vs_clock_ms() >= deadline)
            return vs_error_set(err, VS_ERR_TIMEOUT, "QEMU's run state stays '%s'", transient);
        free(*status);
        *status = NULL;
        nanosleep(&ts, NULL);
    }
}

int
vs_mem_resume(vs_qmp *q, vs_error *err)
{
    char *status = NULL;
    int rc = settle(q, "finish-migrate", &status, err);

    free(status);
    if (rc < 0)
        return -1;
    return vs_qmp_command(q, "cont", NULL, NULL, err);
}

/* ---- out ----------------------------------------------------------------------- */

int
vs_mem_migrate_out(vs_qmp *q, int fd, const vs_mem_opts *o, bool *was_running, vs_error *err)
{
    vs_mem_opts none = { 0 };
    bool running = false, stopped = false, started = false;
    long long old_bw = -1;
    uint64_t total = 0;
    json_object *a;
    sig_guard g;
    vs_error e2;
    int rc, ret = -1;

    if (!o)
        o = &none;
    guard_on(&g);
    if (vs_qmp_query_status(q, NULL, &running, err) < 0)
        goto out;
    if (was_running)
        *was_running = running;
    if (o->what && vs_progress_wanted() && ram_size(q, &total, err) < 0)
        goto out;
    if (running && !o->live) {
        if (vs_qmp_command(q, "stop", NULL, NULL, err) < 0)
            goto out;
        stopped = true;
    }
    if (vs_qmp_migration_events(q, err) < 0 || get_bandwidth(q, &old_bw, err) < 0 ||
        set_bandwidth(q, UNLIMITED_BW, err) < 0)
        goto out;
    if (vs_qmp_getfd(q, fd, FDNAME, err) < 0)
        goto out;
    a = json_object_new_object();
    json_object_object_add(a, "uri", json_object_new_string("fd:" FDNAME));
    if (vs_qmp_command(q, "migrate", a, NULL, err) < 0) {
        vs_error_clear(&e2);
        a = json_object_new_object();
        json_object_object_add(a, "fdname", json_object_new_string(FDNAME));
        vs_qmp_command(q, "closefd", a, NULL, &e2);
        goto out;
    }
    started = true;
    /* Test-only: "mem-copy" (with :kill, vsnap dies here) and
     * "mem-kill-qemu" (QEMU dies here), while QEMU writes the stream. */
    if (vs_failpoint("mem-kill-qemu") && vs_qmp_peer_pid(q) > 1)
        kill(vs_qmp_peer_pid(q), SIGKILL);
    if (vs_failpoint("mem-copy")) {
        vs_error_set(err, VS_ERR_OPERATION_FAILED, "failpoint mem-copy");
        goto out;
    }
    rc = wait_migration(q, fd, o, total, "save", err);
    if (rc > 0) {
        char *status = NULL;

        started = false;
        if (settle(q, "finish-migrate", &status, err) < 0) {
            free(status);
            goto out;
        }
        free(status);
        ret = 0;
    } else if (rc == 0) {
        started = false;
    }
 out:
    vs_error_clear(&e2);
    if (started) {
        /* interrupted or timed out: stop QEMU writing, and wait for it */
        json_object *d = NULL;

        if (vs_qmp_command(q, "migrate_cancel", NULL, NULL, &e2) == 0)
            vs_qmp_event_wait(q, "MIGRATION", match_final, NULL, SETTLE_MS, &d, &e2);
        json_object_put(d);
    }
    if (old_bw >= 0)
        set_bandwidth(q, old_bw, &e2);
    if (ret < 0 && running) {
        /* the guest ran: it runs again (live: QEMU may have paused it at
         * the last pass) */
        char *status = NULL;

        vs_error_clear(&e2);
        if (settle(q, "finish-migrate", &status, &e2) == 0 &&
            (strcmp(status, "running") != 0 || stopped))
            vs_qmp_command(q, "cont", NULL, NULL, &e2);
        free(status);
    }
    progress_end(o, ret == 0);
    guard_off(&g);
    return ret;
}

int
vs_mem_save_at(vs_qmp *q, int dirfd, const char *name, const char *shown, const char *xml,
               const char *cookie, const vs_mem_opts *o, bool *was_running, vs_error *err)
{
    char *tmp = vs_xasprintf(".%s" VS_MEM_TEMP_SUFFIX, name), *tmp_shown = vs_mem_temp_path(shown);
    char *dir = vs_path_dir(shown);
    uint64_t header = VS_SAVEIMAGE_HEADER_SIZE + VS_SAVEIMAGE_PAD + strlen(xml) + 2 +
                      (cookie ? strlen(cookie) : 64);
    bool running = false, mark, made = false;
    int fd = -1, ret = -1;

    if (!cookie)
        cookie = vs_saveimage_default_cookie();
    if (vs_mem_space_check_fd(q, dirfd, dir, header, NULL, err) < 0)
        goto out;
    fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            vs_error_set(err, VS_ERR_OPERATION_FAILED,
                         "'%s' exists: another save to '%s' is in progress, or one was "
                         "interrupted ('vsnap snapshot-check --repair DOMAIN' removes it)",
                         tmp_shown, shown);
        else
            vs_error_sys(err, errno, "Failed to create file '%s'", tmp_shown);
        goto out;
    }
    made = true;
    if (fchmod(fd, 0600) < 0) {
        vs_error_sys(err, errno, "cannot set the mode of '%s'", tmp_shown);
        goto out;
    }
    /* The header says whether the guest ran: ask before writing it. */
    if (vs_qmp_query_status(q, NULL, &running, err) < 0)
        goto out;
    if (o && o->mark != VS_MEM_MARK_AS_IS)
        mark = o->mark == VS_MEM_MARK_RUNNING;
    else
        mark = running;
    if (vs_saveimage_write_header(fd, tmp_shown, xml, cookie, mark, NULL, err) < 0)
        goto out;
    if (vs_mem_migrate_out(q, fd, o, &running, err) < 0)
        goto out;
    if (vs_failpoint("mem-mark-complete")) {
        vs_error_set(err, VS_ERR_OPERATION_FAILED, "failpoint mem-mark-complete");
        goto resume;
    }
    if (vs_saveimage_mark_complete(fd, tmp_shown, err) < 0)
        goto resume;
    if (o && o->bypass_cache)
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (close(fd) < 0) {
        fd = -1;
        vs_error_sys(err, errno, "cannot close '%s'", tmp_shown);
        goto resume;
    }
    fd = -1;
    if (renameat(dirfd, tmp, dirfd, name) < 0) {
        vs_error_sys(err, errno, "cannot rename '%s' to '%s'", tmp_shown, shown);
        goto resume;
    }
    made = false;
    if (fsync(dirfd) < 0) {
        /* renamed: the file is there and complete */
        vs_error_sys(err, errno, "cannot sync directory '%s'", dir);
        goto out;
    }
    if (was_running)
        *was_running = running;
    ret = 0;
    goto out;
 resume:
    if (running) {
        vs_error e2;

        vs_error_clear(&e2);
        vs_mem_resume(q, &e2);
    }
 out:
    if (fd >= 0)
        close(fd);
    if (made)
        unlinkat(dirfd, tmp, 0);
    free(tmp);
    free(tmp_shown);
    free(dir);
    return ret;
}

int
vs_mem_save_file(vs_qmp *q, const char *path, const char *xml, const char *cookie,
                 const vs_mem_opts *o, bool *was_running, vs_error *err)
{
    char *dir = vs_path_dir(path);
    const char *slash = strrchr(path, '/');
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;

    if (dirfd < 0) {
        vs_error_sys(err, errno, "Failed to create file '%s'", path);
        free(dir);
        return -1;
    }
    ret = vs_mem_save_at(q, dirfd, slash ? slash + 1 : path, path, xml, cookie, o, was_running,
                         err);
    close(dirfd);
    free(dir);
    return ret;
}

/* ---- in ------------------------------------------------------------------------ */

int
vs_mem_load(vs_qmp *q, int fd, const vs_mem_opts *o, vs_error *err)
{
    vs_mem_opts none = { 0 };
    uint64_t total = 0;
    struct stat st;
    json_object *a;
    sig_guard g;
    int rc, ret = -1;

    if (!o)
        o = &none;
    if (o->what && vs_progress_wanted() && fstat(fd, &st) == 0) {
        off_t pos = lseek(fd, 0, SEEK_CUR);

        if (pos >= 0 && st.st_size > pos)
            total = (uint64_t)(st.st_size - pos);
    }
    guard_on(&g);
    if (vs_qmp_migration_events(q, err) < 0 || vs_qmp_getfd(q, fd, FDNAME, err) < 0)
        goto out;
    a = json_object_new_object();
    json_object_object_add(a, "uri", json_object_new_string("fd:" FDNAME));
    if (vs_qmp_command(q, "migrate-incoming", a, NULL, err) < 0)
        goto out;
    rc = wait_migration(q, fd, o, total, "load", err);
    if (rc > 0) {
        char *status = NULL;

        /* QEMU leaves "inmigrate" for "paused" (-S) once it is loaded */
        rc = settle(q, "inmigrate", &status, err);
        free(status);
        if (rc == 0)
            ret = 0;
    }
    if (ret == 0 && o->bypass_cache)
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
 out:
    progress_end(o, ret == 0);
    guard_off(&g);
    return ret;
}
