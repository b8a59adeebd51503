/* Names vsnap makes for snapshots: snapshot-create-as --name-prefix. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mem.h"
#include "path.h"
#include "snapshot_ops.h"

/* More than this many snapshots with one prefix in one second is not a
 * schedule; two digits keep every suffix sorting in order. */
#define MAX_SAME_SECOND 99

static bool
taken(vs_dom *d, const char *name)
{
    return vs_dom_has_snapshot(d, name) || vs_dom_snapshot_file_exists(d, name);
}

char *
vs_snapshot_name_from_prefix(vs_dom *d, const char *prefix, long long now, vs_error *err)
{
    time_t t = (time_t)now;
    struct tm tm;
    char stamp[32];
    char *name;
    int k;

    if (!gmtime_r(&t, &tm) || strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm) == 0) {
        vs_error_set(err, VS_ERR_INTERNAL, "cannot format the time %lld", now);
        return NULL;
    }
    name = vs_xasprintf("%s-%s", prefix, stamp);
    if (vs_name_check("snapshot", name, err) < 0) {
        free(name);
        return NULL;
    }
    for (k = 2; taken(d, name); k++) {
        free(name);
        if (k > MAX_SAME_SECOND) {
            vs_error_set(err, VS_ERR_OPERATION_FAILED,
                         "domain '%s' has %d snapshots named '%s-%s' and after: no free name "
                         "in this second; try again in a second", d->name, MAX_SAME_SECOND,
                         prefix, stamp);
            return NULL;
        }
        name = vs_xasprintf("%s-%s-%02d", prefix, stamp, k);
        if (vs_name_check("snapshot", name, err) < 0) {
            free(name);
            return NULL;
        }
    }
    return name;
}
