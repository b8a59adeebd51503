/* The QMP client: one connection to a QEMU monitor socket (or, in agent
 * mode, to a guest agent socket), commands with ids, queued events, jobs
 * awaited through their events, file descriptors passed with SCM_RIGHTS.
 * Every wait is bounded in time and every message in size, so a peer that
 * sends garbage, huge messages or nothing at all gives an error, never a
 * hang. No policy: callers decide what to send. */
#ifndef VSNAP_QMP_H
#define VSNAP_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <json-c/json.h>
#include "error.h"

typedef struct vs_qmp vs_qmp;

/* Defaults: a command (or the greeting) waits this long for its answer; a
 * single message may not be larger than this. */
#define VS_QMP_TIMEOUT_MS   30000
#define VS_QMP_MAX_MESSAGE  (64u * 1024 * 1024)
/* At most this many events are kept; older ones are dropped (counted). */
#define VS_QMP_MAX_EVENTS   4096

/*
 * Connect to the QMP socket at `path` (any length: a path longer than a
 * sockaddr_un holds is reached through its directory), read the greeting and
 * negotiate capabilities (qmp_capabilities), all within timeout_ms (<= 0:
 * VS_QMP_TIMEOUT_MS). A socket that does not exist or refuses the connection
 * fails with *refused = true (may be NULL): nothing listens there, QEMU is not
 * running. Free with vs_qmp_free.
 */
vs_qmp *vs_qmp_connect(const char *path, int timeout_ms, bool *refused, vs_error *err);

/* The same over an already connected socket, which the client then owns
 * (closed on failure too). `what` names the peer in messages. */
vs_qmp *vs_qmp_open_fd(int fd, const char *what, int timeout_ms, vs_error *err);

/*
 * Guest agent mode (qemu-guest-agent's protocol over the agent socket): no
 * greeting, no capabilities, no events; the stream is resynchronised with
 * guest-sync-delimited when it opens. An agent that does not answer within
 * timeout_ms: VS_ERR_AGENT_UNRESPONSIVE "Guest agent is not responding:
 * Guest agent not available for now".
 */
vs_qmp *vs_qga_connect(const char *path, int timeout_ms, bool *refused, vs_error *err);

/* Close the connection and free everything (NULL is fine). */
void vs_qmp_free(vs_qmp *q);

/* The time a command waits for its answer (ms) and the largest message
 * accepted (bytes); 0 keeps the current value. */
void vs_qmp_set_limits(vs_qmp *q, int timeout_ms, size_t max_message);

/* QEMU's version from the greeting (0.0.0 in agent mode). */
void vs_qmp_version(const vs_qmp *q, int *major, int *minor, int *micro);
/* The peer's process id (SO_PEERCRED), -1 when unknown. */
pid_t vs_qmp_peer_pid(const vs_qmp *q);

/*
 * Execute `cmd` with `args` (an object, or NULL; always consumed) and wait
 * for the answer with our id. Events that arrive meanwhile are queued. On
 * success *ret (may be NULL; caller frees with json_object_put) is the
 * "return" value. QEMU's error reply becomes
 * "internal error: unable to execute QEMU command 'CMD': DESC", and its
 * class is kept for vs_qmp_error_class. After a timeout, garbage or a
 * closed socket the connection is unusable: every later call fails at once
 * with the same message.
 */
int vs_qmp_command(vs_qmp *q, const char *cmd, json_object *args, json_object **ret,
                   vs_error *err);
/* The same, passing file descriptor fd along with the command (SCM_RIGHTS). */
int vs_qmp_command_fd(vs_qmp *q, const char *cmd, json_object *args, int fd,
                      json_object **ret, vs_error *err);
/*
 * n commands sent at once, then their answers awaited in order (QEMU
 * answers a monitor's commands in order): the round trips of independent
 * queries overlap. args[i] as for vs_qmp_command (NULL or consumed); on
 * success rets[i] (caller frees) is each "return" value. The first error
 * reply fails the whole call with its message, every answer read and each
 * rets[i] NULL; commands after it were still carried out by QEMU, so only
 * commands that change nothing belong in one call, or a last one that is
 * to run whatever the others answer (a job's result, then its dismissal).
 */
int vs_qmp_commands(vs_qmp *q, size_t n, const char *const *cmds, json_object **args,
                    json_object **rets, vs_error *err);
/* The error class of the last command QEMU refused ("GenericError",
 * "CommandNotFound", ...), "" when the last command succeeded. */
const char *vs_qmp_error_class(const vs_qmp *q);

/* getfd: hand fd to QEMU under `fdname` (for "fd:NAME" URIs and
 * blockdev-add's /dev/fdset...). */
int vs_qmp_getfd(vs_qmp *q, int fd, const char *fdname, vs_error *err);

/*
 * Send a command written by the user (qemu-monitor-command): `text` must be a
 * JSON object; our id is added unless it has one. The whole reply, error
 * replies included, is returned as text in *reply (caller frees), compact or
 * with `pretty` indented as libvirt prints it.
 */
int vs_qmp_command_text(vs_qmp *q, const char *text, bool pretty, char **reply, vs_error *err);

/* human-monitor-command: *out (caller frees) is HMP's output as QEMU gives it. */
int vs_qmp_hmp(vs_qmp *q, const char *cmdline, char **out, vs_error *err);

/*
 * query-status: *status (caller frees, may be NULL) is QEMU's run state
 * ("running", "paused", "prelaunch", "restore-vm", "postmigrate", ...),
 * *running (may be NULL) whether the vCPUs run. A failed loadvm or
 * snapshot-load leaves "restore-vm": callers must `cont` (or stop the VM
 * differently) before anything that migrates, which QEMU 7.2 would abort on.
 */
int vs_qmp_query_status(vs_qmp *q, char **status, bool *running, vs_error *err);

/* Poll query-status until the run state is `status` (e.g. "postmigrate": a
 * MIGRATION completed event comes before QEMU allows `cont`). */
int vs_qmp_wait_status(vs_qmp *q, const char *status, int timeout_ms, vs_error *err);

/* MIGRATION events are only sent once the "events" migration capability is
 * on: switch it on (once per connection). */
int vs_qmp_migration_events(vs_qmp *q, vs_error *err);

/* ---- events ---- */

/* A predicate over an event's "data" (may be NULL) for vs_qmp_event_wait. */
typedef bool (*vs_qmp_event_match)(json_object *data, void *opaque);

/*
 * Take the oldest queued event named `name` (NULL: any event) for which
 * match (NULL: every one) holds, reading from the socket for up to
 * timeout_ms when none is queued yet. Returns 1 with *data (may be NULL;
 * caller frees with json_object_put; may itself be NULL when the event had
 * none), 0 when none came in time (no error set), -1 on error. Events that
 * do not match stay queued in order.
 */
int vs_qmp_event_wait(vs_qmp *q, const char *name, vs_qmp_event_match match, void *opaque,
                      int timeout_ms, json_object **data, vs_error *err);
/* Read whatever the socket holds now, queueing events, without waiting. */
int vs_qmp_event_poll(vs_qmp *q, vs_error *err);
/* Queued events, and how many were dropped because the queue was full. */
size_t vs_qmp_events_queued(const vs_qmp *q);
size_t vs_qmp_events_dropped(const vs_qmp *q);
/* Drop every queued event. */
void vs_qmp_events_clear(vs_qmp *q);

/* ---- jobs ---- */

/*
 * Wait for job `id` to reach `status` ("ready", "pending", "concluded")
 * through JOB_STATUS_CHANGE events, up to timeout_ms. A job that concludes
 * (or aborts) before reaching another wanted status fails with its error
 * from query-jobs. Timeout: VS_ERR_TIMEOUT naming the job and the last
 * status seen.
 */
int vs_qmp_job_wait(vs_qmp *q, const char *id, const char *status, int timeout_ms,
                    vs_error *err);

/*
 * Name the work the next job waits are for ("committing '/img/a.s1' into its
 * backing file"; copied): while it is set and a progress sink is installed
 * (progress.h), vs_qmp_job_wait reports the progress of QEMU's jobs under it
 * (query-jobs, at once and every 200 ms: the sum of every job's progress).
 * vs_qmp_end_progress ends it, showing 100% first when the work succeeded,
 * and clears what was shown (vs_qmp_free too, as after a failure).
 */
void vs_qmp_set_progress(vs_qmp *q, const char *what);
void vs_qmp_end_progress(vs_qmp *q, bool succeeded);

/* The end of concluded job id: its result read from query-jobs and the job
 * dismissed, both in one round trip. A job that failed: "internal error:
 * job 'ID' failed: ERR" (it is dismissed all the same). */
int vs_qmp_job_finish(vs_qmp *q, const char *id, vs_error *err);

/*
 * Run a job command to its end: execute `cmd` (args consumed; must carry
 * "job-id": id), wait for "concluded", read its result from query-jobs and
 * job-dismiss it. A job that failed: "internal error: job 'ID' failed: ERR".
 * The job is dismissed on every path it was created on.
 */
int vs_qmp_job_run(vs_qmp *q, const char *cmd, json_object *args, const char *id,
                   int timeout_ms, vs_error *err);

#endif
