/* Snapshot operations on a domain: decide, execute, undo on failure. */
#ifndef VSNAP_SNAPSHOT_OPS_H
#define VSNAP_SNAPSHOT_OPS_H

#include <stdbool.h>
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
 * before (internal snapshots already taken on earlier disks are deleted again).
 */
int vs_snapshot_create(vs_dom *d, const char *xml, size_t len, const char *what,
                       unsigned flags, char **name, vs_error *err);

/* snapshot-current NAME: make an existing snapshot current. */
int vs_snapshot_set_current(vs_dom *d, const char *name, vs_error *err);

/* Revert the domain to a snapshot (A.9, C.3). */
int vs_snapshot_revert(vs_dom *d, const char *name, unsigned flags, vs_error *err);

/* Delete a snapshot, its children, or only its children (A.10, B.6, C.4). */
int vs_snapshot_delete(vs_dom *d, const char *name, unsigned flags, vs_error *err);

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

#endif
