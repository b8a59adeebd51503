/* snapshot-prune: the retention policy (retention.h) applied to a domain's
 * snapshots, and every deletion it decides made as one plan
 * (vs_snapshot_delete_set): one model load, one journal.
 *
 * What a kept snapshot cannot live without: nothing that prune deletes. A
 * deleted snapshot's children move to its parent (B.6), and the delete
 * planner keeps every image that a remaining snapshot or the domain builds
 * on: an external snapshot's layer that only the deleted snapshot owned is
 * merged into its neighbour (reclaim.h), so a kept child keeps the data of
 * its deleted external parent; an internal snapshot is a tag of its own in
 * each image and depends on no other. So the decisions come from the
 * domain's index alone (names, creation times, current), and the only
 * snapshot prune protects beyond the policy is the current one, which the
 * domain's disks build on. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "snapshot_ops.h"
#include "snapshot_tree.h"

/* Oldest first; equal times by name, as the planner orders them. */
static int
oldest_first(const void *a, const void *b)
{
    const vs_prune_item *x = a, *y = b;

    if (x->creation_time != y->creation_time)
        return x->creation_time < y->creation_time ? -1 : 1;
    return strcmp(x->name, y->name);
}

void
vs_prune_result_clear(vs_prune_result *res)
{
    size_t i;

    if (!res)
        return;
    for (i = 0; i < res->n; i++)
        free(res->items[i].name);
    free(res->items);
    vs_plan_free(res->plan);
    memset(res, 0, sizeof(*res));
}

int
vs_snapshot_prune(vs_dom *d, const vs_ret_policy *pol, long long now, unsigned flags,
                  vs_prune_result *res, vs_error *err)
{
    vs_snap_tree *t;
    vs_ret_snap *snaps;
    unsigned *why;
    char **doomed;
    size_t i, k;
    int ret = -1;

    memset(res, 0, sizeof(*res));
    if (!(t = vs_dom_tree(d, err)))
        return -1;
    snaps = vs_xcalloc(t->n + 1, sizeof(*snaps));
    why = vs_xcalloc(t->n + 1, sizeof(*why));
    for (i = 0; i < t->n; i++) {
        snaps[i].name = t->e[i].name;
        snaps[i].time = t->e[i].creation_time;
        snaps[i].current = (long)i == t->current;
    }
    if (vs_retention_decide(snaps, t->n, pol, now, why, err) < 0)
        goto out;
    res->items = vs_xcalloc(t->n + 1, sizeof(*res->items));
    doomed = vs_xcalloc(t->n + 1, sizeof(*doomed));
    for (i = 0, k = 0; i < t->n; i++) {
        res->items[i].name = vs_xstrdup(t->e[i].name);
        res->items[i].creation_time = t->e[i].creation_time;
        res->items[i].why = why[i];
        if (!why[i])
            doomed[k++] = res->items[i].name;
    }
    res->n = t->n;
    res->ndelete = k;
    /* the names are the result's: the tree may change under the delete */
    if (k == 0 || ((flags & VS_PRUNE_DRY_RUN) && !(flags & VS_PRUNE_PLAN)))
        ret = 0;
    else
        ret = vs_snapshot_delete_set(d, doomed, 0, (flags & VS_PRUNE_DRY_RUN) ? &res->plan : NULL,
                                     err);
    free(doomed);
    if (ret == 0)
        qsort(res->items, res->n, sizeof(*res->items), oldest_first);
    else
        vs_prune_result_clear(res);
 out:
    free(snaps);
    free(why);
    return ret;
}
