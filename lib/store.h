/* The metadata directory (design.md section 3). */
#ifndef VSNAP_STORE_H
#define VSNAP_STORE_H

#include <stdbool.h>
#include "domain_def.h"
#include "lock.h"
#include "snapshot_def.h"
#include "snapshot_tree.h"

/*
 * Layout under the root:
 *   <domain>/domain.xml              persistent definition (0600)
 *   <domain>/snapshots/<name>.xml    one <domainsnapshot> each, formatted SECURE
 *   <domain>/current                 current snapshot name + "\n"; absent = none
 *   <domain>/index                   derived listing cache, rebuilt when stale
 *   <domain>/lock                    flock target
 * Directories are 0700, files 0600, every write atomic.
 */

typedef struct vs_store {
    char *root;
    int lock_wait;          /* seconds to wait for a busy domain lock (default 30) */
} vs_store;

typedef struct vs_dom {
    vs_store *store;        /* borrowed */
    char *name;
    char *dir;              /* <root>/<name> */
    int lock_fd;            /* -1 when no lock */
    vs_lock_mode lock_mode;
    vs_domain_def *def;     /* loaded on demand by vs_dom_def */
    vs_snap_tree *tree;     /* loaded on demand by vs_dom_tree */
    bool index_dirty;
    /* private to store.c */
    bool tree_stale;        /* entries changed since the last vs_snap_tree_link */
    long long snapdir_mtime;/* snapshots/ mtime (ns) the in-memory tree matches */
    /* diagnostics for tests and benchmarks: how the last vs_dom_tree load went */
    bool tree_from_index;   /* served from a fresh index without reading snapshots/ */
    size_t tree_parsed;     /* snapshot files parsed by that load */
    struct vs_dom_batch *batch;       /* private: vs_dom_batch_begin's writes */
    struct vs_snap_damage *damaged;   /* private: vs_dom_damaged's list */
    size_t ndamaged;
    bool damaged_loaded;
} vs_dom;

/* root is copied; nothing is created until something is written. */
vs_store *vs_store_open(const char *root, vs_error *err);
void vs_store_free(vs_store *st);

/* Names of defined domains, sorted; *names NULL-terminated, caller frees (vs_strv_free). */
int vs_store_list_domains(vs_store *st, char ***names, vs_error *err);

/*
 * define: create or replace the domain's definition. A new domain gets its
 * directory; an existing one keeps its snapshots (the uuid must then match:
 * "operation failed: domain 'D' already exists with uuid U"). Another domain
 * with the same uuid: "operation failed: domain 'O' is already defined with
 * uuid U". *created (may be NULL) tells which happened. Takes the domain's
 * exclusive lock itself: the caller must not hold it.
 */
int vs_store_define(vs_store *st, const vs_domain_def *def, bool *created, vs_error *err);

/*
 * undefine: remove the domain directory. With snapshots present and not
 * with_snapshots: "Requested operation is not valid: cannot delete inactive
 * domain with N snapshots". The directory is first renamed to a dot-name in
 * the root (names cannot start with '.'), so the domain disappears in one
 * step. Takes the domain's exclusive lock itself: the caller must not hold it.
 */
int vs_store_undefine(vs_store *st, const char *name, bool with_snapshots, vs_error *err);

/*
 * Open a domain, taking its lock in `mode`. Unknown domain: VS_ERR_NO_DOMAIN
 * "Domain not found: no domain with matching name 'D'". Invalid names are
 * refused before any path is built. Close with vs_dom_close.
 */
vs_dom *vs_dom_open(vs_store *st, const char *name, vs_lock_mode mode, vs_error *err);
/* Flush a dirty index, release the lock, free everything. */
void vs_dom_close(vs_dom *d);

/*
 * Release d's lock and take it again in `mode` (VS_LOCK_NONE only releases),
 * e.g. so that snapshot-edit does not hold the domain while an editor runs.
 * The cached definition and tree are dropped: another command may have
 * changed the domain meanwhile. Fails like vs_dom_open (busy, undefined).
 */
int vs_dom_relock(vs_dom *d, vs_lock_mode mode, vs_error *err);

/* The persistent definition (owned by d). */
vs_domain_def *vs_dom_def(vs_dom *d, vs_error *err);
/* Write a new definition (takes a copy) and make it d's definition. */
int vs_dom_save_def(vs_dom *d, const vs_domain_def *def, vs_error *err);

/*
 * The tree with current set, from the index (rebuilt from the files when stale). Owned by d.
 *
 * The index (<domain>/index) is a cache, never the source of truth. Its header
 * records the snapshots/ directory's mtime (ns) and the entry count; each line
 * a snapshot's name, parent, creation time, state, external flags and the
 * mtime and size of its file. It is used as is when the header matches the
 * directory and the index was written after that mtime (a later clock tick);
 * otherwise snapshots/ is listed and only files whose mtime/size differ from
 * their line (or that are as new as the index itself) are parsed again.
 * Unparseable files, and files whose <name> does not match their file name,
 * are skipped, as libvirt does. A snapshot file rewritten in place, without
 * touching the directory, is noticed at the next rebuild; removing the index
 * forces one.
 */
vs_snap_tree *vs_dom_tree(vs_dom *d, vs_error *err);

/* Write the index now if it is out of date (vs_dom_close does this too). */
int vs_dom_flush_index(vs_dom *d, vs_error *err);

/* Read one snapshot. Unknown: "Domain snapshot not found: no domain snapshot with matching name 'S'". */
vs_snapshot_def *vs_dom_read_snapshot(vs_dom *d, const char *name, vs_error *err);
bool vs_dom_has_snapshot(vs_dom *d, const char *name);

/* Write (create or replace) a snapshot's file and update the tree/index (not links:
 * vs_dom_tree() returns a relinked tree). Indexes into the tree are invalid
 * after this and after vs_dom_remove_snapshot (the tree may reorder entries). */
int vs_dom_write_snapshot(vs_dom *d, const vs_snapshot_def *def, vs_error *err);
/* Remove a snapshot's file and its tree entry. */
int vs_dom_remove_snapshot(vs_dom *d, const char *name, vs_error *err);

/*
 * Snapshot files written and removed in bulk (a plan's run of metadata
 * steps): from vs_dom_batch_begin on, vs_dom_write_snapshot writes each new
 * file in full beside its place and vs_dom_remove_snapshot unlinks, both
 * without syncing; vs_dom_batch_end(commit) then syncs the data once,
 * renames the new files into place and syncs the directory once, so a
 * thousand files cost a few syncs instead of two thousand, and a crash still
 * leaves each file old or new. Without commit (a step failed) the new files
 * are dropped and their snapshots stay as they were on disk (the in-memory
 * tree is dropped too). Reading a snapshot written in the batch before its
 * end gives the old file. Failpoint (tests): "store-batch" before each
 * rename at the end and before each unlink.
 */
void vs_dom_batch_begin(vs_dom *d);
int vs_dom_batch_end(vs_dom *d, bool commit, vs_error *err);

/* Current snapshot name (caller frees) or NULL with *err untouched when none. */
char *vs_dom_current(vs_dom *d);
/* Set (NULL clears) the current snapshot. */
int vs_dom_set_current(vs_dom *d, const char *name, vs_error *err);

/* Path of the snapshot file, for tests and messages. Caller frees. */
char *vs_dom_snapshot_path(const vs_dom *d, const char *name);

/* ---- the files the plan code needs (spine) ---- */

/* The journal, <domain>/journal (the plan codec in journal.c makes the text). */
int vs_dom_journal_load(vs_dom *d, char **text, size_t *len, vs_error *err); /* 0 with *text NULL when absent */
int vs_dom_journal_store(vs_dom *d, const char *text, size_t len, vs_error *err); /* atomic, durable */
int vs_dom_journal_remove(vs_dom *d, vs_error *err);  /* unlink + fsync dir; absent is fine */
bool vs_dom_journal_exists(vs_dom *d);
/* The overlay registry, <domain>/overlays: one absolute path per line. */
int vs_dom_registry_load(vs_dom *d, char ***paths, vs_error *err);   /* *paths never NULL */
int vs_dom_registry_store(vs_dom *d, char *const *paths, vs_error *err); /* NULL/empty: removed */

typedef struct vs_snap_damage {
    char *file;     /* entry name in snapshots/ */
    char *reason;   /* one line */
} vs_snap_damage;
/* Snapshot files the tree could not use: unreadable, unparseable, too large,
 * <name> not the file's name, not a regular file. Owned by d. */
size_t vs_dom_damaged(vs_dom *d, const vs_snap_damage **out, vs_error *err);

/* Drop the cached definition and tree: the next vs_dom_def / vs_dom_tree
 * reads the files again (the lock stays). */
void vs_dom_forget(vs_dom *d);
/* Whether snapshots/<name>.xml exists, usable or not. */
bool vs_dom_snapshot_file_exists(vs_dom *d, const char *name);

#endif
