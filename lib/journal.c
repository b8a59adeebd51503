/* The journal codec: JSON, one object with the plan and where it got to. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "journal.h"
#include "mem.h"

#define JOURNAL_VERSION 2
/* version 1 (vsnap 0.1) is still read, so an upgrade can repair what the old
 * release left: it had no finally actions and recorded no file identities */
#define JOURNAL_VERSION_OLDEST 1

static const char *const phase_names[] = {
    [VS_JOURNAL_PREPARED] = "prepared",
    [VS_JOURNAL_COMMITTED] = "committed",
    [VS_JOURNAL_ROLLED_BACK] = "rolled-back",
    [VS_JOURNAL_FINISHED] = "finished",
};

#define NPHASES (sizeof(phase_names) / sizeof(phase_names[0]))

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

static json_object *
step_to_json(const vs_step *s)
{
    json_object *o = json_object_new_object();

    put_str(o, "kind", vs_step_info(s->kind)->name);
    put_str(o, "path", s->path);
    put_str(o, "from", s->from);
    put_str(o, "fmt", s->fmt);
    put_str(o, "backing", s->backing);
    put_str(o, "backing_fmt", s->backing_fmt);
    put_str(o, "old_backing", s->old_backing);
    put_str(o, "old_backing_fmt", s->old_backing_fmt);
    put_str(o, "name", s->name);
    put_str(o, "text", s->text);
    put_str(o, "old_text", s->old_text);
    put_str(o, "old_name", s->old_name);
    put_str(o, "why", s->why);
    if (s->expect.exists) {
        json_object *e = json_object_new_object();

        json_object_object_add(e, "dev", json_object_new_int64((int64_t)s->expect.dev));
        json_object_object_add(e, "ino", json_object_new_int64((int64_t)s->expect.ino));
        json_object_object_add(e, "size", json_object_new_int64((int64_t)s->expect.size));
        json_object_object_add(e, "ctime", json_object_new_int64((int64_t)s->expect.ctime_ns));
        json_object_object_add(o, "expect", e);
    }
    if (s->keep_on_undo)
        json_object_object_add(o, "keep_on_undo", json_object_new_boolean(1));
    if (s->reuse)
        json_object_object_add(o, "reuse", json_object_new_boolean(1));
    if (s->reset_nvram)
        json_object_object_add(o, "reset_nvram", json_object_new_boolean(1));
    return o;
}

static json_object *
steps_to_json(const vs_step *steps, size_t n)
{
    json_object *a = json_object_new_array();
    size_t i;

    for (i = 0; i < n; i++)
        json_object_array_add(a, step_to_json(&steps[i]));
    return a;
}

char *
vs_journal_encode(const vs_plan *p, const vs_journal_state *st)
{
    json_object *root = json_object_new_object();
    char *text;

    json_object_object_add(root, "vsnap-journal", json_object_new_int(JOURNAL_VERSION));
    put_str(root, "operation", p->operation);
    put_str(root, "domain", p->domain);
    put_str(root, "uuid", p->uuid);
    put_str(root, "snapshot", p->snapshot);
    put_str(root, "phase", phase_names[st->phase]);
    json_object_object_add(root, "commit", json_object_new_int64((int64_t)p->commit));
    json_object_object_add(root, "done", json_object_new_int64((int64_t)st->done));
    json_object_object_add(root, "finally_done", json_object_new_int64((int64_t)st->fin_done));
    put_str(root, "failure", st->failure);
    json_object_object_add(root, "steps", steps_to_json(p->steps, p->n));
    json_object_object_add(root, "finally", steps_to_json(p->fin, p->nfin));
    text = vs_xstrdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return text;
}

static int
bad_journal(vs_error *err, const char *where, const char *why)
{
    return vs_error_set(err, VS_ERR_OPERATION_FAILED,
                        "journal '%s' cannot be used: %s; move it away only after checking "
                        "the domain's images by hand", where, why);
}

static int
steps_from_json(json_object *a, vs_plan *p, bool fin, const char *where, vs_error *err)
{
    size_t i, n = json_object_array_length(a);

    p->adding_finally = fin;
    for (i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(a, i), *k, *e;
        char *kind = o ? get_str(o, "kind") : NULL;
        int kv = vs_step_kind_parse(kind);
        char *why;
        vs_step *s;

        free(kind);
        if (kv < 0)
            return bad_journal(err, where, "it has a step of an unknown kind");
        why = get_str(o, "why");
        s = vs_plan_tag(p, (vs_step_kind)kv, NULL, NULL, why);
        free(why);
        s->path = get_str(o, "path");
        s->from = get_str(o, "from");
        s->fmt = get_str(o, "fmt");
        s->backing = get_str(o, "backing");
        s->backing_fmt = get_str(o, "backing_fmt");
        s->old_backing = get_str(o, "old_backing");
        s->old_backing_fmt = get_str(o, "old_backing_fmt");
        s->name = get_str(o, "name");
        s->text = get_str(o, "text");
        s->old_text = get_str(o, "old_text");
        s->old_name = get_str(o, "old_name");
        if (json_object_object_get_ex(o, "expect", &e) && json_object_is_type(e, json_type_object)) {
            s->expect.exists = true;
            s->expect.dev = (unsigned long long)get_int(e, "dev", 0);
            s->expect.ino = (unsigned long long)get_int(e, "ino", 0);
            s->expect.size = get_int(e, "size", 0);
            s->expect.ctime_ns = get_int(e, "ctime", 0);
        }
        s->keep_on_undo = json_object_object_get_ex(o, "keep_on_undo", &k) &&
                          json_object_get_boolean(k);
        s->reuse = json_object_object_get_ex(o, "reuse", &k) && json_object_get_boolean(k);
        s->reset_nvram = json_object_object_get_ex(o, "reset_nvram", &k) &&
                         json_object_get_boolean(k);
    }
    p->adding_finally = false;
    return 0;
}

int
vs_journal_decode(const char *text, size_t len, const char *where, vs_plan **out,
                  vs_journal_state *st, vs_error *err)
{
    json_object *root = NULL, *steps, *fin;
    json_tokener *tok;
    vs_plan *p = NULL;
    char *ph = NULL;
    long long c, dn, fd, version = 0;
    size_t i;
    int ret = -1;

    *out = NULL;
    fin = NULL;
    memset(st, 0, sizeof(*st));
    tok = json_tokener_new();
    root = json_tokener_parse_ex(tok, text, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(root);
        root = NULL;
    }
    json_tokener_free(tok);
    if (!root || !json_object_is_type(root, json_type_object) ||
        (version = get_int(root, "vsnap-journal", 0)) < JOURNAL_VERSION_OLDEST ||
        version > JOURNAL_VERSION) {
        bad_journal(err, where, "it is not a vsnap journal of a known version");
        goto out;
    }
    if (!json_object_object_get_ex(root, "finally", &fin) && version == 1)
        fin = NULL;
    else if (!fin || !json_object_is_type(fin, json_type_array)) {
        bad_journal(err, where, "it has no finally actions");
        goto out;
    }
    if (!json_object_object_get_ex(root, "steps", &steps) ||
        !json_object_is_type(steps, json_type_array)) {
        bad_journal(err, where, "it has no steps");
        goto out;
    }
    {
        char *op = get_str(root, "operation"), *dom = get_str(root, "domain"),
             *uuid = get_str(root, "uuid"), *snap = get_str(root, "snapshot");

        p = vs_plan_new(op ? op : "operation", dom ? dom : "", uuid, snap);
        free(op);
        free(dom);
        free(uuid);
        free(snap);
    }
    if (steps_from_json(steps, p, false, where, err) < 0 ||
        (fin && steps_from_json(fin, p, true, where, err) < 0))
        goto out;
    c = get_int(root, "commit", -1);
    dn = get_int(root, "done", -1);
    fd = get_int(root, "finally_done", version == 1 ? 0 : -1);
    ph = get_str(root, "phase");
    for (i = 0; ph && i < NPHASES; i++)
        if (strcmp(ph, phase_names[i]) == 0)
            break;
    if (c < 0 || (size_t)c > p->n || dn < 0 || (size_t)dn > p->n || fd < 0 ||
        (size_t)fd > p->nfin || !ph || i == NPHASES) {
        bad_journal(err, where, "its progress fields are damaged");
        goto out;
    }
    p->commit = (size_t)c;
    /* version 1 replaced files without saying how to make them again */
    if (vs_plan_validate_fields(p, version == 1 ? VS_SF_FMT | VS_SF_BACKING | VS_SF_BACKING_FMT : 0,
                                err) < 0) {
        char *why = vs_xstrdup(err ? err->msg : "its plan is not valid");

        bad_journal(err, where, why);
        free(why);
        goto out;
    }
    st->phase = (vs_journal_phase)i;
    st->done = (size_t)dn;
    st->fin_done = (size_t)fd;
    st->failure = get_str(root, "failure");
    *out = p;
    p = NULL;
    ret = 0;
 out:
    vs_plan_free(p);
    json_object_put(root);
    free(ph);
    return ret;
}

void
vs_journal_state_clear(vs_journal_state *st)
{
    free(st->failure);
    memset(st, 0, sizeof(*st));
}

char **
vs_journal_files(const vs_plan *p)
{
    char **v = vs_xcalloc(1, sizeof(*v));
    size_t i;

    for (i = 0; i < p->n + p->nfin; i++) {
        const vs_step *s = i < p->n ? &p->steps[i] : &p->fin[i - p->n];
        const char *f[4] = { s->path, s->from, s->backing, s->old_backing };
        size_t k;

        for (k = 0; k < 4; k++)
            if (f[k] && f[k][0] == '/')
                vs_strv_push(&v, f[k]);
    }
    return v;
}

char *
vs_journal_describe_state(const vs_plan *p, const vs_journal_state *st)
{
    vs_buf b = VS_BUF_INIT;

    vs_buf_addf(&b, "interrupted %s", p->operation);
    if (p->snapshot)
        vs_buf_addf(&b, " of snapshot '%s'", p->snapshot);
    switch (st->phase) {
    case VS_JOURNAL_PREPARED:
        vs_buf_add(&b, " (not committed: it will be rolled back)");
        break;
    case VS_JOURNAL_COMMITTED:
        vs_buf_addf(&b, " (committed; %zu of %zu steps recorded as done)",
                    st->done > p->commit ? st->done : p->commit, p->n);
        break;
    case VS_JOURNAL_ROLLED_BACK:
        vs_buf_addf(&b, " (rolled back; %zu of %zu finally actions left)", p->nfin - st->fin_done,
                    p->nfin);
        break;
    case VS_JOURNAL_FINISHED:
        vs_buf_addf(&b, " (done; %zu of %zu finally actions left)", p->nfin - st->fin_done,
                    p->nfin);
        break;
    }
    return vs_buf_steal(&b);
}
