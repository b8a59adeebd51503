/*
 * `vsnap self-test [--manpage FILE]`: the command table checked against
 * itself and against the manual, printed as TAP. `make check` runs it, so a
 * command or option cannot be added, renamed or dropped without the manual
 * following, and help and completion (which read the same table) stay whole.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "mem.h"
#include "parse.h"
#include "path.h"

typedef struct tap {
    vs_ctl *ctl;
    int n;
    int failed;
} tap;

static void VS_PRINTF(3, 4)
check(tap *t, bool good, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    t->n++;
    if (!good)
        t->failed++;
    vs_out(t->ctl, "%sok %d - %s\n", good ? "" : "not ", t->n, buf);
}

static bool
nonempty(const char *s)
{
    return s && *s;
}

static bool
group_known(const char *keyword)
{
    const vs_cmd_group *g;

    for (g = vs_cmd_groups; keyword && g->keyword; g++) {
        if (strcmp(g->keyword, keyword) == 0)
            return true;
    }
    return false;
}

/* The table against itself. */
static void
check_table(tap *t)
{
    const vs_cmd_def *c, *d;

    for (c = vs_commands; c->name; c++) {
        const vs_opt_def *o, *p;
        bool dup = false, seen_optional_pos = false, order_ok = true, argv_last = true;
        bool bad_completer = false, bad_lock_opt = false;
        int nargv = 0;

        for (d = vs_commands; d < c; d++)
            dup |= strcmp(d->name, c->name) == 0;
        check(t, !dup, "command %s is defined once", c->name);
        if (c->alias_of) {
            const vs_cmd_def *target = NULL;

            for (d = vs_commands; d->name; d++) {
                if (strcmp(d->name, c->alias_of) == 0)
                    target = d;
            }
            check(t, target && !target->alias_of, "alias %s points to a command (%s)",
                  c->name, c->alias_of);
            continue;
        }
        check(t, c->run != NULL, "command %s has a run function", c->name);
        check(t, nonempty(c->summary), "command %s has a summary", c->name);
        check(t, group_known(c->group), "command %s belongs to a help group", c->name);
        for (o = c->opts; o && o->name; o++) {
            bool odup = false;

            for (p = c->opts; p < o; p++)
                odup |= strcmp(p->name, o->name) == 0;
            check(t, !odup && strcmp(o->name, "help") != 0 && o->name[0] != '-',
                  "%s --%s is a valid, unique option name", c->name, o->name);
            check(t, nonempty(o->help), "%s --%s has help text", c->name, o->name);
            if (o->flags & VS_OF_POSITIONAL) {
                /* A required positional after an optional one could never
                 * be given bare without the optional one. */
                if ((o->flags & VS_OF_REQUIRED) && seen_optional_pos)
                    order_ok = false;
                if (!(o->flags & VS_OF_REQUIRED))
                    seen_optional_pos = true;
            }
            if (o->type == VS_OT_ARGV) {
                nargv++;
                for (p = o + 1; p->name; p++) {
                    if (p->flags & VS_OF_POSITIONAL)
                        argv_last = false;
                }
            }
            if (o->type == VS_OT_BOOL && o->completer != VS_COMPLETE_NONE)
                bad_completer = true;
            /* An option can only switch a domain command to the other lock. */
            if ((o->flags & VS_OF_CHANGES) &&
                (!(c->flags & VS_CF_DOMAIN) || !(c->flags & VS_CF_LOCK_SH)))
                bad_lock_opt = true;
            if ((o->flags & VS_OF_READS_ONLY) &&
                (!(c->flags & VS_CF_DOMAIN) || !(c->flags & VS_CF_LOCK_EX)))
                bad_lock_opt = true;
            /* Snapshot names are looked up in the domain on the line. */
            if (o->completer == VS_COMPLETE_SNAPSHOT && vs_opt_index(c, "domain") < 0)
                bad_completer = true;
        }
        check(t, order_ok, "%s: no required positional option after an optional one", c->name);
        check(t, nargv <= 1 && argv_last, "%s: at most one ARGV option, after every positional one",
              c->name);
        check(t, !bad_completer, "%s: completers fit their options", c->name);
        check(t, !bad_lock_opt, "%s: options that change the lock switch the command's own",
              c->name);
        if (c->flags & VS_CF_DOMAIN)
            check(t, !(c->flags & VS_CF_LOCK_SH) != !(c->flags & VS_CF_LOCK_EX),
                  "%s: a domain command declares one lock, shared or exclusive", c->name);
        if (c->flags & VS_CF_REPAIRS)
            check(t, (c->flags & VS_CF_DOMAIN) && (c->flags & VS_CF_LOCK_EX),
                  "%s: a command that repairs a domain holds it exclusively", c->name);
        if ((c->flags & VS_CF_DOMAIN) || (c->flags & (VS_CF_LOCK_SH | VS_CF_LOCK_EX)))
            check(t, vs_opt_index(c, "domain") >= 0 && (c->flags & VS_CF_DOMAIN),
                  "%s: a command that locks a domain has --domain", c->name);
    }
}

/* ------------------------------------------------------------ manual -- */

typedef struct man_entry {
    char *cmd;
    char *opt;      /* NULL for the command itself */
    bool matched;
} man_entry;

typedef struct man_page {
    man_entry *e;
    size_t n, cap;
} man_page;

static void
man_add(man_page *m, const char *cmd, const char *opt)
{
    size_t i;

    for (i = 0; i < m->n; i++) {
        if (strcmp(m->e[i].cmd, cmd) == 0 &&
            ((!opt && !m->e[i].opt) || (opt && m->e[i].opt && strcmp(opt, m->e[i].opt) == 0)))
            return;
    }
    vs_xgrow(&m->e, &m->cap, m->n, sizeof(*m->e));
    m->e[m->n].cmd = vs_xstrdup(cmd);
    m->e[m->n].opt = vs_xstrdup(opt);
    m->e[m->n].matched = false;
    m->n++;
}

static void
man_free(man_page *m)
{
    size_t i;

    for (i = 0; i < m->n; i++) {
        free(m->e[i].cmd);
        free(m->e[i].opt);
    }
    free(m->e);
}

/* A name written in roff: "snapshot\-create" -> "snapshot-create". Reads
 * letters, digits and (escaped) hyphens from s; NULL if there are none. */
static char *
roff_name(const char *s)
{
    vs_buf b = VS_BUF_INIT;

    for (;;) {
        if (s[0] == '\\' && s[1] == '-') {
            vs_buf_addc(&b, '-');
            s += 2;
        } else if (islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-') {
            vs_buf_addc(&b, *s++);
        } else {
            break;
        }
    }
    if (b.len == 0)
        return NULL;
    return vs_buf_steal(&b);
}

/*
 * The page's conventions (stated in its header comment): in the COMMANDS
 * section a command entry starts with a line ".B name" right after ".PP";
 * each of its options is a ".TP" whose tag line names it as \-\-option.
 */
static void
man_parse(const char *text, man_page *m)
{
    const char *p = text;
    bool in_cmds = false, after_pp = false, after_tp = false;
    char *cmd = NULL;

    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = vs_xstrndup(p, len);

        if (strncmp(line, ".SH", 3) == 0 && (line[3] == ' ' || line[3] == '\0')) {
            const char *title = line + 3 + strspn(line + 3, " \"");
            in_cmds = strncmp(title, "COMMANDS", 8) == 0;
            free(cmd);
            cmd = NULL;
        } else if (in_cmds && after_pp && strncmp(line, ".B ", 3) == 0) {
            char *name = roff_name(line + 3);

            if (name && line[3 + strlen(line + 3)] == '\0' &&
                strcspn(line + 3, " ") == strlen(line + 3)) {
                free(cmd);
                cmd = name;
                man_add(m, cmd, NULL);
            } else {
                free(name);
            }
        } else if (in_cmds && after_tp && cmd) {
            const char *dd = strstr(line, "\\-\\-");
            char *opt = dd ? roff_name(dd + 4) : NULL;

            if (opt)
                man_add(m, cmd, opt);
            free(opt);
        }
        after_pp = strcmp(line, ".PP") == 0 || strcmp(line, ".LP") == 0 || strcmp(line, ".P") == 0;
        after_tp = strcmp(line, ".TP") == 0;
        free(line);
        p += len + (nl ? 1 : 0);
    }
    free(cmd);
}

static man_entry *
man_find(man_page *m, const char *cmd, const char *opt)
{
    size_t i;

    for (i = 0; i < m->n; i++) {
        if (strcmp(m->e[i].cmd, cmd) != 0)
            continue;
        if ((!opt && !m->e[i].opt) || (opt && m->e[i].opt && strcmp(m->e[i].opt, opt) == 0))
            return &m->e[i];
    }
    return NULL;
}

static void
check_manual(tap *t, const char *path)
{
    man_page m = { NULL, 0, 0 };
    const vs_cmd_def *c;
    char *text = NULL;
    size_t len, i;
    vs_error err;

    vs_error_clear(&err);
    if (vs_file_read(path, 4 * 1024 * 1024, &text, &len, &err) < 0) {
        check(t, false, "read the manual: %s", err.msg);
        return;
    }
    man_parse(text, &m);
    free(text);
    check(t, m.n > 0, "the manual %s has command entries", path);

    for (c = vs_commands; c->name; c++) {
        const vs_opt_def *o;
        man_entry *e;
        bool hidden = c->flags & VS_CF_HIDDEN;

        e = man_find(&m, c->name, NULL);
        if (c->alias_of) {
            /* An alias may be mentioned; it is checked through its command. */
            if (e)
                e->matched = true;
            continue;
        }
        if (e)
            e->matched = true;
        /* Hidden commands are internal; the manual may leave them out, but
         * what it says about them must be right. */
        if (hidden && !e)
            continue;
        check(t, e != NULL, "the manual documents command %s", c->name);
        for (o = c->opts; o && o->name; o++) {
            man_entry *oe = man_find(&m, c->name, o->name);

            if (oe)
                oe->matched = true;
            if (o->flags & VS_OF_HIDDEN)
                continue;
            check(t, oe != NULL, "the manual documents %s --%s", c->name, o->name);
        }
    }
    for (i = 0; i < m.n; i++) {
        if (m.e[i].matched)
            continue;
        if (!m.e[i].opt)
            check(t, false, "documented command %s exists", m.e[i].cmd);
        else
            check(t, false, "documented option %s --%s exists", m.e[i].cmd, m.e[i].opt);
    }
    man_free(&m);
}

int
cmd_self_test(vs_ctl *ctl, const vs_args *a)
{
    const char *man = vs_arg_str(a, "manpage");
    tap t = { ctl, 0, 0 };

    check_table(&t);
    if (man)
        check_manual(&t, man);
    vs_out(ctl, "1..%d\n", t.n);
    if (t.failed)
        return vs_error_set(&ctl->err, VS_ERR_PLAIN, "self-test: %d of %d checks failed",
                            t.failed, t.n);
    return 0;
}
