/* Plans: an operation on images and metadata as an ordered list of steps
 * (design.md sections 4 and 5). A plan is decided completely before its
 * first step runs; --dry-run prints it; execution journals it. */
#ifndef VSNAP_PLAN_H
#define VSNAP_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "error.h"
#include "store.h"

typedef enum vs_step_kind {
    VS_STEP_CREATE_IMAGE = 0, /* qemu-img create: path (fmt) on backing (backing_fmt);
                               * undo: unlink path (unless keep_on_undo) */
    VS_STEP_REPLACE_IMAGE,    /* rename `from` over path; done when `from` is gone */
    VS_STEP_COMMIT_IMAGE,     /* qemu-img commit -d: path's data into its backing file
                               * (named in `backing`, for the record) */
    VS_STEP_REBASE_IMAGE,     /* safe rebase of path onto backing: data moves, the
                               * content stays; undo: rebase -u back to old_backing */
    VS_STEP_RETARGET_IMAGE,   /* rebase -u: only the backing name of path changes */
    VS_STEP_REMOVE_IMAGE,     /* unlink path (never a block device); missing is fine */
    VS_STEP_TAG_CREATE,       /* qemu-img snapshot -c name path; undo: -d */
    VS_STEP_TAG_APPLY,        /* qemu-img snapshot -a name path */
    VS_STEP_TAG_DELETE,       /* qemu-img snapshot -d name path, if the tag exists */
    VS_STEP_WRITE_SNAPSHOT,   /* metadata: snapshot `name` becomes `text` */
    VS_STEP_REMOVE_SNAPSHOT,  /* metadata: snapshot `name` goes; missing is fine */
    VS_STEP_WRITE_DOMAIN,     /* metadata: the domain definition becomes `text` */
    VS_STEP_SET_CURRENT,      /* metadata: current snapshot is `name` (NULL: none) */
    VS_STEP_WRITE_REGISTRY,   /* metadata: the overlay registry becomes `text` ("" none) */
} vs_step_kind;

typedef struct vs_step {
    vs_step_kind kind;
    char *path;              /* the image the step acts on */
    char *from;              /* REPLACE_IMAGE: the file moved over path */
    char *fmt;               /* path's format */
    char *backing;           /* CREATE/REBASE/RETARGET: the new backing ("" none);
                              * COMMIT: the image that receives the data */
    char *backing_fmt;
    char *old_backing;       /* REBASE: the backing before, for the undo */
    char *old_backing_fmt;
    char *name;              /* TAG_*: tag; snapshot steps: the snapshot name */
    char *text;              /* WRITE_SNAPSHOT / WRITE_DOMAIN: the whole XML */
    char *why;               /* one line for people (dry run, messages), or NULL */
    bool keep_on_undo;       /* CREATE_IMAGE on a block device: an undo leaves it */
} vs_step;

/*
 * Steps [0, commit) come before the commit point: each can be undone, and a
 * failure or crash there rolls the plan back. From the commit point on the
 * plan only goes forward: a failure or crash there is finished by
 * `snapshot-check --repair`, so every later step must give the same result
 * when it runs again (see journal.h).
 */
typedef struct vs_plan {
    char *operation;         /* "snapshot-create", "snapshot-revert", ... */
    char *domain;
    char *snapshot;          /* the snapshot the command named, or NULL */
    vs_step *steps;
    size_t n, cap;
    size_t commit;
} vs_plan;

/* Strings are copied; NULL stays NULL. Free with vs_plan_free. */
vs_plan *vs_plan_new(const char *operation, const char *domain, const char *snapshot);
void vs_plan_free(vs_plan *p);

/* Append a step (all strings copied). The commit point stays where it was
 * set last; vs_plan_commit_point puts it after the steps added so far. */
void vs_plan_create_image(vs_plan *p, const char *path, const char *fmt, const char *backing,
                          const char *backing_fmt, bool keep_on_undo, const char *why);
void vs_plan_replace_image(vs_plan *p, const char *from, const char *path, const char *why);
void vs_plan_commit_image(vs_plan *p, const char *path, const char *fmt, const char *into,
                          const char *why);
void vs_plan_rebase_image(vs_plan *p, const char *path, const char *fmt, const char *backing,
                          const char *backing_fmt, const char *old_backing,
                          const char *old_backing_fmt, const char *why);
void vs_plan_retarget_image(vs_plan *p, const char *path, const char *fmt, const char *backing,
                            const char *backing_fmt, const char *why);
void vs_plan_remove_image(vs_plan *p, const char *path, const char *why);
void vs_plan_tag(vs_plan *p, vs_step_kind kind, const char *image, const char *tag,
                 const char *why);
void vs_plan_write_snapshot(vs_plan *p, const char *name, const char *text, const char *why);
void vs_plan_remove_snapshot(vs_plan *p, const char *name, const char *why);
void vs_plan_write_domain(vs_plan *p, const char *text, const char *why);
void vs_plan_set_current(vs_plan *p, const char *name, const char *why);
void vs_plan_write_registry(vs_plan *p, const char *text, const char *why);
void vs_plan_commit_point(vs_plan *p);

/* Whether a step of this kind can stand before the commit point. */
bool vs_step_undoable(vs_step_kind kind);
/* "create-image", ...: the journal's names. vs_step_kind_parse: -1 if unknown. */
const char *vs_step_kind_name(vs_step_kind kind);
int vs_step_kind_parse(const char *s);

/* The plan as --dry-run prints it: a header line, one numbered line per
 * step, the commit point marked. Ends with a newline. */
void vs_plan_format(const vs_plan *p, vs_buf *b);

/*
 * Run the plan on domain d (whose exclusive lock the caller holds): write the
 * journal, run the steps, clear the journal. A step that fails before the
 * commit point undoes the steps before it, and the journal goes; one that
 * fails after it leaves the journal and the error says to run
 * `snapshot-check --repair`. Failpoint "plan-step" is evaluated at every step
 * boundary (before each step, before the commit point is recorded, and
 * before the journal is cleared).
 */
int vs_plan_execute(vs_plan *p, vs_dom *d, vs_error *err);

/*
 * The overlay registry (the store's <domain>/overlays, vs_dom_registry_load
 * and vs_dom_registry_store): the overlays vsnap made that the snapshot
 * metadata may no longer name as overlays (a snapshot's <disks> or
 * <revertDisks>), e.g. once the snapshot that made one is deleted while a
 * child's content still lives in it. Only images vsnap made (named there, or
 * in <disks>/<revertDisks>) are ever removed by vsnap. A WRITE_REGISTRY
 * step's text holds one path per line.
 */

/* One step and its undo, as execution and repair run them. */
int vs_plan_run_step(vs_dom *d, const vs_step *s, vs_error *err);
int vs_plan_undo_step(vs_dom *d, const vs_step *s, vs_error *err);

#endif
