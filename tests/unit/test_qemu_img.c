/* Unit tests: qemu_img against the real qemu-img, in a scratch directory. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "mem.h"
#include "path.h"
#include "qcow2.h"
#include "qemu_img.h"
#include "spawn.h"
#include "../tap.h"

static bool
has_tag(char **tags, const char *t)
{
    for (; tags && *tags; tags++)
        if (strcmp(*tags, t) == 0)
            return true;
    return false;
}

/* A byte of the guest-visible data, read back with qemu-io-free tooling:
 * convert to raw and look at the first byte. */
static int
first_byte(const char *scratch, const char *image)
{
    char *raw = vs_path_join(scratch, "dump.raw");
    const char *argv[] = { vs_qemu_img_prog(), "convert", "-O", "raw", image, raw, NULL };
    char *data = NULL;
    size_t len;
    int c = -1;

    if (vs_spawn_check(argv, NULL, NULL) == 0 &&
        vs_file_read(raw, 2 * 1024 * 1024, &data, &len, NULL) == 0 && len > 0)
        c = (unsigned char)data[0];
    free(data);
    unlink(raw);
    free(raw);
    return c;
}

/* Put `c` in the first byte of the image's guest data (raw file, then convert). */
static int
write_byte(const char *scratch, const char *image, char c)
{
    char *raw = vs_path_join(scratch, "in.raw");
    char buf[1024 * 1024];
    const char *argv[] = { vs_qemu_img_prog(), "convert", "-n", "-f", "raw", "-O", "qcow2",
                           raw, image, NULL };
    int r;

    memset(buf, 0, sizeof(buf));
    buf[0] = c;
    r = vs_file_write_atomic(raw, buf, sizeof(buf), 0600, NULL);
    if (r == 0)
        r = vs_spawn_check(argv, NULL, NULL);
    unlink(raw);
    free(raw);
    return r;
}

int
main(void)
{
    char tmpl[] = "/tmp/vsnap-test-qemu-img.XXXXXX";
    char *scratch, *img, *missing, *want, *raw, *overlay, *cwd;
    char **tags = NULL;
    vs_image_info info;
    vs_error e;

    setenv("VSNAP_QEMU_IMG", "/custom/qemu-img", 1);
    is_str(vs_qemu_img_prog(), "/custom/qemu-img", "program from $VSNAP_QEMU_IMG");
    unsetenv("VSNAP_QEMU_IMG");
    is_str(vs_qemu_img_prog(), VSNAP_QEMU_IMG, "configured program");

    if (access(VSNAP_QEMU_IMG, X_OK) != 0 && strchr(VSNAP_QEMU_IMG, '/')) {
        printf("ok %d # SKIP qemu-img not installed\n", ++tap_n);
        tap_done();
        return 0;
    }
    if (!(scratch = mkdtemp(tmpl))) {
        printf("Bail out! mkdtemp failed\n");
        return 1;
    }
    img = vs_path_join(scratch, "disk.qcow2");
    {
        const char *argv[] = { vs_qemu_img_prog(), "create", "-q", "-f", "qcow2", img, "1M", NULL };
        ok(vs_spawn_check(argv, NULL, &e) == 0, "qcow2 created: %s", e.msg);
    }

    ok(vs_qemu_img_snapshot_list(img, &tags, &e) == 0, "list of a fresh image");
    ok(tags && tags[0] == NULL, "no snapshots yet");
    vs_strv_free(tags);

    ok(write_byte(scratch, img, 'A') == 0 && first_byte(scratch, img) == 'A', "data A written");
    ok(vs_qemu_img_snapshot_create(img, "s1", &e) == 0, "snapshot s1 created: %s", e.msg);
    ok(write_byte(scratch, img, 'B') == 0 && first_byte(scratch, img) == 'B', "data B written");
    ok(vs_qemu_img_snapshot_create(img, "s 2,x", &e) == 0, "snapshot with space and comma");
    ok(vs_qemu_img_snapshot_list(img, &tags, &e) == 0, "list");
    ok(vs_strv_len(tags) == 2 && has_tag(tags, "s1") && has_tag(tags, "s 2,x"), "both tags listed");
    vs_strv_free(tags);

    ok(vs_qemu_img_snapshot_apply(img, "s1", &e) == 0, "apply s1: %s", e.msg);
    ok(first_byte(scratch, img) == 'A', "data back to A");

    ok(vs_qemu_img_info(img, false, &info, &e) == 0, "info");
    is_str(info.format, "qcow2", "info format");
    ok(info.virtual_size == 1024 * 1024, "info virtual size");
    ok(info.actual_size > 0, "info actual size");
    ok(info.filename && strstr(info.filename, "disk.qcow2"), "info filename");
    ok(info.backing_filename == NULL && info.backing_format == NULL, "no backing file");
    ok(vs_strv_len(info.snapshot_tags) == 2, "info snapshot tags");
    vs_image_info_clear(&info);
    ok(info.format == NULL, "info cleared");
    ok(vs_qemu_img_info(img, true, &info, &e) == 0 && info.format, "info with -U");
    vs_image_info_clear(&info);

    /* an overlay reports its backing file */
    overlay = vs_path_join(scratch, "overlay.qcow2");
    {
        const char *argv[] = { vs_qemu_img_prog(), "create", "-q", "-f", "qcow2", "-F", "qcow2",
                               "-b", img, overlay, NULL };
        ok(vs_spawn_check(argv, NULL, &e) == 0, "overlay created");
    }
    ok(vs_qemu_img_info(overlay, false, &info, &e) == 0, "overlay info");
    is_str(info.backing_filename, img, "backing filename");
    is_str(info.full_backing_filename, img, "full backing filename");
    is_str(info.backing_format, "qcow2", "backing format");
    vs_image_info_clear(&info);

    ok(vs_qemu_img_snapshot_delete(img, "s1", &e) == 0, "delete s1");
    ok(vs_qemu_img_snapshot_list(img, &tags, &e) == 0 && vs_strv_len(tags) == 1 &&
       has_tag(tags, "s 2,x"), "only s 2,x left");
    vs_strv_free(tags);

    ok(vs_qemu_img_snapshot_apply(img, "nope", &e) == -1, "apply of an unknown tag fails");
    want = vs_xasprintf("operation failed: failed to revert image '%s' to internal snapshot 'nope': "
                        "Could not apply snapshot 'nope': Failed to load snapshot: "
                        "No such file or directory", img);
    is_str(e.msg, want, "apply failure names the image and tag");
    free(want);
    ok(vs_qemu_img_snapshot_delete(img, "nope", &e) == -1 && strstr(e.msg, img) &&
       e.code == VS_ERR_OPERATION_FAILED, "delete of an unknown tag fails: %s", e.msg);

    missing = vs_path_join(scratch, "missing.qcow2");
    ok(vs_qemu_img_snapshot_create(missing, "s1", &e) == -1, "snapshot of a missing image fails");
    want = vs_xasprintf("operation failed: failed to create internal snapshot 's1' of image '%s': "
                        "Could not open '%s': Could not open '%s': No such file or directory",
                        missing, missing, missing);
    is_str(e.msg, want, "missing image message");
    free(want);
    ok(vs_qemu_img_info(missing, false, &info, &e) == -1 && strstr(e.msg, "failed to query image"),
       "info of a missing image fails: %s", e.msg);
    ok(vs_qemu_img_snapshot_list(missing, &tags, &e) == -1 && tags == NULL, "list of a missing image fails");

    raw = vs_path_join(scratch, "disk.raw");
    vs_file_write_atomic(raw, "", 0, 0600, NULL);
    ok(vs_qemu_img_snapshot_create(raw, "s1", &e) == -1, "raw image cannot hold snapshots");
    ok(strstr(e.msg, "Operation not supported") != NULL, "raw failure reason: %s", e.msg);

    /* relative names are made absolute: "-U" is a file here, not an option */
    cwd = getcwd(NULL, 0);
    if (chdir(scratch) == 0) {
        const char *argv[] = { vs_qemu_img_prog(), "create", "-q", "-f", "qcow2", "./-U", "1M", NULL };
        vs_spawn_check(argv, NULL, &e);
        ok(vs_qemu_img_snapshot_create("-U", "t", &e) == 0, "image named -U: %s", e.msg);
        ok(vs_qemu_img_snapshot_list("-U", &tags, &e) == 0 && has_tag(tags, "t"), "listed");
        vs_strv_free(tags);
        if (chdir(cwd) != 0)
            printf("Bail out! cannot return to %s\n", cwd);
    }
    free(cwd);

    /* a snapshot table longer than the header reader's 16 KiB chunk: every
     * tag read, in order, across the chunk boundaries */
    {
        char *big = vs_path_join(scratch, "many.qcow2"), name[256];
        const char *argv[] = { vs_qemu_img_prog(), "create", "-q", "-f", "qcow2", big, "1M", NULL };
        bool made;
        int k, n = 64;

        vs_error_clear(&e);
        made = vs_spawn_check(argv, NULL, &e) == 0;

        for (k = 0; made && k < n; k++) {
            snprintf(name, sizeof(name), "%03d-%0246d", k, k);
            made = vs_qemu_img_snapshot_create(big, name, &e) == 0;
        }
        ok(made, "%d snapshots with 250-byte names (a table of about 20 KiB): %s", n, e.msg);
        ok(vs_qcow2_probe(big, &info, &e) == 1, "the qcow2 header reader reads it");
        ok(vs_strv_len(info.snapshot_tags) == (size_t)n, "... all %d tags", n);
        made = vs_strv_len(info.snapshot_tags) == (size_t)n;
        for (k = 0; made && k < n; k++) {
            snprintf(name, sizeof(name), "%03d-%0246d", k, k);
            made = strcmp(info.snapshot_tags[k], name) == 0;
        }
        ok(made, "... each whole, in the table's order");
        vs_image_info_clear(&info);
        free(big);
    }

    setenv("VSNAP_QEMU_IMG", "/x-no-such/qemu-img", 1);
    ok(vs_qemu_img_snapshot_create(img, "s3", &e) == -1, "missing qemu-img");
    is_str(e.msg, "cannot execute '/x-no-such/qemu-img': No such file or directory",
           "missing qemu-img message");
    unsetenv("VSNAP_QEMU_IMG");

    {
        const char *argv[] = { "rm", "-rf", scratch, NULL };
        vs_spawn_check(argv, NULL, NULL);
    }
    free(img);
    free(missing);
    free(raw);
    free(overlay);
    tap_done();
    return tap_failed ? 1 : 0;
}
