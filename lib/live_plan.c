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

/* How QEMU holds step s's image (model.h: 1 active layer, 2 below one, 0
 * not), and *target the disk. */
static int
holds(const vs_model *m, const char *path, const char **target)
{
    return path && *path ? vs_model_qemu_holds(m, path, target) : 0;
}

/* What becomes of an image step of an offline plan on a running domain. */
typedef enum { KEEP, CONVERT, REFUSE } fate;

/*
 * The rules. qemu-img may read an image QEMU reads (a backing file: QEMU
 * neither writes nor locks it against readers) but never open one QEMU
 * writes, nor write one QEMU reads:
 *  - an internal snapshot deleted from an active layer: QEMU's
 *    snapshot-delete; from a backing file: refused, as libvirt refuses it;
 *  - a layer QEMU holds committed into the one below: block-commit (of the
 *    active layer: the disk moves onto the one below); a layer QEMU does not
 *    hold committed into one it holds: refused (the guest would see it);
 *  - a layer QEMU holds rebased (safe or names only): block-stream, which
 *    leaves its content as it is and makes the new backing file its own;
 *    one QEMU does not hold: qemu-img, which only reads what QEMU holds;
 *  - a file QEMU holds removed (it is out of every chain by then): QEMU
 *    closes it first;
 *  - anything else that changes or reads an image QEMU writes: refused.
 */
static fate
decide(const vs_model *m, const vs_step *s, const char **file, int *how, const char **target)
{
    *file = s->path;
    *how = holds(m, s->path, target);
    switch (s->kind) {
    case VS_STEP_TAG_DELETE:
        return *how == 0 ? KEEP : *how == 1 ? CONVERT : REFUSE;
    case VS_STEP_COMMIT_IMAGE:
        if (*how)
            return CONVERT;
        *file = s->backing;
        *how = holds(m, s->backing, target);
        return *how ? REFUSE : KEEP;
    case VS_STEP_REBASE_IMAGE:
    case VS_STEP_RETARGET_IMAGE:
        return *how ? CONVERT : KEEP;
    case VS_STEP_REMOVE_IMAGE:
        return *how ? CONVERT : KEEP;
    case VS_STEP_CREATE_IMAGE:
        if (*how)
            return REFUSE;
        *file = s->backing;
        *how = holds(m, s->backing, target);
        return *how == 1 ? REFUSE : KEEP;
    case VS_STEP_REPLACE_IMAGE:
        if (*how)
            return REFUSE;
        *file = s->from;
        *how = holds(m, s->from, target);
        return *how ? REFUSE : KEEP;
    default:
        return *how ? REFUSE : KEEP;
    }
}

static int
refuse(const vs_step *s, const char *file, int how, const char *target, vs_error *err)
{
    if (s->kind == VS_STEP_TAG_DELETE && how == 2)
        return vs_error_set(err, VS_ERR_NO_SUPPORT,
                            "disk image '%s' for internal snapshot '%s' is not the same as disk "
                            "image currently used by VM", target, s->name);
    return vs_error_set(err, VS_ERR_NO_SUPPORT,
                        "the running QEMU has image '%s' of disk '%s' open%s, and vsnap cannot "
                        "%s it while the domain runs; shut the domain off first",
                        file, target, how == 2 ? " (as a backing file)" : "",
                        vs_step_info(s->kind)->name);
}

/* The disk's active layer, as m's live definition has it. */
static const char *
active_of(const vs_model *m, const char *target)
{
    int k = vs_domain_def_disk_index(m->live_dom, target);

    return k < 0 ? NULL : m->live_dom->disks[k].source;
}

int
vs_live_adapt(vs_model *m, vs_plan *p, vs_error *err)
{
    vs_plan *q;
    vs_plan tmp;
    bool *grouped, placed = false;
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
        if (decide(m, s, &f, &how, &target) == REFUSE)
            return refuse(s, f, how, target, err);
    }

    q = vs_plan_new(p->operation, p->domain, p->uuid, p->snapshot);
    grouped = vs_xcalloc(p->n + 1, sizeof(*grouped));
    for (i = 0; i < p->n; i++) {
        const vs_step *s = &p->steps[i];
        const char *t = NULL, *f;
        int how = 0;
        fate what;

        if (i == commit && !placed) {
            vs_plan_commit_point(q);
            placed = true;
        }
        if (grouped[i])
            continue;
        what = vs_step_info(s->kind)->mech == VS_MECH_STORE ||
               vs_step_info(s->kind)->mech == VS_MECH_QMP ? KEEP : decide(m, s, &f, &how, &t);
        if (what == KEEP) {
            vs_plan_add_copy(q, s);
            continue;
        }
        switch (s->kind) {
        case VS_STEP_TAG_DELETE: {
            /* this snapshot's tag from every disk that QEMU runs on, in one job */
            vs_vm_disk *disks = NULL;
            size_t nd = 0, cap = 0;

            for (j = i; j < p->n; j++) {
                const vs_step *o = &p->steps[j];
                const char *ot = NULL, *of;
                int oh = 0;

                if (o->kind != VS_STEP_TAG_DELETE || strcmp(o->name, s->name) != 0 ||
                    (j >= commit) != (i >= commit) || decide(m, o, &of, &oh, &ot) != CONVERT)
                    continue;
                vs_live_disks_add(m->live_dom, o->path, &disks, &nd, &cap);
                grouped[j] = true;
            }
            vs_plan_vm_tags(q, VS_STEP_VM_TAG_DELETE, s->name, NULL, disks, nd, s->why);
            vs_vm_disks_free(disks, nd);
            break;
        }
        case VS_STEP_COMMIT_IMAGE:
            vs_plan_vm_layer(q, VS_STEP_VM_COMMIT, t, active_of(m, t), s->path, s->backing, NULL,
                             s->why);
            break;
        case VS_STEP_REBASE_IMAGE:
        case VS_STEP_RETARGET_IMAGE:
            /* a stream cannot be undone: from here on the plan only goes forward */
            if (!placed) {
                vs_plan_commit_point(q);
                placed = true;
            }
            vs_plan_vm_layer(q, VS_STEP_VM_STREAM, t, active_of(m, t), s->path, s->backing,
                             s->old_backing, s->why);
            break;
        case VS_STEP_REMOVE_IMAGE:
            vs_plan_vm_layer(q, VS_STEP_VM_CLOSE, NULL, NULL, s->path, NULL, NULL, NULL);
            vs_plan_add_copy(q, s);
            break;
        default:
            vs_plan_add_copy(q, s);   /* (decide never converts another kind) */
            break;
        }
    }
    if (!placed)
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
