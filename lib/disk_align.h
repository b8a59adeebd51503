/* Align a snapshot's <disks> with the domain's disks (virsh-behaviour.md B.3). */
#ifndef VSNAP_DISK_ALIGN_H
#define VSNAP_DISK_ALIGN_H

#include <stdbool.h>
#include "snapshot_def.h"

/*
 * Rewrite def->disks so there is exactly one entry per disk of the domain, in
 * domain disk order, each named by target, with location and generated
 * external file names as B.3 describes. The domain is the snapshot's own
 * def->dom; `dom` is used only when def->dom is NULL (a redefine without
 * <domain>: pass the existing snapshot's definition, else NULL, which fails
 * with "internal error: missing domain in snapshot"). `default_loc` is
 * VS_LOC_INTERNAL or VS_LOC_EXTERNAL; `uniform_internal` is true for vsnap
 * (as qemu); `force_default` is true only for revert overlays. Generated
 * names stat() the domain disk's source. Every error message is libvirt's but
 * one: a file disk whose source is missing gets "operation failed: source file
 * 'P' of disk 'T' does not exist" (libvirt calls it "not a regular file").
 * On failure def is unchanged.
 */
int vs_disk_align(vs_snapshot_def *def, const vs_domain_def *dom,
                  vs_snap_location default_loc, bool uniform_internal,
                  bool force_default, vs_error *err);

/* The default external file name for disk source `src` and snapshot `name`:
 * "/img/vm.qcow2" + "s1" -> "/img/vm.s1". Caller frees. */
char *vs_disk_external_name(const char *src, const char *name);

#endif
