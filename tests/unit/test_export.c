/* The pieces of snapshot-export / snapshot-import below the command line:
 * a batch of atomic writes (path.c), the store's grouped snapshot writes,
 * the export document written and read back, and the import's plan against
 * a store (clashes, order, a document refused whole). */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "buf.h"
#include "mem.h"
#include "path.h"
#include "snapshot_export.h"
#include "spawn.h"
#include "store.h"

static char *root;

static vs_domain_def *
mkdom(const char *name)
{
    char *xml = vs_xasprintf("<domain type='qemu'>\n  <name>%s</name>\n"
                             "  <uuid>7b0c3a56-1f3e-4c55-9c77-2f0e1c9d8a01</uuid>\n"
                             "  <memory unit='KiB'>32768</memory>\n</domain>\n", name);
    vs_domain_def *d = vs_domain_def_parse(xml, strlen(xml), "(test)", NULL);

    free(xml);
    return d;
}

static char *
snap_text(const char *name, const char *parent, long long t, const char *desc)
{
    vs_buf b = VS_BUF_INIT;

    vs_buf_add(&b, "<domainsnapshot>\n  <name>");
    vs_buf_add_xml_escaped(&b, name);
    vs_buf_add(&b, "</name>\n");
    if (desc)
        vs_buf_addf(&b, "  <description>%s</description>\n", desc);
    vs_buf_add(&b, "  <state>shutoff</state>\n");
    if (parent) {
        vs_buf_add(&b, "  <parent>\n    <name>");
        vs_buf_add_xml_escaped(&b, parent);
        vs_buf_add(&b, "</name>\n  </parent>\n");
    }
    vs_buf_addf(&b, "  <creationTime>%lld</creationTime>\n  <memory snapshot='no'/>\n"
                "  <domain type='qemu'>\n    <name>ex</name>\n"
                "    <uuid>7b0c3a56-1f3e-4c55-9c77-2f0e1c9d8a01</uuid>\n"
                "    <memory unit='KiB'>32768</memory>\n  </domain>\n"
                "</domainsnapshot>\n", t);
    return vs_buf_steal(&b);
}

/* How many temporary files (".tmp.*") dir holds. */
static size_t
count_temps(const char *dir)
{
    DIR *dh = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    while (dh && (de = readdir(dh)))
        if (strncmp(de->d_name, ".tmp.", 5) == 0)
            n++;
    if (dh)
        closedir(dh);
    return n;
}

static void
test_batch(void)
{
    char *dir = vs_path_join(root, "batch"), *data = NULL, *p;
    vs_file_batch b;
    vs_error err;
    struct stat st;
    int dfd;

    mkdir(dir, 0700);
    dfd = open(dir, O_RDONLY | O_DIRECTORY);
    vs_error_clear(&err);
    vs_file_batch_init(&b, dfd, dir);
    ok(vs_file_batch_add(&b, "a", "one\n", 4, 0600, &err) == 0, "batch: a staged");
    ok(vs_file_batch_add(&b, "b", "two\n", 4, 0600, &err) == 0, "batch: b staged");
    ok(vs_file_batch_add(&b, "a", "three\n", 6, 0600, &err) == 0, "batch: a again");
    p = vs_path_join(dir, "a");
    ok(lstat(p, &st) < 0, "batch: nothing has its name before the commit");
    ok(vs_file_batch_commit(&b, VS_SYNC_ALL, &err) == 0, "batch: committed (%s)", err.msg);
    ok(b.renamed == 3, "batch: every name in place");
    vs_file_read(p, 100, &data, NULL, NULL);
    is_str(data, "three\n", "batch: the later write of one name wins");
    ok(lstat(p, &st) == 0 && (st.st_mode & 0777) == 0600, "batch: files are 0600");
    ok(b.e[2].size == 6, "batch: the size as written is recorded");
    vs_file_batch_clear(&b);
    free(data);
    free(p);

    /* a link in place of a name is refused, and clear removes what was staged */
    p = vs_path_join(dir, "link");
    symlink("/nonexistent", p);
    vs_file_batch_init(&b, dfd, dir);
    ok(vs_file_batch_add(&b, "c", "x", 1, 0600, &err) == 0, "batch: c staged");
    ok(vs_file_batch_add(&b, "link", "x", 1, 0600, &err) < 0 &&
       strstr(err.msg, "is a symbolic link"), "batch: a link is refused (%s)", err.msg);
    vs_file_batch_clear(&b);
    free(p);
    p = vs_path_join(dir, "c");
    ok(lstat(p, &st) < 0, "batch: a batch cleared before its commit leaves no name");
    free(p);
    ok(count_temps(dir) == 0, "batch: no temporary file is left");
    close(dfd);
    free(dir);
}

static void
test_store_and_doc(void)
{
    vs_store *st;
    vs_dom *d;
    vs_error err;
    vs_domain_def *dom = mkdom("ex");
    char *texts[4];
    vs_snap_tree *t;
    vs_buf doc = VS_BUF_INIT;
    vs_export_doc in;
    vs_import_result res;
    size_t n = 0, i;
    char *dst;

    vs_error_clear(&err);
    st = vs_store_open(root, 0, &err);
    ok(st && vs_store_define(st, dom, NULL, &err) == 0, "store: domain defined");
    d = vs_dom_open(st, "ex", VS_LOCK_EXCLUSIVE, &err);
    texts[0] = snap_text("r", NULL, 100, NULL);
    texts[1] = snap_text("c1", "r", 100, NULL);
    texts[2] = snap_text("c2", "r", 100, NULL);
    texts[3] = snap_text("it's <odd> & \"quoted\"", "c1", 100, NULL);
    ok(vs_dom_write_snapshot_texts(d, texts, 4, &err) == 0, "store: 4 snapshots in one batch (%s)",
       err.msg);
    t = vs_dom_tree(d, &err);
    ok(t && t->n == 4, "store: the tree has them");
    ok(t && t->e[vs_snap_tree_find(t, "c2")].seq > t->e[vs_snap_tree_find(t, "c1")].seq,
       "store: creation numbers in the order written");
    ok(vs_dom_set_current(d, "c2", &err) == 0, "store: c2 current");
    vs_dom_close(d);
    /* a fresh opening reads the same from the files (the index rebuilt) */
    d = vs_dom_open(st, "ex", VS_LOCK_SHARED, &err);
    ok(d && vs_snapshot_export(d, &doc, &n, &err) == 0 && n == 4, "export: 4 snapshots (%s)",
       err.msg);
    vs_dom_close(d);
    ok(strncmp(doc.data, "<vsnap-export version='1'>\n<domain type='qemu'>\n", 48) == 0,
       "export: the root, then the domain");
    ok(strstr(doc.data, "<current name='c2'/>\n</vsnap-export>\n") != NULL,
       "export: the current snapshot last");
    /* parents first, siblings oldest first: r, c1, its child, c2 */
    {
        const char *a = strstr(doc.data, "<name>r</name>"), *b = strstr(doc.data, "<name>c1</name>");
        const char *c = strstr(doc.data, "<name>it&apos;s"), *e = strstr(doc.data, "<name>c2</name>");

        ok(a && b && c && e && a < b && b < c && c < e, "export: parents first, oldest sibling first");
    }

    ok(vs_export_doc_read(doc.data, doc.len, "(doc)", &in, &err) == 0 && in.n == 4,
       "read: the document (%s)", err.msg);
    is_str(in.current, "c2", "read: its current snapshot");
    dst = vs_path_join(root, "dst");
    mkdir(dst, 0700);
    {
        vs_store *s2 = vs_store_open(dst, 0, &err);
        vs_dom *d2;

        ok(vs_snapshot_import(s2, &in, 0, &res, &err) == 0 && res.created && res.written == 4,
           "import: into an empty store (%s)", err.msg);
        ok(vs_snapshot_import(s2, &in, 0, &res, &err) == 0 && res.unchanged == 4 && !res.written,
           "import: again: everything already there");
        d2 = vs_dom_open(s2, "ex", VS_LOCK_SHARED, &err);
        {
            vs_buf again = VS_BUF_INIT;

            ok(d2 && vs_snapshot_export(d2, &again, NULL, &err) == 0 &&
               strcmp(again.data, doc.data) == 0, "import: its export is the same document");
            vs_buf_reset(&again);
        }
        vs_dom_close(d2);
        vs_store_free(s2);
    }
    vs_export_doc_clear(&in);

    /* refused whole: a snapshot whose parent is later in the document */
    {
        char *bad = vs_xasprintf("<vsnap-export version='1'>\n<domain type='qemu'>\n"
                                 "  <name>ex2</name>\n</domain>\n%s%s</vsnap-export>\n",
                                 texts[1], texts[0]);

        vs_store *s3 = vs_store_open(dst, 0, &err);

        /* the reader leaves a parent outside the document to the import,
         * which refuses it as a redefinition does, defining nothing */
        ok(vs_export_doc_read(bad, strlen(bad), "(bad)", &in, &err) < 0 ||
           (vs_snapshot_import(s3, &in, 0, &res, &err) < 0 &&
            strstr(err.msg, "parent r for moment c1 not found") != NULL),
           "import: a child before its parent is refused (%s)", err.msg);
        vs_export_doc_clear(&in);
        {
            vs_dom *gone = vs_dom_open(s3, "ex2", VS_LOCK_NONE, &err);

            ok(!gone, "import: ... and the domain it would have defined is not there");
            vs_dom_close(gone);
        }
        vs_store_free(s3);
        free(bad);
    }
    for (i = 0; i < 4; i++)
        free(texts[i]);
    vs_buf_reset(&doc);
    vs_domain_def_free(dom);
    vs_store_free(st);
    free(dst);
}

int
main(void)
{
    char tmpl[] = "/tmp/vsnap-test-export.XXXXXX";

    root = vs_xstrdup(mkdtemp(tmpl));
    test_batch();
    test_store_and_doc();
    {
        const char *rm[] = { "rm", "-rf", root, NULL };
        vs_error err;

        vs_error_clear(&err);
        vs_spawn_check(rm, NULL, &err);
    }
    free(root);
    return tap_done();
}
