/* The qemu-img executor: overlays, merges and internal snapshots of images
 * that no QEMU has open. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec.h"
#include "image_id.h"
#include "mem.h"
#include "path.h"
#include "qcow2.h"
#include "qemu_img.h"

/* The header of an image vsnap can read (qcow2 directly, QED through
 * qemu-img): 1 and *info filled, 0 when it is neither (or missing: *exists
 * false), -1 when it cannot be read. */
static int
header(const char *path, vs_image_info *info, bool *exists, vs_error *err)
{
    struct stat sb;
    int rc;

    memset(info, 0, sizeof(*info));
    if (vs_path_is_network(path)) {
        *exists = true;
        return vs_qemu_img_info(path, true, info, err) < 0 ? -1 : 1;
    }
    *exists = stat(path, &sb) == 0;
    if (!*exists)
        return 0;
    rc = vs_qcow2_probe(path, info, err);
    if (rc == 0 && vs_image_has_magic(path)) {
        /* -U: the image may be one a running QEMU holds (probed read-only) */
        if (vs_qemu_img_info(path, true, info, err) < 0)
            return -1;
        rc = 1;
    }
    return rc;
}

int
vs_exec_backing_is(const char *path, const char *backing)
{
    vs_image_info info;
    bool exists;
    const char *b;
    int rc;

    if ((rc = header(path, &info, &exists, NULL)) <= 0)
        return rc < 0 || !exists ? -1 : (!backing || !*backing);
    b = info.full_backing_filename ? info.full_backing_filename : info.backing_filename;
    if (!backing || !*backing)
        rc = !b;
    else
        rc = b && vs_same_image(b, backing);
    vs_image_info_clear(&info);
    return rc;
}

int
vs_exec_image_has_tag(const char *image, const char *tag, vs_error *err)
{
    vs_image_info info;
    bool exists;
    char **t;
    int rc, found = 0;

    if ((rc = header(image, &info, &exists, err)) < 0)
        return -1;
    if (rc == 0)
        return 0;
    for (t = info.snapshot_tags; t && *t; t++)
        if (strcmp(*t, tag) == 0)
            found = 1;
    vs_image_info_clear(&info);
    return found;
}

/* A new image is durable before anything names it: the file and the entry
 * in its directory are synced, and it is private (0600, as libvirt makes
 * snapshot images; qemu-img follows the umask). */
int
vs_exec_settle_image(const char *path, vs_error *err)
{
    struct stat sb;
    char *dir;
    int fd, ret;

    if (vs_path_is_network(path))
        return 0;   /* qemu-img wrote it through its server; nothing local to sync */
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
        return vs_error_sys(err, errno, "cannot open '%s'", path);
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && fchmod(fd, 0600) < 0) {
        ret = vs_error_sys(err, errno, "cannot set the mode of '%s'", path);
        close(fd);
        return ret;
    }
    if (fsync(fd) < 0 && errno != EINVAL) {
        ret = vs_error_sys(err, errno, "cannot sync '%s'", path);
        close(fd);
        return ret;
    }
    close(fd);
    if (!S_ISREG(sb.st_mode))
        return 0;
    dir = vs_path_dir(path);
    ret = vs_dir_sync(dir, err);
    free(dir);
    return ret;
}

int
vs_exec_create_image(const char *path, const char *fmt, const char *backing,
                     const char *backing_fmt, vs_error *err)
{
    if (vs_qemu_img_create_overlay(path, fmt, backing, backing_fmt, err) < 0)
        return -1;
    return vs_exec_settle_image(path, err);
}

static int
run(vs_exec_ctx *x, const vs_step *s, vs_error *err)
{
    int rc;

    (void)x;
    switch (s->kind) {
    case VS_STEP_CREATE_IMAGE:
        return vs_exec_create_image(s->path, s->fmt, s->backing, s->backing_fmt, err);
    case VS_STEP_COMMIT_IMAGE:
        /* Its file goes only after the commit ran: gone means done. */
        if (!vs_file_exists(s->path))
            return 0;
        /* a network base: its server answers first (bounded, qemu_img.h) */
        if (vs_qemu_img_probe(s->backing, err) < 0)
            return -1;
        return vs_qemu_img_commit(s->path, s->fmt, NULL, err);
    case VS_STEP_REBASE_IMAGE:
    case VS_STEP_RETARGET_IMAGE:
        /* A plan removes an image only after its last other step. */
        if (!vs_file_exists(s->path))
            return 0;
        return vs_qemu_img_rebase(s->path, s->fmt, s->backing, s->backing_fmt,
                                  s->kind == VS_STEP_RETARGET_IMAGE, err);
    case VS_STEP_TAG_CREATE:
        return vs_qemu_img_snapshot_create(s->path, s->name, err);
    case VS_STEP_TAG_APPLY:
        return vs_qemu_img_snapshot_apply(s->path, s->name, err);
    case VS_STEP_TAG_DELETE:
        if (!vs_file_exists(s->path))
            return 0;
        if ((rc = vs_exec_image_has_tag(s->path, s->name, err)) <= 0)
            return rc;
        return vs_qemu_img_snapshot_delete(s->path, s->name, err);
    default:
        return vs_error_set(err, VS_ERR_INTERNAL, "the qemu-img executor cannot run a %s step",
                            vs_step_info(s->kind)->name);
    }
}

static vs_qimg_op
job_op(vs_step_kind kind)
{
    switch (kind) {
    case VS_STEP_COMMIT_IMAGE: return VS_QIMG_COMMIT;
    case VS_STEP_REBASE_IMAGE: return VS_QIMG_REBASE;
    case VS_STEP_RETARGET_IMAGE: return VS_QIMG_REBASE_UNSAFE;
    case VS_STEP_TAG_CREATE: return VS_QIMG_SNAPSHOT_CREATE;
    case VS_STEP_TAG_APPLY: return VS_QIMG_SNAPSHOT_APPLY;
    case VS_STEP_TAG_DELETE: return VS_QIMG_SNAPSHOT_DELETE;
    default: return VS_QIMG_CREATE_OVERLAY;
    }
}

static int
run_group(vs_exec_ctx *x, const vs_step *const *steps, size_t n, vs_error *err)
{
    vs_qemu_img_job *jobs;
    size_t i, nj = 0;
    int ret;

    (void)x;
    jobs = vs_xcalloc(n + 1, sizeof(*jobs));
    for (i = 0; i < n; i++) {
        const vs_step *s = steps[i];

        /* a commit or rebase whose image is gone ran already (see run) */
        if (s->kind != VS_STEP_CREATE_IMAGE && s->kind != VS_STEP_TAG_CREATE &&
            s->kind != VS_STEP_TAG_APPLY && !vs_file_exists(s->path))
            continue;
        /* a tag already gone was deleted already (see run) */
        if (s->kind == VS_STEP_TAG_DELETE && (ret = vs_exec_image_has_tag(s->path, s->name, err)) <= 0) {
            if (ret < 0) {
                free(jobs);
                return -1;
            }
            continue;
        }
        if (s->kind == VS_STEP_COMMIT_IMAGE && vs_qemu_img_probe(s->backing, err) < 0) {
            free(jobs);
            return -1;
        }
        jobs[nj].op = job_op(s->kind);
        jobs[nj].image = s->path;
        jobs[nj].fmt = s->fmt;
        /* a commit goes into the backing file, as run does */
        jobs[nj].backing = s->kind == VS_STEP_COMMIT_IMAGE ? NULL : s->backing;
        jobs[nj].backing_fmt = s->backing_fmt;
        jobs[nj].tag = s->name;
        nj++;
    }
    ret = nj ? vs_qemu_img_run_jobs(jobs, nj, err) : 0;
    free(jobs);
    for (i = 0; ret == 0 && i < n; i++)
        if (steps[i]->kind == VS_STEP_CREATE_IMAGE)
            ret = vs_exec_settle_image(steps[i]->path, err);
    return ret;
}

static int
conflict(vs_error *err, const char *path, const char *what)
{
    return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                        "'%s' is not as the plan left it (%s); it was left alone", path, what);
}

static vs_seen
observe(vs_exec_ctx *x, const vs_step *s, char **why)
{
    vs_file_id now;
    int rc;

    if (why)
        *why = NULL;
    switch (s->kind) {
    case VS_STEP_CREATE_IMAGE:
        if (!vs_file_exists(s->path))
            return VS_SEEN_NOT_DONE;
        rc = vs_exec_backing_is(s->path, s->backing);
        if (rc == 1)
            return VS_SEEN_DONE;
        /* empty or not an image yet: a create cut short (the plan only
         * creates where nothing or an empty file was) */
        vs_file_id_get(s->path, &now);
        if (now.size == 0 || !vs_image_has_magic(s->path))
            return VS_SEEN_UNKNOWN;
        if (why)
            *why = vs_xasprintf("'%s' exists but is not an overlay on '%s'", s->path, s->backing);
        return VS_SEEN_CONFLICT;
    case VS_STEP_COMMIT_IMAGE:
        vs_file_id_get(s->path, &now);
        if (!now.exists)
            return VS_SEEN_DONE;
        if (s->expect.exists && !(vs_exec_changed_by_plan(x, s) ? vs_file_id_same(&s->expect, &now)
                                                                : vs_file_id_unchanged(&s->expect, &now))) {
            if (why)
                *why = vs_xasprintf("'%s' is another file than the one the plan commits", s->path);
            return VS_SEEN_CONFLICT;
        }
        return VS_SEEN_UNKNOWN;
    case VS_STEP_REBASE_IMAGE:
    case VS_STEP_RETARGET_IMAGE:
        if (!vs_file_exists(s->path))
            return VS_SEEN_DONE;   /* removed by a later step of the plan */
        if (vs_exec_backing_is(s->path, s->backing) == 1)
            return VS_SEEN_DONE;
        if (vs_exec_backing_is(s->path, s->old_backing) == 1)
            return VS_SEEN_NOT_DONE;
        if (why)
            *why = vs_xasprintf("'%s' is based on neither '%s' nor '%s'", s->path,
                                *s->backing ? s->backing : "nothing",
                                s->old_backing && *s->old_backing ? s->old_backing : "nothing");
        return VS_SEEN_CONFLICT;
    case VS_STEP_TAG_CREATE:
        return vs_exec_image_has_tag(s->path, s->name, NULL) == 1 ? VS_SEEN_DONE : VS_SEEN_NOT_DONE;
    case VS_STEP_TAG_DELETE:
        return vs_exec_image_has_tag(s->path, s->name, NULL) == 1 ? VS_SEEN_NOT_DONE : VS_SEEN_DONE;
    case VS_STEP_TAG_APPLY:
        return VS_SEEN_UNKNOWN;
    default:
        return VS_SEEN_UNKNOWN;
    }
}

static int
undo(vs_exec_ctx *x, const vs_step *s, vs_error *err)
{
    char *why = NULL;
    vs_seen seen;
    int rc;

    switch (s->kind) {
    case VS_STEP_CREATE_IMAGE:
        if (s->keep_on_undo)
            return 0;
        seen = observe(x, s, &why);
        if (seen == VS_SEEN_CONFLICT) {
            rc = conflict(err, s->path, why);
            free(why);
            return rc;
        }
        if (seen == VS_SEEN_NOT_DONE)
            return 0;
        return vs_file_remove(s->path, err);   /* ours, made whole or in part */
    case VS_STEP_REBASE_IMAGE:
    case VS_STEP_RETARGET_IMAGE:
        if (!vs_file_exists(s->path) || vs_exec_backing_is(s->path, s->old_backing) == 1)
            return 0;
        if (vs_exec_backing_is(s->path, s->backing) != 1)
            return conflict(err, s->path, "its backing file changed");
        /* the data a safe rebase copied in is the old chain's: pointing back is enough */
        return vs_qemu_img_rebase(s->path, s->fmt, s->old_backing, s->old_backing_fmt, true, err);
    case VS_STEP_TAG_CREATE:
        if (!vs_file_exists(s->path) || (rc = vs_exec_image_has_tag(s->path, s->name, err)) == 0)
            return 0;
        if (rc < 0)
            return -1;
        return vs_qemu_img_snapshot_delete(s->path, s->name, err);
    default:
        return vs_error_set(err, VS_ERR_INTERNAL, "a %s step cannot be undone",
                            vs_step_info(s->kind)->name);
    }
}

const vs_executor vs_exec_qemu_img = {
    .mech = VS_MECH_QEMU_IMG,
    .run = run,
    .run_group = run_group,
    .undo = undo,
    .observe = observe,
    .finish = NULL,
};
