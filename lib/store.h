/* The metadata directory (design.md section 3): the store owns every file in it. */
#ifndef VSNAP_STORE_H
#define VSNAP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include "domain_def.h"
#include "lock.h"
#include "snapshot_def.h"
#include "snapshot_tree.h"

/*
 * The layout of a domain directory, <root>/<domain>/ (mode 0700). This table
 * is the one list of what the store keeps there: store.c opens entries only
 * through it, and nothing outside store.c builds a path inside a domain
 * directory (the functions below read and write each entry). README's
 * "Metadata layout" and the manual's FILES say the same.
 *
 * Everything is opened relative to the root's directory descriptor, top down,
 * with O_NOFOLLOW (and O_DIRECTORY for directories): no entry below the root
 * may be a symbolic link, and a link in the place of any of them, or of the
 * domain directory, is an error naming the path ("'P' is a symbolic link;
 * vsnap does not follow links inside its metadata directory"); it is never
 * read, written through, locked or removed. The root itself may be a link:
 * the admin chose it with -d or $VSNAP_DIR. Directories are 0700, files
 * 0600; every write is atomic: a temporary ".tmp.XXXXXX" created with
 * O_CREAT|O_EXCL|O_NOFOLLOW in the same directory, written, fsynced,
 * renamed over the file (renameat) and the directory fsynced. Names starting
 * with '.' are never domains or snapshots (temporary files, and the graves of
 * undefined domains in the root, ".NAME.undefined.PID.N").
 */
typedef enum vs_dom_entry {
    VS_DOM_DEFINITION = 0,  /* domain.xml */
    VS_DOM_SNAPSHOTS,       /* snapshots/ */
    VS_DOM_CURRENT,         /* current */
    VS_DOM_INDEX,           /* index */
    VS_DOM_LOCK,            /* lock */
    VS_DOM_JOURNAL,         /* journal */
    VS_DOM_REGISTRY,        /* overlays */
    VS_DOM_MANAGED_SAVE,    /* managed.save */
    VS_DOM_AUTOSTART,       /* autostart */
    VS_DOM_RUN,             /* run/ (domain_run.c's) */
    VS_DOM_NENTRIES
} vs_dom_entry;

typedef struct vs_dom_layout_entry {
    const char *name;       /* the entry's name in the domain directory */
    bool directory;         /* a directory; else a regular file */
    bool required;          /* a directory without it is not a domain */
    bool derived;           /* a cache rebuilt from the rest when stale or lost: replaced
                             * atomically, but not synced */
    const char *holds;      /* what it holds, one line */
} vs_dom_layout_entry;

/* Indexed by vs_dom_entry. */
extern const vs_dom_layout_entry vs_dom_layout[VS_DOM_NENTRIES];

/*
 * A snapshot's file, snapshots/<name>VS_SNAPSHOT_FILE_SUFFIX: the snapshot as
 * snapshot-dumpxml --security-info prints it, preceded by the line
 * "<?vsnap-seq N?>" that the store writes and reads and nothing prints: N is
 * the domain's creation sequence number of the snapshot (1, 2, ...; one more
 * than the highest in the domain when it was created or first redefined,
 * kept when it is written again), the order siblings are listed in. Files
 * without that line (older vsnap, libvirt's) have no number (seq 0).
 */
#define VS_SNAPSHOT_FILE_SUFFIX ".xml"
#define VS_SNAPSHOT_SEQ_PI "vsnap-seq"

/* Open a store with vs_store_open(root, flags). */
enum {
    /* The root is vsnap's default (neither -d nor $VSNAP_DIR): when it does
     * not exist yet (a new user), the store is empty rather than an error. */
    VS_STORE_MAY_BE_ABSENT = 1 << 0,
};

typedef struct vs_store {
    char *root;
    int lock_wait;          /* seconds to wait for a busy domain lock (default 30) */
    /* private to store.c */
    unsigned flags;
    int hold;               /* vs_store_hold depth */
    struct vs_dom **parked; /* domains kept open while held */
    size_t nparked, parked_cap;
} vs_store;

/* A snapshot file the tree could not use (vs_dom_damaged). */
typedef struct vs_snap_damage {
    char *file;             /* entry name in snapshots/, e.g. "B.xml" */
    char *reason;           /* one line, naming the file */
    /* private to store.c: the file as it was when judged (st_mtim ns, st_size) */
    long long file_mtime;
    long long file_size;
} vs_snap_damage;

typedef struct vs_dom {
    vs_store *store;        /* borrowed */
    char *name;
    char *dir;              /* <root>/<name>: for messages only, never opened by path */
    int fd;                 /* the domain directory, O_DIRECTORY|O_NOFOLLOW from the root's fd */
    int lock_fd;            /* -1 when no lock */
    vs_lock_mode lock_mode;
    vs_domain_def *def;     /* loaded on demand by vs_dom_def */
    vs_snap_tree *tree;     /* loaded on demand by vs_dom_tree */
    bool index_dirty;
    /* private to store.c */
    int snap_fd;            /* snapshots/, -1 until opened */
    bool tree_stale;        /* entries changed since the last vs_snap_tree_link */
    bool tree_verified;     /* every file was compared with the tree since it was loaded */
    long long snapdir_mtime;/* snapshots/ mtime (ns) the in-memory tree matches */
    long long index_written;/* mtime (ns) of the index the tree was loaded from, 0 = none */
    vs_snap_damage *damage; /* the unusable snapshot files, with the tree */
    size_t ndamage, damage_cap;
    bool defer_sync;        /* vs_dom_defer_sync */
    bool dir_unsynced;      /* entries of the domain directory changed, not yet synced */
    bool snapdir_unsynced;  /* entries of snapshots/ changed, not yet synced */
    bool max_seq_known;     /* max_seq is the tree's highest creation sequence number */
    unsigned long long max_seq;
    /* the index file the tree was read from or last written to: while it
     * describes the tree but for the names touched since, changes are
     * appended to it (store_index.h) */
    bool index_exact;
    unsigned long long index_ino;
    long long index_size, index_base, index_first_written;
    char **touched;
    size_t ntouched, touched_cap;
    /* for the layers above (domain_run.c): what they keep open while the
     * domain is (its monitor connection), freed with runtime_free by
     * vs_dom_close */
    void *runtime;
    void (*runtime_free)(void *runtime);
    /* diagnostics for tests and benchmarks: how the last vs_dom_tree load went */
    bool tree_from_index;   /* served from a fresh index without reading snapshots/ */
    size_t tree_parsed;     /* snapshot files parsed by that load */
} vs_dom;

/*
 * root is copied; nothing is opened or created here. The root is opened when
 * a command first needs it: a root that does not exist is then an error
 * ("metadata directory 'R' does not exist; only define creates it") for
 * everything but vs_store_define, which creates it (mode 0700), unless flags
 * has VS_STORE_MAY_BE_ABSENT (then it is an empty store); a root that is not
 * a directory is always an error ("metadata directory 'R' is not a directory").
 */
vs_store *vs_store_open(const char *root, unsigned flags, vs_error *err);
void vs_store_free(vs_store *st);

/*
 * Keep domains open between commands (a command string). While the store is
 * held, vs_dom_close of a domain opened with a lock keeps it instead: its
 * lock, its cached definition and tree, and its index, which is written
 * once when the domain is really closed. The next vs_dom_open of the same
 * name gets it back as it was left (a stronger lock is taken first, which
 * drops the cache). vs_store_release (as often as vs_store_hold) closes
 * every kept domain; define and undefine close a kept opening of their
 * domain first, since they lock it themselves. Whatever a kept domain's
 * commands wrote is as durable as without keeping: only the index waits.
 */
void vs_store_hold(vs_store *st);
void vs_store_release(vs_store *st);

/* Names of defined domains, sorted; *names NULL-terminated, caller frees (vs_strv_free). */
int vs_store_list_domains(vs_store *st, char ***names, vs_error *err);

/*
 * The same, and in *skipped (NULL-terminated, caller frees; NULL to ignore)
 * one message for each entry of the root that is named like a domain but is
 * not listed because it cannot be one: a symbolic link (never followed), or a
 * directory whose domain.xml is a link or not a regular file. Directories
 * without a domain.xml and dot-names are not domains and not reported.
 */
int vs_store_scan(vs_store *st, char ***names, char ***skipped, vs_error *err);

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
 * domain with N snapshots" (N counts the snapshot files vs_dom_damaged
 * reports too). The directory is first renamed to a dot-name in the root
 * (names cannot start with '.'), so the domain disappears in one step; a
 * directory holding a symbolic link (in it or in snapshots/) is refused
 * before anything changes. Takes the domain's exclusive lock itself: the
 * caller must not hold it.
 */
int vs_store_undefine(vs_store *st, const char *name, bool with_snapshots, vs_error *err);

/*
 * Open a domain, taking its lock in `mode`. Unknown domain: VS_ERR_NO_DOMAIN
 * "Domain not found: no domain with matching name 'D'". Invalid names are
 * refused before any path is built. The domain directory and every entry of
 * the layout present are checked: a symbolic link, or an entry of the wrong
 * type, is an error naming it. Close with vs_dom_close.
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

/* "<root>/<domain>/<entry>", for messages and tests only (caller frees). */
char *vs_dom_entry_path(const vs_dom *d, vs_dom_entry e);

/* The persistent definition (owned by d). */
vs_domain_def *vs_dom_def(vs_dom *d, vs_error *err);
/* Write a new definition (takes a copy) and make it d's definition. */
int vs_dom_save_def(vs_dom *d, const vs_domain_def *def, vs_error *err);

/*
 * The tree with current set, from the index (rebuilt from the files when stale). Owned by d.
 *
 * The index (<domain>/index) is a cache, never the source of truth. Its header
 * records the snapshots/ directory's mtime (ns), the entry count and the
 * count of damaged files; each line a snapshot's name, parent, creation
 * time, state, external flags, the mtime and size of its file and its
 * creation sequence number, or a damaged file's name, mtime, size and reason.
 * It is used as is when the header matches the directory and the index was
 * written after that mtime (a later clock tick); otherwise snapshots/ is
 * listed and only files whose mtime/size differ from their line (or that are
 * as new as the index itself) are parsed again. Files that cannot be used
 * are left out of the tree, as libvirt skips them, and recorded
 * (vs_dom_damaged). A snapshot file rewritten in place, without touching the
 * directory, is noticed at the next rebuild or vs_dom_damaged; removing the
 * index forces a rebuild.
 */
vs_snap_tree *vs_dom_tree(vs_dom *d, vs_error *err);
/*
 * Detach the tree vs_dom_tree cached in d, for a caller that reads it after
 * letting the domain go (vs_dom_relock drops what is cached): a pending
 * index write happens first, then d caches nothing. The caller frees the
 * tree with vs_snap_tree_free; NULL when none is cached.
 */
vs_snap_tree *vs_dom_tree_take(vs_dom *d);

/*
 * The snapshot files of d the tree could not use: unreadable, unparseable,
 * too large, <name> not the file's name, a file name that is no valid
 * snapshot name, not a regular file (a planted link). *out (may be NULL when
 * *n is 0) is owned by d and valid until the tree reloads or changes (any
 * write or removal of a snapshot). Cheap: kept in the index. A tree served
 * from a fresh index is first verified here: every file's mtime and size is
 * compared with the index (no parsing unless one differs), so a file damaged
 * or repaired in place is seen. That verification may update the tree in
 * place, as vs_dom_write_snapshot does: the vs_snap_tree pointer stays valid,
 * indexes into it do not; call vs_dom_tree again for the links. 0 or -1
 * (snapshots/ cannot be read).
 */
int vs_dom_damaged(vs_dom *d, const vs_snap_damage **out, size_t *n, vs_error *err);


/*
 * One snapshot as a listing knows it, for the commands that show one
 * (snapshot-info, snapshot-parent, snapshot-current, snapshot-dumpxml):
 * from the tree when it is loaded, else from a fresh index without loading
 * the tree or reading the index whole (a binary search of its sorted lines
 * and a look at the changes appended to it). When the index cannot tell
 * (missing, stale, damaged, or parent links that are not consistent, where
 * the tree decides what is shown), the tree is loaded. A tree served from
 * the index is not verified file by file (vs_dom_damaged), and neither is
 * this.
 */
typedef struct vs_snap_brief {
    vs_snap_entry e;         /* name, parent (as its file names it), state, flags, seq;
                              * strings in `storage` */
    size_t nchildren, ndescendants;
    bool has_parent;         /* its parent is a snapshot of the tree (snapshot-parent) */
    bool current;            /* the domain's current snapshot */
    char storage[1024];
} vs_snap_brief;

/* 1 with *out filled; 0 when d has no such snapshot (vs_dom_snapshot_unknown
 * says why); -1 when the tree cannot be read. */
int vs_dom_snapshot_brief(vs_dom *d, const char *name, vs_snap_brief *out, vs_error *err);
/* The current snapshot: 1 with *out filled, 0 when there is none, -1 as above. */
int vs_dom_current_brief(vs_dom *d, vs_snap_brief *out, vs_error *err);

/*
 * The names of d's snapshots that start with `prefix`, sorted as listed
 * (*names NULL-terminated, caller frees): from the tree when it is loaded,
 * else from a fresh index, reading only the range of names that match.
 * 0, or -1 (err set) when even the tree cannot be had.
 */
int vs_dom_snapshot_names(vs_dom *d, const char *prefix, char ***names, vs_error *err);

/* Write the index now if it is out of date (vs_dom_close does this too). */
int vs_dom_flush_index(vs_dom *d, vs_error *err);

/* Snapshot `name`'s file as stored, without its creation-number line
 * (caller frees): for a plan that only removes it and keeps the text to put
 * it back. VS_ERR_NO_SNAPSHOT when there is no such file. */
char *vs_dom_read_snapshot_text(vs_dom *d, const char *name, vs_error *err);
/* The same, and *numbered whether the file starts with the creation-number
 * line: a file the store wrote, whose text is then the formatter's output
 * (vs_snapshot_def_format_str, SECURE) unless someone edited it since. */
char *vs_dom_read_snapshot_stored(vs_dom *d, const char *name, bool *numbered, vs_error *err);

/* The damaged files recorded with the tree, as it was loaded (from the
 * index: no file is looked at again, unlike vs_dom_damaged). 0 or -1 (no
 * tree). */
int vs_dom_damaged_recorded(vs_dom *d, const vs_snap_damage **out, size_t *n, vs_error *err);

/* Read one snapshot. Unknown: "Domain snapshot not found: no domain snapshot with matching name 'S'". */
vs_snapshot_def *vs_dom_read_snapshot(vs_dom *d, const char *name, vs_error *err);
/*
 * The error for a snapshot name the tree does not have: when snapshots/<name>.xml
 * exists but cannot be used (vs_dom_damaged), the reason (e.g. "'P' is a
 * symbolic link; ..."), else libvirt's VS_ERR_NO_SNAPSHOT "Domain snapshot not
 * found: no domain snapshot with matching name 'S'". Returns -1.
 */
int vs_dom_snapshot_unknown(vs_dom *d, const char *name, vs_error *err);
/* A snapshot of the tree (a damaged file is no snapshot). */
bool vs_dom_has_snapshot(vs_dom *d, const char *name);
/* Whether snapshots/<name>.xml exists at all (usable, damaged, or a link). */
bool vs_dom_snapshot_file_exists(vs_dom *d, const char *name);

/* Write (create or replace) a snapshot's file and update the tree/index (not links:
 * vs_dom_tree() returns a relinked tree). A snapshot new to the tree gets the
 * next creation sequence number; one that exists keeps its own. Indexes into
 * the tree are invalid after this and after vs_dom_remove_snapshot (the tree
 * may reorder entries). */
int vs_dom_write_snapshot(vs_dom *d, const vs_snapshot_def *def, vs_error *err);
/* The same for n snapshots at once, each given as its formatted text (what
 * vs_snapshot_def_format_str makes; other text is parsed and formatted as a
 * redefinition would be), written in one batch (path.h: vs_file_batch): one
 * sync for all the files, the directory synced as by vs_dom_write_snapshot
 * (or left to vs_dom_sync while deferring). Later texts of one name win. On
 * failure each file is old or new and the tree is read again when next
 * used. */
int vs_dom_write_snapshot_texts(vs_dom *d, char *const *texts, size_t n, vs_error *err);
/* Remove a snapshot's file (a damaged one too) and its tree entry. */
int vs_dom_remove_snapshot(vs_dom *d, const char *name, vs_error *err);
/* The same for n snapshots at once: their files unlinked several at a time,
 * the directory synced once (or left to vs_dom_sync while deferring). Each
 * file is removed or not; on failure the first error is reported, the ones
 * removed are out of the tree and the directory is synced as well. */
int vs_dom_remove_snapshots(vs_dom *d, char *const *names, size_t n, vs_error *err);

/* Current snapshot name (caller frees) or NULL with *err untouched when none. */
char *vs_dom_current(vs_dom *d);
/* Set (NULL clears) the current snapshot. */
int vs_dom_set_current(vs_dom *d, const char *name, vs_error *err);

/* Path of the snapshot file, for tests and messages. Caller frees. */
char *vs_dom_snapshot_path(const vs_dom *d, const char *name);

/*
 * Whether the metadata can be changed: the domain directory and snapshots/
 * (when it exists) are writable and searchable by this process. Fails with
 * "cannot change the metadata in 'P': ..." naming the one that is not.
 */
int vs_dom_check_writable(vs_dom *d, vs_error *err);

/* The journal, <domain>/journal (the plan codec in journal.c makes the text).
 * load: 0 with *text NULL when there is none; *text (NUL-terminated, caller
 * frees) and *len otherwise. store: atomic and durable. remove: unlink +
 * fsync of the directory; absent is fine. exists: anything in its place (a
 * link too, which load then refuses). */
int vs_dom_journal_load(vs_dom *d, char **text, size_t *len, vs_error *err);
int vs_dom_journal_store(vs_dom *d, const char *text, size_t len, vs_error *err);
int vs_dom_journal_remove(vs_dom *d, vs_error *err);
bool vs_dom_journal_exists(vs_dom *d);

/*
 * The overlay registry, <domain>/overlays: one absolute path per line.
 * load: *paths (NULL-terminated, caller frees with vs_strv_free) is never
 * NULL; a missing file is an empty registry; lines that are not absolute
 * paths are ignored. store: atomic; NULL or empty removes the file; a path
 * that is not absolute or holds a newline is refused (VS_ERR_INTERNAL).
 */
int vs_dom_registry_load(vs_dom *d, char ***paths, vs_error *err);
int vs_dom_registry_store(vs_dom *d, char *const *paths, vs_error *err);

/*
 * The managed-save image, <domain>/managed.save (libvirt's save-image
 * format, saveimage.h; written by memory_transfer.h through the descriptor
 * vs_dom_entry_at gives). exists: a regular file is there (a link is not
 * one). remove: unlink + fsync of the directory; absent is fine.
 */
bool vs_dom_managed_save_exists(vs_dom *d);
int vs_dom_managed_save_remove(vs_dom *d, vs_error *err);
/* For a writer or reader that needs descriptors of its own (QEMU is handed
 * one): the domain directory's descriptor (owned by d) and, in *name, the
 * entry's name to open relative to it with O_NOFOLLOW. */
int vs_dom_entry_at(const vs_dom *d, vs_dom_entry e, const char **name);
/* Whether an entry of the layout is there (a link in its place too, which
 * opening the domain refuses). */
bool vs_dom_entry_exists(vs_dom *d, vs_dom_entry e);

/*
 * autostart: the empty file <domain>/autostart, present = the domain is
 * started at boot (vsnap start --autostarted, the shipped systemd unit).
 * set: on creates it (atomic, 0600), off removes it (absent is fine); both
 * durable. Needs the domain's exclusive lock.
 */
bool vs_dom_autostart(vs_dom *d);
int vs_dom_set_autostart(vs_dom *d, bool on, vs_error *err);

/* Drop the cached definition and tree: the next vs_dom_def / vs_dom_tree
 * reads the files again (the lock stays). */
void vs_dom_forget(vs_dom *d);

/*
 * Deferred directory syncs, for a plan whose journal covers them: while
 * deferring, each metadata write still writes and fsyncs its temporary file
 * before the rename, and a removal unlinks, but the directory the name
 * changed in is only noted; vs_dom_sync fsyncs the noted directories (one
 * fsync for any number of names). Every journal write or removal syncs
 * first, by itself, so the journal never records more than is durable.
 * Turning deferral off syncs what is pending.
 */
void vs_dom_defer_sync(vs_dom *d, bool on);
int vs_dom_sync(vs_dom *d, vs_error *err);

#endif
