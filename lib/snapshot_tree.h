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
    /* The domain's creation sequence number (store.h), 0 = none (a file
     * written by libvirt or an older vsnap). */
    unsigned long long seq;
    /* links, filled by vs_snap_tree_link; indexes into the tree's array, -1 = none */
    long parent_idx;
    long first_child;        /* children in list order: newest first (see vs_snap_tree_link) */
    long next_sibling;
    size_t nchildren;
    /* store.c's record of the file the entry was read from (st_mtim in ns and
     * st_size); 0 = unknown. The tree only carries them. */
    long long file_mtime;
    long long file_size;
} vs_snap_entry;

typedef struct vs_snap_tree {
    vs_snap_entry *e;
    size_t n, cap;
    long current;            /* index of the current snapshot, -1 = none */
    long first_root;         /* roots in list order as for children */
    void *hash;              /* private: name -> index map and string storage */
    bool inconsistent;       /* set by vs_snap_tree_link: a missing parent or a cycle was found */
} vs_snap_tree;

vs_snap_tree *vs_snap_tree_new(void);
void vs_snap_tree_free(vs_snap_tree *t);

/*
 * Entry strings (name, parent) belong to the tree: change them only through
 * the functions below, never free them. Indexes are valid until the next
 * add/update/remove; keep names, not indexes, across those calls.
 */

/* Add an entry (strings copied); links are stale until vs_snap_tree_link.
 * An entry with the same name is replaced instead (as vs_snap_tree_update). */
void vs_snap_tree_add(vs_snap_tree *t, const vs_snap_entry *e);
/* Add, or replace the fields of the entry with e->name; returns its index. */
long vs_snap_tree_update(vs_snap_tree *t, const vs_snap_entry *e);
/* Add without copying: e's strings must live as long as the tree, e.g. inside
 * a block handed over with vs_snap_tree_adopt. */
void vs_snap_tree_add_borrowed(vs_snap_tree *t, const vs_snap_entry *e);
/* Add without copying and without looking the name up: the caller knows it
 * is not in the tree (the index's names, read in strictly increasing
 * order). Cheaper than vs_snap_tree_add_borrowed: the name map takes the
 * entries in at the next lookup, all at once. */
void vs_snap_tree_append_borrowed(vs_snap_tree *t, const vs_snap_entry *e);
/* Make room for n entries in all (avoids regrowing while loading). */
void vs_snap_tree_reserve(vs_snap_tree *t, size_t n);
/* The tree takes ownership of a vs_xmalloc'ed block and frees it with itself. */
void vs_snap_tree_adopt(vs_snap_tree *t, void *block);
/* Move t's contents into `into` (which is emptied first) keeping the pointer
 * `into` valid, and free t: what another tree's entries borrowed from
 * `into`'s old storage stays valid, because `into` keeps that storage too. */
void vs_snap_tree_replace(vs_snap_tree *into, vs_snap_tree *t);
/* Fill an entry from a parsed definition (strings borrowed from def). */
void vs_snap_entry_from_def(vs_snap_entry *e, const vs_snapshot_def *def);
/* Remove entry by name (the last entry moves into its slot; links stale until
 * relinked). Unknown names are ignored. */
void vs_snap_tree_remove(vs_snap_tree *t, const char *name);

/* Re-parenting (B.6 delete): set entry idx's parent name (NULL = root). Links
 * stale until relinked. */
void vs_snap_tree_set_parent(vs_snap_tree *t, long idx, const char *parent);
/* Give idx's children idx's parent (by name), as deleting idx does; needs
 * current links, leaves them stale. Returns how many children moved. */
size_t vs_snap_tree_reparent_children(vs_snap_tree *t, long idx);
/* Direct children of idx (idx < 0: the roots) in list order; *out (caller
 * frees) may be NULL when there are none. */
size_t vs_snap_tree_children(const vs_snap_tree *t, long idx, long **out);

/* Rebuild parent/child links and the current index (by name; NULL = none).
 * A missing parent or a cycle makes that snapshot a root; *inconsistent is set
 * and, as libvirt does, no snapshot is current then.
 * Siblings (and roots) are in list order: newest first, as libvirt's
 * prepending lists snapshots created one after another: by creation sequence
 * number, highest first; snapshots without one (seq 0) after those, by
 * creation time, newest first, then by name, descending. */
void vs_snap_tree_link(vs_snap_tree *t, const char *current, bool *inconsistent);

/* Link entry idx, just added with no child into a linked, consistent tree,
 * as vs_snap_tree_link would: first among its siblings (the newest). False,
 * with nothing changed, when that is not where it goes (or the tree is
 * inconsistent, or its parent is missing): then relink the whole tree. */
bool vs_snap_tree_link_leaf(vs_snap_tree *t, long idx);

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
 * Filters as libvirt applies them: INACTIVE/ACTIVE/DISK_ONLY are OR-ed (none
 * or all: no filter), INTERNAL/EXTERNAL likewise, NO_METADATA alone selects
 * nothing, but LEAVES and NO_LEAVES each apply, so both select nothing
 * (virsh 9.0, transcript 10-errors [38]; virsh-behaviour.md A.6 says
 * otherwise). `from` itself (TREE_ROOT) is never filtered out.
 * *out is an array of indexes the caller frees.
 */
size_t vs_snap_tree_select(const vs_snap_tree *t, long from, unsigned flags, long **out);
/* Sort indexes in the listing order (case-insensitive ASCII by name; names
 * equal but for case bytewise). */
void vs_snap_tree_sort_by_name(const vs_snap_tree *t, long *idx, size_t n);
/* That order for two names: <0, 0, >0. */
int vs_snap_name_cmp(const char *a, const char *b);

/*
 * The hierarchy of a selection (as vs_snap_tree_select returns it), which
 * snapshot-list --tree draws and --json nests: parent[k] (n entries, the
 * caller's) is the position in sel of sel[k]'s parent, or -1 when the
 * selection does not hold it (sel[k] is then a root). So `--from S --tree`
 * is select(S, VS_LIST_TREE_ROOT) (S and its direct children only,
 * transcript 02 [18]), `--from S --descendants --tree` adds
 * VS_LIST_DESCENDANTS, and the selection's order is the drawing's.
 */
void vs_snap_tree_selection_parents(const vs_snap_tree *t, const long *sel, size_t n,
                                    long *parent);

#endif
