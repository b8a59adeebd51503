/* The journal codec: a plan and its progress as text, and back (design.md
 * sections 3 and 5). The store keeps the text in <domain>/journal; running,
 * undoing and repairing a plan is plan_run.c's. */
#ifndef VSNAP_JOURNAL_H
#define VSNAP_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "error.h"
#include "plan.h"

/*
 * Where a crash left the operation (SQLite names its pager states the same
 * way). The journal is written, durably, before the first step runs, and
 * again at the commit point, after each step the runner must not replay, and
 * when a rollback or the finally actions make progress; it is removed after
 * the last finally action.
 */
typedef enum vs_journal_phase {
    VS_JOURNAL_PREPARED = 0,   /* before the commit point: repair undoes [0, commit) */
    VS_JOURNAL_COMMITTED,      /* past it: repair runs the steps from `done` on */
    VS_JOURNAL_ROLLED_BACK,    /* undone (or finished, see `finished`); only finally
                                * actions from `fin_done` on are left */
    VS_JOURNAL_FINISHED,       /* every step ran; only finally actions are left */
} vs_journal_phase;

typedef struct vs_journal_state {
    vs_journal_phase phase;
    size_t done;               /* steps [0, done) are known to have run */
    size_t fin_done;           /* finally actions [0, fin_done) ran */
    char *failure;             /* why the operation stopped, for people, or NULL */
} vs_journal_state;

/* The journal text of p in state st (caller frees). */
char *vs_journal_encode(const vs_plan *p, const vs_journal_state *st);

/*
 * Parse a journal text. `where` names it in messages. A text that is not a
 * journal of a known version, or a plan that vs_plan_validate refuses, is an
 * error that says to check the images by hand before moving the file away.
 * *p (vs_plan_free) and st->failure (free) are the caller's.
 */
int vs_journal_decode(const char *text, size_t len, const char *where, vs_plan **p,
                      vs_journal_state *st, vs_error *err);
void vs_journal_state_clear(vs_journal_state *st);

/* Every image file the plan names (path, from, backing, old_backing of each
 * step and finally action), for other domains' plans: a file an open
 * journal names is never removed or merged. *paths (vs_strv_free). */
char **vs_journal_files(const vs_plan *p);

/* "interrupted snapshot-delete of snapshot 'S' (committed; 2 of 5 steps
 * recorded as done)", for people (caller frees). */
char *vs_journal_describe_state(const vs_plan *p, const vs_journal_state *st);

#endif
