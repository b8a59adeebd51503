/* Unit tests: spawn. */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "mem.h"
#include "spawn.h"
#include "../tap.h"

int
main(void)
{
    vs_spawn_result r;
    vs_error e;
    char *out = NULL;
    int fd;

    {
        const char *argv[] = { "echo", "hello", "world", NULL };
        ok(vs_spawn(argv, &r, &e) == 0, "echo runs");
        is_str(r.out, "hello world\n", "stdout captured");
        ok(r.out_len == 12 && r.err_len == 0 && r.err && r.err[0] == '\0', "lengths, empty stderr");
        ok(r.status == 0, "status 0");
        vs_spawn_result_free(&r);
    }
    {
        /* more than a pipe buffer on both streams at once must not deadlock */
        const char *argv[] = { "sh", "-c",
            "head -c 3000000 /dev/zero; head -c 2000000 /dev/zero >&2; exit 3", NULL };
        ok(vs_spawn(argv, &r, &e) == 0, "big output runs");
        ok(r.out_len == 3000000 && r.err_len == 2000000, "3 MB stdout and 2 MB stderr captured (%zu, %zu)",
           r.out_len, r.err_len);
        ok(r.status == 3, "exit status 3");
        vs_spawn_result_free(&r);
    }
    {
        const char *argv[] = { "head", "-c", "1500000", "/dev/zero", NULL };
        ok(vs_spawn(argv, &r, &e) == 0 && r.out_len == 1500000, "head -c 1.5 MiB");
        vs_spawn_result_free(&r);
    }
    {
        const char *argv[] = { "sh", "-c", "cat; echo end", NULL };
        ok(vs_spawn(argv, &r, &e) == 0, "stdin is /dev/null");
        is_str(r.out, "end\n", "child read EOF at once");
        vs_spawn_result_free(&r);
    }
    {
        const char *argv[] = { "sh", "-c", "kill -TERM $$", NULL };
        ok(vs_spawn(argv, &r, &e) == 0 && r.status == 128 + 15, "killed by a signal: 128+sig (%d)",
           r.status);
        vs_spawn_result_free(&r);
    }
    {
        /* descriptors of the parent do not leak into the child */
        const char *argv[] = { "sh", "-c", "ls /proc/self/fd | wc -l", NULL };
        fd = open("/dev/null", O_RDONLY);   /* no O_CLOEXEC on purpose */
        ok(vs_spawn(argv, &r, &e) == 0, "fd listing runs");
        /* 0,1,2 plus the directory ls reads */
        ok(atoi(r.out) <= 4, "only stdio reaches the child (%d fds)", atoi(r.out));
        vs_spawn_result_free(&r);
        close(fd);
    }
    {
        const char *argv[] = { "vsnap-no-such-program-xyz", "a", NULL };
        vs_error_clear(&e);
        ok(vs_spawn(argv, &r, &e) == -1, "missing program fails");
        is_str(e.msg, "cannot execute 'vsnap-no-such-program-xyz': No such file or directory",
               "missing program message");
        ok(r.out == NULL && r.err == NULL, "nothing to free");
        vs_spawn_result_free(&r);
        ok(vs_spawn_check(argv, &out, &e) == -1 && out == NULL, "check of a missing program fails");
        ok(vs_spawn_interactive(argv, &e) == -1, "interactive missing program fails");
        is_str(e.msg, "cannot execute 'vsnap-no-such-program-xyz': No such file or directory",
               "interactive missing message");
    }
    {
        const char *argv[] = { "/bin/sh", "-c", "echo out; printf 'first\\nlast line  \\n\\n\\n' >&2; exit 2", NULL };
        ok(vs_spawn_check(argv, &out, &e) == -1, "check fails on status 2");
        is_str(e.msg, "operation failed: sh -c failed: last line", "last stderr line in message");
        ok(out == NULL, "no stdout on failure");
    }
    {
        const char *argv[] = { "false", NULL };
        ok(vs_spawn_check(argv, NULL, &e) == -1, "false fails");
        is_str(e.msg, "operation failed: false failed: exited with status 1", "status message");
    }
    {
        const char *argv[] = { "printf", "a\\nb", NULL };
        ok(vs_spawn_check(argv, &out, &e) == 0, "check succeeds");
        is_str(out, "a\nb", "stdout returned");
        free(out);
    }
    {
        const char *argv[] = { "sh", "-c", "exit 7", NULL };
        ok(vs_spawn_interactive(argv, &e) == 7, "interactive returns the status");
    }
    {
        const char *argv[] = { NULL };
        ok(vs_spawn(argv, &r, &e) == -1, "empty argv refused");
    }
    {
        /* a bound: what it wrote is kept, then SIGKILL */
        const char *argv[] = { "sh", "-c", "echo started; exec sleep 30", NULL };
        time_t t0 = time(NULL);

        ok(vs_spawn_timed(argv, 300, &r, &e) == 0, "a bounded program runs");
        ok(r.timed_out && r.status == 128 + 9, "out of time: killed (%d)", r.status);
        is_str(r.out, "started\n", "what it wrote before is kept");
        ok(time(NULL) - t0 < 10, "it ended at the bound, not after 30 s");
        vs_spawn_result_free(&r);
    }
    {
        const char *argv[] = { "echo", "quick", NULL };

        ok(vs_spawn_timed(argv, 5000, &r, &e) == 0 && !r.timed_out && r.status == 0,
           "one within its bound is not stopped");
        vs_spawn_result_free(&r);
    }
    {
        const char *a1[] = { "sh", "-c", "exec sleep 30", NULL };
        const char *a2[] = { "sh", "-c", "sleep 0.5; echo done", NULL };
        const char *const *const argvs[] = { a1, a2 };
        const int bounds[] = { 200, 0 };
        vs_spawn_result rs[2];

        ok(vs_spawn_all_timed(argvs, 2, bounds, rs, NULL, NULL, &e) == 0, "two at once, one bounded");
        ok(rs[0].timed_out && rs[0].status == 128 + 9, "the bounded one is stopped");
        ok(!rs[1].timed_out && rs[1].status == 0 && strcmp(rs[1].out, "done\n") == 0,
           "the other one finishes");
        vs_spawn_result_free(&rs[0]);
        vs_spawn_result_free(&rs[1]);
    }
    tap_done();
    return tap_failed ? 1 : 0;
}
