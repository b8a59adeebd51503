/* The store executor: the metadata steps, through the store (store.h), each
 * one atomic file write or removal. Undo puts back the value the step
 * recorded, but only while the file still holds what the step wrote. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "domain_def.h"
#include "exec.h"
#include "mem.h"
#include "snapshot_def.h"

static bool
eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The stored value a step of this kind acts on, formatted as the plan
 * formats it (NULL: absent). *ok false when it cannot be read. */
static char *
stored(vs_exec_ctx *x, const vs_step *s, bool *ok)
{
    vs_dom *d = x->d;
    vs_error e;
    char *v = NULL;

    *ok = true;
    vs_error_clear(&e);
    switch (s->kind) {
    case VS_STEP_WRITE_SNAPSHOT:
    case VS_STEP_REMOVE_SNAPSHOT: {
        vs_snapshot_def *def = vs_dom_read_snapshot(d, s->name, &e);

        if (def) {
            v = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);
            vs_snapshot_def_free(def);
        } else if (e.code != VS_ERR_NO_SNAPSHOT) {
            *ok = false;
        }
        return v;
    }
    case VS_STEP_WRITE_DOMAIN: {
        vs_domain_def *def;
        vs_buf b = VS_BUF_INIT;

        vs_dom_forget(d);
        if (!(def = vs_dom_def(d, &e))) {
            *ok = false;
            return NULL;
        }
        vs_domain_def_format(&b, def, 0, true, NULL);
        vs_buf_addc(&b, '\n');
        return vs_buf_steal(&b);
    }
    case VS_STEP_SET_CURRENT:
        return vs_dom_current(d);
    case VS_STEP_REMOVE_MANAGED_SAVE:
        return vs_dom_managed_save_exists(d) ? vs_xstrdup("present") : NULL;
    case VS_STEP_WRITE_REGISTRY: {
        char **paths = NULL;
        vs_buf b = VS_BUF_INIT;
        size_t i;

        if (vs_dom_registry_load(d, &paths, &e) < 0) {
            *ok = false;
            return NULL;
        }
        for (i = 0; paths[i]; i++)
            vs_buf_addf(&b, "%s\n", paths[i]);
        vs_strv_free(paths);
        vs_buf_addc(&b, '\0');
        return vs_buf_steal(&b);
    }
    default:
        *ok = false;
        return NULL;
    }
}

/* The value the step sets and the one it replaces. */
static const char *
new_value(const vs_step *s)
{
    switch (s->kind) {
    case VS_STEP_REMOVE_SNAPSHOT: return NULL;
    case VS_STEP_REMOVE_MANAGED_SAVE: return NULL;
    case VS_STEP_SET_CURRENT: return s->name;
    default: return s->text;
    }
}

static const char *
old_value(const vs_step *s)
{
    return s->kind == VS_STEP_SET_CURRENT ? s->old_name : s->old_text;
}

/* A snapshot's text as the store formats it (caller frees), NULL when it
 * does not parse. */
static char *
canonical(const char *text)
{
    vs_snapshot_def *def = vs_snapshot_def_parse(text, strlen(text), "(journal)",
                                                 VS_SNAP_PARSE_REDEFINE |
                                                 VS_SNAP_PARSE_ACTIVE_OPTIONAL, 0, NULL);
    char *c = def ? vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE) : NULL;

    vs_snapshot_def_free(def);
    return c;
}

/* Whether stored value `now` is `v`: a snapshot's text may be recorded as
 * its file held it (a removal keeps the text it puts back), so two texts of
 * one snapshot are the same when they format the same. */
static bool
same_value(const vs_step *s, const char *now, const char *v)
{
    char *a, *b;
    bool same;

    if (eq(now, v))
        return true;
    if (!now || !v || (s->kind != VS_STEP_WRITE_SNAPSHOT && s->kind != VS_STEP_REMOVE_SNAPSHOT))
        return false;
    a = canonical(v);
    b = canonical(now);
    same = a && b && strcmp(a, b) == 0;
    free(a);
    free(b);
    return same;
}

static vs_seen
observe(vs_exec_ctx *x, const vs_step *s, char **why)
{
    bool ok;
    char *now = stored(x, s, &ok);
    const char *want = new_value(s);
    vs_seen seen;

    if (why)
        *why = NULL;
    if (!ok && s->kind == VS_STEP_REMOVE_SNAPSHOT && !s->old_text)
        seen = VS_SEEN_NOT_DONE;   /* forgetting a damaged file: it is still there */
    else if (!ok)
        seen = VS_SEEN_CONFLICT;
    else if (same_value(s, now, want) ||
             (s->kind == VS_STEP_WRITE_REGISTRY && !*want && now && !*now))
        seen = VS_SEEN_DONE;
    else if (same_value(s, now, old_value(s)))
        seen = VS_SEEN_NOT_DONE;
    else
        seen = VS_SEEN_CONFLICT;
    if (seen == VS_SEEN_CONFLICT && why)
        *why = vs_xasprintf("the metadata changed since the plan was made (%s)",
                            vs_step_info(s->kind)->name);
    free(now);
    return seen;
}

static int
put_snapshot(vs_dom *d, const char *name, const char *text, vs_error *err)
{
    vs_snapshot_def *def;
    int ret;

    if (!text)
        return vs_dom_has_snapshot(d, name) || vs_dom_snapshot_file_exists(d, name)
               ? vs_dom_remove_snapshot(d, name, err) : 0;
    def = vs_snapshot_def_parse(text, strlen(text), "(journal)",
                                VS_SNAP_PARSE_REDEFINE | VS_SNAP_PARSE_ACTIVE_OPTIONAL, 0, err);
    if (!def)
        return -1;
    if (!def->name || strcmp(def->name, name) != 0) {
        vs_snapshot_def_free(def);
        return vs_error_set(err, VS_ERR_INTERNAL, "journal step for snapshot '%s' holds another "
                            "snapshot", name);
    }
    def->active = -1;
    ret = vs_dom_write_snapshot(d, def, err);
    vs_snapshot_def_free(def);
    return ret;
}

static int
put_domain(vs_dom *d, const char *text, vs_error *err)
{
    vs_domain_def *def = vs_domain_def_parse(text, strlen(text), "(journal)", err);
    int ret;

    if (!def)
        return -1;
    ret = vs_dom_save_def(d, def, err);
    vs_domain_def_free(def);
    return ret;
}

static int
put_registry(vs_dom *d, const char *text, vs_error *err)
{
    char **paths = vs_xcalloc(1, sizeof(*paths)), *copy = vs_xstrdup(text ? text : "");
    char *line, *save = NULL;
    int ret;

    for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (line[0] == '/')
            vs_strv_push(&paths, line);
    ret = vs_dom_registry_store(d, paths, err);
    vs_strv_free(paths);
    free(copy);
    return ret;
}

/* Make the stored value `v`. */
static int
put(vs_exec_ctx *x, const vs_step *s, const char *v, vs_error *err)
{
    switch (s->kind) {
    case VS_STEP_WRITE_SNAPSHOT:
    case VS_STEP_REMOVE_SNAPSHOT:
        return put_snapshot(x->d, s->name, v, err);
    case VS_STEP_WRITE_DOMAIN:
        if (!v)
            return vs_error_set(err, VS_ERR_INTERNAL, "a domain definition cannot be removed");
        return put_domain(x->d, v, err);
    case VS_STEP_SET_CURRENT:
        return vs_dom_set_current(x->d, v, err);
    case VS_STEP_WRITE_REGISTRY:
        return put_registry(x->d, v, err);
    case VS_STEP_REMOVE_MANAGED_SAVE:
        if (v)
            return vs_error_set(err, VS_ERR_INTERNAL, "a managed-save image cannot be put back");
        return vs_dom_managed_save_remove(x->d, err);
    default:
        return vs_error_set(err, VS_ERR_INTERNAL, "the store executor cannot run a %s step",
                            vs_step_info(s->kind)->name);
    }
}

static int
run(vs_exec_ctx *x, const vs_step *s, vs_error *err)
{
    return put(x, s, new_value(s), err);
}

/* Snapshot files removed together: several unlinks at once, one sync for
 * the group (store.h: vs_dom_remove_snapshots). A name with no file is
 * already removed, as put_snapshot has it. */
static int
remove_group(vs_exec_ctx *x, const vs_step *const *s, size_t n, vs_error *err)
{
    char **names = vs_xcalloc(n + 1, sizeof(*names));
    size_t i, k = 0;
    int ret;

    for (i = 0; i < n; i++) {
        if (s[i]->kind != VS_STEP_REMOVE_SNAPSHOT) {
            free(names);
            return vs_error_set(err, VS_ERR_INTERNAL, "the store executor cannot group a %s step "
                                "with removals", vs_step_info(s[i]->kind)->name);
        }
        if (vs_dom_has_snapshot(x->d, s[i]->name) || vs_dom_snapshot_file_exists(x->d, s[i]->name))
            names[k++] = s[i]->name;
    }
    ret = k ? vs_dom_remove_snapshots(x->d, names, k, err) : 0;
    free(names);
    return ret;
}

/* Snapshot files written together: one sync for the group (store.h:
 * vs_dom_write_snapshot_texts), each file still atomic by itself. */
static int
run_group(vs_exec_ctx *x, const vs_step *const *s, size_t n, vs_error *err)
{
    char **texts;
    size_t i;
    int ret;

    if (n && s[0]->kind == VS_STEP_REMOVE_SNAPSHOT)
        return remove_group(x, s, n, err);
    texts = vs_xcalloc(n, sizeof(*texts));
    for (i = 0; i < n; i++) {
        if (s[i]->kind != VS_STEP_WRITE_SNAPSHOT || !s[i]->text) {
            free(texts);
            return vs_error_set(err, VS_ERR_INTERNAL, "the store executor cannot group a %s step",
                                vs_step_info(s[i]->kind)->name);
        }
        texts[i] = s[i]->text;
    }
    ret = vs_dom_write_snapshot_texts(x->d, texts, n, err);
    free(texts);
    return ret;
}

static int
undo(vs_exec_ctx *x, const vs_step *s, vs_error *err)
{
    char *why = NULL;
    int ret;

    switch (observe(x, s, &why)) {
    case VS_SEEN_NOT_DONE:
        return 0;
    case VS_SEEN_CONFLICT:
        ret = vs_error_set(err, VS_ERR_OPERATION_FAILED, "cannot undo: %s", why);
        free(why);
        return ret;
    default:
        return put(x, s, old_value(s), err);
    }
}

const vs_executor vs_exec_store = {
    .mech = VS_MECH_STORE,
    .run = run,
    .run_group = run_group,
    .undo = undo,
    .observe = observe,
    .finish = NULL,
    .max_group = 2048,
};
