/* lib/memory_transfer.c with a real qemu-system-x86_64 (TCG, 32 MiB, no
 * guest OS): save a running guest's memory into a save image, overwrite its
 * RAM, start a new QEMU with -incoming defer from the image and read the
 * original RAM back. The guest's RAM is a shared file
 * (memory-backend-file,share=on) the test writes and reads; pmemsave shows
 * QEMU's own view of it. */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "domain_run.h"
#include "mem.h"
#include "memory_transfer.h"
#include "path.h"
#include "saveimage.h"
#include "spawn.h"
#include "store.h"
#include "tap.h"

#define RAM_OFF (16u << 20)
#define PAT_LEN 65536u

static char tmp[] = "/tmp/vsnap-test-mem.XXXXXX";

static void
ram_put(const char *ram, char c)
{
    char *buf = vs_xmalloc(PAT_LEN);
    int fd = open(ram, O_WRONLY);

    memset(buf, c, PAT_LEN);
    if (fd < 0 || pwrite(fd, buf, PAT_LEN, RAM_OFF) != (ssize_t)PAT_LEN)
        printf("# cannot write %s\n", ram);
    if (fd >= 0)
        close(fd);
    free(buf);
}

/* QEMU's view of guest RAM at RAM_OFF holds c only */
static bool
ram_is(vs_dom *d, char c)
{
    char *out = vs_xasprintf("%s/pmem", tmp), *data = NULL;
    json_object *a = json_object_new_object();
    vs_error err;
    vs_qmp *q = vs_domain_monitor(d, NULL, &err);
    size_t len = 0, i;
    bool same = false;

    unlink(out);
    json_object_object_add(a, "val", json_object_new_int64(RAM_OFF));
    json_object_object_add(a, "size", json_object_new_int64(PAT_LEN));
    json_object_object_add(a, "filename", json_object_new_string(out));
    if (q && vs_qmp_command(q, "pmemsave", a, NULL, &err) == 0 &&
        vs_file_read(out, 1u << 20, &data, &len, &err) == 0 && len == PAT_LEN) {
        same = true;
        for (i = 0; i < len; i++)
            same = same && data[i] == c;
    } else if (!q) {
        json_object_put(a);
    }
    vs_qmp_free(q);
    free(data);
    free(out);
    return same;
}

static char *
qemu_status(vs_dom *d)
{
    vs_error err;
    vs_qmp *q = vs_domain_monitor(d, NULL, &err);
    char *s = NULL;

    if (q)
        vs_qmp_query_status(q, &s, NULL, &err);
    vs_qmp_free(q);
    return s ? s : vs_xstrdup("(none)");
}

int
main(void)
{
    char *xml, *root, *ram, *save, *data = NULL, *st;
    vs_error err;
    vs_store *store;
    vs_domain_def *def;
    vs_dom *d;
    vs_run_info info;
    vs_saveimage img;
    vs_qmp *q;
    vs_mem_opts o;
    bool was = false;
    size_t len = 0;
    struct stat sb;
    int fd;

    if (access("/usr/bin/qemu-system-x86_64", X_OK) != 0) {
        printf("1..0 # SKIP qemu-system-x86_64 not found\n");
        return 0;
    }
    if (!mkdtemp(tmp))
        return 1;
    vs_error_clear(&err);
    root = vs_xasprintf("%s/meta", tmp);
    ram = vs_xasprintf("%s/ram", tmp);
    save = vs_xasprintf("%s/m.save", tmp);
    xml = vs_xasprintf("<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
                       "<name>m</name><uuid>8e1a3a8e-3f8c-4e0f-9d55-8f1e8a2c0b01</uuid>"
                       "<memory unit='KiB'>32768</memory>"
                       "<os><type arch='x86_64'>hvm</type></os><devices/>"
                       "<qemu:commandline><qemu:arg value='-object'/>"
                       "<qemu:arg value='memory-backend-file,id=testram,size=32M,mem-path=%s,share=on'/>"
                       "<qemu:arg value='-machine'/><qemu:arg value='memory-backend=testram'/>"
                       "</qemu:commandline></domain>", ram);
    store = vs_store_open(root, 0, &err);
    def = vs_domain_def_parse(xml, strlen(xml), "test", &err);
    ok(store && def && vs_store_define(store, def, NULL, &err) == 0, "define");
    d = vs_dom_open(store, "m", VS_LOCK_EXCLUSIVE, &err);
    if (!d)
        return tap_done();
    ok(vs_domain_start(d, false, &err) == 0, "start (%s)", err.msg);
    ram_put(ram, 'A');
    ok(ram_is(d, 'A'), "guest RAM holds A");

    /* no room: refused before anything is written */
    q = vs_domain_monitor(d, NULL, &err);
    ok(q && vs_mem_space_check(q, "/proc", 0, NULL, &err) < 0 &&
       strstr(err.msg, "not enough free space in '/proc'") != NULL,
       "free space checked: %s", err.msg);

    memset(&o, 0, sizeof(o));
    ok(q && vs_mem_save_file(q, save, "<domain type='qemu'><name>m</name></domain>\n", NULL, &o,
                             &was, &err) == 0, "saved (%s)", err.msg);
    vs_qmp_free(q);
    ok(was, "it was running");
    st = qemu_status(d);
    is_str(st, "postmigrate", "the guest is left paused after the save");
    free(st);
    ok(stat(save, &sb) == 0 && (sb.st_mode & 0777) == 0600 && sb.st_size > 65536 + 92,
       "the image is there, mode 0600");
    {
        char *t = vs_mem_temp_path(save);
        ok(!vs_file_exists(t), "no temporary file left");
        free(t);
    }
    ok(vs_file_read(save, 256u << 20, &data, &len, &err) == 0 &&
       memcmp(data, "LibvirtQemudSave", 16) == 0, "marked complete");
    fd = vs_saveimage_open(save, O_RDONLY, &img, &err);
    ok(fd >= 0 && img.was_running == 1 && img.cookie &&
       memcmp(data + vs_saveimage_stream_offset(&img), "QEVM", 4) == 0,
       "was_running 1, QEMU's stream right after the padding");
    free(data);
    ok(vs_domain_destroy(d, &err) == 0, "destroy");

    ram_put(ram, 'B');
    ok(vs_domain_start_incoming(d, NULL, fd, NULL, 0, &err) == 0, "start from the image (%s)",
       err.msg);
    close(fd);
    vs_saveimage_clear(&img);
    ok(vs_domain_run_info(d, &info, &err) == 0 && info.state == VS_RUN_RUNNING &&
       strcmp(info.reason, "restored") == 0, "running (restored)");
    ok(ram_is(d, 'A'), "guest RAM holds A again");

    /* paused save, paused load */
    ram_put(ram, 'C');
    q = vs_domain_monitor(d, NULL, &err);
    memset(&o, 0, sizeof(o));
    o.mark = VS_MEM_MARK_PAUSED;
    o.live = true;
    ok(q && vs_mem_save_file(q, save, "<domain type='qemu'><name>m</name></domain>\n", NULL, &o,
                             &was, &err) == 0, "live save marked paused (%s)", err.msg);
    ok(q && vs_mem_resume(q, &err) == 0, "the guest resumes after the save");
    vs_qmp_free(q);
    st = qemu_status(d);
    is_str(st, "running", "running again");
    free(st);
    ok(vs_domain_destroy(d, &err) == 0, "destroy");
    ram_put(ram, 'D');
    fd = vs_saveimage_open(save, O_RDONLY, &img, &err);
    ok(fd >= 0 && img.was_running == 0, "header says paused");
    ok(vs_domain_start_incoming(d, NULL, fd, NULL, VS_START_PAUSED, &err) == 0, "start paused (%s)",
       err.msg);
    if (fd >= 0)
        close(fd);
    vs_saveimage_clear(&img);
    ok(vs_domain_run_info(d, &info, &err) == 0 && info.state == VS_RUN_PAUSED &&
       strcmp(info.reason, "migrating") == 0, "paused (migrating)");
    ok(ram_is(d, 'C'), "guest RAM holds C");

    /* a stream that is not one: QEMU refuses it, start fails, QEMU gone */
    vs_domain_destroy(d, &err);
    fd = open(save, O_RDWR);
    if (fd >= 0) {
        char junk[4096];
        memset(junk, 'x', sizeof(junk));
        fd = vs_saveimage_read_fd(fd, save, false, &img, &err) == 0 ? fd : fd;
        if (write(fd, junk, sizeof(junk)) != (ssize_t)sizeof(junk))
            printf("# short write\n");
        lseek(fd, vs_saveimage_stream_offset(&img), SEEK_SET);
    }
    ok(vs_domain_start_incoming(d, NULL, fd, NULL, 0, &err) < 0, "a broken stream fails: %s",
       err.msg);
    ok(vs_domain_run_info(d, &info, &err) == 0 && info.state == VS_RUN_SHUTOFF &&
       strcmp(info.reason, "failed") == 0, "shut off (failed)");
    if (fd >= 0)
        close(fd);
    vs_saveimage_clear(&img);

    vs_dom_close(d);
    vs_store_free(store);
    vs_domain_def_free(def);
    {
        const char *rm[] = { "rm", "-rf", tmp, NULL };
        vs_spawn_check(rm, NULL, &err);
    }
    free(xml);
    free(root);
    free(ram);
    free(save);
    return tap_done();
}
