/* Saved domains: save, restore, managed save, start from a managed save,
 * and the save-image commands (virsh's save, restore, managedsave,
 * managedsave-remove, save-image-dumpxml, save-image-define). One planner
 * per verb; every change of state is a plan (plan.h) run with its journal:
 *   save / managedsave:  pause | vm-save-memory | commit | vm-stop "saved"
 *   restore:             vm-restore
 *   start (managed):     vm-restore | commit | remove-managed-save
 *   start --force-boot:  remove-managed-save, then a plain start
 *   managedsave-remove:  remove-managed-save
 * A crash or a SIGKILL anywhere leaves a journal that snapshot-check
 * --repair rolls back (the temporary image removed, the guest resumed) or
 * finishes. The file formats are saveimage.h's. */
#ifndef VSNAP_DOMAIN_SAVE_H
#define VSNAP_DOMAIN_SAVE_H

#include <stdbool.h>
#include "buf.h"
#include "error.h"
#include "store.h"

typedef struct vs_save_flags {
    bool running;           /* --running: the image restores running */
    bool paused;            /* --paused: ... paused */
    bool bypass_cache;      /* --bypass-cache: the file's pages leave the page cache */
    const char *xml;        /* --xml: the domain XML to store / restore with (NULL: none) */
} vs_save_flags;

/*
 * save (path) or managedsave (path NULL: the domain's managed.save). The
 * domain must run ("Requested operation is not valid: domain is not
 * running"); afterwards it is shut off, reason "saved". --running and
 * --paused together: "Flags 'VIR_DOMAIN_SAVE_RUNNING' and
 * 'VIR_DOMAIN_SAVE_PAUSED' are mutually exclusive".
 */
int vs_domain_save(vs_dom *d, const char *path, const vs_save_flags *f, vs_error *err);

/*
 * restore: the domain the image names (defined in st: vsnap has no
 * transient domains) is started from it. *name (caller frees, may be NULL)
 * is that domain. The domain's lock is taken here.
 */
int vs_domain_restore(vs_store *st, const char *path, const vs_save_flags *f, char **name,
                      vs_error *err);

/* start: from the managed save when there is one (removed once the guest
 * runs), else a fresh boot; force_boot discards the managed save first. An
 * image that is incomplete or damaged (its header or XML) is removed and
 * the domain boots, as libvirt does. */
int vs_domain_start_saved(vs_dom *d, bool paused, bool force_boot, bool bypass_cache,
                          vs_error *err);

/* managedsave-remove: *removed false when there was none. */
int vs_domain_managed_save_remove(vs_dom *d, bool *removed, vs_error *err);

/* save-image-dumpxml: the image's domain XML, as virsh prints it (without
 * `secure`, security-sensitive attributes left out). */
int vs_saveimage_dumpxml(const char *path, bool secure, vs_buf *out, vs_error *err);

/*
 * save-image-define: the image gets `xml` (name and uuid must stay those of
 * the image's domain) and, with f->running / f->paused, a new state; in
 * place, in the room the image has ("operation failed: new xml too large to
 * fit in file" otherwise, the image unchanged). *changed false when the
 * image already said that.
 */
int vs_saveimage_define(const char *path, const char *xml, const vs_save_flags *f, bool *changed,
                        vs_error *err);

#endif
