/* Plans for a running domain: a plan decided for images nobody has open,
 * made fit for a QEMU that has some of them open (model.h's live model).
 * qemu-img never touches an image QEMU holds: each step on one becomes the
 * QMP step that does the same inside QEMU, or the plan is refused saying
 * why; steps on images QEMU does not hold stay as they are. */
#ifndef VSNAP_LIVE_PLAN_H
#define VSNAP_LIVE_PLAN_H

#include "error.h"
#include "model.h"
#include "plan.h"

/*
 * Rewrite p (made by an offline planner from m) for m's running QEMU; a
 * model that is not live leaves p as it is. Of the steps on images QEMU
 * holds: the internal snapshots deleted from the disks' active layers go in
 * one snapshot-delete job per snapshot (VS_STEP_VM_TAG_DELETE); a layer
 * committed into the one below is QEMU's block-commit (VM_COMMIT; of the
 * active layer the disk moves down); a layer rebased is QEMU's block-stream
 * (VM_STREAM; the commit point moves before it, a stream cannot be undone);
 * a file removed is closed in QEMU first (VM_CLOSE). Refused: an internal
 * snapshot in an image QEMU uses read-only below a disk ("Operation not
 * supported: disk image 'vda' for internal snapshot 'S' is not the same as
 * disk image currently used by VM", libvirt's words), a commit into an image
 * QEMU holds from one it does not, and any other change to (or qemu-img
 * open of) an image QEMU writes, naming it. On failure p is unchanged.
 */
int vs_live_adapt(vs_model *m, vs_plan *p, vs_error *err);

/* The disks of definition dom whose image is `path` (the active layer QEMU
 * opens for them), as a VM step names them, appended to *disks
 * (vs_vm_disks_free) unless there already. */
void vs_live_disks_add(const vs_domain_def *dom, const char *path, vs_vm_disk **disks,
                       size_t *n, size_t *cap);

#endif
