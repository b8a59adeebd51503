/* Snapshot operations on a domain: decide, execute, undo on failure. */
#ifndef VSNAP_SNAPSHOT_OPS_H
#define VSNAP_SNAPSHOT_OPS_H

#include <stdbool.h>
#include "domain_def.h"
#include "plan.h"
#include "retention.h"
#include "snapshot_def.h"
#include "store.h"

/* snapshot-create flags, one per virsh option. */
enum {
    VS_CREATE_REDEFINE    = 1 << 0,
    VS_CREATE_CURRENT     = 1 << 1,
    VS_CREATE_NO_METADATA = 1 << 2,
    VS_CREATE_HALT        = 1 << 3,
    VS_CREATE_DISK_ONLY   = 1 << 4,
    VS_CREATE_REUSE_EXT   = 1 << 5,
    VS_CREATE_QUIESCE     = 1 << 6,
    VS_CREATE_ATOMIC      = 1 << 7,
    VS_CREATE_LIVE        = 1 << 8,
    VS_CREATE_VALIDATE    = 1 << 9,
};

enum {
    VS_REVERT_RUNNING    = 1 << 0,
    VS_REVERT_PAUSED     = 1 << 1,
    VS_REVERT_FORCE      = 1 << 2,
    VS_REVERT_RESET_NVRAM = 1 << 3,
};

enum {
    VS_DELETE_CHILDREN      = 1 << 0,
    VS_DELETE_METADATA_ONLY = 1 << 1,
    VS_DELETE_CHILDREN_ONLY = 1 << 2,
};

/*
 * Create (or with REDEFINE, redefine) a snapshot from XML text. `what` names
 * the XML source in parse errors. On success *name (caller frees) is the
 * snapshot's name. On failure nothing changed: metadata and images are as
 * before (internal snapshots already taken on earlier disks are deleted again),
 * except when a metadata write after the snapshot file fails: then the
 * journal stays and the error says to run `snapshot-check --repair`.
 */
int vs_snapshot_create(vs_dom *d, const char *xml, size_t len, const char *what,
                       unsigned flags, char **name, vs_error *err);

/*
 * --dry-run: decide the operation exactly as the functions above and below
 * do, but change nothing; *plan (caller frees with vs_plan_free) is the plan
 * that would run, for vs_plan_format. One planner per verb: create in
 * snapshot_create.c, revert in snapshot_revert.c, delete in
 * snapshot_delete.c, each for internal and external snapshots alike.
 */
int vs_snapshot_create_plan(vs_dom *d, const char *xml, size_t len, const char *what,
                            unsigned flags, char **name, vs_plan **plan, vs_error *err);
int vs_snapshot_revert_plan(vs_dom *d, const char *name, unsigned flags, vs_plan **plan,
                            vs_error *err);
int vs_snapshot_delete_plan(vs_dom *d, const char *name, unsigned flags, vs_plan **plan,
                            vs_error *err);

/* snapshot-current NAME: make an existing snapshot current. */
int vs_snapshot_set_current(vs_dom *d, const char *name, vs_error *err);

/* Revert the domain to a snapshot (A.9, C.3). */
int vs_snapshot_revert(vs_dom *d, const char *name, unsigned flags, vs_error *err);

/* Delete a snapshot, its children, or only its children (A.10, B.6, C.4).
 * With METADATA_ONLY, a snapshot whose file cannot be read is forgotten: its
 * children become roots (the way out snapshot-check names). */
int vs_snapshot_delete(vs_dom *d, const char *name, unsigned flags, vs_error *err);

/* Delete every snapshot in `names` (NULL-terminated; each with its children
 * under the CHILDREN flags) in one plan: one model load, one journal. With
 * dry != NULL nothing changes and *dry is the plan. */
int vs_snapshot_delete_set(vs_dom *d, char *const *names, unsigned flags, vs_plan **dry,
                           vs_error *err);

/*
 * snapshot-edit's second half: `xml` is the edited document for snapshot
 * `name`. Same name -> redefine in place (*result = VS_EDIT_EDITED). A new
 * name with clone -> both exist (VS_EDIT_CLONED); with rename -> the old
 * metadata is removed (VS_EDIT_RENAMED); with neither -> "Must use --rename or
 * --clone to change OLD to NEW" and nothing changes. make_current also makes
 * the result current. *new_name (caller frees) is the name in the edited XML.
 */
typedef enum { VS_EDIT_EDITED, VS_EDIT_CLONED, VS_EDIT_RENAMED } vs_edit_result;
int vs_snapshot_edit_apply(vs_dom *d, const char *name, const char *xml, size_t len,
                           bool rename, bool clone, bool make_current,
                           vs_edit_result *result, char **new_name, vs_error *err);

/* The domain's run state; "shut off" until vsnap can run domains. */
typedef enum { VS_DOMSTATE_SHUTOFF = 0, VS_DOMSTATE_RUNNING, VS_DOMSTATE_PAUSED } vs_domstate;
vs_domstate vs_domain_state(vs_dom *d);

/* snapshot-prune (snapshot_prune.c): every snapshot of the domain with the
 * reasons that keep it (vs_ret_reason bits, retention.h; 0: deleted). */
typedef struct vs_prune_item {
    char *name;
    long long creation_time;
    unsigned why;
} vs_prune_item;

typedef struct vs_prune_result {
    vs_prune_item *items;    /* oldest first */
    size_t n;
    size_t ndelete;          /* items with why 0 */
    vs_plan *plan;           /* DRY_RUN | PLAN: the plan of the deletions, NULL if none */
} vs_prune_result;

enum {
    VS_PRUNE_DRY_RUN = 1 << 0,   /* decide, change nothing */
    VS_PRUNE_PLAN    = 1 << 1,   /* with DRY_RUN: also plan the deletions (reads every snapshot) */
};

/*
 * Decide with policy pol at `now` from d's index which snapshots go, and
 * (without DRY_RUN) delete them all in one plan (vs_snapshot_delete_set),
 * which fails as a whole and then changes nothing. The current snapshot is
 * never deleted; a kept snapshot needs nothing a pruned one had (see
 * snapshot_prune.c). Release res with vs_prune_result_clear (it is empty
 * after a failure).
 */
int vs_snapshot_prune(vs_dom *d, const vs_ret_policy *pol, long long now, unsigned flags,
                      vs_prune_result *res, vs_error *err);
void vs_prune_result_clear(vs_prune_result *res);

/*
 * snapshot-create-as --name-prefix (snapshot_name.c): PREFIX-YYYYmmdd-HHMMSS
 * of `now` in UTC, so that names sort in the order the snapshots were taken
 * (across DST changes too), made unique in d with -02, -03, ... -99 for
 * several in one second; checked as every snapshot name is. Caller frees;
 * NULL with err set.
 */
char *vs_snapshot_name_from_prefix(vs_dom *d, const char *prefix, long long now, vs_error *err);

/* ---- Shared by the operation files (lib/snapshot_*.c); not for cmd/. ---- */

struct vs_model;
/*
 * The planners' decisions on a loaded model (model.h), appended to p: the
 * deletion of `names` (each one snapshot, deepest first, as a delete of one
 * with its children lists them), and the revert to snapshot index si. They
 * read nothing but the model, so tests can give them one built in memory.
 */
int vs_delete_plan_model(struct vs_model *m, char *const *names, unsigned flags, vs_plan *p,
                         vs_error *err);
int vs_revert_plan_model(struct vs_model *m, long si, vs_plan *p, vs_error *err);

/* One image holding (or about to hold) a snapshot's internal qcow2 data. */
typedef struct vs_snap_image {
    char *target;       /* the domain disk's target, e.g. "vda" */
    char *path;         /* the image file */
    bool has_tag;       /* filled by vs_snapshot_images_probe */
} vs_snap_image;

/*
 * The images an offline internal snapshot of `def` touches (C.2): every disk
 * of `dom` with device 'disk' and a source whose entry in def->disks is
 * internal (when def has no entries at all, every such disk that is neither
 * read-only nor marked snapshot='no'/'external'), once per image file. A disk
 * that is not local storage or not qcow2 fails with libvirt's messages
 * ("Requested operation is not valid: can't manipulate inactive snapshots of
 * disk 'N'", "... Disk device 'N' does not support snapshotting"), or is left
 * out when skip_unsupported (delete, as libvirt's try-all). *images (caller
 * frees with vs_snap_images_free) may be NULL when *n is 0.
 */
int vs_snapshot_images(const vs_snapshot_def *def, const vs_domain_def *dom,
                       bool skip_unsupported, vs_snap_image **images, size_t *n,
                       vs_error *err);
void vs_snap_images_free(vs_snap_image *images, size_t n);

/* `qemu-img info` of one image: must be qcow2; *tags (never NULL, caller
 * frees with vs_strv_free) are its internal snapshot names. */
int vs_snapshot_image_tags(const vs_snap_image *img, char ***tags, vs_error *err);

/* Run `qemu-img info` on every image (so a missing or unreadable image fails
 * before anything changes), require qcow2, and set has_tag when the image's
 * snapshot table holds `tag`. */
int vs_snapshot_images_probe(vs_snap_image *images, size_t n, const char *tag, vs_error *err);

/*
 * Redefine validation (B.4, B.6) of a parsed REDEFINE definition against the
 * domain's snapshots: own-parent, missing parent and cycle checks, the
 * DISK_ONLY/state rule, the uuid, online/offline and disk-only changes of an
 * existing snapshot, then disk alignment. When the snapshot exists and def has
 * no <domain>, the existing one is copied in. Changes only def.
 */
int vs_snapshot_redefine_prep(vs_dom *d, vs_snapshot_def *def, unsigned flags, vs_error *err);
/* B.6's parent rules alone, for snapshot `name` with `parent` (NULL: a
 * root) against the names and parents of t. */
int vs_snapshot_check_parent(vs_snap_tree *t, const char *name, const char *parent,
                             vs_error *err);
/* The same checks against a tree and a definition given (an import checks
 * a whole document against the tree as it grows); old is the snapshot's
 * existing definition, NULL when it has none. */
int vs_snapshot_redefine_check(vs_snap_tree *t, const vs_domain_def *dom,
                               const vs_snapshot_def *old, vs_snapshot_def *def, unsigned flags,
                               vs_error *err);

#endif
