#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"
#include "path.h"

#define LOCK_POLL_NS (20 * 1000 * 1000)

static double
now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Lock the open fd (closed on failure). */
static int
lock_fd(int fd, const char *path, const char *domain, vs_lock_mode mode, int wait_seconds,
        vs_error *err)
{
    int op;
    double deadline;

    if (mode == VS_LOCK_SHARED)
        op = LOCK_SH;
    else if (mode == VS_LOCK_EXCLUSIVE)
        op = LOCK_EX;
    else {
        close(fd);
        return vs_error_set(err, VS_ERR_INTERNAL, "invalid lock mode %d", (int)mode);
    }

    /* Polling with LOCK_NB rather than blocking keeps the wait bounded
     * without alarm() games. */
    deadline = now_seconds() + (wait_seconds > 0 ? wait_seconds : 0);
    for (;;) {
        struct timespec ts = { 0, LOCK_POLL_NS };

        if (flock(fd, op | LOCK_NB) == 0)
            return fd;
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK) {
            int e = errno;
            close(fd);
            return vs_error_sys(err, e, "cannot lock '%s'", path);
        }
        if (wait_seconds == 0 || (wait_seconds > 0 && now_seconds() >= deadline))
            break;
        nanosleep(&ts, NULL);
    }
    close(fd);
    /* Nothing is changed before the lock is held, so retrying is always safe;
     * saying so (and how long vsnap waited) tells cron jobs and admins what
     * to do. */
    if (wait_seconds == 0)
        return vs_error_set(err, VS_ERR_BUSY,
                            "domain '%s' is busy: another vsnap command holds its lock; "
                            "nothing was changed, it is safe to retry", domain);
    return vs_error_set(err, VS_ERR_BUSY,
                        "domain '%s' is busy: another vsnap command held its lock for the "
                        "%d second%s vsnap waited; nothing was changed, it is safe to retry",
                        domain, wait_seconds, wait_seconds == 1 ? "" : "s");
}

int
vs_lock_acquire(const char *path, const char *domain, vs_lock_mode mode,
                int wait_seconds, vs_error *err)
{
    int fd;

    if (mode != VS_LOCK_SHARED && mode != VS_LOCK_EXCLUSIVE)
        return vs_error_set(err, VS_ERR_INTERNAL, "invalid lock mode %d", (int)mode);
    do {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return vs_error_sys(err, errno, "cannot open lock file '%s'", path);
    return lock_fd(fd, path, domain, mode, wait_seconds, err);
}

int
vs_lock_acquire_at(int dirfd, const char *name, const char *shown, const char *domain,
                   vs_lock_mode mode, int wait_seconds, vs_error *err)
{
    struct stat st;
    int fd;

    if (mode != VS_LOCK_SHARED && mode != VS_LOCK_EXCLUSIVE)
        return vs_error_set(err, VS_ERR_INTERNAL, "invalid lock mode %d", (int)mode);
    do {
        /* O_NONBLOCK: a FIFO in the file's place must not hang the open. */
        fd = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK,
                    0600);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int e = errno;

        if ((e == ELOOP || e == EMLINK) && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(st.st_mode))
            return vs_link_error(err, shown);
        return vs_error_sys(err, e, "cannot open lock file '%s'", shown);
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return vs_error_set(err, VS_ERR_PLAIN, "'%s' is not a regular file", shown);
    }
    return lock_fd(fd, shown, domain, mode, wait_seconds, err);
}

void
vs_lock_release(int fd)
{
    if (fd < 0)
        return;
    flock(fd, LOCK_UN);
    close(fd);
}
