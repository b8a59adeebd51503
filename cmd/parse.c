#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "parse.h"

/* ---------------------------------------------------------------- words -- */

static void
push_cmd(vs_word_lists *w, char **words)
{
    vs_xgrow(&w->cmds, &w->cap, w->n, sizeof(*w->cmds));
    w->cmds[w->n++] = words;
}

void
vs_word_lists_clear(vs_word_lists *w)
{
    size_t i;

    for (i = 0; i < w->n; i++)
        vs_strv_free(w->cmds[i]);
    free(w->cmds);
    w->cmds = NULL;
    w->n = w->cap = 0;
}

int
vs_split_string(const char *s, vs_word_lists *out, vs_error *err)
{
    vs_word_lists res = { NULL, 0, 0 };
    char **cur = NULL;
    char *word = vs_xmalloc(strlen(s) + 1);
    const char *p = s;

    for (;;) {
        bool sq = false, dq = false;
        size_t n = 0;

        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == ';' || *p == '\n' || *p == '#') {
            /* '#' only starts a comment at the start of a word; the comment
             * ends the command like the newline it runs to. */
            if (*p == '#') {
                while (*p && *p != '\n')
                    p++;
            }
            if (cur)
                push_cmd(&res, cur);
            cur = NULL;
            if (*p == '\0')
                break;
            p++;
            continue;
        }
        while (*p) {
            if (!sq && !dq && (*p == ' ' || *p == '\t' || *p == '\n' || *p == ';'))
                break;
            if (!dq && *p == '\'') {
                sq = !sq;
                p++;
                continue;
            }
            if (!sq && *p == '"') {
                dq = !dq;
                p++;
                continue;
            }
            if (!sq && *p == '\\') {
                p++;
                if (*p == '\0') {
                    vs_error_set(err, VS_ERR_PLAIN, "dangling \\");
                    goto fail;
                }
            }
            word[n++] = *p++;
        }
        if (dq || sq) {
            vs_error_set(err, VS_ERR_PLAIN, "missing %s", dq ? "\"" : "'");
            goto fail;
        }
        word[n] = '\0';
        if (!cur) {
            cur = vs_xcalloc(1, sizeof(*cur));
        }
        vs_strv_push(&cur, word);
    }
    free(word);
    *out = res;
    return 0;

 fail:
    free(word);
    vs_strv_free(cur);
    vs_word_lists_clear(&res);
    return -1;
}

/* ---------------------------------------------------------------- args -- */

vs_args *
vs_args_new(const vs_cmd_def *def)
{
    vs_args *a = vs_xcalloc(1, sizeof(*a));
    size_t n = 0;

    while (def->opts && def->opts[n].name)
        n++;
    a->def = def;
    a->nopts = n;
    a->v = vs_xcalloc(n ? n : 1, sizeof(*a->v));
    return a;
}

void
vs_args_free(vs_args *a)
{
    size_t i;

    if (!a)
        return;
    for (i = 0; i < a->nopts; i++) {
        free(a->v[i].str);
        vs_strv_free(a->v[i].argv);
        free(a->v[i].argv_pos);
    }
    free(a->v);
    free(a);
}

int
vs_opt_index(const vs_cmd_def *def, const char *name)
{
    int i;

    for (i = 0; def->opts && def->opts[i].name; i++) {
        if (strcmp(def->opts[i].name, name) == 0)
            return i;
    }
    return -1;
}

/* A run function asking for an option its command does not have is a bug in
 * the table or the run function; fail loudly so tests catch it. */
static const vs_arg_val *
lookup(const vs_args *a, const char *name, vs_opt_type type)
{
    int i = vs_opt_index(a->def, name);

    if (i < 0 || a->def->opts[i].type != type) {
        fprintf(stderr, "vsnap: internal error: command '%s' has no %s option '%s'\n",
                a->def->name, type == VS_OT_BOOL ? "boolean" : "such", name);
        abort();
    }
    return &a->v[i];
}

bool
vs_arg_bool(const vs_args *a, const char *name)
{
    return lookup(a, name, VS_OT_BOOL)->set;
}

const char *
vs_arg_str(const vs_args *a, const char *name)
{
    int i = vs_opt_index(a->def, name);

    if (i < 0 || (a->def->opts[i].type != VS_OT_STRING && a->def->opts[i].type != VS_OT_INT)) {
        fprintf(stderr, "vsnap: internal error: command '%s' has no string option '%s'\n",
                a->def->name, name);
        abort();
    }
    return a->v[i].set ? a->v[i].str : NULL;
}

int
vs_arg_int(const vs_args *a, const char *name, int *value, vs_error *err)
{
    const vs_arg_val *v = lookup(a, name, VS_OT_INT);
    char *end;
    long l;

    if (!v->set)
        return 0;
    errno = 0;
    l = strtol(v->str, &end, 10);
    if (errno || end == v->str || *end || l < INT_MIN || l > INT_MAX) {
        return vs_error_set(err, VS_ERR_PLAIN,
                            "Numeric value '%s' for <%s> option is malformed or out of range",
                            v->str, name);
    }
    *value = (int)l;
    return 1;
}

char *const *
vs_arg_argv(const vs_args *a, const char *name)
{
    const vs_arg_val *v = lookup(a, name, VS_OT_ARGV);

    return v->set ? v->argv : NULL;
}

/* ------------------------------------------------------------- command -- */

static void
argv_add(vs_arg_val *v, const char *s, size_t pos)
{
    vs_strv_push(&v->argv, s);
    v->argv_pos = vs_xreallocarray(v->argv_pos, v->nargv + 1, sizeof(*v->argv_pos));
    v->argv_pos[v->nargv++] = pos;
    v->set = true;
}

/* Named and positional ARGV values were collected in two passes; put them
 * back in the order the user wrote them. */
static void
argv_sort(vs_arg_val *v)
{
    size_t i, j;

    for (i = 1; i < v->nargv; i++) {
        for (j = i; j > 0 && v->argv_pos[j - 1] > v->argv_pos[j]; j--) {
            size_t tp = v->argv_pos[j];
            char *ts = v->argv[j];
            v->argv_pos[j] = v->argv_pos[j - 1];
            v->argv[j] = v->argv[j - 1];
            v->argv_pos[j - 1] = tp;
            v->argv[j - 1] = ts;
        }
    }
}

static bool
is_option_word(const char *w)
{
    return w[0] == '-' && w[1] == '-' && isalnum((unsigned char)w[2]);
}

static int
make_help_call(const char *name, const vs_cmd_def **def, vs_args **out, vs_error *err)
{
    const vs_cmd_def *help = vs_cmd_find("help");
    vs_args *a;
    int i;

    if (!help)
        return vs_error_set(err, VS_ERR_INTERNAL, "no help command");
    a = vs_args_new(help);
    i = vs_opt_index(help, "command");
    if (i >= 0) {
        a->v[i].set = true;
        a->v[i].str = vs_xstrdup(name);
    }
    *def = help;
    *out = a;
    return 0;
}

int
vs_parse_command(char *const words[], size_t nwords, const vs_cmd_def **defp,
                 vs_args **out, vs_error *err)
{
    const vs_cmd_def *def;
    vs_args *a;
    size_t *pos = NULL, npos = 0;
    bool data_only = false;
    size_t i;
    int next = 0;

    if (nwords == 0)
        return vs_error_set(err, VS_ERR_PLAIN, "missing command");
    def = vs_cmd_find(words[0]);
    if (!def)
        return vs_error_set(err, VS_ERR_PLAIN, "unknown command: '%s'", words[0]);
    a = vs_args_new(def);
    pos = vs_xcalloc(nwords, sizeof(*pos));

    /* Named options first, so positional words fill whatever is left in
     * table order no matter where the named ones were written (A.2). */
    for (i = 1; i < nwords; i++) {
        const char *w = words[i];
        const vs_opt_def *o;
        const char *eq, *value;
        char *name;
        int idx;

        if (data_only || !(w[0] == '-' && w[1] == '-')) {
            pos[npos++] = i;
            continue;
        }
        if (w[2] == '\0') {
            data_only = true;
            continue;
        }
        if (!is_option_word(w)) {
            pos[npos++] = i;
            continue;
        }
        eq = strchr(w, '=');
        name = eq ? vs_xstrndup(w + 2, (size_t)(eq - w - 2)) : vs_xstrdup(w + 2);
        idx = vs_opt_index(def, name);
        if (idx < 0) {
            if (strcmp(name, "help") == 0) {
                free(name);
                free(pos);
                vs_args_free(a);
                return make_help_call(def->name, defp, out, err);
            }
            vs_error_set(err, VS_ERR_PLAIN, "command '%s' doesn't support option --%s",
                         def->name, name);
            free(name);
            goto fail;
        }
        free(name);
        o = &def->opts[idx];
        if (o->type != VS_OT_ARGV && a->v[idx].set) {
            vs_error_set(err, VS_ERR_PLAIN, "option --%s already seen", o->name);
            goto fail;
        }
        if (o->type == VS_OT_BOOL) {
            if (eq) {
                vs_error_set(err, VS_ERR_PLAIN, "invalid '=' after option --%s", o->name);
                goto fail;
            }
            a->v[idx].set = true;
            continue;
        }
        if (eq) {
            value = eq + 1;
        } else if (i + 1 < nwords) {
            value = words[++i];
        } else {
            vs_error_set(err, VS_ERR_PLAIN, "expected syntax: --%s <%s>", o->name,
                         o->type == VS_OT_INT ? "number" : "string");
            goto fail;
        }
        if (o->type == VS_OT_ARGV) {
            argv_add(&a->v[idx], value, i);
        } else {
            a->v[idx].set = true;
            a->v[idx].str = vs_xstrdup(value);
        }
    }

    for (i = 0; i < npos; i++) {
        const char *w = words[pos[i]];

        while (def->opts && def->opts[next].name) {
            const vs_opt_def *o = &def->opts[next];
            if ((o->flags & VS_OF_POSITIONAL) &&
                (o->type == VS_OT_ARGV || !a->v[next].set))
                break;
            next++;
        }
        if (!def->opts || !def->opts[next].name) {
            vs_error_set(err, VS_ERR_PLAIN, "unexpected data '%s'", w);
            goto fail;
        }
        if (def->opts[next].type == VS_OT_ARGV) {
            argv_add(&a->v[next], w, pos[i]);
        } else {
            a->v[next].set = true;
            a->v[next].str = vs_xstrdup(w);
            next++;
        }
    }

    for (i = 0; i < a->nopts; i++) {
        const vs_opt_def *o = &def->opts[i];
        if (o->type == VS_OT_ARGV)
            argv_sort(&a->v[i]);
        if ((o->flags & VS_OF_REQUIRED) && !a->v[i].set) {
            if (o->flags & VS_OF_POSITIONAL)
                vs_error_set(err, VS_ERR_PLAIN, "command '%s' requires <%s> option",
                             def->name, o->name);
            else
                vs_error_set(err, VS_ERR_PLAIN, "command '%s' requires --%s option",
                             def->name, o->name);
            goto fail;
        }
    }
    free(pos);
    *defp = def;
    *out = a;
    return 0;

 fail:
    free(pos);
    vs_args_free(a);
    return -1;
}

/* ---------------------------------------------------------------- lists -- */

static void
call_push(vs_call_list *l, const vs_cmd_def *def, vs_args *a)
{
    vs_xgrow(&l->calls, &l->cap, l->n, sizeof(*l->calls));
    l->calls[l->n].def = def;
    l->calls[l->n].args = a;
    l->n++;
}

void
vs_call_list_clear(vs_call_list *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        vs_args_free(l->calls[i].args);
    free(l->calls);
    l->calls = NULL;
    l->n = l->cap = 0;
}

int
vs_parse_string(const char *s, vs_call_list *list, vs_error *err)
{
    vs_word_lists w = { NULL, 0, 0 };
    vs_call_list tmp = { NULL, 0, 0 };
    size_t i;

    if (vs_split_string(s, &w, err) < 0)
        return -1;
    for (i = 0; i < w.n; i++) {
        const vs_cmd_def *def;
        vs_args *a;

        if (vs_parse_command(w.cmds[i], vs_strv_len(w.cmds[i]), &def, &a, err) < 0) {
            vs_call_list_clear(&tmp);
            vs_word_lists_clear(&w);
            return -1;
        }
        call_push(&tmp, def, a);
    }
    vs_word_lists_clear(&w);
    for (i = 0; i < tmp.n; i++)
        call_push(list, tmp.calls[i].def, tmp.calls[i].args);
    free(tmp.calls);
    return 0;
}

int
vs_parse_argv(char *const words[], size_t nwords, vs_call_list *list, vs_error *err)
{
    const vs_cmd_def *def;
    vs_args *a;

    if (vs_parse_command(words, nwords, &def, &a, err) < 0)
        return -1;
    call_push(list, def, a);
    return 0;
}
