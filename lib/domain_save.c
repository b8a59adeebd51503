/* Saved domains (see domain_save.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain_def.h"
#include "domain_run.h"
#include "domain_save.h"
#include "mem.h"
#include "path.h"
#include "plan.h"
#include "plan_run.h"
#include "saveimage.h"

static int
check_flags(const vs_save_flags *f, vs_error *err)
{
    if (f && f->running && f->paused)
        return vs_error_set(err, VS_ERR_PLAIN, "Flags 'VIR_DOMAIN_SAVE_RUNNING' and "
                            "'VIR_DOMAIN_SAVE_PAUSED' are mutually exclusive");
    return 0;
}

/* libvirt's ABI check, the part vsnap can make: the same domain. */
static int
same_domain(const vs_domain_def *src, const char *src_xml, const vs_domain_def *dst,
            const char *dst_xml, vs_error *err)
{
    if (strcmp(src->name, dst->name) != 0)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "Target domain name '%s' does not match source '%s'", dst->name,
                            src->name);
    if (strstr(src_xml, "<uuid>") && strstr(dst_xml, "<uuid>") &&
        strcmp(src->uuid, dst->uuid) != 0)
        return vs_error_set(err, VS_ERR_CONFIG_UNSUPPORTED,
                            "Target domain uuid %s does not match source %s", dst->uuid,
                            src->uuid);
    return 0;
}

/* The definition's XML as an image stores it (caller frees). */
static char *
def_text(const vs_domain_def *def)
{
    vs_buf b = VS_BUF_INIT;

    vs_domain_def_format(&b, def, 0, true, NULL);
    vs_buf_addc(&b, '\n');
    return vs_buf_steal(&b);
}

static const char *
mark_words(const vs_save_flags *f, bool running, bool bypass)
{
    bool r = f && f->running ? true : f && f->paused ? false : running;

    if (bypass)
        return r ? "running bypass-cache" : "paused bypass-cache";
    return r ? "running" : "paused";
}

int
vs_domain_save(vs_dom *d, const char *path, const vs_save_flags *f, vs_error *err)
{
    vs_run_info info;
    vs_domain_def *live = NULL, *given = NULL;
    char *xml = NULL, *abs = NULL;
    vs_plan *p = NULL;
    int ret = -1;

    if (check_flags(f, err) < 0 || vs_plan_refuse_interrupted(d, err) < 0)
        return -1;
    if (vs_domain_run_info(d, &info, err) < 0)
        return -1;
    if (info.state == VS_RUN_SHUTOFF)
        return vs_error_set(err, VS_ERR_OPERATION_INVALID, "domain is not running");
    if (info.attached)
        return vs_error_set(err, VS_ERR_OPERATION_INVALID,
                            "domain '%s' is run by another program (<vsnap:runtime>): vsnap "
                            "saves only domains it started, since saving ends QEMU", d->name);
    if (!(live = vs_domain_live_def(d, err)))
        return -1;
    if (f && f->xml) {
        char *lx = def_text(live);

        given = vs_domain_def_parse(f->xml, strlen(f->xml), "--xml", err);
        if (!given || same_domain(live, lx, given, f->xml, err) < 0) {
            free(lx);
            goto out;
        }
        free(lx);
        xml = def_text(given);
    } else {
        xml = def_text(live);
    }
    if (path) {
        abs = vs_path_absolute(path);
    } else {
        abs = vs_dom_entry_path(d, VS_DOM_MANAGED_SAVE);
    }
    p = vs_plan_new(path ? "save" : "managedsave", d->name, live->uuid, NULL);
    if (info.state == VS_RUN_RUNNING)
        vs_plan_vm(p, VS_STEP_VM_PAUSE, info.reason, "the guest is paused for the copy");
    vs_plan_vm_save_memory(p, abs, xml,
                           mark_words(f, info.state == VS_RUN_RUNNING, f && f->bypass_cache),
                           path ? "the guest's memory state, in libvirt's save-image format"
                                : "the managed-save image");
    vs_plan_commit_point(p);
    vs_plan_vm(p, VS_STEP_VM_STOP, "saved", "the saved guest is shut off");
    ret = vs_plan_execute(p, d, err);
 out:
    vs_plan_free(p);
    vs_domain_def_free(live);
    vs_domain_def_free(given);
    free(xml);
    free(abs);
    return ret;
}

/* The image's domain, parsed (and --xml instead, checked against it). */
static vs_domain_def *
image_def(const char *path, const vs_save_flags *f, vs_saveimage *img, vs_error *err)
{
    vs_domain_def *def, *given;
    int fd = vs_saveimage_open(path, O_RDONLY, img, err);

    if (fd < 0)
        return NULL;
    close(fd);
    if (!(def = vs_domain_def_parse(img->xml, strlen(img->xml), path, err)))
        return NULL;
    if (!f || !f->xml)
        return def;
    given = vs_domain_def_parse(f->xml, strlen(f->xml), "--xml", err);
    if (!given || same_domain(def, img->xml, given, f->xml, err) < 0) {
        vs_domain_def_free(given);
        vs_domain_def_free(def);
        return NULL;
    }
    vs_domain_def_free(def);
    return given;
}

/* Start d from image path with definition def (a plan of vm-restore, and
 * the removal of the managed save when it is that). */
static int
restore_plan(vs_dom *d, const char *op, const char *path, const vs_domain_def *def,
             bool paused, bool bypass, bool managed, vs_error *err)
{
    char *xml = def_text(def);
    vs_plan *p = vs_plan_new(op, d->name, def->uuid, NULL);
    int ret;

    vs_plan_vm_restore(p, path, xml, paused ? (bypass ? "paused bypass-cache" : "paused")
                                            : (bypass ? "running bypass-cache" : "running"),
                       "QEMU started with -incoming defer, fed the image");
    vs_plan_commit_point(p);
    if (managed)
        vs_plan_remove_managed_save(p, "a managed save is used once");
    ret = vs_plan_execute(p, d, err);
    vs_plan_free(p);
    free(xml);
    return ret;
}

int
vs_domain_restore(vs_store *st, const char *path, const vs_save_flags *f, char **name,
                  vs_error *err)
{
    vs_saveimage img;
    vs_domain_def *def, *pers;
    vs_run_info info;
    vs_dom *d = NULL;
    char *abs = NULL;
    int ret = -1;

    memset(&img, 0, sizeof(img));
    if (name)
        *name = NULL;
    if (check_flags(f, err) < 0)
        return -1;
    if (!(def = image_def(path, f, &img, err)))
        goto out;
    if (!(d = vs_dom_open(st, def->name, VS_LOCK_EXCLUSIVE, err))) {
        if (err && err->code == VS_ERR_NO_DOMAIN)
            vs_error_set(err, VS_ERR_NO_DOMAIN,
                         "no domain with matching name '%s' (vsnap restores defined domains "
                         "only: 'vsnap define' its XML first)", def->name);
        goto out;
    }
    if (vs_plan_refuse_interrupted(d, err) < 0 || !(pers = vs_dom_def(d, err)))
        goto out;
    if (strstr(img.xml, "<uuid>") && strcmp(pers->uuid, def->uuid) != 0) {
        vs_error_set(err, VS_ERR_OPERATION_FAILED, "domain '%s' is already defined with uuid %s",
                     def->name, pers->uuid);
        goto out;
    }
    if (vs_domain_run_info(d, &info, err) < 0)
        goto out;
    if (info.state != VS_RUN_SHUTOFF) {
        vs_error_set(err, VS_ERR_OPERATION_INVALID, "domain '%s' is already active", def->name);
        goto out;
    }
    abs = vs_path_absolute(path);
    if (restore_plan(d, "restore", abs, def,
                     f && f->paused ? true : f && f->running ? false : img.was_running == 0,
                     f && f->bypass_cache, false, err) < 0)
        goto out;
    if (name)
        *name = vs_xstrdup(def->name);
    ret = 0;
 out:
    vs_dom_close(d);
    vs_domain_def_free(def);
    vs_saveimage_clear(&img);
    free(abs);
    return ret;
}

int
vs_domain_start_saved(vs_dom *d, bool paused, bool force_boot, bool bypass_cache, vs_error *err)
{
    vs_saveimage img;
    vs_domain_def *def;
    char *path;
    int ret;

    if (!vs_dom_managed_save_exists(d))
        return vs_domain_start(d, paused, err);
    if (vs_plan_refuse_interrupted(d, err) < 0)
        return -1;
    if (force_boot) {
        bool removed;

        if (vs_domain_managed_save_remove(d, &removed, err) < 0)
            return -1;
        return vs_domain_start(d, paused, err);
    }
    path = vs_dom_entry_path(d, VS_DOM_MANAGED_SAVE);
    memset(&img, 0, sizeof(img));
    /* (read through the path for the XML only; QEMU gets a descriptor
     * opened through the store) */
    if (!(def = image_def(path, NULL, &img, err))) {
        bool removed;

        free(path);
        if (err && err->code != VS_ERR_OPERATION_FAILED)
            return -1;
        /* an incomplete or damaged image, as libvirt: removed, and the
         * domain boots ("Ignoring incomplete managed state") */
        vs_error_clear(err);
        if (vs_domain_managed_save_remove(d, &removed, err) < 0)
            return -1;
        return vs_domain_start(d, paused, err);
    }
    ret = restore_plan(d, "start", path, def, paused || img.was_running == 0, bypass_cache, true,
                       err);
    vs_domain_def_free(def);
    vs_saveimage_clear(&img);
    free(path);
    return ret;
}

int
vs_domain_managed_save_remove(vs_dom *d, bool *removed, vs_error *err)
{
    vs_plan *p;
    int ret;

    *removed = false;
    if (vs_plan_refuse_interrupted(d, err) < 0)
        return -1;
    if (!vs_dom_managed_save_exists(d))
        return 0;
    p = vs_plan_new("managedsave-remove", d->name, NULL, NULL);
    vs_plan_remove_managed_save(p, NULL);
    ret = vs_plan_execute(p, d, err);
    vs_plan_free(p);
    if (ret == 0)
        *removed = true;
    return ret;
}

int
vs_saveimage_dumpxml(const char *path, bool secure, vs_buf *out, vs_error *err)
{
    vs_saveimage img;
    vs_domain_def *def;
    int fd = vs_saveimage_open(path, O_RDONLY, &img, err);

    if (fd < 0)
        return -1;
    close(fd);
    def = vs_domain_def_parse(img.xml, strlen(img.xml), path, err);
    if (def)
        vs_domain_def_format(out, def, 0, secure, NULL);
    vs_domain_def_free(def);
    vs_saveimage_clear(&img);
    return def ? 0 : -1;
}

int
vs_saveimage_define(const char *path, const char *xml, const vs_save_flags *f, bool *changed,
                    vs_error *err)
{
    vs_saveimage img;
    vs_domain_def *old = NULL, *def = NULL;
    char *text = NULL;
    int fd, state = -1, ret = -1;

    *changed = false;
    if (check_flags(f, err) < 0)
        return -1;
    if ((fd = vs_saveimage_open(path, O_RDWR, &img, err)) < 0)
        return -1;
    if (!(old = vs_domain_def_parse(img.xml, strlen(img.xml), path, err)) ||
        !(def = vs_domain_def_parse(xml, strlen(xml), "the new XML", err)) ||
        same_domain(old, img.xml, def, xml, err) < 0)
        goto out;
    text = def_text(def);
    if (f && f->running)
        state = 1;
    else if (f && f->paused)
        state = 0;
    if (strcmp(text, img.xml) == 0 && (state < 0 || (uint32_t)state == img.was_running)) {
        ret = 0;
        goto out;
    }
    if (vs_saveimage_rewrite_fd(fd, path, &img, text, state, err) < 0)
        goto out;
    *changed = true;
    ret = 0;
 out:
    close(fd);
    vs_domain_def_free(old);
    vs_domain_def_free(def);
    vs_saveimage_clear(&img);
    free(text);
    return ret;
}
