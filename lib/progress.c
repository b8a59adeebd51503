/* The progress sink (progress.h). */
#include "config.h"

#include <stddef.h>

#include "progress.h"

static vs_progress_fn sink;
static void *sink_ctx;

void
vs_progress_set_sink(vs_progress_fn fn, void *ctx)
{
    sink = fn;
    sink_ctx = ctx;
}

bool
vs_progress_wanted(void)
{
    return sink != NULL;
}

void
vs_progress_report(const char *what, double percent, bool done)
{
    if (sink)
        sink(sink_ctx, what, percent < 0 ? 0 : percent > 100 ? 100 : percent, done);
}
