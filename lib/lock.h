/*
 * Per-domain locks: two locks in one file, <domain>/lock.
 *
 *  - The writer lock, flock(2) LOCK_EX: a command that changes the domain
 *    holds it for its whole operation, so writers run one at a time.
 *  - The metadata lock, an open file description lock (fcntl F_OFD_SETLK)
 *    on the file's first byte: readers hold it shared while they read; a
 *    writer holds it exclusively, except while its plan runs image work
 *    (vs_lock_admit_readers / vs_lock_exclude_readers), when the metadata
 *    on disk stays as it was. So a reader waits while metadata changes,
 *    never for a qemu-img commit that takes minutes.
 *
 * Both belong to the open file: a holder that dies, however it dies, lets
 * go of them, so a lock held by a dead process is never an obstacle.
 *
 * A writer whose process named itself (vs_lock_set_owner) records its pid,
 * its start time and that name in the file while it holds the writer lock,
 * and clears the record before letting go. A waiter that gives up names the
 * holder from the record only when that pid is alive and started at that
 * time: a record left by a dead holder, or a reused pid, never misleads.
 */
#ifndef VSNAP_LOCK_H
#define VSNAP_LOCK_H

#include <stdbool.h>
#include "error.h"

typedef enum vs_lock_mode { VS_LOCK_NONE = 0, VS_LOCK_SHARED, VS_LOCK_EXCLUSIVE } vs_lock_mode;

/*
 * Open (creating, 0600) and lock path: EXCLUSIVE takes the writer lock and
 * then the metadata lock exclusively, SHARED the metadata lock shared.
 * wait_seconds < 0 waits forever, 0 tries once; the wait covers both locks.
 * When the lock stays busy: VS_ERR_BUSY "domain 'D' is busy: another vsnap
 * command held its lock for the N seconds vsnap waited; nothing was changed,
 * it is safe to retry" (D = `domain`; with wait_seconds 0 "... holds its
 * lock; ..."), where a valid record names the holder instead:
 * "'vsnap snapshot-prune' (pid 4242)". Returns the fd, or -1.
 */
int vs_lock_acquire(const char *path, const char *domain, vs_lock_mode mode,
                    int wait_seconds, vs_error *err);
/*
 * The same for entry `name` of the open directory `dirfd` (`shown` is its
 * path for messages), opened with O_NOFOLLOW: a symbolic link in its place is
 * never opened or locked ("'SHOWN' is a symbolic link; ..."), nor is anything
 * but a regular file.
 */
int vs_lock_acquire_at(int dirfd, const char *name, const char *shown, const char *domain,
                       vs_lock_mode mode, int wait_seconds, vs_error *err);
/* Let go of whatever fd holds (clearing a writer's record first) and close it. */
void vs_lock_release(int fd);

/* What this process is, for the records of the writer locks it takes
 * (e.g. "snapshot-prune"); NULL: record nothing. Copied. */
void vs_lock_set_owner(const char *what);

/* A writer (fd holds the writer lock) lets readers in before long image
 * work and keeps them out again after it; the second waits for the readers
 * that came in (they only read) and fails only on a system error. */
int vs_lock_admit_readers(int fd, vs_error *err);
int vs_lock_exclude_readers(int fd, vs_error *err);

/* Whether some process other than through fd holds the writer lock of
 * fd's file: a reader that sees a journal asks, to tell a running plan from
 * an interrupted one. */
bool vs_lock_writer_active(int fd);

#endif
