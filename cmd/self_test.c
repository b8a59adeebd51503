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
    char *opt;          /* NULL for the command itself */
    bool matched;
    char *group;        /* a command's: the help keyword of the .SS it is in */
    vs_buf text;        /* the entry's words, roff removed */
} man_entry;

/* A .SS of COMMANDS: "Domain Management (help keyword 'domain')". */
typedef struct man_section {
    char *name;         /* NULL when the title names no help keyword */
    char *keyword;
    char *title;        /* as written, for messages */
} man_section;

typedef struct man_page {
    man_entry *e;
    size_t n, cap;
    man_section *s;     /* the subsections of COMMANDS, in page order */
    size_t ns, scap;
    char **groups;      /* the group keywords the help entry lists, in order */
} man_page;

static size_t
man_add(man_page *m, const char *cmd, const char *opt, const char *group)
{
    size_t i;

    for (i = 0; i < m->n; i++) {
        if (strcmp(m->e[i].cmd, cmd) == 0 &&
            ((!opt && !m->e[i].opt) || (opt && m->e[i].opt && strcmp(opt, m->e[i].opt) == 0)))
            return i;
    }
    vs_xgrow(&m->e, &m->cap, m->n, sizeof(*m->e));
    memset(&m->e[m->n], 0, sizeof(*m->e));
    m->e[m->n].cmd = vs_xstrdup(cmd);
    m->e[m->n].opt = vs_xstrdup(opt);
    m->e[m->n].group = vs_xstrdup(group);
    return m->n++;
}

static void
man_free(man_page *m)
{
    size_t i;

    for (i = 0; i < m->n; i++) {
        free(m->e[i].cmd);
        free(m->e[i].opt);
        free(m->e[i].group);
        vs_buf_reset(&m->e[i].text);
    }
    free(m->e);
    for (i = 0; i < m->ns; i++) {
        free(m->s[i].name);
        free(m->s[i].keyword);
        free(m->s[i].title);
    }
    free(m->s);
    vs_strv_free(m->groups);
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

/* Text with roff's escapes resolved as far as reading it needs: fonts and
 * zero-width escapes go, \- and the special characters the page uses become
 * what they print. */
static void
roff_unescape(vs_buf *out, const char *s, size_t len)
{
    static const struct { const char *name, *text; } chars[] = {
        { "em", "-" }, { "lq", "\"" }, { "rq", "\"" }, { "dq", "\"" }, { "aq", "'" },
        { "rs", "\\" }, { "bu", "*" },
    };
    const char *end = s + len;
    size_t i;

    while (s < end) {
        if (*s != '\\' || s + 1 >= end) {
            vs_buf_addc(out, *s++);
            continue;
        }
        s++;
        switch (*s) {
        case 'f':       /* \fB \fI \fR \fP */
            s += s + 1 < end ? 2 : 1;
            break;
        case '(':       /* \(xx */
            for (i = 0; i < sizeof(chars) / sizeof(chars[0]); i++) {
                if (s + 3 <= end && strncmp(s + 1, chars[i].name, 2) == 0) {
                    vs_buf_add(out, chars[i].text);
                    break;
                }
            }
            s += s + 3 <= end ? 3 : 1;
            break;
        case '&':
        case ':':
            s++;
            break;
        case 'e':
            vs_buf_addc(out, '\\');
            s++;
            break;
        default:        /* \- \  \\ ... */
            vs_buf_addc(out, *s++);
            break;
        }
    }
}

/*
 * The words a line shows, appended to out with a blank after them: text as
 * it is; of the font macros (.B, .I, .BR, .RB, .IR, ...) their arguments,
 * joined with blanks (.B, .I) or without (the alternating ones); other
 * requests show nothing.
 */
static void
roff_plain(vs_buf *out, const char *line)
{
    static const char *const spaced[] = { "B", "I", "SM", "SB", NULL };
    static const char *const alternating[] = { "BR", "RB", "IR", "RI", "BI", "IB", NULL };
    const char *p = line;
    bool join_blank = false, known = false;
    size_t i, n;

    if (line[0] != '.' && line[0] != '\'') {
        roff_unescape(out, line, strlen(line));
        vs_buf_addc(out, ' ');
        return;
    }
    n = strcspn(line + 1, " ");
    for (i = 0; spaced[i]; i++)
        if (strlen(spaced[i]) == n && strncmp(line + 1, spaced[i], n) == 0)
            known = join_blank = true;
    for (i = 0; alternating[i]; i++)
        if (strlen(alternating[i]) == n && strncmp(line + 1, alternating[i], n) == 0)
            known = true;
    if (!known)
        return;
    p = line + 1 + n;
    for (;;) {
        const char *arg;
        size_t alen;

        while (*p == ' ')
            p++;
        if (!*p)
            break;
        if (*p == '"') {
            arg = ++p;
            while (*p && *p != '"')
                p++;
            alen = (size_t)(p - arg);
            if (*p)
                p++;
        } else {
            arg = p;
            p += strcspn(p, " ");
            alen = (size_t)(p - arg);
        }
        roff_unescape(out, arg, alen);
        if (join_blank)
            vs_buf_addc(out, ' ');
    }
    vs_buf_addc(out, ' ');
}

/* ".SS Domain Management (help keyword 'domain')" */
static void
man_add_section(man_page *m, const char *line)
{
    vs_buf t = VS_BUF_INIT;
    const char *title = line + 3 + strspn(line + 3, " ");
    const char *k, *q;
    man_section *sec;

    if (*title == '"')
        title++;
    vs_buf_add(&t, title);
    if (t.len && t.data[t.len - 1] == '"')
        t.data[--t.len] = '\0';
    vs_xgrow(&m->s, &m->scap, m->ns, sizeof(*m->s));
    sec = &m->s[m->ns++];
    memset(sec, 0, sizeof(*sec));
    sec->title = vs_buf_steal(&t);
    if ((k = strstr(sec->title, " (help keyword '")) && (q = strchr(k + 16, '\'')) &&
        strcmp(q, "')") == 0) {
        sec->name = vs_xstrndup(sec->title, (size_t)(k - sec->title));
        sec->keyword = vs_xstrndup(k + 16, (size_t)(q - (k + 16)));
    }
}

/*
 * The page's conventions (stated in its header comment): in the COMMANDS
 * section each subsection is a help group, titled "NAME (help keyword
 * 'KEYWORD')"; a command entry starts with a line ".B name" right after
 * ".PP"; each of its options is a ".TP" whose tag line names it as
 * \-\-option; in the entry of help, a ".TP" whose tag is ".B keyword" lists a
 * help group. Every entry's text is kept for the checks of what it says.
 */
static void
man_parse(const char *text, man_page *m)
{
    const char *p = text;
    bool in_cmds = false, after_pp = false, after_tp = false;
    char *cmd = NULL, *group = NULL;
    long cmd_idx = -1, cur = -1;

    m->groups = vs_xcalloc(1, sizeof(*m->groups));
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = vs_xstrndup(p, len);
        bool tag_taken = false;

        if (strncmp(line, ".SH", 3) == 0 && (line[3] == ' ' || line[3] == '\0')) {
            const char *title = line + 3 + strspn(line + 3, " \"");
            in_cmds = strncmp(title, "COMMANDS", 8) == 0;
            free(cmd);
            cmd = NULL;
            cmd_idx = cur = -1;
        } else if (in_cmds && strncmp(line, ".SS", 3) == 0 &&
                   (line[3] == ' ' || line[3] == '\0')) {
            man_add_section(m, line);
            free(group);
            group = vs_xstrdup(m->s[m->ns - 1].keyword);
            free(cmd);
            cmd = NULL;
            cmd_idx = cur = -1;
        } else if (in_cmds && after_pp && strncmp(line, ".B ", 3) == 0) {
            char *name = roff_name(line + 3);

            if (name && strcspn(line + 3, " ") == strlen(line + 3)) {
                free(cmd);
                cmd = name;
                cmd_idx = cur = (long)man_add(m, cmd, NULL, group);
                tag_taken = true;
            } else {
                free(name);
            }
        } else if (in_cmds && after_tp && cmd) {
            const char *dd = strstr(line, "\\-\\-");
            char *opt = dd ? roff_name(dd + 4) : NULL;

            if (opt) {
                cur = (long)man_add(m, cmd, opt, NULL);
            } else if (strcmp(cmd, "help") == 0 && strncmp(line, ".B ", 3) == 0) {
                char *kw = roff_name(line + 3);

                if (kw)
                    vs_strv_push(&m->groups, kw);
                free(kw);
            }
            free(opt);
        }
        if (strcmp(line, ".TP") == 0 || strcmp(line, ".RE") == 0)
            cur = cmd_idx;      /* until a tag names an option */
        if (cur >= 0 && !tag_taken)
            roff_plain(&m->e[cur].text, line);
        after_pp = strcmp(line, ".PP") == 0 || strcmp(line, ".LP") == 0 || strcmp(line, ".P") == 0;
        after_tp = strcmp(line, ".TP") == 0;
        free(line);
        p += len + (nl ? 1 : 0);
    }
    free(cmd);
    free(group);
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

/* What an entry says when help leaves its command or option out. */
#define MAN_HIDDEN_COMMAND "left out of help"
#define MAN_HIDDEN_OPTION "not in help"
/* The help entry's sentence naming the commands it leaves out, up to a '.'. */
#define MAN_HIDDEN_LIST "does not list"

static bool
says(const man_entry *e, const char *phrase)
{
    return e && strstr(vs_buf_str(&e->text), phrase) != NULL;
}

static char *
group_list(void)
{
    const vs_cmd_group *g;
    vs_buf b = VS_BUF_INIT;

    for (g = vs_cmd_groups; g->keyword; g++)
        vs_buf_addf(&b, "%s%s", b.len ? ", " : "", g->keyword);
    return vs_buf_steal(&b);
}

/* The help groups: the help entry's list and the subsections of COMMANDS
 * name the table's groups, in the table's order. */
static void
check_manual_groups(tap *t, const man_page *m)
{
    const vs_cmd_group *g;
    char *want = group_list();
    vs_buf got = VS_BUF_INIT, secs = VS_BUF_INIT;
    size_t ngroups = 0, nlisted = vs_strv_len(m->groups), i;
    bool list_ok, secs_ok;

    for (g = vs_cmd_groups; g->keyword; g++)
        ngroups++;
    list_ok = nlisted == ngroups;
    secs_ok = m->ns == ngroups;
    for (i = 0; i < ngroups; i++) {
        g = &vs_cmd_groups[i];
        if (i >= nlisted || strcmp(m->groups[i], g->keyword) != 0)
            list_ok = false;
        if (i >= m->ns || !m->s[i].keyword || strcmp(m->s[i].keyword, g->keyword) != 0 ||
            strcmp(m->s[i].name, g->name) != 0)
            secs_ok = false;
    }
    for (i = 0; m->groups[i]; i++)
        vs_buf_addf(&got, "%s%s", i ? ", " : "", m->groups[i]);
    for (i = 0; i < m->ns; i++)
        vs_buf_addf(&secs, "%s\"%s\"", i ? ", " : "", m->s[i].title);
    check(t, list_ok, "the help entry of the manual lists the help groups %s (it lists: %s)",
          want, got.len ? vs_buf_str(&got) : "none");
    check(t, secs_ok, "the subsections of COMMANDS are the help groups %s, each titled "
          "\"NAME (help keyword 'KEYWORD')\" (they are: %s)", want,
          secs.len ? vs_buf_str(&secs) : "none");
    vs_buf_reset(&got);
    vs_buf_reset(&secs);
    free(want);
}

/* The commands the help entry says it does not list, against the table's
 * hidden ones. */
static void
check_manual_hidden_list(tap *t, man_page *m)
{
    const man_entry *help = man_find(m, "help", NULL);
    const char *s = help ? strstr(vs_buf_str(&help->text), MAN_HIDDEN_LIST) : NULL;
    const char *end = s ? strchr(s, '.') : NULL;
    vs_buf want = VS_BUF_INIT, got = VS_BUF_INIT;
    const vs_cmd_def *c;

    for (c = vs_commands; c->name; c++)
        if ((c->flags & VS_CF_HIDDEN) && !c->alias_of)
            vs_buf_addf(&want, " %s", c->name);
    if (s) {
        s += strlen(MAN_HIDDEN_LIST);
        if (!end)
            end = s + strlen(s);
        while (s < end) {
            size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-");
            char *word;

            if (n == 0) {
                s++;
                continue;
            }
            word = vs_xstrndup(s, n);
            /* in table order, so that the two lists compare as strings */
            if (vs_cmd_find(word))
                vs_buf_addf(&got, "\n%s", word);
            free(word);
            s += n;
        }
    }
    {
        vs_buf ordered = VS_BUF_INIT;
        char *list = vs_xasprintf("%s\n", vs_buf_str(&got));

        for (c = vs_commands; c->name; c++) {
            char *w = vs_xasprintf("\n%s\n", c->name);

            if (strstr(list, w))
                vs_buf_addf(&ordered, " %s", c->name);
            free(w);
        }
        free(list);
        check(t, strcmp(vs_buf_str(&ordered), vs_buf_str(&want)) == 0,
              "the help entry of the manual says it does not list exactly the hidden "
              "commands:%s (it names:%s)", vs_buf_str(&want),
              ordered.len ? vs_buf_str(&ordered) : " none");
        vs_buf_reset(&ordered);
    }
    vs_buf_reset(&want);
    vs_buf_reset(&got);
}

static void
check_manual(tap *t, const char *path)
{
    man_page m;
    const vs_cmd_def *c;
    char *text = NULL;
    size_t len, i;
    vs_error err;

    memset(&m, 0, sizeof(m));
    vs_error_clear(&err);
    if (vs_file_read(path, 4 * 1024 * 1024, &text, &len, &err) < 0) {
        check(t, false, "read the manual: %s", err.msg);
        return;
    }
    man_parse(text, &m);
    free(text);
    check(t, m.n > 0, "the manual %s has command entries", path);
    check_manual_groups(t, &m);
    check_manual_hidden_list(t, &m);

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
        if (e) {
            check(t, e->group && strcmp(e->group, c->group) == 0,
                  "the manual documents %s under help keyword '%s' (not '%s')", c->name,
                  c->group, e->group ? e->group : "none");
            if (hidden)
                check(t, says(e, MAN_HIDDEN_COMMAND), "the manual says that %s is %s",
                      c->name, MAN_HIDDEN_COMMAND);
            else
                check(t, !says(e, MAN_HIDDEN_COMMAND), "the manual does not say that %s is %s",
                      c->name, MAN_HIDDEN_COMMAND);
        }
        for (o = c->opts; o && o->name; o++) {
            man_entry *oe = man_find(&m, c->name, o->name);

            if (oe) {
                oe->matched = true;
                if (o->flags & VS_OF_HIDDEN)
                    check(t, says(oe, MAN_HIDDEN_OPTION), "the manual says that %s --%s is %s",
                          c->name, o->name, MAN_HIDDEN_OPTION);
                else
                    check(t, !says(oe, MAN_HIDDEN_OPTION),
                          "the manual does not say that %s --%s is %s", c->name, o->name,
                          MAN_HIDDEN_OPTION);
            }
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
