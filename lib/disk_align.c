#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "disk_align.h"
#include "mem.h"

/*
 * virsh-behaviour.md B.3. The work is done on side tables first and the
 * snapshot's disk list is rebuilt only once every check has passed, so a
 * failed alignment leaves the definition exactly as it was.
 */

char *
vs_disk_external_name(const char *src, const char *name)
{
    const char *dot = strrchr(src, '.');
    size_t keep = strlen(src);

    /* Only a suffix of the last path component is dropped: "/a.b/disk"
     * keeps its directory's dot. */
    if (dot && !strchr(dot, '/'))
        keep = (size_t)(dot - src);
    return vs_xasprintf("%.*s.%s", (int)keep, src, name);
}

/* The path libvirt compares and derives names from: file, dev, dir, a
 * network disk's name, a vhost-user socket. */
static const char *
domain_disk_path(const vs_domain_disk *d)
{
    return d->type == VS_STORAGE_NETWORK ? d->source_name : d->source;
}

/* libvirt's "empty" source: a local disk without a path (an empty CD-ROM)
 * or a network disk without a protocol. */
static bool
domain_disk_empty(const vs_domain_disk *d)
{
    switch (d->type) {
    case VS_STORAGE_FILE:
    case VS_STORAGE_BLOCK:
    case VS_STORAGE_DIR:
        return d->source == NULL;
    case VS_STORAGE_NETWORK:
        return d->protocol == NULL;
    default:
        return false;
    }
}

/* What one domain disk will get, decided before anything is changed. */
typedef struct slot {
    long entry;                /* index into def->disks, -1 for a fresh entry */
    vs_snap_location loc;
    vs_storage_type type;
    const char *path;          /* the entry's existing path, borrowed */
    char *generated;           /* default external name, owned until committed */
} slot;

static void
free_slots(slot *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(s[i].generated);
    free(s);
}

int
vs_disk_align(vs_snapshot_def *def, const vs_domain_def *dom,
              vs_snap_location default_loc, bool uniform_internal,
              bool force_default, vs_error *err)
{
    const vs_domain_def *domdef = def->dom ? def->dom : dom;
    bool require_match;
    slot *slots;
    vs_snap_disk *out;
    size_t i, j, n;

    if (!domdef)
        return vs_error_set(err, VS_ERR_INTERNAL, "missing domain in snapshot");
    if (def->ndisks > domdef->ndisks)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "too many disk snapshot requests for domain");
    require_match = uniform_internal && default_loc == VS_LOC_INTERNAL;
    n = domdef->ndisks;
    if (n == 0)
        return 0;

    slots = vs_xcalloc(n, sizeof(*slots));
    for (j = 0; j < n; j++)
        slots[j].entry = -1;

    /* The requested entries, in the order given. */
    for (i = 0; i < def->ndisks; i++) {
        const vs_snap_disk *sd = &def->disks[i];
        int idx = vs_domain_def_disk_index(domdef, sd->name);
        const vs_domain_disk *dd;
        vs_snap_location loc = sd->snapshot;

        if (idx < 0) {
            vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED, "no disk named '%s'", sd->name);
            goto fail;
        }
        dd = &domdef->disks[idx];
        if (slots[idx].entry >= 0) {
            vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED, "disk '%s' specified twice", sd->name);
            goto fail;
        }
        if (loc == VS_LOC_DEFAULT) {
            /* Under require-match a domain disk's own preference counts only
             * when it opts out. */
            if (dd->snapshot != VS_LOC_DEFAULT &&
                (!require_match || dd->snapshot == VS_LOC_NO))
                loc = dd->snapshot;
            else
                loc = default_loc;
        } else if (require_match && loc != default_loc &&
                   !(loc == VS_LOC_NO && dd->snapshot == VS_LOC_NO)) {
            vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                         "disk '%s' must use snapshot mode '%s'",
                         sd->name, vs_snap_location_name(default_loc));
            goto fail;
        }
        if (sd->source && loc != VS_LOC_EXTERNAL) {
            vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                         "file '%s' for disk '%s' requires use of external snapshot mode",
                         sd->source, sd->name);
            goto fail;
        }
        slots[idx].entry = (long)i;
        slots[idx].loc = loc;
        slots[idx].type = sd->type;
        slots[idx].path = sd->source;
    }

    /* Every other domain disk gets an entry of its own. */
    for (j = 0; j < n; j++) {
        const vs_domain_disk *dd = &domdef->disks[j];

        if (slots[j].entry >= 0)
            continue;
        slots[j].type = VS_STORAGE_FILE;
        if (domain_disk_empty(dd))
            slots[j].loc = VS_LOC_NO;
        else if (!force_default && dd->snapshot != VS_LOC_DEFAULT)
            slots[j].loc = dd->snapshot;
        else
            slots[j].loc = default_loc;
    }

    /* Default names for external entries without a path, domain order. */
    for (j = 0; j < n; j++) {
        const vs_domain_disk *dd = &domdef->disks[j];
        const char *orig, *prev;
        struct stat st;
        size_t k;

        if (slots[j].loc != VS_LOC_EXTERNAL || slots[j].path)
            continue;
        if (slots[j].type != VS_STORAGE_FILE) {
            vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                         "cannot generate external snapshot name for disk '%s' on a '%s' device",
                         dd->target, vs_storage_type_name(slots[j].type));
            goto fail;
        }
        if (dd->type == VS_STORAGE_NETWORK) {
            /* libvirt's words; the name is never looked up as a path */
            vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                         "source for disk '%s' is not a regular file; refusing to generate "
                         "external snapshot name", dd->target);
            goto fail;
        }
        if (!(orig = domain_disk_path(dd))) {
            vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                         "cannot generate external snapshot name for disk '%s' without source",
                         dd->target);
            goto fail;
        }
        if (stat(orig, &st) < 0 && dd->type == VS_STORAGE_FILE) {
            /* libvirt says "not a regular file" here too, which sends the
             * user looking for a device where there is no file at all. */
            if (errno == ENOENT || errno == ENOTDIR)
                vs_error_set(err, VS_ERR_OPERATION_FAILED,
                             "source file '%s' of disk '%s' does not exist", orig, dd->target);
            else
                vs_error_sys(err, errno, "cannot access source file '%s' of disk '%s'", orig,
                             dd->target);
            goto fail;
        }
        if (stat(orig, &st) < 0 || !S_ISREG(st.st_mode)) {
            vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                         "source for disk '%s' is not a regular file; refusing to generate "
                         "external snapshot name", dd->target);
            goto fail;
        }
        slots[j].generated = vs_disk_external_name(orig, def->name ? def->name : "");
        for (k = 0; k < j; k++) {
            prev = slots[k].generated ? slots[k].generated : slots[k].path;
            if (prev && strcmp(prev, slots[j].generated) == 0) {
                vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                             "cannot generate external snapshot name for disk '%s': "
                             "collision with disk '%s'",
                             dd->target, domdef->disks[k].target);
                goto fail;
            }
        }
    }

    /* Commit: move requested entries into domain order, create the rest. */
    out = vs_xcalloc(n, sizeof(*out));
    for (j = 0; j < n; j++) {
        vs_snap_disk *o = &out[j];

        if (slots[j].entry >= 0) {
            *o = def->disks[slots[j].entry];
            if (strcmp(o->name, domdef->disks[j].target) != 0) {
                free(o->name);
                o->name = vs_xstrdup(domdef->disks[j].target);
            }
        } else {
            o->name = vs_xstrdup(domdef->disks[j].target);
            o->type = VS_STORAGE_FILE;
        }
        o->snapshot = slots[j].loc;
        if (slots[j].generated) {
            free(o->source);
            o->source = slots[j].generated;
            slots[j].generated = NULL;
            /* the parsed <source> no longer describes this entry */
            o->source_node = NULL;
        }
    }
    free(def->disks);
    def->disks = out;
    def->ndisks = n;
    free_slots(slots, n);
    return 0;

 fail:
    free_slots(slots, n);
    return -1;
}
