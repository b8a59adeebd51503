/*
 * The snapshot-* commands (virsh-behaviour.md A.1-A.11): option interplay,
 * lookups and printing. The work itself is done by lib/snapshot_ops.c; the
 * listings read the domain's index (vs_dom_tree) and never parse every
 * snapshot file.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "domain_run.h"
#include "parse.h"
#include "print.h"
#include "result.h"
#include "../lib/buf.h"
#include "../lib/mem.h"
#include "../lib/path.h"
#include "../lib/plan.h"
#include "../lib/snapshot_def.h"
#include "../lib/snapshot_ops.h"
#include "../lib/snapshot_tree.h"
#include "../lib/spawn.h"
#include "../lib/store.h"
#include "../lib/xml.h"

/* How libvirt names snapshot XML it was handed in parse errors. */
#define SNAPSHOT_XML_WHAT "(domain_snapshot)"

typedef struct flag_opt {
    const char *opt;
    unsigned flag;
} flag_opt;

/* Options the command does not have are skipped, so one map serves both
 * snapshot-create and snapshot-create-as. */
static unsigned
collect_flags(const vs_args *a, const flag_opt *map, size_t n)
{
    unsigned flags = 0;
    size_t i;

    for (i = 0; i < n; i++)
        if (vs_opt_index(a->def, map[i].opt) >= 0 && vs_arg_bool(a, map[i].opt))
            flags |= map[i].flag;
    return flags;
}

static const flag_opt create_flags[] = {
    { "redefine", VS_CREATE_REDEFINE },
    { "current", VS_CREATE_CURRENT },
    { "no-metadata", VS_CREATE_NO_METADATA },
    { "halt", VS_CREATE_HALT },
    { "disk-only", VS_CREATE_DISK_ONLY },
    { "reuse-external", VS_CREATE_REUSE_EXT },
    { "quiesce", VS_CREATE_QUIESCE },
    { "atomic", VS_CREATE_ATOMIC },
    { "live", VS_CREATE_LIVE },
    { "validate", VS_CREATE_VALIDATE },
};

static int
exclusive_error(vs_ctl *ctl, const char *a, const char *b)
{
    return vs_error_set(&ctl->err, VS_ERR_PLAIN,
                        "Options --%s and --%s are mutually exclusive", a, b);
}

/*
 * virsh's snapshot lookup helper: the snapshot named by option `opt`, else
 * with --current the current one. Returns its name (caller frees; tree
 * strings do not survive operations that change the tree) and, through
 * *treep and *idxp, its place in the domain's tree; NULL with ctl->err set.
 */
static char *
lookup_snapshot(vs_ctl *ctl, const vs_args *a, const char *opt, bool exclusive,
                vs_snap_tree **treep, long *idxp)
{
    bool current = vs_arg_bool(a, "current");
    const char *name = vs_arg_str(a, opt);
    vs_snap_tree *t;
    long idx;

    if (exclusive && current && name) {
        vs_error_set(&ctl->err, VS_ERR_PLAIN, "--%s and --current are mutually exclusive", opt);
        return NULL;
    }
    if (!name && !current) {
        vs_error_set(&ctl->err, VS_ERR_PLAIN, "--%s or --current is required", opt);
        return NULL;
    }
    if (!(t = vs_dom_tree(ctl->dom, &ctl->err)))
        return NULL;
    if (name) {
        if ((idx = vs_snap_tree_find(t, name)) < 0) {
            vs_dom_snapshot_unknown(ctl->dom, name, &ctl->err);
            return NULL;
        }
    } else if ((idx = t->current) < 0) {
        vs_error_set(&ctl->err, VS_ERR_NO_SNAPSHOT,
                     "the domain does not have a current snapshot");
        return NULL;
    }
    if (treep)
        *treep = t;
    if (idxp)
        *idxp = idx;
    return vs_xstrdup(t->e[idx].name);
}

/*
 * lookup_snapshot's rules for the commands that show one snapshot, answered
 * without loading the tree when the index can (vs_dom_snapshot_brief).
 * False with ctl->err set.
 */
static bool
lookup_brief(vs_ctl *ctl, const vs_args *a, const char *opt, vs_snap_brief *b)
{
    bool current = vs_arg_bool(a, "current");
    const char *name = vs_arg_str(a, opt);
    int r;

    if (current && name) {
        vs_error_set(&ctl->err, VS_ERR_PLAIN, "--%s and --current are mutually exclusive", opt);
        return false;
    }
    if (!name && !current) {
        vs_error_set(&ctl->err, VS_ERR_PLAIN, "--%s or --current is required", opt);
        return false;
    }
    if (name) {
        if ((r = vs_dom_snapshot_brief(ctl->dom, name, b, &ctl->err)) == 0)
            vs_dom_snapshot_unknown(ctl->dom, name, &ctl->err);
    } else if ((r = vs_dom_current_brief(ctl->dom, b, &ctl->err)) == 0) {
        vs_error_set(&ctl->err, VS_ERR_NO_SNAPSHOT, "the domain does not have a current snapshot");
    }
    return r == 1;
}

/* Whether a snapshot given by name exists, with libvirt's lookup error. */
static int
check_snapshot(vs_ctl *ctl, const char *name)
{
    vs_snap_brief b;
    int r = vs_dom_snapshot_brief(ctl->dom, name, &b, &ctl->err);

    if (r == 0)
        vs_dom_snapshot_unknown(ctl->dom, name, &ctl->err);
    return r == 1 ? 0 : -1;
}

/* One snapshot's XML as snapshot-dumpxml prints it (caller frees). */
static char *
snapshot_xml(vs_ctl *ctl, const char *name, bool secure, vs_error *err)
{
    vs_snapshot_def *def;
    char *xml;

    if (!(def = vs_dom_read_snapshot(ctl->dom, name, err)))
        return NULL;
    xml = vs_snapshot_def_format_str(def, secure ? VS_SNAP_FORMAT_SECURE : 0);
    vs_snapshot_def_free(def);
    return xml;
}

/* virsh's dump helper: the whole document, or the nodes an XPath selects. */
static int
print_xml(vs_ctl *ctl, const char *xml, const char *xpath, bool wrap)
{
    vs_buf out = VS_BUF_INIT;
    xmlDocPtr doc;
    int ret;

    if (!xpath) {
        vs_out(ctl, "%s", xml);
        return 0;
    }
    if (!(doc = vs_xml_parse(xml, strlen(xml), "(snapshot_definition)", &ctl->err)))
        return -1;
    ret = vs_xml_xpath_print(doc, xpath, wrap, &out, &ctl->err);
    if (ret == 0)
        vs_out(ctl, "%s", vs_buf_str(&out));
    vs_buf_reset(&out);
    xmlFreeDoc(doc);
    return ret;
}

/* The second half of snapshot-create and snapshot-create-as. */
/* --dry-run: the plan, and nothing else. Takes the plan. */
static int
print_plan(vs_ctl *ctl, vs_plan *plan)
{
    vs_buf b = VS_BUF_INIT;

    vs_plan_format(plan, &b);
    vs_out(ctl, "%s", vs_buf_str(&b));
    vs_buf_reset(&b);
    vs_plan_free(plan);
    return 0;
}

static int
create_snapshot(vs_ctl *ctl, const char *xml, size_t len, unsigned flags, const char *from,
                bool dry_run)
{
    char *name = NULL;

    if (dry_run) {
        vs_plan *plan = NULL;

        if (vs_snapshot_create_plan(ctl->dom, xml, len, SNAPSHOT_XML_WHAT, flags, &name, &plan,
                                    &ctl->err) < 0)
            return -1;
        free(name);
        return print_plan(ctl, plan);
    }
    if (vs_snapshot_create(ctl->dom, xml, len, SNAPSHOT_XML_WHAT, flags, &name, &ctl->err) < 0)
        return -1;
    if (from)
        vs_out_extra(ctl, "Domain snapshot %s created from '%s'", name, from);
    else
        vs_out_extra(ctl, "Domain snapshot %s created", name);
    free(name);
    return 0;
}

int
cmd_snapshot_create(vs_ctl *ctl, const vs_args *a)
{
    unsigned flags = collect_flags(a, create_flags, sizeof(create_flags) / sizeof(create_flags[0]));
    const char *from = vs_arg_str(a, "xmlfile");
    char *xml;
    size_t len;
    int ret;

    if (from) {
        if (vs_file_read(from, VS_XML_MAX_SIZE, &xml, &len, &ctl->err) < 0)
            return -1;
    } else {
        xml = vs_xstrdup("<domainsnapshot/>");
        len = strlen(xml);
    }
    ret = create_snapshot(ctl, xml, len, flags, from, vs_arg_bool(a, "dry-run"));
    free(xml);
    return ret;
}

int
cmd_snapshot_create_as(vs_ctl *ctl, const vs_args *a)
{
    unsigned flags = collect_flags(a, create_flags, sizeof(create_flags) / sizeof(create_flags[0]));
    vs_buf xml = VS_BUF_INIT;
    const char *prefix = vs_arg_str(a, "name-prefix");
    char *warn = NULL, *made = NULL;
    int ret;

    if (prefix && vs_arg_str(a, "name"))
        return exclusive_error(ctl, "name", "name-prefix");
    /* under the domain's lock, so that two runs in one second get two names */
    if (prefix && !(made = vs_snapshot_name_from_prefix(ctl->dom, prefix, (long long)time(NULL),
                                                        &ctl->err)))
        return -1;
    ret = vs_snapshot_args_to_xml(made ? made : vs_arg_str(a, "name"),
                                  vs_arg_str(a, "description"), vs_arg_str(a, "memspec"),
                                  vs_arg_argv(a, "diskspec"), &xml, &warn, &ctl->err);
    free(made);
    if (ret < 0) {
        /* virsh reports the storage type on a line of its own first. */
        if (warn)
            vs_print_error(ctl, "%s", warn);
        free(warn);
        vs_buf_reset(&xml);
        return -1;
    }
    free(warn);
    if (vs_arg_bool(a, "print-xml")) {
        vs_out(ctl, "%s\n", vs_buf_str(&xml));
        ret = 0;
    } else {
        ret = create_snapshot(ctl, vs_buf_str(&xml), xml.len, flags, NULL,
                              vs_arg_bool(a, "dry-run"));
    }
    vs_buf_reset(&xml);
    return ret;
}

/* snapshot-current --json: {"current": NAME or null}. */
enum { SC_CURRENT };
static const vs_rcol current_head[] = {
    [SC_CURRENT] = { "current", VS_RT_STR, NULL, NULL, NULL },
};

int
cmd_snapshot_current(vs_ctl *ctl, const vs_args *a)
{
    bool name_only = vs_arg_bool(a, "name");
    bool json = vs_arg_bool(a, "json");
    const char *snapname = vs_arg_str(a, "snapshotname");
    vs_snap_brief b;
    char *xml;
    int ret;

    if (name_only && snapname)
        return exclusive_error(ctl, "name", "snapshotname");
    if (json && snapname)
        return exclusive_error(ctl, "json", "snapshotname");

    if (snapname) {
        /* --security-info means nothing here: virsh redefines the secure XML. */
        if (check_snapshot(ctl, snapname) < 0)
            return -1;
        if (vs_snapshot_set_current(ctl->dom, snapname, &ctl->err) < 0)
            return -1;
        vs_out_extra(ctl, "Snapshot %s set as current", snapname);
        return 0;
    }

    if ((ret = vs_dom_current_brief(ctl->dom, &b, &ctl->err)) < 0)
        return -1;
    if (json) {
        vs_result r;

        /* no current snapshot is an answer here, not a failure */
        vs_result_init(&r, NULL, NULL, 0, ctl->dom->name);
        vs_result_set_head(&r, current_head, 1);
        vs_result_str(&r, VS_RHEAD, SC_CURRENT, ret == 1 ? b.e.name : NULL);
        vs_result_print_json(ctl, &r);
        vs_result_release(&r);
        return 0;
    }
    if (ret == 0)
        return vs_error_set(&ctl->err, VS_ERR_PLAIN, "domain '%s' has no current snapshot",
                            ctl->dom->name);
    if (name_only) {
        vs_out(ctl, "%s", b.e.name);
        return 0;
    }
    if (!(xml = snapshot_xml(ctl, b.e.name, vs_arg_bool(a, "security-info"), &ctl->err)))
        return -1;
    ret = print_xml(ctl, xml, NULL, false);
    free(xml);
    return ret;
}

int
cmd_snapshot_delete(vs_ctl *ctl, const vs_args *a)
{
    static const flag_opt map[] = {
        { "children", VS_DELETE_CHILDREN },
        { "children-only", VS_DELETE_CHILDREN_ONLY },
        { "metadata", VS_DELETE_METADATA_ONLY },
    };
    unsigned flags = collect_flags(a, map, sizeof(map) / sizeof(map[0]));
    char *name;
    int ret = -1;

    if (!(name = lookup_snapshot(ctl, a, "snapshotname", true, NULL, NULL)))
        return -1;
    /* The API's flag check, as libvirt's client library makes it (no prefix). */
    if ((flags & VS_DELETE_CHILDREN) && (flags & VS_DELETE_CHILDREN_ONLY)) {
        vs_error_set(&ctl->err, VS_ERR_PLAIN,
                     "Flags 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN' and "
                     "'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY' are mutually exclusive");
    } else if (vs_arg_bool(a, "dry-run")) {
        vs_plan *plan = NULL;

        if (vs_snapshot_delete_plan(ctl->dom, name, flags, &plan, &ctl->err) == 0)
            ret = print_plan(ctl, plan);
    } else if (vs_snapshot_delete(ctl->dom, name, flags, &ctl->err) == 0) {
        if (flags & VS_DELETE_CHILDREN_ONLY)
            vs_out_extra(ctl, "Domain snapshot %s children deleted\n", name);
        else
            vs_out_extra(ctl, "Domain snapshot %s deleted\n", name);
        ret = 0;
    }
    if (ret < 0)
        vs_print_error(ctl, "Failed to delete snapshot %s", name);
    free(name);
    return ret;
}

int
cmd_snapshot_dumpxml(vs_ctl *ctl, const vs_args *a)
{
    const char *name = vs_arg_str(a, "snapshotname");
    char *xml;
    int ret;

    if (!name)      /* the parser enforces it; keep the message if it did not */
        return vs_error_set(&ctl->err, VS_ERR_PLAIN,
                            "command 'snapshot-dumpxml' requires <snapshotname> option");
    if (check_snapshot(ctl, name) < 0)
        return -1;
    if (!(xml = snapshot_xml(ctl, name, vs_arg_bool(a, "security-info"), &ctl->err)))
        return -1;
    ret = print_xml(ctl, xml, vs_arg_str(a, "xpath"), vs_arg_bool(a, "wrap"));
    free(xml);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* snapshot-edit */

/* XML into a private temporary file in $TMPDIR; returns its path (caller
 * frees and unlinks). */
char *
edit_write_tmp(const char *xml, vs_error *err)
{
    const char *dir = getenv("TMPDIR");
    size_t len = strlen(xml), off = 0;
    char *path;
    int fd;

    if (!dir || !*dir)
        dir = "/tmp";
    path = vs_xasprintf("%s/vsnapXXXXXX.xml", dir);
    /* mkstemps creates the file 0600, O_EXCL. */
    if ((fd = mkstemps(path, 4)) < 0) {
        vs_error_sys(err, errno, "cannot create temporary file '%s'", path);
        free(path);
        return NULL;
    }
    while (off < len) {
        ssize_t w = write(fd, xml + off, len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            vs_error_sys(err, errno, "cannot write temporary file '%s'", path);
            close(fd);
            unlink(path);
            free(path);
            return NULL;
        }
        off += (size_t)w;
    }
    if (close(fd) < 0) {
        vs_error_sys(err, errno, "cannot write temporary file '%s'", path);
        unlink(path);
        free(path);
        return NULL;
    }
    return path;
}

/* A variable naming an editor: set and not only blanks. */
static const char *
editor_from(const char *var)
{
    const char *v = getenv(var);

    return v && v[strspn(v, " \t")] ? v : NULL;
}

/* $VISUAL, else $EDITOR, else vi, split on blanks: never through a shell. */
int
edit_run_editor(vs_ctl *ctl, const char *path, vs_error *err)
{
    const char *editor;
    char **argv = NULL;
    char *copy, *tok, *save = NULL;
    vs_buf cmdline = VS_BUF_INIT;
    int status;

    if (!(editor = editor_from("VISUAL")) && !(editor = editor_from("EDITOR")))
        editor = "vi";
    copy = vs_xstrdup(editor);
    for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
        vs_strv_push(&argv, tok);
    free(copy);
    vs_strv_push(&argv, path);

    fflush(ctl->out);
    status = vs_spawn_interactive((const char *const *)argv, err);
    if (status > 0) {
        char **p;

        for (p = argv; *p; p++) {
            if (p != argv)
                vs_buf_addc(&cmdline, ' ');
            vs_buf_add(&cmdline, *p);
        }
        vs_error_set(err, VS_ERR_INTERNAL, "Child process (%s) unexpected exit status %d",
                     vs_buf_str(&cmdline), status);
        vs_buf_reset(&cmdline);
    }
    vs_strv_free(argv);
    return status == 0 ? 0 : -1;
}

/* virsh's "Try again?" question on a terminal: returns 'y', 'n' or 'f'. */
static int
edit_ask_again(vs_ctl *ctl, const char *msg)
{
    struct termios saved, raw;
    bool restore = false;
    int c = 'n';

    if (tcgetattr(STDIN_FILENO, &saved) == 0) {
        raw = saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0;
    }
    for (;;) {
        unsigned char ch;
        ssize_t r;

        fprintf(ctl->out, "\r%s Try again? [y,n,f,?]: ", msg);
        fflush(ctl->out);
        r = read(STDIN_FILENO, &ch, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            c = 'n';
            break;
        }
        c = tolower(ch);
        if (c == '?') {
            /* output processing is left on: "\n" reaches the terminal as CR LF */
            fputs("\n"
                  "y - yes, start editor again\n"
                  "n - no, throw away my changes\n"
                  "f - force, try to redefine again\n"
                  "? - print this help\n", ctl->out);
            continue;
        }
        if (c == 'y' || c == 'n' || c == 'f')
            break;
    }
    if (restore)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    fputs("\n", ctl->out);
    fflush(ctl->out);
    return c;
}

int
cmd_snapshot_edit(vs_ctl *ctl, const vs_args *a)
{
    bool rename = vs_arg_bool(a, "rename");
    bool clone = vs_arg_bool(a, "clone");
    bool make_current, ask = isatty(STDIN_FILENO);
    char *name, *orig = NULL, *path = NULL, *edited = NULL, *now = NULL, *new_name = NULL;
    vs_edit_result result = VS_EDIT_EDITED;
    vs_error err;
    size_t len = 0;
    int ret = -1;

    if (rename && clone)
        return exclusive_error(ctl, "rename", "clone");
    /* Only an explicitly named snapshot is made current by --current. */
    make_current = vs_arg_bool(a, "current") && vs_arg_str(a, "snapshotname");
    if (!(name = lookup_snapshot(ctl, a, "snapshotname", false, NULL, NULL)))
        return -1;

    vs_error_clear(&err);
    if (!(orig = snapshot_xml(ctl, name, true, &err)) ||
        !(path = edit_write_tmp(orig, &err)))
        goto fail;

reedit:
    /* Nobody waits on this domain while a person edits: the lock is given up
     * here and taken again below, where a change made meanwhile is noticed. */
    if (vs_dom_relock(ctl->dom, VS_LOCK_NONE, &err) < 0 ||
        edit_run_editor(ctl, path, &err) < 0)
        goto fail;
    free(edited);
    edited = NULL;
    if (vs_file_read(path, VS_XML_MAX_SIZE, &edited, &len, &err) < 0)
        goto fail;
    if (strcmp(orig, edited) == 0 && !make_current) {
        vs_out_extra(ctl, "Snapshot %s XML configuration not changed.\n", name);
        ret = 0;
        goto out;
    }

redefine:
    {
        const char *msg = NULL;

        vs_error_clear(&err);
        free(now);
        if ((ctl->dom->lock_mode != VS_LOCK_EXCLUSIVE &&
             vs_dom_relock(ctl->dom, VS_LOCK_EXCLUSIVE, &err) < 0) ||
            !(now = snapshot_xml(ctl, name, true, &err)))
            goto fail;
        if (strcmp(orig, now) != 0) {
            /* Take the new state as the reference, so "f" can go ahead. */
            msg = "The XML configuration was changed by another user.";
            free(orig);
            orig = now;
            now = NULL;
            vs_error_set(&err, VS_ERR_PLAIN, "%s", msg);
        } else if (vs_snapshot_edit_apply(ctl->dom, name, edited, len, rename, clone,
                                          make_current, &result, &new_name, &err) < 0) {
            msg = "Failed.";
        }
        if (!msg)
            goto applied;
        if (ask) {
            int c;

            vs_print_error(ctl, "%s", err.msg);
            c = edit_ask_again(ctl, msg);
            if (c == 'y')
                goto reedit;
            if (c == 'f')
                goto redefine;
            vs_error_set(&ctl->err, VS_ERR_PLAIN, "Failed to update %s", name);
            goto out;
        }
        goto fail;
    }

applied:
    switch (result) {
    case VS_EDIT_EDITED:
        vs_out_extra(ctl, "Snapshot %s edited.\n", name);
        break;
    case VS_EDIT_CLONED:
        vs_out_extra(ctl, "Snapshot %s cloned to %s.\n", name, new_name);
        break;
    case VS_EDIT_RENAMED:
        break;  /* virsh says nothing */
    }
    ret = 0;
    goto out;

fail:
    if (vs_cmd_skip_busy(ctl, "snapshot-edit", &err)) {
        ret = 0;
        goto out;
    }
    /* The cause first, then virsh's summary line. */
    if (err.code != VS_ERR_OK)
        vs_print_error(ctl, "%s", err.msg);
    vs_error_set(&ctl->err, VS_ERR_PLAIN, "Failed to update %s", name);
out:
    if (path) {
        unlink(path);
        free(path);
    }
    free(new_name);
    free(now);
    free(edited);
    free(orig);
    free(name);
    return ret;
}

/* ------------------------------------------------------------------------ */

/* snapshot-info: virsh's fields; --json the same as {"snapshot": {...}}. */
enum { SI_NAME, SI_DOMAIN, SI_CURRENT, SI_STATE, SI_LOCATION, SI_PARENT, SI_CHILDREN,
       SI_DESCENDANTS, SI_METADATA, SI_NCOLS };
static const vs_rcol info_cols[SI_NCOLS] = {
    [SI_NAME] = { "name", VS_RT_STR, NULL, "Name:", "" },
    [SI_DOMAIN] = { NULL, VS_RT_STR, NULL, "Domain:", "" },   /* JSON: the top-level "domain" */
    [SI_CURRENT] = { "current", VS_RT_BOOL, NULL, "Current:", "" },
    [SI_STATE] = { "state", VS_RT_STR, NULL, "State:", "" },
    [SI_LOCATION] = { "location", VS_RT_STR, NULL, "Location:", "" },
    [SI_PARENT] = { "parent", VS_RT_STR, NULL, "Parent:", "-" },
    [SI_CHILDREN] = { "children", VS_RT_INT, NULL, "Children:", "" },
    [SI_DESCENDANTS] = { "descendants", VS_RT_INT, NULL, "Descendants:", "" },
    [SI_METADATA] = { "metadata", VS_RT_BOOL, NULL, "Metadata:", "" },
};

int
cmd_snapshot_info(vs_ctl *ctl, const vs_args *a)
{
    vs_snap_brief b;
    vs_snapshot_def *def = NULL;
    vs_result r;
    const char *name;
    size_t known = SI_CURRENT + 1;   /* the fields virsh has printed when a later step fails */
    int ret = -1;

    /* one lookup, without loading the tree */
    if (!lookup_brief(ctl, a, "snapshotname", &b))
        return -1;
    name = b.e.name;
    vs_result_init(&r, "snapshot", info_cols, SI_NCOLS, ctl->dom->name);
    r.single = true;
    vs_result_add_row(&r);
    vs_result_str(&r, 0, SI_NAME, name);
    vs_result_str(&r, 0, SI_DOMAIN, ctl->dom->name);
    vs_result_bool(&r, 0, SI_CURRENT, b.current);

    /* State, location and parent come from the snapshot's own XML, as in virsh. */
    if (!(def = vs_dom_read_snapshot(ctl->dom, name, &ctl->err)))
        goto out;
    if (def->state == VS_STATE_NOSTATE) {
        vs_error_set(&ctl->err, VS_ERR_PLAIN, "unexpected problem reading snapshot xml");
        goto out;
    }
    vs_result_str(&r, 0, SI_STATE, vs_snap_state_name(def->state));
    vs_result_str(&r, 0, SI_LOCATION,
                  vs_snapshot_def_location_external(def) ? "external" : "internal");
    vs_result_str(&r, 0, SI_PARENT, def->parent);
    known = SI_PARENT + 1;

    vs_result_int(&r, 0, SI_CHILDREN, (long long)b.nchildren);
    vs_result_int(&r, 0, SI_DESCENDANTS, (long long)b.ndescendants);
    vs_result_bool(&r, 0, SI_METADATA, true);
    ret = 0;
out:
    if (ret == 0 && vs_arg_bool(a, "json")) {
        vs_result_print_json(ctl, &r);
    } else if (ret == 0) {
        vs_result_print_fields(ctl, &r);
    } else if (!vs_arg_bool(a, "json")) {
        /* virsh has printed the fields it knew when it fails */
        size_t k;

        for (k = 0; k < known; k++) {
            char *v = vs_result_text(&r, 0, k);

            vs_print_field(ctl, info_cols[k].label, v);
            free(v);
        }
    }
    vs_result_release(&r);
    vs_snapshot_def_free(def);
    return ret;
}

/* snapshot-list: one row per selected snapshot. */
enum { SL_NAME, SL_TIME, SL_STATE, SL_PARENT, SL_CURRENT, SL_LOCATION, SL_LINK, SL_NCOLS };
static const vs_rcol list_cols[SL_NCOLS] = {
    [SL_NAME] = { "name", VS_RT_STR, "Name", NULL, "" },
    [SL_TIME] = { "creation_time", VS_RT_TIME, "Creation Time", NULL, "" },
    [SL_STATE] = { "state", VS_RT_STR, "State", NULL, "" },
    /* the table shows the XML's parent name, as virsh reads it */
    [SL_PARENT] = { "parent", VS_RT_STR, "Parent", NULL, "" },
    [SL_CURRENT] = { "current", VS_RT_BOOL, NULL, NULL, "" },
    [SL_LOCATION] = { "location", VS_RT_STR, NULL, NULL, "" },
    /* --name --parent (virsh 10.3+): the parent as the API sees it (a
     * dangling one is none) */
    [SL_LINK] = { NULL, VS_RT_STR, NULL, NULL, "" },
};

/* snapshot-list's rows: the selected entries of the tree. */
struct list_source {
    const vs_snap_tree *t;
    const long *sel;
};

static void
list_row(vs_result *r, size_t row, void *arg)
{
    const struct list_source *src = arg;
    const vs_snap_tree *t = src->t;
    const vs_snap_entry *e = &t->e[src->sel[row]];

    /* the tree outlives the result: its strings are not copied */
    vs_result_str_ref(r, row, SL_NAME, e->name);
    vs_result_int(r, row, SL_TIME, e->creation_time);
    vs_result_str_ref(r, row, SL_STATE, vs_snap_state_name(e->state));
    vs_result_str_ref(r, row, SL_PARENT, e->parent);
    vs_result_bool(r, row, SL_CURRENT, src->sel[row] == t->current);
    vs_result_str_ref(r, row, SL_LOCATION, e->location_external ? "external" : "internal");
    vs_result_str_ref(r, row, SL_LINK, e->parent_idx >= 0 ? t->e[e->parent_idx].name : NULL);
}

int
cmd_snapshot_list(vs_ctl *ctl, const vs_args *a)
{
    /* In virsh's order: the first one given decides the message. */
    static const flag_opt filters[] = {
        { "leaves", VS_LIST_LEAVES },
        { "no-leaves", VS_LIST_NO_LEAVES },
        { "inactive", VS_LIST_INACTIVE },
        { "active", VS_LIST_ACTIVE },
        { "disk-only", VS_LIST_DISK_ONLY },
        { "internal", VS_LIST_INTERNAL },
        { "external", VS_LIST_EXTERNAL },
    };
    bool tree = vs_arg_bool(a, "tree");
    bool name = vs_arg_bool(a, "name");
    bool json = vs_arg_bool(a, "json");
    bool from = vs_arg_str(a, "from") != NULL;
    bool parent = vs_arg_bool(a, "parent");
    bool roots = vs_arg_bool(a, "roots");
    bool current = vs_arg_bool(a, "current");
    unsigned flags = 0;
    vs_snap_tree *t;
    vs_result r;
    long start = -1, *sel = NULL, *up = NULL;
    struct list_source src;
    vs_snap_tree *owned;
    size_t n, i;

    if (tree && name)
        return exclusive_error(ctl, "tree", "name");
    if (parent && roots)
        return exclusive_error(ctl, "parent", "roots");
    if (parent && tree)
        return exclusive_error(ctl, "parent", "tree");
    if (roots && tree)
        return exclusive_error(ctl, "roots", "tree");
    if (roots && from)
        return exclusive_error(ctl, "roots", "from");
    if (roots && current)
        return exclusive_error(ctl, "roots", "current");
    if (json && name)
        return exclusive_error(ctl, "json", "name");
    for (i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
        if (!vs_arg_bool(a, filters[i].opt))
            continue;
        if (tree)
            return vs_error_set(&ctl->err, VS_ERR_PLAIN,
                                "--%s and --tree are mutually exclusive", filters[i].opt);
        flags |= filters[i].flag;
    }
    if (vs_arg_bool(a, "topological"))
        flags |= VS_LIST_TOPOLOGICAL;
    if (roots)
        flags |= VS_LIST_ROOTS;
    if (vs_arg_bool(a, "metadata"))
        flags |= VS_LIST_METADATA;
    if (vs_arg_bool(a, "no-metadata"))
        flags |= VS_LIST_NO_METADATA;
    if (vs_arg_bool(a, "descendants")) {
        if (!from && !current)
            return vs_error_set(&ctl->err, VS_ERR_PLAIN,
                                "--descendants requires either --from or --current");
        flags |= VS_LIST_DESCENDANTS;
    }

    if (from || current) {
        char *start_name = lookup_snapshot(ctl, a, "from", true, &t, &start);

        if (!start_name)
            return -1;
        free(start_name);
        /* --tree shows the starting snapshot as the root of its subtree */
        if (tree)
            flags |= VS_LIST_TREE_ROOT;
    } else if (!(t = vs_dom_tree(ctl->dom, &ctl->err))) {
        return -1;
    }

    n = vs_snap_tree_select(t, start, flags, &sel);
    vs_result_init(&r, "snapshots", list_cols, SL_NCOLS, ctl->dom->name);
    /* rows made as they are printed: 50,000 snapshots hold one row */
    src.t = t;
    src.sel = sel;
    vs_result_set_source(&r, n, list_row, &src);
    if (tree) {
        up = vs_xmalloc((n ? n : 1) * sizeof(*up));
        vs_snap_tree_selection_parents(t, sel, n, up);
        vs_result_set_forest(&r, up);
    }
    /* the rows are made from the tree while they are printed, after the
     * domain is let go (which drops what it caches): the tree is ours now */
    owned = vs_dom_tree_take(ctl->dom);
    assert(owned == t);
    vs_cmd_done_reading(ctl);
    if (json)
        vs_result_print_json(ctl, &r);
    else if (tree)
        vs_result_print_tree(ctl, &r, SL_NAME);
    else if (name)
        vs_result_print_names(ctl, &r, SL_NAME, parent ? SL_LINK : -1);
    else
        vs_result_print_table(ctl, &r, (1UL << SL_NAME) | (1UL << SL_TIME) | (1UL << SL_STATE) |
                                       (parent ? 1UL << SL_PARENT : 0));
    vs_result_release(&r);
    vs_snap_tree_free(owned);
    free(up);
    free(sel);
    return 0;
}

int
cmd_snapshot_parent(vs_ctl *ctl, const vs_args *a)
{
    vs_snap_brief b;

    if (!lookup_brief(ctl, a, "snapshotname", &b))
        return -1;
    if (!b.has_parent)
        return vs_error_set(&ctl->err, VS_ERR_PLAIN, "snapshot '%s' has no parent", b.e.name);
    vs_out(ctl, "%s", b.e.parent);
    return 0;
}

int
cmd_snapshot_revert(vs_ctl *ctl, const vs_args *a)
{
    static const flag_opt map[] = {
        { "running", VS_REVERT_RUNNING },
        { "paused", VS_REVERT_PAUSED },
        { "reset-nvram", VS_REVERT_RESET_NVRAM },
    };
    unsigned flags = collect_flags(a, map, sizeof(map) / sizeof(map[0]));
    char *name;
    int ret;

    if (!(name = lookup_snapshot(ctl, a, "snapshotname", true, NULL, NULL)))
        return -1;
    /* The API's flag check, as libvirt's client library makes it (no prefix). */
    if ((flags & VS_REVERT_RUNNING) && (flags & VS_REVERT_PAUSED)) {
        ret = vs_error_set(&ctl->err, VS_ERR_PLAIN,
                           "Flags 'VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING' and "
                           "'VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED' are mutually exclusive");
    } else if (vs_arg_bool(a, "dry-run")) {
        vs_plan *plan = NULL;

        ret = vs_snapshot_revert_plan(ctl->dom, name, flags, &plan, &ctl->err);
        if (ret == 0) {
            print_plan(ctl, plan);
            free(name);
            return 0;
        }
    } else {
        /* As virsh: try without force, and force only what needs it. */
        ret = vs_snapshot_revert(ctl->dom, name, flags, &ctl->err);
        if (ret < 0 && vs_arg_bool(a, "force") && ctl->err.code == VS_ERR_REVERT_FORCE) {
            vs_error_clear(&ctl->err);
            ret = vs_snapshot_revert(ctl->dom, name, flags | VS_REVERT_FORCE, &ctl->err);
        }
    }
    if (ret < 0)
        vs_print_error(ctl, "Failed to revert snapshot %s", name);
    else
        vs_out_extra(ctl, "Domain snapshot %s reverted\n", name);
    free(name);
    return ret < 0 ? -1 : 0;
}
