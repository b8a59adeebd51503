/* Which file an image name means: the one definition of "the same image"
 * (every planner, the image graph, snapshot-check and the executors use it). */
#ifndef VSNAP_IMAGE_ID_H
#define VSNAP_IMAGE_ID_H

#include <stdbool.h>

/*
 * What a name pointed at when it was looked at: the device and inode of the
 * file (stat, following links, as qemu opens it) and its size. `exists` false
 * when nothing is there. Journals record one per file a step acts on, so that
 * a replay can tell "moved" (the inode changed) from "lost" (nothing there).
 */
typedef struct vs_file_id {
    bool exists;
    unsigned long long dev;
    unsigned long long ino;
    long long size;
    long long ctime_ns;      /* inode change time: a file made again under a recycled
                              * inode number has another */
} vs_file_id;

/* Look path up (never fails: an unreadable or missing file is !exists). */
void vs_file_id_get(const char *path, vs_file_id *id);
/* Both exist and are the same file. */
bool vs_file_id_same(const vs_file_id *a, const vs_file_id *b);
/* ... and it has not changed in between: same size and inode change time
 * (what a replay checks before it removes a file). */
bool vs_file_id_unchanged(const vs_file_id *then, const vs_file_id *now);

/*
 * Two image names mean the same image when both exist and are one file
 * (device and inode: a symlink, a hard link, "/./" spellings), and, when
 * either does not exist, when their normalised absolute paths
 * (vs_path_absolute) are equal.
 */
bool vs_same_image(const char *a, const char *b);

/*
 * Whether another process has local image `path` open as QEMU opens images:
 * QEMU (qemu-system, qemu-img, qemu-nbd) holds OFD locks on bytes 100-299 of
 * every image it has open, byte 101 when it may write. True when such a lock
 * is there (writers_only: the write one); false when none is, the file is
 * missing, or path is a network image (its server's business).
 */
bool vs_image_open_elsewhere(const char *path, bool writers_only);

#endif
