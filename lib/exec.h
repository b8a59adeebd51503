/* Executors: one per mechanism (plan.h's vs_mechanism), each carrying out,
 * undoing and observing the steps of its kinds. plan_run.c picks the
 * executor from the step table; nothing else runs a step. */
#ifndef VSNAP_EXEC_H
#define VSNAP_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include "error.h"
#include "plan.h"
#include "store.h"

/* What a look at the world says about one step. */
typedef enum vs_seen {
    VS_SEEN_NOT_DONE = 0,   /* it has not taken effect */
    VS_SEEN_DONE,           /* it has */
    VS_SEEN_UNKNOWN,        /* cannot tell (a commit): replay decides */
    VS_SEEN_CONFLICT,       /* something else is there: neither run nor undo it */
} vs_seen;

struct vs_qmp;

typedef struct vs_exec_ctx {
    vs_dom *d;               /* the domain the plan belongs to (its lock is held) */
    const vs_plan *plan;
    vs_buf *notes;           /* lines for people about what was left alone, or NULL */
    struct vs_qmp *qmp;      /* the QMP executor's monitor connection while the plan
                              * runs, NULL when none is open (its finish closes it) */
    bool repairing;          /* vs_plan_repair: what an interrupted run left (a job
                              * still in QEMU, say) may be there */
} vs_exec_ctx;

typedef struct vs_executor {
    vs_mechanism mech;
    /* Carry out s. On failure err says why; whether it took effect is for
     * observe to tell. */
    int (*run)(vs_exec_ctx *x, const vs_step *s, vs_error *err);
    /* Several independent steps of one groupable kind at once (NULL: one by one). */
    int (*run_group)(vs_exec_ctx *x, const vs_step *const *s, size_t n, vs_error *err);
    /* Undo s, whether or not it ran: an undo of a step that did not take
     * effect changes nothing. Refuses (-1) when the world no longer matches
     * what s did (someone else changed the file since). */
    int (*undo)(vs_exec_ctx *x, const vs_step *s, vs_error *err);
    /* Look, change nothing. *why (caller frees, may be NULL) explains a CONFLICT. */
    vs_seen (*observe)(vs_exec_ctx *x, const vs_step *s, char **why);
    /* The plan's run (execute or repair) ended: drop what run kept open
     * (NULL: nothing to drop). */
    void (*finish)(vs_exec_ctx *x);
    /* The most steps run_group takes at once (0: the runner's default, a
     * few: image work runs that many processes side by side). */
    size_t max_group;
} vs_executor;

extern const vs_executor vs_exec_qemu_img;   /* exec_qemu_img.c */
extern const vs_executor vs_exec_file;       /* exec_file.c */
extern const vs_executor vs_exec_store;      /* exec_store.c */
extern const vs_executor vs_exec_qmp;        /* exec_qmp.c */

/* The executor of a step's mechanism. */
const vs_executor *vs_executor_for(vs_step_kind kind);

/* Shared by the image executors: whether image path's header names backing
 * (normalised; "" = no backing file) as its backing file: 1 yes, 0 no, -1
 * when it cannot be read or does not exist. */
int vs_exec_backing_is(const char *path, const char *backing);

/* Whether image holds internal snapshot tag (its header, read directly;
 * qemu-img -U for formats vsnap does not read itself): 1, 0 (also for an
 * image that does not exist or cannot hold one), -1 when it cannot tell. */
int vs_exec_image_has_tag(const char *image, const char *tag, vs_error *err);

/* Whether a step of the plan before s changes s's file (a tag deleted from,
 * or a backing name rewritten in, an image the plan then commits or
 * removes): then the file's inode change time moves on, and a replay
 * compares only its device and inode with what the plan recorded. */
bool vs_exec_changed_by_plan(const vs_exec_ctx *x, const vs_step *s);

/* A new image made private (0600, as libvirt makes snapshot images) and
 * durable (the file and its directory synced) before anything names it. */
int vs_exec_settle_image(const char *path, vs_error *err);

/* qemu-img create of an overlay, then settled as above. */
int vs_exec_create_image(const char *path, const char *fmt, const char *backing,
                         const char *backing_fmt, vs_error *err);

#endif
