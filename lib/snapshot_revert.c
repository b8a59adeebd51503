/* snapshot-revert for a shut-off domain (virsh-behaviour.md A.9, B.6, C.3):
 * the checks virsh's client makes first, then snapshot_external.c's planner,
 * which covers internal snapshots too. */
#include "config.h"

#include "snapshot_external.h"
#include "snapshot_ops.h"

int
vs_snapshot_revert(vs_dom *d, const char *name, unsigned flags, vs_error *err)
{
    vs_snapshot_def *def;

    /* virsh looks the snapshot up before the library checks flags. */
    if (!(def = vs_dom_read_snapshot(d, name, err)))
        return -1;
    if ((flags & VS_REVERT_RUNNING) && (flags & VS_REVERT_PAUSED)) {
        vs_error_set(err, VS_ERR_PLAIN, "Flags '%s' and '%s' are mutually exclusive",
                     "VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING", "VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED");
        vs_snapshot_def_free(def);
        return -1;
    }
    if (flags & (VS_REVERT_RUNNING | VS_REVERT_PAUSED)) {
        vs_error_set(err, VS_ERR_NO_SUPPORT,
                     "vsnap cannot start domains yet; revert without --running/--paused");
        vs_snapshot_def_free(def);
        return -1;
    }
    if (!def->dom) {
        vs_error_set(err, VS_ERR_REVERT_FORCE, "snapshot '%s' lacks domain '%s' rollback info",
                     def->name, d->name);
        vs_snapshot_def_free(def);
        return -1;
    }
    /* snapshot_external.c plans every revert, internal ones too (the plan
     * --dry-run prints): the plan runs under the journal, so a crash between
     * two `qemu-img snapshot -a` is reported by the next command and
     * `snapshot-check --repair` finishes it. */
    vs_snapshot_def_free(def);
    return vs_ext_revert(d, name, flags, NULL, err);
}
