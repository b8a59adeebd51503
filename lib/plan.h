/* Plans: an operation on images and metadata as an ordered list of typed
 * steps, decided completely before the first one runs (design.md sections 4
 * and 5). --dry-run prints a plan, plan_run.c executes, undoes, finishes and
 * repairs it, journal.c writes it down. What each kind of step is, every one
 * of those reads from one table (vs_step_kinds); nothing derives a meaning
 * from where a kind sits in the enum. */
#ifndef VSNAP_PLAN_H
#define VSNAP_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "error.h"
#include "image_id.h"

/* Who carries a step out: one executor per mechanism (exec.h). */
typedef enum vs_mechanism {
    VS_MECH_QEMU_IMG = 0,   /* qemu-img on an image nobody has open */
    VS_MECH_FILE,           /* plain file operations on image files */
    VS_MECH_STORE,          /* the domain's metadata, through the store */
    VS_MECH_QMP,            /* the domain's running QEMU, over QMP (exec_qmp.c) */
    VS_MECH_COUNT
} vs_mechanism;

typedef enum vs_step_kind {
    VS_STEP_CREATE_IMAGE = 0, /* qemu-img create: path (fmt) on backing (backing_fmt) */
    VS_STEP_REPLACE_IMAGE,    /* rename `from` over path (path recreated empty on backing) */
    VS_STEP_COMMIT_IMAGE,     /* qemu-img commit -d: path's data into its backing file */
    VS_STEP_REBASE_IMAGE,     /* safe rebase of path onto backing: data moves, content stays */
    VS_STEP_RETARGET_IMAGE,   /* rebase -u: only the backing name of path changes */
    VS_STEP_REMOVE_IMAGE,     /* unlink path (never a block device) */
    VS_STEP_TAG_CREATE,       /* qemu-img snapshot -c name path */
    VS_STEP_TAG_APPLY,        /* qemu-img snapshot -a name path */
    VS_STEP_TAG_DELETE,       /* qemu-img snapshot -d name path */
    VS_STEP_WRITE_SNAPSHOT,   /* metadata: snapshot `name` becomes `text` */
    VS_STEP_REMOVE_SNAPSHOT,  /* metadata: snapshot `name` goes */
    VS_STEP_WRITE_DOMAIN,     /* metadata: the domain definition becomes `text` */
    VS_STEP_SET_CURRENT,      /* metadata: the current snapshot becomes `name` (NULL: none) */
    VS_STEP_WRITE_REGISTRY,   /* metadata: the overlay registry becomes `text` ("" none) */
    /* The running QEMU. `text` of the image steps lists the disks they act on
     * (vs_vm_disks_format): each disk's target and the image QEMU has open
     * for it, the node being found again at run time by both. */
    VS_STEP_VM_PAUSE,         /* stop the vCPUs (`old_name`: the reason recorded before) */
    VS_STEP_VM_RESUME,        /* cont, recorded as running for reason `name` */
    VS_STEP_VM_SAVE,          /* snapshot-save job: tag `name` in every disk of `text`, the
                               * memory state in image `path` */
    VS_STEP_VM_LOAD,          /* snapshot-load job: tag `name` of every disk of `text`, the
                               * memory state from image `path`; paused for reason "from
                               * snapshot" afterwards */
    VS_STEP_VM_TAG_DELETE,    /* snapshot-delete job: tag `name` from every disk of `text` */
    VS_STEP_VM_START,         /* start QEMU paused from the domain definition (`name`: the
                               * reason recorded) */
    VS_STEP_VM_STOP,          /* end QEMU, recorded as shut off for reason `name` */
    VS_STEP_VM_OVERLAY,       /* make overlay `path` (fmt) on `backing` (backing_fmt), the
                               * disk of `text`'s active layer, and open it in QEMU, not yet
                               * in use (`reuse`: the file is taken as it is) */
    VS_STEP_VM_SNAPSHOT_DISKS,/* one transaction of blockdev-snapshot: each disk of `text`
                               * moves onto its overlay (undo: committed back) */
    VS_STEP_VM_FREEZE,        /* guest agent: freeze the guest's file systems */
    VS_STEP_VM_THAW,          /* guest agent: thaw them */
    VS_STEP_VM_COMMIT,        /* block-commit of layer `path` of the disk of `text` into
                               * `backing`, below it (the active layer: then job-complete,
                               * and the disk is on `backing`) */
    VS_STEP_VM_STREAM,        /* block-stream into layer `path` of the disk of `text` from
                               * the layers down to `backing` ("" all), which becomes its
                               * backing file: content stays, `old_backing` goes */
    VS_STEP_VM_CLOSE,         /* close QEMU's nodes of image `path`, which no disk uses any
                               * more */
    VS_STEP_VM_TAG_DISKS,     /* one transaction of blockdev-snapshot-internal-sync: tag
                               * `name` in every disk of `text`, at once, no memory state */
    VS_STEP_VM_SAVE_MEMORY,   /* the guest's memory state into save image `path` (libvirt's
                               * format, domain XML `text` in its header), written as `from`
                               * and renamed when complete; `name`: words "running" or
                               * "paused" (what the image says), "live", "bypass-cache".
                               * Undo: both files go. The store's managed.save is written
                               * through the store (memory_transfer.h) */
    VS_STEP_VM_RESTORE,       /* start QEMU from definition `text` with -incoming defer and
                               * load save image `path`; `name` "running" or "paused" (+
                               * "bypass-cache"). Undo: QEMU stopped */
    VS_STEP_REMOVE_MANAGED_SAVE, /* metadata: the domain's managed.save goes */
    VS_STEP_KIND_COUNT
} vs_step_kind;

/* The fields of a step, for vs_step_kind_info.needs / .undo_needs. */
enum {
    VS_SF_PATH        = 1 << 0,
    VS_SF_FROM        = 1 << 1,
    VS_SF_FMT         = 1 << 2,
    VS_SF_BACKING     = 1 << 3,
    VS_SF_BACKING_FMT = 1 << 4,
    VS_SF_OLD_BACKING = 1 << 5,
    VS_SF_NAME        = 1 << 6,
    VS_SF_TEXT        = 1 << 7,
    VS_SF_EXPECT      = 1 << 8,   /* `expect`: what path was when planned */
    VS_SF_OLD         = 1 << 9,   /* old_text / old_name: the value before, for the undo */
};

/* What replaying a step does (a journal replay runs again the steps it cannot
 * tell are done). */
typedef enum vs_replay {
    VS_REPLAY_SAME = 0,       /* running it again gives the same result */
    VS_REPLAY_UNTIL_TOUCHED,  /* the same result only while no later step changed one of
                               * its files (a commit into an image a later commit fills):
                               * the runner records it done before such a step runs */
    VS_REPLAY_NEVER,          /* running it twice changes the result (a second tag with the
                               * same name): allowed only before the commit point, where a
                               * crash undoes instead of replaying */
} vs_replay;

typedef struct vs_step_kind_info {
    const char *name;         /* the journal's and --dry-run's name ("create-image") */
    vs_mechanism mech;
    bool undoable;            /* has an undo, so it may stand before the commit point */
    vs_replay replay;
    bool changes_data;        /* changes what a guest reads from some image */
    bool writes_image;        /* writes to an image file (its data, its snapshot table, its
                               * backing name; a file made): a later step that does can
                               * change what an earlier one read */
    bool needs_qemu;          /* talks to a running QEMU */
    bool can_finally;         /* may be a finally action (runs on every path) */
    bool groupable;           /* independent steps of this kind may run at once */
    bool atomic;              /* carried out as one atomic change of one file (a metadata
                               * write is temp, fsync, rename, fsync of the directory): a
                               * plan of this one step is all or nothing by itself, so it
                               * runs without a journal */
    unsigned needs;           /* VS_SF_* fields it needs to run (NULL text is "" for
                               * WRITE_REGISTRY; SET_CURRENT's NULL name is "none") */
    unsigned undo_needs;      /* ... and to be undone */
} vs_step_kind_info;

/* Indexed by vs_step_kind; every kind has an entry (checked at build time). */
extern const vs_step_kind_info vs_step_kinds[VS_STEP_KIND_COUNT];
const vs_step_kind_info *vs_step_info(vs_step_kind kind);
/* "create-image" -> kind; -1 if unknown. */
int vs_step_kind_parse(const char *s);

typedef struct vs_step {
    vs_step_kind kind;
    char *path;              /* the image (or, for metadata, nothing) the step acts on */
    char *from;              /* REPLACE_IMAGE: the file moved over path */
    char *fmt;               /* path's format */
    char *backing;           /* CREATE/REBASE/RETARGET/REPLACE: the new backing ("" none);
                              * COMMIT: the image that receives the data */
    char *backing_fmt;
    char *old_backing;       /* REBASE/RETARGET: the backing before, for the undo */
    char *old_backing_fmt;
    char *name;              /* TAG_*: the tag; snapshot steps: the snapshot's name;
                              * SET_CURRENT: the new current snapshot (NULL: none) */
    char *text;              /* WRITE_*: the whole new content */
    char *old_text;          /* WRITE_xxx, REMOVE_SNAPSHOT: the content before (NULL: absent) */
    char *old_name;          /* SET_CURRENT: the current snapshot before (NULL: none) */
    vs_file_id expect;       /* path as it was when planned (REPLACE, REMOVE, COMMIT) */
    char *why;               /* one line for people (dry run, messages), or NULL */
    bool keep_on_undo;       /* CREATE_IMAGE, VM_OVERLAY on a file that was there (a
                              * block device, --reuse-external): an undo leaves it */
    bool reuse;              /* VM_OVERLAY: the file is used as it is, not formatted */
    bool reset_nvram;        /* VM_START, VM_RESTORE: the NVRAM variables are first re-created
                              * from their template (snapshot-revert --reset-nvram) */
} vs_step;

/*
 * Steps [0, commit) come before the commit point: each can be undone, and a
 * failure or crash there undoes them, newest first. From the commit point on
 * the plan only goes forward: a failure or crash there is finished by
 * `snapshot-check --repair`, which replays what it cannot see done. The
 * finally actions run after the steps on every path (success, rollback,
 * repair), each once.
 */
typedef struct vs_plan {
    char *operation;         /* "snapshot-create", "snapshot-revert", ... */
    char *domain;
    char *uuid;              /* the domain's uuid: temporary files carry it */
    char *snapshot;          /* the snapshot the command named, or NULL */
    vs_step *steps;
    size_t n, cap;
    size_t commit;
    vs_step *fin;            /* finally actions */
    size_t nfin, fin_cap;
    bool adding_finally;     /* builders append to fin (vs_plan_begin_finally) */
    char **notes;            /* why images were kept, for --dry-run (not journaled) */
} vs_plan;

/* Strings are copied; NULL stays NULL. Free with vs_plan_free. */
vs_plan *vs_plan_new(const char *operation, const char *domain, const char *uuid,
                     const char *snapshot);
void vs_plan_free(vs_plan *p);

/* Append a step (all strings copied) and return it, so that a planner can
 * fill `expect` or `keep_on_undo`. The pointer is valid until the next add. */
vs_step *vs_plan_create_image(vs_plan *p, const char *path, const char *fmt,
                              const char *backing, const char *backing_fmt, const char *why);
vs_step *vs_plan_replace_image(vs_plan *p, const char *from, const char *path, const char *fmt,
                               const char *backing, const char *backing_fmt, const char *why);
vs_step *vs_plan_commit_image(vs_plan *p, const char *path, const char *fmt, const char *into,
                              const char *why);
vs_step *vs_plan_rebase_image(vs_plan *p, const char *path, const char *fmt,
                              const char *backing, const char *backing_fmt,
                              const char *old_backing, const char *old_backing_fmt,
                              const char *why);
vs_step *vs_plan_retarget_image(vs_plan *p, const char *path, const char *fmt,
                                const char *backing, const char *backing_fmt,
                                const char *old_backing, const char *old_backing_fmt,
                                const char *why);
vs_step *vs_plan_remove_image(vs_plan *p, const char *path, const char *why);
vs_step *vs_plan_tag(vs_plan *p, vs_step_kind kind, const char *image, const char *tag,
                     const char *why);
/* Metadata steps carry the value they replace (old: NULL when absent), so
 * that they can be undone. */
vs_step *vs_plan_write_snapshot(vs_plan *p, const char *name, const char *text,
                                const char *old_text, const char *why);
vs_step *vs_plan_remove_snapshot(vs_plan *p, const char *name, const char *old_text,
                                 const char *why);
vs_step *vs_plan_write_domain(vs_plan *p, const char *text, const char *old_text,
                              const char *why);
vs_step *vs_plan_set_current(vs_plan *p, const char *name, const char *old_name,
                             const char *why);
vs_step *vs_plan_write_registry(vs_plan *p, const char *text, const char *old_text,
                                const char *why);
/* A disk of the running QEMU, as the VM image steps name it: its target
 * ("vda") and the image QEMU has open for it (its active layer). */
typedef struct vs_vm_disk {
    char *target;
    char *image;
    char *overlay;           /* VM_SNAPSHOT_DISKS: the overlay it moves onto, else NULL */
} vs_vm_disk;

/* The `text` of a VM image step for these disks (caller frees), and back:
 * -1 when text is no such list; *disks is the caller's (vs_vm_disks_free). */
char *vs_vm_disks_format(const vs_vm_disk *disks, size_t n);
int vs_vm_disks_parse(const char *text, vs_vm_disk **disks, size_t *n);
void vs_vm_disks_free(vs_vm_disk *disks, size_t n);

/* VM_PAUSE, VM_RESUME, VM_START, VM_STOP: `reason` is what the state is
 * recorded with (VM_PAUSE: the reason before, which its undo puts back). */
vs_step *vs_plan_vm(vs_plan *p, vs_step_kind kind, const char *reason, const char *why);
/* VS_STEP_VM_SAVE_MEMORY into image path (expect: path as it is now; from:
 * memory_transfer.h's temporary name), VS_STEP_VM_RESTORE from it; xml is
 * the header's domain XML / the definition QEMU starts with. */
vs_step *vs_plan_vm_save_memory(vs_plan *p, const char *path, const char *xml,
                                const char *words, const char *why);
/* VS_STEP_REMOVE_MANAGED_SAVE (the image must be there when it runs). */
vs_step *vs_plan_remove_managed_save(vs_plan *p, const char *why);
vs_step *vs_plan_vm_restore(vs_plan *p, const char *path, const char *xml, const char *words,
                            const char *why);
/* VM_OVERLAY: overlay `path` in format fmt for disk `target`, whose active
 * layer is `image` (format image_fmt). */
vs_step *vs_plan_vm_overlay(vs_plan *p, const char *target, const char *path, const char *fmt,
                            const char *image, const char *image_fmt, bool reuse,
                            const char *why);
/* VM_COMMIT, VM_STREAM: layer `path` of disk `target` (whose active layer
 * is `active`) into / from `base` (VM_STREAM: "" for none; `old`: its
 * backing file before). VM_CLOSE: `path` only (target, active NULL). */
vs_step *vs_plan_vm_layer(vs_plan *p, vs_step_kind kind, const char *target, const char *active,
                          const char *path, const char *base, const char *old,
                          const char *why);
/* VM_SNAPSHOT_DISKS: every disk (with its overlay) in one transaction. */
vs_step *vs_plan_vm_disks(vs_plan *p, vs_step_kind kind, const vs_vm_disk *disks, size_t n,
                          const char *why);
/* VM_SAVE, VM_LOAD, VM_TAG_DELETE of internal snapshot `tag` on disks (the
 * memory state in / from vmstate_image; NULL for a delete). */
vs_step *vs_plan_vm_tags(vs_plan *p, vs_step_kind kind, const char *tag,
                         const char *vmstate_image, const vs_vm_disk *disks, size_t n,
                         const char *why);
/* A copy of step s (from another plan) appended. */
vs_step *vs_plan_add_copy(vs_plan *p, const vs_step *s);
/* A line for people about the plan (what it keeps and why), once each. */
void vs_plan_note(vs_plan *p, const char *fmt, ...) VS_PRINTF(2, 3);
/* The commit point goes after the steps added so far. */
void vs_plan_commit_point(vs_plan *p);
/* From now on the builders append finally actions (kinds with can_finally). */
void vs_plan_begin_finally(vs_plan *p);

/* The commit point and every step's fields against the table: 0, or -1 with
 * a message naming the step (journal.c checks what it reads with it too). */
int vs_plan_validate(const vs_plan *p, vs_error *err);
/* The same, not requiring the fields in `optional` (older journals). */
int vs_plan_validate_fields(const vs_plan *p, unsigned optional, vs_error *err);

/* Whether image `path` is the same image as one a step of p acts on. */
bool vs_plan_touches(const vs_plan *p, const char *path);

/* The plan as --dry-run prints it: a header line, one numbered line per
 * step, the commit point marked, then the finally actions. Ends with a
 * newline. vs_step_format: one step's words, without number or newline. */
void vs_plan_format(const vs_plan *p, vs_buf *b);
void vs_step_format(const vs_step *s, vs_buf *b);

#endif
