/* Progress of long work (qemu-img commit and safe rebase), for people.
 * The library reports; cmd/ decides whether and where it shows (stderr, when
 * that is a terminal). Without a sink nothing is measured or reported, and
 * qemu-img runs quietly as before. */
#ifndef VSNAP_PROGRESS_H
#define VSNAP_PROGRESS_H

#include <stdbool.h>

/* what: "committing '/img/a.s1' into its backing file"; percent 0..100;
 * done: the work ended (the sink clears what it showed). */
typedef void (*vs_progress_fn)(void *ctx, const char *what, double percent, bool done);

/* Install (fn NULL: remove) the process's sink. */
void vs_progress_set_sink(vs_progress_fn fn, void *ctx);
bool vs_progress_wanted(void);
void vs_progress_report(const char *what, double percent, bool done);

#endif
