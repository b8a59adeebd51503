/* snapshot-check: print what lib/check.c finds. */
#include "config.h"

#include <stdlib.h>

#include "cmd.h"
#include "../lib/check.h"
#include "../lib/mem.h"

int
cmd_snapshot_check(vs_ctl *ctl, const vs_args *a)
{
    vs_check_report rep = { NULL, 0, 0, NULL };
    unsigned flags = vs_arg_bool(a, "repair") ? VS_CHECK_REPAIR : 0;
    char **line;
    size_t i;
    int ret = 0;

    /* A running domain is checked and repaired too: what QEMU holds is
     * looked at read-only and changed only through QEMU (lib/check.h). */
    if (vs_snapshot_check(ctl->dom, flags, &rep, &ctl->err) < 0)
        return -1;
    for (line = rep.repaired; line && *line; line++)
        vs_out(ctl, "repaired: %s\n", *line);
    for (i = 0; i < rep.n; i++)
        vs_out(ctl, "%s: %s\n", vs_check_kind_name(rep.items[i].kind), rep.items[i].text);
    if (rep.n == 0) {
        vs_out_extra(ctl, "Domain '%s': snapshot metadata and disk images agree\n",
                     ctl->dom->name);
    } else {
        ret = vs_error_set(&ctl->err, VS_ERR_PLAIN, "snapshot-check found %zu problem%s in "
                           "domain '%s'", rep.n, rep.n == 1 ? "" : "s", ctl->dom->name);
    }
    vs_check_report_clear(&rep);
    return ret;
}
