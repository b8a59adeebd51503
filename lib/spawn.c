#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "mem.h"
#include "spawn.h"

/* Close every descriptor above 2 in the child, so that nothing vsnap holds
 * (lock files, pipes of other children) leaks into the program. */
static void
close_other_fds(int keep)
{
    long max;
    int fd;

#ifdef SYS_close_range
    if (keep < 0) {
        if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
            return;
    } else if (keep == 3) {
        if (syscall(SYS_close_range, 4U, ~0U, 0U) == 0)
            return;
    }
#endif
    max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (fd = 3; fd < max; fd++)
        if (fd != keep)
            close(fd);
}

static void
child_reset_signals(void)
{
    sigset_t set;
    int sig;

    for (sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    sigemptyset(&set);
    sigprocmask(SIG_SETMASK, &set, NULL);
}

/* Only async-signal-safe calls after fork. The exec errno travels back on a
 * close-on-exec pipe: EOF means the exec succeeded. */
static void __attribute__((noreturn))
child_exec(const char *const argv[], int errfd, int in, int out, int errout)
{
    int e, hi;

    child_reset_signals();
    /* When vsnap itself runs with 0, 1 or 2 closed, the pipes may sit on those
     * numbers: lift everything out of the way before arranging 0-3. */
    if ((in >= 0 && (in = fcntl(in, F_DUPFD_CLOEXEC, 10)) < 0) ||
        (out >= 0 && (out = fcntl(out, F_DUPFD_CLOEXEC, 10)) < 0) ||
        (errout >= 0 && (errout = fcntl(errout, F_DUPFD_CLOEXEC, 10)) < 0) ||
        (hi = fcntl(errfd, F_DUPFD_CLOEXEC, 10)) < 0) {
        e = errno;
        goto fail;
    }
    errfd = hi;
    if ((in >= 0 && dup2(in, 0) < 0) ||
        (out >= 0 && dup2(out, 1) < 0) ||
        (errout >= 0 && dup2(errout, 2) < 0)) {
        e = errno;
        goto fail;
    }
    /* Move the report pipe to 3 so the closing loop can keep it. */
    if (dup3(errfd, 3, O_CLOEXEC) < 0) {
        e = errno;
        goto fail;
    }
    errfd = 3;
    close_other_fds(3);
    execvp(argv[0], (char *const *)argv);
    e = errno;
 fail:
    if (write(errfd, &e, sizeof(e)) < 0) {
        /* nothing left to report to */
    }
    _exit(127);
}

/* Read the exec errno report; returns 0 if exec succeeded. */
static int
exec_result(int fd)
{
    int e = 0;
    ssize_t r;

    do {
        r = read(fd, &e, sizeof(e));
    } while (r < 0 && errno == EINTR);
    close(fd);
    return r == (ssize_t)sizeof(e) ? e : 0;
}

static int
wait_child(pid_t pid, int *status)
{
    int st;

    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    if (WIFEXITED(st))
        *status = WEXITSTATUS(st);
    else if (WIFSIGNALED(st))
        *status = 128 + WTERMSIG(st);
    else
        *status = 255;
    return 0;
}

static const char *
base_name(const char *p)
{
    const char *s = strrchr(p, '/');

    return s ? s + 1 : p;
}


/* poll's timeout until deadline (0: none, -1), at least 0. */
static int
poll_wait(long long deadline)
{
    return deadline ? vs_clock_left(deadline) : -1;
}

int
vs_spawn(const char *const argv[], vs_spawn_result *res, vs_error *err)
{
    return vs_spawn_timed(argv, 0, res, err);
}

int
vs_spawn_timed(const char *const argv[], int timeout_ms, vs_spawn_result *res, vs_error *err)
{
    int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, rep[2] = { -1, -1 };
    int devnull = -1;
    vs_buf out = VS_BUF_INIT, errb = VS_BUF_INIT;
    struct pollfd pfd[2];
    pid_t pid;
    int e, ret = -1;
    long long deadline = 0;
    bool killed = false;

    memset(res, 0, sizeof(*res));
    if (!argv || !argv[0])
        return vs_error_set(err, VS_ERR_INTERNAL, "no program to run");
    if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 ||
        pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
        pipe2(rep, O_CLOEXEC) < 0) {
        vs_error_sys(err, errno, "cannot run '%s'", argv[0]);
        goto cleanup;
    }
    if ((pid = fork()) < 0) {
        vs_error_sys(err, errno, "cannot run '%s'", argv[0]);
        goto cleanup;
    }
    if (pid == 0)
        child_exec(argv, rep[1], devnull, outp[1], errp[1]);

    close(rep[1]);
    rep[1] = -1;
    close(outp[1]);
    outp[1] = -1;
    close(errp[1]);
    errp[1] = -1;
    close(devnull);
    devnull = -1;

    e = exec_result(rep[0]);
    rep[0] = -1;

    /* Drain both pipes together: a child blocked writing a full stderr pipe
     * while we wait on stdout would never finish. */
    pfd[0].fd = outp[0];
    pfd[1].fd = errp[0];
    pfd[0].events = pfd[1].events = POLLIN;
    if (timeout_ms > 0)
        deadline = vs_clock_ms() + timeout_ms;
    while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
        int i, rc;

        if ((rc = poll(pfd, 2, killed ? -1 : poll_wait(deadline))) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (rc == 0 && !killed && deadline && vs_clock_ms() >= deadline) {
            /* out of time: it goes, its pipes close, what it wrote is kept */
            kill(pid, SIGKILL);
            killed = true;
            res->timed_out = true;
            continue;
        }
        for (i = 0; i < 2; i++) {
            char chunk[65536];
            ssize_t r;

            if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            r = read(pfd[i].fd, chunk, sizeof(chunk));
            if (r < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (r <= 0) {
                close(pfd[i].fd);
                pfd[i].fd = -1;
                if (i == 0)
                    outp[0] = -1;
                else
                    errp[0] = -1;
                continue;
            }
            vs_buf_addn(i == 0 ? &out : &errb, chunk, (size_t)r);
        }
    }

    if (wait_child(pid, &res->status) < 0) {
        vs_error_sys(err, errno, "cannot wait for '%s'", argv[0]);
        goto cleanup;
    }
    if (killed)
        res->status = 128 + SIGKILL;
    if (e) {
        vs_error_sys(err, e, "cannot execute '%s'", argv[0]);
        goto cleanup;
    }
    res->out_len = out.len;
    res->out = vs_buf_steal(&out);
    res->err_len = errb.len;
    res->err = vs_buf_steal(&errb);
    ret = 0;

 cleanup:
    if (devnull >= 0)
        close(devnull);
    if (outp[0] >= 0)
        close(outp[0]);
    if (outp[1] >= 0)
        close(outp[1]);
    if (errp[0] >= 0)
        close(errp[0]);
    if (errp[1] >= 0)
        close(errp[1]);
    if (rep[0] >= 0)
        close(rep[0]);
    if (rep[1] >= 0)
        close(rep[1]);
    vs_buf_reset(&out);
    vs_buf_reset(&errb);
    if (ret < 0) {
        res->status = -1;
        res->timed_out = false;
    }
    return ret;
}

typedef struct job {
    pid_t pid;
    int out, err;            /* pipe read ends, -1 once drained */
    int exec_errno;
    bool killed;             /* out of time (vs_spawn_all_timed) */
    vs_buf ob, eb;
} job;

int
vs_spawn_all(const char *const *const argvs[], size_t n, vs_spawn_result *res, vs_error *err)
{
    return vs_spawn_all_watched(argvs, n, res, NULL, NULL, err);
}

int
vs_spawn_all_watched(const char *const *const argvs[], size_t n, vs_spawn_result *res,
                     vs_spawn_watch_fn watch, void *ctx, vs_error *err)
{
    return vs_spawn_all_timed(argvs, n, NULL, res, watch, ctx, err);
}

int
vs_spawn_all_timed(const char *const *const argvs[], size_t n, const int *timeouts_ms,
                   vs_spawn_result *res, vs_spawn_watch_fn watch, void *ctx, vs_error *err)
{
    long long start = vs_clock_ms();
    job *jobs = vs_xcalloc(n ? n : 1, sizeof(*jobs));
    struct pollfd *pfd = vs_xcalloc(2 * n + 1, sizeof(*pfd));
    int devnull = -1, ret = 0;
    size_t i, open_fds = 0;

    for (i = 0; i < n; i++) {
        memset(&res[i], 0, sizeof(res[i]));
        res[i].status = -1;
        jobs[i].pid = -1;
        jobs[i].out = jobs[i].err = -1;
    }
    if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        free(jobs);
        free(pfd);
        return vs_error_sys(err, errno, "cannot open /dev/null");
    }
    for (i = 0; i < n; i++) {
        int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, rep[2] = { -1, -1 };
        const char *const *argv = argvs[i];

        if (!argv || !argv[0]) {
            ret = vs_error_set(err, VS_ERR_INTERNAL, "no program to run");
            continue;
        }
        if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
            pipe2(rep, O_CLOEXEC) < 0 || (jobs[i].pid = fork()) < 0) {
            ret = vs_error_sys(err, errno, "cannot run '%s'", argv[0]);
            jobs[i].pid = -1;
            if (outp[0] >= 0) { close(outp[0]); close(outp[1]); }
            if (errp[0] >= 0) { close(errp[0]); close(errp[1]); }
            if (rep[0] >= 0) { close(rep[0]); close(rep[1]); }
            continue;
        }
        if (jobs[i].pid == 0)
            child_exec(argv, rep[1], devnull, outp[1], errp[1]);
        close(rep[1]);
        close(outp[1]);
        close(errp[1]);
        jobs[i].exec_errno = exec_result(rep[0]);
        jobs[i].out = outp[0];
        jobs[i].err = errp[0];
        open_fds += 2;
    }
    close(devnull);

    /* Drain every pipe together, for the same reason as vs_spawn. */
    while (open_fds > 0) {
        size_t k = 0;

        long long deadline = 0;
        int rc;

        for (i = 0; i < n; i++) {
            pfd[k].fd = jobs[i].out;
            pfd[k++].events = POLLIN;
            pfd[k].fd = jobs[i].err;
            pfd[k++].events = POLLIN;
            /* the nearest deadline of a job still running */
            if (timeouts_ms && timeouts_ms[i] > 0 && !jobs[i].killed && jobs[i].pid > 0 &&
                (jobs[i].out >= 0 || jobs[i].err >= 0) &&
                (!deadline || start + timeouts_ms[i] < deadline))
                deadline = start + timeouts_ms[i];
        }
        if ((rc = poll(pfd, k, poll_wait(deadline))) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (rc == 0 && deadline) {
            long long t = vs_clock_ms();

            for (i = 0; i < n; i++)
                if (timeouts_ms[i] > 0 && !jobs[i].killed && jobs[i].pid > 0 &&
                    (jobs[i].out >= 0 || jobs[i].err >= 0) && t >= start + timeouts_ms[i]) {
                    kill(jobs[i].pid, SIGKILL);
                    jobs[i].killed = true;
                }
            continue;
        }
        for (k = 0; k < 2 * n; k++) {
            job *j = &jobs[k / 2];
            int *fd = (k % 2) ? &j->err : &j->out;
            char chunk[65536];
            ssize_t r;

            if (*fd < 0 || !(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            r = read(*fd, chunk, sizeof(chunk));
            if (r < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (r <= 0) {
                close(*fd);
                *fd = -1;
                open_fds--;
                continue;
            }
            vs_buf_addn((k % 2) ? &j->eb : &j->ob, chunk, (size_t)r);
            if (watch && k % 2 == 0)
                watch(ctx, k / 2, chunk, (size_t)r);
        }
    }
    for (i = 0; i < n; i++) {
        job *j = &jobs[i];

        if (j->out >= 0)
            close(j->out);
        if (j->err >= 0)
            close(j->err);
        if (j->pid > 0) {
            if (wait_child(j->pid, &res[i].status) < 0) {
                ret = vs_error_sys(err, errno, "cannot wait for '%s'", argvs[i][0]);
            } else if (j->killed) {
                res[i].status = 128 + SIGKILL;
                res[i].timed_out = true;
            } else if (j->exec_errno) {
                ret = vs_error_sys(err, j->exec_errno, "cannot execute '%s'", argvs[i][0]);
                res[i].status = -1;
            }
        }
        res[i].out_len = j->ob.len;
        res[i].out = vs_buf_steal(&j->ob);
        res[i].err_len = j->eb.len;
        res[i].err = vs_buf_steal(&j->eb);
    }
    free(jobs);
    free(pfd);
    return ret;
}

/* The last line of stderr that has any text in it, without trailing blanks. */
static char *
last_line(const char *s, size_t len)
{
    size_t end = len, start;

    for (;;) {
        while (end > 0 && (s[end - 1] == '\n' || s[end - 1] == '\r' ||
                           s[end - 1] == ' ' || s[end - 1] == '\t'))
            end--;
        if (end == 0)
            return NULL;
        start = end;
        while (start > 0 && s[start - 1] != '\n')
            start--;
        return vs_xstrndup(s + start, end - start);
    }
}

int
vs_spawn_check(const char *const argv[], char **out, vs_error *err)
{
    vs_spawn_result res;
    char *what, *line;

    if (out)
        *out = NULL;
    if (vs_spawn(argv, &res, err) < 0)
        return -1;
    if (res.status == 0) {
        if (out) {
            *out = res.out;
            res.out = NULL;
        }
        vs_spawn_result_free(&res);
        return 0;
    }
    what = argv[1] ? vs_xasprintf("%s %s", base_name(argv[0]), argv[1])
                   : vs_xstrdup(base_name(argv[0]));
    line = last_line(res.err, res.err_len);
    if (line)
        vs_error_set(err, VS_ERR_OPERATION_FAILED, "%s failed: %s", what, line);
    else
        vs_error_set(err, VS_ERR_OPERATION_FAILED, "%s failed: exited with status %d",
                     what, res.status);
    free(line);
    free(what);
    vs_spawn_result_free(&res);
    return -1;
}

int
vs_spawn_interactive(const char *const argv[], vs_error *err)
{
    struct sigaction ign, old_int, old_quit;
    int rep[2];
    pid_t pid;
    int e, status = -1;

    if (!argv || !argv[0])
        return vs_error_set(err, VS_ERR_INTERNAL, "no program to run");
    if (pipe2(rep, O_CLOEXEC) < 0)
        return vs_error_sys(err, errno, "cannot run '%s'", argv[0]);
    /* Like system(): ^C belongs to the editor, not to us. */
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGQUIT, &ign, &old_quit);
    if ((pid = fork()) < 0) {
        e = errno;
        close(rep[0]);
        close(rep[1]);
        vs_error_sys(err, e, "cannot run '%s'", argv[0]);
        goto out;
    }
    if (pid == 0)
        child_exec(argv, rep[1], -1, -1, -1);
    close(rep[1]);
    e = exec_result(rep[0]);
    if (wait_child(pid, &status) < 0) {
        vs_error_sys(err, errno, "cannot wait for '%s'", argv[0]);
        status = -1;
    } else if (e) {
        vs_error_sys(err, e, "cannot execute '%s'", argv[0]);
        status = -1;
    }
 out:
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    return status;
}

/* In the intermediate child of vs_spawn_daemon: become the program. Only
 * async-signal-safe calls; the exec errno goes to rep. */
static void __attribute__((noreturn))
daemon_exec(const char *const argv[], char *const envp[], int rep, int devnull, int log_fd,
            const int *keep, size_t nkeep)
{
    int lifted[16], e, hi;
    size_t i;

    child_reset_signals();
    if (setsid() < 0) {
        e = errno;
        goto fail;
    }
    /* Lift everything above the numbers we are about to fill. */
    for (i = 0; i < nkeep; i++) {
        if ((lifted[i] = fcntl(keep[i], F_DUPFD_CLOEXEC, 64)) < 0) {
            e = errno;
            goto fail;
        }
    }
    if ((devnull = fcntl(devnull, F_DUPFD_CLOEXEC, 64)) < 0 ||
        (log_fd = fcntl(log_fd, F_DUPFD_CLOEXEC, 64)) < 0 ||
        (hi = fcntl(rep, F_DUPFD_CLOEXEC, 64)) < 0) {
        e = errno;
        goto fail;
    }
    rep = hi;
    if (dup2(devnull, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0) {
        e = errno;
        goto fail;
    }
    for (i = 0; i < nkeep; i++) {
        if (dup2(lifted[i], 3 + (int)i) < 0) {
            e = errno;
            goto fail;
        }
    }
    /* The report pipe goes right after the kept ones; close the rest. */
    if (dup3(rep, 3 + (int)nkeep, O_CLOEXEC) < 0) {
        e = errno;
        goto fail;
    }
    rep = 3 + (int)nkeep;
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)rep + 1, ~0U, 0U) != 0)
#endif
    {
        long max = sysconf(_SC_OPEN_MAX);
        int fd;

        if (max < 0 || max > 65536)
            max = 65536;
        for (fd = rep + 1; fd < max; fd++)
            close(fd);
    }
    if (envp)
        execvpe(argv[0], (char *const *)argv, envp);
    else
        execvp(argv[0], (char *const *)argv);
    e = errno;
 fail:
    if (write(rep, &e, sizeof(e)) < 0) {
        /* nothing left to report to */
    }
    _exit(127);
}

extern char **environ;

int
vs_spawn_daemon(const char *const argv[], char *const env[], int log_fd, const int *keep_fds,
                size_t nkeep, pid_t *pid, vs_error *err)
{
    int rep[2] = { -1, -1 }, pidp[2] = { -1, -1 }, devnull = -1, e = 0, st;
    char **envp = NULL;
    pid_t mid, prog = -1;
    ssize_t r;
    size_t i, n = 0;

    *pid = -1;
    if (!argv || !argv[0] || nkeep > 16)
        return vs_error_set(err, VS_ERR_INTERNAL, "no program to run");
    if (env && env[0]) {
        size_t ne = 0, k;
        while (environ && environ[ne])
            ne++;
        while (env[n])
            n++;
        envp = calloc(ne + n + 1, sizeof(char *));
        if (!envp)
            abort();
        k = 0;
        for (i = 0; i < ne; i++) {
            size_t j, nl = strcspn(environ[i], "=");
            bool over = false;
            for (j = 0; j < n; j++)
                if (strncmp(env[j], environ[i], nl) == 0 && env[j][nl] == '=')
                    over = true;
            if (!over)
                envp[k++] = environ[i];
        }
        for (i = 0; i < n; i++)
            envp[k++] = env[i];
        envp[k] = NULL;
    }
    if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 ||
        pipe2(rep, O_CLOEXEC) < 0 || pipe2(pidp, O_CLOEXEC) < 0) {
        vs_error_sys(err, errno, "cannot run '%s'", argv[0]);
        goto out;
    }
    if ((mid = fork()) < 0) {
        vs_error_sys(err, errno, "cannot run '%s'", argv[0]);
        goto out;
    }
    if (mid == 0) {
        /* The intermediate: fork the program and exit, so that the program
         * is not vsnap's child. */
        pid_t p = fork();

        if (p == 0)
            daemon_exec(argv, envp, rep[1], devnull, log_fd, keep_fds, nkeep);
        if (write(pidp[1], &p, sizeof(p)) < 0) {
            /* the parent sees a short read */
        }
        _exit(p < 0 ? 1 : 0);
    }
    close(rep[1]);
    rep[1] = -1;
    close(pidp[1]);
    pidp[1] = -1;
    while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
        ;
    do {
        r = read(pidp[0], &prog, sizeof(prog));
    } while (r < 0 && errno == EINTR);
    if (r != (ssize_t)sizeof(prog) || prog <= 0) {
        vs_error_set(err, VS_ERR_INTERNAL, "cannot start '%s'", argv[0]);
        goto out;
    }
    e = exec_result(rep[0]);
    rep[0] = -1;
    if (e) {
        vs_error_sys(err, e, "cannot execute '%s'", argv[0]);
        goto out;
    }
    *pid = prog;
 out:
    if (devnull >= 0)
        close(devnull);
    for (i = 0; i < 2; i++) {
        if (rep[i] >= 0)
            close(rep[i]);
        if (pidp[i] >= 0)
            close(pidp[i]);
    }
    free(envp);
    return *pid > 0 ? 0 : -1;
}

void
vs_spawn_result_free(vs_spawn_result *res)
{
    if (!res)
        return;
    free(res->out);
    free(res->err);
    res->out = res->err = NULL;
    res->out_len = res->err_len = 0;
}
