#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "mem.h"

/*
 * Help in virsh's layout (transcript 00-help.txt), generated from the table:
 * `help`, `help GROUP`, `help COMMAND` and `COMMAND --help`.
 */

static void
print_group(vs_ctl *ctl, const vs_cmd_group *g)
{
    const vs_cmd_def *c;

    vs_out(ctl, " %s (help keyword '%s'):\n", g->name, g->keyword);
    for (c = vs_commands; c->name; c++) {
        if (strcmp(c->group, g->keyword) != 0 || (c->flags & VS_CF_HIDDEN) || c->alias_of)
            continue;
        vs_out(ctl, "    %-30s %s\n", c->name, c->summary);
    }
}

static const char *
value_word(const vs_opt_def *o)
{
    return o->type == VS_OT_INT ? "number" : "string";
}

static void
synopsis_item(vs_buf *b, const vs_opt_def *o)
{
    bool req = o->flags & VS_OF_REQUIRED;
    bool pos = o->flags & VS_OF_POSITIONAL;

    switch (o->type) {
    case VS_OT_BOOL:
        vs_buf_addf(b, " [--%s]", o->name);
        break;
    case VS_OT_STRING:
    case VS_OT_INT:
        /* Only a required positional shows as <name>; an optional one that
         * may be filled positionally is shown named, as virsh does. */
        if (req && pos)
            vs_buf_addf(b, " <%s>", o->name);
        else if (req)
            vs_buf_addf(b, " --%s <%s>", o->name, value_word(o));
        else
            vs_buf_addf(b, " [--%s <%s>]", o->name, value_word(o));
        break;
    case VS_OT_ARGV:
        if (pos)
            vs_buf_addf(b, req ? " {[--%s] <string>}..." : " [[--%s] <string>]...", o->name);
        else
            vs_buf_addf(b, req ? " {--%s <string>}..." : " [--%s <string>]...", o->name);
        break;
    }
}

static char *
option_label(const vs_opt_def *o)
{
    bool req = o->flags & VS_OF_REQUIRED;
    bool pos = o->flags & VS_OF_POSITIONAL;

    switch (o->type) {
    case VS_OT_BOOL:
        return vs_xasprintf("--%s", o->name);
    case VS_OT_STRING:
    case VS_OT_INT:
        if (req && pos)
            return vs_xasprintf("[--%s] <%s>", o->name, value_word(o));
        return vs_xasprintf("--%s <%s>", o->name, value_word(o));
    case VS_OT_ARGV:
        if (pos)
            return vs_xasprintf("[--%s] <string>", o->name);
        return vs_xasprintf("--%s <string>", o->name);
    }
    return vs_xstrdup(o->name);
}

static void
print_command(vs_ctl *ctl, const vs_cmd_def *c)
{
    vs_buf syn = VS_BUF_INIT;
    const vs_opt_def *o;
    bool any = false;

    for (o = c->opts; o && o->name; o++) {
        if (o->flags & VS_OF_HIDDEN)
            continue;
        synopsis_item(&syn, o);
        any = true;
    }
    vs_out(ctl, "  NAME\n    %s - %s\n", c->name, c->summary);
    vs_out(ctl, "\n  SYNOPSIS\n    %s%s\n", c->name, vs_buf_str(&syn));
    vs_buf_reset(&syn);
    if (c->description && *c->description)
        vs_out(ctl, "\n  DESCRIPTION\n    %s\n", c->description);
    if (any) {
        vs_out(ctl, "\n  OPTIONS\n");
        for (o = c->opts; o->name; o++) {
            char *label;

            if (o->flags & VS_OF_HIDDEN)
                continue;
            label = option_label(o);
            vs_out(ctl, "    %-15s  %s\n", label, o->help);
            free(label);
        }
        vs_out(ctl, "\n");
    }
}

int
cmd_help(vs_ctl *ctl, const vs_args *a)
{
    const char *name = vs_arg_str(a, "command");
    const vs_cmd_group *g;
    const vs_cmd_def *c;

    if (!name) {
        vs_out(ctl, "Grouped commands:\n\n");
        for (g = vs_cmd_groups; g->keyword; g++) {
            print_group(ctl, g);
            vs_out(ctl, "\n");
        }
        return 0;
    }
    for (g = vs_cmd_groups; g->keyword; g++) {
        if (strcmp(g->keyword, name) == 0) {
            print_group(ctl, g);
            return 0;
        }
    }
    c = vs_cmd_find(name);
    if (!c)
        return vs_error_set(&ctl->err, VS_ERR_PLAIN,
                            "command or command group '%s' doesn't exist", name);
    print_command(ctl, c);
    return 0;
}
