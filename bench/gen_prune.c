/*
 * bench/gen_prune: the fixture of the retention benchmarks (bench/prune.sh).
 *
 *   gen_prune ROOT DOMAIN N K consecutive|interleaved
 *
 * Defines DOMAIN (no disks: its snapshots are metadata only, so the numbers
 * are vsnap's and not qemu-img's) under ROOT and gives it N snapshots in one
 * chain, each the child of the one before, as a cron job that snapshots
 * every hour leaves them: one an hour, the newest an hour ago, the newest
 * current. K of them are named auto-YYYYmmdd-HHMMSS (UTC), the others
 * import-NNNNN: with "consecutive" the K newest (a cron history: deleting
 * them touches one chain segment), with "interleaved" every (N/K)-th (every
 * deleted snapshot has a kept child whose file is rewritten). So
 * `snapshot-prune DOMAIN --match 'auto-*' --keep-daily 7` keeps 7 of the K
 * and deletes K - 7. Files are written without fsync (a fixture), then the
 * index is built by the library as vsnap builds it.
 *
 * Prints "autos=K deletable=K-7".
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
    "  <uuid>0b7c3c57-6a4e-4c89-8d1e-6f2b1f4a9e21</uuid>\n"
    "  <memory unit='KiB'>1048576</memory>\n"
    "  <vcpu placement='static'>2</vcpu>\n"
    "  <os>\n"
    "    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>\n"
    "  </os>\n"
    "  <devices>\n"
    "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
    "    <interface type='network'>\n"
    "      <mac address='52:54:00:12:34:56'/>\n"
    "      <source network='default'/>\n"
    "      <model type='virtio'/>\n"
    "    </interface>\n"
    "  </devices>\n"
    "</domain>\n";

static void
die(const char *what, const vs_error *err)
{
    fprintf(stderr, "gen_prune: %s: %s\n", what, err ? err->msg : strerror(errno));
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

static char *
snap_name(long i, long n, long k, bool interleaved, long long when)
{
    bool is_auto = interleaved ? (i % (n / k)) == (n / k) - 1 && i / (n / k) < k : i >= n - k;
    time_t t = (time_t)when;
    struct tm tm;
    char stamp[32];

    if (!is_auto)
        return vs_xasprintf("import-%05ld", i);
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    return vs_xasprintf("auto-%s", stamp);
}

int
main(int argc, char **argv)
{
    const char *root, *dom_name;
    long n, k, i;
    bool interleaved;
    vs_error err;
    vs_store *st;
    vs_domain_def *dom;
    vs_snapshot_def *def;
    vs_dom *d;
    vs_snap_tree *t;
    char *xml, *sdir, *prev = NULL, *name = NULL;
    long long now = (long long)time(NULL), autos = 0;

    if (argc != 6 || (strcmp(argv[5], "consecutive") != 0 && strcmp(argv[5], "interleaved") != 0)) {
        fprintf(stderr, "usage: gen_prune ROOT DOMAIN N K consecutive|interleaved\n");
        return 2;
    }
    root = argv[1];
    dom_name = argv[2];
    n = atol(argv[3]);
    k = atol(argv[4]);
    interleaved = strcmp(argv[5], "interleaved") == 0;
    if (n < 2 || k < 8 || k > n) {
        fprintf(stderr, "gen_prune: need 8 <= K <= N\n");
        return 2;
    }

    if (!(st = vs_store_open(root, 0, &err)))
        die("store", &err);
    xml = vs_xasprintf(DOMAIN_XML, dom_name);
    if (!(dom = vs_domain_def_parse(xml, strlen(xml), "(bench)", &err)))
        die("domain", &err);
    free(xml);
    if (vs_store_define(st, dom, NULL, &err) < 0)
        die("define", &err);
    {
        vs_buf b = VS_BUF_INIT;

        vs_buf_add(&b, "<domainsnapshot>\n  <name>x</name>\n  <description>hourly</description>\n"
                       "  <state>shutoff</state>\n  <creationTime>1</creationTime>\n"
                       "  <memory snapshot='no'/>\n  ");
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
    for (i = 0; i < n; i++) {
        long long when = now - (n - i) * 3600LL;
        char *text, *path;

        name = snap_name(i, n, k, interleaved, when);
        autos += strncmp(name, "auto-", 5) == 0;
        free(def->name);
        def->name = name;
        free(def->parent);
        def->parent = prev;
        def->creation_time = when;
        text = vs_snapshot_def_format_str(def, VS_SNAP_FORMAT_SECURE);
        path = vs_xasprintf("%s/%s.xml", sdir, name);
        write_plain(path, text);
        free(path);
        free(text);
        prev = vs_xstrdup(name);
    }

    if (!(d = vs_dom_open(st, dom_name, VS_LOCK_EXCLUSIVE, &err)))
        die("open", &err);
    if (vs_dom_set_current(d, prev, &err) < 0)
        die("current", &err);
    free(prev);
    /* Age the directory so the index written below is certainly newer. */
    {
        struct timespec ts[2];

        clock_gettime(CLOCK_REALTIME, &ts[0]);
        ts[0].tv_sec -= 2;
        ts[1] = ts[0];
        utimensat(AT_FDCWD, sdir, ts, 0);
    }
    if (!(t = vs_dom_tree(d, &err)))
        die("tree", &err);
    if ((long)t->n != n) {
        fprintf(stderr, "gen_prune: expected %ld snapshots, the tree has %zu\n", n, t->n);
        return 1;
    }
    printf("autos=%lld\ndeletable=%lld\n", autos, autos - 7);
    vs_dom_close(d);
    vs_snapshot_def_free(def);
    vs_domain_def_free(dom);
    vs_store_free(st);
    free(sdir);
    return 0;
}
