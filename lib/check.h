/* snapshot-check: a domain's metadata against its images, and the journal. */
#ifndef VSNAP_CHECK_H
#define VSNAP_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include "error.h"
#include "store.h"

typedef enum vs_check_kind {
    VS_CHECK_JOURNAL = 0,   /* an operation was interrupted */
    VS_CHECK_METADATA,      /* unreadable snapshot files, broken parent links */
    VS_CHECK_MISSING,       /* metadata names an image that does not exist */
    VS_CHECK_CHAIN,         /* a backing chain or format disagrees with the metadata */
    VS_CHECK_INTERNAL,      /* qcow2 internal snapshot tables disagree with the metadata */
    VS_CHECK_IMAGE,         /* qemu-img check reports corruption or leaks */
    VS_CHECK_UNREFERENCED,  /* an image file next to the domain's images that nothing uses */
    VS_CHECK_UNNEEDED,      /* an image vsnap made that a delete would have merged or removed */
} vs_check_kind;

typedef struct vs_check_item {
    vs_check_kind kind;
    char *text;             /* one line, no kind prefix */
} vs_check_item;

typedef struct vs_check_report {
    vs_check_item *items;
    size_t n, cap;
    char **repaired;        /* what --repair did, one line each (NULL-terminated or NULL) */
} vs_check_report;

enum {
    VS_CHECK_REPAIR   = 1 << 0,  /* finish or roll back the journal, remove vsnap's leftovers */
    VS_CHECK_NO_QEMU  = 1 << 1,  /* skip `qemu-img check` of every image (faster) */
};

/*
 * Check domain d (opened with the exclusive lock for REPAIR, shared
 * otherwise). Findings go to rep (zeroed by the caller; release with
 * vs_check_report_clear); the function fails only when the check itself
 * cannot run (or a repair fails). Nothing is changed without REPAIR; REPAIR
 * finishes or rolls back the journal's operation, removes the temporary
 * images this domain's interrupted operations left behind (never one another
 * domain's journal names or whose name carries another domain's uuid), and
 * runs, as a plan of its own, what a delete would have merged or removed
 * (VS_CHECK_UNNEEDED).
 */
int vs_snapshot_check(vs_dom *d, unsigned flags, vs_check_report *rep, vs_error *err);
void vs_check_report_clear(vs_check_report *rep);

/* "journal", "metadata", "missing", "chain", "internal", "image", "unreferenced",
 * "unneeded" */
const char *vs_check_kind_name(vs_check_kind kind);

#endif
