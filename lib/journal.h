/* The journal: the plan of an operation in progress, <domain>/journal
 * (design.md sections 3 and 5). */
#ifndef VSNAP_JOURNAL_H
#define VSNAP_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "error.h"
#include "plan.h"
#include "store.h"

/*
 * The journal is written (atomically) before the first step of a plan and
 * holds the whole plan: every step with everything it needs to run again
 * (image paths and formats, the full XML of every metadata file it writes).
 * It is rewritten when the commit point is passed and after each image step
 * behind it, and removed after the last step.
 *
 * Recovery: a journal still PREPARED means the commit point was not reached:
 * every step before it is undone, in reverse (undos are harmless for a step
 * that never ran: unlink a file that is not there, point a backing name back
 * to what it already is). A COMMITTED journal is finished: the steps from
 * `done` on run again. Steps behind the commit point are chosen to be
 * idempotent: commit -d keeps its source; rebase -u and metadata writes set
 * final values; removals and tag deletions accept what is already gone; a
 * replace is done when its source is gone. An image step that is not
 * idempotent once later steps ran (a commit) is followed by a journal update,
 * so it never runs twice.
 */
typedef enum vs_journal_phase {
    VS_JOURNAL_PREPARED = 0,
    VS_JOURNAL_COMMITTED,
} vs_journal_phase;

/* The journal is the store's <domain>/journal (vs_dom_journal_*); this is
 * its codec. Its path, for messages (caller frees). */
char *vs_journal_path(const vs_dom *d);
bool vs_journal_exists(vs_dom *d);

int vs_journal_write(vs_dom *d, const vs_plan *p, vs_journal_phase phase, size_t done,
                     vs_error *err);
/* 0 with *p = NULL when there is no journal. A journal that cannot be read
 * or parsed is an error (it is never silently ignored). */
int vs_journal_read(vs_dom *d, vs_plan **p, vs_journal_phase *phase, size_t *done,
                    vs_error *err);
int vs_journal_clear(vs_dom *d, vs_error *err);

/*
 * The check every command makes before it touches a domain: with a journal
 * present it fails with "operation failed: domain 'D' has an interrupted
 * snapshot-delete of snapshot 'S' (...); run 'vsnap snapshot-check D --repair'
 * to finish or roll it back". 0 when there is none.
 */
int vs_journal_refuse(vs_dom *d, vs_error *err);

/* One line about the journal for people (caller frees), or NULL when none. */
char *vs_journal_describe(vs_dom *d, vs_error *err);

/*
 * Finish (COMMITTED) or roll back (PREPARED) the journal of d, then remove
 * it. What was done is appended to `report` (one line each). Returns 0 when
 * there was nothing to do too. On failure the journal stays.
 */
int vs_journal_repair(vs_dom *d, vs_buf *report, vs_error *err);

#endif
