/* The step table, plan building, validation and the --dry-run rendering. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "mem.h"
#include "memory_transfer.h"
#include "plan.h"

#define IMG VS_MECH_QEMU_IMG
#define FIL VS_MECH_FILE
#define STO VS_MECH_STORE
#define QMP VS_MECH_QMP

/*
 *                  name             mech undo replay                   data  writes qemu final group atomic
 *                  needs / undo_needs
 */
const vs_step_kind_info vs_step_kinds[VS_STEP_KIND_COUNT] = {
    [VS_STEP_CREATE_IMAGE] = { "create-image", IMG, true, VS_REPLAY_SAME, false, true, false, false, true, false,
        VS_SF_PATH | VS_SF_FMT | VS_SF_BACKING | VS_SF_BACKING_FMT, 0 },
    [VS_STEP_REPLACE_IMAGE] = { "replace-image", FIL, false, VS_REPLAY_SAME, true, true, false, false, false, false,
        VS_SF_PATH | VS_SF_FROM | VS_SF_FMT | VS_SF_BACKING | VS_SF_BACKING_FMT | VS_SF_EXPECT, 0 },
    [VS_STEP_COMMIT_IMAGE] = { "commit-image", IMG, false, VS_REPLAY_UNTIL_TOUCHED, true, true, false, false, true, false,
        VS_SF_PATH | VS_SF_FMT, 0 },
    [VS_STEP_REBASE_IMAGE] = { "rebase-image", IMG, true, VS_REPLAY_UNTIL_TOUCHED, false, true, false, false, true, false,
        VS_SF_PATH | VS_SF_FMT | VS_SF_BACKING, VS_SF_OLD_BACKING },
    [VS_STEP_RETARGET_IMAGE] = { "retarget-image", IMG, true, VS_REPLAY_SAME, false, true, false, false, true, false,
        VS_SF_PATH | VS_SF_FMT | VS_SF_BACKING, VS_SF_OLD_BACKING },
    [VS_STEP_REMOVE_IMAGE] = { "remove-image", FIL, false, VS_REPLAY_SAME, false, false, false, true, true, false,
        VS_SF_PATH, 0 },
    [VS_STEP_TAG_CREATE] = { "tag-create", IMG, true, VS_REPLAY_NEVER, false, true, false, false, true, false,
        VS_SF_PATH | VS_SF_NAME, 0 },
    [VS_STEP_TAG_APPLY] = { "tag-apply", IMG, false, VS_REPLAY_UNTIL_TOUCHED, true, true, false, false, true, false,
        VS_SF_PATH | VS_SF_NAME, 0 },
    [VS_STEP_TAG_DELETE] = { "tag-delete", IMG, false, VS_REPLAY_SAME, false, true, false, false, true, false,
        VS_SF_PATH | VS_SF_NAME, 0 },
    [VS_STEP_WRITE_SNAPSHOT] = { "write-snapshot", STO, true, VS_REPLAY_SAME, false, false, false, false, true, true,
        VS_SF_NAME | VS_SF_TEXT, VS_SF_OLD },
    [VS_STEP_REMOVE_SNAPSHOT] = { "remove-snapshot", STO, true, VS_REPLAY_SAME, false, false, false, false, true, true,
        VS_SF_NAME, VS_SF_OLD },
    [VS_STEP_WRITE_DOMAIN] = { "write-domain", STO, true, VS_REPLAY_SAME, false, false, false, false, false, true,
        VS_SF_TEXT, VS_SF_OLD },
    [VS_STEP_SET_CURRENT] = { "set-current", STO, true, VS_REPLAY_SAME, false, false, false, false, false, true,
        0, VS_SF_OLD },
    [VS_STEP_WRITE_REGISTRY] = { "write-registry", STO, true, VS_REPLAY_SAME, false, false, false, false, false, true,
        VS_SF_TEXT, VS_SF_OLD },
    [VS_STEP_VM_PAUSE] = { "vm-pause", QMP, true, VS_REPLAY_SAME, false, false, true, false, false, false,
        0, VS_SF_OLD },
    [VS_STEP_VM_RESUME] = { "vm-resume", QMP, false, VS_REPLAY_SAME, false, false, true, true, false, false,
        VS_SF_NAME, 0 },
    [VS_STEP_VM_SAVE] = { "vm-snapshot-save", QMP, true, VS_REPLAY_NEVER, false, true, true, false, false, false,
        VS_SF_NAME | VS_SF_PATH | VS_SF_TEXT, 0 },
    [VS_STEP_VM_LOAD] = { "vm-snapshot-load", QMP, false, VS_REPLAY_SAME, true, true, true, false, false, false,
        VS_SF_NAME | VS_SF_PATH | VS_SF_TEXT, 0 },
    [VS_STEP_VM_TAG_DELETE] = { "vm-snapshot-delete", QMP, false, VS_REPLAY_SAME, false, true, true, false, false, false,
        VS_SF_NAME | VS_SF_TEXT, 0 },
    [VS_STEP_VM_START] = { "vm-start", QMP, true, VS_REPLAY_SAME, false, false, true, false, false, false,
        VS_SF_NAME, 0 },
    [VS_STEP_VM_STOP] = { "vm-stop", QMP, false, VS_REPLAY_SAME, false, false, true, false, false, false,
        VS_SF_NAME, 0 },
    [VS_STEP_VM_OVERLAY] = { "vm-overlay-open", QMP, true, VS_REPLAY_NEVER, false, true, true, false, true, false,
        VS_SF_PATH | VS_SF_FMT | VS_SF_BACKING | VS_SF_BACKING_FMT | VS_SF_TEXT, 0 },
    [VS_STEP_VM_SNAPSHOT_DISKS] = { "vm-snapshot-disks", QMP, true, VS_REPLAY_NEVER, false, true, true, false, false, false,
        VS_SF_TEXT, 0 },
    [VS_STEP_VM_FREEZE] = { "vm-fsfreeze", QMP, true, VS_REPLAY_SAME, false, false, true, false, false, false,
        0, 0 },
    [VS_STEP_VM_THAW] = { "vm-fsthaw", QMP, false, VS_REPLAY_SAME, false, false, true, true, false, false,
        0, 0 },
    [VS_STEP_VM_COMMIT] = { "vm-commit", QMP, false, VS_REPLAY_UNTIL_TOUCHED, true, true, true, false, true, false,
        VS_SF_PATH | VS_SF_BACKING | VS_SF_TEXT, 0 },
    [VS_STEP_VM_STREAM] = { "vm-stream", QMP, false, VS_REPLAY_UNTIL_TOUCHED, false, true, true, false, true, false,
        VS_SF_PATH | VS_SF_BACKING | VS_SF_TEXT, 0 },
    [VS_STEP_VM_CLOSE] = { "vm-close", QMP, false, VS_REPLAY_SAME, false, false, true, false, false, false,
        VS_SF_PATH, 0 },
    [VS_STEP_VM_TAG_DISKS] = { "vm-snapshot-internal", QMP, true, VS_REPLAY_NEVER, false, true, true, false, false, false,
        VS_SF_NAME | VS_SF_TEXT, 0 },
    [VS_STEP_VM_SAVE_MEMORY] = { "vm-save-memory", QMP, true, VS_REPLAY_NEVER, false, true, true, false, false, false,
        VS_SF_PATH | VS_SF_FROM | VS_SF_TEXT, 0 },
    [VS_STEP_VM_RESTORE] = { "vm-restore", QMP, true, VS_REPLAY_SAME, false, false, true, false, false, false,
        VS_SF_PATH | VS_SF_NAME | VS_SF_TEXT, 0 },
    [VS_STEP_REMOVE_MANAGED_SAVE] = { "remove-managed-save", STO, false, VS_REPLAY_SAME, false, false, false, false, false, true,
        0, 0 },
};

const vs_step_kind_info *
vs_step_info(vs_step_kind kind)
{
    if ((unsigned)kind >= VS_STEP_KIND_COUNT || !vs_step_kinds[kind].name)
        abort();   /* a kind without a row is a programming error */
    return &vs_step_kinds[kind];
}

int
vs_step_kind_parse(const char *s)
{
    int i;

    for (i = 0; s && i < VS_STEP_KIND_COUNT; i++)
        if (vs_step_kinds[i].name && strcmp(s, vs_step_kinds[i].name) == 0)
            return i;
    return -1;
}

vs_plan *
vs_plan_new(const char *operation, const char *domain, const char *uuid, const char *snapshot)
{
    vs_plan *p = vs_xcalloc(1, sizeof(*p));

    p->operation = vs_xstrdup(operation);
    p->domain = vs_xstrdup(domain);
    p->uuid = vs_xstrdup(uuid);
    p->snapshot = vs_xstrdup(snapshot);
    return p;
}

static void
step_clear(vs_step *s)
{
    free(s->path);
    free(s->from);
    free(s->fmt);
    free(s->backing);
    free(s->backing_fmt);
    free(s->old_backing);
    free(s->old_backing_fmt);
    free(s->name);
    free(s->text);
    free(s->old_text);
    free(s->old_name);
    free(s->why);
}

void
vs_plan_free(vs_plan *p)
{
    size_t i;

    if (!p)
        return;
    for (i = 0; i < p->n; i++)
        step_clear(&p->steps[i]);
    for (i = 0; i < p->nfin; i++)
        step_clear(&p->fin[i]);
    free(p->steps);
    free(p->fin);
    vs_strv_free(p->notes);
    free(p->operation);
    free(p->domain);
    free(p->uuid);
    free(p->snapshot);
    free(p);
}

static vs_step *
add(vs_plan *p, vs_step_kind kind, const char *why)
{
    vs_step *s;

    if (p->adding_finally) {
        vs_xgrow(&p->fin, &p->fin_cap, p->nfin, sizeof(*p->fin));
        s = &p->fin[p->nfin++];
    } else {
        vs_xgrow(&p->steps, &p->cap, p->n, sizeof(*p->steps));
        s = &p->steps[p->n++];
    }
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->why = vs_xstrdup(why);
    return s;
}

vs_step *
vs_plan_create_image(vs_plan *p, const char *path, const char *fmt, const char *backing,
                     const char *backing_fmt, const char *why)
{
    vs_step *s = add(p, VS_STEP_CREATE_IMAGE, why);

    s->path = vs_xstrdup(path);
    s->fmt = vs_xstrdup(fmt);
    s->backing = vs_xstrdup(backing);
    s->backing_fmt = vs_xstrdup(backing_fmt);
    return s;
}

vs_step *
vs_plan_replace_image(vs_plan *p, const char *from, const char *path, const char *fmt,
                      const char *backing, const char *backing_fmt, const char *why)
{
    vs_step *s = add(p, VS_STEP_REPLACE_IMAGE, why);

    s->from = vs_xstrdup(from);
    s->path = vs_xstrdup(path);
    s->fmt = vs_xstrdup(fmt);
    s->backing = vs_xstrdup(backing);
    s->backing_fmt = vs_xstrdup(backing_fmt);
    vs_file_id_get(path, &s->expect);
    return s;
}

vs_step *
vs_plan_commit_image(vs_plan *p, const char *path, const char *fmt, const char *into,
                     const char *why)
{
    vs_step *s = add(p, VS_STEP_COMMIT_IMAGE, why);

    s->path = vs_xstrdup(path);
    s->fmt = vs_xstrdup(fmt);
    s->backing = vs_xstrdup(into);
    vs_file_id_get(path, &s->expect);
    return s;
}

static vs_step *
rebase(vs_plan *p, vs_step_kind kind, const char *path, const char *fmt, const char *backing,
       const char *backing_fmt, const char *old_backing, const char *old_backing_fmt,
       const char *why)
{
    vs_step *s = add(p, kind, why);

    s->path = vs_xstrdup(path);
    s->fmt = vs_xstrdup(fmt);
    s->backing = vs_xstrdup(backing ? backing : "");
    s->backing_fmt = vs_xstrdup(backing_fmt);
    s->old_backing = vs_xstrdup(old_backing ? old_backing : "");
    s->old_backing_fmt = vs_xstrdup(old_backing_fmt);
    return s;
}

vs_step *
vs_plan_rebase_image(vs_plan *p, const char *path, const char *fmt, const char *backing,
                     const char *backing_fmt, const char *old_backing,
                     const char *old_backing_fmt, const char *why)
{
    return rebase(p, VS_STEP_REBASE_IMAGE, path, fmt, backing, backing_fmt, old_backing,
                  old_backing_fmt, why);
}

vs_step *
vs_plan_retarget_image(vs_plan *p, const char *path, const char *fmt, const char *backing,
                       const char *backing_fmt, const char *old_backing,
                       const char *old_backing_fmt, const char *why)
{
    return rebase(p, VS_STEP_RETARGET_IMAGE, path, fmt, backing, backing_fmt, old_backing,
                  old_backing_fmt, why);
}

vs_step *
vs_plan_remove_image(vs_plan *p, const char *path, const char *why)
{
    vs_step *s = add(p, VS_STEP_REMOVE_IMAGE, why);

    s->path = vs_xstrdup(path);
    vs_file_id_get(path, &s->expect);
    return s;
}

vs_step *
vs_plan_tag(vs_plan *p, vs_step_kind kind, const char *image, const char *tag, const char *why)
{
    vs_step *s = add(p, kind, why);

    s->path = vs_xstrdup(image);
    s->name = vs_xstrdup(tag);
    return s;
}

vs_step *
vs_plan_write_snapshot(vs_plan *p, const char *name, const char *text, const char *old_text,
                       const char *why)
{
    vs_step *s = add(p, VS_STEP_WRITE_SNAPSHOT, why);

    s->name = vs_xstrdup(name);
    s->text = vs_xstrdup(text);
    s->old_text = vs_xstrdup(old_text);
    return s;
}

vs_step *
vs_plan_remove_snapshot(vs_plan *p, const char *name, const char *old_text, const char *why)
{
    vs_step *s = add(p, VS_STEP_REMOVE_SNAPSHOT, why);

    s->name = vs_xstrdup(name);
    s->old_text = vs_xstrdup(old_text);
    return s;
}

vs_step *
vs_plan_write_domain(vs_plan *p, const char *text, const char *old_text, const char *why)
{
    vs_step *s = add(p, VS_STEP_WRITE_DOMAIN, why);

    s->text = vs_xstrdup(text);
    s->old_text = vs_xstrdup(old_text);
    return s;
}

vs_step *
vs_plan_set_current(vs_plan *p, const char *name, const char *old_name, const char *why)
{
    vs_step *s = add(p, VS_STEP_SET_CURRENT, why);

    s->name = vs_xstrdup(name);
    s->old_name = vs_xstrdup(old_name);
    return s;
}

vs_step *
vs_plan_write_registry(vs_plan *p, const char *text, const char *old_text, const char *why)
{
    vs_step *s = add(p, VS_STEP_WRITE_REGISTRY, why);

    s->text = vs_xstrdup(text ? text : "");
    s->old_text = vs_xstrdup(old_text ? old_text : "");
    return s;
}

char *
vs_vm_disks_format(const vs_vm_disk *disks, size_t n)
{
    json_object *a = json_object_new_array();
    char *text;
    size_t i;

    for (i = 0; i < n; i++) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "target", json_object_new_string(disks[i].target));
        json_object_object_add(o, "image", json_object_new_string(disks[i].image));
        if (disks[i].overlay)
            json_object_object_add(o, "overlay", json_object_new_string(disks[i].overlay));
        json_object_array_add(a, o);
    }
    text = vs_xstrdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
    json_object_put(a);
    return text;
}

void
vs_vm_disks_free(vs_vm_disk *disks, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(disks[i].target);
        free(disks[i].image);
        free(disks[i].overlay);
    }
    free(disks);
}

int
vs_vm_disks_parse(const char *text, vs_vm_disk **disks, size_t *n)
{
    json_object *a = text ? json_tokener_parse(text) : NULL;
    vs_vm_disk *v = NULL;
    size_t i, len;

    *disks = NULL;
    *n = 0;
    if (!a || !json_object_is_type(a, json_type_array)) {
        json_object_put(a);
        return -1;
    }
    len = json_object_array_length(a);
    v = vs_xcalloc(len + 1, sizeof(*v));
    for (i = 0; i < len; i++) {
        json_object *o = json_object_array_get_idx(a, i), *t, *im, *ov;

        if (!o || !json_object_object_get_ex(o, "target", &t) ||
            !json_object_object_get_ex(o, "image", &im) ||
            !json_object_is_type(t, json_type_string) || !json_object_is_type(im, json_type_string)) {
            vs_vm_disks_free(v, i);
            json_object_put(a);
            return -1;
        }
        v[i].target = vs_xstrdup(json_object_get_string(t));
        v[i].image = vs_xstrdup(json_object_get_string(im));
        if (json_object_object_get_ex(o, "overlay", &ov) && json_object_is_type(ov, json_type_string))
            v[i].overlay = vs_xstrdup(json_object_get_string(ov));
    }
    json_object_put(a);
    *disks = v;
    *n = len;
    return 0;
}

vs_step *
vs_plan_vm(vs_plan *p, vs_step_kind kind, const char *reason, const char *why)
{
    vs_step *s = add(p, kind, why);

    if (kind == VS_STEP_VM_PAUSE)
        s->old_name = vs_xstrdup(reason);
    else
        s->name = vs_xstrdup(reason);
    return s;
}

vs_step *
vs_plan_vm_save_memory(vs_plan *p, const char *path, const char *xml, const char *words,
                       const char *why)
{
    vs_step *s = add(p, VS_STEP_VM_SAVE_MEMORY, why);

    s->path = vs_xstrdup(path);
    s->from = vs_mem_temp_path(path);
    s->text = vs_xstrdup(xml);
    s->name = vs_xstrdup(words ? words : "");
    vs_file_id_get(path, &s->expect);
    return s;
}

vs_step *
vs_plan_remove_managed_save(vs_plan *p, const char *why)
{
    vs_step *s = add(p, VS_STEP_REMOVE_MANAGED_SAVE, why);

    s->old_text = vs_xstrdup("present");
    return s;
}

vs_step *
vs_plan_vm_restore(vs_plan *p, const char *path, const char *xml, const char *words,
                   const char *why)
{
    vs_step *s = add(p, VS_STEP_VM_RESTORE, why);

    s->path = vs_xstrdup(path);
    s->text = vs_xstrdup(xml);
    s->name = vs_xstrdup(words);
    return s;
}

vs_step *
vs_plan_vm_overlay(vs_plan *p, const char *target, const char *path, const char *fmt,
                   const char *image, const char *image_fmt, bool reuse, const char *why)
{
    vs_step *s = add(p, VS_STEP_VM_OVERLAY, why);
    vs_vm_disk d = { (char *)target, (char *)image, NULL };

    s->path = vs_xstrdup(path);
    s->fmt = vs_xstrdup(fmt);
    s->backing = vs_xstrdup(image);
    s->backing_fmt = vs_xstrdup(image_fmt);
    s->text = vs_vm_disks_format(&d, 1);
    s->reuse = reuse;
    vs_file_id_get(path, &s->expect);
    s->keep_on_undo = s->expect.exists;
    return s;
}

vs_step *
vs_plan_vm_layer(vs_plan *p, vs_step_kind kind, const char *target, const char *active,
                 const char *path, const char *base, const char *old, const char *why)
{
    vs_step *s = add(p, kind, why);
    vs_vm_disk d = { (char *)target, (char *)active, NULL };

    s->path = vs_xstrdup(path);
    s->backing = vs_xstrdup(base ? base : (kind == VS_STEP_VM_CLOSE ? NULL : ""));
    s->old_backing = vs_xstrdup(old);
    if (target)
        s->text = vs_vm_disks_format(&d, 1);
    return s;
}

vs_step *
vs_plan_vm_disks(vs_plan *p, vs_step_kind kind, const vs_vm_disk *disks, size_t n,
                 const char *why)
{
    vs_step *s = add(p, kind, why);

    s->text = vs_vm_disks_format(disks, n);
    return s;
}

vs_step *
vs_plan_vm_tags(vs_plan *p, vs_step_kind kind, const char *tag, const char *vmstate_image,
                const vs_vm_disk *disks, size_t n, const char *why)
{
    vs_step *s = add(p, kind, why);

    s->name = vs_xstrdup(tag);
    s->path = vs_xstrdup(vmstate_image);
    s->text = vs_vm_disks_format(disks, n);
    return s;
}

vs_step *
vs_plan_add_copy(vs_plan *p, const vs_step *src)
{
    vs_step *c = add(p, src->kind, src->why);

    c->path = vs_xstrdup(src->path);
    c->from = vs_xstrdup(src->from);
    c->fmt = vs_xstrdup(src->fmt);
    c->backing = vs_xstrdup(src->backing);
    c->backing_fmt = vs_xstrdup(src->backing_fmt);
    c->old_backing = vs_xstrdup(src->old_backing);
    c->old_backing_fmt = vs_xstrdup(src->old_backing_fmt);
    c->name = vs_xstrdup(src->name);
    c->text = vs_xstrdup(src->text);
    c->old_text = vs_xstrdup(src->old_text);
    c->old_name = vs_xstrdup(src->old_name);
    c->expect = src->expect;
    c->keep_on_undo = src->keep_on_undo;
    c->reuse = src->reuse;
    c->reset_nvram = src->reset_nvram;
    return c;
}

void
vs_plan_note(vs_plan *p, const char *fmt, ...)
{
    va_list ap;
    char *line;
    size_t i;

    va_start(ap, fmt);
    if (vasprintf(&line, fmt, ap) < 0)
        abort();
    va_end(ap);
    for (i = 0; p->notes && p->notes[i]; i++)
        if (strcmp(p->notes[i], line) == 0)
            break;
    if (!p->notes || !p->notes[i])
        vs_strv_push(&p->notes, line);
    free(line);
}

void
vs_plan_commit_point(vs_plan *p)
{
    p->commit = p->n;
}

void
vs_plan_begin_finally(vs_plan *p)
{
    p->adding_finally = true;
}

/* ---- validation ------------------------------------------------------- */

static unsigned
fields_of(const vs_step *s)
{
    unsigned f = 0;

    f |= s->path ? VS_SF_PATH : 0;
    f |= s->from ? VS_SF_FROM : 0;
    f |= s->fmt ? VS_SF_FMT : 0;
    f |= s->backing ? VS_SF_BACKING : 0;
    f |= s->backing_fmt ? VS_SF_BACKING_FMT : 0;
    f |= s->old_backing ? VS_SF_OLD_BACKING : 0;
    f |= s->name ? VS_SF_NAME : 0;
    f |= s->text ? VS_SF_TEXT : 0;
    f |= s->expect.exists ? VS_SF_EXPECT : 0;
    /* an absent old value is a value ("did not exist"): always there */
    f |= VS_SF_OLD;
    return f;
}

static int
check_step(const vs_step *s, const char *where, size_t i, bool before_commit, bool fin,
           unsigned optional, vs_error *err)
{
    const vs_step_kind_info *k;
    unsigned have, want;

    if ((unsigned)s->kind >= VS_STEP_KIND_COUNT || !vs_step_kinds[s->kind].name)
        return vs_error_set(err, VS_ERR_INTERNAL, "%s %zu has an unknown kind", where, i + 1);
    k = &vs_step_kinds[s->kind];
    have = fields_of(s);
    want = (k->needs | (before_commit ? k->undo_needs : 0)) & ~optional;
    /* A file that did not exist when planned has no identity to record. */
    if (!(have & VS_SF_EXPECT))
        want &= ~(unsigned)VS_SF_EXPECT;
    if ((have & want) != want)
        return vs_error_set(err, VS_ERR_INTERNAL, "%s %zu (%s) lacks a field it needs", where,
                            i + 1, k->name);
    if (before_commit && !k->undoable)
        return vs_error_set(err, VS_ERR_INTERNAL,
                            "%s %zu (%s) cannot be undone, so it cannot come before the commit "
                            "point", where, i + 1, k->name);
    if (fin && !k->can_finally)
        return vs_error_set(err, VS_ERR_INTERNAL, "%s %zu (%s) cannot be a finally action",
                            where, i + 1, k->name);
    if (!before_commit && !fin && k->replay == VS_REPLAY_NEVER)
        return vs_error_set(err, VS_ERR_INTERNAL,
                            "%s %zu (%s) cannot be replayed, so it must come before the commit "
                            "point", where, i + 1, k->name);
    return 0;
}

int
vs_plan_validate_fields(const vs_plan *p, unsigned optional, vs_error *err)
{
    size_t i;

    if (p->commit > p->n)
        return vs_error_set(err, VS_ERR_INTERNAL, "the commit point lies beyond the plan");
    for (i = 0; i < p->n; i++)
        if (check_step(&p->steps[i], "plan step", i, i < p->commit, false, optional, err) < 0)
            return -1;
    for (i = 0; i < p->nfin; i++)
        if (check_step(&p->fin[i], "finally action", i, false, true, optional, err) < 0)
            return -1;
    return 0;
}

int
vs_plan_validate(const vs_plan *p, vs_error *err)
{
    return vs_plan_validate_fields(p, 0, err);
}

bool
vs_plan_touches(const vs_plan *p, const char *path)
{
    size_t i;

    for (i = 0; i < p->n + p->nfin; i++) {
        const vs_step *s = i < p->n ? &p->steps[i] : &p->fin[i - p->n];

        if ((s->path && vs_same_image(s->path, path)) || (s->from && vs_same_image(s->from, path)))
            return true;
    }
    return false;
}

/* ---- dry run ------------------------------------------------------------ */

void
vs_step_format(const vs_step *s, vs_buf *b)
{
    switch (s->kind) {
    case VS_STEP_CREATE_IMAGE:
        vs_buf_addf(b, "create   %s (%s overlay on %s)", s->path, s->fmt, s->backing);
        break;
    case VS_STEP_REPLACE_IMAGE:
        vs_buf_addf(b, "replace  %s with %s", s->path, s->from);
        break;
    case VS_STEP_COMMIT_IMAGE:
        vs_buf_addf(b, "commit   %s into %s", s->path, s->backing ? s->backing : "its backing file");
        break;
    case VS_STEP_REBASE_IMAGE:
        if (s->backing && *s->backing)
            vs_buf_addf(b, "rebase   %s onto %s (copies the data of %s)", s->path, s->backing,
                        s->old_backing && *s->old_backing ? s->old_backing : "its backing file");
        else
            vs_buf_addf(b, "rebase   %s onto no backing file (copies all data into it)", s->path);
        break;
    case VS_STEP_RETARGET_IMAGE:
        vs_buf_addf(b, "rebase   %s onto %s (backing name only)", s->path,
                    s->backing && *s->backing ? s->backing : "no backing file");
        break;
    case VS_STEP_REMOVE_IMAGE:
        vs_buf_addf(b, "remove   %s", s->path);
        break;
    case VS_STEP_TAG_CREATE:
        vs_buf_addf(b, "internal snapshot '%s' created in %s", s->name, s->path);
        break;
    case VS_STEP_TAG_APPLY:
        vs_buf_addf(b, "internal snapshot '%s' applied to %s", s->name, s->path);
        break;
    case VS_STEP_TAG_DELETE:
        vs_buf_addf(b, "internal snapshot '%s' deleted from %s", s->name, s->path);
        break;
    case VS_STEP_WRITE_SNAPSHOT:
        vs_buf_addf(b, "metadata: write snapshot '%s'", s->name);
        break;
    case VS_STEP_REMOVE_SNAPSHOT:
        vs_buf_addf(b, "metadata: remove snapshot '%s'", s->name);
        break;
    case VS_STEP_WRITE_DOMAIN:
        vs_buf_add(b, "metadata: write the domain definition");
        break;
    case VS_STEP_SET_CURRENT:
        if (s->name)
            vs_buf_addf(b, "metadata: current snapshot becomes '%s'", s->name);
        else
            vs_buf_add(b, "metadata: no current snapshot");
        break;
    case VS_STEP_WRITE_REGISTRY:
        vs_buf_add(b, "metadata: write the list of overlays vsnap made");
        break;
    case VS_STEP_VM_PAUSE:
        vs_buf_add(b, "QEMU: pause the guest");
        break;
    case VS_STEP_VM_RESUME:
        vs_buf_add(b, "QEMU: resume the guest");
        break;
    case VS_STEP_VM_SAVE:
    case VS_STEP_VM_LOAD:
    case VS_STEP_VM_TAG_DELETE:
    case VS_STEP_VM_TAG_DISKS: {
        vs_vm_disk *disks;
        size_t n, i;

        vs_buf_addf(b, "QEMU: internal snapshot '%s' %s", s->name,
                    s->kind == VS_STEP_VM_SAVE ? "taken of" :
                    s->kind == VS_STEP_VM_TAG_DISKS ? "of the disks only, at once, taken of" :
                    s->kind == VS_STEP_VM_LOAD ? "loaded into" : "deleted from");
        if (vs_vm_disks_parse(s->text, &disks, &n) == 0) {
            for (i = 0; i < n; i++)
                vs_buf_addf(b, "%s %s (%s)", i ? "," : "", disks[i].target, disks[i].image);
            vs_vm_disks_free(disks, n);
        }
        if (s->kind != VS_STEP_VM_TAG_DELETE && s->path)
            vs_buf_addf(b, ", memory state %s %s", s->kind == VS_STEP_VM_SAVE ? "in" : "from",
                        s->path);
        break;
    }
    case VS_STEP_VM_START:
        vs_buf_add(b, "QEMU: start the domain, paused");
        if (s->reset_nvram)
            vs_buf_add(b, ", its NVRAM re-created from its template first");
        break;
    case VS_STEP_VM_STOP:
        vs_buf_add(b, "QEMU: stop the domain");
        break;
    case VS_STEP_VM_OVERLAY:
        vs_buf_addf(b, "QEMU: %s %s (%s overlay on %s) and open it", s->reuse ? "take" : "create",
                    s->path, s->fmt, s->backing);
        break;
    case VS_STEP_VM_SNAPSHOT_DISKS: {
        vs_vm_disk *disks;
        size_t n, i;

        vs_buf_add(b, "QEMU: in one transaction,");
        if (vs_vm_disks_parse(s->text, &disks, &n) == 0) {
            for (i = 0; i < n; i++)
                vs_buf_addf(b, "%s %s moves onto %s", i ? "," : "", disks[i].target,
                            disks[i].overlay ? disks[i].overlay : "?");
            vs_vm_disks_free(disks, n);
        }
        break;
    }
    case VS_STEP_VM_COMMIT:
        vs_buf_addf(b, "QEMU: commit %s into %s (block-commit)", s->path, s->backing);
        break;
    case VS_STEP_VM_STREAM:
        if (s->backing && *s->backing)
            vs_buf_addf(b, "QEMU: stream into %s down to %s, its new backing file (block-stream)",
                        s->path, s->backing);
        else
            vs_buf_addf(b, "QEMU: stream all data into %s (block-stream)", s->path);
        break;
    case VS_STEP_VM_CLOSE:
        vs_buf_addf(b, "QEMU: close %s", s->path);
        break;
    case VS_STEP_VM_SAVE_MEMORY:
        vs_buf_addf(b, "QEMU: save the guest's memory state into %s (written as %s)", s->path,
                    s->from);
        break;
    case VS_STEP_VM_RESTORE:
        vs_buf_addf(b, "QEMU: start the domain from the memory state in %s, %s", s->path,
                    s->name && strstr(s->name, "paused") ? "paused" : "running");
        break;
    case VS_STEP_REMOVE_MANAGED_SAVE:
        vs_buf_add(b, "metadata: remove the managed-save image");
        break;
    case VS_STEP_VM_FREEZE:
        vs_buf_add(b, "guest agent: freeze the guest's file systems");
        break;
    case VS_STEP_VM_THAW:
        vs_buf_add(b, "guest agent: thaw the guest's file systems");
        break;
    case VS_STEP_KIND_COUNT:
        vs_buf_add(b, "?");
        break;
    }
    if (s->why && *s->why)
        vs_buf_addf(b, ": %s", s->why);
}

void
vs_plan_format(const vs_plan *p, vs_buf *b)
{
    size_t i;

    vs_buf_addf(b, "Plan for %s", p->operation);
    if (p->snapshot)
        vs_buf_addf(b, " of snapshot '%s'", p->snapshot);
    vs_buf_addf(b, " on domain '%s' (dry run: nothing was changed)\n", p->domain);
    if (p->n == 0 && p->nfin == 0)
        vs_buf_add(b, "  nothing to do\n");
    for (i = 0; i < p->n; i++) {
        if (i == p->commit && p->commit > 0)
            vs_buf_add(b, "  -- commit point: a failure before it undoes the steps above --\n");
        vs_buf_addf(b, "  %zu. ", i + 1);
        vs_step_format(&p->steps[i], b);
        vs_buf_addc(b, '\n');
    }
    if (p->commit == p->n && p->n > 0)
        vs_buf_add(b, "  -- commit point: a failure before it undoes the steps above --\n");
    for (i = 0; i < p->nfin; i++) {
        vs_buf_addf(b, "  finally %zu. ", i + 1);
        vs_step_format(&p->fin[i], b);
        vs_buf_addc(b, '\n');
    }
    for (i = 0; p->notes && p->notes[i]; i++)
        vs_buf_addf(b, "  note: %s\n", p->notes[i]);
}
