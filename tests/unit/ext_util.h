/* Fixtures for the external snapshot tests (test_external.c and the content
 * oracle): a scratch store with one domain of NDISKS qcow2 disks, guest data
 * written and read back with qemu-io as one pattern byte per 64 KiB region. */
#ifndef VSNAP_TEST_EXT_UTIL_H
#define VSNAP_TEST_EXT_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "mem.h"
#include "path.h"
#include "qemu_img.h"
#include "spawn.h"
#include "store.h"

#define NDISKS 2
#define NREG 8                       /* regions of 64 KiB per disk */
#define REGION (64 * 1024)
/* not every test uses every helper */
#define EXT_UNUSED __attribute__((unused))

static char *ext_scratch, *ext_root, *ext_imgdir;
static vs_store *ext_st;

static EXT_UNUSED const char *
qemu_io_prog(void)
{
    const char *p = getenv("VSNAP_QEMU_IO");

    return p && *p ? p : "qemu-io";
}

static EXT_UNUSED void
ext_rm_rf(const char *path)
{
    struct dirent **ents = NULL;
    struct stat sb;
    int n, i;

    if (lstat(path, &sb) < 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        n = scandir(path, &ents, NULL, NULL);
        for (i = 0; i < n; i++) {
            if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, "..")) {
                char *p = vs_path_join(path, ents[i]->d_name);

                ext_rm_rf(p);
                free(p);
            }
            free(ents[i]);
        }
        free(ents);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* A fresh scratch directory with a store and domain `vm` of NDISKS disks. */
static EXT_UNUSED int
ext_setup(const char *prefix)
{
    char tmpl[4096];
    vs_buf xml = VS_BUF_INIT;
    vs_domain_def *def;
    vs_error err;
    bool created;
    int i;

    snprintf(tmpl, sizeof(tmpl), "%s/%s.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             prefix);
    if (!mkdtemp(tmpl))
        return -1;
    ext_scratch = vs_xstrdup(tmpl);
    ext_root = vs_path_join(ext_scratch, "store");
    ext_imgdir = vs_path_join(ext_scratch, "img");
    mkdir(ext_imgdir, 0700);
    vs_buf_add(&xml, "<domain type='qemu'>\n  <name>vm</name>\n"
                     "  <memory unit='KiB'>65536</memory>\n"
                     "  <os>\n    <type arch='x86_64'>hvm</type>\n  </os>\n  <devices>\n");
    for (i = 0; i < NDISKS; i++) {
        char *img = vs_xasprintf("%s/vd%c.qcow2", ext_imgdir, 'a' + i);
        const char *argv[] = { vs_qemu_img_prog(), "create", "-q", "-f", "qcow2", img, "1M", NULL };

        if (vs_spawn_check(argv, NULL, NULL) < 0)
            return -1;
        vs_buf_addf(&xml, "    <disk type='file' device='disk'>\n"
                          "      <driver name='qemu' type='qcow2'/>\n"
                          "      <source file='%s'/>\n"
                          "      <target dev='vd%c' bus='virtio'/>\n"
                          "    </disk>\n", img, 'a' + i);
        free(img);
    }
    vs_buf_add(&xml, "  </devices>\n</domain>\n");
    vs_error_clear(&err);
    def = vs_domain_def_parse(xml.data, xml.len, "vm.xml", &err);
    vs_buf_reset(&xml);
    if (!def || !(ext_st = vs_store_open(ext_root, 0, &err)) ||
        vs_store_define(ext_st, def, &created, &err) < 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        vs_domain_def_free(def);
        return -1;
    }
    vs_domain_def_free(def);
    return 0;
}

static EXT_UNUSED void
ext_teardown(void)
{
    vs_store_free(ext_st);
    ext_st = NULL;
    if (ext_scratch && !getenv("VSNAP_KEEP_SCRATCH"))
        ext_rm_rf(ext_scratch);
    free(ext_scratch);
    free(ext_root);
    free(ext_imgdir);
    ext_scratch = ext_root = ext_imgdir = NULL;
}

/* qemu-io with commands; 0 when it ran clean (and every read matched). */
static EXT_UNUSED int
ext_qemu_io(const char *img, const char *fmt, bool ro, char **cmds, size_t ncmds)
{
    const char **argv = vs_xcalloc(ncmds * 2 + 8, sizeof(*argv));
    vs_spawn_result r;
    size_t i, k = 0;
    int ret = -1;

    argv[k++] = qemu_io_prog();
    if (ro)
        argv[k++] = "-r";
    argv[k++] = "-f";
    argv[k++] = fmt;
    for (i = 0; i < ncmds; i++) {
        argv[k++] = "-c";
        argv[k++] = cmds[i];
    }
    argv[k++] = img;
    argv[k] = NULL;
    if (vs_spawn(argv, &r, NULL) == 0) {
        if (r.status == 0 && !strstr(r.out, "failed") && !strstr(r.err, "failed") &&
            !strstr(r.out, "Error") && !strstr(r.err, "rror"))
            ret = 0;
        else if (getenv("VSNAP_TEST_VERBOSE"))
            fprintf(stderr, "qemu-io %s: %s%s\n", img, r.out, r.err);
        vs_spawn_result_free(&r);
    }
    free(argv);
    return ret;
}

static EXT_UNUSED int
ext_write(const char *img, const char *fmt, int region, unsigned char pattern)
{
    char *cmd = vs_xasprintf("write -P %u %d %d", pattern, region * REGION, REGION);
    int r = ext_qemu_io(img, fmt, false, &cmd, 1);

    free(cmd);
    return r;
}

/* Every region of img reads back as want[] (0 = never written). */
static EXT_UNUSED int
ext_verify(const char *img, const char *fmt, const unsigned char *want)
{
    char *cmds[NREG];
    int i, r;

    for (i = 0; i < NREG; i++)
        cmds[i] = vs_xasprintf("read -P %u %d %d", want[i], i * REGION, REGION);
    r = ext_qemu_io(img, fmt, true, cmds, NREG);
    for (i = 0; i < NREG; i++)
        free(cmds[i]);
    return r;
}

/* Internal snapshot `tag` of img reads back as want[]: the snapshot is
 * converted to a raw file (reading unallocated clusters through the image's
 * backing file, as a revert would) and its regions compared. */
static EXT_UNUSED int
ext_verify_tag(const char *img, const char *tag, const unsigned char *want)
{
    char *raw = vs_path_join(ext_scratch, "tag.raw"), *opt = vs_xasprintf("snapshot.name=%s", tag);
    const char *argv[] = { vs_qemu_img_prog(), "convert", "-l", opt, "-O", "raw", img, raw, NULL };
    char *data = NULL;
    size_t len = 0;
    int i, k, ret = -1;

    if (vs_spawn_check(argv, NULL, NULL) == 0 &&
        vs_file_read(raw, 64u << 20, &data, &len, NULL) == 0 && len >= (size_t)NREG * REGION) {
        ret = 0;
        for (i = 0; i < NREG && ret == 0; i++)
            for (k = 0; k < REGION; k++)
                if ((unsigned char)data[(size_t)i * REGION + (size_t)k] != want[i]) {
                    ret = -1;
                    break;
                }
    }
    free(data);
    unlink(raw);
    free(raw);
    free(opt);
    return ret;
}

/* `qemu-img check` is clean. */
static EXT_UNUSED bool
ext_img_clean(const char *img, const char *fmt)
{
    vs_image_check ck;
    bool clean;

    if (vs_qemu_img_check(img, fmt, &ck, NULL) < 0)
        return false;
    clean = ck.clean;
    vs_image_check_clear(&ck);
    return clean;
}

/* Copy directory tree src to dst (files and directories; modes kept). */
static EXT_UNUSED int
ext_copy_tree(const char *src, const char *dst)
{
    struct dirent **ents = NULL;
    struct stat sb;
    int n, i, ret = 0;

    if (lstat(src, &sb) < 0)
        return -1;
    if (!S_ISDIR(sb.st_mode)) {
        char *data = NULL;
        size_t len = 0;

        if (vs_file_read(src, 1024u << 20, &data, &len, NULL) < 0)
            return -1;
        ret = vs_file_write_atomic(dst, data ? data : "", len, sb.st_mode & 07777, NULL);
        free(data);
        return ret;
    }
    mkdir(dst, sb.st_mode & 07777);
    n = scandir(src, &ents, NULL, NULL);
    for (i = 0; i < n; i++) {
        if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, "..")) {
            char *s = vs_path_join(src, ents[i]->d_name), *t = vs_path_join(dst, ents[i]->d_name);

            if (ext_copy_tree(s, t) < 0)
                ret = -1;
            free(s);
            free(t);
        }
        free(ents[i]);
    }
    free(ents);
    return ret;
}

/* Names of the files in the image directory (NULL-terminated, sorted). */
static EXT_UNUSED char **
ext_img_files(void)
{
    struct dirent **ents = NULL;
    char **out = vs_xcalloc(1, sizeof(*out));
    int n, i;

    n = scandir(ext_imgdir, &ents, NULL, alphasort);
    for (i = 0; i < n; i++) {
        if (ents[i]->d_name[0] != '.')
            vs_strv_push(&out, ents[i]->d_name);
        free(ents[i]);
    }
    free(ents);
    return out;
}

#endif
