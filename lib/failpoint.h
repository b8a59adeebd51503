/* Test-only failure injection: compiled in with --enable-failpoints. */
#ifndef VSNAP_FAILPOINT_H
#define VSNAP_FAILPOINT_H

#include <stdbool.h>

/*
 * With failpoints compiled in, VSNAP_FAILPOINT=NAME[:N] makes the N-th (default
 * 1st) evaluation of failpoint NAME act (several, comma-separated, each count
 * on its own): vs_failpoint() returns true (the caller
 * then fails as if the step failed), or, for VSNAP_FAILPOINT=NAME:N:kill, the
 * process kills itself with SIGKILL there. Without failpoints it is always false.
 */
bool vs_failpoint(const char *name);

#endif
