/* snapshot-prune: the policy from the options, the decisions of
 * lib/snapshot_prune.c printed as a table or JSON. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "result.h"
#include "../lib/buf.h"
#include "../lib/mem.h"
#include "../lib/plan.h"
#include "../lib/retention.h"
#include "../lib/snapshot_ops.h"

enum { PR_NAME, PR_TIME, PR_ACTION, PR_REASONS, PR_NCOLS };
static const vs_rcol prune_cols[PR_NCOLS] = {
    [PR_NAME] = { "name", VS_RT_STR, "Name", NULL, "" },
    [PR_TIME] = { "creation_time", VS_RT_TIME, "Creation Time", NULL, "" },
    [PR_ACTION] = { "action", VS_RT_STR, "Action", NULL, "" },
    [PR_REASONS] = { "reasons", VS_RT_STRV, "Reasons", NULL, "-" },
};
enum { PH_DRY_RUN, PH_DELETED, PH_KEPT, PH_PLAN, PH_NCOLS };
static const vs_rcol prune_head[PH_NCOLS] = {
    [PH_DRY_RUN] = { "dry_run", VS_RT_BOOL, NULL, NULL, NULL },
    [PH_DELETED] = { "deleted", VS_RT_INT, NULL, NULL, NULL },
    [PH_KEPT] = { "kept", VS_RT_INT, NULL, NULL, NULL },
    [PH_PLAN] = { "plan", VS_RT_STRV, NULL, NULL, NULL },   /* --plan: one step a line */
};

/* The policy the options give; -1 with ctl->err on a bad value. */
static int
policy_from(vs_ctl *ctl, const vs_args *a, vs_ret_policy *p)
{
    size_t r;
    const char *within = vs_arg_str(a, "keep-within");

    vs_ret_policy_init(p);
    for (r = 0; r < VS_RET_COUNTED; r++) {
        char opt[32];
        int v, got;

        snprintf(opt, sizeof(opt), "keep-%s", vs_ret_reasons[r].name);
        if ((got = vs_arg_int(a, opt, &v, &ctl->err)) < 0)
            return -1;
        if (got && v < 0)
            return vs_error_set(&ctl->err, VS_ERR_PLAIN, "--%s must be 0 or more, not %d", opt, v);
        if (got)
            p->keep[r] = v;
    }
    if (within) {
        if (vs_duration_parse(within, &p->within, &ctl->err) < 0)
            return -1;
        p->within_set = true;
    }
    p->match = vs_arg_str(a, "match");
    /* a policy without a rule is refused by the planner */
    return 0;
}

/* The reasons as a list of names (caller frees with vs_strv_free). */
static char **
reason_names(unsigned why)
{
    char **v = vs_xcalloc(1, sizeof(*v));
    size_t r;

    for (r = 0; r < VS_RET_REASON_COUNT; r++)
        if (why & VS_RET_BIT(r))
            vs_strv_push(&v, vs_ret_reasons[r].name);
    return v;
}

/* The plan's lines, as --dry-run prints a plan (caller frees). */
static char **
plan_lines(const vs_plan *plan)
{
    char **v = vs_xcalloc(1, sizeof(*v)), *text, *line, *save = NULL;
    vs_buf b = VS_BUF_INIT;

    vs_plan_format(plan, &b);
    text = vs_buf_steal(&b);
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        vs_strv_push(&v, line);
    free(text);
    return v;
}

int
cmd_snapshot_prune(vs_ctl *ctl, const vs_args *a)
{
    bool dry = vs_arg_bool(a, "dry-run"), json = vs_arg_bool(a, "json");
    bool want_plan = vs_arg_bool(a, "plan");
    vs_prune_result res;
    vs_ret_policy pol;
    vs_result r;
    size_t i;

    if (want_plan && !dry)
        return vs_error_set(&ctl->err, VS_ERR_PLAIN, "--plan needs --dry-run");
    if (policy_from(ctl, a, &pol) < 0)
        return -1;
    if (vs_snapshot_prune(ctl->dom, &pol, (long long)time(NULL),
                          (dry ? VS_PRUNE_DRY_RUN : 0) | (want_plan ? VS_PRUNE_PLAN : 0), &res,
                          &ctl->err) < 0)
        return -1;

    vs_result_init(&r, "snapshots", prune_cols, PR_NCOLS, ctl->dom->name);
    vs_result_set_head(&r, prune_head, PH_NCOLS);
    vs_result_bool(&r, VS_RHEAD, PH_DRY_RUN, dry);
    vs_result_int(&r, VS_RHEAD, PH_DELETED, (long long)res.ndelete);
    vs_result_int(&r, VS_RHEAD, PH_KEPT, (long long)(res.n - res.ndelete));
    if (res.plan) {
        char **lines = plan_lines(res.plan);

        vs_result_strv(&r, VS_RHEAD, PH_PLAN, lines);
        vs_strv_free(lines);
    }
    for (i = 0; i < res.n; i++) {
        const vs_prune_item *it = &res.items[i];
        size_t row = vs_result_add_row(&r);
        char **why = reason_names(it->why);

        vs_result_str(&r, row, PR_NAME, it->name);
        vs_result_int(&r, row, PR_TIME, it->creation_time);
        vs_result_str(&r, row, PR_ACTION, it->why ? "keep" : "delete");
        vs_result_strv(&r, row, PR_REASONS, why);
        vs_strv_free(why);
    }
    vs_cmd_done_reading(ctl);
    if (json) {
        vs_result_print_json(ctl, &r);
    } else if (dry) {
        vs_result_print_table(ctl, &r, ~0UL);
        if (res.plan) {
            vs_buf b = VS_BUF_INIT;

            vs_plan_format(res.plan, &b);
            vs_out(ctl, "\n%s", vs_buf_str(&b));
            vs_buf_reset(&b);
        }
    } else {
        for (i = 0; i < res.n; i++)
            if (!res.items[i].why)
                vs_out_extra(ctl, "Domain snapshot %s deleted\n", res.items[i].name);
    }
    vs_result_release(&r);
    vs_prune_result_clear(&res);
    return 0;
}
