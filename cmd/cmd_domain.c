/* Domain commands: define, undefine, list, dumpxml, domstate, domblklist. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "domain_def.h"
#include "mem.h"
#include "path.h"
#include "print.h"
#include "snapshot_ops.h"
#include "store.h"
#include "xml.h"

static const char *
state_name(vs_domstate s)
{
    switch (s) {
    case VS_DOMSTATE_RUNNING: return "running";
    case VS_DOMSTATE_PAUSED:  return "paused";
    case VS_DOMSTATE_SHUTOFF: break;
    }
    return "shut off";
}

/*
 * define and undefine change a domain without the dispatcher opening it
 * (the store takes the lock itself): an interrupted operation on an existing
 * domain is refused here, as for every command that changes a domain.
 */
static int
refuse_interrupted(vs_ctl *ctl, const char *name)
{
    vs_dom *d = vs_dom_open(ctl->store, name, VS_LOCK_NONE, NULL);
    int ret = 0;

    if (d)
        ret = vs_cmd_interrupted(ctl, d, true, &ctl->err);
    vs_dom_close(d);
    return ret;
}

int
cmd_define(vs_ctl *ctl, const vs_args *a)
{
    const char *file = vs_arg_str(a, "file");
    vs_domain_def *def;
    char *data = NULL;
    size_t len = 0;
    int ret = -1;

    if (vs_file_read(file, VS_XML_MAX_SIZE, &data, &len, &ctl->err) < 0)
        return -1;
    if (!(def = vs_domain_def_parse(data, len, file, &ctl->err)) ||
        refuse_interrupted(ctl, def->name) < 0 ||
        vs_store_define(ctl->store, def, NULL, &ctl->err) < 0) {
        vs_print_error(ctl, "Failed to define domain from %s", file);
        goto out;
    }
    vs_out_extra(ctl, "Domain '%s' defined from %s\n", def->name, file);
    ret = 0;
 out:
    vs_domain_def_free(def);
    free(data);
    return ret;
}

/*
 * Not opened by the dispatcher: vs_store_undefine takes the domain's
 * exclusive lock itself, and a second lock from this process would wait on
 * the first.
 */
int
cmd_undefine(vs_ctl *ctl, const vs_args *a)
{
    const char *name = vs_arg_str(a, "domain");
    vs_dom *d;

    /* virsh looks the domain up first: a domain that cannot be opened (the
     * metadata directory missing, a planted link) is one error line, as an
     * unknown one is, not an undefine that failed. */
    if (!(d = vs_dom_open(ctl->store, name, VS_LOCK_NONE, &ctl->err))) {
        if (ctl->err.code == VS_ERR_NO_DOMAIN) {
            vs_error_clear(&ctl->err);
            vs_print_error(ctl, "failed to get domain '%s'", name);
        }
        return -1;
    }
    vs_dom_close(d);
    if (refuse_interrupted(ctl, name) < 0 ||
        vs_store_undefine(ctl->store, name, vs_arg_bool(a, "snapshots-metadata"), &ctl->err) < 0) {
        if (ctl->err.code == VS_ERR_NO_DOMAIN) {
            vs_error_clear(&ctl->err);
            vs_print_error(ctl, "failed to get domain '%s'", name);
        } else {
            vs_print_error(ctl, "Failed to undefine domain '%s'", name);
        }
        return -1;
    }
    vs_out_extra(ctl, "Domain '%s' has been undefined\n", name);
    return 0;
}

int
cmd_list(vs_ctl *ctl, const vs_args *a)
{
    static const char *const headers[] = { "Id", "Name", "State" };
    bool all = vs_arg_bool(a, "all");
    bool names_only = vs_arg_bool(a, "name");
    vs_table *t = NULL;
    char **names = NULL, **skipped = NULL;
    size_t i;

    if (vs_store_scan(ctl->store, &names, &skipped, &ctl->err) < 0)
        return -1;
    /* What is not a domain, as a planted link, is said, not hidden. */
    for (i = 0; skipped[i]; i++)
        vs_print_warning(ctl, "%s; not listed", skipped[i]);
    vs_strv_free(skipped);
    if (!names_only)
        t = vs_table_new(headers, 3);
    for (i = 0; names[i]; i++) {
        vs_domstate st;
        vs_dom *d;
        vs_error err;

        /* No lock: a listing must not wait for a busy domain, and a domain
         * undefined meanwhile simply drops out. */
        vs_error_clear(&err);
        if (!(d = vs_dom_open(ctl->store, names[i], VS_LOCK_NONE, &err))) {
            if (err.code != VS_ERR_NO_DOMAIN)
                vs_print_warning(ctl, "%s; domain '%s' not listed", err.msg, names[i]);
            continue;
        }
        st = vs_domain_state(d);
        /* without --all virsh lists only active domains */
        if (!all && st == VS_DOMSTATE_SHUTOFF) {
            vs_dom_close(d);
            continue;
        }
        vs_cmd_interrupted(ctl, d, false, NULL);
        vs_dom_close(d);
        if (names_only) {
            vs_out(ctl, "%s\n", names[i]);
        } else {
            const char *row[3] = { "-", names[i], state_name(st) };
            vs_table_add_row(t, row);
        }
    }
    if (t) {
        vs_table_print(ctl, t);
        vs_table_free(t);
    }
    vs_strv_free(names);
    return 0;
}

int
cmd_dumpxml(vs_ctl *ctl, const vs_args *a)
{
    vs_domain_def *def = vs_dom_def(ctl->dom, &ctl->err);
    vs_buf b = VS_BUF_INIT;

    if (!def)
        return -1;
    vs_domain_def_format(&b, def, 0, vs_arg_bool(a, "security-info"), NULL);
    vs_out(ctl, "%s\n", vs_buf_str(&b));
    vs_buf_reset(&b);
    return 0;
}

int
cmd_domstate(vs_ctl *ctl, const vs_args *a)
{
    (void)a;
    vs_out(ctl, "%s\n", state_name(vs_domain_state(ctl->dom)));
    return 0;
}

/* What virsh shows as a disk's source: the first of the <source>
 * attributes that name it, whatever the storage type. Caller frees. */
static char *
disk_source(const vs_domain_disk *disk)
{
    static const char *const attrs[] = { "file", "dev", "dir", "name", "volume" };
    xmlNodePtr src = disk->node ? vs_xml_child(disk->node, "source") : NULL;
    size_t i;

    if (!src)
        return vs_xstrdup(disk->source);
    for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
        char *v = vs_xml_prop(src, attrs[i]);
        if (v && *v)
            return v;
        free(v);
    }
    return NULL;
}

int
cmd_domblklist(vs_ctl *ctl, const vs_args *a)
{
    static const char *const short_hdr[] = { "Target", "Source" };
    static const char *const long_hdr[] = { "Type", "Device", "Target", "Source" };
    bool details = vs_arg_bool(a, "details");
    vs_domain_def *def = vs_dom_def(ctl->dom, &ctl->err);
    vs_table *t;
    size_t i;

    if (!def)
        return -1;
    t = details ? vs_table_new(long_hdr, 4) : vs_table_new(short_hdr, 2);
    for (i = 0; i < def->ndisks; i++) {
        const vs_domain_disk *disk = &def->disks[i];
        char *src = disk_source(disk);
        const char *s = src && *src ? src : "-";
        const char *target = disk->target ? disk->target : "";

        if (details) {
            const char *row[4] = { vs_storage_type_name(disk->type),
                                   disk->device ? disk->device : "disk", target, s };
            vs_table_add_row(t, row);
        } else {
            const char *row[2] = { target, s };
            vs_table_add_row(t, row);
        }
        free(src);
    }
    vs_table_print(ctl, t);
    vs_table_free(t);
    return 0;
}
