/* qemu-img, through spawn: one function per subcommand vsnap uses. No policy. */
#ifndef VSNAP_QEMU_IMG_H
#define VSNAP_QEMU_IMG_H

#include <stdbool.h>
#include <stddef.h>
#include "error.h"

/* Program name or path: $VSNAP_QEMU_IMG, else the configured default. */
const char *vs_qemu_img_prog(void);

int vs_qemu_img_snapshot_create(const char *image, const char *tag, vs_error *err);  /* -c */
int vs_qemu_img_snapshot_apply(const char *image, const char *tag, vs_error *err);   /* -a */
int vs_qemu_img_snapshot_delete(const char *image, const char *tag, vs_error *err);  /* -d */

/* -l: the tags of the image's internal snapshots (NULL-terminated; caller frees with vs_strv_free). */
int vs_qemu_img_snapshot_list(const char *image, char ***tags, vs_error *err);

typedef struct vs_image_info {
    char *filename;
    char *format;              /* "qcow2", "raw", ... */
    unsigned long long virtual_size;
    unsigned long long actual_size;
    char *backing_filename;    /* as recorded in the image, or NULL */
    char *full_backing_filename;
    char *backing_format;
    char **snapshot_tags;      /* internal snapshot names, NULL-terminated (may be empty) */
} vs_image_info;

/* info --output=json [-U] (force_share opens images other processes hold). */
int vs_qemu_img_info(const char *image, bool force_share, vs_image_info *info, vs_error *err);
void vs_image_info_clear(vs_image_info *info);

#endif
