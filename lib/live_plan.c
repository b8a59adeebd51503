/* Plans for a running domain (see live_plan.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "image_id.h"
#include "live_plan.h"
#include "mem.h"

void
vs_live_disks_add(const vs_domain_def *dom, const char *path, vs_vm_disk **disks, size_t *n,
                  size_t *cap)
{
    size_t i, k;

    for (i = 0; dom && i < dom->ndisks; i++) {
        const vs_domain_disk *dd = &dom->disks[i];

        if (!vs_disk_is_local(dd) || !vs_same_image(dd->source, path))
            continue;
        for (k = 0; k < *n && strcmp((*disks)[k].target, dd->target) != 0; k++)
            ;
        if (k < *n)
            continue;
        vs_xgrow(disks, cap, *n, sizeof(**disks));
        (*disks)[*n].target = vs_xstrdup(dd->target);
        (*disks)[*n].image = vs_xstrdup(dd->source);
        (*n)++;
    }
}

/* The files a step of an image mechanism opens: its image, and for the
 * steps that read or write through it, its backing file. */
static const char *
opened(const vs_step *s, int which)
{
    switch (which) {
    case 0:
        return s->path;
    case 1:
        return s->from;
    case 2:
        /* a commit writes into it, a safe rebase and a create read it */
        return s->kind == VS_STEP_COMMIT_IMAGE || s->kind == VS_STEP_REBASE_IMAGE ||
               s->kind == VS_STEP_CREATE_IMAGE ? s->backing : NULL;
    case 3:
        return s->kind == VS_STEP_REBASE_IMAGE ? s->old_backing : NULL;
    default:
        return NULL;
    }
}

/* The first file of s the running QEMU holds, and how (model.h). */
static const char *
held(const vs_model *m, const vs_step *s, int *how, const char **target)
{
    int w;

    for (w = 0; w < 4; w++) {
        const char *f = opened(s, w);

        if (f && *f && (*how = vs_model_qemu_holds(m, f, target)) != 0)
            return f;
    }
    return NULL;
}

/* The snapshot whose internal snapshot `tag` is (a tag is named after its
 * snapshot), for libvirt's message. */
static int
refuse(const vs_model *m, const vs_step *s, const char *file, int how, const char *target,
       vs_error *err)
{
    (void)m;
    if (s->kind == VS_STEP_TAG_DELETE && how == 2)
        return vs_error_set(err, VS_ERR_NO_SUPPORT,
                            "disk image '%s' for internal snapshot '%s' is not the same as disk "
                            "image currently used by VM", target, s->name);
    return vs_error_set(err, VS_ERR_NO_SUPPORT,
                        "the running QEMU has image '%s' of disk '%s' open%s, and vsnap cannot "
                        "yet %s it while the domain runs; shut the domain off first",
                        file, target, how == 2 ? " (as a backing file)" : "",
                        vs_step_info(s->kind)->name);
}

int
vs_live_adapt(vs_model *m, vs_plan *p, vs_error *err)
{
    vs_plan *q;
    vs_plan tmp;
    bool *grouped;
    size_t i, j, commit = p->commit;

    if (!m->live)
        return 0;
    /* every step on a held image must have its QMP form */
    for (i = 0; i < p->n + p->nfin; i++) {
        const vs_step *s = i < p->n ? &p->steps[i] : &p->fin[i - p->n];
        const vs_step_kind_info *k = vs_step_info(s->kind);
        const char *target = "?", *f;
        int how = 0;

        if (k->mech == VS_MECH_STORE || k->mech == VS_MECH_QMP)
            continue;
        if (!(f = held(m, s, &how, &target)))
            continue;
        if (s->kind == VS_STEP_TAG_DELETE && how == 1)
            continue;
        return refuse(m, s, f, how, target, err);
    }

    q = vs_plan_new(p->operation, p->domain, p->uuid, p->snapshot);
    grouped = vs_xcalloc(p->n + 1, sizeof(*grouped));
    for (i = 0; i < p->n; i++) {
        const vs_step *s = &p->steps[i];
        int how = 0;
        const char *t = NULL;

        if (i == commit)
            vs_plan_commit_point(q);
        if (grouped[i])
            continue;
        if (s->kind != VS_STEP_TAG_DELETE || !held(m, s, &how, &t)) {
            vs_plan_add_copy(q, s);
            continue;
        }
        /* this snapshot's tag from every disk that QEMU runs on, in one job */
        {
            vs_vm_disk *disks = NULL;
            size_t nd = 0, cap = 0;

            for (j = i; j < p->n; j++) {
                const vs_step *o = &p->steps[j];

                if (o->kind != VS_STEP_TAG_DELETE || strcmp(o->name, s->name) != 0 ||
                    (j >= commit) != (i >= commit) || !held(m, o, &how, &t))
                    continue;
                vs_live_disks_add(m->live_dom, o->path, &disks, &nd, &cap);
                grouped[j] = true;
            }
            vs_plan_vm_tags(q, VS_STEP_VM_TAG_DELETE, s->name, NULL, disks, nd, s->why);
            vs_vm_disks_free(disks, nd);
        }
    }
    if (commit == p->n)
        vs_plan_commit_point(q);
    free(grouped);
    vs_plan_begin_finally(q);
    for (i = 0; i < p->nfin; i++)
        vs_plan_add_copy(q, &p->fin[i]);
    q->adding_finally = p->adding_finally;
    /* the notes stay; the rest of p becomes q's */
    q->notes = p->notes;
    p->notes = NULL;
    tmp = *p;
    *p = *q;
    *q = tmp;
    vs_plan_free(q);
    return 0;
}
