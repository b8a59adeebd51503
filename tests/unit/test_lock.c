/* lock.c: the writer and metadata locks, readers admitted during image work,
 * the holder's record and how far a waiter trusts it. Real processes hold
 * the locks (fork), and one of them dies by SIGKILL. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"
#include "mem.h"
#include "path.h"
#include "tap.h"

static char *lockpath;

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A child that takes the lock in `mode` as `owner` (NULL: no record), then
 * does what `then` says when the parent writes a byte to the pipe: 'r'
 * release and exit, 'a' admit readers and wait for the next byte, 'x'
 * exclude readers again (reporting 'X' once it has them out). Returns the
 * pid; *to / *from are the pipes to and from it. The child reports 'L' once
 * it holds the lock.
 */
static pid_t
holder(vs_lock_mode mode, const char *owner, int *to, int *from)
{
    int down[2], up[2];
    pid_t pid;

    if (pipe(down) < 0 || pipe(up) < 0)
        abort();
    if ((pid = fork()) == 0) {
        vs_error e;
        int fd;
        char c;

        close(down[1]);
        close(up[0]);
        vs_lock_set_owner(owner);
        fd = vs_lock_acquire(lockpath, "vm1", mode, 5, &e);
        if (fd < 0)
            _exit(2);
        if (write(up[1], "L", 1) != 1)
            _exit(3);
        while (read(down[0], &c, 1) == 1) {
            if (c == 'r')
                break;
            if (c == 'a' && vs_lock_admit_readers(fd, &e) < 0)
                _exit(4);
            if (c == 'x') {
                if (vs_lock_exclude_readers(fd, &e) < 0)
                    _exit(5);
                if (write(up[1], "X", 1) != 1)
                    _exit(6);
            }
        }
        vs_lock_release(fd);
        _exit(0);
    }
    close(down[0]);
    close(up[1]);
    *to = down[1];
    *from = up[0];
    return pid;
}

static bool
got(int from, char want)
{
    char c = 0;

    return read(from, &c, 1) == 1 && c == want;
}

static void
tell(int to, char c)
{
    if (write(to, &c, 1) != 1)
        abort();
}

static int
finish(pid_t pid, int to, int from)
{
    int st = 0;

    tell(to, 'r');
    close(to);
    close(from);
    waitpid(pid, &st, 0);
    return st;
}

static char *
file_text(void)
{
    char *data = NULL;
    size_t len;
    vs_error e;

    if (vs_file_read(lockpath, 4096, &data, &len, &e) < 0)
        return vs_xstrdup("(unreadable)");
    return data;
}

static void
test_record(void)
{
    char want[256], *text;
    vs_error e;
    int to, from, fd;
    pid_t pid;

    pid = holder(VS_LOCK_EXCLUSIVE, "snapshot-prune", &to, &from);
    ok(got(from, 'L'), "a writer with a name holds the lock");
    vs_error_clear(&e);
    fd = vs_lock_acquire(lockpath, "vm1", VS_LOCK_EXCLUSIVE, 0, &e);
    snprintf(want, sizeof(want), "domain 'vm1' is busy: 'vsnap snapshot-prune' (pid %ld) holds "
             "its lock; nothing was changed, it is safe to retry", (long)pid);
    ok(fd < 0 && e.code == VS_ERR_BUSY, "a second writer is refused");
    is_str(e.msg, want, "the refusal names the holder's command and pid");
    fd = vs_lock_acquire(lockpath, "vm1", VS_LOCK_SHARED, 1, &e);
    snprintf(want, sizeof(want), "domain 'vm1' is busy: 'vsnap snapshot-prune' (pid %ld) held "
             "its lock for the 1 second vsnap waited; nothing was changed, it is safe to retry",
             (long)pid);
    ok(fd < 0, "a reader waits while the writer changes metadata");
    is_str(e.msg, want, "... and says for how long, and who");
    ok(finish(pid, to, from) == 0, "the writer lets go");
    text = file_text();
    is_str(text, "", "the record went with the lock");
    free(text);

    /* a holder killed while it holds the lock leaves its record behind */
    pid = holder(VS_LOCK_EXCLUSIVE, "snapshot-create-as", &to, &from);
    ok(got(from, 'L'), "a second writer holds the lock");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(to);
    close(from);
    text = file_text();
    ok(strstr(text, "command snapshot-create-as") != NULL, "a killed holder's record stays in the file");
    free(text);
    {
        double t0 = now_s();

        fd = vs_lock_acquire(lockpath, "vm1", VS_LOCK_EXCLUSIVE, 5, &e);
        ok(fd >= 0 && now_s() - t0 < 1, "the dead holder's lock is no obstacle (%.2f s)", now_s() - t0);
    }
    vs_lock_release(fd);

    /* a record naming a live process that does not hold the lock, with a
     * start time that is not its own (a reused pid): never believed */
    {
        int w = open(lockpath, O_WRONLY | O_TRUNC);
        char rec[128];
        int n = snprintf(rec, sizeof(rec), "vsnap-lock 1\npid %ld\nstart 1\ncommand undefine\n",
                         (long)getppid());

        ok(w >= 0 && write(w, rec, (size_t)n) == n, "a stale record naming a live pid");
        close(w);
    }
    pid = holder(VS_LOCK_EXCLUSIVE, NULL, &to, &from);
    ok(got(from, 'L'), "a writer without a name holds the lock");
    fd = vs_lock_acquire(lockpath, "vm1", VS_LOCK_EXCLUSIVE, 0, &e);
    is_str(e.msg, "domain 'vm1' is busy: another vsnap command holds its lock; "
           "nothing was changed, it is safe to retry", "the stale record is not believed");
    finish(pid, to, from);
    vs_lock_set_owner(NULL);
}

static void
test_readers(void)
{
    vs_error e;
    int to, from, fd, fd2;
    pid_t pid;
    double t0;

    pid = holder(VS_LOCK_EXCLUSIVE, "snapshot-delete", &to, &from);
    ok(got(from, 'L'), "a writer holds the lock");
    fd = vs_lock_acquire(lockpath, "vm1", VS_LOCK_SHARED, 0, &e);
    ok(fd < 0 && e.code == VS_ERR_BUSY, "readers wait while it changes metadata");
    tell(to, 'a');
    /* the child admits readers: poll until it has */
    t0 = now_s();
    do
        fd = vs_lock_acquire(lockpath, "vm1", VS_LOCK_SHARED, 0, &e);
    while (fd < 0 && now_s() - t0 < 5);
    ok(fd >= 0, "readers come in while it runs image work");
    ok(fd >= 0 && vs_lock_writer_active(fd), "... and see that a writer is at work");
    fd2 = vs_lock_acquire(lockpath, "vm1", VS_LOCK_EXCLUSIVE, 0, &e);
    ok(fd2 < 0 && e.code == VS_ERR_BUSY && strstr(e.msg, "'vsnap snapshot-delete'"),
       "another writer still waits, and is told who is at work");
    /* the writer wants its metadata back: it waits for the reader */
    tell(to, 'x');
    usleep(200 * 1000);
    vs_lock_release(fd);
    ok(got(from, 'X'), "the writer has the metadata again once the reader is out");
    fd = vs_lock_acquire(lockpath, "vm1", VS_LOCK_SHARED, 0, &e);
    ok(fd < 0, "... and readers wait again");
    ok(finish(pid, to, from) == 0, "the writer finishes");
    fd = vs_lock_acquire(lockpath, "vm1", VS_LOCK_SHARED, 0, &e);
    ok(fd >= 0 && !vs_lock_writer_active(fd), "without a writer a reader sees none");
    vs_lock_release(fd);
}

int
main(void)
{
    char tmpl[] = "/tmp/vsnap-test-lock.XXXXXX";
    char *dir = mkdtemp(tmpl);

    if (!dir)
        return 1;
    lockpath = vs_path_join(dir, "lock");
    test_record();
    test_readers();
    unlink(lockpath);
    rmdir(dir);
    free(lockpath);
    return tap_done();
}
