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

/* "dir/name" (caller frees). */
char *vs_path_join(const char *dir, const char *name);

/* The metadata root: -d DIR if given, else $VSNAP_DIR, else /var/lib/vsnap for
 * root, else ${XDG_DATA_HOME:-$HOME/.local/share}/vsnap. Caller frees. */
char *vs_default_root(const char *override);

/* mkdir -p with the given mode for every directory it creates. */
int vs_mkdir_p(const char *path, mode_t mode, vs_error *err);

/*
 * Read a whole file. Fails with a clear message when it is larger than max
 * bytes. *data is NUL-terminated and owned by the caller.
 */
int vs_file_read(const char *path, size_t max, char **data, size_t *len, vs_error *err);

/*
 * Replace path atomically: write "<dir>/.tmp.XXXXXX", fsync, chmod mode,
 * rename over path, fsync the directory. On failure the old file is intact
 * and the temp file is gone.
 */
int vs_file_write_atomic(const char *path, const char *data, size_t len,
                         mode_t mode, vs_error *err);

/* The first half of vs_file_write_atomic, for writes made durable in bulk:
 * data written in full to a new temporary file beside path with mode,
 * fsynced only when `sync`; *tmp (caller frees) names it, for the caller to
 * rename over path or unlink. */
int vs_file_write_temp(const char *path, const char *data, size_t len, mode_t mode, bool sync,
                       char **tmp, vs_error *err);
/* Everything written to the file system that holds path, on disk (syncfs). */
int vs_fs_sync(const char *path, vs_error *err);

/* unlink + fsync of the directory; a missing file is not an error. */
int vs_file_remove(const char *path, vs_error *err);

/* fsync a directory. */
int vs_dir_sync(const char *dir, vs_error *err);

bool vs_file_exists(const char *path);
bool vs_is_regular_file(const char *path);

/* Absolute version of path (relative to cwd), without touching the file
 * system beyond getcwd. Caller frees. */
char *vs_path_absolute(const char *path);

#endif
