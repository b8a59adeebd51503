/* Snapshot disk alignment, virsh-behaviour.md B.3 (lib/disk_align.c): cases
 * built in code, and the project's corpus tests/corpus/align (XML in, XML or
 * the error message out). */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk_align.h"
#include "mem.h"
#include "path.h"
#include "../tap.h"
#include "corpus.h"

static char *tmpdir;

/* Paths and messages built at run time; freed at exit. */
static char *paths[128];
static size_t npaths;

/* Remember s for freeing at exit. */
static const char *
keep(char *s)
{
    if (npaths < sizeof(paths) / sizeof(paths[0]))
        paths[npaths++] = s;
    return s;
}

static const char *
tp(const char *rel)
{
    return keep(vs_xasprintf("%s/%s", tmpdir, rel));
}

static void
touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    if (fd >= 0)
        close(fd);
    else
        printf("# cannot create %s\n", path);
}

static vs_domain_def *
mkdom(const char *disks)
{
    char *xml = vs_xasprintf("<domain type='qemu'>\n  <name>vm</name>\n"
                             "  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>\n"
                             "  <devices>\n%s  </devices>\n</domain>\n", disks);
    vs_error err;
    vs_domain_def *d = vs_domain_def_parse(xml, strlen(xml), "(test)", &err);

    if (!d)
        printf("# domain did not parse: %s\n%s", err.msg, xml);
    free(xml);
    return d;
}

static char *
file_disk(const char *target, const char *path, const char *extra)
{
    return vs_xasprintf("    <disk type='file' device='disk'%s>\n"
                        "      <driver name='qemu' type='qcow2'/>\n"
                        "      <source file='%s'/>\n"
                        "      <target dev='%s' bus='virtio'/>\n"
                        "    </disk>\n", extra ? extra : "", path, target);
}

/* A domain with vda = T/vm.qcow2 and vdb = T/data (both regular files). */
static vs_domain_def *
dom2(void)
{
    char *a = file_disk("vda", tp("vm.qcow2"), NULL);
    char *b = file_disk("vdb", tp("data"), NULL);
    char *all = vs_xasprintf("%s%s", a, b);
    vs_domain_def *d = mkdom(all);

    free(a);
    free(b);
    free(all);
    return d;
}

typedef struct req {
    const char *name;
    vs_snap_location loc;
    vs_storage_type type;
    const char *source;
    const char *format;
} req;

static vs_snapshot_def *
mksnap(const char *name, vs_domain_def *dom, const req *reqs, size_t n)
{
    vs_snapshot_def *s = vs_xcalloc(1, sizeof(*s));
    size_t i;

    s->name = vs_xstrdup(name);
    s->dom = dom;
    s->active = -1;
    if (n)
        s->disks = vs_xcalloc(n, sizeof(*s->disks));
    for (i = 0; i < n; i++) {
        s->disks[i].name = vs_xstrdup(reqs[i].name);
        s->disks[i].snapshot = reqs[i].loc;
        s->disks[i].type = reqs[i].type;
        s->disks[i].source = vs_xstrdup(reqs[i].source);
        s->disks[i].format = vs_xstrdup(reqs[i].format);
    }
    s->ndisks = n;
    return s;
}

static void
snap_free(vs_snapshot_def *s)
{
    size_t i;

    if (!s)
        return;
    for (i = 0; i < s->ndisks; i++)
        vs_snap_disk_clear(&s->disks[i]);
    free(s->disks);
    free(s->name);
    vs_domain_def_free(s->dom);
    free(s);
}

/* "vda=internal, vdb=external T/data.s1 [qcow2]" with T for the scratch dir. */
static char *
describe(const vs_snapshot_def *s)
{
    vs_buf b = VS_BUF_INIT;
    size_t i, tl = strlen(tmpdir);

    for (i = 0; i < s->ndisks; i++) {
        const vs_snap_disk *d = &s->disks[i];

        if (i)
            vs_buf_add(&b, ", ");
        vs_buf_addf(&b, "%s=%s", d->name, vs_snap_location_name(d->snapshot));
        if (d->type != VS_STORAGE_FILE)
            vs_buf_addf(&b, " (%s)", vs_storage_type_name(d->type));
        if (d->source) {
            if (strncmp(d->source, tmpdir, tl) == 0)
                vs_buf_addf(&b, " T%s", d->source + tl);
            else
                vs_buf_addf(&b, " %s", d->source);
        }
        if (d->format)
            vs_buf_addf(&b, " [%s]", d->format);
    }
    return vs_buf_steal(&b);
}

/* Align and compare the result (or the error message when want starts with "!"). */
static void
check(vs_snapshot_def *s, vs_snap_location def_loc, bool uniform, bool force,
      const char *want, const char *what)
{
    vs_error err;
    char *before = describe(s), *after;
    int r;

    vs_error_clear(&err);
    r = vs_disk_align(s, NULL, def_loc, uniform, force, &err);
    after = describe(s);
    if (want[0] == '!') {
        ok(r < 0, "%s: fails", what);
        is_str(err.msg, want + 1, "%s: message", what);
        is_str(after, before, "%s: the definition is unchanged", what);
    } else {
        ok(r == 0, "%s: succeeds%s%s", what, r ? " - " : "", r ? err.msg : "");
        is_str(after, want, "%s: result", what);
    }
    free(before);
    free(after);
}

static void
test_external_name(void)
{
    struct { const char *src, *want; } c[] = {
        { "/img/vm.qcow2", "/img/vm.s1" },
        { "/img/vm", "/img/vm.s1" },
        { "/a.b/disk", "/a.b/disk.s1" },
        { "/img/vm.tar.gz", "/img/vm.tar.s1" },
        { "/img/.hidden", "/img/.s1" },
        { "vm.raw", "vm.s1" },
        { "/img/vm.", "/img/vm.s1" },
    };
    size_t i;

    for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        char *got = vs_disk_external_name(c[i].src, "s1");
        is_str(got, c[i].want, "external name for %s", c[i].src);
        free(got);
    }
}

static void
test_defaults(void)
{
    vs_snapshot_def *s;

    s = mksnap("s1", dom2(), NULL, 0);
    check(s, VS_LOC_INTERNAL, true, false, "vda=internal, vdb=internal",
          "no entries, internal default");
    snap_free(s);

    s = mksnap("s1", dom2(), NULL, 0);
    check(s, VS_LOC_EXTERNAL, true, false, "vda=external T/vm.s1, vdb=external T/data.s1",
          "no entries, external default: names from the sources");
    snap_free(s);

    {
        char *x = file_disk("vda", tp("a.b/disk"), NULL);
        s = mksnap("s1", mkdom(x), NULL, 0);
        free(x);
        check(s, VS_LOC_EXTERNAL, true, false, "vda=external T/a.b/disk.s1",
              "a dot in a directory is not a suffix");
        snap_free(s);
    }

    /* empty drives, read-only media, the domain's own snapshot= and manual */
    {
        char *x = vs_xasprintf(
            "%s"
            "    <disk type='file' device='cdrom'>\n"
            "      <target dev='sda' bus='sata'/>\n      <readonly/>\n    </disk>\n"
            "    <disk type='file' device='cdrom'>\n"
            "      <source file='%s'/>\n"
            "      <target dev='sdb' bus='sata'/>\n      <readonly/>\n    </disk>\n"
            "    <disk type='file' device='disk' snapshot='external'>\n"
            "      <source file='%s'/>\n"
            "      <target dev='vdb' bus='virtio'/>\n    </disk>\n"
            "    <disk type='file' device='disk' snapshot='manual'>\n"
            "      <source file='%s'/>\n"
            "      <target dev='vdc' bus='virtio'/>\n    </disk>\n"
            "    <disk type='file' device='disk' snapshot='no'>\n"
            "      <source file='%s'/>\n"
            "      <target dev='vdd' bus='virtio'/>\n    </disk>\n",
            "", tp("install.iso"), tp("logs.img"), tp("manual.img"), tp("scratch.img"));
        char *vda = file_disk("vda", tp("vm.qcow2"), NULL);
        char *all = vs_xasprintf("%s%s", vda, x);

        s = mksnap("s1", mkdom(all), NULL, 0);
        check(s, VS_LOC_INTERNAL, true, false,
              "vda=internal, sda=no, sdb=no, vdb=external T/logs.s1, vdc=manual, vdd=no",
              "unrequested disks follow the domain (empty and read-only: no)");
        snap_free(s);

        s = mksnap("s1", mkdom(all), NULL, 0);
        check(s, VS_LOC_EXTERNAL, true, true,
              "vda=external T/vm.s1, sda=no, sdb=external T/install.s1, "
              "vdb=external T/logs.s1, vdc=external T/manual.s1, vdd=external T/scratch.s1",
              "force-default: every non-empty disk, read-only media included");
        snap_free(s);

        s = mksnap("s1", mkdom(all), NULL, 0);
        check(s, VS_LOC_INTERNAL, true, true,
              "vda=internal, sda=no, sdb=internal, vdb=internal, vdc=internal, vdd=internal",
              "force-default internal overrides the domain's preferences");
        snap_free(s);
        free(x);
        free(vda);
        free(all);
    }

    /* a domain without disks and no entries: nothing to do */
    s = mksnap("s1", mkdom(""), NULL, 0);
    check(s, VS_LOC_INTERNAL, true, false, "", "domain without disks");
    snap_free(s);

    /* the snapshot's own <domain> wins over the fallback */
    {
        vs_error err;
        vs_domain_def *other = mkdom("");
        s = mksnap("s1", dom2(), NULL, 0);
        ok(vs_disk_align(s, other, VS_LOC_INTERNAL, true, false, &err) == 0 && s->ndisks == 2,
           "def->dom is used even when a fallback domain is passed");
        snap_free(s);
        s = mksnap("s1", NULL, NULL, 0);
        ok(vs_disk_align(s, other, VS_LOC_INTERNAL, true, false, &err) == 0 && s->ndisks == 0,
           "the fallback domain is used without def->dom");
        snap_free(s);
        vs_domain_def_free(other);
    }
}

static void
test_requests(void)
{
    vs_snapshot_def *s;

    /* order and renaming */
    {
        req r[] = {
            { "vdb", VS_LOC_EXTERNAL, VS_STORAGE_FILE, "/snap/data.new", "qcow2" },
            { "", VS_LOC_DEFAULT, VS_STORAGE_FILE, NULL, NULL },
        };
        r[1].name = tp("vm.qcow2");
        s = mksnap("s1", dom2(), r, 2);
        check(s, VS_LOC_EXTERNAL, true, false,
              "vda=external T/vm.s1, vdb=external /snap/data.new [qcow2]",
              "entries come out in domain order, paths renamed to targets");
        snap_free(s);
    }
    {
        req r[] = { { "", VS_LOC_DEFAULT, VS_STORAGE_FILE, NULL, NULL } };
        r[0].name = tp("data");
        s = mksnap("s1", dom2(), r, 1);
        check(s, VS_LOC_INTERNAL, true, false, "vda=internal, vdb=internal",
              "a path-named entry becomes its target");
        snap_free(s);
    }

    /* the domain disk's own snapshot= for requested entries */
    {
        char *a = file_disk("vda", tp("vm.qcow2"), " snapshot='external'");
        char *b = file_disk("vdb", tp("data"), " snapshot='no'");
        char *all = vs_xasprintf("%s%s", a, b);
        req r[] = { { "vda", VS_LOC_DEFAULT, VS_STORAGE_FILE, NULL, NULL },
                    { "vdb", VS_LOC_DEFAULT, VS_STORAGE_FILE, NULL, NULL } };

        s = mksnap("s1", mkdom(all), r, 2);
        check(s, VS_LOC_INTERNAL, false, false, "vda=external T/vm.s1, vdb=no",
              "missing snapshot= takes the domain disk's");
        snap_free(s);
        s = mksnap("s1", mkdom(all), r, 2);
        check(s, VS_LOC_INTERNAL, true, false, "vda=internal, vdb=no",
              "under require-match only the domain's 'no' counts");
        snap_free(s);
        {
            req r2[] = { { "vdb", VS_LOC_NO, VS_STORAGE_FILE, NULL, NULL } };
            s = mksnap("s1", mkdom(all), r2, 1);
            check(s, VS_LOC_INTERNAL, true, false, "vda=external T/vm.s1, vdb=no",
                  "explicit 'no' is allowed when the domain disk says 'no'");
            snap_free(s);
        }
        free(a);
        free(b);
        free(all);
    }

    /* require-match */
    {
        req r[] = { { "vda", VS_LOC_EXTERNAL, VS_STORAGE_FILE, NULL, NULL } };
        s = mksnap("s1", dom2(), r, 1);
        check(s, VS_LOC_INTERNAL, true, false,
              "!unsupported configuration: disk 'vda' must use snapshot mode 'internal'",
              "external under require-match");
        snap_free(s);
        s = mksnap("s1", dom2(), r, 1);
        check(s, VS_LOC_INTERNAL, false, false, "vda=external T/vm.s1, vdb=internal",
              "without uniform-internal, mixing is left to the caller");
        snap_free(s);
    }
    {
        req r[] = { { "vdb", VS_LOC_NO, VS_STORAGE_FILE, NULL, NULL } };
        s = mksnap("s1", dom2(), r, 1);
        check(s, VS_LOC_INTERNAL, true, false,
              "!unsupported configuration: disk 'vdb' must use snapshot mode 'internal'",
              "'no' under require-match when the domain disk does not say 'no'");
        snap_free(s);
    }
    {
        req r[] = { { "", VS_LOC_MANUAL, VS_STORAGE_FILE, NULL, NULL } };
        r[0].name = tp("data");
        s = mksnap("s1", dom2(), r, 1);
        check(s, VS_LOC_INTERNAL, true, false,
              keep(vs_xasprintf("!unsupported configuration: disk '%s' must use snapshot mode 'internal'",
                           tp("data"))),
              "the message names the entry as given");
        snap_free(s);
    }
    {
        req r[] = { { "vda", VS_LOC_NO, VS_STORAGE_FILE, NULL, NULL } };
        s = mksnap("s1", dom2(), r, 1);
        check(s, VS_LOC_EXTERNAL, true, false, "vda=no, vdb=external T/data.s1",
              "external default has no require-match");
        snap_free(s);
    }

    /* a path needs external */
    {
        req r[] = { { "vda", VS_LOC_INTERNAL, VS_STORAGE_FILE, "/snap/x.qcow2", NULL } };
        s = mksnap("s1", dom2(), r, 1);
        check(s, VS_LOC_INTERNAL, true, false,
              "!unsupported configuration: file '/snap/x.qcow2' for disk 'vda' requires use of "
              "external snapshot mode", "a file with internal");
        snap_free(s);
    }
    {
        char *a = file_disk("vda", tp("vm.qcow2"), " snapshot='no'");
        req r[] = { { "vda", VS_LOC_DEFAULT, VS_STORAGE_FILE, "/snap/x.qcow2", NULL } };
        s = mksnap("s1", mkdom(a), r, 1);
        check(s, VS_LOC_EXTERNAL, true, false,
              "!unsupported configuration: file '/snap/x.qcow2' for disk 'vda' requires use of "
              "external snapshot mode", "a file on a disk the domain opts out of");
        snap_free(s);
        free(a);
    }
}

static void
test_errors(void)
{
    vs_snapshot_def *s;
    vs_error err;

    s = mksnap("s1", NULL, NULL, 0);
    check(s, VS_LOC_INTERNAL, true, false, "!internal error: missing domain in snapshot",
          "no domain");
    snap_free(s);

    {
        req r[] = { { "vda", 0, 0, NULL, NULL }, { "vdb", 0, 0, NULL, NULL },
                    { "vdc", 0, 0, NULL, NULL } };
        s = mksnap("s1", dom2(), r, 3);
        check(s, VS_LOC_INTERNAL, true, false,
              "!unsupported configuration: too many disk snapshot requests for domain",
              "more entries than disks");
        snap_free(s);
    }
    {
        req r[] = { { "vdz", 0, 0, NULL, NULL } };
        s = mksnap("s1", dom2(), r, 1);
        check(s, VS_LOC_INTERNAL, true, false, "!unsupported configuration: no disk named 'vdz'",
              "unknown target");
        snap_free(s);
    }
    {
        req r[] = { { "/no/such.img", 0, 0, NULL, NULL } };
        s = mksnap("s1", dom2(), r, 1);
        check(s, VS_LOC_INTERNAL, true, false,
              "!unsupported configuration: no disk named '/no/such.img'", "unknown path");
        snap_free(s);
    }
    {
        char *a = file_disk("vda", tp("shared.img"), NULL);
        char *b = file_disk("vdb", tp("shared.img"), NULL);
        char *all = vs_xasprintf("%s%s", a, b);
        req r[] = { { "", 0, 0, NULL, NULL } };
        r[0].name = tp("shared.img");
        s = mksnap("s1", mkdom(all), r, 1);
        check(s, VS_LOC_INTERNAL, true, false,
              keep(vs_xasprintf("!unsupported configuration: no disk named '%s'", tp("shared.img"))),
              "a path two disks share is not found");
        snap_free(s);
        free(a);
        free(b);
        free(all);
    }
    {
        req r[] = { { "vda", 0, 0, NULL, NULL }, { "vda", 0, 0, NULL, NULL } };
        s = mksnap("s1", dom2(), r, 2);
        check(s, VS_LOC_INTERNAL, true, false,
              "!unsupported configuration: disk 'vda' specified twice", "same target twice");
        snap_free(s);
    }
    {
        req r[] = { { "vda", 0, 0, NULL, NULL }, { "", 0, 0, NULL, NULL } };
        r[1].name = tp("vm.qcow2");
        s = mksnap("s1", dom2(), r, 2);
        check(s, VS_LOC_INTERNAL, true, false,
              keep(vs_xasprintf("!unsupported configuration: disk '%s' specified twice", tp("vm.qcow2"))),
              "target and path of the same disk");
        snap_free(s);
    }

    /* default external names */
    {
        req r[] = { { "vda", VS_LOC_EXTERNAL, VS_STORAGE_BLOCK, NULL, NULL } };
        s = mksnap("s1", dom2(), r, 1);
        check(s, VS_LOC_EXTERNAL, true, false,
              "!unsupported configuration: cannot generate external snapshot name for disk 'vda' "
              "on a 'block' device", "no name for a block entry");
        snap_free(s);
    }
    {
        req r[] = { { "vda", VS_LOC_EXTERNAL, VS_STORAGE_NETWORK, NULL, NULL } };
        s = mksnap("s1", dom2(), r, 1);
        check(s, VS_LOC_EXTERNAL, true, false,
              "!unsupported configuration: cannot generate external snapshot name for disk 'vda' "
              "on a 'network' device", "no name for a network entry");
        snap_free(s);
    }
    {
        const char *x = "    <disk type='volume' device='disk'>\n"
                        "      <source pool='default' volume='vm.qcow2'/>\n"
                        "      <target dev='vdc' bus='virtio'/>\n    </disk>\n";
        s = mksnap("s1", mkdom(x), NULL, 0);
        check(s, VS_LOC_EXTERNAL, true, false,
              "!unsupported configuration: cannot generate external snapshot name for disk 'vdc' "
              "without source", "a domain disk without a path");
        snap_free(s);
    }
    {
        const char *x = "    <disk type='block' device='disk'>\n"
                        "      <source dev='/dev/null'/>\n"
                        "      <target dev='vdb' bus='virtio'/>\n    </disk>\n";
        s = mksnap("s1", mkdom(x), NULL, 0);
        check(s, VS_LOC_EXTERNAL, true, false,
              "!unsupported configuration: source for disk 'vdb' is not a regular file; "
              "refusing to generate external snapshot name", "a device is not a regular file");
        snap_free(s);
    }
    {
        char *a = file_disk("vda", tp("missing.qcow2"), NULL);
        char *want = vs_xasprintf("!operation failed: source file '%s' of disk 'vda' does not exist",
                                  tp("missing.qcow2"));
        s = mksnap("s1", mkdom(a), NULL, 0);
        check(s, VS_LOC_EXTERNAL, true, false, want, "a missing file is named, as missing");
        snap_free(s);
        free(want);
        free(a);
    }
    {
        const char *x = "    <disk type='network' device='disk'>\n"
                        "      <source protocol='nbd' name='export1'>\n"
                        "        <host name='nbd.example.org'/>\n      </source>\n"
                        "      <target dev='vdc' bus='virtio'/>\n    </disk>\n";
        s = mksnap("s1", mkdom(x), NULL, 0);
        check(s, VS_LOC_EXTERNAL, true, false,
              "!unsupported configuration: source for disk 'vdc' is not a regular file; "
              "refusing to generate external snapshot name", "a network disk's name");
        snap_free(s);
    }
    {
        char *a = file_disk("vda", tp("vm.qcow2"), NULL);
        char *b = file_disk("vdb", tp("vm.raw"), NULL);
        char *all = vs_xasprintf("%s%s", a, b);
        s = mksnap("s1", mkdom(all), NULL, 0);
        check(s, VS_LOC_EXTERNAL, true, false,
              "!unsupported configuration: cannot generate external snapshot name for disk 'vdb': "
              "collision with disk 'vda'", "two generated names collide");
        snap_free(s);
        free(a);
        free(b);
        free(all);
    }
    {
        req r[] = { { "vda", VS_LOC_EXTERNAL, VS_STORAGE_FILE, NULL, NULL } };
        r[0].source = tp("data.s1");
        s = mksnap("s1", dom2(), r, 1);
        check(s, VS_LOC_EXTERNAL, true, false,
              "!unsupported configuration: cannot generate external snapshot name for disk 'vdb': "
              "collision with disk 'vda'", "a generated name collides with a given one");
        snap_free(s);
    }
    {
        /* path-named entry: on failure it keeps its name */
        req r[] = { { "", VS_LOC_DEFAULT, VS_STORAGE_FILE, NULL, NULL },
                    { "vdb", VS_LOC_EXTERNAL, VS_STORAGE_BLOCK, NULL, NULL } };
        r[0].name = tp("vm.qcow2");
        s = mksnap("s1", dom2(), r, 2);
        ok(vs_disk_align(s, NULL, VS_LOC_EXTERNAL, true, false, &err) < 0 &&
           strcmp(s->disks[0].name, tp("vm.qcow2")) == 0 && s->ndisks == 2 &&
           strcmp(s->disks[1].name, "vdb") == 0,
           "a late failure leaves earlier entries as they were");
        snap_free(s);
    }
}

/* ------------------------------------------------------------------ */
/* tests/corpus/align */

/* Create (or with undo, remove in reverse) the files the corpus lists. */
static void
corpus_files(const corpus *c, const char *dir, bool undo)
{
    char *list = corpus_read(c, "files"), *line, *save = NULL;
    char *lines[64];
    size_t n = 0, i;

    if (!undo)
        ok(list != NULL, "align corpus: file list readable");
    for (line = list ? strtok_r(list, "\n", &save) : NULL; line && n < 64;
         line = strtok_r(NULL, "\n", &save))
        if (line[0] != '#' && line[0])
            lines[n++] = line;
    for (i = 0; i < n; i++) {
        const char *l = lines[undo ? n - 1 - i : i];
        char *path = vs_xasprintf("%s/%s", dir, l + (strncmp(l, "dir ", 4) == 0 ? 4 : 5));

        if (strncmp(l, "dir ", 4) == 0)
            undo ? rmdir(path) : mkdir(path, 0700);
        else if (undo)
            unlink(path);
        else
            touch(path);
        free(path);
    }
    free(list);
}

static void
run_align_corpus(void)
{
    char *dir = vs_xasprintf("%s/corpus", tmpdir);
    corpus c;
    size_t i;

    if (corpus_open(&c, "align") < 0 || mkdir(dir, 0700) < 0) {
        corpus_free(&c);
        free(dir);
        return;
    }
    corpus_files(&c, dir, false);
    for (i = 0; i < c.ncases; i++) {
        const corpus_case *cc = &c.cases[i];
        const char *n = cc->name, *domfile = corpus_word(cc, 0), *sw = corpus_word(cc, 2);
        const char *deflt = corpus_word(cc, 1);
        char *in = corpus_subst(corpus_file(&c, cc, ".xml"), "@DIR@", dir);
        char *want = corpus_subst(corpus_file(&c, cc, ".out"), "@DIR@", dir);
        char *want_err = corpus_subst(corpus_chomp(corpus_file(&c, cc, ".err")), "@DIR@", dir);
        char *domxml = NULL, *before = NULL, *got = NULL;
        vs_domain_def *dom = NULL;
        vs_snapshot_def *def = NULL;
        vs_snap_location loc = strcmp(deflt, "internal") == 0 ? VS_LOC_INTERNAL : VS_LOC_EXTERNAL;
        bool uniform = strncmp(sw, "uniform", 7) == 0, force = strcmp(sw, "uniform,force") == 0;
        vs_error err;
        int r;

        if (!in || cc->nwords != 3 || (strcmp(deflt, "internal") != 0 && strcmp(deflt, "external") != 0) ||
            (strcmp(sw, "-") != 0 && strcmp(sw, "uniform") != 0 && !force)) {
            ok(0, "%s: manifest line %d and %s.xml are usable", n, cc->line, n);
            goto next;
        }
        if (strcmp(domfile, "-") != 0) {
            char *f = vs_xasprintf("%s.xml", domfile);

            domxml = corpus_subst(corpus_read(&c, f), "@DIR@", dir);
            free(f);
            vs_error_clear(&err);
            dom = domxml ? vs_domain_def_parse(domxml, strlen(domxml), domfile, &err) : NULL;
            if (!dom) {
                ok(0, "%s: domain %s.xml parses: %s", n, domfile, err.msg);
                goto next;
            }
        }
        vs_error_clear(&err);
        if (!(def = vs_snapshot_def_parse(in, strlen(in), "(domain_snapshot)", 0, 0, &err))) {
            ok(0, "%s: snapshot XML parses: %s", n, err.msg);
            goto next;
        }
        before = vs_snapshot_def_format_str(def, 0);
        r = vs_disk_align(def, dom, loc, uniform, force, &err);
        got = vs_snapshot_def_format_str(def, 0);
        if (want_err) {
            ok(r < 0, "%s: refused", n);
            is_str(err.msg, want_err, "%s: message", n);
            is_str(got, before, "%s: the definition is unchanged", n);
        } else {
            ok(r == 0, "%s: aligns%s%s", n, r ? ": " : "", r ? err.msg : "");
            is_str(got, want ? want : in, "%s: result is %s", n, want ? "NAME.out" : "the input");
        }
 next:
        vs_snapshot_def_free(def);
        vs_domain_def_free(dom);
        free(before);
        free(got);
        free(domxml);
        free(in);
        free(want);
        free(want_err);
    }
    corpus_files(&c, dir, true);
    ok(rmdir(dir) == 0, "align corpus: scratch files removed");
    corpus_free(&c);
    free(dir);
}

static void
remove_tree(void)
{
    const char *files[] = { "vm.qcow2", "data", "a.b/disk", "install.iso", "logs.img",
                            "manual.img", "scratch.img", "shared.img", "vm.raw" };
    size_t i;

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *p = vs_xasprintf("%s/%s", tmpdir, files[i]);
        unlink(p);
        free(p);
    }
    {
        char *p = vs_xasprintf("%s/a.b", tmpdir);
        rmdir(p);
        free(p);
    }
    rmdir(tmpdir);
}

int
main(void)
{
    const char *t = getenv("TMPDIR");
    char *tmpl = vs_xasprintf("%s/vsnap-align-XXXXXX", t && *t ? t : "/tmp");
    size_t i;

    if (!(tmpdir = mkdtemp(tmpl))) {
        ok(0, "mkdtemp");
        return tap_done();
    }
    {
        char *p = vs_xasprintf("%s/a.b", tmpdir);
        mkdir(p, 0700);
        free(p);
    }
    touch(tp("vm.qcow2"));
    touch(tp("data"));
    touch(tp("a.b/disk"));
    touch(tp("install.iso"));
    touch(tp("logs.img"));
    touch(tp("manual.img"));
    touch(tp("scratch.img"));
    touch(tp("shared.img"));
    touch(tp("vm.raw"));

    test_external_name();
    test_defaults();
    test_requests();
    test_errors();
    run_align_corpus();

    remove_tree();
    for (i = 0; i < npaths; i++)
        free(paths[i]);
    free(tmpdir);
    return tap_done();
}
