/* The completion engine: what Tab offers, from the command table (complete.h). */
#include "config.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "complete.h"
#include "mem.h"
#include "parse.h"
#include "path.h"
#include "store.h"

/* ------------------------------------------------------------ lists -- */

/* vs_strv_push walks the vector on every push; a domain can have tens of
 * thousands of snapshots, so candidates grow with a capacity. */
typedef struct cand_list {
    char **v;
    size_t n, cap;
} cand_list;

static void
cand_take(cand_list *l, char *s)
{
    vs_xgrow(&l->v, &l->cap, l->n + 1, sizeof(*l->v));
    l->v[l->n++] = s;
    l->v[l->n] = NULL;
}

static bool
has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Add head+s when it extends `cur` (the word typed so far). */
static void
cand_add2(cand_list *l, const char *cur, const char *head, const char *s)
{
    size_t hl = strlen(head), cl = strlen(cur);
    size_t common = hl < cl ? hl : cl;

    if (strncmp(head, cur, common) != 0)
        return;
    if (cl > hl && !has_prefix(s, cur + hl))
        return;
    cand_take(l, vs_xasprintf("%s%s", head, s));
}

static void
cand_add(cand_list *l, const char *cur, const char *s)
{
    if (has_prefix(s, cur))
        cand_take(l, vs_xstrdup(s));
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort l->v[first..], unless it already is: a linear check costs little
 * next to sorting ten thousand names again. */
static void
cand_sort(cand_list *l, size_t first)
{
    size_t i;

    for (i = first + 1; i < l->n; i++) {
        if (strcmp(l->v[i - 1], l->v[i]) > 0) {
            qsort(l->v + first, l->n - first, sizeof(*l->v), cmp_str);
            return;
        }
    }
}

/* ------------------------------------------------------------ words -- */

/* The command being typed, split as the shell grammar splits it. */
typedef struct line_words {
    char **w;           /* complete words before the cursor; w[0] the command */
    size_t n, cap;
    char *cur;          /* unquoted text of the word being typed */
    char quote;         /* its open quote, 0 if none */
    size_t pre_len;     /* bytes of cur before that quote */
    bool skip;          /* the cursor is in a comment */
} line_words;

static void
words_push(line_words *lw, char *s)
{
    vs_xgrow(&lw->w, &lw->cap, lw->n + 1, sizeof(*lw->w));
    lw->w[lw->n++] = s;
}

static void
words_reset(line_words *lw)
{
    size_t i;

    for (i = 0; i < lw->n; i++)
        free(lw->w[i]);
    lw->n = 0;
}

static void
words_free(line_words *lw)
{
    words_reset(lw);
    free(lw->w);
    free(lw->cur);
}

static bool
is_break(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == ';';
}

/*
 * One word from *pp, unquoted as vs_split_string does ('...' literal, "..."
 * with backslash escapes, a backslash outside quotes escapes the next byte).
 * Unlike the parser it accepts an unterminated quote and a trailing
 * backslash: the word being typed is unfinished by nature. With `split`,
 * unquoted blanks and ';' end the word.
 */
static char *
scan_word(const char **pp, bool split, char *quote, size_t *pre_len)
{
    const char *p = *pp;
    vs_buf b = VS_BUF_INIT;
    bool sq = false, dq = false;
    size_t qpos = 0;

    while (*p) {
        char c = *p;

        if (split && !sq && !dq && is_break(c))
            break;
        if (!dq && c == '\'') {
            sq = !sq;
            qpos = b.len;
            p++;
            continue;
        }
        if (!sq && c == '"') {
            dq = !dq;
            qpos = b.len;
            p++;
            continue;
        }
        if (!sq && c == '\\') {
            if (p[1] == '\0') {
                p++;
                break;
            }
            c = *++p;
        }
        vs_buf_addc(&b, c);
        p++;
    }
    *pp = p;
    *quote = sq ? '\'' : dq ? '"' : '\0';
    *pre_len = *quote ? qpos : 0;
    return vs_buf_steal(&b);
}

static void
split_line(const char *line, line_words *lw)
{
    const char *p = line;

    for (;;) {
        char *w;
        char q;
        size_t pre;

        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0') {
            lw->cur = vs_xstrdup("");
            return;
        }
        if (*p == ';' || *p == '\n') {
            words_reset(lw);
            p++;
            continue;
        }
        if (*p == '#') {
            while (*p && *p != '\n')
                p++;
            if (*p == '\0') {
                lw->skip = true;
                lw->cur = vs_xstrdup("");
                return;
            }
            continue;
        }
        w = scan_word(&p, true, &q, &pre);
        if (*p == '\0') {
            lw->cur = w;
            lw->quote = q;
            lw->pre_len = pre;
            return;
        }
        words_push(lw, w);
    }
}

static void
split_words(char *const words[], size_t n, line_words *lw)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const char *p = words[i];
        char q;
        size_t pre;
        char *w = scan_word(&p, false, &q, &pre);

        if (i + 1 < n) {
            words_push(lw, w);
        } else {
            lw->cur = w;
            lw->quote = q;
            lw->pre_len = pre;
        }
    }
    if (!lw->cur)
        lw->cur = vs_xstrdup("");
}

/* ------------------------------------------------------------ store -- */

/*
 * Completion must never wait and never write behind a writer's back: try a
 * shared lock once; when a writer holds the domain, read without a lock and
 * leave the index cache alone (snapshot files are replaced atomically, so a
 * lock-free read sees whole files).
 */
static vs_dom *
open_for_reading(vs_store *st, const char *name)
{
    int wait = st->lock_wait;
    vs_error err;
    vs_dom *d;

    if (vs_name_check("domain", name, NULL) < 0)
        return NULL;
    vs_error_clear(&err);
    st->lock_wait = 0;
    d = vs_dom_open(st, name, VS_LOCK_SHARED, &err);
    st->lock_wait = wait;
    if (!d && err.code != VS_ERR_NO_DOMAIN)
        d = vs_dom_open(st, name, VS_LOCK_NONE, NULL);
    return d;
}

static void
close_after_reading(vs_dom *d)
{
    if (d && d->lock_mode == VS_LOCK_NONE)
        d->index_dirty = false;
    vs_dom_close(d);
}

static size_t
count_snapshots(vs_store *st, const char *name)
{
    vs_dom *d = open_for_reading(st, name);
    vs_snap_tree *t;
    size_t n = 0;

    if (d && (t = vs_dom_tree(d, NULL)))
        n = t->n;
    close_after_reading(d);
    return n;
}

/* ------------------------------------------------------- completers -- */

typedef struct ctx {
    vs_store *st;
    const vs_cmd_def *cmd;
    const char *domain;     /* the domain named earlier on the line, or NULL */
    cand_list *out;
} ctx;

static void
complete_commands(cand_list *out, const char *cur)
{
    const vs_cmd_def *c;

    for (c = vs_commands; c->name; c++) {
        if (!(c->flags & VS_CF_HIDDEN) && !c->alias_of)
            cand_add(out, cur, c->name);
    }
}

static void
complete_domains(ctx *x, const char *cur)
{
    char **names = NULL;
    size_t i;
    /* virsh offers a snapshot command only the domains that have snapshots;
     * the create commands are how a domain gets its first one. */
    bool need_snapshots = x->cmd && x->cmd->group && strcmp(x->cmd->group, "snapshot") == 0 &&
                          !has_prefix(x->cmd->name, "snapshot-create");

    if (vs_store_list_domains(x->st, &names, NULL) < 0)
        return;
    for (i = 0; names && names[i]; i++) {
        if (!has_prefix(names[i], cur))
            continue;
        if (need_snapshots && count_snapshots(x->st, names[i]) == 0)
            continue;
        cand_take(x->out, vs_xstrdup(names[i]));
    }
    vs_strv_free(names);
}

static void
complete_snapshots(ctx *x, const char *cur)
{
    char **names;
    vs_dom *d;
    size_t i, first = x->out->n;

    if (!x->domain || !(d = open_for_reading(x->st, x->domain)))
        return;
    /* only the names with the prefix: the index need not be read whole */
    if (vs_dom_snapshot_names(d, cur, &names, NULL) == 0) {
        for (i = 0; names[i]; i++)
            cand_add(x->out, cur, names[i]);
        vs_strv_free(names);
    }
    close_after_reading(d);
    cand_sort(x->out, first);
}

/* Paths starting with `cur`, with head prepended; directories end in '/'.
 * With dirs_only, only directories. */
static void
complete_paths(cand_list *out, const char *head, const char *cur, bool dirs_only)
{
    const char *slash = strrchr(cur, '/');
    char *dir = slash ? vs_xstrndup(cur, (size_t)(slash - cur + 1)) : vs_xstrdup("");
    const char *base = slash ? slash + 1 : cur;
    size_t first = out->n;
    struct dirent *de;
    DIR *dh;

    if (!(dh = opendir(*dir ? dir : "."))) {
        free(dir);
        return;
    }
    while ((de = readdir(dh))) {
        struct stat sb;
        char *path;
        bool isdir;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (de->d_name[0] == '.' && base[0] != '.')
            continue;
        if (!has_prefix(de->d_name, base))
            continue;
        path = vs_xasprintf("%s%s", dir, de->d_name);
        isdir = stat(*dir ? path : de->d_name, &sb) == 0 && S_ISDIR(sb.st_mode);
        if (isdir || !dirs_only)
            cand_take(out, vs_xasprintf("%s%s%s", head, path, isdir ? "/" : ""));
        free(path);
    }
    closedir(dh);
    free(dir);
    cand_sort(out, first);
}

static void
complete_files(cand_list *out, const char *head, const char *cur)
{
    complete_paths(out, head, cur, false);
}

static const char *const disk_snapshot_values[] = { "internal", "external", "no", "manual", NULL };
static const char *const mem_snapshot_values[] = { "no", "internal", "external", NULL };
static const char *const driver_values[] = { "qcow2", "qed", "raw", NULL };
static const char *const stype_values[] = { "file", "block", "network", NULL };

typedef struct spec_key {
    const char *key;                /* "snapshot" */
    const char *const *values;      /* NULL: a file name */
} spec_key;

static const spec_key diskspec_keys[] = {
    { "snapshot", disk_snapshot_values },
    { "driver", driver_values },
    { "stype", stype_values },
    { "file", NULL },
    { NULL, NULL },
};

static const spec_key memspec_keys[] = {
    { "file", NULL },
    { "snapshot", mem_snapshot_values },
    { NULL, NULL },
};

/* Does the comma-separated spec `done` (the fields before the one being
 * typed) already have key=? */
static bool
spec_has_key(const char *done, size_t len, const char *key)
{
    size_t kl = strlen(key);
    const char *p = done, *end = done + len;

    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *fend = comma ? comma : end;

        if ((size_t)(fend - p) > kl && strncmp(p, key, kl) == 0 && p[kl] == '=')
            return true;
        p = fend + 1;
    }
    return false;
}

static void
complete_disk_targets(ctx *x, const char *head, const char *field)
{
    vs_domain_def *def;
    vs_dom *d;
    size_t i;

    if (!x->domain || !(d = open_for_reading(x->st, x->domain)))
        return;
    if ((def = vs_dom_def(d, NULL))) {
        for (i = 0; i < def->ndisks; i++) {
            if (def->disks[i].target && has_prefix(def->disks[i].target, field))
                cand_take(x->out, vs_xasprintf("%s%s", head, def->disks[i].target));
        }
    }
    close_after_reading(d);
}

/*
 * --diskspec disk[,snapshot=type][,driver=type][,stype=type][,file=name] and
 * --memspec [file=]name[,snapshot=type]: the field after the last comma is
 * completed.
 */
static void
complete_spec(ctx *x, const char *spec, bool disk)
{
    const spec_key *keys = disk ? diskspec_keys : memspec_keys;
    const char *comma = strrchr(spec, ',');
    size_t done_len = comma ? (size_t)(comma - spec) : 0;
    const char *field = comma ? comma + 1 : spec;
    char *head = vs_xstrndup(spec, (size_t)(field - spec));
    const char *eq = strchr(field, '=');
    const spec_key *k;

    if (disk && !comma) {
        /* The first field names the disk. */
        complete_disk_targets(x, head, field);
        goto out;
    }
    if (eq) {
        size_t kl = (size_t)(eq - field);

        for (k = keys; k->key; k++) {
            char *khead;
            size_t i;

            if (strlen(k->key) != kl || strncmp(k->key, field, kl) != 0)
                continue;
            khead = vs_xasprintf("%s%s=", head, k->key);
            if (!k->values) {
                complete_files(x->out, khead, eq + 1);
            } else {
                for (i = 0; k->values[i]; i++) {
                    if (has_prefix(k->values[i], eq + 1))
                        cand_take(x->out, vs_xasprintf("%s%s", khead, k->values[i]));
                }
            }
            free(khead);
        }
        goto out;
    }
    if (!disk && !comma && field[0] == '/') {
        /* memspec's file may be given bare as an absolute path. */
        complete_files(x->out, head, field);
        goto out;
    }
    for (k = keys; k->key; k++) {
        char *kw;

        if (spec_has_key(spec, done_len, k->key))
            continue;
        kw = vs_xasprintf("%s=", k->key);
        if (has_prefix(kw, field))
            cand_take(x->out, vs_xasprintf("%s%s", head, kw));
        free(kw);
    }
 out:
    free(head);
}

static void
complete_help_topics(cand_list *out, const char *cur)
{
    const vs_cmd_group *g;

    complete_commands(out, cur);
    for (g = vs_cmd_groups; g->keyword; g++)
        cand_add(out, cur, g->keyword);
}

static void
run_completer(ctx *x, vs_completer completer, const char *cur)
{
    switch (completer) {
    case VS_COMPLETE_NONE:
        break;
    case VS_COMPLETE_DOMAIN:
        complete_domains(x, cur);
        break;
    case VS_COMPLETE_SNAPSHOT:
        complete_snapshots(x, cur);
        break;
    case VS_COMPLETE_FILE:
        complete_files(x->out, "", cur);
        break;
    case VS_COMPLETE_DIR:
        complete_paths(x->out, "", cur, true);
        break;
    case VS_COMPLETE_DISKSPEC:
        complete_spec(x, cur, true);
        break;
    case VS_COMPLETE_MEMSPEC:
        complete_spec(x, cur, false);
        break;
    case VS_COMPLETE_COMMAND:
        complete_help_topics(x->out, cur);
        break;
    }
}

/* Values of option o; `head` precedes the value in the word ("--opt="). */
static void
complete_value(ctx *x, const vs_opt_def *o, const char *head, const char *cur)
{
    cand_list tmp = { NULL, 0, 0 };
    cand_list *out = x->out;
    size_t i;

    if (!*head) {
        run_completer(x, o->completer, cur);
        return;
    }
    x->out = &tmp;
    run_completer(x, o->completer, cur);
    x->out = out;
    for (i = 0; i < tmp.n; i++) {
        cand_take(out, vs_xasprintf("%s%s", head, tmp.v[i]));
        free(tmp.v[i]);
    }
    free(tmp.v);
}

static void
complete_options(ctx *x, const bool *given, const char *cur)
{
    const vs_opt_def *o;
    size_t i;

    for (i = 0, o = x->cmd->opts; o && o->name; o++, i++) {
        if ((o->flags & VS_OF_HIDDEN) || (given[i] && o->type != VS_OT_ARGV))
            continue;
        cand_add2(x->out, cur, "--", o->name);
    }
}

/* The next option a bare word fills, as vs_parse_command assigns them: in
 * table order from *next, skipping those already set; an ARGV one takes all
 * the rest. NULL when no positional option is left. */
static const vs_opt_def *
next_positional(const vs_cmd_def *cmd, const bool *given, size_t *next)
{
    while (cmd->opts && cmd->opts[*next].name) {
        const vs_opt_def *o = &cmd->opts[*next];

        if ((o->flags & VS_OF_POSITIONAL) && (o->type == VS_OT_ARGV || !given[*next]))
            return o;
        (*next)++;
    }
    return NULL;
}

static void
complete_args(vs_store *st, const line_words *lw, cand_list *out)
{
    const char *cur = lw->cur;
    const vs_cmd_def *cmd = vs_cmd_find(lw->w[0]);
    const char **bare;
    const vs_opt_def *slot;
    const char *domain = NULL;
    size_t nopts = 0, nbare = 0, next = 0, i;
    bool data_only = false;
    int pending = -1, dom_idx;
    bool *given;
    ctx x;

    if (!cmd)
        return;
    while (cmd->opts && cmd->opts[nopts].name)
        nopts++;
    given = vs_xcalloc(nopts + 1, sizeof(*given));
    bare = vs_xcalloc(lw->n, sizeof(*bare));
    dom_idx = vs_opt_index(cmd, "domain");

    /* Named options first, then bare words into the positional options left,
     * exactly as the parser will read the finished line. */
    for (i = 1; i < lw->n; i++) {
        const char *w = lw->w[i];
        const char *eq;
        char *name;
        int idx;

        if (pending >= 0) {
            if (pending == dom_idx)
                domain = w;
            pending = -1;
            continue;
        }
        if (!data_only && strcmp(w, "--") == 0) {
            data_only = true;
            continue;
        }
        if (data_only || !(w[0] == '-' && w[1] == '-' && w[2])) {
            bare[nbare++] = w;
            continue;
        }
        eq = strchr(w, '=');
        name = eq ? vs_xstrndup(w + 2, (size_t)(eq - w - 2)) : vs_xstrdup(w + 2);
        idx = vs_opt_index(cmd, name);
        free(name);
        if (idx < 0)
            continue;
        given[idx] = true;
        if (eq) {
            if (idx == dom_idx)
                domain = eq + 1;
        } else if (cmd->opts[idx].type != VS_OT_BOOL) {
            pending = idx;
        }
    }
    for (i = 0; i < nbare; i++) {
        if (!(slot = next_positional(cmd, given, &next)))
            break;
        if (slot->type != VS_OT_ARGV) {
            if ((int)next == dom_idx)
                domain = bare[i];
            given[next++] = true;
        }
    }

    x.st = st;
    x.cmd = cmd;
    x.domain = domain;
    x.out = out;
    if (pending >= 0) {
        /* The word is the value of the option before it. */
        complete_value(&x, &cmd->opts[pending], "", cur);
    } else if (!data_only && cur[0] == '-' && cur[1] == '-' && strchr(cur, '=')) {
        const char *eq = strchr(cur, '=');
        char *name = vs_xstrndup(cur + 2, (size_t)(eq - cur - 2));
        int idx = vs_opt_index(cmd, name);

        if (idx >= 0 && cmd->opts[idx].type != VS_OT_BOOL) {
            char *head = vs_xstrndup(cur, (size_t)(eq - cur + 1));
            complete_value(&x, &cmd->opts[idx], head, eq + 1);
            free(head);
        }
        free(name);
    } else {
        /* A bare word fills the next positional option; an empty word may
         * also start an option. */
        if (!(cur[0] == '-' && cur[1] == '-' && !data_only) &&
            (slot = next_positional(cmd, given, &next)))
            complete_value(&x, slot, "", cur);
        if (!data_only && (cur[0] == '\0' || cur[0] == '-'))
            complete_options(&x, given, cur);
    }
    free(bare);
    free(given);
}

/* ------------------------------------------------------------ output -- */

/* Characters special to vsnap's grammar or to bash's: escaped in an
 * unquoted word so that it reads back as the same word in either. */
static const char SPECIAL[] = " \t\n\\'\"`$;&|<>()*?[]{}!#";

static bool
needs_escape(const bool *table, char c, size_t pos)
{
    if (c == '~')
        return pos == 0;
    return table[(unsigned char)c];
}

static char *
format_candidate(const char *c, const line_words *lw)
{
    vs_buf b = VS_BUF_INIT;
    size_t i;

    if (!lw->quote) {
        static bool table[256];
        static bool ready;

        if (!ready) {
            for (i = 0; SPECIAL[i]; i++)
                table[(unsigned char)SPECIAL[i]] = true;
            ready = true;
        }
        for (i = 0; c[i]; i++) {
            if (needs_escape(table, c[i], i))
                vs_buf_addc(&b, '\\');
            vs_buf_addc(&b, c[i]);
        }
        return vs_buf_steal(&b);
    }
    /* After an open quote: what follows it, quoted for that quote. */
    for (c += lw->pre_len; *c; c++) {
        if (lw->quote == '\'' && *c == '\'')
            vs_buf_add(&b, "'\\''");
        else if (lw->quote == '"' && strchr("\"\\$`", *c))
            vs_buf_addc(&b, '\\'), vs_buf_addc(&b, *c);
        else
            vs_buf_addc(&b, *c);
    }
    return vs_buf_steal(&b);
}

static void
complete(vs_store *st, line_words *lw, vs_completion *out)
{
    cand_list l = { NULL, 0, 0 };
    size_t i;

    memset(out, 0, sizeof(*out));
    if (!lw->skip) {
        if (lw->n == 0)
            complete_commands(&l, lw->cur);
        else
            complete_args(st, lw, &l);
    }
    out->quote = lw->quote;
    out->cand = vs_xcalloc(l.n + 1, sizeof(*out->cand));
    for (i = 0; i < l.n; i++) {
        /* Every completer filters by the word typed; the quote offset
         * relies on it. */
        if (has_prefix(l.v[i], lw->cur))
            out->cand[out->n++] = format_candidate(l.v[i], lw);
        free(l.v[i]);
    }
    free(l.v);
    if (out->n == 1) {
        size_t len = strlen(out->cand[0]);
        out->no_space = len > 0 && (out->cand[0][len - 1] == '/' || out->cand[0][len - 1] == '=');
    }
}

void
vs_complete_line(vs_store *st, const char *line, vs_completion *out)
{
    line_words lw;

    memset(&lw, 0, sizeof(lw));
    split_line(line, &lw);
    complete(st, &lw, out);
    words_free(&lw);
}

void
vs_complete_words(vs_store *st, char *const words[], size_t n, vs_completion *out)
{
    line_words lw;

    memset(&lw, 0, sizeof(lw));
    split_words(words, n, &lw);
    complete(st, &lw, out);
    words_free(&lw);
}

void
vs_completion_clear(vs_completion *c)
{
    size_t i;

    for (i = 0; c->cand && i < c->n; i++)
        free(c->cand[i]);
    free(c->cand);
    memset(c, 0, sizeof(*c));
}

/* `vsnap complete -- WORDS...`: the candidates, one a line (bash's helper). */
int
cmd_complete(vs_ctl *ctl, const vs_args *a)
{
    char *const *words = vs_arg_argv(a, "string");
    vs_completion c;
    size_t i;

    vs_buf b = VS_BUF_INIT;

    vs_complete_words(ctl->store, words, words ? vs_strv_len(words) : 0, &c);
    for (i = 0; i < c.n; i++) {
        vs_buf_add(&b, c.cand[i]);
        vs_buf_addc(&b, '\n');
    }
    /* One write: bash waits for all of it anyway. */
    vs_out(ctl, "%s", vs_buf_str(&b));
    vs_buf_reset(&b);
    vs_completion_clear(&c);
    return 0;
}
