/* Running domains: start, stop, pause and query QEMU (the domain
 * lifecycle), either one vsnap started or one started by another program
 * and named in the definition's <vsnap:runtime>.
 *
 * The run directory, <domain>/run/ (0700), while vsnap runs the VM:
 *   monitor.sock   QMP socket (0600); vsnap binds it and hands QEMU the
 *                  listening descriptor, so the path may be of any length
 *   agent.sock     guest agent socket (0600), when the domain has a
 *                  org.qemu.guest_agent.0 channel
 *   pid            QEMU's pid file (QEMU writes it, and removes it when it
 *                  exits cleanly: a pid file left with no process behind it
 *                  means QEMU died)
 *   state          "STATE REASON PID" as vsnap last set or saw it (0600,
 *                  atomic): gives domstate --reason its reason
 *   domain.xml     the definition the VM was started with
 *   qemu.log       QEMU's command line and its stderr (0600, appended)
 *   serial0.log    output of a <serial type='pty'> (vsnap has no console)
 * Everything but `state` and the logs is removed when the VM stops.
 */
#ifndef VSNAP_DOMAIN_RUN_H
#define VSNAP_DOMAIN_RUN_H

#include <stdbool.h>
#include <sys/types.h>
#include "error.h"
#include "memory_transfer.h"
#include "qmp.h"
#include "store.h"

#define VS_RUNTIME_NS "https://vsnap.dev/xmlns/runtime/1"

typedef enum vs_run_state {
    VS_RUN_SHUTOFF = 0,
    VS_RUN_RUNNING,
    VS_RUN_PAUSED,
    VS_RUN_CRASHED,
    VS_RUN_PMSUSPENDED,
} vs_run_state;

typedef struct vs_run_info {
    vs_run_state state;
    char reason[24];        /* virsh's word: "booted", "user", "destroyed", "unknown", ... */
    pid_t pid;              /* QEMU's process, -1 when shut off or unknown */
    char qemu_status[24];   /* query-status "status" ("restore-vm", ...), "" when not asked */
    bool attached;          /* driven through <vsnap:runtime> (not started by vsnap) */
} vs_run_info;

/* "running", "paused", "shut off", "crashed", "pmsuspended" (virsh's words). */
const char *vs_run_state_name(vs_run_state s);

/*
 * The domain's state, from QMP query-status when QEMU runs. A stale pid file
 * or socket (QEMU gone) means shut off and is cleaned up: QEMU removes its
 * pid file when it ends by itself ("shut off (shutdown)"), so one left
 * behind means QEMU died ("shut off (crashed)", libvirt's word when QEMU
 * vanishes); a start that failed is "shut off (failed)". The caller holds
 * the domain's lock (shared is enough).
 */
int vs_domain_run_info(vs_dom *d, vs_run_info *info, vs_error *err);

/* The same without talking to QEMU and without writing (for `list` while
 * another command holds the domain): the pid file and the state vsnap
 * recorded last. */
int vs_domain_run_peek(vs_dom *d, vs_run_info *info, vs_error *err);

/*
 * Lifecycle; each needs the domain's exclusive lock. A domain that is not
 * running: "Requested operation is not valid: domain is not running".
 * start: "Requested operation is not valid: domain is already running"; it
 * returns when QMP answers (and, unless paused, after `cont`).
 * shutdown: ACPI power button (system_powerdown), then waits up to
 * timeout_s seconds (0: does not wait) for QEMU to end; a guest that ignores
 * the button (no OS, ACPI off) gives VS_ERR_TIMEOUT saying that `destroy`
 * forces it off, and the domain keeps running.
 * destroy: SIGTERM, then SIGKILL after 10 seconds; refused for attached
 * domains (vsnap never kills a QEMU it did not start). start is refused for
 * them too.
 */
int vs_domain_start(vs_dom *d, bool paused, vs_error *err);
/* vs_domain_start with flags: VS_START_PAUSED, and VS_START_RESET_NVRAM,
 * which first re-creates the <nvram> variables file from its template
 * (refused when <nvram> names none; put back when QEMU does not start). */
enum { VS_START_PAUSED = 1 << 0, VS_START_RESET_NVRAM = 1 << 1 };
int vs_domain_start_flags(vs_dom *d, unsigned flags, vs_error *err);
/*
 * Start QEMU from def (NULL: the persistent definition) with -incoming
 * defer and load the guest state from fd, a save image's descriptor at its
 * stream offset (saveimage.h): restore, start from a managed save, revert
 * to an external full-system snapshot. def is what the running domain runs
 * (run/domain.xml). The guest ends paused ("paused (migrating)", virsh's
 * words) with VS_START_PAUSED in flags, else running ("running (restored)"). A load that
 * fails ends QEMU ("shut off (failed)"). o: progress text, timeout.
 */
int vs_domain_start_incoming(vs_dom *d, const vs_domain_def *def, int fd, const vs_mem_opts *o,
                             unsigned flags, vs_error *err);
/* `requested` (may be NULL) is called once the power button was pressed,
 * before the wait (cmd/ prints virsh's "is being shutdown" then). */
int vs_domain_shutdown(vs_dom *d, int timeout_s, void (*requested)(void *opaque), void *opaque,
                       vs_error *err);
int vs_domain_destroy(vs_dom *d, vs_error *err);
int vs_domain_suspend(vs_dom *d, vs_error *err);
int vs_domain_resume(vs_dom *d, vs_error *err);

/*
 * A QMP connection to the running domain's QEMU (caller frees with
 * vs_qmp_free), *info (may be NULL) filled as vs_domain_run_info does.
 * Shut off: "Requested operation is not valid: domain is not running".
 * QEMU accepts one monitor client at a time: hold the connection only as
 * long as needed.
 */
vs_qmp *vs_domain_monitor(vs_dom *d, vs_run_info *info, vs_error *err);

/*
 * The guest agent of the running domain. No agent channel: "argument
 * unsupported: QEMU guest agent is not configured"; an agent that does not
 * answer within timeout_ms: "Guest agent is not responding: Guest agent not
 * available for now".
 */
vs_qmp *vs_domain_agent(vs_dom *d, int timeout_ms, vs_error *err);

/*
 * For what has no live form (plans that are not made for a running domain,
 * model.h without VS_MODEL_LIVE): fail with a clear message when QEMU has
 * the domain's images open (any state but shut off), so that qemu-img never
 * changes an image a live QEMU holds.
 */
int vs_domain_require_inactive(vs_dom *d, vs_error *err);

/*
 * For plans that run a domain (exec_qmp.c): record the state vsnap brought
 * the domain into, so that domstate --reason tells it ("running (from
 * snapshot)"), with QEMU's pid when it runs.
 */
int vs_domain_record_state(vs_dom *d, vs_run_state st, const char *reason, vs_error *err);
/* destroy, recording `reason` ("from snapshot") as the reason it is shut
 * off; a domain that is shut off already only gets the reason recorded.
 * Refused for attached domains, as destroy. */
int vs_domain_stop(vs_dom *d, const char *reason, vs_error *err);

/* The definition the running domain was started with (<domain>/run/domain.xml;
 * caller frees with vs_domain_def_free). A domain vsnap did not start, or
 * one that is shut off: its persistent definition. */
vs_domain_def *vs_domain_live_def(vs_dom *d, vs_error *err);

/* Record def as the definition the running domain's QEMU now runs (after
 * vsnap moved its disks onto overlays, or back): <domain>/run/domain.xml,
 * atomically. Nothing to do for a domain vsnap did not start, or one that
 * is shut off. */
int vs_domain_live_def_save(vs_dom *d, const vs_domain_def *def, vs_error *err);

/* <domain>/run (caller frees). */
char *vs_domain_run_dir(const vs_dom *d);

#endif
