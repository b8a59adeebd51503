/* Names, paths and whole-file I/O. */
#ifndef VSNAP_PATH_H
#define VSNAP_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "error.h"

#define VS_NAME_MAX 255
#define VS_SNAPSHOT_NAME_MAX 251   /* "<name>.xml" must fit in 255 bytes */
#define VS_XML_MAX_SIZE (10 * 1024 * 1024)  /* virsh's limit for an XML file */

/*
 * A domain or snapshot name becomes a file name, so it must never leave its
 * directory: empty, ".", "..", leading '.', '/', a control character (any
 * byte below 0x20, DEL, or a C1 control U+0080..U+009F in UTF-8) or more
 * than 255 bytes (251 for a snapshot, whose file adds ".xml") are refused.
 * `what` is "domain" or "snapshot" and appears in the message, e.g.
 * "invalid snapshot name 'a/b': name can't contain '/'"; control bytes are
 * shown as \xNN ("invalid snapshot name 'a\x0db': name can't contain
 * control characters").
 */
int vs_name_check(const char *what, const char *name, vs_error *err);

/* The directory part of path: "." without one, "/" for a file at the root
 * (caller frees). */
char *vs_path_dir(const char *path);

/* "dir/name" (caller frees). */
char *vs_path_join(const char *dir, const char *name);

/* The metadata root: -d DIR if given, else $VSNAP_DIR, else /var/lib/vsnap for
 * root, else ${XDG_DATA_HOME:-$HOME/.local/share}/vsnap. Caller frees. */
char *vs_default_root(const char *override);
/* Whether vs_default_root(override) is vsnap's own default (neither -d nor
 * $VSNAP_DIR names a directory), which may not exist yet for a new user. */
bool vs_default_root_is_implicit(const char *override);

/* mkdir -p with the given mode for every directory it creates. */
int vs_mkdir_p(const char *path, mode_t mode, vs_error *err);

/*
 * Read a whole file. Fails with a clear message when it is larger than max
 * bytes. *data is NUL-terminated and owned by the caller.
 */
int vs_file_read(const char *path, size_t max, char **data, size_t *len, vs_error *err);
/* The same from an open descriptor (standard input), to its end; `shown`
 * names it in messages. */
int vs_fd_read(int fd, const char *shown, size_t max, char **data, size_t *len, vs_error *err);

/*
 * Replace path atomically: write "<dir>/.tmp.XXXXXX", fsync, chmod mode,
 * rename over path, fsync the directory. On failure the old file is intact
 * and the temp file is gone.
 */
int vs_file_write_atomic(const char *path, const char *data, size_t len,
                         mode_t mode, vs_error *err);

/* The same without the fsyncs: readers see the old file or the new one,
 * but after a crash of the host either may be there. For runtime state that
 * such a crash makes meaningless (the files of a running QEMU). */
int vs_file_replace(const char *path, const char *data, size_t len, mode_t mode,
                    vs_error *err);

/* unlink + fsync of the directory; a missing file is not an error. */
/* Whether s names a network image (nbd:, nbd+..., gluster:, gluster+...,
 * json: — disk_source.h): never a path. vs_path_absolute returns it as it
 * is, vs_file_exists says it is there, vs_file_remove refuses it. */
bool vs_path_is_network(const char *s);
int vs_file_remove(const char *path, vs_error *err);

/* fsync a directory. */
int vs_dir_sync(const char *dir, vs_error *err);

/*
 * The same, relative to an open directory, for a store that must never follow
 * a link below its top directory. `name` is one entry of `dirfd` (no '/'),
 * opened with O_NOFOLLOW; `shown` is the path messages name. An entry that is
 * a symbolic link fails with vs_link_error's message and is never read,
 * written through, replaced or removed; one that is not a regular file fails
 * with "'SHOWN' is not a regular file". A missing file fails as VS_ERR_SYSTEM
 * with sys_errno ENOENT ("Failed to open file 'SHOWN': ..." for a read).
 */
int vs_file_read_at(int dirfd, const char *name, const char *shown, size_t max, char **data,
                    size_t *len, vs_error *err);
/* Temp file "<dirfd>/.tmp.XXXXXX" created with O_CREAT|O_EXCL|O_NOFOLLOW,
 * written, fchmod'ed, fsynced, renamed over name (renameat), directory fsynced. */
int vs_file_write_atomic_at(int dirfd, const char *name, const char *shown, const char *data,
                            size_t len, mode_t mode, vs_error *err);
/* The same without the fsyncs (as vs_file_replace). */
int vs_file_replace_at(int dirfd, const char *name, const char *shown, const char *data,
                       size_t len, mode_t mode, vs_error *err);
/* unlinkat + fsync of the directory; a missing file is not an error. */
int vs_file_remove_at(int dirfd, const char *name, const char *shown, vs_error *err);

/*
 * Unlink files[0..n) (names in dirfd, or paths with AT_FDCWD), a few at once
 * on threads: one thread for every `per_thread` files, at most 4. errs[i]:
 * 0 removed or already gone, else an errno; with refuse_links, -1 for a
 * symbolic link, which is left. Nothing is synced: the caller syncs each
 * directory once.
 */
void vs_unlink_many(int dirfd, char *const *files, int *errs, size_t n, size_t per_thread,
                    bool refuse_links);

/* What an atomic write or a removal makes durable before it returns. */
typedef enum vs_sync {
    /* (from 1: a bool or a zeroed field passed for one fails the assertion
     * of every function that takes it, never taken for "sync all") */
    VS_SYNC_ALL = 1,   /* the file's data and the directory entry */
    VS_SYNC_FILE,      /* the data only: the caller fsyncs the directory (once for
                        * several entries) before anything relies on the new name */
    VS_SYNC_NONE,      /* nothing: a cache, checked when it is read, that a crash may
                        * leave old, empty or missing */
} vs_sync;
/* vs_file_write_atomic_at / vs_file_remove_at with the syncs `how` says
 * (a removal has no data: VS_SYNC_FILE and VS_SYNC_NONE leave the directory
 * to the caller). */
int vs_file_write_at(int dirfd, const char *name, const char *shown, const char *data, size_t len,
                     mode_t mode, vs_sync how, vs_error *err);
int vs_file_unlink_at(int dirfd, const char *name, const char *shown, vs_sync how, vs_error *err);
/*
 * A batch of atomic writes into one open directory, made durable together:
 * vs_file_batch_add writes each file to its own temporary file (not synced;
 * a link in place of the name is refused); vs_file_batch_commit syncs them
 * (up to 16 an fsync each; more all at once, syncfs(2) of the file system,
 * one journal commit instead of one per file) unless `how` is
 * VS_SYNC_NONE, then renames each over its
 * name in the order added (b->renamed counts the names in place), then
 * fsyncs the directory when `how` is VS_SYNC_ALL. vs_file_batch_clear
 * removes the temporary files not renamed and frees the batch. A crash
 * leaves each name old or new, and temporary files (".tmp.*", never a
 * domain or snapshot name).
 */
typedef struct vs_file_batch {
    int dirfd;                          /* borrowed */
    char *shown_dir;
    struct {
        char tmp[12];
        char *name;
        long long mtime_ns, size;       /* the file as written (a rename keeps them) */
    } *e;
    size_t n, cap, renamed;
} vs_file_batch;
void vs_file_batch_init(vs_file_batch *b, int dirfd, const char *shown_dir);
int vs_file_batch_add(vs_file_batch *b, const char *name, const char *data, size_t len,
                      mode_t mode, vs_error *err);
int vs_file_batch_commit(vs_file_batch *b, vs_sync how, vs_error *err);
void vs_file_batch_clear(vs_file_batch *b);
/* fsync an open directory (file systems that cannot are not an error). */
int vs_dir_sync_fd(int dirfd, const char *shown, vs_error *err);

/* VS_ERR_PLAIN "'SHOWN' is a symbolic link; vsnap does not follow links inside
 * its metadata directory". Returns -1. */
int vs_link_error(vs_error *err, const char *shown);

bool vs_file_exists(const char *path);
bool vs_is_regular_file(const char *path);

/* Absolute version of path (relative to cwd), without touching the file
 * system beyond getcwd. Caller frees. */
char *vs_path_absolute(const char *path);

#endif
