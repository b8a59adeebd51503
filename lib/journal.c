#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "journal.h"
#include "mem.h"
#include "path.h"

#define JOURNAL_VERSION 1

char *
vs_journal_path(const vs_dom *d)
{
    return vs_dom_entry_path(d, VS_DOM_JOURNAL);
}

bool
vs_journal_exists(vs_dom *d)
{
    return vs_dom_journal_exists(d);
}

static void
put_str(json_object *o, const char *key, const char *val)
{
    if (val)
        json_object_object_add(o, key, json_object_new_string(val));
}

static char *
get_str(json_object *o, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return vs_xstrdup(json_object_get_string(v));
}

static long long
get_int(json_object *o, const char *key, long long dflt)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return dflt;
    return json_object_get_int64(v);
}

int
vs_journal_write(vs_dom *d, const vs_plan *p, vs_journal_phase phase, size_t done,
                 vs_error *err)
{
    json_object *root = json_object_new_object(), *steps = json_object_new_array();
    const char *text;
    size_t i;
    int ret;

    json_object_object_add(root, "vsnap-journal", json_object_new_int(JOURNAL_VERSION));
    put_str(root, "operation", p->operation);
    put_str(root, "domain", p->domain);
    put_str(root, "snapshot", p->snapshot);
    put_str(root, "phase", phase == VS_JOURNAL_COMMITTED ? "committed" : "prepared");
    json_object_object_add(root, "commit", json_object_new_int64((int64_t)p->commit));
    json_object_object_add(root, "done", json_object_new_int64((int64_t)done));
    for (i = 0; i < p->n; i++) {
        const vs_step *s = &p->steps[i];
        json_object *o = json_object_new_object();

        put_str(o, "kind", vs_step_kind_name(s->kind));
        put_str(o, "path", s->path);
        put_str(o, "from", s->from);
        put_str(o, "fmt", s->fmt);
        put_str(o, "backing", s->backing);
        put_str(o, "backing_fmt", s->backing_fmt);
        put_str(o, "old_backing", s->old_backing);
        put_str(o, "old_backing_fmt", s->old_backing_fmt);
        put_str(o, "name", s->name);
        put_str(o, "text", s->text);
        put_str(o, "why", s->why);
        if (s->keep_on_undo)
            json_object_object_add(o, "keep_on_undo", json_object_new_boolean(1));
        json_object_array_add(steps, o);
    }
    json_object_object_add(root, "steps", steps);
    text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
    ret = vs_dom_journal_store(d, text, strlen(text), err);
    json_object_put(root);
    return ret;
}

static int
bad_journal(vs_error *err, const char *path, const char *why)
{
    return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                        "journal '%s' cannot be used: %s; move it away only after checking "
                        "the domain's images by hand", path, why);
}

int
vs_journal_read(vs_dom *d, vs_plan **out, vs_journal_phase *phase, size_t *done,
                vs_error *err)
{
    char *path = vs_journal_path(d), *data = NULL, *ph = NULL;
    size_t len = 0, i, n;
    json_object *root = NULL, *steps;
    vs_plan *p = NULL;
    long long c, dn;
    int ret = -1;

    *out = NULL;
    if (vs_dom_journal_load(d, &data, &len, err) < 0)
        goto out;
    if (!data) {
        ret = 0;
        goto out;
    }
    root = json_tokener_parse(data);
    if (!root || !json_object_is_type(root, json_type_object) ||
        get_int(root, "vsnap-journal", 0) != JOURNAL_VERSION) {
        bad_journal(err, path, "it is not a vsnap journal of a known version");
        goto out;
    }
    if (!json_object_object_get_ex(root, "steps", &steps) ||
        !json_object_is_type(steps, json_type_array)) {
        bad_journal(err, path, "it has no steps");
        goto out;
    }
    {
        char *op = get_str(root, "operation"), *dom = get_str(root, "domain"),
             *snap = get_str(root, "snapshot");

        p = vs_plan_new(op ? op : "operation", dom ? dom : "", snap);
        free(op);
        free(dom);
        free(snap);
    }
    n = json_object_array_length(steps);
    for (i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(steps, i), *k;
        char *kind = o ? get_str(o, "kind") : NULL;
        int kv = vs_step_kind_parse(kind);
        vs_step *s;

        free(kind);
        if (kv < 0) {
            bad_journal(err, path, "it has a step of an unknown kind");
            goto out;
        }
        vs_xgrow(&p->steps, &p->cap, p->n, sizeof(*p->steps));
        s = &p->steps[p->n++];
        memset(s, 0, sizeof(*s));
        s->kind = (vs_step_kind)kv;
        s->path = get_str(o, "path");
        s->from = get_str(o, "from");
        s->fmt = get_str(o, "fmt");
        s->backing = get_str(o, "backing");
        s->backing_fmt = get_str(o, "backing_fmt");
        s->old_backing = get_str(o, "old_backing");
        s->old_backing_fmt = get_str(o, "old_backing_fmt");
        s->name = get_str(o, "name");
        s->text = get_str(o, "text");
        s->why = get_str(o, "why");
        s->keep_on_undo = json_object_object_get_ex(o, "keep_on_undo", &k) &&
                          json_object_get_boolean(k);
        /* Every field a step needs to run must be there. */
        if (((s->kind <= VS_STEP_TAG_DELETE) && !s->path) ||
            (s->kind == VS_STEP_REPLACE_IMAGE && !s->from) ||
            ((s->kind == VS_STEP_CREATE_IMAGE || s->kind == VS_STEP_REBASE_IMAGE ||
              s->kind == VS_STEP_RETARGET_IMAGE || s->kind == VS_STEP_COMMIT_IMAGE) && !s->fmt) ||
            (s->kind == VS_STEP_CREATE_IMAGE && (!s->backing || !s->backing_fmt)) ||
            ((s->kind == VS_STEP_REBASE_IMAGE || s->kind == VS_STEP_RETARGET_IMAGE) &&
             !s->backing) ||
            ((s->kind >= VS_STEP_TAG_CREATE && s->kind <= VS_STEP_REMOVE_SNAPSHOT) && !s->name) ||
            ((s->kind == VS_STEP_WRITE_SNAPSHOT || s->kind == VS_STEP_WRITE_DOMAIN ||
              s->kind == VS_STEP_WRITE_REGISTRY) && !s->text)) {
            bad_journal(err, path, "a step lacks a field it needs");
            goto out;
        }
    }
    c = get_int(root, "commit", -1);
    dn = get_int(root, "done", -1);
    ph = get_str(root, "phase");
    if (c < 0 || (size_t)c > p->n || dn < 0 || (size_t)dn > p->n || !ph ||
        (strcmp(ph, "prepared") != 0 && strcmp(ph, "committed") != 0)) {
        bad_journal(err, path, "its progress fields are damaged");
        goto out;
    }
    p->commit = (size_t)c;
    *phase = strcmp(ph, "committed") == 0 ? VS_JOURNAL_COMMITTED : VS_JOURNAL_PREPARED;
    *done = (size_t)dn;
    *out = p;
    p = NULL;
    ret = 0;
 out:
    vs_plan_free(p);
    json_object_put(root);
    free(ph);
    free(data);
    free(path);
    return ret;
}

int
vs_journal_clear(vs_dom *d, vs_error *err)
{
    return vs_dom_journal_remove(d, err);
}

static char *
describe(const vs_plan *p, vs_journal_phase phase, size_t done)
{
    vs_buf b = VS_BUF_INIT;

    vs_buf_addf(&b, "interrupted %s", p->operation);
    if (p->snapshot)
        vs_buf_addf(&b, " of snapshot '%s'", p->snapshot);
    if (phase == VS_JOURNAL_COMMITTED)
        vs_buf_addf(&b, " (committed; %zu of %zu steps recorded as done)", done > p->commit ?
                    done : p->commit, p->n);
    else
        vs_buf_add(&b, " (not committed: it will be rolled back)");
    return vs_buf_steal(&b);
}

char *
vs_journal_describe(vs_dom *d, vs_error *err)
{
    vs_plan *p;
    vs_journal_phase phase;
    size_t done;
    char *s;

    if (vs_journal_read(d, &p, &phase, &done, err) < 0)
        return NULL;
    if (!p)
        return NULL;
    s = describe(p, phase, done);
    vs_plan_free(p);
    return s;
}

int
vs_journal_refuse(vs_dom *d, vs_error *err)
{
    const char *domain = d->name;
    vs_error local;
    char *what;

    if (!vs_journal_exists(d))
        return 0;
    vs_error_clear(&local);
    what = vs_journal_describe(d, &local);
    vs_error_set(err, VS_ERR_OPERATION_FAILED,
                 "domain '%s' has an %s; run 'vsnap snapshot-check %s --repair' to finish or "
                 "roll it back", domain, what ? what : "unreadable journal", domain);
    free(what);
    return -1;
}

int
vs_journal_repair(vs_dom *d, vs_buf *report, vs_error *err)
{
    vs_plan *p;
    vs_journal_phase phase;
    size_t done, i;
    char *what;
    int ret = -1;

    if (vs_journal_read(d, &p, &phase, &done, err) < 0)
        return -1;
    if (!p)
        return 0;
    what = describe(p, phase, done);
    if (phase == VS_JOURNAL_PREPARED) {
        /* Undo everything before the commit point, newest first; undos of
         * steps that never ran change nothing. */
        for (i = p->commit; i-- > 0;) {
            if (vs_plan_undo_step(d, &p->steps[i], err) < 0)
                goto out;
        }
        if (report)
            vs_buf_addf(report, "rolled back the %s\n", what);
    } else {
        i = done > p->commit ? done : p->commit;
        for (; i < p->n; i++) {
            if (vs_plan_run_step(d, &p->steps[i], err) < 0)
                goto out;
            /* Keep the progress, so that a failure here does not replay a commit. */
            if (i + 1 < p->n && vs_journal_write(d, p, VS_JOURNAL_COMMITTED, i + 1, err) < 0)
                goto out;
        }
        if (report)
            vs_buf_addf(report, "finished the %s\n", what);
    }
    if (vs_journal_clear(d, err) < 0)
        goto out;
    ret = 0;
 out:
    free(what);
    vs_plan_free(p);
    return ret;
}
