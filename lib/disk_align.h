/* Align a snapshot's <disks> with the domain's disks (virsh-behaviour.md B.3). */
#ifndef VSNAP_DISK_ALIGN_H
#define VSNAP_DISK_ALIGN_H

#include <stdbool.h>
#include "snapshot_def.h"

/*
 * Rewrite def->disks so there is exactly one entry per disk of `dom`, in
 * domain disk order, each named by target, with location and generated
 * external file names as B.3 describes. `default_loc` is VS_LOC_INTERNAL or
 * VS_LOC_EXTERNAL; `uniform_internal` is true for vsnap (as qemu);
 * `force_default` is true only for revert overlays. Every error message is
 * libvirt's. On failure def is unchanged.
 */
int vs_disk_align(vs_snapshot_def *def, const vs_domain_def *dom,
                  vs_snap_location default_loc, bool uniform_internal,
                  bool force_default, vs_error *err);

/* The default external file name for disk source `src` and snapshot `name`:
 * "/img/vm.qcow2" + "s1" -> "/img/vm.s1". Caller frees. */
char *vs_disk_external_name(const char *src, const char *name);

#endif
