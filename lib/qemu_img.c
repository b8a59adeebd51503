#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "mem.h"
#include "path.h"
#include "qemu_img.h"
#include "spawn.h"

const char *
vs_qemu_img_prog(void)
{
    const char *p = getenv("VSNAP_QEMU_IMG");

    return p && *p ? p : VSNAP_QEMU_IMG;
}

/*
 * qemu-img takes "json:{...}", "proto:..." and "-opt" forms for what looks
 * like a file name. An absolute path is always a plain file to it.
 */
static char *
safe_image_arg(const char *image)
{
    return vs_path_absolute(image);
}

/*
 * Run qemu-img; on failure restate the error so it names the image and the
 * step ("operation failed: failed to ... image '/x': <qemu-img's reason>").
 * A program that cannot be started keeps spawn's message.
 */
static int
run_qemu_img(const char *const argv[], char **out, vs_error *err, const char *what)
{
    vs_error local;
    const char *detail, *prog;
    char *head;

    vs_error_clear(&local);
    if (vs_spawn_check(argv, out, &local) == 0)
        return 0;
    if (local.code != VS_ERR_OPERATION_FAILED) {
        if (err)
            *err = local;
        return -1;
    }
    /* local.msg: "operation failed: qemu-img snapshot failed: qemu-img: DETAIL" */
    prog = strrchr(argv[0], '/');
    prog = prog ? prog + 1 : argv[0];
    head = vs_xasprintf("%s%s %s failed: ", vs_error_prefix(VS_ERR_OPERATION_FAILED),
                        prog, argv[1]);
    detail = local.msg;
    if (strncmp(detail, head, strlen(head)) == 0)
        detail += strlen(head);
    free(head);
    if (strncmp(detail, prog, strlen(prog)) == 0 && strncmp(detail + strlen(prog), ": ", 2) == 0)
        detail += strlen(prog) + 2;
    vs_error_set(err, VS_ERR_OPERATION_FAILED, "%s: %s", what, detail);
    return -1;
}

/* what: the step, already naming the image; owned here. */
static int
snapshot_op(const char *flag, const char *image, const char *tag, char *what, vs_error *err)
{
    char *img = safe_image_arg(image);
    const char *argv[] = { vs_qemu_img_prog(), "snapshot", flag, tag, img, NULL };
    int ret;

    ret = run_qemu_img(argv, NULL, err, what);
    free(img);
    free(what);
    return ret;
}

int
vs_qemu_img_snapshot_create(const char *image, const char *tag, vs_error *err)
{
    return snapshot_op("-c", image, tag,
                       vs_xasprintf("failed to create internal snapshot '%s' of image '%s'",
                                    tag, image), err);
}

int
vs_qemu_img_snapshot_apply(const char *image, const char *tag, vs_error *err)
{
    return snapshot_op("-a", image, tag,
                       vs_xasprintf("failed to revert image '%s' to internal snapshot '%s'",
                                    image, tag), err);
}

int
vs_qemu_img_snapshot_delete(const char *image, const char *tag, vs_error *err)
{
    return snapshot_op("-d", image, tag,
                       vs_xasprintf("failed to delete internal snapshot '%s' of image '%s'",
                                    tag, image), err);
}

static char *
json_str(json_object *o, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return vs_xstrdup(json_object_get_string(v));
}

static unsigned long long
json_u64(json_object *o, const char *key)
{
    json_object *v;
    int64_t n;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return 0;
    n = json_object_get_int64(v);
    return n < 0 ? 0 : (unsigned long long)n;
}

int
vs_qemu_img_info(const char *image, bool force_share, vs_image_info *info, vs_error *err)
{
    char *img = safe_image_arg(image);
    const char *argv[6];
    char *out = NULL;
    json_object *root = NULL, *snaps;
    enum json_tokener_error jerr;
    size_t i = 0, k, n;
    char *what = NULL;
    int ret = -1;

    memset(info, 0, sizeof(*info));
    argv[i++] = vs_qemu_img_prog();
    argv[i++] = "info";
    argv[i++] = "--output=json";
    if (force_share)
        argv[i++] = "-U";
    argv[i++] = img;
    argv[i] = NULL;
    what = vs_xasprintf("failed to query image '%s'", image);
    if (run_qemu_img(argv, &out, err, what) < 0)
        goto out;
    root = json_tokener_parse_verbose(out, &jerr);
    if (!root || !json_object_is_type(root, json_type_object)) {
        vs_error_set(err, VS_ERR_INTERNAL, "cannot parse qemu-img info output for image '%s'",
                     image);
        goto out;
    }
    info->filename = json_str(root, "filename");
    info->format = json_str(root, "format");
    info->virtual_size = json_u64(root, "virtual-size");
    info->actual_size = json_u64(root, "actual-size");
    info->backing_filename = json_str(root, "backing-filename");
    info->full_backing_filename = json_str(root, "full-backing-filename");
    info->backing_format = json_str(root, "backing-filename-format");
    info->snapshot_tags = vs_xcalloc(1, sizeof(char *));
    if (json_object_object_get_ex(root, "snapshots", &snaps) &&
        json_object_is_type(snaps, json_type_array)) {
        n = json_object_array_length(snaps);
        for (k = 0; k < n; k++) {
            json_object *s = json_object_array_get_idx(snaps, k), *name;

            if (s && json_object_object_get_ex(s, "name", &name) &&
                json_object_is_type(name, json_type_string))
                vs_strv_push(&info->snapshot_tags, json_object_get_string(name));
        }
    }
    ret = 0;
 out:
    if (ret < 0)
        vs_image_info_clear(info);
    json_object_put(root);
    free(what);
    free(out);
    free(img);
    return ret;
}

int
vs_qemu_img_snapshot_list(const char *image, char ***tags, vs_error *err)
{
    vs_image_info info;

    *tags = NULL;
    /* The JSON of "info" is stable; the "snapshot -l" table is meant for people. */
    if (vs_qemu_img_info(image, false, &info, err) < 0)
        return -1;
    *tags = info.snapshot_tags;
    info.snapshot_tags = NULL;
    vs_image_info_clear(&info);
    return 0;
}

void
vs_image_info_clear(vs_image_info *info)
{
    if (!info)
        return;
    free(info->filename);
    free(info->format);
    free(info->backing_filename);
    free(info->full_backing_filename);
    free(info->backing_format);
    vs_strv_free(info->snapshot_tags);
    memset(info, 0, sizeof(*info));
}
