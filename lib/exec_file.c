/* The plain-file executor: moving a recreated overlay into place and
 * removing image files. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec.h"
#include "image_id.h"
#include "mem.h"
#include "path.h"

/* Whether path is still the file the plan saw (or, planned as absent, still
 * absent): a removal checks that it did not change either. */
static bool
unchanged(const vs_step *s, bool strict)
{
    vs_file_id now;

    vs_file_id_get(s->path, &now);
    if (!s->expect.exists)
        return !now.exists;
    return strict ? vs_file_id_unchanged(&s->expect, &now) : vs_file_id_same(&now, &s->expect);
}

bool
vs_exec_changed_by_plan(const vs_exec_ctx *x, const vs_step *s)
{
    size_t i;

    for (i = 0; x->plan && i < x->plan->n && &x->plan->steps[i] != s; i++) {
        const vs_step *t = &x->plan->steps[i];

        if (vs_step_info(t->kind)->mech != VS_MECH_STORE && t->path &&
            strcmp(t->path, s->path) == 0)
            return true;
    }
    return false;
}

static vs_seen
observe(vs_exec_ctx *x, const vs_step *s, char **why)
{
    struct stat sb;

    if (why)
        *why = NULL;
    switch (s->kind) {
    case VS_STEP_REPLACE_IMAGE:
        /* path was replaced once it is another file than the planned one; a
         * version 1 journal did not record which: done when `from` is gone */
        if (!s->expect.exists)
            return vs_file_exists(s->from) ? VS_SEEN_NOT_DONE : VS_SEEN_DONE;
        return unchanged(s, false) ? VS_SEEN_NOT_DONE : VS_SEEN_DONE;
    case VS_STEP_REMOVE_IMAGE:
        if (lstat(s->path, &sb) < 0)
            return VS_SEEN_DONE;
        if (!S_ISREG(sb.st_mode))
            return VS_SEEN_DONE;   /* a block device is never removed: nothing to do */
        if (!unchanged(s, !vs_exec_changed_by_plan(x, s))) {
            /* the planned file is gone from there: another one, not ours, is there now */
            if (why)
                *why = vs_xasprintf("'%s' is not the file the plan meant to remove", s->path);
            return VS_SEEN_DONE;
        }
        return VS_SEEN_NOT_DONE;
    default:
        return VS_SEEN_UNKNOWN;
    }
}

static void
note(vs_exec_ctx *x, const char *why)
{
    if (x->notes && why)
        vs_buf_addf(x->notes, "left alone: %s\n", why);
}

static int
run(vs_exec_ctx *x, const vs_step *s, vs_error *err)
{
    char *why = NULL, *dir;
    vs_seen seen = observe(x, s, &why);
    int ret;

    switch (s->kind) {
    case VS_STEP_REPLACE_IMAGE:
        free(why);
        if (seen == VS_SEEN_DONE)
            return 0;
        /* The new file is an empty overlay: when it went missing (removed by
         * someone else after a crash), making it again gives the same one. */
        if (!vs_file_exists(s->from) &&
            (!s->fmt || !s->backing ? vs_error_set(err, VS_ERR_OPERATION_FAILED,
                                                   "'%s' is gone and cannot be made again",
                                                   s->from)
                                    : vs_exec_create_image(s->from, s->fmt, s->backing,
                                                           s->backing_fmt, err)) < 0)
            return -1;
        if (rename(s->from, s->path) < 0)
            return vs_error_sys(err, errno, "cannot rename '%s' to '%s'", s->from, s->path);
        dir = vs_path_dir(s->path);
        ret = vs_dir_sync(dir, err);
        free(dir);
        return ret;
    case VS_STEP_REMOVE_IMAGE:
        note(x, why);
        free(why);
        if (seen == VS_SEEN_DONE)
            return 0;
        return vs_file_remove(s->path, err);
    default:
        free(why);
        return vs_error_set(err, VS_ERR_INTERNAL, "the file executor cannot run a %s step",
                            vs_step_info(s->kind)->name);
    }
}

/* Several removals: the files unlinked a few at once (vs_unlink_many), then
 * each directory synced once (a removal is done when its directory says so). */
static int
run_group(vs_exec_ctx *x, const vs_step *const *steps, size_t n, vs_error *err)
{
    char **dirs = vs_xcalloc(n + 1, sizeof(*dirs)), **go = vs_xcalloc(n + 1, sizeof(*go));
    int *errs = vs_xcalloc(n + 1, sizeof(*errs));
    size_t i, k, nd = 0, ngo = 0;
    int ret = 0;

    for (i = 0; i < n && ret == 0; i++) {
        const vs_step *s = steps[i];
        char *why = NULL, *dir;
        vs_seen seen;

        if (s->kind != VS_STEP_REMOVE_IMAGE) {
            ret = run(x, s, err);
            continue;
        }
        seen = observe(x, s, &why);
        note(x, why);
        free(why);
        if (seen == VS_SEEN_DONE)
            continue;
        /* the property that keeps network images, as vs_file_remove holds it */
        if (vs_path_is_network(s->path)) {
            ret = vs_error_set(err, VS_ERR_INTERNAL,
                               "'%s' is a network image: vsnap never removes one", s->path);
            break;
        }
        go[ngo++] = s->path;
        dir = vs_path_dir(s->path);
        for (k = 0; k < nd && strcmp(dirs[k], dir) != 0; k++)
            ;
        if (k < nd)
            free(dir);
        else
            dirs[nd++] = dir;
    }
    if (ret == 0) {
        /* images are large: a thread each (their waits for the disk overlap) */
        vs_unlink_many(AT_FDCWD, go, errs, ngo, 1, false);
        for (i = 0; i < ngo && ret == 0; i++)
            if (errs[i])
                ret = vs_error_sys(err, errs[i], "cannot remove '%s'", go[i]);
    }
    /* what was removed is made durable even when another removal failed */
    for (k = 0; k < nd; k++) {
        vs_error e;

        vs_error_clear(&e);
        if (vs_dir_sync(dirs[k], ret == 0 ? err : &e) < 0)
            ret = -1;
        free(dirs[k]);
    }
    free(dirs);
    free(go);
    free(errs);
    return ret;
}

static int
undo(vs_exec_ctx *x, const vs_step *s, vs_error *err)
{
    (void)x;
    return vs_error_set(err, VS_ERR_INTERNAL, "a %s step cannot be undone",
                        vs_step_info(s->kind)->name);
}

const vs_executor vs_exec_file = {
    .mech = VS_MECH_FILE,
    .run = run,
    .run_group = run_group,
    .undo = undo,
    .observe = observe,
    .finish = NULL,
};
