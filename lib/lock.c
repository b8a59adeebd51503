#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"
#include "path.h"

#define LOCK_POLL_NS (20 * 1000 * 1000)
#define OWNER_MAX 128
#define RECORD_MAX 512

static double
now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the holder's record ------------------------------------------------ */

static char owner[OWNER_MAX];

void
vs_lock_set_owner(const char *what)
{
    size_t i;

    owner[0] = '\0';
    /* printable ASCII only: it ends up in other people's error messages */
    for (i = 0; what && what[i] && i + 1 < sizeof(owner); i++)
        owner[i] = isprint((unsigned char)what[i]) ? what[i] : '?';
    owner[what ? i : 0] = '\0';
}

/* Field 22 of /proc/PID/stat, the start time in clock ticks since boot; 0
 * when it cannot be read. The command name before it may hold anything, so
 * the fields are counted after its closing parenthesis. */
static unsigned long long
start_time(long pid)
{
    char path[64], buf[1024], *p;
    unsigned long long v = 0;
    ssize_t n;
    int fd, field;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    if (!(p = strrchr(buf, ')')))
        return 0;
    p++;
    /* after ")" come field 3 (state), 4, ...: field 22 is the 20th */
    for (field = 3; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    if (p)
        v = strtoull(p + 1, NULL, 10);
    return v;
}

/* The fds this process holds writer locks through, to clear their records. */
static int writers[64];
static size_t nwriters;

static void
write_record(int fd)
{
    char rec[RECORD_MAX];
    int n;

    if (!owner[0])
        return;
    n = snprintf(rec, sizeof(rec), "vsnap-lock 1\npid %ld\nstart %llu\ncommand %s\n",
                 (long)getpid(), start_time((long)getpid()), owner);
    if (n <= 0 || (size_t)n >= sizeof(rec))
        return;
    /* advisory and only read by waiters: no sync needed */
    if (pwrite(fd, rec, (size_t)n, 0) == n && ftruncate(fd, n) == 0 &&
        nwriters < sizeof(writers) / sizeof(writers[0]))
        writers[nwriters++] = fd;
}

static void
clear_record(int fd)
{
    size_t i;

    for (i = 0; i < nwriters; i++) {
        if (writers[i] != fd)
            continue;
        if (ftruncate(fd, 0) < 0) {
            /* a record left behind names a process that no longer holds the
             * lock; the waiter's checks catch it once the process is gone */
        }
        writers[i] = writers[--nwriters];
        return;
    }
}

/* "'vsnap snapshot-prune' (pid 4242)" from fd's record when its process is
 * alive and is the one that wrote it; else "another vsnap command". */
static void
describe_holder(int fd, char *out, size_t outsz)
{
    char rec[RECORD_MAX], cmd[OWNER_MAX] = "";
    long pid = 0;
    unsigned long long start = 0;
    ssize_t n = pread(fd, rec, sizeof(rec) - 1, 0);
    const char *p;

    snprintf(out, outsz, "another vsnap command");
    if (n <= 0)
        return;
    rec[n] = '\0';
    if (strncmp(rec, "vsnap-lock 1\n", 13) != 0 ||
        sscanf(rec + 13, "pid %ld\nstart %llu\n", &pid, &start) != 2 || pid <= 0 ||
        !(p = strstr(rec, "\ncommand ")))
        return;
    sscanf(p + 9, "%127[^\n]", cmd);
    if (!cmd[0] || (kill((pid_t)pid, 0) < 0 && errno != EPERM) || start_time(pid) != start)
        return;
    snprintf(out, outsz, "'vsnap %s' (pid %ld)", cmd, pid);
}

/* ---- the two locks ------------------------------------------------------- */

/* The metadata lock: an OFD lock on byte 0. type F_RDLCK, F_WRLCK or F_UNLCK. */
static int
meta_lock(int fd, short type, bool wait)
{
    struct flock fl;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;
    return fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
}

static bool
busy_errno(int e)
{
    return e == EWOULDBLOCK || e == EAGAIN || e == EACCES;
}

/* Try `take` until it works or the deadline passes: 1 got it, 0 busy, -1
 * error (errno). Polling rather than blocking keeps the wait bounded
 * without alarm() games. */
static int
poll_lock(int fd, int (*take)(int fd), int wait_seconds, double deadline)
{
    for (;;) {
        struct timespec ts = { 0, LOCK_POLL_NS };

        if (take(fd) == 0)
            return 1;
        if (errno == EINTR)
            continue;
        if (!busy_errno(errno))
            return -1;
        if (wait_seconds == 0 || (wait_seconds > 0 && now_seconds() >= deadline))
            return 0;
        nanosleep(&ts, NULL);
    }
}

static int take_writer(int fd) { return flock(fd, LOCK_EX | LOCK_NB); }
static int take_meta_ex(int fd) { return meta_lock(fd, F_WRLCK, false); }
static int take_meta_sh(int fd) { return meta_lock(fd, F_RDLCK, false); }

static int
busy_error(vs_error *err, int fd, const char *domain, int wait_seconds)
{
    char who[OWNER_MAX + 64];

    describe_holder(fd, who, sizeof(who));
    /* Nothing is changed before the lock is held, so retrying is always safe;
     * saying so (and how long vsnap waited) tells cron jobs and admins what
     * to do. */
    if (wait_seconds == 0)
        return vs_error_set(err, VS_ERR_BUSY,
                            "domain '%s' is busy: %s holds its lock; "
                            "nothing was changed, it is safe to retry", domain, who);
    return vs_error_set(err, VS_ERR_BUSY,
                        "domain '%s' is busy: %s held its lock for the "
                        "%d second%s vsnap waited; nothing was changed, it is safe to retry",
                        domain, who, wait_seconds, wait_seconds == 1 ? "" : "s");
}

/* Take the lock(s) of mode on the open lock file fd (shown: its path for
 * messages); closes fd when it fails. */
static int
lock_fd(int fd, const char *shown, const char *domain, vs_lock_mode mode, int wait_seconds,
        vs_error *err)
{
    double deadline;
    int r;

    deadline = now_seconds() + (wait_seconds > 0 ? wait_seconds : 0);
    if (mode == VS_LOCK_SHARED) {
        if ((r = poll_lock(fd, take_meta_sh, wait_seconds, deadline)) == 1)
            return fd;
    } else {
        r = poll_lock(fd, take_writer, wait_seconds, deadline);
        if (r == 1) {
            write_record(fd);
            /* readers still in: they only read, and are out soon */
            if ((r = poll_lock(fd, take_meta_ex, wait_seconds, deadline)) == 1)
                return fd;
            clear_record(fd);
        }
    }
    if (r < 0) {
        int e = errno;

        close(fd);
        return vs_error_sys(err, e, "cannot lock '%s'", shown);
    }
    busy_error(err, fd, domain, wait_seconds);
    close(fd);
    return -1;
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
    clear_record(fd);
    meta_lock(fd, F_UNLCK, false);
    flock(fd, LOCK_UN);
    close(fd);
}

int
vs_lock_admit_readers(int fd, vs_error *err)
{
    if (meta_lock(fd, F_UNLCK, false) < 0)
        return vs_error_sys(err, errno, "cannot unlock the domain's metadata");
    return 0;
}

int
vs_lock_exclude_readers(int fd, vs_error *err)
{
    while (meta_lock(fd, F_WRLCK, true) < 0) {
        if (errno != EINTR)
            return vs_error_sys(err, errno, "cannot lock the domain's metadata");
    }
    return 0;
}

bool
vs_lock_writer_active(int fd)
{
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        flock(fd, LOCK_UN);
        return false;
    }
    return busy_errno(errno);
}
