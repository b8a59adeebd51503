/*
 * bench/gen: build a benchmark fixture straight into a metadata directory.
 *
 *   gen ROOT DOMAIN N [SHAPE]
 *
 * Defines DOMAIN (two qcow2 disks, vda and vdb) under ROOT and gives it N
 * snapshots snap-00000 ... Every file is a real <domainsnapshot> with the
 * full embedded domain (about 1.7 KB), formatted by the library. SHAPE:
 *
 *   binary  (default) snapshot i's parent is snapshot (i - 1) / 2: a
 *           complete binary tree, the shape of issue 12's measurements;
 *   random  each snapshot's parent is a uniformly chosen earlier one (depth
 *           near 2.5 ln N, a history with many reverts), except that
 *           snap-00001 has the single child snap-00002 and half the tree.
 *
 * Files are written without fsync (a fixture, not metadata anyone relies
 * on), and the index is then built by the library exactly as vsnap builds
 * it. Prints, one per line: the delete target (snap-00001), its descendant
 * and child counts, a snapshot with a subtree of exactly 255 snapshots
 * (itself included; "-" when there is none), and the time the cold index
 * rebuild took.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "path.h"
#include "store.h"

static const char DOMAIN_XML[] =
    "<domain type='qemu'>\n"
    "  <name>%s</name>\n"
    "  <uuid>6f1a1d3e-0c62-4a43-9d0c-3b1ad8a3c0de</uuid>\n"
    "  <memory unit='KiB'>1048576</memory>\n"
    "  <currentMemory unit='KiB'>1048576</currentMemory>\n"
    "  <vcpu placement='static'>2</vcpu>\n"
    "  <os>\n"
    "    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>\n"
    "    <boot dev='hd'/>\n"
    "  </os>\n"
    "  <features>\n"
    "    <acpi/>\n"
    "    <apic/>\n"
    "  </features>\n"
    "  <clock offset='utc'/>\n"
    "  <on_poweroff>destroy</on_poweroff>\n"
    "  <on_reboot>restart</on_reboot>\n"
    "  <on_crash>destroy</on_crash>\n"
    "  <devices>\n"
    "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
    "    <disk type='file' device='disk'>\n"
    "      <driver name='qemu' type='qcow2'/>\n"
    "      <source file='/var/lib/vsnap-bench/%s.qcow2'/>\n"
    "      <target dev='vda' bus='virtio'/>\n"
    "    </disk>\n"
    "    <disk type='file' device='disk'>\n"
    "      <driver name='qemu' type='qcow2'/>\n"
    "      <source file='/var/lib/vsnap-bench/%s-data.qcow2'/>\n"
    "      <target dev='vdb' bus='virtio'/>\n"
    "    </disk>\n"
    "    <interface type='network'>\n"
    "      <mac address='52:54:00:12:34:56'/>\n"
    "      <source network='default'/>\n"
    "      <model type='virtio'/>\n"
    "    </interface>\n"
    "    <serial type='pty'>\n"
    "      <target port='0'/>\n"
    "    </serial>\n"
    "    <console type='pty'>\n"
    "      <target type='serial' port='0'/>\n"
    "    </console>\n"
    "  </devices>\n"
    "</domain>\n";

static unsigned long long rng_state;

static unsigned long long
rng(void)
{
    /* splitmix64: reproducible across platforms for a given seed */
    unsigned long long z = (rng_state += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
die(const char *what, const vs_error *err)
{
    fprintf(stderr, "gen: %s: %s\n", what, err ? err->msg : strerror(errno));
    exit(1);
}

static void
write_plain(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t len = strlen(text);

    if (fd < 0 || write(fd, text, len) != (ssize_t)len || close(fd) < 0)
        die(path, NULL);
}

int
main(int argc, char **argv)
{
    const char *root, *dom_name;
    long n, i, *parent;
    vs_error err;
    vs_store *st;
    vs_domain_def *dom;
    vs_snapshot_def *def;
    vs_dom *d;
    vs_snap_tree *t;
    char *xml, *sdir, name[32];
    double t0, rebuild_ms;
    long best, sub = -1;
    size_t best_desc, best_kids;
    bool binary;

    if (argc < 4) {
        fprintf(stderr, "usage: gen ROOT DOMAIN N [binary|random]\n");
        return 2;
    }
    root = argv[1];
    dom_name = argv[2];
    n = atol(argv[3]);
    binary = argc <= 4 || strcmp(argv[4], "random") != 0;
    rng_state = 42;
    if (n < 2) {
        fprintf(stderr, "gen: N must be at least 2\n");
        return 2;
    }

    if (!(st = vs_store_open(root, 0, &err)))
        die("store", &err);
    xml = vs_xasprintf(DOMAIN_XML, dom_name, dom_name, dom_name);
    if (!(dom = vs_domain_def_parse(xml, strlen(xml), "(bench)", &err)))
        die("domain", &err);
    free(xml);
    if (vs_store_define(st, dom, NULL, &err) < 0)
        die("define", &err);

    /* One parsed snapshot whose name/parent/time are swapped per file. */
    {
        vs_buf b = VS_BUF_INIT;

        vs_buf_add(&b, "<domainsnapshot>\n  <name>x</name>\n  <description>benchmark snapshot</description>\n"
                       "  <state>shutoff</state>\n  <creationTime>1</creationTime>\n"
                       "  <memory snapshot='no'/>\n  <disks>\n    <disk name='vda' snapshot='internal'/>\n"
                       "    <disk name='vdb' snapshot='internal'/>\n  </disks>\n  ");
        /* extra_indent indents every line but the first, which we indented */
        vs_domain_def_format(&b, dom, 2, true, NULL);
        vs_buf_add(&b, "\n</domainsnapshot>\n");
        xml = vs_buf_steal(&b);
    }
    if (!(def = vs_snapshot_def_parse(xml, strlen(xml), "(bench)", VS_SNAP_PARSE_REDEFINE, 0, &err)))
        die("snapshot template", &err);
    free(xml);

    sdir = vs_xasprintf("%s/%s/snapshots", root, dom_name);
    if (mkdir(sdir, 0700) < 0 && errno != EEXIST)
        die(sdir, NULL);
    parent = vs_xmalloc((size_t)n * sizeof(*parent));
    for (i = 0; i < n; i++) {
        char *text, *path;

        if (binary) {
            parent[i] = i ? (i - 1) / 2 : -1;
        } else if (i <= 2) {
            parent[i] = i - 1;
        } else {
            do
                parent[i] = (long)(rng() % (unsigned long long)i);
            while (parent[i] == 1);
        }
        snprintf(name, sizeof(name), "snap-%05ld", i);
        free(def->name);
        def->name = vs_xstrdup(name);
        free(def->parent);
        def->parent = NULL;
        if (parent[i] >= 0)
            def->parent = vs_xasprintf("snap-%05ld", parent[i]);
        def->creation_time = 1700000000LL + i * 60;
        text = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);
        path = vs_xasprintf("%s/%s.xml", sdir, name);
        write_plain(path, text);
        free(path);
        free(text);
    }
    vs_snapshot_def_free(def);
    free(parent);

    if (!(d = vs_dom_open(st, dom_name, VS_LOCK_EXCLUSIVE, &err)))
        die("open", &err);
    snprintf(name, sizeof(name), "snap-%05ld", n - 1);
    if (vs_dom_set_current(d, name, &err) < 0)
        die("current", &err);
    /* Age the directory so the index written below is certainly newer. */
    {
        struct timespec ts[2];

        clock_gettime(CLOCK_REALTIME, &ts[0]);
        ts[0].tv_sec -= 2;
        ts[1] = ts[0];
        utimensat(AT_FDCWD, sdir, ts, 0);
    }
    t0 = now_ms();
    if (!(t = vs_dom_tree(d, &err)))
        die("tree", &err);
    rebuild_ms = now_ms() - t0;
    if ((long)t->n != n || d->tree_parsed != (size_t)n) {
        fprintf(stderr, "gen: expected %ld snapshots, tree has %zu (parsed %zu)\n", n, t->n, d->tree_parsed);
        return 1;
    }
    best = vs_snap_tree_find(t, "snap-00001");
    best_desc = vs_snap_tree_descendants(t, best);
    best_kids = t->e[best].nchildren;
    for (i = 0; i < n && sub < 0; i++) {
        snprintf(name, sizeof(name), "snap-%05ld", i);
        if (vs_snap_tree_descendants(t, vs_snap_tree_find(t, name)) == 254)
            sub = i;
    }
    if (sub >= 0)
        snprintf(name, sizeof(name), "snap-%05ld", sub);
    printf("target=%s\ndescendants=%zu\nchildren=%zu\nsubtree255=%s\nrebuild_ms=%.1f\n",
           t->e[best].name, best_desc, best_kids, sub >= 0 ? name : "-", rebuild_ms);
    vs_dom_close(d);
    vs_domain_def_free(dom);
    vs_store_free(st);
    free(sdir);
    return 0;
}
