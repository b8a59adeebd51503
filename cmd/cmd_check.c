/* snapshot-check: print what lib/check.c finds. */
#include "config.h"

#include <stdlib.h>

#include "cmd.h"
#include "result.h"
#include "../lib/check.h"
#include "../lib/mem.h"

/* --json: {"clean": bool, "repaired": [lines], "problems": [{"kind", "text"}]}. */
enum { CK_KIND, CK_TEXT, CK_NCOLS };
static const vs_rcol problem_cols[CK_NCOLS] = {
    [CK_KIND] = { "kind", VS_RT_STR, NULL, NULL, "" },
    [CK_TEXT] = { "text", VS_RT_STR, NULL, NULL, "" },
};
enum { CH_CLEAN, CH_REPAIRED, CH_NCOLS };
static const vs_rcol check_head[CH_NCOLS] = {
    [CH_CLEAN] = { "clean", VS_RT_BOOL, NULL, NULL, NULL },
    [CH_REPAIRED] = { "repaired", VS_RT_STRV, NULL, NULL, NULL },
};

int
cmd_snapshot_check(vs_ctl *ctl, const vs_args *a)
{
    vs_check_report rep = { NULL, 0, 0, NULL };
    unsigned flags = vs_arg_bool(a, "repair") ? VS_CHECK_REPAIR : 0;
    char **line, *none[1] = { NULL };
    vs_result r;
    size_t i;
    int ret = 0;

    /* A running domain is checked and repaired too: what QEMU holds is
     * looked at read-only and changed only through QEMU (lib/check.h). */
    if (vs_snapshot_check(ctl->dom, flags, &rep, &ctl->err) < 0)
        return -1;
    vs_result_init(&r, "problems", problem_cols, CK_NCOLS, ctl->dom->name);
    vs_result_set_head(&r, check_head, CH_NCOLS);
    vs_result_bool(&r, VS_RHEAD, CH_CLEAN, rep.n == 0);
    vs_result_strv(&r, VS_RHEAD, CH_REPAIRED, rep.repaired ? rep.repaired : none);
    for (i = 0; i < rep.n; i++) {
        size_t row = vs_result_add_row(&r);

        vs_result_str(&r, row, CK_KIND, vs_check_kind_name(rep.items[i].kind));
        vs_result_str(&r, row, CK_TEXT, rep.items[i].text);
    }
    if (vs_arg_bool(a, "json")) {
        vs_result_print_json(ctl, &r);
    } else {
        for (line = rep.repaired; line && *line; line++)
            vs_out(ctl, "repaired: %s\n", *line);
        for (i = 0; i < r.nrows; i++) {
            char *kind = vs_result_text(&r, i, CK_KIND), *text = vs_result_text(&r, i, CK_TEXT);

            vs_out(ctl, "%s: %s\n", kind, text);
            free(kind);
            free(text);
        }
        if (rep.n == 0)
            vs_out_extra(ctl, "Domain '%s': snapshot metadata and disk images agree\n",
                         ctl->dom->name);
    }
    if (rep.n)
        ret = vs_error_set(&ctl->err, VS_ERR_PLAIN, "snapshot-check found %zu problem%s in "
                           "domain '%s'", rep.n, rep.n == 1 ? "" : "s", ctl->dom->name);
    vs_result_release(&r);
    vs_check_report_clear(&rep);
    return ret;
}
