/* Domain commands: define, undefine, list, dumpxml, domstate, domblklist
 * (the lifecycle commands are in cmd_run.c). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "domain_def.h"
#include "domain_run.h"
#include "mem.h"
#include "path.h"
#include "print.h"
#include "result.h"
#include "snapshot_ops.h"
#include "store.h"
#include "xml.h"

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
    vs_run_info info;
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
    /* The run directory goes with the domain's: a QEMU that runs would be
     * left without its monitor and pid file. */
    if ((d = vs_dom_open(ctl->store, name, VS_LOCK_SHARED, NULL))) {
        int rc = vs_domain_run_info(d, &info, &ctl->err);

        vs_dom_close(d);
        if (rc < 0 || info.state != VS_RUN_SHUTOFF) {
            if (rc == 0)
                vs_error_set(&ctl->err, VS_ERR_OPERATION_INVALID,
                             "domain '%s' is %s: vsnap undefines only shut-off domains; "
                             "shut it down or destroy it first", name,
                             vs_run_state_name(info.state));
            vs_print_error(ctl, "Failed to undefine domain '%s'", name);
            return -1;
        }
    }
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

/* One row of `list`. */
typedef struct list_row {
    char *name;
    vs_run_info info;
    bool managed;           /* shut off with a managed save */
} list_row;

static int
row_cmp(const void *pa, const void *pb)
{
    const list_row *a = pa, *b = pb;
    bool aa = a->info.state != VS_RUN_SHUTOFF, ba = b->info.state != VS_RUN_SHUTOFF;

    /* virsh: active domains first by id, then inactive ones by name */
    if (aa != ba)
        return aa ? -1 : 1;
    if (aa && a->info.pid != b->info.pid)
        return a->info.pid < b->info.pid ? -1 : 1;
    return strcmp(a->name, b->name);
}

/*
 * The state of one listed domain. A listing must not wait for a busy
 * domain: when another command holds its lock (and so perhaps its monitor,
 * which takes one client at a time), the state comes from the pid file and
 * what vsnap recorded, without QMP. A domain undefined meanwhile drops out.
 */
static bool
list_state(vs_ctl *ctl, const char *name, vs_run_info *info, bool *managed)
{
    vs_error e;
    vs_dom *d;
    int wait = ctl->store->lock_wait, rc;

    vs_error_clear(&e);
    if (!(d = vs_dom_open(ctl->store, name, VS_LOCK_NONE, &e))) {
        /* undefined meanwhile: it drops out; anything else is said */
        if (e.code != VS_ERR_NO_DOMAIN)
            vs_print_warning(ctl, "%s; domain '%s' not listed", e.msg, name);
        return false;
    }
    ctl->store->lock_wait = 0;
    rc = vs_dom_relock(d, VS_LOCK_SHARED, &e);
    ctl->store->lock_wait = wait;
    if (rc < 0 && e.code != VS_ERR_BUSY) {
        vs_dom_close(d);
        return false;
    }
    vs_error_clear(&e);
    if (rc < 0 || vs_domain_run_info(d, info, &e) < 0) {
        vs_error_clear(&e);
        if (vs_domain_run_peek(d, info, &e) < 0) {
            vs_dom_close(d);
            return false;
        }
    }
    *managed = vs_dom_managed_save_exists(d);
    vs_dom_close(d);
    return true;
}

/* list: virsh's Id / Name / State table; --json {"domains": [...]}. */
enum { DL_ID, DL_NAME, DL_STATE, DL_NCOLS };
static const vs_rcol domain_cols[DL_NCOLS] = {
    [DL_ID] = { "id", VS_RT_INT, "Id", NULL, "-" },   /* QEMU's pid; none when shut off */
    [DL_NAME] = { "name", VS_RT_STR, "Name", NULL, "" },
    [DL_STATE] = { "state", VS_RT_STR, "State", NULL, "" },
};

int
cmd_list(vs_ctl *ctl, const vs_args *a)
{
    bool all = vs_arg_bool(a, "all"), inactive = vs_arg_bool(a, "inactive");
    bool names_only = vs_arg_bool(a, "name");
    bool f_run = vs_arg_bool(a, "state-running"), f_pause = vs_arg_bool(a, "state-paused");
    bool f_off = vs_arg_bool(a, "state-shutoff"), f_other = vs_arg_bool(a, "state-other");
    bool any_state = f_run || f_pause || f_off || f_other;
    bool mark_saved = vs_arg_bool(a, "managed-save");
    bool f_with = vs_arg_bool(a, "with-managed-save");
    bool f_without = vs_arg_bool(a, "without-managed-save");
    /* both: no filter, as libvirt's two groups together take every domain */
    bool f_auto = vs_arg_bool(a, "autostart"), f_noauto = vs_arg_bool(a, "no-autostart");
    bool want_active = all || !inactive, want_inactive = all || inactive;
    list_row *rows = NULL;
    size_t i, n = 0;
    bool json = vs_arg_bool(a, "json");
    char **names = NULL, **skipped = NULL;
    vs_result r;

    if (json && names_only)
        return vs_error_set(&ctl->err, VS_ERR_PLAIN,
                            "Options --json and --name are mutually exclusive");

    if (vs_store_scan(ctl->store, &names, &skipped, &ctl->err) < 0)
        return -1;
    /* What is not a domain, as a planted link, is said, not hidden. */
    for (i = 0; skipped[i]; i++)
        vs_print_warning(ctl, "%s; not listed", skipped[i]);
    vs_strv_free(skipped);
    rows = vs_xcalloc(vs_strv_len(names) + 1, sizeof(*rows));
    for (i = 0; names[i]; i++) {
        vs_run_info info;
        bool active, keep, managed = false;

        if (!list_state(ctl, names[i], &info, &managed))
            continue;
        active = info.state != VS_RUN_SHUTOFF;
        keep = active ? want_active : want_inactive;
        if (keep && any_state)
            keep = (f_run && info.state == VS_RUN_RUNNING) ||
                   (f_pause && info.state == VS_RUN_PAUSED) ||
                   (f_off && info.state == VS_RUN_SHUTOFF) ||
                   (f_other && info.state != VS_RUN_RUNNING && info.state != VS_RUN_PAUSED &&
                    info.state != VS_RUN_SHUTOFF);
        /* (a running domain has no managed save: it is inactive's filter) */
        if (keep && (f_with || f_without))
            keep = (f_with && managed && !active) || (f_without && (!managed || active));
        if (keep && f_auto != f_noauto) {
            vs_dom *d = vs_dom_open(ctl->store, names[i], VS_LOCK_NONE, NULL);

            keep = d && vs_dom_autostart(d) == f_auto;
            vs_dom_close(d);
        }
        if (!keep)
            continue;
        rows[n].name = names[i];
        rows[n].info = info;
        rows[n].managed = managed && !active;
        n++;
    }
    qsort(rows, n, sizeof(*rows), row_cmp);
    vs_result_init(&r, "domains", domain_cols, DL_NCOLS, NULL);
    for (i = 0; i < n; i++) {
        vs_dom *d;
        size_t row;

        /* an interrupted operation of a domain listed: one warning line */
        if ((d = vs_dom_open(ctl->store, rows[i].name, VS_LOCK_NONE, NULL))) {
            vs_cmd_interrupted(ctl, d, false, NULL);
            vs_dom_close(d);
        }
        row = vs_result_add_row(&r);
        if (rows[i].info.state != VS_RUN_SHUTOFF && rows[i].info.pid > 0)
            vs_result_int(&r, row, DL_ID, (long long)rows[i].info.pid);
        vs_result_str(&r, row, DL_NAME, rows[i].name);
        vs_result_str(&r, row, DL_STATE, mark_saved && rows[i].managed
                                         ? "saved" : vs_run_state_name(rows[i].info.state));
    }
    if (json)
        vs_result_print_json(ctl, &r);
    else if (names_only)
        vs_result_print_names(ctl, &r, DL_NAME, -1);
    else
        vs_result_print_table(ctl, &r, ~0UL);
    vs_result_release(&r);
    free(rows);
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
    vs_run_info info;

    if (vs_domain_run_info(ctl->dom, &info, &ctl->err) < 0)
        return -1;
    if (vs_arg_bool(a, "reason"))
        vs_out(ctl, "%s (%s)\n", vs_run_state_name(info.state), info.reason);
    else
        vs_out(ctl, "%s\n", vs_run_state_name(info.state));
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
