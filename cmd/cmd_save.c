/* save, restore, managedsave, managedsave-remove, save-image-dumpxml,
 * save-image-define, save-image-edit (virsh's output and messages). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "domain_save.h"
#include "mem.h"
#include "path.h"
#include "progress.h"

/* --verbose: virsh's job progress on stderr, "\rSave: [ 42 %]", ending
 * with "[100 %]" and a newline, terminal or not. */
static void
verbose_progress(void *ctx, const char *what, double percent, bool done)
{
    (void)ctx;
    if (done)
        fprintf(stderr, "\r%s: [100 %%]\n", what);
    else
        fprintf(stderr, "\r%s: [%3d %%]", what, (int)percent);
    fflush(stderr);
}

/* --running, --paused and (when the command has it) --bypass-cache. */
static void
flags_from(const vs_args *a, vs_save_flags *f, bool bypass)
{
    memset(f, 0, sizeof(*f));
    f->running = vs_arg_bool(a, "running");
    f->paused = vs_arg_bool(a, "paused");
    f->bypass_cache = bypass && vs_arg_bool(a, "bypass-cache");
}

/* --xml FILE: its content (virsh reads the file). */
static int
read_xml_arg(vs_ctl *ctl, const vs_args *a, const char *opt, char **xml)
{
    const char *file = vs_arg_str(a, opt);
    size_t len;

    *xml = NULL;
    if (!file)
        return 0;
    return vs_file_read(file, VS_XML_MAX_SIZE, xml, &len, &ctl->err);
}

static int
save_common(vs_ctl *ctl, const vs_args *a, const char *file)
{
    vs_save_flags f;
    char *xml = NULL;
    vs_progress_fn old_fn = NULL;
    bool verbose = vs_arg_bool(a, "verbose");
    int rc;

    flags_from(a, &f, true);
    if (file && read_xml_arg(ctl, a, "xml", &xml) < 0)
        return -1;
    f.xml = xml;
    (void)old_fn;
    if (verbose)
        vs_progress_set_sink(verbose_progress, NULL);
    rc = vs_domain_save(ctl->dom, file, &f, &ctl->err);
    if (verbose)
        vs_progress_set_sink(NULL, NULL);
    free(xml);
    if (rc < 0) {
        if (file)
            vs_print_error(ctl, "Failed to save domain '%s' to %s", ctl->dom->name, file);
        else
            vs_print_error(ctl, "Failed to save domain '%s' state", ctl->dom->name);
        return -1;
    }
    if (file)
        vs_out_extra(ctl, "\nDomain '%s' saved to %s\n", ctl->dom->name, file);
    else
        vs_out_extra(ctl, "\nDomain '%s' state saved by libvirt\n", ctl->dom->name);
    return 0;
}

int
cmd_save(vs_ctl *ctl, const vs_args *a)
{
    return save_common(ctl, a, vs_arg_str(a, "file"));
}

int
cmd_managedsave(vs_ctl *ctl, const vs_args *a)
{
    return save_common(ctl, a, NULL);
}

int
cmd_restore(vs_ctl *ctl, const vs_args *a)
{
    const char *file = vs_arg_str(a, "file");
    vs_save_flags f;
    char *xml = NULL;
    int rc;

    flags_from(a, &f, true);
    if (read_xml_arg(ctl, a, "xml", &xml) < 0)
        return -1;
    f.xml = xml;
    rc = vs_domain_restore(ctl->store, file, &f, NULL, &ctl->err);
    free(xml);
    if (rc < 0) {
        vs_print_error(ctl, "Failed to restore domain from %s", file);
        return -1;
    }
    vs_out_extra(ctl, "Domain restored from %s\n", file);
    return 0;
}

int
cmd_managedsave_remove(vs_ctl *ctl, const vs_args *a)
{
    bool removed;

    (void)a;
    if (vs_domain_managed_save_remove(ctl->dom, &removed, &ctl->err) < 0) {
        vs_print_error(ctl, "Failed to remove managed save image for domain '%s'",
                       ctl->dom->name);
        return -1;
    }
    if (removed)
        vs_out_extra(ctl, "Removed managedsave image for domain '%s'\n", ctl->dom->name);
    else
        vs_out_extra(ctl, "Domain '%s' has no manage save image; removal skipped\n",
                     ctl->dom->name);
    return 0;
}

int
cmd_save_image_dumpxml(vs_ctl *ctl, const vs_args *a)
{
    vs_buf b = VS_BUF_INIT;

    if (vs_saveimage_dumpxml(vs_arg_str(a, "file"), vs_arg_bool(a, "security-info"), &b,
                             &ctl->err) < 0)
        return -1;
    vs_out(ctl, "%s\n", vs_buf_str(&b));
    vs_buf_reset(&b);
    return 0;
}

int
cmd_save_image_define(vs_ctl *ctl, const vs_args *a)
{
    const char *file = vs_arg_str(a, "file");
    vs_save_flags f;
    char *xml = NULL;
    bool changed;

    flags_from(a, &f, false);
    if (read_xml_arg(ctl, a, "xml", &xml) < 0)
        return -1;
    if (vs_saveimage_define(file, xml, &f, &changed, &ctl->err) < 0) {
        free(xml);
        vs_print_error(ctl, "Failed to update %s", file);
        return -1;
    }
    free(xml);
    vs_out_extra(ctl, "State file %s updated.\n", file);
    return 0;
}

int
cmd_save_image_edit(vs_ctl *ctl, const vs_args *a)
{
    const char *file = vs_arg_str(a, "file");
    vs_save_flags f;
    vs_buf orig = VS_BUF_INIT;
    char *path = NULL, *edited = NULL;
    bool changed = false;
    size_t len;
    int ret = -1;

    flags_from(a, &f, false);
    if (f.running && f.paused)
        return vs_error_set(&ctl->err, VS_ERR_PLAIN, "Flags 'VIR_DOMAIN_SAVE_RUNNING' and "
                            "'VIR_DOMAIN_SAVE_PAUSED' are mutually exclusive");
    if (vs_saveimage_dumpxml(file, true, &orig, &ctl->err) < 0)
        return -1;
    vs_buf_addc(&orig, '\n');
    if (!(path = edit_write_tmp(vs_buf_str(&orig), &ctl->err)) ||
        edit_run_editor(ctl, path, &ctl->err) < 0 ||
        vs_file_read(path, VS_XML_MAX_SIZE, &edited, &len, &ctl->err) < 0)
        goto out;
    if (strcmp(edited, vs_buf_str(&orig)) == 0 && !f.running && !f.paused) {
        vs_out_extra(ctl, "Saved image %s XML configuration not changed.\n", file);
        ret = 0;
        goto out;
    }
    if (vs_saveimage_define(file, edited, &f, &changed, &ctl->err) < 0) {
        vs_print_error(ctl, "Failed to update %s", file);
        goto out;
    }
    vs_out_extra(ctl, "State file %s edited.\n", file);
    ret = 0;
 out:
    if (path) {
        unlink(path);
        free(path);
    }
    vs_buf_reset(&orig);
    free(edited);
    return ret;
}
