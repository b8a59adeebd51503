/* The only place vsnap starts a process: argv arrays, never a shell. */
#ifndef VSNAP_SPAWN_H
#define VSNAP_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "error.h"

typedef struct vs_spawn_result {
    int status;       /* exit status 0..255, or 128+signal if killed */
    char *out;        /* captured stdout, NUL-terminated (caller frees) */
    size_t out_len;
    char *err;        /* captured stderr, NUL-terminated (caller frees) */
    size_t err_len;
    bool timed_out;   /* killed (SIGKILL) when its time ran out (vs_spawn_timed) */
} vs_spawn_result;

/*
 * Run argv[0] (looked up in PATH) with argv, stdin from /dev/null, stdout and
 * stderr captured. Returns 0 when the program ran (whatever its status), -1
 * when it could not be started. Release res with vs_spawn_result_free.
 */
int vs_spawn(const char *const argv[], vs_spawn_result *res, vs_error *err);

/* vs_spawn bounded in time: a program still running timeout_ms after it
 * started (0: no bound) is killed with SIGKILL, res->timed_out set and its
 * status 128+9; what it wrote until then is in res. */
int vs_spawn_timed(const char *const argv[], int timeout_ms, vs_spawn_result *res,
                   vs_error *err);

/*
 * Run and require exit status 0. On failure the error reads
 * "operation failed: <prog> failed: <last non-empty stderr line>"
 * (or "... exited with status N"). stdout is returned in *out when out != NULL.
 */
int vs_spawn_check(const char *const argv[], char **out, vs_error *err);

/*
 * Run n programs at once (argvs[i] as for vs_spawn), draining all their
 * outputs together, and wait for all of them; res[i] is program i's result.
 * Returns 0 when every program ran (whatever its status), -1 when one could
 * not be started: the others are still waited for. Release every res[i] with
 * vs_spawn_result_free (also after a failure).
 */
int vs_spawn_all(const char *const *const argvs[], size_t n, vs_spawn_result *res,
                 vs_error *err);

/* vs_spawn_all, with watch(ctx, i, data, len) called with every chunk
 * program i writes to its stdout as it comes (a progress meter); the
 * chunks are captured in res too. */
typedef void (*vs_spawn_watch_fn)(void *ctx, size_t job, const char *data, size_t len);
int vs_spawn_all_watched(const char *const *const argvs[], size_t n, vs_spawn_result *res,
                         vs_spawn_watch_fn watch, void *ctx, vs_error *err);
/* vs_spawn_all_watched with program i bounded as vs_spawn_timed bounds it,
 * by timeouts_ms[i] (NULL, or 0 for a program: no bound). */
int vs_spawn_all_timed(const char *const *const argvs[], size_t n, const int *timeouts_ms,
                       vs_spawn_result *res, vs_spawn_watch_fn watch, void *ctx,
                       vs_error *err);

/* Run with the terminal inherited (an editor): returns the exit status, -1 if
 * it could not start. */
int vs_spawn_interactive(const char *const argv[], vs_error *err);

/*
 * Start a long-running program (QEMU) detached from vsnap: in a session of
 * its own, not vsnap's child (it is reparented to init when vsnap exits),
 * stdin from /dev/null, stdout and stderr appended to log_fd, and
 * keep_fds[i] open as descriptor 3 + i; every other descriptor closed.
 * `env` (NULL-terminated NAME=VALUE, may be NULL) is added to vsnap's
 * environment. Returns once the program was executed (an exec failure is
 * the error) with its process id in *pid.
 */
int vs_spawn_daemon(const char *const argv[], char *const env[], int log_fd,
                    const int *keep_fds, size_t nkeep, pid_t *pid, vs_error *err);

void vs_spawn_result_free(vs_spawn_result *res);

#endif
