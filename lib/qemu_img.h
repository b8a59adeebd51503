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
/* For a network image: that its server answers (qemu-img info -U, bounded
 * by VSNAP_NETWORK_TIMEOUT as every qemu-img call that opens one is, except
 * the copy of a commit or safe rebase, which this probe precedes); 0 at
 * once for a local one. */
int vs_qemu_img_probe(const char *image, vs_error *err);
void vs_image_info_clear(vs_image_info *info);

/* ---- overlays, merges and checks (external snapshots) ----------------- */

/* create -f FMT -F BACKING_FMT -b BACKING IMAGE: a new overlay whose size
 * comes from its backing file. */
int vs_qemu_img_create_overlay(const char *image, const char *fmt, const char *backing,
                               const char *backing_fmt, vs_error *err);

/* commit -f FMT -d [-b BASE] IMAGE: write IMAGE's data into its backing file
 * (or into BASE, an image further down its chain) and leave IMAGE as it was. */
int vs_qemu_img_commit(const char *image, const char *fmt, const char *base, vs_error *err);

/* rebase -f FMT [-u] -b BACKING -F BACKING_FMT IMAGE. Safe mode (unsafe =
 * false) copies into IMAGE whatever differs between the old and the new
 * backing chain, so the guest-visible content stays the same; -u only
 * rewrites the backing file name. backing NULL or "" makes IMAGE standalone
 * (then backing_fmt is ignored). */
int vs_qemu_img_rebase(const char *image, const char *fmt, const char *backing,
                       const char *backing_fmt, bool unsafe, vs_error *err);

/* Several of the calls above at once, on independent images (none is
 * another's image or backing file): all run, then the first failure, if any,
 * is the error. */
typedef enum vs_qimg_op {
    VS_QIMG_CREATE_OVERLAY,   /* backing, backing_fmt: as vs_qemu_img_create_overlay */
    VS_QIMG_COMMIT,           /* backing: the base, or NULL for the backing file */
    VS_QIMG_REBASE,           /* safe */
    VS_QIMG_REBASE_UNSAFE,    /* -u */
    VS_QIMG_SNAPSHOT_CREATE,  /* tag: as vs_qemu_img_snapshot_create */
    VS_QIMG_SNAPSHOT_APPLY,   /* tag: as vs_qemu_img_snapshot_apply */
    VS_QIMG_SNAPSHOT_DELETE,  /* tag: as vs_qemu_img_snapshot_delete */
} vs_qimg_op;

typedef struct vs_qemu_img_job {
    vs_qimg_op op;
    const char *image;
    const char *fmt;
    const char *backing;
    const char *backing_fmt;
    const char *tag;          /* the internal snapshot of the SNAPSHOT_ ops */
} vs_qemu_img_job;

int vs_qemu_img_run_jobs(const vs_qemu_img_job *jobs, size_t n, vs_error *err);

typedef struct vs_image_check {
    bool clean;                     /* no corruption, leak or check error */
    unsigned long long corruptions;
    unsigned long long leaks;
    unsigned long long check_errors;
    char *detail;                   /* qemu-img's own words when not clean, else NULL */
} vs_image_check;

/* check --output=json -f FMT IMAGE. Returns 0 when qemu-img could check the
 * image (clean or not: see res), -1 when it could not run or open it. */
int vs_qemu_img_check(const char *image, const char *fmt, vs_image_check *res, vs_error *err);
void vs_image_check_clear(vs_image_check *res);

/* check -r leaks -f qcow2 IMAGE: free the clusters nothing refers to (what a
 * QEMU that died while it wrote can leave); anything worse is left alone
 * and reported by vs_qemu_img_check. A missing image or one that is no
 * qcow2 has nothing to free. */
int vs_qemu_img_repair_leaks(const char *image, vs_error *err);

/* info --output=json --backing-chain: *chain[0] is image itself, then its
 * backing file and so on. Caller frees with vs_image_chain_free. */
int vs_qemu_img_info_chain(const char *image, bool force_share, vs_image_info **chain,
                           size_t *n, vs_error *err);
void vs_image_chain_free(vs_image_info *chain, size_t n);

#endif
