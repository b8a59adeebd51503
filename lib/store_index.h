/* The derived index of a domain's snapshots, <domain>/index: its file
 * format, written whole, appended to, read whole into a tree, or searched
 * for one snapshot without reading the rest. store.c decides when (the
 * index is a cache, never the source of truth: store.h); this file only
 * knows the format. Private to the storage layer. */
#ifndef VSNAP_STORE_INDEX_H
#define VSNAP_STORE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "snapshot_tree.h"
#include "store.h"

/*
 * The file:
 *
 *   vsnap-index 3 SNAP_END BASE_END          (offsets, 12 digits each)
 *   one line per snapshot, in listing order (vs_snap_name_cmp), up to SNAP_END
 *   one line per damaged file
 *   = DIR_MTIME COUNT NDAMAGED c|i WRITTEN   the commit record; the base ends here
 *   then any number of appended transactions, each
 *     +LINE ...  / -NAME ...                 a snapshot's new line, a snapshot gone
 *     = DIR_MTIME COUNT NDAMAGED c|i WRITTEN its commit record
 *
 * A snapshot's line: name, parent (or empty), creation time, state, flags
 * ('e' external or '-', then 'l' location external or '-'), the file's
 * mtime (ns) and size, the creation sequence number, the number of
 * children and of descendants, separated by TAB (names hold no control
 * characters). A damaged file's line: an empty first field, the file name
 * (control bytes and '\' as \xNN), its mtime, size and the reason.
 *
 * The last commit record says what the file as a whole describes: the
 * snapshots/ mtime it matches, how many snapshots and damaged files, whether
 * the parent links are consistent (no missing parent, no cycle), and, in the
 * first one, the coarse clock when the base was written (a file rewritten
 * in place in that clock tick or later is read again). Bytes after the last
 * commit record are a transaction cut short and are ignored.
 */

typedef struct vs_index_state {
    long long dir_mtime;
    size_t count, ndamaged;
    bool consistent;
    long long written;       /* the base's WRITTEN */
} vs_index_state;

/* Compact once the transactions outgrow this (the base's size given). */
#define VS_INDEX_LOG_MAX(base) ((size_t)64 * 1024 + (size_t)(base) / 8)

/* The whole file for linked tree t (ndesc[i]: entry i's descendants) and
 * the damaged files, appended to b. */
void vs_index_format(vs_buf *b, const vs_snap_tree *t, const size_t *ndesc,
                     const vs_snap_damage *dmg, size_t ndmg, long long dir_mtime,
                     long long written);
/* One transaction: the lines of entries idx[0..n) of t, the removal of
 * names gone[0..ngone), and its commit record. */
void vs_index_format_append(vs_buf *b, const vs_snap_tree *t, const size_t *ndesc,
                            const long *idx, size_t n, char *const *gone, size_t ngone,
                            size_t ndmg, long long dir_mtime, long long written);
/* Every entry's descendant count (caller frees; linked tree). */
size_t *vs_index_descendants(const vs_snap_tree *t);

/* What a whole read found. */
typedef struct vs_index_read {
    vs_index_state st;
    bool complete;           /* well formed throughout, counts as recorded */
    size_t base_len;         /* where the transactions start */
    vs_snap_damage *damage;  /* damaged-file lines (strings owned here) */
    size_t ndamage, damage_cap;
} vs_index_read;

/*
 * Parse buf (len bytes, NUL-terminated, cut into strings in place) into the
 * empty tree t, in listing order, with the committed transactions applied;
 * t's strings point into buf. False when buf is no index of this version;
 * otherwise r says how complete it was (whatever lines parsed are in t).
 * Release r with vs_index_read_clear.
 */
bool vs_index_parse(char *buf, size_t len, vs_snap_tree *t, vs_index_read *r);
void vs_index_read_clear(vs_index_read *r);

/* One snapshot, as the index records it. */
typedef struct vs_index_entry {
    vs_snap_entry e;         /* strings in `line` */
    size_t nchildren, ndescendants;
    char line[1024 + 1];     /* a line is at most 1024 bytes */
} vs_index_entry;

/*
 * Look `name` up in the index open as fd (size bytes) without reading it
 * whole: the header, the transactions and about log2(N) blocks of the
 * base. *st is the last commit record. 1 found (*out filled), 0 not in the
 * index, -1 no usable index (torn, damaged, another version).
 */
int vs_index_lookup(int fd, long long size, const char *name, vs_index_entry *out,
                    vs_index_state *st);

/* The names starting with `prefix` (case-sensitive), sorted, appended to
 * *names (a NULL-terminated vector the caller frees), without reading the
 * base beyond their range. 0, or -1 as vs_index_lookup. */
int vs_index_prefix(int fd, long long size, const char *prefix, char ***names,
                    vs_index_state *st);

#endif
