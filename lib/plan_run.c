/* Running plans: execute, undo, finally, repair. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "failpoint.h"
#include "lock.h"
#include "mem.h"
#include "image_id.h"
#include "plan_run.h"

#define MAX_GROUP 4

static const vs_executor *const executors[VS_MECH_COUNT] = {
    [VS_MECH_QEMU_IMG] = &vs_exec_qemu_img,
    [VS_MECH_FILE] = &vs_exec_file,
    [VS_MECH_STORE] = &vs_exec_store,
    [VS_MECH_QMP] = &vs_exec_qmp,
};

/* The run of a plan ended: every executor drops what it kept open. */
static void
finish(vs_exec_ctx *x)
{
    size_t i;

    for (i = 0; i < VS_MECH_COUNT; i++)
        if (executors[i] && executors[i]->finish)
            executors[i]->finish(x);
}

const vs_executor *
vs_executor_for(vs_step_kind kind)
{
    const vs_executor *x = executors[vs_step_info(kind)->mech];

    if (!x)
        abort();   /* a mechanism without an executor is a programming error */
    return x;
}

/* ---- the journal, through the store ------------------------------------ */

static int
journal_put(vs_dom *d, const vs_plan *p, const vs_journal_state *st, vs_error *err)
{
    char *text = vs_journal_encode(p, st);
    int ret = vs_dom_journal_store(d, text, strlen(text), err);

    free(text);
    return ret;
}

int
vs_plan_load_journal(vs_dom *d, vs_plan **p, vs_journal_state *st, vs_error *err)
{
    char *text = NULL, *where;
    size_t len = 0;
    int ret;

    *p = NULL;
    memset(st, 0, sizeof(*st));
    if (vs_dom_journal_load(d, &text, &len, err) < 0)
        return -1;
    if (!text)
        return 0;
    where = vs_xasprintf("%s/journal", d->dir);
    ret = vs_journal_decode(text, len, where, p, st, err);
    free(where);
    free(text);
    return ret;
}

char *
vs_plan_describe_interrupted(vs_dom *d, vs_error *err)
{
    vs_journal_state st;
    vs_plan *p;
    char *s;

    if (vs_plan_load_journal(d, &p, &st, err) < 0 || !p)
        return NULL;
    s = vs_journal_describe_state(p, &st);
    vs_journal_state_clear(&st);
    vs_plan_free(p);
    return s;
}

int
vs_plan_refuse_interrupted(vs_dom *d, vs_error *err)
{
    vs_error local;
    char *what;

    if (!vs_dom_journal_exists(d))
        return 0;
    vs_error_clear(&local);
    what = vs_plan_describe_interrupted(d, &local);
    vs_error_set(err, VS_ERR_OPERATION_FAILED,
                 "domain '%s' has an %s; run 'vsnap snapshot-check %s --repair' to finish or "
                 "roll it back", d->name, what ? what : "unreadable journal", d->name);
    free(what);
    return -1;
}

/* ---- helpers ----------------------------------------------------------- */

static void
append_error(vs_error *err, const char *what, const vs_error *more)
{
    char *first;

    if (!err)
        return;
    first = vs_xstrdup(err->msg);
    vs_error_set(err, VS_ERR_PLAIN, "%s; %s failed too: %s", first, what, more->msg);
    free(first);
}

/* A failpoint at a step boundary: crash there (":kill") or fail there. */
static int
boundary(const char *name, vs_error *err)
{
    if (vs_failpoint(name))
        return vs_error_set(err, VS_ERR_INTERNAL, "failpoint %s", name);
    return 0;
}

static bool
touches(const vs_step *s, const char *f)
{
    return f && *f && ((s->path && vs_same_image(s->path, f)) ||
                       (s->from && vs_same_image(s->from, f)) ||
                       (s->backing && *s->backing && vs_same_image(s->backing, f)) ||
                       (s->old_backing && *s->old_backing && vs_same_image(s->old_backing, f)));
}

static bool
related(const vs_step *a, const vs_step *b)
{
    return touches(a, b->path) || touches(a, b->from) || touches(a, b->backing) ||
           touches(a, b->old_backing);
}

/*
 * How many steps from i on can run together: steps of one groupable kind on
 * files no other step of the group touches (two disks' overlays, say), all
 * on the same side of the commit point.
 */
static size_t
group_size(const vs_plan *p, size_t i)
{
    size_t n = 1, k;

    if (!vs_step_info(p->steps[i].kind)->groupable)
        return 1;
    while (n < MAX_GROUP && i + n < p->n && p->steps[i + n].kind == p->steps[i].kind &&
           (i < p->commit) == (i + n < p->commit)) {
        for (k = i; k < i + n; k++)
            if (related(&p->steps[k], &p->steps[i + n]))
                return n;
        n++;
    }
    return n;
}

static int
run_steps(vs_exec_ctx *x, const vs_step *steps, size_t n, vs_error *err)
{
    const vs_executor *ex = vs_executor_for(steps[0].kind);
    const vs_step **v;
    size_t i;
    int ret;

    if (n == 1 || !ex->run_group)
        return ex->run(x, &steps[0], err);
    v = vs_xcalloc(n, sizeof(*v));
    for (i = 0; i < n; i++)
        v[i] = &steps[i];
    ret = ex->run_group(x, v, n, err);
    free(v);
    return ret;
}

/*
 * Image work (qemu-img) can take minutes; the metadata on disk does not
 * change meanwhile, so readers may come in (lock.h): the writer lock stays,
 * the metadata lock goes for the while. Metadata steps, file steps and
 * undos run with readers kept out.
 */
static int
run_steps_admitting_readers(vs_exec_ctx *x, const vs_step *steps, size_t n, vs_error *err)
{
    bool admit = vs_step_info(steps[0].kind)->mech == VS_MECH_QEMU_IMG &&
                 x->d->lock_mode == VS_LOCK_EXCLUSIVE && x->d->lock_fd >= 0;
    vs_error e;
    int ret;

    if (admit && vs_lock_admit_readers(x->d->lock_fd, err) < 0)
        return -1;
    ret = run_steps(x, steps, n, err);
    vs_error_clear(&e);
    if (admit && vs_lock_exclude_readers(x->d->lock_fd, &e) < 0) {
        if (ret == 0 && err)
            *err = e;
        ret = -1;
    }
    return ret;
}

/* A later step that can change what an earlier one reads: one that writes
 * image files (removals and metadata do not): the table says. */
static bool
writes_images(const vs_step *s)
{
    return vs_step_info(s->kind)->writes_image;
}

/*
 * Whether the journal must record that steps [i, i + n) are done: a step
 * that replays the same only until touched must not run again once a later
 * step changed one of its files.
 */
static bool
needs_mark(const vs_plan *p, size_t i, size_t n)
{
    size_t j, k;

    if (vs_step_info(p->steps[i].kind)->replay != VS_REPLAY_UNTIL_TOUCHED)
        return false;
    for (j = i + n; j < p->n; j++) {
        if (!writes_images(&p->steps[j]))
            continue;
        for (k = i; k < i + n; k++)
            if (related(&p->steps[k], &p->steps[j]))
                return true;
    }
    return false;
}

static void
set_failure(vs_journal_state *st, const vs_error *err)
{
    free(st->failure);
    st->failure = vs_xstrdup(err && err->msg[0] ? err->msg : NULL);
}

/* Undo steps [0, upto) newest first. On failure err gets the reason added. */
static int
undo_steps(vs_exec_ctx *x, const vs_plan *p, size_t upto, vs_error *err)
{
    size_t i = upto;

    while (i-- > 0) {
        const vs_step *s = &p->steps[i];
        vs_error e;

        vs_error_clear(&e);
        if (boundary("plan-undo", &e) < 0 ||
            (vs_step_info(s->kind)->mech != VS_MECH_STORE && vs_dom_sync(x->d, &e) < 0) ||
            vs_executor_for(s->kind)->undo(x, s, &e) < 0) {
            char *what = vs_xasprintf("undoing step %zu (%s)", i + 1, vs_step_info(s->kind)->name);

            if (err && err->code != VS_ERR_OK)
                append_error(err, what, &e);
            else if (err)
                vs_error_set(err, VS_ERR_PLAIN, "%s failed: %s", what, e.msg);
            free(what);
            return -1;
        }
    }
    return 0;
}

/* Run the finally actions from st->fin_done on; each is recorded when more
 * follow. Failures are added to err; returns -1 if one failed. */
static int
run_finally(vs_exec_ctx *x, vs_plan *p, vs_journal_state *st, vs_error *err)
{
    int ret = 0;

    while (st->fin_done < p->nfin) {
        const vs_step *s = &p->fin[st->fin_done];
        vs_error e;

        vs_error_clear(&e);
        if (vs_executor_for(s->kind)->run(x, s, &e) < 0) {
            char *what = vs_xasprintf("finally action %zu (%s)", st->fin_done + 1,
                                      vs_step_info(s->kind)->name);

            if (err && err->code != VS_ERR_OK)
                append_error(err, what, &e);
            else if (err)
                vs_error_set(err, VS_ERR_PLAIN, "%s failed: %s", what, e.msg);
            free(what);
            ret = -1;
            break;
        }
        st->fin_done++;
        if (st->fin_done < p->nfin && journal_put(x->d, p, st, NULL) < 0)
            break;
    }
    return ret;
}

static int
clear_journal(vs_dom *d, vs_error *err)
{
    vs_error e;

    vs_error_clear(&e);
    if (vs_dom_journal_remove(d, &e) == 0)
        return 0;
    if (err && err->code != VS_ERR_OK)
        append_error(err, "removing the journal", &e);
    else if (err)
        *err = e;
    return -1;
}

/* After a failure before the commit point: undo, finally actions, journal. */
static int
roll_back(vs_exec_ctx *x, vs_plan *p, vs_journal_state *st, size_t upto, vs_error *err)
{
    if (undo_steps(x, p, upto, err) < 0) {
        set_failure(st, err);
        journal_put(x->d, p, st, NULL);
        if (err) {
            char *first = vs_xstrdup(err->msg);

            vs_error_set(err, VS_ERR_PLAIN,
                         "%s; %s could not be undone: run 'vsnap snapshot-check %s --repair' "
                         "to roll it back", first, p->operation, p->domain);
            free(first);
        }
        return -1;
    }
    if (p->nfin) {
        st->phase = VS_JOURNAL_ROLLED_BACK;
        set_failure(st, err);
        if (journal_put(x->d, p, st, NULL) == 0 && run_finally(x, p, st, err) < 0)
            return -1;
    }
    clear_journal(x->d, err);
    return -1;
}

/* After a failure past the commit point: the journal stays for repair. */
static int
forward_failed(vs_exec_ctx *x, vs_plan *p, vs_journal_state *st, size_t done, vs_error *err)
{
    char *first;

    st->phase = VS_JOURNAL_COMMITTED;
    st->done = done;
    set_failure(st, err);
    journal_put(x->d, p, st, NULL);
    run_finally(x, p, st, err);
    if (st->fin_done)
        journal_put(x->d, p, st, NULL);
    first = vs_xstrdup(err ? err->msg : "");
    vs_error_set(err, VS_ERR_PLAIN,
                 "%s; %s is committed but not finished: run 'vsnap snapshot-check %s --repair' "
                 "to finish it", first, p->operation, p->domain);
    free(first);
    return -1;
}

/* Whether p is one step that is atomic by itself (the table's column) and
 * nothing else: it is then all or nothing without a journal, and a crash
 * leaves either the old value or the new one. */
static bool
alone_atomic(const vs_plan *p)
{
    return p->n == 1 && p->nfin == 0 && vs_step_info(p->steps[0].kind)->atomic;
}

/*
 * The per-domain lock is vsnap's own: a QEMU vsnap did not start (another
 * host's, on shared storage, shows only through image locks on local files)
 * may have the images open. A plan without QEMU steps changes images nobody
 * may have open: each it changes must be open nowhere, each it reads (a new
 * overlay's backing file) open for writing nowhere. Checked before the first
 * step, so a refusal changes nothing.
 */
static int
refuse_open_elsewhere(const vs_plan *p, vs_error *err)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        if (vs_step_info(p->steps[i].kind)->mech == VS_MECH_QMP)
            return 0;   /* vsnap's QEMU holds them */
    for (i = 0; i < p->n; i++) {
        const vs_step *s = &p->steps[i];
        vs_mechanism mech = vs_step_info(s->kind)->mech;
        bool reads_backing = s->kind == VS_STEP_CREATE_IMAGE || s->kind == VS_STEP_REPLACE_IMAGE ||
                             s->kind == VS_STEP_REBASE_IMAGE || s->kind == VS_STEP_RETARGET_IMAGE;
        const char *busy = NULL;

        if (mech != VS_MECH_QEMU_IMG && mech != VS_MECH_FILE)
            continue;
        if (vs_image_open_elsewhere(s->path, false))
            busy = s->path;
        else if (s->backing && *s->backing && vs_image_open_elsewhere(s->backing, reads_backing))
            busy = s->backing;
        if (busy)
            return vs_error_set(err, VS_ERR_OPERATION_INVALID,
                                "image '%s' is open in a program vsnap did not start (a QEMU "
                                "holds its image locks): stop it, or name its monitor in the "
                                "domain's <vsnap:runtime>, before changing the domain's "
                                "snapshots", busy);
    }
    return 0;
}

int
vs_plan_execute(vs_plan *p, vs_dom *d, vs_error *err)
{
    vs_journal_state st;
    vs_exec_ctx x = { d, p, NULL, NULL, false };
    size_t i, g;
    int ret = -1;

    if (vs_plan_validate(p, err) < 0)
        return -1;
    if (vs_plan_refuse_interrupted(d, err) < 0)
        return -1;
    if (refuse_open_elsewhere(p, err) < 0)
        return -1;
    if (alone_atomic(p)) {
        if (boundary("plan-step", err) < 0)
            return -1;
        return run_steps(&x, p->steps, 1, err);
    }
    memset(&st, 0, sizeof(st));
    st.phase = p->commit == 0 ? VS_JOURNAL_COMMITTED : VS_JOURNAL_PREPARED;
    if (journal_put(d, p, &st, err) < 0)
        return -1;
    /* The journal covers the metadata steps between two of its writes: their
     * directory syncs wait for the next journal write, which makes them
     * first. (Until then a crash leaves the journal, and the repair finds
     * each step done or not, whatever was made durable in which order; an
     * undo still syncs before it touches an image: see undo_steps.) */
    vs_dom_defer_sync(d, true);

    for (i = 0; i < p->n; i += g) {
        g = group_size(p, i);
        if (i == p->commit && i > 0) {
            st.phase = VS_JOURNAL_COMMITTED;
            st.done = i;
            /* what came before is durable before the journal says so */
            if (boundary("plan-step", err) < 0 || vs_dom_sync(d, err) < 0 ||
                journal_put(d, p, &st, err) < 0) {
                st.phase = VS_JOURNAL_PREPARED;
                ret = roll_back(&x, p, &st, i, err);
                goto out;
            }
        }
        if (boundary("plan-step", err) < 0 ||
            run_steps_admitting_readers(&x, &p->steps[i], g, err) < 0) {
            /* the whole group: undoing a step that did not run is harmless */
            if (i < p->commit)
                ret = roll_back(&x, p, &st, i + g, err);
            else
                ret = forward_failed(&x, p, &st, i, err);
            goto out;
        }
        if (i >= p->commit && i + g < p->n && needs_mark(p, i, g)) {
            st.done = i + g;
            if (vs_dom_sync(d, err) < 0 || journal_put(d, p, &st, err) < 0) {
                ret = forward_failed(&x, p, &st, i + g, err);
                goto out;
            }
        }
    }
    /* every step durable before the journal goes or moves on */
    if (boundary("plan-step", err) < 0 || vs_dom_sync(d, err) < 0) {
        ret = p->commit == p->n ? roll_back(&x, p, &st, p->n, err)
                                : forward_failed(&x, p, &st, p->n, err);
        goto out;
    }
    if (p->nfin) {
        st.phase = VS_JOURNAL_FINISHED;
        st.done = p->n;
        if (journal_put(d, p, &st, err) < 0 || run_finally(&x, p, &st, err) < 0)
            goto out;
    }
    ret = clear_journal(d, err);
 out:
    vs_dom_defer_sync(d, false);
    finish(&x);
    vs_journal_state_clear(&st);
    return ret;
}

int
vs_plan_run_or_dry(vs_plan *p, vs_dom *d, vs_plan **dry, vs_error *err)
{
    int ret;

    if (dry) {
        *dry = p;
        return 0;
    }
    ret = vs_plan_execute(p, d, err);
    vs_plan_free(p);
    return ret;
}

/* ---- repair ------------------------------------------------------------ */

static int
repair_forward(vs_exec_ctx *x, vs_plan *p, vs_journal_state *st, vs_error *err)
{
    size_t i = st->done > p->commit ? st->done : p->commit;

    for (; i < p->n; i++) {
        const vs_step *s = &p->steps[i];
        const vs_executor *ex = vs_executor_for(s->kind);
        char *why = NULL;
        vs_seen seen = ex->observe(x, s, &why);

        if (seen == VS_SEEN_CONFLICT) {
            vs_error_set(err, VS_ERR_OPERATION_FAILED,
                         "cannot finish step %zu (%s): %s; nothing more was changed", i + 1,
                         vs_step_info(s->kind)->name, why ? why : "it is not as planned");
            free(why);
            return -1;
        }
        if (seen == VS_SEEN_DONE && why && x->notes)
            vs_buf_addf(x->notes, "left alone: %s\n", why);
        free(why);
        if (seen != VS_SEEN_DONE && ex->run(x, s, err) < 0)
            return -1;
        /* Keep the progress, so that a failure later does not replay this. */
        st->done = i + 1;
        if (i + 1 < p->n && vs_step_info(s->kind)->replay != VS_REPLAY_SAME &&
            journal_put(x->d, p, st, err) < 0)
            return -1;
    }
    return 0;
}

int
vs_plan_repair(vs_dom *d, vs_buf *report, vs_error *err)
{
    vs_journal_state st;
    vs_plan *p;
    vs_exec_ctx x = { d, NULL, report, NULL, true };
    char *what;
    int ret = -1;

    /* what is cached may predate the interrupted operation: look again */
    vs_dom_forget(d);
    if (vs_plan_load_journal(d, &p, &st, err) < 0)
        return -1;
    if (!p)
        return 0;
    x.plan = p;
    what = vs_journal_describe_state(p, &st);
    switch (st.phase) {
    case VS_JOURNAL_PREPARED:
        if (undo_steps(&x, p, p->commit, err) < 0)
            goto failed;
        if (report)
            vs_buf_addf(report, "rolled back the %s\n", what);
        st.phase = VS_JOURNAL_ROLLED_BACK;
        break;
    case VS_JOURNAL_COMMITTED:
        if (repair_forward(&x, p, &st, err) < 0)
            goto failed;
        if (report)
            vs_buf_addf(report, "finished the %s\n", what);
        st.phase = VS_JOURNAL_FINISHED;
        break;
    case VS_JOURNAL_ROLLED_BACK:
    case VS_JOURNAL_FINISHED:
        break;
    }
    if (st.fin_done < p->nfin) {
        if (journal_put(d, p, &st, err) < 0 || run_finally(&x, p, &st, err) < 0)
            goto failed;
        if (report)
            vs_buf_addf(report, "ran the finally actions of the %s\n", what);
    }
    ret = clear_journal(d, err);
    goto out;
 failed:
    set_failure(&st, err);
    journal_put(d, p, &st, NULL);
 out:
    finish(&x);
    free(what);
    vs_journal_state_clear(&st);
    vs_plan_free(p);
    return ret;
}
