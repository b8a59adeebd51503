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
#include "result.h"
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
        if (vs_cmd_skip_busy(ctl, "define", &ctl->err))
            ret = 0;
        else
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

    if (refuse_interrupted(ctl, name) < 0 ||
        vs_store_undefine(ctl->store, name, vs_arg_bool(a, "snapshots-metadata"), &ctl->err) < 0) {
        if (vs_cmd_skip_busy(ctl, "undefine", &ctl->err))
            return 0;
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

/* list: virsh's Id / Name / State table; --json {"domains": [...]}. */
enum { DL_ID, DL_NAME, DL_STATE, DL_NCOLS };
static const vs_rcol domain_cols[DL_NCOLS] = {
    [DL_ID] = { "id", VS_RT_INT, "Id", NULL, "-" },   /* no domain runs: none has an id */
    [DL_NAME] = { "name", VS_RT_STR, "Name", NULL, "" },
    [DL_STATE] = { "state", VS_RT_STR, "State", NULL, "" },
};

int
cmd_list(vs_ctl *ctl, const vs_args *a)
{
    bool all = vs_arg_bool(a, "all");
    bool names_only = vs_arg_bool(a, "name");
    bool json = vs_arg_bool(a, "json");
    char **names = NULL;
    vs_result r;
    size_t i;

    if (json && names_only)
        return vs_error_set(&ctl->err, VS_ERR_PLAIN,
                            "Options --json and --name are mutually exclusive");
    if (vs_store_list_domains(ctl->store, &names, &ctl->err) < 0)
        return -1;
    vs_result_init(&r, "domains", domain_cols, DL_NCOLS, NULL);
    for (i = 0; names[i]; i++) {
        vs_domstate st;
        vs_dom *d;
        size_t row;

        /* No lock: a listing must not wait for a busy domain, and a domain
         * undefined meanwhile simply drops out. */
        if (!(d = vs_dom_open(ctl->store, names[i], VS_LOCK_NONE, NULL)))
            continue;
        st = vs_domain_state(d);
        /* without --all virsh lists only active domains */
        if (!all && st == VS_DOMSTATE_SHUTOFF) {
            vs_dom_close(d);
            continue;
        }
        vs_cmd_interrupted(ctl, d, false, NULL);
        vs_dom_close(d);
        row = vs_result_add_row(&r);
        vs_result_str(&r, row, DL_NAME, names[i]);
        vs_result_str(&r, row, DL_STATE, state_name(st));
    }
    if (json)
        vs_result_print_json(ctl, &r);
    else if (names_only)
        vs_result_print_names(ctl, &r, DL_NAME, -1);
    else
        vs_result_print_table(ctl, &r, ~0UL);
    vs_result_release(&r);
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

/* domblklist: virsh's Target / Source table, with --details Type and
 * Device first; --json {"disks": [...]} always with every column. */
enum { DB_TYPE, DB_DEVICE, DB_TARGET, DB_SOURCE, DB_NCOLS };
static const vs_rcol disk_cols[DB_NCOLS] = {
    [DB_TYPE] = { "type", VS_RT_STR, "Type", NULL, "" },
    [DB_DEVICE] = { "device", VS_RT_STR, "Device", NULL, "" },
    [DB_TARGET] = { "target", VS_RT_STR, "Target", NULL, "" },
    [DB_SOURCE] = { "source", VS_RT_STR, "Source", NULL, "-" },
};

int
cmd_domblklist(vs_ctl *ctl, const vs_args *a)
{
    bool details = vs_arg_bool(a, "details");
    vs_domain_def *def = vs_dom_def(ctl->dom, &ctl->err);
    vs_result r;
    size_t i;

    if (!def)
        return -1;
    vs_result_init(&r, "disks", disk_cols, DB_NCOLS, ctl->dom->name);
    for (i = 0; i < def->ndisks; i++) {
        const vs_domain_disk *disk = &def->disks[i];
        char *src = disk_source(disk);
        size_t row = vs_result_add_row(&r);

        vs_result_str(&r, row, DB_TYPE, vs_storage_type_name(disk->type));
        vs_result_str(&r, row, DB_DEVICE, disk->device ? disk->device : "disk");
        vs_result_str(&r, row, DB_TARGET, disk->target ? disk->target : "");
        vs_result_str(&r, row, DB_SOURCE, src && *src ? src : NULL);
        free(src);
    }
    if (vs_arg_bool(a, "json"))
        vs_result_print_json(ctl, &r);
    else
        vs_result_print_table(ctl, &r, details ? ~0UL : (1UL << DB_TARGET) | (1UL << DB_SOURCE));
    vs_result_release(&r);
    return 0;
}
