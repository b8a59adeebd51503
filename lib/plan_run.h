/* Running a plan: execution with undo before the commit point and finally
 * actions on every path, and the repair of an interrupted one. Execute,
 * undo and repair live here together; journal.c only encodes, the store
 * keeps the file, the executors (exec.h) act. */
#ifndef VSNAP_PLAN_RUN_H
#define VSNAP_PLAN_RUN_H

#include "buf.h"
#include "error.h"
#include "journal.h"
#include "plan.h"
#include "store.h"

/*
 * Run plan p on domain d, whose exclusive lock the caller holds: check it
 * against the step table, write the journal, run the steps (independent
 * image steps of one kind at once), run the finally actions, remove the
 * journal.
 *
 * A step that fails before the commit point undoes everything before it and
 * itself, newest first (an undo of a step that did not take effect changes
 * nothing; one whose file someone else changed since refuses), and the
 * journal goes; if an undo fails the journal stays and the error says to run
 * `snapshot-check --repair`. A step that fails after the commit point leaves
 * the journal, and the error says the same. A plan whose commit point is its
 * end is all or nothing: removing the journal is its commit. A plan of one
 * step whose kind the table marks atomic (one file written or removed
 * atomically) needs no journal: it runs alone, all or nothing by itself.
 *
 * Failpoints (tests): "plan-step" at every step boundary (before each step,
 * before the commit point is recorded, before the journal is removed) and
 * "plan-undo" before each undo.
 */
int vs_plan_execute(vs_plan *p, vs_dom *d, vs_error *err);

/* What every verb does with its plan: with dry != NULL hand it over (*dry,
 * the caller's to free) and change nothing; otherwise execute it. Takes p. */
int vs_plan_run_or_dry(vs_plan *p, vs_dom *d, vs_plan **dry, vs_error *err);

/* d's journal, decoded: 0 with *p NULL when there is none. Release st with
 * vs_journal_state_clear, *p with vs_plan_free. */
int vs_plan_load_journal(vs_dom *d, vs_plan **p, vs_journal_state *st, vs_error *err);

/* One line about d's interrupted operation (caller frees), or NULL when
 * there is none (or, with err filled, when the journal cannot be read). */
char *vs_plan_describe_interrupted(vs_dom *d, vs_error *err);

/*
 * The check every command that changes a domain makes first: with a journal
 * present it fails with "operation failed: domain 'D' has an interrupted
 * snapshot-delete of snapshot 'S' (...); run 'vsnap snapshot-check D
 * --repair' to finish or roll it back". 0 when there is none.
 */
int vs_plan_refuse_interrupted(vs_dom *d, vs_error *err);

/*
 * Finish (past the commit point) or roll back (before it) d's interrupted
 * plan from what is there now: each step is looked at first and run (or
 * undone) only when it has not (or has) taken effect; a file that is not
 * as the plan left it stops the repair with its name, or, for a removal, is
 * left alone with a note. Then the finally actions left, then the journal
 * goes. Lines for people go to report. 0 when there was nothing to do too;
 * on failure the journal stays, with the reason recorded.
 */
int vs_plan_repair(vs_dom *d, vs_buf *report, vs_error *err);

#endif
