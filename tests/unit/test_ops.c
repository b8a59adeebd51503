/* Unit tests: snapshot operations (create, redefine, current, revert, delete,
 * edit) on a store in a scratch directory, with real qcow2 images and the real
 * qemu-img (and one named fake for a failure real qemu-img cannot produce). */
#include "config.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "plan_run.h"
#include "mem.h"
#include "path.h"
#include "qemu_img.h"
#include "snapshot_ops.h"
#include "spawn.h"
#include "store.h"
#include "../tap.h"

static char *scratch, *root, *domdir, *img1, *img2;

#ifdef VSNAP_FAILPOINTS
/* Whether the domain directory holds a journal (store.h's layout). */
static bool
journal_exists(const char *dir)
{
    char *p = vs_path_join(dir, "journal");
    bool yes = vs_file_exists(p);

    free(p);
    return yes;
}
#endif

static vs_store *st;
static vs_dom *d;

/* ---- fixtures ---------------------------------------------------------- */

static unsigned long long
fnv(unsigned long long h, const void *p, size_t n)
{
    const unsigned char *c = p;

    while (n--) {
        h ^= *c++;
        h *= 1099511628211ULL;
    }
    return h;
}

/* Names and contents of every file under dir, except the lock and the
 * derived index, which are allowed to change. */
static unsigned long long
tree_sum(unsigned long long h, const char *dir)
{
    struct dirent **ents = NULL;
    int n, i;

    n = scandir(dir, &ents, NULL, alphasort);
    for (i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        char *path = vs_path_join(dir, name);
        struct stat sb;

        if (strcmp(name, ".") && strcmp(name, "..") && strcmp(name, "lock") &&
            strcmp(name, "index") && lstat(path, &sb) == 0) {
            h = fnv(h, path, strlen(path) + 1);
            if (S_ISDIR(sb.st_mode)) {
                h = tree_sum(h, path);
            } else {
                char *data = NULL;
                size_t len = 0;

                if (vs_file_read(path, 64 << 20, &data, &len, NULL) == 0)
                    h = fnv(h, data, len);
                free(data);
            }
        }
        free(path);
        free(ents[i]);
    }
    free(ents);
    return h;
}

static unsigned long long
meta_sum(void)
{
    return tree_sum(14695981039346656037ULL, domdir);
}

static unsigned long long
images_sum(void)
{
    unsigned long long h = 14695981039346656037ULL;
    const char *imgs[] = { img1, img2 };
    size_t i;

    for (i = 0; i < 2; i++) {
        char *data = NULL;
        size_t len = 0;

        if (vs_file_read(imgs[i], 64 << 20, &data, &len, NULL) == 0)
            h = fnv(h, data, len);
        free(data);
    }
    return h;
}

static bool
img_has(const char *img, const char *tag)
{
    char **tags = NULL, **t;
    bool found = false;

    if (vs_qemu_img_snapshot_list(img, &tags, NULL) < 0)
        return false;
    for (t = tags; t && *t; t++)
        if (strcmp(*t, tag) == 0)
            found = true;
    vs_strv_free(tags);
    return found;
}

static char *
parent_of(const char *name)
{
    vs_snapshot_def *def = vs_dom_read_snapshot(d, name, NULL);
    char *p;

    if (!def)
        return vs_xstrdup("(missing)");
    p = vs_xstrdup(def->parent ? def->parent : "-");
    vs_snapshot_def_free(def);
    return p;
}

static void
is_parent(const char *name, const char *want)
{
    char *p = parent_of(name);

    is_str(p, want, "parent of %s is %s", name, want);
    free(p);
}

static void
is_current(const char *want)
{
    char *c = vs_dom_current(d);

    is_str(c ? c : "-", want, "current is %s", want);
    free(c);
}

static int
create_xml(const char *xml, unsigned flags, char **name, vs_error *err)
{
    return vs_snapshot_create(d, xml, strlen(xml), "(test)", flags, name, err);
}

static void
create_ok(const char *name)
{
    char *xml = vs_xasprintf("<domainsnapshot><name>%s</name></domainsnapshot>", name);
    char *got = NULL;
    vs_error err;

    vs_error_clear(&err);
    ok(create_xml(xml, 0, &got, &err) == 0, "create %s (%s)", name, err.msg);
    is_str(got, name, "create returns the name");
    free(got);
    free(xml);
}

/*
 * Run one failing operation and check its message, and that neither the
 * metadata nor the images changed.
 */
typedef int (*op_fn)(void *ctx, vs_error *err);

static void
expect_fail_images(op_fn fn, void *ctx, const char *want, bool images_same, const char *what)
{
    unsigned long long m = meta_sum(), i = images_sum();
    vs_error err;
    int rc;

    vs_error_clear(&err);
    rc = fn(ctx, &err);
    ok(rc < 0, "%s: fails", what);
    if (want)
        is_str(err.msg, want, "%s: message", what);
    else
        ok(err.msg[0] && !strchr(err.msg, '\n'), "%s: one-line message: %s", what, err.msg);
    ok(meta_sum() == m, "%s: metadata unchanged", what);
    if (images_same)
        ok(images_sum() == i, "%s: images unchanged", what);
}

static void
expect_fail(op_fn fn, void *ctx, const char *want, const char *what)
{
    expect_fail_images(fn, ctx, want, true, what);
}

typedef struct { const char *xml; unsigned flags; } create_ctx;
typedef struct { const char *name; unsigned flags; } named_ctx;
typedef struct { const char *name; const char *xml; bool rename, clone; } edit_ctx;

static int
op_create(void *ctx, vs_error *err)
{
    create_ctx *c = ctx;
    char *name = NULL;
    int rc = create_xml(c->xml, c->flags, &name, err);

    free(name);
    return rc;
}

static int
op_revert(void *ctx, vs_error *err)
{
    named_ctx *c = ctx;

    return vs_snapshot_revert(d, c->name, c->flags, err);
}

static int
op_delete(void *ctx, vs_error *err)
{
    named_ctx *c = ctx;

    return vs_snapshot_delete(d, c->name, c->flags, err);
}

static int
op_current(void *ctx, vs_error *err)
{
    named_ctx *c = ctx;

    return vs_snapshot_set_current(d, c->name, err);
}

static int
op_edit(void *ctx, vs_error *err)
{
    edit_ctx *c = ctx;
    vs_edit_result res;
    char *nn = NULL;
    int rc;

    rc = vs_snapshot_edit_apply(d, c->name, c->xml, strlen(c->xml), c->rename, c->clone,
                                false, &res, &nn, err);
    free(nn);
    return rc;
}

static void
fail_create(const char *xml, unsigned flags, const char *want, const char *what)
{
    create_ctx c = { xml, flags };

    expect_fail(op_create, &c, want, what);
}

static char *
snapshot_xml(const char *name)
{
    vs_snapshot_def *def = vs_dom_read_snapshot(d, name, NULL);
    char *s;

    if (!def)
        return vs_xstrdup("");
    s = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);
    vs_snapshot_def_free(def);
    return s;
}

/* Replace the first occurrence of `from` in s (freed) with `to`. */
static char *
replace(char *s, const char *from, const char *to)
{
    char *p = strstr(s, from), *r;

    if (!p)
        return s;
    r = vs_xasprintf("%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
    free(s);
    return r;
}

static int
make_image(const char *path)
{
    const char *argv[] = { "qemu-img", "create", "-f", "qcow2", path, "16M", NULL };

    return vs_spawn_check(argv, NULL, NULL);
}

static int
setup(void)
{
    char tmpl[] = "/tmp/vsnap-test-ops.XXXXXX";
    const char *tmp = getenv("TMPDIR");
    char *xml, *t;
    vs_domain_def *def;
    bool created;
    vs_error err;

    if (tmp && *tmp) {
        t = vs_xasprintf("%s/vsnap-test-ops.XXXXXX", tmp);
        scratch = mkdtemp(t) ? t : NULL;
        if (!scratch)
            free(t);
    } else {
        scratch = mkdtemp(tmpl) ? vs_xstrdup(tmpl) : NULL;
    }
    if (!scratch)
        return -1;
    root = vs_path_join(scratch, "meta");
    domdir = vs_path_join(root, "vm1");
    img1 = vs_path_join(scratch, "disk1.qcow2");
    img2 = vs_path_join(scratch, "disk2.qcow2");
    if (make_image(img1) < 0 || make_image(img2) < 0)
        return -1;
    xml = vs_xasprintf(
        "<domain type='qemu'>\n"
        "  <name>vm1</name>\n"
        "  <uuid>0b5f3a36-7a53-4d3c-9f3a-4f0e0d3c2a11</uuid>\n"
        "  <memory unit='KiB'>32768</memory>\n"
        "  <os>\n    <type arch='x86_64'>hvm</type>\n  </os>\n"
        "  <devices>\n"
        "    <disk type='file' device='disk'>\n"
        "      <driver name='qemu' type='qcow2'/>\n"
        "      <source file='%s'/>\n"
        "      <target dev='vda' bus='virtio'/>\n"
        "    </disk>\n"
        "    <disk type='file' device='disk'>\n"
        "      <driver name='qemu' type='qcow2'/>\n"
        "      <source file='%s'/>\n"
        "      <target dev='vdb' bus='virtio'/>\n"
        "    </disk>\n"
        "    <disk type='file' device='cdrom'>\n"
        "      <target dev='sda' bus='sata'/>\n"
        "      <readonly/>\n"
        "    </disk>\n"
        "  </devices>\n"
        "</domain>\n", img1, img2);
    vs_error_clear(&err);
    def = vs_domain_def_parse(xml, strlen(xml), "vm1.xml", &err);
    free(xml);
    if (!def) {
        printf("# %s\n", err.msg);
        return -1;
    }
    if (!(st = vs_store_open(root, 0, &err)) || vs_store_define(st, def, &created, &err) < 0 ||
        !(d = vs_dom_open(st, "vm1", VS_LOCK_EXCLUSIVE, &err))) {
        printf("# %s\n", err.msg);
        vs_domain_def_free(def);
        return -1;
    }
    vs_domain_def_free(def);
    return 0;
}

static void
teardown(void)
{
    const char *argv[] = { "rm", "-rf", scratch, NULL };

    vs_dom_close(d);
    vs_store_free(st);
    if (scratch)
        vs_spawn_check(argv, NULL, NULL);
    free(scratch);
    free(root);
    free(domdir);
    free(img1);
    free(img2);
}

/* ---- the tests --------------------------------------------------------- */

static void
test_flag_errors(void)
{
    const char *x = "<domainsnapshot><name>f</name></domainsnapshot>";
    named_ctx n;

    fail_create(x, VS_CREATE_CURRENT,
                "Flag 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' is required by flag "
                "'VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT'", "--current without --redefine");
    fail_create(x, VS_CREATE_REDEFINE | VS_CREATE_NO_METADATA,
                "Flags 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' and "
                "'VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA' are mutually exclusive",
                "--redefine --no-metadata");
    fail_create(x, VS_CREATE_REDEFINE | VS_CREATE_HALT,
                "Flags 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' and "
                "'VIR_DOMAIN_SNAPSHOT_CREATE_HALT' are mutually exclusive",
                "--redefine --halt");
    fail_create(x, VS_CREATE_QUIESCE,
                "Flag 'VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY' is required by flag "
                "'VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE'", "--quiesce without --disk-only");
    fail_create(x, VS_CREATE_LIVE | VS_CREATE_REDEFINE,
                "Flags 'VIR_DOMAIN_SNAPSHOT_CREATE_LIVE' and "
                "'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' are mutually exclusive",
                "--live --redefine");
    fail_create(x, VS_CREATE_LIVE,
                "Operation not supported: live snapshot creation is supported only during "
                "full system snapshots", "--live");
    fail_create(x, VS_CREATE_QUIESCE | VS_CREATE_DISK_ONLY,
                "unsupported configuration: --quiesce requires a running domain with a guest agent",
                "--quiesce --disk-only");
    /* External snapshots are snapshot_external.c's (tests/unit/test_external.c);
     * here only refusals that must leave everything as it was. */
    fail_create("<domainsnapshot><name>f</name><disks><disk name='vda' snapshot='no'/>"
                "<disk name='vdb' snapshot='no'/></disks></domainsnapshot>", VS_CREATE_DISK_ONLY,
                "unsupported configuration: nothing selected for snapshot",
                "--disk-only with every disk excluded");
    fail_create("<domainsnapshot><name>f</name><disks><disk name='vda' snapshot='external'>"
                "<source file='/nonexistent/r.qcow2'/></disk><disk name='vdb' snapshot='no'/>"
                "</disks></domainsnapshot>", VS_CREATE_REUSE_EXT,
                "missing existing file for disk vda: /nonexistent/r.qcow2: No such file or "
                "directory", "--reuse-external of a missing file");
    fail_create("<domainsnapshot><name>a/b</name></domainsnapshot>", 0,
                "invalid snapshot name 'a/b': name can't contain '/'", "name with '/'");
    fail_create("<domainsnapshot><name>.x</name></domainsnapshot>", 0,
                "invalid snapshot name '.x': name can't start with '.'", "name with leading '.'");
    fail_create("<domainsnapshot><name>x</name>", 0, NULL, "malformed XML");

    n.name = "nosuch";
    n.flags = 0;
    expect_fail(op_revert, &n,
                "Domain snapshot not found: no domain snapshot with matching name 'nosuch'",
                "revert unknown");
    expect_fail(op_delete, &n,
                "Domain snapshot not found: no domain snapshot with matching name 'nosuch'",
                "delete unknown");
    expect_fail(op_current, &n,
                "Domain snapshot not found: no domain snapshot with matching name 'nosuch'",
                "set current unknown");
}

/* Define another domain with the given <devices> content; the caller closes it. */
static vs_dom *
other_domain(const char *name, const char *uuid, const char *devices)
{
    char *xml = vs_xasprintf("<domain type='qemu'>\n  <name>%s</name>\n  <uuid>%s</uuid>\n"
                             "  <memory unit='KiB'>32768</memory>\n"
                             "  <os>\n    <type arch='x86_64'>hvm</type>\n  </os>\n"
                             "  <devices>\n%s  </devices>\n</domain>\n", name, uuid, devices);
    vs_domain_def *def;
    vs_dom *od = NULL;
    bool created;
    vs_error err;

    vs_error_clear(&err);
    def = vs_domain_def_parse(xml, strlen(xml), name, &err);
    if (def && vs_store_define(st, def, &created, &err) == 0)
        od = vs_dom_open(st, name, VS_LOCK_EXCLUSIVE, &err);
    if (!od)
        printf("# %s\n", err.msg);
    vs_domain_def_free(def);
    free(xml);
    return od;
}

static void
other_fails(const char *dom, const char *uuid, const char *devices, const char *want,
            const char *what)
{
    vs_dom *od = other_domain(dom, uuid, devices);
    const char *x = "<domainsnapshot><name>o</name></domainsnapshot>";
    char *name = NULL;
    vs_error err;

    vs_error_clear(&err);
    ok(od && vs_snapshot_create(od, x, strlen(x), "(test)", 0, &name, &err) < 0, "%s: fails", what);
    is_str(err.msg, want, "%s: message", what);
    ok(!img_has(img1, "o") && !img_has(img2, "o"), "%s: images untouched", what);
    free(name);
    if (od)
        vs_dom_close(od);
    /* a scratch domain on vm1's images: gone again, so that it does not
     * hold vm1's images for the tests that follow */
    vs_store_undefine(st, dom, true, NULL);
}

static void
test_disk_selection(void)
{
    char *dev;

    fail_create("<domainsnapshot><name>n</name><disks><disk name='vda' snapshot='no'/>"
                "<disk name='vdb' snapshot='no'/></disks></domainsnapshot>", 0,
                "unsupported configuration: disk 'vda' must use snapshot mode 'internal'",
                "disks excluded in the snapshot XML");
    fail_create("<domainsnapshot><name>n</name><disks><disk name='vda'/><disk name='vda'/>"
                "</disks></domainsnapshot>", 0,
                "unsupported configuration: disk 'vda' specified twice", "disk named twice");
    fail_create("<domainsnapshot><name>n</name><disks><disk name='vdz'/>"
                "</disks></domainsnapshot>", 0,
                "unsupported configuration: no disk named 'vdz'", "disk not in the domain");
    fail_create("<domainsnapshot><name>n</name><disks><disk name='vda' snapshot='external'>"
                "<source file='/nonexistent/n.qcow2'/></disk></disks></domainsnapshot>", 0,
                NULL, "external disk whose overlay cannot be created");
    fail_create("<domainsnapshot><name>n</name><memory snapshot='internal'/></domainsnapshot>", 0,
                "XML error: memory state cannot be saved with offline or disk-only snapshot",
                "memory of a shut-off domain");

    dev = vs_xasprintf("    <disk type='file' device='disk' snapshot='no'>\n"
                       "      <driver name='qemu' type='qcow2'/>\n"
                       "      <source file='%s'/>\n      <target dev='vda' bus='virtio'/>\n"
                       "    </disk>\n", img1);
    other_fails("vm2", "0b5f3a36-7a53-4d3c-9f3a-4f0e0d3c2a12", dev,
                "unsupported configuration: nothing selected for snapshot",
                "every disk snapshot='no'");
    free(dev);
    other_fails("vm3", "0b5f3a36-7a53-4d3c-9f3a-4f0e0d3c2a13", "",
                "unsupported configuration: nothing selected for snapshot", "no disks at all");
    dev = vs_xasprintf("    <disk type='file' device='disk' snapshot='no'>\n"
                       "      <driver name='qemu' type='qcow2'/>\n"
                       "      <source file='%s'/>\n      <target dev='vda' bus='virtio'/>\n"
                       "    </disk>\n"
                       "    <disk type='file' device='disk'>\n"
                       "      <driver name='qemu' type='qcow2'/>\n"
                       "      <source file='%s'/>\n      <target dev='vdb' bus='virtio'/>\n"
                       "    </disk>\n", img1, img2);
    other_fails("vm4", "0b5f3a36-7a53-4d3c-9f3a-4f0e0d3c2a14", dev,
                "unsupported configuration: internal and full system snapshots require all "
                "disks to be selected for snapshot", "one writable disk snapshot='no'");
    free(dev);
    dev = vs_xasprintf("    <disk type='file' device='disk'>\n"
                       "      <driver name='qemu' type='raw'/>\n"
                       "      <source file='%s'/>\n      <target dev='vda' bus='virtio'/>\n"
                       "    </disk>\n", img1);
    other_fails("vm5", "0b5f3a36-7a53-4d3c-9f3a-4f0e0d3c2a15", dev,
                "unsupported configuration: internal snapshot for disk vda unsupported for "
                "storage type raw", "a raw disk");
    free(dev);
    dev = vs_xasprintf("    <disk type='file' device='disk'>\n"
                       "      <source file='%s'/>\n      <target dev='vda' bus='virtio'/>\n"
                       "    </disk>\n", img1);
    other_fails("vm6", "0b5f3a36-7a53-4d3c-9f3a-4f0e0d3c2a16", dev,
                "unsupported configuration: internal snapshot for disk vda unsupported for "
                "storage type raw", "a disk without a format (qemu: raw)");
    free(dev);
}

static void
test_create_tree(void)
{
    vs_snapshot_def *def;
    char *got = NULL;
    vs_error err;
    unsigned long long m;
    named_ctx n;

    create_ok("s1");
    ok(img_has(img1, "s1") && img_has(img2, "s1"), "s1 is in both images");
    is_current("s1");
    is_parent("s1", "-");
    def = vs_dom_read_snapshot(d, "s1", NULL);
    ok(def && def->state == VS_STATE_SHUTOFF && def->memory == VS_LOC_NO,
       "s1 is shutoff without memory");
    ok(def && def->ndisks == 3 && def->disks[0].snapshot == VS_LOC_INTERNAL &&
       def->disks[1].snapshot == VS_LOC_INTERNAL && def->disks[2].snapshot == VS_LOC_NO,
       "s1's disks: vda, vdb internal, the CD-ROM no");
    ok(def && def->dom && strcmp(def->dom->name, "vm1") == 0, "s1 records the domain");
    vs_snapshot_def_free(def);

    create_ok("s2");
    is_parent("s2", "s1");
    is_current("s2");
    fail_create("<domainsnapshot><name>s1</name></domainsnapshot>", 0,
                "operation failed: domain moment s1 already exists", "duplicate name");

    /* --no-metadata: data taken, nothing recorded, current unchanged. */
    m = meta_sum();
    vs_error_clear(&err);
    ok(create_xml("<domainsnapshot><name>nm</name></domainsnapshot>", VS_CREATE_NO_METADATA,
                  &got, &err) == 0, "--no-metadata create (%s)", err.msg);
    free(got);
    got = NULL;
    ok(img_has(img1, "nm") && img_has(img2, "nm"), "--no-metadata snapshot is in the images");
    ok(meta_sum() == m, "--no-metadata records nothing");
    is_current("s2");
    fail_create("<domainsnapshot><name>nm</name></domainsnapshot>", 0,
                NULL, "a name the images already hold");
    vs_qemu_img_snapshot_delete(img1, "nm", NULL);
    vs_qemu_img_snapshot_delete(img2, "nm", NULL);

    /* --halt and --atomic are accepted for a shut-off domain. */
    vs_error_clear(&err);
    ok(create_xml("<domainsnapshot><name>s3</name><description>halted</description>"
                  "</domainsnapshot>", VS_CREATE_HALT | VS_CREATE_ATOMIC, &got, &err) == 0,
       "--halt --atomic create (%s)", err.msg);
    free(got);
    got = NULL;
    is_parent("s3", "s2");

    /* revert s1, then a new snapshot branches from it */
    vs_error_clear(&err);
    ok(vs_snapshot_revert(d, "s1", 0, &err) == 0, "revert s1 (%s)", err.msg);
    is_current("s1");
    create_ok("s4");
    is_parent("s4", "s1");

    n.name = "s1";
    n.flags = VS_REVERT_RUNNING | VS_REVERT_PAUSED;
    expect_fail(op_revert, &n,
                "Flags 'VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING' and "
                "'VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED' are mutually exclusive",
                "revert --running --paused");
    n.flags = VS_DELETE_CHILDREN | VS_DELETE_CHILDREN_ONLY;
    expect_fail(op_delete, &n,
                "Flags 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN' and "
                "'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY' are mutually exclusive",
                "delete --children --children-only");

    vs_error_clear(&err);
    ok(vs_snapshot_set_current(d, "s2", &err) == 0, "set current s2 (%s)", err.msg);
    is_current("s2");
    ok(vs_snapshot_set_current(d, "s4", &err) == 0, "set current s4");
}

static void
test_delete(void)
{
    vs_error err;

    /* tree: s1 -> { s2 -> s3, s4 }, current s4 */
    vs_error_clear(&err);
    ok(vs_snapshot_delete(d, "s2", 0, &err) == 0, "delete s2 (%s)", err.msg);
    ok(!img_has(img1, "s2") && !img_has(img2, "s2"), "s2's data is gone");
    ok(!vs_dom_has_snapshot(d, "s2"), "s2's metadata is gone");
    is_parent("s3", "s1");
    is_current("s4");

    /* current moves to the parent */
    ok(vs_snapshot_delete(d, "s4", 0, &err) == 0, "delete current s4 (%s)", err.msg);
    is_current("s1");

    /* --children-only with current among the children: current becomes s1 */
    create_ok("s5");
    create_ok("s6");
    is_parent("s6", "s5");
    ok(vs_snapshot_delete(d, "s1", VS_DELETE_CHILDREN_ONLY, &err) == 0,
       "delete s1 --children-only (%s)", err.msg);
    ok(!vs_dom_has_snapshot(d, "s3") && !vs_dom_has_snapshot(d, "s5") &&
       !vs_dom_has_snapshot(d, "s6") && vs_dom_has_snapshot(d, "s1"),
       "only s1 is left");
    ok(!img_has(img1, "s5") && !img_has(img2, "s6") && !img_has(img1, "s3") &&
       img_has(img1, "s1"), "the children's data is gone, s1's kept");
    is_current("s1");

    /* --children on a root that is current: nothing is current then */
    create_ok("s7");
    ok(vs_snapshot_delete(d, "s1", VS_DELETE_CHILDREN, &err) == 0,
       "delete s1 --children (%s)", err.msg);
    ok(!vs_dom_has_snapshot(d, "s1") && !vs_dom_has_snapshot(d, "s7"), "s1 and s7 are gone");
    ok(!img_has(img1, "s1") && !img_has(img2, "s7"), "and their data");
    is_current("-");

    /* re-parenting of a root's children; --metadata keeps the data */
    create_ok("r1");
    create_ok("r2");
    ok(vs_snapshot_delete(d, "r1", VS_DELETE_METADATA_ONLY, &err) == 0,
       "delete r1 --metadata (%s)", err.msg);
    is_parent("r2", "-");
    ok(img_has(img1, "r1") && img_has(img2, "r1"), "--metadata keeps the data");
    vs_qemu_img_snapshot_delete(img1, "r1", NULL);
    vs_qemu_img_snapshot_delete(img2, "r1", NULL);

    /* a tag already gone from one image is skipped */
    create_ok("r3");
    vs_qemu_img_snapshot_delete(img2, "r3", NULL);
    ok(vs_snapshot_delete(d, "r3", 0, &err) == 0, "delete r3 with one tag missing (%s)",
       err.msg);
    ok(!img_has(img1, "r3"), "r3's remaining data is gone");
    is_current("r2");
}

static void
test_revert_checks(void)
{
    named_ctx n;
    char *p;

    /* one image lacks the tag: nothing may change */
    create_ok("v1");
    create_ok("v2");
    vs_qemu_img_snapshot_delete(img2, "v1", NULL);
    n.name = "v1";
    n.flags = 0;
    expect_fail(op_revert, &n,
                "operation failed: image of disk 'vdb' does not have internal snapshot 'v1'",
                "revert with a missing tag");
    is_current("v2");

    /* a missing image */
    p = vs_xasprintf("%s.moved", img2);
    rename(img2, p);
    n.name = "v2";
    expect_fail_images(op_revert, &n, NULL, false, "revert with a missing image");
    n.flags = 0;
    expect_fail_images(op_delete, &n, NULL, false, "delete with a missing image");
    rename(p, img2);
    free(p);
}

static void
test_rollback(void)
{
    const char *top = getenv("top_srcdir");
    char *fake = vs_xasprintf("%s/tests/scenarios/fake-qemu-img-fail-second", top ? top : ".");
    create_ctx c = { "<domainsnapshot><name>rb</name></domainsnapshot>", 0 };

    setenv("VSNAP_QEMU_IMG", fake, 1);
    expect_fail_images(op_create, &c,
                       NULL, false, "qemu-img fails on the second disk");
    unsetenv("VSNAP_QEMU_IMG");
    ok(!img_has(img1, "rb") && !img_has(img2, "rb"), "the first disk's snapshot is removed again");
    ok(!vs_dom_has_snapshot(d, "rb"), "no metadata for it");
    free(fake);
}

static void
test_redefine(void)
{
    char *x1, *x2, *x, *got = NULL;
    unsigned long long m;
    vs_error err;
    create_ctx c;
    edit_ctx e;

    /* tree now: r2 -> v1 -> v2 (current v2) */
    x1 = snapshot_xml("v1");
    x2 = snapshot_xml("v2");

    /* redefining an existing snapshot in place changes nothing else */
    m = meta_sum();
    vs_error_clear(&err);
    ok(create_xml(x2, VS_CREATE_REDEFINE, &got, &err) == 0, "redefine v2 as is (%s)", err.msg);
    free(got);
    got = NULL;
    ok(meta_sum() == m, "the same definition rewrites the same bytes");

    /* v1 under its own child v2 */
    x = replace(vs_xstrdup(x1), "<name>r2</name>", "<name>v2</name>");
    c.xml = x;
    c.flags = VS_CREATE_REDEFINE;
    expect_fail(op_create, &c, "invalid argument: parent v2 would create cycle to v1",
                "redefine creating a cycle");
    free(x);
    x = replace(vs_xstrdup(x1), "<name>r2</name>", "<name>v1</name>");
    c.xml = x;
    expect_fail(op_create, &c, "invalid argument: cannot set moment v1 as its own parent",
                "redefine as its own parent");
    free(x);
    x = replace(replace(vs_xstrdup(x1), "<name>r2</name>", "<name>ghost</name>"),
                "<name>v1</name>", "<name>new1</name>");
    c.xml = x;
    expect_fail(op_create, &c, "invalid argument: parent ghost for moment new1 not found",
                "redefine with a missing parent");
    free(x);
    x = replace(vs_xstrdup(x1), "0b5f3a36-7a53-4d3c-9f3a-4f0e0d3c2a11",
                "11111111-2222-3333-4444-555555555555");
    c.xml = x;
    expect_fail(op_create, &c,
                "invalid argument: definition for snapshot v1 must use uuid "
                "0b5f3a36-7a53-4d3c-9f3a-4f0e0d3c2a11", "redefine with another uuid");
    free(x);
    c.xml = "<domainsnapshot><name>nodom</name><state>shutoff</state>"
            "<creationTime>1</creationTime></domainsnapshot>";
    expect_fail(op_create, &c, "internal error: missing domain in snapshot",
                "redefine a new snapshot without <domain>");
    x = replace(vs_xstrdup(x1), "<state>shutoff</state>", "<state>running</state>");
    c.xml = x;
    expect_fail(op_create, &c,
                "invalid argument: cannot change between online and offline snapshot state "
                "in snapshot v1", "redefine offline as online");
    free(x);

    /* --redefine --current; a description change without <domain> keeps it */
    c.xml = "<domainsnapshot><name>v1</name><description>new words</description>"
            "<state>shutoff</state><parent><name>r2</name></parent>"
            "<creationTime>5</creationTime></domainsnapshot>";
    vs_error_clear(&err);
    ok(create_xml(c.xml, VS_CREATE_REDEFINE | VS_CREATE_CURRENT, &got, &err) == 0,
       "redefine v1 --current without <domain> (%s)", err.msg);
    free(got);
    got = NULL;
    is_current("v1");
    {
        vs_snapshot_def *def = vs_dom_read_snapshot(d, "v1", NULL);

        ok(def && def->dom && def->description && strcmp(def->description, "new words") == 0,
           "the old <domain> is kept, the description changed");
        vs_snapshot_def_free(def);
    }

    /* edit: broken XML keeps the old snapshot; a name change needs --rename/--clone */
    e.name = "v1";
    e.xml = "<domainsnapshot><name>v1</name";
    e.rename = e.clone = false;
    expect_fail(op_edit, &e, NULL, "edit with invalid XML");
    x = replace(snapshot_xml("v1"), "<name>v1</name>", "<name>v1b</name>");
    e.xml = x;
    expect_fail(op_edit, &e, "Must use --rename or --clone to change v1 to v1b",
                "edit changing the name");
    e.rename = true;
    expect_fail(op_edit, &e, NULL, "edit --rename of a snapshot with data in the images");
    e.rename = false;
    e.clone = true;
    {
        vs_edit_result res;
        char *nn = NULL;

        vs_error_clear(&err);
        ok(vs_snapshot_edit_apply(d, "v1", x, strlen(x), false, true, false, &res, &nn,
                                  &err) == 0 && res == VS_EDIT_CLONED,
           "edit --clone (%s)", err.msg);
        is_str(nn, "v1b", "the clone's name");
        free(nn);
        is_parent("v1b", "r2");
        is_current("v1");
    }
    free(x);
    free(x1);
    free(x2);
}

static void
test_rename(void)
{
    char *x;
    vs_edit_result res;
    char *nn = NULL;
    vs_error err;

    /* a metadata-only snapshot (no data in the images) can be renamed; its
     * children and current follow it */
    x = snapshot_xml("r2");
    ok(vs_snapshot_set_current(d, "r2", NULL) == 0, "r2 current");
    x = replace(x, "<name>r2</name>", "<name>r2new</name>");
    vs_qemu_img_snapshot_delete(img1, "r2", NULL);
    vs_qemu_img_snapshot_delete(img2, "r2", NULL);
    vs_error_clear(&err);
    ok(vs_snapshot_edit_apply(d, "r2", x, strlen(x), true, false, false, &res, &nn, &err) == 0 &&
       res == VS_EDIT_RENAMED, "edit --rename (%s)", err.msg);
    free(nn);
    ok(!vs_dom_has_snapshot(d, "r2") && vs_dom_has_snapshot(d, "r2new"), "renamed");
    is_parent("v1", "r2new");
    is_parent("v1b", "r2new");
    is_current("r2new");
    free(x);
}

#ifdef VSNAP_FAILPOINTS
/* Run fn in a child with failpoint fp armed (the failpoint counter is per
 * process); returns the child's verdict: -1 when the operation failed. */
static int
with_failpoint(const char *fp, op_fn fn, void *ctx)
{
    pid_t pid;
    int status = 0;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        vs_error e;

        setenv("VSNAP_FAILPOINT", fp, 1);
        vs_error_clear(&e);
        _exit(fn(ctx, &e) < 0 ? 1 : 0);
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 1 ? -1 : 0;
}

static void
fp_unchanged(const char *fp, op_fn fn, void *ctx, const char *what)
{
    unsigned long long m = meta_sum();

    ok(with_failpoint(fp, fn, ctx) < 0, "%s: fails at %s", what, fp);
    ok(meta_sum() == m, "%s: metadata as before", what);
}

static void
repair_ok(const char *what)
{
    vs_buf report = VS_BUF_INIT;
    vs_error e;

    vs_error_clear(&e);
    ok(vs_plan_repair(d, &report, &e) == 0, "%s: repair (%s)", what, e.msg);
    ok(!journal_exists(domdir), "%s: journal gone after the repair", what);
    vs_buf_reset(&report);
}

static void
test_failpoints(void)
{
    create_ctx c = { "<domainsnapshot><name>fp1</name></domainsnapshot>", 0 };
    edit_ctx e;
    named_ctx n;
    char *x;

    /* create runs a journaled plan: the two tags, commit point, snapshot
     * file, current. A failure at an early step boundary (after the first
     * tag, before the commit point is recorded) rolls the tags back. */
    fp_unchanged("plan-step:2", op_create, &c, "create");
    ok(!img_has(img1, "fp1") && !img_has(img2, "fp1"), "create: images rolled back");
    ok(!journal_exists(domdir), "create: no journal left");
    fp_unchanged("plan-step:3", op_create, &c, "create");
    ok(!img_has(img1, "fp1") && !img_has(img2, "fp1"), "create: images rolled back");
    ok(!journal_exists(domdir), "create: no journal left");

    x = replace(snapshot_xml("v1"), "new words", "newer words");
    c.xml = x;
    c.flags = VS_CREATE_REDEFINE | VS_CREATE_CURRENT;
    ok(vs_snapshot_set_current(d, "v1b", NULL) == 0, "v1b current");
    /* the boundary before its second step: current is not set yet */
    fp_unchanged("plan-step:2", op_create, &c, "redefine --current");
    free(x);

    /* r2new (no data) has the children v1 and v1b */
    x = replace(snapshot_xml("r2new"), "<name>r2new</name>", "<name>r2x</name>");
    e.name = "r2new";
    e.xml = x;
    e.rename = true;
    e.clone = false;
    /* the boundary after the new file and the two children (written as one
     * group of snapshot files): current and the old file are still to come */
    fp_unchanged("plan-step:2", op_edit, &e, "edit --rename");
    free(x);

    /* a delete cut short after its first step leaves the journal: the next
     * delete is refused, and the repair finishes the job */
    n.name = "r2new";
    n.flags = 0;
    ok(with_failpoint("plan-step:2", op_delete, &n) < 0, "delete interrupted");
    ok(vs_dom_has_snapshot(d, "r2new"), "r2new still there");
    ok(journal_exists(domdir), "delete: journal left");
    ok(vs_snapshot_delete(d, "r2new", 0, NULL) < 0, "delete again refused");
    repair_ok("delete");
    ok(!vs_dom_has_snapshot(d, "r2new"), "r2new deleted by the repair");
    is_parent("v1", "-");
    is_parent("v1b", "-");

    /* a revert cut short between the images: current is untouched, the
     * journal says so, and the repair finishes the revert */
    n.name = "v2";
    ok(vs_snapshot_set_current(d, "v1", NULL) == 0, "v1 current");
    ok(with_failpoint("plan-step:2", op_revert, &n) < 0, "revert interrupted");
    is_current("v1");
    ok(journal_exists(domdir), "revert: journal left");
    repair_ok("revert");
    is_current("v2");

    /* a metadata-only delete keeps each removed file's text as stored
     * (here with a comment vsnap would not write): killed part-way, the
     * repair rolls it back and the files come back */
    {
        static const char *const names[] = { "mp", "mc1", "mc2" };
        char *path, *data = NULL, *hand;
        size_t len, k;
        vs_error er;

        for (k = 0; k < 3; k++) {
            char *xml = vs_xasprintf("<domainsnapshot><name>%s</name>%s<state>shutoff</state>"
                                     "<creationTime>%zu</creationTime><memory snapshot='no'/>"
                                     "</domainsnapshot>", names[k],
                                     k ? "<parent><name>mp</name></parent>" : "", 100 + k);
            vs_snapshot_def *sd = vs_snapshot_def_parse(xml, strlen(xml), "(test)",
                                                        VS_SNAP_PARSE_REDEFINE, 0, NULL);

            vs_error_clear(&er);
            ok(sd && vs_dom_write_snapshot(d, sd, &er) == 0, "metadata delete: %s written (%s)",
               names[k], er.msg);
            vs_snapshot_def_free(sd);
            free(xml);
        }
        path = vs_xasprintf("%s/snapshots/mc1.xml", domdir);
        vs_file_read(path, 1 << 20, &data, &len, NULL);
        hand = data ? replace(vs_xstrdup(data), "<domainsnapshot>",
                              "<!-- written by hand -->\n<domainsnapshot>") : NULL;
        if (hand)
            vs_file_write_atomic(path, hand, strlen(hand), 0600, NULL);
        vs_dom_forget(d);
        n.name = "mp";
        n.flags = VS_DELETE_CHILDREN | VS_DELETE_METADATA_ONLY;
        /* killed before its first step: the rollback looks at every file,
         * mc1's as the plan recorded it, comment and all */
        with_failpoint("plan-step:1:kill", op_delete, &n);
        ok(journal_exists(domdir), "metadata delete --children killed: journal left");
        repair_ok("metadata delete");
        vs_dom_forget(d);
        is_parent("mc1", "mp");
        is_parent("mc2", "mp");
        ok(vs_dom_has_snapshot(d, "mp"), "... mp is back");
        vs_error_clear(&er);
        ok(vs_snapshot_delete(d, "mp", n.flags, &er) == 0 && !vs_dom_has_snapshot(d, "mc1"),
           "... and the delete runs (%s)", er.msg);
        free(hand);
        free(data);
        free(path);
    }
}
#endif

int
main(void)
{
    if (setup() < 0) {
        printf("Bail out! cannot set up a scratch store with qcow2 images\n");
        teardown();
        return 1;
    }
    test_flag_errors();
    test_disk_selection();
    test_create_tree();
    test_delete();
    test_revert_checks();
    test_rollback();
    test_redefine();
    test_rename();
#ifdef VSNAP_FAILPOINTS
    test_failpoints();
#endif
    teardown();
    return tap_done();
}
