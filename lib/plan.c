#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "domain_def.h"
#include "failpoint.h"
#include "journal.h"
#include "mem.h"
#include "path.h"
#include "plan.h"
#include "qcow2.h"
#include "qemu_img.h"
#include "snapshot_def.h"

static const char *const kind_names[] = {
    [VS_STEP_CREATE_IMAGE] = "create-image",
    [VS_STEP_REPLACE_IMAGE] = "replace-image",
    [VS_STEP_COMMIT_IMAGE] = "commit-image",
    [VS_STEP_REBASE_IMAGE] = "rebase-image",
    [VS_STEP_RETARGET_IMAGE] = "retarget-image",
    [VS_STEP_REMOVE_IMAGE] = "remove-image",
    [VS_STEP_TAG_CREATE] = "tag-create",
    [VS_STEP_TAG_APPLY] = "tag-apply",
    [VS_STEP_TAG_DELETE] = "tag-delete",
    [VS_STEP_WRITE_SNAPSHOT] = "write-snapshot",
    [VS_STEP_REMOVE_SNAPSHOT] = "remove-snapshot",
    [VS_STEP_WRITE_DOMAIN] = "write-domain",
    [VS_STEP_SET_CURRENT] = "set-current",
    [VS_STEP_WRITE_REGISTRY] = "write-registry",
};

#define NKINDS (sizeof(kind_names) / sizeof(kind_names[0]))

const char *
vs_step_kind_name(vs_step_kind kind)
{
    return (size_t)kind < NKINDS ? kind_names[kind] : "unknown";
}

int
vs_step_kind_parse(const char *s)
{
    size_t i;

    for (i = 0; s && i < NKINDS; i++)
        if (strcmp(s, kind_names[i]) == 0)
            return (int)i;
    return -1;
}

bool
vs_step_undoable(vs_step_kind kind)
{
    return kind == VS_STEP_CREATE_IMAGE || kind == VS_STEP_REBASE_IMAGE ||
           kind == VS_STEP_TAG_CREATE;
}

vs_plan *
vs_plan_new(const char *operation, const char *domain, const char *snapshot)
{
    vs_plan *p = vs_xcalloc(1, sizeof(*p));

    p->operation = vs_xstrdup(operation);
    p->domain = vs_xstrdup(domain);
    p->snapshot = vs_xstrdup(snapshot);
    return p;
}

static void
step_clear(vs_step *s)
{
    free(s->path);
    free(s->from);
    free(s->fmt);
    free(s->backing);
    free(s->backing_fmt);
    free(s->old_backing);
    free(s->old_backing_fmt);
    free(s->name);
    free(s->text);
    free(s->why);
}

void
vs_plan_free(vs_plan *p)
{
    size_t i;

    if (!p)
        return;
    for (i = 0; i < p->n; i++)
        step_clear(&p->steps[i]);
    free(p->steps);
    free(p->operation);
    free(p->domain);
    free(p->snapshot);
    free(p);
}

static vs_step *
add(vs_plan *p, vs_step_kind kind, const char *why)
{
    vs_step *s;

    vs_xgrow(&p->steps, &p->cap, p->n, sizeof(*p->steps));
    s = &p->steps[p->n++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->why = vs_xstrdup(why);
    return s;
}

void
vs_plan_create_image(vs_plan *p, const char *path, const char *fmt, const char *backing,
                     const char *backing_fmt, bool keep_on_undo, const char *why)
{
    vs_step *s = add(p, VS_STEP_CREATE_IMAGE, why);

    s->path = vs_xstrdup(path);
    s->fmt = vs_xstrdup(fmt);
    s->backing = vs_xstrdup(backing);
    s->backing_fmt = vs_xstrdup(backing_fmt);
    s->keep_on_undo = keep_on_undo;
}

void
vs_plan_replace_image(vs_plan *p, const char *from, const char *path, const char *why)
{
    vs_step *s = add(p, VS_STEP_REPLACE_IMAGE, why);

    s->from = vs_xstrdup(from);
    s->path = vs_xstrdup(path);
}

void
vs_plan_commit_image(vs_plan *p, const char *path, const char *fmt, const char *into,
                     const char *why)
{
    vs_step *s = add(p, VS_STEP_COMMIT_IMAGE, why);

    s->path = vs_xstrdup(path);
    s->fmt = vs_xstrdup(fmt);
    s->backing = vs_xstrdup(into);
}

void
vs_plan_rebase_image(vs_plan *p, const char *path, const char *fmt, const char *backing,
                     const char *backing_fmt, const char *old_backing,
                     const char *old_backing_fmt, const char *why)
{
    vs_step *s = add(p, VS_STEP_REBASE_IMAGE, why);

    s->path = vs_xstrdup(path);
    s->fmt = vs_xstrdup(fmt);
    s->backing = vs_xstrdup(backing ? backing : "");
    s->backing_fmt = vs_xstrdup(backing_fmt);
    s->old_backing = vs_xstrdup(old_backing ? old_backing : "");
    s->old_backing_fmt = vs_xstrdup(old_backing_fmt);
}

void
vs_plan_retarget_image(vs_plan *p, const char *path, const char *fmt, const char *backing,
                       const char *backing_fmt, const char *why)
{
    vs_step *s = add(p, VS_STEP_RETARGET_IMAGE, why);

    s->path = vs_xstrdup(path);
    s->fmt = vs_xstrdup(fmt);
    s->backing = vs_xstrdup(backing ? backing : "");
    s->backing_fmt = vs_xstrdup(backing_fmt);
}

void
vs_plan_remove_image(vs_plan *p, const char *path, const char *why)
{
    vs_step *s = add(p, VS_STEP_REMOVE_IMAGE, why);

    s->path = vs_xstrdup(path);
}

void
vs_plan_tag(vs_plan *p, vs_step_kind kind, const char *image, const char *tag, const char *why)
{
    vs_step *s = add(p, kind, why);

    s->path = vs_xstrdup(image);
    s->name = vs_xstrdup(tag);
}

void
vs_plan_write_snapshot(vs_plan *p, const char *name, const char *text, const char *why)
{
    vs_step *s = add(p, VS_STEP_WRITE_SNAPSHOT, why);

    s->name = vs_xstrdup(name);
    s->text = vs_xstrdup(text);
}

void
vs_plan_remove_snapshot(vs_plan *p, const char *name, const char *why)
{
    vs_step *s = add(p, VS_STEP_REMOVE_SNAPSHOT, why);

    s->name = vs_xstrdup(name);
}

void
vs_plan_write_domain(vs_plan *p, const char *text, const char *why)
{
    vs_step *s = add(p, VS_STEP_WRITE_DOMAIN, why);

    s->text = vs_xstrdup(text);
}

void
vs_plan_set_current(vs_plan *p, const char *name, const char *why)
{
    vs_step *s = add(p, VS_STEP_SET_CURRENT, why);

    s->name = vs_xstrdup(name);
}

void
vs_plan_write_registry(vs_plan *p, const char *text, const char *why)
{
    vs_step *s = add(p, VS_STEP_WRITE_REGISTRY, why);

    s->text = vs_xstrdup(text ? text : "");
}

static int
write_registry(vs_dom *d, const vs_step *s, vs_error *err)
{
    char **paths = vs_xcalloc(1, sizeof(char *)), *copy = vs_xstrdup(s->text ? s->text : "");
    char *line, *save = NULL;
    int ret;

    for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        vs_strv_push(&paths, line);
    ret = vs_dom_registry_store(d, paths, err);
    vs_strv_free(paths);
    free(copy);
    return ret;
}

void
vs_plan_commit_point(vs_plan *p)
{
    p->commit = p->n;
}

/* ---- dry run ------------------------------------------------------------ */

static void
format_step(vs_buf *b, const vs_step *s)
{
    switch (s->kind) {
    case VS_STEP_CREATE_IMAGE:
        vs_buf_addf(b, "create   %s (%s overlay on %s)", s->path, s->fmt, s->backing);
        break;
    case VS_STEP_REPLACE_IMAGE:
        vs_buf_addf(b, "replace  %s with %s", s->path, s->from);
        break;
    case VS_STEP_COMMIT_IMAGE:
        vs_buf_addf(b, "commit   %s into %s", s->path, s->backing ? s->backing : "its backing file");
        break;
    case VS_STEP_REBASE_IMAGE:
        if (s->backing && *s->backing)
            vs_buf_addf(b, "rebase   %s onto %s (copies the data of %s)", s->path, s->backing,
                        s->old_backing && *s->old_backing ? s->old_backing : "its backing file");
        else
            vs_buf_addf(b, "rebase   %s onto no backing file (copies all data into it)", s->path);
        break;
    case VS_STEP_RETARGET_IMAGE:
        vs_buf_addf(b, "rebase   %s onto %s (backing name only)", s->path,
                    s->backing && *s->backing ? s->backing : "no backing file");
        break;
    case VS_STEP_REMOVE_IMAGE:
        vs_buf_addf(b, "remove   %s", s->path);
        break;
    case VS_STEP_TAG_CREATE:
        vs_buf_addf(b, "internal snapshot '%s' created in %s", s->name, s->path);
        break;
    case VS_STEP_TAG_APPLY:
        vs_buf_addf(b, "internal snapshot '%s' applied to %s", s->name, s->path);
        break;
    case VS_STEP_TAG_DELETE:
        vs_buf_addf(b, "internal snapshot '%s' deleted from %s", s->name, s->path);
        break;
    case VS_STEP_WRITE_SNAPSHOT:
        vs_buf_addf(b, "metadata: write snapshot '%s'", s->name);
        break;
    case VS_STEP_REMOVE_SNAPSHOT:
        vs_buf_addf(b, "metadata: remove snapshot '%s'", s->name);
        break;
    case VS_STEP_WRITE_DOMAIN:
        vs_buf_add(b, "metadata: write the domain definition");
        break;
    case VS_STEP_SET_CURRENT:
        if (s->name)
            vs_buf_addf(b, "metadata: current snapshot becomes '%s'", s->name);
        else
            vs_buf_add(b, "metadata: no current snapshot");
        break;
    case VS_STEP_WRITE_REGISTRY:
        vs_buf_add(b, "metadata: write the list of overlays vsnap made");
        break;
    }
    if (s->why && *s->why)
        vs_buf_addf(b, ": %s", s->why);
    vs_buf_addc(b, '\n');
}

void
vs_plan_format(const vs_plan *p, vs_buf *b)
{
    size_t i;

    vs_buf_addf(b, "Plan for %s", p->operation);
    if (p->snapshot)
        vs_buf_addf(b, " of snapshot '%s'", p->snapshot);
    vs_buf_addf(b, " on domain '%s' (dry run: nothing was changed)\n", p->domain);
    if (p->n == 0) {
        vs_buf_add(b, "  nothing to do\n");
        return;
    }
    for (i = 0; i < p->n; i++) {
        if (i == p->commit && p->commit > 0)
            vs_buf_add(b, "  -- commit point: a failure before it undoes the steps above --\n");
        vs_buf_addf(b, "  %zu. ", i + 1);
        format_step(b, &p->steps[i]);
    }
}

/* ---- execution ---------------------------------------------------------- */

static int
write_snapshot(vs_dom *d, const vs_step *s, vs_error *err)
{
    vs_snapshot_def *def;
    int ret;

    def = vs_snapshot_def_parse(s->text, strlen(s->text), "(journal)",
                                VS_SNAP_PARSE_REDEFINE | VS_SNAP_PARSE_ACTIVE_OPTIONAL, 0, err);
    if (!def)
        return -1;
    if (!def->name || strcmp(def->name, s->name) != 0) {
        vs_snapshot_def_free(def);
        return vs_error_set(err, VS_ERR_INTERNAL, "journal step for snapshot '%s' holds another snapshot",
                            s->name);
    }
    def->active = -1;
    ret = vs_dom_write_snapshot(d, def, err);
    vs_snapshot_def_free(def);
    return ret;
}

static int
write_domain(vs_dom *d, const vs_step *s, vs_error *err)
{
    vs_domain_def *def = vs_domain_def_parse(s->text, strlen(s->text), "(journal)", err);
    int ret;

    if (!def)
        return -1;
    ret = vs_dom_save_def(d, def, err);
    vs_domain_def_free(def);
    return ret;
}

/* Whether image holds internal snapshot tag (-1: cannot tell). */
static int
image_has_tag(const char *image, const char *tag, vs_error *err)
{
    vs_image_info info;
    char **t;
    int rc, found = 0;

    rc = vs_qcow2_probe(image, &info, err);
    if (rc < 0)
        return -1;
    if (rc == 0 && vs_qemu_img_info(image, false, &info, err) < 0)
        return -1;
    for (t = info.snapshot_tags; t && *t; t++)
        if (strcmp(*t, tag) == 0)
            found = 1;
    vs_image_info_clear(&info);
    return found;
}

static int
remove_image(const char *path, vs_error *err)
{
    struct stat sb;

    if (lstat(path, &sb) < 0)
        return errno == ENOENT ? 0 : vs_error_sys(err, errno, "cannot stat '%s'", path);
    /* A block device is storage, not a file vsnap made: it is left alone. */
    if (!S_ISREG(sb.st_mode))
        return 0;
    return vs_file_remove(path, err);
}

static int
replace_image(const vs_step *s, vs_error *err)
{
    char *dir, *slash;
    int ret;

    if (!vs_file_exists(s->from))
        return 0;   /* moved already */
    if (rename(s->from, s->path) < 0)
        return vs_error_sys(err, errno, "cannot rename '%s' to '%s'", s->from, s->path);
    dir = vs_xstrdup(s->path);
    slash = strrchr(dir, '/');
    if (slash && slash != dir)
        *slash = '\0';
    ret = vs_dir_sync(slash ? dir : ".", err);
    free(dir);
    return ret;
}

static int
create_image(const vs_step *s, vs_error *err)
{
    struct stat sb;

    if (vs_qemu_img_create_overlay(s->path, s->fmt, s->backing, s->backing_fmt, err) < 0)
        return -1;
    /* libvirt makes new snapshot images private (0600); qemu-img follows umask. */
    if (stat(s->path, &sb) == 0 && S_ISREG(sb.st_mode) && chmod(s->path, 0600) < 0)
        return vs_error_sys(err, errno, "cannot set the mode of '%s'", s->path);
    return 0;
}

int
vs_plan_run_step(vs_dom *d, const vs_step *s, vs_error *err)
{
    int rc;

    switch (s->kind) {
    case VS_STEP_CREATE_IMAGE:
        return create_image(s, err);
    case VS_STEP_REPLACE_IMAGE:
        return replace_image(s, err);
    case VS_STEP_COMMIT_IMAGE:
        /* Its file goes only after the commit ran: gone means done. */
        if (!vs_file_exists(s->path))
            return 0;
        return vs_qemu_img_commit(s->path, s->fmt, NULL, err);
    case VS_STEP_REBASE_IMAGE:
    case VS_STEP_RETARGET_IMAGE:
        /* A plan removes an image only after its last other step: when it is
         * gone, a journal replay has reached past this step already. */
        if (!vs_file_exists(s->path))
            return 0;
        return vs_qemu_img_rebase(s->path, s->fmt, s->backing, s->backing_fmt,
                                  s->kind == VS_STEP_RETARGET_IMAGE, err);
    case VS_STEP_REMOVE_IMAGE:
        return remove_image(s->path, err);
    case VS_STEP_TAG_CREATE:
        return vs_qemu_img_snapshot_create(s->path, s->name, err);
    case VS_STEP_TAG_APPLY:
        return vs_qemu_img_snapshot_apply(s->path, s->name, err);
    case VS_STEP_TAG_DELETE:
        if (!vs_file_exists(s->path))
            return 0;
        if ((rc = image_has_tag(s->path, s->name, err)) <= 0)
            return rc;
        return vs_qemu_img_snapshot_delete(s->path, s->name, err);
    case VS_STEP_WRITE_SNAPSHOT:
        return write_snapshot(d, s, err);
    case VS_STEP_REMOVE_SNAPSHOT:
        if (!vs_dom_has_snapshot(d, s->name))
            return 0;
        return vs_dom_remove_snapshot(d, s->name, err);
    case VS_STEP_WRITE_DOMAIN:
        return write_domain(d, s, err);
    case VS_STEP_SET_CURRENT:
        return vs_dom_set_current(d, s->name, err);
    case VS_STEP_WRITE_REGISTRY:
        return write_registry(d, s, err);
    }
    return vs_error_set(err, VS_ERR_INTERNAL, "unknown plan step %d", (int)s->kind);
}

int
vs_plan_undo_step(vs_dom *d, const vs_step *s, vs_error *err)
{
    int rc;

    (void)d;
    switch (s->kind) {
    case VS_STEP_CREATE_IMAGE:
        return s->keep_on_undo ? 0 : remove_image(s->path, err);
    case VS_STEP_REBASE_IMAGE:
        if (!vs_file_exists(s->path))
            return 0;
        return vs_qemu_img_rebase(s->path, s->fmt, s->old_backing, s->old_backing_fmt, true, err);
    case VS_STEP_TAG_CREATE:
        if (!vs_file_exists(s->path) || (rc = image_has_tag(s->path, s->name, err)) == 0)
            return 0;
        if (rc < 0)
            return -1;
        return vs_qemu_img_snapshot_delete(s->path, s->name, err);
    default:
        return 0;
    }
}

/* ---- running independent image steps at once --------------------------- */

#define MAX_GROUP 4

static bool
groupable(vs_step_kind kind)
{
    return kind == VS_STEP_CREATE_IMAGE || kind == VS_STEP_COMMIT_IMAGE ||
           kind == VS_STEP_REBASE_IMAGE || kind == VS_STEP_RETARGET_IMAGE;
}

static bool
touches(const vs_step *s, const char *f)
{
    return f && *f && ((s->path && strcmp(s->path, f) == 0) ||
                       (s->backing && strcmp(s->backing, f) == 0) ||
                       (s->old_backing && strcmp(s->old_backing, f) == 0));
}

static bool
independent(const vs_step *a, const vs_step *b)
{
    return !touches(a, b->path) && !touches(a, b->backing) && !touches(a, b->old_backing);
}

/*
 * How many steps from i on can run together: image steps of one kind on
 * files no other step of the group touches (two disks' overlays, say), all
 * on the same side of the commit point.
 */
static size_t
group_size(const vs_plan *p, size_t i)
{
    size_t n = 1, k;

    if (!groupable(p->steps[i].kind))
        return 1;
    while (n < MAX_GROUP && i + n < p->n && p->steps[i + n].kind == p->steps[i].kind &&
           (i < p->commit) == (i + n < p->commit)) {
        for (k = i; k < i + n; k++)
            if (!independent(&p->steps[k], &p->steps[i + n]))
                return n;
        n++;
    }
    return n;
}

static vs_qimg_op
job_op(vs_step_kind kind)
{
    switch (kind) {
    case VS_STEP_COMMIT_IMAGE: return VS_QIMG_COMMIT;
    case VS_STEP_REBASE_IMAGE: return VS_QIMG_REBASE;
    case VS_STEP_RETARGET_IMAGE: return VS_QIMG_REBASE_UNSAFE;
    default: return VS_QIMG_CREATE_OVERLAY;
    }
}

static int
run_group(vs_dom *d, const vs_step *steps, size_t n, vs_error *err)
{
    vs_qemu_img_job *jobs;
    size_t i, nj = 0;
    int ret;

    if (n == 1)
        return vs_plan_run_step(d, &steps[0], err);
    jobs = vs_xcalloc(n, sizeof(*jobs));
    for (i = 0; i < n; i++) {
        /* a commit or rebase whose image is gone ran already (vs_plan_run_step) */
        if (steps[i].kind != VS_STEP_CREATE_IMAGE && !vs_file_exists(steps[i].path))
            continue;
        jobs[nj].op = job_op(steps[i].kind);
        jobs[nj].image = steps[i].path;
        jobs[nj].fmt = steps[i].fmt;
        /* a commit goes into the backing file, as vs_plan_run_step does */
        jobs[nj].backing = steps[i].kind == VS_STEP_COMMIT_IMAGE ? NULL : steps[i].backing;
        jobs[nj].backing_fmt = steps[i].backing_fmt;
        nj++;
    }
    ret = nj ? vs_qemu_img_run_jobs(jobs, nj, err) : 0;
    free(jobs);
    for (i = 0; ret == 0 && i < n; i++) {
        struct stat sb;

        if (steps[i].kind == VS_STEP_CREATE_IMAGE && stat(steps[i].path, &sb) == 0 &&
            S_ISREG(sb.st_mode) && chmod(steps[i].path, 0600) < 0)
            ret = vs_error_sys(err, errno, "cannot set the mode of '%s'", steps[i].path);
    }
    return ret;
}

static bool
touches_any(const vs_step *s, const vs_step *t)
{
    return touches(s, t->path) || touches(s, t->backing) || touches(s, t->old_backing) ||
           touches(s, t->from) || (s->from && touches(t, s->from));
}

/*
 * Whether the journal must record that steps [i, i + n) are done: a commit,
 * a safe rebase or a tag applied must not run again once a later step changed
 * one of its files (a second commit into the same image, say). Otherwise
 * running it again gives the same result, and the journal write is saved.
 */
static bool
needs_mark(const vs_plan *p, size_t i, size_t n)
{
    vs_step_kind kind = p->steps[i].kind;
    size_t j, k;

    if (kind != VS_STEP_COMMIT_IMAGE && kind != VS_STEP_REBASE_IMAGE &&
        kind != VS_STEP_TAG_APPLY && kind != VS_STEP_TAG_DELETE)
        return false;
    for (j = i + n; j < p->n; j++) {
        vs_step_kind later = p->steps[j].kind;

        if (later == VS_STEP_REMOVE_IMAGE || later > VS_STEP_TAG_DELETE)
            continue;   /* removals and metadata never change an image's data */
        for (k = i; k < i + n; k++)
            if (touches_any(&p->steps[k], &p->steps[j]))
                return true;
    }
    return false;
}

/* A failpoint at a step boundary: crash there (":kill") or fail there. */
static int
boundary(vs_error *err)
{
    if (vs_failpoint("plan-step"))
        return vs_error_set(err, VS_ERR_INTERNAL, "failpoint plan-step");
    return 0;
}

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

/* Undo steps [0, upto) in reverse after a failure before the commit point. */
static void
roll_back(vs_plan *p, vs_dom *d, size_t upto, vs_error *err)
{
    size_t i = upto;

    while (i-- > 0) {
        vs_error e;

        vs_error_clear(&e);
        if (vs_plan_undo_step(d, &p->steps[i], &e) < 0) {
            char *what = vs_xasprintf("undoing step %zu", i + 1);

            append_error(err, what, &e);
            free(what);
        }
    }
}

/*
 * After a failure of steps [i, i + g), whether the plan can still be undone
 * exactly although it is past its commit point: every step before i can be
 * undone, and the failed ones either can too or are metadata writes, which
 * are atomic and so changed nothing when they failed. (A create journals its
 * overlays as committed, so that a crash finishes it, but a failure to create
 * one still undoes the others.)
 */
static bool
undoable_prefix(const vs_plan *p, size_t i, size_t g)
{
    size_t k;

    for (k = 0; k < i; k++)
        if (!vs_step_undoable(p->steps[k].kind))
            return false;
    for (k = i; k < i + g; k++)
        if (!vs_step_undoable(p->steps[k].kind) && p->steps[k].kind < VS_STEP_WRITE_SNAPSHOT)
            return false;
    return true;
}

static int
forward_failed(vs_plan *p, vs_error *err)
{
    char *first = vs_xstrdup(err ? err->msg : "");

    vs_error_set(err, VS_ERR_PLAIN,
                 "%s; %s is committed but not finished: run 'vsnap snapshot-check %s --repair' "
                 "to finish it", first, p->operation, p->domain);
    free(first);
    return -1;
}

int
vs_plan_execute(vs_plan *p, vs_dom *d, vs_error *err)
{
    vs_error e;
    size_t i, g;

    if (p->commit > p->n)
        p->commit = p->n;
    for (i = 0; i < p->commit; i++)
        if (!vs_step_undoable(p->steps[i].kind))
            return vs_error_set(err, VS_ERR_INTERNAL,
                                "plan step %zu (%s) cannot come before the commit point", i + 1,
                                vs_step_kind_name(p->steps[i].kind));
    if (vs_journal_refuse(d, err) < 0)
        return -1;
    if (vs_journal_write(d, p, p->commit == 0 ? VS_JOURNAL_COMMITTED : VS_JOURNAL_PREPARED,
                         0, err) < 0)
        return -1;

    for (i = 0; i < p->n; i += g) {
        g = group_size(p, i);
        if (i == p->commit && i > 0) {
            if (boundary(err) < 0) {
                roll_back(p, d, i, err);
                goto clear_after_rollback;
            }
            if (vs_journal_write(d, p, VS_JOURNAL_COMMITTED, i, err) < 0) {
                roll_back(p, d, i, err);
                goto clear_after_rollback;
            }
        }
        if (boundary(err) < 0 || run_group(d, &p->steps[i], g, err) < 0) {
            if (i < p->commit || undoable_prefix(p, i, g)) {
                /* the whole group: undoing a step that did not run is harmless */
                roll_back(p, d, i + g, err);
                goto clear_after_rollback;
            }
            return forward_failed(p, err);
        }
        if (i >= p->commit && i + g < p->n && needs_mark(p, i, g) &&
            vs_journal_write(d, p, VS_JOURNAL_COMMITTED, i + g, err) < 0)
            return forward_failed(p, err);
    }
    if (boundary(err) < 0) {
        if (p->commit == p->n) {
            roll_back(p, d, p->n, err);
            goto clear_after_rollback;
        }
        return forward_failed(p, err);
    }
    return vs_journal_clear(d, err);

 clear_after_rollback:
    vs_error_clear(&e);
    if (vs_journal_clear(d, &e) < 0)
        append_error(err, "removing the journal", &e);
    return -1;
}
