/* Moving a running guest's memory state between QEMU and a save-image file
 * (saveimage.h): out through `getfd` + `migrate fd:`, in through a QEMU
 * started with `-incoming defer` and `migrate-incoming fd:`. The file
 * descriptor goes to QEMU over the monitor socket (SCM_RIGHTS), never
 * through a shell. Progress is reported while the stream moves (progress.h;
 * cmd/ shows it on a terminal). SIGINT and SIGTERM during a copy cancel it
 * cleanly ("operation aborted: ..."), then are delivered as usual.
 *
 * API for other parts of vsnap (save, managedsave, --memspec snapshots):
 *   vs_mem_save_file(q, path, xml, cookie, &opts, &was_running, err)
 *       the whole save: free space checked, the image written to
 *       vs_mem_temp_path(path) (0600; path's directory must exist), marked
 *       complete, synced and renamed over path. Failure or interrupt: the
 *       temporary file is removed, path untouched, the guest running again
 *       if it ran. Success: the guest is left paused ("postmigrate"); the
 *       caller resumes it (vs_mem_resume) or ends QEMU.
 *   vs_mem_load(q, fd, ...)
 *       feed a QEMU started with -incoming defer (vs_domain_start_incoming in
 *       domain_run.h does the start) from fd at the stream offset; returns
 *       with the guest paused and its state loaded.
 * The lower pieces (vs_mem_space_check, vs_mem_migrate_out) are there for
 * callers that write the file themselves.
 */
#ifndef VSNAP_MEMORY_TRANSFER_H
#define VSNAP_MEMORY_TRANSFER_H

#include <stdbool.h>
#include <stdint.h>
#include "error.h"
#include "qmp.h"

/* The longest a memory copy may take (either way). */
#define VS_MEM_TIMEOUT_MS (60 * 60 * 1000)

/* What a save image says the guest does when restored (its was_running). */
typedef enum vs_mem_mark {
    VS_MEM_MARK_AS_IS = 0,  /* as the guest was when the save began */
    VS_MEM_MARK_RUNNING,    /* --running */
    VS_MEM_MARK_PAUSED,     /* --paused */
} vs_mem_mark;

typedef struct vs_mem_opts {
    bool live;              /* save: the guest runs until QEMU's last pass */
    vs_mem_mark mark;       /* save: the header's was_running */
    bool bypass_cache;      /* drop the file's pages from the page cache afterwards */
    int timeout_ms;         /* <= 0: VS_MEM_TIMEOUT_MS */
    const char *what;       /* progress text ("saving domain 'D'"); NULL: none */
} vs_mem_opts;

/* "<dir>/.<base>.vsnap-part", where a save image is written before it is
 * renamed to path (caller frees). snapshot-check knows such files. */
char *vs_mem_temp_path(const char *path);
#define VS_MEM_TEMP_SUFFIX ".vsnap-part"

/*
 * Is there room in `dir` for the memory state of q's guest? The estimate is
 * the guest's RAM (query-memory-size-summary) plus `extra` bytes (the
 * header) plus 1 MiB of device state: "operation failed: not enough free
 * space in 'DIR' to save the memory of a guest with N MiB of RAM: M MiB
 * available". *estimate (may be NULL): the bytes asked for.
 */
int vs_mem_space_check(vs_qmp *q, const char *dir, uint64_t extra, uint64_t *estimate,
                       vs_error *err);
int vs_mem_space_check_fd(vs_qmp *q, int dirfd, const char *dir, uint64_t extra,
                          uint64_t *estimate, vs_error *err);

/*
 * Migrate q's guest state into fd (at the stream offset) and wait for the
 * end. A running guest is paused first unless o->live (then QEMU pauses it
 * at the last pass). *was_running (may be NULL): whether it ran before.
 * Success: the guest is paused, run state "postmigrate". Failure (QEMU's
 * error, timeout, SIGINT/SIGTERM): the migration is cancelled and a guest
 * that ran runs again. Migration settings are put back as they were.
 */
int vs_mem_migrate_out(vs_qmp *q, int fd, const vs_mem_opts *o, bool *was_running,
                       vs_error *err);

/* The whole save into a file (see the top of this file). cookie NULL: the
 * default (saveimage.h). */
int vs_mem_save_file(vs_qmp *q, const char *path, const char *xml, const char *cookie,
                     const vs_mem_opts *o, bool *was_running, vs_error *err);
/* The same into entry `name` of directory dirfd (opened with O_NOFOLLOW,
 * the temporary ".NAME.vsnap-part" beside it); `shown` is its path for
 * messages (the store's managed.save, store.h vs_dom_entry_at). */
int vs_mem_save_at(vs_qmp *q, int dirfd, const char *name, const char *shown, const char *xml,
                   const char *cookie, const vs_mem_opts *o, bool *was_running, vs_error *err);

/* Feed the QEMU behind q (started with -incoming defer, still "inmigrate")
 * the stream from fd (at the stream offset) and wait until it is loaded.
 * The guest is paused afterwards. */
int vs_mem_load(vs_qmp *q, int fd, const vs_mem_opts *o, vs_error *err);

/* cont after a save or load, once QEMU allows it (the run state leaves
 * "finish-migrate" shortly after the MIGRATION event). */
int vs_mem_resume(vs_qmp *q, vs_error *err);

#endif
