/* lib/domain_run.c through its interface, as the snapshot code uses it:
 * vs_domain_state, vs_domain_monitor, vs_domain_live_def,
 * vs_domain_require_inactive, with a real qemu-system-x86_64 (TCG, 16 MiB,
 * no guest OS). */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain_run.h"
#include "mem.h"
#include "path.h"
#include "snapshot_ops.h"
#include "spawn.h"
#include "store.h"
#include "tap.h"

int
main(void)
{
    char tmp[] = "/tmp/vsnap-test-run.XXXXXX";
    char *img, *xml, *root;
    const char *mk[4 + 4];
    vs_error err;
    vs_store *st;
    vs_domain_def *def, *live;
    vs_dom *d;
    vs_run_info info;
    vs_qmp *q;
    char *status = NULL;

    if (!mkdtemp(tmp))
        return 1;
    img = vs_xasprintf("%s/a.qcow2", tmp);
    root = vs_xasprintf("%s/meta", tmp);
    mk[0] = "qemu-img"; mk[1] = "create"; mk[2] = "-q"; mk[3] = "-f"; mk[4] = "qcow2";
    mk[5] = img; mk[6] = "16M"; mk[7] = NULL;
    if (vs_spawn_check(mk, NULL, &err) < 0) {
        printf("Bail out! %s\n", err.msg);
        return 1;
    }
    xml = vs_xasprintf("<domain type='qemu'><name>r</name><memory unit='MiB'>16</memory>"
                       "<os><type arch='x86_64'>hvm</type></os><devices>"
                       "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                       "<source file='%s'/><target dev='vda' bus='virtio'/></disk>"
                       "</devices></domain>", img);
    st = vs_store_open(root, 0, &err);
    def = vs_domain_def_parse(xml, strlen(xml), "test", &err);
    ok(st && def && vs_store_define(st, def, NULL, &err) == 0, "define");
    d = vs_dom_open(st, "r", VS_LOCK_EXCLUSIVE, &err);
    ok(d != NULL, "open with the exclusive lock");
    if (!d)
        return tap_done();

    ok(vs_domain_state(d) == VS_DOMSTATE_SHUTOFF, "vs_domain_state: shut off");
    ok(vs_domain_require_inactive(d, &err) == 0, "require_inactive: fine while shut off");
    ok(!vs_domain_monitor(d, NULL, &err) &&
       strcmp(err.msg, "Requested operation is not valid: domain is not running") == 0,
       "no monitor while shut off: %s", err.msg);

    ok(vs_domain_start(d, true, &err) == 0, "start --paused (%s)", err.msg);
    ok(vs_domain_state(d) == VS_DOMSTATE_PAUSED, "vs_domain_state: paused");
    ok(vs_domain_run_info(d, &info, &err) == 0 && info.state == VS_RUN_PAUSED &&
       strcmp(info.reason, "user") == 0 && strcmp(info.qemu_status, "prelaunch") == 0 &&
       info.pid > 0 && !info.attached, "run info: paused (user), QEMU in prelaunch, its pid");
    ok(vs_domain_require_inactive(d, &err) < 0 && err.code == VS_ERR_NO_SUPPORT,
       "require_inactive refuses: %s", err.msg);
    q = vs_domain_monitor(d, &info, &err);
    ok(q && vs_qmp_command(q, "cont", NULL, NULL, &err) == 0, "the monitor connection works");
    vs_qmp_free(q);
    ok(vs_domain_state(d) == VS_DOMSTATE_RUNNING, "vs_domain_state: running");
    ok(vs_domain_run_info(d, &info, &err) == 0 && strcmp(info.reason, "unknown") == 0,
       "a cont vsnap did not send: running (unknown)");
    q = vs_domain_monitor(d, NULL, &err);
    ok(q && vs_qmp_query_status(q, &status, NULL, &err) == 0 && strcmp(status, "running") == 0,
       "query-status through the monitor");
    free(status);
    {
        json_object *r = NULL, *dev = NULL, *in = NULL, *nn = NULL;
        ok(q && vs_qmp_command(q, "query-block", NULL, &r, &err) == 0 && r &&
           json_object_array_length(r) == 1 &&
           json_object_object_get_ex(json_object_array_get_idx(r, 0), "qdev", &dev) &&
           strstr(json_object_get_string(dev), "vda") &&
           json_object_object_get_ex(json_object_array_get_idx(r, 0), "inserted", &in) &&
           json_object_object_get_ex(in, "node-name", &nn) &&
           strcmp(json_object_get_string(nn), "vsnap-vda-0-format") == 0,
           "query-block: device vda on node vsnap-vda-0-format");
        json_object_put(r);
    }
    vs_qmp_free(q);
    live = vs_domain_live_def(d, &err);
    ok(live && live->ndisks == 1 && strcmp(live->disks[0].source, img) == 0,
       "the definition it runs with");
    vs_domain_def_free(live);
    ok(vs_domain_destroy(d, &err) == 0, "destroy");
    ok(vs_domain_state(d) == VS_DOMSTATE_SHUTOFF, "shut off again");
    ok(vs_domain_run_info(d, &info, &err) == 0 && strcmp(info.reason, "destroyed") == 0,
       "shut off (destroyed)");
    vs_dom_close(d);
    vs_store_undefine(st, "r", true, &err);
    vs_store_free(st);
    vs_domain_def_free(def);
    {
        const char *rm[] = { "rm", "-rf", tmp, NULL };
        vs_spawn_check(rm, NULL, &err);
    }
    free(img);
    free(xml);
    free(root);
    return tap_done();
}
