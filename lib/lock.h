/* Per-domain locks: flock(2) on <domain>/lock. */
#ifndef VSNAP_LOCK_H
#define VSNAP_LOCK_H

#include <stdbool.h>
#include "error.h"

typedef enum vs_lock_mode { VS_LOCK_NONE = 0, VS_LOCK_SHARED, VS_LOCK_EXCLUSIVE } vs_lock_mode;

/*
 * Open (creating, 0600) and lock path. wait_seconds < 0 waits forever, 0 tries
 * once. When the lock stays busy: VS_ERR_BUSY "domain 'D' is busy: another
 * vsnap command held its lock for the N seconds vsnap waited; nothing was
 * changed, it is safe to retry" (D = `domain`; with wait_seconds 0 "... holds
 * its lock; nothing was changed, ..."). Returns the fd, or -1.
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
void vs_lock_release(int fd);

#endif
