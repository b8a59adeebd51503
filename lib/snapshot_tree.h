/* The snapshot hierarchy of one domain (virsh-behaviour.md A.6, B.6). */
#ifndef VSNAP_SNAPSHOT_TREE_H
#define VSNAP_SNAPSHOT_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include "snapshot_def.h"

/* What a listing needs of one snapshot, without parsing its XML. */
typedef struct vs_snap_entry {
    char *name;
    char *parent;            /* NULL for a root */
    long long creation_time;
    vs_snap_state state;
    bool external;           /* B.5 (memory or any disk external): --external filter */
    bool location_external;  /* A.5 rule: snapshot-info's Location */
    /* links, filled by vs_snap_tree_link; indexes into the tree's array, -1 = none */
    long parent_idx;
    long first_child;        /* children in list order: newest first (ctime desc, then name desc) */
    long next_sibling;
    size_t nchildren;
} vs_snap_entry;

typedef struct vs_snap_tree {
    vs_snap_entry *e;
    size_t n, cap;
    long current;            /* index of the current snapshot, -1 = none */
    long first_root;         /* roots in list order as for children */
    void *hash;              /* private name -> index map */
} vs_snap_tree;

vs_snap_tree *vs_snap_tree_new(void);
void vs_snap_tree_free(vs_snap_tree *t);

/* Add an entry (strings copied); links are stale until vs_snap_tree_link. */
void vs_snap_tree_add(vs_snap_tree *t, const vs_snap_entry *e);
/* Fill an entry from a parsed definition (strings borrowed from def). */
void vs_snap_entry_from_def(vs_snap_entry *e, const vs_snapshot_def *def);
/* Remove entry by name (array compacted; links stale until relinked). */
void vs_snap_tree_remove(vs_snap_tree *t, const char *name);

/* Rebuild parent/child links and the current index (by name; NULL = none).
 * A missing parent or a cycle makes that snapshot a root; *inconsistent is set
 * and, as libvirt does, no snapshot is current then. */
void vs_snap_tree_link(vs_snap_tree *t, const char *current, bool *inconsistent);

long vs_snap_tree_find(const vs_snap_tree *t, const char *name);   /* -1 if absent */
size_t vs_snap_tree_descendants(const vs_snap_tree *t, long idx);   /* count */
/* Depth-first pre-order of idx's descendants (idx excluded), parents first. */
size_t vs_snap_tree_collect_descendants(const vs_snap_tree *t, long idx, long **out);
/* True if `anc` is `idx` or one of its ancestors. */
bool vs_snap_tree_is_ancestor(const vs_snap_tree *t, long anc, long idx);

/* snapshot-list selection (A.6). */
enum {
    VS_LIST_ROOTS       = 1 << 0,
    VS_LIST_DESCENDANTS = 1 << 1,
    VS_LIST_LEAVES      = 1 << 2,
    VS_LIST_NO_LEAVES   = 1 << 3,
    VS_LIST_METADATA    = 1 << 4,
    VS_LIST_NO_METADATA = 1 << 5,
    VS_LIST_INACTIVE    = 1 << 6,
    VS_LIST_ACTIVE      = 1 << 7,
    VS_LIST_DISK_ONLY   = 1 << 8,
    VS_LIST_INTERNAL    = 1 << 9,
    VS_LIST_EXTERNAL    = 1 << 10,
    VS_LIST_TOPOLOGICAL = 1 << 11,
    VS_LIST_TREE_ROOT   = 1 << 12,   /* --tree with --from: include `from` itself */
};

/*
 * Select entries: all (or children / descendants of `from` when from >= 0),
 * filtered by flags, ordered by name (case-insensitive ASCII) or, with
 * TOPOLOGICAL, depth-first pre-order with siblings in list order.
 * *out is an array of indexes the caller frees.
 */
size_t vs_snap_tree_select(const vs_snap_tree *t, long from, unsigned flags, long **out);

/*
 * virsh's --tree rendering (A.6) of the given roots (indexes), appended to b.
 * With `from` >= 0 only that subtree is printed with `from` as its root.
 */
void vs_snap_tree_render(const vs_snap_tree *t, long from, vs_buf *b);

#endif
